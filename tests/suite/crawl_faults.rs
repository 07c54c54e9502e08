//! Faults while crawling: history rewritten upstream, a damaged mirror, a branch deleted
//! upstream, credentials in URLs, and the database connection lost in the middle of an apply.
//! Remote behaviour is exercised through `file://` URLs, which are fetched into mirrors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sextant::crawler::{Origin, Source};
use sextant::ingest::RepoOutcome;

use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::git::{TestRepo, component, group};

fn remote(repo: &TestRepo, branch: Option<&str>) -> Source {
    Source::parse(
        &format!("file://{}", repo.path().display()),
        branch.map(str::to_owned),
        None,
        Origin::Operator,
    )
    .unwrap()
}

fn mirror_folders(mirrors: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(mirrors)
        .map(|entries| entries.filter_map(Result::ok).map(|entry| entry.path()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_force_push_is_followed() {
    let (store, _) = fresh_store().await;
    let mirrors = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &group("team-old", None))], "one");
    repo.commit(&[("b/catalog-info.yaml", &group("team-b", None))], "two");
    let source = remote(&repo, None);
    crawl_into(&store, std::slice::from_ref(&source), mirrors.path()).await;
    assert_eq!(entity_refs(&store).await, vec!["group:default/team-b", "group:default/team-old"]);

    // Rewrite history: main now points at a new root commit with other content.
    let repository = git2::Repository::open(repo.path()).unwrap();
    let blob = repository.blob(group("team-new", None).as_bytes()).unwrap();
    let mut builder = repository.treebuilder(None).unwrap();
    builder.insert("catalog-info.yaml", blob, 0o100644).unwrap();
    let tree = repository.find_tree(builder.write().unwrap()).unwrap();
    let signature = git2::Signature::now("t", "t@example.invalid").unwrap();
    let root = repository.commit(None, &signature, &signature, "rewritten", &tree, &[]).unwrap();
    repository.reference("refs/heads/main", root, true, "force push").unwrap();

    let summary = crawl_into(&store, &[source], mirrors.path()).await;
    assert!(matches!(summary.outcomes[0].1, RepoOutcome::Applied(_)), "{:?}", summary.outcomes);
    assert_eq!(entity_refs(&store).await, vec!["group:default/team-new"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_mirror_is_fetched_again() {
    let (store, _) = fresh_store().await;
    let mirrors = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &group("team-a", None))], "one");
    let source = remote(&repo, None);
    crawl_into(&store, std::slice::from_ref(&source), mirrors.path()).await;
    let mirror = mirror_folders(mirrors.path()).pop().expect("one mirror");
    // Destroy the mirror's objects and HEAD.
    std::fs::remove_dir_all(mirror.join("objects")).unwrap();
    std::fs::write(mirror.join("HEAD"), "garbage").unwrap();
    repo.commit(&[("b/catalog-info.yaml", &group("team-b", None))], "two");
    let summary = crawl_into(&store, &[source], mirrors.path()).await;
    assert!(matches!(summary.outcomes[0].1, RepoOutcome::Applied(_)), "{:?}", summary.outcomes);
    assert_eq!(entity_refs(&store).await, vec!["group:default/team-a", "group:default/team-b"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_branch_deleted_upstream_keeps_the_last_good_entities() {
    let (store, _) = fresh_store().await;
    let mirrors = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &group("team-main", None))], "one");
    let repository = git2::Repository::open(repo.path()).unwrap();
    let head = repository.head().unwrap().peel_to_commit().unwrap();
    repository.branch("feature", &head, false).unwrap();
    let source = remote(&repo, Some("feature"));
    crawl_into(&store, std::slice::from_ref(&source), mirrors.path()).await;
    repository
        .find_branch("feature", git2::BranchType::Local)
        .unwrap()
        .delete()
        .unwrap();
    let summary = crawl_into(&store, std::slice::from_ref(&source), mirrors.path()).await;
    assert!(
        matches!(&summary.outcomes[0].1, RepoOutcome::Failed(reason) if reason.contains("`feature` does not exist")),
        "{:?}",
        summary.outcomes
    );
    assert_eq!(entity_refs(&store).await, vec!["group:default/team-main"]);
    let status: String = sqlx::query_scalar("SELECT status FROM repos")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(status, "stale");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_appear_in_errors_or_the_catalog() {
    let (store, _) = fresh_store().await;
    let mirrors = tempfile::tempdir().unwrap();
    // Nothing listens on this port: the fetch fails, and its error must not echo the token.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let source = Source::parse(
        &format!("https://bot:s3cret-token@127.0.0.1:{port}/org/repo.git"),
        None,
        None,
        Origin::Operator,
    )
    .unwrap();
    let summary = crawl_into(&store, &[source], mirrors.path()).await;
    let RepoOutcome::Failed(reason) = &summary.outcomes[0].1 else {
        panic!("the fetch must fail: {:?}", summary.outcomes)
    };
    assert!(reason.contains("cannot reach"), "{reason}");
    assert!(!reason.contains("s3cret") && !summary.outcomes[0].0.contains("s3cret"), "{reason}");
    let stored: Vec<(String, Option<String>)> = sqlx::query_as("SELECT url, error FROM repos")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(!format!("{stored:?}").contains("s3cret"), "{stored:?}");
    assert_eq!(stored[0].0, format!("https://bot@127.0.0.1:{port}/org/repo.git"));
    let mirror_names: Vec<PathBuf> = mirror_folders(mirrors.path());
    assert!(!format!("{mirror_names:?}").contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_database_connection_applies_nothing_and_the_crawl_completes_on_a_new_one() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &group("team-a", None)),
            ("b/catalog-info.yaml", &group("team-b", None)),
        ],
        "one",
    );
    let source = repo.source();
    let mirrors = tempfile::tempdir().unwrap();
    crawl_into(&store, std::slice::from_ref(&source), mirrors.path()).await;
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("service-a", "team-b", &[])),
            ("b/catalog-info.yaml", &group("team-b2", None)),
        ],
        "two",
    );

    // Hold the second file's row: the apply writes the first file's changes, then waits here.
    let mut blocker = store.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM descriptor_files WHERE path = 'b/catalog-info.yaml' FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let crawling = {
        let (store, source, mirrors) = (store.clone(), source.clone(), mirrors.path().to_path_buf());
        tokio::spawn(async move { crawl_into(&store, &[source], &mirrors).await })
    };
    // Poll from a connection of its own: inside the blocking transaction, Postgres would keep
    // serving the statistics snapshot taken at its first look.
    let mut terminated = 0;
    for _ in 0..500 {
        terminated = sqlx::query_scalar::<_, i64>(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if terminated > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        terminated, 1,
        "the apply was caught waiting in the middle of its transaction, and its connection cut"
    );
    // The cut transaction rolled back: none of its writes are visible. (The crawl is already
    // retrying this repository on a new connection; that retry waits for the blocked row.)
    assert_eq!(
        entity_refs(&store).await,
        vec!["group:default/team-a", "group:default/team-b"],
        "nothing of the half-done apply is visible"
    );
    blocker.rollback().await.unwrap();
    let summary = crawling.await.unwrap();
    assert!(
        matches!(summary.outcomes[0].1, RepoOutcome::Applied(_)),
        "the retry completes the crawl: {:?}",
        summary.outcomes
    );
    assert_eq!(
        entity_refs(&store).await,
        vec!["component:default/service-a", "group:default/team-b2"]
    );
    let summary = crawl_into(&store, &[source], mirrors.path()).await;
    assert_eq!(
        summary.outcomes[0].1,
        RepoOutcome::Unchanged,
        "and the next crawl finds nothing left to do"
    );
}
