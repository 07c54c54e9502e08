//! The search contract, run against every backend: the same catalog (crawled from a real git
//! repository into a throwaway Postgres), the same sync, the same queries and the same expected
//! answers. The Postgres backend always runs; the Meilisearch backend runs against a real
//! Meilisearch server on loopback (tests/suite/meili.rs; under `CI=true` it must run).

use std::time::{Duration, Instant};

use sextant::ingest::RepoOutcome;
use sextant::search::sync::{SyncSettings, sync_once};
use sextant::search::{FacetField, Search, SearchAnswer, SearchConfig, SearchError, SearchFilter, SearchRequest};
use sextant::store::Store;

use crate::db::{crawl_into, fresh_store};
use crate::git::TestRepo;
use crate::meili::{meili_or_skip, unique_index};

/// Which backend a contract test runs against.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Postgres,
    Meilisearch,
}

/// A catalog crawled from one repository, and the search service over it (synced).
struct Fixture {
    store: Store,
    repo: TestRepo,
    search: Search,
}

/// One Backstage component, with the fields search looks at.
struct Spec<'a> {
    name: &'a str,
    title: Option<&'a str>,
    description: Option<&'a str>,
    owner: &'a str,
    tags: &'a [&'a str],
    lifecycle: &'a str,
}

impl Spec<'_> {
    fn yaml(&self) -> String {
        let mut text = format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {}\n",
            self.name
        );
        if let Some(title) = self.title {
            text.push_str(&format!("  title: {}\n", yaml_string(title)));
        }
        if let Some(description) = self.description {
            text.push_str(&format!("  description: {}\n", yaml_string(description)));
        }
        if !self.tags.is_empty() {
            text.push_str(&format!("  tags: [{}]\n", self.tags.join(", ")));
        }
        text.push_str(&format!(
            "spec:\n  type: service\n  lifecycle: {}\n  owner: {}\n",
            self.lifecycle, self.owner
        ));
        text
    }
}

fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

fn spec<'a>(name: &'a str, owner: &'a str) -> Spec<'a> {
    Spec {
        name,
        title: None,
        description: None,
        owner,
        tags: &[],
        lifecycle: "production",
    }
}

/// The contract's catalog: one file per component.
fn catalog() -> Vec<(String, String)> {
    let specs = [
        Spec {
            title: Some("Payments API"),
            description: Some("Takes card payments for the shop."),
            tags: &["payments", "java"],
            ..spec("payments-api", "group:payments-team")
        },
        Spec {
            title: Some("Notification Service"),
            description: Some("Sends e-mails and push messages."),
            tags: &["kafka"],
            ..spec("notification-service", "group:platform-team")
        },
        Spec {
            title: Some("Ledger"),
            description: Some("Double-entry bookkeeping."),
            tags: &["java"],
            ..spec("ledger", "group:payments-team")
        },
        Spec {
            title: Some("Accounting"),
            description: Some("Reads the ledger every night and reports."),
            tags: &["kafka"],
            lifecycle: "experimental",
            ..spec("accounting", "group:payments-team")
        },
        Spec {
            title: Some("Café Crème"),
            description: Some("Orders coffee for the office."),
            ..spec("cafe-ui", "group:platform-team")
        },
        Spec {
            title: Some("支付服务"),
            description: Some("Payment gateway for the China region."),
            ..spec("zhifu", "group:platform-team")
        },
        Spec {
            title: Some("Rocket 🚀 Launcher"),
            description: Some("Starts deployments."),
            ..spec("rocket", "group:platform-team")
        },
        Spec {
            title: Some("Inventory"),
            description: Some("Keeps stock counts."),
            tags: &["kafka", "java"],
            ..spec("inventory", "group:warehouse-team")
        },
    ];
    specs
        .iter()
        .map(|spec| (format!("{}/catalog-info.yaml", spec.name), spec.yaml()))
        .collect()
}

impl Fixture {
    /// The contract catalog in a fresh store, indexed by `backend`; `None` when the backend is
    /// not available here (Meilisearch without a binary, outside CI).
    async fn new(backend: Backend) -> Option<Fixture> {
        let config = match backend {
            Backend::Postgres => SearchConfig::default(),
            Backend::Meilisearch => meili_or_skip()?.config(&unique_index("contract")),
        };
        let (store, _) = fresh_store().await;
        let repo = TestRepo::new();
        let files = catalog();
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
        repo.commit(&borrowed, "the contract catalog");
        let search = Search::new(store.clone(), &config).expect("the search service");
        search.prepare().await.expect("the index is prepared");
        let fixture = Fixture { store, repo, search };
        fixture.crawl_and_sync().await;
        Some(fixture)
    }

