//! The serve phase, against a real `sextant serve` on loopback over the crawled catalog:
//!
//! - one repository changes and a `crawlRepo` mutation asks for it: the time until GraphQL shows
//!   the change; then `crawlAll` through the job queue and the server's open descriptors after it;
//! - the GraphQL component page and the busiest hub's impact under `wrk` load;
//! - search with Postgres full-text (latency under load and alone, freshness, reindex), then the
//!   same with Meilisearch when its binary is found;
//! - dashboard pages (entity, catalog, team, the hub's graph picture);
//! - the pull-request check (`sextant validate --catalog URL` in a clone with the hub renamed);
//! - the server's peak memory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::crawling::{CHANGE_VISIBLE, Context};
use super::load::{self, Load, Requests};
use super::org::{self, commit_to_bare, component_yaml, is_compass, repo_name};
use super::process::{open_fds, run_measured};
use super::report::{Figure, Report, Target, Unit};
use super::server::{Meili, Server, get_text, graphql};
use crate::search::sync::reindex;
use crate::search::{Search, SearchConfig};

const COMPONENT_PAGE: &str = "query ComponentPage($ref: String!) { entity(ref: $ref) { ref kind title description lifecycle tier tags owner { ref title } system { ref title } links { url title } relations { type targetRef target { ref kind title } } } }";
const IMPACT: &str =
    "query Impact($ref: String!) { impact(ref: $ref) { nodes { depth path entity { ref } } byOwner { ownerRef entities { ref } } } }";
const DESCRIPTION: &str = "query Description($ref: String!) { entity(ref: $ref) { description } }";
const CRAWL_REPO: &str = "mutation Crawl($url: String!) { crawlRepo(url: $url) { job { id } errors { code message } } }";
const CRAWL_ALL: &str = "mutation { crawlAll { jobs { id } errors { code message } } }";
const TEXT_SEARCH: &str = "query Search($q: String!) { search(query: $q, first: 20) { totalCount hits { score entity { ref title } highlights { field snippet ranges { start end } } } } }";
const FACETED_SEARCH: &str = "query Faceted($q: String!, $filter: SearchFilter) { search(query: $q, filter: $filter, first: 20) { totalCount hits { score entity { ref title } highlights { field snippet ranges { start end } } } facets { field values { value count } } } }";
const ROUNDS: usize = 5;

/// How the load phases run.
pub struct LoadSettings {
    pub seconds: u64,
    pub connections: usize,
    pub meilisearch: Option<PathBuf>,
}

/// The repository whose change is measured (and edited for Backstage): a Backstage one near the
/// middle of the organisation.
pub fn changed_repository(repos: usize) -> usize {
    (repos / 2..repos).find(|index| !is_compass(*index)).unwrap_or(1)
}

/// The entities the phases visit, the same ones every run.
struct Picked {
    components: Vec<String>,
    teams: Vec<String>,
    hub: String,
}

fn pick(context: &Context<'_>) -> Result<Picked, String> {
    let pool = context.pool()?;
    let picked = context.runtime.block_on(async {
        let components: Vec<String> =
            sqlx::query_scalar("SELECT entity_ref FROM entities WHERE kind = 'component' ORDER BY md5(entity_ref) LIMIT 2000")
                .fetch_all(&pool)
                .await?;
        let teams: Vec<String> =
            sqlx::query_scalar("SELECT entity_ref FROM entities WHERE kind = 'group' ORDER BY md5(entity_ref) LIMIT 400")
                .fetch_all(&pool)
                .await?;
        let hub: String = sqlx::query_scalar(
            "SELECT e.entity_ref FROM relations r JOIN entities e ON e.id = r.target_id WHERE r.type = 'dependsOn'
             GROUP BY e.entity_ref ORDER BY count(*) DESC, e.entity_ref LIMIT 1",
        )
        .fetch_one(&pool)
        .await?;
        pool.close().await;
        Ok::<_, sqlx::Error>(Picked { components, teams, hub })
    });
    picked.map_err(|error| format!("cannot pick the measured entities: {error}"))
}

