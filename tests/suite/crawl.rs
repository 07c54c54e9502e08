//! Crawling real git repositories into a real Postgres catalog: first crawl, incremental
//! recrawls, deletions on proof of absence, keeping good data on failure, conflicts, cycles.

use sextant::crawler::{Origin, Source};
use sextant::ingest::{CrawlSummary, RepoOutcome};
use sextant::store::Store;

use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::git::{TestRepo, component, group};

/// Local repositories are read in place, so these crawls need no mirror folder of their own.
async fn run(store: &Store, sources: &[Source]) -> CrawlSummary {
    crawl_into(store, sources, &std::env::temp_dir().join("sextant-test-unused-mirrors")).await
}

async fn repo_status(store: &Store, url: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, error FROM repos WHERE url = $1")
        .bind(url)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_crawl_builds_the_graph_across_repositories() {
    let (store, _) = fresh_store().await;
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &group("payments", None))], "teams");
    let services = TestRepo::new();
    services.commit(
        &[
            ("api/catalog-info.yaml", &component("checkout", "payments", &["component:ledger"])),
            (
                "ledger/catalog-info.yaml",
                &component("ledger", "payments", &["resource:ledger-db"]),
            ),
        ],
        "services",
    );
    let summary = run(&store, &[teams.source(), services.source()]).await;
    assert_eq!(summary.count(|outcome| matches!(outcome, RepoOutcome::Applied(_))), 2);
    assert_eq!(summary.totals.added, 3);
    assert_eq!(
        entity_refs(&store).await,
        vec!["component:default/checkout", "component:default/ledger", "group:default/payments"]
    );

    let checkout = store.entity_id("component:default/checkout").await.unwrap();
    let dependencies = store
        .walk_dependencies(checkout, sextant::store::Direction::Dependencies, 5, 100)
        .await
        .unwrap();
    assert_eq!(
        dependencies
            .iter()
            .map(|dependent| dependent.entity_ref.as_str())
            .collect::<Vec<_>>(),
        vec!["component:default/ledger"]
    );
    let ledger = store.entity_id("component:default/ledger").await.unwrap();
    let dependents = store
        .walk_dependencies(ledger, sextant::store::Direction::Dependents, 5, 100)
        .await
        .unwrap();
    assert_eq!(dependents[0].via, "component:default/ledger");
    assert_eq!(
        sextant::store::paths("component:default/ledger", &dependents)[0],
        vec!["component:default/ledger", "component:default/checkout"]
    );
    let payments = store.entity_id("group:default/payments").await.unwrap();
    assert_eq!(store.owned_by(payments).await.unwrap().len(), 2);

    let problems = store.problems().await.unwrap();
    assert_eq!(
        problems.dangling.len(),
        1,
        "the database is not defined anywhere: {:?}",
        problems.dangling
    );
    assert_eq!(problems.dangling[0].target, "resource:default/ledger-db");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_repository_costs_no_parse_and_no_write() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &group("payments", None))], "one");
    run(&store, &[repo.source()]).await;
    let before: (i64, String) = sqlx::query_as("SELECT xmin::text::bigint, updated_at::text FROM entities")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let summary = run(&store, &[repo.source()]).await;
    assert_eq!(summary.outcomes[0].1, RepoOutcome::Unchanged);
    let after: (i64, String) = sqlx::query_as("SELECT xmin::text::bigint, updated_at::text FROM entities")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(before, after, "the entity row was not rewritten");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_changed_blobs_are_read_again() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &group("team-a", None)),
            ("b/catalog-info.yaml", &group("team-b", None)),
        ],
        "one",
    );
    run(&store, &[repo.source()]).await;
    let team_b = || async {
        sqlx::query_as::<_, (String, String)>("SELECT updated_at::text, commit_id FROM entities WHERE entity_ref = 'group:default/team-b'")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let (written_at, _) = team_b().await;
    let tip = repo.commit(&[("a/catalog-info.yaml", &group("team-a", Some("team-b")))], "two");
    let summary = run(&store, &[repo.source()]).await;
    assert_eq!(summary.totals.updated, 1);
    assert_eq!(
        team_b().await,
        (written_at, tip),
        "the unchanged file's entity was not rewritten; only its commit follows the tip"
    );
    let cycles = store.cycles().await.unwrap();
    assert!(cycles.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_descriptor_that_turns_invalid_keeps_its_last_good_entities() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("checkout", "payments", &[]))], "good");
    run(&store, &[repo.source()]).await;
    repo.commit(
        &[(
            "catalog-info.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Check Out\n",
        )],
        "broken",
    );
    let summary = run(&store, &[repo.source()]).await;
    assert!(matches!(summary.outcomes[0].1, RepoOutcome::Applied(_)));
    assert_eq!(
        entity_refs(&store).await,
        vec!["component:default/checkout"],
        "the last good entity stays"
    );
    let (status, error) = repo_status(&store, &repo.source().url).await;
    assert_eq!(status, "stale");
    assert!(
        error
            .unwrap()
            .contains("1 descriptor file is unusable (its last good entities, if any, are kept)")
    );
    let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM diagnostics ORDER BY code")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(codes.contains(&"S0104".to_owned()), "{codes:?}");
    let problems = store.problems().await.unwrap();
    assert_eq!(problems.invalid_files.len(), 1);

    repo.commit(&[("catalog-info.yaml", &component("checkout", "payments-team", &[]))], "fixed");
    run(&store, &[repo.source()]).await;
    assert_eq!(repo_status(&store, &repo.source().url).await.0, "ok");
    let owner: String = sqlx::query_scalar("SELECT owner_ref FROM entities")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(owner, "group:default/payments-team");
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_and_renamed_descriptors_are_applied_on_proof_of_absence() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &group("team-a", None)),
            ("b/catalog-info.yaml", &group("team-b", None)),
        ],
        "one",
    );
    run(&store, &[repo.source()]).await;
    repo.remove(&["b/catalog-info.yaml"], "delete b");
    repo.remove(&["a/catalog-info.yaml"], "move a");
    repo.commit(&[("teams/a/catalog-info.yaml", &group("team-a", None))], "moved a");
    let summary = run(&store, &[repo.source()]).await;
    assert_eq!(entity_refs(&store).await, vec!["group:default/team-a"]);
    assert_eq!(
        (summary.totals.removed, summary.totals.updated),
        (1, 1),
        "b is gone, and a moved to its new file (same entity)"
    );
    let path: String = sqlx::query_scalar("SELECT file_path FROM entities")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(path, "teams/a/catalog-info.yaml");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_claim_keeps_a_reference_and_the_conflict_is_recorded_without_flapping() {
    let (store, _) = fresh_store().await;
    let first = TestRepo::new();
    first.commit(&[("catalog-info.yaml", &component("checkout", "team-a", &[]))], "a");
    let second = TestRepo::new();
    second.commit(&[("catalog-info.yaml", &component("checkout", "team-b", &[]))], "b");
    let sources = [first.source(), second.source()];
    let summary = run(&store, &sources).await;
    assert_eq!(summary.totals.conflicts, 1);
    for _ in 0..2 {
        second.commit(&[("catalog-info.yaml", &component("checkout", "team-c", &[]))], "again");
        run(&store, &sources).await;
        let owner: String = sqlx::query_scalar("SELECT owner_ref FROM entities")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(owner, "group:default/team-a", "the holder keeps it");
    }
    let problems = store.problems().await.unwrap();
    assert_eq!(problems.conflicts.len(), 1);
    assert!(problems.conflicts[0].claimant.contains(&second.source().url));

    // When the holder gives the reference up, the claimant gets it on the next crawls.
    first.remove(&["catalog-info.yaml"], "gone");
    run(&store, &sources).await;
    run(&store, &sources).await;
    let owner: String = sqlx::query_scalar("SELECT owner_ref FROM entities")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(owner, "group:default/team-c");
    assert!(store.problems().await.unwrap().conflicts.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn new_entities_resolve_earlier_dangling_references_from_other_repositories() {
    let (store, _) = fresh_store().await;
    let services = TestRepo::new();
    services.commit(&[("catalog-info.yaml", &component("checkout", "payments", &[]))], "a");
    run(&store, &[services.source()]).await;
    assert_eq!(store.problems().await.unwrap().dangling.len(), 1);
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &group("payments", None))], "teams");
    run(&store, &[services.source(), teams.source()]).await;
    let problems = store.problems().await.unwrap();
    assert!(problems.dangling.is_empty(), "{:?}", problems.dangling);
    assert!(problems.orphans.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dependency_cycles_terminate_and_are_listed() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("a/catalog-info.yaml", &component("a", "team", &["component:b"])),
            ("b/catalog-info.yaml", &component("b", "team", &["component:c"])),
            ("c/catalog-info.yaml", &component("c", "team", &["component:a"])),
        ],
        "cycle",
    );
    run(&store, &[repo.source()]).await;
    let a = store.entity_id("component:default/a").await.unwrap();
    let dependents = store
        .walk_dependencies(a, sextant::store::Direction::Dependents, 50, 100)
        .await
        .unwrap();
    assert_eq!(dependents.len(), 2, "each node once: {dependents:?}");
    assert_eq!(
        store.cycles().await.unwrap(),
        vec![vec!["component:default/a", "component:default/b", "component:default/c"]]
    );
    let c = store.entity_id("component:default/c").await.unwrap();
    assert_eq!(
        store.path_between(a, c, 5).await.unwrap().unwrap().len(),
        2,
        "a and c are one edge apart"
    );
}

