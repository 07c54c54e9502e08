//! The Meilisearch backend, through meilisearch-sdk: settings applied idempotently, documents
//! with ids encoded to Meilisearch's alphabet, task waits with timeouts, filters built with
//! every value quoted and escaped, and a rebuild swapped in with an index swap.
//!
//! Every request runs under a timeout (the SDK's HTTP client has none), so a Meilisearch that
//! is down or slow turns into [`SearchError::Unavailable`] promptly and the sync retries later;
//! documents are whole-document upserts by id, so delivering a batch twice is harmless.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::time::{Duration, Instant};

use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::errors::{Error as MeiliError, ErrorCode, ErrorType, MeilisearchError};
use meilisearch_sdk::indexes::Index;
use meilisearch_sdk::search::{MatchingStrategies, SearchResults, Selectors};
use meilisearch_sdk::settings::{
    FacetSortValue, FacetingSettings, FilterableAttribute, MinWordSizeForTypos, PaginationSetting, Settings, TypoToleranceSettings,
};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;

use crate::search::document::{FILTER_KEYS_ATTRIBUTE, MeiliDocument, document_id, filter_key};
use crate::search::{
    Applied, BackendAnswer, Facet, FacetField, MAX_FACET_VALUES, MAX_HITS, MeiliConfig, ParsedQuery, SearchError, SearchFilter,
    SearchRequest,
};
use crate::store::{SearchEntity, Store};

/// Searchable attributes, the most important first (Meilisearch ranks matches in earlier ones higher).
const SEARCHABLE_ATTRIBUTES: [&str; 8] = ["name", "title", "tags", "labels", "description", "owner", "system", "definition"];
/// Meilisearch's default ranking rules: `sort` only orders a browse (an empty query), where
/// every other rule ties.
const RANKING_RULES: [&str; 7] = ["words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness"];
/// What a hit brings back: everything but the exact-match keys.
const RETRIEVED_ATTRIBUTES: [&str; 17] = [
    "id",
    "entity_ref",
    "kind",
    "type",
    "owner",
    "lifecycle",
    "tier",
    "tags",
    "system",
    "domain",
    "namespace",
    "repo",
    "name",
    "title",
    "description",
    "labels",
    "definition",
];
const BROWSE_SORT: [&str; 1] = ["name:asc"];
/// Hits counted exactly: one beyond the deepest hit served, so that a count of
/// `MAX_HITS + 1` says "more than [`MAX_HITS`]".
const MAX_TOTAL_HITS: usize = MAX_HITS + 1;
/// Entities read from the catalog and sent per task during a rebuild (with API definitions of
/// up to 64 KiB each, a page is bounded in bytes too).
const REBUILD_PAGE: usize = 2000;
/// Pages of a rebuild queued in Meilisearch at once (consecutive additions are indexed as one
/// batch, which is much faster than page by page).
const REBUILD_PAGES_IN_FLIGHT: usize = 4;
/// How long `/health` may take.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest any single request may take (a task wait polls within its own deadline).
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// What a task wait adds to the configured timeout per document of its batch.
const TASK_TIME_PER_DOCUMENT: Duration = Duration::from_millis(2);

pub struct MeiliIndex {
    client: Client,
    index_uid: String,
    task_timeout: Duration,
    /// Scrubbed from every error message.
    master_key: Option<String>,
}

/// What sending a batch of documents did.
enum Enqueued {
    Task(TaskInfo),
    /// Refused at once (too large, malformed): Meilisearch's reason.
    Refused(String),
}

/// How a rebuild sends the catalog.
#[derive(Clone, Copy)]
enum Pace {
    /// Several pages queued at once.
    Pipelined,
    /// One page at a time, each split down to single documents if refused.
    PageByPage,
}

/// How filling the staging index went.
enum Fill {
    Done {
        indexed: usize,
        rejected: Vec<(String, String)>,
    },
    /// A queued page's task failed on its documents: which ones is not known any more.
    TaskRefused(String),
}

/// How a batch of documents fared.
enum BatchOutcome {
    Indexed,
    /// Meilisearch refused the batch (too large, a malformed document): split it.
    Refused(String),
}