    async fn crawl_and_sync(&self) {
        let summary = crawl_into(&self.store, &[self.repo.source()], &std::env::temp_dir()).await;
        let failed = summary.count(|outcome| matches!(outcome, RepoOutcome::Failed(_)));
        assert_eq!(failed, 0, "the contract catalog crawls cleanly: {summary:?}");
        sync_all(&self.search).await;
    }

    async fn search(&self, query: &str) -> SearchAnswer {
        self.request(SearchRequest {
            query: query.to_owned(),
            first: 20,
            ..SearchRequest::default()
        })
        .await
    }

    async fn request(&self, request: SearchRequest) -> SearchAnswer {
        self.search
            .search(&request)
            .await
            .unwrap_or_else(|error| panic!("search {:?} failed: {error}", request.query))
    }

    /// The names of the hits, best first.
    async fn names(&self, query: &str) -> Vec<String> {
        names(&self.search(query).await)
    }
}

fn names(answer: &SearchAnswer) -> Vec<String> {
    answer.hits.iter().map(|hit| hit.entity.name.clone()).collect()
}

/// Delivers every pending change to the index (fails the test after 60 s).
async fn sync_all(search: &Search) {
    let settings = SyncSettings::default();
    let started = Instant::now();
    loop {
        let report = sync_once(search, &settings).await.expect("the sync delivers");
        assert_eq!(report.rejected, 0, "no document of the contract catalog is rejected");
        if report.upserted == 0 && report.deleted == 0 && !report.paused {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the sync did not finish within 60 s");
    }
}

/// One contract test for each backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fixture = super::Fixture::new(super::Backend::Postgres).await.expect("Postgres is always there");
                    super::$name(&fixture).await;
                }
            )*
        }
        mod meilisearch {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(fixture) = super::Fixture::new(super::Backend::Meilisearch).await else { return };
                    super::$name(&fixture).await;
                }
            )*
        }
    };
}

contract!(
    exact_name,
    prefix,
    only_the_last_word_is_a_prefix,
    one_typo,
    two_typos_on_a_long_word,
    tag_filter,
    owner_facet_counts,
    deleted_entity_disappears,
    renamed_entity_found_under_its_new_name_only,
    unicode_titles,
    name_match_ranks_above_description_match,
    empty_query_with_filters_is_a_faceted_browse,
    hostile_filter_values_match_only_themselves,
    bad_queries_answer_clearly,
    highlights_point_at_the_matched_words,
    pages_do_not_overlap,
);

async fn exact_name(fixture: &Fixture) {
    let names = fixture.names("payments-api").await;
    assert_eq!(names.first().map(String::as_str), Some("payments-api"), "{names:?}");
}

async fn prefix(fixture: &Fixture) {
    let names = fixture.names("pay").await;
    assert!(names.contains(&"payments-api".to_owned()), "`pay` finds payments-api: {names:?}");
    let names = fixture.names("notif").await;
    assert_eq!(names, ["notification-service"]);
}

async fn only_the_last_word_is_a_prefix(fixture: &Fixture) {
    // Search as you type: the word being typed is a prefix, the words before it are whole.
    assert_eq!(fixture.names("payments ap").await, ["payments-api"]);
    assert!(fixture.names("pay api").await.is_empty());
}

async fn one_typo(fixture: &Fixture) {
    let names = fixture.names("paymnts").await;
    assert_eq!(names.first().map(String::as_str), Some("payments-api"), "{names:?}");
    // Under five letters no typo is allowed: `ledgr` has five, `ledg` is a prefix, `lodg` nothing.
    assert!(fixture.names("lodg").await.is_empty());
}

async fn two_typos_on_a_long_word(fixture: &Fixture) {
    // `notification` has 12 letters: two typos are allowed (two letters dropped here).
    let names = fixture.names("notifcaton").await;
    assert_eq!(names, ["notification-service"]);
    // Three typos are not.
    assert!(fixture.names("notfcaton").await.is_empty());
}

async fn tag_filter(fixture: &Fixture) {
    let answer = fixture
        .request(SearchRequest {
            query: String::new(),
            filter: SearchFilter::default().with(FacetField::Tags, ["kafka".to_owned()]),
            first: 20,
            ..SearchRequest::default()
        })
        .await;
    assert_eq!(names(&answer), ["accounting", "inventory", "notification-service"]);
    let answer = fixture
        .request(SearchRequest {
            query: "inv".to_owned(),
            filter: SearchFilter::default().with(FacetField::Tags, ["java".to_owned()]),
            first: 20,
            ..SearchRequest::default()
        })
        .await;
    assert_eq!(names(&answer), ["inventory"]);
}

