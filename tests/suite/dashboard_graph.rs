//! The dashboard's dependency graph picture through a real `sextant serve` on a real catalog (a
//! hub with many dependents, a chain of dependencies, an API, a hostile title): the graph page
//! and the SVG alone draw every relation of the walk (the same as the GraphQL `dependencies`
//! query and as the catalog holds), depth and direction change what is drawn, a capped level
//! folds into an "N more" node whose arrows count every relation, a selected entity's path is
//! emphasised without JavaScript, hostile text stays text, unknown entities are 404, and the
//! security headers are sent.

use std::collections::BTreeSet;

use serde_json::json;

use crate::db::{crawl_into, fresh_store};
use crate::git::{TestRepo, group};
use crate::server::{Answer, RunningServer, get, graphql};

/// How many components depend on the hub directly.
const CLIENTS: usize = 30;
const HOSTILE_TITLE: &str = "</text><script>alert(1)</script>\"onload=\"x ]]>";

fn component(name: &str, depends_on: &[&str], extra: &str) -> String {
    let mut text = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: graph-team\n{extra}"
    );
    if !depends_on.is_empty() {
        text.push_str(&format!("  dependsOn: [{}]\n", depends_on.join(", ")));
    }
    text
}

/// The catalog: `hub` depends on a chain `chain-1` → `chain-2` → `chain-3` → `chain-4` and
/// provides `hub-api`; `client-00`..`client-29` depend on the hub (`client-00` also consumes the
/// API); `far` depends on `client-01` and `farther` on `far`; `hostile` (a hostile title) depends
/// on the hub.
async fn hub_and_chain() -> (String, tempfile::TempDir, Vec<TestRepo>) {
    let (store, url) = fresh_store().await;
    let team = TestRepo::new();
    team.commit(&[("catalog-info.yaml", &group("graph-team", None))], "team");
    let services = TestRepo::new();
    let mut files: Vec<(String, String)> = vec![
        (
            "hub/catalog-info.yaml".to_owned(),
            component("hub", &["component:chain-1"], "  providesApis: [hub-api]\n"),
        ),
        (
            "hub-api/catalog-info.yaml".to_owned(),
            "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: hub-api\nspec:\n  type: openapi\n  lifecycle: production\n  owner: graph-team\n  definition: 'openapi: 3.0.0'\n".to_owned(),
        ),
        ("far/catalog-info.yaml".to_owned(), component("far", &["component:client-01"], "")),
        ("farther/catalog-info.yaml".to_owned(), component("farther", &["component:far"], "")),
        (
            "hostile/catalog-info.yaml".to_owned(),
            component("hostile", &["component:hub"], "")
                .replacen("  name: hostile\n", &format!("  name: hostile\n  title: '{}'\n", HOSTILE_TITLE.replace('\'', "''")), 1),
        ),
    ];
    for link in 1..=4 {
        let next = format!("component:chain-{}", link + 1);
        let depends_on: Vec<&str> = if link < 4 { vec![next.as_str()] } else { Vec::new() };
        files.push((
            format!("chain-{link}/catalog-info.yaml"),
            component(&format!("chain-{link}"), &depends_on, ""),
        ));
    }
    for client in 0..CLIENTS {
        let extra = if client == 0 { "  consumesApis: [hub-api]\n" } else { "" };
        files.push((
            format!("client-{client:02}/catalog-info.yaml"),
            component(&format!("client-{client:02}"), &["component:hub"], extra),
        ));
    }
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    services.commit(&borrowed, "services");
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[team.source(), services.source()], &data.path().join("mirrors")).await;
    assert_eq!(
        crate::db::entity_refs(&store).await.len(),
        1 + 1 + 4 + CLIENTS + 4,
        "every entity is in the catalog"
    );
    store.close().await;
    (url, data, vec![team, services])
}

