//! The graph and health queries of the GraphQL API in process (through `sextant::graphql::execute`),
//! against a real Postgres catalog crawled from real git repositories: a chain, a diamond and
//! cycles; walks both ways, depth and node caps, every edge between the nodes; impact grouped by
//! owner with risky edges; paths; each problem list page by page; repositories, crawl runs and
//! statistics with exact figures.

use std::collections::BTreeSet;

use async_graphql::{BatchRequest, BatchResponse, Request};
use serde_json::{Value, json};
use sextant::graphql::{Caller, CatalogSchema, SchemaOptions, build_schema, execute};
use sextant::store::Store;

use crate::db::{crawl_into, fresh_store};
use crate::git::TestRepo;

/// Runs one query as the HTTP layer would and returns the response as JSON.
async fn run(schema: &CatalogSchema, store: &Store, query: &str, variables: Value) -> Value {
    let request = Request::new(query).variables(async_graphql::Variables::from_json(variables));
    match execute(schema, store, BatchRequest::Single(request), Caller::default()).await {
        BatchResponse::Single(response) => serde_json::to_value(&response).expect("a response is JSON"),
        BatchResponse::Batch(_) => panic!("one request gives one response"),
    }
}

/// The data of a response that must have no errors.
fn data(response: &Value) -> &Value {
    assert!(response.get("errors").is_none(), "unexpected errors: {response:#}");
    &response["data"]
}

/// The codes of a response's errors.
fn error_codes(response: &Value) -> Vec<String> {
    response["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|error| error["extensions"]["code"].as_str().unwrap_or("<none>").to_owned())
        .collect()
}

/// The strings of a JSON array.
fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap_or_else(|| panic!("a string: {item}")).to_owned())
        .collect()
}

/// `field` of each item of a JSON array.
fn each(value: &Value, field: &str) -> Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|item| item[field].clone())
        .collect()
}

/// A Component descriptor.
fn component(name: &str, lifecycle: &str, owner: &str, depends_on: &[&str], extra: &str) -> String {
    let depends_on = if depends_on.is_empty() {
        String::new()
    } else {
        format!("  dependsOn: [{}]\n", depends_on.join(", "))
    };
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: {lifecycle}\n  owner: {owner}\n{depends_on}{extra}"
    )
}

const TEAMS: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: search
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jane
spec:
  memberOf: [payments]
";

const APIS: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders-api
spec:
  type: openapi
  lifecycle: production
  owner: search
  definition: 'openapi: 3.0.0'
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: ledger-db
  annotations:
    sextant.dev/aliases: 'ari:shared-one, ari:shared-two'
spec:
  type: database
  owner: payments
";

/// The example catalog (four repositories) crawled into a fresh database, twice (the second
/// crawl changes nothing).
///
/// - chain and diamond: web → checkout → {ledger, fraud} → ledger-db; web consumes orders-api,
///   which orders-service (deprecated) provides; fraud is experimental
/// - cycles: loop-a → loop-b → loop-c → loop-a, and ping ↔ pong
/// - lonely and stray have owners not in the catalog; misowned and misowned-too are owned by a
///   component and a resource; web and checkout are defined again in `dup`; ledger-db and
///   orders-service share two aliases; `dup` and `broken` hold invalid files
struct Catalog {
    store: Store,
    schema: CatalogSchema,
    repos: Vec<TestRepo>,
    _mirrors: tempfile::TempDir,
}

