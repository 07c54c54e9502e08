//! The entity page: what the entity is, who owns it, its relations both ways, and what breaks if it goes down.
//!
//! One request reads one snapshot with a fixed number of batched statements whatever the entity:
//! the entity (by reference, else by alias), its declared and incoming relations, the entities
//! at the other end of the relations shown (one lookup by ids), its file's diagnostics, the
//! impact walk and the graph picture. Every list is capped and says how many more there are,
//! so a hub's page stays small. A Group's page is the team page (`super::team`), which shares
//! the header, facts, provenance and relations built here.

use std::collections::{BTreeMap, HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect};

use super::graph::{GraphOptions, GraphPicture, picture};
use super::links::{entity_path, kind_of, repo_file_url, safe_href};
use super::query::Params;
use super::{Chrome, Dashboard, PageError, PageResult, render};
use crate::domain::RelationType;
use crate::ingest::snippet::{self, Marked};
use crate::store::Snapshot;
use crate::store::read::{self, DeclaredRelation, DiagnosticRecord, EntityRecord, IncomingRelation};

/// Entities shown per relation type (the rest are counted).
const RELATIONS_SHOWN: usize = 40;
/// Entities shown over all relation types.
const RELATIONS_TOTAL: usize = 120;
/// Relations declared towards the entity read per type (a team's members and sub-teams are
/// listed up to this many; the rest are counted).
const INCOMING_READ: usize = 100;
/// Dependents shown in the impact list.
const IMPACT_SHOWN: usize = 100;
/// Dependents the impact walk may reach (so that "N more" is exact up to this many).
const IMPACT_WALK: usize = IMPACT_SHOWN + 1;
/// How far the impact walk goes.
const IMPACT_DEPTH: u32 = 10;
/// Diagnostics shown.
const DIAGNOSTICS_SHOWN: usize = 50;
/// Tags, links, labels, annotations and aliases shown, each.
const FACTS_SHOWN: usize = 40;
/// Characters of a description shown.
const DESCRIPTION_CHARS: usize = 4_000;
/// Characters of a label or annotation value shown.
const VALUE_CHARS: usize = 200;

pub async fn page(
    State(dashboard): State<Dashboard>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let snapshot = dashboard.store().snapshot();
    let params = Params::parse(query.as_deref());
    let wanted = format!(
        "{}:{}/{}",
        kind.to_ascii_lowercase(),
        namespace.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    );
    let record = match find(&snapshot, &wanted, &name).await? {
        Found::Entity(record) => record,
        Found::Alias(record) => return Ok(Redirect::to(&entity_path(&record.entity_ref)).into_response()),
        Found::Nothing => {
            return Err(PageError::NotFound(format!(
                "There is no entity `{wanted}` in the catalog, and none answers to `{name}` as an alias. \
                 It may have been renamed or removed; try the search box or the catalog."
            )));
        }
    };
    let loaded = Loaded::read(&snapshot, record).await?;
    if loaded.record.kind == "group" {
        return super::team::page(&snapshot, loaded, &params).await;
    }
    let impact = impact(&snapshot, &loaded).await?;
    let graph = picture(
        &snapshot,
        loaded.record.id,
        &loaded.record.entity_ref,
        &GraphOptions::entity_page_default(),
    )
    .await?;
    let facts = loaded.facts();
    render(&EntityPage {
        chrome: Chrome::new(facts.heading.clone(), "catalog"),
        relations: loaded.relation_groups(),
        facts,
        impact,
        picture: graph,
    })
}

/// The entity page.
#[derive(Template)]
#[template(path = "entity.html")]
struct EntityPage {
    chrome: Chrome,
    facts: EntityFacts,
    relations: Vec<RelationGroup>,
    impact: ImpactView,
    picture: GraphPicture,
}

/// What the path names.
enum Found {
    Entity(EntityRecord),
    /// An entity that answers to the name as an alias (the page redirects to its own address).
    Alias(EntityRecord),
    Nothing,
}

