//! A crawl: read every source with the crawler (in parallel, bounded, each with a timeout, on
//! blocking threads), parse the changed descriptor blobs, and apply the repositories to the store
//! in source order (consecutive finished reads together, in one transaction), so that the first
//! claim of a reference is deterministic.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;

use crate::crawler::{self, CrawlError, Known, ReadOptions, Source, TipRead};
use crate::descriptor;
use crate::reconcile::{DefinedEntity, FileRead, FileState, ReadDiagnostic, RepoChange, RepoRead};
use crate::store::{Applied, ApplyStats, RepoKey, RepoRecord, Store, StoreError};

mod budget;
pub mod slots;
pub mod snippet;

pub use budget::{BudgetStats, DEFAULT_CRAWL_BYTES};

/// At most this many repositories are applied in one transaction.
const MAX_BATCH: usize = 64;
/// A crawl that adds, updates or removes this many entities refreshes the planner's statistics.
const REFRESH_STATISTICS_AFTER: usize = 1_000;
/// How far reads may run ahead of applies, per concurrent read.
const READ_AHEAD_PER_WORKER: usize = 64;

/// How a crawl runs.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Repositories read at the same time.
    pub concurrency: usize,
    /// A repository that takes longer is given up (and keeps its entities, marked stale).
    pub repo_timeout: Duration,
    pub read: ReadOptions,
    /// Descriptor bytes read and not yet applied, over the whole crawl (see `ingest::budget`).
    pub max_bytes_in_flight: u64,
}

impl CrawlOptions {
    pub fn new(read: ReadOptions) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        CrawlOptions {
            concurrency: cores * 2,
            repo_timeout: Duration::from_secs(120),
            read,
            max_bytes_in_flight: DEFAULT_CRAWL_BYTES,
        }
    }
}

/// What happened to one repository.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoOutcome {
    Unchanged,
    Applied(ApplyStats),
    /// Not read or not applied; the repository keeps its last good entities.
    Failed(String),
    /// Read, but a newer read of the repository (another crawl's) was written meanwhile: this
    /// one was dropped so that it cannot overwrite newer data.
    Superseded,
}

/// The result of a crawl, for the summary table.
#[derive(Debug, Clone, Default)]
pub struct CrawlSummary {
    /// Each repository's label (its URL, and its branch when one is set) and outcome.
    pub outcomes: Vec<(String, RepoOutcome)>,
    /// Each repository's identity, in the order of `outcomes`.
    pub repos: Vec<RepoKey>,
    pub totals: ApplyStats,
    pub elapsed: Duration,
    /// The crawl's byte budget at the end: what was held in flight at most.
    pub budget: BudgetStats,
}

impl CrawlSummary {
    pub fn count(&self, wanted: fn(&RepoOutcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, outcome)| wanted(outcome)).count()
    }
}

/// A read running in the background.
type PendingRead = tokio::task::JoinHandle<Result<Option<ChangedRepo>, ReadError>>;

/// Why a read gave no result: the crawler's reason, or the repository was still being read.
#[derive(Debug)]
enum ReadError {
    Crawl(CrawlError),
    Claim(slots::ClaimError),
}

impl From<CrawlError> for ReadError {
    fn from(error: CrawlError) -> Self {
        ReadError::Crawl(error)
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Crawl(error) => error.fmt(formatter),
            ReadError::Claim(error) => error.fmt(formatter),
        }
    }
}

/// A repository whose tip changed, read and parsed.
struct ChangedRepo {
    commit: String,
    files: Vec<FileRead>,
    tree_diagnostics: Vec<crate::domain::Diagnostic>,
}

/// Reads what changed since the last crawl and parses it (`None`: the tip is unchanged); runs on
/// a blocking thread. `settle` is told how many descriptor bytes were read.
fn read_and_parse(
    source: &Source,
    known: &Known,
    options: &ReadOptions,
    settle: impl FnOnce(u64),
) -> Result<Option<ChangedRepo>, CrawlError> {
    // A read that holds nothing (unchanged, or failed) gives its provisional share back at
    // once, or the reads behind it would wait for the applies for nothing.
    let snapshot = match crawler::read_tip(source, known, options) {
        Ok(TipRead::Changed(snapshot)) => snapshot,
        Ok(TipRead::Unchanged { .. }) => {
            settle(0);
            return Ok(None);
        }
        Err(error) => {
            settle(0);
            return Err(error);
        }
    };
    settle(
        snapshot
            .files
            .iter()
            .filter_map(|blob| blob.bytes.as_ref())
            .map(|bytes| bytes.len() as u64)
            .sum(),
    );
    let files = snapshot.files.into_iter().map(file_read).collect();
    Ok(Some(ChangedRepo {
        commit: snapshot.commit,
        files,
        tree_diagnostics: snapshot.diagnostics,
    }))
}

