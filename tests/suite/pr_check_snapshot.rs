//! Catalog snapshots end to end: two repositories crawled from real git, exported through the
//! library and through `sextant export`, read back as the catalog `validate --catalog FILE`
//! checks against (lookups by reference and alias, a repository's entities, dependents as the
//! server's `impact` finds them), and every kind of unusable snapshot refused with a clear reason.

use std::path::Path;
use std::process::{Command, Output};

use sextant::pr_check::snapshot::{SNAPSHOT_FORMAT, SnapshotCatalog};
use sextant::pr_check::{Catalog, CatalogEntity, CatalogError, CatalogRepo, DeclaredEdge};
use sextant::store::Store;
use sextant::store::export::export_snapshot;

use crate::db::{crawl_into, fresh_store};
use crate::git::TestRepo;

const PRICING_ARI: &str = "ari:cloud:compass:549dbe51-94ac-45c7-bc41-9972ec40c21c:component/8113101c-05a3-4650-9dbb-4b41eada8388/393f10f8-7e8b-4714-a9e2-2c8e97b75b75";
const LOYALTY_ARI: &str = "ari:cloud:compass:549dbe51-94ac-45c7-bc41-9972ec40c21c:component/8113101c-05a3-4650-9dbb-4b41eada8388/022cbdfa-784d-4188-a682-b14ccac36051";
const TEAM_ARI: &str = "ari:cloud:teams::team/0f4c63d9-1455-4f59-9964-69844c87be93";

fn backstage(kind: &str, name: &str, annotations: &str, spec: &str) -> String {
    format!("apiVersion: backstage.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n{annotations}spec:\n{spec}")
}

/// The payments repository: a team, its API, the component providing it (with a dangling
/// dependency) and a component answering to a Compass ARI.
fn pay_repo() -> TestRepo {
    let repo = TestRepo::new();
    let main = [
        backstage("Group", "pay-team", "", "  type: team\n  children: []\n"),
        backstage(
            "Component",
            "pay-api",
            "",
            "  type: service\n  lifecycle: production\n  owner: pay-team\n  providesApis: [payments]\n  dependsOn: [resource:pay-db]\n",
        ),
        backstage(
            "API",
            "payments",
            "",
            "  type: openapi\n  lifecycle: production\n  owner: pay-team\n  definition: 'openapi: 3.0.0'\n",
        ),
    ]
    .join("---\n");
    let pricing = backstage(
        "Component",
        "pricing",
        &format!("  annotations:\n    sextant.dev/aliases: '{PRICING_ARI}'\n"),
        "  type: service\n  lifecycle: experimental\n  owner: group:pay-team\n  dependsOn: [component:pay-api]\n",
    );
    repo.commit(&[("catalog-info.yaml", &main), ("pricing/catalog-info.yaml", &pricing)], "pay");
    repo
}

/// The shop repository: a web front end and a worker depending on each other (a cycle), the
/// front end on `pay-api` and its API, and a Compass component depending on `pricing` by ARI.
fn shop_repo() -> TestRepo {
    let repo = TestRepo::new();
    let web = backstage(
        "Component",
        "shop-web",
        "",
        "  type: website\n  lifecycle: production\n  owner: shop-team\n  dependsOn: [component:pay-api, component:shop-worker]\n  consumesApis: [payments]\n",
    );
    let worker = backstage(
        "Component",
        "shop-worker",
        "",
        "  type: service\n  lifecycle: production\n  owner: shop-team\n  dependsOn: [component:shop-web]\n",
    );
    let loyalty = format!(
        "name: Loyalty\nid: '{LOYALTY_ARI}'\nslug: loyalty\nconfigVersion: 1\ntypeId: SERVICE\nownerId: '{TEAM_ARI}'\nfields:\n  tier: 2\nrelationships:\n  DEPENDS_ON:\n    - '{PRICING_ARI}'\n"
    );
    repo.commit(
        &[
            ("web/catalog-info.yaml", &web),
            ("worker/catalog-info.yaml", &worker),
            ("loyalty/compass.yml", &loyalty),
        ],
        "shop",
    );
    repo
}