impl MeiliIndex {
    /// Builds the client; makes no request.
    pub fn new(config: &MeiliConfig) -> Result<MeiliIndex, SearchError> {
        let url = config.url.trim().trim_end_matches('/').to_string();
        let master_key = config
            .master_key
            .as_ref()
            .map(|key| key.expose().to_string())
            .filter(|key| !key.is_empty());
        let client = Client::new(url, master_key.clone())
            .map_err(|_| SearchError::Rejected("the Meilisearch master key is not usable in an HTTP header".to_string()))?;
        Ok(MeiliIndex {
            client,
            index_uid: config.index.clone(),
            task_timeout: config.task_timeout,
            master_key,
        })
    }

    /// Creates the index when it is missing and brings its settings to what search needs,
    /// changing nothing (and making no task) when they already are.
    pub async fn prepare(&self) -> Result<(), SearchError> {
        self.ensure_index(&self.index_uid).await?;
        self.apply_settings(&self.index_uid).await
    }

    /// Whether Meilisearch answers `/health` within [`PING_TIMEOUT`], and serves the index to
    /// this key (a wrong master key or a missing index is reported, not only a dead server).
    pub async fn ping(&self) -> Result<(), SearchError> {
        let health = self.timed("health check", PING_TIMEOUT, self.client.health()).await?;
        if health.status != "available" {
            return Err(SearchError::Unavailable(format!(
                "Meilisearch reports its health as `{}`",
                health.status
            )));
        }
        self.timed("index check", PING_TIMEOUT, self.client.get_raw_index(&self.index_uid))
            .await
            .map(|_| ())
    }

    pub async fn search(&self, query: &ParsedQuery, request: &SearchRequest) -> Result<BackendAnswer, SearchError> {
        let Some(filter) = filter_expression(&request.filter) else {
            return Ok(no_match(request));
        };
        let browse = query.terms.is_empty();
        // The folded words, not the raw text: Meilisearch's own operators (`-word`, "phrases")
        // are not part of the contract, and both backends look at the same (at most ten) words.
        let words: Vec<&str> = query.terms.iter().map(|term| term.text.as_str()).collect();
        let joined = words.join(" ");
        let text = if browse { "" } else { joined.as_str() };
        let page = Page::of(request.offset, request.first);

        let index = self.client.index(&self.index_uid);
        let mut search = index.search();
        search
            .with_query(text)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_show_ranking_score(true)
            .with_page(page.number)
            .with_hits_per_page(page.size)
            .with_attributes_to_retrieve(Selectors::Some(&RETRIEVED_ATTRIBUTES));
        if !filter.is_empty() {
            search.with_filter(&filter);
        }
        if browse {
            search.with_sort(&BROWSE_SORT);
        }
        let facet_names = FacetField::ALL.map(FacetField::name);
        if request.facets {
            search.with_facets(Selectors::Some(&facet_names));
        }
        let results: SearchResults<MeiliDocument> = self.timed("search", self.request_timeout(), search.execute()).await?;

        let total = results.total_hits.unwrap_or(results.hits.len());
        let hits = results
            .hits
            .into_iter()
            .skip(page.skip)
            .map(|hit| (hit.result.into_entity(), hit.ranking_score.unwrap_or(0.0)))
            .collect();
        let facets = if request.facets {
            facets_from(results.facet_distribution.unwrap_or_default())
        } else {
            Vec::new()
        };
        Ok(BackendAnswer {
            hits,
            total,
            total_is_exact: total <= MAX_HITS,
            facets,
        })
    }

    /// Upserts `upserts` in one task and deletes `deletes` in another. A batch Meilisearch
    /// refuses is split in halves down to single documents; those still refused are returned
    /// with Meilisearch's reason.
    pub async fn apply(&self, upserts: &[SearchEntity], deletes: &[String]) -> Result<Applied, SearchError> {
        self.apply_within(upserts, deletes, None).await
    }

