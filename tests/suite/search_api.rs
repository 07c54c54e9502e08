//! Search at the user's edges, on the Postgres backend: the GraphQL `search` query of a real
//! `sextant serve` (hits with their entities, highlight ranges, facet counts, a faceted browse,
//! pages followed by cursor, hostile input answered with stable codes), `sextant search` right
//! after `sextant crawl`, and a Meilisearch that does not answer (`SEARCH_UNAVAILABLE`, exit 2).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant::search::sync::sync_until_idle;
use sextant::search::{Search, SearchConfig, SyncSettings};
use sextant::store::Store;

use crate::db::{crawl_into, fresh_store};
use crate::git::{TestRepo, group};
use crate::server::{RunningServer, graphql};

/// Components of the bulk family: `service-01` to `service-25`, tagged `bulk`.
const BULK: usize = 25;

/// A component with the fields search looks at.
fn component(name: &str, title: Option<&str>, description: Option<&str>, owner: &str, tags: &[&str]) -> String {
    let mut text = format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n");
    if let Some(title) = title {
        text.push_str(&format!("  title: {}\n", serde_json::to_string(title).unwrap()));
    }
    if let Some(description) = description {
        text.push_str(&format!("  description: {}\n", serde_json::to_string(description).unwrap()));
    }
    if !tags.is_empty() {
        text.push_str(&format!("  tags: [{}]\n", tags.join(", ")));
    }
    text.push_str(&format!("spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"));
    text
}

/// The catalog's files: two teams, three components about payments (two by name, one by its
/// description), and the bulk family.
fn catalog_files() -> Vec<(String, String)> {
    let mut files = vec![
        ("teams/payments/catalog-info.yaml".to_owned(), group("payments-team", None)),
        ("teams/web/catalog-info.yaml".to_owned(), group("web-team", None)),
        (
            "payments-api/catalog-info.yaml".to_owned(),
            component(
                "payments-api",
                Some("Payments API"),
                Some("Takes card payments for the shop"),
                "payments-team",
                &["java", "pci"],
            ),
        ),
        (
            "payments-ledger/catalog-info.yaml".to_owned(),
            component("payments-ledger", None, Some("Books every transfer"), "payments-team", &["java"]),
        ),
        (
            "web-frontend/catalog-info.yaml".to_owned(),
            component(
                "web-frontend",
                Some("Web Frontend"),
                Some("Shows the checkout page and its payments"),
                "web-team",
                &["react"],
            ),
        ),
    ];
    for number in 1..=BULK {
        let name = format!("service-{number:02}");
        files.push((
            format!("{name}/catalog-info.yaml"),
            component(&name, None, Some("One of many"), "web-team", &["bulk"]),
        ));
    }
    files
}

/// A repository holding the catalog.
fn catalog_repo() -> TestRepo {
    let repo = TestRepo::new();
    let files = catalog_files();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    repo.commit(&borrowed, "the catalog");
    repo
}

/// Delivers every pending change to the Postgres index (at most 60 s).
async fn sync_all(store: &Store) {
    let search = Search::new(store.clone(), &SearchConfig::default()).expect("the Postgres backend");
    let deadline = Instant::now() + Duration::from_secs(60);
    sync_until_idle(&search, &SyncSettings::default(), deadline)
        .await
        .expect("the sync delivers");
    let lag = store.search_lag().await.expect("the lag");
    assert_eq!(lag.pending, 0, "every change is delivered: {lag:?}");
}

/// A server over the crawled and indexed catalog.
async fn served_catalog() -> (RunningServer, tempfile::TempDir, TestRepo) {
    let (store, url) = fresh_store().await;
    let repo = catalog_repo();
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    sync_all(&store).await;
    store.close().await;
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);
    (server, data, repo)
}

const SEARCH: &str = "query Search($query: String, $filter: SearchFilter, $first: Int, $after: String) {
  search(query: $query, filter: $filter, first: $first, after: $after) {
    backend totalCount totalCountIsExact
    hits {
      cursor score matchedFields
      entity { ref name title ... on Component { owner { ref } } }
      highlights { field snippet ranges { start end } }
    }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

const SEARCH_WITH_FACETS: &str = "query Search($query: String, $filter: SearchFilter) {
  search(query: $query, filter: $filter, first: 5) {
    totalCount
    hits { entity { ref } }
    facets { field values { value count } }
  }
}";

