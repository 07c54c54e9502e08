//! Process-wide exclusivity for repository reads: a repository, identified by its URL and
//! branch, is read by at most one thread at a time, and the whole process runs at most a set
//! number of reads at once. The claim travels into the blocking thread that reads, so a read
//! abandoned at its timeout keeps its repository (and its share of the limit) until libgit2
//! really returns; a later read of the same repository waits for it, at most its own timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::crawler::Source;

/// The identity of a repository read: its URL and branch (`None`: the remote's default branch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoKey {
    pub url: String,
    pub branch: Option<String>,
}

impl RepoKey {
    pub fn of(source: &Source) -> Self {
        RepoKey {
            url: source.url.clone(),
            branch: source.branch.clone(),
        }
    }
}

/// Why a read could not claim its repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimError {
    /// Another read of the same repository held it for longer than this read's timeout.
    StillRunning,
}

impl std::fmt::Display for ClaimError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClaimError::StillRunning => formatter.write_str("an earlier read of this repository is still running"),
        }
    }
}

impl std::error::Error for ClaimError {}

/// One semaphore of one permit per repository being read (or waited for).
type Slots = HashMap<RepoKey, Arc<Semaphore>>;

fn slots() -> MutexGuard<'static, Slots> {
    static SLOTS: OnceLock<Mutex<Slots>> = OnceLock::new();
    // The map stays consistent even if a holder panicked: every change is one statement.
    SLOTS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The process's read limit: its size and its permits.
static PROCESS_LIMIT: OnceLock<(usize, Arc<Semaphore>)> = OnceLock::new();

/// Sets how many repository reads the whole process runs at once. Only the first setting counts,
/// whether it comes from here or from the first crawl's concurrency; returns whether this one did.
pub fn set_process_limit(reads: usize) -> bool {
    let mut took_effect = false;
    PROCESS_LIMIT.get_or_init(|| {
        took_effect = true;
        (reads.max(1), Arc::new(Semaphore::new(reads.max(1))))
    });
    took_effect
}

/// How many repository reads the process runs at once, once set.
pub fn process_limit() -> Option<usize> {
    PROCESS_LIMIT.get().map(|(reads, _)| *reads)
}

fn process_permits(default_reads: usize) -> Arc<Semaphore> {
    set_process_limit(default_reads);
    match PROCESS_LIMIT.get() {
        Some((_, permits)) => permits.clone(),
        // Unreachable: set just above. A private limit still bounds this crawl.
        None => Arc::new(Semaphore::new(default_reads.max(1))),
    }
}

/// A claim on one repository and on a share of the process's (and the crawl's) read limits.
/// Move it into the thread that reads; dropping it releases everything.
#[derive(Debug)]
pub struct ReadClaim {
    key: RepoKey,
    // Declared before `slot`, so the limits are given back first; the order is not load-bearing.
    _limits: Vec<OwnedSemaphorePermit>,
    slot: Option<OwnedSemaphorePermit>,
    semaphore: Arc<Semaphore>,
}

/// A share of the crawl's own read limit and of the process's.
#[derive(Debug)]
pub struct Limits(Vec<OwnedSemaphorePermit>);

/// Waits, as long as needed, for a share of the crawl's own limit and of the process's limit
/// (sized by `default_reads` if nothing set it before).
pub async fn limits(crawl_limit: Arc<Semaphore>, default_reads: usize) -> Limits {
    let mut limits = Vec::with_capacity(2);
    for limit in [crawl_limit, process_permits(default_reads)] {
        // The semaphores are never closed; a closed one would simply not limit.
        if let Ok(permit) = limit.acquire_owned().await {
            limits.push(permit);
        }
    }
    Limits(limits)
}

/// Claims a read of `key` with its share of the limits, waiting at most `wait` for an earlier
/// read of the repository to end.
pub async fn claim(key: RepoKey, limits: Limits, wait: Duration) -> Result<ReadClaim, ClaimError> {
    let Limits(limits) = limits;
    let semaphore = slots().entry(key.clone()).or_insert_with(|| Arc::new(Semaphore::new(1))).clone();
    match tokio::time::timeout(wait, semaphore.clone().acquire_owned()).await {
        Ok(Ok(slot)) => Ok(ReadClaim {
            key,
            _limits: limits,
            slot: Some(slot),
            semaphore,
        }),
        _ => {
            let mut slots = slots();
            drop(semaphore);
            forget_if_unused(&mut slots, &key);
            Err(ClaimError::StillRunning)
        }
    }
}

/// Removes the repository's entry when nobody holds or waits for it (only the map refers to it).
fn forget_if_unused(slots: &mut Slots, key: &RepoKey) {
    if slots.get(key).is_some_and(|semaphore| Arc::strong_count(semaphore) == 1) {
        slots.remove(key);
    }
}

impl ReadClaim {
    /// Runs `read` under this claim (on the calling thread), tells the observers when it starts
    /// and ends, and then releases the claim.
    pub fn run<T>(self, read: impl FnOnce() -> T) -> T {
        let running = Running::start(self);
        let result = read();
        drop(running);
        result
    }
}