    /// [`MeiliIndex::apply`], sending no request after `deadline` (a refused batch's halves
    /// included): past it, [`SearchError::Unavailable`]. Meilisearch runs tasks in the order
    /// they were sent, so a delivery that sends nothing after its lease never lands after a
    /// newer one.
    pub async fn apply_within(
        &self,
        upserts: &[SearchEntity],
        deletes: &[String],
        deadline: Option<Instant>,
    ) -> Result<Applied, SearchError> {
        let index = self.client.index(&self.index_uid);
        let mut applied = Applied::default();
        if !upserts.is_empty() {
            let documents: Vec<MeiliDocument> = upserts.iter().map(MeiliDocument::from_entity).collect();
            applied.rejected = self.upsert(&index, &documents, deadline).await?;
        }
        if !deletes.is_empty() {
            check_deadline(deadline)?;
            let ids: Vec<String> = deletes.iter().map(|entity_ref| document_id(entity_ref)).collect();
            let task = self
                .timed("document deletion", self.request_timeout(), index.delete_documents(&ids))
                .await?;
            if let Task::Failed { content } = self.wait_for_task(&task, until(self.batch_timeout(ids.len()), deadline)).await? {
                return Err(SearchError::Rejected(self.scrub(format!(
                    "deleting {} documents: {}",
                    ids.len(),
                    describe_meili_error(&content.error)
                ))));
            }
        }
        Ok(applied)
    }

    /// Builds `<index>-reindex` from every entity of the catalog, swaps it with the index and
    /// deletes the old one; returns how many documents it holds. Searches answer from the old
    /// index until the swap. (See [`MeiliIndex::rebuild_reporting`] for the refused documents.)
    pub async fn rebuild(&self, store: &Store) -> Result<usize, SearchError> {
        Ok(self.rebuild_reporting(store).await?.0)
    }

    /// [`MeiliIndex::rebuild`], returning also the documents Meilisearch refused (entity
    /// reference, reason): they are not in the new index.
    pub async fn rebuild_reporting(&self, store: &Store) -> Result<(usize, Vec<(String, String)>), SearchError> {
        // The swap needs both indexes; the live one may never have been created.
        self.prepare().await?;
        let staging_uid = format!("{}-reindex", self.index_uid);
        let (indexed, rejected) = match self.fill_staging(&staging_uid, store, Pace::Pipelined).await? {
            Fill::Done { indexed, rejected } => (indexed, rejected),
            // Which documents a failed task held is not known any more: start over, one page at a time.
            Fill::TaskRefused(reason) => {
                tracing::warn!(index = %staging_uid, reason = %reason, "meilisearch refused a page of the rebuild; rebuilding page by page");
                match self.fill_staging(&staging_uid, store, Pace::PageByPage).await? {
                    Fill::Done { indexed, rejected } => (indexed, rejected),
                    Fill::TaskRefused(reason) => return Err(SearchError::Rejected(reason)),
                }
            }
        };

        let swap = SwapIndexes {
            indexes: (self.index_uid.clone(), staging_uid.clone()),
            rename: None,
        };
        let task = self
            .timed("index swap", self.request_timeout(), self.client.swap_indexes([&swap]))
            .await?;
        if let Task::Failed { content } = self.wait_for_task(&task, self.task_timeout).await? {
            return Err(SearchError::Rejected(
                self.scrub(format!("swapping `{staging_uid}` in: {}", describe_meili_error(&content.error))),
            ));
        }
        // The old index, now under the staging name; a leftover is removed by the next rebuild.
        if let Err(error) = self.delete_index(&staging_uid).await {
            tracing::warn!(index = %staging_uid, error = %error, "the index replaced by the rebuild could not be deleted");
        }
        tracing::info!(index = %self.index_uid, documents = indexed, rejected = rejected.len(), "meilisearch index rebuilt and swapped in");
        Ok((indexed, rejected))
    }

