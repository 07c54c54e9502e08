//! The search pages: `/search?q=...` (hits with their highlighted matches, facets that add or
//! remove filters, pages, the total) and `/search/suggest?q=...`, the JSON behind search as you
//! type. Both ask the search service the GraphQL API asks (`Search::search`), with filters typed
//! as the API types them; hits whose entity left the catalog since the index was written are
//! dropped, as the API drops them. Matched text is split into plain and marked segments here, so
//! the template escapes every character of it and marks the matches with `<mark>`.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::catalog::short_ref;
use super::links::{entity_path, kind_of};
use super::query::{Params, encode};
use super::{Chrome, Dashboard, PageError, PageResult, render};
use crate::graphql::typed_search_filter;
use crate::search::{FacetField, MAX_HITS, SearchAnswer, SearchError, SearchFilter, SearchHit, SearchRequest};
use crate::store::read::{entities_by_aliases, entities_by_refs};

/// Hits per results page.
const PAGE_SIZE: usize = 20;
/// The deepest page served (the search service serves the first [`MAX_HITS`] hits).
const LAST_PAGE: u32 = (MAX_HITS / PAGE_SIZE) as u32;
/// Suggestions per keystroke.
const SUGGESTIONS: usize = 8;
/// Facet values shown per field (the most frequent).
const FACET_VALUES_SHOWN: usize = 12;
/// The longest description shown under a hit whose description did not match.
const DESCRIPTION_CHARS: usize = 200;

/// A part of a matched text: plain, or what the query matched (shown in `<mark>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub marked: bool,
}

/// `snippet` cut at the `ranges` (code point offsets, end exclusive): ranges out of the text are
/// clipped, overlapping or touching ones merged, empty ones ignored, so any ranges give a
/// sequence of segments that spells the snippet exactly.
pub fn segments(snippet: &str, ranges: &[(usize, usize)]) -> Vec<Segment> {
    let characters: Vec<char> = snippet.chars().collect();
    let mut spans: Vec<(usize, usize)> = ranges
        .iter()
        .map(|&(start, end)| (start.min(characters.len()), end.min(characters.len())))
        .filter(|(start, end)| start < end)
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let mut parts = Vec::with_capacity(merged.len() * 2 + 1);
    let mut at = 0;
    for (start, end) in merged {
        if at < start {
            parts.push(Segment {
                text: characters[at..start].iter().collect(),
                marked: false,
            });
        }
        parts.push(Segment {
            text: characters[start..end].iter().collect(),
            marked: true,
        });
        at = end;
    }
    if at < characters.len() || parts.is_empty() {
        parts.push(Segment {
            text: characters[at..].iter().collect(),
            marked: false,
        });
    }
    parts
}

/// The search parameters of a request: the query text and the filters, as given (for links),
/// and the filter typed for the search service.
struct SearchState {
    query: String,
    /// (field, value as given), in parameter order.
    filters: Vec<(FacetField, String)>,
}

impl SearchState {
    fn from_params(params: &Params) -> SearchState {
        let mut filters: Vec<(FacetField, String)> = Vec::new();
        for field in FacetField::ALL {
            let mut values = params.all(field.name());
            if field == FacetField::Tags {
                values.extend(params.all("tag"));
            }
            for value in values {
                if !filters.iter().any(|(given, existing)| *given == field && *existing == value) {
                    filters.push((field, value));
                }
            }
        }
        SearchState {
            query: params.get("q").unwrap_or_default().to_owned(),
            filters,
        }
    }

    fn filter(&self) -> SearchFilter {
        typed_search_filter(
            FacetField::ALL
                .into_iter()
                .map(|field| (field, self.values_of(field).map(str::to_owned).collect())),
        )
    }

    fn values_of(&self, field: FacetField) -> impl Iterator<Item = &str> {
        self.filters
            .iter()
            .filter(move |(given, _)| *given == field)
            .map(|(_, value)| value.as_str())
    }

    /// The link to these parameters, with `extra` filters added and `removed` taken away, on `page`.
    fn link(&self, extra: Option<(FacetField, &str)>, removed: Option<(FacetField, &str)>, page: u32) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if !self.query.is_empty() {
            pairs.push(("q", &self.query));
        }
        for (field, value) in &self.filters {
            if removed != Some((*field, value.as_str())) {
                pairs.push((field.name(), value));
            }
        }
        if let Some((field, value)) = extra {
            pairs.push((field.name(), value));
        }
        let page = page.to_string();
        if page != "1" {
            pairs.push(("page", &page));
        }
        format!("/search{}", encode(&pairs))
    }
}

