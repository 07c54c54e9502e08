//! The crawl schedule, shared by replicas through one row in Postgres: whoever moves its next
//! run forward (jittered by ±10%) queues the crawl of every source, so three replicas queue it
//! once. Also the pruning of old finished jobs.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::worker::{shutdown_requested, stopping};
use super::{JobContext, JobError, Queue};

/// How often old finished jobs are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// If the schedule is due, queues a crawl of every configured and stored repository (those with
/// a queued crawl already excepted) and moves the next run `interval` (±10%) forward. Returns
/// the number of jobs queued, `None` when it was not due (or another replica ran it).
pub async fn run_due_schedule(queue: &Queue, interval: Duration) -> Result<Option<u64>, JobError> {
    let queued = queue
        .store
        .run_schedule_if_due(interval, &queue.configured_keys(), queue.max_attempts)
        .await?;
    if let Some(count) = queued {
        tracing::info!(
            jobs = count,
            interval_s = interval.as_secs(),
            "scheduled crawl of every repository queued"
        );
        if count > 0 {
            queue.wake.notify_waiters();
        }
    }
    Ok(queued)
}

/// Looks at the schedule every poll interval (when an interval is set) and prunes finished jobs
/// every ten minutes, until shutdown.
pub(super) async fn housekeeping_loop(context: JobContext, mut shutdown: watch::Receiver<bool>) {
    let mut last_prune: Option<Instant> = None;
    loop {
        if stopping(&shutdown) {
            break;
        }
        if let Some(interval) = context.settings.crawl_interval
            && let Err(error) = run_due_schedule(&context.queue, interval).await
        {
            tracing::warn!(error = %error, code = error.code(), "cannot run the crawl schedule");
        }
        if last_prune.is_none_or(|pruned| pruned.elapsed() >= PRUNE_EVERY) {
            match context.queue.store.prune_jobs(context.settings.keep_finished).await {
                Ok(pruned) => {
                    last_prune = Some(Instant::now());
                    if pruned > 0 {
                        tracing::info!(jobs = pruned, "old finished jobs pruned");
                    }
                }
                Err(error) => tracing::warn!(error = %error, code = error.code(), "cannot prune finished jobs"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(context.settings.poll_interval) => {}
            _ = shutdown_requested(&mut shutdown) => {}
        }
    }
}
