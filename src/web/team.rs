//! The team (Group) page: members, parent and sub-teams, what the team owns, its problems and coverage.
//!
//! It is a Group's entity page: the header, facts, provenance, diagnostics and relations come
//! from `super::entity`; this file adds the team's own sections. What the team owns (directly,
//! or with its sub-teams at any depth: `?subteams=1`) is read as ids in one statement and only
//! the first page of entities is loaded; the problems and coverage are counts over the same
//! filters the catalog page uses, so each count links to the catalog list it counts.

use askama::Template;

use super::entity::{Capped, EntityFacts, Loaded, RefLink, RelationGroup, kind_class, lifecycle_class};
use super::query::{Params, encode};
use super::{Chrome, PageError, PageResult, render};
use crate::domain::RelationType;
use crate::store::Snapshot;
use crate::store::read::{self, EntityQuery, EntityRecord, SortOrder};

/// Owned entities listed on the page (the catalog, filtered by owner, lists them all).
const OWNED_SHOWN: usize = 100;
/// Members and sub-teams listed.
const MEMBERS_SHOWN: usize = 100;
/// Entities listed under each problem.
const PROBLEM_EXAMPLES: usize = 10;
/// Systems of the team looked at for orphans and coverage.
const SYSTEMS_READ: usize = 50;

/// The team page.
#[derive(Template)]
#[template(path = "team.html")]
struct TeamPage {
    chrome: Chrome,
    facts: EntityFacts,
    relations: Vec<RelationGroup>,
    members: Capped<RefLink>,
    parents: Vec<RefLink>,
    subteams: Capped<RefLink>,
    owned: OwnedView,
    problems: Vec<ProblemView>,
    coverage: CoverageView,
}

/// What the team owns.
struct OwnedView {
    with_subteams: bool,
    /// The page owned directly, and with sub-teams.
    direct_href: String,
    with_subteams_href: String,
    rows: Vec<OwnedRow>,
    total: usize,
    more: usize,
    /// The catalog filtered by this owner (with sub-teams when they are included).
    catalog_href: String,
}

struct OwnedRow {
    entity: RefLink,
    name: String,
    kind: String,
    kind_class: &'static str,
    entity_type: Option<String>,
    lifecycle: Option<String>,
    lifecycle_class: &'static str,
    /// The owner as written (shown when sub-teams are included: which team owns it).
    owner_ref: Option<String>,
    stale: bool,
}

/// One of the team's problems: how many, a few examples, and the catalog list of them all.
struct ProblemView {
    /// `diagnostics`, `dangling`, `orphan`.
    id: &'static str,
    label: &'static str,
    count: i64,
    examples: Vec<RefLink>,
    catalog_href: String,
}

/// How many of the components of the team's systems have an owner that resolves.
struct CoverageView {
    systems: Capped<RefLink>,
    components: i64,
    owned: i64,
    /// Whole percent (0 to 100); 100 when there are no components.
    percent: i64,
    orphans_href: String,
}

