//! One consistent view of the catalog for one request: a REPEATABLE READ, READ ONLY transaction,
//! begun at the first query and shared by every resolver and DataLoader of the request, so that
//! an apply committed meanwhile never makes a request mix two versions of the catalog.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{PgConnection, Postgres, Transaction};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use super::{Store, StoreError};

/// Begins a snapshot. Its statements are small lookups by keys and key arrays, run thousands of
/// times a second: generic plans spare Postgres planning each one again (it halves the
/// database's CPU per request; see BENCHMARKS.md), and are good plans for such lookups.
const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan";

/// A request's view of the catalog. Queries run one at a time on its one connection.
pub struct Snapshot {
    store: Store,
    transaction: Mutex<Option<Transaction<'static, Postgres>>>,
    /// Statements sent through [`Snapshot::connection`] (the `BEGIN` included): the N+1 test
    /// reads it, and the server may log it.
    statements: AtomicU64,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Snapshot").finish_non_exhaustive()
    }
}

impl Store {
    /// A new view of the catalog; nothing is read (and no connection taken) before its first query.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            store: self.clone(),
            transaction: Mutex::new(None),
            statements: AtomicU64::new(0),
        }
    }
}

impl Snapshot {
    /// The store the snapshot reads (for its in-memory graph, which is tagged with the catalog
    /// version and must be checked against [`Snapshot::catalog_version`]).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The snapshot's connection, inside its transaction (begun on first use). Take it once per
    /// statement (each call counts as one) and drop the guard after it: other resolvers of the
    /// request wait for it.
    pub(crate) async fn connection(&self) -> Result<MappedMutexGuard<'_, PgConnection>, StoreError> {
        let mut slot = self.transaction.lock().await;
        self.statements.fetch_add(1, Ordering::Relaxed);
        if slot.is_none() {
            self.statements.fetch_add(1, Ordering::Relaxed);
            let transaction = self.store.begin_with(BEGIN_SNAPSHOT).await?;
            *slot = Some(transaction);
        }
        MutexGuard::try_map(slot, |slot| slot.as_deref_mut())
            .map_err(|_| StoreError::Invariant("the snapshot's transaction was not begun".to_owned()))
    }

    /// How many statements the snapshot has sent so far, its `BEGIN` included.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Ends the snapshot's transaction (a rollback: it wrote nothing) and gives its connection
    /// back to the pool now rather than when the last reference is dropped. A later query begins
    /// a new transaction.
    pub async fn release(&self) {
        let transaction = self.transaction.lock().await.take();
        if let Some(transaction) = transaction {
            // A failed rollback leaves a broken connection, which the pool discards.
            let _ = transaction.rollback().await;
        }
    }

    /// The catalog version this snapshot sees (bumped by every apply).
    pub async fn catalog_version(&self) -> Result<i64, StoreError> {
        let mut connection = self.connection().await?;
        Ok(sqlx::query_scalar("SELECT version FROM catalog_state")
            .fetch_one(&mut *connection)
            .await?)
    }
}
