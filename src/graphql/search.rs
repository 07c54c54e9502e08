//! The `search` query: the search service's answer (`crate::search::Search`, in the schema's
//! data) as GraphQL. Hits are resolved to entities through the request's snapshot and loaders
//! (a hit whose entity is gone since the index was written is dropped), facets are counted only
//! when selected, and pages are addressed by opaque cursors that hold a hit's position.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::connection::{CursorType, OpaqueCursor, PageInfo};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use serde::{Deserialize, Serialize};

use super::entity::{Entity, prefetch};
use super::loaders::{EntityRefKey, load_many};
use super::{ErrorCode, api_error, store_error};
use crate::domain::{DEFAULT_NAMESPACE, EntityRef};
use crate::search::{self, FacetField, MAX_HITS, MAX_PAGE_SIZE, Search, SearchError, SearchRequest};
use crate::store::read::EntityRecord;

/// Hits per page when `first` is not given.
pub const DEFAULT_SEARCH_PAGE: i32 = 20;

/// The search query field.
#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Entities matching `query`, best first. Every word of the query must match a word of the
    /// entity: exactly, as a prefix (`pay` finds `payments-api`), or with typos (one from 5
    /// letters, two from 9). Names and titles rank above tags and labels, above description,
    /// owner and system, above API definition text; an exact name match ranks first. An empty
    /// query with a `filter` is a faceted browse, ordered by name. `first` is the page size (20
    /// when absent, at most 100: more is a `PAGE_TOO_LARGE` error); `after` is a hit's `cursor`
    /// (or `pageInfo.endCursor`): the page starts after that hit. Hits beyond the first 1,000
    /// are not served (`BAD_REQUEST`). A query longer than 1,024 bytes is a `BAD_REQUEST`; a
    /// search backend that cannot be reached is `SEARCH_UNAVAILABLE`.
    #[graphql(complexity = "1 + search_page_weight(first) * child_complexity")]
    async fn search(
        &self,
        context: &Context<'_>,
        #[graphql(default_with = "Some(String::new())")] query: Option<String>,
        filter: Option<SearchFilterInput>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<SearchResults> {
        let first = search_page_size(first)?;
        let offset = match after.as_deref() {
            Some(cursor) => decode_search_cursor(cursor)?.saturating_add(1),
            None => 0,
        };
        let service = context
            .data::<Search>()
            .map_err(|_| api_error(ErrorCode::Internal, "the schema was built without the search service"))?;
        let look_ahead = context.look_ahead();
        let request = SearchRequest {
            query: query.unwrap_or_default(),
            filter: filter.unwrap_or_default().to_filter(),
            first,
            offset,
            facets: look_ahead.field("facets").exists(),
        };
        let answer = service.search(&request).await.map_err(|error| search_error(&error))?;

        // The hits' entities as the request's snapshot holds them (one statement), prefetched for
        // what the selection asks of them.
        let keys: Vec<EntityRefKey> = answer.hits.iter().map(|hit| EntityRefKey(hit.entity.entity_ref.clone())).collect();
        let mut loaded = load_many(context, keys).await?;
        let mut hits = Vec::with_capacity(answer.hits.len());
        for (index, hit) in answer.hits.iter().enumerate() {
            let Some(record) = loaded.remove(&EntityRefKey(hit.entity.entity_ref.clone())) else {
                tracing::debug!(entity.r#ref = %hit.entity.entity_ref, "a search hit is no longer in the catalog; dropped");
                continue;
            };
            hits.push(ResolvedHit {
                position: offset + index,
                record,
                hit: hit.clone(),
            });
        }
        let records: Vec<Arc<EntityRecord>> = hits.iter().map(|hit| hit.record.clone()).collect();
        prefetch(context, &records, &look_ahead.field("hits").field("entity")).await?;

        let next = offset + answer.hits.len();
        // The page's last position, even when its hits were all dropped: paging never gets stuck.
        let last_position = next.checked_sub(1).filter(|_| !answer.hits.is_empty());
        Ok(SearchResults {
            last_position,
            has_next_page: !answer.hits.is_empty() && next < answer.total && next < MAX_HITS,
            has_previous_page: offset > 0,
            hits,
            total: answer.total,
            total_is_exact: answer.total_is_exact,
            facets: answer.facets,
            backend: service.backend_name(),
        })
    }
}

/// `first` checked against [`MAX_PAGE_SIZE`], before any work.
fn search_page_size(first: Option<i32>) -> Result<usize> {
    let first = first.unwrap_or(DEFAULT_SEARCH_PAGE);
    match usize::try_from(first) {
        Ok(size) if size <= MAX_PAGE_SIZE => Ok(size),
        _ => Err(api_error(
            ErrorCode::PageTooLarge,
            format!("`first` must be between 0 and {MAX_PAGE_SIZE}; it is {first}"),
        )),
    }
}

/// The page size the complexity of `search` is counted with (the cap is checked by
/// [`search_page_size`]).
fn search_page_weight(first: Option<i32>) -> usize {
    usize::try_from(first.unwrap_or(DEFAULT_SEARCH_PAGE)).map_or(0, |first| first.min(MAX_PAGE_SIZE))
}

/// What a search cursor holds: the position of a hit in the answer (0 the best).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchPosition {
    hit: usize,
}

