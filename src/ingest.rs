//! A crawl: read every source with the crawler (in parallel, bounded, each with a timeout, on
//! blocking threads), parse the changed descriptor blobs, and apply the repositories to the store
//! in source order (consecutive finished reads together, in one transaction), so that the first
//! claim of a reference is deterministic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;

use crate::crawler::{self, CrawlError, Known, ReadOptions, Source, TipRead};
use crate::descriptor;
use crate::store::{ApplyStats, FileUpdate, RepoUpdate, Store, StoreError};

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
}

impl CrawlOptions {
    pub fn new(read: ReadOptions) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        CrawlOptions {
            concurrency: cores * 2,
            repo_timeout: Duration::from_secs(120),
            read,
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
}

/// The result of a crawl, for the summary table.
#[derive(Debug, Clone, Default)]
pub struct CrawlSummary {
    pub outcomes: Vec<(String, RepoOutcome)>,
    pub totals: ApplyStats,
    pub elapsed: Duration,
}

impl CrawlSummary {
    pub fn count(&self, wanted: fn(&RepoOutcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, outcome)| wanted(outcome)).count()
    }
}

/// A read running in the background.
type PendingRead = tokio::task::JoinHandle<Result<Option<ChangedRepo>, CrawlError>>;

/// A repository whose tip changed, read and parsed.
struct ChangedRepo {
    commit: String,
    files: Vec<FileUpdate>,
    tree_diagnostics: Vec<crate::domain::Diagnostic>,
}

/// Reads what changed since the last crawl and parses it (`None`: the tip is unchanged); runs on
/// a blocking thread.
fn read_and_parse(source: &Source, known: &Known, options: &ReadOptions) -> Result<Option<ChangedRepo>, CrawlError> {
    let snapshot = match crawler::read_tip(source, known, options)? {
        TipRead::Unchanged { .. } => return Ok(None),
        TipRead::Changed(snapshot) => snapshot,
    };
    let files = snapshot
        .files
        .into_iter()
        .map(|blob| match blob.bytes {
            None => FileUpdate::Unchanged { path: blob.path },
            Some(bytes) => {
                let parsed = descriptor::parse_bytes(&blob.path, &bytes);
                FileUpdate::Read {
                    path: blob.path,
                    blob_id: blob.blob_id,
                    parsed,
                }
            }
        })
        .collect();
    Ok(Some(ChangedRepo {
        commit: snapshot.commit,
        files,
        tree_diagnostics: snapshot.diagnostics,
    }))
}

/// Crawls `sources` into `store`. `on_outcome` is called once per repository, in source order.
pub async fn crawl(
    store: &Store,
    sources: &[Source],
    options: &CrawlOptions,
    mut on_outcome: impl FnMut(&str, &RepoOutcome),
) -> Result<CrawlSummary, StoreError> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let registrations: Vec<(String, String, Option<String>)> = sources
        .iter()
        .map(|source| (source.url.clone(), source.name.clone(), source.branch.clone()))
        .collect();
    let records: HashMap<String, crate::store::RepoRecord> = store.register_repos(&registrations).await?;

    let limit = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let spawn_read = |source: &Source| {
        let record = records.get(&source.url).expect("every source was registered");
        let (source, known, read_options, limit) = (source.clone(), record.known.clone(), options.read.clone(), limit.clone());
        let timeout = options.repo_timeout;
        tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.expect("the semaphore is never closed");
            let read_options = ReadOptions {
                deadline: Some(Instant::now() + timeout),
                ..read_options
            };
            let work = tokio::task::spawn_blocking(move || read_and_parse(&source, &known, &read_options));
            match tokio::time::timeout(timeout, work).await {
                Ok(Ok(result)) => result,
                Ok(Err(panic)) => Err(CrawlError::Unreachable(format!("the read stopped unexpectedly: {panic}"))),
                Err(_) => Err(CrawlError::Timeout),
            }
        })
    };
    // Reads run ahead of the applies by at most this many repositories, which bounds the memory
    // that finished, not yet applied reads hold.
    let window = options.concurrency.max(1) * READ_AHEAD_PER_WORKER;
    let mut upcoming = sources.iter();
    let mut pending: std::collections::VecDeque<(&Source, PendingRead)> =
        upcoming.by_ref().take(window).map(|source| (source, spawn_read(source))).collect();

    let mut summary = CrawlSummary::default();
    while let Some((source, read)) = pending.pop_front() {
        // Gather this read and the following ones that are already done, in source order.
        let mut batch = vec![(source, read.await)];
        while batch.len() < MAX_BATCH && pending.front().is_some_and(|(_, read)| read.is_finished()) {
            let (source, read) = pending.pop_front().expect("looked at the front");
            batch.push((source, read.await));
        }
        pending.extend(upcoming.by_ref().take(batch.len()).map(|source| (source, spawn_read(source))));
        let mut outcomes: Vec<Option<RepoOutcome>> = vec![None; batch.len()];
        let mut changed = Vec::new();
        for (position, (source, result)) in batch.into_iter().enumerate() {
            let record = &records[&source.url];
            match result.unwrap_or_else(|panic| Err(CrawlError::Unreachable(format!("the read stopped unexpectedly: {panic}")))) {
                Ok(None) => outcomes[position] = Some(RepoOutcome::Unchanged),
                Ok(Some(read)) => changed.push((
                    position,
                    RepoUpdate {
                        repo_id: record.id,
                        commit: read.commit,
                        files: read.files,
                        tree_diagnostics: read.tree_diagnostics,
                    },
                )),
                Err(error) => {
                    let reason = error.to_string();
                    // Best effort: if the database is gone too, the outcome still says why.
                    let _ = store.mark_stale(record.id, &reason).await;
                    outcomes[position] = Some(RepoOutcome::Failed(reason));
                }
            }
        }
        if !changed.is_empty() {
            let updates: Vec<RepoUpdate> = changed.iter().map(|(_, update)| update.clone()).collect();
            match store.apply_repos(&updates).await {
                Ok(stats) => {
                    for ((position, _), stats) in changed.iter().zip(stats) {
                        outcomes[*position] = Some(RepoOutcome::Applied(stats));
                    }
                }
                // One repository's failure must not hold the others back: apply them one by one.
                Err(_) => {
                    for (position, update) in &changed {
                        outcomes[*position] = Some(match store.apply_repo(update).await {
                            Ok(stats) => RepoOutcome::Applied(stats),
                            Err(error) => RepoOutcome::Failed(format!("could not be applied: {error}")),
                        });
                    }
                }
            }
        }
        let first = summary.outcomes.len();
        for (offset, outcome) in outcomes.into_iter().enumerate() {
            let outcome = outcome.expect("every repository of the batch has an outcome");
            if let RepoOutcome::Applied(stats) = &outcome {
                summary.totals += *stats;
            }
            let url = &sources[first + offset].url;
            on_outcome(url, &outcome);
            summary.outcomes.push((url.clone(), outcome));
        }
    }
    summary.elapsed = started.elapsed();
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
