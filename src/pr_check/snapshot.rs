//! Catalog snapshots: the file `sextant export --format json` writes (every entity with its
//! provenance and declared relations, in reference order), and the catalog read back from it for
//! CI runners that cannot reach the server.
//!
//! The file is one JSON object, its header first and one entity a line:
//!
//! ```text
//! {"format":"sextant-catalog-snapshot","version":1,"exportedAt":"2026-12-01T10:00:00Z",
//!  "repos":[{"url":"https://github.com/acme/pay","branch":null},...],"entities":[
//! {"ref":"component:default/pay-api","repo":"https://github.com/acme/pay","branch":null,"path":"catalog-info.yaml",
//!  "line":1,"documentIndex":0,"ownerRef":"group:default/pay-team","lifecycle":"production","tier":1,
//!  "systemRef":"system:default/pay","aliases":[],"relations":[{"type":"dependsOn","target":"resource:default/pay-db"}]},
//! ...
//! ]}
//! ```
//!
//! - `format` is always [`SNAPSHOT_FORMAT`]; `version` is [`SNAPSHOT_VERSION`], bumped by any change
//!   a reader of an older version would misread. A reader refuses another version.
//! - `exportedAt`: when the catalog was read (RFC 3339, UTC); the whole file is one consistent
//!   read of the catalog.
//! - `repos`: every repository the catalog crawls (`url` as configured, `branch` null when it
//!   follows the remote's default branch), sorted by url then branch. A repository without
//!   entities is listed too: the check then knows the catalog has it, empty.
//! - `entities`: [`CatalogEntity`] objects sorted by `ref` (canonical, lowercase); `ownerRef` is
//!   the resolved owner's reference, else the owner as written; `aliases` sorted; `relations`
//!   the ones the entity declares, sorted by type then target, each target as written (a
//!   canonical reference, or an alias such as a Compass ARI), as the API's `targetRef` shows it.
//!
//! A snapshot is read whole into memory, so files over [`MAX_SNAPSHOT_BYTES`] are refused before
//! reading; the reverse index that [`SnapshotCatalog::dependents`] walks is built once at load.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};

use super::{CatalogEntity, CatalogError, CatalogRepo, Dependent, repo_identity};
use crate::domain::{DEFAULT_NAMESPACE, EntityRef, RelationType};
use crate::store::{RelationSet, points_outward};

/// The `format` of a snapshot file.
pub const SNAPSHOT_FORMAT: &str = "sextant-catalog-snapshot";
/// The `version` of the format this sextant writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;
/// The largest snapshot file read (1 GiB): it is held in memory whole.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// How deep [`SnapshotCatalog::dependents`] walks, as the server's `impact` does by default.
pub const IMPACT_MAX_DEPTH: u32 = 10;
/// How many dependents of one entity are listed at most, as the server's `impact` by default.
pub const IMPACT_MAX_NODES: usize = 500;

/// A snapshot file, loaded.
pub struct SnapshotCatalog {
    /// Sorted by reference, each reference once.
    entities: Vec<CatalogEntity>,
    /// Sorted by url then branch.
    repos: Vec<CatalogRepo>,
    /// Reference → position in `entities`.
    by_ref: HashMap<String, usize>,
    /// Alias → position of the entity answering to it (the smallest reference when several do).
    by_alias: HashMap<String, usize>,
    /// Position → the positions one step of a dependents walk reaches from it (what depends on
    /// it through a resolved relation of the dependency family), ascending: reference order.
    dependents_of: Vec<Vec<usize>>,
}

impl SnapshotCatalog {
    /// Reads a snapshot file, refusing one over [`MAX_SNAPSHOT_BYTES`].
    pub fn load(path: &Path) -> Result<SnapshotCatalog, CatalogError> {
        SnapshotCatalog::load_with_cap(path, MAX_SNAPSHOT_BYTES)
    }