pub fn measure(report: &mut Report, context: &Context<'_>, settings: &LoadSettings) -> Result<(), String> {
    let picked = pick(context)?;
    let scripts = context.scratch.join("scripts");
    std::fs::create_dir_all(&scripts).map_err(|error| format!("cannot create {}: {error}", scripts.display()))?;
    let server = Server::start(context.database_url, &context.scratch.join("server-data"), None)?;
    let endpoint = server.graphql_url();
    println!("serve: {} (pid {})", server.base, server.pid());
    let descriptors_at_start = open_fds(server.pid()).unwrap_or(0);

    change_visible(report, context, &endpoint)?;
    crawl_all(report, context, &server, descriptors_at_start)?;
    graphql_load(report, &endpoint, &picked, &scripts, settings)?;
    let queries = search_queries(context.size.repositories);
    search_phase(report, context, &server, "Postgres", &queries, &scripts, settings, None)?;
    dashboard(report, &server, &picked, &scripts, settings)?;
    pull_request_check(report, context, &server, &picked)?;
    report.add(
        Figure::new("serve", "server peak memory", server.peak_rss_mib(), Unit::MiB)
            .target(Target::AtMost(256.0))
            .note("VmHWM of `sextant serve` after every phase above"),
    );
    drop(server);

    match &settings.meilisearch {
        None => println!("search: Meilisearch skipped (no binary: pass --meilisearch PATH or put `meilisearch` on PATH)"),
        Some(binary) => {
            let meili = Meili::start(binary, &context.scratch.join("meilisearch"))?;
            let server = Server::start(context.database_url, &context.scratch.join("server-data-meili"), Some(&meili))?;
            search_phase(report, context, &server, "Meilisearch", &queries, &scripts, settings, Some(&meili))?;
            report.add(Figure::new(
                "search",
                "Meilisearch: its peak memory",
                meili.peak_rss_mib(),
                Unit::MiB,
            ));
        }
    }
    Ok(())
}

/// The stored URL of repository `index` (as `sextant repos` lists it).
fn repo_url(context: &Context<'_>, index: usize) -> PathBuf {
    context.root.join(format!("{}.git", repo_name(index)))
}

/// Polls `check` every 2 ms until it holds or `limit` passes; whether it held.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if check() {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn crawl_repo(endpoint: &str, url: &Path) -> Result<(), String> {
    let answer = graphql(endpoint, CRAWL_REPO, serde_json::json!({ "url": url.to_string_lossy() }))?;
    if answer["data"]["crawlRepo"]["job"].is_null() {
        return Err(format!("crawlRepo queued nothing: {answer}"));
    }
    Ok(())
}