async fn catalog() -> Catalog {
    let (store, _) = fresh_store().await;
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", TEAMS)], "teams");
    let services = TestRepo::new();
    let documents = [
        component(
            "web",
            "production",
            "payments",
            &["component:checkout", "component:missing"],
            "  consumesApis: [orders-api]\n",
        ),
        component("checkout", "production", "payments", &["component:ledger", "component:fraud"], ""),
        component("ledger", "production", "search", &["resource:ledger-db"], ""),
        component("fraud", "experimental", "user:jane", &["resource:ledger-db"], ""),
        component("lonely", "production", "ghost-team", &["resource:ledger-db"], ""),
        component("stray", "experimental", "nobody", &[], ""),
        component("misowned", "production", "component:web", &[], ""),
        component("misowned-too", "production", "resource:ledger-db", &[], ""),
        component("loop-a", "production", "payments", &["component:loop-b"], ""),
        component("loop-b", "production", "payments", &["component:loop-c"], ""),
        component("loop-c", "production", "payments", &["component:loop-a"], ""),
        component("ping", "production", "search", &["component:pong"], ""),
        component("pong", "production", "search", &["component:ping"], ""),
    ];
    let orders_service = component("orders-service", "deprecated", "search", &[], "  providesApis: [orders-api]\n").replace(
        "  name: orders-service\n",
        "  name: orders-service\n  annotations:\n    sextant.dev/aliases: 'ari:shared-one, ari:shared-two'\n",
    );
    services.commit(
        &[
            ("catalog-info.yaml", &documents.join("---\n")),
            ("orders/catalog-info.yaml", &orders_service),
            ("apis/catalog-info.yaml", APIS),
        ],
        "services",
    );
    let dup = TestRepo::new();
    dup.commit(
        &[
            (
                "catalog-info.yaml",
                &[
                    component("checkout", "production", "search", &[], ""),
                    component("web", "production", "search", &[], ""),
                ]
                .join("---\n"),
            ),
            (
                "broken/catalog-info.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {}\n",
            ),
        ],
        "duplicates",
    );
    let broken = TestRepo::new();
    broken.commit(
        &[
            ("a/catalog-info.yaml", "kind: [unclosed\n"),
            (
                "b/catalog-info.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Not Valid!\n",
            ),
        ],
        "broken",
    );
    let repos = vec![teams, services, dup, broken];
    let sources: Vec<_> = repos.iter().map(TestRepo::source).collect();
    let mirrors = tempfile::tempdir().expect("a mirrors folder");
    crawl_into(&store, &sources, mirrors.path()).await;
    crawl_into(&store, &sources, mirrors.path()).await;
    let schema = build_schema(
        store.clone(),
        sextant::search::Search::new(store.clone(), &sextant::search::SearchConfig::default()).expect("the Postgres search backend"),
        &SchemaOptions::default(),
    );
    Catalog {
        store,
        schema,
        repos,
        _mirrors: mirrors,
    }
}

impl Catalog {
    async fn query(&self, query: &str, variables: Value) -> Value {
        run(&self.schema, &self.store, query, variables).await
    }
}

const DEPENDENCIES: &str = "query($ref: String!, $direction: Direction, $depth: Int, $types: [String!], $first: Int) {
  dependencies(ref: $ref, direction: $direction, depth: $depth, relationTypes: $types, first: $first) {
    root { ref }
    nodes { entity { ref } depth path }
    edges { from to type }
    truncated
  }
}";

/// The nodes of a `dependencies` answer as (ref, depth), in order.
fn nodes(answer: &Value) -> Vec<(String, i64)> {
    answer["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            (
                node["entity"]["ref"].as_str().expect("a ref").to_owned(),
                node["depth"].as_i64().expect("a depth"),
            )
        })
        .collect()
}