/// A catalog of both repositories, with the repositories (kept alive: the crawl reads them).
async fn crawled_catalog() -> (Store, String, TestRepo, TestRepo, tempfile::TempDir) {
    let (store, url) = fresh_store().await;
    let (pay, shop) = (pay_repo(), shop_repo());
    let mirrors = tempfile::tempdir().unwrap();
    let summary = crawl_into(&store, &[pay.source(), shop.source()], mirrors.path()).await;
    assert_eq!(summary.outcomes.len(), 2, "{summary:?}");
    (store, url, pay, shop, mirrors)
}

async fn exported(store: &Store) -> String {
    let mut out: Vec<u8> = Vec::new();
    let summary = export_snapshot(store, &mut out).await.expect("the export runs");
    assert_eq!(summary.entities, 7);
    assert_eq!(summary.repositories, 2);
    String::from_utf8(out).expect("UTF-8")
}

fn sextant(args: &[&str], database_url: &str, data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SEXTANT_DATA_DIR", data_dir)
        .env_remove("SEXTANT_CONFIG")
        .current_dir(data_dir)
        .output()
        .expect("the binary runs")
}

fn load(path: &Path) -> SnapshotCatalog {
    SnapshotCatalog::load(path).unwrap_or_else(|error| panic!("{error}"))
}

fn edge(relation_type: &str, target: &str) -> DeclaredEdge {
    DeclaredEdge {
        relation_type: relation_type.to_owned(),
        target: target.to_owned(),
    }
}

const REFS: [&str; 7] = [
    "api:default/payments",
    "component:default/loyalty",
    "component:default/pay-api",
    "component:default/pricing",
    "component:default/shop-web",
    "component:default/shop-worker",
    "group:default/pay-team",
];