    /// Creates index `uid` afresh (a leftover of an earlier rebuild is deleted) and fills it from
    /// the catalog in keyset pages. Pipelined, a few pages are in Meilisearch's queue at once
    /// (it indexes consecutive ones as one batch), and only the page being read is in memory.
    async fn fill_staging(&self, uid: &str, store: &Store, pace: Pace) -> Result<Fill, SearchError> {
        self.delete_index(uid).await?;
        self.ensure_index(uid).await?;
        self.apply_settings(uid).await?;
        let staging = self.client.index(uid);
        let mut indexed = 0;
        let mut rejected = Vec::new();
        let mut in_flight: VecDeque<(TaskInfo, usize)> = VecDeque::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.search_entities_page(after.as_deref(), REBUILD_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.entity_ref.clone());
            let full_page = page.len() == REBUILD_PAGE;
            let documents: Vec<MeiliDocument> = page.into_iter().map(MeiliDocument::from_owned).collect();
            let queued = match pace {
                Pace::Pipelined => match self.enqueue_batch(&staging, &documents).await? {
                    Enqueued::Task(task) => Some(task),
                    Enqueued::Refused(_) => None,
                },
                Pace::PageByPage => None,
            };
            match queued {
                Some(task) => in_flight.push_back((task, documents.len())),
                // Page by page, or refused whole (too large): split now, while the page is at hand.
                None => {
                    let refused = self.upsert(&staging, &documents, None).await?;
                    for (entity_ref, reason) in &refused {
                        tracing::warn!(entity.r#ref = %entity_ref, reason = %reason, "meilisearch refused a document during the rebuild");
                    }
                    indexed += documents.len() - refused.len();
                    rejected.extend(refused);
                }
            }
            drop(documents);
            while in_flight.len() >= REBUILD_PAGES_IN_FLIGHT {
                match self.settle(uid, &mut in_flight).await? {
                    Ok(documents) => indexed += documents,
                    Err(reason) => return Ok(Fill::TaskRefused(reason)),
                }
            }
            if !full_page {
                break;
            }
        }
        while !in_flight.is_empty() {
            match self.settle(uid, &mut in_flight).await? {
                Ok(documents) => indexed += documents,
                Err(reason) => return Ok(Fill::TaskRefused(reason)),
            }
        }
        Ok(Fill::Done { indexed, rejected })
    }

    /// Waits for the oldest queued page of a rebuild: `Ok(documents indexed)`, or `Err` with
    /// Meilisearch's reason when it refused the page's documents.
    async fn settle(&self, uid: &str, in_flight: &mut VecDeque<(TaskInfo, usize)>) -> Result<Result<usize, String>, SearchError> {
        // The oldest task may wait for the others' indexing too (they are batched together).
        let queued: usize = in_flight.iter().map(|(_, documents)| documents).sum();
        let Some((task, documents)) = in_flight.pop_front() else {
            return Ok(Ok(0));
        };
        match self.wait_for_task(&task, self.batch_timeout(queued)).await? {
            Task::Failed { content } if content.error.error_type == ErrorType::InvalidRequest => {
                Ok(Err(self.scrub(describe_meili_error(&content.error))))
            }
            Task::Failed { content } => Err(SearchError::Rejected(
                self.scrub(format!("filling `{uid}`: {}", describe_meili_error(&content.error))),
            )),
            _ => Ok(Ok(documents)),
        }
    }

    /// Sends `documents` as one batch, splitting batches Meilisearch refuses; returns the single
    /// documents it still refuses with its reason. Holds no more than the batch it was given.
    async fn upsert(
        &self,
        index: &Index,
        documents: &[MeiliDocument],
        deadline: Option<Instant>,
    ) -> Result<Vec<(String, String)>, SearchError> {
        let mut rejected = Vec::new();
        let mut pending: Vec<std::ops::Range<usize>> = Vec::with_capacity(16);
        pending.push(0..documents.len());
        while let Some(range) = pending.pop() {
            let batch = &documents[range.clone()];
            if batch.is_empty() {
                continue;
            }
            check_deadline(deadline)?;
            match self.send_batch(index, batch, deadline).await? {
                BatchOutcome::Indexed => {}
                BatchOutcome::Refused(reason) if batch.len() == 1 => {
                    rejected.push((batch[0].entity_ref.clone(), reason));
                }
                BatchOutcome::Refused(reason) => {
                    tracing::debug!(documents = batch.len(), reason = %reason, "meilisearch refused a batch; splitting it");
                    let middle = range.start + batch.len() / 2;
                    pending.push(middle..range.end);
                    pending.push(range.start..middle);
                }
            }
        }
        Ok(rejected)
    }

    async fn send_batch(&self, index: &Index, batch: &[MeiliDocument], deadline: Option<Instant>) -> Result<BatchOutcome, SearchError> {
        let task = match self.enqueue_batch(index, batch).await? {
            Enqueued::Task(task) => task,
            Enqueued::Refused(reason) => return Ok(BatchOutcome::Refused(reason)),
        };
        match self.wait_for_task(&task, until(self.batch_timeout(batch.len()), deadline)).await? {
            Task::Failed { content } if content.error.error_type == ErrorType::InvalidRequest => {
                Ok(BatchOutcome::Refused(self.scrub(describe_meili_error(&content.error))))
            }
            Task::Failed { content } => Err(SearchError::Rejected(self.scrub(format!(
                "adding {} documents: {}",
                batch.len(),
                describe_meili_error(&content.error)
            )))),
            _ => Ok(BatchOutcome::Indexed),
        }
    }

