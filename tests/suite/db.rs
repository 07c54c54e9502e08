//! The test database: one throwaway Postgres cluster per test run (started from the machine's
//! Postgres binaries by the same launcher sextant uses), and a fresh database per test.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use sextant::crawler::{ReadOptions, Source};
use sextant::ingest::{CrawlOptions, CrawlSummary, crawl};
use sextant::pg::Cluster;
use sextant::store::{Store, create_database_if_missing};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);

pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| Cluster::start_throwaway().unwrap_or_else(|error| panic!("cannot start the test cluster: {error}")))
}

/// A migrated, empty catalog in a database of its own, and its URL.
pub async fn fresh_store() -> (Store, String) {
    let cluster = cluster();
    let name = format!("test_{}", NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));
    create_database_if_missing(cluster, &name).await.expect("create the test database");
    let url = cluster.url(&name);
    (Store::connect(&url).await.expect("connect and migrate"), url)
}

/// Crawls `sources` into `store`, fetching remotes into `mirrors`, with a 30 s timeout per repository.
pub async fn crawl_into(store: &Store, sources: &[Source], mirrors: &std::path::Path) -> CrawlSummary {
    let mut options = CrawlOptions::new(ReadOptions::new(mirrors.to_path_buf()));
    options.repo_timeout = std::time::Duration::from_secs(30);
    crawl(store, sources, &options, |_, _| {}).await.expect("the crawl runs")
}

/// Every entity reference in the catalog, sorted.
pub async fn entity_refs(store: &Store) -> Vec<String> {
    sqlx::query_scalar("SELECT entity_ref FROM entities ORDER BY entity_ref")
        .fetch_all(store.pool())
        .await
        .unwrap()
}
