//! The catalog page (`/catalog`): a table of entities, a page at a time (keyset pagination on
//! the store's `entities_page`, the cursor in the URL as `after` = the last reference seen and,
//! for the name and title orders, `after_key` = its sort key), sortable by reference, name or
//! title in both directions, and filtered by kind, type, owner, lifecycle, tier, tag, system,
//! domain, repository and problem. Every view is a URL: the filters, the order and the page size
//! are query parameters (a repeated parameter means "any of"), and every link on the page keeps
//! them. A parameter that makes no sense is a 400 page that says which and why; a page size out
//! of range is ignored with a note.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};

use super::links::entity_path;
use super::query::{Params, encode};
use super::{Chrome, Dashboard, PageError, PageResult, render};
use crate::domain::{DEFAULT_NAMESPACE, EntityRef};
use crate::store::read::{
    EntityQuery, EntityRecord, SortField, SortOrder, SortPosition, count_entities, entities_by_ids, entities_page, relations_from,
};

/// Rows per page when `first` is not given, and the most a page shows.
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 200;
/// Most values one filter parameter takes.
const MAX_FILTER_VALUES: usize = 100;
/// Longest filter value or cursor part, in bytes.
const MAX_VALUE_BYTES: usize = 1024;

/// The kinds offered as filter checkboxes (any other kind works in the URL).
const KINDS: [&str; 9] = [
    "component",
    "api",
    "resource",
    "system",
    "domain",
    "group",
    "user",
    "location",
    "template",
];
/// The `problem` values and what they are called.
const PROBLEMS: [(&str, &str); 4] = [
    ("diagnostics", "Has diagnostics"),
    ("dangling", "Dangling reference"),
    ("orphan", "No owner"),
    ("stale", "Stale (last good copy)"),
];
/// The filter parameters, in the order links write them.
const FILTER_PARAMS: [&str; 10] = [
    "kind",
    "type",
    "owner",
    "lifecycle",
    "tier",
    "tag",
    "system",
    "domain",
    "repo",
    "problem",
];

/// A reference without the parts that go without saying: `group:default/team-a` is `team-a`
/// when shown next to an owner, `payments` for a system; another namespace is kept
/// (`ops/team-a`). Anything that is not a reference is shown as it is.
pub fn short_ref(reference: &str) -> String {
    let Some((_, rest)) = reference
        .split_once(':')
        .filter(|(kind, _)| !kind.is_empty() && !kind.contains('/'))
    else {
        return reference.to_owned();
    };
    if reference.starts_with("ari:") {
        return reference.to_owned();
    }
    match rest.split_once('/') {
        Some((namespace, name)) if namespace == DEFAULT_NAMESPACE => name.to_owned(),
        _ => rest.to_owned(),
    }
}

/// A page of the catalog as its parameters ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CatalogView {
    /// (parameter, value as given), in [`FILTER_PARAMS`] order.
    filters: Vec<(&'static str, String)>,
    subgroups: bool,
    order: SortOrder,
    first: u32,
    after: Option<SortPosition>,
}

/// What was wrong with the parameters, for the 400 page.
fn bad(message: String) -> PageError {
    PageError::BadRequest(message)
}

/// A value that can go to the database: no control characters, not too long.
fn checked_value(parameter: &str, value: &str) -> Result<(), PageError> {
    if value.chars().any(char::is_control) {
        return Err(bad(format!("the `{parameter}` parameter holds a control character")));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(bad(format!("the `{parameter}` parameter is longer than {MAX_VALUE_BYTES} bytes")));
    }
    Ok(())
}

fn sort_field_name(field: SortField) -> &'static str {
    match field {
        SortField::Ref => "ref",
        SortField::Name => "name",
        SortField::Title => "title",
    }
}

