//! `cargo bench --bench pr_check -- [--repos 11000] [--runs 5]`: the pull-request check against
//! the synthetic organisation of the crawl benchmark (benches/org; 11,000 repositories make about
//! 30,900 entities). Fifty of the organisation's services (the most depended-on ones: the
//! generator's hubs have the lowest numbers) live in one monorepo instead of a repository each;
//! the catalog is crawled into a throwaway Postgres cluster and served by a real `sextant serve`.
//! A clone of the monorepo is then changed as a large pull request would: 40 files edited (a
//! lifecycle, an owner), 5 services renamed and 5 removed, all 50 files touched. The figures:
//! `sextant validate --catalog URL` end to end (process start to exit), the HTTP requests it
//! made (from the server's own counter), and the same check against a snapshot file.

#[path = "org/mod.rs"]
mod org;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use sextant::crawler::{Origin, ReadOptions, Source, commit_files, find_repositories};
use sextant::ingest::{CrawlOptions, crawl};
use sextant::pg::Cluster;
use sextant::store::{Store, create_database_if_missing};

const FILES: usize = 50;

fn main() {
    let mut repos = 11_000;
    let mut runs = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .and_then(|text| text.parse::<usize>().ok())
                .unwrap_or_else(|| panic!("{arg} N"))
        };
        match arg.as_str() {
            "--repos" => repos = value(),
            "--runs" => runs = value(),
            _ => {}
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-crawl/repos-{repos}"));
    let (entities, edges) = org::generate(&root, repos);
    println!("organisation: {repos} repositories, {entities} entities, {edges} declared edges (as generated)");

    // The monorepo: the first 50 Backstage services (the hubs), each in a folder of its own.
    let moved: Vec<usize> = (1..repos).filter(|index| index % 7 != 3).take(FILES).collect();
    let scratch = tempfile::tempdir().expect("scratch dir");
    let monorepo = scratch.path().join("monorepo");
    let files: Vec<(String, String)> = moved
        .iter()
        .map(|&index| {
            let text = org::component_yaml(index, &format!("Service number {index}."), repos);
            (format!("services/service-{index}/catalog-info.yaml"), text)
        })
        .collect();
    let changes: Vec<(&str, Option<&[u8]>)> = files.iter().map(|(path, text)| (path.as_str(), Some(text.as_bytes()))).collect();
    commit_files(&monorepo, &changes, "the monorepo").expect("commit the monorepo");
    let moved_names: Vec<String> = moved.iter().map(|index| format!("repo-{index:05}.git")).collect();
    let mut sources: Vec<Source> = find_repositories(&root)
        .expect("list repositories")
        .iter()
        .filter(|path| {
            !path
                .file_name()
                .is_some_and(|name| moved_names.iter().any(|moved| name == moved.as_str()))
        })
        .map(|path| Source::parse(&path.to_string_lossy(), None, None, Origin::Operator).expect("local path"))
        .collect();
    sources.push(Source::parse(&monorepo.to_string_lossy(), None, None, Origin::Operator).expect("local path"));

    let cluster = Cluster::start_throwaway().expect("start a throwaway cluster");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let url = cluster.url("bench");
    let data = tempfile::tempdir().expect("data dir");
    runtime.block_on(async {
        create_database_if_missing(&cluster, "bench").await.expect("database");
        let store = Store::connect(&url).await.expect("connect");
        let started = Instant::now();
        crawl(
            &store,
            &sources,
            &CrawlOptions::new(ReadOptions::new(data.path().join("mirrors"))),
            |_, _| {},
        )
        .await
        .expect("crawl");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM entities")
            .fetch_one(store.pool())
            .await
            .expect("count");
        println!(
            "crawled {} sources in {:.1} s: {count} entities",
            sources.len(),
            started.elapsed().as_secs_f64()
        );
        store.close().await;
    });

    let mut server = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["serve", "--listen", "127.0.0.1:0", "--crawl-interval", "0"])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .env_remove("SEXTANT_TOKEN")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sextant serve");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let endpoint = loop {
        let line = lines.next().expect("a line with the URL").expect("read");
        if let Some(start) = line.find("http://") {
            break line[start..].trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let base = endpoint.trim_end_matches("/graphql").to_owned();
    println!("server: {base} (pid {})", server.id());

    // The pull request, in a clone whose origin is the crawled monorepo.
    let clone = scratch.path().join("clone");
    git2::Repository::clone(&monorepo.to_string_lossy(), &clone).expect("clone the monorepo");
    for (position, &index) in moved.iter().enumerate() {
        let file = clone.join(format!("services/service-{index}/catalog-info.yaml"));
        let text = std::fs::read_to_string(&file).expect("read");
        match position {
            0..5 => std::fs::write(
                &file,
                text.replacen(&format!("name: service-{index}\n"), &format!("name: service-{index}-v2\n"), 1),
            ),
            5..10 => std::fs::remove_file(&file),
            _ if position % 2 == 0 => std::fs::write(&file, text.replacen("lifecycle: production", "lifecycle: deprecated", 1)),
            _ => std::fs::write(&file, text.replacen("owner: team-", "owner: team-1", 1)),
        }
        .expect("edit");
    }
    println!("pull request: {FILES} files touched: 5 services renamed, 5 removed, 40 edited (lifecycle or owner)");

    let validate = |catalog: &str| {
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(["validate", "--catalog", catalog, "--format", "json"])
            .current_dir(&clone)
            .env_remove("SEXTANT_TOKEN")
            .env_remove("SEXTANT_CONFIG")
            .output()
            .expect("run validate");
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "validate failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        (elapsed, String::from_utf8_lossy(&output.stdout).into_owned())
    };

    let mut remote_ms = Vec::new();
    let mut requests = Vec::new();
    let mut findings = String::new();
    for _ in 0..runs {
        let before = graphql_requests(&base);
        let (elapsed, stdout) = validate(&base);
        // The metrics scrape itself is not a GraphQL request.
        requests.push(graphql_requests(&base) - before);
        remote_ms.push(elapsed);
        findings = stdout;
    }
    println!("findings: {}", summarize(&findings));
    println!("server time per run, by operation (from its request-duration histogram):");
    for (operation, seconds, count) in server_time_by_operation(&base) {
        println!(
            "  {operation}: {} requests, {:.0} ms per run",
            count / runs as u64,
            seconds * 1000.0 / runs as f64
        );
    }

    let snapshot = scratch.path().join("catalog.json");
    let started = Instant::now();
    let export = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["export", "--format", "json", "--output", &snapshot.to_string_lossy()])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .env_remove("SEXTANT_CONFIG")
        .output()
        .expect("run export");
    assert!(
        export.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&export.stderr)
    );
    let export_ms = started.elapsed().as_secs_f64() * 1000.0;
    let snapshot_bytes = std::fs::metadata(&snapshot).map(|metadata| metadata.len()).unwrap_or(0);
    let mut snapshot_ms = Vec::new();
    let mut snapshot_findings = String::new();
    for _ in 0..runs {
        let (elapsed, stdout) = validate(&snapshot.to_string_lossy());
        snapshot_ms.push(elapsed);
        snapshot_findings = stdout;
    }
    assert_eq!(
        summarize(&findings),
        summarize(&snapshot_findings),
        "the snapshot gives the server's findings"
    );

    let _ = server.kill();
    let _ = server.wait();

    println!("\nsummary ({runs} runs each)");
    println!(
        "  validate --catalog URL, 50 files, end to end: best {:.0} ms, median {:.0} ms (target ≤ 1,000 ms); GraphQL requests per run: {:?} (target ≤ 5)",
        best(&remote_ms),
        median(&remote_ms),
        requests
    );
    println!(
        "  export: {:.0} ms, {:.1} MiB; validate --catalog FILE: best {:.0} ms, median {:.0} ms",
        export_ms,
        snapshot_bytes as f64 / 1_048_576.0,
        best(&snapshot_ms),
        median(&snapshot_ms)
    );
}