/// The typed filter value a facet or a given value stands for (the form the service compares).
fn typed(field: FacetField, value: &str) -> String {
    typed_search_filter([(field, vec![value.to_owned()])])
        .get(field)
        .first()
        .cloned()
        .unwrap_or_default()
}

/// What a field is called on the page.
fn field_label(field: FacetField) -> &'static str {
    match field {
        FacetField::Kind => "Kind",
        FacetField::Type => "Type",
        FacetField::Owner => "Owner",
        FacetField::Lifecycle => "Lifecycle",
        FacetField::Tier => "Tier",
        FacetField::Tags => "Tags",
        FacetField::System => "System",
        FacetField::Domain => "Domain",
        FacetField::Namespace => "Namespace",
        FacetField::Repo => "Repository",
    }
}

/// A facet value or filter as shown: references without their default parts.
fn value_label(field: FacetField, value: &str) -> String {
    match field {
        FacetField::Owner | FacetField::System | FacetField::Domain => short_ref(value),
        _ => value.to_owned(),
    }
}

/// A hit as the page shows it.
struct HitView {
    href: String,
    kind: String,
    entity_type: Option<String>,
    /// The title (or the name), highlighted when it matched.
    heading: Vec<Segment>,
    entity_ref: String,
    owner: Option<OwnerView>,
    lifecycle: Option<String>,
    /// The other fields the query matched, each field once (its values joined).
    matches: Vec<MatchView>,
    /// The description when it did not match (cut short).
    description: Option<String>,
}

struct OwnerView {
    label: String,
    href: Option<String>,
}

struct MatchView {
    field: &'static str,
    /// One list of segments per matched value (a field such as `tags` has several).
    values: Vec<Vec<Segment>>,
}

struct FacetView {
    label: &'static str,
    values: Vec<FacetValueView>,
    /// Values beyond those shown.
    more: usize,
}

struct FacetValueView {
    label: String,
    count: u64,
    /// Adds the filter, or removes it when it is active.
    href: String,
    active: bool,
}

struct ActiveFilter {
    label: &'static str,
    value: String,
    remove_href: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    /// Whether anything was asked (a query or a filter).
    asked: bool,
    hits: Vec<HitView>,
    total: usize,
    total_is_exact: bool,
    first_shown: usize,
    last_shown: usize,
    facets: Vec<FacetView>,
    filters: Vec<ActiveFilter>,
    previous_href: Option<String>,
    next_href: Option<String>,
    page: u32,
    notes: Vec<String>,
    /// The same query without filters.
    clear_href: String,
}

/// What the catalog says of a page's hits, read on one snapshot: which hits are still in the
/// catalog (the others are dropped, as the API drops them), and the entities the owners written
/// as aliases (Compass ARIs) answer to, so that they show as names and link to their pages.
struct Resolved {
    hits: Vec<SearchHit>,
    /// alias → (reference, short reference).
    aliases: HashMap<String, (String, String)>,
}

/// Whether `owner` is written as a canonical reference `kind:namespace/name` (else an alias).
fn is_reference(owner: &str) -> bool {
    owner
        .split_once(':')
        .is_some_and(|(kind, rest)| !kind.is_empty() && kind != "ari" && !kind.contains('/') && rest.contains('/'))
}

/// At most two statements: the hits' entities, and the owners written as aliases (among
/// `owners` too: the owner facet's values).
async fn resolve(dashboard: &Dashboard, answer: &SearchAnswer, owners: &[&str]) -> Result<Resolved, PageError> {
    let snapshot = dashboard.store().snapshot();
    let hits: Vec<SearchHit> = if answer.hits.is_empty() {
        Vec::new()
    } else {
        let refs: Vec<String> = answer.hits.iter().map(|hit| hit.entity.entity_ref.clone()).collect();
        let present: HashSet<String> = entities_by_refs(&snapshot, &refs)
            .await?
            .into_iter()
            .map(|record| record.entity_ref)
            .collect();
        answer
            .hits
            .iter()
            .filter(|hit| present.contains(&hit.entity.entity_ref))
            .cloned()
            .collect()
    };
    let mut aliases: Vec<String> = hits
        .iter()
        .filter_map(|hit| hit.entity.owner.as_deref())
        .chain(owners.iter().copied())
        .filter(|owner| !is_reference(owner))
        .map(str::to_owned)
        .collect();
    aliases.sort_unstable();
    aliases.dedup();
    let aliases = if aliases.is_empty() {
        HashMap::new()
    } else {
        entities_by_aliases(&snapshot, &aliases)
            .await?
            .into_iter()
            .map(|(alias, record)| {
                let label = short_ref(&record.entity_ref);
                (alias, (record.entity_ref, label))
            })
            .collect()
    };
    Ok(Resolved { hits, aliases })
}