#[tokio::test(flavor = "multi_thread")]
async fn an_export_is_one_object_with_its_header_first_and_one_entity_a_line_in_reference_order() {
    let (store, _url, pay, shop, _mirrors) = crawled_catalog().await;
    let text = exported(&store).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), REFS.len() + 2, "{text}");
    let header = lines[0];
    assert!(
        header.starts_with(&format!("{{\"format\":\"{SNAPSHOT_FORMAT}\",\"version\":1,\"exportedAt\":\"")),
        "{header}"
    );
    assert!(header.ends_with(",\"entities\":["), "{header}");
    assert_eq!(lines[REFS.len() + 1], "]}");
    let whole: serde_json::Value = serde_json::from_str(&text).expect("the file is one JSON value");
    let exported_at = whole["exportedAt"].as_str().unwrap_or_default();
    assert!(
        exported_at.len() == 20 && exported_at.ends_with('Z') && exported_at.as_bytes()[10] == b'T',
        "{exported_at}"
    );
    let mut urls = [
        pay.path().to_string_lossy().into_owned(),
        shop.path().to_string_lossy().into_owned(),
    ];
    urls.sort();
    assert_eq!(
        whole["repos"],
        serde_json::json!([{"url": urls[0], "branch": null}, {"url": urls[1], "branch": null}])
    );

    let entities: Vec<CatalogEntity> = lines[1..=REFS.len()]
        .iter()
        .map(|line| serde_json::from_str(line.trim_end_matches(',')).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let refs: Vec<&str> = entities.iter().map(|entity| entity.entity_ref.as_str()).collect();
    assert_eq!(refs, REFS);

    let pay_url = pay.path().to_string_lossy().into_owned();
    let shop_url = shop.path().to_string_lossy().into_owned();
    let find = |entity_ref: &str| entities.iter().find(|entity| entity.entity_ref == entity_ref).unwrap();
    let pay_api = find("component:default/pay-api");
    assert_eq!((pay_api.repo.as_str(), pay_api.branch.as_deref()), (pay_url.as_str(), None));
    assert_eq!((pay_api.path.as_str(), pay_api.document_index), ("catalog-info.yaml", 1));
    assert!(pay_api.line > 1, "the second document starts further down: {}", pay_api.line);
    assert_eq!(pay_api.owner_ref.as_deref(), Some("group:default/pay-team"));
    assert_eq!(pay_api.lifecycle.as_deref(), Some("production"));
    assert_eq!(
        pay_api.relations,
        vec![
            edge("dependsOn", "resource:default/pay-db"),
            edge("ownedBy", "group:default/pay-team"),
            edge("providesApi", "api:default/payments"),
        ],
        "sorted by type then target; the dangling one as written"
    );
    let pricing = find("component:default/pricing");
    assert_eq!(pricing.aliases, vec![PRICING_ARI]);
    assert_eq!(pricing.path, "pricing/catalog-info.yaml");
    let loyalty = find("component:default/loyalty");
    assert_eq!(
        (loyalty.repo.as_str(), loyalty.path.as_str()),
        (shop_url.as_str(), "loyalty/compass.yml")
    );
    assert_eq!(loyalty.tier, Some(2));
    assert_eq!(loyalty.aliases, vec![LOYALTY_ARI]);
    assert_eq!(
        loyalty.owner_ref.as_deref(),
        Some(TEAM_ARI),
        "an owner that does not resolve: as written"
    );
    assert!(
        loyalty.relations.contains(&edge("dependsOn", PRICING_ARI)),
        "a target is as written (here the ARI that pricing answers to), as the API's targetRef: {:?}",
        loyalty.relations
    );
    let web = find("component:default/shop-web");
    assert_eq!(web.owner_ref.as_deref(), Some("group:default/shop-team"));

    // The same catalog exports the same entities, line for line.
    let again = exported(&store).await;
    assert_eq!(again.lines().skip(1).collect::<Vec<_>>(), lines[1..].to_vec());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_answers_lookups_repositories_and_dependents_as_the_catalog_does() {
    let (store, _url, pay, shop, _mirrors) = crawled_catalog().await;
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("catalog.json");
    std::fs::write(&path, exported(&store).await).unwrap();
    let catalog = load(&path);
    assert_eq!(
        catalog
            .entities()
            .iter()
            .map(|entity| entity.entity_ref.as_str())
            .collect::<Vec<_>>(),
        REFS
    );

    let asked: Vec<String> = [
        "pay-api",
        "API:Default/Payments",
        PRICING_ARI,
        " group:pay-team ",
        "component:nothing",
        "ari:unknown",
    ]
    .map(str::to_owned)
    .to_vec();
    let found = catalog.lookup(&asked);
    let found_ref = |text: &str| found.get(text).map(|entity| entity.entity_ref.as_str());
    assert_eq!(
        found_ref("pay-api"),
        Some("component:default/pay-api"),
        "the kind defaults to component"
    );
    assert_eq!(found_ref("API:Default/Payments"), Some("api:default/payments"), "any case");
    assert_eq!(found_ref(PRICING_ARI), Some("component:default/pricing"), "by alias");
    assert_eq!(found_ref(" group:pay-team "), Some("group:default/pay-team"));
    assert_eq!(found.len(), 4, "what the snapshot does not hold is absent: {:?}", found.keys());

    // A repository whatever the URL's spelling, with its entities by reference.
    let pay_url = pay.path().to_string_lossy().into_owned();
    let pay_repo = CatalogRepo {
        url: pay_url.clone(),
        branch: None,
    };
    assert_eq!(catalog.repositories(&format!("{pay_url}.git/")), vec![pay_repo.clone()]);
    assert!(catalog.repositories("https://example.com/acme/elsewhere").is_empty());
    let pay_entities: Vec<String> = catalog
        .repository_entities(&pay_repo)
        .into_iter()
        .map(|entity| entity.entity_ref)
        .collect();
    assert_eq!(
        pay_entities,
        [
            "api:default/payments",
            "component:default/pay-api",
            "component:default/pricing",
            "group:default/pay-team"
        ]
    );
    let on_a_branch = CatalogRepo {
        url: pay_url,
        branch: Some("release".to_owned()),
    };
    assert!(
        catalog.repository_entities(&on_a_branch).is_empty(),
        "another branch is another repository"
    );
    let shop_repo = CatalogRepo {
        url: shop.path().to_string_lossy().into_owned(),
        branch: None,
    };
    assert_eq!(catalog.repository_entities(&shop_repo).len(), 3);

    // Dependents across both repositories, each once although the web and worker depend on
    // each other, with the path from the entity removed.
    let dependents = catalog.dependents(&["component:default/pay-api".to_owned(), "component:nothing".to_owned()]);
    let of_pay_api = &dependents["component:default/pay-api"];
    let shown: Vec<(&str, u32, Vec<&str>)> = of_pay_api
        .iter()
        .map(|dependent| {
            (
                dependent.entity_ref.as_str(),
                dependent.depth,
                dependent.path.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("api:default/payments", 1, vec!["component:default/pay-api", "api:default/payments"]),
            (
                "component:default/pricing",
                1,
                vec!["component:default/pay-api", "component:default/pricing"]
            ),
            (
                "component:default/shop-web",
                1,
                vec!["component:default/pay-api", "component:default/shop-web"]
            ),
            (
                "component:default/loyalty",
                2,
                vec![
                    "component:default/pay-api",
                    "component:default/pricing",
                    "component:default/loyalty"
                ]
            ),
            (
                "component:default/shop-worker",
                2,
                vec![
                    "component:default/pay-api",
                    "component:default/shop-web",
                    "component:default/shop-worker"
                ]
            ),
        ]
    );
    let loyalty = &of_pay_api[3];
    assert_eq!(loyalty.owner_ref.as_deref(), Some(TEAM_ARI));
    assert_eq!((loyalty.file.as_str(), loyalty.line), ("loyalty/compass.yml", 1));
    assert_eq!(loyalty.repo, shop_repo.url);
    assert!(dependents["component:nothing"].is_empty());

    // The server's `impact` (depth 10, 500 nodes) finds the same dependents at the same depths
    // along the same paths, for every entity.
    let snapshot = store.snapshot();
    let everyone: Vec<String> = REFS.map(str::to_owned).to_vec();
    let from_file = catalog.dependents(&everyone);
    for entity_ref in REFS {
        let id = snapshot.entity_id(entity_ref).await.unwrap();
        let impact = snapshot.impact(id, 10, 500).await.unwrap();
        let from_server: Vec<(String, u32, Vec<String>, Option<String>)> = impact
            .nodes
            .iter()
            .map(|node| {
                (
                    node.node.entity_ref.clone(),
                    node.node.depth,
                    node.node.path.clone(),
                    node.owner_ref.clone(),
                )
            })
            .collect();
        let from_snapshot: Vec<(String, u32, Vec<String>, Option<String>)> = from_file[entity_ref]
            .iter()
            .map(|dependent| {
                (
                    dependent.entity_ref.clone(),
                    dependent.depth,
                    dependent.path.clone(),
                    dependent.owner_ref.clone(),
                )
            })
            .collect();
        assert_eq!(from_snapshot, from_server, "the dependents of {entity_ref}");
    }
    snapshot.release().await;

    // `--catalog FILE` opens the snapshot.
    let opened = Catalog::open(&path.to_string_lossy(), None).unwrap_or_else(|error| panic!("{error}"));
    let through_catalog = opened.lookup(&["shop-worker".to_owned()]).await.unwrap();
    assert_eq!(through_catalog["shop-worker"].entity_ref, "component:default/shop-worker");
}

#[tokio::test(flavor = "multi_thread")]
async fn sextant_export_writes_the_file_or_stdout_and_a_failure_leaves_no_file() {
    let (store, url, _pay, _shop, _mirrors) = crawled_catalog().await;
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("catalog.json");
    let output = sextant(
        &["export", "--format", "json", "--output", &path.to_string_lossy()],
        &url,
        data.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!("exported 7 entities from 2 repositories to {}", path.display())
    );
    let written = std::fs::read_to_string(&path).unwrap();
    let library = exported(&store).await;
    assert_eq!(
        written.lines().skip(1).collect::<Vec<_>>(),
        library.lines().skip(1).collect::<Vec<_>>(),
        "the command writes what the library does"
    );
    assert_eq!(load(&path).entities().len(), 7);
    let leftovers: Vec<String> = std::fs::read_dir(data.path())
        .unwrap()
        .filter_map(|entry| entry.ok().map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let to_stdout = sextant(&["export"], &url, data.path());
    assert_eq!(to_stdout.status.code(), Some(0), "{}", String::from_utf8_lossy(&to_stdout.stderr));
    assert_eq!(
        String::from_utf8_lossy(&to_stdout.stdout).lines().skip(1).collect::<Vec<_>>(),
        written.lines().skip(1).collect::<Vec<_>>()
    );
    assert!(String::from_utf8_lossy(&to_stdout.stderr).contains("to stdout"));

    // A catalog that cannot be read leaves the file asked for as it was.
    std::fs::write(&path, "kept").unwrap();
    let broken_url = format!("{url}_missing");
    let failed = sextant(&["export", "--output", &path.to_string_lossy()], &broken_url, data.path());
    assert_eq!(failed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&failed.stderr).starts_with("error: "));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept");
    let missing_folder = data.path().join("no-such-folder").join("catalog.json");
    let failed = sextant(&["export", "--output", &missing_folder.to_string_lossy()], &url, data.path());
    assert_eq!(failed.status.code(), Some(2), "{}", String::from_utf8_lossy(&failed.stderr));
    assert!(!missing_folder.exists());
    assert!(
        std::fs::read_dir(data.path())
            .unwrap()
            .filter_map(Result::ok)
            .all(|entry| !entry.file_name().to_string_lossy().ends_with(".tmp")),
        "no temporary file is left behind"
    );
}

/// The reason a snapshot is refused.
fn refusal(path: &Path, cap: u64) -> String {
    match SnapshotCatalog::load_with_cap(path, cap) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(error) => {
            assert_eq!(error.code(), "catalog-snapshot-unusable");
            let shown = error.to_string();
            match error {
                CatalogError::Snapshot { path: named, reason } => {
                    assert_eq!(named, path.display().to_string());
                    assert!(shown.contains(&reason), "{shown}");
                    reason
                }
                other => panic!("not a snapshot error: {other}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_snapshots_are_refused_with_a_clear_reason() {
    let (store, _url, _pay, _shop, _mirrors) = crawled_catalog().await;
    let good = exported(&store).await;
    let folder = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = folder.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    const CAP: u64 = 1 << 30;

    let truncated = refusal(&file("truncated.json", &good[..good.len() / 2]), CAP);
    assert!(truncated.contains("truncated") && truncated.contains("line "), "{truncated}");

    let newer = refusal(&file("newer.json", &good.replacen("\"version\":1", "\"version\":2", 1)), CAP);
    assert!(newer.contains("version 2") && newer.contains("reads version 1"), "{newer}");

    let other_format = refusal(&file("other.json", &good.replacen(SNAPSHOT_FORMAT, "backstage-catalog", 1)), CAP);
    assert!(
        other_format.contains("not a sextant snapshot") && other_format.contains("backstage-catalog"),
        "{other_format}"
    );
    let no_format = refusal(
        &file("entity.json", "{\"apiVersion\":\"backstage.io/v1alpha1\",\"kind\":\"Component\"}"),
        CAP,
    );
    assert!(no_format.contains("not a sextant snapshot"), "{no_format}");
    let array = refusal(&file("array.json", "[1, 2]"), CAP);
    assert!(array.contains("not a sextant snapshot"), "{array}");

    let yaml = refusal(
        &file("catalog-info.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\n"),
        CAP,
    );
    assert!(yaml.contains("not a sextant snapshot") && yaml.contains("not JSON"), "{yaml}");
    let empty = refusal(&file("empty.json", ""), CAP);
    assert!(empty.contains("empty"), "{empty}");

    let bad_entity = format!(
        "{{\"format\":\"{SNAPSHOT_FORMAT}\",\"version\":1,\"exportedAt\":\"2026-01-01T00:00:00Z\",\"repos\":[],\"entities\":[\n{{\"ref\":5}}\n]}}\n"
    );
    let malformed = refusal(&file("malformed.json", &bad_entity), CAP);
    assert!(malformed.contains("line 2"), "serde's position is given: {malformed}");

    let big = file("big.json", &good);
    let too_big = refusal(&big, 1_000);
    assert!(
        too_big.contains("bytes, more than the 1,000 bytes a snapshot may have"),
        "{too_big}"
    );
    assert!(
        SnapshotCatalog::load_with_cap(&big, good.len() as u64).is_ok(),
        "a file of exactly the cap is read"
    );

    let missing = refusal(&folder.path().join("missing.json"), CAP);
    assert!(missing.contains("cannot be read"), "{missing}");
    let directory = refusal(folder.path(), CAP);
    assert!(directory.contains("cannot be read"), "{directory}");
}