/// The `data.search` of an answer that must have no errors.
fn search_of(server: &RunningServer, query: &str, variables: Value) -> Value {
    let answer = graphql(&server.base, query, variables, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    assert!(body["errors"].is_null(), "no errors: {}", answer.body);
    body["data"]["search"].clone()
}

fn hit_refs(search: &Value) -> Vec<String> {
    search["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| hit["entity"]["ref"].as_str().expect("a ref").to_owned())
        .collect()
}

/// The counts of one facet's values.
fn facet(search: &Value, field: &str) -> Vec<(String, i64)> {
    search["facets"]
        .as_array()
        .expect("facets")
        .iter()
        .find(|facet| facet["field"] == field)
        .unwrap_or_else(|| panic!("a `{field}` facet in {search}"))["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|value| (value["value"].as_str().unwrap().to_owned(), value["count"].as_i64().unwrap()))
        .collect()
}

/// The part of `snippet` a range covers (code points, end exclusive).
fn covered(snippet: &str, range: &Value) -> String {
    let start = range["start"].as_u64().expect("start") as usize;
    let end = range["end"].as_u64().expect("end") as usize;
    assert!(start < end && end <= snippet.chars().count(), "{range} within {snippet:?}");
    snippet.chars().skip(start).take(end - start).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_search_answers_hits_with_entities_highlights_and_facets() {
    let (server, _data, _repo) = served_catalog().await;

    let search = search_of(&server, SEARCH, json!({ "query": "payments" }));
    assert_eq!(search["backend"], "postgres");
    // The two components named for payments, their team, and a component that says it in its description.
    assert_eq!(search["totalCount"], 4, "{search}");
    assert_eq!(search["totalCountIsExact"], true);
    let refs = hit_refs(&search);
    assert_eq!(refs.len(), 4, "{refs:?}");
    assert_eq!(
        refs.last().map(String::as_str),
        Some("component:default/web-frontend"),
        "a description match ranks below name matches: {refs:?}"
    );
    let api = search["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|hit| hit["entity"]["ref"] == "component:default/payments-api")
        .expect("payments-api is a hit");
    // The entity is the catalog's, with what the selection asks of it.
    assert_eq!(api["entity"]["title"], "Payments API");
    assert_eq!(api["entity"]["owner"]["ref"], "group:default/payments-team");
    let fields: Vec<&str> = api["matchedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field.as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"title") && fields.contains(&"description"),
        "{fields:?}"
    );
    // Every range points at the query's word in its snippet.
    for hit in search["hits"].as_array().unwrap() {
        let highlights = hit["highlights"].as_array().unwrap();
        assert!(!highlights.is_empty(), "a hit of a text query has highlights: {hit}");
        for highlight in highlights {
            let snippet = highlight["snippet"].as_str().unwrap();
            let ranges = highlight["ranges"].as_array().unwrap();
            assert!(!ranges.is_empty(), "{highlight}");
            for range in ranges {
                assert_eq!(covered(snippet, range).to_lowercase(), "payments", "{highlight}");
            }
        }
    }
    let scores: Vec<f64> = search["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|pair| pair[0] >= pair[1]), "best first: {scores:?}");

    // A prefix and a typo find the same entity; the highlight covers the matched word.
    for typed in ["paym", "paymnets"] {
        let search = search_of(&server, SEARCH, json!({ "query": typed, "filter": { "kind": ["Component"] } }));
        assert!(
            hit_refs(&search).contains(&"component:default/payments-api".to_owned()),
            "{typed}: {search}"
        );
    }

    // Facets over every match, counted when selected.
    let faceted = search_of(&server, SEARCH_WITH_FACETS, json!({ "query": "payments" }));
    assert_eq!(
        facet(&faceted, "owner"),
        [
            ("group:default/payments-team".to_owned(), 2),
            ("group:default/web-team".to_owned(), 1)
        ]
    );
    assert_eq!(facet(&faceted, "kind"), [("component".to_owned(), 3), ("group".to_owned(), 1)]);
    assert_eq!(facet(&faceted, "tags")[0], ("java".to_owned(), 2), "{faceted}");

    // A filter narrows the same query; owners may be typed as people type them.
    let owned = search_of(&server, SEARCH, json!({ "query": "payments", "filter": { "owner": ["Web-Team"] } }));
    assert_eq!(hit_refs(&owned), ["component:default/web-frontend"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_query_browses_by_name_and_pages_follow_their_cursors() {
    let (server, _data, _repo) = served_catalog().await;

    // A faceted browse: every bulk component, by name, with counts.
    let browse = search_of(&server, SEARCH_WITH_FACETS, json!({ "query": "", "filter": { "tags": ["bulk"] } }));
    assert_eq!(browse["totalCount"], BULK);
    assert_eq!(
        hit_refs(&browse)[..2],
        ["component:default/service-01", "component:default/service-02"]
    );
    assert_eq!(facet(&browse, "tags"), [("bulk".to_owned(), BULK as i64)]);
    assert_eq!(facet(&browse, "owner"), [("group:default/web-team".to_owned(), BULK as i64)]);
    // No query at all is a browse too.
    let everything = search_of(&server, SEARCH, json!({ "first": 0 }));
    assert_eq!(everything["totalCount"], BULK + 5, "{everything}");
    assert_eq!(everything["hits"], json!([]));

    // Pages of 7, by cursor, for a browse and for a text query: no duplicate, no gap.
    let expected: Vec<String> = (1..=BULK).map(|number| format!("component:default/service-{number:02}")).collect();
    for (query, filter) in [("", json!({ "tags": ["bulk"] })), ("service", json!(null))] {
        let mut seen: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = search_of(
                &server,
                SEARCH,
                json!({ "query": query, "filter": filter, "first": 7, "after": after }),
            );
            assert_eq!(page["totalCount"], BULK, "{page}");
            assert_eq!(page["pageInfo"]["hasPreviousPage"], after.is_some(), "{page}");
            seen.extend(hit_refs(&page));
            pages += 1;
            if page["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = Some(page["pageInfo"]["endCursor"].as_str().expect("an end cursor").to_owned());
            assert!(pages < 10, "the pages end");
        }
        assert_eq!(pages, 4, "{query:?}: 7 + 7 + 7 + 4");
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "{query:?}: no hit twice: {seen:?}");
        assert_eq!(sorted, expected, "{query:?}: every hit once");
    }

    // A hit's own cursor starts the page after it.
    let first_page = search_of(&server, SEARCH, json!({ "query": "", "filter": { "tags": ["bulk"] }, "first": 3 }));
    let second_cursor = first_page["hits"][1]["cursor"].as_str().unwrap().to_owned();
    let after_second = search_of(
        &server,
        SEARCH,
        json!({ "query": "", "filter": { "tags": ["bulk"] }, "first": 1, "after": second_cursor }),
    );
    assert_eq!(hit_refs(&after_second), ["component:default/service-03"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_searches_answer_with_stable_codes_and_odd_text_is_just_text() {
    let (server, _data, _repo) = served_catalog().await;
    let refused = |variables: Value, code: &str| {
        let answer = graphql(&server.base, SEARCH, variables.clone(), None);
        assert_eq!(answer.error_codes(), [code], "{variables}: {}", answer.body);
        assert!(answer.json()["data"].is_null(), "{}", answer.body);
        for internal in ["SELECT", "sqlx", "panicked", ".rs:", "search_documents"] {
            assert!(!answer.body.contains(internal), "`{internal}` in {}", answer.body);
        }
        answer.body
    };
    let long = refused(json!({ "query": "payments ".repeat(1200) }), "BAD_REQUEST");
    assert!(long.contains("1024"), "the message names the limit: {long}");
    refused(json!({ "query": "payments", "after": "not-a-cursor" }), "BAD_REQUEST");
    // A cursor of another list is not a search cursor.
    let entities = graphql(&server.base, "{ entities(first: 1) { pageInfo { endCursor } } }", json!({}), None).json();
    let entities_cursor = entities["data"]["entities"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    refused(json!({ "query": "payments", "after": entities_cursor }), "BAD_REQUEST");
    refused(json!({ "query": "payments", "first": 101 }), "PAGE_TOO_LARGE");
    refused(json!({ "query": "payments", "first": -1 }), "PAGE_TOO_LARGE");
    let too_many = serde_json::to_value(vec!["x"; 101]).unwrap();
    refused(json!({ "query": "", "filter": { "tags": too_many } }), "BAD_REQUEST");

    // Control characters are separators, not errors; filter values with quotes, backslashes and
    // operators only ever match themselves.
    let odd = search_of(&server, SEARCH, json!({ "query": "\u{1}paym\u{1b}\u{7f}\n" }));
    assert!(hit_refs(&odd).contains(&"component:default/payments-api".to_owned()), "{odd}");
    let injected = search_of(
        &server,
        SEARCH,
        json!({ "query": "", "filter": { "tags": ["java\" OR tags = \"bulk", "x\\", "bulk' OR 1=1 --"] } }),
    );
    assert_eq!(injected["totalCount"], 0, "{injected}");

    // The API's limits bound what a search's hits may ask of their entities.
    let fan_out = graphql(
        &server.base,
        "{ search(query: \"payments\", first: 100) { hits { entity { relations { target { relations { target { relations { targetRef } } } } } } } } }",
        json!({}),
        None,
    );
    assert_eq!(fan_out.error_codes(), ["QUERY_TOO_COMPLEX"], "{}", fan_out.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_backend_that_does_not_answer_is_search_unavailable_and_the_rest_of_the_api_answers() {
    let (store, url) = fresh_store().await;
    let repo = catalog_repo();
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    store.close().await;
    // A loopback port nothing listens on: Meilisearch is down.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let meili_url = format!("http://127.0.0.1:{closed_port}");
    let server = RunningServer::serve(
        &url,
        data.path(),
        &["--crawl-interval", "0"],
        &[("MEILI_URL", &meili_url), ("MEILI_MASTER_KEY", "a-master-key-for-tests")],
    );

    let started = Instant::now();
    let answer = graphql(&server.base, SEARCH, json!({ "query": "payments" }), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.error_codes(), ["SEARCH_UNAVAILABLE"], "{}", answer.body);
    assert!(started.elapsed() < Duration::from_secs(30), "promptly");
    for internal in ["127.0.0.1", "Connection refused", "reqwest", "meilisearch_sdk", ".rs:"] {
        assert!(!answer.body.contains(internal), "`{internal}` in {}", answer.body);
    }
    let entity = graphql(&server.base, "{ entity(ref: \"payments-api\") { ref } }", json!({}), None);
    assert_eq!(
        entity.json()["data"]["entity"]["ref"],
        "component:default/payments-api",
        "{}",
        entity.body
    );

    // The command line says so too, with exit code 2 (an error, not "nothing found").
    let command = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["search", "payments"])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .env("MEILI_URL", &meili_url)
        .env_remove("SEXTANT_CONFIG")
        .current_dir(data.path())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&command.stderr);
    assert_eq!(command.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[search-unavailable]"), "{stderr}");
}

fn sextant(args: &[&str], database_url: &str, data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SEXTANT_DATA_DIR", data_dir)
        .env("NO_COLOR", "1")
        .env_remove("SEXTANT_CONFIG")
        .env_remove("MEILI_URL")
        .current_dir(data_dir)
        .output()
        .expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_command_finds_what_a_crawl_just_wrote() {
    let (store, url) = fresh_store().await;
    store.close().await;
    let repo = catalog_repo();
    let data = tempfile::tempdir().unwrap();
    let repo_path = repo.path().to_string_lossy().into_owned();
    let crawl = sextant(&["crawl", "--repo", &repo_path], &url, data.path());
    assert_eq!(crawl.status.code(), Some(0), "{}", String::from_utf8_lossy(&crawl.stderr));

    let json_search = sextant(&["search", "payments", "--format", "json", "--facets"], &url, data.path());
    assert_eq!(
        json_search.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&json_search.stderr)
    );
    let answer: Value = serde_json::from_slice(&json_search.stdout).expect("one JSON document");
    assert_eq!(answer["query"], "payments");
    assert_eq!(answer["backend"], "postgres");
    assert_eq!(answer["total"], 4);
    assert_eq!(answer["totalIsExact"], true);
    let hits = answer["hits"].as_array().expect("hits");
    let api = hits
        .iter()
        .find(|hit| hit["ref"] == "component:default/payments-api")
        .unwrap_or_else(|| panic!("payments-api in {answer}"));
    assert_eq!(api["kind"], "component");
    assert_eq!(api["name"], "payments-api");
    assert_eq!(api["title"], "Payments API");
    assert_eq!(api["owner"], "group:default/payments-team");
    assert!(api["score"].is_number());
    let title = api["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|highlight| highlight["field"] == "title")
        .unwrap_or_else(|| panic!("a title highlight in {api}"));
    assert_eq!(title["snippet"], "Payments API");
    assert_eq!(title["ranges"], json!([[0, 8]]));
    assert_eq!(answer["facets"]["owner"]["group:default/payments-team"], 2, "{answer}");

    // People read one line per hit, the match in brackets without a terminal.
    let human = sextant(
        &["search", "payments", "--kind", "component", "--owner", "payments-team"],
        &url,
        data.path(),
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines.iter().any(|line| line.starts_with("component:default/payments-api")
            && line.contains("\"Payments API\"")
            && line.contains("owner group:default/payments-team")
            && line.contains("[payments]-api")),
        "{text}"
    );
    assert_eq!(lines[2], "2 of 2 matches (postgres)");

    // Nothing found is exit code 1, as with grep; a refused query is 2.
    let none = sextant(&["search", "zzqqxxjj"], &url, data.path());
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&none.stdout), "no matches (postgres)\n");
    let refused = sextant(&["search", "payments", "--limit", "101"], &url, data.path());
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("search-invalid-query"));

    // A second crawl's change is found by the next search (the index takes it on the way).
    repo.commit(
        &[(
            "ledger-v2/catalog-info.yaml",
            &component("ledger-reports", Some("Ledger Reports"), None, "payments-team", &[]),
        )],
        "reports",
    );
    let recrawl = sextant(&["crawl", "--repo", &repo_path], &url, data.path());
    assert_eq!(recrawl.status.code(), Some(0), "{}", String::from_utf8_lossy(&recrawl.stderr));
    let reports: Value =
        serde_json::from_slice(&sextant(&["search", "ledger reports", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    assert_eq!(reports["hits"][0]["ref"], "component:default/ledger-reports", "{reports}");
}