    /// Reads a snapshot file, refusing one over `max_bytes` before reading it.
    pub fn load_with_cap(path: &Path, max_bytes: u64) -> Result<SnapshotCatalog, CatalogError> {
        let refuse = |reason: String| CatalogError::Snapshot {
            path: path.display().to_string(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|error| refuse(format!("it cannot be read: {error}")))?;
        let size = file
            .metadata()
            .map_err(|error| refuse(format!("it cannot be read: {error}")))?
            .len();
        if size == 0 && file.metadata().is_ok_and(|metadata| metadata.is_file()) {
            return Err(refuse("it is empty (an export that failed?)".to_owned()));
        }
        if size > max_bytes {
            return Err(refuse(format!(
                "it is {} bytes, more than the {} bytes a snapshot may have",
                group_digits(size),
                group_digits(max_bytes)
            )));
        }
        // A file that grows after the check (or a pipe) is read up to the cap only, and then
        // seen as truncated.
        let reader = BufReader::with_capacity(1 << 16, file.take(max_bytes));
        let (repos, entities) = read_snapshot(reader).map_err(refuse)?;
        Ok(SnapshotCatalog::new(repos, entities))
    }

    /// The catalog of these repositories and entities (sorted and indexed here).
    pub fn new(mut repos: Vec<CatalogRepo>, mut entities: Vec<CatalogEntity>) -> SnapshotCatalog {
        repos.sort_by(|left, right| (&left.url, &left.branch).cmp(&(&right.url, &right.branch)));
        repos.dedup();
        entities.sort_by(|left, right| left.entity_ref.cmp(&right.entity_ref));
        entities.dedup_by(|later, earlier| later.entity_ref == earlier.entity_ref);
        let by_ref: HashMap<String, usize> = entities
            .iter()
            .enumerate()
            .map(|(position, entity)| (entity.entity_ref.clone(), position))
            .collect();
        let mut by_alias: HashMap<String, usize> = HashMap::new();
        for (position, entity) in entities.iter().enumerate() {
            for alias in &entity.aliases {
                // Entities come in reference order: the first holder is the smallest reference.
                by_alias.entry(alias.clone()).or_insert(position);
            }
        }
        let dependencies = RelationSet::dependencies();
        let mut dependents_of: Vec<Vec<usize>> = vec![Vec::new(); entities.len()];
        for (source, entity) in entities.iter().enumerate() {
            for edge in &entity.relations {
                let Some(relation_type) = RelationType::parse(&edge.relation_type) else {
                    continue;
                };
                if !dependencies.contains(relation_type) {
                    continue;
                }
                // Only resolved relations are walked: the target (as written: a reference or an
                // alias) is an entity of the snapshot.
                let Some(&target) = by_ref.get(&edge.target).or_else(|| by_alias.get(&edge.target)) else {
                    continue;
                };
                // `A dependsOn B`, `A consumesApi B` and `A apiProvidedBy B`: A depends on B.
                // The inverse spellings point inwards: `B dependencyOf A` means A depends on B.
                let (dependent, dependency) = if points_outward(relation_type) {
                    (source, target)
                } else {
                    (target, source)
                };
                dependents_of[dependency].push(dependent);
            }
        }
        for reached in &mut dependents_of {
            reached.sort_unstable();
            reached.dedup();
        }
        SnapshotCatalog {
            entities,
            repos,
            by_ref,
            by_alias,
            dependents_of,
        }
    }

    /// Every entity, sorted by reference.
    pub fn entities(&self) -> &[CatalogEntity] {
        &self.entities
    }

    /// Every repository of the header, sorted by url then branch.
    pub fn repos(&self) -> &[CatalogRepo] {
        &self.repos
    }

    /// The position of the entity `text` names: a reference as people write it (any case, the
    /// kind defaulting to component and the namespace to `default`, as the API reads them),
    /// else an alias (exactly as written, without surrounding spaces).
    fn position_of(&self, text: &str) -> Option<usize> {
        let trimmed = text.trim();
        EntityRef::parse(trimmed, Some("component"), DEFAULT_NAMESPACE)
            .ok()
            .and_then(|entity_ref| self.by_ref.get(&entity_ref.to_string()))
            .or_else(|| self.by_alias.get(trimmed))
            .copied()
    }

    /// The entities answering to each of `refs` (references or aliases, as written), keyed by
    /// the text given; what the snapshot does not hold is absent.
    pub fn lookup(&self, refs: &[String]) -> HashMap<String, CatalogEntity> {
        refs.iter()
            .filter_map(|text| Some((text.clone(), self.entities[self.position_of(text)?].clone())))
            .collect()
    }

    /// The repositories that name the same repository as `url` (see [`repo_identity`]), every
    /// branch, sorted by url then branch.
    pub fn repositories(&self, url: &str) -> Vec<CatalogRepo> {
        let wanted = repo_identity(url);
        self.repos
            .iter()
            .filter(|repo| repo_identity(&repo.url) == wanted)
            .cloned()
            .collect()
    }

    /// The entities of this repository (its URL exactly) and branch, sorted by reference.
    pub fn repository_entities(&self, repo: &CatalogRepo) -> Vec<CatalogEntity> {
        self.entities
            .iter()
            .filter(|entity| entity.repo == repo.url && entity.branch == repo.branch)
            .cloned()
            .collect()
    }

    /// The transitive dependents of each of `refs` (keyed by the text given), as the server's
    /// `impact` walks them: breadth first along resolved relations of the dependency family,
    /// each entity once (so a cycle ends the walk), at most [`IMPACT_MAX_DEPTH`] steps and
    /// [`IMPACT_MAX_NODES`] dependents, nearest first then by reference. Each path is the one
    /// the walk found first (from the earliest entity of the level before, by reference).
    pub fn dependents(&self, refs: &[String]) -> HashMap<String, Vec<Dependent>> {
        refs.iter()
            .map(|text| {
                let found = self
                    .position_of(text)
                    .map(|start| self.walk_dependents(start, IMPACT_MAX_DEPTH, IMPACT_MAX_NODES))
                    .unwrap_or_default();
                (text.clone(), found)
            })
            .collect()
    }

    fn walk_dependents(&self, start: usize, max_depth: u32, max_nodes: usize) -> Vec<Dependent> {
        // Position → (depth, the position it was reached from).
        let mut reached: HashMap<usize, (u32, usize)> = HashMap::new();
        let mut seen: HashSet<usize> = HashSet::from([start]);
        let mut order: Vec<usize> = Vec::new();
        let mut frontier = vec![start];
        let mut depth = 0;
        'walk: while !frontier.is_empty() && depth < max_depth {
            depth += 1;
            let mut next = Vec::new();
            for &from in &frontier {
                for &node in &self.dependents_of[from] {
                    if !seen.insert(node) {
                        continue;
                    }
                    if order.len() >= max_nodes {
                        break 'walk;
                    }
                    reached.insert(node, (depth, from));
                    order.push(node);
                    next.push(node);
                }
            }
            frontier = next;
        }
        let chain = |node: usize| -> Vec<String> {
            let mut chain = vec![node];
            let mut current = node;
            while current != start {
                let Some(&(_, from)) = reached.get(&current) else { break };
                chain.push(from);
                current = from;
            }
            chain
                .iter()
                .rev()
                .map(|&position| self.entities[position].entity_ref.clone())
                .collect()
        };
        let mut dependents: Vec<Dependent> = order
            .iter()
            .map(|&node| {
                let entity = &self.entities[node];
                let depth = reached.get(&node).map_or(0, |&(depth, _)| depth);
                Dependent {
                    declares_reference: depth == 1
                        && entity
                            .relations
                            .iter()
                            .any(|edge| self.by_ref.get(&edge.target).or_else(|| self.by_alias.get(&edge.target)) == Some(&start)),
                    entity_ref: entity.entity_ref.clone(),
                    owner_ref: entity.owner_ref.clone(),
                    repo: entity.repo.clone(),
                    branch: entity.branch.clone(),
                    file: entity.path.clone(),
                    line: entity.line,
                    depth,
                    path: chain(node),
                }
            })
            .collect();
        dependents.sort_by(|left, right| (left.depth, &left.entity_ref).cmp(&(right.depth, &right.entity_ref)));
        dependents
    }
}