impl CatalogView {
    /// Reads the parameters; notes say what was ignored.
    fn from_params(params: &Params, notes: &mut Vec<String>) -> Result<CatalogView, PageError> {
        let mut filters = Vec::new();
        for parameter in FILTER_PARAMS {
            let values = params.all(parameter);
            if values.len() > MAX_FILTER_VALUES {
                return Err(bad(format!(
                    "the `{parameter}` filter takes at most {MAX_FILTER_VALUES} values; it has {}",
                    values.len()
                )));
            }
            for value in values {
                checked_value(parameter, &value)?;
                filters.push((parameter, value));
            }
        }
        let field = match params.get("sort").map(str::to_ascii_lowercase).as_deref() {
            None | Some("ref") => SortField::Ref,
            Some("name") => SortField::Name,
            Some("title") => SortField::Title,
            Some(other) => {
                return Err(bad(format!(
                    "the catalog cannot be sorted by `{}`: sort by `ref`, `name` or `title`",
                    other.escape_debug()
                )));
            }
        };
        let descending = match params.get("order").map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(bad(format!("the order `{}` is neither `asc` nor `desc`", other.escape_debug())));
            }
        };
        let first = params.number("first", DEFAULT_PAGE_SIZE, 1..=MAX_PAGE_SIZE);
        if params.get("first").is_some_and(|given| given != first.to_string()) {
            notes.push(format!(
                "A page shows 1 to {MAX_PAGE_SIZE} entities; `first` was ignored and the page shows {first}."
            ));
        }
        let after = match params.get("after") {
            None => None,
            Some(entity_ref) => {
                checked_value("after", entity_ref)?;
                let key = match field {
                    SortField::Ref => entity_ref.to_owned(),
                    SortField::Name | SortField::Title => {
                        let key = params.get("after_key").ok_or_else(|| {
                            bad(format!(
                                "a page of the catalog sorted by {} starts after a reference and its `after_key`; follow the links of the page",
                                sort_field_name(field)
                            ))
                        })?;
                        checked_value("after_key", key)?;
                        key.to_owned()
                    }
                };
                Some(SortPosition {
                    key,
                    entity_ref: entity_ref.to_owned(),
                })
            }
        };
        Ok(CatalogView {
            filters,
            subgroups: params
                .get("subgroups")
                .is_some_and(|value| matches!(value, "1" | "on" | "true" | "yes")),
            order: SortOrder { field, descending },
            first,
            after,
        })
    }

    fn values_of(&self, parameter: &str) -> Vec<String> {
        self.filters
            .iter()
            .filter(|(given, _)| *given == parameter)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// The store's query for the filters; a malformed reference, tier or problem is a 400.
    fn query(&self) -> Result<EntityQuery, PageError> {
        let refs = |parameter: &str, default_kind: &str| -> Result<Vec<String>, PageError> {
            self.values_of(parameter)
                .iter()
                .map(|value| {
                    EntityRef::parse(value, Some(default_kind), DEFAULT_NAMESPACE)
                        .map(|entity_ref| entity_ref.to_string())
                        .map_err(|error| bad(format!("the `{parameter}` filter `{}` {error}", value.escape_debug())))
                })
                .collect()
        };
        let tiers = self
            .values_of("tier")
            .iter()
            .map(|value| {
                value
                    .parse::<i16>()
                    .ok()
                    .filter(|tier| (1..=4).contains(tier))
                    .ok_or_else(|| bad(format!("`{}` is not a tier: tiers are 1 to 4", value.escape_debug())))
            })
            .collect::<Result<Vec<i16>, PageError>>()?;
        let mut query = EntityQuery {
            kinds: self.values_of("kind").iter().map(|kind| kind.to_lowercase()).collect(),
            types: self.values_of("type"),
            owners: refs("owner", "group")?,
            include_subgroups: self.subgroups,
            lifecycles: self.values_of("lifecycle"),
            tiers,
            tags: self.values_of("tag"),
            systems: refs("system", "system")?,
            domains: refs("domain", "domain")?,
            repos: self.values_of("repo"),
            ..EntityQuery::default()
        };
        for problem in self.values_of("problem") {
            match problem.to_ascii_lowercase().as_str() {
                "diagnostics" => query.has_diagnostics = Some(true),
                "dangling" => query.dangling = Some(true),
                "orphan" => query.orphan = Some(true),
                "stale" => query.stale = Some(true),
                other => {
                    return Err(bad(format!(
                        "the problem `{}` is not one of `diagnostics`, `dangling`, `orphan` or `stale`",
                        other.escape_debug()
                    )));
                }
            }
        }
        Ok(query)
    }

    /// The link to this view with changes: `filters` replaced (when given), the order, and the
    /// page after `after`.
    fn link(&self, filters: Option<&[(&str, String)]>, order: SortOrder, after: Option<&SortPosition>) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        let own: Vec<(&str, String)>;
        let filters = match filters {
            Some(filters) => filters,
            None => {
                own = self.filters.iter().map(|(parameter, value)| (*parameter, value.clone())).collect();
                &own
            }
        };
        for (parameter, value) in filters {
            pairs.push((parameter, value));
        }
        if self.subgroups {
            pairs.push(("subgroups", "1"));
        }
        if order.field != SortField::Ref {
            pairs.push(("sort", sort_field_name(order.field)));
        }
        if order.descending {
            pairs.push(("order", "desc"));
        }
        let first = self.first.to_string();
        if self.first != DEFAULT_PAGE_SIZE {
            pairs.push(("first", &first));
        }
        if let Some(position) = after {
            pairs.push(("after", &position.entity_ref));
            if order.field != SortField::Ref {
                pairs.push(("after_key", &position.key));
            }
        }
        format!("/catalog{}", encode(&pairs))
    }

    /// This view (filters and order) from its first page.
    fn first_page(&self) -> String {
        self.link(None, self.order, None)
    }

    /// This view with one more filter value, from the first page.
    fn with_filter(&self, parameter: &'static str, value: &str) -> String {
        let mut filters: Vec<(&str, String)> = self.filters.iter().map(|(given, existing)| (*given, existing.clone())).collect();
        if !filters.iter().any(|(given, existing)| *given == parameter && existing == value) {
            let at = filters
                .iter()
                .rposition(|(given, _)| filter_rank(given) <= filter_rank(parameter))
                .map_or(0, |last| last + 1);
            filters.insert(at, (parameter, value.to_owned()));
        }
        self.link(Some(&filters), self.order, None)
    }

    /// The header link of a sort field: ascending, or the other direction when it is the order.
    fn sort_link(&self, field: SortField) -> SortLink {
        let current = self.order.field == field;
        let descending = current && !self.order.descending;
        SortLink {
            label: match field {
                SortField::Ref => "reference",
                SortField::Name => "name",
                SortField::Title => "title",
            },
            href: self.link(None, SortOrder { field, descending }, None),
            current: if current {
                if self.order.descending { "descending" } else { "ascending" }
            } else {
                ""
            },
        }
    }
}

