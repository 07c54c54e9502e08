//! The GraphQL API in process, through `sextant::graphql::execute` (what the HTTP layer calls),
//! against a real Postgres catalog crawled from real git repositories: entities by the forms
//! people type, filters, pagination, per-kind fields, relations both ways, the statement count
//! of a page (no N+1), limits and error codes, and the committed SDL.

use std::sync::Arc;

use async_graphql::{BatchRequest, BatchResponse, Request, Response};
use serde_json::{Value, json};
use sextant::graphql::{Caller, CatalogSchema, SchemaOptions, build_schema, execute, execute_one};
use sextant::store::Store;

use crate::db::{crawl_into, fresh_store};
use crate::git::TestRepo;

/// The committed SDL, relative to the crate.
const SDL_PATH: &str = "schema/catalog.graphql";

#[test]
fn the_committed_sdl_is_the_served_one() {
    let served = sextant::graphql::sdl();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SDL_PATH);
    if std::env::var_os("SEXTANT_UPDATE_SCHEMA").is_some_and(|value| value == "1") {
        std::fs::write(&path, &served).expect("write the SDL");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "{SDL_PATH} differs from the schema the server serves; if the change is intended, regenerate it with\n  \
         SEXTANT_UPDATE_SCHEMA=1 cargo test --test suite the_committed_sdl_is_the_served_one\n\
         (or `cargo run -- schema > schema/catalog.graphql`) and commit it"
    );
}

/// A schema over `store` with the default options.
fn schema(store: &Store) -> CatalogSchema {
    build_schema(
        store.clone(),
        sextant::search::Search::new(store.clone(), &sextant::search::SearchConfig::default()).expect("the Postgres search backend"),
        &SchemaOptions::default(),
    )
}

/// Runs one query (with variables) as the HTTP layer would, and returns the response as JSON.
async fn run(schema: &CatalogSchema, store: &Store, query: &str, variables: Value) -> Value {
    let request = Request::new(query).variables(async_graphql::Variables::from_json(variables));
    match execute(schema, store, BatchRequest::Single(request), Caller::default()).await {
        BatchResponse::Single(response) => response_json(response),
        BatchResponse::Batch(_) => panic!("one request gives one response"),
    }
}