/// Reads a snapshot's repositories and entities; the error is the reason, for people.
fn read_snapshot(reader: impl Read) -> Result<(Vec<CatalogRepo>, Vec<CatalogEntity>), String> {
    let refusal: Cell<Option<String>> = Cell::new(None);
    let format_seen = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let parsed = SnapshotSeed {
        refusal: &refusal,
        format_seen: &format_seen,
    }
    .deserialize(&mut deserializer)
    .and_then(|parsed| deserializer.end().map(|()| parsed));
    match parsed {
        Ok(parsed) => Ok(parsed),
        Err(error) => Err(match refusal.take() {
            Some(reason) => reason,
            None => match error.classify() {
                serde_json::error::Category::Io => format!("it cannot be read: {error}"),
                serde_json::error::Category::Eof => format!(
                    "it ends before the snapshot does (truncated?) at line {} column {}",
                    error.line(),
                    error.column()
                ),
                serde_json::error::Category::Syntax if !format_seen.get() => {
                    format!("it is not a sextant snapshot (not JSON: {error})")
                }
                serde_json::error::Category::Syntax => format!("it is not valid JSON: {error}"),
                serde_json::error::Category::Data if !format_seen.get() => format!("it is not a sextant snapshot: {error}"),
                serde_json::error::Category::Data => format!("it holds something other than a snapshot's entity: {error}"),
            },
        }),
    }
}