/// The entity with the canonical reference `wanted`, else one answering to the name (as
/// written) or the reference as an alias.
async fn find(snapshot: &Snapshot, wanted: &str, name: &str) -> Result<Found, PageError> {
    if let Some(record) = read::entities_by_refs(snapshot, &[wanted.to_owned()]).await?.into_iter().next() {
        return Ok(Found::Entity(record));
    }
    let mut aliases = vec![name.to_owned(), wanted.to_owned()];
    aliases.dedup();
    let found = read::entities_by_aliases(snapshot, &aliases).await?;
    // The name as written first, then the reference.
    let record = aliases
        .iter()
        .find_map(|alias| found.iter().find(|(matched, _)| matched == alias).map(|(_, record)| record.clone()));
    Ok(record.map_or(Found::Nothing, Found::Alias))
}

/// An entity and what its page needs around it, read in a few batched statements.
pub(super) struct Loaded {
    pub record: EntityRecord,
    /// The relations it declares.
    pub declared: Vec<DeclaredRelation>,
    /// The relations others declare towards it: up to [`INCOMING_READ`] of each type.
    pub incoming: Vec<IncomingRelation>,
    /// How many relations of each type (as declared) others declare towards it.
    pub incoming_totals: HashMap<String, usize>,
    /// The entities at the other end of the relations shown (and owner, system, domain), by id.
    pub related: HashMap<i64, EntityRecord>,
    /// The domain of its system, when it has no domain of its own (canonical reference, and
    /// whether it is in the catalog).
    pub system_domain: Option<(String, bool)>,
    pub diagnostics: Vec<DiagnosticRecord>,
}

/// Relation types a team page lists the other ends of (their titles are read too).
const TEAM_RELATIONS: [RelationType; 4] = [
    RelationType::HasMember,
    RelationType::MemberOf,
    RelationType::ChildOf,
    RelationType::ParentOf,
];

impl Loaded {
    pub async fn read(snapshot: &Snapshot, record: EntityRecord) -> Result<Loaded, PageError> {
        let declared = read::relations_from(snapshot, &[record.id]).await?;
        let (incoming, incoming_totals) = read::relations_to_first(snapshot, record.id, INCOMING_READ).await?;
        let incoming_totals = incoming_totals
            .into_iter()
            .map(|(relation_type, total)| (relation_type, usize::try_from(total).unwrap_or_default()))
            .collect();
        let diagnostics = read::diagnostics_of_files(snapshot, &[(record.provenance.repo_id, record.provenance.path.clone())]).await?;
        let mut loaded = Loaded {
            record,
            declared,
            incoming,
            incoming_totals,
            related: HashMap::new(),
            system_domain: None,
            diagnostics,
        };
        let ids = loaded.ids_to_look_up();
        if !ids.is_empty() {
            loaded.related = read::entities_by_ids(snapshot, &ids)
                .await?
                .into_iter()
                .map(|record| (record.id, record))
                .collect();
        }
        if loaded.record.domain_ref.is_none()
            && let Some(system) = loaded.system().and_then(|(_, id)| id).and_then(|id| loaded.related.get(&id))
            && let Some(domain) = &system.domain_ref
        {
            let domain = domain.to_ascii_lowercase();
            let exists = !read::entities_by_refs(snapshot, std::slice::from_ref(&domain)).await?.is_empty();
            loaded.system_domain = Some((domain, exists));
        }
        Ok(loaded)
    }

