//! `cargo bench --bench crawl -- --repos 10000`: crawl figures for a synthetic organisation of
//! local bare repositories (about 3 entities and 12 declared edges each, both formats, power-law
//! dependencies towards a few hubs), against a throwaway Postgres cluster:
//! first full crawl (as a separate `sextant crawl` process, for its time and peak memory),
//! no-change recrawl (and the rows it wrote), one changed repository applied and visible, and
//! the transitive dependents of the busiest hub.
//!
//! The generated repositories are kept under `target/bench-crawl/` and reused by later runs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "org/mod.rs"]
mod org;

use org::{commit_to_bare, component_yaml, generate};
use sextant::crawler::{Origin, ReadOptions, Source, find_repositories};
use sextant::ingest::{CrawlOptions, RepoOutcome, crawl};
use sextant::pg::Cluster;
use sextant::store::{Direction, Store, create_database_if_missing};

fn main() {
    let mut repos = 10_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--repos" {
            repos = args.next().and_then(|value| value.parse().ok()).expect("--repos N");
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-crawl/repos-{repos}"));
    let started = Instant::now();
    let (entities, edges) = generate(&root, repos);
    println!(
        "organisation: {repos} bare repositories, {entities} entities, {edges} declared edges (generated or reused in {:.1} s) under {}",
        started.elapsed().as_secs_f64(),
        root.display()
    );

    let cluster = Cluster::start_throwaway().expect("start a throwaway cluster");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        create_database_if_missing(&cluster, "bench").await.expect("database");
        let url = cluster.url("bench");
        let store = Store::connect(&url).await.expect("connect");

        // First crawl, as users run it: a separate process, timed, with its peak memory.
        let data = tempfile::tempdir().expect("data dir");
        let output = Command::new("/usr/bin/time")
            .args(["-f", "%e s elapsed, %M KiB peak RSS, %U s user, %S s system"])
            .arg(env!("CARGO_BIN_EXE_sextant"))
            .args(["crawl", "--format", "json", "--dir"])
            .arg(&root)
            .env("DATABASE_URL", &url)
            .env("SEXTANT_DATA_DIR", data.path())
            .output()
            .expect("run sextant crawl");
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("crawl output: {}", String::from_utf8_lossy(&output.stderr)));
        let time_line = String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default().to_owned();
        println!(
            "first crawl (sextant crawl --dir, 2 cores): {time_line}; {} entities added, {} new conflicts, {} new diagnostics",
            summary["added"],
            summary["newConflicts"].as_array().map_or(0, Vec::len),
            summary["newDiagnostics"].as_array().map_or(0, Vec::len)
        );
        let counts: (i64, i64, i64) = sqlx::query_as("SELECT (SELECT count(*) FROM entities), (SELECT count(*) FROM relations), (SELECT count(*) FROM relations WHERE target_id IS NULL)")
            .fetch_one(store.pool())
            .await
            .expect("counts");
        println!("catalog: {} entities, {} relations ({} dangling)", counts.0, counts.1, counts.2);

        let sources: Vec<Source> = find_repositories(&root)
            .expect("list repositories")
            .iter()
            .map(|path| Source::parse(&path.to_string_lossy(), None, None, Origin::Operator).expect("local path"))
            .collect();
        let options = CrawlOptions::new(ReadOptions::new(data.path().join("mirrors")));

        // No-change recrawl, in process; rows written are read from Postgres's own counters.
        let rows_before = rows_written(&store).await;
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let summary = crawl(&store, &sources, &options, |_, _| {}).await.expect("recrawl");
            best = best.min(started.elapsed());
            assert_eq!(summary.count(|outcome| matches!(outcome, RepoOutcome::Unchanged)), sources.len());
        }
        let rows_after = rows_written(&store).await;
        println!(
            "no-change recrawl of {} repositories: best of 3 {:.0} ms; catalog rows written: {} (crawl_runs rows: 3)",
            sources.len(),
            best.as_secs_f64() * 1000.0,
            rows_after - rows_before
        );

        // One repository changes: crawl just it, until its change is visible to a reader.
        // A Backstage repository near the middle (`repo-NNNNN.git`; every seventh is Compass).
        let changed_index = (sources.len() / 2..sources.len()).find(|index| index % 7 != 3).expect("a Backstage repository");
        let changed = sources.iter().find(|source| source.url.ends_with(&format!("repo-{changed_index:05}.git"))).expect("the repository exists");
        let Source { location: sextant::crawler::Location::Local(path), .. } = changed else { unreachable!("local sources") };
        let mut times = Vec::new();
        for round in 0..5 {
            let description = format!("changed in round {round}");
            commit_to_bare(path, "catalog-info.yaml", &component_yaml(changed_index, &description, sources.len()));
            let started = Instant::now();
            crawl(&store, std::slice::from_ref(changed), &options, |_, _| {}).await.expect("crawl one");
            let visible: Option<String> = sqlx::query_scalar("SELECT description FROM entities WHERE description = $1").bind(&description).fetch_optional(store.pool()).await.expect("read back");
            times.push(started.elapsed());
            assert!(visible.is_some(), "the change is visible");
        }
        times.sort();
        println!("one changed repository, crawled and visible: median {:.1} ms, best {:.1} ms (of 5)", times[2].as_secs_f64() * 1000.0, times[0].as_secs_f64() * 1000.0);
        let started = Instant::now();
        crawl(&store, &sources, &options, |_, _| {}).await.expect("full recrawl");
        println!("full recrawl after that change (all {} tips checked): {:.0} ms", sources.len(), started.elapsed().as_secs_f64() * 1000.0);

        // The busiest hub's transitive dependents.
        let hub: (i64, String) = sqlx::query_as(
            "SELECT e.id, e.entity_ref FROM relations r JOIN entities e ON e.id = r.target_id WHERE r.type = 'dependsOn' GROUP BY e.id, e.entity_ref ORDER BY count(*) DESC LIMIT 1",
        )
        .fetch_one(store.pool())
        .await
        .expect("hub");
        let mut times = Vec::new();
        let mut reached = 0;
        for _ in 0..7 {
            let started = Instant::now();
            reached = store.walk_dependencies(hub.0, Direction::Dependents, 10, 100_000).await.expect("walk").len();
            times.push(started.elapsed());
        }
        let cold = times[0];
        times.sort();
        println!(
            "transitive dependents of the hub {} (depth 10): {reached} entities; first walk after the crawl (loads the graph) {:.1} ms; then median {:.1} ms, best {:.1} ms (of 7)",
            hub.1,
            cold.as_secs_f64() * 1000.0,
            times[3].as_secs_f64() * 1000.0,
            times[0].as_secs_f64() * 1000.0
        );
        // A fresh process (as `sextant show` is) starts without the kept graph.
        let fresh = Store::connect(&url).await.expect("connect");
        let started = Instant::now();
        fresh.walk_dependencies(hub.0, Direction::Dependents, 10, 100_000).await.expect("walk");
        println!("the same walk from a new store (nothing kept): {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    });
}

/// Inserted, updated and deleted rows of the catalog tables (not crawl_runs), from Postgres's
/// statistics after they are flushed.
async fn rows_written(store: &Store) -> i64 {
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    sqlx::query_scalar(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables WHERE relname <> 'crawl_runs' AND relname <> '_sqlx_migrations'",
    )
    .fetch_one(store.pool())
    .await
    .expect("statistics")
}
