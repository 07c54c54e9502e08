//! The pull-request check's remote catalog against a real `sextant serve` over a catalog crawled
//! from real git repositories (two branches of one repository, dependents in another): lookups
//! in every spelling and by alias, the repositories a URL names, one branch's entities with
//! their fields, dependents across repositories with depth and path, and the few requests all of
//! that takes; a wrong token, nothing listening, a server that never answers and one that is not
//! GraphQL, each a clear error. In process: `entitiesByRef` (order, nulls, the 500 cap, a
//! statement count that does not grow with the list) and `reposMatching`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::Request;
use serde_json::{Value, json};
use sextant::crawler::{Origin, Source};
use sextant::graphql::{Caller, CatalogSchema, SchemaOptions, build_schema, execute_one};
use sextant::pr_check::remote::RemoteCatalog;
use sextant::pr_check::{CatalogError, CatalogRepo, DeclaredEdge};
use sextant::store::Store;

use crate::db::{crawl_into, fresh_store};
use crate::git::{TestRepo, component, group};
use crate::server::RunningServer;

const TOKEN: &str = "pr-check-remote-token";
const LEDGER_ALIAS: &str = "ari:cloud:compass:test:component/ledger";

const LEDGER: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations:
    sextant.dev/aliases: 'ari:cloud:compass:test:component/ledger'
spec:
  type: service
  lifecycle: production
  owner: payments-team
";

const PAYMENTS: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
spec:
  type: service
  lifecycle: experimental
  owner: payments-team
  system: payments
  dependsOn:
    - component:ledger
    - resource:payments-db
";

/// The crawled catalog: teams; `services` (main: ledger and payments; `feature`, an unrelated
/// history: ledger-v2); `consumers` (web depends on payments, mobile on web).
struct Crawled {
    store: Store,
    database_url: String,
    data: tempfile::TempDir,
    services: TestRepo,
    consumers: TestRepo,
    _teams: TestRepo,
}

/// Commits `files` (top-level paths) as the first commit of `branch`, unrelated to HEAD's history.
fn commit_orphan_branch(repo: &TestRepo, branch: &str, files: &[(&str, &str)]) {
    let repository = git2::Repository::open(repo.path()).expect("open the test repository");
    let mut tree = repository.treebuilder(None).expect("a tree builder");
    for (path, text) in files {
        let blob = repository.blob(text.as_bytes()).expect("a blob");
        tree.insert(path, blob, 0o100644).expect("insert a file");
    }
    let tree = repository.find_tree(tree.write().expect("write the tree")).expect("the tree");
    let signature = git2::Signature::now("test", "test@example.com").expect("a signature");
    repository
        .commit(Some(&format!("refs/heads/{branch}")), &signature, &signature, branch, &tree, &[])
        .expect("commit the branch");
}

async fn crawled() -> Crawled {
    let (store, database_url) = fresh_store().await;
    let teams = TestRepo::new();
    teams.commit(
        &[(
            "catalog-info.yaml",
            &format!("{}---\n{}", group("payments-team", None), group("search-team", None)),
        )],
        "teams",
    );
    let services = TestRepo::new();
    services.commit(
        &[("ledger/catalog-info.yaml", LEDGER), ("payments/catalog-info.yaml", PAYMENTS)],
        "services",
    );
    commit_orphan_branch(
        &services,
        "feature",
        &[("catalog-info.yaml", &component("ledger-v2", "payments-team", &[]))],
    );
    let consumers = TestRepo::new();
    consumers.commit(
        &[
            ("web/catalog-info.yaml", &component("web", "search-team", &["component:payments"])),
            ("mobile/catalog-info.yaml", &component("mobile", "search-team", &["component:web"])),
        ],
        "consumers",
    );
    let feature = Source::parse(
        &services.path().to_string_lossy(),
        Some("feature".to_owned()),
        None,
        Origin::Operator,
    )
    .expect("a local path with a branch");
    let data = tempfile::tempdir().expect("a data folder");
    crawl_into(
        &store,
        &[teams.source(), services.source(), feature, consumers.source()],
        &data.path().join("mirrors"),
    )
    .await;
    assert_eq!(
        crate::db::entity_refs(&store).await,
        [
            "component:default/ledger",
            "component:default/ledger-v2",
            "component:default/mobile",
            "component:default/payments",
            "component:default/web",
            "group:default/payments-team",
            "group:default/search-team",
        ]
    );
    Crawled {
        store,
        database_url,
        data,
        services,
        consumers,
        _teams: teams,
    }
}