    /// Sends `batch` for indexing without waiting for its task.
    async fn enqueue_batch(&self, index: &Index, batch: &[MeiliDocument]) -> Result<Enqueued, SearchError> {
        let what = format!("adding {} documents", batch.len());
        match tokio::time::timeout(self.request_timeout(), index.add_or_replace(batch, Some("id"))).await {
            Err(_) => Err(self.too_slow(&what, self.request_timeout())),
            Ok(Ok(task)) => Ok(Enqueued::Task(task)),
            Ok(Err(error)) => {
                if let Some(reason) = refusal(&error) {
                    return Ok(Enqueued::Refused(self.scrub(reason)));
                }
                // Meilisearch may close the connection on a body over its payload limit before
                // answering: a server that is up has refused this batch.
                if matches!(error, MeiliError::HttpError(_)) && self.ping().await.is_ok() {
                    return Ok(Enqueued::Refused(self.scrub(format!(
                        "Meilisearch closed the connection while receiving the documents ({})",
                        error_chain(&error)
                    ))));
                }
                Err(self.map_error(&what, error))
            }
        }
    }

    /// Creates index `uid` with primary key `id` unless it exists (another replica creating it
    /// at the same time is fine).
    async fn ensure_index(&self, uid: &str) -> Result<(), SearchError> {
        match tokio::time::timeout(self.request_timeout(), self.client.get_index(uid)).await {
            Err(_) => return Err(self.too_slow("reading the index", self.request_timeout())),
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(MeiliError::Meilisearch(error))) if error.error_code == ErrorCode::IndexNotFound => {}
            Ok(Err(error)) => return Err(self.map_error(&format!("reading index `{uid}`"), error)),
        }
        let task = self
            .timed("index creation", self.request_timeout(), self.client.create_index(uid, Some("id")))
            .await?;
        match self.wait_for_task(&task, self.task_timeout).await? {
            Task::Failed { content } if content.error.error_code != ErrorCode::IndexAlreadyExists => Err(SearchError::Rejected(
                self.scrub(format!("creating index `{uid}`: {}", describe_meili_error(&content.error))),
            )),
            _ => {
                tracing::info!(index = %uid, "meilisearch index created");
                Ok(())
            }
        }
    }

    /// Deletes index `uid` if it exists.
    async fn delete_index(&self, uid: &str) -> Result<(), SearchError> {
        let task = self
            .timed("index deletion", self.request_timeout(), self.client.index(uid).delete())
            .await?;
        match self.wait_for_task(&task, self.task_timeout).await? {
            Task::Failed { content } if content.error.error_code != ErrorCode::IndexNotFound => Err(SearchError::Rejected(
                self.scrub(format!("deleting index `{uid}`: {}", describe_meili_error(&content.error))),
            )),
            _ => Ok(()),
        }
    }

    /// Updates the settings of index `uid` when they differ from [`desired_settings`].
    async fn apply_settings(&self, uid: &str) -> Result<(), SearchError> {
        let index = self.client.index(uid);
        let current = self
            .timed("reading the index settings", self.request_timeout(), index.get_settings())
            .await?;
        let desired = desired_settings();
        if settings_match(&current, &desired) {
            return Ok(());
        }
        let task = self
            .timed("updating the index settings", self.request_timeout(), index.set_settings(&desired))
            .await?;
        if let Task::Failed { content } = self.wait_for_task(&task, self.task_timeout).await? {
            return Err(SearchError::Rejected(self.scrub(format!(
                "updating the settings of index `{uid}`: {}",
                describe_meili_error(&content.error)
            ))));
        }
        tracing::info!(index = %uid, "meilisearch index settings updated");
        Ok(())
    }

    /// Polls task `task` until it finishes or `timeout` passes (then the task is left to finish
    /// on its own and the caller retries later: documents are idempotent upserts).
    async fn wait_for_task(&self, task: &TaskInfo, timeout: Duration) -> Result<Task, SearchError> {
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(5);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(SearchError::Unavailable(format!(
                    "Meilisearch task {} did not finish within {} ms; it is left to finish on its own",
                    task.task_uid,
                    timeout.as_millis()
                )));
            }
            let status = match tokio::time::timeout(remaining.min(self.request_timeout()), self.client.get_task(task)).await {
                Ok(status) => status.map_err(|error| self.map_error(&format!("reading task {}", task.task_uid), error))?,
                // The deadline check above reports it (or the next poll).
                Err(_) if Instant::now() >= deadline => continue,
                Err(_) => return Err(self.too_slow(&format!("reading task {}", task.task_uid), self.request_timeout())),
            };
            match status {
                Task::Enqueued { .. } | Task::Processing { .. } => {
                    tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
                    interval = (interval * 2).min(Duration::from_millis(100));
                }
                finished => return Ok(finished),
            }
        }
    }

    /// Runs one request under `timeout`, mapping its errors.
    async fn timed<T>(
        &self,
        what: &str,
        timeout: Duration,
        request: impl Future<Output = Result<T, MeiliError>>,
    ) -> Result<T, SearchError> {
        match tokio::time::timeout(timeout, request).await {
            Err(_) => Err(self.too_slow(what, timeout)),
            Ok(result) => result.map_err(|error| self.map_error(what, error)),
        }
    }

    fn too_slow(&self, what: &str, timeout: Duration) -> SearchError {
        SearchError::Unavailable(format!("{what}: Meilisearch did not answer within {} ms", timeout.as_millis()))
    }

    /// Unreachable, timed out or failing on its side: unavailable (retried later); a request
    /// Meilisearch refuses (a bad key, a bad setting): rejected.
    fn map_error(&self, what: &str, error: MeiliError) -> SearchError {
        let message = self.scrub(format!("{what}: {}", error_message(&error)));
        match &error {
            MeiliError::Meilisearch(meili) if meili.error_type == ErrorType::Internal => SearchError::Unavailable(message),
            MeiliError::MeilisearchCommunication(communication) if communication.status_code >= 500 => SearchError::Unavailable(message),
            MeiliError::HttpError(_) | MeiliError::Timeout => SearchError::Unavailable(message),
            _ => SearchError::Rejected(message),
        }
    }

    /// `text` without the master key (in case some message ever echoes it).
    fn scrub(&self, text: String) -> String {
        match &self.master_key {
            Some(key) if text.contains(key.as_str()) => text.replace(key.as_str(), "<redacted>"),
            _ => text,
        }
    }

    fn request_timeout(&self) -> Duration {
        self.task_timeout.min(MAX_REQUEST_TIMEOUT)
    }

    /// The wait for a task of `documents` documents: the configured timeout and a little per document.
    fn batch_timeout(&self, documents: usize) -> Duration {
        self.task_timeout + TASK_TIME_PER_DOCUMENT * u32::try_from(documents).unwrap_or(u32::MAX)
    }
}