/// The opaque cursor of the hit at `position`.
fn encode_search_cursor(position: usize) -> String {
    OpaqueCursor(SearchPosition { hit: position }).encode_cursor()
}

/// The position a cursor of `search` holds; anything else is a `BAD_REQUEST`.
fn decode_search_cursor(cursor: &str) -> Result<usize> {
    let invalid = || {
        api_error(
            ErrorCode::BadRequest,
            "`after` is not a cursor of a search; pass a hit's `cursor` or `pageInfo.endCursor`",
        )
    };
    if cursor.len() > 256 {
        return Err(invalid());
    }
    let position = OpaqueCursor::<SearchPosition>::decode_cursor(cursor).map_err(|_| invalid())?.0.hit;
    if position >= MAX_HITS {
        return Err(api_error(
            ErrorCode::BadRequest,
            format!("hits beyond the first {MAX_HITS} are not served"),
        ));
    }
    Ok(position)
}

/// The one place where search errors become API errors: the client gets a code and a short
/// message (the query's own problem in words, never a backend's text); the detail goes to the log.
fn search_error(error: &SearchError) -> async_graphql::Error {
    match error {
        SearchError::InvalidQuery(message) => api_error(ErrorCode::BadRequest, message.clone()),
        SearchError::Store(error) => store_error(error),
        SearchError::Unavailable(_) | SearchError::Busy => {
            tracing::warn!(error.code = error.code(), error.detail = %error, "a search failed: the backend is unavailable");
            api_error(ErrorCode::SearchUnavailable, "the search backend is unavailable; try again shortly")
        }
        SearchError::Rejected(_) => {
            // A wrong key, a missing index, settings changed by hand: nothing the caller can fix,
            // and /readyz names it; the log has the backend's words.
            tracing::warn!(error.code = error.code(), error.detail = %error, "a search was refused by the backend");
            api_error(
                ErrorCode::SearchUnavailable,
                "the search backend refused the search (its configuration is wrong: see /readyz); try again later",
            )
        }
    }
}

/// Which entities a search may return. Each field takes several values and matches any of them
/// (or); fields are combined with "and". An absent or empty field does not filter. Values are
/// compared exactly, as facets give them back (kinds in lower case; owners, systems and domains
/// as references, which may be typed as people type them: `team-a` means `group:default/team-a`).
#[derive(InputObject, Default, Clone)]
#[graphql(name = "SearchFilter")]
pub struct SearchFilterInput {
    /// Kinds, any case: `component`, `API`...
    pub kind: Option<Vec<String>>,
    /// `spec.type` values: `service`, `openapi`...
    #[graphql(name = "type")]
    pub entity_type: Option<Vec<String>>,
    /// Owners as references (`team-a` means `group:default/team-a`; `user:jane` a user).
    pub owner: Option<Vec<String>>,
    pub lifecycle: Option<Vec<String>>,
    /// Compass tiers, 1 to 4.
    pub tier: Option<Vec<i32>>,
    /// Entities with at least one of these tags.
    pub tags: Option<Vec<String>>,
    /// Systems as references (`payments` means `system:default/payments`).
    pub system: Option<Vec<String>>,
    /// Domains as references (`commerce` means `domain:default/commerce`).
    pub domain: Option<Vec<String>>,
    pub namespace: Option<Vec<String>>,
    /// Repository URLs (or local paths) as configured.
    pub repo: Option<Vec<String>>,
}