/// What one descriptor file of the tip says: unchanged, clean (its entities), or unusable (why).
fn file_read(blob: crawler::DescriptorBlob) -> FileRead {
    let state = match (blob.problem, blob.bytes) {
        (Some(reason), _) => FileState::Unusable {
            blob_id: blob.blob_id,
            reason,
            diagnostics: Vec::new(),
        },
        (None, None) => FileState::Unchanged,
        (None, Some(bytes)) => {
            let parsed = descriptor::parse_bytes(&blob.path, &bytes);
            let errors = parsed
                .diagnostics
                .iter()
                .filter(|diagnostic| diagnostic.severity == crate::domain::Severity::Error)
                .count();
            // Each diagnostic keeps the text of its line: the dashboard shows it without git.
            let snippets = snippet::of_file(&bytes, &parsed.diagnostics);
            drop(bytes);
            let diagnostics: Vec<ReadDiagnostic> = parsed
                .diagnostics
                .into_iter()
                .zip(snippets)
                .map(|(diagnostic, snippet)| ReadDiagnostic { diagnostic, snippet })
                .collect();
            if errors > 0 {
                FileState::Unusable {
                    blob_id: blob.blob_id,
                    reason: if errors == 1 {
                        "1 error".to_owned()
                    } else {
                        format!("{errors} errors")
                    },
                    diagnostics,
                }
            } else {
                FileState::Clean {
                    blob_id: blob.blob_id,
                    entities: parsed.entities.into_iter().map(DefinedEntity::from_entity).collect(),
                    diagnostics,
                }
            }
        }
    };
    FileRead { path: blob.path, state }
}

/// How a crawl names a repository in its outcomes: the URL, and the branch when one is set.
pub fn repo_label(source: &Source) -> String {
    crate::store::repo_label(&source.url, source.branch.as_deref())
}

fn repo_key(source: &Source) -> RepoKey {
    RepoKey {
        url: source.url.clone(),
        branch: source.branch.clone(),
    }
}

/// Crawls `sources` into `store`, in registration order (the order in which repositories were
/// first listed), so that the first claim of a new reference is decided the same way whatever
/// the order of the list. `on_outcome` is called once per repository, in that order. A
/// database that cannot be reached ends the crawl with an error at once.
pub async fn crawl(
    store: &Store,
    sources: &[Source],
    options: &CrawlOptions,
    on_outcome: impl FnMut(&str, &RepoOutcome),
) -> Result<CrawlSummary, StoreError> {
    let result = crawl_sources(store, sources, options, on_outcome).await;
    // Metrics (a no-op unless a recorder is installed, as `sextant serve` does).
    match &result {
        Ok(summary) => {
            metrics::counter!("sextant_crawls_total", "outcome" => "finished").increment(1);
            metrics::histogram!("sextant_crawl_duration_seconds").record(summary.elapsed.as_secs_f64());
            for (_, outcome) in &summary.outcomes {
                let outcome = match outcome {
                    RepoOutcome::Unchanged => "unchanged",
                    RepoOutcome::Applied(_) => "applied",
                    RepoOutcome::Failed(_) => "failed",
                    RepoOutcome::Superseded => "superseded",
                };
                metrics::counter!("sextant_crawl_repos_total", "outcome" => outcome).increment(1);
            }
        }
        Err(error) => metrics::counter!("sextant_crawls_total", "outcome" => error.code()).increment(1),
    }
    result
}

