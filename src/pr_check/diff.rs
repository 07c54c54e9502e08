//! The catalog diff of a change (pure): the entities the checked files define against what the
//! catalog holds from the same repository and branch, and the diagnostics that say so.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::{CatalogEntity, CatalogRepo, DeclaredEdge, Dependent};
use crate::domain::{Code, Diagnostic, Entity, Position, Related, RelationType, Severity, Target};

/// Which of the catalog's entities the change can speak for: those whose file is among the
/// checked paths (repository-relative; "" is the whole repository), minus those in checked files
/// that could not be read or parsed (their entities are neither removed nor compared).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Repository-relative paths that were checked: files, or folders (every file under them).
    pub checked: Vec<String>,
    /// Repository-relative paths of checked files with errors that stopped them being read, and
    /// of catalog files in the checked paths that the check did not read.
    pub unreadable: Vec<String>,
}

/// One field of an entity that a change alters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "field", rename_all = "camelCase")]
pub enum FieldChange {
    Owner { before: Option<String>, after: Option<String> },
    Lifecycle { before: Option<String>, after: Option<String> },
    Tier { before: Option<u8>, after: Option<u8> },
    System { before: Option<String>, after: Option<String> },
    RelationAdded { relation: DeclaredEdge },
    RelationRemoved { relation: DeclaredEdge },
}

/// An entity defined at the same file and position under a new reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    pub from: CatalogEntity,
    pub to: CatalogEntity,
    /// What else changed with the name.
    pub changes: Vec<FieldChange>,
}

/// An entity kept under its reference with some of its fields altered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub before: CatalogEntity,
    pub after: CatalogEntity,
    pub changes: Vec<FieldChange>,
}

/// What a change does to the catalog's entities of one repository and branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    /// Local view of each new entity.
    pub added: Vec<CatalogEntity>,
    /// Catalog view of each entity the change removes.
    pub removed: Vec<CatalogEntity>,
    pub renamed: Vec<Renamed>,
    pub changed: Vec<Changed>,
    pub unchanged: usize,
    /// Catalog entities in checked files that could not be read, or that the check did not read:
    /// not compared.
    pub not_compared: Vec<CatalogEntity>,
}

impl ChangeSet {
    /// The catalog entities the change takes away: the removed ones, and the old names of the
    /// renamed ones.
    pub fn gone(&self) -> impl Iterator<Item = &CatalogEntity> {
        self.removed.iter().chain(self.renamed.iter().map(|renamed| &renamed.from))
    }
}

/// The whole result of checking a change against the catalog.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeReport {
    /// The repository as the check named it (`--repo`, or the origin remote).
    pub repo_url: String,
    pub branch: Option<String>,
    /// The catalog's repository compared with; `None` when the catalog does not know it (every
    /// entity is then added).
    pub catalog_repo: Option<CatalogRepo>,
    pub changes: ChangeSet,
    /// The dependents elsewhere in the catalog (other repositories or branches, and files of this
    /// one that were not checked) of every removed or renamed entity, by the entity's catalog
    /// reference.
    pub dependents: HashMap<String, Vec<Dependent>>,
    /// The severity breaking changes are reported with (error unless configured).
    #[serde(skip)]
    pub breaking_severity: Severity,
    /// The dashboard's base URL, when known, for links in the markdown summary.
    pub dashboard_url: Option<String>,
}

impl ChangeReport {
    /// One line for people: what was compared and what the change does, e.g. `compared with
    /// https://git.example.com/pay (default branch): 1 added, 1 removed, 0 renamed, 2 changed,
    /// 5 unchanged; 1 breaking`.
    pub fn summary(&self) -> String {
        let changes = &self.changes;
        let compared = match &self.catalog_repo {
            Some(repo) => format!(
                "compared with {} ({})",
                repo.url,
                repo.branch
                    .as_deref()
                    .map_or_else(|| "default branch".to_owned(), |branch| format!("branch {branch}"))
            ),
            None => format!("{} is not in the catalog", self.repo_url),
        };
        let breaking = self.dependents.len();
        let mut line = format!(
            "{compared}: {} added, {} removed, {} renamed, {} changed, {} unchanged",
            changes.added.len(),
            changes.removed.len(),
            changes.renamed.len(),
            changes.changed.len(),
            changes.unchanged
        );
        if breaking > 0 {
            line.push_str(&format!("; {breaking} breaking"));
        }
        if !changes.not_compared.is_empty() {
            line.push_str(&format!(
                "; {} not compared (their files do not parse or were not read)",
                changes.not_compared.len()
            ));
        }
        line
    }
}

