//! The store: the only module with SQL. Postgres holds the catalog; each repository's read is
//! applied in one transaction, under a transaction-scoped advisory lock so that two crawls never
//! interleave their writes (session locks would break behind a connection pooler).

mod apply;
pub mod export;
mod graph;
mod health;
mod jobs;
mod probes;
pub mod read;
mod repos;
mod search_outbox;
mod snapshot;

use std::collections::HashMap;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::pg::{Cluster, PgError};

pub use crate::reconcile::RepoChange;
pub use apply::{Applied, ApplyStats, NewConflict};
pub use graph::{
    Dependent, Direction, EntityPath, EntitySummary, GraphEdge, Impact, ImpactEdge, ImpactNode, OwnerGroup, RelationRow, RelationSet, Risk,
    Walk, WalkNode, WalkSpec, dependency_risk, paths, points_outward,
};
pub use health::{
    CatalogStats, Conflict, ConflictKey, CrawlRun, Cycle, DanglingKey, DanglingReference, DuplicateAlias, FileDiagnostic, InvalidFile,
    InvalidFileKey, InvalidOwner, InvalidOwnerKey, Keyed, Orphan, Page, PageRequest, ProblemCounts, Problems, RepoOrderKey, RepoState,
    StaleRepo, TypeCount, ValueCount,
};
pub use jobs::{ClaimedJob, Finished, Job, JobFinish, JobKind, JobState, JobTrigger, StoredRepo};
pub use probes::{Gauges, LastCrawl, SchemaState};
pub use repos::{ForgetPreview, RepoListing};
pub use search_outbox::{Claim, ClaimedChange, MAX_DEFINITION_BYTES, SearchEntity, SearchLag};
pub use snapshot::Snapshot;

/// Whether opening a catalog applies the migrations it lacks, or requires them applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrations {
    /// Apply what is missing (under the migrator's advisory lock: replicas may start together).
    Apply,
    /// Refuse a database whose schema is older than this build ([`StoreError::SchemaOutdated`]).
    Require,
    /// Neither: the caller looks at the schema itself (`sextant migrate`, to say what it applies).
    Leave,
}

/// How a catalog is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    pub migrations: Migrations,
    /// The most connections the pool holds.
    pub connections: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            migrations: Migrations::Apply,
            connections: 8,
        }
    }
}

/// Errors of the store boundary, each with a stable code for the CLI and the API.
#[derive(Debug)]
pub enum StoreError {
    /// The private cluster could not be started.
    Cluster(PgError),
    /// The database could not be reached: the connection failed, broke or timed out.
    Unreachable(sqlx::Error),
    /// The database refused a statement.
    Database(sqlx::Error),
    /// Migrations could not be applied.
    Migration(sqlx::migrate::MigrateError),
    /// A lookup found nothing.
    NotFound(String),
    /// The store found its own data inconsistent (a bug, reported instead of a panic).
    Invariant(String),
    /// The database lacks migrations of this build (their versions): `sextant migrate` applies them.
    SchemaOutdated(Vec<i64>),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        if self.is_unreachable() {
            return "store-unreachable";
        }
        match self {
            StoreError::Cluster(_) => "store-cluster",
            StoreError::Unreachable(_) | StoreError::Database(_) => "store-database",
            StoreError::Migration(_) => "store-migration",
            StoreError::NotFound(_) => "not-found",
            StoreError::Invariant(_) => "store-invariant",
            StoreError::SchemaOutdated(_) => "store-schema-outdated",
        }
    }

    /// Whether the database could not be reached at all (as opposed to refusing one statement):
    /// a crawl stops at the first such error instead of failing every repository in turn.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Unreachable(_) => true,
            StoreError::Database(error) => is_connection_error(error),
            StoreError::Migration(
                sqlx::migrate::MigrateError::Execute(error) | sqlx::migrate::MigrateError::ExecuteMigration(error, _),
            ) => is_connection_error(error),
            StoreError::Cluster(_)
            | StoreError::Migration(_)
            | StoreError::NotFound(_)
            | StoreError::Invariant(_)
            | StoreError::SchemaOutdated(_) => false,
        }
    }
}