/// The settings search needs.
fn desired_settings() -> Settings {
    Settings::new()
        .with_searchable_attributes(SEARCHABLE_ATTRIBUTES)
        .with_filterable_attributes(FacetField::ALL.map(FacetField::name).into_iter().chain([FILTER_KEYS_ATTRIBUTE]))
        .with_sortable_attributes(["name"])
        .with_ranking_rules(RANKING_RULES)
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(true),
            disable_on_attributes: Some(Vec::new()),
            disable_on_words: Some(Vec::new()),
            min_word_size_for_typos: Some(MinWordSizeForTypos {
                one_typo: Some(5),
                two_typos: Some(9),
            }),
            disable_on_numbers: None,
        })
        .with_pagination(PaginationSetting {
            max_total_hits: MAX_TOTAL_HITS,
        })
        .with_faceting(FacetingSettings {
            max_values_per_facet: MAX_FACET_VALUES,
            // The most frequent values, not the first ones alphabetically.
            sort_facet_values_by: Some([("*".to_string(), FacetSortValue::Count)].into_iter().collect()),
        })
}

/// Whether `current` already has every setting of `desired` (filterable attributes compared
/// as a set: Meilisearch may list them in another order).
fn settings_match(current: &Settings, desired: &Settings) -> bool {
    let filterable_names = |settings: &Settings| {
        let mut names: Vec<String> = settings
            .filterable_attributes
            .iter()
            .flatten()
            .map(|attribute| match attribute {
                FilterableAttribute::Attribute(name) => name.clone(),
                FilterableAttribute::Settings(settings) => format!("{settings:?}"),
            })
            .collect();
        names.sort();
        names
    };
    let typo = |settings: &Settings| {
        settings.typo_tolerance.as_ref().map(|typo| {
            (
                typo.enabled,
                typo.min_word_size_for_typos.clone(),
                typo.disable_on_words.clone().unwrap_or_default(),
            )
        })
    };
    current.searchable_attributes == desired.searchable_attributes
        && filterable_names(current) == filterable_names(desired)
        && current.sortable_attributes == desired.sortable_attributes
        && current.ranking_rules == desired.ranking_rules
        && typo(current) == typo(desired)
        && current
            .typo_tolerance
            .as_ref()
            .and_then(|typo| typo.disable_on_attributes.clone())
            .unwrap_or_default()
            .is_empty()
        && current.pagination == desired.pagination
        && current.faceting == desired.faceting
}

