//! `sextant bench`: one command that reproduces every performance figure on the user's machine.
//!
//! For each `--scale` it builds the same seeded synthetic organisation ([`org`]), then measures
//! phase by phase, printing a table and (with `--json FILE`) writing every figure:
//!
//! 1. **validate** ([`validation`]): files per second on one core and on all cores, for typical
//!    single-entity files and for the organisation's files, beside the file system's own cost
//!    (walk and read only) and Backstage's validator on the same files;
//! 2. **crawl** ([`crawling`]): the first crawl as a separate `sextant crawl` process (time until
//!    queryable, CPU of the crawler and of Postgres, peak memory), the no-change recrawl (rows
//!    written, read from Postgres's own counters), database size per entity;
//! 3. **serve** ([`serving`]): a real `sextant serve` on loopback: one repository's change visible
//!    through GraphQL after a `crawlRepo` mutation, open descriptors after a crawl of everything,
//!    the GraphQL component page and impact under `wrk` load, search latency and freshness per
//!    backend (Postgres, and Meilisearch when its binary is found) with reindex times, dashboard
//!    pages, the pull-request check, and the server's peak memory;
//! 4. **Backstage** ([`backstage`]): its catalog backend ingesting the same files into the same
//!    Postgres: time until every entity is queryable through its REST API, CPU, memory, and how
//!    long a one-line edit takes to show; its figures go beside ours as ratios.
//!
//! With two or more scales, a growth table shows how each figure grows with the organisation.
//! Everything is created under `--dir` (default `target/sextant-bench`) and the generated
//! repositories are reused by later runs.

pub mod backstage;
pub mod crawling;
pub mod load;
pub mod org;
pub mod process;
pub mod report;
pub mod server;
pub mod serving;
pub mod validation;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use report::{Report, growth_table};

/// How big an organisation to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Small,
    Medium,
    Large,
    Xl,
}

impl Scale {
    pub fn parse(text: &str) -> Result<Scale, String> {
        match text {
            "small" => Ok(Scale::Small),
            "medium" => Ok(Scale::Medium),
            "large" => Ok(Scale::Large),
            "xl" => Ok(Scale::Xl),
            other => Err(format!("unknown scale `{other}`: small, medium, large or xl")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
            Scale::Xl => "xl",
        }
    }

    /// Repositories of the organisation: about 1k, 28k, 100k and 280k entities.
    pub fn repositories(self) -> usize {
        match self {
            Scale::Small => 360,
            Scale::Medium => 10_000,
            Scale::Large => 36_000,
            Scale::Xl => 100_000,
        }
    }

    /// What the machine needs for this scale: free disk (bare repositories of about 140 KiB each,
    /// the files, Postgres and Meilisearch) and available memory.
    fn needs(self) -> (u64, u64) {
        let repos = self.repositories() as u64;
        let disk = repos * 240 * 1024 + 512 * 1024 * 1024;
        let memory = 2 * 1024 * 1024 * 1024 + repos * 40 * 1024;
        (disk, memory)
    }
}

/// What `sextant bench` was asked to do.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub scales: Vec<Scale>,
    /// Write every figure as JSON here.
    pub json: Option<PathBuf>,
    /// Seconds of each load phase.
    pub seconds: u64,
    /// Concurrent connections of each load phase (one-client phases are measured too).
    pub connections: usize,
    /// Where the organisation, the databases and the scratch files go.
    pub work_dir: PathBuf,
    /// Measure Backstage when Node is available.
    pub backstage: bool,
    /// How long Backstage's catalog may take to make every entity queryable.
    pub backstage_timeout: Duration,
    /// How long to wait for a one-line edit to show in Backstage on its default schedule.
    pub backstage_edit_timeout: Duration,
    /// The Meilisearch binary (else found on PATH or beside the repository).
    pub meilisearch: Option<PathBuf>,
    /// Passes of each validate measure (the best is reported).
    pub repeat: usize,
}