/// The team page of a Group already read by the entity page.
pub(super) async fn page(snapshot: &Snapshot, loaded: Loaded, params: &Params) -> PageResult {
    let team_ref = loaded.record.entity_ref.clone();
    let with_subteams = params.get("subteams") == Some("1");
    let owned = owned(snapshot, &loaded, params, with_subteams).await?;
    let base = EntityQuery {
        owners: vec![team_ref.clone()],
        include_subgroups: with_subteams,
        ..EntityQuery::default()
    };
    let systems = read::entities_page(
        snapshot,
        &EntityQuery {
            kinds: vec!["system".to_owned()],
            ..base.clone()
        },
        SortOrder::default(),
        None,
        SYSTEMS_READ + 1,
    )
    .await?;
    let system_refs: Vec<String> = systems.iter().take(SYSTEMS_READ).map(|system| system.entity_ref.clone()).collect();
    let owner_filter = |problem: &str| {
        let mut pairs = vec![("owner", team_ref.as_str())];
        if with_subteams {
            pairs.push(("subteams", "1"));
        }
        pairs.push(("problem", problem));
        format!("/catalog{}", encode(&pairs))
    };
    let systems_filter = |extra: &[(&str, &str)]| {
        let mut pairs: Vec<(&str, &str)> = system_refs.iter().map(|system| ("system", system.as_str())).collect();
        pairs.extend_from_slice(extra);
        format!("/catalog{}", encode(&pairs))
    };
    let mut problems = vec![
        problem(
            snapshot,
            "diagnostics",
            "Entities whose descriptor file has diagnostics",
            EntityQuery {
                has_diagnostics: Some(true),
                ..base.clone()
            },
            owner_filter("diagnostics"),
        )
        .await?,
        problem(
            snapshot,
            "dangling",
            "Entities with dangling references",
            EntityQuery {
                dangling: Some(true),
                ..base.clone()
            },
            owner_filter("dangling"),
        )
        .await?,
    ];
    let coverage = if system_refs.is_empty() {
        CoverageView {
            systems: Capped {
                items: Vec::new(),
                more: 0,
            },
            components: 0,
            owned: 0,
            percent: 100,
            orphans_href: String::new(),
        }
    } else {
        problems.push(
            problem(
                snapshot,
                "orphan",
                "Orphans in its systems (no owner in the catalog)",
                EntityQuery {
                    systems: system_refs.clone(),
                    orphan: Some(true),
                    ..EntityQuery::default()
                },
                systems_filter(&[("problem", "orphan")]),
            )
            .await?,
        );
        let components = EntityQuery {
            kinds: vec!["component".to_owned()],
            systems: system_refs.clone(),
            ..EntityQuery::default()
        };
        let total = read::count_entities(snapshot, &components).await?;
        let orphans = read::count_entities(
            snapshot,
            &EntityQuery {
                orphan: Some(true),
                ..components
            },
        )
        .await?;
        let owned = total - orphans;
        CoverageView {
            systems: Capped {
                items: systems.iter().take(SYSTEMS_READ).map(RefLink::to).collect(),
                more: usize::from(systems.len() > SYSTEMS_READ),
            },
            components: total,
            owned,
            percent: if total == 0 { 100 } else { owned * 100 / total },
            orphans_href: systems_filter(&[("kind", "component"), ("problem", "orphan")]),
        }
    };
    let members: Vec<RefLink> = loaded
        .related_by(RelationType::HasMember)
        .into_iter()
        .map(|(written, id)| loaded.link(id, &written))
        .collect();
    let parents: Vec<RefLink> = loaded
        .related_by(RelationType::ChildOf)
        .into_iter()
        .map(|(written, id)| loaded.link(id, &written))
        .collect();
    let subteams: Vec<RefLink> = loaded
        .related_by(RelationType::ParentOf)
        .into_iter()
        .map(|(written, id)| loaded.link(id, &written))
        .collect();
    let facts = loaded.facts();
    render(&TeamPage {
        chrome: Chrome::new(facts.heading.clone(), "catalog"),
        relations: loaded.relation_groups(),
        facts,
        members: Capped::of(members.into_iter(), MEMBERS_SHOWN),
        parents: parents.into_iter().take(MEMBERS_SHOWN).collect(),
        subteams: Capped::of(subteams.into_iter(), MEMBERS_SHOWN),
        owned,
        problems,
        coverage,
    })
}

/// What the team owns, directly or with its sub-teams: every id in one statement, the first
/// [`OWNED_SHOWN`] entities in a second.
async fn owned(snapshot: &Snapshot, loaded: &Loaded, params: &Params, with_subteams: bool) -> Result<OwnedView, PageError> {
    let team_ref = &loaded.record.entity_ref;
    let pairs = read::owned_entity_ids(snapshot, &[loaded.record.id], with_subteams).await?;
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<i64> = pairs.into_iter().map(|(_, id)| id).filter(|id| seen.insert(*id)).collect();
    let shown = &ids[..ids.len().min(OWNED_SHOWN)];
    let records = if shown.is_empty() {
        Vec::new()
    } else {
        read::entities_by_ids(snapshot, shown).await?
    };
    let mut by_id: std::collections::HashMap<i64, EntityRecord> = records.into_iter().map(|record| (record.id, record)).collect();
    let rows = shown
        .iter()
        .filter_map(|id| by_id.remove(id))
        .map(|record| OwnedRow {
            entity: RefLink::to(&record),
            name: record
                .title
                .clone()
                .filter(|title| !title.trim().is_empty())
                .unwrap_or_else(|| record.name.clone()),
            kind_class: kind_class(&record.kind),
            kind: record.kind,
            lifecycle_class: lifecycle_class(record.lifecycle.as_deref()),
            lifecycle: record.lifecycle,
            entity_type: record.entity_type,
            owner_ref: record.owner_ref,
            stale: record.provenance.stale_reason.is_some(),
        })
        .collect();
    let mut catalog = vec![("owner", team_ref.as_str())];
    if with_subteams {
        catalog.push(("subteams", "1"));
    }
    Ok(OwnedView {
        with_subteams,
        direct_href: format!("{}{}", loaded_path(loaded), params.with("subteams", None)),
        with_subteams_href: format!("{}{}", loaded_path(loaded), params.with("subteams", Some("1"))),
        total: ids.len(),
        more: ids.len().saturating_sub(OWNED_SHOWN),
        rows,
        catalog_href: format!("/catalog{}", encode(&catalog)),
    })
}

fn loaded_path(loaded: &Loaded) -> String {
    super::links::entity_path(&loaded.record.entity_ref)
}

/// A problem's count and, when there are any, its first few entities.
async fn problem(
    snapshot: &Snapshot,
    id: &'static str,
    label: &'static str,
    filter: EntityQuery,
    catalog_href: String,
) -> Result<ProblemView, PageError> {
    let count = read::count_entities(snapshot, &filter).await?;
    let examples = if count > 0 {
        read::entities_page(snapshot, &filter, SortOrder::default(), None, PROBLEM_EXAMPLES)
            .await?
            .iter()
            .map(RefLink::to)
            .collect()
    } else {
        Vec::new()
    };
    Ok(ProblemView {
        id,
        label,
        count,
        examples,
        catalog_href,
    })
}