/// Where a filter parameter goes in links (unknown ones last).
fn filter_rank(parameter: &str) -> usize {
    FILTER_PARAMS
        .iter()
        .position(|known| *known == parameter)
        .unwrap_or(FILTER_PARAMS.len())
}

struct SortLink {
    label: &'static str,
    href: String,
    /// `ascending`, `descending`, or empty when the table is not sorted by it.
    current: &'static str,
}

struct LinkView {
    label: String,
    href: String,
}

/// An entity's owner: linked to its page when it resolves.
struct OwnerCell {
    label: String,
    href: Option<String>,
}

struct Row {
    href: String,
    label: String,
    entity_ref: String,
    kind: String,
    entity_type: Option<String>,
    owner: Option<OwnerCell>,
    system: Option<LinkView>,
    lifecycle: Option<String>,
    /// The badge class of a known lifecycle (`production`, `active`, `experimental`, `deprecated`), else empty.
    lifecycle_class: &'static str,
    tier: Option<i16>,
    tags: Vec<LinkView>,
    stale_reason: Option<String>,
}

/// A text filter with its current values (one input per value, one empty input when none).
struct TextFilter {
    name: &'static str,
    label: &'static str,
    placeholder: &'static str,
    values: Vec<String>,
}

struct Choice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// A filter in force, with the link that removes it.
struct ActiveFilter {
    label: String,
    remove_href: String,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    rows: Vec<Row>,
    total: i64,
    sort_links: Vec<SortLink>,
    kinds: Vec<Choice>,
    tiers: Vec<Choice>,
    problems: Vec<Choice>,
    text_filters: Vec<TextFilter>,
    subgroups: bool,
    /// Hidden inputs that keep the order and the page size when the form is sent.
    hidden: Vec<(&'static str, String)>,
    active: Vec<ActiveFilter>,
    clear_href: String,
    next_href: Option<String>,
    first_page_href: Option<String>,
    notes: Vec<String>,
}

/// The resolved owners of `records` (one statement for the relations, one for the owners):
/// entity id → (owner reference, title or name).
async fn resolved_owners(snapshot: &crate::store::Snapshot, records: &[EntityRecord]) -> Result<HashMap<i64, (String, String)>, PageError> {
    let ids: Vec<i64> = records
        .iter()
        .filter(|record| record.owner_ref.is_some())
        .map(|record| record.id)
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let owned_by: Vec<(i64, i64)> = relations_from(snapshot, &ids)
        .await?
        .into_iter()
        .filter(|relation| relation.relation_type == "ownedBy")
        .filter_map(|relation| relation.target_id.map(|target| (relation.source_id, target)))
        .collect();
    let mut owner_ids: Vec<i64> = owned_by.iter().map(|(_, owner)| *owner).collect();
    owner_ids.sort_unstable();
    owner_ids.dedup();
    if owner_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let owners: HashMap<i64, (String, String)> = entities_by_ids(snapshot, &owner_ids)
        .await?
        .into_iter()
        .map(|owner| {
            let label = owner.title.clone().unwrap_or_else(|| short_ref(&owner.entity_ref));
            (owner.id, (owner.entity_ref, label))
        })
        .collect();
    Ok(owned_by
        .into_iter()
        .filter_map(|(entity, owner)| owners.get(&owner).map(|found| (entity, found.clone())))
        .collect())
}

fn row(view: &CatalogView, record: EntityRecord, owners: &HashMap<i64, (String, String)>) -> Row {
    let owner = match owners.get(&record.id) {
        Some((owner_ref, label)) => Some(OwnerCell {
            label: label.clone(),
            href: Some(entity_path(owner_ref)),
        }),
        None => record.owner_ref.as_deref().map(|written| OwnerCell {
            label: short_ref(written),
            href: None,
        }),
    };
    let system = record.system_ref.as_deref().map(|system| LinkView {
        label: short_ref(system),
        href: entity_path(system),
    });
    let tags = record
        .tags
        .iter()
        .map(|tag| LinkView {
            label: tag.clone(),
            href: view.with_filter("tag", tag),
        })
        .collect();
    Row {
        href: entity_path(&record.entity_ref),
        label: record.title.clone().unwrap_or_else(|| record.name.clone()),
        kind: record.kind,
        entity_type: record.entity_type,
        owner,
        system,
        lifecycle_class: match record.lifecycle.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("production") => "production",
            Some("active") => "active",
            Some("experimental") => "experimental",
            Some("deprecated") => "deprecated",
            _ => "",
        },
        lifecycle: record.lifecycle,
        tier: record.tier,
        tags,
        stale_reason: record.provenance.stale_reason,
        entity_ref: record.entity_ref,
    }
}

