//! Meilisearch misbehaving under the real sync (issue 8, "Bad input"): down when sextant starts,
//! going down in the middle of a sync, slow (tasks taking longer than 5 s), and refusing one
//! document. In each case the crawl commits whatever the index does, the changes wait in the
//! outbox (`Store::search_lag`, which `/readyz` reports, says what is wrong), and the index
//! catches up once Meilisearch answers again.

use std::time::{Duration, Instant};

use sextant::search::sync::{run_sync, sync_once, sync_until_idle};
use sextant::search::{Search, SearchError, SearchRequest, SyncSettings};
use sextant::store::{SearchLag, Store};

use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::git::{TestRepo, component};
use crate::meili::{MeiliServer, SlowProxy, unique_index};
use crate::server::{RunningServer, get};

/// The entities whose reference a search for `query` returns, sorted.
async fn found(search: &Search, query: &str) -> Vec<String> {
    let request = SearchRequest {
        query: query.to_owned(),
        first: 50,
        ..SearchRequest::default()
    };
    let answer = search
        .search(&request)
        .await
        .unwrap_or_else(|error| panic!("search {query:?}: {error}"));
    let mut refs: Vec<String> = answer.hits.into_iter().map(|hit| hit.entity.entity_ref).collect();
    refs.sort();
    refs
}

async fn lag(store: &Store) -> SearchLag {
    store.search_lag().await.expect("the lag is readable")
}