/// The top-level object of a snapshot, checked as it is read: the format and version (which
/// come first in every file sextant writes) are refused before any entity is read.
struct SnapshotSeed<'a> {
    /// Why the file is refused, when it is for its meaning rather than its syntax.
    refusal: &'a Cell<Option<String>>,
    /// Whether a valid `format` was read (a syntax error after it is a broken snapshot, one
    /// before it a file of something else).
    format_seen: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for SnapshotSeed<'_> {
    type Value = (Vec<CatalogRepo>, Vec<CatalogEntity>);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SnapshotSeed<'_> {
    type Value = (Vec<CatalogRepo>, Vec<CatalogEntity>);

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "a JSON object with \"format\": \"{SNAPSHOT_FORMAT}\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut version_seen = false;
        let mut repos: Option<Vec<CatalogRepo>> = None;
        let mut entities: Option<Vec<CatalogEntity>> = None;
        let refuse = |reason: String| {
            self.refusal.set(Some(reason.clone()));
            A::Error::custom(reason)
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let format: serde_json::Value = map.next_value()?;
                    if format.as_str() != Some(SNAPSHOT_FORMAT) {
                        return Err(refuse(format!(
                            "it is not a sextant snapshot (its format is {format}, not \"{SNAPSHOT_FORMAT}\")"
                        )));
                    }
                    self.format_seen.set(true);
                }
                "version" => {
                    let version: serde_json::Value = map.next_value()?;
                    if version.as_u64() != Some(u64::from(SNAPSHOT_VERSION)) {
                        return Err(refuse(format!(
                            "it is a snapshot of format version {version}; this sextant reads version {SNAPSHOT_VERSION} \
                             (export it again with this version of sextant)"
                        )));
                    }
                    version_seen = true;
                }
                "repos" => repos = Some(map.next_value()?),
                "entities" if self.format_seen.get() && !version_seen => {
                    return Err(refuse(format!(
                        "it does not say its format version before its entities (this sextant reads version {SNAPSHOT_VERSION})"
                    )));
                }
                "entities" => entities = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !self.format_seen.get() {
            return Err(refuse(format!(
                "it is not a sextant snapshot (it has no \"format\": \"{SNAPSHOT_FORMAT}\")"
            )));
        }
        if !version_seen {
            return Err(refuse(format!(
                "it does not say its format version (this sextant reads version {SNAPSHOT_VERSION})"
            )));
        }
        let Some(repos) = repos else {
            return Err(refuse("it has no list of repositories (\"repos\")".to_owned()));
        };
        let Some(entities) = entities else {
            return Err(refuse("it has no list of entities (\"entities\")".to_owned()));
        };
        Ok((repos, entities))
    }
}