/// Connection-class errors: the server is down, the network or the socket failed, TLS failed,
/// or no connection could be had within the pool's acquire timeout.
fn is_connection_error(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed
    )
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Cluster(error) => error.fmt(formatter),
            StoreError::Unreachable(error) => write!(formatter, "database unreachable: {error}"),
            StoreError::Database(error) if is_connection_error(error) => write!(formatter, "database unreachable: {error}"),
            StoreError::Database(error) => write!(formatter, "database error: {error}"),
            StoreError::Migration(error) => write!(formatter, "cannot migrate the database: {error}"),
            StoreError::NotFound(what) => write!(formatter, "{what} is not in the catalog"),
            StoreError::Invariant(what) => write!(formatter, "internal error in the store: {what}"),
            StoreError::SchemaOutdated(pending) => write!(
                formatter,
                "the catalog's database lacks {} migration(s) of this version of sextant: run `sextant migrate`",
                pending.len()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_connection_error(&error) {
            StoreError::Unreachable(error)
        } else {
            StoreError::Database(error)
        }
    }
}

/// The catalog in Postgres.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    /// The relation graph as of some catalog version, kept once a walk needed all of it.
    graph: std::sync::Arc<graph::GraphCache>,
}

/// What the store remembers of a repository between crawls.
#[derive(Debug, Clone, Default)]
pub struct RepoRecord {
    pub id: i64,
    /// Bumped by every write of the repository's state; a read names the generation it started
    /// from, and its apply is dropped when another was written in between.
    pub generation: i64,
    /// The tip of the last successful read.
    pub last_commit: Option<String>,
    /// Whether the last read failed: the next read works the repository's state out again even
    /// at the same tip.
    pub read_failed: bool,
    /// Descriptor path → blob id of that read.
    pub blobs: HashMap<String, String>,
}

/// How a repository is named to people: its URL, and its branch when one is set.
pub fn repo_label(url: &str, branch: Option<&str>) -> String {
    match branch {
        Some(branch) => format!("{url} ({branch})"),
        None => url.to_owned(),
    }
}

/// A registered repository's row, as `register_repos` reads it.
#[derive(sqlx::FromRow)]
struct RegisteredRow {
    id: i64,
    url: String,
    branch: Option<String>,
    generation: i64,
    last_commit: Option<String>,
    read_failed: bool,
}

/// A repository as a crawl names it: identified by (url, branch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoKey {
    pub url: String,
    /// `None` follows the remote's HEAD.
    pub branch: Option<String>,
}

