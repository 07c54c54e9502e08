//! `cargo bench --bench search -- --repos 11000 [--seconds 10] [--connections 16]
//! [--backend postgres|meilisearch|both] [--memory-entities 250000] [--meili-indexing-memory 1GiB|default]`:
//! search on the synthetic
//! organisation of `sextant bench` (`sextant::bench::org`; 11,000 repositories make about 30,900
//! entities), crawled into a throwaway Postgres cluster, for each backend:
//!
//! 1. initial indexing: the crawl's triggers fill the outbox; the time the sync takes to drain it;
//! 2. a full reindex (`sextant::search::sync::reindex`);
//! 3. search latency under load: a real `sextant serve` on loopback (Meilisearch, when measured,
//!    a separate process on loopback too), `wrk` posting GraphQL searches drawn from a fixed list
//!    of a few hundred queries (prefixes, exact names, typos, several words, filtered facet
//!    browses), with 16 connections and with one;
//! 4. freshness: one repository changed and crawled by this process while the server's sync runs;
//!    the time from the crawl's commit until the GraphQL search finds the change;
//! 5. memory: a separate database of `--memory-entities` synthetic entities written by SQL, the
//!    outbox delivered by a `sextant serve` process of its own, whose resident memory is sampled.
//!
//! Then a table of every figure against its target. wrk and Meilisearch run on the same two cores
//! as the server and Postgres, so wrk's CPU time is printed beside each load phase.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sextant::bench::load::{self, Load, Requests};
use sextant::bench::org;
use sextant::bench::process::{postmaster_pid, status_kib, tree_cpu_seconds};
use sextant::bench::server::Meili;
use sextant::crawler::{Origin, ReadOptions, Source, find_repositories};
use sextant::ingest::{CrawlOptions, RepoOutcome, crawl};
use sextant::pg::Cluster;
use sextant::search::sync::{SyncSettings, reindex, sync_until_idle};
use sextant::search::{Search, SearchConfig};
use sextant::store::{Store, create_database_if_missing};

/// A text search, as a search box sends it.
const TEXT_SEARCH: &str = "query Search($q: String!) { search(query: $q, first: 20) { totalCount hits { score entity { ref title } highlights { field snippet ranges { start end } } } } }";
/// A filtered search or browse with the facet counts of every filter field.
const FACETED_SEARCH: &str = "query Faceted($q: String!, $filter: SearchFilter) { search(query: $q, filter: $filter, first: 20) { totalCount hits { score entity { ref title } highlights { field snippet ranges { start end } } } facets { field values { value count } } } }";

/// The repository changed by the freshness phase: a copy outside the cached organisation, so the
/// organisation under target/ stays as generated.
const FRESH_INDEX: usize = 5;
const FRESHNESS_ROUNDS: usize = 5;
/// Meilisearch's indexing memory. Its default (two thirds of the RAM, 16 GiB here) costs every
/// task about a second however few documents it holds (about 0.1 s with 1 GiB; measured with
/// Meilisearch 1.50 on this machine): `--meili-indexing-memory default` measures that.
const DEFAULT_MEILI_INDEXING_MEMORY: &str = "1GiB";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Postgres,
    Meilisearch,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Meilisearch => "meilisearch",
        }
    }
}

struct Arguments {
    repos: usize,
    seconds: usize,
    connections: usize,
    backends: Vec<Backend>,
    memory_entities: usize,
    /// Meilisearch's `--max-indexing-memory` (`None`: its default, two thirds of the RAM).
    meili_indexing_memory: Option<String>,
    /// Postgres logs statements slower than this during the load phases, and their totals are
    /// printed (`None`: not logged).
    slow_statements_ms: Option<usize>,
}

fn arguments() -> Arguments {
    let mut parsed = Arguments {
        repos: 11_000,
        seconds: 10,
        connections: 16,
        backends: vec![Backend::Postgres, Backend::Meilisearch],
        memory_entities: 250_000,
        meili_indexing_memory: Some(DEFAULT_MEILI_INDEXING_MEMORY.to_owned()),
        slow_statements_ms: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut text = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        let mut number = || text().parse::<usize>().unwrap_or_else(|_| panic!("{arg} N"));
        match arg.as_str() {
            "--repos" => parsed.repos = number(),
            "--seconds" => parsed.seconds = number(),
            "--connections" => parsed.connections = number(),
            "--memory-entities" => parsed.memory_entities = number(),
            "--slow-statements" => parsed.slow_statements_ms = Some(number()),
            "--meili-indexing-memory" => {
                parsed.meili_indexing_memory = Some(text()).filter(|value| value != "default");
            }
            "--backend" => {
                parsed.backends = match text().as_str() {
                    "postgres" => vec![Backend::Postgres],
                    "meilisearch" => vec![Backend::Meilisearch],
                    "both" => vec![Backend::Postgres, Backend::Meilisearch],
                    other => panic!("--backend postgres|meilisearch|both, not {other}"),
                }
            }
            // `cargo bench` passes `--bench`; anything else unknown is ignored the same way.
            _ => {}
        }
    }
    parsed
}

/// One line of the final table.
struct Figure {
    measure: String,
    target: String,
    figure: String,
    verdict: &'static str,
}

#[derive(Default)]
struct Summary {
    figures: Vec<Figure>,
}

impl Summary {
    /// Records a figure; `met` is `None` for figures without a target.
    fn add(&mut self, measure: impl Into<String>, target: &str, figure: impl Into<String>, met: Option<bool>) {
        self.figures.push(Figure {
            measure: measure.into(),
            target: target.to_owned(),
            figure: figure.into(),
            verdict: match met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            },
        });
    }

    fn print(&self) {
        println!("\nsummary");
        let width = |pick: fn(&Figure) -> &str| self.figures.iter().map(|figure| pick(figure).len()).max().unwrap_or(0);
        let (measure, target, figure) = (width(|f| &f.measure), width(|f| &f.target), width(|f| &f.figure));
        for row in &self.figures {
            println!(
                "  {:measure$}  {:target$}  {:figure$}  {}",
                row.measure, row.target, row.figure, row.verdict
            );
        }
    }
}

