//! The worker: claims a batch of jobs under a lease, renews the lease while it works (a
//! heartbeat), crawls the batch's repositories in one `ingest::crawl` (each job finished as soon
//! as its repository's outcome is known), forgets, and records outcomes, retries and failures.
//! `run_workers` loops around it, with the schedule and the pruning, until shutdown.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::{JobContext, JobSettings, SourceProblem};
use crate::ingest::{self, RepoOutcome};
use crate::store::{ClaimedJob, Finished, JobFinish, JobKind, Store, StoreError};

/// What one round of work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkReport {
    pub claimed: usize,
    pub done: usize,
    /// Failed attempts queued again for later.
    pub retrying: usize,
    pub failed: usize,
    /// Jobs whose lease had expired (another worker took them over) when they finished.
    pub lease_lost: usize,
}

impl WorkReport {
    fn count(&mut self, finished: Finished) {
        match finished {
            Finished::Done => self.done += 1,
            Finished::Retrying => self.retrying += 1,
            Finished::Failed => self.failed += 1,
            Finished::LeaseLost => self.lease_lost += 1,
        }
    }

    fn add(&mut self, other: WorkReport) {
        self.claimed += other.claimed;
        self.done += other.done;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.lease_lost += other.lease_lost;
    }
}

/// Claims up to `batch_size` jobs and runs them to the end; returns what it did (nothing
/// claimed: nothing to do). Idempotent: calling it again does the next jobs.
pub async fn work_once(context: &JobContext) -> Result<WorkReport, StoreError> {
    work(context, None).await
}

/// Runs `settings.workers` worker loops and the housekeeping loop (the schedule, when an
/// interval is set, and pruning) until `shutdown` turns true (or its sender is dropped); the
/// crawl under way is given `shutdown_grace` to finish before this returns.
pub async fn run_workers(context: JobContext, shutdown: watch::Receiver<bool>) {
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..context.settings.workers.max(1) {
        tasks.spawn(worker_loop(context.clone(), shutdown.clone(), index));
    }
    tasks.spawn(super::schedule::housekeeping_loop(context.clone(), shutdown.clone()));
    while let Some(result) = tasks.join_next().await {
        if let Err(error) = result {
            tracing::error!(error = %error, "a job loop stopped unexpectedly");
        }
    }
}

/// Whether the loops should stop: shutdown was asked for, or its sender is gone.
pub(super) fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Waits until shutdown is asked for (or its sender is gone).
pub(super) async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn worker_loop(context: JobContext, mut shutdown: watch::Receiver<bool>, index: usize) {
    let mut failures: u32 = 0;
    loop {
        if stopping(&shutdown) {
            break;
        }
        // Listen before looking, so that a job queued meanwhile by this process is not missed.
        let wake = context.queue.wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        match work(&context, Some(&mut shutdown)).await {
            Ok(report) if report.claimed > 0 => {
                failures = 0;
                tracing::info!(
                    worker = index,
                    jobs.claimed = report.claimed,
                    jobs.done = report.done,
                    jobs.retrying = report.retrying,
                    jobs.failed = report.failed,
                    jobs.lease_lost = report.lease_lost,
                    "jobs worked"
                );
                continue;
            }
            Ok(_) => failures = 0,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(worker = index, error = %error, code = error.code(), "cannot claim jobs");
            }
        }
        // Idle, or the database is away: wait (longer after each failure, up to 30 s).
        let pause = if failures == 0 {
            context.settings.poll_interval
        } else {
            context
                .settings
                .poll_interval
                .saturating_mul(2u32.saturating_pow(failures.min(5)))
                .min(Duration::from_secs(30))
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = &mut wake => {}
            _ = shutdown_requested(&mut shutdown) => {}
        }
    }
}

/// A token unique to one claim: host, process (and its start), claim number. A worker that
/// lost a job's lease can never finish the attempt another worker took over.
fn lease_owner() -> String {
    static PROCESS: OnceLock<String> = OnceLock::new();
    static CLAIMS: AtomicU64 = AtomicU64::new(0);
    let process = PROCESS.get_or_init(|| {
        let host = std::env::var("HOSTNAME").ok().filter(|host| !host.is_empty());
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        format!("{}/{}/{started:x}", host.as_deref().unwrap_or("sextant"), std::process::id())
    });
    format!("{process}/{}", CLAIMS.fetch_add(1, Ordering::Relaxed))
}

