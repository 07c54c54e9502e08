//! The Postgres search backend on a real catalog: entities crawled from a git repository into a
//! throwaway Postgres and delivered by the sync, then searched through `Search`. Unicode round
//! trips, ranking over a small corpus, hostile filter values, and the rebuild's table swap
//! (searches keep working while it runs; readers hold it off until they finish).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sextant::ingest::RepoOutcome;
use sextant::search::sync::{SyncSettings, reindex, sync_until_idle};
use sextant::search::{FacetField, MAX_HITS, Search, SearchAnswer, SearchConfig, SearchFilter, SearchRequest};
use sextant::store::Store;

use crate::db::{crawl_into, fresh_store};
use crate::git::TestRepo;

/// A crawled and indexed catalog.
struct Indexed {
    store: Store,
    repo: TestRepo,
    search: Search,
}

impl Indexed {
    /// `files` (path, text) committed, crawled and delivered to the Postgres index.
    async fn new(files: &[(String, String)]) -> Indexed {
        let (store, _) = fresh_store().await;
        let repo = TestRepo::new();
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
        repo.commit(&borrowed, "the catalog");
        let search = Search::new(store.clone(), &SearchConfig::default()).expect("the Postgres backend");
        assert_eq!(search.backend_name(), "postgres");
        let indexed = Indexed { store, repo, search };
        indexed.crawl_and_sync().await;
        indexed
    }

    async fn crawl_and_sync(&self) {
        let summary = crawl_into(&self.store, &[self.repo.source()], &std::env::temp_dir()).await;
        assert_eq!(summary.count(|outcome| matches!(outcome, RepoOutcome::Failed(_))), 0, "{summary:?}");
        let report = sync_until_idle(&self.search, &SyncSettings::default(), Instant::now() + Duration::from_secs(60))
            .await
            .expect("the sync delivers");
        assert_eq!(report.rejected, 0);
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM search_outbox")
            .fetch_one(self.store.pool())
            .await
            .expect("count the outbox");
        assert_eq!(pending, 0, "every change is delivered");
    }

    async fn request(&self, request: SearchRequest) -> SearchAnswer {
        self.search
            .search(&request)
            .await
            .unwrap_or_else(|error| panic!("search {:?} failed: {error}", request.query))
    }

    async fn search(&self, query: &str) -> SearchAnswer {
        self.request(SearchRequest {
            query: query.to_owned(),
            first: 50,
            ..SearchRequest::default()
        })
        .await
    }

    async fn names(&self, query: &str) -> Vec<String> {
        names(&self.search(query).await)
    }

    async fn filtered(&self, field: FacetField, values: &[&str]) -> Vec<String> {
        let answer = self
            .request(SearchRequest {
                filter: SearchFilter::default().with(field, values.iter().map(|value| (*value).to_owned())),
                first: 50,
                ..SearchRequest::default()
            })
            .await;
        assert!(answer.total_is_exact);
        assert_eq!(answer.total, answer.hits.len());
        names(&answer)
    }

    async fn indexed_documents(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM search_documents")
            .fetch_one(self.store.pool())
            .await
            .expect("count the documents")
    }
}