fn main() {
    let arguments = arguments();
    if !load::wrk_available() {
        eprintln!("this benchmark needs `wrk` (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    let meili_binary = Meili::find_binary(None).filter(|binary| binary.exists());
    if arguments.backends.contains(&Backend::Meilisearch) && meili_binary.is_none() {
        eprintln!("no Meilisearch binary (set MEILI_BIN, put `meilisearch` on PATH or in ../shared/bin, or run with --backend postgres)");
        std::process::exit(2);
    }
    if let Some(memory) = &arguments.meili_indexing_memory {
        // Meilisearch reads its options from the environment too (`--max-indexing-memory`);
        // every Meilisearch this benchmark starts inherits it.
        // SAFETY: no other thread runs yet (the runtime and the processes start later).
        unsafe { std::env::set_var("MEILI_MAX_INDEXING_MEMORY", memory) };
    }
    let repos = arguments.repos;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-crawl/repos-{repos}"));
    let size = org::generate(&root, repos).expect("generate the organisation");
    println!(
        "organisation: {repos} repositories, {} entities, {} declared edges (as generated)",
        size.entities, size.declared_edges
    );

    let scratch = tempfile::tempdir().expect("scratch dir");
    let original = format!("{}.git", org::repo_name(FRESH_INDEX));
    let fresh_repo = scratch.path().join(&original);
    org::commit_to_bare(&fresh_repo, "catalog-info.yaml", &fresh_yaml(repos, None)).expect("the changed repository");
    let fresh_source = Source::parse(&fresh_repo.to_string_lossy(), None, None, Origin::Operator).expect("local path");
    let sources: Vec<Source> = find_repositories(&root)
        .expect("list repositories")
        .iter()
        .map(|path| {
            if path.file_name().is_some_and(|name| name == original.as_str()) {
                fresh_source.clone()
            } else {
                Source::parse(&path.to_string_lossy(), None, None, Origin::Operator).expect("local path")
            }
        })
        .collect();

    let cluster = Cluster::start_throwaway().expect("start a throwaway cluster");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let url = cluster.url("bench");
    let crawl_options = CrawlOptions::new(ReadOptions::new(scratch.path().join("mirrors")));
    let mut summary = Summary::default();

    let store = runtime.block_on(async {
        create_database_if_missing(&cluster, "bench").await.expect("database");
        let store = Store::connect(&url).await.expect("connect");
        let started = Instant::now();
        crawl(&store, &sources, &crawl_options, |_, _| {}).await.expect("crawl");
        let elapsed = started.elapsed();
        let entities = count(&store, "SELECT count(*) FROM entities").await;
        let pending = count(&store, "SELECT count(*) FROM search_outbox").await;
        println!(
            "crawled in {:.1} s: {entities} entities; {pending} changes waiting in the search outbox",
            elapsed.as_secs_f64()
        );
        store
    });
    let entity_count = runtime.block_on(count(&store, "SELECT count(*) FROM entities"));
    summary.add("entities in the catalog", "about 30,000", thousands(entity_count as f64), None);
    let queries = queries(repos);
    println!(
        "queries: {} text searches, {} filtered searches and browses with facets",
        queries.iter().filter(|query| query.filter.is_none()).count(),
        queries.iter().filter(|query| query.filter.is_some()).count()
    );

    let mut meili: Option<Meili> = None;
    for (round, &backend) in arguments.backends.iter().enumerate() {
        println!("\n== backend: {} ==", backend.name());
        if backend == Backend::Meilisearch && meili.is_none() {
            meili = Some(start_meili(
                meili_binary.as_deref(),
                &scratch.path().join("meili-main"),
                arguments.meili_indexing_memory.as_deref(),
            ));
        }
        let config = search_config(backend, meili.as_ref());
        let search = Search::new(store.clone(), &config).expect("search service");
        runtime.block_on(async {
            search.prepare().await.expect("prepare the index");
            if round > 0 {
                // The first backend's sync drained the outbox: every entity is queued again, as
                // the migration does for a catalog that has entities.
                sqlx::query("INSERT INTO search_outbox (entity_ref) SELECT entity_ref FROM entities ON CONFLICT DO NOTHING")
                    .execute(store.pool())
                    .await
                    .expect("queue every entity");
            }
        });

        // 1. Initial indexing.
        let (delivered, elapsed) = runtime.block_on(drain(&search));
        let rate = delivered as f64 / elapsed.as_secs_f64().max(0.001);
        println!(
            "initial indexing: {delivered} changes delivered in {:.1} s ({rate:.0} entities/s)",
            elapsed.as_secs_f64()
        );
        summary.add(
            format!("[{}] initial indexing of the crawl's outbox", backend.name()),
            "",
            format!("{:.1} s ({rate:.0}/s)", elapsed.as_secs_f64()),
            None,
        );

        // 2. Full reindex.
        match runtime.block_on(reindex(&search)) {
            Ok(report) => {
                let seconds = report.elapsed.as_secs_f64();
                println!("full reindex: {} documents in {seconds:.1} s", report.documents);
                summary.add(
                    format!("[{}] full reindex ({} documents)", backend.name(), report.documents),
                    "≤ 30 s",
                    format!("{seconds:.1} s"),
                    Some(seconds <= 30.0),
                );
            }
            Err(error) => {
                println!("full reindex failed: {error}");
                summary.add(
                    format!("[{}] full reindex", backend.name()),
                    "≤ 30 s",
                    format!("failed: {error}"),
                    Some(false),
                );
            }
        }

        // 3. Latency under load, and 4. freshness, against a real server.
        let server = Server::start(&url, scratch.path(), meili.as_ref().filter(|_| backend == Backend::Meilisearch));
        runtime.block_on(wait_for_outbox_empty(&store, Duration::from_secs(120)));
        let mut empty = Vec::new();
        for query in &queries {
            let answer = ask(&server.endpoint, query);
            if let Some(errors) = answer.get("errors") {
                panic!("{} answered errors: {errors}", query.body());
            }
            if answer["data"]["search"]["totalCount"].as_u64() == Some(0) {
                empty.push(match &query.filter {
                    None => format!("`{}`", query.text),
                    Some(filter) => format!("`{}` {filter}", query.text),
                });
            }
        }
        println!(
            "server: {} (pid {}); every query answers without errors ({} of {} find nothing); wrk: 1 thread, {} s per phase",
            server.endpoint,
            server.pid(),
            empty.len(),
            queries.len(),
            arguments.seconds
        );
        if !empty.is_empty() {
            println!("  finding nothing: {}", empty.join(", "));
        }
        let mut watched = vec![("server", server.pid())];
        if let Some(pid) = cluster.socket_dir().parent().and_then(postmaster_pid) {
            watched.push(("postgres", pid));
        }
        if let Some(meili) = meili.as_ref().filter(|_| backend == Backend::Meilisearch) {
            watched.push(("meilisearch", meili.pid()));
        }
        if let Some(threshold) = arguments.slow_statements_ms {
            runtime.block_on(log_statements_over(&store, Some(threshold)));
        }
        let log_offset = std::fs::metadata(cluster.log_file()).map_or(0, |metadata| metadata.len());
        let mixed: Vec<String> = queries.iter().map(Query::body).collect();
        let mixed_name = format!("{}-mixed", backend.name());
        let under_load = |name: &str, bodies: &[String], connections: usize| {
            run_wrk(
                scratch.path(),
                name,
                &server.endpoint,
                bodies,
                connections,
                arguments.seconds,
                &watched,
            )
        };
        let loaded = under_load(&mixed_name, &mixed, arguments.connections);
        report(&format!("mixed searches, {} connections", arguments.connections), &loaded);
        summary.add(
            format!("[{}] search p99, {} connections", backend.name(), arguments.connections),
            "≤ 20 ms",
            format!(
                "{:.1} ms (p50 {:.1}, {:.0} req/s)",
                loaded.load.p99_ms,
                loaded.load.p50_ms,
                loaded.load.rate()
            ),
            Some(loaded.load.p99_ms <= 20.0 && loaded.load.errors == 0),
        );
        let alone = under_load(&mixed_name, &mixed, 1);
        report("mixed searches, one connection (latency alone)", &alone);
        summary.add(
            format!("[{}] search p99, 1 connection", backend.name()),
            "≤ 20 ms",
            format!(
                "{:.1} ms (p50 {:.1}, {:.0} req/s)",
                alone.load.p99_ms,
                alone.load.p50_ms,
                alone.load.rate()
            ),
            Some(alone.load.p99_ms <= 20.0 && alone.load.errors == 0),
        );
        let faceted: Vec<String> = queries.iter().filter(|query| query.filter.is_some()).map(Query::body).collect();
        let facet_load = under_load(&format!("{}-facets", backend.name()), &faceted, arguments.connections);
        report(
            &format!(
                "filtered searches and browses with facets only, {} connections",
                arguments.connections
            ),
            &facet_load,
        );
        summary.add(
            format!("[{}] faceted p99, {} connections", backend.name(), arguments.connections),
            "",
            format!("{:.1} ms ({:.0} req/s)", facet_load.load.p99_ms, facet_load.load.rate()),
            None,
        );

        if arguments.slow_statements_ms.is_some() {
            runtime.block_on(log_statements_over(&store, None));
            print_slow_statements(&cluster.log_file(), log_offset);
        }
        let delays = freshness(
            &runtime,
            &store,
            &fresh_repo,
            &fresh_source,
            &crawl_options,
            &server.endpoint,
            repos,
            backend,
        );
        let worst = delays
            .iter()
            .copied()
            .fold(None, |worst: Option<f64>, delay| Some(worst.map_or(delay, |w| w.max(delay))));
        let listed = delays
            .iter()
            .map(|delay| format!("{:.0}", delay * 1000.0))
            .collect::<Vec<_>>()
            .join(", ");
        match worst {
            Some(worst) if delays.len() == FRESHNESS_ROUNDS => {
                println!("freshness: crawl commit to searchable {listed} ms; max {:.0} ms", worst * 1000.0);
                summary.add(
                    format!(
                        "[{}] freshness, crawl commit to searchable (max of {FRESHNESS_ROUNDS})",
                        backend.name()
                    ),
                    "≤ 2 s",
                    format!("{:.0} ms ({listed})", worst * 1000.0),
                    Some(worst <= 2.0),
                );
            }
            _ => {
                println!("freshness: a change was not found within 30 s ({listed} ms before)");
                summary.add(
                    format!("[{}] freshness", backend.name()),
                    "≤ 2 s",
                    format!("not searchable within 30 s ({listed})"),
                    Some(false),
                );
            }
        }
        if let Some(meili) = meili.as_ref().filter(|_| backend == Backend::Meilisearch) {
            println!(
                "  meilisearch's last tasks (the freshness rounds'): {}",
                recent_tasks(meili, 2 * FRESHNESS_ROUNDS)
            );
            println!("  where meilisearch's last batch spent its time: {}", last_batch_trace(meili));
        }
        let (peak, now) = server.memory();
        println!("server memory: peak RSS {peak}, RSS now {now}");
        server.stop();
    }
    if let Some(meili) = meili.take() {
        println!("meilisearch (main phases) peak RSS {:.0} MiB", meili.peak_rss_mib());
        drop(meili);
    }
    runtime.block_on(store.close());

    // 5. Memory of the sync on a large catalog, in a process of its own.
    if arguments.memory_entities > 0 {
        let memory_url = cluster.url("memory");
        runtime.block_on(async {
            create_database_if_missing(&cluster, "memory").await.expect("database");
            let store = Store::connect(&memory_url).await.expect("connect");
            let started = Instant::now();
            fill_synthetic(&store, arguments.memory_entities).await;
            let pending = count(&store, "SELECT count(*) FROM search_outbox").await;
            println!(
                "\n== memory: {} synthetic entities written by SQL in {:.1} s; {pending} changes in the outbox ==",
                arguments.memory_entities,
                started.elapsed().as_secs_f64()
            );
            store.close().await;
        });
        for (round, &backend) in arguments.backends.iter().enumerate() {
            let meili = (backend == Backend::Meilisearch).then(|| {
                start_meili(
                    meili_binary.as_deref(),
                    &scratch.path().join("meili-memory"),
                    arguments.meili_indexing_memory.as_deref(),
                )
            });
            let outcome = runtime.block_on(memory_phase(
                &memory_url,
                scratch.path(),
                meili.as_ref(),
                round > 0,
                arguments.memory_entities,
            ));
            let label = format!(
                "[{}] sync of {} entities",
                backend.name(),
                thousands(arguments.memory_entities as f64)
            );
            match outcome {
                Ok(memory) => {
                    println!(
                        "{}: delivered in {:.1} s ({:.0} entities/s); server RSS before {:.0} MiB, peak {:.0} MiB, growth {:.0} MiB",
                        backend.name(),
                        memory.elapsed.as_secs_f64(),
                        memory.rate(arguments.memory_entities),
                        memory.baseline_mib,
                        memory.peak_mib,
                        memory.peak_mib - memory.baseline_mib
                    );
                    if memory.elapsed > Duration::from_secs(300) {
                        println!("  (over 5 minutes)");
                    }
                    summary.add(
                        format!("{label}: server RSS growth"),
                        "≤ 256 MiB",
                        format!("{:.0} MiB (peak {:.0} MiB)", memory.peak_mib - memory.baseline_mib, memory.peak_mib),
                        Some(memory.peak_mib - memory.baseline_mib <= 256.0),
                    );
                    summary.add(
                        format!("{label}: delivery"),
                        "≤ 5 min",
                        format!(
                            "{:.1} s ({:.0}/s)",
                            memory.elapsed.as_secs_f64(),
                            memory.rate(arguments.memory_entities)
                        ),
                        Some(memory.elapsed <= Duration::from_secs(300)),
                    );
                }
                Err(message) => {
                    println!("{}: {message}", backend.name());
                    summary.add(label, "≤ 256 MiB growth, ≤ 5 min", message, Some(false));
                }
            }
            if let Some(meili) = meili {
                println!("meilisearch (memory phase) peak RSS {:.0} MiB", meili.peak_rss_mib());
                drop(meili);
            }
        }
    }
    summary.print();
    drop(cluster);
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(store.pool()).await.expect(sql)
}

/// Delivers the outbox until nothing is due; the changes delivered and the time taken.
async fn drain(search: &Search) -> (usize, Duration) {
    let started = Instant::now();
    let report = sync_until_idle(search, &SyncSettings::default(), started + Duration::from_secs(30 * 60))
        .await
        .expect("sync");
    if report.rejected > 0 {
        println!("  the backend rejected {} documents", report.rejected);
    }
    let elapsed = started.elapsed();
    let left = count(search.store(), "SELECT count(*) FROM search_outbox").await;
    assert_eq!(left, 0, "changes left in the outbox after the sync went idle");
    (report.changes(), elapsed)
}

async fn wait_for_outbox_empty(store: &Store, limit: Duration) {
    let started = Instant::now();
    while count(store, "SELECT count(*) FROM search_outbox").await > 0 {
        assert!(started.elapsed() < limit, "the server's sync did not empty the outbox in {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn search_config(backend: Backend, meili: Option<&Meili>) -> SearchConfig {
    match backend {
        Backend::Postgres => SearchConfig::default(),
        Backend::Meilisearch => meili.expect("a Meilisearch process").config(),
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

/// One search of the fixed list: the query text and, for faceted ones, the filter.
#[derive(Debug, Clone)]
struct Query {
    text: String,
    filter: Option<serde_json::Value>,
}

impl Query {
    fn text(text: impl Into<String>) -> Query {
        Query {
            text: text.into(),
            filter: None,
        }
    }

    fn faceted(text: impl Into<String>, filter: serde_json::Value) -> Query {
        Query {
            text: text.into(),
            filter: Some(filter),
        }
    }

    /// The GraphQL request body.
    fn body(&self) -> String {
        match &self.filter {
            None => serde_json::json!({ "query": TEXT_SEARCH, "variables": { "q": self.text } }),
            Some(filter) => serde_json::json!({ "query": FACETED_SEARCH, "variables": { "q": self.text, "filter": filter } }),
        }
        .to_string()
    }
}

/// A fixed list of about 300 searches of the organisation (the same every run): what people
/// type into a search box while they look for a service, a team, an API or a database, with
/// typos, and a tenth of browses and filtered searches with facet counts.
fn queries(repos: usize) -> Vec<Query> {
    let teams = (repos / 20).max(2);
    let systems = (repos / 25).max(2);
    let mut random = 0x5eed_1234_abcd_u64;
    let mut pick = |bound: usize| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        (random % bound.max(1) as u64) as usize
    };
    // A Backstage repository's index (one that is not a Compass one).
    let backstage = |index: usize| if index % 7 == 3 { index + 1 } else { index.max(1) };
    let compass = |index: usize| index / 7 * 7 + 3;
    let prefixes = [
        "s", "se", "ser", "serv", "servi", "servic", "api", "db", "team", "tea", "syst", "comp", "compass",
    ];
    // One typo each (Damerau-Levenshtein), within the budget of words of 5 to 8 letters.
    let typos = [
        "servce", "sevrice", "serivce", "srevice", "servcie", "servic", "sevice", "sytsem", "systme", "sysem",
    ];
    let compass_typos = ["compas", "comapss", "cmopass", "compss"];
    let mut list: Vec<Query> = prefixes.iter().map(|prefix| Query::text(*prefix)).collect();
    for typo in typos.iter().chain(&compass_typos) {
        list.push(Query::text(*typo));
    }
    for slot in 0..280 {
        let query = match slot % 14 {
            0 => Query::text(format!("service-{}", backstage(1 + pick(repos - 1)))),
            1 => Query::text(format!("service-{}", 1 + pick(repos / 10))),
            2 => Query::text(format!("team-{}", pick(teams))),
            3 => Query::text(format!("api-{}", backstage(1 + pick(repos - 1)))),
            4 => Query::text(format!("db-{}", backstage(1 + pick(repos - 1)))),
            5 => Query::text(format!("system-{}", pick(systems))),
            6 => Query::text(format!("service number {}", backstage(1 + pick(repos - 1)))),
            7 => Query::text(format!("compass service {}", compass(pick(repos - 4)))),
            8 if slot % 28 == 8 => Query::text(format!("{} {}", typos[pick(typos.len())], backstage(1 + pick(repos - 1)))),
            8 => Query::text(format!("{} {}", compass_typos[pick(compass_typos.len())], compass(pick(repos - 4)))),
            9 => Query::text(format!("servce numbr {}", backstage(1 + pick(repos - 1)))),
            10 => Query::text(format!("java tier-{}", 1 + pick(4))),
            11 => Query::faceted("", serde_json::json!({ "owner": [format!("group:default/team-{}", pick(teams))] })),
            // Filters that people combine with what they type: the organisation's components carry
            // tags, its APIs a lifecycle, every entity an owner and (but groups) a system.
            12 => match pick(3) {
                0 => Query::faceted(
                    ["service", "serv", "java", ""][pick(4)],
                    serde_json::json!({ "kind": ["component"], "tags": [format!("tier-{}", 1 + pick(4))] }),
                ),
                1 => Query::faceted(
                    ["api", "openapi", ""][pick(3)],
                    serde_json::json!({ "kind": ["api"], "lifecycle": ["production"] }),
                ),
                _ => Query::faceted(
                    "",
                    serde_json::json!({ "kind": ["resource"], "owner": [format!("group:default/team-{}", pick(teams))] }),
                ),
            },
            _ => {
                let index = backstage(1 + pick(repos - 1));
                Query::faceted(
                    format!("service {}", index / 10),
                    serde_json::json!({ "system": [format!("system:default/system-{}", index % systems)] }),
                )
            }
        };
        list.push(query);
    }
    list
}

/// Posts one search; the answer.
fn ask(endpoint: &str, query: &Query) -> serde_json::Value {
    let mut response = ureq::post(endpoint)
        .header("content-type", "application/json")
        .send(query.body().as_bytes())
        .expect("the server answers");
    serde_json::from_str(&response.body_mut().read_to_string().expect("a body")).expect("JSON")
}

// ---------------------------------------------------------------------------------------------
// Load

/// What one wrk run measured (`sextant::bench::load`: its figures and wrk's CPU time), and the CPU
/// time the watched processes (and their children) used meanwhile.
struct Measured {
    load: Load,
    watched_cpu: Vec<(&'static str, f64)>,
}

/// Runs wrk posting `bodies` in turn, measuring the CPU time of `watched`; its script (named
/// `name`) is written to `folder`.
fn run_wrk(
    folder: &Path,
    name: &str,
    endpoint: &str,
    bodies: &[String],
    connections: usize,
    seconds: usize,
    watched: &[(&'static str, u32)],
) -> Measured {
    let before: Vec<f64> = watched.iter().map(|(_, pid)| tree_cpu_seconds(*pid)).collect();
    let load = load::run(folder, name, endpoint, Requests::Posts(bodies), connections, seconds as u64)
        .unwrap_or_else(|error| panic!("wrk ({name}): {error}"));
    let watched_cpu = watched
        .iter()
        .zip(before)
        .map(|((name, pid), before)| (*name, tree_cpu_seconds(*pid) - before))
        .collect();
    Measured { load, watched_cpu }
}

/// Makes Postgres log every statement slower than `threshold` milliseconds (`None`: none).
async fn log_statements_over(store: &Store, threshold: Option<usize>) {
    let setting = threshold.map_or("-1".to_owned(), |threshold| threshold.to_string());
    sqlx::query(&format!("ALTER SYSTEM SET log_min_duration_statement = {setting}"))
        .execute(store.pool())
        .await
        .expect("set log_min_duration_statement");
    sqlx::query("SELECT pg_reload_conf()").execute(store.pool()).await.expect("reload");
}

/// The statements Postgres logged as slow since `offset` of its log, by total time.
fn print_slow_statements(log: &Path, offset: u64) {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(text.get(offset as usize..).unwrap_or_default());
    let mut totals: std::collections::HashMap<String, (usize, f64, f64)> = std::collections::HashMap::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((_, rest)) = line.split_once("LOG:  duration: ") else {
            continue;
        };
        let Some((milliseconds, statement)) = rest.split_once(" ms  ") else {
            continue;
        };
        let Ok(milliseconds) = milliseconds.parse::<f64>() else {
            continue;
        };
        let mut statement = statement.split_once(": ").map_or(statement, |(_, text)| text).to_owned();
        // A statement's further lines are tab-indented continuation lines.
        while let Some(next) = lines.peek() {
            if !next.starts_with('\t') {
                break;
            }
            statement.push(' ');
            statement.push_str(next.trim());
            lines.next();
        }
        let key: String = statement
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(240)
            .collect();
        let entry = totals.entry(key).or_insert((0, 0.0, 0.0));
        entry.0 += 1;
        entry.1 += milliseconds;
        entry.2 = entry.2.max(milliseconds);
    }
    let mut sorted: Vec<(String, (usize, f64, f64))> = totals.into_iter().collect();
    sorted.sort_by(|left, right| right.1.1.total_cmp(&left.1.1));
    println!("  slow statements of the load phases (logged by Postgres), by total time:");
    for (statement, (count, total, max)) in sorted.iter().take(8) {
        println!(
            "    {count} × {:.1} ms mean, {max:.1} ms max, {:.0} ms in all: {statement}",
            total / *count as f64,
            total
        );
    }
}

fn report(phase: &str, measured: &Measured) {
    let load = &measured.load;
    println!(
        "{phase}: {:.0} requests/s; latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms; errors (non-2xx, socket, GraphQL): {}; wrk used {:.1} s CPU ({:.0}% of one core)",
        load.rate(),
        load.p50_ms,
        load.p95_ms,
        load.p99_ms,
        load.max_ms,
        load.errors,
        load.generator_cpu_seconds,
        load.generator_cpu_percent()
    );
    let requests = (load.requests as f64).max(1.0);
    let parts: Vec<String> = measured
        .watched_cpu
        .iter()
        .map(|(name, seconds)| format!("{name} {:.2} ms", seconds * 1000.0 / requests))
        .collect();
    println!("  CPU per request: {}", parts.join(", "));
}

// ---------------------------------------------------------------------------------------------
// Freshness

/// The changed repository's descriptor: the organisation's, with a title carrying `word`.
fn fresh_yaml(repos: usize, word: Option<&str>) -> String {
    let yaml = org::component_yaml(FRESH_INDEX, &format!("Service number {FRESH_INDEX}."), repos);
    match word {
        None => yaml,
        Some(word) => {
            let name = format!("  name: service-{FRESH_INDEX}\n");
            yaml.replacen(&name, &format!("{name}  title: Service {word}\n"), 1)
        }
    }
}

/// A word found nowhere else: letters only, different in every round and every run.
fn unique_word(round: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let mut word = String::from("quokka");
    let mut value = nanos ^ (round as u128) << 100;
    for _ in 0..10 {
        word.push((b'a' + (value % 26) as u8) as char);
        value /= 26;
    }
    word
}

/// Changes the title of one repository's component, crawls that repository, and polls the
/// search every 10 ms until the new title is found; the delays in seconds (fewer than
/// [`FRESHNESS_ROUNDS`] when a change was not found within 30 s).
#[allow(clippy::too_many_arguments)]
fn freshness(
    runtime: &tokio::runtime::Runtime,
    store: &Store,
    repo: &Path,
    source: &Source,
    options: &CrawlOptions,
    endpoint: &str,
    repos: usize,
    backend: Backend,
) -> Vec<f64> {
    let mut delays = Vec::new();
    for round in 0..FRESHNESS_ROUNDS {
        // Start each round at a different point of the server's sync poll.
        std::thread::sleep(Duration::from_millis(300 + 97 * round as u64));
        let word = unique_word(round + 10 * (backend == Backend::Meilisearch) as usize);
        org::commit_to_bare(repo, "catalog-info.yaml", &fresh_yaml(repos, Some(&word))).expect("change the repository");
        let summary = runtime
            .block_on(crawl(store, std::slice::from_ref(source), options, |_, _| {}))
            .expect("crawl the changed repository");
        let committed = Instant::now();
        assert!(
            summary.count(|outcome| matches!(outcome, RepoOutcome::Applied(_))) == 1,
            "the changed repository was not applied: {:?}",
            summary.outcomes
        );
        let query = Query::text(word.clone());
        let found = loop {
            let answer = ask(endpoint, &query);
            let hits = answer["data"]["search"]["hits"].as_array().cloned().unwrap_or_default();
            if hits
                .iter()
                .any(|hit| hit["entity"]["title"].as_str().is_some_and(|title| title.contains(&word)))
            {
                break true;
            }
            if committed.elapsed() > Duration::from_secs(30) {
                break false;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        if !found {
            println!("  round {round}: `{word}` not searchable 30 s after the crawl");
            break;
        }
        delays.push(committed.elapsed().as_secs_f64());
    }
    delays
}

// ---------------------------------------------------------------------------------------------
// Memory

/// Writes `entities` synthetic entities (three in four components, one in four APIs with a
/// definition), with titles, descriptions of about 25 words, tags, labels and annotations, in
/// repositories of 25 entities; the triggers queue them all in the outbox.
async fn fill_synthetic(store: &Store, entities: usize) {
    let repos = entities.div_ceil(25);
    sqlx::query(
        "INSERT INTO repos (url, name, status, last_commit) SELECT 'https://git.example.com/acme/repo-' || r, 'repo-' || r, 'ok', md5(r::text)
         FROM generate_series(1, $1) AS r",
    )
    .bind(repos as i64)
    .execute(store.pool())
    .await
    .expect("repositories");
    // Words of a service catalogue; each entity picks its words with a hash of its number.
    let statement = "
        WITH vocabulary AS (
            SELECT ARRAY['payments','billing','ledger','invoice','checkout','cart','catalog','search','inventory','shipping',
                         'identity','auth','session','profile','notification','email','sms','gateway','routing','pricing',
                         'discount','loyalty','fraud','risk','analytics','reporting','export','import','scheduler','worker',
                         'queue','stream','events','audit','compliance','storage','media','thumbnail','upload','archive',
                         'geo','maps','translation','content','review','rating','recommendation','ranking','feed','timeline']
                   AS words
        ), numbered AS (
            SELECT i, words,
                   ('x' || substr(md5(i::text), 1, 8))::bit(32)::int & 2147483647 AS h1,
                   ('x' || substr(md5(i::text), 9, 8))::bit(32)::int & 2147483647 AS h2,
                   ('x' || substr(md5(i::text), 17, 8))::bit(32)::int & 2147483647 AS h3
            FROM generate_series(1, $1) AS i, vocabulary
        ), shaped AS (
            SELECT i, h1, h2, h3,
                   CASE WHEN i % 4 = 0 THEN 'api' ELSE 'component' END AS kind,
                   words[1 + h1 % 50] || '-' || words[1 + h2 % 50] || '-' || i AS name,
                   initcap(words[1 + h1 % 50]) || ' ' || initcap(words[1 + h2 % 50]) || ' ' ||
                       CASE WHEN i % 4 = 0 THEN 'API' ELSE 'Service' END || ' ' || i AS title,
                   'Handles ' || words[1 + h1 % 50] || ' and ' || words[1 + h2 % 50] || ' for the ' || words[1 + h3 % 50] ||
                       ' domain: it owns the ' || words[1 + (h1 / 50) % 50] || ' records, publishes ' || words[1 + (h2 / 50) % 50] ||
                       ' events and reads ' || words[1 + (h3 / 50) % 50] || ' data from its upstream services, ' ||
                       'with an on-call rotation and a runbook.' AS description,
                   ARRAY[words[1 + h3 % 50], 'tier-' || (1 + i % 4), CASE WHEN i % 3 = 0 THEN 'java' WHEN i % 3 = 1 THEN 'go' ELSE 'python' END]
                       AS tags,
                   'group:default/team-' || (h2 % 1000) AS owner_ref,
                   'system:default/' || words[1 + h1 % 50] || '-system' AS system_ref,
                   words
            FROM numbered
        )
        INSERT INTO entities (entity_ref, kind, namespace, name, title, description, type, lifecycle, tier, owner_ref, system_ref,
                              tags, document, repo_id, file_path, document_index, line, format, commit_id)
        SELECT kind || ':default/' || name, kind, 'default', name, title, description,
               CASE WHEN kind = 'api' THEN 'openapi' ELSE 'service' END,
               (ARRAY['production','experimental','deprecated'])[1 + i % 3], (1 + i % 4)::smallint, owner_ref, system_ref, tags,
               jsonb_build_object(
                   'apiVersion', 'backstage.io/v1alpha1',
                   'kind', CASE WHEN kind = 'api' THEN 'API' ELSE 'Component' END,
                   'metadata', jsonb_build_object(
                       'name', name, 'title', title, 'description', description, 'tags', to_jsonb(tags),
                       'labels', jsonb_build_object('cost-center', 'cc-' || (h3 % 200), 'team', 'team-' || (h2 % 1000)),
                       'annotations', jsonb_build_object('github.com/project-slug', 'acme/' || name,
                                                         'backstage.io/techdocs-ref', 'dir:.')),
                   'spec', CASE WHEN kind = 'api' THEN jsonb_build_object(
                           'type', 'openapi', 'lifecycle', 'production', 'owner', owner_ref, 'system', system_ref,
                           'definition', 'openapi: 3.0.0' || chr(10) || 'info:' || chr(10) || '  title: ' || title || chr(10) ||
                               '  version: 1.0.0' || chr(10) || 'paths:' || chr(10) ||
                               '  /' || words[1 + h1 % 50] || ':' || chr(10) || '    get:' || chr(10) ||
                               '      summary: List ' || words[1 + h1 % 50] || ' records' || chr(10) ||
                               '  /' || words[1 + h1 % 50] || '/{id}:' || chr(10) || '    get:' || chr(10) ||
                               '      summary: Read one ' || words[1 + h2 % 50] || ' record' || chr(10) ||
                               '    put:' || chr(10) || '      summary: Replace the ' || words[1 + h3 % 50] || ' record' || chr(10) ||
                               repeat('  # ' || description || chr(10), 6))
                       ELSE jsonb_build_object('type', 'service', 'lifecycle', 'production', 'owner', owner_ref, 'system', system_ref)
                   END),
               1 + (i - 1) / 25, 'catalog-info.yaml', (i - 1) % 25, 1 + ((i - 1) % 25) * 30, 'backstage', md5(i::text)
        FROM shaped";
    sqlx::query(statement)
        .bind(entities as i64)
        .execute(store.pool())
        .await
        .expect("synthetic entities");
    sqlx::query("ANALYZE").execute(store.pool()).await.expect("analyze");
}

struct Memory {
    elapsed: Duration,
    baseline_mib: f64,
    peak_mib: f64,
}

impl Memory {
    fn rate(&self, entities: usize) -> f64 {
        entities as f64 / self.elapsed.as_secs_f64().max(0.001)
    }
}

/// Delivers the memory database's outbox with a `sextant serve` of its own: delivery is paused
/// (the reindex pause) while the server starts and its resident memory settles, then resumed;
/// the server's memory is sampled until the outbox is empty.
async fn memory_phase(url: &str, scratch: &Path, meili: Option<&Meili>, requeue: bool, entities: usize) -> Result<Memory, String> {
    let store = Store::connect(url).await.map_err(|error| error.to_string())?;
    if requeue {
        sqlx::query("INSERT INTO search_outbox (entity_ref) SELECT entity_ref FROM entities ON CONFLICT DO NOTHING")
            .execute(store.pool())
            .await
            .map_err(|error| error.to_string())?;
    }
    let pause = |until: &'static str| {
        let store = store.clone();
        async move {
            sqlx::query(&format!("UPDATE search_state SET reindex_until = {until}, reindex_token = NULL"))
                .execute(store.pool())
                .await
                .expect("pause or resume delivery");
        }
    };
    pause("now() + interval '1 hour'").await;
    let server = Server::start(url, scratch, meili);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pending = count(&store, "SELECT count(*) FROM search_outbox").await;
    if pending < entities as i64 {
        println!("  (the paused server delivered {} changes anyway)", entities as i64 - pending);
    }
    let baseline_mib = server.rss_mib();
    pause("NULL").await;
    let started = Instant::now();
    let mut last_report = Instant::now();
    let outcome = loop {
        let pending = count(&store, "SELECT count(*) FROM search_outbox").await;
        if pending == 0 {
            break Ok(started.elapsed());
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            let done = entities as f64 - pending as f64;
            println!(
                "  {:.0} s: {} delivered ({:.0}/s), RSS {:.0} MiB",
                started.elapsed().as_secs_f64(),
                done,
                done / started.elapsed().as_secs_f64(),
                server.rss_mib()
            );
            last_report = Instant::now();
        }
        if started.elapsed() > Duration::from_secs(30 * 60) {
            break Err(format!("{pending} changes still undelivered after 30 minutes"));
        }
        if !server.is_alive() {
            break Err("the server exited during the sync".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let peak_mib = server.peak_mib();
    server.stop();
    store.close().await;
    outcome.map(|elapsed| Memory {
        elapsed,
        baseline_mib,
        peak_mib,
    })
}

// ---------------------------------------------------------------------------------------------
// Processes

/// A `sextant serve` on loopback, its sync on, its scheduled crawls off. (Not
/// `sextant::bench::server::Server`: that one runs the program it is part of, `sextant`, and this
/// is the benchmark's own program.)
struct Server {
    child: Child,
    endpoint: String,
}

impl Server {
    fn start(database_url: &str, scratch: &Path, meili: Option<&Meili>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--crawl-interval", "0"])
            .env("DATABASE_URL", database_url)
            .env("SEXTANT_DATA_DIR", scratch.join("server-data"))
            .env("RUST_LOG", "warn")
            .env_remove("MEILI_URL")
            .env_remove("MEILI_MASTER_KEY")
            .env_remove("MEILI_INDEX")
            .env_remove("SEXTANT_CONFIG")
            .stdout(Stdio::piped());
        if let Some(config) = meili.and_then(|meili| meili.config().meilisearch) {
            command.env("MEILI_URL", &config.url).env("MEILI_INDEX", &config.index);
            if let Some(key) = &config.master_key {
                command.env("MEILI_MASTER_KEY", key.expose());
            }
        }
        let mut child = command.spawn().expect("start sextant serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let endpoint = loop {
            let line = lines.next().expect("a line with the URL").expect("read");
            // The first address `serve` prints is the dashboard's (`http://host:port/`).
            if let Some(start) = line.find("http://") {
                let base = line[start..].trim().trim_end_matches('/').trim_end_matches("/graphql");
                break format!("{base}/graphql");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, endpoint }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn status_mib(&self, field: &str) -> f64 {
        status_kib(self.pid(), field).unwrap_or(0) as f64 / 1024.0
    }

    fn rss_mib(&self) -> f64 {
        self.status_mib("VmRSS:")
    }

    fn peak_mib(&self) -> f64 {
        self.status_mib("VmHWM:")
    }

    /// Peak and current resident memory, as text.
    fn memory(&self) -> (String, String) {
        (format!("{:.0} MiB", self.peak_mib()), format!("{:.0} MiB", self.rss_mib()))
    }

    fn is_alive(&self) -> bool {
        status_kib(self.pid(), "VmRSS:").is_some()
    }

    fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Meilisearch (`sextant::bench::server::Meili`) and says so. `indexing_memory` is only
/// printed: `main` sets it for every Meilisearch (`MEILI_MAX_INDEXING_MEMORY`).
fn start_meili(binary: Option<&Path>, folder: &Path, indexing_memory: Option<&str>) -> Meili {
    let binary = binary.expect("a Meilisearch binary (checked at the start)");
    let meili = Meili::start(binary, folder).unwrap_or_else(|error| panic!("meilisearch: {error}"));
    println!(
        "meilisearch: {} (pid {}), indexing memory {}",
        meili.url,
        meili.pid(),
        indexing_memory.unwrap_or("Meilisearch's default")
    );
    meili
}

/// A GET of Meilisearch's API with its master key; the answer's JSON.
fn meili_get(meili: &Meili, path: &str) -> Option<serde_json::Value> {
    let key = meili.config().meilisearch?.master_key?;
    let body = ureq::get(&format!("{}{path}", meili.url))
        .header("authorization", &format!("Bearer {}", key.expose()))
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    serde_json::from_str(&body).ok()
}

/// Meilisearch's last `limit` tasks of the benchmark's index: type, documents, time queued (enqueued
/// to started) and processing.
fn recent_tasks(meili: &Meili, limit: usize) -> String {
    let index = meili.config().meilisearch.map(|config| config.index).unwrap_or_default();
    let answer = meili_get(meili, &format!("/tasks?limit={limit}&indexUids={index}"));
    let Some(tasks) = answer.as_ref().and_then(|answer| answer["results"].as_array()) else {
        return "(not readable)".to_owned();
    };
    // Seconds of the day of an RFC 3339 time (the tasks of one run are minutes apart).
    let seconds = |time: &serde_json::Value| {
        let clock = time.as_str()?.split_once('T')?.1.trim_end_matches('Z');
        let mut parts = clock.split(':');
        let (hours, minutes, seconds) = (parts.next()?, parts.next()?, parts.next()?);
        Some(hours.parse::<f64>().ok()? * 3600.0 + minutes.parse::<f64>().ok()? * 60.0 + seconds.parse::<f64>().ok()?)
    };
    tasks
        .iter()
        .map(|task| {
            let queued = seconds(&task["startedAt"])
                .zip(seconds(&task["enqueuedAt"]))
                .map(|(started, enqueued)| started - enqueued);
            let processing = seconds(&task["finishedAt"])
                .zip(seconds(&task["startedAt"]))
                .map(|(finished, started)| finished - started);
            let milliseconds = |value: Option<f64>| value.map_or("?".to_owned(), |value| format!("{:.0} ms", value * 1000.0));
            format!(
                "{} of {} ({}) queued {}, processed in {}",
                task["type"].as_str().unwrap_or("?"),
                task["details"]["receivedDocuments"]
                    .as_u64()
                    .or(task["details"]["providedIds"].as_u64())
                    .unwrap_or(0),
                task["status"].as_str().unwrap_or("?"),
                milliseconds(queued),
                milliseconds(processing)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The longest steps of the last batch Meilisearch processed (its `progressTrace`).
fn last_batch_trace(meili: &Meili) -> String {
    let answer = meili_get(meili, "/batches?limit=1");
    let batch = answer.as_ref().map(|answer| &answer["results"][0]);
    let trace = batch.and_then(|batch| batch["stats"]["progressTrace"].as_object().or(batch["progressTrace"].as_object()));
    let Some(trace) = trace else {
        return "(no progress trace)".to_owned();
    };
    // "12.34ms", "1.2s", "850.1µs", "900ns"
    let milliseconds = |text: &str| {
        let split = text.find(|character: char| !(character.is_ascii_digit() || character == '.'))?;
        let (number, unit) = text.split_at(split);
        let scale = match unit {
            "s" => 1000.0,
            "ms" => 1.0,
            "µs" | "us" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        Some(number.parse::<f64>().ok()? * scale)
    };
    let mut steps: Vec<(&String, f64)> = trace
        .iter()
        .filter_map(|(step, duration)| Some((step, milliseconds(duration.as_str()?)?)))
        .collect();
    steps.sort_by(|left, right| right.1.total_cmp(&left.1));
    steps
        .iter()
        .filter(|(_, milliseconds)| *milliseconds >= 1.0)
        .map(|(step, milliseconds)| format!("{step} {milliseconds:.0} ms"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// 30871 → "30,871".
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut grouped = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}