/// Aborts the task when dropped (the heartbeat stops with the work, whatever way it ends).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renews the claim's lease every third of it until aborted.
fn heartbeat(store: Store, owner: String, lease: Duration) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let period = (lease / 3).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(period).await;
            match store.renew_lease(&owner, lease).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, code = error.code(), "cannot renew the lease of running jobs"),
            }
        }
    }))
}

/// Records how an attempt ended; a store that cannot be reached is logged, and the job is taken
/// over after its lease expires.
async fn finish(store: &Store, job: &ClaimedJob, owner: &str, finish: JobFinish, report: &mut WorkReport) {
    let (outcome, detail) = match &finish {
        JobFinish::Done { outcome, detail } | JobFinish::Failed { outcome, detail, .. } => (outcome.as_str(), detail.as_str()),
        JobFinish::Released => ("released", ""),
    };
    match store.finish_job(job.id, owner, &finish).await {
        Ok(finished) => {
            report.count(finished);
            let finished_as = match finished {
                Finished::Done => "done",
                Finished::Retrying => "retrying",
                Finished::Failed => "failed",
                Finished::LeaseLost => "lease-lost",
            };
            metrics::counter!("sextant_jobs_finished_total", "kind" => job.kind.as_str(), "state" => finished_as).increment(1);
            tracing::info!(
                job.id = job.id,
                job.kind = job.kind.as_str(),
                repo.url = %job.repo.url,
                repo.branch = ?job.repo.branch,
                job.attempt = job.attempts,
                job.outcome = outcome,
                job.finished = ?finished,
                detail,
                "job finished"
            );
        }
        Err(error) => tracing::warn!(job.id = job.id, error = %error, code = error.code(), "cannot record a job's outcome"),
    }
}

/// A failed attempt: retried after the backoff while attempts remain.
fn failed(job: &ClaimedJob, settings: &JobSettings, outcome: &str, detail: String) -> JobFinish {
    JobFinish::Failed {
        outcome: outcome.to_owned(),
        detail,
        retry_in: Some(settings.retry_delay_after(job.attempts)),
    }
}

/// A failure a retry would not change.
fn failed_for_good(outcome: &str, detail: String) -> JobFinish {
    JobFinish::Failed {
        outcome: outcome.to_owned(),
        detail,
        retry_in: None,
    }
}

/// What a crawl outcome means for its job.
fn finish_of_outcome(job: &ClaimedJob, outcome: &RepoOutcome, settings: &JobSettings) -> JobFinish {
    let done = |outcome: &str, detail: String| JobFinish::Done {
        outcome: outcome.to_owned(),
        detail,
    };
    match outcome {
        RepoOutcome::Unchanged => done("unchanged", "the tip is the one read last time".to_owned()),
        RepoOutcome::Applied(stats) => done(
            "applied",
            format!(
                "{} added, {} updated, {} removed, {} new conflicts, {} new diagnostics",
                stats.added, stats.updated, stats.removed, stats.conflicts, stats.diagnostics
            ),
        ),
        RepoOutcome::Superseded => done("superseded", "a newer read of the repository was written meanwhile".to_owned()),
        RepoOutcome::Failed(reason) => failed(job, settings, "failed", reason.clone()),
    }
}

async fn work(context: &JobContext, shutdown: Option<&mut watch::Receiver<bool>>) -> Result<WorkReport, StoreError> {
    let store = context.queue.store();
    let settings = &context.settings;
    let owner = lease_owner();
    let claimed = store.claim_jobs(&owner, settings.lease, settings.batch_size.max(1)).await?;
    if claimed.is_empty() {
        return Ok(WorkReport::default());
    }
    let _heartbeat = heartbeat(store.clone(), owner.clone(), settings.lease);
    let mut report = WorkReport {
        claimed: claimed.len(),
        ..WorkReport::default()
    };
    let (forgets, crawls): (Vec<ClaimedJob>, Vec<ClaimedJob>) = claimed.into_iter().partition(|job| job.kind == JobKind::Forget);
    for job in &forgets {
        let outcome = match store.forget(std::slice::from_ref(&job.repo)).await {
            Ok(()) => JobFinish::Done {
                outcome: "forgotten".to_owned(),
                detail: "its entities left the catalog or passed to their next claimants".to_owned(),
            },
            Err(StoreError::NotFound(what)) => failed_for_good("not-found", format!("{what} is not in the catalog")),
            Err(error) => failed(job, settings, "failed", format!("{error} [{}]", error.code())),
        };
        finish(store, job, &owner, outcome, &mut report).await;
    }
    if !crawls.is_empty() {
        report.add(crawl_batch(context, crawls, &owner, shutdown).await);
    }
    Ok(report)
}