/// `GET /catalog?kind=..&owner=..&sort=name&order=desc&first=50&after=..`.
pub async fn page(State(dashboard): State<Dashboard>, RawQuery(query): RawQuery) -> PageResult {
    let params = Params::parse(query.as_deref());
    let mut notes = Vec::new();
    let view = CatalogView::from_params(&params, &mut notes)?;
    let filter = view.query()?;
    if view.values_of("problem").len() > 1 {
        notes.push("Several problems are asked for: the table shows the entities that have all of them.".to_owned());
    }

    let snapshot = dashboard.store().snapshot();
    let limit = usize::try_from(view.first).unwrap_or(DEFAULT_PAGE_SIZE as usize);
    let mut records = entities_page(&snapshot, &filter, view.order, view.after.as_ref(), limit + 1).await?;
    let has_next = records.len() > limit;
    records.truncate(limit);
    let total = count_entities(&snapshot, &filter).await?;
    let owners = resolved_owners(&snapshot, &records).await?;

    let next_href = has_next.then(|| records.last()).flatten().map(|last| {
        let position = SortPosition {
            key: view.order.field.key_of(last),
            entity_ref: last.entity_ref.clone(),
        };
        view.link(None, view.order, Some(&position))
    });
    let rows: Vec<Row> = records.into_iter().map(|record| row(&view, record, &owners)).collect();

    let given = |parameter: &str| view.values_of(parameter);
    let kinds_given: Vec<String> = given("kind").iter().map(|kind| kind.to_lowercase()).collect();
    let tiers_given = given("tier");
    let problems_given: Vec<String> = given("problem").iter().map(|problem| problem.to_ascii_lowercase()).collect();
    let text_filter = |name: &'static str, label: &'static str, placeholder: &'static str| TextFilter {
        name,
        label,
        placeholder,
        values: {
            let values = given(name);
            if values.is_empty() { vec![String::new()] } else { values }
        },
    };
    let mut hidden = Vec::new();
    if view.order.field != SortField::Ref {
        hidden.push(("sort", sort_field_name(view.order.field).to_owned()));
    }
    if view.order.descending {
        hidden.push(("order", "desc".to_owned()));
    }
    if view.first != DEFAULT_PAGE_SIZE {
        hidden.push(("first", view.first.to_string()));
    }
    let active = view
        .filters
        .iter()
        .enumerate()
        .map(|(index, (parameter, value))| {
            let rest: Vec<(&str, String)> = view
                .filters
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(_, (given, existing))| (*given, existing.clone()))
                .collect();
            ActiveFilter {
                label: format!("{parameter}: {value}"),
                remove_href: view.link(Some(&rest), view.order, None),
            }
        })
        .collect();
    render(&CatalogPage {
        chrome: Chrome::new("Catalog", "catalog"),
        rows,
        total,
        sort_links: [SortField::Title, SortField::Name, SortField::Ref]
            .into_iter()
            .map(|field| view.sort_link(field))
            .collect(),
        kinds: KINDS
            .iter()
            .map(|kind| Choice {
                value: kind,
                label: kind,
                checked: kinds_given.iter().any(|given| given == kind),
            })
            .collect(),
        tiers: [("1", "1"), ("2", "2"), ("3", "3"), ("4", "4")]
            .into_iter()
            .map(|(value, label)| Choice {
                value,
                label,
                checked: tiers_given.iter().any(|given| given == value),
            })
            .collect(),
        problems: PROBLEMS
            .iter()
            .map(|(value, label)| Choice {
                value,
                label,
                checked: problems_given.iter().any(|given| given == value),
            })
            .collect(),
        text_filters: vec![
            text_filter("type", "Type", "service"),
            text_filter("owner", "Owner", "team-a or group:ns/team"),
            text_filter("lifecycle", "Lifecycle", "production"),
            text_filter("tag", "Tag", "java"),
            text_filter("system", "System", "payments"),
            text_filter("domain", "Domain", "commerce"),
            text_filter("repo", "Repository", "URL as configured"),
        ],
        subgroups: view.subgroups,
        hidden,
        active,
        clear_href: view.link(Some(&[]), view.order, None),
        first_page_href: view.after.is_some().then(|| view.first_page()),
        next_href,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view_of(raw: &str) -> Result<CatalogView, PageError> {
        CatalogView::from_params(&Params::parse(Some(raw)), &mut Vec::new())
    }

    #[test]
    fn short_refs_drop_the_default_namespace_only() {
        assert_eq!(short_ref("group:default/team-a"), "team-a");
        assert_eq!(short_ref("group:ops/team-a"), "ops/team-a");
        assert_eq!(short_ref("team-a"), "team-a");
        assert_eq!(short_ref("ari:cloud:compass::team/1"), "ari:cloud:compass::team/1");
    }

    #[test]
    fn parameters_become_the_store_query() {
        let view = view_of("kind=Component&kind=api&owner=team-a&owner=user:jane&tier=1&problem=stale&problem=orphan&tag=java").unwrap();
        let query = view.query().unwrap();
        assert_eq!(query.kinds, ["component", "api"]);
        assert_eq!(query.owners, ["group:default/team-a", "user:default/jane"]);
        assert_eq!(query.tiers, [1]);
        assert_eq!(query.tags, ["java"]);
        assert_eq!((query.stale, query.orphan, query.dangling), (Some(true), Some(true), None));
    }

    #[test]
    fn bad_parameters_are_refused_with_a_reason() {
        for raw in [
            "sort=owner",
            "order=sideways",
            "tier=7",
            "tier=x",
            "problem=ugly",
            "owner=group:",
            "kind=a%00b",
            "sort=title&after=component:default/a",
        ] {
            let refused = view_of(raw).and_then(|view| view.query().map(|_| view));
            match refused {
                Err(PageError::BadRequest(message)) => assert!(!message.is_empty()),
                other => panic!("{raw}: {other:?}"),
            }
        }
        let mut notes = Vec::new();
        let view = CatalogView::from_params(&Params::parse(Some("first=5000")), &mut notes).unwrap();
        assert_eq!(view.first, DEFAULT_PAGE_SIZE);
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn links_keep_the_view_and_the_cursor_follows_the_order() {
        let view = view_of("owner=team-a&kind=api&sort=title&order=desc&first=10").unwrap();
        let position = SortPosition {
            key: "Payments & Co".to_owned(),
            entity_ref: "api:default/pay".to_owned(),
        };
        assert_eq!(
            view.link(None, view.order, Some(&position)),
            "/catalog?kind=api&owner=team-a&sort=title&order=desc&first=10&after=api%3Adefault%2Fpay&after_key=Payments+%26+Co"
        );
        let next =
            view_of("owner=team-a&kind=api&sort=title&order=desc&first=10&after=api%3Adefault%2Fpay&after_key=Payments+%26+Co").unwrap();
        assert_eq!(next.after, Some(position));
        // The current order's header link turns it around; another field starts ascending.
        let title = view.sort_link(SortField::Title);
        assert_eq!(title.current, "descending");
        assert_eq!(title.href, "/catalog?kind=api&owner=team-a&sort=title&first=10");
        assert_eq!(view.sort_link(SortField::Ref).href, "/catalog?kind=api&owner=team-a&first=10");
        assert_eq!(
            view.with_filter("tag", "java"),
            "/catalog?kind=api&owner=team-a&tag=java&sort=title&order=desc&first=10"
        );
    }
}