/// The local entity as the catalog would hold it once the change merges: `path` is its file's
/// repository-relative path. It mirrors what the crawl stores (`reconcile::EntityData`): the
/// owner and every declared relation as written (references canonical and lowercase, aliases as
/// written), `ownedBy` and `partOf` included; the catalog may show resolved aliases instead,
/// which [`compare_with_aliases`] accounts for.
pub fn local_view(entity: &Entity, path: &str, repo: &CatalogRepo) -> CatalogEntity {
    let mut aliases = entity.aliases.clone();
    aliases.sort();
    aliases.dedup();
    let mut relations: Vec<DeclaredEdge> = entity
        .relations
        .iter()
        .map(|relation| DeclaredEdge {
            relation_type: relation.relation_type.as_str().to_owned(),
            target: target_text(&relation.target),
        })
        .collect();
    relations.sort();
    relations.dedup();
    CatalogEntity {
        entity_ref: entity.entity_ref.to_string().to_lowercase(),
        repo: repo.url.clone(),
        branch: repo.branch.clone(),
        path: normalized_path(path).to_owned(),
        line: entity.provenance.position.line,
        document_index: u32::try_from(entity.provenance.document).unwrap_or(u32::MAX),
        owner_ref: entity.owner.as_ref().map(target_text),
        lifecycle: entity.lifecycle.clone(),
        tier: entity.tier,
        system_ref: entity.system.as_ref().map(|system| system.to_string().to_lowercase()),
        aliases,
        relations,
    }
}

/// A relation target as the store writes it: a reference canonical and lowercase, an alias as
/// written.
fn target_text(target: &Target) -> String {
    match target {
        Target::Entity(entity_ref) => entity_ref.to_string().to_lowercase(),
        Target::Alias(alias) => alias.clone(),
    }
}

/// A repository-relative path without a leading `./` or trailing `/`.
fn normalized_path(path: &str) -> &str {
    let mut path = path.trim_end_matches('/');
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    if path == "." { "" } else { path }
}

