//! The search outbox and its sync against a real Postgres: the triggers that fill it (and the
//! changes that do not), claims that never overlap, acknowledgements that keep later changes,
//! failures that back off and show in the lag, the reindex pause, a crawl that commits whatever
//! the index does, and the search check of `/readyz`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sextant::search::sync::{reindex, sync_once, sync_until_idle};
use sextant::search::{MeiliConfig, Search, SearchConfig, SearchError, SyncSettings};
use sextant::store::{Claim, ClaimedChange, SearchEntity, Store};

use crate::db::{crawl_into, fresh_store};
use crate::git::{TestRepo, component, group};
use crate::server::{RunningServer, get};

/// The outbox's references, sorted.
async fn outbox_refs(store: &Store) -> Vec<String> {
    sqlx::query_scalar("SELECT entity_ref FROM search_outbox ORDER BY entity_ref")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// Claims with a long lease; panics unless a batch came back.
async fn claim_batch(store: &Store, limit: usize) -> (Vec<ClaimedChange>, Vec<SearchEntity>) {
    match store.claim_search_changes(limit, Duration::from_secs(600)).await.unwrap() {
        Claim::Batch { changes, present } => (changes, present),
        other => panic!("expected a batch, got {other:?}"),
    }
}

fn refs_of(changes: &[ClaimedChange]) -> Vec<&str> {
    changes.iter().map(|change| change.entity_ref.as_str()).collect()
}

/// Meilisearch at a loopback port where nothing listens: every request is refused at once.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn unreachable_meili() -> SearchConfig {
    SearchConfig {
        meilisearch: Some(MeiliConfig {
            url: closed_port_url(),
            master_key: None,
            index: "sextant-unreachable".to_owned(),
            task_timeout: Duration::from_secs(5),
        }),
    }
}

const LABELLED_API: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments-api
  title: Payments API
  description: Takes payments
  labels:
    tier: gold
    region: eu-west-1
  tags: [payments, rest]
spec:
  type: openapi
  lifecycle: production
  owner: payments-team
  system: checkout
  definition: |
    openapi: 3.0.0
    info:
      title: Ledger entries
";

const COMPASS: &str = "name: Loyalty Service
id: 'ari:cloud:compass:549dbe51-94ac-45c7-bc41-9972ec40c21c:component/8113101c-05a3-4650-9dbb-4b41eada8388/022cbdfa-784d-4188-a682-b14ccac36051'
slug: loyalty-service
description: Earns miles
configVersion: 1
typeId: SERVICE
ownerId: 'ari:cloud:teams::team/0f4c63d9-1455-4f59-9964-69844c87be93'
labels:
  - source:github
  - language:java
";

