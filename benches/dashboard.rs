//! `cargo bench --bench dashboard -- --repos 10000 [--seconds 10] [--connections 16]`: the web
//! dashboard's pages under load, on the synthetic organisation of the crawl benchmark
//! (benches/org, about 30,000 entities at 10,000 repositories), crawled into a throwaway Postgres
//! cluster and served by a real `sextant serve` process on loopback. The load comes from `wrk`
//! (Debian's package; its CPU time is printed too). Phases: entity pages (over many components),
//! catalog pages (filters and sorts that change per request), team pages, and the graph SVG of
//! the busiest hub at depth 2, each under load and one client at a time (latency without
//! queueing). Then the transfer size of the entity page (the page alone; its stylesheet and
//! script are cached) and the server's peak RSS.

#[path = "org/mod.rs"]
mod org;
#[path = "wrk/mod.rs"]
mod wrk;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use sextant::crawler::{Origin, ReadOptions, Source, find_repositories};
use sextant::ingest::{CrawlOptions, crawl};
use sextant::pg::Cluster;
use sextant::store::{Store, create_database_if_missing};

fn main() {
    let mut repos = 10_000;
    let mut seconds = 10;
    let mut connections = 16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("{arg} N"))
        };
        match arg.as_str() {
            "--repos" => repos = value(),
            "--seconds" => seconds = value(),
            "--connections" => connections = value(),
            _ => {}
        }
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("this benchmark needs `wrk` (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-crawl/repos-{repos}"));
    let (entities, edges) = org::generate(&root, repos);
    println!("organisation: {repos} repositories, {entities} entities, {edges} declared edges");

    let cluster = Cluster::start_throwaway().expect("start a throwaway cluster");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let url = cluster.url("bench");
    let data = tempfile::tempdir().expect("data dir");
    let picked = runtime.block_on(async {
        create_database_if_missing(&cluster, "bench").await.expect("database");
        let store = Store::connect(&url).await.expect("connect");
        let sources: Vec<Source> = find_repositories(&root)
            .expect("list repositories")
            .iter()
            .map(|path| Source::parse(&path.to_string_lossy(), None, None, Origin::Operator).expect("local path"))
            .collect();
        let started = Instant::now();
        crawl(
            &store,
            &sources,
            &CrawlOptions::new(ReadOptions::new(data.path().join("mirrors"))),
            |_, _| {},
        )
        .await
        .expect("crawl");
        println!("crawled in {:.1} s", started.elapsed().as_secs_f64());
        let picked = Picked::read(&store).await;
        store.close().await;
        picked
    });

    let mut server = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["serve", "--listen", "127.0.0.1:0", "--crawl-interval", "0"])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sextant serve");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = lines.next().expect("a line with the URL").expect("read");
        if let Some(start) = line.find("http://") {
            break line[start..].trim().trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let scripts = tempfile::tempdir().expect("scripts dir");
    println!(
        "server: {base} (pid {}); wrk: 1 thread, {connections} connections, {seconds} s per phase",
        server.id()
    );

    let entity_pages: Vec<String> = picked.components.iter().map(|entity_ref| entity_path(entity_ref)).collect();
    let team_pages: Vec<String> = picked.teams.iter().map(|entity_ref| entity_path(entity_ref)).collect();
    let catalog_pages: Vec<String> = picked
        .teams
        .iter()
        .enumerate()
        .map(|(index, team)| match index % 4 {
            0 => "/catalog".to_owned(),
            1 => format!("/catalog?kind=component&owner={}", encode(team)),
            2 => "/catalog?kind=api&sort=name&order=desc".to_owned(),
            _ => format!("/catalog?owner={}&lifecycle=production&tag=java", encode(team)),
        })
        .collect();
    let hub_graph = format!("{}/graph.svg?direction=incoming&depth=2", entity_path(&picked.hub));

    // Each page is checked once for a clean answer before it is measured.
    for path in [&entity_pages[0], &team_pages[0], &catalog_pages[1], &hub_graph] {
        let (status, bytes) = fetch(&format!("{base}{path}"));
        assert_eq!(status, 200, "{path} answered {status}");
        assert!(bytes > 0, "{path} answered an empty body");
    }

    let phases: [(&str, &[String]); 3] = [
        ("entity page", &entity_pages),
        ("catalog page (filters and sorts vary)", &catalog_pages),
        ("team page", &team_pages),
    ];
    for (name, paths) in phases {
        let script = script(scripts.path(), &name.replace(' ', "-"), paths);
        report(
            &format!("{name}, {connections} connections"),
            &wrk::run(&format!("{base}/"), &script, connections, seconds),
        );
        report(
            &format!("{name}, one client at a time (latency alone)"),
            &wrk::run(&format!("{base}/"), &script, 1, seconds),
        );
    }
    let graph = script(scripts.path(), "graph", std::slice::from_ref(&hub_graph));
    report(
        &format!(
            "graph SVG of the busiest hub {} at depth 2, incoming, {connections} connections",
            picked.hub
        ),
        &wrk::run(&format!("{base}/"), &graph, connections, seconds),
    );
    report(
        "the same graph SVG, one client at a time (latency alone)",
        &wrk::run(&format!("{base}/"), &graph, 1, seconds),
    );

    let hub_page = entity_path(&picked.hub);
    let largest = entity_pages
        .iter()
        .take(200)
        .chain(std::iter::once(&hub_page))
        .map(|path| (fetch(&format!("{base}{path}")).1, path))
        .max()
        .expect("pages");
    println!(
        "entity page transfer: largest of 201 pages (the hub's included) {:.1} KB ({})",
        largest.0 as f64 / 1000.0,
        largest.1
    );

    let status = std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .map_or("?".to_owned(), |line| line[name.len()..].trim().to_owned())
    };
    println!("server memory: peak RSS {}, RSS now {}", field("VmHWM:"), field("VmRSS:"));
    let _ = server.kill();
    let _ = server.wait();
    drop(cluster);
}

