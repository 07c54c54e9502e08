//! `sextant serve` over real HTTP against a real Postgres: GraphQL and GraphiQL, the probes and
//! metrics, hostile requests refused before any resolver works (with stable codes and no
//! internals), the bearer token of mutations, a Postgres restart survived, a clean stop on
//! SIGTERM, and `sextant demo` serving the examples.

use serde_json::{Value, json};

use crate::db::{crawl_into, fresh_store};
use crate::git::{TestRepo, component, group};
use crate::server::{RunningServer, get, graphql, post};

/// Fragments of SQL and of internal errors that no response may show.
const INTERNALS: &[&str] = &[
    "SELECT",
    "select ",
    " FROM ",
    "syntax error",
    "sqlx",
    "relation \"",
    "pg_",
    "postgres",
    "panicked",
    "src/",
    ".rs:",
];

fn assert_no_internals(body: &str) {
    for fragment in INTERNALS {
        assert!(!body.contains(fragment), "the response shows `{fragment}`: {body}");
    }
}

/// Two repositories: a team and two components, one depending on the other.
async fn small_catalog() -> (String, tempfile::TempDir, Vec<TestRepo>) {
    let (store, url) = fresh_store().await;
    let team = TestRepo::new();
    team.commit(&[("catalog-info.yaml", &group("payments-team", None))], "team");
    let services = TestRepo::new();
    services.commit(
        &[
            (
                "payments/catalog-info.yaml",
                &component("payments", "payments-team", &["component:ledger"]),
            ),
            ("ledger/catalog-info.yaml", &component("ledger", "payments-team", &[])),
        ],
        "services",
    );
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[team.source(), services.source()], &data.path().join("mirrors")).await;
    assert_eq!(
        crate::db::entity_refs(&store).await,
        [
            "component:default/ledger",
            "component:default/payments",
            "group:default/payments-team"
        ]
    );
    store.close().await;
    (url, data, vec![team, services])
}

const COMPONENT_PAGE: &str = "query ComponentPage($ref: String!) {
  entity(ref: $ref) { ref kind namespace name title owner { ref } }
}";

