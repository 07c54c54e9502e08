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
use crate::store::read::{self, EntityProblems, EntityRecord};

/// Owned entities listed on the page (the catalog, filtered by owner, lists them all).
const OWNED_SHOWN: usize = 100;
/// Members and sub-teams listed.
const MEMBERS_SHOWN: usize = 100;
/// Entities listed under each problem.
const PROBLEM_EXAMPLES: usize = 10;
/// Systems of the team looked at for orphans and coverage.
const SYSTEMS_READ: usize = 50;
/// Owned entities whose problems are counted (a larger team's counts say they are partial; the
/// catalog's filtered lists count them all).
const PROBLEMS_SCAN: usize = 5_000;
/// Entities of the team's systems looked at for orphans and coverage.
const MEMBERS_SCAN: usize = 5_000;

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
    /// Whether the team owns more than [`PROBLEMS_SCAN`] entities (the counts cover the first ones).
    problems_partial: bool,
    problems_scanned: usize,
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
    count: usize,
    examples: Vec<RefLink>,
    catalog_href: String,
}

/// How many of the components of the team's systems have an owner that resolves.
struct CoverageView {
    systems: Capped<RefLink>,
    components: usize,
    owned: usize,
    /// Whole percent (0 to 100); 100 when there are no components.
    percent: usize,
    orphans_href: String,
    /// Whether the systems have more than [`MEMBERS_SCAN`] entities (the first ones are counted).
    partial: bool,
}

/// The team page of a Group already read by the entity page.
pub(super) async fn page(snapshot: &Snapshot, loaded: Loaded, params: &Params) -> PageResult {
    let team_ref = loaded.record.entity_ref.clone();
    let with_subteams = params.get("subteams") == Some("1");
    let (owned, owned_ids) = owned(snapshot, &loaded, params, with_subteams).await?;
    // The problems of what it owns, and the members of the systems it owns, each read in one
    // statement over ids (index lookups per entity, whatever the size of the catalog).
    let scanned = &owned_ids[..owned_ids.len().min(PROBLEMS_SCAN)];
    let problems_of_owned = if scanned.is_empty() {
        Vec::new()
    } else {
        read::problems_of(snapshot, scanned).await?
    };
    let system_refs: Vec<String> = problems_of_owned
        .iter()
        .filter(|entity| entity.kind == "system")
        .map(|entity| entity.entity_ref.clone())
        .collect();
    let systems_shown = &system_refs[..system_refs.len().min(SYSTEMS_READ)];
    let members = if systems_shown.is_empty() {
        Vec::new()
    } else {
        read::problems_in_systems(snapshot, systems_shown, MEMBERS_SCAN).await?
    };
    let owner_filter = |problem: &str| {
        let mut pairs = vec![("owner", team_ref.as_str())];
        if with_subteams {
            pairs.push(("subgroups", "1"));
        }
        pairs.push(("problem", problem));
        format!("/catalog{}", encode(&pairs))
    };
    let systems_filter = |extra: &[(&str, &str)]| {
        let mut pairs: Vec<(&str, &str)> = systems_shown.iter().map(|system| ("system", system.as_str())).collect();
        pairs.extend_from_slice(extra);
        format!("/catalog{}", encode(&pairs))
    };
    let mut problems = vec![
        ProblemView::of(
            "diagnostics",
            "Entities whose descriptor file has diagnostics",
            problems_of_owned.iter().filter(|entity| entity.has_diagnostics),
            owner_filter("diagnostics"),
        ),
        ProblemView::of(
            "dangling",
            "Entities with dangling references",
            problems_of_owned.iter().filter(|entity| entity.dangling),
            owner_filter("dangling"),
        ),
    ];
    if !systems_shown.is_empty() {
        problems.push(ProblemView::of(
            "orphan",
            "Orphans in its systems (no owner in the catalog)",
            members.iter().filter(|entity| entity.orphan),
            systems_filter(&[("problem", "orphan")]),
        ));
    }
    let components: Vec<&EntityProblems> = members.iter().filter(|entity| entity.kind == "component").collect();
    let components_owned = components.iter().filter(|entity| !entity.orphan).count();
    let coverage = CoverageView {
        systems: Capped::of(system_refs.iter().map(|system| RefLink::canonical(system)), SYSTEMS_READ),
        components: components.len(),
        owned: components_owned,
        percent: if components.is_empty() {
            100
        } else {
            components_owned * 100 / components.len()
        },
        orphans_href: systems_filter(&[("kind", "component"), ("problem", "orphan")]),
        partial: members.len() >= MEMBERS_SCAN,
    };
    let members_of_team: Vec<RefLink> = loaded
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
        members: Capped::of(members_of_team.into_iter(), MEMBERS_SHOWN).and(loaded.unread(RelationType::HasMember)),
        parents: parents.into_iter().take(MEMBERS_SHOWN).collect(),
        subteams: Capped::of(subteams.into_iter(), MEMBERS_SHOWN).and(loaded.unread(RelationType::ParentOf)),
        problems_partial: owned_ids.len() > PROBLEMS_SCAN,
        problems_scanned: scanned.len(),
        owned,
        problems,
        coverage,
    })
}

impl ProblemView {
    fn of<'a>(
        id: &'static str,
        label: &'static str,
        entities: impl Iterator<Item = &'a EntityProblems>,
        catalog_href: String,
    ) -> ProblemView {
        let mut count = 0;
        let mut examples = Vec::new();
        for entity in entities {
            count += 1;
            if examples.len() < PROBLEM_EXAMPLES {
                examples.push(RefLink::canonical(&entity.entity_ref));
            }
        }
        ProblemView {
            id,
            label,
            count,
            examples,
            catalog_href,
        }
    }
}

/// What the team owns, directly or with its sub-teams: every id in one statement, the first
/// [`OWNED_SHOWN`] entities in a second.
async fn owned(snapshot: &Snapshot, loaded: &Loaded, params: &Params, with_subteams: bool) -> Result<(OwnedView, Vec<i64>), PageError> {
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
        catalog.push(("subgroups", "1"));
    }
    let view = OwnedView {
        with_subteams,
        direct_href: format!("{}{}", loaded_path(loaded), params.with("subteams", None)),
        with_subteams_href: format!("{}{}", loaded_path(loaded), params.with("subteams", Some("1"))),
        total: ids.len(),
        more: ids.len().saturating_sub(OWNED_SHOWN),
        rows,
        catalog_href: format!("/catalog{}", encode(&catalog)),
    };
    Ok((view, ids))
}

fn loaded_path(loaded: &Loaded) -> String {
    super::links::entity_path(&loaded.record.entity_ref)
}