/// The entities the phases visit (the same ones every run).
struct Picked {
    components: Vec<String>,
    teams: Vec<String>,
    hub: String,
}

impl Picked {
    async fn read(store: &Store) -> Picked {
        let components = sqlx::query_scalar("SELECT entity_ref FROM entities WHERE kind = 'component' ORDER BY md5(entity_ref) LIMIT 2000")
            .fetch_all(store.pool())
            .await
            .expect("components");
        let teams = sqlx::query_scalar("SELECT entity_ref FROM entities WHERE kind = 'group' ORDER BY md5(entity_ref) LIMIT 400")
            .fetch_all(store.pool())
            .await
            .expect("teams");
        let hub = sqlx::query_scalar(
            "SELECT e.entity_ref FROM relations r JOIN entities e ON e.id = r.target_id WHERE r.type = 'dependsOn'
             GROUP BY e.entity_ref ORDER BY count(*) DESC, e.entity_ref LIMIT 1",
        )
        .fetch_one(store.pool())
        .await
        .expect("hub");
        Picked { components, teams, hub }
    }
}

/// `/entity/{kind}/{namespace}/{name}` (the bench's names need no encoding).
fn entity_path(entity_ref: &str) -> String {
    let (kind, rest) = entity_ref.split_once(':').expect("a canonical ref");
    let (namespace, name) = rest.split_once('/').expect("a canonical ref");
    format!("/entity/{kind}/{namespace}/{name}")
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_') {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// GETs a page: its status and body length in bytes.
fn fetch(url: &str) -> (u16, usize) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut response = agent.get(url).call().expect("the server answers");
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("a body");
    (status, body.len())
}

/// A wrk script GETting `paths` in turn, which prints its figures as one JSON line when done.
fn script(folder: &Path, name: &str, paths: &[String]) -> std::path::PathBuf {
    let quoted: Vec<String> = paths.iter().map(|path| format!("[[{path}]]")).collect();
    let text = format!(
        "local paths = {{ {} }}\nlocal index = 0\n\
         request = function()\n  index = index % #paths + 1\n  return wrk.format(\"GET\", paths[index])\nend\n\
         done = function(summary, latency, requests)\n  io.write(string.format('{{\"requests\":%d,\"seconds\":%f,\"p50\":%d,\"p95\":%d,\"p99\":%d,\"max\":%d,\"non2xx\":%d,\"socket_errors\":%d}}\\n', \
         summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, \
         summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\nend\n",
        quoted.join(",\n")
    );
    let path = folder.join(format!("{name}.lua"));
    std::fs::write(&path, text).expect("write the script");
    path
}

fn report(phase: &str, (figures, cpu_seconds): &(serde_json::Value, f64)) {
    let number = |key: &str| figures[key].as_f64().unwrap_or(0.0);
    let rate = number("requests") / number("seconds").max(0.001);
    println!(
        "{phase}: {rate:.0} requests/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} non-2xx, {} socket errors; wrk used {:.1} s CPU ({:.0}% of one core)",
        number("p50") / 1000.0,
        number("p95") / 1000.0,
        number("p99") / 1000.0,
        number("max") / 1000.0,
        figures["non2xx"],
        figures["socket_errors"],
        cpu_seconds,
        cpu_seconds / number("seconds").max(0.001) * 100.0
    );
}