#[tokio::test(flavor = "multi_thread")]
async fn entity_changes_fill_the_outbox_and_provenance_moves_do_not() {
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let mirrors = data.path().join("mirrors");
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("alpha", "payments-team", &[])),
            ("b/catalog-info.yaml", &component("beta", "payments-team", &[])),
            ("api/catalog-info.yaml", LABELLED_API),
            ("loyalty/compass.yml", COMPASS),
        ],
        "one",
    );
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let inserted = outbox_refs(&store).await;
    assert_eq!(
        inserted,
        [
            "api:default/payments-api",
            "component:default/alpha",
            "component:default/beta",
            "component:default/loyalty-service"
        ],
        "every new entity is queued"
    );

    // The claimed state is what the index holds: labels, tags, the repository, the definition.
    let (changes, present) = claim_batch(&store, 100).await;
    assert_eq!(refs_of(&changes), inserted.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        changes.iter().all(|change| change.version == 1 && change.attempts == 0),
        "{changes:?}"
    );
    let api = present.iter().find(|entity| entity.kind == "api").expect("the API is present");
    assert_eq!(api.title.as_deref(), Some("Payments API"));
    assert_eq!(
        api.labels,
        ["region=eu-west-1", "tier=gold"],
        "Backstage labels as key=value, by key"
    );
    assert_eq!(api.tags, ["payments", "rest"]);
    assert_eq!(api.owner.as_deref(), Some("group:default/payments-team"));
    assert_eq!(api.system.as_deref(), Some("system:default/checkout"));
    assert_eq!(api.repo.as_deref(), Some(repo.source().url.as_str()));
    assert!(
        api.definition.as_deref().is_some_and(|text| text.contains("Ledger entries")),
        "{api:?}"
    );
    let compass = present.iter().find(|entity| entity.name == "loyalty-service").expect("Compass");
    assert_eq!(compass.labels, ["source:github", "language:java"], "Compass labels as they are");
    assert_eq!(compass.definition, None);
    let alpha = present.iter().find(|entity| entity.name == "alpha").unwrap();
    assert!(alpha.labels.is_empty() && alpha.definition.is_none(), "{alpha:?}");
    store.acknowledge_search_changes(&changes).await.unwrap();
    assert!(outbox_refs(&store).await.is_empty(), "acknowledged changes are gone");

    // A commit that changes no descriptor queues nothing.
    repo.commit(&[("README.md", "hello")], "docs");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    assert!(outbox_refs(&store).await.is_empty(), "a recrawl without changes queues nothing");

    // A move within the repository changes provenance only: nothing to index.
    repo.commit(&[("moved/catalog-info.yaml", &component("alpha", "payments-team", &[]))], "move");
    repo.remove(&["a/catalog-info.yaml"], "move");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let path: String = sqlx::query_scalar("SELECT file_path FROM entities WHERE entity_ref = 'component:default/alpha'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(path, "moved/catalog-info.yaml", "the entity moved");
    assert!(outbox_refs(&store).await.is_empty(), "a provenance-only change queues nothing");

    // A rename queues the old reference (gone) and the new one.
    repo.commit(&[("b/catalog-info.yaml", &component("gamma", "payments-team", &[]))], "rename");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    assert_eq!(outbox_refs(&store).await, ["component:default/beta", "component:default/gamma"]);
    let (changes, present) = claim_batch(&store, 100).await;
    assert_eq!(refs_of(&changes), ["component:default/beta", "component:default/gamma"]);
    let present_refs: Vec<&str> = present.iter().map(|entity| entity.entity_ref.as_str()).collect();
    assert_eq!(present_refs, ["component:default/gamma"], "the old name is a deletion");
    store.acknowledge_search_changes(&changes).await.unwrap();

    // A description change queues the entity; a deleted file queues its entity, absent when claimed.
    repo.commit(&[("loyalty/compass.yml", &COMPASS.replace("Earns miles", "Spends miles"))], "edit");
    repo.remove(&["moved/catalog-info.yaml"], "delete");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let (changes, present) = claim_batch(&store, 100).await;
    assert_eq!(refs_of(&changes), ["component:default/alpha", "component:default/loyalty-service"]);
    assert_eq!(present.len(), 1);
    assert_eq!(present[0].description.as_deref(), Some("Spends miles"));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_claimers_never_get_the_same_change() {
    let (store, _) = fresh_store().await;
    sqlx::query("INSERT INTO search_outbox (entity_ref) SELECT 'component:default/c' || n FROM generate_series(1, 600) AS n")
        .execute(store.pool())
        .await
        .unwrap();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut claims = 0;
    loop {
        let rounds = (0..4).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_search_changes(25, Duration::from_secs(600)).await.unwrap() })
        });
        let mut claimed_any = false;
        for round in rounds.collect::<Vec<_>>() {
            if let Claim::Batch { changes, present } = round.await.unwrap() {
                claimed_any = true;
                claims += 1;
                assert!(present.is_empty(), "no such entities: every change is a deletion");
                for change in changes {
                    assert!(seen.insert(change.entity_ref.clone()), "{} was claimed twice", change.entity_ref);
                }
            }
        }
        if !claimed_any {
            break;
        }
    }
    assert_eq!(seen.len(), 600, "every change was claimed once");
    assert!(claims >= 24, "in batches of at most 25: {claims}");
    assert!(matches!(
        store.claim_search_changes(25, Duration::from_secs(600)).await.unwrap(),
        Claim::Empty
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_made_after_the_claim_survives_the_acknowledgement() {
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("alpha", "payments-team", &[]))], "one");
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    let (changes, present) = claim_batch(&store, 10).await;
    assert_eq!(present[0].description, None);

    // Changed while the batch is on its way to the index.
    sqlx::query("UPDATE entities SET description = 'later' WHERE entity_ref = 'component:default/alpha'")
        .execute(store.pool())
        .await
        .unwrap();
    store.acknowledge_search_changes(&changes).await.unwrap();
    assert_eq!(outbox_refs(&store).await, ["component:default/alpha"], "the later change stays");
    let lag = store.search_lag().await.unwrap();
    assert_eq!((lag.pending, lag.failing), (1, 0));

    // Due again at once (not after the lease), with the later state and version.
    let (again, present) = claim_batch(&store, 10).await;
    assert_eq!(again[0].version, changes[0].version + 1);
    assert_eq!(present[0].description.as_deref(), Some("later"));
    store.acknowledge_search_changes(&again).await.unwrap();
    assert!(outbox_refs(&store).await.is_empty());
    // Acknowledging an old claim again changes nothing.
    store.acknowledge_search_changes(&changes).await.unwrap();
    assert!(outbox_refs(&store).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_batch_backs_off_and_its_error_shows_in_the_lag() {
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("alpha", "payments-team", &[])),
            ("team/catalog-info.yaml", &group("payments-team", None)),
        ],
        "one",
    );
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;

    // Through the sync, against a Meilisearch that refuses connections.
    let search = Search::new(store.clone(), &unreachable_meili()).unwrap();
    let settings = SyncSettings::default();
    let error = sync_once(&search, &settings).await.expect_err("the backend is down");
    assert!(matches!(error, SearchError::Unavailable(_)), "{error:?}");
    let lag = store.search_lag().await.unwrap();
    assert_eq!((lag.pending, lag.failing), (2, 2), "{lag:?}");
    let last_error = lag.last_error.clone().unwrap_or_default();
    assert!(last_error.contains("[search-unavailable]"), "{last_error}");
    assert!(lag.oldest_seconds.is_some());
    let attempts: Vec<(i32, f64)> =
        sqlx::query_as("SELECT attempts, extract(epoch FROM available_at - now())::float8 FROM search_outbox ORDER BY entity_ref")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert!(
        attempts
            .iter()
            .all(|(attempts, wait)| *attempts == 1 && *wait > 0.0 && *wait <= 1.0),
        "first failure: due again within a second: {attempts:?}"
    );
    // Backing off: nothing is due until then.
    assert!(matches!(sync_once(&search, &settings).await, Ok(report) if report.changes() == 0));

    // The wait grows with the attempts.
    sqlx::query("UPDATE search_outbox SET available_at = now(), attempts = 5")
        .execute(store.pool())
        .await
        .unwrap();
    assert!(sync_once(&search, &settings).await.is_err());
    let waits: Vec<f64> = sqlx::query_scalar("SELECT extract(epoch FROM available_at - now())::float8 FROM search_outbox")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(
        waits.iter().all(|wait| *wait > 30.0 && *wait <= 32.0),
        "2^5 s after 5 attempts: {waits:?}"
    );

    // Documents refused one by one are failed alone, each with its reason.
    sqlx::query("UPDATE search_outbox SET available_at = now(), attempts = 0, last_error = NULL")
        .execute(store.pool())
        .await
        .unwrap();
    let (changes, _) = claim_batch(&store, 10).await;
    let (refused, delivered) = changes.split_at(1);
    store
        .fail_search_changes_each(&[(&refused[0], "document too large")], Duration::from_secs(60))
        .await
        .unwrap();
    store.acknowledge_search_changes(delivered).await.unwrap();
    let lag = store.search_lag().await.unwrap();
    assert_eq!((lag.pending, lag.failing), (1, 1));
    assert_eq!(lag.last_error.as_deref(), Some("document too large"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reindex_pauses_delivery_until_it_ends() {
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("alpha", "payments-team", &[]))], "one");
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    let search = Search::new(store.clone(), &unreachable_meili()).unwrap();
    let settings = SyncSettings::default();

    let first = store
        .begin_reindex(Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the reindex starts");
    assert!(
        store.begin_reindex(Duration::from_secs(60)).await.unwrap().is_none(),
        "one reindex at a time"
    );
    assert!(matches!(reindex(&search).await, Err(SearchError::Busy)));
    let report = sync_once(&search, &settings).await.expect("paused is no error");
    assert!(report.paused && report.changes() == 0, "{report:?}");
    assert!(matches!(
        store.claim_search_changes(10, settings.lease).await.unwrap(),
        Claim::Paused
    ));
    assert!(store.search_lag().await.unwrap().reindexing);
    let until_idle = sync_until_idle(&search, &settings, Instant::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert!(until_idle.paused, "the drain stops at the pause");

    store.end_reindex(first).await.unwrap();
    assert!(!store.search_lag().await.unwrap().reindexing);
    let (changes, _) = claim_batch(&store, 10).await;
    assert_eq!(refs_of(&changes), ["component:default/alpha"], "delivery resumed");

    // A paused delivery whose reindex died resumes when its lease runs out.
    assert!(store.begin_reindex(Duration::from_millis(1)).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!store.search_lag().await.unwrap().reindexing, "the lease ran out");

    let Some(second) = store.begin_reindex(Duration::from_secs(60)).await.unwrap() else {
        panic!("a new reindex may start")
    };
    store.end_reindex(second).await.unwrap();

    // A reindex that fails (the backend is down) still ends its pause.
    let error = reindex(&search).await.expect_err("Meilisearch is down");
    assert!(matches!(error, SearchError::Unavailable(_)), "{error:?}");
    assert!(!store.search_lag().await.unwrap().reindexing);
    let third = store.begin_reindex(Duration::from_secs(60)).await.unwrap();
    let third = third.expect("the failed reindex ended its pause");
    store.end_reindex(third).await.unwrap();
}

/// Claims hold the pause's row `FOR SHARE`: a reindex starting waits for a claim in progress,
/// and no claim starts once it holds the pause.
#[tokio::test(flavor = "multi_thread")]
async fn a_reindex_waits_for_a_claim_in_progress() {
    let (store, _) = fresh_store().await;
    let mut claim = store.pool().begin().await.unwrap();
    let _: Option<bool> = sqlx::query_scalar("SELECT reindex_until > now() FROM search_state WHERE id = 1 FOR SHARE")
        .fetch_one(&mut *claim)
        .await
        .unwrap();
    let starting = tokio::spawn({
        let store = store.clone();
        async move { store.begin_reindex(Duration::from_secs(60)).await.unwrap() }
    });
    eventually("the reindex waits for the claim's lock", || async {
        waiting_on_a_lock(&store, "UPDATE search_state%").await == 1
    })
    .await;
    assert!(!starting.is_finished(), "the reindex waits for the claim's transaction");
    claim.commit().await.unwrap();
    let token = starting.await.unwrap().expect("then it starts");
    assert!(matches!(
        store.claim_search_changes(10, Duration::from_secs(60)).await.unwrap(),
        Claim::Paused
    ));
    store.end_reindex(token).await.unwrap();
}

fn sextant(args: &[&str], database_url: &str, data_dir: &Path, environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
    command
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SEXTANT_DATA_DIR", data_dir)
        .env_remove("SEXTANT_CONFIG")
        .env_remove("MEILI_URL")
        .env_remove("MEILI_MASTER_KEY")
        .env_remove("MEILI_INDEX")
        .current_dir(data_dir);
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crawl_commits_when_the_search_backend_is_down() {
    let (store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("alpha", "payments-team", &[])),
            ("team/catalog-info.yaml", &group("payments-team", None)),
        ],
        "one",
    );
    let meili_url = closed_port_url();
    let crawl = sextant(
        &["crawl", "--repo", &repo.path().to_string_lossy()],
        &url,
        data.path(),
        &[("MEILI_URL", &meili_url)],
    );
    let stderr = String::from_utf8_lossy(&crawl.stderr);
    assert_eq!(crawl.status.code(), Some(0), "the crawl succeeds: {stderr}");
    assert!(
        stderr.contains("warning: the search index is not up to date") && stderr.contains("[search-unavailable]"),
        "{stderr}"
    );
    assert_eq!(
        crate::db::entity_refs(&store).await,
        ["component:default/alpha", "group:default/payments-team"],
        "the crawl committed"
    );
    let lag = store.search_lag().await.unwrap();
    assert_eq!(lag.pending, 2, "the changes wait for the index: {lag:?}");

    // The library's drain says the same, and leaves the changes for later.
    let search = Search::new(store.clone(), &unreachable_meili()).unwrap();
    let drained = sync_until_idle(&search, &SyncSettings::default(), Instant::now() + Duration::from_secs(10)).await;
    assert!(matches!(drained, Err(SearchError::Unavailable(_))), "{drained:?}");
    assert_eq!(store.search_lag().await.unwrap().pending, 2);

    // `sextant reindex` says the backend is down, with exit code 2.
    let reindexed = sextant(&["reindex"], &url, data.path(), &[("MEILI_URL", &meili_url)]);
    let stderr = String::from_utf8_lossy(&reindexed.stderr);
    assert_eq!(reindexed.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot reindex into meilisearch") && stderr.contains("[search-unavailable]"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crawl_then_readyz_shows_the_search_check() {
    let (store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("alpha", "payments-team", &[]))], "one");
    let crawl = sextant(&["crawl", "--repo", &repo.path().to_string_lossy()], &url, data.path(), &[]);
    let stderr = String::from_utf8_lossy(&crawl.stderr);
    assert_eq!(crawl.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "the Postgres index took the crawl: {stderr}");
    assert_eq!(store.search_lag().await.unwrap().pending, 0, "delivered by the crawl");

    // One reindex at a time.
    let token = store
        .begin_reindex(Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the reindex starts");
    let busy = sextant(&["reindex"], &url, data.path(), &[]);
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert_eq!(busy.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a reindex is already running") && stderr.contains("[search-busy]"),
        "{stderr}"
    );
    store.end_reindex(token).await.unwrap();

    let reindexed = sextant(&["reindex"], &url, data.path(), &[]);
    assert_eq!(reindexed.status.code(), Some(0), "{}", String::from_utf8_lossy(&reindexed.stderr));
    let said = String::from_utf8_lossy(&reindexed.stdout);
    assert!(said.starts_with("reindexed 1 entity into postgres in "), "{said}");

    // An empty MEILI_URL (the test's environment may name a running server) selects Postgres.
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[("MEILI_URL", "")]);
    let ready = get(&server.url("/readyz"));
    assert_eq!(ready.status, 200, "{}", ready.body);
    let body = ready.json();
    assert_eq!(body["status"], "ready", "{}", ready.body);
    assert_eq!(body["checks"]["search"]["ok"], true, "{}", ready.body);
    assert_eq!(body["checks"]["search"]["detail"], "postgres, 0 pending", "{}", ready.body);
    // A failing change, then one that waited too long: degraded, the replica still serves.
    sqlx::query(
        "INSERT INTO search_outbox (entity_ref, attempts, last_error, available_at, changed_at)
         VALUES ('component:default/alpha', 2, 'document refused [search-rejected]', now() + interval '1 hour', now() - interval '2 minutes')",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let failing = get(&server.url("/readyz"));
    assert_eq!(
        (failing.status, &failing.json()["status"]),
        (200, &serde_json::json!("degraded")),
        "{}",
        failing.body
    );
    let detail = failing.json()["checks"]["search"]["detail"].as_str().unwrap_or_default().to_owned();
    assert!(
        detail.starts_with("postgres, 1 pending, oldest 12")
            && detail.ends_with("; 1 failing, last error: document refused [search-rejected]"),
        "{detail}"
    );
    sqlx::query("UPDATE search_outbox SET attempts = 0, last_error = NULL")
        .execute(store.pool())
        .await
        .unwrap();
    let late = get(&server.url("/readyz")).json();
    assert_eq!(late["status"], "degraded");
    let detail = late["checks"]["search"]["detail"].as_str().unwrap_or_default();
    assert!(detail.ends_with(": a change has waited more than 60 s"), "{detail}");
    let metrics = get(&server.url("/metrics")).body;
    assert!(metrics.lines().any(|line| line == "sextant_search_pending 1"), "{metrics}");
    sqlx::query("DELETE FROM search_outbox").execute(store.pool()).await.unwrap();
    let metrics = get(&server.url("/metrics")).body;
    for line in [
        "sextant_search_pending 0",
        "sextant_search_failing 0",
        "sextant_search_up{backend=\"postgres\"} 1",
    ] {
        assert!(metrics.lines().any(|shown| shown == line), "{line} in:\n{metrics}");
    }
    drop(server);

    // With Meilisearch down the replica still serves: degraded, not unready.
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[("MEILI_URL", &closed_port_url())]);
    let degraded = get(&server.url("/readyz"));
    assert_eq!(degraded.status, 200, "{}", degraded.body);
    let body = degraded.json();
    assert_eq!(body["status"], "degraded", "{}", degraded.body);
    assert_eq!(body["checks"]["database"]["ok"], true);
    assert_eq!(body["checks"]["search"]["ok"], false);
    let detail = body["checks"]["search"]["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("meilisearch does not answer [search-unavailable]"), "{detail}");
    let metrics = get(&server.url("/metrics")).body;
    assert!(
        metrics.lines().any(|line| line == "sextant_search_up{backend=\"meilisearch\"} 0"),
        "{metrics}"
    );
}