fn named(pairs: &[(&str, i64)]) -> Vec<(String, i64)> {
    pairs.iter().map(|(name, depth)| ((*name).to_owned(), *depth)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn dependencies_walk_a_chain_a_diamond_and_cycles_both_ways() {
    let catalog = catalog().await;
    let answer = catalog.query(DEPENDENCIES, json!({ "ref": "web", "depth": 3 })).await;
    let walk = &data(&answer)["dependencies"];
    assert_eq!(walk["root"]["ref"], "component:default/web");
    assert_eq!(
        nodes(walk),
        named(&[
            ("api:default/orders-api", 1),
            ("component:default/checkout", 1),
            ("component:default/fraud", 2),
            ("component:default/ledger", 2),
            ("component:default/orders-service", 2),
            ("resource:default/ledger-db", 3),
        ]),
        "breadth first; the diamond's bottom once; an API depends on its provider: {walk:#}"
    );
    let ledger_db = walk["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["entity"]["ref"] == "resource:default/ledger-db")
        .unwrap();
    assert_eq!(
        strings(&ledger_db["path"]),
        vec![
            "component:default/web",
            "component:default/checkout",
            "component:default/fraud",
            "resource:default/ledger-db"
        ]
    );
    assert_eq!(walk["truncated"], false);

    // Depth 1: direct dependencies only.
    let direct = catalog.query(DEPENDENCIES, json!({ "ref": "Component:Default/WEB " })).await;
    assert_eq!(
        nodes(&data(&direct)["dependencies"]),
        named(&[("api:default/orders-api", 1), ("component:default/checkout", 1)]),
        "the default depth is 1; refs in any case and with spaces"
    );

    // Incoming: what depends on the diamond's bottom.
    let incoming = catalog
        .query(
            DEPENDENCIES,
            json!({ "ref": "resource:ledger-db", "direction": "INCOMING", "depth": 5 }),
        )
        .await;
    assert_eq!(
        nodes(&data(&incoming)["dependencies"]),
        named(&[
            ("component:default/fraud", 1),
            ("component:default/ledger", 1),
            ("component:default/lonely", 1),
            ("component:default/checkout", 2),
            ("component:default/web", 3),
        ])
    );

    // A cycle ends the walk; the edge back to the root is listed.
    let looped = catalog.query(DEPENDENCIES, json!({ "ref": "loop-a", "depth": 20 })).await;
    let looped = &data(&looped)["dependencies"];
    assert_eq!(
        nodes(looped),
        named(&[("component:default/loop-b", 1), ("component:default/loop-c", 2)])
    );
    assert!(
        looped["edges"]
            .as_array()
            .unwrap()
            .contains(&json!({ "from": "component:default/loop-c", "to": "component:default/loop-a", "type": "dependsOn" })),
        "{looped:#}"
    );

    // Any relation type: what a team owns, and the owner of an entity.
    let owned = catalog
        .query(
            DEPENDENCIES,
            json!({ "ref": "group:search", "direction": "INCOMING", "types": ["ownerOf"] }),
        )
        .await;
    let owned: BTreeSet<String> = nodes(&data(&owned)["dependencies"]).into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        owned,
        [
            "api:default/orders-api",
            "component:default/ledger",
            "component:default/orders-service",
            "component:default/ping",
            "component:default/pong",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect(),
        "ownedBy and ownerOf name one fact; the duplicates in `dup` lost their conflict"
    );
    let owner = catalog.query(DEPENDENCIES, json!({ "ref": "fraud", "types": ["ownedBy"] })).await;
    assert_eq!(nodes(&data(&owner)["dependencies"]), named(&[("user:default/jane", 1)]));

    let unknown_type = catalog.query(DEPENDENCIES, json!({ "ref": "web", "types": ["dependsOnn"] })).await;
    assert_eq!(error_codes(&unknown_type), vec!["BAD_REQUEST"], "{unknown_type}");
    let unknown_ref = catalog.query(DEPENDENCIES, json!({ "ref": "no-such-service" })).await;
    assert_eq!(error_codes(&unknown_ref), vec!["NOT_FOUND"], "{unknown_ref}");
}

#[tokio::test(flavor = "multi_thread")]
async fn depth_and_node_caps_hold_and_the_cap_says_so() {
    let catalog = catalog().await;
    let capped = catalog.query(DEPENDENCIES, json!({ "ref": "web", "depth": 3, "first": 2 })).await;
    let capped = &data(&capped)["dependencies"];
    assert_eq!(
        nodes(capped),
        named(&[("api:default/orders-api", 1), ("component:default/checkout", 1)])
    );
    assert_eq!(capped["truncated"], true);
    assert!(
        capped["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|edge| edge["from"] == "component:default/web"),
        "edges only between returned nodes: {capped:#}"
    );

    let exact = catalog.query(DEPENDENCIES, json!({ "ref": "web", "depth": 3, "first": 6 })).await;
    assert_eq!(data(&exact)["dependencies"]["nodes"].as_array().map(Vec::len), Some(6));
    assert_eq!(
        data(&exact)["dependencies"]["truncated"],
        false,
        "a cap met exactly leaves nothing out"
    );
    let five = catalog.query(DEPENDENCIES, json!({ "ref": "web", "depth": 3, "first": 5 })).await;
    assert_eq!(data(&five)["dependencies"]["truncated"], true, "the last one left out");

    let shallow = catalog.query(DEPENDENCIES, json!({ "ref": "web", "depth": 2 })).await;
    assert_eq!(data(&shallow)["dependencies"]["nodes"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        data(&shallow)["dependencies"]["truncated"],
        false,
        "the depth limit is not a truncation"
    );

    for (variables, code) in [
        (json!({ "ref": "web", "depth": 21 }), "BAD_REQUEST"),
        (json!({ "ref": "web", "depth": 0 }), "BAD_REQUEST"),
        (json!({ "ref": "web", "first": 501 }), "PAGE_TOO_LARGE"),
        (json!({ "ref": "web", "first": -1 }), "PAGE_TOO_LARGE"),
    ] {
        let refused = catalog.query(DEPENDENCIES, variables.clone()).await;
        assert_eq!(error_codes(&refused), vec![code], "{variables}: {refused}");
    }
    let impact = catalog
        .query("{ impact(ref: \"ledger-db\", first: 99999999) { truncated } }", json!({}))
        .await;
    assert_eq!(error_codes(&impact), vec!["PAGE_TOO_LARGE"], "{impact}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_edge_between_the_returned_nodes_is_listed() {
    let catalog = catalog().await;
    for (variables, types) in [
        (
            json!({ "ref": "web", "depth": 5 }),
            vec!["dependsOn", "dependencyOf", "consumesApi", "providesApi"],
        ),
        (
            json!({ "ref": "resource:ledger-db", "direction": "INCOMING", "depth": 5 }),
            vec!["dependsOn", "dependencyOf", "consumesApi", "providesApi"],
        ),
        (
            json!({ "ref": "group:payments", "direction": "INCOMING", "depth": 3, "types": ["ownedBy", "dependsOn"] }),
            vec!["ownedBy", "dependsOn", "dependencyOf"],
        ),
    ] {
        let answer = catalog.query(DEPENDENCIES, variables.clone()).await;
        let walk = &data(&answer)["dependencies"];
        let mut members: Vec<String> = nodes(walk).into_iter().map(|(name, _)| name).collect();
        members.push(walk["root"]["ref"].as_str().unwrap().to_owned());
        // The oracle: the declared relations among those entities, straight from the tables.
        let expected: BTreeSet<(String, String, String)> = sqlx::query_as(
            "SELECT s.entity_ref, t.entity_ref, r.type FROM relations r
             JOIN entities s ON s.id = r.source_id JOIN entities t ON t.id = r.target_id
             WHERE s.entity_ref = ANY($1) AND t.entity_ref = ANY($1) AND r.type = ANY($2)",
        )
        .bind(&members)
        .bind(&types)
        .fetch_all(catalog.store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
        let listed: BTreeSet<(String, String, String)> = walk["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| {
                (
                    edge["from"].as_str().unwrap().to_owned(),
                    edge["to"].as_str().unwrap().to_owned(),
                    edge["type"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(expected.len() >= members.len() - 1, "the walk's own edges at least: {expected:?}");
        assert_eq!(listed, expected, "{variables}");
    }
}

const IMPACT: &str = "query($ref: String!) {
  impact(ref: $ref) {
    root { ref }
    nodes { entity { ref } depth path ownerRef risky riskReason }
    byOwner { owner { ref } ownerRef entities { ref } riskyCount }
    edges { from to type dependent dependency risky riskReason }
    riskyCount
    truncated
  }
}";

#[tokio::test(flavor = "multi_thread")]
async fn impact_groups_dependents_by_owner_and_flags_risky_edges() {
    let catalog = catalog().await;
    let answer = catalog.query(IMPACT, json!({ "ref": "resource:ledger-db" })).await;
    let impact = &data(&answer)["impact"];
    assert_eq!(impact["root"]["ref"], "resource:default/ledger-db");
    let groups: Vec<(Value, Value, Vec<String>)> = impact["byOwner"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| {
            let mut members: Vec<String> = each(&group["entities"], "ref")
                .iter()
                .map(|name| name.as_str().unwrap().to_owned())
                .collect();
            members.sort();
            (group["owner"]["ref"].clone(), group["ownerRef"].clone(), members)
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            (
                json!(null),
                json!("group:default/ghost-team"),
                vec!["component:default/lonely".to_owned()]
            ),
            (
                json!("group:default/payments"),
                json!("group:default/payments"),
                vec!["component:default/checkout".to_owned(), "component:default/web".to_owned()]
            ),
            (
                json!("group:default/search"),
                json!("group:default/search"),
                vec!["component:default/ledger".to_owned()]
            ),
            (
                json!("user:default/jane"),
                json!("user:default/jane"),
                vec!["component:default/fraud".to_owned()]
            ),
        ],
        "{impact:#}"
    );
    let node = |name: &str| -> Value {
        impact["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|node| node["entity"]["ref"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {impact:#}"))
    };
    let checkout = node("component:default/checkout");
    assert_eq!(checkout["risky"], true, "production checkout depends on experimental fraud");
    assert_eq!(
        checkout["riskReason"],
        "component:default/checkout is production and depends on component:default/fraud, which is experimental"
    );
    assert_eq!(checkout["depth"], 2);
    let ledger = node("component:default/ledger");
    assert_eq!(
        (ledger["risky"].clone(), ledger["riskReason"].clone()),
        (json!(false), json!(null)),
        "ledger-db has no lifecycle"
    );
    assert_eq!(node("component:default/web")["risky"], false, "web depends on production checkout");
    assert_eq!(node("component:default/web")["depth"], 3);
    assert_eq!(impact["riskyCount"], 1);
    let risky_edges: Vec<(Value, Value)> = impact["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|edge| edge["risky"] == true)
        .map(|edge| (edge["dependent"].clone(), edge["dependency"].clone()))
        .collect();
    assert_eq!(
        risky_edges,
        vec![(json!("component:default/checkout"), json!("component:default/fraud"))]
    );
    assert_eq!(impact["truncated"], false);

    // An API depends on its provider: a production API on a deprecated provider is risky,
    // and its consumer (production on production) is not.
    let answer = catalog.query(IMPACT, json!({ "ref": "orders-service" })).await;
    let impact = &data(&answer)["impact"];
    let flagged: Vec<(Value, i64, Value)> = impact["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            (
                node["entity"]["ref"].clone(),
                node["depth"].as_i64().unwrap(),
                node["risky"].clone(),
            )
        })
        .collect();
    assert_eq!(
        flagged,
        vec![
            (json!("api:default/orders-api"), 1, json!(true)),
            (json!("component:default/web"), 2, json!(false)),
        ]
    );
    let edge = &impact["edges"][0];
    assert_eq!(
        (edge["from"].clone(), edge["to"].clone(), edge["type"].clone()),
        (
            json!("component:default/orders-service"),
            json!("api:default/orders-api"),
            json!("providesApi")
        ),
        "edges as declared: {impact:#}"
    );
    assert_eq!(edge["dependent"], "api:default/orders-api");
}

const PATH: &str = "query($from: String!, $to: String!) {
  path(from: $from, to: $to) { refs entities { ref } steps { from to type } length }
}";

#[tokio::test(flavor = "multi_thread")]
async fn path_finds_the_shortest_chain_or_answers_null() {
    let catalog = catalog().await;
    let answer = catalog.query(PATH, json!({ "from": "web", "to": "orders-service" })).await;
    let path = &data(&answer)["path"];
    assert_eq!(
        strings(&path["refs"]),
        vec![
            "component:default/web",
            "api:default/orders-api",
            "component:default/orders-service"
        ]
    );
    assert_eq!(
        each(&path["entities"], "ref"),
        vec![
            json!("component:default/web"),
            json!("api:default/orders-api"),
            json!("component:default/orders-service")
        ]
    );
    assert_eq!(
        path["steps"],
        json!([
            { "from": "component:default/web", "to": "api:default/orders-api", "type": "consumesApi" },
            { "from": "component:default/orders-service", "to": "api:default/orders-api", "type": "providesApi" },
        ])
    );
    assert_eq!(path["length"], 2);

    let same = catalog.query(PATH, json!({ "from": "web", "to": "component:default/web" })).await;
    assert_eq!(data(&same)["path"]["length"], 0);
    let none = catalog.query(PATH, json!({ "from": "stray", "to": "web" })).await;
    assert_eq!(data(&none)["path"], json!(null), "stray has no relation that resolves");
    let unknown = catalog.query(PATH, json!({ "from": "stray", "to": "nowhere" })).await;
    assert_eq!(error_codes(&unknown), vec!["NOT_FOUND"]);
}

/// Each problem list: its field, the fields to read of a node, and how to name a node.
const PROBLEM_LISTS: &[(&str, &str)] = &[
    (
        "conflicts",
        "ref holder { repo branch path line } claimant { repo branch path line }",
    ),
    (
        "danglingReferences",
        "sourceRef type target place { repo path line } source { ref }",
    ),
    ("orphans", "ref ownerRef entity { ref }"),
    ("invalidOwners", "ref ownerRef ownerKind owner { ref }"),
    ("duplicateAliases", "alias refs"),
    ("cycles", "refs"),
    ("staleRepos", "url branch status error"),
    ("invalidFiles", "repo path errorCount problem diagnostics { code severity line }"),
];

#[tokio::test(flavor = "multi_thread")]
async fn each_problem_list_is_exact_and_pages_through_with_cursors() {
    let catalog = catalog().await;
    let mut whole = serde_json::Map::new();
    for (list, fields) in PROBLEM_LISTS {
        let query = format!(
            "query($first: Int, $after: String) {{ problems {{ {list}(first: $first, after: $after) {{
                totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} edges {{ cursor node {{ {fields} }} }} nodes {{ {fields} }}
            }} }} }}"
        );
        let all = catalog.query(&query, json!({ "first": 100 })).await;
        let all = data(&all)["problems"][list].clone();
        let items = all["nodes"].as_array().unwrap().clone();
        assert!(items.len() >= 2, "{list}: at least two, to page through: {all:#}");
        assert_eq!(all["totalCount"], items.len(), "{list}");
        assert_eq!(all["pageInfo"]["hasNextPage"], false, "{list}");
        // One at a time, following the cursors.
        let mut paged = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = catalog.query(&query, json!({ "first": 1, "after": after })).await;
            let page = data(&page)["problems"][list].clone();
            assert_eq!(page["totalCount"], items.len(), "{list}");
            assert_eq!(page["pageInfo"]["hasPreviousPage"], !after.is_null(), "{list}");
            paged.extend(page["nodes"].as_array().unwrap().iter().cloned());
            assert!(paged.len() <= items.len(), "{list}: pages never repeat");
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(paged, items, "{list}: the pages make the whole list");
        whole.insert((*list).to_owned(), Value::Array(items));
    }

    let services = catalog.repos[1].source().url;
    let dup = catalog.repos[2].source().url;
    let broken = catalog.repos[3].source().url;
    assert_eq!(
        whole["conflicts"],
        json!([
            { "ref": "component:default/checkout",
              "holder": { "repo": services, "branch": null, "path": "catalog-info.yaml", "line": 12 },
              "claimant": { "repo": dup, "branch": null, "path": "catalog-info.yaml", "line": 1 } },
            { "ref": "component:default/web",
              "holder": { "repo": services, "branch": null, "path": "catalog-info.yaml", "line": 1 },
              "claimant": { "repo": dup, "branch": null, "path": "catalog-info.yaml", "line": 10 } },
        ]),
        "both sources named: repository, branch, path, line"
    );
    let dangling: Vec<(Value, Value, Value)> = whole["danglingReferences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["sourceRef"].clone(), row["type"].clone(), row["target"].clone()))
        .collect();
    assert_eq!(
        dangling,
        vec![
            (
                json!("component:default/lonely"),
                json!("ownedBy"),
                json!("group:default/ghost-team")
            ),
            (json!("component:default/stray"), json!("ownedBy"), json!("group:default/nobody")),
            (
                json!("component:default/web"),
                json!("dependsOn"),
                json!("component:default/missing")
            ),
        ]
    );
    assert_eq!(
        whole["danglingReferences"][2]["place"],
        json!({ "repo": services, "path": "catalog-info.yaml", "line": 9 })
    );
    assert_eq!(whole["danglingReferences"][2]["source"]["ref"], "component:default/web");
    assert_eq!(
        whole["orphans"],
        json!([
            { "ref": "component:default/lonely", "ownerRef": "group:default/ghost-team", "entity": { "ref": "component:default/lonely" } },
            { "ref": "component:default/stray", "ownerRef": "group:default/nobody", "entity": { "ref": "component:default/stray" } },
        ])
    );
    assert_eq!(
        whole["invalidOwners"],
        json!([
            { "ref": "component:default/misowned", "ownerRef": "component:default/web", "ownerKind": "component", "owner": { "ref": "component:default/web" } },
            { "ref": "component:default/misowned-too", "ownerRef": "resource:default/ledger-db", "ownerKind": "resource", "owner": { "ref": "resource:default/ledger-db" } },
        ])
    );
    assert_eq!(
        whole["duplicateAliases"],
        json!([
            { "alias": "ari:shared-one", "refs": ["component:default/orders-service", "resource:default/ledger-db"] },
            { "alias": "ari:shared-two", "refs": ["component:default/orders-service", "resource:default/ledger-db"] },
        ])
        .as_array()
        .map(|expected| {
            // The refs come in the order the entities were stored; compare them as sets.
            let actual = whole["duplicateAliases"].as_array().unwrap();
            assert_eq!(actual.len(), expected.len());
            for (actual, expected) in actual.iter().zip(expected) {
                assert_eq!(actual["alias"], expected["alias"]);
                let mut refs = strings(&actual["refs"]);
                refs.sort();
                assert_eq!(refs, strings(&expected["refs"]));
            }
            whole["duplicateAliases"].clone()
        })
        .unwrap()
    );
    assert_eq!(
        whole["cycles"],
        json!([
            { "refs": ["component:default/loop-a", "component:default/loop-b", "component:default/loop-c"] },
            { "refs": ["component:default/ping", "component:default/pong"] },
        ])
    );
    let stale: Vec<Value> = each(&whole["staleRepos"], "url");
    let mut expected_stale = vec![json!(dup), json!(broken)];
    expected_stale.sort_by(|left, right| left.as_str().cmp(&right.as_str()));
    assert_eq!(
        stale, expected_stale,
        "the repositories with unusable files: {:#}",
        whole["staleRepos"]
    );
    let files: BTreeSet<(String, String)> = whole["invalidFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| (file["repo"].as_str().unwrap().to_owned(), file["path"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        files,
        BTreeSet::from([
            (broken.clone(), "a/catalog-info.yaml".to_owned()),
            (broken.clone(), "b/catalog-info.yaml".to_owned()),
            (dup.clone(), "broken/catalog-info.yaml".to_owned()),
        ])
    );
    for file in whole["invalidFiles"].as_array().unwrap() {
        let errors = file["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|diagnostic| diagnostic["severity"] == "ERROR")
            .count();
        assert!(errors >= 1, "an invalid file shows its errors: {file:#}");
        assert_eq!(file["errorCount"], errors, "{file:#}");
    }

    let bad_cursor = catalog
        .query("{ problems { orphans(after: \"not-a-cursor\") { totalCount } } }", json!({}))
        .await;
    assert_eq!(error_codes(&bad_cursor), vec!["BAD_REQUEST"], "{bad_cursor}");
    let too_many = catalog.query("{ problems { cycles(first: 501) { totalCount } } }", json!({})).await;
    assert_eq!(error_codes(&too_many), vec!["PAGE_TOO_LARGE"], "{too_many}");
}

const REPOS: &str = "query($first: Int, $after: String) {
  repos(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { url branch name status tip lastCrawledAt lastError entityCount diagnosticCount unusableFileCount conflictCount
            diagnostics { path diagnostic { code severity line } } }
  }
}";