impl SearchFilterInput {
    /// The search service's filter (its limits are checked by the service).
    pub fn to_filter(&self) -> search::SearchFilter {
        let strings = |values: &Option<Vec<String>>| values.clone().unwrap_or_default();
        typed_search_filter([
            (FacetField::Kind, strings(&self.kind)),
            (FacetField::Type, strings(&self.entity_type)),
            (FacetField::Owner, strings(&self.owner)),
            (FacetField::Lifecycle, strings(&self.lifecycle)),
            (FacetField::Tier, self.tier.iter().flatten().map(i32::to_string).collect()),
            (FacetField::Tags, strings(&self.tags)),
            (FacetField::System, strings(&self.system)),
            (FacetField::Domain, strings(&self.domain)),
            (FacetField::Namespace, strings(&self.namespace)),
            (FacetField::Repo, strings(&self.repo)),
        ])
    }
}

/// A search filter from values as people type them (the API's `SearchFilter` and the flags of
/// `sextant search`): trimmed; kinds and namespaces in lower case; owners, systems and domains
/// made canonical references with the field's default kind (`team-a` is
/// `group:default/team-a`). A value that is not a reference is kept as given: it matches
/// nothing, which is the answer.
pub fn typed_search_filter(fields: impl IntoIterator<Item = (FacetField, Vec<String>)>) -> search::SearchFilter {
    fields.into_iter().fold(search::SearchFilter::default(), |filter, (field, values)| {
        filter.with(field, values.iter().map(|value| typed_filter_value(field, value)))
    })
}

fn typed_filter_value(field: FacetField, value: &str) -> String {
    let value = value.trim();
    let reference = |default_kind: &str| {
        EntityRef::parse(value, Some(default_kind), DEFAULT_NAMESPACE)
            .map_or_else(|_| value.to_owned(), |entity_ref| entity_ref.to_string())
    };
    match field {
        FacetField::Kind | FacetField::Namespace => value.to_lowercase(),
        FacetField::Owner => reference("group"),
        FacetField::System => reference("system"),
        FacetField::Domain => reference("domain"),
        FacetField::Type | FacetField::Lifecycle | FacetField::Tier | FacetField::Tags | FacetField::Repo => value.to_owned(),
    }
}

/// A search's answer, one page of it.
pub struct SearchResults {
    hits: Vec<ResolvedHit>,
    total: usize,
    total_is_exact: bool,
    facets: Vec<search::Facet>,
    backend: &'static str,
    has_next_page: bool,
    has_previous_page: bool,
    /// Where the next page starts after (the page's last hit, kept or dropped).
    last_position: Option<usize>,
}

/// A search's answer: one page of hits, the number of matches, and facet counts.
#[Object]
impl SearchResults {
    /// The page's hits, best first (an empty query: by name).
    async fn hits(&self) -> Vec<SearchHitView> {
        self.hits
            .iter()
            .map(|hit| SearchHitView {
                entity: Entity::from_record(hit.record.clone()),
                cursor: encode_search_cursor(hit.position),
                score: hit.hit.score,
                matched_fields: matched_fields(&hit.hit.matches),
                highlights: hit.hit.matches.iter().map(Highlight::from_match).collect(),
            })
            .collect()
    }

    /// How many entities match, over all pages (see `totalCountIsExact`).
    async fn total_count(&self) -> i32 {
        i32::try_from(self.total).unwrap_or(i32::MAX)
    }

    /// False when `totalCount` is an estimate (Meilisearch counts exactly up to 1,000 matches).
    async fn total_count_is_exact(&self) -> bool {
        self.total_is_exact
    }

    /// For each filter field, how many matching entities have each value (over all matches, the
    /// most frequent first, at most 100 values per field). Counted only when selected.
    async fn facets(&self) -> Vec<Facet> {
        self.facets
            .iter()
            .map(|facet| Facet {
                field: facet.field.name().to_owned(),
                values: facet
                    .values
                    .iter()
                    .map(|(value, count)| FacetValue {
                        value: value.clone(),
                        count: i32::try_from(*count).unwrap_or(i32::MAX),
                    })
                    .collect(),
            })
            .collect()
    }

    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: self.hits.first().map(|hit| encode_search_cursor(hit.position)),
            end_cursor: self.last_position.map(encode_search_cursor),
        }
    }

    /// The backend that answered: `postgres` or `meilisearch`.
    async fn backend(&self) -> &str {
        self.backend
    }
}

/// A hit with its entity as the request's snapshot holds it.
struct ResolvedHit {
    /// Its position in the whole answer (0 the best).
    position: usize,
    record: Arc<EntityRecord>,
    hit: search::SearchHit,
}

/// The fields that `matches` covers, each once, in their order.
fn matched_fields(matches: &[search::FieldMatch]) -> Vec<String> {
    let mut seen: HashSet<&str> = HashSet::new();
    matches
        .iter()
        .filter(|field_match| seen.insert(field_match.field))
        .map(|field_match| field_match.field.to_owned())
        .collect()
}

