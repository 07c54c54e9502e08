//! Keeping the index in step: [`sync_once`] claims a batch of outbox rows, applies it to the
//! backend and acknowledges it (or records the failure with a backoff); [`run_sync`] loops it
//! until shutdown; [`reindex`] pauses delivery, rebuilds and swaps the index, and resumes.

use std::time::Duration;

use crate::search::{Search, SearchError};

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
            batch: 1000,
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

/// What a reindex did.
#[derive(Debug, Clone, Default)]
pub struct ReindexReport {
    pub documents: usize,
    pub elapsed: Duration,
}

pub async fn sync_once(search: &Search, settings: &SyncSettings) -> Result<SyncReport, SearchError> {
    let _ = (search, settings);
    todo!()
}