impl Scope {
    /// Whether the change speaks for a catalog entity defined at `path`: the path is a checked
    /// file, or lies under a checked folder ("" is the whole repository).
    pub fn covers(&self, path: &str) -> bool {
        let path = normalized_path(path);
        self.checked.iter().any(|checked| {
            let checked = normalized_path(checked);
            checked.is_empty() || path == checked || path.strip_prefix(checked).is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// Whether `path` is a checked file that could not be read.
    pub fn is_unreadable(&self, path: &str) -> bool {
        let path = normalized_path(path);
        self.unreadable.iter().any(|unreadable| normalized_path(unreadable) == path)
    }
}

/// Compares the local entities (already in [`local_view`] form) with the catalog's entities of
/// the same repository and branch. Aliases are resolved through the aliases the entities on
/// either side declare; [`compare_with_aliases`] takes those the catalog resolved too.
pub fn compare(local: &[CatalogEntity], catalog: &[CatalogEntity], scope: &Scope) -> ChangeSet {
    compare_with_aliases(local, catalog, scope, &HashMap::new())
}

/// [`compare`], with `known_aliases` (an alias as written in the checked files → the canonical
/// reference of the catalog entity that answers to it, e.g. from [`super::Catalog::lookup`]):
/// the catalog shows owners and relation targets resolved where it can, the local files as
/// written, so both sides are compared resolved. The local entities of the result are resolved
/// the same way (what the catalog will show once the change merges).
///
/// Every local entity is matched by reference against every catalog entity of the repository;
/// the scope decides only which catalog entities the change can remove: those in checked paths,
/// minus those in unreadable files (not compared). A removed entity whose file and document index
/// now define an unmatched local entity is renamed.
pub fn compare_with_aliases(
    local: &[CatalogEntity],
    catalog: &[CatalogEntity],
    scope: &Scope,
    known_aliases: &HashMap<String, String>,
) -> ChangeSet {
    let resolver = Resolver::new(local, catalog, known_aliases);
    let mut local: Vec<CatalogEntity> = local.iter().map(|entity| resolver.resolved(entity)).collect();
    local.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
    local.dedup_by(|a, b| a.entity_ref.eq_ignore_ascii_case(&b.entity_ref));
    let mut catalog: Vec<&CatalogEntity> = catalog.iter().collect();
    catalog.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
    let catalog_by_ref: HashMap<String, &CatalogEntity> =
        catalog.iter().map(|entity| (entity.entity_ref.to_lowercase(), *entity)).collect();
    let local_refs: HashSet<String> = local.iter().map(|entity| entity.entity_ref.to_lowercase()).collect();

    let mut changes = ChangeSet::default();
    let mut unmatched: Vec<CatalogEntity> = Vec::new();
    for entity in local {
        match catalog_by_ref.get(&entity.entity_ref.to_lowercase()) {
            Some(before) => {
                let field_changes = field_changes(before, &entity, &resolver);
                if field_changes.is_empty() {
                    changes.unchanged += 1;
                } else {
                    changes.changed.push(Changed {
                        before: (*before).clone(),
                        after: entity,
                        changes: field_changes,
                    });
                }
            }
            None => unmatched.push(entity),
        }
    }

    let mut gone = Vec::new();
    for entity in catalog {
        if local_refs.contains(&entity.entity_ref.to_lowercase()) || !scope.covers(&entity.path) {
            continue;
        }
        if scope.is_unreadable(&entity.path) {
            changes.not_compared.push(entity.clone());
        } else {
            gone.push(entity);
        }
    }
    for entity in gone {
        let place = |candidate: &CatalogEntity| {
            normalized_path(&candidate.path) == normalized_path(&entity.path) && candidate.document_index == entity.document_index
        };
        match unmatched.iter().position(place) {
            Some(index) => {
                let to = unmatched.remove(index);
                changes.renamed.push(Renamed {
                    changes: field_changes(entity, &to, &resolver),
                    from: entity.clone(),
                    to,
                });
            }
            None => changes.removed.push(entity.clone()),
        }
    }
    changes.added = unmatched;
    changes
}

/// What an alias as written stands for: the local entities' aliases first (the catalog will hold
/// them once the change merges), then those the catalog resolved, then the catalog entities' own.
struct Resolver {
    aliases: HashMap<String, String>,
}

impl Resolver {
    fn new(local: &[CatalogEntity], catalog: &[CatalogEntity], known: &HashMap<String, String>) -> Resolver {
        let mut aliases: HashMap<String, String> = HashMap::new();
        for entity in catalog {
            for alias in &entity.aliases {
                aliases.insert(alias.clone(), entity.entity_ref.to_lowercase());
            }
        }
        for (alias, entity_ref) in known {
            aliases.insert(alias.clone(), entity_ref.to_lowercase());
        }
        for entity in local {
            for alias in &entity.aliases {
                aliases.insert(alias.clone(), entity.entity_ref.to_lowercase());
            }
        }
        Resolver { aliases }
    }

    /// The canonical reference `target` stands for, compared ignoring case as the catalog
    /// compares references; an alias nothing answers to stays as written.
    fn key(&self, target: &str) -> String {
        self.aliases.get(target).map_or_else(|| target.to_lowercase(), String::clone)
    }

    /// The entity with its owner and relation targets resolved where an alias is known.
    fn resolved(&self, entity: &CatalogEntity) -> CatalogEntity {
        let resolve = |target: &str| self.aliases.get(target).cloned().unwrap_or_else(|| target.to_owned());
        let mut resolved = entity.clone();
        resolved.owner_ref = entity.owner_ref.as_deref().map(resolve);
        resolved.relations = entity
            .relations
            .iter()
            .map(|edge| DeclaredEdge {
                relation_type: edge.relation_type.clone(),
                target: resolve(&edge.target),
            })
            .collect();
        resolved.relations.sort();
        resolved.relations.dedup();
        resolved
    }
}

/// The fields `after` alters in `before`. Relations that only restate a field (`ownedBy` the
/// owner, `partOf` a system) are reported as the field.
fn field_changes(before: &CatalogEntity, after: &CatalogEntity, resolver: &Resolver) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let same_ref = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => resolver.key(a) == resolver.key(b),
        (None, None) => true,
        _ => false,
    };
    if !same_ref(&before.owner_ref, &after.owner_ref) {
        changes.push(FieldChange::Owner {
            before: before.owner_ref.clone(),
            after: after.owner_ref.clone(),
        });
    }
    if before.lifecycle != after.lifecycle {
        changes.push(FieldChange::Lifecycle {
            before: before.lifecycle.clone(),
            after: after.lifecycle.clone(),
        });
    }
    if before.tier != after.tier {
        changes.push(FieldChange::Tier {
            before: before.tier,
            after: after.tier,
        });
    }
    if !same_ref(&before.system_ref, &after.system_ref) {
        changes.push(FieldChange::System {
            before: before.system_ref.clone(),
            after: after.system_ref.clone(),
        });
    }
    let keyed = |entity: &CatalogEntity| -> BTreeSet<(String, String)> {
        entity
            .relations
            .iter()
            .map(|edge| (edge.relation_type.clone(), resolver.key(&edge.target)))
            .filter(|(relation_type, target)| !restates_a_field(relation_type, target))
            .collect()
    };
    let (before_edges, after_edges) = (keyed(before), keyed(after));
    let edge_of = |entity: &CatalogEntity, (relation_type, target): &(String, String)| {
        entity
            .relations
            .iter()
            .find(|edge| &edge.relation_type == relation_type && &resolver.key(&edge.target) == target)
            .cloned()
            .unwrap_or_else(|| DeclaredEdge {
                relation_type: relation_type.clone(),
                target: target.clone(),
            })
    };
    for key in before_edges.difference(&after_edges) {
        changes.push(FieldChange::RelationRemoved {
            relation: edge_of(before, key),
        });
    }
    for key in after_edges.difference(&before_edges) {
        changes.push(FieldChange::RelationAdded {
            relation: edge_of(after, key),
        });
    }
    changes
}

/// Whether a declared relation is the one a field is written as: `ownedBy` is the owner, `partOf`
/// a system is the system.
fn restates_a_field(relation_type: &str, target: &str) -> bool {
    relation_type == RelationType::OwnedBy.as_str() || (relation_type == RelationType::PartOf.as_str() && target.starts_with("system:"))
}

/// How many dependents a breaking change's message names; the rest are counted.
const NAMED_DEPENDENTS: usize = 3;

/// The diagnostics of a change report (codes S05xx): breaking changes (error by default, at the
/// removed entity's old place or the renamed entity's new one, each dependent as a related
/// location), and notes for added, removed, renamed and changed entities and for a repository
/// the catalog does not know. `display_path` maps a repository-relative path to the file name
/// diagnostics show.
pub fn diagnostics(report: &ChangeReport, display_path: &dyn Fn(&str) -> String) -> Vec<Diagnostic> {
    let changes = &report.changes;
    let place = |entity: &CatalogEntity| {
        (
            display_path(&entity.path),
            Position {
                line: entity.line.max(1),
                column: 1,
            },
        )
    };
    let mut diagnostics = Vec::new();
    if report.catalog_repo.is_none() {
        let file = changes
            .added
            .iter()
            .map(|entity| entity.path.as_str())
            .min()
            .map_or_else(|| display_path(""), display_path);
        let branch = report
            .branch
            .as_deref()
            .map(|branch| format!(" on branch `{branch}`"))
            .unwrap_or_default();
        let message = format!(
            "the catalog does not crawl {}{branch}; {} of the checked files count as added",
            report.repo_url,
            count(changes.added.len(), "entity", "entities"),
        );
        diagnostics.push(
            Diagnostic::new(Code::RepositoryNotInCatalog, &file, Position { line: 1, column: 1 }, message).with_hint(
                "if the catalog does crawl it, name it as the catalog's configuration does with --repo and --branch \
                 (the API's `repos` query lists them, as does `sextant repos` where the catalog runs)",
            ),
        );
    }
    for entity in &changes.removed {
        // At the top of the file: the line it had is the catalog's copy's, and the checked file
        // (when it still exists) holds something else there now.
        let (file, _) = place(entity);
        let position = Position { line: 1, column: 1 };
        let subject = format!(
            "`{}` (line {} of the catalog's copy) is removed",
            entity.entity_ref,
            entity.line.max(1)
        );
        if let Some(breaking) = breaking_change(report, &entity.entity_ref, &subject, &file, position) {
            diagnostics.push(breaking.with_hint(format!(
                "keep `{}` until its dependents no longer need it, or update them first; \
                 `--breaking warning` reports this as a warning",
                entity.entity_ref
            )));
        }
        diagnostics.push(Diagnostic::new(
            Code::EntityRemoved,
            &file,
            position,
            format!("{subject} from the catalog: no checked file defines it any more"),
        ));
    }
    for renamed in &changes.renamed {
        let (file, position) = place(&renamed.to);
        let subject = format!("`{}` is renamed to `{}`", renamed.from.entity_ref, renamed.to.entity_ref);
        if let Some(breaking) = breaking_change(report, &renamed.from.entity_ref, &subject, &file, position) {
            diagnostics.push(breaking.with_hint(format!(
                "keep the name `{}` until its dependents refer to `{}`, or update them first (references through an alias \
                 the entity keeps, such as a Compass component's `id`, are not affected); `--breaking warning` reports this \
                 as a warning",
                renamed.from.entity_ref, renamed.to.entity_ref
            )));
        }
        let mut message = subject;
        if !renamed.changes.is_empty() {
            message.push_str(&format!("; it also changes: {}", describe_changes(&renamed.changes)));
        }
        diagnostics.push(Diagnostic::new(Code::EntityRenamed, &file, position, message));
    }
    for entity in &changes.added {
        let (file, position) = place(entity);
        let owner = entity
            .owner_ref
            .as_deref()
            .map(|owner| format!(" (owner `{owner}`)"))
            .unwrap_or_default();
        diagnostics.push(Diagnostic::new(
            Code::EntityAdded,
            &file,
            position,
            format!("`{}` is added to the catalog{owner}", entity.entity_ref),
        ));
    }
    for changed in &changes.changed {
        let (file, position) = place(&changed.after);
        diagnostics.push(Diagnostic::new(
            Code::EntityChanged,
            &file,
            position,
            format!("`{}` changes: {}", changed.after.entity_ref, describe_changes(&changed.changes)),
        ));
    }
    diagnostics
}

/// The breaking-change diagnostic of an entity the change removes or renames, when something
/// elsewhere depends on it.
fn breaking_change(report: &ChangeReport, entity_ref: &str, subject: &str, file: &str, position: Position) -> Option<Diagnostic> {
    let dependents = report
        .dependents
        .get(entity_ref)
        .or_else(|| report.dependents.get(&entity_ref.to_lowercase()))?;
    if dependents.is_empty() {
        return None;
    }
    let mut dependents: Vec<&Dependent> = dependents.iter().collect();
    dependents.sort_by(|a, b| (a.depth, &a.entity_ref, &a.repo, &a.branch).cmp(&(b.depth, &b.entity_ref, &b.repo, &b.branch)));
    let here = super::repo_identity(&report.repo_url);
    let places: BTreeSet<(String, Option<&str>)> = dependents
        .iter()
        .map(|dependent| (super::repo_identity(&dependent.repo), dependent.branch.as_deref()))
        .collect();
    let elsewhere = if places.iter().any(|(identity, _)| *identity == here) {
        // This repository's own files outside the checked paths, or another of its branches.
        "repositories or branches"
    } else if places.len() == 1 {
        "other repository"
    } else {
        "other repositories"
    };
    let named: Vec<String> = dependents
        .iter()
        .take(NAMED_DEPENDENTS)
        .map(|dependent| format!("`{}` ({})", dependent.entity_ref, owner_text(dependent.owner_ref.as_deref())))
        .collect();
    let mut list = named.join(", ");
    if dependents.len() > NAMED_DEPENDENTS {
        list.push_str(&format!(" and {} more", dependents.len() - NAMED_DEPENDENTS));
    }
    let message = format!(
        "{subject}, and {} in {} {elsewhere} {} on it: {list}",
        count(dependents.len(), "entity", "entities"),
        places.len(),
        if dependents.len() == 1 { "depends" } else { "depend" },
    );
    let mut diagnostic = Diagnostic::new(Code::BreakingChange, file, position, message).with_severity(report.breaking_severity);
    for dependent in dependents {
        let via = if dependent.path.is_empty() {
            dependent.entity_ref.clone()
        } else {
            dependent.path.join(" → ")
        };
        diagnostic = diagnostic.with_related(Related {
            file: dependent_place(dependent),
            position: Position {
                line: dependent.line.max(1),
                column: 1,
            },
            message: format!("depends on it via {via} ({})", owner_text(dependent.owner_ref.as_deref())),
        });
    }
    Some(diagnostic)
}

/// Where a dependent is defined, as one path: `<repository>/<path>`, with `@<branch>` after the
/// repository when the catalog names a branch (`https://git.example.com/shop@release/web/catalog-info.yaml`).
pub fn dependent_place(dependent: &Dependent) -> String {
    let repo = dependent.repo.trim_end_matches('/');
    match &dependent.branch {
        Some(branch) => format!("{repo}@{branch}/{}", dependent.file),
        None => format!("{repo}/{}", dependent.file),
    }
}

fn owner_text(owner: Option<&str>) -> String {
    owner.map_or_else(|| "no owner".to_owned(), |owner| format!("owner {owner}"))
}

/// `1 entity`, `7 entities`.
fn count(number: usize, one: &str, many: &str) -> String {
    format!("{number} {}", if number == 1 { one } else { many })
}

/// The changes of an entity in one line: `owner `a` → `b`; adds dependsOn `c``.
pub fn describe_changes(changes: &[FieldChange]) -> String {
    changes.iter().map(describe_change).collect::<Vec<_>>().join("; ")
}

/// One change in words.
pub fn describe_change(change: &FieldChange) -> String {
    let value = |value: &Option<String>| value.as_deref().map_or_else(|| "none".to_owned(), |value| format!("`{value}`"));
    let tier = |tier: &Option<u8>| tier.map_or_else(|| "none".to_owned(), |tier| tier.to_string());
    match change {
        FieldChange::Owner { before, after } => format!("owner {} → {}", value(before), value(after)),
        FieldChange::Lifecycle { before, after } => format!("lifecycle {} → {}", value(before), value(after)),
        FieldChange::Tier { before, after } => format!("tier {} → {}", tier(before), tier(after)),
        FieldChange::System { before, after } => format!("system {} → {}", value(before), value(after)),
        FieldChange::RelationAdded { relation } => format!("adds {} `{}`", relation.relation_type, relation.target),
        FieldChange::RelationRemoved { relation } => format!("removes {} `{}`", relation.relation_type, relation.target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPO: &str = "https://github.com/acme/pay";

    fn repo() -> CatalogRepo {
        CatalogRepo {
            url: REPO.to_owned(),
            branch: Some("main".to_owned()),
        }
    }

    /// The local views of the entities a descriptor file defines.
    fn views(path: &str, text: &str) -> Vec<CatalogEntity> {
        let parsed = crate::descriptor::parse_bytes(path, text.as_bytes());
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        parsed.entities.iter().map(|entity| local_view(entity, path, &repo())).collect()
    }

    fn edge(relation_type: &str, target: &str) -> DeclaredEdge {
        DeclaredEdge {
            relation_type: relation_type.to_owned(),
            target: target.to_owned(),
        }
    }

    /// `payments-api` as the catalog holds it once crawled from `services/pay/catalog-info.yaml`
    /// (the export's and the API's shape: the owner and every declared relation, `ownedBy` and
    /// `partOf` included, targets canonical).
    fn payments_api_in_catalog() -> CatalogEntity {
        CatalogEntity {
            entity_ref: "component:default/payments-api".to_owned(),
            repo: REPO.to_owned(),
            branch: Some("main".to_owned()),
            path: "services/pay/catalog-info.yaml".to_owned(),
            line: 1,
            document_index: 0,
            owner_ref: Some("group:default/team-pay".to_owned()),
            lifecycle: Some("production".to_owned()),
            tier: None,
            system_ref: Some("system:default/payments".to_owned()),
            aliases: vec![
                "ari:cloud:compass:s:component/w/1".to_owned(),
                "ari:cloud:compass:s:component/w/2".to_owned(),
            ],
            relations: vec![
                edge("dependsOn", "resource:default/pay-db"),
                edge("ownedBy", "group:default/team-pay"),
                edge("partOf", "system:default/payments"),
                edge("providesApi", "api:default/pay-api"),
            ],
        }
    }

    const PAYMENTS_API: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: Payments-API
  annotations:
    sextant.dev/aliases: ari:cloud:compass:s:component/w/2, ari:cloud:compass:s:component/w/1
spec:
  type: service
  lifecycle: production
  owner: Team-Pay
  system: payments
  providesApis: [pay-api]
  dependsOn: [resource:pay-db, resource:pay-db]
";

    fn whole_repository() -> Scope {
        Scope {
            checked: vec![String::new()],
            unreadable: Vec::new(),
        }
    }

    fn refs(entities: &[CatalogEntity]) -> Vec<&str> {
        entities.iter().map(|entity| entity.entity_ref.as_str()).collect()
    }

    #[test]
    fn an_unchanged_file_equals_what_the_catalog_holds() {
        let local = views("services/pay/catalog-info.yaml", PAYMENTS_API);
        assert_eq!(local, vec![payments_api_in_catalog()]);
        let changes = compare(&local, &[payments_api_in_catalog()], &whole_repository());
        assert_eq!(
            changes,
            ChangeSet {
                unchanged: 1,
                ..ChangeSet::default()
            }
        );
    }

    #[test]
    fn aliases_the_catalog_resolved_compare_equal_to_the_aliases_written() {
        let text = "configVersion: 1
name: Ledger
typeId: SERVICE
ownerId: ari:cloud:teams::team/abc
relationships:
  DEPENDS_ON:
    - ari:cloud:compass:s:component/w/1
";
        let local = views("ledger/compass.yml", text);
        assert_eq!(local[0].owner_ref.as_deref(), Some("ari:cloud:teams::team/abc"));
        let in_catalog = CatalogEntity {
            entity_ref: "component:default/ledger".to_owned(),
            path: "ledger/compass.yml".to_owned(),
            owner_ref: Some("group:default/team-ledger".to_owned()),
            system_ref: None,
            lifecycle: None,
            aliases: Vec::new(),
            relations: vec![
                edge("dependsOn", "component:default/payments-api"),
                edge("ownedBy", "group:default/team-ledger"),
            ],
            ..payments_api_in_catalog()
        };
        let known = HashMap::from([("ari:cloud:teams::team/abc".to_owned(), "group:default/team-ledger".to_owned())]);
        // The component ARI resolves through the aliases the catalog's own entities declare.
        let catalog = [in_catalog.clone(), payments_api_in_catalog()];
        let scope = Scope {
            checked: vec!["ledger".to_owned()],
            unreadable: Vec::new(),
        };
        let changes = compare_with_aliases(&local, &catalog, &scope, &known);
        assert_eq!(changes.unchanged, 1, "{changes:#?}");
        assert!(changes.changed.is_empty() && changes.removed.is_empty(), "{changes:#?}");
        // Without knowing the team's alias, the owner differs.
        let changes = compare(&local, &catalog, &scope);
        assert_eq!(
            changes.changed[0].changes,
            vec![FieldChange::Owner {
                before: Some("group:default/team-ledger".to_owned()),
                after: Some("ari:cloud:teams::team/abc".to_owned()),
            }]
        );
    }

    #[test]
    fn added_removed_and_renamed_entities() {
        let catalog = vec![
            payments_api_in_catalog(),
            CatalogEntity {
                entity_ref: "api:default/pay-api".to_owned(),
                path: "services/pay/api.yaml".to_owned(),
                ..payments_api_in_catalog()
            },
            CatalogEntity {
                entity_ref: "component:default/old-name".to_owned(),
                path: "services/ledger/catalog-info.yaml".to_owned(),
                document_index: 1,
                line: 9,
                ..payments_api_in_catalog()
            },
        ];
        let mut local = views("services/pay/catalog-info.yaml", PAYMENTS_API);
        let new_name = CatalogEntity {
            entity_ref: "component:default/new-name".to_owned(),
            path: "services/ledger/catalog-info.yaml".to_owned(),
            document_index: 1,
            line: 9,
            lifecycle: Some("deprecated".to_owned()),
            ..payments_api_in_catalog()
        };
        let brand_new = CatalogEntity {
            entity_ref: "component:default/brand-new".to_owned(),
            path: "services/ledger/catalog-info.yaml".to_owned(),
            document_index: 2,
            ..payments_api_in_catalog()
        };
        local.push(new_name.clone());
        local.push(brand_new.clone());
        let changes = compare(&local, &catalog, &whole_repository());
        assert_eq!(refs(&changes.added), vec!["component:default/brand-new"]);
        assert_eq!(refs(&changes.removed), vec!["api:default/pay-api"]);
        assert_eq!(changes.renamed.len(), 1);
        assert_eq!(changes.renamed[0].from, catalog[2]);
        assert_eq!(changes.renamed[0].to, new_name);
        assert_eq!(
            changes.renamed[0].changes,
            vec![FieldChange::Lifecycle {
                before: Some("production".to_owned()),
                after: Some("deprecated".to_owned()),
            }]
        );
        assert_eq!(changes.unchanged, 1);
        assert!(changes.changed.is_empty() && changes.not_compared.is_empty());
    }

    #[test]
    fn owner_and_relation_changes() {
        let changed = PAYMENTS_API
            .replace("owner: Team-Pay", "owner: group:default/team-ledger")
            .replace("dependsOn: [resource:pay-db, resource:pay-db]", "dependsOn: [resource:ledger-db]")
            .replace("system: payments", "system: billing");
        let local = views("services/pay/catalog-info.yaml", &changed);
        let changes = compare(&local, &[payments_api_in_catalog()], &whole_repository());
        assert_eq!(changes.changed.len(), 1, "{changes:#?}");
        // The `ownedBy` and `partOf` relations are the owner and system fields, not relations.
        assert_eq!(
            changes.changed[0].changes,
            vec![
                FieldChange::Owner {
                    before: Some("group:default/team-pay".to_owned()),
                    after: Some("group:default/team-ledger".to_owned()),
                },
                FieldChange::System {
                    before: Some("system:default/payments".to_owned()),
                    after: Some("system:default/billing".to_owned()),
                },
                FieldChange::RelationRemoved {
                    relation: edge("dependsOn", "resource:default/pay-db"),
                },
                FieldChange::RelationAdded {
                    relation: edge("dependsOn", "resource:default/ledger-db"),
                },
            ]
        );
        assert_eq!(changes.changed[0].before, payments_api_in_catalog());
        assert_eq!(changes.unchanged, 0);
        // A case difference is no change: the catalog compares references ignoring case.
        let mut shouting = payments_api_in_catalog();
        shouting.owner_ref = Some("Group:Default/Team-Pay".to_owned());
        shouting.relations[0].target = "Resource:default/PAY-DB".to_owned();
        let changes = compare(
            &views("services/pay/catalog-info.yaml", PAYMENTS_API),
            &[shouting],
            &whole_repository(),
        );
        assert_eq!(changes.unchanged, 1, "{changes:#?}");
    }

    #[test]
    fn the_scope_limits_removal_to_the_checked_paths() {
        let at = |entity_ref: &str, path: &str| CatalogEntity {
            entity_ref: entity_ref.to_owned(),
            path: path.to_owned(),
            ..payments_api_in_catalog()
        };
        let catalog = vec![
            at("component:default/a", "services/a/catalog-info.yaml"),
            at("component:default/b", "services/b/catalog-info.yaml"),
            at("component:default/c", "services-old/catalog-info.yaml"),
            at("component:default/d", "catalog-info.yaml"),
        ];
        let scope = Scope {
            checked: vec!["./services/a/".to_owned(), "catalog-info.yaml".to_owned()],
            unreadable: Vec::new(),
        };
        let changes = compare(&[], &catalog, &scope);
        assert_eq!(refs(&changes.removed), vec!["component:default/a", "component:default/d"]);
        let scope = Scope {
            checked: vec!["services".to_owned()],
            unreadable: Vec::new(),
        };
        assert_eq!(
            refs(&compare(&[], &catalog, &scope).removed),
            vec!["component:default/a", "component:default/b"]
        );
        assert_eq!(compare(&[], &catalog, &whole_repository()).removed.len(), 4);
        // An entity that moved to a checked file from one that is not checked is not added.
        let moved = at("component:default/c", "services/a/catalog-info.yaml");
        let changes = compare(&[moved], &catalog, &scope);
        assert!(changes.added.is_empty(), "{changes:#?}");
        assert_eq!(changes.unchanged, 1);
    }

    #[test]
    fn entities_of_unreadable_files_are_not_compared() {
        let catalog = vec![
            payments_api_in_catalog(),
            CatalogEntity {
                entity_ref: "component:default/kept".to_owned(),
                path: "broken/catalog-info.yaml".to_owned(),
                ..payments_api_in_catalog()
            },
        ];
        let scope = Scope {
            checked: vec![String::new()],
            unreadable: vec!["broken/catalog-info.yaml".to_owned()],
        };
        // A local entity at the unreadable file's place is not taken for a rename either.
        let local = vec![CatalogEntity {
            entity_ref: "component:default/elsewhere".to_owned(),
            path: "broken/catalog-info.yaml".to_owned(),
            ..payments_api_in_catalog()
        }];
        let changes = compare(&local, &catalog, &scope);
        assert_eq!(refs(&changes.not_compared), vec!["component:default/kept"]);
        assert_eq!(refs(&changes.removed), vec!["component:default/payments-api"]);
        assert_eq!(refs(&changes.added), vec!["component:default/elsewhere"]);
        assert!(changes.renamed.is_empty());
    }

    fn dependent(entity_ref: &str, owner: &str, repo: &str, depth: u32) -> Dependent {
        Dependent {
            entity_ref: entity_ref.to_owned(),
            owner_ref: Some(owner.to_owned()),
            repo: repo.to_owned(),
            branch: None,
            file: "catalog-info.yaml".to_owned(),
            line: 4,
            depth,
            path: vec!["component:default/payments-api".to_owned(), entity_ref.to_owned()],
            declares_reference: depth == 1,
        }
    }

    fn report(changes: ChangeSet, dependents: HashMap<String, Vec<Dependent>>) -> ChangeReport {
        ChangeReport {
            repo_url: REPO.to_owned(),
            branch: Some("main".to_owned()),
            catalog_repo: Some(repo()),
            changes,
            dependents,
            breaking_severity: Severity::Error,
            dashboard_url: None,
        }
    }

    fn shown(path: &str) -> String {
        format!("checkout/{path}")
    }

    #[test]
    fn a_removed_entity_with_dependents_is_a_breaking_change() {
        let removed = CatalogEntity {
            line: 12,
            ..payments_api_in_catalog()
        };
        let dependents: Vec<Dependent> = (0..7)
            .map(|index| {
                dependent(
                    &format!("component:default/web-{index}"),
                    &format!("group:default/team-{}", index % 2),
                    &format!("https://github.com/acme/repo-{}", index % 4),
                    1,
                )
            })
            .collect();
        let changes = ChangeSet {
            removed: vec![removed],
            ..ChangeSet::default()
        };
        let mut report = report(changes, HashMap::from([("component:default/payments-api".to_owned(), dependents)]));
        let diagnostics = diagnostics(&report, &shown);
        let codes: Vec<Code> = diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
        assert_eq!(codes, vec![Code::BreakingChange, Code::EntityRemoved]);
        let breaking = &diagnostics[0];
        assert_eq!(breaking.severity, Severity::Error);
        assert_eq!(
            (breaking.file.as_str(), breaking.line, breaking.column),
            ("checkout/services/pay/catalog-info.yaml", 1, 1),
            "a removed entity is reported at the top of its file (line 12 was the catalog's copy's)"
        );
        assert!(
            breaking.message.starts_with(
                "`component:default/payments-api` (line 12 of the catalog's copy) is removed, and 7 entities in 4 other repositories depend on it: \
                 `component:default/web-0` (owner group:default/team-0), `component:default/web-1` (owner group:default/team-1)"
            ),
            "{}",
            breaking.message
        );
        assert!(breaking.message.ends_with(" and 4 more"), "{}", breaking.message);
        assert_eq!(breaking.related.len(), 7);
        assert_eq!(breaking.related[0].file, "https://github.com/acme/repo-0/catalog-info.yaml");
        assert_eq!(breaking.related[0].position, Position { line: 4, column: 1 });
        assert_eq!(
            breaking.related[0].message,
            "depends on it via component:default/payments-api → component:default/web-0 (owner group:default/team-0)"
        );
        assert!(breaking.hint.as_deref().is_some_and(|hint| hint.contains("--breaking warning")));
        assert_eq!(diagnostics[1].severity, Severity::Note);
        assert_eq!(diagnostics[1].line, 1);

        report.breaking_severity = Severity::Warning;
        assert_eq!(super::diagnostics(&report, &shown)[0].severity, Severity::Warning);
        // Without dependents there is nothing to break.
        report.dependents.clear();
        let codes: Vec<Code> = super::diagnostics(&report, &shown)
            .iter()
            .map(|diagnostic| diagnostic.code)
            .collect();
        assert_eq!(codes, vec![Code::EntityRemoved]);
    }

    #[test]
    fn a_renamed_entity_breaks_at_its_new_place() {
        let to = CatalogEntity {
            entity_ref: "component:default/payments".to_owned(),
            line: 30,
            ..payments_api_in_catalog()
        };
        let changes = ChangeSet {
            renamed: vec![Renamed {
                from: payments_api_in_catalog(),
                to,
                changes: Vec::new(),
            }],
            ..ChangeSet::default()
        };
        let dependents = vec![dependent(
            "component:default/web",
            "group:default/web-team",
            "https://github.com/acme/web",
            1,
        )];
        let report = report(changes, HashMap::from([("component:default/payments-api".to_owned(), dependents)]));
        let diagnostics = diagnostics(&report, &shown);
        let codes: Vec<Code> = diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
        assert_eq!(codes, vec![Code::BreakingChange, Code::EntityRenamed]);
        assert_eq!(diagnostics[0].line, 30);
        assert_eq!(
            diagnostics[0].message,
            "`component:default/payments-api` is renamed to `component:default/payments`, and 1 entity in 1 other repository \
             depends on it: `component:default/web` (owner group:default/web-team)"
        );
        assert!(
            diagnostics[0]
                .hint
                .as_deref()
                .is_some_and(|hint| hint.contains("keep the name `component:default/payments-api`"))
        );
        assert_eq!(
            diagnostics[1].message,
            "`component:default/payments-api` is renamed to `component:default/payments`"
        );
    }

    #[test]
    fn notes_for_added_and_changed_entities_and_an_unknown_repository() {
        let added = CatalogEntity {
            entity_ref: "component:default/new".to_owned(),
            path: "new/catalog-info.yaml".to_owned(),
            line: 3,
            ..payments_api_in_catalog()
        };
        let changed = Changed {
            before: payments_api_in_catalog(),
            after: payments_api_in_catalog(),
            changes: vec![
                FieldChange::Owner {
                    before: Some("group:default/team-pay".to_owned()),
                    after: Some("group:default/team-ledger".to_owned()),
                },
                FieldChange::Tier {
                    before: None,
                    after: Some(1),
                },
            ],
        };
        let changes = ChangeSet {
            added: vec![added],
            changed: vec![changed],
            ..ChangeSet::default()
        };
        let mut report = report(changes, HashMap::new());
        report.catalog_repo = None;
        let diagnostics = diagnostics(&report, &shown);
        let codes: Vec<Code> = diagnostics.iter().map(|diagnostic| diagnostic.code).collect();
        assert_eq!(codes, vec![Code::RepositoryNotInCatalog, Code::EntityAdded, Code::EntityChanged]);
        assert!(diagnostics.iter().all(|diagnostic| diagnostic.severity == Severity::Note));
        let unknown = &diagnostics[0];
        assert_eq!(
            (unknown.file.as_str(), unknown.line, unknown.column),
            ("checkout/new/catalog-info.yaml", 1, 1)
        );
        assert!(
            unknown.message.contains(REPO) && unknown.message.contains("1 entity"),
            "{}",
            unknown.message
        );
        assert_eq!(
            (diagnostics[1].file.as_str(), diagnostics[1].line),
            ("checkout/new/catalog-info.yaml", 3)
        );
        assert_eq!(
            diagnostics[2].message,
            "`component:default/payments-api` changes: owner `group:default/team-pay` → `group:default/team-ledger`; tier none → 1"
        );
    }
}
