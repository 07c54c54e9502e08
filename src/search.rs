//! Search: one boundary ([`Search`]) over two backends, Postgres full-text (the embedded
//! default, in the catalog's own database) and Meilisearch (when configured). Only this module
//! imports meilisearch-sdk, and only [`postgres`] writes SQL on the search tables.
//!
//! The index is derived state. Triggers on `entities` fill the `search_outbox` in the change's own
//! transaction; [`sync`] drains it into the backend in batches (claimed with `SKIP LOCKED`,
//! retried with backoff, never blocking a crawl), and [`sync::reindex`] rebuilds the index
//! from the catalog into a fresh one that is swapped in atomically.
//!
//! Both backends answer the same contract: every query word must match a word of the entity
//! (exactly, as a prefix, or within the typo budget of [`query::typo_budget`]); names and titles
//! rank above tags and labels, above description, owner and system, above API definition text.
//! Highlights are computed here, from the query and the entity's text, the same way for both.

pub mod document;
pub mod meili;
pub mod postgres;
pub mod query;
pub mod sync;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::crawler::Secret;
use crate::store::{SearchEntity, Store, StoreError};

pub use query::{FieldMatch, ParsedQuery, Term};
pub use sync::{ReindexReport, SyncReport, SyncSettings};

/// Longest query, in bytes: a search box never needs more; a longer one is refused.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Query words looked at; later ones are ignored (as Meilisearch does).
pub const MAX_QUERY_TERMS: usize = 10;
/// Most hits one page returns.
pub const MAX_PAGE_SIZE: usize = 100;
/// Deepest hit a page may start at (`offset + first`): ranking beyond it is noise.
pub const MAX_HITS: usize = 1000;
/// Values per filter field, and bytes per value.
pub const MAX_FILTER_VALUES: usize = 100;
pub const MAX_FILTER_VALUE_BYTES: usize = 512;
/// Values returned per facet, the most frequent first.
pub const MAX_FACET_VALUES: usize = 100;

/// The fields an entity can be filtered and faceted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FacetField {
    Kind,
    Type,
    Owner,
    Lifecycle,
    Tier,
    Tags,
    System,
    Domain,
    Namespace,
    Repo,
}

impl FacetField {
    pub const ALL: [FacetField; 10] = [
        FacetField::Kind,
        FacetField::Type,
        FacetField::Owner,
        FacetField::Lifecycle,
        FacetField::Tier,
        FacetField::Tags,
        FacetField::System,
        FacetField::Domain,
        FacetField::Namespace,
        FacetField::Repo,
    ];

    /// The name in the API, the command line and the Meilisearch documents.
    pub fn name(self) -> &'static str {
        match self {
            FacetField::Kind => "kind",
            FacetField::Type => "type",
            FacetField::Owner => "owner",
            FacetField::Lifecycle => "lifecycle",
            FacetField::Tier => "tier",
            FacetField::Tags => "tags",
            FacetField::System => "system",
            FacetField::Domain => "domain",
            FacetField::Namespace => "namespace",
            FacetField::Repo => "repo",
        }
    }
}

/// Which entities a search may return: within a field any listed value matches (OR), across
/// fields all must (AND). An empty list does not filter. Values are compared exactly (entity
/// references as stored, e.g. `group:default/payments-team`; tiers as their number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    pub values: Vec<(FacetField, Vec<String>)>,
}

impl SearchFilter {
    /// Adds `values` for `field` (merged with values already given for it).
    pub fn with(mut self, field: FacetField, values: impl IntoIterator<Item = String>) -> SearchFilter {
        let values: Vec<String> = values.into_iter().collect();
        if values.is_empty() {
            return self;
        }
        match self.values.iter_mut().find(|(existing, _)| *existing == field) {
            Some((_, existing)) => existing.extend(values),
            None => self.values.push((field, values)),
        }
        self
    }

    /// The values given for `field` (empty: not filtered).
    pub fn get(&self, field: FacetField) -> &[String] {
        self.values
            .iter()
            .find(|(existing, _)| *existing == field)
            .map_or(&[], |(_, values)| values.as_slice())
    }

    /// Every filtered field once, in [`FacetField::ALL`] order, with all the values given for it
    /// (a field listed twice is one set of alternatives, on every backend).
    pub fn fields(&self) -> Vec<(FacetField, Vec<&str>)> {
        FacetField::ALL
            .into_iter()
            .map(|field| {
                let values: Vec<&str> = self
                    .values
                    .iter()
                    .filter(|(given, _)| *given == field)
                    .flat_map(|(_, values)| values.iter().map(String::as_str))
                    .collect();
                (field, values)
            })
            .filter(|(_, values)| !values.is_empty())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.values.iter().all(|(_, values)| values.is_empty())
    }
}