/// One matching entity.
#[derive(SimpleObject)]
#[graphql(name = "SearchHit")]
pub struct SearchHitView {
    entity: Entity,
    /// Opaque: pass it as `after` for the hits that follow this one.
    cursor: String,
    /// Higher is better; comparable within one answer only.
    score: f64,
    /// The fields the query matched: `name`, `title`, `tags`, `labels`, `description`,
    /// `owner`, `system`, `definition`...
    matched_fields: Vec<String>,
    /// What matched, in each field, as text with ranges (never markup).
    highlights: Vec<Highlight>,
}

/// A field's text with the parts the query matched.
#[derive(SimpleObject)]
pub struct Highlight {
    field: String,
    /// The field's text, or a window of a long one, as plain text (not HTML: escape it for a page).
    snippet: String,
    /// The matched parts of `snippet`, in order.
    ranges: Vec<Range>,
}

impl Highlight {
    fn from_match(field_match: &search::FieldMatch) -> Highlight {
        Highlight {
            field: field_match.field.to_owned(),
            snippet: field_match.snippet.clone(),
            ranges: field_match
                .ranges
                .iter()
                .map(|(start, end)| Range {
                    start: i32::try_from(*start).unwrap_or(i32::MAX),
                    end: i32::try_from(*end).unwrap_or(i32::MAX),
                })
                .collect(),
        }
    }
}

/// A part of a snippet, as offsets in Unicode code points (not bytes, not UTF-16 units).
#[derive(SimpleObject)]
pub struct Range {
    /// The first code point of the part (0 the snippet's first).
    start: i32,
    /// The code point after the part (exclusive).
    end: i32,
}

/// The counts of one filter field's values among all matches.
#[derive(SimpleObject)]
pub struct Facet {
    /// The `SearchFilter` field: `kind`, `type`, `owner`, `lifecycle`, `tier`, `tags`,
    /// `system`, `domain`, `namespace` or `repo`.
    field: String,
    /// Most frequent first, then by value.
    values: Vec<FacetValue>,
}

/// A value of a filter field and how many matching entities have it.
#[derive(SimpleObject)]
pub struct FacetValue {
    /// As the filter takes it back.
    value: String,
    count: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage_and_other_lists() {
        let cursor = encode_search_cursor(41);
        assert_eq!(decode_search_cursor(&cursor).ok(), Some(41));
        let entities_cursor = OpaqueCursor(("key".to_owned(), 3)).encode_cursor();
        for garbage in ["", "x", "!!!", &"a".repeat(300), &entities_cursor, &encode_search_cursor(MAX_HITS)] {
            assert!(decode_search_cursor(garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn page_sizes_are_capped_and_weigh_at_most_the_cap() {
        assert_eq!(search_page_size(None).ok(), Some(20));
        assert_eq!(search_page_size(Some(100)).ok(), Some(100));
        assert!(search_page_size(Some(101)).is_err());
        assert!(search_page_size(Some(-1)).is_err());
        assert_eq!(search_page_weight(Some(i32::MAX)), 100);
        assert_eq!(search_page_weight(Some(-5)), 0);
    }

    #[test]
    fn filters_take_references_as_people_type_them_and_keep_other_values_exact() {
        let filter = SearchFilterInput {
            kind: Some(vec![" API ".to_owned()]),
            owner: Some(vec!["Team-A".to_owned(), "user:jane".to_owned(), "a\"b:c:d".to_owned()]),
            system: Some(vec!["payments".to_owned()]),
            tier: Some(vec![1]),
            tags: Some(vec!["Java".to_owned()]),
            ..SearchFilterInput::default()
        }
        .to_filter();
        assert_eq!(filter.get(FacetField::Kind), ["api"]);
        let owners = filter.get(FacetField::Owner);
        assert_eq!(owners[..2], ["group:default/team-a", "user:default/jane"]);
        assert_eq!(
            owners.len(),
            3,
            "an odd value is kept (it matches nothing), not refused: {owners:?}"
        );
        assert_eq!(filter.get(FacetField::System), ["system:default/payments"]);
        assert_eq!(filter.get(FacetField::Tier), ["1"]);
        assert_eq!(filter.get(FacetField::Tags), ["Java"]);
        assert!(filter.get(FacetField::Domain).is_empty());
        assert!(SearchFilterInput::default().to_filter().is_empty());
    }
}