impl Resolved {
    /// An owner as written: its name and a link to its page when it is a reference or an alias
    /// the catalog knows; else the text as written.
    fn owner(&self, owner: &str) -> OwnerView {
        match self.aliases.get(owner) {
            Some((entity_ref, label)) => OwnerView {
                label: label.clone(),
                href: Some(entity_path(entity_ref)),
            },
            None => OwnerView {
                label: short_ref(owner),
                href: is_reference(owner).then(|| entity_path(owner)),
            },
        }
    }
}

fn hit_view(hit: &SearchHit, resolved: &Resolved) -> HitView {
    let entity = &hit.entity;
    let shown = entity.title.as_deref().unwrap_or(&entity.name);
    let heading_field = if entity.title.is_some() { "title" } else { "name" };
    let heading = hit
        .matches
        .iter()
        .find(|field_match| field_match.field == heading_field && field_match.snippet == shown)
        .map_or_else(
            || segments(shown, &[]),
            |field_match| segments(&field_match.snippet, &field_match.ranges),
        );
    // The owner and the system are shown with every hit: their matches only say why a hit
    // whose name did not match is there.
    let heading_matched = heading.iter().any(|segment| segment.marked);
    let mut matches: Vec<MatchView> = Vec::new();
    for field_match in &hit.matches {
        if field_match.field == heading_field || (heading_matched && matches!(field_match.field, "owner" | "system")) {
            continue;
        }
        let value = segments(&field_match.snippet, &field_match.ranges);
        match matches.iter_mut().find(|view| view.field == field_match.field) {
            Some(view) => view.values.push(value),
            None => matches.push(MatchView {
                field: field_match.field,
                values: vec![value],
            }),
        }
    }
    let description = entity
        .description
        .as_deref()
        .filter(|_| !matches.iter().any(|view| view.field == "description"))
        .map(|description| {
            let mut cut: String = description.chars().take(DESCRIPTION_CHARS).collect();
            if description.chars().nth(DESCRIPTION_CHARS).is_some() {
                cut.push('…');
            }
            cut
        });
    HitView {
        href: entity_path(&entity.entity_ref),
        kind: kind_of(&entity.entity_ref).to_owned(),
        entity_type: entity.entity_type.clone(),
        heading,
        entity_ref: entity.entity_ref.clone(),
        owner: entity.owner.as_deref().map(|owner| resolved.owner(owner)),
        lifecycle: entity.lifecycle.clone(),
        matches,
        description,
    }
}

/// The search service's error as a page error: a query it cannot take is the request's fault
/// (400); a backend that does not answer or refuses is a 503 with the service's code and a
/// message in the API's words (the backend's own words, which may name hosts, go to the log).
fn page_error(error: SearchError) -> PageError {
    match error {
        SearchError::InvalidQuery(message) => PageError::BadRequest(message),
        SearchError::Store(error) => PageError::Store(error),
        SearchError::Unavailable(_) | SearchError::Busy => {
            tracing::warn!(error.code = error.code(), error.detail = %error, "a dashboard search failed: the backend is unavailable");
            PageError::Search(SearchError::Unavailable("try again shortly".to_owned()))
        }
        SearchError::Rejected(_) => {
            tracing::warn!(error.code = error.code(), error.detail = %error, "a dashboard search was refused by the backend");
            PageError::Search(SearchError::Rejected(
                "its configuration is wrong (see /readyz); try again later".to_owned(),
            ))
        }
    }
}