fn response_json(response: Response) -> Value {
    serde_json::to_value(&response).expect("a response is JSON")
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
        .map(|errors| {
            errors
                .iter()
                .map(|error| error["extensions"]["code"].as_str().unwrap_or("<none>").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

const GROUPS: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: platform
  title: Platform
spec:
  type: department
  children: [payments, search]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
  title: Payments
  annotations:
    sextant.dev/aliases: 'ari:cloud:teams::team/payments-team'
spec:
  type: team
  parent: platform
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: search
  title: Search
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
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: joe
spec:
  memberOf: [search]
"#;

const BOOKING: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: booking-service
  title: Booking Service
  description: Takes bookings.
  tags: [java, pci]
  labels:
    tier: gold
  annotations:
    backstage.io/techdocs-ref: dir:.
    sextant.dev/aliases: 'ari:cloud:compass:cloud-1:component/workspace-1/booking'
  links:
    - url: https://example.com/booking/dashboard
      title: Dashboard
      icon: dashboard
spec:
  type: service
  lifecycle: production
  owner: payments
  system: booking
  providesApis: [booking-api]
  dependsOn: [resource:bookings-db, component:missing-thing]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: booking-api
spec:
  type: openapi
  lifecycle: production
  owner: payments
  system: booking
  definition: "openapi: 3.0.0"
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: bookings-db
spec:
  type: database
  owner: payments
  system: booking
"#;

const ARCHITECTURE: &str = r#"apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: booking
spec:
  owner: platform
  domain: commerce
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata:
  name: commerce
spec:
  owner: platform
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: more-descriptors
spec:
  type: url
  targets: [https://example.com/catalog-info.yaml]
"#;

const SEARCH: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: search-ui
  labels:
    tier: silver
spec:
  type: website
  lifecycle: experimental
  owner: search
  consumesApis: [booking-api]
  dependsOn: [component:booking-service]
"#;

const ORPHAN: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: orphan-tool
  tags: [python]
spec:
  type: library
  lifecycle: deprecated
  owner: ghosts
"#;

const LOYALTY: &str = r#"name: Loyalty Service
id: 'ari:cloud:compass:cloud-1:component/workspace-1/loyalty'
slug: loyalty-service
description: Miles for trips.
configVersion: 1
typeId: SERVICE
ownerId: 'ari:cloud:teams::team/payments-team'
fields:
  tier: 1
  lifecycle: Active
links:
  - name: Source
    type: REPOSITORY
    url: https://example.com/loyalty
relationships:
  DEPENDS_ON:
    - 'ari:cloud:compass:cloud-1:component/workspace-1/booking'
labels:
  - language:java
"#;

/// The example organisation of these tests, crawled from three repositories (kept alive with it).
struct Organisation {
    store: Store,
    schema: CatalogSchema,
    repos: Vec<TestRepo>,
}

async fn organisation() -> Organisation {
    let (store, _) = fresh_store().await;
    let org = TestRepo::new();
    org.commit(
        &[("catalog-info.yaml", GROUPS), ("architecture/catalog-info.yaml", ARCHITECTURE)],
        "the organisation",
    );
    let services = TestRepo::new();
    services.commit(
        &[
            ("booking/catalog-info.yaml", BOOKING),
            ("search/catalog-info.yaml", SEARCH),
            ("tools/catalog-info.yaml", ORPHAN),
        ],
        "services",
    );
    let compass = TestRepo::new();
    compass.commit(&[("compass.yml", LOYALTY)], "loyalty");
    let sources = [org.source(), services.source(), compass.source()];
    crawl_into(&store, &sources, &std::env::temp_dir().join("sextant-test-unused-mirrors")).await;
    let schema = schema(&store);
    Organisation {
        store,
        schema,
        repos: vec![org, services, compass],
    }
}

impl Organisation {
    async fn query(&self, query: &str) -> Value {
        run(&self.schema, &self.store, query, json!({})).await
    }

    async fn query_with(&self, query: &str, variables: Value) -> Value {
        run(&self.schema, &self.store, query, variables).await
    }

    /// The refs of `entities(filter: ...)` (one page of up to 500).
    async fn refs_where(&self, filter: Value) -> Vec<String> {
        let response = self
            .query_with(
                "query($filter: EntityFilter) { entities(filter: $filter, first: 500) { nodes { ref } } }",
                json!({ "filter": filter }),
            )
            .await;
        refs(&data(&response)["entities"]["nodes"])
    }
}

/// The `ref` of each object of a JSON list.
fn refs(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item["ref"].as_str().unwrap_or("<no ref>").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn entity_accepts_the_forms_people_type() {
    let org = organisation().await;
    for typed in [
        "booking-service",
        "component:booking-service",
        "Component:Default/Booking-Service",
        "  booking-service \n",
        "default/booking-service",
        "ari:cloud:compass:cloud-1:component/workspace-1/booking",
    ] {
        let response = org
            .query_with("query($ref: String!) { entity(ref: $ref) { ref kind } }", json!({ "ref": typed }))
            .await;
        assert_eq!(
            data(&response)["entity"],
            json!({"ref": "component:default/booking-service", "kind": "Component"}),
            "{typed:?}"
        );
    }
    let response = org
        .query(r#"{ entity(ref: "ari:cloud:compass:cloud-1:component/workspace-1/loyalty") { ref } }"#)
        .await;
    assert_eq!(data(&response)["entity"]["ref"], "component:default/loyalty-service");
    let response = org
        .query(r#"{ entity(ref: "api:booking-api") { ref kind } group(ref: "Payments") { ref } user(ref: "jane") { ref } }"#)
        .await;
    assert_eq!(
        data(&response),
        &json!({"entity": {"ref": "api:default/booking-api", "kind": "API"}, "group": {"ref": "group:default/payments"}, "user": {"ref": "user:default/jane"}})
    );

    // Unknown references are null, not errors; so is a group(ref) that names another kind.
    let response = org
        .query(r#"{ entity(ref: "no-such-thing") { ref } group(ref: "component:booking-service") { ref } }"#)
        .await;
    assert_eq!(data(&response), &json!({"entity": null, "group": null}));

    // Malformed references are errors with a code.
    for malformed in ["", "   ", "group:", "/x", ":x"] {
        let response = org
            .query_with("query($ref: String!) { entity(ref: $ref) { ref } }", json!({ "ref": malformed }))
            .await;
        assert_eq!(error_codes(&response), vec!["BAD_REQUEST"], "{malformed:?}: {response}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn entities_show_their_fields_and_their_kind_s_own() {
    let org = organisation().await;
    let response = org
        .query(
            r#"{ entity(ref: "booking-service") {
                ref kind namespace name title description type lifecycle tier tags
                labels { key value } annotations { key value } links { url title icon type }
                ownerRef owner { ref ... on Group { title } } systemRef system { ref domain { ref } } domainRef domain { ref }
                provenance { repo branch path line documentIndex commit format lastCrawled stale staleReason }
                diagnostics { code severity message line column }
            } }"#,
        )
        .await;
    let entity = &data(&response)["entity"];
    assert_eq!(entity["ref"], "component:default/booking-service");
    assert_eq!(entity["namespace"], "default");
    assert_eq!(entity["name"], "booking-service");
    assert_eq!(entity["title"], "Booking Service");
    assert_eq!(entity["description"], "Takes bookings.");
    assert_eq!(entity["type"], "service");
    assert_eq!(entity["lifecycle"], "production");
    assert_eq!(entity["tier"], Value::Null);
    assert_eq!(entity["tags"], json!(["java", "pci"]));
    assert_eq!(entity["labels"], json!([{"key": "tier", "value": "gold"}]));
    assert_eq!(
        entity["annotations"],
        json!([
            {"key": "backstage.io/techdocs-ref", "value": "dir:."},
            {"key": "sextant.dev/aliases", "value": "ari:cloud:compass:cloud-1:component/workspace-1/booking"}
        ])
    );
    assert_eq!(
        entity["links"],
        json!([{"url": "https://example.com/booking/dashboard", "title": "Dashboard", "icon": "dashboard", "type": null}])
    );
    assert_eq!(entity["ownerRef"], "group:default/payments");
    assert_eq!(entity["owner"], json!({"ref": "group:default/payments", "title": "Payments"}));
    assert_eq!(entity["systemRef"], "system:default/booking");
    assert_eq!(
        entity["system"],
        json!({"ref": "system:default/booking", "domain": {"ref": "domain:default/commerce"}})
    );
    assert_eq!(entity["domain"], Value::Null);
    let provenance = &entity["provenance"];
    assert_eq!(provenance["repo"], org.repos[1].source().url);
    assert_eq!(provenance["path"], "booking/catalog-info.yaml");
    assert_eq!(provenance["line"], 1);
    assert_eq!(provenance["documentIndex"], 0);
    assert_eq!(provenance["format"], "BACKSTAGE");
    assert_eq!(provenance["stale"], false);
    assert_eq!(provenance["staleReason"], Value::Null);
    assert_eq!(provenance["commit"].as_str().map(str::len), Some(40));
    assert!(
        provenance["lastCrawled"]
            .as_str()
            .is_some_and(|text| text.len() == 20 && text.ends_with('Z')),
        "{provenance}"
    );
    assert_eq!(entity["diagnostics"], json!([]));

    // The API's definition; the Compass component's tier, owner (through the team's alias) and links.
    let response = org
        .query(
            r#"{ api: entity(ref: "api:booking-api") { ... on Api { definition } }
                 loyalty: entity(ref: "loyalty-service") { type lifecycle tier tags owner { ref } links { title type url } provenance { format } } }"#,
        )
        .await;
    let found = data(&response);
    assert_eq!(found["api"]["definition"], "openapi: 3.0.0");
    assert_eq!(found["loyalty"]["tier"], 1);
    assert_eq!(found["loyalty"]["type"], "service");
    assert_eq!(found["loyalty"]["owner"]["ref"], "group:default/payments");
    assert_eq!(
        found["loyalty"]["links"],
        json!([{"title": "Source", "type": "REPOSITORY", "url": "https://example.com/loyalty"}])
    );
    assert_eq!(found["loyalty"]["provenance"]["format"], "COMPASS");

    // Groups: members, parent, children, what they own (with sub-groups); users: groups, owned.
    let response = org
        .query(
            r#"{ platform: group(ref: "platform") {
                     members { ref } parent { ref } children { ref }
                     ownedEntities { ref } all: ownedEntities(includeSubgroups: true) { ref }
                 }
                 payments: group(ref: "payments") { members { ref } parent { ref } children { ref } ownedEntities { ref } }
                 jane: user(ref: "jane") { groups { ref } owned { ref } } }"#,
        )
        .await;
    let found = data(&response);
    assert_eq!(refs(&found["platform"]["members"]), Vec::<String>::new());
    assert_eq!(found["platform"]["parent"], Value::Null);
    assert_eq!(
        refs(&found["platform"]["children"]),
        vec!["group:default/payments", "group:default/search"]
    );
    assert_eq!(
        refs(&found["platform"]["ownedEntities"]),
        vec!["domain:default/commerce", "system:default/booking"]
    );
    let mut all = refs(&found["platform"]["all"]);
    all.sort();
    assert_eq!(
        all,
        vec![
            "api:default/booking-api",
            "component:default/booking-service",
            "component:default/loyalty-service",
            "component:default/search-ui",
            "domain:default/commerce",
            "resource:default/bookings-db",
            "system:default/booking",
        ]
    );
    assert_eq!(refs(&found["payments"]["members"]), vec!["user:default/jane"]);
    assert_eq!(found["payments"]["parent"]["ref"], "group:default/platform");
    assert_eq!(refs(&found["payments"]["children"]), Vec::<String>::new());
    let owned_by_payments = vec![
        "api:default/booking-api",
        "component:default/booking-service",
        "component:default/loyalty-service",
        "resource:default/bookings-db",
    ];
    assert_eq!(refs(&found["payments"]["ownedEntities"]), owned_by_payments);
    assert_eq!(refs(&found["jane"]["groups"]), vec!["group:default/payments"]);
    assert_eq!(refs(&found["jane"]["owned"]), owned_by_payments);
}

#[tokio::test(flavor = "multi_thread")]
async fn relations_are_shown_both_ways_with_dangling_targets_null() {
    let org = organisation().await;
    let response = org
        .query(
            r#"{ entity(ref: "booking-service") {
                outgoing: relations(direction: OUTGOING) { type targetRef direction target { ref } }
                incoming: relations(direction: INCOMING) { type targetRef direction target { ref } }
                dependencies: relations(types: ["dependsOn"]) { targetRef }
                both: relations { type }
            } }"#,
        )
        .await;
    let entity = &data(&response)["entity"];
    assert_eq!(
        entity["outgoing"],
        json!([
            {"type": "dependsOn", "targetRef": "component:default/missing-thing", "direction": "OUTGOING", "target": null},
            {"type": "dependsOn", "targetRef": "resource:default/bookings-db", "direction": "OUTGOING", "target": {"ref": "resource:default/bookings-db"}},
            {"type": "ownedBy", "targetRef": "group:default/payments", "direction": "OUTGOING", "target": {"ref": "group:default/payments"}},
            {"type": "partOf", "targetRef": "system:default/booking", "direction": "OUTGOING", "target": {"ref": "system:default/booking"}},
            {"type": "providesApi", "targetRef": "api:default/booking-api", "direction": "OUTGOING", "target": {"ref": "api:default/booking-api"}},
        ])
    );
    assert_eq!(
        entity["incoming"],
        json!([
            {"type": "dependencyOf", "targetRef": "component:default/loyalty-service", "direction": "INCOMING", "target": {"ref": "component:default/loyalty-service"}},
            {"type": "dependencyOf", "targetRef": "component:default/search-ui", "direction": "INCOMING", "target": {"ref": "component:default/search-ui"}},
        ])
    );
    assert_eq!(
        entity["dependencies"],
        json!([{"targetRef": "component:default/missing-thing"}, {"targetRef": "resource:default/bookings-db"}])
    );
    assert_eq!(entity["both"].as_array().map(Vec::len), Some(7));

    // The API sees, from its side, who provides and who consumes it.
    let response = org
        .query(r#"{ entity(ref: "api:booking-api") { relations(direction: INCOMING) { type target { ref } } } }"#)
        .await;
    assert_eq!(
        data(&response)["entity"]["relations"],
        json!([
            {"type": "apiConsumedBy", "target": {"ref": "component:default/search-ui"}},
            {"type": "apiProvidedBy", "target": {"ref": "component:default/booking-service"}},
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_filter_selects_what_it_says() {
    let org = organisation().await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"kinds": ["Group"]}),
            vec!["group:default/payments", "group:default/platform", "group:default/search"],
        ),
        (
            json!({"kinds": ["api", "RESOURCE"]}),
            vec!["api:default/booking-api", "resource:default/bookings-db"],
        ),
        (
            json!({"types": ["Website", "database"]}),
            vec!["component:default/search-ui", "resource:default/bookings-db"],
        ),
        (
            json!({"namespaces": ["Default"], "kinds": ["user"]}),
            vec!["user:default/jane", "user:default/joe"],
        ),
        (json!({"namespaces": ["other"]}), vec![]),
        (
            json!({"owners": ["payments"], "kinds": ["component"]}),
            vec!["component:default/booking-service", "component:default/loyalty-service"],
        ),
        (
            json!({"owners": ["platform"]}),
            vec!["domain:default/commerce", "system:default/booking"],
        ),
        (
            json!({"owners": ["group:platform"], "includeSubgroups": true, "kinds": ["component"]}),
            vec![
                "component:default/booking-service",
                "component:default/loyalty-service",
                "component:default/search-ui",
            ],
        ),
        // An owner that is not in the catalog still matches what names it.
        (json!({"owners": ["ghosts"]}), vec!["component:default/orphan-tool"]),
        (
            json!({"lifecycles": ["EXPERIMENTAL", "deprecated"]}),
            vec!["component:default/orphan-tool", "component:default/search-ui"],
        ),
        (json!({"tiers": [1]}), vec!["component:default/loyalty-service"]),
        (
            json!({"tags": ["pci", "python"]}),
            vec!["component:default/booking-service", "component:default/orphan-tool"],
        ),
        (json!({"labels": ["tier=gold"]}), vec!["component:default/booking-service"]),
        (
            json!({"labels": ["tier"]}),
            vec!["component:default/booking-service", "component:default/search-ui"],
        ),
        (
            json!({"systems": ["booking"]}),
            vec![
                "api:default/booking-api",
                "component:default/booking-service",
                "resource:default/bookings-db",
            ],
        ),
        (
            json!({"domains": ["commerce"]}),
            vec![
                "api:default/booking-api",
                "component:default/booking-service",
                "resource:default/bookings-db",
                "system:default/booking",
            ],
        ),
        (
            json!({"repos": [org.repos[2].source().url]}),
            vec!["component:default/loyalty-service"],
        ),
        (
            json!({"dangling": true}),
            vec!["component:default/booking-service", "component:default/orphan-tool"],
        ),
        (
            json!({"orphan": true}),
            vec!["component:default/orphan-tool", "location:default/more-descriptors"],
        ),
        (json!({"stale": true}), vec![]),
        (
            json!({"hasDiagnostics": false, "kinds": ["domain"]}),
            vec!["domain:default/commerce"],
        ),
    ];
    // The location has no owner field; it is not counted as an orphan.
    let cases: Vec<(Value, Vec<&str>)> = cases
        .into_iter()
        .map(|(filter, expected)| {
            (
                filter,
                expected.into_iter().filter(|found| !found.starts_with("location:")).collect(),
            )
        })
        .collect();
    for (filter, expected) in cases {
        assert_eq!(org.refs_where(filter.clone()).await, expected, "filter {filter}");
    }

    // A file with a warning has diagnostics, and only its entities match `hasDiagnostics`.
    let warned = TestRepo::new();
    warned.commit(
        &[(
            "catalog-info.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: warned\n  description: yes\nspec:\n  type: service\n  lifecycle: production\n  owner: payments\n",
        )],
        "a component with a YAML 1.1 pitfall",
    );
    crawl_into(
        &org.store,
        &[warned.source()],
        &std::env::temp_dir().join("sextant-test-unused-mirrors"),
    )
    .await;
    assert_eq!(
        org.refs_where(json!({"hasDiagnostics": true})).await,
        vec!["component:default/warned"]
    );
    let response = org
        .query(r#"{ entity(ref: "warned") { diagnostics { code severity line column message } } }"#)
        .await;
    let diagnostics = &data(&response)["entity"]["diagnostics"];
    assert_eq!(diagnostics.as_array().map(Vec::len), Some(1), "{diagnostics}");
    assert_eq!(diagnostics[0]["severity"], "WARNING");
    assert_eq!(diagnostics[0]["line"], 5);

    // Malformed filters are refused with a code.
    for filter in [
        json!({"labels": ["=x"]}),
        json!({"tags": vec!["x"; 101]}),
        json!({"owners": ["group:"]}),
    ] {
        let response = org
            .query_with(
                "query($filter: EntityFilter) { entities(filter: $filter) { nodes { ref } } }",
                json!({ "filter": filter }),
            )
            .await;
        assert_eq!(error_codes(&response), vec!["BAD_REQUEST"], "{filter}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_cover_the_list_without_duplicates_or_gaps_in_every_order() {
    let org = organisation().await;
    let everything = org.refs_where(json!({})).await;
    assert_eq!(everything.len(), 14, "{everything:?}");
    let mut sorted = everything.clone();
    sorted.sort();
    assert_eq!(everything, sorted, "the default order is the reference");

    for (order, size) in [
        (json!({"field": "REF", "direction": "ASC"}), 4),
        (json!({"field": "REF", "direction": "DESC"}), 3),
        (json!({"field": "NAME"}), 5),
        (json!({"field": "TITLE", "direction": "DESC"}), 2),
    ] {
        let mut seen: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let response = org
                .query_with(
                    "query($first: Int, $after: String, $order: EntityOrder) {
                       entities(first: $first, after: $after, orderBy: $order) {
                         totalCount edges { cursor node { ref name title } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                       } }",
                    json!({"first": size, "after": after, "order": order}),
                )
                .await;
            let connection = &data(&response)["entities"];
            assert_eq!(connection["totalCount"], 14);
            let edges = connection["edges"].as_array().cloned().unwrap_or_default();
            assert!(edges.len() <= size);
            assert_eq!(connection["pageInfo"]["hasPreviousPage"], after.is_some());
            seen.extend(edges.iter().map(|edge| edge["node"]["ref"].as_str().unwrap_or_default().to_owned()));
            pages += 1;
            assert!(pages <= 20, "paging does not end");
            if connection["pageInfo"]["hasNextPage"] != true {
                break;
            }
            assert_eq!(connection["pageInfo"]["endCursor"], edges[edges.len() - 1]["cursor"]);
            after = connection["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique, sorted, "order {order}: every entity once, none missing");
        assert_eq!(seen.len(), 14, "order {order}: no duplicates");
        if order["field"] == "REF" && order["direction"] == "DESC" {
            let mut descending = sorted.clone();
            descending.reverse();
            assert_eq!(seen, descending);
        }
    }

    // A filtered list pages through its own entities only.
    let response = org
        .query(r#"{ entities(filter: {kinds: ["component"]}, first: 2) { totalCount nodes { ref } pageInfo { hasNextPage endCursor } } }"#)
        .await;
    let page = &data(&response)["entities"];
    assert_eq!(page["totalCount"], 4);
    assert_eq!(
        refs(&page["nodes"]),
        vec!["component:default/booking-service", "component:default/loyalty-service"]
    );
    let response = org
        .query_with(
            r#"query($after: String) { entities(filter: {kinds: ["component"]}, first: 2, after: $after) { nodes { ref } pageInfo { hasNextPage } } }"#,
            json!({"after": page["pageInfo"]["endCursor"]}),
        )
        .await;
    let next = &data(&response)["entities"];
    assert_eq!(
        refs(&next["nodes"]),
        vec!["component:default/orphan-tool", "component:default/search-ui"]
    );
    assert_eq!(next["pageInfo"]["hasNextPage"], false);

    // first: 0 is an empty page; a cursor of another order, or garbage, is refused.
    let response = org.query("{ entities(first: 0) { nodes { ref } pageInfo { hasNextPage } } }").await;
    assert_eq!(data(&response)["entities"], json!({"nodes": [], "pageInfo": {"hasNextPage": true}}));
    let response = org
        .query_with(
            "query($after: String) { entities(after: $after, orderBy: {field: NAME}) { nodes { ref } } }",
            json!({"after": page["pageInfo"]["endCursor"]}),
        )
        .await;
    assert_eq!(error_codes(&response), vec!["BAD_REQUEST"]);
    let response = org.query(r#"{ entities(after: "not a cursor") { nodes { ref } } }"#).await;
    assert_eq!(error_codes(&response), vec!["BAD_REQUEST"]);
}

/// An organisation of `components` components, each owned by one of five teams, part of one of
/// three systems, depending on the next component and on one shared resource.
async fn large_organisation(components: usize) -> (Store, TestRepo) {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut org = String::new();
    for team in 0..5 {
        org.push_str(&format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{team}\n  title: Team {team}\nspec:\n  type: team\n  children: []\n---\n"
        ));
    }
    for system in 0..3 {
        org.push_str(&format!(
            "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: system-{system}\nspec:\n  owner: team-0\n---\n"
        ));
    }
    org.push_str(
        "apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: shared-db\nspec:\n  type: database\n  owner: team-0\n",
    );
    files.push(("org/catalog-info.yaml".to_owned(), org));
    for index in 0..components {
        files.push((
            format!("services/service-{index:03}/catalog-info.yaml"),
            format!(
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: service-{index:03}\n  title: Service {index}\nspec:\n  \
                 type: service\n  lifecycle: production\n  owner: team-{}\n  system: system-{}\n  dependsOn: [component:service-{:03}, resource:shared-db]\n",
                index % 5,
                index % 3,
                (index + 1) % components,
            ),
        ));
    }
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    repo.commit(&borrowed, "a large organisation");
    crawl_into(&store, &[repo.source()], &std::env::temp_dir().join("sextant-test-unused-mirrors")).await;
    (store, repo)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_costs_the_same_few_statements_whatever_its_size() {
    let (store, _repo) = large_organisation(120).await;
    let schema = schema(&store);
    let query = r#"query($first: Int) { entities(first: $first, filter: {kinds: ["component"]}) {
        edges { cursor node {
            ref title type lifecycle tags links { url } labels { key value }
            owner { ref title }
            system { ref title owner { ref } }
            relations { type targetRef target { ref title } }
            diagnostics { code }
            provenance { repo path }
        } }
        pageInfo { hasNextPage endCursor }
    } }"#;
    let mut counts = Vec::new();
    for first in [10, 100] {
        let snapshot = Arc::new(store.snapshot());
        let request = Request::new(query).variables(async_graphql::Variables::from_json(json!({ "first": first })));
        let response = response_json(execute_one(&schema, snapshot.clone(), request, Caller::default()).await);
        let edges = data(&response)["entities"]["edges"].as_array().cloned().unwrap_or_default();
        assert_eq!(edges.len(), first);
        let first_node = &edges[0]["node"];
        assert_eq!(first_node["owner"]["title"], "Team 0");
        assert_eq!(first_node["system"]["ref"], "system:default/system-0");
        assert_eq!(first_node["relations"].as_array().map(Vec::len), Some(5), "{first_node}");
        counts.push(snapshot.statement_count());
    }
    println!("statements for a page of 10: {}, of 100: {}", counts[0], counts[1]);
    assert_eq!(counts[0], counts[1], "the statement count grows with the page size");
    // BEGIN, the page, relations out and in, entities by id (owners and targets), systems by
    // reference, the systems' owners (already loaded: cached), diagnostics.
    assert!(counts[1] <= 10, "{} statements for one page", counts[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_reads_one_snapshot_while_a_crawl_applies() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", ORPHAN)], "one component");
    let mirrors = std::env::temp_dir().join("sextant-test-unused-mirrors");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let snapshot = store.snapshot();
    let before = sextant::store::read::entities_by_refs(&snapshot, &["component:default/orphan-tool".to_owned()])
        .await
        .expect("read");
    assert_eq!(before.len(), 1);
    repo.remove(&["catalog-info.yaml"], "gone");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let during = sextant::store::read::entities_by_refs(&snapshot, &["component:default/orphan-tool".to_owned()])
        .await
        .expect("read");
    assert_eq!(during, before, "the snapshot still sees the catalog as it was when it began");
    snapshot.release().await;
    let after = sextant::store::read::entities_by_refs(&snapshot, &["component:default/orphan-tool".to_owned()])
        .await
        .expect("read");
    assert!(after.is_empty(), "a released snapshot begins again at the current catalog");
}

/// Runs a hostile query and returns its error codes, checking that it was refused quickly.
async fn refused(org: &Organisation, query: &str) -> Vec<String> {
    let started = std::time::Instant::now();
    let response = org.query(query).await;
    let elapsed = started.elapsed();
    println!("refused in {elapsed:?}: {}", &query[..query.len().min(60)]);
    assert!(elapsed < std::time::Duration::from_secs(1), "took {elapsed:?}");
    assert!(response["data"].is_null(), "nothing ran: {response}");
    error_codes(&response)
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_queries_are_refused_with_their_codes_before_any_resolver_runs() {
    let org = organisation().await;
    let deep = format!("{{ entity(ref: \"x\") {{ {} ref {} }} }}", "owner { ".repeat(50), "}".repeat(50));
    assert_eq!(refused(&org, &deep).await, vec!["QUERY_TOO_DEEP"]);
    // Nested within the text limit but past the depth limit: validation's check.
    let moderately_deep = format!("{{ entity(ref: \"x\") {{ {} ref {} }} }}", "owner { ".repeat(20), "}".repeat(20));
    assert_eq!(refused(&org, &moderately_deep).await, vec!["QUERY_TOO_DEEP"]);
    let aliases = format!(
        "{{ {} }}",
        (0..10_000)
            .map(|index| format!("a{index}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert_eq!(refused(&org, &aliases).await, vec!["TOO_MANY_ALIASES"]);
    let directives = format!("{{ __typename {} }}", "@include(if: true) ".repeat(10_000));
    assert_eq!(refused(&org, &directives).await, vec!["TOO_MANY_DIRECTIVES"]);
    let mut bomb = String::from("query { ...F0 }\n");
    for level in 0..30 {
        bomb.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n",
            next = level + 1
        ));
    }
    bomb.push_str("fragment F30 on Query { __typename }\n");
    assert_eq!(refused(&org, &bomb).await, vec!["QUERY_TOO_COMPLEX"]);
    let cycle = "{ ...A } fragment A on Query { ...B ...B __typename } fragment B on Query { ...A ...A }";
    assert_eq!(refused(&org, cycle).await, vec!["BAD_REQUEST"]);
    // Three pages of 500 entities with about twenty fields each.
    let page = "entities(first: 500) { nodes { ref title owner { ref title owner { ref title } } system { ref title } relations { type targetRef target { ref title } } } }";
    let complex = format!("{{ a: {page} b: {page} c: {page} }}");
    assert_eq!(refused(&org, &complex).await, vec!["QUERY_TOO_COMPLEX"]);
    let huge = format!("{{ __typename }} # {}", "x".repeat(300 * 1024));
    assert_eq!(refused(&org, &huge).await, vec!["QUERY_TOO_LARGE"]);
    assert_eq!(
        refused(&org, "{ entities(first: 99999999) { nodes { ref } } }").await,
        vec!["PAGE_TOO_LARGE"]
    );
    assert_eq!(
        refused(&org, "{ entities(first: -1) { nodes { ref } } }").await,
        vec!["PAGE_TOO_LARGE"]
    );
    assert_eq!(refused(&org, "{ entities { nodes { ref } ").await, vec!["BAD_REQUEST"]);
    assert_eq!(refused(&org, "{ entities { nodes { colour } } }").await, vec!["BAD_REQUEST"]);
    let codes = refused(&org, "{ entities(first: \"ten\") { nodes { ref } } }").await;
    assert!(!codes.is_empty() && codes.iter().all(|code| code == "BAD_REQUEST"), "{codes:?}");

    // The largest page is allowed.
    let response = org.query("{ entities(first: 500) { nodes { ref } } }").await;
    assert_eq!(data(&response)["entities"]["nodes"].as_array().map(Vec::len), Some(14));

    // A batch past the cap is refused whole; a small one runs each operation.
    let batch = |size: usize| {
        BatchRequest::Batch(
            (0..size)
                .map(|_| Request::new("{ entity(ref: \"booking-service\") { ref } }"))
                .collect(),
        )
    };
    match execute(&org.schema, &org.store, batch(11), Caller::default()).await {
        BatchResponse::Single(response) => assert_eq!(error_codes(&response_json(response)), vec!["BATCH_TOO_LARGE"]),
        BatchResponse::Batch(_) => panic!("an oversized batch must be refused whole"),
    }
    match execute(&org.schema, &org.store, batch(3), Caller::default()).await {
        BatchResponse::Batch(responses) => {
            assert_eq!(responses.len(), 3);
            for response in responses {
                assert_eq!(data(&response_json(response))["entity"]["ref"], "component:default/booking-service");
            }
        }
        BatchResponse::Single(_) => panic!("a batch gets a batch of responses"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_can_be_turned_off() {
    let (store, _) = fresh_store().await;
    let introspection = "{ __schema { queryType { name } } }";
    let open = schema(&store);
    assert_eq!(
        data(&run(&open, &store, introspection, json!({})).await)["__schema"]["queryType"]["name"],
        "QueryRoot"
    );
    let closed = build_schema(
        store.clone(),
        sextant::search::Search::new(store.clone(), &sextant::search::SearchConfig::default()).expect("the Postgres search backend"),
        &SchemaOptions {
            introspection: false,
            ..SchemaOptions::default()
        },
    );
    // Turned off, the introspection fields answer null (async-graphql's behaviour).
    let response = run(&closed, &store, introspection, json!({})).await;
    assert_eq!(data(&response)["__schema"], Value::Null);
    let response = run(&closed, &store, "{ __type(name: \"Entity\") { name } }", json!({})).await;
    assert_eq!(data(&response)["__type"], Value::Null);
}

/// Words that would betray SQL or a driver's message in an error.
const SQL_WORDS: &[&str] = &[
    "SELECT",
    "select ",
    " FROM ",
    "relation \"",
    "sqlx",
    "postgres",
    "pool",
    "syntax error at",
    "WHERE",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_is_gone_gives_unavailable_and_no_internal_text() {
    let org = organisation().await;
    let query = r#"{ entity(ref: "booking-service") { ref owner { ref } } entities(first: 3) { totalCount nodes { ref } } }"#;
    assert!(data(&org.query(query).await)["entity"].is_object());
    org.store.close().await;
    let response = org.query(query).await;
    let codes = error_codes(&response);
    assert!(!codes.is_empty(), "{response}");
    assert!(codes.iter().all(|code| code == "UNAVAILABLE"), "{response}");
    let text = response.to_string();
    for word in SQL_WORDS {
        assert!(!text.contains(word), "`{word}` in {text}");
    }
    // Client mistakes do not leak either.
    let response = org
        .query(r#"{ entities(after: "zz", filter: {tiers: [99999]}) { nodes { ref } } }"#)
        .await;
    let text = response.to_string();
    for word in SQL_WORDS {
        assert!(!text.contains(word), "`{word}` in {text}");
    }
}