/// Polls `condition` every 20 ms for at most 10 s.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition().await {
        assert!(Instant::now() < deadline, "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_sync_delivers_changes_as_they_come_and_stops_on_shutdown() {
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("alpha", "payments-team", &[]))], "one");
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    let search = Search::new(store.clone(), &SearchConfig::default()).unwrap();
    let settings = SyncSettings {
        poll: Duration::from_millis(20),
        ..SyncSettings::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sync = tokio::spawn(sextant::search::sync::run_sync(search.clone(), settings, stopped));

    let request = |query: &str| sextant::search::SearchRequest {
        query: query.to_owned(),
        first: 10,
        ..Default::default()
    };
    let found = |query: &'static str| {
        let search = search.clone();
        let request = request(query);
        async move {
            let answer = search.search(&request).await.unwrap();
            answer.hits.iter().map(|hit| hit.entity.entity_ref.clone()).collect::<Vec<_>>()
        }
    };
    eventually("the crawl's entity is searchable", || async {
        found("alpha").await == ["component:default/alpha"]
    })
    .await;
    // Searchable as soon as applied; the acknowledgement commits a moment after.
    eventually("the delivery is acknowledged", || async {
        store.search_lag().await.unwrap().pending == 0
    })
    .await;

    // A later change, delivered without anyone asking.
    sqlx::query("UPDATE entities SET description = 'settles ledgers' WHERE entity_ref = 'component:default/alpha'")
        .execute(store.pool())
        .await
        .unwrap();
    eventually("the change is searchable", || async {
        found("ledgers").await == ["component:default/alpha"]
    })
    .await;

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), sync)
        .await
        .expect("the sync stops on shutdown")
        .unwrap();

    // A sync whose backend never answers still stops on shutdown (it is retrying `prepare`).
    let down = Search::new(store.clone(), &unreachable_meili()).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sync = tokio::spawn(sextant::search::sync::run_sync(down, SyncSettings::default(), stopped));
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), sync)
        .await
        .expect("the sync stops on shutdown")
        .unwrap();
}

