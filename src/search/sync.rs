//! Keeping the index in step: [`sync_once`] claims a batch of outbox rows, applies it to the
//! backend and acknowledges it (or records the failure with a backoff); [`sync_until_idle`]
//! drains the outbox for a while ([`catch_up`], after a crawl and before `sextant search`);
//! [`run_sync`] loops until shutdown (in `serve`); [`reindex`] pauses delivery, rebuilds and
//! swaps the index, and resumes.
//!
//! Delivery is at least once and idempotent: a batch whose delivery fails, or whose replica
//! dies, is delivered again later (after the backoff, or when its lease runs out); the backend
//! receives each entity's current state, so a repeated delivery writes the same document.
//! A delivery sends nothing to the backend after half its lease: once the lease has run out
//! another sync may deliver a newer state, which a late request would overwrite.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::search::{Search, SearchError};
use crate::store::{Claim, ClaimedChange, SearchEntity};

/// How the sync works.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Changes claimed per batch.
    pub batch: usize,
    /// How long a claimed batch is held before another replica may take it.
    pub lease: Duration,
    /// How often an idle sync looks for changes.
    pub poll: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            batch: 500,
            lease: Duration::from_secs(120),
            poll: Duration::from_millis(250),
        }
    }
}

/// What one round delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub upserted: usize,
    pub deleted: usize,
    pub rejected: usize,
    /// A reindex was running: nothing was claimed.
    pub paused: bool,
}

impl SyncReport {
    /// Changes this round took care of (delivered or refused); 0: nothing was due.
    pub fn changes(&self) -> usize {
        self.upserted + self.deleted + self.rejected
    }

    fn add(&mut self, other: &SyncReport) {
        self.upserted += other.upserted;
        self.deleted += other.deleted;
        self.rejected += other.rejected;
        self.paused |= other.paused;
    }
}

/// What a reindex did.
#[derive(Debug, Clone, Default)]
pub struct ReindexReport {
    pub documents: usize,
    /// Documents the backend refused: they are failing changes in the outbox (retried by the
    /// sync, shown by `/readyz`).
    pub rejected: usize,
    pub elapsed: Duration,
}

/// The wait before a failed change is tried again: 1 s after its first failure, doubling with
/// each further one, at most [`MAX_RETRY_DELAY`].
pub fn retry_delay(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.clamp(0, 16)).unwrap_or(0);
    FIRST_RETRY_DELAY
        .saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_RETRY_DELAY)
}

const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two deliveries of a failing change.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// How long a reindex holds the pause without renewing it: a reindex that dies lets delivery
/// resume after this; a running one renews it every third of it.
const REINDEX_LEASE: Duration = Duration::from_secs(60);

/// The longest wait between two `prepare` attempts (and two rounds of a failing sync) in
/// [`run_sync`].
const MAX_LOOP_BACKOFF: Duration = Duration::from_secs(30);

/// How long a batch in flight may still run once shutdown is asked for; after that it is
/// dropped and released (due again at once, for the next sync).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long past a drain's deadline the batch in flight may still send requests.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// A claimed batch on its way to the backend.
struct Batch {
    changes: Vec<ClaimedChange>,
    present: Vec<SearchEntity>,
    /// No request to the backend after this: half the lease from the claim.
    deadline: Instant,
}

/// What a claim found: a batch, or a round with nothing to deliver.
enum Round {
    Batch(Batch),
    Idle(SyncReport),
}

/// Claims one batch of due changes, applies it to the backend and acknowledges it. Documents the
/// backend refuses one by one are failed with their reason (and retried later), the rest are
/// acknowledged. When the backend fails the batch, every change of it is failed with a backoff
/// that grows with its attempts, and the error is returned. Nothing due: an empty report; a
/// reindex running: `paused`.
pub async fn sync_once(search: &Search, settings: &SyncSettings) -> Result<SyncReport, SearchError> {
    match claim(search, settings, None).await? {
        Round::Idle(report) => Ok(report),
        Round::Batch(batch) => deliver(search, &batch).await,
    }
}