impl Store {
    /// Connects to `url` and applies the migrations. A statement waits at most
    /// [`ACQUIRE_TIMEOUT`] for a connection, so a dead server fails it within seconds.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let options: PgConnectOptions = url.parse()?;
        Store::connect_with(options, &OpenOptions::default()).await
    }

    async fn connect_with(options: PgConnectOptions, open: &OpenOptions) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(open.connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.disable_statement_logging())
            .await?;
        let store = Store {
            pool,
            graph: Default::default(),
        };
        let ready = match open.migrations {
            Migrations::Apply => store.migrate().await,
            Migrations::Require => match store.schema_state().await {
                Ok(state) if state.is_current() => Ok(()),
                Ok(state) => Err(StoreError::SchemaOutdated(state.pending)),
                Err(error) => Err(error),
            },
            Migrations::Leave => Ok(()),
        };
        if let Err(error) = ready {
            store.pool.close().await;
            return Err(error);
        }
        Ok(store)
    }

    /// Opens `catalog`: in the database at `database_url` when one is configured, else in the
    /// private cluster under `data_dir` (started, or created, when needed). See [`Catalog`] for
    /// the database each catalog uses; the demo's is created when missing. A database that
    /// sextant created (the private cluster's, the demo's) is always migrated; the operator's own
    /// (`DATABASE_URL`) only with [`Migrations::Apply`].
    pub async fn open_default(
        database_url: Option<&str>,
        data_dir: &std::path::Path,
        catalog: Catalog,
        open: &OpenOptions,
    ) -> Result<Store, StoreError> {
        let location = CatalogLocation::find(database_url, data_dir, catalog).await?;
        let mut open = open.clone();
        if location.created_by_sextant {
            create_database_at(&location.server, &location.database).await?;
            if open.migrations == Migrations::Require {
                open.migrations = Migrations::Apply;
            }
        }
        Store::connect_with(location.options, &open).await
    }

    /// Closes every connection of the pool cleanly (the server sees a goodbye, not a reset),
    /// waiting for connections in use to come back. Commands call it before they exit.
    pub async fn close(&self) {
        // A connection dropped a moment ago is still on its way back to the pool, where sqlx
        // reads what the server was still sending; closed before that, it would be cut off
        // mid-message. So wait (briefly) until every connection is back.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.pool.num_idle() < self.pool.size() as usize && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        self.pool.close().await;
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a transaction on a pooled connection; see [`Store::begin_with`].
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin_in_task(None).await
    }

    /// Begins a transaction with `statement` (which must begin one: `BEGIN READ ONLY; SET LOCAL ..`)
    /// such that no cancellation leaves it half-begun. sqlx 0.8 sends the `BEGIN` before it counts
    /// the transaction as open, so a future dropped in between (a client that hangs up mid-request)
    /// would give the connection back to the pool still inside the transaction: its next user's
    /// writes would then fail (`READ ONLY`) or never be committed. Here the begin runs in a task
    /// of its own and always completes; if nobody waits for it any more, the finished transaction
    /// is dropped, which rolls it back as usual.
    pub async fn begin_with(&self, statement: &'static str) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin_in_task(Some(statement)).await
    }

    async fn begin_in_task(&self, statement: Option<&'static str>) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let pool = self.pool.clone();
        let begun = tokio::spawn(async move {
            match statement {
                Some(statement) => pool.begin_with(statement).await,
                None => pool.begin().await,
            }
        });
        begun
            .await
            .unwrap_or_else(|error| Err(sqlx::Error::Protocol(format!("the task beginning a transaction ended: {error}"))))
    }

    /// Registers the repositories that are new (in one statement) and returns what is known of
    /// each, in the order given: three statements whatever the number of repositories. `names` go
    /// with `keys` and are updated when they changed.
    pub async fn register_repos(&self, keys: &[RepoKey], names: &[String]) -> Result<Vec<RepoRecord>, StoreError> {
        // One row per repository, or the upsert would touch a row twice.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<(&RepoKey, &String)> = keys.iter().zip(names).filter(|(key, _)| seen.insert(*key)).collect();
        let urls: Vec<&str> = unique.iter().map(|(key, _)| key.url.as_str()).collect();
        let branches: Vec<Option<&str>> = unique.iter().map(|(key, _)| key.branch.as_deref()).collect();
        let names: Vec<&str> = unique.iter().map(|(_, name)| name.as_str()).collect();
        sqlx::query(
            "INSERT INTO repos (url, branch, name) SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
             ON CONFLICT (url, branch) DO UPDATE SET name = EXCLUDED.name WHERE repos.name IS DISTINCT FROM EXCLUDED.name",
        )
        .bind(&urls)
        .bind(&branches)
        .bind(&names)
        .execute(&self.pool)
        .await?;
        let rows: Vec<RegisteredRow> = sqlx::query_as(
            "SELECT r.id, r.url, r.branch, r.generation, r.last_commit, r.read_failed
             FROM repos r JOIN UNNEST($1::text[], $2::text[]) AS w (url, branch) ON r.url = w.url AND r.branch IS NOT DISTINCT FROM w.branch",
        )
        .bind(&urls)
        .bind(&branches)
        .fetch_all(&self.pool)
        .await?;
        let mut records: HashMap<RepoKey, RepoRecord> = HashMap::new();
        let mut key_of: HashMap<i64, RepoKey> = HashMap::new();
        for RegisteredRow {
            id,
            url,
            branch,
            generation,
            last_commit,
            read_failed,
        } in rows
        {
            let key = RepoKey { url, branch };
            key_of.insert(id, key.clone());
            records.insert(
                key,
                RepoRecord {
                    id,
                    generation,
                    last_commit,
                    read_failed,
                    blobs: HashMap::new(),
                },
            );
        }
        let ids: Vec<i64> = key_of.keys().copied().collect();
        let blobs: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT repo_id, path, blob_oid FROM descriptor_files WHERE repo_id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        for (repo_id, path, blob_id) in blobs {
            if let Some(record) = key_of.get(&repo_id).and_then(|key| records.get_mut(key)) {
                record.blobs.insert(path, blob_id);
            }
        }
        keys.iter()
            .map(|key| {
                records
                    .get(key)
                    .cloned()
                    .ok_or_else(|| StoreError::Invariant(format!("the repository {} was not registered", key.url)))
            })
            .collect()
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

    /// Refreshes the planner's statistics of the catalog tables (no vacuum), in the middle of a
    /// crawl that grows them: plans made for the empty tables of a first crawl (seq scans, and
    /// cached generic plans) would otherwise slow every later batch.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        sqlx::query("ANALYZE entities, relations, entity_aliases, descriptor_files, conflicts, diagnostics, repos")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a repository stale after a failed read that started at `generation`: its entities
    /// stay, and the reason is shown. Returns false (and writes nothing) when a newer read was
    /// written in between.
    pub async fn mark_stale(&self, repo_id: i64, generation: i64, reason: &str) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE repos SET status = 'stale', error = $3, read_failed = true, last_crawled_at = now(), generation = generation + 1
             WHERE id = $1 AND generation = $2",
        )
        .bind(repo_id)
        .bind(generation)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
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