/// The outbox row of `entity_ref`: (version, attempts, due now, claimed).
async fn outbox_row(store: &Store, entity_ref: &str) -> Option<(i64, i32, bool, bool)> {
    sqlx::query_as("SELECT version, attempts, available_at <= now(), claimed_until IS NOT NULL FROM search_outbox WHERE entity_ref = $1")
        .bind(entity_ref)
        .fetch_optional(store.pool())
        .await
        .unwrap()
}

/// A backoff is for the state that failed: a new change of the entity is new data, due at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_during_a_backoff_is_due_at_once() {
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("alpha", "payments-team", &[]))], "one");
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    let (changes, _) = claim_batch(&store, 10).await;
    store
        .fail_search_changes(&changes, "the backend is down", Duration::from_secs(300))
        .await
        .unwrap();
    assert!(
        matches!(store.claim_search_changes(10, Duration::from_secs(60)).await.unwrap(), Claim::Empty),
        "backing off"
    );

    sqlx::query("UPDATE entities SET description = 'new' WHERE entity_ref = 'component:default/alpha'")
        .execute(store.pool())
        .await
        .unwrap();
    let (again, present) = claim_batch(&store, 10).await;
    assert_eq!(refs_of(&again), ["component:default/alpha"], "due at once");
    assert_eq!((again[0].version, again[0].attempts), (changes[0].version + 1, 1));
    assert_eq!(present[0].description.as_deref(), Some("new"));
}