/// `GET /search?q=...&kind=...&owner=...&page=N`.
pub async fn page(State(dashboard): State<Dashboard>, RawQuery(query): RawQuery) -> PageResult {
    let params = Params::parse(query.as_deref());
    let state = SearchState::from_params(&params);
    let mut notes = Vec::new();
    let page = params.number("page", 1, 1..=LAST_PAGE);
    if params.get("page").is_some_and(|given| given != page.to_string()) {
        notes.push(format!("The page number must be between 1 and {LAST_PAGE}; showing page {page}."));
    }
    let mut chrome = Chrome::new(
        if state.query.is_empty() {
            "Search".to_owned()
        } else {
            format!("Search: {}", state.query)
        },
        "search",
    );
    chrome.query = state.query.clone();
    let asked = !state.query.is_empty() || !state.filters.is_empty();
    let offset = (page as usize - 1) * PAGE_SIZE;
    let answer = if asked {
        let request = SearchRequest {
            query: state.query.clone(),
            filter: state.filter(),
            first: PAGE_SIZE,
            offset,
            facets: true,
        };
        dashboard.search().search(&request).await.map_err(page_error)?
    } else {
        SearchAnswer::default()
    };
    let facet_owners: Vec<&str> = answer
        .facets
        .iter()
        .filter(|facet| facet.field == FacetField::Owner)
        .flat_map(|facet| facet.values.iter().take(FACET_VALUES_SHOWN).map(|(value, _)| value.as_str()))
        .chain(state.values_of(FacetField::Owner))
        .collect();
    let resolved = resolve(&dashboard, &answer, &facet_owners).await?;
    let hits: Vec<HitView> = resolved.hits.iter().map(|hit| hit_view(hit, &resolved)).collect();

    let active: Vec<(FacetField, String)> = state.filters.iter().map(|(field, value)| (*field, typed(*field, value))).collect();
    let facets = answer
        .facets
        .iter()
        .filter(|facet| !facet.values.is_empty())
        .map(|facet| {
            let field = facet.field;
            let values = facet
                .values
                .iter()
                .take(FACET_VALUES_SHOWN)
                .map(|(value, count)| {
                    let given = state
                        .filters
                        .iter()
                        .zip(&active)
                        .find(|(_, (active_field, active_value))| *active_field == field && active_value == value)
                        .map(|((_, given), _)| given.as_str());
                    FacetValueView {
                        label: if field == FacetField::Owner {
                            resolved.owner(value).label
                        } else {
                            value_label(field, value)
                        },
                        count: *count,
                        href: match given {
                            Some(given) => state.link(None, Some((field, given)), 1),
                            None => state.link(Some((field, value)), None, 1),
                        },
                        active: given.is_some(),
                    }
                })
                .collect();
            FacetView {
                label: field_label(field),
                values,
                more: facet.values.len().saturating_sub(FACET_VALUES_SHOWN),
            }
        })
        .collect();
    let filters = state
        .filters
        .iter()
        .map(|(field, value)| ActiveFilter {
            label: field_label(*field),
            value: if *field == FacetField::Owner {
                resolved.owner(value).label
            } else {
                value_label(*field, value)
            },
            remove_href: state.link(None, Some((*field, value)), 1),
        })
        .collect();
    let shown_end = offset + answer.hits.len();
    let next_href = (!answer.hits.is_empty() && shown_end < answer.total && shown_end < MAX_HITS && page < LAST_PAGE)
        .then(|| state.link(None, None, page + 1));
    let previous_href = (page > 1).then(|| state.link(None, None, page - 1));
    let clear_href = if state.query.is_empty() {
        "/search".to_owned()
    } else {
        format!("/search{}", encode(&[("q", &state.query)]))
    };
    render(&SearchPage {
        chrome,
        asked,
        total: answer.total,
        total_is_exact: answer.total_is_exact,
        first_shown: if answer.hits.is_empty() { 0 } else { offset + 1 },
        last_shown: shown_end,
        hits,
        facets,
        filters,
        previous_href,
        next_href,
        page,
        notes,
        clear_href,
    })
}

/// One suggestion of search as you type.
#[derive(Debug, Serialize)]
struct Suggestion {
    href: String,
    title: String,
    kind: String,
    owner: Option<String>,
}