/// How long a statement waits for a pooled connection, and a new connection for the server,
/// before the database counts as unreachable.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Which catalog a command works on. `Main` is the user's own: the database of the configured
/// URL, or `sextant` in the private cluster. `Demo` is the demo's, kept apart so that the
/// examples never mix with the user's crawls: `sextant_demo` in the private cluster, or, with a
/// configured URL, the database of the same server named like the URL's with `_demo` appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    Main,
    Demo,
}

impl Catalog {
    /// The catalog's database in the private cluster.
    pub fn embedded_database(self) -> &'static str {
        match self {
            Catalog::Main => "sextant",
            Catalog::Demo => "sextant_demo",
        }
    }
}

/// Where a catalog lives.
struct CatalogLocation {
    /// The catalog's database.
    database: String,
    options: PgConnectOptions,
    /// Another database of the same server, to create or drop the catalog's from.
    server: PgConnectOptions,
    /// Whether sextant creates (and may drop) the database, rather than the operator.
    created_by_sextant: bool,
}

impl CatalogLocation {
    async fn find(database_url: Option<&str>, data_dir: &std::path::Path, catalog: Catalog) -> Result<CatalogLocation, StoreError> {
        let Some(url) = database_url else {
            let cluster = start_embedded(data_dir).await?;
            let database = catalog.embedded_database().to_owned();
            return Ok(CatalogLocation {
                options: cluster.url(&database).parse()?,
                server: cluster.url("postgres").parse()?,
                database,
                created_by_sextant: true,
            });
        };
        let server: PgConnectOptions = url.parse()?;
        let configured = server
            .get_database()
            .map_or_else(|| server.get_username().to_owned(), str::to_owned);
        Ok(match catalog {
            Catalog::Main => CatalogLocation {
                options: server.clone(),
                server,
                database: configured,
                created_by_sextant: false,
            },
            Catalog::Demo => {
                let database = format!("{configured}_demo");
                CatalogLocation {
                    options: server.clone().database(&database),
                    server,
                    database,
                    created_by_sextant: true,
                }
            }
        })
    }
}

/// Starts (or reuses) the private cluster of the data folder `data_dir`.
pub async fn start_embedded(data_dir: &std::path::Path) -> Result<Cluster, StoreError> {
    let cluster_dir = crate::pg::cluster_dir(data_dir);
    tokio::task::spawn_blocking(move || Cluster::start_or_reuse(&cluster_dir))
        .await
        .map_err(|error| StoreError::Cluster(PgError::Io(std::io::Error::other(error.to_string()))))?
        .map_err(StoreError::Cluster)
}