/// An element's start tag as (name, attributes unescaped).
type Tag = (String, Vec<(String, String)>);

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The start tags inside the page's `svg.dependency-graph`, in order.
fn svg_tags(body: &str) -> Vec<Tag> {
    let start = body
        .find("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dependency-graph\"")
        .unwrap_or_else(|| panic!("an svg.dependency-graph in {body}"));
    let end = body[start..].find("</svg>").expect("the svg ends") + start;
    let mut tags = Vec::new();
    let mut rest = &body[start..end];
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let close = rest.find('>').expect("a closed tag");
        let tag = rest[..close].trim_end_matches('/');
        rest = &rest[close + 1..];
        if tag.starts_with('/') {
            continue;
        }
        let (name, mut attributes_text) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut attributes = Vec::new();
        while let Some(equals) = attributes_text.find("=\"") {
            let key = attributes_text[..equals].trim().to_owned();
            let value_end = attributes_text[equals + 2..].find('"').expect("a closed value") + equals + 2;
            attributes.push((key, unescape(&attributes_text[equals + 2..value_end])));
            attributes_text = &attributes_text[value_end + 1..];
        }
        tags.push((name.to_owned(), attributes));
    }
    tags
}

fn attribute<'tag>(tag: &'tag Tag, name: &str) -> Option<&'tag str> {
    tag.1.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

fn has_class(tag: &Tag, class: &str) -> bool {
    attribute(tag, "class").is_some_and(|classes| classes.split(' ').any(|one| one == class))
}

/// (source, type, target) of every drawn arrow, with its count (1 unless folded).
fn drawn_edges(body: &str) -> Vec<(String, String, String, usize)> {
    svg_tags(body)
        .iter()
        .filter(|tag| tag.0 == "g" && has_class(tag, "edge"))
        .map(|tag| {
            (
                attribute(tag, "data-source").expect("data-source").to_owned(),
                attribute(tag, "data-type").expect("data-type").to_owned(),
                attribute(tag, "data-target").expect("data-target").to_owned(),
                attribute(tag, "data-count").map_or(1, |count| count.parse().expect("a count")),
            )
        })
        .collect()
}

/// The references of the entities drawn in boxes.
fn drawn_nodes(body: &str) -> BTreeSet<String> {
    svg_tags(body)
        .iter()
        .filter(|tag| tag.0 == "g" && has_class(tag, "node"))
        .map(|tag| attribute(tag, "data-ref").expect("data-ref").to_owned())
        .collect()
}