/// The tier a `tier` filter value names (`None`: it names none, and matches nothing).
pub fn tier_value(value: &str) -> Option<i16> {
    value.trim().parse().ok()
}

/// One search: the query text (may be empty: a faceted browse, ordered by name), the filter,
/// and the page.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub filter: SearchFilter,
    /// Hits per page (at most [`MAX_PAGE_SIZE`]).
    pub first: usize,
    /// Hits skipped (`offset + first` at most [`MAX_HITS`]).
    pub offset: usize,
    /// Whether to count facet values (costs a second pass on the Postgres backend).
    pub facets: bool,
}

/// A search's answer: one page of hits, best first, the number of matching entities (at most
/// [`MAX_HITS`] counted exactly by Meilisearch; see `total_is_exact`), and facet counts over all
/// matches when asked for.
#[derive(Debug, Clone, Default)]
pub struct SearchAnswer {
    pub hits: Vec<SearchHit>,
    pub total: usize,
    pub total_is_exact: bool,
    pub facets: Vec<Facet>,
}

/// One matching entity, with the fields the query matched and their highlights.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub entity: SearchEntity,
    /// Higher is better; comparable within one answer only.
    pub score: f64,
    pub matches: Vec<FieldMatch>,
}

/// The counts of one filter field's values among all matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facet {
    pub field: FacetField,
    /// Most frequent first, then by value; at most [`MAX_FACET_VALUES`].
    pub values: Vec<(String, u64)>,
}

/// What a backend answers, before highlighting.
#[derive(Debug, Clone, Default)]
pub struct BackendAnswer {
    pub hits: Vec<(SearchEntity, f64)>,
    pub total: usize,
    pub total_is_exact: bool,
    pub facets: Vec<Facet>,
}

/// Documents a backend refused one by one (the rest of their batch was applied).
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// (entity reference, the backend's reason).
    pub rejected: Vec<(String, String)>,
}

/// Errors of the search boundary, each with a stable code.
#[derive(Debug)]
pub enum SearchError {
    /// The query or filter is unusable (too long, too many values): the message says why.
    InvalidQuery(String),
    /// The backend could not be reached, or did not answer in time.
    Unavailable(String),
    /// The backend refused a request (settings, documents, a search).
    Rejected(String),
    /// A reindex is already running.
    Busy,
    /// The catalog could not be read or written.
    Store(StoreError),
}

impl SearchError {
    pub fn code(&self) -> &'static str {
        match self {
            SearchError::InvalidQuery(_) => "search-invalid-query",
            SearchError::Unavailable(_) => "search-unavailable",
            SearchError::Rejected(_) => "search-rejected",
            SearchError::Busy => "search-busy",
            SearchError::Store(error) => error.code(),
        }
    }
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchError::InvalidQuery(message) => write!(formatter, "invalid search: {message}"),
            SearchError::Unavailable(message) => write!(formatter, "the search backend is unavailable: {message}"),
            SearchError::Rejected(message) => write!(formatter, "the search backend refused the request: {message}"),
            SearchError::Busy => formatter.write_str("a reindex is already running"),
            SearchError::Store(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for SearchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SearchError::Store(error) => Some(error),
            _ => None,
        }
    }
}

impl From<StoreError> for SearchError {
    fn from(error: StoreError) -> SearchError {
        SearchError::Store(error)
    }
}

/// Which backend, read once from the configuration (`search:` in sextant.yaml) and the
/// environment (`MEILI_URL`, `MEILI_MASTER_KEY`).
#[derive(Debug, Clone, Default)]
pub struct SearchConfig {
    /// `None`: Postgres full-text in the catalog's database.
    pub meilisearch: Option<MeiliConfig>,
}

/// How to reach Meilisearch.
#[derive(Debug, Clone)]
pub struct MeiliConfig {
    /// e.g. `http://127.0.0.1:7700`.
    pub url: String,
    pub master_key: Option<Secret>,
    /// The index's uid (a reindex builds `<index>-reindex` and swaps it in).
    pub index: String,
    /// How long to wait for one Meilisearch task (a batch of documents, a settings update)
    /// before leaving it to finish on its own and retrying later.
    pub task_timeout: Duration,
}

pub const DEFAULT_MEILI_INDEX: &str = "sextant-entities";
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(30);

enum Backend {
    Postgres(postgres::PostgresIndex),
    Meili(meili::MeiliIndex),
}