/// Crawls the batch's repositories in one `ingest::crawl`, finishing each job as its
/// repository's outcome arrives.
async fn crawl_batch(context: &JobContext, jobs: Vec<ClaimedJob>, owner: &str, shutdown: Option<&mut watch::Receiver<bool>>) -> WorkReport {
    let store = context.queue.store();
    let settings = &context.settings;
    let mut report = WorkReport::default();
    let keys: Vec<_> = jobs.iter().map(|job| job.repo.clone()).collect();
    let sources = match context.queue.sources_for(&keys).await {
        Ok(sources) => sources,
        Err(error) => {
            for job in &jobs {
                finish(
                    store,
                    job,
                    owner,
                    failed(job, settings, "failed", format!("{error} [{}]", error.code())),
                    &mut report,
                )
                .await;
            }
            return report;
        }
    };
    let mut runnable = Vec::with_capacity(jobs.len());
    let mut by_label: HashMap<String, ClaimedJob> = HashMap::with_capacity(jobs.len());
    for (job, source) in jobs.into_iter().zip(sources) {
        match source {
            Ok(source) => {
                by_label.insert(ingest::repo_label(&source), job);
                runnable.push(source);
            }
            Err(SourceProblem::NotFound) => {
                let detail = "the repository is neither configured nor in the catalog (forgotten since it was queued)".to_owned();
                finish(store, &job, owner, failed_for_good("not-found", detail), &mut report).await;
            }
            Err(SourceProblem::Refused(reason)) => finish(store, &job, owner, failed_for_good("refused", reason), &mut report).await,
        }
    }
    if runnable.is_empty() {
        return report;
    }
    let pending: Vec<ClaimedJob> = by_label.values().cloned().collect();
    // Outcomes go to a task that records them while the crawl goes on.
    let (sender, mut receiver) = mpsc::unbounded_channel::<(String, RepoOutcome)>();
    let finisher = {
        let (store, owner, settings) = (store.clone(), owner.to_owned(), settings.clone());
        tokio::spawn(async move {
            let mut report = WorkReport::default();
            let mut finished = HashSet::new();
            while let Some((label, outcome)) = receiver.recv().await {
                if let Some(job) = by_label.get(&label) {
                    finish(&store, job, &owner, finish_of_outcome(job, &outcome, &settings), &mut report).await;
                    finished.insert(job.id);
                }
            }
            (report, finished)
        })
    };
    let result = {
        let crawl = ingest::crawl(store, &runnable, &context.crawl, move |label, outcome| {
            // The receiver lives until every sender is gone: a send cannot fail here.
            let _ = sender.send((label.to_owned(), outcome.clone()));
        });
        until_shutdown(crawl, shutdown, settings.shutdown_grace).await
    };
    let finished = match finisher.await {
        Ok((finisher_report, finished)) => {
            report.add(finisher_report);
            finished
        }
        Err(error) => {
            tracing::error!(error = %error, "the task recording crawl outcomes stopped unexpectedly");
            HashSet::new()
        }
    };
    for job in pending.iter().filter(|job| !finished.contains(&job.id)) {
        let outcome = match &result {
            Some(Ok(_)) => failed(job, settings, "failed", "the crawl gave no outcome for the repository".to_owned()),
            Some(Err(error)) => failed(job, settings, "failed", format!("the crawl stopped: {error} [{}]", error.code())),
            None => JobFinish::Released,
        };
        finish(store, job, owner, outcome, &mut report).await;
    }
    report
}

/// Runs `work` to its end; once shutdown is asked for, it gets `grace` more, after which it is
/// dropped (`None`): a transaction in progress rolls back whole.
async fn until_shutdown<Output>(
    work: impl std::future::Future<Output = Output>,
    shutdown: Option<&mut watch::Receiver<bool>>,
    grace: Duration,
) -> Option<Output> {
    tokio::pin!(work);
    let Some(shutdown) = shutdown else {
        return Some(work.await);
    };
    tokio::select! {
        output = &mut work => return Some(output),
        _ = shutdown_requested(shutdown) => {}
    }
    let started = Instant::now();
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: waiting for the crawl under way"
    );
    let output = tokio::time::timeout(grace, work).await.ok();
    if output.is_none() {
        tracing::warn!(
            waited_ms = started.elapsed().as_millis() as u64,
            "the crawl under way was stopped; its jobs are queued again"
        );
    }
    output
}
