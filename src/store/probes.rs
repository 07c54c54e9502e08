//! What the server's probes and metrics read: whether the database answers, whether its schema
//! is this build's, the last crawl's outcome, and the catalog's gauges (entities by kind,
//! failing repositories).

use super::{Store, StoreError};

/// The migrations of this build, embedded at compile time.
pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the database's schema compares with this build's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// Versions this build has that the database has not applied.
    pub pending: Vec<i64>,
    /// Versions whose application failed half-way (the schema needs a look).
    pub failed: Vec<i64>,
}

impl SchemaState {
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.failed.is_empty()
    }
}

/// The last finished crawl run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastCrawl {
    pub repos_crawled: i32,
    pub repos_unchanged: i32,
    pub repos_failed: i32,
    /// Seconds since it finished.
    pub age_seconds: i64,
}

impl LastCrawl {
    /// A crawl failed when it read repositories and none of them succeeded.
    pub fn failed(&self) -> bool {
        self.repos_failed > 0 && self.repos_crawled + self.repos_unchanged == 0
    }
}

/// Gauges for `/metrics`, read at scrape time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    pub entities_by_kind: Vec<(String, i64)>,
    pub repos: i64,
    /// Repositories whose last read failed or that hold an unusable file.
    pub failing_repos: i64,
}

impl Store {
    /// Applies this build's migrations that the database lacks. Postgres serialises concurrent
    /// runs (the migrator holds an advisory lock), so replicas may start together.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(self.pool()).await.map_err(StoreError::Migration)
    }

    /// Whether the database answers a statement.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    /// The database's schema against this build's migrations.
    pub async fn schema_state(&self) -> Result<SchemaState, StoreError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(self.pool())
            .await?;
        let applied: Vec<(i64, bool)> = if exists {
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations")
                .fetch_all(self.pool())
                .await?
        } else {
            Vec::new()
        };
        let pending = MIGRATOR
            .iter()
            .map(|migration| migration.version)
            .filter(|version| !applied.iter().any(|(applied, _)| applied == version))
            .collect();
        let failed = applied
            .iter()
            .filter(|(_, success)| !success)
            .map(|(version, _)| *version)
            .collect();
        Ok(SchemaState { pending, failed })
    }

    /// The last finished crawl run, if any.
    pub async fn last_crawl(&self) -> Result<Option<LastCrawl>, StoreError> {
        let row: Option<(i32, i32, i32, f64)> = sqlx::query_as(
            "SELECT repos_crawled, repos_unchanged, repos_failed, extract(epoch FROM now() - finished_at)::float8
             FROM crawl_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(repos_crawled, repos_unchanged, repos_failed, age)| LastCrawl {
            repos_crawled,
            repos_unchanged,
            repos_failed,
            age_seconds: age as i64,
        }))
    }

    /// Entities by kind and repository health, in one statement.
    pub async fn gauges(&self) -> Result<Gauges, StoreError> {
        let entities_by_kind: Vec<(String, i64)> = sqlx::query_as("SELECT kind, count(*) FROM entities GROUP BY kind ORDER BY kind")
            .fetch_all(self.pool())
            .await?;
        let (repos, failing_repos): (i64, i64) = sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE status = 'stale') FROM repos")
            .fetch_one(self.pool())
            .await?;
        Ok(Gauges {
            entities_by_kind,
            repos,
            failing_repos,
        })
    }
}