async fn crawl_sources(
    store: &Store,
    sources: &[Source],
    options: &CrawlOptions,
    mut on_outcome: impl FnMut(&str, &RepoOutcome),
) -> Result<CrawlSummary, StoreError> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    // One read per repository: a repository listed twice is crawled once.
    let mut seen = std::collections::HashSet::new();
    let sources: Vec<&Source> = sources.iter().filter(|source| seen.insert(repo_key(source))).collect();
    let keys: Vec<RepoKey> = sources.iter().map(|source| repo_key(source)).collect();
    let names: Vec<String> = sources.iter().map(|source| source.name.clone()).collect();
    let records = store.register_repos(&keys, &names).await?;
    let mut work: Vec<(&Source, RepoRecord)> = sources.into_iter().zip(records).collect();
    work.sort_by_key(|(_, record)| record.id);

    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let budget = Arc::new(budget::ByteBudget::new(options.max_bytes_in_flight, options.concurrency));
    // A read takes its share of the crawl's and the process's read limits, waits for room in the
    // crawl's byte budget (budget.rs), then claims its repository (slots.rs). The claim moves into
    // the blocking thread: a read abandoned at its timeout holds it until the thread really ends.
    let spawn_read = |position: usize| {
        let (source, record) = &work[position];
        // After a failed read the repository is read again even at the same tip, so that its
        // state is worked out anew (its blobs are known: nothing is parsed again). So is one
        // with a file whose blob id was forgotten (an empty one): that file is parsed again (a
        // migration that keeps more of each parse forgets the blob ids of the files concerned).
        let forgotten_blob = record.blobs.values().any(String::is_empty);
        let known = Known {
            commit: record.last_commit.clone().filter(|_| !record.read_failed && !forgotten_blob),
            blobs: record.blobs.clone(),
        };
        let (source, read_options, limit, budget) = ((*source).clone(), options.read.clone(), limit.clone(), budget.clone());
        let (timeout, concurrency) = (options.repo_timeout, options.concurrency);
        tokio::spawn(async move {
            let limits = budget.admit(position, || slots::limits(limit.clone(), concurrency)).await;
            let claim = slots::claim(slots::RepoKey::of(&source), limits, timeout)
                .await
                .map_err(ReadError::Claim)?;
            let read_options = ReadOptions {
                deadline: Some(Instant::now() + timeout),
                ..read_options
            };
            let settle = move |bytes| budget.settle(position, bytes);
            let work = tokio::task::spawn_blocking(move || claim.run(|| read_and_parse(&source, &known, &read_options, settle)));
            match tokio::time::timeout(timeout, work).await {
                Ok(Ok(result)) => result.map_err(ReadError::from),
                Ok(Err(panic)) => Err(CrawlError::Unreachable(format!("the read stopped unexpectedly: {panic}")).into()),
                Err(_) => Err(CrawlError::Timeout.into()),
            }
        })
    };
    // Reads run ahead of the applies by at most this many repositories, which bounds the memory
    // that finished, not yet applied reads hold.
    let window = options.concurrency.max(1) * READ_AHEAD_PER_WORKER;
    let mut upcoming = 0..work.len();
    let mut pending: std::collections::VecDeque<(usize, PendingRead)> = upcoming
        .by_ref()
        .take(window)
        .map(|position| (position, spawn_read(position)))
        .collect();

    let mut summary = CrawlSummary::default();
    let mut next_analyze = REFRESH_STATISTICS_AFTER;
    while let Some((position, read)) = pending.pop_front() {
        // Gather this read and the following ones that are already done, in order.
        let mut batch = vec![(position, read.await)];
        while batch.len() < MAX_BATCH && pending.front().is_some_and(|(_, read)| read.is_finished()) {
            let (position, read) = pending.pop_front().expect("looked at the front");
            batch.push((position, read.await));
        }
        pending.extend(upcoming.by_ref().take(batch.len()).map(|position| (position, spawn_read(position))));
        let mut outcomes: Vec<(usize, RepoOutcome)> = Vec::with_capacity(batch.len());
        let mut changes: Vec<(usize, RepoChange)> = Vec::new();
        for (position, result) in batch {
            let record = &work[position].1;
            match result.unwrap_or_else(|panic| Err(CrawlError::Unreachable(format!("the read stopped unexpectedly: {panic}")).into())) {
                Ok(None) => outcomes.push((position, RepoOutcome::Unchanged)),
                Ok(Some(read)) => changes.push((
                    position,
                    RepoChange::Read(RepoRead {
                        repo_id: record.id,
                        generation: record.generation,
                        commit: read.commit,
                        files: read.files,
                        tree_diagnostics: read.tree_diagnostics,
                    }),
                )),
                Err(error) => {
                    let reason = error.to_string();
                    let outcome = match store.mark_stale(record.id, record.generation, &reason).await {
                        Ok(true) => RepoOutcome::Failed(reason),
                        Ok(false) => RepoOutcome::Superseded,
                        Err(error) if error.is_unreachable() => return Err(error),
                        Err(error) => RepoOutcome::Failed(format!("{reason}; marking it stale failed too: {error}")),
                    };
                    outcomes.push((position, outcome));
                }
            }
        }
        outcomes.extend(apply_batch(store, changes, &work).await?);
        outcomes.sort_by_key(|(position, _)| *position);
        if let Some((last, _)) = outcomes.last() {
            budget.applied_through(*last);
        }
        let written_before = summary.totals.added + summary.totals.updated + summary.totals.removed;
        for (position, outcome) in outcomes {
            if let RepoOutcome::Applied(stats) = &outcome {
                summary.totals += stats;
            }
            let label = repo_label(work[position].0);
            on_outcome(&label, &outcome);
            summary.outcomes.push((label, outcome));
            summary.repos.push(repo_key(work[position].0));
        }
        // A crawl that grows the catalog a lot (a first crawl) refreshes the planner's statistics
        // each time the rows it wrote quadruple, from 1,000 on: a few cheap ANALYZEs instead of
        // plans made for empty tables.
        let written = summary.totals.added + summary.totals.updated + summary.totals.removed;
        if written >= next_analyze && written_before < next_analyze {
            store.analyze().await?;
            next_analyze = written.saturating_mul(4);
        }
    }
    summary.elapsed = started.elapsed();
    summary.budget = budget.stats();
    let crawled = summary.count(|outcome| matches!(outcome, RepoOutcome::Applied(_)));
    let unchanged = summary.count(|outcome| matches!(outcome, RepoOutcome::Unchanged));
    let failed = summary.count(|outcome| matches!(outcome, RepoOutcome::Failed(_)));
    store
        .record_run(&summary.totals, crawled as i32, unchanged as i32, failed as i32, started_at)
        .await?;
    if summary.totals.added + summary.totals.updated + summary.totals.removed >= REFRESH_STATISTICS_AFTER {
        store.refresh_statistics().await?;
    }

    Ok(summary)
}

