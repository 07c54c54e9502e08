//! The catalog never loses good data: moves within a file, between files and between
//! repositories; files that turn unusable (too large, a symbolic link, beyond the descriptor
//! limit) keep their last good entities; one URL on two branches; aliases that go; an older read
//! that arrives late; forgetting a repository; a transaction begun by a request that hung up.
//! Real git repositories, real Postgres.

use sextant::crawler::{Origin, ReadOptions, Source};
use sextant::ingest::{CrawlOptions, CrawlSummary, RepoOutcome, crawl};
use sextant::reconcile::{RepoChange, RepoRead};
use sextant::store::{Applied, RepoKey, Store};

use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::git::{TestRepo, component, group};

async fn run(store: &Store, sources: &[Source]) -> CrawlSummary {
    crawl_into(store, sources, &std::env::temp_dir().join("sextant-test-unused-mirrors")).await
}

/// (path, document index, line, stale reason) of one entity.
async fn provenance(store: &Store, entity_ref: &str) -> (String, i32, i32, Option<String>) {
    sqlx::query_as("SELECT file_path, document_index, line, stale_reason FROM entities WHERE entity_ref = $1")
        .bind(entity_ref)
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|error| panic!("{entity_ref} is not in the catalog: {error}"))
}

async fn conflict_count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM conflicts")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn holder_url(store: &Store, entity_ref: &str) -> String {
    sqlx::query_scalar("SELECT r.url FROM entities e JOIN repos r ON r.id = e.repo_id WHERE e.entity_ref = $1")
        .bind(entity_ref)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