#[tokio::test(flavor = "multi_thread")]
async fn repos_and_crawl_runs_show_the_state_of_each_source() {
    let catalog = catalog().await;
    let first = catalog.query(REPOS, json!({ "first": 2 })).await;
    let first = &data(&first)["repos"];
    assert_eq!(first["totalCount"], 4);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let rest = catalog
        .query(REPOS, json!({ "first": 2, "after": first["pageInfo"]["endCursor"] }))
        .await;
    let rest = &data(&rest)["repos"];
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    let repos: Vec<Value> = first["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["nodes"].as_array().unwrap())
        .cloned()
        .collect();
    let urls: Vec<String> = repos.iter().map(|repo| repo["url"].as_str().unwrap().to_owned()).collect();
    let mut sorted = urls.clone();
    sorted.sort();
    assert_eq!(urls, sorted, "by URL");
    let repo = |index: usize| -> &Value {
        let url = catalog.repos[index].source().url;
        repos.iter().find(|repo| repo["url"] == url.as_str()).unwrap()
    };
    let services = repo(1);
    assert_eq!(services["status"], "ok");
    assert_eq!(
        services["entityCount"], 16,
        "13 components, orders-service, the API and the database"
    );
    assert_eq!(services["branch"], json!(null));
    let tip: String = sqlx::query_scalar("SELECT last_commit FROM repos WHERE url = $1")
        .bind(catalog.repos[1].source().url)
        .fetch_one(catalog.store.pool())
        .await
        .unwrap();
    assert_eq!(services["tip"], tip.as_str());
    assert_eq!(services["tip"].as_str().map(str::len), Some(40));
    assert!(services["lastCrawledAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(services["diagnostics"], json!([]));
    assert_eq!(repo(0)["entityCount"], 3);
    let broken = repo(3);
    assert_eq!(broken["status"], "stale");
    assert_eq!(broken["entityCount"], 0);
    assert_eq!(broken["unusableFileCount"], 2);
    let diagnostics = broken["diagnostics"].as_array().unwrap();
    assert_eq!(broken["diagnosticCount"], diagnostics.len(), "{broken:#}");
    assert!(diagnostics.iter().any(|diagnostic| diagnostic["path"] == "a/catalog-info.yaml"));
    assert!(diagnostics.iter().any(|diagnostic| diagnostic["path"] == "b/catalog-info.yaml"));
    assert!(
        diagnostics
            .iter()
            .all(|diagnostic| diagnostic["diagnostic"]["code"].as_str().is_some_and(|code| code.starts_with('S')))
    );
    let dup = repo(2);
    assert_eq!((dup["entityCount"].clone(), dup["conflictCount"].clone()), (json!(0), json!(2)));

    let runs = catalog
        .query(
            "{ crawlRuns(first: 5) { startedAt finishedAt reposCrawled reposUnchanged reposFailed entitiesAdded entitiesUpdated entitiesRemoved conflicts } }",
            json!({}),
        )
        .await;
    let runs = data(&runs)["crawlRuns"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 2, "two crawls: {runs:?}");
    assert_eq!(
        (runs[0]["reposUnchanged"].clone(), runs[0]["entitiesAdded"].clone()),
        (json!(4), json!(0)),
        "the newest first: nothing changed"
    );
    assert_eq!(runs[1]["entitiesAdded"], 19, "the first crawl added the catalog");
    assert_eq!(runs[1]["conflicts"], 2);
    assert!(runs[1]["startedAt"].as_str().unwrap() <= runs[0]["startedAt"].as_str().unwrap());
    let refused = catalog.query("{ crawlRuns(first: 501) { startedAt } }", json!({})).await;
    assert_eq!(error_codes(&refused), vec!["PAGE_TOO_LARGE"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_count_kinds_types_lifecycles_and_owner_coverage() {
    let catalog = catalog().await;
    let answer = catalog
        .query(
            "{ stats { entityCount byKind { value count } byType { kind type count } byLifecycle { value count }
                       ownerCoverage { covered total ratio } } }",
            json!({}),
        )
        .await;
    let stats = &data(&answer)["stats"];
    assert_eq!(stats["entityCount"], 19);
    assert_eq!(
        stats["byKind"],
        json!([
            { "value": "api", "count": 1 },
            { "value": "component", "count": 14 },
            { "value": "group", "count": 2 },
            { "value": "resource", "count": 1 },
            { "value": "user", "count": 1 },
        ])
    );
    assert_eq!(
        stats["byType"],
        json!([
            { "kind": "api", "type": "openapi", "count": 1 },
            { "kind": "component", "type": "service", "count": 14 },
            { "kind": "group", "type": "team", "count": 2 },
            { "kind": "resource", "type": "database", "count": 1 },
            { "kind": "user", "type": null, "count": 1 },
        ])
    );
    assert_eq!(
        stats["byLifecycle"],
        json!([
            { "value": "deprecated", "count": 1 },
            { "value": "experimental", "count": 2 },
            { "value": "production", "count": 12 },
            { "value": null, "count": 4 },
        ])
    );
    // 14 components: lonely and stray have no owner in the catalog, misowned and misowned-too
    // are owned by a component and a resource.
    assert_eq!(stats["ownerCoverage"], json!({ "covered": 10, "total": 14, "ratio": 10.0 / 14.0 }));
}

#[tokio::test(flavor = "multi_thread")]
async fn walks_in_memory_and_in_the_database_agree() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    let clients: String = (0..300)
        .map(|index| {
            let dependency = if index % 2 == 0 { "component:hub" } else { "component:relay" };
            format!(
                "---\n{}",
                component(&format!("client-{index:03}"), "production", "payments", &[dependency], "")
            )
        })
        .collect();
    repo.commit(
        &[
            ("teams/catalog-info.yaml", TEAMS),
            ("hub/catalog-info.yaml", &component("hub", "deprecated", "search", &[], "")),
            (
                "relay/catalog-info.yaml",
                &component("relay", "production", "search", &["component:hub"], ""),
            ),
            ("clients/catalog-info.yaml", clients.trim_start_matches("---\n")),
        ],
        "one",
    );
    let mirrors = tempfile::tempdir().unwrap();
    crawl_into(&store, &[repo.source()], mirrors.path()).await;
    let schema = build_schema(
        store.clone(),
        sextant::search::Search::new(store.clone(), &sextant::search::SearchConfig::default()).expect("the Postgres search backend"),
        &SchemaOptions::default(),
    );
    let queries = [
        (
            DEPENDENCIES,
            json!({ "ref": "client-001", "depth": 3, "types": ["dependsOn", "ownedBy"] }),
        ),
        (
            DEPENDENCIES,
            json!({ "ref": "hub", "direction": "INCOMING", "depth": 2, "first": 40 }),
        ),
        (PATH, json!({ "from": "client-000", "to": "client-299" })),
    ];
    // Small walks read Postgres level by level while no graph is kept.
    let mut from_database = Vec::new();
    for (query, variables) in &queries {
        from_database.push(data(&run(&schema, &store, query, variables.clone()).await).clone());
    }
    // A hub's impact fans out past the frontier threshold: the graph is read and kept.
    let impact = run(&schema, &store, IMPACT, json!({ "ref": "hub" })).await;
    let impact = &data(&impact)["impact"];
    assert_eq!(impact["nodes"].as_array().map(Vec::len), Some(301));
    assert_eq!(impact["riskyCount"], 151, "relay and the 150 clients of the deprecated hub");
    assert_eq!(
        each(&impact["byOwner"], "ownerRef"),
        vec![json!("group:default/payments"), json!("group:default/search")]
    );
    for ((query, variables), expected) in queries.iter().zip(&from_database) {
        let answer = run(&schema, &store, query, variables.clone()).await;
        assert_eq!(data(&answer), expected, "{variables}");
    }
    assert_eq!(from_database[1]["dependencies"]["truncated"], true);
    assert_eq!(from_database[2]["path"]["length"], 2, "through the team that owns both");
}