impl Drop for ReadClaim {
    fn drop(&mut self) {
        let mut slots = slots();
        drop(self.slot.take());
        // Waiters hold a clone of the semaphore, taken under the lock: the map, this claim, and
        // nobody else means nobody is waiting.
        if Arc::strong_count(&self.semaphore) == 2 {
            slots.remove(&self.key);
        }
    }
}

/// Whether a read of the repository is running (or its thread has not ended yet).
pub fn is_reading(url: &str, branch: Option<&str>) -> bool {
    let key = RepoKey {
        url: url.to_owned(),
        branch: branch.map(str::to_owned),
    };
    slots().get(&key).is_some_and(|semaphore| semaphore.available_permits() == 0)
}

/// When an observed read starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPhase {
    /// The read holds its claim and is about to start.
    Started,
    /// The read has ended (returned or panicked) and still holds its claim.
    Finished,
}

type Observer = Arc<dyn Fn(&RepoKey, ReadPhase) + Send + Sync>;

fn observers() -> MutexGuard<'static, Vec<(u64, Observer)>> {
    static OBSERVERS: OnceLock<Mutex<Vec<(u64, Observer)>>> = OnceLock::new();
    OBSERVERS
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Calls `observer` on the reading thread when any read of the process starts and ends, until
/// the returned value is dropped. For tests and instrumentation: an observer that blocks holds
/// the read up.
pub fn observe_reads(observer: impl Fn(&RepoKey, ReadPhase) + Send + Sync + 'static) -> Observation {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    observers().push((id, Arc::new(observer)));
    Observation { id }
}

/// Keeps an observer registered; dropping it unregisters the observer.
#[derive(Debug)]
pub struct Observation {
    id: u64,
}

impl Drop for Observation {
    fn drop(&mut self) {
        observers().retain(|(id, _)| *id != self.id);
    }
}

fn notify(key: &RepoKey, phase: ReadPhase) {
    // Called outside the lock, so that an observer may block or register others.
    let current: Vec<Observer> = observers().iter().map(|(_, observer)| observer.clone()).collect();
    for observer in current {
        observer(key, phase);
    }
}

/// A read in progress: it says `Finished` when dropped, even on a panic, before the claim goes.
struct Running {
    claim: ReadClaim,
}

impl Running {
    fn start(claim: ReadClaim) -> Self {
        notify(&claim.key, ReadPhase::Started);
        Running { claim }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        notify(&self.claim.key, ReadPhase::Finished);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> RepoKey {
        RepoKey {
            url: url.to_owned(),
            branch: None,
        }
    }

    #[tokio::test]
    async fn a_held_repository_makes_the_next_claim_wait_then_fail() {
        let crawl_limit = Arc::new(Semaphore::new(4));
        let first = claim(
            key("slots-test://held"),
            limits(crawl_limit.clone(), 4).await,
            Duration::from_secs(1),
        )
        .await
        .expect("a free repository is claimed");
        assert!(is_reading("slots-test://held", None));
        let second = claim(
            key("slots-test://held"),
            limits(crawl_limit.clone(), 4).await,
            Duration::from_millis(50),
        )
        .await;
        assert_eq!(second.unwrap_err(), ClaimError::StillRunning);
        assert_eq!(crawl_limit.available_permits(), 3, "the failed claim gave its share back");
        drop(first);
        assert!(!is_reading("slots-test://held", None));
        assert!(!slots().contains_key(&key("slots-test://held")), "no entry is left behind");
        let third = claim(key("slots-test://held"), limits(crawl_limit, 4).await, Duration::from_millis(50)).await;
        assert!(third.is_ok());
    }

    #[tokio::test]
    async fn a_waiting_claim_gets_the_repository_when_the_holder_ends() {
        let crawl_limit = Arc::new(Semaphore::new(4));
        let first = claim(
            key("slots-test://handover"),
            limits(crawl_limit.clone(), 4).await,
            Duration::from_secs(1),
        )
        .await
        .expect("claimed");
        let waiter = tokio::spawn(claim(
            key("slots-test://handover"),
            limits(crawl_limit, 4).await,
            Duration::from_secs(30),
        ));
        tokio::task::yield_now().await;
        std::thread::spawn(move || first.run(|| ()))
            .join()
            .expect("the holder's thread ends");
        let second = waiter.await.expect("the waiter ran");
        assert!(second.is_ok(), "the waiter took over");
        drop(second);
        assert!(!slots().contains_key(&key("slots-test://handover")));
    }

    #[tokio::test]
    async fn the_crawl_limit_is_held_until_the_claim_is_dropped() {
        let crawl_limit = Arc::new(Semaphore::new(1));
        let first = claim(
            key("slots-test://limit-a"),
            limits(crawl_limit.clone(), 4).await,
            Duration::from_secs(1),
        )
        .await
        .expect("claimed");
        let blocked = tokio::time::timeout(Duration::from_millis(50), limits(crawl_limit.clone(), 4)).await;
        assert!(blocked.is_err(), "a second read waits for the crawl's only permit");
        drop(first);
        let limits = limits(crawl_limit, 4).await;
        assert!(claim(key("slots-test://limit-b"), limits, Duration::from_secs(1)).await.is_ok());
    }
}