/// `1073741824` → `1,073,741,824`.
pub(crate) fn group_digits(number: u64) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pr_check::DeclaredEdge;

    fn entity(entity_ref: &str, relations: &[(&str, &str)]) -> CatalogEntity {
        CatalogEntity {
            entity_ref: entity_ref.to_owned(),
            repo: "https://example.com/acme/a".to_owned(),
            branch: None,
            path: "catalog-info.yaml".to_owned(),
            line: 1,
            document_index: 0,
            owner_ref: Some("group:default/team".to_owned()),
            lifecycle: None,
            tier: None,
            system_ref: None,
            aliases: Vec::new(),
            relations: relations
                .iter()
                .map(|(relation_type, target)| DeclaredEdge {
                    relation_type: (*relation_type).to_owned(),
                    target: (*target).to_owned(),
                })
                .collect(),
        }
    }

    fn refs(dependents: &[Dependent]) -> Vec<(&str, u32)> {
        dependents
            .iter()
            .map(|dependent| (dependent.entity_ref.as_str(), dependent.depth))
            .collect()
    }

    #[test]
    fn every_spelling_of_a_dependency_is_walked_the_way_impact_walks_it() {
        let catalog = SnapshotCatalog::new(
            Vec::new(),
            vec![
                entity("component:default/db-client", &[("dependsOn", "resource:default/db")]),
                entity("resource:default/db", &[("dependencyOf", "component:default/reporting")]),
                entity("api:default/db-api", &[("apiProvidedBy", "resource:default/db")]),
                entity("component:default/web", &[("consumesApi", "api:default/db-api")]),
                entity("component:default/owner-only", &[("ownedBy", "resource:default/db")]),
                entity("component:default/dangling", &[("dependsOn", "resource:default/gone")]),
                entity("component:default/reporting", &[]),
            ],
        );
        let found = catalog.dependents(&["resource:db".to_owned(), "component:nothing".to_owned()]);
        let db = &found["resource:db"];
        assert_eq!(
            refs(db),
            vec![
                ("api:default/db-api", 1),
                ("component:default/db-client", 1),
                ("component:default/reporting", 1),
                ("component:default/web", 2),
            ]
        );
        assert_eq!(
            db[3].path,
            vec!["resource:default/db", "api:default/db-api", "component:default/web"]
        );
        assert!(found["component:nothing"].is_empty());
    }

    #[test]
    fn a_cycle_ends_the_walk_and_the_cap_bounds_it() {
        let catalog = SnapshotCatalog::new(
            Vec::new(),
            vec![
                entity("component:default/a", &[("dependsOn", "component:default/b")]),
                entity("component:default/b", &[("dependsOn", "component:default/c")]),
                entity("component:default/c", &[("dependsOn", "component:default/a")]),
            ],
        );
        let found = catalog.dependents(&["component:default/a".to_owned()]);
        assert_eq!(
            refs(&found["component:default/a"]),
            vec![("component:default/c", 1), ("component:default/b", 2)]
        );
        let start = catalog.by_ref["component:default/a"];
        assert_eq!(catalog.walk_dependents(start, 10, 1).len(), 1);
        assert_eq!(catalog.walk_dependents(start, 1, 10).len(), 1);
    }

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1_000), "1,000");
        assert_eq!(group_digits(1_073_741_824), "1,073,741,824");
    }
}