    /// The ids whose entities the page shows: the owner, system and domain first, then the
    /// shown targets of each declared relation type, then (for teams) the other ends of the
    /// team relations declared towards it. Each once.
    fn ids_to_look_up(&self) -> Vec<i64> {
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        let mut push = |id: i64| {
            if seen.insert(id) {
                ids.push(id);
            }
        };
        for relation in &self.declared {
            if matches!(relation.relation_type.as_str(), "ownedBy" | "partOf")
                && let Some(id) = relation.target_id
            {
                push(id);
            }
        }
        let mut per_type: HashMap<&str, usize> = HashMap::new();
        for relation in &self.declared {
            let shown = per_type.entry(relation.relation_type.as_str()).or_default();
            if *shown < RELATIONS_SHOWN
                && let Some(id) = relation.target_id
            {
                *shown += 1;
                push(id);
            }
        }
        if self.record.kind == "group" {
            let mut per_type: HashMap<&str, usize> = HashMap::new();
            for relation in &self.incoming {
                let team_relation = TEAM_RELATIONS.iter().any(|wanted| wanted.as_str() == relation.relation_type);
                let shown = per_type.entry(relation.relation_type.as_str()).or_default();
                if team_relation && *shown < RELATIONS_SHOWN {
                    *shown += 1;
                    push(relation.source_id);
                }
            }
        }
        ids
    }

    /// A link to a related entity: by id when it resolves (its canonical reference), else the
    /// reference as written, dangling.
    pub fn link(&self, id: Option<i64>, written: &str) -> RefLink {
        match id.and_then(|id| self.related.get(&id)) {
            Some(record) => RefLink::to(record),
            None if id.is_some() => RefLink::canonical(written),
            None => RefLink::dangling(written),
        }
    }

    /// The other ends of relations of `relation_type` seen from this entity (declared, then
    /// declared towards it with the inverse type), each once: (reference as shown, id if resolved).
    pub fn related_by(&self, relation_type: RelationType) -> Vec<(String, Option<i64>)> {
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for relation in self
            .declared
            .iter()
            .filter(|relation| relation.relation_type == relation_type.as_str())
        {
            if relation.target_id.is_none_or(|id| seen.insert(id)) {
                found.push((relation.target_ref.clone(), relation.target_id));
            }
        }
        let inverse = relation_type.inverse();
        for relation in self.incoming.iter().filter(|relation| relation.relation_type == inverse.as_str()) {
            if seen.insert(relation.source_id) {
                found.push((relation.source_ref.clone(), Some(relation.source_id)));
            }
        }
        found
    }

    /// How many relations of `relation_type` seen from this entity (declared towards it with
    /// the inverse type) were not read.
    pub fn unread(&self, relation_type: RelationType) -> usize {
        let inverse = relation_type.inverse().as_str();
        let read = self.incoming.iter().filter(|relation| relation.relation_type == inverse).count();
        self.incoming_totals.get(inverse).map_or(0, |total| total.saturating_sub(read))
    }

    /// The owner: (link, resolved). A declared owner that does not resolve is shown dangling.
    fn owner(&self) -> Option<RefLink> {
        let resolved = self.related_by(RelationType::OwnedBy).into_iter().find(|(_, id)| id.is_some());
        match (resolved, &self.record.owner_ref) {
            (Some((written, id)), _) => Some(self.link(id, &written)),
            (None, Some(written)) => Some(RefLink::dangling(written)),
            (None, None) => None,
        }
    }

    /// The system as written and its id when it resolves (a `partOf` target of kind system).
    fn system(&self) -> Option<(String, Option<i64>)> {
        let written = self.record.system_ref.as_ref()?;
        Some((written.clone(), self.part_of(written, "system")))
    }

    /// The id of the resolved `partOf` target that is `written` (or, failing that, of `kind`).
    fn part_of(&self, written: &str, kind: &str) -> Option<i64> {
        let wanted = written.to_ascii_lowercase();
        let targets: Vec<&EntityRecord> = self
            .declared
            .iter()
            .filter(|relation| relation.relation_type == RelationType::PartOf.as_str())
            .filter_map(|relation| relation.target_id.and_then(|id| self.related.get(&id)))
            .collect();
        targets
            .iter()
            .find(|record| record.entity_ref == wanted)
            .or_else(|| targets.iter().find(|record| record.kind == kind))
            .map(|record| record.id)
    }