/// Claims a batch for `settings.lease`; its delivery's deadline is half the lease from now, or
/// `stop` when that is sooner (a command's drain).
async fn claim(search: &Search, settings: &SyncSettings, stop: Option<Instant>) -> Result<Round, SearchError> {
    let lease_deadline = Instant::now() + settings.lease / 2;
    let deadline = stop.map_or(lease_deadline, |stop| stop.min(lease_deadline));
    Ok(match search.store().claim_search_changes(settings.batch, settings.lease).await? {
        Claim::Empty => Round::Idle(SyncReport::default()),
        Claim::Paused => Round::Idle(SyncReport {
            paused: true,
            ..SyncReport::default()
        }),
        Claim::Batch { changes, present } => Round::Batch(Batch {
            changes,
            present,
            deadline,
        }),
    })
}

/// Applies a claimed batch and acknowledges it (or fails it): see [`sync_once`].
async fn deliver(search: &Search, batch: &Batch) -> Result<SyncReport, SearchError> {
    let store = search.store();
    let Batch {
        changes,
        present,
        deadline,
    } = batch;
    let backend = search.backend_name();
    let started = Instant::now();
    let deletes: Vec<String> = {
        let present_refs: std::collections::HashSet<&str> = present.iter().map(|entity| entity.entity_ref.as_str()).collect();
        changes
            .iter()
            .filter(|change| !present_refs.contains(change.entity_ref.as_str()))
            .map(|change| change.entity_ref.clone())
            .collect()
    };
    let applied = search.apply(present, &deletes, *deadline).await;
    ::metrics::histogram!("sextant_search_sync_batch_seconds", "backend" => backend).record(started.elapsed().as_secs_f64());
    let applied = match applied {
        Ok(applied) => applied,
        Err(error) => {
            let attempts = changes.iter().map(|change| change.attempts).max().unwrap_or(0);
            let delay = retry_delay(attempts);
            let message = format!("{error} [{}]", error.code());
            tracing::warn!(
                backend,
                changes = changes.len(),
                error = %error,
                code = error.code(),
                retry_in_seconds = delay.as_secs(),
                "search sync: the batch failed"
            );
            count_batch(backend, "failed", changes.len());
            if let Err(store_error) = store.fail_search_changes(changes, &message, delay).await {
                tracing::warn!(error = %store_error, code = store_error.code(), "search sync: cannot record the failure");
            }
            return Err(error);
        }
    };
    // Refused documents, by reference (a reference the batch does not hold is ignored).
    let reasons: HashMap<&str, &str> = applied
        .rejected
        .iter()
        .map(|(entity_ref, reason)| (entity_ref.as_str(), reason.as_str()))
        .collect();
    let (rejected, delivered): (Vec<&ClaimedChange>, Vec<&ClaimedChange>) =
        changes.iter().partition(|change| reasons.contains_key(change.entity_ref.as_str()));
    if !rejected.is_empty() {
        let failures: Vec<(&ClaimedChange, &str)> = rejected
            .iter()
            .map(|change| (*change, reasons.get(change.entity_ref.as_str()).copied().unwrap_or("refused")))
            .collect();
        let delay = retry_delay(rejected.iter().map(|change| change.attempts).max().unwrap_or(0));
        for (change, reason) in failures.iter().take(3) {
            tracing::warn!(backend, "entity.ref" = %change.entity_ref, reason, "search sync: the backend refused a document");
        }
        store.fail_search_changes_each(&failures, delay).await?;
    }
    let delivered: Vec<ClaimedChange> = delivered.into_iter().cloned().collect();
    store.acknowledge_search_changes(&delivered).await?;
    let deleted = delivered
        .iter()
        .filter(|change| deletes.binary_search(&change.entity_ref).is_ok())
        .count();
    let report = SyncReport {
        upserted: delivered.len() - deleted,
        deleted,
        rejected: rejected.len(),
        paused: false,
    };
    count_batch(backend, "delivered", delivered.len());
    if !rejected.is_empty() {
        ::metrics::counter!("sextant_search_sync_changes_total", "backend" => backend, "outcome" => "rejected")
            .increment(rejected.len() as u64);
    }
    tracing::debug!(
        backend,
        upserted = report.upserted,
        deleted = report.deleted,
        rejected = report.rejected,
        duration_ms = started.elapsed().as_millis() as u64,
        "search sync: batch delivered"
    );
    Ok(report)
}

/// Counts one batch and its changes under `outcome` (`delivered` or `failed`).
fn count_batch(backend: &'static str, outcome: &'static str, changes: usize) {
    ::metrics::counter!("sextant_search_sync_batches_total", "backend" => backend, "outcome" => outcome).increment(1);
    ::metrics::counter!("sextant_search_sync_changes_total", "backend" => backend, "outcome" => outcome).increment(changes as u64);
}

