//! `cargo bench --bench api -- --repos 10000 [--seconds 10] [--connections 16]`: the GraphQL
//! API under load, on the synthetic organisation of the crawl benchmark (benches/org), crawled
//! into a throwaway Postgres cluster and served by a real `sextant serve` process on loopback.
//! The load comes from `wrk` (Debian's package; both on this machine, so its CPU time is printed
//! too). Phases: the component page (entity + owner + direct relations + links, over many
//! components), `impact` of the busiest hub, and a hostile query that is refused (10,000
//! aliases). Then the server's peak RSS. The hub's impact is also measured with one client, for
//! its latency without queueing behind other requests.

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

const COMPONENT_PAGE: &str = "query ComponentPage($ref: String!) { entity(ref: $ref) { ref kind title description lifecycle tier tags owner { ref title } system { ref title } links { url title } relations { type targetRef target { ref kind title } } } }";
const IMPACT: &str =
    "query Impact($ref: String!) { impact(ref: $ref) { nodes { depth path entity { ref } } byOwner { ownerRef entities { ref } } } }";

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
    let (component_refs, hub) = runtime.block_on(async {
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
        let counts: (i64, i64) = sqlx::query_as("SELECT (SELECT count(*) FROM entities), (SELECT count(*) FROM relations)")
            .fetch_one(store.pool())
            .await
            .expect("counts");
        println!(
            "crawled in {:.1} s: {} entities, {} relations",
            started.elapsed().as_secs_f64(),
            counts.0,
            counts.1
        );
        // A fixed spread of components (the same ones every run).
        let refs: Vec<String> =
            sqlx::query_scalar("SELECT entity_ref FROM entities WHERE kind = 'component' ORDER BY md5(entity_ref) LIMIT 2000")
                .fetch_all(store.pool())
                .await
                .expect("components");
        let hub: String = sqlx::query_scalar(
            "SELECT e.entity_ref FROM relations r JOIN entities e ON e.id = r.target_id WHERE r.type = 'dependsOn'
             GROUP BY e.entity_ref ORDER BY count(*) DESC, e.entity_ref LIMIT 1",
        )
        .fetch_one(store.pool())
        .await
        .expect("hub");
        store.close().await;
        (refs, hub)
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
    let endpoint = loop {
        let line = lines.next().expect("a line with the URL").expect("read");
        if let Some(start) = line.find("http://") {
            break line[start..].trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let scripts = tempfile::tempdir().expect("scripts dir");
    println!(
        "server: {endpoint} (pid {}); wrk: 1 thread, {connections} connections, {seconds} s per phase",
        server.id()
    );

    // Each query is checked once for a clean answer before it is measured.
    check_answer(&endpoint, COMPONENT_PAGE, &component_refs[0]);
    check_answer(&endpoint, IMPACT, &hub);
    let hub_dependents = count_dependents(&endpoint, &hub);

    let page = script(scripts.path(), "page", COMPONENT_PAGE, &component_refs);
    report(
        "component page (entity, owner, system, links, direct relations)",
        &wrk::run(&endpoint, &page, connections, seconds),
    );
    let impact = script(scripts.path(), "impact", IMPACT, std::slice::from_ref(&hub));
    report(
        &format!("impact of the busiest hub {hub} ({hub_dependents} transitive dependents)"),
        &wrk::run(&endpoint, &impact, connections, seconds),
    );
    report(
        &format!("impact of {hub}, one client at a time (latency alone)"),
        &wrk::run(&endpoint, &impact, 1, seconds),
    );
    let aliases = (0..10_000)
        .map(|index| format!("a{index}: __typename"))
        .collect::<Vec<_>>()
        .join(" ");
    let hostile = script(scripts.path(), "hostile", &format!("{{ {aliases} }}"), &["-".to_owned()]);
    report(
        "hostile query refused (10,000 aliases, 128 KiB)",
        &wrk::run(&endpoint, &hostile, connections, seconds),
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

/// Posts one GraphQL request; the answer.
fn ask(endpoint: &str, query: &str, variable: &str) -> serde_json::Value {
    let body = serde_json::json!({ "query": query, "variables": { "ref": variable } }).to_string();
    let mut response = ureq::post(endpoint)
        .header("content-type", "application/json")
        .send(body.as_bytes())
        .expect("the server answers");
    serde_json::from_str(&response.body_mut().read_to_string().expect("a body")).expect("JSON")
}

/// Checks that a query answers with data and no errors.
fn check_answer(endpoint: &str, query: &str, variable: &str) {
    let answer = ask(endpoint, query, variable);
    assert!(
        answer.get("errors").is_none() && !answer["data"].is_null(),
        "{query} answered {answer}"
    );
}

fn count_dependents(endpoint: &str, hub: &str) -> usize {
    ask(endpoint, IMPACT, hub)["data"]["impact"]["nodes"].as_array().map_or(0, Vec::len)
}

/// A wrk script posting `query` with `$ref` cycling through `refs`, which prints its figures as
/// one JSON line when done.
fn script(folder: &Path, name: &str, query: &str, refs: &[String]) -> std::path::PathBuf {
    let bodies: Vec<String> = refs
        .iter()
        .map(|reference| {
            let body = serde_json::json!({ "query": query, "variables": { "ref": reference } }).to_string();
            format!("[[{body}]]")
        })
        .collect();
    let text = format!(
        "local bodies = {{ {} }}\nlocal index = 0\n\
         request = function()\n  index = index % #bodies + 1\n  return wrk.format(\"POST\", nil, {{[\"Content-Type\"] = \"application/json\"}}, bodies[index])\nend\n\
         done = function(summary, latency, requests)\n  io.write(string.format('{{\"requests\":%d,\"seconds\":%f,\"p50\":%d,\"p95\":%d,\"p99\":%d,\"max\":%d,\"non2xx\":%d,\"socket_errors\":%d}}\\n', \
         summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, \
         summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\nend\n",
        bodies.join(",\n")
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