fn path_of(repo: &TestRepo) -> String {
    repo.path().to_string_lossy().into_owned()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_catalog_answers_lookups_repositories_entities_and_dependents_in_few_requests() {
    let catalog = crawled().await;
    catalog.store.close().await;
    let server = RunningServer::serve(
        &catalog.database_url,
        catalog.data.path(),
        &["--crawl-interval", "0"],
        &[("SEXTANT_TOKEN", TOKEN)],
    );
    let services = path_of(&catalog.services);
    let consumers = path_of(&catalog.consumers);
    let remote = RemoteCatalog::new(&server.base, Some(TOKEN.to_owned())).expect("a remote catalog");

    // Lookups: every spelling people type, an alias, and refs the catalog does not have.
    let asked = strings(&[
        "ledger",
        "Component:Default/Ledger",
        " component:ledger ",
        LEDGER_ALIAS,
        "group:payments-team",
        "component:nowhere",
        "",
        "ari:cloud:compass:test:component/unknown",
    ]);
    let found = remote.lookup(&asked).await.expect("the lookup");
    assert_eq!(remote.requests_sent(), 1);
    let mut found_refs: Vec<(&str, &str)> = found
        .iter()
        .map(|(asked, entity)| (asked.as_str(), entity.entity_ref.as_str()))
        .collect();
    found_refs.sort();
    assert_eq!(
        found_refs,
        [
            (" component:ledger ", "component:default/ledger"),
            ("Component:Default/Ledger", "component:default/ledger"),
            (LEDGER_ALIAS, "component:default/ledger"),
            ("group:payments-team", "group:default/payments-team"),
            ("ledger", "component:default/ledger"),
        ]
    );
    let ledger = &found["ledger"];
    assert_eq!(ledger.repo, services);
    assert_eq!(ledger.branch, None);
    assert_eq!(ledger.path, "ledger/catalog-info.yaml");
    assert_eq!((ledger.line, ledger.document_index), (1, 0));
    assert_eq!(ledger.owner_ref.as_deref(), Some("group:default/payments-team"));
    assert_eq!(ledger.lifecycle.as_deref(), Some("production"));
    assert_eq!(ledger.aliases, vec![LEDGER_ALIAS], "the aliases it answers to");

    // The repository, whatever the spelling of its path; every branch of it.
    let both_branches = vec![
        CatalogRepo {
            url: services.clone(),
            branch: None,
        },
        CatalogRepo {
            url: services.clone(),
            branch: Some("feature".to_owned()),
        },
    ];
    assert_eq!(remote.repositories(&services).await.expect("the repositories"), both_branches);
    assert_eq!(remote.requests_sent(), 2);
    for spelling in [
        format!("{services}/"),
        format!("{services}.git"),
        format!("file://{services}"),
        format!("file://{services}.git/"),
    ] {
        assert_eq!(
            remote.repositories(&spelling).await.expect("the repositories"),
            both_branches,
            "{spelling}"
        );
    }
    assert_eq!(
        remote.repositories(&consumers).await.expect("the repositories"),
        [CatalogRepo {
            url: consumers.clone(),
            branch: None
        }]
    );
    for unknown in [format!("{services}-other"), "git@github.com:acme/services.git".to_owned()] {
        assert!(remote.repositories(&unknown).await.expect("an answer").is_empty(), "{unknown}");
    }

    // One branch's entities, with every field the diff compares.
    let before = remote.requests_sent();
    let main = remote
        .repository_entities(&both_branches[0])
        .await
        .expect("the main branch's entities");
    assert_eq!(remote.requests_sent(), before + 1);
    let refs: Vec<&str> = main.iter().map(|entity| entity.entity_ref.as_str()).collect();
    assert_eq!(refs, ["component:default/ledger", "component:default/payments"]);
    let payments = &main[1];
    assert_eq!(payments.path, "payments/catalog-info.yaml");
    assert_eq!(payments.branch, None);
    assert_eq!(payments.owner_ref.as_deref(), Some("group:default/payments-team"));
    assert_eq!(payments.lifecycle.as_deref(), Some("experimental"));
    assert_eq!(payments.tier, None);
    assert_eq!(payments.system_ref.as_deref(), Some("system:default/payments"));
    for edge in [
        ("dependsOn", "component:default/ledger"),
        ("dependsOn", "resource:default/payments-db"),
        ("ownedBy", "group:default/payments-team"),
    ] {
        let wanted = DeclaredEdge {
            relation_type: edge.0.to_owned(),
            target: edge.1.to_owned(),
        };
        assert!(payments.relations.contains(&wanted), "{wanted:?} in {:?}", payments.relations);
    }
    assert!(payments.relations.is_sorted(), "{:?}", payments.relations);
    let feature = remote
        .repository_entities(&both_branches[1])
        .await
        .expect("the feature branch's entities");
    let refs: Vec<(&str, Option<&str>, &str)> = feature
        .iter()
        .map(|entity| (entity.entity_ref.as_str(), entity.branch.as_deref(), entity.path.as_str()))
        .collect();
    assert_eq!(refs, [("component:default/ledger-v2", Some("feature"), "catalog-info.yaml")]);
    let nothing = CatalogRepo {
        url: format!("{services}-other"),
        branch: None,
    };
    assert!(remote.repository_entities(&nothing).await.expect("an answer").is_empty());

    // Dependents across repositories, nearest first; unknown and malformed refs have none.
    let before = remote.requests_sent();
    let dependents = remote
        .dependents(&strings(&["component:default/ledger", "component:nowhere", "", "component:mobile"]))
        .await
        .expect("the dependents");
    assert_eq!(remote.requests_sent(), before + 1, "one request, unknown refs included");
    assert_eq!(dependents.len(), 4);
    assert!(dependents["component:nowhere"].is_empty());
    assert!(dependents[""].is_empty());
    assert!(dependents["component:mobile"].is_empty(), "nothing depends on mobile");
    let of_ledger = &dependents["component:default/ledger"];
    let summary: Vec<(&str, u32, &str, Option<&str>)> = of_ledger
        .iter()
        .map(|dependent| {
            (
                dependent.entity_ref.as_str(),
                dependent.depth,
                dependent.repo.as_str(),
                dependent.owner_ref.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "component:default/payments",
                1,
                services.as_str(),
                Some("group:default/payments-team")
            ),
            ("component:default/web", 2, consumers.as_str(), Some("group:default/search-team")),
            ("component:default/mobile", 3, consumers.as_str(), Some("group:default/search-team")),
        ]
    );
    let mobile = &of_ledger[2];
    assert_eq!(
        mobile.path,
        [
            "component:default/ledger",
            "component:default/payments",
            "component:default/web",
            "component:default/mobile"
        ]
    );
    assert_eq!(
        (mobile.file.as_str(), mobile.line, mobile.branch.as_deref()),
        ("mobile/catalog-info.yaml", 1, None)
    );

    // A full chunk of refs fits the server's limits (aliases, fields, complexity).
    let many: Vec<String> = (0..45)
        .map(|index| format!("component:missing-{index}"))
        .chain(["component:payments".to_owned()])
        .collect();
    let before = remote.requests_sent();
    let answered = remote.dependents(&many).await.expect("the dependents of many refs");
    assert_eq!(remote.requests_sent(), before + 3, "at most 18 refs a request, in even chunks");
    assert_eq!(answered.len(), many.len());
    assert_eq!(answered["component:payments"].len(), 2);
    // And 600 refs are looked up in two requests.
    let before = remote.requests_sent();
    let lots: Vec<String> = (0..600)
        .map(|index| format!("component:missing-{index}"))
        .chain(["web".to_owned()])
        .collect();
    let found = remote.lookup(&lots).await.expect("a long lookup");
    assert_eq!(remote.requests_sent(), before + 2);
    assert_eq!(found.keys().collect::<Vec<_>>(), ["web"]);

    // Without a token the queries answer; a wrong one is refused.
    let anonymous = RemoteCatalog::new(&format!("{}/graphql", server.base), None).expect("a remote catalog");
    assert_eq!(anonymous.lookup(&strings(&["web"])).await.expect("an anonymous lookup").len(), 1);
    let wrong = RemoteCatalog::new(&server.base, Some("not-the-token".to_owned())).expect("a remote catalog");
    match wrong.lookup(&strings(&["web"])).await {
        Err(error @ CatalogError::Unauthorized { status: 401, .. }) => {
            assert_eq!(error.code(), "catalog-unauthorized");
            assert!(error.to_string().contains("SEXTANT_TOKEN"), "{error}");
        }
        other => panic!("a wrong token must be unauthorized: {other:?}"),
    }
}

/// A loopback listener that answers each request with `answer` (after reading the request), or
/// never answers when `answer` is `None`; its base URL.
fn fake_server(answer: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    std::thread::spawn(move || {
        let mut silent = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            match answer {
                None => silent.push(stream),
                Some(answer) => {
                    read_request(&mut stream);
                    let _ = stream.write_all(answer.as_bytes());
                }
            }
        }
    });
    base
}

