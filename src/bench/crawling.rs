//! The crawl phase: the first crawl as users run it (a separate `sextant crawl --dir` process,
//! the repositories in the page cache: time until queryable, its CPU and Postgres's, its peak
//! memory), the catalog it made and the database size per entity, then the no-change recrawl and
//! the rows it wrote (Postgres's own counters). Also where Backstage's catalog figures join ours.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::Scale;
use super::backstage::CatalogRun;
use super::org::OrgSize;
use super::process::{postmaster_pid, run_measured, tree_cpu_seconds};
use super::report::{Figure, Report, Target, Unit};
use crate::pg::Cluster;

pub const FIRST_CRAWL: &str = "first crawl of every repository, until queryable";
pub const FIRST_CRAWL_CPU: &str = "first crawl: CPU of the crawler and Postgres";
pub const FIRST_CRAWL_MEMORY: &str = "first crawl: crawler's peak memory";
pub const CHANGE_VISIBLE: &str = "one repository's change visible (crawlRepo to GraphQL)";

/// What every phase after the organisation shares.
pub struct Context<'a> {
    pub runtime: &'a tokio::runtime::Runtime,
    pub cluster: &'a Cluster,
    pub database_url: &'a str,
    /// The organisation's bare repositories.
    pub root: &'a Path,
    /// Scratch space of this run (data folders, scripts, clones).
    pub scratch: &'a Path,
    pub scale: Scale,
    pub size: OrgSize,
}

impl Context<'_> {
    /// CPU seconds the Postgres cluster has used so far.
    pub fn postgres_cpu_seconds(&self) -> f64 {
        self.cluster
            .socket_dir()
            .parent()
            .and_then(postmaster_pid)
            .map_or(0.0, tree_cpu_seconds)
    }

    /// A short-lived connection pool to the benchmark's database.
    pub fn pool(&self) -> Result<sqlx::PgPool, String> {
        self.runtime
            .block_on(sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(self.database_url))
            .map_err(|error| format!("cannot connect to the benchmark's database: {error}"))
    }
}

/// Runs `sextant crawl --format json --dir <root>` as a separate process.
fn crawl_process(context: &Context<'_>) -> Result<super::process::Finished, String> {
    let executable = std::env::current_exe().map_err(|error| format!("cannot find this program: {error}"))?;
    let finished = run_measured(
        Command::new(executable)
            .args(["crawl", "--format", "json", "--dir"])
            .arg(context.root)
            .env("DATABASE_URL", context.database_url)
            .env("SEXTANT_DATA_DIR", context.scratch.join("crawler-data"))
            .env("RUST_LOG", "warn")
            .env_remove("SEXTANT_CONFIG")
            .env_remove("MEILI_URL"),
    )?;
    if !finished.success {
        return Err(format!("sextant crawl failed: {}", finished.stderr.trim()));
    }
    Ok(finished)
}

/// Reads every file of the repositories once (their hook samples excepted), so the first crawl
/// is measured with them in the page cache, as after a fetch and like Backstage's files, which
/// the validate phase has just read: a cold-cache crawl measures the disk (at medium on this
/// machine's virtual disk, 54 s instead of 11). Returns the files, bytes and seconds it took.
fn warm_page_cache(root: &Path) -> (u64, u64, f64) {
    let started = std::time::Instant::now();
    let (mut files, mut bytes) = (0_u64, 0_u64);
    let mut folders = vec![root.to_path_buf()];
    let mut buffer = vec![0_u8; 1 << 16];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if entry.file_name() != "hooks" {
                    folders.push(entry.path());
                }
            } else if kind.is_file()
                && let Ok(mut file) = std::fs::File::open(entry.path())
            {
                files += 1;
                while let Ok(read) = std::io::Read::read(&mut file, &mut buffer) {
                    if read == 0 {
                        break;
                    }
                    bytes += read as u64;
                }
            }
        }
    }
    (files, bytes, started.elapsed().as_secs_f64())
}

/// Inserted, updated and deleted rows of the catalog's tables (not the crawl log), once
/// Postgres has flushed its counters.
fn rows_written(context: &Context<'_>, pool: &sqlx::PgPool) -> Result<i64, String> {
    std::thread::sleep(Duration::from_millis(1_500));
    context
        .runtime
        .block_on(
            sqlx::query_scalar::<_, i64>(
                "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables
                 WHERE relname NOT IN ('crawl_runs', '_sqlx_migrations', 'jobs')",
            )
            .fetch_one(pool),
        )
        .map_err(|error| format!("cannot read Postgres's counters: {error}"))
}

