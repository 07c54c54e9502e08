//! A crawl's byte budget: the descriptor bytes read and not yet applied, over all the crawl's
//! repositories. A read that holds its share of the read limits is admitted only while the
//! budget has room; it then holds a provisional share until it reports the bytes it really read,
//! and those stay reserved until its repository's batch has been applied (its parsed entities
//! live that long). A read that must wait gives its read limits back meanwhile. The read that is
//! next to be applied is always admitted: everyone else waits for it, so nothing deadlocks.
//!
//! The bound: what is reserved exceeds the budget only by the read next to be applied and by
//! reads that read more than their provisional share, at most one per running read, each at most
//! what the crawler reads of one repository.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

/// Bytes a crawl holds in flight by default: 32 MiB of descriptor text.
pub const DEFAULT_CRAWL_BYTES: u64 = 32 * 1024 * 1024;

/// What a budget has seen, for tests and figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetStats {
    /// Bytes reserved now.
    pub reserved: u64,
    /// The most ever reserved at once.
    pub peak: u64,
    /// Reads that had to wait for room before they were admitted.
    pub waits: u64,
    /// Reads admitted while the budget had no room for their share (only the front may be).
    pub admitted_without_room: u64,
}

#[derive(Debug, Default)]
struct State {
    /// Position in the crawl's order → bytes reserved by that read.
    held: BTreeMap<usize, u64>,
    /// The position next to be applied.
    front: usize,
    stats: BudgetStats,
}

impl State {
    fn set(&mut self, position: usize, bytes: u64) {
        let before = self.held.insert(position, bytes).unwrap_or(0);
        self.stats.reserved = self.stats.reserved - before + bytes;
        self.stats.peak = self.stats.peak.max(self.stats.reserved);
    }
}

/// The byte budget of one crawl, shared by its reads and its apply loop.
#[derive(Debug)]
pub struct ByteBudget {
    limit: u64,
    /// What a read holds from its admission until it says what it read.
    share: u64,
    state: Mutex<State>,
    changed: Notify,
}

impl ByteBudget {
    /// A budget of `limit` bytes for a crawl that runs about `concurrency` reads at once.
    pub fn new(limit: u64, concurrency: usize) -> Self {
        ByteBudget {
            limit,
            share: (limit / (2 * concurrency.max(1) as u64)).max(1),
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change to the state is complete before the lock is released.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until the read at `position` may start, and returns what `hold` gave (its share of
    /// the read limits): `hold` is called first, then the read is admitted at once when it is the
    /// next to be applied, otherwise when the budget has room for its provisional share, which it
    /// then holds. A read that must wait gives back what `hold` gave while it waits, so the read
    /// that everyone waits for can always get it.
    pub async fn admit<T, Held: Future<Output = T>>(&self, position: usize, mut hold: impl FnMut() -> Held) -> T {
        let mut waited = false;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let held = hold().await;
            {
                let mut state = self.state();
                let has_room = state.stats.reserved + self.share <= self.limit;
                if position <= state.front || has_room {
                    if !has_room {
                        state.stats.admitted_without_room += 1;
                    }
                    if waited {
                        state.stats.waits += 1;
                    }
                    state.set(position, self.share);
                    return held;
                }
            }
            drop(held);
            waited = true;
            changed.await;
        }
    }

    /// The read at `position` holds `bytes` (what it read) instead of its provisional share.
    /// A read whose repository was already applied (given up at its timeout) holds nothing.
    pub fn settle(&self, position: usize, bytes: u64) {
        let mut state = self.state();
        if position < state.front {
            return;
        }
        state.set(position, bytes);
        drop(state);
        self.changed.notify_waiters();
    }

    /// The reads up to `position` have been applied (or given up): their bytes are free, and the
    /// next read becomes the one that is always admitted.
    pub fn applied_through(&self, position: usize) {
        let mut state = self.state();
        let later = state.held.split_off(&(position + 1));
        let freed: u64 = state.held.values().sum();
        state.held = later;
        state.stats.reserved -= freed;
        state.front = state.front.max(position + 1);
        drop(state);
        self.changed.notify_waiters();
    }

    pub fn stats(&self) -> BudgetStats {
        self.state().stats
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    async fn admitted_soon(budget: &Arc<ByteBudget>, position: usize) -> bool {
        let budget = budget.clone();
        tokio::time::timeout(Duration::from_millis(100), async move { budget.admit(position, || async {}).await })
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn the_front_read_always_proceeds_and_the_others_wait_for_room() {
        // A share of 100 / (2 × 1) = 50 bytes.
        let budget = Arc::new(ByteBudget::new(100, 1));
        assert!(admitted_soon(&budget, 1).await);
        assert!(admitted_soon(&budget, 2).await);
        assert!(!admitted_soon(&budget, 3).await, "two shares fill the budget");
        assert!(admitted_soon(&budget, 0).await, "the front is admitted all the same");
        budget.settle(0, 700);
        budget.settle(1, 10);
        budget.settle(2, 20);
        let waiter = tokio::spawn({
            let budget = budget.clone();
            async move { budget.admit(3, || async {}).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "730 bytes are reserved");
        budget.applied_through(0);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("room for position 3 once the front was applied")
            .unwrap();
        let stats = budget.stats();
        assert_eq!(stats.reserved, 10 + 20 + 50);
        assert_eq!(stats.peak, 700 + 50 + 50);
        assert_eq!(stats.waits, 1);
        assert_eq!(stats.admitted_without_room, 1, "only the front went past the budget");
        budget.applied_through(3);
        assert_eq!(budget.stats().reserved, 0, "everything is released at the end");
    }

    #[tokio::test]
    async fn a_read_given_up_before_it_settles_holds_nothing() {
        let budget = ByteBudget::new(100, 1);
        budget.admit(0, || async {}).await;
        budget.applied_through(0);
        budget.settle(0, 1_000);
        assert_eq!(
            budget.stats().reserved,
            0,
            "a timed-out read that ends after its apply reserves nothing"
        );
    }

    #[tokio::test]
    async fn a_waiting_read_becomes_the_front_and_proceeds() {
        let budget = Arc::new(ByteBudget::new(10, 1));
        budget.admit(0, || async {}).await;
        budget.settle(0, 10);
        let waiter = tokio::spawn({
            let budget = budget.clone();
            async move { budget.admit(1, || async {}).await }
        });
        budget.applied_through(0);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("admitted")
            .unwrap();
        budget.settle(1, 1_000);
        assert_eq!(budget.stats().reserved, 1_000);
    }
}