    /// The header and facts of the page.
    pub fn facts(&self) -> EntityFacts {
        let record = &self.record;
        let system = self.system().map(|(written, id)| self.link(id, &written));
        let (domain, domain_via_system) = match &record.domain_ref {
            Some(written) => (Some(self.link(self.part_of(written, "domain"), written)), false),
            None => match &self.system_domain {
                Some((domain, true)) => (Some(RefLink::canonical(domain)), true),
                Some((domain, false)) => (Some(RefLink::dangling(domain)), true),
                None => (None, false),
            },
        };
        let provenance = &record.provenance;
        let shown_diagnostics = self.diagnostics.iter().take(DIAGNOSTICS_SHOWN);
        let heading = record
            .title
            .clone()
            .filter(|title| !title.trim().is_empty())
            .or_else(|| record.display_name.clone())
            .unwrap_or_else(|| record.name.clone());
        EntityFacts {
            entity_ref: record.entity_ref.clone(),
            heading: heading.clone(),
            display_name: record.display_name.clone().filter(|display_name| *display_name != heading),
            email: record.email.as_deref().map(EmailView::of),
            name: record.name.clone(),
            kind: record.kind.clone(),
            kind_class: kind_class(&record.kind),
            entity_type: record.entity_type.clone(),
            lifecycle: record.lifecycle.clone(),
            lifecycle_class: lifecycle_class(record.lifecycle.as_deref()),
            tier: record.tier,
            description: record.description.as_deref().map(|text| shortened(text, DESCRIPTION_CHARS)),
            owner: self.owner(),
            owner_expected: !matches!(record.kind.as_str(), "group" | "user" | "location"),
            system,
            domain,
            domain_via_system,
            tags: Capped::of(record.tags.iter().cloned(), FACTS_SHOWN),
            links: Capped::of(record.links.iter().map(LinkView::of), FACTS_SHOWN),
            labels: Capped::of(
                record
                    .labels
                    .iter()
                    .map(|(key, value)| (key.clone(), shortened(value, VALUE_CHARS))),
                FACTS_SHOWN,
            ),
            annotations: Capped::of(
                record
                    .annotations
                    .iter()
                    .map(|(key, value)| (key.clone(), shortened(value, VALUE_CHARS))),
                FACTS_SHOWN,
            ),
            aliases: Capped::of(record.aliases.iter().cloned(), FACTS_SHOWN),
            graph_href: format!("{}/graph", entity_path(&record.entity_ref)),
            provenance: ProvenanceView {
                repo_id: provenance.repo_id,
                repo_url: provenance.repo_url.clone(),
                branch: provenance.branch.clone(),
                path: provenance.path.clone(),
                file_href: repo_file_url(
                    &provenance.repo_url,
                    provenance.branch.as_deref(),
                    Some(provenance.commit.as_str()),
                    &provenance.path,
                    Some(provenance.line),
                ),
                line: provenance.line,
                document_index: provenance.document_index,
                short_commit: provenance.commit.chars().take(12).collect(),
                commit: provenance.commit.clone(),
                format: provenance.format.clone(),
                last_crawled: provenance.last_crawled.clone(),
                stale_reason: provenance.stale_reason.clone(),
            },
            diagnostics: shown_diagnostics.map(DiagnosticView::of).collect(),
            diagnostics_more: self.diagnostics.len().saturating_sub(DIAGNOSTICS_SHOWN),
        }
    }