/// Drains the outbox until nothing is pending, waiting out the backoff of changes that failed
/// before (the first retry is due a second after a failure); panics after `limit`.
async fn deliver_everything(search: &Search, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let drained = sync_until_idle(search, &SyncSettings::default(), deadline).await;
        let lag = lag(search.store()).await;
        if drained.is_ok() && lag.pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not delivered within {limit:?}: last round {drained:?}, lag {lag:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_unavailable_in_lag(lag: &SearchLag, pending: i64) {
    assert_eq!((lag.pending, lag.failing), (pending, pending), "{lag:?}");
    let last_error = lag.last_error.as_deref().unwrap_or_default();
    assert!(last_error.contains("[search-unavailable]"), "the reason is kept: {lag:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn meilisearch_down_at_start_the_crawl_commits_and_the_index_catches_up() {
    let Some(mut server) = MeiliServer::private_or_skip(&[]) else {
        return;
    };
    server.stop();
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("alpha", "payments-team", &[])),
            ("b/catalog-info.yaml", &component("beta", "payments-team", &[])),
        ],
        "one",
    );
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    assert_eq!(
        entity_refs(&store).await,
        ["component:default/alpha", "component:default/beta"],
        "the crawl committed with Meilisearch down"
    );

    let search = Search::new(store.clone(), &server.config(&unique_index("down-at-start"))).expect("built without a request");
    let started = Instant::now();
    let prepared = search.prepare().await;
    assert!(matches!(prepared, Err(SearchError::Unavailable(_))), "{prepared:?}");
    let synced = sync_once(&search, &SyncSettings::default()).await;
    assert!(matches!(synced, Err(SearchError::Unavailable(_))), "{synced:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refused connection fails fast: {:?}",
        started.elapsed()
    );
    assert_unavailable_in_lag(&lag(&store).await, 2);

    server.restart();
    search.prepare().await.expect("prepare once Meilisearch is up");
    deliver_everything(&search, Duration::from_secs(15)).await;
    assert_eq!(found(&search, "alpha").await, ["component:default/alpha"]);
    assert_eq!(found(&search, "beta").await, ["component:default/beta"]);
    let caught_up = lag(&store).await;
    assert_eq!((caught_up.pending, caught_up.failing), (0, 0), "{caught_up:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn meilisearch_going_down_mid_sync_backs_off_and_delivers_when_back() {
    let Some(mut server) = MeiliServer::private_or_skip(&[]) else {
        return;
    };
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let mirrors = data.path().join("mirrors");
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("alpha", "payments-team", &[])),
            ("b/catalog-info.yaml", &component("beta", "payments-team", &[])),
        ],
        "one",
    );
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let index = unique_index("down-mid-sync");
    let direct = Search::new(store.clone(), &server.config(&index)).unwrap();
    direct.prepare().await.expect("prepare");
    deliver_everything(&direct, Duration::from_secs(15)).await;
    assert_eq!(found(&direct, "alpha").await, ["component:default/alpha"]);

    // A rename (the old name is a deletion) and a new entity, crawled while Meilisearch runs.
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("omega", "payments-team", &[])),
            ("d/catalog-info.yaml", &component("delta", "payments-team", &[])),
        ],
        "rename and add",
    );
    crawl_into(&store, &[repo.source()], &mirrors).await;
    assert_eq!(lag(&store).await.pending, 3);

    // The sync goes through a proxy that holds each answer for a second; Meilisearch is killed
    // while the batch is on its way.
    let proxy = SlowProxy::start(server.url());
    proxy.set_delay(Duration::from_secs(1));
    let through_proxy = Search::new(store.clone(), &proxy.config(&server, &index, Duration::from_secs(30))).unwrap();
    let in_flight = tokio::spawn({
        let search = through_proxy.clone();
        async move { sync_once(&search, &SyncSettings::default()).await }
    });
    let claimed_by = Instant::now() + Duration::from_secs(10);
    loop {
        let leased: i64 = sqlx::query_scalar("SELECT count(*) FROM search_outbox WHERE claimed_until > now()")
            .fetch_one(store.pool())
            .await
            .unwrap();
        if leased == 3 {
            break;
        }
        assert!(Instant::now() < claimed_by, "the sync did not claim the batch");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !in_flight.is_finished(),
        "the batch is still on its way (the proxy holds the answer)"
    );
    server.stop();
    let failed = tokio::time::timeout(Duration::from_secs(15), in_flight)
        .await
        .expect("the sync ends promptly")
        .expect("the sync does not panic");
    assert!(matches!(failed, Err(SearchError::Unavailable(_))), "{failed:?}");
    let backing_off = lag(&store).await;
    assert_unavailable_in_lag(&backing_off, 3);
    let not_due = sync_once(&direct, &SyncSettings::default()).await;
    assert!(
        matches!(&not_due, Ok(report) if report.changes() == 0),
        "failed changes wait for their backoff: {not_due:?}"
    );
    // Still down when they are due again: a second failure, and nothing lost.
    let retried_by = Instant::now() + Duration::from_secs(5);
    loop {
        match sync_once(&direct, &SyncSettings::default()).await {
            Err(SearchError::Unavailable(_)) => break,
            Ok(report) if report.changes() == 0 => {}
            other => panic!("with Meilisearch still down: {other:?}"),
        }
        assert!(Instant::now() < retried_by, "the failed changes were not due again within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts: Vec<i32> = sqlx::query_scalar("SELECT attempts FROM search_outbox")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(attempts, [2, 2, 2], "each failure counted");

    server.restart();
    deliver_everything(&direct, Duration::from_secs(15)).await;
    assert_eq!(found(&direct, "omega").await, ["component:default/omega"], "the new name");
    assert!(found(&direct, "alpha").await.is_empty(), "the old name is gone from the index");
    assert_eq!(found(&direct, "delta").await, ["component:default/delta"]);
    assert_eq!(found(&direct, "beta").await, ["component:default/beta"]);
    let caught_up = lag(&store).await;
    assert_eq!((caught_up.pending, caught_up.failing), (0, 0), "{caught_up:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_meilisearch_never_holds_a_crawl_back_and_times_out_below_its_delay() {
    let Some(server) = MeiliServer::private_or_skip(&[]) else {
        return;
    };
    let (store, _) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let mirrors = data.path().join("mirrors");
    let repo = TestRepo::new();
    repo.commit(&[("seed/catalog-info.yaml", &component("seed", "payments-team", &[]))], "seed");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let index = unique_index("slow");
    let direct = Search::new(store.clone(), &server.config(&index)).unwrap();
    let proxy = SlowProxy::start(server.url());
    let patient = Search::new(store.clone(), &proxy.config(&server, &index, Duration::from_secs(30))).unwrap();

    // The server's sync loop, through the proxy; it is running once the seed is searchable.
    let settings = SyncSettings {
        poll: Duration::from_millis(20),
        ..SyncSettings::default()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sync = tokio::spawn(run_sync(patient.clone(), settings, stopped));
    let ready_by = Instant::now() + Duration::from_secs(10);
    while direct
        .search(&SearchRequest::default())
        .await
        .map_or(true, |answer| answer.total == 0)
    {
        assert!(
            Instant::now() < ready_by,
            "the sync loop did not deliver the seed: {:?}",
            lag(&store).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Every answer now takes 6 s: each task appears to take longer than 5 s.
    let delay = Duration::from_secs(6);
    proxy.set_delay(delay);
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("alpha", "payments-team", &[])),
            ("b/catalog-info.yaml", &component("beta", "payments-team", &[])),
        ],
        "two",
    );
    let crawl_started = Instant::now();
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let crawl_took = crawl_started.elapsed();
    assert!(
        crawl_took < Duration::from_secs(3),
        "the crawl does not wait for search: {crawl_took:?}"
    );
    assert!(
        entity_refs(&store).await.contains(&"component:default/beta".to_owned()),
        "committed"
    );
    assert!(lag(&store).await.pending > 0, "the slow index has not caught up yet");
    let caught_up_by = Instant::now() + Duration::from_secs(25);
    while found(&direct, "alpha").await.is_empty() || found(&direct, "beta").await.is_empty() || lag(&store).await.pending > 0 {
        assert!(
            Instant::now() < caught_up_by,
            "the slow index did not catch up: {:?}",
            lag(&store).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lag(&store).await.failing, 0, "slow is not failing when the timeout allows for it");
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), sync)
        .await
        .expect("the sync loop stops")
        .unwrap();

    // A task timeout below the delay: unavailable, and the change waits.
    let impatient = Search::new(store.clone(), &proxy.config(&server, &index, Duration::from_secs(2))).unwrap();
    repo.commit(&[("g/catalog-info.yaml", &component("gamma", "payments-team", &[]))], "three");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let started = Instant::now();
    let timed_out = sync_once(&impatient, &SyncSettings::default()).await;
    assert!(matches!(&timed_out, Err(SearchError::Unavailable(_))), "{timed_out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it gives up after its timeout: {:?}",
        started.elapsed()
    );
    let waiting = lag(&store).await;
    assert_unavailable_in_lag(&waiting, 1);
    assert!(
        waiting
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("did not answer within 2000 ms"),
        "{waiting:?}"
    );

    // Once Meilisearch answers promptly again, the change is delivered (by a sync with the
    // default patience: under load a task alone may take over the 2 s of the impatient one).
    proxy.set_delay(Duration::ZERO);
    deliver_everything(&patient, Duration::from_secs(30)).await;
    assert_eq!(found(&direct, "gamma").await, ["component:default/gamma"]);
    assert_eq!(lag(&store).await.failing, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_meilisearch_refuses_fails_alone_and_readyz_names_it() {
    let Some(server) = MeiliServer::private_or_skip(&["--http-payload-size-limit", "100KB"]) else {
        return;
    };
    let (store, database_url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    // ~200 KB of description: within the crawler's 1 MiB per file, over the server's 100 KB.
    let huge = component("huge", "payments-team", &[]).replace(
        "metadata:\n  name: huge\n",
        &format!("metadata:\n  name: huge\n  description: {}\n", "word ".repeat(40_000).trim_end()),
    );
    assert!(huge.len() > 200_000 && huge.len() < sextant::descriptor::MAX_FILE_BYTES);
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("alpha", "payments-team", &[])),
            ("b/catalog-info.yaml", &component("beta", "payments-team", &[])),
            ("g/catalog-info.yaml", &component("gamma", "payments-team", &[])),
            ("h/catalog-info.yaml", &huge),
        ],
        "one",
    );
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    assert!(
        entity_refs(&store).await.contains(&"component:default/huge".to_owned()),
        "the crawler accepts the big descriptor"
    );

    let index = unique_index("refusal");
    let search = Search::new(store.clone(), &server.config(&index)).unwrap();
    search.prepare().await.expect("prepare");
    let report = sync_until_idle(&search, &SyncSettings::default(), Instant::now() + Duration::from_secs(20))
        .await
        .expect("a refused document does not fail the sync");
    assert_eq!((report.upserted, report.rejected), (3, 1), "{report:?}");
    for name in ["alpha", "beta", "gamma"] {
        assert_eq!(found(&search, name).await, [format!("component:default/{name}")]);
    }
    assert!(found(&search, "huge").await.is_empty());
    let refused = lag(&store).await;
    assert_eq!((refused.pending, refused.failing), (1, 1), "{refused:?}");
    let reason = refused.last_error.clone().unwrap_or_default();
    assert!(reason.contains("payload_too_large"), "Meilisearch's reason: {reason}");
    assert!(!reason.contains(server.key()), "no master key in the reason");

    // A real server on that Meilisearch: degraded, and the search check names the failure.
    let environment = [
        ("MEILI_URL", server.url()),
        ("MEILI_MASTER_KEY", server.key()),
        ("MEILI_INDEX", index.as_str()),
    ];
    let sextant = RunningServer::serve(&database_url, data.path(), &["--crawl-interval", "0"], &environment);
    let ready = get(&sextant.url("/readyz"));
    assert_eq!(ready.status, 200, "the catalog still serves: {}", ready.body);
    let body = ready.json();
    assert_eq!(body["status"], "degraded", "{}", ready.body);
    assert_eq!(body["checks"]["search"]["ok"], false, "{}", ready.body);
    let detail = body["checks"]["search"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("meilisearch, 1 pending") && detail.contains("1 failing, last error: ") && detail.contains("payload_too_large"),
        "{detail}"
    );
    assert!(!ready.body.contains(server.key()), "no master key in /readyz");
    // The normal entities stay searchable through it all.
    assert_eq!(found(&search, "alpha").await, ["component:default/alpha"]);
}