fn two_documents(first: &str, second: &str) -> String {
    format!("{first}---\n{second}")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entity_split_into_another_file_of_the_same_repository_is_moved_not_lost() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[(
            "catalog-info.yaml",
            &two_documents(&component("x", "team", &[]), &component("y", "team", &[])),
        )],
        "one file",
    );
    run(&store, &[repo.source()]).await;
    assert_eq!(provenance(&store, "component:default/y").await.1, 1);

    repo.commit(
        &[
            ("catalog-info.yaml", &component("y", "team", &[])),
            ("x/catalog-info.yaml", &component("x", "team", &[])),
        ],
        "split",
    );
    let summary = run(&store, &[repo.source()]).await;
    assert_eq!((summary.totals.removed, summary.totals.conflicts), (0, 0), "{summary:?}");
    assert_eq!(conflict_count(&store).await, 0);
    assert_eq!(
        provenance(&store, "component:default/x").await,
        ("x/catalog-info.yaml".to_owned(), 0, 1, None)
    );
    assert_eq!(
        provenance(&store, "component:default/y").await,
        ("catalog-info.yaml".to_owned(), 0, 1, None),
        "the unchanged document's place is current"
    );
    // And it stays: later crawls find nothing to change and nothing lost.
    let summary = run(&store, &[repo.source()]).await;
    assert_eq!(summary.outcomes[0].1, RepoOutcome::Unchanged);
    assert_eq!(entity_refs(&store).await, vec!["component:default/x", "component:default/y"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn documents_merged_and_reordered_within_a_file_keep_their_rows_with_current_places() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("a", "team", &[])),
            ("b/catalog-info.yaml", &component("b", "team", &["component:a"])),
        ],
        "two files",
    );
    run(&store, &[repo.source()]).await;
    let id_of_a = store.entity_id("component:default/a").await.unwrap();
    repo.remove(&["a/catalog-info.yaml"], "merge");
    repo.commit(
        &[(
            "b/catalog-info.yaml",
            &two_documents(&component("b", "team", &["component:a"]), &component("a", "team", &[])),
        )],
        "merge",
    );
    run(&store, &[repo.source()]).await;
    assert_eq!(
        store.entity_id("component:default/a").await.unwrap(),
        id_of_a,
        "a move keeps the entity's row"
    );
    let (path, document, line, _) = provenance(&store, "component:default/a").await;
    assert_eq!((path.as_str(), document), ("b/catalog-info.yaml", 1));
    assert!(line > 1);
    let resolved: Option<i64> = sqlx::query_scalar("SELECT target_id FROM relations WHERE target_ref = 'component:default/a'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(resolved, Some(id_of_a), "b's dependency on a stays resolved");

    repo.commit(
        &[(
            "b/catalog-info.yaml",
            &two_documents(&component("a", "team", &[]), &component("b", "team", &["component:a"])),
        )],
        "reorder",
    );
    run(&store, &[repo.source()]).await;
    assert_eq!(
        provenance(&store, "component:default/a").await,
        ("b/catalog-info.yaml".to_owned(), 0, 1, None)
    );
    assert_eq!(provenance(&store, "component:default/b").await.1, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entity_given_up_by_its_repository_passes_to_the_other_definition_in_the_same_crawl() {
    let (store, _) = fresh_store().await;
    let a = TestRepo::new();
    a.commit(&[("catalog-info.yaml", &component("moved-thing", "team-a", &[]))], "a");
    let b = TestRepo::new();
    b.commit(&[("catalog-info.yaml", &component("moved-thing", "team-b", &[]))], "b");
    let sources = [a.source(), b.source()];
    run(&store, &sources).await;
    assert_eq!(holder_url(&store, "component:default/moved-thing").await, a.source().url);
    assert_eq!(conflict_count(&store).await, 1);

    a.remove(&["catalog-info.yaml"], "moved to b");
    let summary = run(&store, &sources).await;
    assert_eq!(summary.totals.removed, 0, "{summary:?}");
    assert_eq!(holder_url(&store, "component:default/moved-thing").await, b.source().url);
    let owner: String = sqlx::query_scalar("SELECT owner_ref FROM entities")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(owner, "group:default/team-b", "b's own definition is what the catalog shows");
    assert_eq!(conflict_count(&store).await, 0);

    // A crawl of the giver alone hands over too: b is not read, its waiting claim is kept.
    a.commit(&[("catalog-info.yaml", &component("other-thing", "team-a", &[]))], "a again");
    b.commit(
        &[(
            "catalog-info.yaml",
            &two_documents(&component("moved-thing", "team-b", &[]), &component("other-thing", "team-b", &[])),
        )],
        "b claims other-thing",
    );
    run(&store, &sources).await;
    assert_eq!(holder_url(&store, "component:default/other-thing").await, a.source().url);
    a.remove(&["catalog-info.yaml"], "a gives other-thing up");
    run(&store, &[a.source()]).await;
    assert_eq!(holder_url(&store, "component:default/other-thing").await, b.source().url);
    assert_eq!(provenance(&store, "component:default/other-thing").await.1, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_descriptor_grown_past_the_size_limit_keeps_its_last_good_entities_marked_stale() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("checkout", "team", &[]))], "good");
    let good = run(&store, &[repo.source()]).await;
    assert_eq!(good.totals.added, 1);
    let padding = format!("# {}\n", "x".repeat(1_100_000));
    repo.commit(
        &[("catalog-info.yaml", &format!("{}{padding}", component("checkout", "team", &[])))],
        "grown",
    );
    let summary = run(&store, &[repo.source()]).await;
    assert_eq!(summary.totals.removed, 0, "{summary:?}");
    let (_, _, _, stale) = provenance(&store, "component:default/checkout").await;
    assert!(stale.unwrap().contains("larger than"), "the entity says why it is a last good copy");
    let (status, error): (String, Option<String>) = sqlx::query_as("SELECT status, error FROM repos")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(status, "stale");
    assert!(error.unwrap().contains("catalog-info.yaml"));
    // Unchanged on the next crawl; fixed, it is current again.
    run(&store, &[repo.source()]).await;
    assert_eq!(entity_refs(&store).await, vec!["component:default/checkout"]);
    repo.commit(&[("catalog-info.yaml", &component("checkout", "team-2", &[]))], "fixed");
    run(&store, &[repo.source()]).await;
    assert_eq!(provenance(&store, "component:default/checkout").await.3, None);
    let status: String = sqlx::query_scalar("SELECT status FROM repos")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(status, "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_descriptor_replaced_by_a_symlink_keeps_its_last_good_entities() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("catalog-info.yaml", &group("payments", None)),
            ("other.yaml", &group("elsewhere", None)),
        ],
        "good",
    );
    run(&store, &[repo.source()]).await;
    repo.remove(&["catalog-info.yaml"], "remove the file");
    sextant::crawler::commit_symlink(repo.path(), "catalog-info.yaml", "other.yaml", "link instead").unwrap();
    let summary = run(&store, &[repo.source()]).await;
    assert_eq!(summary.totals.removed, 0, "{summary:?}");
    assert!(
        provenance(&store, "group:default/payments")
            .await
            .3
            .unwrap()
            .contains("symbolic link")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn files_beyond_the_descriptor_limit_keep_their_last_good_entities() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("b/catalog-info.yaml", &group("team-b", None)),
            ("c/catalog-info.yaml", &group("team-c", None)),
        ],
        "two",
    );
    let mut options = CrawlOptions::new(ReadOptions::new(std::env::temp_dir().join("sextant-test-unused-mirrors")));
    options.read.max_descriptors = 2;
    crawl(&store, &[repo.source()], &options, |_, _| {}).await.unwrap();
    // A new file sorts first: c falls beyond the limit of two, and keeps its entity.
    repo.commit(&[("a/catalog-info.yaml", &group("team-a", None))], "third");
    let summary = crawl(&store, &[repo.source()], &options, |_, _| {}).await.unwrap();
    assert_eq!(summary.totals.removed, 0, "{summary:?}");
    assert_eq!(
        entity_refs(&store).await,
        vec!["group:default/team-a", "group:default/team-b", "group:default/team-c"]
    );
    assert!(
        provenance(&store, "group:default/team-c")
            .await
            .3
            .unwrap()
            .contains("beyond the limit")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_url_on_two_branches_is_two_repositories() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    let first = repo.commit(&[("catalog-info.yaml", &group("on-main", None))], "main");
    {
        let repository = git2::Repository::open(repo.path()).unwrap();
        let commit = repository.find_commit(git2::Oid::from_str(&first).unwrap()).unwrap();
        repository.branch("release", &commit, false).unwrap();
        repository.set_head("refs/heads/release").unwrap();
    }
    repo.commit(&[("catalog-info.yaml", &group("on-release", None))], "release");
    let url = repo.path().to_string_lossy().into_owned();
    let on = |branch: &str| Source::parse(&url, Some(branch.to_owned()), None, Origin::Operator).unwrap();
    let summary = run(&store, &[on("main"), on("release")]).await;
    assert!(
        summary
            .outcomes
            .iter()
            .all(|(_, outcome)| matches!(outcome, RepoOutcome::Applied(_))),
        "{summary:?}"
    );
    assert_eq!(entity_refs(&store).await, vec!["group:default/on-main", "group:default/on-release"]);
    let repos: i64 = sqlx::query_scalar("SELECT count(*) FROM repos WHERE url = $1")
        .bind(&url)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(repos, 2);
    // Listed twice, a repository is crawled once.
    let summary = run(&store, &[on("main"), on("main")]).await;
    assert_eq!(summary.outcomes.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_an_alias_unlinks_what_it_resolved() {
    let (store, _) = fresh_store().await;
    let ari = "ari:cloud:compass:549dbe51-94ac-45c7-bc41-9972ec40c21c:component/8113101c-05a3-4650-9dbb-4b41eada8388/393f10f8-7e8b-4714-a9e2-2c8e97b75b75";
    let aliased = |aliases: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: pricing\n  annotations:\n    sextant.dev/aliases: '{aliases}'\nspec:\n  type: service\n  lifecycle: production\n  owner: team\n"
        )
    };
    let consumer = format!(
        "name: Loyalty\nid: 'ari:cloud:compass:549dbe51-94ac-45c7-bc41-9972ec40c21c:component/8113101c-05a3-4650-9dbb-4b41eada8388/022cbdfa-784d-4188-a682-b14ccac36051'\nslug: loyalty\nconfigVersion: 1\ntypeId: SERVICE\nownerId: 'ari:cloud:teams::team/0f4c63d9-1455-4f59-9964-69844c87be93'\nrelationships:\n  DEPENDS_ON:\n    - '{ari}'\n"
    );
    let repo = TestRepo::new();
    repo.commit(
        &[("pricing/catalog-info.yaml", &aliased(ari)), ("loyalty/compass.yml", &consumer)],
        "both",
    );
    run(&store, &[repo.source()]).await;
    let target = || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT t.entity_ref FROM relations r LEFT JOIN entities t ON t.id = r.target_id WHERE r.target_ref = $1",
        )
        .bind(ari)
        .fetch_one(store.pool())
        .await
        .unwrap()
    };
    assert_eq!(target().await.as_deref(), Some("component:default/pricing"));
    repo.commit(
        &[("pricing/catalog-info.yaml", &aliased("ari:cloud:compass:other"))],
        "alias changed",
    );
    run(&store, &[repo.source()]).await;
    assert_eq!(target().await, None, "the alias is gone, so is the link");
    repo.commit(&[("pricing/catalog-info.yaml", &aliased(ari))], "alias back");
    run(&store, &[repo.source()]).await;
    assert_eq!(target().await.as_deref(), Some("component:default/pricing"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_read_is_dropped_when_a_newer_one_was_applied() {
    let (store, _) = fresh_store().await;
    let key = RepoKey {
        url: "/nowhere/repo".to_owned(),
        branch: None,
    };
    let record = store
        .register_repos(std::slice::from_ref(&key), &["repo".to_owned()])
        .await
        .unwrap()
        .remove(0);
    let read = |commit: &str| {
        RepoChange::Read(RepoRead {
            repo_id: record.id,
            generation: record.generation,
            commit: commit.to_owned(),
            files: Vec::new(),
            tree_diagnostics: Vec::new(),
        })
    };
    // Two reads started from the same generation: the first applied wins, the late one is dropped.
    assert!(matches!(
        store.apply_changes(&[read("newer")]).await.unwrap()[0],
        Applied::Applied(_)
    ));
    assert_eq!(store.apply_changes(&[read("older")]).await.unwrap()[0], Applied::Superseded);
    let commit: String = sqlx::query_scalar("SELECT last_commit FROM repos")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(commit, "newer");
    assert!(!store.mark_stale(record.id, record.generation, "late failure").await.unwrap());
    let status: String = sqlx::query_scalar("SELECT status FROM repos")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(status, "ok", "a late failure does not mark a newer read stale");
}

#[tokio::test(flavor = "multi_thread")]
async fn forgetting_a_repository_hands_its_references_to_the_next_claimant() {
    let (store, _) = fresh_store().await;
    let a = TestRepo::new();
    a.commit(
        &[("catalog-info.yaml", &two_documents(&group("shared", None), &group("only-a", None)))],
        "a",
    );
    let b = TestRepo::new();
    b.commit(&[("catalog-info.yaml", &group("shared", Some("only-a")))], "b");
    run(&store, &[a.source(), b.source()]).await;
    let key = RepoKey {
        url: a.source().url,
        branch: None,
    };
    let preview = store.forget_preview(&key).await.unwrap();
    assert_eq!(preview.entities, vec!["group:default/only-a", "group:default/shared"]);
    assert_eq!(preview.handed_over, vec!["group:default/shared"]);
    store.forget(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(entity_refs(&store).await, vec!["group:default/shared"]);
    assert_eq!(holder_url(&store, "group:default/shared").await, b.source().url);
    let dangling: Vec<String> = sqlx::query_scalar("SELECT target_ref FROM relations WHERE target_id IS NULL")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(dangling, vec!["group:default/only-a"], "b's parent went with a");
    assert!(
        store.forget(std::slice::from_ref(&key)).await.is_err(),
        "a forgotten repository is not found again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_goes_away_mid_crawl_ends_the_crawl_at_once_as_unreachable() {
    // A cluster of its own, stopped while the crawl runs.
    let cluster = sextant::pg::Cluster::start_throwaway().expect("a second throwaway cluster");
    sextant::store::create_database_if_missing(&cluster, "outage").await.unwrap();
    let store = Store::connect(&cluster.url("outage")).await.unwrap();
    let repos: Vec<TestRepo> = (0..6)
        .map(|index| {
            let repo = TestRepo::new();
            repo.commit(&[("catalog-info.yaml", &group(&format!("team-{index}"), None))], "one");
            repo
        })
        .collect();
    let sources: Vec<Source> = repos.iter().map(TestRepo::source).collect();
    let mut options = CrawlOptions::new(ReadOptions::new(std::env::temp_dir().join("sextant-test-unused-mirrors")));
    options.concurrency = 1;
    let started = std::time::Instant::now();
    let mut seen = 0;
    let result = crawl(&store, &sources, &options, |_, _| {
        seen += 1;
        if seen == 1 {
            cluster.stop().expect("stop the cluster");
        }
    })
    .await;
    let error = result.expect_err("the crawl cannot finish without its database");
    assert!(error.is_unreachable(), "{error}");
    assert_eq!(error.code(), "store-unreachable");
    assert!(error.to_string().contains("database unreachable"), "{error}");
    // Not a hang: before, each remaining repository waited out the pool's 30 s in turn.
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn files_beyond_the_repositorys_byte_limit_keep_their_last_good_entities() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &group("team-a", None)),
            ("b/catalog-info.yaml", &group("team-b", None)),
        ],
        "small",
    );
    let mut options = CrawlOptions::new(ReadOptions::new(std::env::temp_dir().join("sextant-test-unused-mirrors")));
    crawl(&store, &[repo.source()], &options, |_, _| {}).await.unwrap();
    // Both files change; only the first fits in the repository's byte limit.
    let padded = |name: &str| format!("{}# {}\n", group(name, Some("elsewhere")), "x".repeat(400));
    repo.commit(
        &[
            ("a/catalog-info.yaml", &padded("team-a")),
            ("b/catalog-info.yaml", &padded("team-b")),
        ],
        "bigger",
    );
    options.read.max_repo_bytes = 600;
    let summary = crawl(&store, &[repo.source()], &options, |_, _| {}).await.unwrap();
    assert_eq!(summary.totals.removed, 0, "{summary:?}");
    assert_eq!(provenance(&store, "group:default/team-a").await.3, None);
    let parent: Option<String> = sqlx::query_scalar("SELECT target_ref FROM relations r JOIN entities e ON e.id = r.source_id WHERE e.entity_ref = 'group:default/team-a' AND r.type = 'childOf'")
        .fetch_optional(store.pool())
        .await
        .unwrap();
    assert_eq!(
        parent.as_deref(),
        Some("group:default/elsewhere"),
        "the file within the limit was read"
    );
    let stale = provenance(&store, "group:default/team-b")
        .await
        .3
        .expect("team-b is a last good copy");
    assert!(stale.contains("descriptor bytes"), "{stale}");
    let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM diagnostics")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(codes, vec!["S0405"]);
}

/// A request dropped while its read-only snapshot is being begun (a client that hangs up under
/// load) must not give its connection back to the pool inside that transaction: the next crawl
/// to take the connection would fail to write (`READ ONLY`) or write into a transaction that is
/// never committed.
#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_whose_begin_was_cancelled_is_not_left_on_a_pooled_connection() {
    use std::time::{Duration, Instant};
    let (store, _) = fresh_store().await;
    for _ in 0..4 {
        // The sleep inside the begin makes the cancellation land after `BEGIN` reached the server.
        let slow_begin = store.begin_with("BEGIN READ ONLY; SELECT pg_sleep(0.2)");
        assert!(
            tokio::time::timeout(Duration::from_millis(40), slow_begin).await.is_err(),
            "the begin should still have been running when it was cancelled"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    while store.pool().num_idle() < store.pool().size() as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every pooled connection at once, so that each idle one is looked at.
    let mut connections = Vec::new();
    for _ in 0..store.pool().size() {
        connections.push(store.pool().acquire().await.expect("a pooled connection"));
    }
    assert!(!connections.is_empty());
    for connection in &mut connections {
        let read_only: String = sqlx::query_scalar("SHOW transaction_read_only")
            .fetch_one(&mut **connection)
            .await
            .unwrap();
        assert_eq!(
            read_only, "off",
            "a pooled connection was left inside the cancelled read-only transaction"
        );
    }
    drop(connections);
    // And a write through the store works.
    let mut transaction = store.begin().await.unwrap();
    sqlx::query("CREATE TABLE written_after_cancellations (id int)")
        .execute(&mut *transaction)
        .await
        .unwrap();
    transaction.commit().await.unwrap();
}