    /// Its relations grouped by type as seen from this entity (declared ones with their type,
    /// those declared towards it with the inverse type), by type; each group lists what it
    /// declares first, then what others declare, each other end once.
    pub fn relation_groups(&self) -> Vec<RelationGroup> {
        struct Gathered {
            items: Vec<RelationItem>,
            ids: HashSet<i64>,
            total: usize,
        }
        let mut groups: BTreeMap<String, Gathered> = BTreeMap::new();
        let mut gather = |relation_type: String, id: Option<i64>, item: &dyn Fn() -> RelationItem| {
            let group = groups.entry(relation_type).or_insert_with(|| Gathered {
                items: Vec::new(),
                ids: HashSet::new(),
                total: 0,
            });
            if let Some(id) = id
                && !group.ids.insert(id)
            {
                return;
            }
            group.total += 1;
            if group.items.len() < RELATIONS_SHOWN {
                group.items.push(item());
            }
        };
        for relation in &self.declared {
            gather(relation.relation_type.clone(), relation.target_id, &|| RelationItem {
                target: self.link(relation.target_id, &relation.target_ref),
                declared_by_other: false,
            });
        }
        for relation in &self.incoming {
            let seen_as = RelationType::parse(&relation.relation_type)
                .map_or_else(|| relation.relation_type.clone(), |parsed| parsed.inverse().as_str().to_owned());
            gather(seen_as, Some(relation.source_id), &|| RelationItem {
                target: self.link(Some(relation.source_id), &relation.source_ref),
                declared_by_other: true,
            });
        }
        // Relations declared towards it that were not read (beyond INCOMING_READ of a type) are counted.
        for (relation_type, total) in &self.incoming_totals {
            let unread = total.saturating_sub(
                self.incoming
                    .iter()
                    .filter(|relation| relation.relation_type == *relation_type)
                    .count(),
            );
            if unread > 0 {
                let seen_as =
                    RelationType::parse(relation_type).map_or_else(|| relation_type.clone(), |parsed| parsed.inverse().as_str().to_owned());
                if let Some(group) = groups.get_mut(&seen_as) {
                    group.total += unread;
                }
            }
        }
        let own_path = entity_path(&self.record.entity_ref);
        let mut budget = RELATIONS_TOTAL;
        groups
            .into_iter()
            .map(|(relation_type, mut gathered)| {
                gathered.items.truncate(budget);
                budget -= gathered.items.len();
                let more_href = if relation_type == RelationType::OwnerOf.as_str() {
                    format!("/catalog{}", super::query::encode(&[("owner", &self.record.entity_ref)]))
                } else {
                    format!("{own_path}/graph")
                };
                RelationGroup {
                    more: gathered.total - gathered.items.len(),
                    relation_type,
                    items: gathered.items,
                    more_href,
                }
            })
            .collect()
    }
}

/// The impact list: what depends on the entity, transitively.
async fn impact(snapshot: &Snapshot, loaded: &Loaded) -> Result<ImpactView, PageError> {
    let impact = snapshot.impact(loaded.record.id, IMPACT_DEPTH, IMPACT_WALK).await?;
    let root = &impact.root_ref;
    let rows = impact
        .nodes
        .iter()
        .take(IMPACT_SHOWN)
        .map(|dependent| ImpactRow {
            target: RefLink::canonical(&dependent.node.entity_ref),
            depth: dependent.node.depth,
            owner: match (&dependent.owner_ref, dependent.owner_id) {
                (Some(owner), Some(_)) => Some(RefLink::canonical(owner)),
                (Some(owner), None) => Some(RefLink::dangling(owner)),
                (None, _) => None,
            },
            via: Via::of(root, &dependent.node.path),
            risk: dependent.risk.as_ref().map(|risk| risk.reason.clone()),
        })
        .collect();
    Ok(ImpactView {
        rows,
        total: impact.nodes.len(),
        more: impact.nodes.len().saturating_sub(IMPACT_SHOWN),
        truncated: impact.truncated,
        risky_edges: impact.edges.iter().filter(|edge| edge.risk.is_some()).count(),
        risky_dependents: impact.nodes.iter().filter(|node| node.risk.is_some()).count(),
        owners: impact.owners.len(),
        incoming_graph_href: format!("{}/graph?direction=incoming", entity_path(&loaded.record.entity_ref)),
    })
}

/// A list shown up to a cap, with how many were left out.
pub(super) struct Capped<T> {
    pub items: Vec<T>,
    pub more: usize,
}