/// `GET /search/suggest?q=...`: at most eight hits as JSON `[{"href","title","kind","owner"}]`.
/// An empty query answers `[]`; a failed search answers `[]` with its status (400 for a query
/// the service cannot take, else 503).
pub async fn suggest(State(dashboard): State<Dashboard>, RawQuery(query): RawQuery) -> Response {
    let params = Params::parse(query.as_deref());
    let Some(text) = params.get("q") else {
        return axum::Json(Vec::<Suggestion>::new()).into_response();
    };
    let request = SearchRequest {
        query: text.to_owned(),
        filter: SearchFilter::default(),
        first: SUGGESTIONS,
        offset: 0,
        facets: false,
    };
    let failed = |status: StatusCode| (status, axum::Json(Vec::<Suggestion>::new())).into_response();
    let answer = match dashboard.search().search(&request).await {
        Ok(answer) => answer,
        Err(SearchError::InvalidQuery(_)) => return failed(StatusCode::BAD_REQUEST),
        Err(error) => {
            tracing::warn!(error.code = error.code(), error.detail = %error, "a search suggestion failed");
            return failed(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let resolved = match resolve(&dashboard, &answer, &[]).await {
        Ok(resolved) => resolved,
        Err(error) => {
            tracing::warn!(
                error.code = error.code(),
                "search suggestions could not be checked against the catalog"
            );
            return failed(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let suggestions: Vec<Suggestion> = resolved
        .hits
        .iter()
        .map(|hit| Suggestion {
            href: entity_path(&hit.entity.entity_ref),
            title: hit.entity.title.clone().unwrap_or_else(|| hit.entity.name.clone()),
            kind: kind_of(&hit.entity.entity_ref).to_owned(),
            owner: hit.entity.owner.as_deref().map(|owner| resolved.owner(owner).label),
        })
        .collect();
    axum::Json(suggestions).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(parts: &[Segment]) -> String {
        parts
            .iter()
            .map(|part| {
                if part.marked {
                    format!("[{}]", part.text)
                } else {
                    part.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn segments_mark_the_ranges_and_spell_the_snippet() {
        assert_eq!(spelled(&segments("payments api", &[(0, 8)])), "[payments] api");
        assert_eq!(spelled(&segments("payments api", &[(9, 12), (0, 3)])), "[pay]ments [api]");
        assert_eq!(spelled(&segments("abc", &[])), "abc");
        assert_eq!(spelled(&segments("", &[])), "");
        // Code points, not bytes.
        assert_eq!(spelled(&segments("café bar", &[(0, 4)])), "[café] bar");
        assert_eq!(spelled(&segments("日本語テキスト", &[(3, 7)])), "日本語[テキスト]");
    }

    #[test]
    fn odd_ranges_are_clipped_merged_or_ignored() {
        assert_eq!(spelled(&segments("abcdef", &[(1, 3), (2, 5)])), "a[bcde]f");
        assert_eq!(spelled(&segments("abcdef", &[(1, 3), (3, 4)])), "a[bcd]ef");
        assert_eq!(spelled(&segments("abc", &[(2, 99), (50, 60), (2, 2), (3, 1)])), "ab[c]");
        for ranges in [vec![(0, 100)], vec![(5, 1)], vec![(1, 1), (0, 0)]] {
            let parts = segments("<script>", &ranges);
            assert_eq!(parts.iter().map(|part| part.text.as_str()).collect::<String>(), "<script>");
        }
    }

    #[test]
    fn filters_come_from_facet_names_and_links_add_and_remove_them() {
        let params = Params::parse(Some("q=pay&kind=Component&owner=team-a&tag=java&tags=java&page=2"));
        let state = SearchState::from_params(&params);
        assert_eq!(state.query, "pay");
        assert_eq!(
            state.filters,
            vec![
                (FacetField::Kind, "Component".to_owned()),
                (FacetField::Owner, "team-a".to_owned()),
                (FacetField::Tags, "java".to_owned())
            ]
        );
        let filter = state.filter();
        assert_eq!(filter.get(FacetField::Kind), ["component"]);
        assert_eq!(filter.get(FacetField::Owner), ["group:default/team-a"]);
        assert_eq!(
            state.link(Some((FacetField::Lifecycle, "production")), None, 1),
            "/search?q=pay&kind=Component&owner=team-a&tags=java&lifecycle=production"
        );
        assert_eq!(
            state.link(None, Some((FacetField::Owner, "team-a")), 3),
            "/search?q=pay&kind=Component&tags=java&page=3"
        );
        assert_eq!(typed(FacetField::Owner, "team-a"), "group:default/team-a");
    }

    #[test]
    fn owners_are_references_or_aliases() {
        assert!(is_reference("group:default/team-a"));
        assert!(is_reference("user:ops/jane"));
        for alias in ["ari:cloud:teams::team/48962310", "team-a", ":x/y", "a/b:c", ""] {
            assert!(!is_reference(alias), "{alias}");
        }
    }
}