/// The filter of `filter` on the exact-match keys, every value quoted: `""` for none; `None`
/// when nothing can match (a tier that is not an integer).
/// `timeout`, cut to what is left until `deadline`.
fn until(timeout: Duration, deadline: Option<Instant>) -> Duration {
    deadline.map_or(timeout, |deadline| timeout.min(deadline.saturating_duration_since(Instant::now())))
}

/// [`SearchError::Unavailable`] once `deadline` has passed.
fn check_deadline(deadline: Option<Instant>) -> Result<(), SearchError> {
    match deadline {
        Some(deadline) if Instant::now() >= deadline => Err(SearchError::Unavailable(
            "the delivery ran past its lease; retried later".to_owned(),
        )),
        _ => Ok(()),
    }
}

fn filter_expression(filter: &SearchFilter) -> Option<String> {
    let mut clauses = Vec::new();
    for (field, values) in filter.fields() {
        let keys: Vec<String> = values
            .into_iter()
            .filter_map(|value| match field {
                FacetField::Tier => crate::search::tier_value(value).map(|tier| filter_key(field, &tier.to_string())),
                _ => Some(filter_key(field, value)),
            })
            .map(|key| quote_filter_value(&key))
            .collect();
        if keys.is_empty() {
            return None;
        }
        clauses.push(format!("{FILTER_KEYS_ATTRIBUTE} IN [{}]", keys.join(", ")));
    }
    Some(clauses.join(" AND "))
}

/// `value` as a Meilisearch filter string: in double quotes, with `\` and `"` escaped.
fn quote_filter_value(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for character in value.chars() {
        if character == '"' || character == '\\' {
            quoted.push('\\');
        }
        quoted.push(character);
    }
    quoted.push('"');
    quoted
}

/// The answer to a search whose filter can match nothing.
fn no_match(request: &SearchRequest) -> BackendAnswer {
    BackendAnswer {
        hits: Vec::new(),
        total: 0,
        total_is_exact: true,
        facets: if request.facets { facets_from(HashMap::new()) } else { Vec::new() },
    }
}

/// Every facet field in order, its values most frequent first, then by value.
fn facets_from(mut distribution: HashMap<String, HashMap<String, usize>>) -> Vec<Facet> {
    FacetField::ALL
        .iter()
        .map(|field| {
            let mut values: Vec<(String, u64)> = distribution
                .remove(field.name())
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, count)| *count > 0)
                .map(|(value, count)| (value, u64::try_from(count).unwrap_or(u64::MAX)))
                .collect();
            values.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(&right.0)));
            values.truncate(MAX_FACET_VALUES);
            Facet { field: *field, values }
        })
        .collect()
}

/// A page as Meilisearch's page-based pagination (which counts the total exactly): pages of
/// `first` when `offset` falls on a page boundary, else one page from the start whose first
/// `offset` hits are skipped.
struct Page {
    number: usize,
    size: usize,
    skip: usize,
}