/// Loops that share entities form one tangle: it is listed as the shortest loops through its
/// entities, each with the tangle's size, the same on every crawl of the same catalog.
#[tokio::test(flavor = "multi_thread")]
async fn a_tangle_of_loops_is_listed_as_its_shortest_loops_with_its_size() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    // hub ↔ x, hub ↔ y and x → y → hub: three entities that all reach each other. The long way
    // round (hub → x → y → hub) is a loop too, but not a shortest one through any of them.
    repo.commit(
        &[
            ("y/catalog-info.yaml", &component("y", "team", &["component:hub"])),
            ("x/catalog-info.yaml", &component("x", "team", &["component:y", "component:hub"])),
            ("hub/catalog-info.yaml", &component("hub", "team", &["component:x", "component:y"])),
            ("alone/catalog-info.yaml", &component("alone", "team", &["component:alone"])),
        ],
        "tangle",
    );
    run(&store, &[repo.source()]).await;
    let cycles: Vec<(Vec<String>, usize)> = store
        .problems()
        .await
        .unwrap()
        .cycles
        .into_iter()
        .map(|cycle| (cycle.refs, cycle.tangle_size))
        .collect();
    let refs = |names: &[&str]| names.iter().map(|name| format!("component:default/{name}")).collect::<Vec<_>>();
    assert_eq!(
        cycles,
        vec![(refs(&["alone"]), 1), (refs(&["hub", "x"]), 3), (refs(&["hub", "y"]), 3),]
    );
    assert_eq!(store.problem_counts().await.unwrap().cycles, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_repository_keeps_its_entities_marked_stale() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &group("payments", None))], "one");
    let source = repo.source();
    run(&store, std::slice::from_ref(&source)).await;
    std::fs::rename(repo.path(), repo.path().with_extension("moved")).unwrap();
    let summary = run(&store, std::slice::from_ref(&source)).await;
    assert!(
        matches!(&summary.outcomes[0].1, RepoOutcome::Failed(reason) if reason.contains("cannot reach")),
        "{:?}",
        summary.outcomes
    );
    assert_eq!(entity_refs(&store).await, vec!["group:default/payments"]);
    assert_eq!(repo_status(&store, &source.url).await.0, "stale");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_repository_and_a_missing_branch_fail_without_losing_data() {
    let (store, _) = fresh_store().await;
    let empty = tempfile::tempdir().unwrap();
    git2::Repository::init(empty.path()).unwrap();
    let empty_source = Source::parse(&empty.path().to_string_lossy(), None, None, Origin::Operator).unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &group("payments", None))], "one");
    run(&store, &[repo.source()]).await;
    let missing_branch = Source::parse(&repo.path().to_string_lossy(), Some("gone".to_owned()), None, Origin::Operator).unwrap();
    let summary = run(&store, &[empty_source, missing_branch]).await;
    assert!(
        matches!(&summary.outcomes[0].1, RepoOutcome::Failed(reason) if reason.contains("no commit")),
        "{:?}",
        summary.outcomes
    );
    assert!(
        matches!(&summary.outcomes[1].1, RepoOutcome::Failed(reason) if reason.contains("`gone` does not exist")),
        "{:?}",
        summary.outcomes
    );
    assert_eq!(entity_refs(&store).await, vec!["group:default/payments"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn symlinks_submodules_and_huge_blobs_are_skipped_with_diagnostics() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    let first = repo.commit(&[("catalog-info.yaml", &group("payments", None))], "one");
    sextant::crawler::commit_symlink(repo.path(), "linked/catalog-info.yaml", "../catalog-info.yaml", "link").unwrap();
    sextant::crawler::commit_gitlink(repo.path(), "vendor/lib", &first, "submodule").unwrap();
    let huge = "#".repeat(50 * 1024 * 1024);
    repo.commit(&[("big/catalog-info.yaml", &huge)], "huge");
    run(&store, &[repo.source()]).await;
    let codes: Vec<(String, String)> = sqlx::query_as("SELECT code, file_path FROM diagnostics ORDER BY code")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(
        codes,
        vec![
            ("S0001".to_owned(), "big/catalog-info.yaml".to_owned()),
            ("S0401".to_owned(), "linked/catalog-info.yaml".to_owned()),
            ("S0402".to_owned(), "vendor/lib".to_owned()),
        ]
    );
    assert_eq!(entity_refs(&store).await, vec!["group:default/payments"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_crawls_never_interleave() {
    let (store, _) = fresh_store().await;
    let repos: Vec<TestRepo> = (0..6).map(|_| TestRepo::new()).collect();
    for (index, repo) in repos.iter().enumerate() {
        repo.commit(
            &[
                ("catalog-info.yaml", &component(&format!("service-{index}"), "team", &[])),
                ("shared/catalog-info.yaml", &group("shared-team", None)),
            ],
            "one",
        );
    }
    let sources: Vec<Source> = repos.iter().map(TestRepo::source).collect();
    let reversed: Vec<Source> = sources.iter().rev().cloned().collect();
    let (left, right) = tokio::join!(run(&store, &sources), run(&store, &reversed));
    let added = left.totals.added + right.totals.added;
    assert_eq!(added, 7, "six services and one shared group, each added exactly once");
    assert_eq!(entity_refs(&store).await.len(), 7);
    let conflicts: i64 = sqlx::query_scalar("SELECT count(*) FROM conflicts")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(conflicts, 5, "the five other claims of the shared group are conflicts");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_walk_that_fans_out_uses_the_kept_graph_only_while_it_is_current() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    let dependents = |count: usize| -> String {
        (0..count)
            .map(|index| format!("---\n{}", component(&format!("client-{index}"), "team", &["component:hub"])))
            .collect()
    };
    repo.commit(
        &[
            ("hub/catalog-info.yaml", &component("hub", "team", &[])),
            ("clients/catalog-info.yaml", &dependents(300)),
        ],
        "one",
    );
    run(&store, &[repo.source()]).await;
    let hub = store.entity_id("component:default/hub").await.unwrap();
    // Wide enough to switch to the in-memory graph, which is then kept.
    assert_eq!(
        store
            .walk_dependencies(hub, sextant::store::Direction::Dependents, 5, 10_000)
            .await
            .unwrap()
            .len(),
        300
    );
    assert_eq!(
        store
            .walk_dependencies(hub, sextant::store::Direction::Dependents, 5, 10_000)
            .await
            .unwrap()
            .len(),
        300
    );
    repo.commit(&[("clients/catalog-info.yaml", &dependents(301))], "two");
    run(&store, &[repo.source()]).await;
    let after = store
        .walk_dependencies(hub, sextant::store::Direction::Dependents, 5, 10_000)
        .await
        .unwrap();
    assert_eq!(after.len(), 301, "the kept graph was older than the catalog and was not used");
    assert!(
        after
            .iter()
            .all(|dependent| dependent.via == "component:default/hub" && dependent.depth == 1)
    );
    // The node cap holds on the in-memory path too.
    assert_eq!(
        store
            .walk_dependencies(hub, sextant::store::Direction::Dependents, 5, 50)
            .await
            .unwrap()
            .len(),
        50
    );
}