impl<T> Capped<T> {
    pub fn of(items: impl ExactSizeIterator<Item = T>, cap: usize) -> Capped<T> {
        let total = items.len();
        Capped {
            items: items.take(cap).collect(),
            more: total.saturating_sub(cap),
        }
    }

    /// The same list, counting `unread` more left out.
    pub fn and(mut self, unread: usize) -> Capped<T> {
        self.more += unread;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.more == 0
    }
}

/// A reference to another entity, as a link to its page when it is in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RefLink {
    pub entity_ref: String,
    /// Its page; `None` when it is not in the catalog (dangling).
    pub href: Option<String>,
    pub title: Option<String>,
    pub kind_class: &'static str,
}

impl RefLink {
    pub fn to(record: &EntityRecord) -> RefLink {
        RefLink {
            entity_ref: record.entity_ref.clone(),
            href: Some(entity_path(&record.entity_ref)),
            title: record.title.clone().filter(|title| !title.trim().is_empty()),
            kind_class: kind_class(&record.kind),
        }
    }

    /// An entity known to be in the catalog under this canonical reference.
    pub fn canonical(entity_ref: &str) -> RefLink {
        RefLink {
            entity_ref: entity_ref.to_owned(),
            href: Some(entity_path(entity_ref)),
            title: None,
            kind_class: kind_class(kind_of(entity_ref)),
        }
    }

    /// A reference nothing in the catalog answers to.
    pub fn dangling(written: &str) -> RefLink {
        RefLink {
            entity_ref: written.to_owned(),
            href: None,
            title: None,
            kind_class: "",
        }
    }
}

/// One step of a path: its name, linked to its page.
pub(super) struct PathStep {
    pub name: String,
    pub href: String,
}

impl PathStep {
    fn of(entity_ref: &str) -> PathStep {
        PathStep {
            name: entity_ref.rsplit_once('/').map_or(entity_ref, |(_, name)| name).to_owned(),
            href: entity_path(entity_ref),
        }
    }
}

/// The entity's header and facts (shared with the team page).
pub(super) struct EntityFacts {
    pub entity_ref: String,
    /// The title, else the profile's display name, else the name.
    pub heading: String,
    /// The profile's display name (Groups and Users), when it is not already the heading.
    pub display_name: Option<String>,
    /// The profile's email address (Groups and Users).
    pub email: Option<EmailView>,
    pub name: String,
    pub kind: String,
    pub kind_class: &'static str,
    pub entity_type: Option<String>,
    pub lifecycle: Option<String>,
    pub lifecycle_class: &'static str,
    pub tier: Option<i16>,
    pub description: Option<String>,
    pub owner: Option<RefLink>,
    /// Whether its kind is expected to have an owner (not a group, user or location).
    pub owner_expected: bool,
    pub system: Option<RefLink>,
    pub domain: Option<RefLink>,
    /// Whether the domain is its system's (the entity names none itself).
    pub domain_via_system: bool,
    pub tags: Capped<String>,
    pub links: Capped<LinkView>,
    pub labels: Capped<(String, String)>,
    pub annotations: Capped<(String, String)>,
    pub aliases: Capped<String>,
    pub graph_href: String,
    pub provenance: ProvenanceView,
    pub diagnostics: Vec<DiagnosticView>,
    pub diagnostics_more: usize,
}

impl EntityFacts {
    /// Whether the facts list has anything to show (an empty `dl` is not rendered).
    pub fn has_listed_facts(&self) -> bool {
        self.owner.is_some()
            || self.owner_expected
            || self.system.is_some()
            || self.domain.is_some()
            || self.display_name.is_some()
            || self.email.is_some()
            || !self.tags.is_empty()
            || !self.links.is_empty()
            || !self.aliases.is_empty()
            || !self.labels.is_empty()
    }

    /// Whether the facts card has anything to show: the list or the annotations.
    pub fn has_facts_card(&self) -> bool {
        self.has_listed_facts() || !self.annotations.is_empty()
    }
}

