//! The store: the only module with SQL. Postgres holds the catalog; each repository's read is
//! applied in one transaction, under a transaction-scoped advisory lock so that two crawls never
//! interleave their writes (session locks would break behind a connection pooler).

mod apply;
mod graph;

use std::collections::HashMap;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::pg::{Cluster, PgError};

pub use apply::{ApplyStats, FileUpdate, RepoUpdate};
pub use graph::{Dependent, Direction, EntitySummary, Problems, RelationRow, paths};

/// Errors of the store boundary, each with a stable code for the CLI and the API.
#[derive(Debug)]
pub enum StoreError {
    /// The private cluster could not be started.
    Cluster(PgError),
    /// The database could not be reached or refused a statement.
    Database(sqlx::Error),
    /// Migrations could not be applied.
    Migration(sqlx::migrate::MigrateError),
    /// A lookup found nothing.
    NotFound(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Cluster(_) => "store-cluster",
            StoreError::Database(_) => "store-database",
            StoreError::Migration(_) => "store-migration",
            StoreError::NotFound(_) => "not-found",
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Cluster(error) => error.fmt(formatter),
            StoreError::Database(error) => write!(formatter, "database error: {error}"),
            StoreError::Migration(error) => write!(formatter, "cannot migrate the database: {error}"),
            StoreError::NotFound(what) => write!(formatter, "{what} is not in the catalog"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

/// The catalog in Postgres.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    /// The dependency graph as of some catalog version, kept once a walk needed all of it.
    graph: std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<graph::GraphSnapshot>>>>,
}

/// What the store remembers of a repository between crawls.
#[derive(Debug, Clone)]
pub struct RepoRecord {
    pub id: i64,
    pub known: crate::crawler::Known,
}

impl Store {
    /// Connects to `url` and applies the migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let options: PgConnectOptions = url.parse()?;
        let options = options.disable_statement_logging();
        let pool = PgPoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(StoreError::Migration)?;
        Ok(Store {
            pool,
            graph: Default::default(),
        })
    }

    /// Connects to `DATABASE_URL`, or starts (or reuses) the private cluster under `data_dir`
    /// and its `sextant` database.
    pub async fn open_default(data_dir: &std::path::Path) -> Result<Store, StoreError> {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            return Store::connect(&url).await;
        }
        std::fs::create_dir_all(data_dir).map_err(|error| StoreError::Cluster(PgError::Io(error)))?;
        let pg_dir = data_dir.join("postgres");
        let cluster = tokio::task::spawn_blocking(move || Cluster::start_or_reuse(&pg_dir))
            .await
            .expect("the cluster start does not panic")
            .map_err(StoreError::Cluster)?;
        create_database_if_missing(&cluster, "sextant").await?;
        Store::connect(&cluster.url("sextant")).await
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Registers the sources that are new (in one statement) and returns what is known of every
    /// one of them, keyed by URL: two queries whatever the number of repositories.
    pub async fn register_repos(&self, sources: &[(String, String, Option<String>)]) -> Result<HashMap<String, RepoRecord>, StoreError> {
        let urls: Vec<&str> = sources.iter().map(|(url, _, _)| url.as_str()).collect();
        let names: Vec<&str> = sources.iter().map(|(_, name, _)| name.as_str()).collect();
        let branches: Vec<Option<&str>> = sources.iter().map(|(_, _, branch)| branch.as_deref()).collect();
        sqlx::query(
            "INSERT INTO repos (url, name, branch) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
             ON CONFLICT (url) DO UPDATE SET name = EXCLUDED.name, branch = EXCLUDED.branch
                 WHERE repos.name IS DISTINCT FROM EXCLUDED.name OR repos.branch IS DISTINCT FROM EXCLUDED.branch",
        )
        .bind(&urls)
        .bind(&names)
        .bind(&branches)
        .execute(&self.pool)
        .await?;
        let mut records: HashMap<i64, (String, RepoRecord)> =
            sqlx::query_as::<_, (i64, String, Option<String>)>("SELECT id, url, last_commit FROM repos WHERE url = ANY($1)")
                .bind(&urls)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(|(id, url, commit)| {
                    (
                        id,
                        (
                            url,
                            RepoRecord {
                                id,
                                known: crate::crawler::Known {
                                    commit,
                                    blobs: HashMap::new(),
                                },
                            },
                        ),
                    )
                })
                .collect();
        let ids: Vec<i64> = records.keys().copied().collect();
        let blobs: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT repo_id, path, blob_oid FROM descriptor_files WHERE repo_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        for (repo_id, path, blob_id) in blobs {
            if let Some((_, record)) = records.get_mut(&repo_id) {
                record.known.blobs.insert(path, blob_id);
            }
        }
        Ok(records.into_values().collect())
    }

    /// Refreshes the planner's statistics and the visibility map of the catalog tables, after a
    /// crawl that changed many rows (a first crawl, typically): until autovacuum comes by,
    /// queries would be planned for the old table sizes, and whole-graph walks could not use
    /// index-only scans.
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        sqlx::query("VACUUM (ANALYZE) entities, relations, entity_aliases, descriptor_files")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a repository stale: its entities stay, flagged with the reason.
    pub async fn mark_stale(&self, repo_id: i64, reason: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE repos SET status = 'stale', error = $2, last_crawled_at = now() WHERE id = $1")
            .bind(repo_id)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a finished crawl run.
    pub async fn record_run(
        &self,
        stats: &ApplyStats,
        repos_crawled: i32,
        repos_unchanged: i32,
        repos_failed: i32,
        started: std::time::SystemTime,
    ) -> Result<(), StoreError> {
        // Seconds since the epoch, turned into a timestamp by Postgres (no date-time crate needed).
        let started_seconds = started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |duration| duration.as_secs_f64());
        sqlx::query(
            "INSERT INTO crawl_runs (started_at, finished_at, repos_crawled, repos_unchanged, repos_failed,
                 entities_added, entities_updated, entities_removed, conflicts, diagnostics)
             VALUES (to_timestamp($1), now(), $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(started_seconds)
        .bind(repos_crawled)
        .bind(repos_unchanged)
        .bind(repos_failed)
        .bind(stats.added as i32)
        .bind(stats.updated as i32)
        .bind(stats.removed as i32)
        .bind(stats.conflicts as i32)
        .bind(stats.diagnostics as i32)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Creates `database` in the cluster unless it exists.
pub async fn create_database_if_missing(cluster: &Cluster, database: &str) -> Result<(), StoreError> {
    let options: PgConnectOptions = cluster.url("postgres").parse()?;
    let mut connection = options.disable_statement_logging().connect().await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(database)
        .fetch_one(&mut connection)
        .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE \"{}\"", database.replace('"', "")))
            .execute(&mut connection)
            .await?;
    }
    Ok(())
}