/// An acknowledgement waits for a change in progress on its rows (it locks them first), then
/// sees the new version: the row stays, due now, released from the claim.
#[tokio::test(flavor = "multi_thread")]
async fn an_acknowledgement_racing_a_change_leaves_the_row_due_now() {
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("alpha", "payments-team", &[]))], "one");
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    let (changes, _) = claim_batch(&store, 10).await;

    // A change in progress, in its own transaction: the trigger holds the outbox row.
    let mut change = store.pool().begin().await.unwrap();
    sqlx::query("UPDATE entities SET description = 'racing' WHERE entity_ref = 'component:default/alpha'")
        .execute(&mut *change)
        .await
        .unwrap();
    let acknowledging = tokio::spawn({
        let store = store.clone();
        let changes = changes.clone();
        async move { store.acknowledge_search_changes(&changes).await }
    });
    eventually("the acknowledgement waits for the change's lock", || async {
        waiting_on_a_lock(&store, "SELECT 1 FROM search_outbox%").await == 1
    })
    .await;
    assert!(!acknowledging.is_finished(), "the acknowledgement waits for the change");
    change.commit().await.unwrap();
    acknowledging
        .await
        .unwrap()
        .expect("the acknowledgement succeeds once the change commits");

    let row = outbox_row(&store, "component:default/alpha").await;
    assert_eq!(
        row,
        Some((changes[0].version + 1, 0, true, false)),
        "the newer version stays, due now, unclaimed"
    );
    let (again, present) = claim_batch(&store, 10).await;
    assert_eq!(again[0].version, changes[0].version + 1);
    assert_eq!(present[0].description.as_deref(), Some("racing"));
}