/// Applies a batch of reads in one transaction; when that fails, one by one, so that one
/// repository's failure does not hold the others back. A database that cannot be reached is
/// returned as an error (the crawl stops); any other failure is that repository's outcome.
async fn apply_batch(
    store: &Store,
    changes: Vec<(usize, RepoChange)>,
    work: &[(&Source, RepoRecord)],
) -> Result<Vec<(usize, RepoOutcome)>, StoreError> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let outcome_of = |applied: Applied| match applied {
        Applied::Applied(stats) => RepoOutcome::Applied(stats),
        Applied::Superseded => RepoOutcome::Superseded,
    };
    let (positions, changes): (Vec<usize>, Vec<RepoChange>) = changes.into_iter().unzip();
    match store.apply_changes(&changes).await {
        Ok(applied) => return Ok(positions.into_iter().zip(applied.into_iter().map(outcome_of)).collect()),
        Err(error) if error.is_unreachable() => return Err(error),
        Err(_) => {}
    }
    let mut outcomes = Vec::with_capacity(changes.len());
    for (position, change) in positions.into_iter().zip(changes) {
        let outcome = match store.apply_changes(std::slice::from_ref(&change)).await {
            Ok(mut applied) => applied.pop().map_or(RepoOutcome::Superseded, outcome_of),
            Err(error) if error.is_unreachable() => return Err(error),
            Err(error) => {
                // The repository keeps its last good entities, and says why they are stale.
                let reason = format!("could not be applied: {error} [{}]", error.code());
                let record = &work[position].1;
                match store.mark_stale(record.id, record.generation, &reason).await {
                    Err(error) if error.is_unreachable() => return Err(error),
                    Ok(false) => RepoOutcome::Superseded,
                    _ => RepoOutcome::Failed(reason),
                }
            }
        };
        outcomes.push((position, outcome));
    }
    Ok(outcomes)
}