#[tokio::test(flavor = "multi_thread")]
async fn serve_answers_graphql_graphiql_probes_and_metrics() {
    let (url, data, _repos) = small_catalog().await;
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);

    let health = get(&server.url("/healthz"));
    assert_eq!(health.status, 200, "{}", health.body);
    let ready = get(&server.url("/readyz"));
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["status"], "ready", "{}", ready.body);

    let graphiql = get(&server.url("/graphql"));
    assert_eq!(graphiql.status, 200);
    assert!(graphiql.content_type.starts_with("text/html"), "{}", graphiql.content_type);
    assert!(
        graphiql.body.to_lowercase().contains("graphiql"),
        "GraphiQL is served on GET /graphql"
    );

    // A path no route knows: a JSON error for API clients, the dashboard's 404 page for a browser.
    let unknown = get(&server.url("/nope"));
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.json()["error"]["code"], "not-found", "{}", unknown.body);
    let page = crate::server::get_with(&server.url("/nope"), &[("accept", "text/html,application/xhtml+xml")]);
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(page.content_type.starts_with("text/html"), "{}", page.content_type);
    assert!(page.body.contains("There is no page at /nope"), "{}", page.body);
    // A kind and a name lead to the entity in the default namespace.
    let short = get(&server.url("/entity/component/payments"));
    assert_eq!(short.status, 200, "{}", short.body);
    assert!(short.body.contains("component:default/payments"), "{}", short.body);

    // The forms users type all find the entity.
    for typed in ["payments", "component:payments", "Component:Default/Payments", "  payments "] {
        let answer = graphql(&server.base, COMPONENT_PAGE, json!({ "ref": typed }), None);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let entity = &answer.json()["data"]["entity"];
        assert_eq!(entity["ref"], "component:default/payments", "{typed}: {}", answer.body);
        assert_eq!(entity["owner"]["ref"], "group:default/payments-team", "{}", answer.body);
    }
    // Fields come in the order the query selected them, whichever resolver finished first.
    let ordered = graphql(
        &server.base,
        "{ entity(ref: \"payments\") { owner { ref } ref system { ref } kind relations { type } name } }",
        json!({}),
        None,
    );
    let positions: Vec<usize> = [
        "\"owner\"",
        "\"ref\":\"component",
        "\"system\"",
        "\"kind\"",
        "\"relations\"",
        "\"name\"",
    ]
    .iter()
    .map(|key| ordered.body.find(key).unwrap_or_else(|| panic!("{key} in {}", ordered.body)))
    .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{}", ordered.body);

    let metrics = get(&server.url("/metrics"));
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain"), "{}", metrics.content_type);
    let text = &metrics.body;
    let line_with = |needles: &[&str]| text.lines().any(|line| needles.iter().all(|needle| line.contains(needle)));
    assert!(
        line_with(&[
            "sextant_http_requests_total{",
            "route=\"/graphql\"",
            "operation=\"ComponentPage\"",
            "status=\"200\""
        ]),
        "requests are counted by route and operation:\n{text}"
    );
    assert!(
        line_with(&["sextant_http_request_duration_seconds_bucket{", "route=\"/graphql\""]),
        "latency histogram:\n{text}"
    );
    assert!(
        text.lines().any(|line| line == "sextant_entities{kind=\"component\"} 2"),
        "entities by kind:\n{text}"
    );
    assert!(
        text.lines().any(|line| line == "sextant_repos_failing 0"),
        "failing repositories:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_requests_are_refused_with_stable_codes_and_no_internals() {
    let (url, data, _repos) = small_catalog().await;
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);
    let endpoint = server.url("/graphql");
    let json_header = [("content-type", "application/json")];

    let mut answers = Vec::new();
    let malformed = post(&endpoint, &json_header, b"{\"query\": ");
    assert_eq!(
        (malformed.status, malformed.error_codes()),
        (400, vec!["BAD_REQUEST".to_owned()]),
        "{}",
        malformed.body
    );
    answers.push(malformed);

    let unknown_field = post(&endpoint, &json_header, br#"{"query": "{ __typename }", "querry": "x"}"#);
    assert_eq!(unknown_field.status, 400, "{}", unknown_field.body);
    assert_eq!(unknown_field.error_codes(), ["BAD_REQUEST"]);
    assert!(
        unknown_field.body.contains("querry"),
        "the unknown field is named: {}",
        unknown_field.body
    );
    answers.push(unknown_field);

    let huge = vec![b' '; 10 * 1024 * 1024];
    let too_large = post(&endpoint, &json_header, &huge);
    assert_eq!(
        (too_large.status, too_large.error_codes()),
        (413, vec!["PAYLOAD_TOO_LARGE".to_owned()])
    );
    answers.push(too_large);

    let batch: Vec<Value> = (0..1000).map(|_| json!({ "query": "{ __typename }" })).collect();
    let batched = post(&endpoint, &json_header, &serde_json::to_vec(&batch).unwrap());
    assert_eq!(
        (batched.status, batched.error_codes()),
        (400, vec!["BATCH_TOO_LARGE".to_owned()]),
        "{}",
        batched.body
    );
    answers.push(batched);

    // Refused by the limits, each with its code and no data.
    let deep = format!("{{ entity(ref: \"payments\") {}{} }}", "{ owner ".repeat(50), "}".repeat(50));
    let aliases = format!(
        "{{ {} }}",
        (0..10_000)
            .map(|index| format!("a{index}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let directives = format!("{{ __typename {} }}", "@include(if: true) ".repeat(10_000));
    let oversized_page = "{ entities(first: 99999999) { totalCount } }".to_owned();
    // Lists nested in lists (each unpaged) would multiply the answer: refused by their count.
    let fan_out = format!(
        "{{ group(ref: \"payments-team\") {}ref{} }}",
        "{ ownedEntities { owner { ... on Group ".repeat(4),
        " } } }".repeat(4)
    );
    for (what, query) in [
        ("nested unpaged lists", fan_out),
        ("depth 50", deep),
        ("10,000 aliases", aliases),
        ("10,000 directives", directives),
        ("first 99999999", oversized_page),
    ] {
        let answer = graphql(&server.base, &query, json!({}), None);
        let codes = answer.error_codes();
        assert!(!codes.is_empty(), "{what} is refused: {}", answer.body);
        assert!(
            codes
                .iter()
                .all(|code| code != "<none>" && code != "INTERNAL_SERVER_ERROR" && code != "INTERNAL"),
            "{what}: every error has a stable code: {codes:?}"
        );
        assert!(
            answer.json()["data"].is_null() || answer.json().get("data").is_none(),
            "{what}: no data: {}",
            answer.body
        );
        answers.push(answer);
    }

    // An unknown ref is no error: null.
    let unknown = graphql(&server.base, COMPONENT_PAGE, json!({ "ref": "component:nowhere" }), None);
    assert_eq!(unknown.status, 200);
    assert!(unknown.json()["data"]["entity"].is_null(), "{}", unknown.body);
    answers.push(unknown);

    // A ref that is not one at all.
    let nonsense = graphql(&server.base, COMPONENT_PAGE, json!({ "ref": "a:b:c/d/e" }), None);
    assert!(
        !nonsense.error_codes().is_empty() || nonsense.json()["data"]["entity"].is_null(),
        "{}",
        nonsense.body
    );
    answers.push(nonsense);

    // Hooks refuse what is not signed, with a stable code.
    let unsigned = post(
        &server.url("/hooks/github"),
        &[("content-type", "application/json"), ("x-github-event", "push")],
        b"{}",
    );
    assert!(matches!(unsigned.status, 401 | 403 | 404), "{} {}", unsigned.status, unsigned.body);
    assert!(unsigned.json()["code"].is_string(), "{}", unsigned.body);
    answers.push(unsigned);

    for answer in &answers {
        assert_no_internals(&answer.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mutations_need_the_configured_bearer_token() {
    let (url, data, repos) = small_catalog().await;
    let token = "s3cret-token-for-tests";
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[("SEXTANT_TOKEN", token)]);
    let repo_url = repos[1].source().url;
    let mutation = "mutation Crawl($url: String!) { crawlRepo(url: $url) { job { id } errors { code message } } }";

    let anonymous = graphql(&server.base, mutation, json!({ "url": repo_url }), None);
    let anonymous_json = anonymous.json();
    let codes: Vec<String> = anonymous_json["data"]["crawlRepo"]["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| error["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_else(|| anonymous.error_codes());
    assert_eq!(codes, ["UNAUTHORIZED"], "{}", anonymous.body);
    assert!(anonymous_json["data"]["crawlRepo"]["job"].is_null(), "{}", anonymous.body);

    let wrong = graphql(&server.base, mutation, json!({ "url": repo_url }), Some("not-the-token"));
    assert_eq!(
        (wrong.status, wrong.error_codes()),
        (401, vec!["UNAUTHORIZED".to_owned()]),
        "{}",
        wrong.body
    );

    let allowed = graphql(&server.base, mutation, json!({ "url": repo_url }), Some(token));
    let allowed_json = allowed.json();
    assert!(
        allowed_json["data"]["crawlRepo"]["job"]["id"].is_string() || allowed_json["data"]["crawlRepo"]["job"]["id"].is_number(),
        "{}",
        allowed.body
    );
    assert_eq!(allowed_json["data"]["crawlRepo"]["errors"], json!([]), "{}", allowed.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_restart_fails_requests_with_a_clear_code_and_the_server_recovers() {
    let cluster = sextant::pg::Cluster::start_throwaway().expect("a throwaway cluster of this test's own");
    sextant::store::create_database_if_missing(&cluster, "restart").await.unwrap();
    let url = cluster.url("restart");
    let store = sextant::store::Store::connect(&url).await.unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("payments", "payments-team", &[]))], "one");
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    store.close().await;
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);
    let page = json!({ "ref": "payments" });
    assert_eq!(
        graphql(&server.base, COMPONENT_PAGE, page.clone(), None).json()["data"]["entity"]["ref"],
        "component:default/payments"
    );

    cluster.stop().expect("stop Postgres");
    let down = graphql(&server.base, COMPONENT_PAGE, page.clone(), None);
    assert_eq!(down.error_codes(), ["UNAVAILABLE"], "{}", down.body);
    assert_no_internals(&down.body);
    let not_ready = get(&server.url("/readyz"));
    assert_eq!(not_ready.status, 503, "{}", not_ready.body);
    assert_no_internals(&not_ready.body);
    assert_eq!(get(&server.url("/healthz")).status, 200, "the process itself is up");

    let restarted = sextant::pg::Cluster::start_or_reuse(&cluster.data_dir).expect("start Postgres again");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = graphql(&server.base, COMPONENT_PAGE, page.clone(), None);
        if answer.json()["data"]["entity"]["ref"] == "component:default/payments" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no recovery within 30 s: {}", answer.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(get(&server.url("/readyz")).status, 200);
    drop(server);
    let _ = restarted.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_server_cleanly() {
    let (url, data, _repos) = small_catalog().await;
    let mut server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);
    assert_eq!(get(&server.url("/healthz")).status, 200);
    let status = server.stop_with(libc::SIGTERM);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_crawls_then_serves_the_examples_until_interrupted() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let mut demo = RunningServer::start(&["demo", "--listen", "127.0.0.1:0"], &url, data.path(), &[]);
    assert!(demo.output.contains("13 crawled"), "the demo crawls first: {}", demo.output);
    let answer = graphql(&demo.base, COMPONENT_PAGE, json!({ "ref": "booking-service" }), None);
    assert_eq!(
        answer.json()["data"]["entity"]["ref"],
        "component:default/booking-service",
        "{}",
        answer.body
    );
    assert!(answer.json()["data"]["entity"]["owner"]["ref"].is_string(), "{}", answer.body);
    let status = demo.stop_with(libc::SIGINT);
    assert!(status.success(), "Ctrl-C stops the demo: {status:?}");
}

#[test]
fn the_schema_command_prints_the_served_sdl() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .arg("schema")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), sextant::graphql::sdl());
}