/// One repository's change, asked for with `crawlRepo`, until GraphQL shows it.
fn change_visible(report: &mut Report, context: &Context<'_>, endpoint: &str) -> Result<(), String> {
    let repos = context.size.repositories;
    let index = changed_repository(repos);
    let path = repo_url(context, index);
    let entity = format!("component:default/service-{index}");
    let mut times = Vec::new();
    for round in 0..ROUNDS {
        let description = format!(
            "Changed in round {round} at {}.",
            Instant::now().elapsed().as_nanos() + round as u128
        );
        commit_to_bare(&path, "catalog-info.yaml", &component_yaml(index, &description, repos))?;
        let started = Instant::now();
        crawl_repo(endpoint, &path)?;
        let shown = wait_until(Duration::from_secs(30), || {
            graphql(endpoint, DESCRIPTION, serde_json::json!({ "ref": entity }))
                .is_ok_and(|answer| answer["data"]["entity"]["description"].as_str() == Some(description.as_str()))
        });
        if !shown {
            return Err(format!("the change of {} did not show within 30 s", path.display()));
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    // Back to the generated text, so later phases and runs see the organisation as generated.
    commit_to_bare(&path, "catalog-info.yaml", &org::descriptor(index, repos).1)?;
    crawl_repo(endpoint, &path)?;
    times.sort_by(f64::total_cmp);
    println!("serve: one repository's change visible: {times:.1?} ms");
    report.add(
        Figure::new("serve", CHANGE_VISIBLE, times[ROUNDS / 2], Unit::Milliseconds)
            .target(Target::AtMost(100.0))
            .note(format!(
                "median of {ROUNDS}, best {:.1} ms; commit, mutation, job, apply, GraphQL read",
                times[0]
            )),
    );
    Ok(())
}

/// `crawlAll` through the job queue (nothing changed), timed until the queue is empty; then the
/// server's open file descriptors.
fn crawl_all(report: &mut Report, context: &Context<'_>, server: &Server, descriptors_at_start: usize) -> Result<(), String> {
    let pool = context.pool()?;
    let started = Instant::now();
    let answer = graphql(&server.graphql_url(), CRAWL_ALL, serde_json::json!({}))?;
    let queued = answer["data"]["crawlAll"]["jobs"].as_array().map_or(0, Vec::len);
    if queued == 0 {
        return Err(format!("crawlAll queued nothing: {answer}"));
    }
    let drained = wait_until(Duration::from_secs(600), || {
        context
            .runtime
            .block_on(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')").fetch_one(&pool))
            .is_ok_and(|count| count == 0)
    });
    let seconds = started.elapsed().as_secs_f64();
    context.runtime.block_on(pool.close());
    if !drained {
        return Err("crawlAll's jobs did not finish within 10 minutes".to_owned());
    }
    let descriptors = open_fds(server.pid()).unwrap_or(0);
    println!("serve: crawlAll of {queued} repositories in {seconds:.1} s; open descriptors {descriptors_at_start} → {descriptors}");
    report.add(
        Figure::new("serve", "crawlAll through the job queue, nothing changed", seconds, Unit::Seconds).note(format!("{queued} jobs")),
    );
    report.add(
        Figure::new(
            "serve",
            "server's open file descriptors after crawling everything",
            descriptors as f64,
            Unit::Count,
        )
        .note(format!("{descriptors_at_start} after start")),
    );
    Ok(())
}

fn add_load(report: &mut Report, phase: &str, measure: &str, load: &Load, rate_target: Option<f64>, p99_target: Option<f64>) {
    println!(
        "{phase}: {measure}: {:.0} req/s, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, {} errors, wrk {:.0}% of a core",
        load.rate(),
        load.p50_ms,
        load.p95_ms,
        load.p99_ms,
        load.errors,
        load.generator_cpu_percent()
    );
    let note = format!(
        "p50 {:.1} ms, p95 {:.1} ms; {} errors; wrk used {:.0}% of a core",
        load.p50_ms,
        load.p95_ms,
        load.errors,
        load.generator_cpu_percent()
    );
    let mut rate = Figure::new(phase, format!("{measure}: throughput"), load.rate(), Unit::RequestsPerSecond).note(note.clone());
    if let Some(target) = rate_target {
        rate = rate.target(Target::AtLeast(target));
    }
    report.add(rate);
    let mut p99 = Figure::new(phase, format!("{measure}: p99"), load.p99_ms, Unit::Milliseconds).note(note);
    if let Some(target) = p99_target {
        p99 = p99.target(Target::AtMost(target));
    }
    report.add(p99);
    if load.errors > 0 {
        report.add(Figure::new(phase, format!("{measure}: errors"), load.errors as f64, Unit::Count).target(Target::AtMost(0.0)));
    }
}

fn body(query: &str, variables: serde_json::Value) -> String {
    serde_json::json!({ "query": query, "variables": variables }).to_string()
}

fn check_answer(endpoint: &str, query: &str, variables: serde_json::Value) -> Result<(), String> {
    let answer = graphql(endpoint, query, variables)?;
    if answer.get("errors").is_some() || answer["data"].is_null() {
        return Err(format!("{query} answered {answer}"));
    }
    Ok(())
}

fn graphql_load(report: &mut Report, endpoint: &str, picked: &Picked, scripts: &Path, settings: &LoadSettings) -> Result<(), String> {
    check_answer(endpoint, COMPONENT_PAGE, serde_json::json!({ "ref": picked.components[0] }))?;
    check_answer(endpoint, IMPACT, serde_json::json!({ "ref": picked.hub }))?;
    let dependents = graphql(endpoint, IMPACT, serde_json::json!({ "ref": picked.hub }))?["data"]["impact"]["nodes"]
        .as_array()
        .map_or(0, Vec::len);
    let pages: Vec<String> = picked
        .components
        .iter()
        .map(|reference| body(COMPONENT_PAGE, serde_json::json!({ "ref": reference })))
        .collect();
    let connections = settings.connections;
    let measured = load::run(
        scripts,
        "component-page",
        endpoint,
        Requests::Posts(&pages),
        connections,
        settings.seconds,
    )?;
    add_load(
        report,
        "graphql",
        &format!("component page, {connections} connections"),
        &measured,
        Some(2_000.0),
        Some(20.0),
    );
    let impact = [body(IMPACT, serde_json::json!({ "ref": picked.hub }))];
    let measured = load::run(scripts, "impact", endpoint, Requests::Posts(&impact), connections, settings.seconds)?;
    add_load(
        report,
        "graphql",
        &format!("impact of the busiest hub ({dependents} dependents), {connections} connections"),
        &measured,
        None,
        Some(50.0),
    );
    let measured = load::run(scripts, "impact", endpoint, Requests::Posts(&impact), 1, settings.seconds)?;
    add_load(
        report,
        "graphql",
        "impact of the busiest hub, one client",
        &measured,
        None,
        Some(50.0),
    );
    Ok(())
}

/// A search as a search box sends it: text, and facet filters for a tenth of them.
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

    fn body(&self) -> String {
        match &self.filter {
            None => body(TEXT_SEARCH, serde_json::json!({ "q": self.text })),
            Some(filter) => body(FACETED_SEARCH, serde_json::json!({ "q": self.text, "filter": filter })),
        }
    }
}

/// A fixed list of about 300 searches of the organisation (the same every run): prefixes, exact
/// names, typos, several words, and filtered browses with facet counts.
fn search_queries(repos: usize) -> Vec<Query> {
    let teams = (repos / 20).max(2);
    let systems = (repos / 25).max(2);
    let mut random = 0x5eed_1234_abcd_u64;
    let mut pick = |bound: usize| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        (random % bound.max(1) as u64) as usize
    };
    let backstage = |index: usize| if is_compass(index) { index + 1 } else { index.max(1) };
    let compass = |index: usize| index / 7 * 7 + 3;
    let prefixes = [
        "s", "se", "ser", "serv", "servi", "servic", "api", "db", "team", "tea", "syst", "comp", "compass",
    ];
    let typos = [
        "servce", "sevrice", "serivce", "srevice", "servcie", "servic", "sevice", "sytsem", "systme", "sysem",
    ];
    let compass_typos = ["compas", "comapss", "cmopass", "compss"];
    let mut list: Vec<Query> = prefixes
        .iter()
        .chain(&typos)
        .chain(&compass_typos)
        .map(|text| Query::text(*text))
        .collect();
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

/// A word found nowhere else, different in every round and run.
fn unique_word(round: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let mut word = String::from("quokka");
    let mut value = nanos ^ ((round as u128) << 100);
    for _ in 0..10 {
        word.push((b'a' + (value % 26) as u8) as char);
        value /= 26;
    }
    word
}

#[allow(clippy::too_many_arguments)]
fn search_phase(
    report: &mut Report,
    context: &Context<'_>,
    server: &Server,
    backend: &str,
    queries: &[Query],
    scripts: &Path,
    settings: &LoadSettings,
    meili: Option<&Meili>,
) -> Result<(), String> {
    let endpoint = server.graphql_url();
    // Reindex, in this process, as `sextant search reindex` does it.
    let config = meili.map_or(SearchConfig { meilisearch: None }, Meili::config);
    let reindexed = context.runtime.block_on(async {
        let store = crate::store::Store::connect(context.database_url)
            .await
            .map_err(|error| error.to_string())?;
        let search = Search::new(store.clone(), &config).map_err(|error| error.to_string())?;
        let started = Instant::now();
        let outcome = reindex(&search).await.map_err(|error| error.to_string());
        store.close().await;
        outcome.map(|done| (done.documents, started.elapsed().as_secs_f64()))
    })?;
    println!(
        "search [{backend}]: full reindex of {} documents in {:.1} s",
        reindexed.0, reindexed.1
    );
    report.add(
        Figure::new("search", format!("{backend}: full reindex"), reindexed.1, Unit::Seconds).note(format!("{} documents", reindexed.0)),
    );

    check_answer(&endpoint, TEXT_SEARCH, serde_json::json!({ "q": "service" }))?;
    let bodies: Vec<String> = queries.iter().map(Query::body).collect();
    let connections = settings.connections;
    let name = format!("search-{}", backend.to_lowercase());
    let measured = load::run(scripts, &name, &endpoint, Requests::Posts(&bodies), connections, settings.seconds)?;
    add_load(
        report,
        "search",
        &format!("{backend}: {} searches, {connections} connections", queries.len()),
        &measured,
        None,
        Some(20.0),
    );
    let measured = load::run(scripts, &name, &endpoint, Requests::Posts(&bodies), 1, settings.seconds)?;
    add_load(
        report,
        "search",
        &format!("{backend}: searches, one client"),
        &measured,
        None,
        Some(20.0),
    );

    // Freshness: a new word in one component's title, crawled on request, until search finds it.
    let repos = context.size.repositories;
    let index = changed_repository(repos);
    let path = repo_url(context, index);
    let mut delays = Vec::new();
    for round in 0..ROUNDS {
        let word = unique_word(round);
        let text = component_yaml(index, &format!("Service number {index}."), repos).replacen(
            &format!("  name: service-{index}\n"),
            &format!("  name: service-{index}\n  title: Service {word}\n"),
            1,
        );
        commit_to_bare(&path, "catalog-info.yaml", &text)?;
        let started = Instant::now();
        crawl_repo(&endpoint, &path)?;
        let found = wait_until(Duration::from_secs(30), || {
            graphql(&endpoint, TEXT_SEARCH, serde_json::json!({ "q": word })).is_ok_and(|answer| {
                answer["data"]["search"]["hits"].as_array().is_some_and(|hits| {
                    hits.iter()
                        .any(|hit| hit["entity"]["title"].as_str().is_some_and(|title| title.contains(&word)))
                })
            })
        });
        if !found {
            return Err(format!("search [{backend}] did not find a changed title within 30 s"));
        }
        delays.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    commit_to_bare(&path, "catalog-info.yaml", &org::descriptor(index, repos).1)?;
    crawl_repo(&endpoint, &path)?;
    delays.sort_by(f64::total_cmp);
    println!("search [{backend}]: freshness {delays:.0?} ms");
    report.add(
        Figure::new(
            "search",
            format!("{backend}: freshness, crawlRepo until searchable"),
            delays[ROUNDS / 2],
            Unit::Milliseconds,
        )
        .note(format!("median of {ROUNDS}, max {:.0} ms", delays[ROUNDS - 1])),
    );
    Ok(())
}

/// `/entity/{kind}/{namespace}/{name}` (the organisation's names need no encoding).
fn entity_path(entity_ref: &str) -> String {
    let (kind, rest) = entity_ref.split_once(':').unwrap_or(("component", entity_ref));
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    format!("/entity/{kind}/{namespace}/{name}")
}

fn dashboard(report: &mut Report, server: &Server, picked: &Picked, scripts: &Path, settings: &LoadSettings) -> Result<(), String> {
    let entity_pages: Vec<String> = picked.components.iter().map(|reference| entity_path(reference)).collect();
    let team_pages: Vec<String> = picked.teams.iter().map(|reference| entity_path(reference)).collect();
    let catalog_pages: Vec<String> = picked
        .teams
        .iter()
        .enumerate()
        .map(|(index, team)| {
            let team: String = form_urlencoded::byte_serialize(team.as_bytes()).collect();
            match index % 4 {
                0 => "/catalog".to_owned(),
                1 => format!("/catalog?kind=component&owner={team}"),
                2 => "/catalog?kind=api&sort=name&order=desc".to_owned(),
                _ => format!("/catalog?owner={team}&lifecycle=production&tag=java"),
            }
        })
        .collect();
    let graph = [format!("{}/graph.svg?direction=incoming&depth=2", entity_path(&picked.hub))];
    for path in [&entity_pages[0], &team_pages[0], &catalog_pages[1], &graph[0]] {
        let (status, body) = get_text(&format!("{}{path}", server.base))?;
        if status != 200 || body.is_empty() {
            return Err(format!("{path} answered {status}"));
        }
    }
    let endpoint = format!("{}/", server.base);
    let connections = settings.connections;
    let seconds = settings.seconds;
    let measured = load::run(
        scripts,
        "entity-pages",
        &endpoint,
        Requests::Gets(&entity_pages),
        connections,
        seconds,
    )?;
    add_load(
        report,
        "dashboard",
        &format!("entity page, {connections} connections"),
        &measured,
        None,
        None,
    );
    let measured = load::run(scripts, "entity-pages", &endpoint, Requests::Gets(&entity_pages), 1, seconds)?;
    add_load(report, "dashboard", "entity page, one client", &measured, None, Some(20.0));
    let measured = load::run(scripts, "catalog-pages", &endpoint, Requests::Gets(&catalog_pages), 1, seconds)?;
    add_load(
        report,
        "dashboard",
        "catalog page (filters and sorts vary), one client",
        &measured,
        None,
        Some(20.0),
    );
    let measured = load::run(scripts, "team-pages", &endpoint, Requests::Gets(&team_pages), 1, seconds)?;
    add_load(report, "dashboard", "team page, one client", &measured, None, Some(20.0));
    let measured = load::run(scripts, "hub-graph", &endpoint, Requests::Gets(&graph), 1, seconds)?;
    add_load(
        report,
        "dashboard",
        "graph picture of the busiest hub (depth 2), one client",
        &measured,
        None,
        Some(50.0),
    );
    let (_, hub_page) = get_text(&format!("{}{}", server.base, entity_path(&picked.hub)))?;
    report.add(
        Figure::new(
            "dashboard",
            "the busiest hub's entity page, transferred",
            hub_page.len() as f64 / 1024.0,
            Unit::KiB,
        )
        .target(Target::AtMost(100.0)),
    );
    Ok(())
}

/// `sextant validate --catalog URL` in a clone of the busiest hub's repository whose component is
/// renamed (so every dependent breaks): end-to-end time, and what it found.
fn pull_request_check(report: &mut Report, context: &Context<'_>, server: &Server, picked: &Picked) -> Result<(), String> {
    let name = picked.hub.rsplit('/').next().unwrap_or_default();
    let Some(index) = name.strip_prefix("service-").and_then(|number| number.parse::<usize>().ok()) else {
        println!("pull-request check: skipped (the busiest hub {} is not a service)", picked.hub);
        return Ok(());
    };
    let clone = context.scratch.join("pull-request");
    let _ = std::fs::remove_dir_all(&clone);
    git2::Repository::clone(&repo_url(context, index).to_string_lossy(), &clone)
        .map_err(|error| format!("cannot clone the hub's repository: {error}"))?;
    let file = clone.join("catalog-info.yaml");
    let text = std::fs::read_to_string(&file).map_err(|error| format!("{}: {error}", file.display()))?;
    std::fs::write(&file, text.replacen(&format!("name: {name}\n"), &format!("name: {name}-v2\n"), 1))
        .map_err(|error| format!("{}: {error}", file.display()))?;
    let executable = std::env::current_exe().map_err(|error| format!("cannot find this program: {error}"))?;
    let mut times = Vec::new();
    let mut findings = String::new();
    for _ in 0..3 {
        let finished = run_measured(
            Command::new(&executable)
                .args(["validate", "--catalog", &server.base, "--format", "json"])
                .current_dir(&clone)
                .env_remove("SEXTANT_CONFIG")
                .env_remove("SEXTANT_TOKEN"),
        )?;
        if finished.stdout.trim().is_empty() && !finished.stderr.trim().is_empty() && !finished.success {
            return Err(format!("validate --catalog failed: {}", finished.stderr.trim()));
        }
        findings = finished_codes(&finished.stdout);
        times.push(finished.wall.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!("pull-request check: {times:.0?} ms, {findings} findings");
    report.add(
        Figure::new(
            "pr-check",
            "pull-request check, the busiest hub renamed (`validate --catalog URL`)",
            times[0],
            Unit::Milliseconds,
        )
        .target(Target::AtMost(1_000.0))
        .note(format!("best of 3, end to end with process start; findings: {findings}")),
    );
    Ok(())
}

/// The diagnostics of `validate --format json` (one JSON object per line), counted by code:
/// "dangling-reference×12 ...".
fn finished_codes(json_lines: &str) -> String {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for line in json_lines.lines() {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
            *counts.entry(value["code"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(code, count)| format!("{code}×{count}"))
        .collect::<Vec<_>>()
        .join(" ")
}