/// Runs every scale in turn, prints each table and the growth table, writes the JSON.
pub fn run(options: &BenchOptions) -> Result<Vec<Report>, String> {
    if !load::wrk_available() {
        return Err("sextant bench needs `wrk` for its load phases (Debian: apt-get install wrk)".to_owned());
    }
    for scale in &options.scales {
        check_machine(*scale, &options.work_dir)?;
    }
    let mut reports = Vec::new();
    for scale in &options.scales {
        let report = run_scale(*scale, options)?;
        println!("{}", report.table());
        reports.push(report);
        if let Some(path) = &options.json {
            write_json(path, &reports)?;
        }
    }
    if reports.len() > 1 {
        println!("{}", growth_table(&reports));
    }
    if let Some(path) = &options.json {
        println!("figures written to {}", path.display());
    }
    Ok(reports)
}

fn write_json(path: &Path, reports: &[Report]) -> Result<(), String> {
    let text = serde_json::to_string_pretty(&serde_json::json!({ "reports": reports })).map_err(|error| error.to_string())?;
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Refuses a scale the machine cannot hold, saying what it lacks.
fn check_machine(scale: Scale, work_dir: &Path) -> Result<(), String> {
    machine_verdict(scale, work_dir, free_bytes(work_dir), available_memory_bytes())
}

fn machine_verdict(scale: Scale, work_dir: &Path, free_disk: Option<u64>, available_memory: Option<u64>) -> Result<(), String> {
    let (disk, memory) = scale.needs();
    let gib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0 * 1024.0);
    if let Some(free) = free_disk
        && free < disk
    {
        return Err(format!(
            "--scale {} needs about {:.1} GiB of free disk under {} ({} repositories and their databases); {:.1} GiB are free",
            scale.name(),
            gib(disk),
            work_dir.display(),
            scale.repositories(),
            gib(free)
        ));
    }
    if let Some(available) = available_memory
        && available < memory
    {
        return Err(format!(
            "--scale {} needs about {:.1} GiB of available memory; {:.1} GiB are available",
            scale.name(),
            gib(memory),
            gib(available)
        ));
    }
    Ok(())
}