pub fn measure(report: &mut Report, context: &Context<'_>) -> Result<(), String> {
    let (time_target, memory_target) = match context.scale {
        Scale::Medium => (Some(10.0), None),
        Scale::Xl => (Some(100.0), Some(512.0)),
        _ => (None, None),
    };
    let (files, bytes, seconds) = warm_page_cache(context.root);
    println!(
        "crawl: page cache warmed: {files} files, {:.0} MiB of the repositories read in {seconds:.1} s",
        bytes as f64 / 1_048_576.0
    );
    let postgres_before = context.postgres_cpu_seconds();
    let first = crawl_process(context)?;
    let postgres_cpu = context.postgres_cpu_seconds() - postgres_before;
    let pool = context.pool()?;
    let (entities, relations, database_bytes): (i64, i64, i64) = context
        .runtime
        .block_on(
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM entities), (SELECT count(*) FROM relations), pg_database_size(current_database())",
            )
            .fetch_one(&pool),
        )
        .map_err(|error| format!("cannot count the catalog: {error}"))?;
    println!(
        "crawl: first crawl {:.1} s ({:.1} s CPU, Postgres {postgres_cpu:.1} s), peak {:.0} MiB: {entities} entities, {relations} relations",
        first.wall.as_secs_f64(),
        first.cpu_seconds,
        first.peak_rss_kib as f64 / 1024.0
    );
    let repos = context.size.repositories;
    let mut figure = Figure::new("crawl", FIRST_CRAWL, first.wall.as_secs_f64(), Unit::Seconds).note(format!(
        "{repos} repositories, {entities} entities, {relations} relations; `sextant crawl --dir`, a separate process"
    ));
    if let Some(seconds) = time_target {
        figure = figure.target(Target::AtMost(seconds)).target(Target::TimesBackstage(50.0));
    }
    report.add(figure);
    report.add(
        Figure::new("crawl", FIRST_CRAWL_CPU, first.cpu_seconds + postgres_cpu, Unit::Seconds)
            .note(format!("crawler {:.1} s, Postgres {postgres_cpu:.1} s", first.cpu_seconds)),
    );
    let mut memory = Figure::new("crawl", FIRST_CRAWL_MEMORY, first.peak_rss_kib as f64 / 1024.0, Unit::MiB);
    if let Some(mebibytes) = memory_target {
        memory = memory.target(Target::AtMost(mebibytes));
    }
    report.add(memory);
    report.add(
        Figure::new(
            "crawl",
            "database size per entity",
            database_bytes as f64 / 1024.0 / entities.max(1) as f64,
            Unit::KiB,
        )
        .note(format!(
            "{:.0} MiB in all (pg_database_size), indexes included",
            database_bytes as f64 / 1_048_576.0
        )),
    );

    let before = rows_written(context, &pool)?;
    let recrawl = crawl_process(context)?;
    let written = rows_written(context, &pool)? - before;
    println!(
        "crawl: no-change recrawl {:.2} s, {written} catalog rows written",
        recrawl.wall.as_secs_f64()
    );
    let mut figure = Figure::new(
        "crawl",
        "no-change recrawl of every repository",
        recrawl.wall.as_secs_f64(),
        Unit::Seconds,
    )
    .note("`sextant crawl --dir` again, every tip checked");
    if context.scale == Scale::Medium {
        figure = figure.target(Target::AtMost(1.0));
    }
    report.add(figure);
    report.add(
        Figure::new("crawl", "no-change recrawl: catalog rows written", written as f64, Unit::Count)
            .target(Target::AtMost(0.0))
            .note("inserted + updated + deleted, from pg_stat_user_tables (the crawl log and job queue excluded)"),
    );
    context.runtime.block_on(pool.close());
    Ok(())
}

/// Puts Backstage's catalog figures beside ours, and adds its edit-visibility figures.
pub fn add_backstage(report: &mut Report, run: &CatalogRun) {
    if !run.queryable_complete {
        report.add(
            Figure::new(
                "backstage",
                "Backstage: entities queryable when its time ran out",
                run.entities_queryable as f64,
                Unit::Count,
            )
            .note(format!(
                "of {} after {:.0} s; its edits were not tried",
                run.entities_expected, run.queryable_seconds
            )),
        );
        return;
    }
    for figure in &mut report.figures {
        match figure.measure.as_str() {
            FIRST_CRAWL => figure.backstage = Some(run.queryable_seconds),
            FIRST_CRAWL_CPU => figure.backstage = Some(run.node_cpu_seconds + run.postgres_cpu_seconds),
            FIRST_CRAWL_MEMORY => figure.backstage = Some(run.node_peak_rss_bytes as f64 / 1_048_576.0),
            _ => {}
        }
    }
    let waited = |seconds: Option<f64>, timeout: f64| match seconds {
        Some(seconds) => (seconds, String::new()),
        None => (timeout, format!("not shown within {timeout:.0} s: a lower bound")),
    };
    let (default_schedule, default_note) = waited(run.edit_default_seconds, run.edit_default_timeout_seconds);
    report.add(
        Figure::new(
            "backstage",
            "Backstage: one-line edit visible, default schedule",
            default_schedule,
            Unit::Seconds,
        )
        .note(format!("{default_note} {}", run.versions).trim().to_owned()),
    );
    let (refresh, refresh_note) = waited(run.edit_refresh_seconds, run.edit_refresh_timeout_seconds);
    report.add(
        Figure::new(
            "backstage",
            "Backstage: one-line edit visible after an explicit refresh",
            refresh,
            Unit::Seconds,
        )
        .note(refresh_note),
    );
    // Our change-visible figure gets Backstage's refresh beside it (both: one repository asked for).
    for figure in &mut report.figures {
        if figure.measure == CHANGE_VISIBLE {
            figure.backstage = run.edit_refresh_seconds.map(|seconds| seconds * 1000.0);
        }
    }
}