/// Reads an HTTP request's head and its body (by `content-length`).
fn read_request(stream: &mut std::net::TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let Ok(read) = stream.read(&mut buffer) else { return };
        if read == 0 {
            return;
        }
        received.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&received).to_ascii_lowercase();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if received.len() >= head_end + 4 + length {
                return;
            }
        }
    }
}

fn http_answer(status: &str, content_type: &str, body: &str) -> &'static str {
    Box::leak(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_boxed_str(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_silent_or_foreign_server_is_a_clear_error() {
    let refs = strings(&["component:web"]);

    // Nothing listening: the port of a listener just closed.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        format!("http://{}", listener.local_addr().expect("its address"))
    };
    let remote = RemoteCatalog::new(&closed, None).expect("a remote catalog");
    match remote.lookup(&refs).await {
        Err(error @ CatalogError::Unreachable { .. }) => assert_eq!(error.code(), "catalog-unreachable"),
        other => panic!("nothing listening must be unreachable: {other:?}"),
    }

    // A server that accepts and never answers: unreachable within the short timeout.
    let remote = RemoteCatalog::new(&fake_server(None), None)
        .expect("a remote catalog")
        .with_timeout(Duration::from_millis(700));
    let started = Instant::now();
    match remote.repositories("/srv/repos/pay").await {
        Err(CatalogError::Unreachable { reason, .. }) => assert!(reason.contains("no answer within 0.7 s"), "{reason}"),
        other => panic!("a silent server must be unreachable: {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout took {:?}",
        started.elapsed()
    );

    // Answers that are not the catalog's.
    let html = "<html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>";
    let cases = [
        (
            http_answer("502 Bad Gateway", "text/html", html),
            "HTTP 502: <html><body><h1>502 Bad Gateway</h1> <p>nginx",
        ),
        (http_answer("200 OK", "text/html", html), "not GraphQL JSON"),
        (http_answer("200 OK", "application/json", "{\"hello\": 1}"), "not a GraphQL answer"),
        (http_answer("200 OK", "application/json", "[1, 2, 3]"), "not GraphQL JSON"),
        (
            http_answer("200 OK", "application/json", "{\"data\": {\"entitiesByRef\": \"nope\"}}"),
            "not of the expected shape",
        ),
        (
            http_answer("200 OK", "application/json", "{\"data\": {\"entitiesByRef\": []}}"),
            "0 entries for 1",
        ),
        (
            http_answer(
                "400 Bad Request",
                "application/json",
                "{\"errors\": [{\"message\": \"the query is too complex\", \"extensions\": {\"code\": \"QUERY_TOO_COMPLEX\"}}]}",
            ),
            "HTTP 400: QUERY_TOO_COMPLEX: the query is too complex",
        ),
        (
            http_answer(
                "200 OK",
                "application/json",
                &format!("{{\"data\": null, \"errors\": [{{\"message\": \"{}\"}}]}}", "x".repeat(5_000)),
            ),
            "xxx…",
        ),
        (http_answer("403 Forbidden", "text/plain", "no"), "unauthorized"),
    ];
    for (answer, expected) in cases {
        let remote = RemoteCatalog::new(&fake_server(Some(answer)), None).expect("a remote catalog");
        let error = remote.lookup(&refs).await.expect_err("a foreign answer is an error");
        match &error {
            CatalogError::Unauthorized { status, .. } => assert_eq!((*status, expected), (403, "unauthorized")),
            CatalogError::Answer { reason, .. } => {
                assert!(reason.contains(expected), "{reason} should say {expected}");
                assert!(reason.chars().count() < 400, "{} characters", reason.chars().count());
                assert_eq!(error.code(), "catalog-error");
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
}

/// A schema over `store` with the default options.
fn schema(store: &Store) -> CatalogSchema {
    build_schema(
        store.clone(),
        sextant::search::Search::new(store.clone(), &sextant::search::SearchConfig::default()).expect("the Postgres search backend"),
        &SchemaOptions::default(),
    )
}

/// Runs a query on a snapshot of its own; the answer as JSON and the statements it took.
async fn run(schema: &CatalogSchema, store: &Store, query: &str, variables: Value) -> (Value, u64) {
    let snapshot = Arc::new(store.snapshot());
    let request = Request::new(query).variables(async_graphql::Variables::from_json(variables));
    let response = execute_one(schema, snapshot.clone(), request, Caller::default()).await;
    (
        serde_json::to_value(&response).expect("a response is JSON"),
        snapshot.statement_count(),
    )
}

fn error_codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| error["extensions"]["code"].as_str().unwrap_or("<none>").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn entities_by_ref_keeps_the_order_with_nulls_in_a_few_statements() {
    let catalog = crawled().await;
    let schema = schema(&catalog.store);
    let query = "query($refs: [String!]!) { entitiesByRef(refs: $refs) {
        ref owner { ref } relations(direction: OUTGOING) { type targetRef } provenance { repo branch path }
    } }";
    let asked = json!(["payments", "nowhere", LEDGER_ALIAS, "", "LEDGER", "component:", "group:search-team"]);
    let (response, _) = run(&schema, &catalog.store, query, json!({ "refs": asked })).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    let answered = response["data"]["entitiesByRef"].as_array().cloned().unwrap_or_default();
    let refs: Vec<Value> = answered.iter().map(|entity| entity["ref"].clone()).collect();
    assert_eq!(
        refs,
        [
            json!("component:default/payments"),
            Value::Null,
            json!("component:default/ledger"),
            Value::Null,
            json!("component:default/ledger"),
            Value::Null,
            json!("group:default/search-team"),
        ]
    );
    assert_eq!(answered[0]["owner"]["ref"], "group:default/payments-team");
    assert_eq!(answered[2]["provenance"]["path"], "ledger/catalog-info.yaml");

    // The statements do not grow with the list (aliases and unknown refs included).
    let short: Vec<String> = vec!["payments".to_owned(), LEDGER_ALIAS.to_owned(), "nowhere".to_owned()];
    let long: Vec<String> = short
        .iter()
        .cloned()
        .chain((0..497).map(|index| {
            if index % 2 == 0 {
                format!("component:missing-{index}")
            } else {
                format!("ari:missing:{index}")
            }
        }))
        .collect();
    let (short_answer, short_statements) = run(&schema, &catalog.store, query, json!({ "refs": short })).await;
    let (long_answer, long_statements) = run(&schema, &catalog.store, query, json!({ "refs": long })).await;
    assert!(
        long_answer.get("errors").is_none(),
        "500 refs with a modest selection are accepted: {long_answer:#}"
    );
    let long_list = long_answer["data"]["entitiesByRef"].as_array().cloned().unwrap_or_default();
    assert_eq!(long_list.len(), 500);
    assert!(long_list[3..].iter().all(Value::is_null));
    assert_eq!(Value::Array(long_list[..3].to_vec()), short_answer["data"]["entitiesByRef"]);
    assert_eq!(short_statements, long_statements, "the statement count grows with the list");
    assert!(long_statements <= 8, "{long_statements} statements");

    // More than 500 refs are refused before any work.
    let too_many: Vec<String> = (0..501).map(|index| format!("component:c-{index}")).collect();
    let (refused, _) = run(
        &schema,
        &catalog.store,
        "query($refs: [String!]!) { entitiesByRef(refs: $refs) { ref } }",
        json!({ "refs": too_many }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["PAGE_TOO_LARGE"], "{refused:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn repos_matching_finds_every_branch_of_a_repository_whatever_its_spelling() {
    let catalog = crawled().await;
    let schema = schema(&catalog.store);
    let services = path_of(&catalog.services);
    let query = "query($url: String!) { reposMatching(url: $url) { url branch entityCount status } }";
    for spelling in [services.clone(), format!("{services}.git/"), format!("file://{services}")] {
        let (response, _) = run(&schema, &catalog.store, query, json!({ "url": spelling })).await;
        assert_eq!(
            response["data"]["reposMatching"],
            json!([
                { "url": services, "branch": null, "entityCount": 2, "status": "ok" },
                { "url": services, "branch": "feature", "entityCount": 1, "status": "ok" },
            ]),
            "{spelling}: {response:#}"
        );
    }
    let (response, _) = run(&schema, &catalog.store, query, json!({ "url": "https://github.com/acme/services" })).await;
    assert_eq!(response["data"]["reposMatching"], json!([]));
    let (response, _) = run(&schema, &catalog.store, query, json!({ "url": "  " })).await;
    assert_eq!(error_codes(&response), ["BAD_REQUEST"]);
}
