//! The search outbox, seen from the catalog: claiming changed entity references with their
//! current state (`FOR UPDATE SKIP LOCKED`, under a lease), acknowledging or failing them, the
//! index lag, the reindex pause, and every entity's indexed fields in pages (for a reindex).
//! The rows are written by triggers on `entities` (migration `..._search.sql`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// An entity's indexed fields: what both search backends hold and highlight from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchEntity {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub entity_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tier: Option<i16>,
    pub owner: Option<String>,
    pub system: Option<String>,
    pub domain: Option<String>,
    pub tags: Vec<String>,
    /// `key=value` (Backstage `metadata.labels`) or the label itself (Compass `labels`).
    pub labels: Vec<String>,
    /// The URL of the repository the entity is defined in.
    pub repo: Option<String>,
    /// An API's definition text (`spec.definition` when it is text), cut to [`MAX_DEFINITION_BYTES`].
    pub definition: Option<String>,
}

/// API definition text indexed per entity; the rest is not searchable.
pub const MAX_DEFINITION_BYTES: usize = 64 * 1024;

/// One claimed outbox row: the reference and the version claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedChange {
    pub entity_ref: String,
    pub version: i64,
    pub attempts: i32,
}

/// What a claim found.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Nothing is due.
    Empty,
    /// A reindex is running: nothing is claimed until it ends.
    Paused,
    /// Claimed changes, and the current state of those still in the catalog (the others were
    /// deleted: the index drops them).
    Batch {
        changes: Vec<ClaimedChange>,
        present: Vec<SearchEntity>,
    },
}

/// How far the index is behind the catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchLag {
    /// Changed entities not yet delivered.
    pub pending: i64,
    /// Of those, how many failed at least once.
    pub failing: i64,
    /// Age in seconds of the oldest undelivered change.
    pub oldest_seconds: Option<f64>,
    /// The most recent failure's message.
    pub last_error: Option<String>,
    /// Whether a reindex is running.
    pub reindexing: bool,
}

impl Store {
    /// Claims up to `limit` due changes (oldest first) for `lease`, with the current state of
    /// their entities, in one transaction. Rows claimed by another replica are skipped.
    pub async fn claim_search_changes(&self, limit: usize, lease: Duration) -> Result<Claim, StoreError> {
        let _ = (limit, lease);
        todo!()
    }

    /// Removes delivered changes whose version is still the claimed one; a change made since the
    /// claim stays, due again now.
    pub async fn acknowledge_search_changes(&self, changes: &[ClaimedChange]) -> Result<(), StoreError> {
        let _ = changes;
        todo!()
    }

    /// Records a failed delivery of `changes`: attempts + 1, the error, due again after `retry_after`.
    pub async fn fail_search_changes(&self, changes: &[ClaimedChange], error: &str, retry_after: Duration) -> Result<(), StoreError> {
        let _ = (changes, error, retry_after);
        todo!()
    }

    /// The index lag now.
    pub async fn search_lag(&self) -> Result<SearchLag, StoreError> {
        todo!()
    }

    /// Starts a reindex: pauses delivery for `lease` (waiting for claims in progress to commit).
    /// `false`: another reindex is running.
    pub async fn begin_reindex(&self, lease: Duration) -> Result<bool, StoreError> {
        let _ = lease;
        todo!()
    }

    /// Ends a reindex: delivery resumes.
    pub async fn end_reindex(&self) -> Result<(), StoreError> {
        todo!()
    }

    /// Up to `limit` entities' indexed fields, by reference, after `after` (keyset pages: a
    /// reindex reads the catalog in bounded memory).
    pub async fn search_entities_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<SearchEntity>, StoreError> {
        let _ = (after, limit);
        todo!()
    }
}