/// Deletes `catalog`'s database, with everything in it, ending the sessions still open on it.
/// Returns whether it existed. The operator's own database (`Main` with a configured URL) is
/// never dropped.
pub async fn drop_catalog(database_url: Option<&str>, data_dir: &std::path::Path, catalog: Catalog) -> Result<bool, StoreError> {
    let location = CatalogLocation::find(database_url, data_dir, catalog).await?;
    if !location.created_by_sextant {
        return Err(StoreError::Database(sqlx::Error::Configuration(
            "sextant does not delete the database given by DATABASE_URL".into(),
        )));
    }
    let mut connection = location.server.disable_statement_logging().connect().await?;
    let result = async {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&location.database)
            .fetch_one(&mut connection)
            .await?;
        if exists {
            sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_identifier(&location.database)
            ))
            .execute(&mut connection)
            .await?;
        }
        Ok(exists)
    }
    .await;
    let _ = sqlx::Connection::close(connection).await;
    result
}

/// The databases of the private cluster other than `postgres` and the templates, with their
/// sizes in bytes, by name.
pub async fn cluster_databases(cluster: &Cluster) -> Result<Vec<(String, i64)>, StoreError> {
    let options: PgConnectOptions = cluster.url("postgres").parse()?;
    let mut connection = options.disable_statement_logging().connect().await?;
    let databases = sqlx::query_as(
        "SELECT datname, pg_database_size(datname) FROM pg_database
         WHERE NOT datistemplate AND datname <> 'postgres' ORDER BY datname",
    )
    .fetch_all(&mut connection)
    .await;
    let _ = sqlx::Connection::close(connection).await;
    Ok(databases?)
}

/// Creates `database` in the cluster unless it exists.
pub async fn create_database_if_missing(cluster: &Cluster, database: &str) -> Result<(), StoreError> {
    create_database_at(&cluster.url("postgres").parse()?, database).await
}

/// Creates `database` on the server of `server` unless it exists. Two processes may race to
/// create it; the loser finds it made.
async fn create_database_at(server: &PgConnectOptions, database: &str) -> Result<(), StoreError> {
    let mut connection = server.clone().disable_statement_logging().connect().await?;
    let result = async {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut connection)
            .await?;
        if !exists {
            let created = sqlx::query(&format!("CREATE DATABASE {}", quote_identifier(database)))
                .execute(&mut connection)
                .await;
            match created {
                // 42P04: duplicate_database; 23505: the catalog's unique index, hit by a concurrent CREATE.
                Err(sqlx::Error::Database(error)) if matches!(error.code().as_deref(), Some("42P04" | "23505")) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }
    .await;
    let _ = sqlx::Connection::close(connection).await;
    result
}

/// `name` as a quoted SQL identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod unreachable_tests {
    use super::StoreError;

    #[test]
    fn connection_errors_are_unreachable_and_statement_errors_are_not() {
        let refused = StoreError::from(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        assert!(refused.is_unreachable());
        assert_eq!(refused.code(), "store-unreachable");
        assert!(refused.to_string().starts_with("database unreachable"), "{refused}");
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Tls("handshake failed".into()),
        ] {
            assert!(StoreError::from(error).is_unreachable());
        }
        // Built directly, as a caller may do, a connection error still counts.
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unreachable());
        let migration = StoreError::Migration(sqlx::migrate::MigrateError::Execute(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::UnexpectedEof,
        ))));
        assert!(migration.is_unreachable());
        assert_eq!(migration.code(), "store-unreachable");

        let refused_statement = StoreError::from(sqlx::Error::RowNotFound);
        assert!(!refused_statement.is_unreachable());
        assert_eq!(refused_statement.code(), "store-database");
        assert!(!StoreError::NotFound("`component:x`".to_owned()).is_unreachable());
        assert!(!StoreError::Migration(sqlx::migrate::MigrateError::VersionMissing(1)).is_unreachable());
    }
}