/// Runs [`sync_once`] until nothing is due, a reindex pauses delivery, or `deadline` passes
/// (no batch is claimed after it; the batch in flight sends nothing to the backend later than
/// [`DRAIN_GRACE`] after it, and is acknowledged or failed, so that none is left claimed); returns what it delivered in all (`paused` when it
/// stopped for a reindex). The first error ends it.
pub async fn sync_until_idle(search: &Search, settings: &SyncSettings, deadline: Instant) -> Result<SyncReport, SearchError> {
    let mut total = SyncReport::default();
    while Instant::now() < deadline {
        let round = match claim(search, settings, Some(deadline + DRAIN_GRACE)).await? {
            Round::Idle(report) => report,
            Round::Batch(batch) => deliver(search, &batch).await?,
        };
        total.add(&round);
        if round.paused || round.changes() == 0 {
            break;
        }
    }
    Ok(total)
}

/// Lets the index take the catalog's pending changes until `deadline` (a command's drain: after
/// a crawl, before `sextant search`): prepares the index, then [`sync_until_idle`]. Nothing
/// pending: no request to the backend. Each request to the backend has its own timeout, so a
/// backend that hangs ends it soon after `deadline`.
pub async fn catch_up(search: &Search, deadline: Instant) -> Result<SyncReport, SearchError> {
    if search.store().search_lag().await?.pending == 0 {
        return Ok(SyncReport::default());
    }
    // Preparing holds no claim: it may simply be dropped at the deadline.
    let remaining = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(remaining, search.prepare()).await {
        Ok(prepared) => prepared?,
        Err(_) => {
            return Err(SearchError::Unavailable(format!(
                "{} did not answer in time",
                search.backend_name()
            )));
        }
    }
    sync_until_idle(search, &SyncSettings::default(), deadline).await
}

/// The sync of a server: prepares the index (retrying, with a growing wait, while the backend is
/// down), then delivers changes as they come, looking every `settings.poll` when idle, until
/// `shutdown` turns true (or its sender is dropped). Errors are logged and retried; it never
/// returns before shutdown.
pub async fn run_sync(search: Search, settings: SyncSettings, mut shutdown: watch::Receiver<bool>) {
    let backend = search.backend_name();
    let mut failures: u32 = 0;
    loop {
        if stopping(&shutdown) {
            return;
        }
        match search.prepare().await {
            Ok(()) => break,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(backend, error = %error, code = error.code(), "search: cannot prepare the index; trying again");
                if sleep_or_shutdown(backoff(settings.poll.max(Duration::from_secs(1)), failures), &mut shutdown).await {
                    return;
                }
            }
        }
    }
    tracing::info!(backend, "search: the index is ready; keeping it in step with the catalog");
    failures = 0;
    // Said once when deliveries succeed again after failures (each failure is logged).
    let mut failed_since_delivery = false;
    loop {
        if stopping(&shutdown) {
            return;
        }
        let result = match claim(&search, &settings, None).await {
            Err(error) => Err(error),
            Ok(Round::Idle(report)) => Ok(report),
            Ok(Round::Batch(batch)) => {
                let delivery = deliver(&search, &batch);
                tokio::pin!(delivery);
                tokio::select! {
                    result = &mut delivery => result,
                    _ = shutdown_requested(&mut shutdown) => match tokio::time::timeout(SHUTDOWN_GRACE, &mut delivery).await {
                        Ok(result) => result,
                        Err(_) => {
                            tracing::info!(backend, changes = batch.changes.len(), "search: stopping with a batch in flight; released for the next sync");
                            if let Err(error) = search.store().release_search_changes(&batch.changes).await {
                                tracing::warn!(error = %error, code = error.code(), "search sync: cannot release the batch; its lease hands it on");
                            }
                            return;
                        }
                    },
                }
            }
        };
        let pause = match result {
            Ok(report) if report.changes() > 0 => {
                if std::mem::take(&mut failed_since_delivery) {
                    tracing::info!(backend, "search sync: delivering again");
                }
                failures = 0;
                continue;
            }
            Ok(report) if report.paused => {
                failures = 0;
                settings.poll.max(Duration::from_secs(1))
            }
            Ok(_) => {
                failures = 0;
                settings.poll
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                failed_since_delivery = true;
                if matches!(error, SearchError::Store(_)) {
                    tracing::warn!(backend, error = %error, code = error.code(), "search sync: cannot reach the catalog");
                }
                backoff(settings.poll, failures)
            }
        };
        if sleep_or_shutdown(pause, &mut shutdown).await {
            return;
        }
    }
}