/// Every relation of the GraphQL `dependencies` walk of `hub` (one direction) at `depth`.
fn walk_edges(server: &RunningServer, direction: &str, depth: u32) -> BTreeSet<(String, String, String)> {
    let answer = graphql(
        &server.base,
        "query Walk($direction: Direction!, $depth: Int!) {
           dependencies(ref: \"component:default/hub\", direction: $direction, depth: $depth, first: 400) {
             edges { from type to } truncated } }",
        json!({ "direction": direction, "depth": depth }),
        None,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let walk = &answer.json()["data"]["dependencies"];
    assert_eq!(walk["truncated"], false, "{}", answer.body);
    walk["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("edges in {}", answer.body))
        .iter()
        .map(|edge| {
            let text = |field: &str| edge[field].as_str().expect("a string").to_owned();
            (text("from"), text("type"), text("to"))
        })
        .collect()
}

fn refs(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

fn triple(source: &str, relation: &str, target: &str) -> (String, String, String) {
    (source.to_owned(), relation.to_owned(), target.to_owned())
}

/// GETs `path` and checks it is an HTML page with the security headers.
fn page(server: &RunningServer, path: &str) -> Answer {
    let answer = get(&server.url(path));
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    assert!(answer.content_type.starts_with("text/html"), "{path}: {}", answer.content_type);
    answer
}

/// The security headers of a response (ureq directly: the shared client keeps only the content type).
fn security_headers(url: &str) -> (String, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let response = agent.get(url).call().expect("the server answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    (
        header("content-security-policy"),
        header("x-content-type-options"),
        header("content-type"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_graph_draws_every_relation_of_the_walk_both_ways_at_the_depth_asked() {
    let (url, data, _repos) = hub_and_chain().await;
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);
    let hub = "component:default/hub";
    let client = |index: usize| format!("component:default/client-{index:02}");

    // Both ways, two steps, nothing folded: exactly the relations of the two walks.
    let both = page(&server, "/entity/component/default/hub/graph?direction=both&depth=2&per_level=50");
    let drawn = drawn_edges(&both.body);
    assert!(drawn.iter().all(|edge| edge.3 == 1), "nothing folded at 50 per level: {drawn:?}");
    let drawn: Vec<(String, String, String)> = drawn
        .into_iter()
        .map(|(source, relation, target, _)| (source, relation, target))
        .collect();
    let drawn_set: BTreeSet<_> = drawn.iter().cloned().collect();
    assert_eq!(drawn.len(), drawn_set.len(), "each relation drawn once");
    let mut walked = walk_edges(&server, "OUTGOING", 2);
    walked.extend(walk_edges(&server, "INCOMING", 2));
    assert_eq!(drawn_set, walked, "the picture draws the GraphQL walk's relations");
    // What the catalog holds within two steps of the hub.
    let mut expected: BTreeSet<_> = (0..CLIENTS).map(|index| triple(&client(index), "dependsOn", hub)).collect();
    expected.extend([
        triple(hub, "dependsOn", "component:default/chain-1"),
        triple("component:default/chain-1", "dependsOn", "component:default/chain-2"),
        triple(hub, "providesApi", "api:default/hub-api"),
        triple(&client(0), "consumesApi", "api:default/hub-api"),
        triple("component:default/far", "dependsOn", &client(1)),
        triple("component:default/hostile", "dependsOn", hub),
    ]);
    assert_eq!(drawn_set, expected);
    let nodes = drawn_nodes(&both.body);
    assert_eq!(nodes.len(), 1 + 2 + CLIENTS + 1 + 1 + 1, "{nodes:?}");
    assert!(!nodes.contains("component:default/chain-3") && !nodes.contains("component:default/farther"));
    assert!(both.body.contains(&format!(
        "<span class=\"graph-count\" data-count=\"edges\">{}</span>",
        expected.len()
    )));

    // Each node links to its entity page; the focus is marked; the legend names the kinds.
    let tags = svg_tags(&both.body);
    let focus: Vec<&Tag> = tags.iter().filter(|tag| has_class(tag, "focus")).collect();
    assert_eq!(focus.len(), 1);
    assert_eq!(attribute(focus[0], "data-ref"), Some(hub));
    let chain_node = tags
        .iter()
        .position(|tag| attribute(tag, "data-ref") == Some("component:default/chain-1"))
        .expect("chain-1 is drawn");
    assert_eq!(tags[chain_node + 1].0, "a");
    assert_eq!(attribute(&tags[chain_node + 1], "href"), Some("/entity/component/default/chain-1"));
    assert!(has_class(&tags[chain_node], "kind-component"));
    assert!(
        tags.iter()
            .any(|tag| has_class(tag, "kind-api") && attribute(tag, "data-ref") == Some("api:default/hub-api"))
    );
    assert!(both.body.contains("<span class=\"swatch kind-api\"></span>api"));
    assert!(both.body.contains("<script src=\"/static/graph.js\" defer></script>"));
    assert!(both.body.contains("id=\"back-to-entity\" href=\"/entity/component/default/hub\""));

    // The hostile title is text everywhere.
    assert!(!both.body.contains("<script>alert(1)"), "markup from a title");
    assert!(!both.body.contains("\"onload=\"x"));
    assert!(both.body.contains("&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));

    // Depth and direction change what is drawn.
    let one_step_out = page(&server, "/entity/component/default/hub/graph?direction=outgoing&depth=1");
    assert_eq!(drawn_nodes(&one_step_out.body), refs(&[hub, "component:default/chain-1"]));
    let edges: Vec<_> = drawn_edges(&one_step_out.body)
        .into_iter()
        .map(|edge| (edge.0, edge.1, edge.2))
        .collect();
    assert_eq!(edges, [triple(hub, "dependsOn", "component:default/chain-1")]);
    let four_out = page(&server, "/entity/component/default/hub/graph?direction=outgoing&depth=4");
    assert_eq!(
        drawn_nodes(&four_out.body),
        refs(&[
            hub,
            "component:default/chain-1",
            "component:default/chain-2",
            "component:default/chain-3",
            "component:default/chain-4"
        ])
    );
    let three_in = page(
        &server,
        "/entity/component/default/hub/graph?direction=incoming&depth=3&per_level=50",
    );
    let nodes = drawn_nodes(&three_in.body);
    assert!(
        nodes.contains("component:default/farther") && !nodes.contains("component:default/chain-1"),
        "{nodes:?}"
    );
    let mut incoming = walk_edges(&server, "INCOMING", 3);
    let drawn_incoming: BTreeSet<_> = drawn_edges(&three_in.body)
        .into_iter()
        .map(|edge| (edge.0, edge.1, edge.2))
        .collect();
    assert_eq!(drawn_incoming, incoming);
    // Relation kinds: only dependsOn leaves the API out.
    let depends_only = page(
        &server,
        "/entity/component/default/hub/graph?direction=incoming&depth=3&relation=dependsOn&per_level=50",
    );
    incoming.retain(|edge| edge.1 == "dependsOn");
    let drawn_depends: BTreeSet<_> = drawn_edges(&depends_only.body)
        .into_iter()
        .map(|edge| (edge.0, edge.1, edge.2))
        .collect();
    assert_eq!(drawn_depends, incoming);
    assert!(!drawn_nodes(&depends_only.body).contains("api:default/hub-api"));

    // A capped level folds into one "N more" node; its arrows count every relation.
    let capped = page(
        &server,
        "/entity/component/default/hub/graph?direction=incoming&depth=1&per_level=10",
    );
    let dependents = CLIENTS + 2;
    assert_eq!(drawn_nodes(&capped.body).len(), 1 + 10);
    let more: Vec<Tag> = svg_tags(&capped.body).into_iter().filter(|tag| has_class(tag, "more")).collect();
    assert_eq!(more.len(), 1);
    assert_eq!(attribute(&more[0], "data-count"), Some((dependents - 10).to_string().as_str()));
    let edges = drawn_edges(&capped.body);
    let counted: usize = edges.iter().map(|edge| edge.3).sum();
    assert_eq!(counted, walk_edges(&server, "INCOMING", 1).len(), "no relation dropped: {edges:?}");
    assert!(
        edges.iter().any(|edge| edge.0 == "more:-1" && edge.2 == hub && edge.3 > 1),
        "{edges:?}"
    );
    assert!(
        capped
            .body
            .contains("<span class=\"graph-count\" data-count=\"collapsed\">22</span>")
    );
    assert!(capped.body.contains("per_level=32"), "the more node opens a larger cap");

    // A selected entity's path is emphasised by the server.
    let selected = page(
        &server,
        "/entity/component/default/hub/graph?direction=incoming&depth=2&select=component:default/far",
    );
    let on_path: BTreeSet<String> = svg_tags(&selected.body)
        .iter()
        .filter(|tag| has_class(tag, "node") && has_class(tag, "on-path"))
        .filter_map(|tag| attribute(tag, "data-ref").map(str::to_owned))
        .collect();
    assert_eq!(on_path, refs(&[hub, &client(1), "component:default/far"]));
    let path_edges: BTreeSet<(String, String)> = svg_tags(&selected.body)
        .iter()
        .filter(|tag| has_class(tag, "edge") && has_class(tag, "on-path"))
        .map(|tag| {
            (
                attribute(tag, "data-source").unwrap_or_default().to_owned(),
                attribute(tag, "data-target").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        path_edges,
        BTreeSet::from([(client(1), hub.to_owned()), ("component:default/far".to_owned(), client(1))])
    );

    // The SVG alone, with its content type and the security headers.
    let svg = get(&server.url("/entity/component/default/hub/graph.svg?direction=both&depth=2&per_level=50"));
    assert_eq!(svg.status, 200, "{}", svg.body);
    assert!(svg.content_type.starts_with("image/svg+xml"), "{}", svg.content_type);
    assert!(svg.body.starts_with("<?xml"));
    let alone: BTreeSet<_> = drawn_edges(&svg.body).into_iter().map(|edge| (edge.0, edge.1, edge.2)).collect();
    assert_eq!(alone, expected);
    for path in ["/entity/component/default/hub/graph", "/entity/component/default/hub/graph.svg"] {
        let (policy, sniffing, _) = security_headers(&server.url(path));
        assert!(
            policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(sniffing, "nosniff");
    }
    let (_, _, script_type) = security_headers(&server.url("/static/graph.js"));
    assert!(script_type.starts_with("text/javascript"), "{script_type}");

    // Unknown entities.
    for path in [
        "/entity/component/default/nope/graph",
        "/entity/component/default/nope/graph.svg",
        "/entity/nokind/default/hub/graph",
    ] {
        let answer = get(&server.url(path));
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert!(answer.body.contains("not-found"), "{}", answer.body);
    }
}