/// Free bytes of the file system holding `path` (or its nearest existing parent).
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let existing = path.ancestors().find(|ancestor| ancestor.exists())?;
    let name = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data the call fills; the name is a valid C string.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to live locals.
    if unsafe { libc::statvfs(name.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

fn available_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One scale, every phase.
fn run_scale(scale: Scale, options: &BenchOptions) -> Result<Report, String> {
    let started = Instant::now();
    let repos = scale.repositories();
    let root = options.work_dir.join(format!("repos-{repos}"));
    let files = options.work_dir.join(format!("files-{repos}"));
    let single = options.work_dir.join(format!("single-{repos}"));
    println!("\n# scale {}: {repos} repositories", scale.name());
    let size = org::generate(&root, repos)?;
    org::write_files(&files, repos, Some(&single))?;
    println!(
        "organisation: {} entities ({} in Backstage files), {} declared edges; ready in {:.1} s under {}",
        size.entities,
        size.backstage_entities,
        size.declared_edges,
        started.elapsed().as_secs_f64(),
        options.work_dir.display()
    );
    let mut report = Report {
        scale: scale.name().to_owned(),
        repositories: repos,
        entities: size.entities,
        commit: commit(),
        started_at: now_utc(),
        machine: machine(),
        seconds: 0.0,
        figures: Vec::new(),
    };
    let node = options.backstage && backstage::node_available();
    if options.backstage && !node {
        println!("Backstage: skipped (no `node` on PATH; install Node 20 or later to compare)");
    }
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");

    validation::measure(
        &mut report,
        &validation::Sets {
            single: &single,
            organisation: &files,
        },
        options.repeat,
        node.then(|| harness.join("backstage-validator")).as_deref(),
    );

    let scratch = options.work_dir.join(format!("run-{}", scale.name()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|error| format!("cannot create {}: {error}", scratch.display()))?;
    let cluster = crate::pg::Cluster::start_throwaway().map_err(|error| format!("cannot start a Postgres cluster: {error}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    let database_url = cluster.url("sextant_bench");
    runtime
        .block_on(crate::store::create_database_if_missing(&cluster, "sextant_bench"))
        .map_err(|error| format!("cannot create the database: {error}"))?;
    // Migrated before the crawler (which requires a current schema) runs.
    runtime
        .block_on(async {
            let store = crate::store::Store::connect(&database_url).await?;
            store.close().await;
            Ok::<_, crate::store::StoreError>(())
        })
        .map_err(|error| format!("cannot migrate the database: {error}"))?;
    let context = crawling::Context {
        runtime: &runtime,
        cluster: &cluster,
        database_url: &database_url,
        root: &root,
        scratch: &scratch,
        scale,
        size,
    };
    crawling::measure(&mut report, &context)?;
    serving::measure(
        &mut report,
        &context,
        &serving::LoadSettings {
            seconds: options.seconds,
            connections: options.connections,
            meilisearch: server::Meili::find_binary(options.meilisearch.as_deref()),
        },
    )?;
    if node {
        let edit_index = serving::changed_repository(repos);
        let plan = backstage::CatalogPlan {
            harness: &harness.join("backstage-catalog"),
            files: &files,
            socket_dir: &cluster.socket_dir(),
            port: cluster.port,
            database: "backstage_bench",
            expected_entities: size.backstage_entities,
            edit_file: &files.join(org::repo_name(edit_index)).join("catalog-info.yaml"),
            edit_entity: ("component".to_owned(), "default".to_owned(), format!("service-{edit_index}")),
            queryable_timeout: options.backstage_timeout,
            edit_timeout: options.backstage_edit_timeout,
        };
        println!(
            "Backstage's catalog: ingesting {} entities from {} (this takes minutes)",
            size.backstage_entities,
            files.display()
        );
        match backstage::run_catalog(&plan) {
            Ok(run) => crawling::add_backstage(&mut report, &run),
            Err(error) => println!("Backstage's catalog could not be measured: {error}"),
        }
        // The edited file is written back, so the next run starts from the same files.
        let (_, original) = org::descriptor(edit_index, repos);
        std::fs::write(plan.edit_file, original).map_err(|error| format!("cannot restore {}: {error}", plan.edit_file.display()))?;
    }
    let _ = cluster.stop();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The checked-out commit, when run from a git clone of sextant.
fn commit() -> String {
    std::process::Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned())
}

fn now_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Cores, memory and CPU model.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(String::new(), |kib| format!(", {:.0} GiB", kib / 1024.0 / 1024.0));
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| format!(", {}", model.trim()))
        })
        .unwrap_or_default();
    format!("{cores} cores{memory}{model}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_parse_and_grow() {
        assert_eq!(Scale::parse("medium"), Ok(Scale::Medium));
        assert!(Scale::parse("huge").is_err());
        let sizes: Vec<usize> = [Scale::Small, Scale::Medium, Scale::Large, Scale::Xl]
            .iter()
            .map(|scale| org::OrgSize::of(scale.repositories()).entities)
            .collect();
        assert!(sizes.windows(2).all(|pair| pair[0] < pair[1]));
        assert!((900..1_200).contains(&sizes[0]), "small is about 1k entities: {}", sizes[0]);
        assert!((27_000..32_000).contains(&sizes[1]), "medium is about 30k: {}", sizes[1]);
        assert!((95_000..105_000).contains(&sizes[2]), "large is about 100k: {}", sizes[2]);
    }

    #[test]
    fn a_scale_too_big_for_the_machine_is_refused_with_the_reason() {
        let gib = 1024 * 1024 * 1024;
        let folder = Path::new("/data");
        assert!(machine_verdict(Scale::Xl, folder, Some(100 * gib), Some(20 * gib)).is_ok());
        let disk = machine_verdict(Scale::Xl, folder, Some(2 * gib), Some(20 * gib)).expect_err("too little disk");
        assert!(
            disk.contains("free disk under /data") && disk.contains("2.0 GiB are free"),
            "{disk}"
        );
        let memory = machine_verdict(Scale::Large, folder, Some(100 * gib), Some(gib)).expect_err("too little memory");
        assert!(memory.contains("available memory"), "{memory}");
        assert!(
            machine_verdict(Scale::Small, folder, None, None).is_ok(),
            "unknown figures refuse nothing"
        );
        assert!(
            free_bytes(Path::new("/no/such/folder")).is_some(),
            "the nearest existing parent is asked"
        );
    }
}