/// A claim whose lease ran out and was taken by another sync: its late acknowledgement or
/// failure changes nothing; the new claim's does.
#[tokio::test(flavor = "multi_thread")]
async fn a_late_answer_of_an_expired_claim_changes_nothing() {
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("alpha", "payments-team", &[]))], "one");
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    let expired = match store.claim_search_changes(10, Duration::from_millis(1)).await.unwrap() {
        Claim::Batch { changes, .. } => changes,
        other => panic!("expected a batch, got {other:?}"),
    };
    // Waiting out the 1 ms lease.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (current, _) = claim_batch(&store, 10).await;
    assert_eq!(refs_of(&current), ["component:default/alpha"], "the lease ran out: claimed again");
    assert_ne!(current[0].claim_token, expired[0].claim_token);

    store.acknowledge_search_changes(&expired).await.unwrap();
    store
        .fail_search_changes(&expired, "late failure", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(
        outbox_row(&store, "component:default/alpha").await,
        Some((current[0].version, 0, true, true)),
        "still the new claim's, untouched"
    );
    store.acknowledge_search_changes(&current).await.unwrap();
    assert!(
        outbox_refs(&store).await.is_empty(),
        "the current claim's acknowledgement removes it"
    );
}

/// The pause belongs to the reindex that began it: a lapsed reindex can neither renew nor end a
/// newer one's.
#[tokio::test(flavor = "multi_thread")]
async fn a_reindex_token_owns_its_pause() {
    let (store, _) = fresh_store().await;
    let lapsed = store.begin_reindex(Duration::from_millis(1)).await.unwrap().expect("begins");
    // Waiting out the 1 ms lease.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let current = store
        .begin_reindex(Duration::from_secs(60))
        .await
        .unwrap()
        .expect("begins after the lapse");
    assert_ne!(lapsed, current);

    assert!(
        !store.extend_reindex(lapsed, Duration::from_secs(60)).await.unwrap(),
        "the lapsed one cannot renew"
    );
    store.end_reindex(lapsed).await.unwrap();
    assert!(store.search_lag().await.unwrap().reindexing, "nor end the newer pause");
    assert!(store.extend_reindex(current, Duration::from_secs(60)).await.unwrap());
    store.end_reindex(current).await.unwrap();
    assert!(!store.search_lag().await.unwrap().reindexing);
    assert!(
        !store.extend_reindex(current, Duration::from_secs(60)).await.unwrap(),
        "ended: nothing to renew"
    );
}