/// A profile's email address: a `mailto:` link only when it looks like one address and
/// [`safe_href`] allows it, otherwise inert text.
pub(super) struct EmailView {
    pub text: String,
    pub href: Option<String>,
}

impl EmailView {
    fn of(email: &str) -> EmailView {
        let one_address = email.matches('@').count() == 1 && !email.chars().any(char::is_whitespace);
        let mailto = format!("mailto:{email}");
        EmailView {
            text: email.to_owned(),
            href: if one_address { safe_href(&mailto).map(str::to_owned) } else { None },
        }
    }
}

/// A link of the entity: clickable only when [`safe_href`] allows it.
pub(super) struct LinkView {
    pub text: String,
    pub url: String,
    pub href: Option<String>,
    pub link_type: Option<String>,
}

impl LinkView {
    fn of(link: &read::LinkRecord) -> LinkView {
        LinkView {
            text: link
                .title
                .clone()
                .filter(|title| !title.trim().is_empty())
                .unwrap_or_else(|| link.url.clone()),
            url: link.url.clone(),
            href: safe_href(&link.url).map(str::to_owned),
            link_type: link.link_type.clone(),
        }
    }
}

/// Where the entity was declared.
pub(super) struct ProvenanceView {
    pub repo_id: i64,
    pub repo_url: String,
    pub branch: Option<String>,
    pub path: String,
    /// The file in the repository's web view, when its host is known.
    pub file_href: Option<String>,
    pub line: i32,
    pub document_index: i32,
    pub commit: String,
    pub short_commit: String,
    pub format: String,
    pub last_crawled: Option<String>,
    pub stale_reason: Option<String>,
}

/// A diagnostic of the entity's file.
pub(super) struct DiagnosticView {
    pub file: String,
    pub line: i32,
    pub column: i32,
    pub code: String,
    pub severity: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// The text of its line as last crawled, split at the column.
    pub snippet: Option<Marked>,
    /// The line is not stored yet (the row is older than the stored lines).
    pub snippet_pending: bool,
}

impl DiagnosticView {
    fn of(diagnostic: &DiagnosticRecord) -> DiagnosticView {
        DiagnosticView {
            file: diagnostic.file_path.clone(),
            line: diagnostic.line,
            column: diagnostic.column,
            code: diagnostic.code.clone(),
            severity: match diagnostic.severity.as_str() {
                "warning" => "warning",
                "note" => "note",
                _ => "error",
            },
            message: diagnostic.message.clone(),
            hint: diagnostic.hint.clone(),
            snippet: diagnostic
                .snippet
                .as_deref()
                .map(|text| snippet::mark(text, u32::try_from(diagnostic.column).unwrap_or(0))),
            snippet_pending: diagnostic.snippet.is_none() && diagnostic.line > 0 && snippet::points_at_a_line(&diagnostic.code),
        }
    }
}

/// The entities of one relation type.
pub(super) struct RelationGroup {
    /// As seen from this entity, e.g. `dependsOn`, `dependencyOf`, `ownerOf`.
    pub relation_type: String,
    pub items: Vec<RelationItem>,
    pub more: usize,
    pub more_href: String,
}

pub(super) struct RelationItem {
    pub target: RefLink,
    /// Declared by the other entity (towards this one) rather than by this one.
    pub declared_by_other: bool,
}

/// The impact list.
struct ImpactView {
    rows: Vec<ImpactRow>,
    /// Dependents the walk reached (at most [`IMPACT_WALK`]).
    total: usize,
    more: usize,
    /// Whether the walk stopped at its cap (there are more than `total`).
    truncated: bool,
    risky_edges: usize,
    risky_dependents: usize,
    owners: usize,
    incoming_graph_href: String,
}

struct ImpactRow {
    target: RefLink,
    depth: u32,
    owner: Option<RefLink>,
    via: Via,
    risk: Option<String>,
}