async fn owner_facet_counts(fixture: &Fixture) {
    let answer = fixture
        .request(SearchRequest {
            query: String::new(),
            first: 5,
            facets: true,
            ..SearchRequest::default()
        })
        .await;
    assert_eq!(answer.total, 8);
    let owners = answer
        .facets
        .iter()
        .find(|facet| facet.field == FacetField::Owner)
        .expect("an owner facet");
    assert_eq!(
        owners.values,
        [
            ("group:default/platform-team".to_owned(), 4),
            ("group:default/payments-team".to_owned(), 3),
            ("group:default/warehouse-team".to_owned(), 1),
        ]
    );
    let lifecycles = answer
        .facets
        .iter()
        .find(|facet| facet.field == FacetField::Lifecycle)
        .expect("a lifecycle facet");
    assert_eq!(lifecycles.values, [("production".to_owned(), 7), ("experimental".to_owned(), 1)]);
}

async fn deleted_entity_disappears(fixture: &Fixture) {
    assert_eq!(fixture.names("inventory").await, ["inventory"]);
    fixture.repo.remove(&["inventory/catalog-info.yaml"], "inventory goes");
    fixture.crawl_and_sync().await;
    assert!(fixture.names("inventory").await.is_empty());
    let answer = fixture.search("").await;
    assert_eq!(answer.total, 7);
}

async fn renamed_entity_found_under_its_new_name_only(fixture: &Fixture) {
    let renamed = Spec {
        title: Some("General Ledger"),
        description: Some("Double-entry bookkeeping."),
        tags: &["java"],
        ..spec("bookkeeper", "group:payments-team")
    };
    fixture
        .repo
        .commit(&[("ledger/catalog-info.yaml", &renamed.yaml())], "ledger becomes bookkeeper");
    fixture.crawl_and_sync().await;
    assert_eq!(fixture.names("bookkeeper").await, ["bookkeeper"]);
    let ledger = fixture.names("ledger").await;
    // The old entity is gone; `ledger` still matches the new title and a description.
    assert!(!ledger.iter().any(|name| name == "ledger"), "{ledger:?}");
    assert_eq!(ledger.first().map(String::as_str), Some("bookkeeper"), "{ledger:?}");
}

async fn unicode_titles(fixture: &Fixture) {
    // Accents fold both ways.
    assert_eq!(fixture.names("cafe").await, ["cafe-ui"]);
    assert_eq!(fixture.names("CRÈME").await, ["cafe-ui"]);
    // CJK: a prefix of the title finds it, and the title comes back intact.
    let answer = fixture.search("支付").await;
    assert_eq!(names(&answer), ["zhifu"]);
    assert_eq!(answer.hits[0].entity.title.as_deref(), Some("支付服务"));
    // Emoji: the words around it match and the title comes back intact.
    let answer = fixture.search("rocket launcher").await;
    assert_eq!(names(&answer), ["rocket"]);
    assert_eq!(answer.hits[0].entity.title.as_deref(), Some("Rocket 🚀 Launcher"));
    // An emoji is a word of its own.
    assert_eq!(fixture.names("🚀").await, ["rocket"]);
}

async fn name_match_ranks_above_description_match(fixture: &Fixture) {
    // `ledger` is the name of one entity and a word of another's description.
    assert_eq!(fixture.names("ledger").await, ["ledger", "accounting"]);
    // `payment`: a title word of payments-api, a description word of zhifu.
    let names = fixture.names("payment").await;
    assert_eq!(names.first().map(String::as_str), Some("payments-api"), "{names:?}");
    assert!(names.contains(&"zhifu".to_owned()), "{names:?}");
}

async fn empty_query_with_filters_is_a_faceted_browse(fixture: &Fixture) {
    let answer = fixture
        .request(SearchRequest {
            query: String::new(),
            filter: SearchFilter::default().with(FacetField::Owner, ["group:default/payments-team".to_owned()]),
            first: 20,
            facets: true,
            ..SearchRequest::default()
        })
        .await;
    assert_eq!(
        names(&answer),
        ["accounting", "ledger", "payments-api"],
        "a browse is ordered by name"
    );
    assert_eq!(answer.total, 3);
    let tags = answer
        .facets
        .iter()
        .find(|facet| facet.field == FacetField::Tags)
        .expect("a tags facet");
    assert_eq!(
        tags.values,
        [("java".to_owned(), 2), ("kafka".to_owned(), 1), ("payments".to_owned(), 1)]
    );
    let kinds = answer
        .facets
        .iter()
        .find(|facet| facet.field == FacetField::Kind)
        .expect("a kind facet");
    assert_eq!(kinds.values, [("component".to_owned(), 3)]);
}