/// The search service: cheap to clone. Searches, keeps the index in step ([`sync`]) and
/// rebuilds it.
#[derive(Clone)]
pub struct Search {
    store: Store,
    backend: Arc<Backend>,
}

impl Search {
    /// The backend the configuration names. Makes no request: a Meilisearch that is down at
    /// start is reported by the sync (see [`crate::store::Store::search_lag`]) and caught up with once it answers.
    pub fn new(store: Store, config: &SearchConfig) -> Result<Search, SearchError> {
        let backend = match &config.meilisearch {
            None => Backend::Postgres(postgres::PostgresIndex::new(store.clone())),
            Some(meili) => Backend::Meili(meili::MeiliIndex::new(meili)?),
        };
        Ok(Search {
            store,
            backend: Arc::new(backend),
        })
    }

    /// `postgres` or `meilisearch`.
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Postgres(_) => "postgres",
            Backend::Meili(_) => "meilisearch",
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Makes the index ready: creates it and applies its settings (idempotent; Meilisearch only).
    pub async fn prepare(&self) -> Result<(), SearchError> {
        match &*self.backend {
            Backend::Postgres(index) => index.prepare().await,
            Backend::Meili(index) => index.prepare().await,
        }
    }

    /// Whether the backend answers now.
    pub async fn ping(&self) -> Result<(), SearchError> {
        match &*self.backend {
            Backend::Postgres(index) => index.ping().await,
            Backend::Meili(index) => index.ping().await,
        }
    }

    /// One page of hits for `request`, highlighted.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchAnswer, SearchError> {
        let parsed = query::parse(&request.query)?;
        check_request(request)?;
        let answer = match &*self.backend {
            Backend::Postgres(index) => index.search(&parsed, request).await?,
            Backend::Meili(index) => index.search(&parsed, request).await?,
        };
        let hits = answer
            .hits
            .into_iter()
            .map(|(entity, score)| SearchHit {
                matches: query::highlight(&parsed, &entity),
                entity,
                score,
            })
            .collect();
        Ok(SearchAnswer {
            hits,
            total: answer.total,
            total_is_exact: answer.total_is_exact,
            facets: answer.facets,
        })
    }

    /// Writes `upserts` and removes `deletes` (entity references) in the index. No request is
    /// sent after `deadline` (the sync's lease: a later one could land after a newer state
    /// another sync delivered): past it, [`SearchError::Unavailable`]. The Postgres backend
    /// writes in one short transaction and does not look at it.
    pub(crate) async fn apply(&self, upserts: &[SearchEntity], deletes: &[String], deadline: Instant) -> Result<Applied, SearchError> {
        match &*self.backend {
            Backend::Postgres(index) => index.apply(upserts, deletes).await,
            Backend::Meili(index) => index.apply_within(upserts, deletes, Some(deadline)).await,
        }
    }

    /// Builds a fresh index from every entity of the catalog and swaps it in; returns how many
    /// documents it holds and the documents the backend refused (entity reference, reason). The
    /// caller ([`sync::reindex`]) has paused delivery.
    pub(crate) async fn rebuild(&self) -> Result<(usize, Vec<(String, String)>), SearchError> {
        match &*self.backend {
            Backend::Postgres(index) => Ok((index.rebuild().await?, Vec::new())),
            Backend::Meili(index) => index.rebuild_reporting(&self.store).await,
        }
    }
}

/// Refuses pages and filters beyond the limits, with the limit in the message.
fn check_request(request: &SearchRequest) -> Result<(), SearchError> {
    if request.first > MAX_PAGE_SIZE {
        return Err(SearchError::InvalidQuery(format!("at most {MAX_PAGE_SIZE} hits per page")));
    }
    if request.offset.saturating_add(request.first) > MAX_HITS {
        return Err(SearchError::InvalidQuery(format!(
            "hits beyond the first {MAX_HITS} are not served"
        )));
    }
    for (field, values) in &request.filter.values {
        if values.len() > MAX_FILTER_VALUES {
            return Err(SearchError::InvalidQuery(format!(
                "at most {MAX_FILTER_VALUES} values per filter field (`{}`)",
                field.name()
            )));
        }
        if values.iter().any(|value| value.chars().any(char::is_control)) {
            return Err(SearchError::InvalidQuery(format!(
                "a `{}` filter value holds a control character",
                field.name()
            )));
        }
        if values.iter().any(|value| value.len() > MAX_FILTER_VALUE_BYTES) {
            return Err(SearchError::InvalidQuery(format!(
                "a `{}` filter value is longer than {MAX_FILTER_VALUE_BYTES} bytes",
                field.name()
            )));
        }
    }
    Ok(())
}
