//! Crawls that meet hostile descriptors: one repository's bad file ends in a diagnostic, and the
//! other repositories of the same crawl are still read and stored.

use sextant::crawler::Source;
use sextant::ingest::{CrawlSummary, RepoOutcome};
use sextant::store::Store;

use crate::bad_input::big_string_alias_bomb;
use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::git::{TestRepo, component, group};

/// Local repositories are read in place, so these crawls need no mirror folder of their own.
async fn run(store: &Store, sources: &[Source]) -> CrawlSummary {
    crawl_into(store, sources, &std::env::temp_dir().join("sextant-test-unused-mirrors")).await
}

/// The stored diagnostics: (code, file, line, column), in order.
async fn diagnostics(store: &Store) -> Vec<(String, String, i32, i32)> {
    sqlx::query_as("SELECT code, file_path, line, col FROM diagnostics ORDER BY code, file_path, line, col")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alias_bomb_in_one_repository_does_not_stop_the_crawl_of_the_others() {
    let (store, _) = fresh_store().await;
    let bomb = TestRepo::new();
    bomb.commit(&[("catalog-info.yaml", &big_string_alias_bomb(400_000, 100_000))], "a memory bomb");
    let good = TestRepo::new();
    good.commit(
        &[
            ("catalog-info.yaml", &group("payments", None)),
            ("checkout/catalog-info.yaml", &component("checkout", "payments", &[])),
        ],
        "good",
    );

    let summary = run(&store, &[bomb.source(), good.source()]).await;
    assert_eq!(
        summary.outcomes.len(),
        2,
        "both repositories have an outcome: {:?}",
        summary.outcomes
    );
    assert!(
        !summary
            .outcomes
            .iter()
            .any(|(_, outcome)| matches!(outcome, RepoOutcome::Failed(_))),
        "a bad file is a diagnostic, not a failed repository: {:?}",
        summary.outcomes
    );
    assert_eq!(
        entity_refs(&store).await,
        vec!["component:default/checkout", "group:default/payments"]
    );
    let stored = diagnostics(&store).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let (code, file, line, column) = &stored[0];
    assert_eq!(
        (code.as_str(), file.as_str(), *line),
        ("S0009", "catalog-info.yaml", 2),
        "{stored:?}"
    );
    assert!(*column > 4, "at one of the aliases: {stored:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_script_link_keeps_its_entity_out_of_the_catalog() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    let scripted = component("checkout", "payments", &[]).replace(
        "  name: checkout\n",
        "  name: checkout\n  links:\n    - url: \" JaVaScRiPt:alert(document.cookie)\"\n      title: Status\n",
    );
    let compass = "name: Fare Cache\nslug: fare-cache\nconfigVersion: 1\ntypeId: SERVICE\nlinks:\n  - type: DASHBOARD\n    url: \"data:text/html,<script>alert(1)</script>\"\n";
    repo.commit(
        &[
            ("catalog-info.yaml", &group("payments", None)),
            ("checkout/catalog-info.yaml", &scripted),
            ("fares/compass.yml", compass),
        ],
        "links that run script",
    );
    run(&store, &[repo.source()]).await;
    assert_eq!(
        entity_refs(&store).await,
        vec!["group:default/payments"],
        "no entity with a script link is stored"
    );
    let stored = diagnostics(&store).await;
    let script_links: Vec<(&str, i32)> = stored
        .iter()
        .filter(|(code, ..)| code == "S0116")
        .map(|(_, file, line, _)| (file.as_str(), *line))
        .collect();
    assert_eq!(
        script_links,
        vec![("checkout/catalog-info.yaml", 6), ("fares/compass.yml", 7)],
        "{stored:?}"
    );
    let links_stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM entities WHERE document::text ILIKE '%script:%' OR document::text ILIKE '%data:text%'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(links_stored, 0);
}