impl Page {
    fn of(offset: usize, first: usize) -> Page {
        if first == 0 {
            Page {
                number: 1,
                size: 0,
                skip: 0,
            }
        } else if offset.is_multiple_of(first) {
            Page {
                number: offset / first + 1,
                size: first,
                skip: 0,
            }
        } else {
            Page {
                number: 1,
                size: offset + first,
                skip: offset,
            }
        }
    }
}

/// Meilisearch's reason when `error` is its refusal of a batch of documents (a payload too
/// large, a malformed or invalid document), to be split.
fn refusal(error: &MeiliError) -> Option<String> {
    match error {
        MeiliError::Meilisearch(meili) if meili.error_type == ErrorType::InvalidRequest => Some(describe_meili_error(meili)),
        MeiliError::MeilisearchCommunication(communication) if matches!(communication.status_code, 400 | 413) => Some(error_message(error)),
        _ => None,
    }
}

fn describe_meili_error(error: &MeilisearchError) -> String {
    let code = serde_json::to_value(&error.error_code)
        .ok()
        .and_then(|code| code.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    format!("{} ({code})", error.error_message)
}

fn error_message(error: &MeiliError) -> String {
    match error {
        MeiliError::Meilisearch(meili) => describe_meili_error(meili),
        MeiliError::MeilisearchCommunication(communication) => format!(
            "HTTP {}{}",
            communication.status_code,
            communication
                .message
                .as_deref()
                .map(|message| format!(": {message}"))
                .unwrap_or_default()
        ),
        other => error_chain(other),
    }
}

/// `error` and its causes, joined (reqwest's own message leaves out why a connection failed).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_quoted_and_escaped() {
        assert_eq!(quote_filter_value("plain"), "\"plain\"");
        assert_eq!(quote_filter_value("x\" OR kind = \"group"), "\"x\\\" OR kind = \\\"group\"");
        assert_eq!(quote_filter_value("a\\"), "\"a\\\\\"");
    }

    #[test]
    fn filters_use_exact_keys_and_non_integer_tiers_match_nothing() {
        let filter = SearchFilter::default()
            .with(FacetField::Owner, ["A".to_string(), "b\"".to_string()])
            .with(FacetField::Tier, ["1".to_string(), "high".to_string()]);
        let expression = filter_expression(&filter).expect("some tier is an integer");
        assert_eq!(
            expression,
            format!(
                "filter_keys IN [\"{}\", \"{}\"] AND filter_keys IN [\"{}\"]",
                filter_key(FacetField::Owner, "A"),
                filter_key(FacetField::Owner, "b\""),
                filter_key(FacetField::Tier, "1")
            )
        );
        let only_bad_tiers = SearchFilter::default().with(FacetField::Tier, ["1.5".to_string(), "TO".to_string()]);
        assert_eq!(filter_expression(&only_bad_tiers), None);
        assert_eq!(filter_expression(&SearchFilter::default()), Some(String::new()));
    }

    #[test]
    fn pages_count_exactly_from_any_offset() {
        let aligned = Page::of(40, 20);
        assert_eq!((aligned.number, aligned.size, aligned.skip), (3, 20, 0));
        let unaligned = Page::of(15, 20);
        assert_eq!((unaligned.number, unaligned.size, unaligned.skip), (1, 35, 15));
        let count_only = Page::of(0, 0);
        assert_eq!((count_only.number, count_only.size, count_only.skip), (1, 0, 0));
    }

    #[test]
    fn facets_list_every_field_most_frequent_first() {
        let distribution: HashMap<String, HashMap<String, usize>> = [(
            "owner".to_string(),
            [
                ("b".to_string(), 2),
                ("a".to_string(), 2),
                ("c".to_string(), 5),
                ("z".to_string(), 0),
            ]
            .into_iter()
            .collect(),
        )]
        .into_iter()
        .collect();
        let facets = facets_from(distribution);
        assert_eq!(facets.len(), FacetField::ALL.len());
        let owner = facets.iter().find(|facet| facet.field == FacetField::Owner).expect("owner facet");
        assert_eq!(owner.values, vec![("c".to_string(), 5), ("a".to_string(), 2), ("b".to_string(), 2)]);
    }

    #[test]
    fn settings_compare_equal_to_themselves() {
        assert!(settings_match(&desired_settings(), &desired_settings()));
        let other = desired_settings().with_sortable_attributes(["title"]);
        assert!(!settings_match(&other, &desired_settings()));
    }
}