/// `base` doubled `failures` times, at most [`MAX_LOOP_BACKOFF`].
fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(failures.min(10))).min(MAX_LOOP_BACKOFF)
}

/// Whether the loop should stop: shutdown was asked for, or its sender is gone.
fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Waits until shutdown is asked for (or its sender is gone).
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Sleeps `pause`; `true` when shutdown came first.
async fn sleep_or_shutdown(pause: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(pause) => false,
        _ = shutdown_requested(shutdown) => true,
    }
}

/// Rebuilds the index from the catalog: pauses delivery (waiting for claims in progress), builds
/// a fresh index and swaps it in, acknowledges the changes that were pending when it began (the
/// rebuilt index read the catalog after them), records the documents the backend refused as
/// failing changes, and resumes delivery, whatever happened. [`SearchError::Busy`] when another
/// reindex runs.
///
/// The pause is renewed while the rebuild runs; if it cannot be renewed (it lapsed: delivery
/// may have resumed, and what it delivered to the old index would be missing from the new
/// one), the rebuild is dropped before its swap (Postgres rolls it back; a Meilisearch staging
/// index is deleted by the next rebuild) and an error says so.
pub async fn reindex(search: &Search) -> Result<ReindexReport, SearchError> {
    let store = search.store();
    let started = Instant::now();
    let Some(token) = store.begin_reindex(REINDEX_LEASE).await? else {
        return Err(SearchError::Busy);
    };
    tracing::info!(backend = search.backend_name(), "search: reindex started; delivery paused");
    let rebuilt = async {
        let pending = store.pending_search_changes().await?;
        let (documents, rejected) = with_heartbeat(search, token, search.rebuild()).await?;
        store.acknowledge_search_changes(&pending).await?;
        for (entity_ref, reason) in rejected.iter().take(3) {
            tracing::warn!(backend = search.backend_name(), "entity.ref" = %entity_ref, reason = %reason, "search: the reindex could not index a document");
        }
        store.record_search_rejections(&rejected, retry_delay(0)).await?;
        Ok::<_, SearchError>((documents, rejected.len()))
    }
    .await;
    let ended = store.end_reindex(token).await;
    let (documents, rejected) = rebuilt?;
    ended?;
    let report = ReindexReport {
        documents,
        rejected,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        backend = search.backend_name(),
        documents,
        rejected,
        duration_ms = report.elapsed.as_millis() as u64,
        "search: reindex done; delivery resumed"
    );
    Ok(report)
}

/// Runs `work` while renewing reindex `token`'s pause every third of its lease. When a renewal
/// fails or finds the pause lapsed, `work` is dropped (cancelled) and the error says so.
async fn with_heartbeat<T>(
    search: &Search,
    token: i64,
    work: impl std::future::Future<Output = Result<T, SearchError>>,
) -> Result<T, SearchError> {
    let heartbeat = async {
        let mut ticks = tokio::time::interval(REINDEX_LEASE / 3);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match search.store().extend_reindex(token, REINDEX_LEASE).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("search: the reindex's pause lapsed; the rebuild is abandoned");
                    return SearchError::Unavailable(
                        "the reindex's pause of delivery lapsed (delivery may have resumed meanwhile); the rebuild was abandoned: run it again"
                            .to_owned(),
                    );
                }
                Err(error) => {
                    tracing::warn!(error = %error, code = error.code(), "search: cannot renew the reindex's pause; the rebuild is abandoned");
                    return SearchError::Store(error);
                }
            }
        }
    };
    tokio::pin!(work);
    tokio::select! {
        result = &mut work => result,
        error = heartbeat => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_five_minutes() {
        assert_eq!(retry_delay(0), Duration::from_secs(1));
        assert_eq!(retry_delay(1), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(16));
        assert_eq!(retry_delay(9), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(i32::MAX), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(-3), Duration::from_secs(1));
    }

    #[test]
    fn the_loop_backs_off_up_to_its_cap() {
        let poll = Duration::from_millis(250);
        assert_eq!(backoff(poll, 1), Duration::from_millis(500));
        assert_eq!(backoff(poll, 3), Duration::from_secs(2));
        assert_eq!(backoff(poll, 40), MAX_LOOP_BACKOFF);
    }
}