/// The entities between the impact's root and a dependent, in order (both ends left out): the
/// first and last few of a long path, with how many steps between them are not shown.
struct Via {
    first: Vec<PathStep>,
    hidden: usize,
    last: Vec<PathStep>,
}

/// Steps of a path shown at each end.
const VIA_ENDS: usize = 2;

impl Via {
    fn of(root: &str, path: &[String]) -> Via {
        let between: Vec<&String> = path.iter().filter(|step| *step != root).collect();
        let between = &between[..between.len().saturating_sub(1)];
        if between.len() <= 2 * VIA_ENDS {
            return Via {
                first: between.iter().map(|step| PathStep::of(step)).collect(),
                hidden: 0,
                last: Vec::new(),
            };
        }
        Via {
            first: between[..VIA_ENDS].iter().map(|step| PathStep::of(step)).collect(),
            hidden: between.len() - 2 * VIA_ENDS,
            last: between[between.len() - VIA_ENDS..].iter().map(|step| PathStep::of(step)).collect(),
        }
    }

    fn is_direct(&self) -> bool {
        self.first.is_empty()
    }
}

/// The class of a kind's badge (known kinds only; descriptor text never becomes a class).
pub(super) fn kind_class(kind: &str) -> &'static str {
    match kind {
        "component" => "kind-component",
        "api" => "kind-api",
        "resource" => "kind-resource",
        "system" => "kind-system",
        "domain" => "kind-domain",
        "group" => "kind-group",
        "user" => "kind-user",
        "location" => "kind-location",
        "template" => "kind-template",
        _ => "",
    }
}

/// The class of a lifecycle's badge (known lifecycles only).
pub(super) fn lifecycle_class(lifecycle: Option<&str>) -> &'static str {
    match lifecycle.map(str::to_ascii_lowercase).as_deref() {
        Some("production") => "production",
        Some("active") => "active",
        Some("experimental") => "experimental",
        Some("deprecated") => "deprecated",
        _ => "",
    }
}

/// `text` cut to `limit` characters (with an ellipsis when cut).
pub(super) fn shortened(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_character_boundaries() {
        assert_eq!(shortened("héllo", 2), "hé…");
        assert_eq!(shortened("héllo", 5), "héllo");
        assert_eq!(shortened("", 0), "");
    }

    #[test]
    fn classes_come_only_from_known_values() {
        assert_eq!(kind_class("api"), "kind-api");
        assert_eq!(kind_class("api\" onclick=\"x"), "");
        assert_eq!(lifecycle_class(Some("Production")), "production");
        assert_eq!(lifecycle_class(Some("x y")), "");
        assert_eq!(lifecycle_class(None), "");
    }

    #[test]
    fn capped_lists_count_what_they_leave_out() {
        let capped = Capped::of(0..10, 4);
        assert_eq!(capped.items, vec![0, 1, 2, 3]);
        assert_eq!(capped.more, 6);
        assert!(!capped.is_empty());
        assert_eq!(Capped::of(0..2, 4).more, 0);
    }

    #[test]
    fn long_paths_show_their_ends() {
        let path: Vec<String> = (0..12).map(|step| format!("component:default/s{step}")).collect();
        let via = Via::of("component:default/s0", &path);
        let names = |steps: &[PathStep]| steps.iter().map(|step| step.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&via.first), ["s1", "s2"]);
        assert_eq!(via.hidden, 6);
        assert_eq!(names(&via.last), ["s9", "s10"]);
        let short = Via::of("component:default/s0", &path[..3]);
        assert_eq!(names(&short.first), ["s1"]);
        assert_eq!((short.hidden, short.last.len()), (0, 0));
        assert!(Via::of("component:default/s0", &path[..2]).is_direct());
    }

    #[test]
    fn path_steps_show_names_and_link_to_pages() {
        let step = PathStep::of("component:default/payments");
        assert_eq!(step.name, "payments");
        assert_eq!(step.href, "/entity/component/default/payments");
    }
}