/// The server's /metrics text.
fn metrics(base: &str) -> String {
    ureq::get(&format!("{base}/metrics"))
        .call()
        .expect("metrics")
        .body_mut()
        .read_to_string()
        .expect("metrics text")
}

/// The server's count of answered GraphQL requests (POST /graphql), from /metrics.
fn graphql_requests(base: &str) -> u64 {
    let text = metrics(base);
    text.lines()
        .filter(|line| line.starts_with("sextant_http_requests_total") && line.contains("/graphql") && line.contains("POST"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The server's total time and count of the pull-request check's GraphQL operations, from the
/// `sextant_http_request_duration_seconds` histogram's sums and counts.
fn server_time_by_operation(base: &str) -> Vec<(String, f64, u64)> {
    let text = metrics(base);
    let mut totals = std::collections::BTreeMap::<String, (f64, u64)>::new();
    for line in text
        .lines()
        .filter(|line| line.starts_with("sextant_http_request_duration_seconds_"))
    {
        let Some(operation) = line.split("operation=\"").nth(1).and_then(|rest| rest.split('"').next()) else {
            continue;
        };
        if !operation.starts_with("SextantCheck") {
            continue;
        }
        let value = line.rsplit(' ').next().and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
        let entry = totals.entry(operation.to_owned()).or_default();
        if line.starts_with("sextant_http_request_duration_seconds_sum") {
            entry.0 += value;
        } else if line.starts_with("sextant_http_request_duration_seconds_count") {
            entry.1 += value as u64;
        }
    }
    totals
        .into_iter()
        .map(|(operation, (seconds, count))| (operation, seconds, count))
        .collect()
}

/// Counts of diagnostics by code, e.g. `S0501×10 S0502×5`.
fn summarize(json_lines: &str) -> String {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for line in json_lines.lines().filter(|line| !line.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON diagnostic");
        *counts.entry(value["code"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(code, count)| format!("{code}×{count}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn best(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}