async fn hostile_filter_values_match_only_themselves(fixture: &Fixture) {
    for value in [
        r#"group:default/payments-team" OR kind = "component"#,
        r#"x\"#,
        r#"\" OR 1=1 --"#,
        "payments-team' OR '1'='1",
        "TO",
        "EXISTS",
        "kind IN [component]",
        "",
    ] {
        let answer = fixture
            .request(SearchRequest {
                query: String::new(),
                filter: SearchFilter::default().with(FacetField::Owner, [value.to_owned()]),
                first: 20,
                ..SearchRequest::default()
            })
            .await;
        assert!(answer.hits.is_empty(), "the owner filter {value:?} matched {:?}", names(&answer));
    }
    // A control character in a value is refused, with the search's own code.
    let error = fixture
        .search
        .search(&SearchRequest {
            query: String::new(),
            filter: SearchFilter::default().with(FacetField::Tags, ["java\u{0}".to_owned()]),
            first: 20,
            ..SearchRequest::default()
        })
        .await
        .expect_err("a NUL in a filter value is refused");
    assert_eq!(error.code(), "search-invalid-query");
    // A tier that is not a number matches nothing, and is not an error.
    let answer = fixture
        .request(SearchRequest {
            query: String::new(),
            filter: SearchFilter::default().with(FacetField::Tier, ["1 OR 1=1".to_owned()]),
            first: 20,
            ..SearchRequest::default()
        })
        .await;
    assert!(answer.hits.is_empty());
}

async fn bad_queries_answer_clearly(fixture: &Fixture) {
    // Empty: a browse of everything.
    assert_eq!(fixture.search("").await.total, 8);
    // Only separators and stop words: answered, not refused.
    fixture.search("  -- // ..  ").await;
    // Stop words are ordinary words: every one must match.
    assert_eq!(fixture.names("the and").await, ["accounting"]);
    assert!(fixture.names("the and of").await.is_empty());
    // Control characters separate words.
    assert_eq!(
        fixture.names("payments\u{0}api\u{7}\u{1b}").await.first().map(String::as_str),
        Some("payments-api")
    );
    // 10 KB: refused with a clear code, not run.
    let long = "payments ".repeat(1200);
    let error = fixture
        .search
        .search(&SearchRequest {
            query: long,
            first: 20,
            ..SearchRequest::default()
        })
        .await
        .expect_err("a 10 KB query is refused");
    assert!(matches!(error, SearchError::InvalidQuery(_)), "{error:?}");
    assert_eq!(error.code(), "search-invalid-query");
    // A page beyond the limits is refused.
    let error = fixture
        .search
        .search(&SearchRequest {
            query: "pay".to_owned(),
            first: 101,
            ..SearchRequest::default()
        })
        .await
        .expect_err("a page of 101 is refused");
    assert_eq!(error.code(), "search-invalid-query");
}

async fn highlights_point_at_the_matched_words(fixture: &Fixture) {
    let answer = fixture.search("café").await;
    let hit = &answer.hits[0];
    let title = hit.matches.iter().find(|field| field.field == "title").expect("the title matched");
    assert_eq!(title.snippet, "Café Crème");
    let highlighted: Vec<String> = title
        .ranges
        .iter()
        .map(|(start, end)| title.snippet.chars().skip(*start).take(end - start).collect())
        .collect();
    assert_eq!(highlighted, ["Café"]);
    let answer = fixture.search("nightly ledger").await;
    assert!(answer.hits.is_empty(), "every word must match");
    let answer = fixture.search("ledger night").await;
    assert_eq!(names(&answer), ["accounting"]);
    let description = answer.hits[0]
        .matches
        .iter()
        .find(|field| field.field == "description")
        .expect("the description matched");
    let highlighted: Vec<String> = description
        .ranges
        .iter()
        .map(|(start, end)| description.snippet.chars().skip(*start).take(end - start).collect())
        .collect();
    assert_eq!(highlighted, ["ledger", "night"]);
}

async fn pages_do_not_overlap(fixture: &Fixture) {
    let mut seen = Vec::new();
    for offset in (0..8).step_by(3) {
        let answer = fixture
            .request(SearchRequest {
                query: String::new(),
                first: 3,
                offset,
                ..SearchRequest::default()
            })
            .await;
        seen.extend(names(&answer));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "a browse is ordered by name across pages");
    sorted.dedup();
    assert_eq!(sorted.len(), 8, "every entity once: {seen:?}");
}