/// Changes and acknowledgements of the same references at the same time never deadlock: real
/// crawls changing every entity, and transactions changing them one statement at a time in the
/// reverse order (the worst case for a lock order), each against acknowledgements of claims.
#[tokio::test(flavor = "multi_thread")]
async fn changes_and_acknowledgements_of_the_same_refs_never_deadlock() {
    const ENTITIES: usize = 30;
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let mirrors = data.path().join("mirrors");
    let repo = TestRepo::new();
    let commit_round = |round: usize| {
        let files: Vec<(String, String)> = (0..ENTITIES)
            .map(|index| {
                let text = component(&format!("service-{index:02}"), "payments-team", &[])
                    .replace("spec:\n", &format!("  description: round {round}\nspec:\n"));
                (format!("s{index:02}/catalog-info.yaml"), text)
            })
            .collect();
        let files: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
        repo.commit(&files, &format!("round {round}"));
    };
    commit_round(0);
    crawl_into(&store, &[repo.source()], &mirrors).await;

    for round in 1..=12 {
        let (changes, _) = claim_batch(&store, ENTITIES * 2).await;
        assert_eq!(changes.len(), ENTITIES);
        let acknowledging = tokio::spawn({
            let store = store.clone();
            async move { store.acknowledge_search_changes(&changes).await }
        });
        if round % 3 == 0 {
            commit_round(round);
            crawl_into(&store, &[repo.source()], &mirrors).await;
        } else {
            let mut change = store.pool().begin().await.unwrap();
            for index in (0..ENTITIES).rev() {
                sqlx::query("UPDATE entities SET description = $1 WHERE entity_ref = $2")
                    .bind(format!("round {round}"))
                    .bind(format!("component:default/service-{index:02}"))
                    .execute(&mut *change)
                    .await
                    .expect("the change never deadlocks");
            }
            change.commit().await.expect("the change commits");
        }
        acknowledging
            .await
            .unwrap()
            .unwrap_or_else(|error| panic!("round {round}: the acknowledgement never deadlocks: {error}"));
        // Whatever the interleaving, every entity is pending again (changed after its claim) or
        // was delivered before the change and enqueued anew.
        assert_eq!(outbox_refs(&store).await.len(), ENTITIES, "round {round}");
    }
}

/// How many statements of this database, their text `LIKE like`, wait for a lock now.
async fn waiting_on_a_lock(store: &Store, like: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1",
    )
    .bind(like)
    .fetch_one(store.pool())
    .await
    .unwrap()
}