fn names(answer: &SearchAnswer) -> Vec<String> {
    answer.hits.iter().map(|hit| hit.entity.name.clone()).collect()
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// A Backstage component; `fields` are extra `metadata` lines, `spec` extra spec lines.
fn component(name: &str, metadata: &[(&str, &str)], lifecycle: &str) -> String {
    let mut text = format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n");
    for (key, value) in metadata {
        text.push_str(&format!("  {key}: {value}\n"));
    }
    text.push_str(&format!(
        "spec:\n  type: service\n  lifecycle: {}\n  owner: group:default/team-a\n",
        quoted(lifecycle)
    ));
    text
}

/// `text` as a YAML scalar (JSON strings are YAML).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

fn file(name: &str, text: String) -> (String, String) {
    (format!("{name}/catalog-info.yaml"), text)
}

/// The text of each highlighted range of `field` in `answer`'s hit named `name`.
fn marked(answer: &SearchAnswer, name: &str, field: &str) -> Vec<String> {
    let hit = answer
        .hits
        .iter()
        .find(|hit| hit.entity.name == name)
        .unwrap_or_else(|| panic!("{name} is a hit"));
    hit.matches
        .iter()
        .filter(|matched| matched.field == field)
        .flat_map(|matched| {
            let characters: Vec<char> = matched.snippet.chars().collect();
            matched
                .ranges
                .iter()
                .map(move |&(start, end)| characters[start..end].iter().collect::<String>())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accents_cjk_and_emoji_round_trip() {
    let indexed = Indexed::new(&[
        file(
            "creme",
            component(
                "creme",
                &[
                    ("title", &quoted("Crème Brûlée Ordering")),
                    ("description", &quoted("Déjà vu: a naïve café")),
                ],
                "production",
            ),
        ),
        file("zhifu", component("zhifu", &[("title", &quoted("支付服务网关"))], "production")),
        file(
            "rocket",
            component(
                "rocket",
                &[
                    ("title", &quoted("Rocket 🚀 Launcher")),
                    ("description", &quoted("Ships 👩\u{200D}💻 code")),
                ],
                "production",
            ),
        ),
        file("lodz", component("lodz", &[("title", &quoted("Łódź Office"))], "production")),
    ])
    .await;

    let answer = indexed.search("CRÈME").await;
    assert_eq!(names(&answer), ["creme"]);
    assert_eq!(marked(&answer, "creme", "title"), ["Crème"]);
    assert_eq!(indexed.names("brulee").await, ["creme"]);
    let answer = indexed.search("naive cafe").await;
    assert_eq!(names(&answer), ["creme"]);
    assert_eq!(marked(&answer, "creme", "description"), ["naïve", "café"]);
    // A typo on a word indexed from accented text.
    assert_eq!(indexed.names("creeme").await, ["creme"]);

    let answer = indexed.search("支付").await;
    assert_eq!(names(&answer), ["zhifu"]);
    assert_eq!(marked(&answer, "zhifu", "title"), ["支付"]);
    assert_eq!(indexed.names("支付服务网关").await, ["zhifu"]);
    // A CJK run is one word: its middle is not a prefix of it.
    assert!(indexed.names("服务").await.is_empty());

    let answer = indexed.search("🚀").await;
    assert_eq!(names(&answer), ["rocket"]);
    assert_eq!(marked(&answer, "rocket", "title"), ["🚀"]);
    assert_eq!(indexed.names("💻").await, ["rocket"]);
    assert_eq!(indexed.names("rocket 🚀").await, ["rocket"]);

    assert_eq!(indexed.names("lodz").await, ["lodz"]);
    assert_eq!(indexed.names("ŁÓDŹ").await, ["lodz"]);
}

/// The ranking corpus: seven entities that match `payments` in different fields, and fillers.
fn ranking_corpus() -> Vec<(String, String)> {
    let mut files = vec![
        file("payments", component("payments", &[], "production")),
        file("payments-api", component("payments-api", &[], "production")),
        file("billing", component("billing", &[("title", &quoted("Payments Billing"))], "production")),
        file("paymentsgateway", component("paymentsgateway", &[], "production")),
        file("checkout", component("checkout", &[("tags", "[payments, web]")], "production")),
        file("ledger", component("ledger", &[("description", &quoted("Records payments every day."))], "production")),
        (
            "orders-api/catalog-info.yaml".to_owned(),
            "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders-api\nspec:\n  type: openapi\n  lifecycle: production\n  owner: group:default/team-a\n  definition: |\n    openapi: 3.0.0\n    info:\n      title: Orders\n    paths:\n      /payments: {}\n".to_owned(),
        ),
    ];
    for number in 0..23 {
        let name = format!("filler-{number:02}");
        files.push(file(
            &name,
            component(
                &name,
                &[("description", &quoted(&format!("Unrelated component number {number}.")))],
                "experimental",
            ),
        ));
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thirty_document_corpus_ranks_by_field() {
    let indexed = Indexed::new(&ranking_corpus()).await;
    assert_eq!(indexed.indexed_documents().await, 30);

    let answer = indexed.search("payments").await;
    // The exact name first; then names and titles (the exact word before the prefix; ties by
    // name), tags, description, API definition.
    assert_eq!(
        names(&answer),
        [
            "payments",
            "billing",
            "payments-api",
            "paymentsgateway",
            "checkout",
            "ledger",
            "orders-api"
        ]
    );
    assert_eq!(answer.total, 7);
    assert!(answer.total_is_exact);
    let scores: Vec<f64> = answer.hits.iter().map(|hit| hit.score).collect();
    assert!(scores[0] > scores[1] && scores[1] == scores[2], "{scores:?}");
    assert!(scores[2..].windows(2).all(|pair| pair[0] > pair[1]), "{scores:?}");
    assert_eq!(marked(&answer, "orders-api", "definition"), ["payments"]);
    assert_eq!(marked(&answer, "checkout", "tags"), ["payments"]);

    // Pages in turn make up the whole list; past the end, no hits but the same total.
    let mut paged = Vec::new();
    for offset in [0, 3, 6] {
        let page = indexed
            .request(SearchRequest {
                query: "payments".to_owned(),
                first: 3,
                offset,
                ..SearchRequest::default()
            })
            .await;
        assert_eq!(page.total, 7);
        paged.extend(names(&page));
    }
    assert_eq!(paged, names(&answer));
    let beyond = indexed
        .request(SearchRequest {
            query: "payments".to_owned(),
            first: 3,
            offset: 20,
            ..SearchRequest::default()
        })
        .await;
    assert!(beyond.hits.is_empty());
    assert_eq!(beyond.total, 7);

    // Two words: both must match; the exact name first.
    let both = indexed.names("payments api").await;
    assert_eq!(both, ["payments-api", "orders-api"]);
    // A transposition finds the same entities.
    assert_eq!(sorted(indexed.names("paymetns").await), sorted(names(&answer)));
    // Every word must match.
    assert!(indexed.names("payments unrelated").await.is_empty());
    // A browse: every document, by name.
    let browse = indexed.search("").await;
    assert_eq!(browse.total, 30);
    assert_eq!(names(&browse), sorted(names(&browse)));
    assert!(browse.hits.iter().all(|hit| hit.matches.is_empty()));
    // A query of separators only is a browse too.
    assert_eq!(indexed.search(" -- / _ ").await.total, 30);

    // Facets count every match, not the page.
    let faceted = indexed
        .request(SearchRequest {
            query: "payments".to_owned(),
            first: 1,
            facets: true,
            ..SearchRequest::default()
        })
        .await;
    let kinds = faceted
        .facets
        .iter()
        .find(|facet| facet.field == FacetField::Kind)
        .expect("a kind facet");
    assert_eq!(kinds.values, [("component".to_owned(), 6), ("api".to_owned(), 1)]);
    let tags = faceted
        .facets
        .iter()
        .find(|facet| facet.field == FacetField::Tags)
        .expect("a tags facet");
    assert_eq!(tags.values, [("payments".to_owned(), 1), ("web".to_owned(), 1)]);
    assert_eq!(faceted.facets.len(), FacetField::ALL.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_values_with_quotes_and_backslashes_match_only_themselves() {
    let odd = "it's \\ \"odd\"";
    let indexed = Indexed::new(&[
        file("odd", component("odd", &[("tags", "[web]")], odd)),
        file("plain", component("plain", &[("tags", "[web, java]")], "it's")),
        file("brace", component("brace", &[], "a,b}")),
    ])
    .await;
    assert_eq!(indexed.filtered(FacetField::Lifecycle, &[odd]).await, ["odd"]);
    assert_eq!(indexed.filtered(FacetField::Lifecycle, &["it's"]).await, ["plain"]);
    assert_eq!(indexed.filtered(FacetField::Lifecycle, &["a,b}"]).await, ["brace"]);
    assert_eq!(indexed.filtered(FacetField::Lifecycle, &["it's", "a,b}"]).await, ["brace", "plain"]);
    for hostile in ["it's' OR '1'='1", "it\\'s", "%", "it%", "{it's}", "\"it's\""] {
        assert!(indexed.filtered(FacetField::Lifecycle, &[hostile]).await.is_empty(), "{hostile}");
    }
    assert!(indexed.filtered(FacetField::Tags, &["web,java"]).await.is_empty());
    assert!(indexed.filtered(FacetField::Tags, &["{web}"]).await.is_empty());
    assert_eq!(indexed.filtered(FacetField::Tags, &["java"]).await, ["plain"]);
    assert!(indexed.filtered(FacetField::Owner, &["group:default/team-a\\"]).await.is_empty());
    assert_eq!(indexed.filtered(FacetField::Owner, &["group:default/team-a"]).await.len(), 3);
    assert!(indexed.filtered(FacetField::Tier, &["1 OR 1=1"]).await.is_empty());
    // Filters combine: AND across fields.
    let answer = indexed
        .request(SearchRequest {
            filter: SearchFilter::default()
                .with(FacetField::Tags, ["web".to_owned()])
                .with(FacetField::Lifecycle, [odd.to_owned()]),
            first: 10,
            facets: true,
            ..SearchRequest::default()
        })
        .await;
    assert_eq!(names(&answer), ["odd"]);
    // The facet gives the value back as it was written.
    let lifecycles = answer
        .facets
        .iter()
        .find(|facet| facet.field == FacetField::Lifecycle)
        .expect("a lifecycle facet");
    assert_eq!(lifecycles.values, [(odd.to_owned(), 1)]);
}

/// `count` components in one multi-document file: the rebuild reads them in more than one page.
fn many_components(count: usize) -> Vec<(String, String)> {
    let documents: Vec<String> = (0..count)
        .map(|number| {
            component(
                &format!("service-{number:04}"),
                &[("description", &quoted(&format!("Handles inventory shard {number}.")))],
                "production",
            )
        })
        .collect();
    vec![("catalog-info.yaml".to_owned(), documents.join("---\n"))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_swaps_in_a_fresh_index() {
    let indexed = Indexed::new(&many_components(2100)).await;
    assert_eq!(indexed.indexed_documents().await, 2100);
    // The index drifted: a document lost, one that is not in the catalog, a word forgotten.
    let pool = indexed.store.pool();
    sqlx::query("DELETE FROM search_documents WHERE name = 'service-0007'")
        .execute(pool)
        .await
        .expect("delete");
    sqlx::query(
        "INSERT INTO search_documents (entity_ref, document, kind, namespace, name, lexemes)
         SELECT 'component:default/ghost', jsonb_set(document, '{entity_ref}', '\"component:default/ghost\"'), kind, namespace, 'ghost', lexemes
         FROM search_documents WHERE name = 'service-0001'",
    )
    .execute(pool)
    .await
    .expect("insert a ghost");
    sqlx::query("DELETE FROM search_terms WHERE term = 'inventory'")
        .execute(pool)
        .await
        .expect("forget a term");
    assert!(indexed.names("service-0007").await.is_empty());
    assert!(indexed.names("inventroy shard").await.is_empty(), "the typo needs the term");

    for _ in 0..2 {
        let report = reindex(&indexed.search).await.expect("the reindex runs");
        assert_eq!(report.documents, 2100);
        assert_eq!(indexed.indexed_documents().await, 2100);
        assert_eq!(indexed.names("service-0007").await, ["service-0007"]);
        assert_eq!(indexed.names("service 2099").await, ["service-2099"]);
        assert!(indexed.names("ghost").await.is_empty());
        // Every document matches: counted up to one beyond the deepest hit served.
        let answer = indexed.search("inventroy shard").await;
        assert_eq!((answer.total, answer.total_is_exact), (MAX_HITS + 1, false));
        assert_eq!(answer.hits.len(), 50);
        let next_tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class WHERE relname LIKE 'search_%_next'")
            .fetch_one(pool)
            .await
            .expect("list tables");
        assert_eq!(next_tables, 0, "the fresh tables took the live names");
        // The fresh table keeps the live one's storage: lexemes in the row, the document out.
        let storage: Vec<(String, String)> = sqlx::query_as(
            "SELECT attname::text, attstorage::text FROM pg_attribute
             WHERE attrelid = 'search_documents'::regclass AND attname IN ('document', 'lexemes') ORDER BY attname",
        )
        .fetch_all(pool)
        .await
        .expect("read the storage");
        let storage: Vec<(&str, &str)> = storage.iter().map(|(name, kind)| (name.as_str(), kind.as_str())).collect();
        assert_eq!(storage, [("document", "e"), ("lexemes", "m")]);
    }

    // The sync writes to the swapped-in tables.
    indexed.repo.commit(
        &[(
            "catalog-info.yaml",
            &component("lonely", &[("title", &quoted("Lonely Service"))], "production"),
        )],
        "one left",
    );
    indexed.crawl_and_sync().await;
    assert_eq!(indexed.indexed_documents().await, 1);
    assert_eq!(indexed.names("lonely").await, ["lonely"]);
    assert!(indexed.names("service-0007").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_keep_working_during_a_rebuild() {
    let indexed = Arc::new(Indexed::new(&many_components(2100)).await);
    let done = Arc::new(AtomicBool::new(false));
    let searches = Arc::new(AtomicUsize::new(0));
    let searching = {
        let (indexed, done, searches) = (indexed.clone(), done.clone(), searches.clone());
        tokio::spawn(async move {
            loop {
                let answer = indexed.search("service-1234").await;
                assert_eq!(names(&answer).first().map(String::as_str), Some("service-1234"));
                let answer = indexed.search("inventory").await;
                assert_eq!((answer.total, answer.hits.len()), (MAX_HITS + 1, 50));
                searches.fetch_add(1, Ordering::Relaxed);
                if done.load(Ordering::Relaxed) {
                    return;
                }
            }
        })
    };
    let report = reindex(&indexed.search).await.expect("the reindex runs");
    done.store(true, Ordering::Relaxed);
    searching.await.expect("every search during the rebuild answered rightly");
    assert_eq!(report.documents, 2100);
    assert!(searches.load(Ordering::Relaxed) >= 1);

    // A reader in the middle of a transaction on the live table holds the swap off, and reads
    // the old table meanwhile; the swap happens once it finishes.
    let pool = indexed.store.pool().clone();
    let mut reader = pool.begin().await.expect("begin");
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM search_documents")
        .fetch_one(&mut *reader)
        .await
        .expect("read");
    assert_eq!(before, 2100);
    let rebuilding = {
        let indexed = indexed.clone();
        tokio::spawn(async move { reindex(&indexed.search).await })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'search_documents'::regclass AND mode = 'AccessExclusiveLock'",
        )
        .fetch_one(&pool)
        .await
        .expect("look at the locks");
        if waiting > 0 {
            break;
        }
        assert!(!rebuilding.is_finished(), "the swap waits for the reader");
        assert!(Instant::now() < deadline, "the rebuild never reached the swap");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The fresh table is full and not yet live; the reader still reads the old one.
    let next: i64 = sqlx::query_scalar("SELECT count(*) FROM search_documents_next")
        .fetch_one(&pool)
        .await
        .expect("read the fresh table");
    assert_eq!(next, 2100);
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM search_documents")
        .fetch_one(&mut *reader)
        .await
        .expect("read again");
    assert_eq!(still, 2100);
    reader.commit().await.expect("commit");
    let report = rebuilding.await.expect("the task ends").expect("the reindex runs");
    assert_eq!(report.documents, 2100);
    assert_eq!(
        indexed.names("service-1234").await.first().map(String::as_str),
        Some("service-1234")
    );
}
