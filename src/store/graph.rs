//! Graph queries over the catalog: walks along chosen relation types in either direction (with a
//! depth limit, a node cap and cycle safety), impact analysis grouped by owner with risky edges,
//! the shortest path between two entities, ownership through sub-groups, and cycles.
//!
//! Walks are breadth-first on the caller's [`Snapshot`], with one indexed query per level (`= ANY`
//! over the frontier): each node is visited once, so cycles end the walk, and the node cap bounds
//! the work even on dense graphs. A walk whose frontier fans out switches to the whole graph in
//! memory, which is kept tagged with the catalog version and used only by snapshots of that version.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError};

use serde::Serialize;
use sqlx::Row;

use super::{Snapshot, Store, StoreError};
use crate::domain::{RelationType, find_cycles};

/// Which way a walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Outgoing: what the entity needs, belongs to or is owned by (its dependencies).
    Dependencies,
    /// Incoming: what needs the entity, or is part of or owned by it (what breaks if it goes down).
    Dependents,
}

/// An entity as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntitySummary {
    pub id: i64,
    pub entity_ref: String,
    pub title: Option<String>,
    pub owner_ref: Option<String>,
}

/// An entity reached by a walk: how many steps from the start, and the entity it was reached
/// through (the start itself at depth 1). Together the results form the walk's breadth-first
/// tree, from which [`paths`] spells out each path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependent {
    pub entity_ref: String,
    pub depth: u32,
    pub via: String,
}

/// The path from the start to each dependent (refs, start first), in the order given.
pub fn paths(start: &str, dependents: &[Dependent]) -> Vec<Vec<String>> {
    let via: HashMap<&str, &str> = dependents
        .iter()
        .map(|dependent| (dependent.entity_ref.as_str(), dependent.via.as_str()))
        .collect();
    dependents
        .iter()
        .map(|dependent| {
            let mut path = vec![dependent.entity_ref.clone()];
            let mut current = dependent.entity_ref.as_str();
            // Bounded by the number of dependents, so a malformed tree cannot loop.
            for _ in 0..dependents.len() {
                if current == start {
                    break;
                }
                let Some(&previous) = via.get(current) else { break };
                path.push(previous.to_owned());
                current = previous;
            }
            path.reverse();
            path
        })
        .collect()
}

/// A declared relation as stored, seen from one entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationRow {
    pub relation_type: String,
    pub target_ref: String,
    pub resolved: bool,
}

/// Whether a declared relation of this type points the way an outgoing walk goes: from the
/// entity that depends, consumes, belongs or is owned, to what it depends on, consumes, belongs
/// to or is owned by. An API depends on the component that provides it, so `apiProvidedBy`
/// points outwards and `providesApi` inwards.
pub fn points_outward(relation_type: RelationType) -> bool {
    use RelationType::*;
    matches!(
        relation_type,
        DependsOn | ConsumesApi | ApiProvidedBy | PartOf | OwnedBy | ChildOf | MemberOf
    )
}

/// A set of relation types (a bit per [`RelationType`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelationSet(u32);

impl RelationSet {
    fn bit(relation_type: RelationType) -> u32 {
        let position = RelationType::ALL
            .iter()
            .position(|known| *known == relation_type)
            .unwrap_or_default();
        1 << position
    }

    /// The given types, each with its inverse (both spellings of one fact).
    pub fn of(relation_types: &[RelationType]) -> RelationSet {
        RelationSet(relation_types.iter().fold(0, |bits, relation_type| {
            bits | Self::bit(*relation_type) | Self::bit(relation_type.inverse())
        }))
    }

    /// The dependency family: dependsOn/dependencyOf, consumesApi/apiConsumedBy and
    /// providesApi/apiProvidedBy.
    pub fn dependencies() -> RelationSet {
        RelationSet::of(&[RelationType::DependsOn, RelationType::ConsumesApi, RelationType::ProvidesApi])
    }

    /// Every relation type.
    pub fn everything() -> RelationSet {
        RelationSet::of(&RelationType::ALL)
    }

    pub fn contains(self, relation_type: RelationType) -> bool {
        self.0 & Self::bit(relation_type) != 0
    }

    /// The members whose declared edges point outwards (`true`) or inwards (`false`), spelled
    /// as stored.
    #[cfg(test)]
    fn names(self, outward: bool) -> Vec<&'static str> {
        RelationType::ALL
            .into_iter()
            .filter(|relation_type| self.contains(*relation_type) && points_outward(*relation_type) == outward)
            .map(RelationType::as_str)
            .collect()
    }

    /// The members spelled as stored.
    fn all_names(self) -> Vec<&'static str> {
        RelationType::ALL
            .into_iter()
            .filter(|relation_type| self.contains(*relation_type))
            .map(RelationType::as_str)
            .collect()
    }
}

/// What a walk follows, how far, and how many entities it may return.
#[derive(Debug, Clone, Copy)]
pub struct WalkSpec {
    pub direction: Direction,
    pub relations: RelationSet,
    /// Steps from the start (1: direct neighbours only).
    pub max_depth: u32,
    /// Entities returned at most (the start not counted).
    pub max_nodes: usize,
}

/// An entity reached by a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkNode {
    pub id: i64,
    pub entity_ref: String,
    /// Steps from the start (1 for a direct neighbour).
    pub depth: u32,
    /// The refs from the start to this entity, both included (one shortest way).
    pub path: Vec<String>,
}

/// A declared relation between two entities of a result, in its declared direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    pub source_id: i64,
    pub source_ref: String,
    pub relation_type: RelationType,
    pub target_id: i64,
    pub target_ref: String,
}

/// The result of a walk: the entities reached, nearest first (then by ref), and every relation of the walked
/// types between any two of them (the start included).
#[derive(Debug, Clone)]
pub struct Walk {
    pub root_id: i64,
    pub root_ref: String,
    pub nodes: Vec<WalkNode>,
    pub edges: Vec<GraphEdge>,
    /// Whether the node cap left out entities the walk would otherwise have reached.
    pub truncated: bool,
}

/// Why a dependency is risky: an active (production) or tier-1 entity depends on something
/// deprecated or experimental.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    pub dependent_ref: String,
    pub dependency_ref: String,
    pub reason: String,
}

/// An entity that depends, directly or not, on the impact's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactNode {
    pub node: WalkNode,
    /// The owner it resolves to (any kind), as id and ref.
    pub owner_id: Option<i64>,
    /// The resolved owner's ref, else the owner as declared, else `None` (unowned).
    pub owner_ref: Option<String>,
    /// The first of its risky dependencies within the result (the start included), by ref.
    pub risk: Option<Risk>,
}

/// A dependency edge of an impact, with its risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactEdge {
    pub edge: GraphEdge,
    pub risk: Option<Risk>,
}

/// The dependents of one owner within an impact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerGroup {
    /// The owner entity, when the owner resolves.
    pub owner_id: Option<i64>,
    /// The owner's ref (resolved or as declared); `None` for the unowned.
    pub owner_ref: Option<String>,
    /// Positions in [`Impact::nodes`], nearest first.
    pub members: Vec<usize>,
}

/// What breaks if an entity goes down: its transitive dependents with depth and path, grouped
/// by owner, and the risky edges among them.
#[derive(Debug, Clone)]
pub struct Impact {
    pub root_id: i64,
    pub root_ref: String,
    pub nodes: Vec<ImpactNode>,
    pub edges: Vec<ImpactEdge>,
    /// By owner ref; the unowned last.
    pub owners: Vec<OwnerGroup>,
    pub truncated: bool,
}

/// The shortest chain of relations between two entities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityPath {
    pub ids: Vec<i64>,
    pub refs: Vec<String>,
    /// The relation that links each consecutive pair, in its declared direction.
    pub steps: Vec<GraphEdge>,
}

/// The catalog's resolved relations in memory, as of one catalog version.
#[derive(Debug)]
pub(crate) struct GraphSnapshot {
    version: i64,
    /// Entity → (type, target) of the relations it declares.
    declared: HashMap<i64, Vec<(RelationType, i64)>>,
    /// Entity → (type, source) of the relations declared towards it.
    received: HashMap<i64, Vec<(RelationType, i64)>>,
    refs: HashMap<i64, String>,
}

/// The kept in-memory graph, and a lock so that one snapshot at a time loads it; and the
/// whole-catalog figures that only an apply changes (cycles, problem counts, statistics), each kept with
/// the catalog version it was computed at.
#[derive(Debug, Default)]
pub(crate) struct GraphCache {
    kept: std::sync::Mutex<Option<Arc<GraphSnapshot>>>,
    loading: tokio::sync::Mutex<()>,
    cycles: VersionSlot<Arc<Vec<super::Cycle>>>,
    pub(crate) problem_counts: VersionSlot<super::ProblemCounts>,
    pub(crate) stats: VersionSlot<super::CatalogStats>,
}

/// A value kept with the catalog version it was computed at.
pub(crate) type VersionSlot<T> = std::sync::Mutex<Option<(i64, T)>>;

/// The value kept in `slot` for catalog `version`, if any.
pub(crate) fn kept_for<T: Clone>(slot: &VersionSlot<T>, version: i64) -> Option<T> {
    let kept = slot.lock().unwrap_or_else(PoisonError::into_inner);
    kept.as_ref().filter(|(at, _)| *at == version).map(|(_, value)| value.clone())
}

/// Keeps `value` as of catalog `version` in `slot`, unless a newer one is there.
pub(crate) fn keep_for<T>(slot: &VersionSlot<T>, version: i64, value: T) {
    let mut kept = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.as_ref().is_none_or(|(at, _)| *at <= version) {
        *kept = Some((version, value));
    }
}

impl GraphCache {
    fn kept(&self) -> Option<Arc<GraphSnapshot>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn keep(&self, graph: Arc<GraphSnapshot>) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.as_ref().is_none_or(|kept| kept.version <= graph.version) {
            *kept = Some(graph);
        }
    }
}

/// A walk whose frontier grows past this many nodes switches to an in-memory walk.
const LARGE_FRONTIER: usize = 256;
/// Past this many ids, references are read with one scan of the entities.
const LARGE_RESULT: usize = 4_096;

/// One step of a breadth-first walk: `node` reached from `from` along a declared relation.
#[derive(Debug, Clone, Copy)]
struct Step {
    node: i64,
    from: i64,
    source: i64,
    relation_type: RelationType,
    target: i64,
}

/// What a breadth-first walk reached: the order of discovery, the step that reached each node,
/// and each node's depth.
struct Reached {
    order: Vec<i64>,
    step_to: HashMap<i64, Step>,
    depth_of: HashMap<i64, u32>,
    truncated: bool,
    graph: Option<Arc<GraphSnapshot>>,
}

impl Reached {
    /// The ids from the start to `node`, both included.
    fn chain(&self, start: i64, node: i64) -> Vec<i64> {
        let mut chain = vec![node];
        let mut current = node;
        while current != start {
            let Some(step) = self.step_to.get(&current) else { break };
            chain.push(step.from);
            current = step.from;
            if chain.len() > self.order.len() + 1 {
                break;
            }
        }
        chain.reverse();
        chain
    }
}

/// Whether a lifecycle counts as active (in production).
fn is_active(lifecycle: Option<&str>) -> bool {
    lifecycle.is_some_and(|lifecycle| lifecycle.eq_ignore_ascii_case("production") || lifecycle.eq_ignore_ascii_case("active"))
}

/// Whether a lifecycle is one that dependents should not rely on.
fn is_fragile(lifecycle: Option<&str>) -> bool {
    lifecycle.is_some_and(|lifecycle| {
        ["deprecated", "experimental", "pre-release"]
            .iter()
            .any(|fragile| lifecycle.eq_ignore_ascii_case(fragile))
    })
}

/// What impact analysis needs to know of an entity.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
struct Facts {
    id: i64,
    lifecycle: Option<String>,
    tier: Option<i16>,
    declared_owner: Option<String>,
    owner_id: Option<i64>,
    owner_ref: Option<String>,
}

/// The risk of `dependent` depending on `dependency`, if any.
fn risk_of(dependent_ref: &str, dependent: &Facts, dependency_ref: &str, dependency: &Facts) -> Option<Risk> {
    let dependency_lifecycle = dependency.lifecycle.as_deref().filter(|lifecycle| is_fragile(Some(lifecycle)))?;
    let why = if is_active(dependent.lifecycle.as_deref()) {
        format!("is {}", dependent.lifecycle.as_deref().unwrap_or_default())
    } else if dependent.tier == Some(1) {
        "is tier 1".to_owned()
    } else {
        return None;
    };
    Some(Risk {
        dependent_ref: dependent_ref.to_owned(),
        dependency_ref: dependency_ref.to_owned(),
        reason: format!("{dependent_ref} {why} and depends on {dependency_ref}, which is {dependency_lifecycle}"),
    })
}

/// The risk of `dependent` (with its lifecycle and tier) depending on `dependency` (with its
/// lifecycle), by the rule [`Snapshot::impact`] flags edges with: for callers that already hold
/// both entities (the dashboard's graph picture).
pub fn dependency_risk(
    dependent_ref: &str,
    dependent_lifecycle: Option<&str>,
    dependent_tier: Option<i16>,
    dependency_ref: &str,
    dependency_lifecycle: Option<&str>,
) -> Option<Risk> {
    let facts = |lifecycle: Option<&str>, tier: Option<i16>| Facts {
        lifecycle: lifecycle.map(str::to_owned),
        tier,
        ..Facts::default()
    };
    risk_of(
        dependent_ref,
        &facts(dependent_lifecycle, dependent_tier),
        dependency_ref,
        &facts(dependency_lifecycle, None),
    )
}

impl Snapshot {
    /// The id of an entity reference (canonical: `kind:namespace/name`, any case).
    pub async fn entity_id(&self, entity_ref: &str) -> Result<i64, StoreError> {
        let mut connection = self.connection().await?;
        sqlx::query_scalar("SELECT id FROM entities WHERE entity_ref = $1")
            .bind(entity_ref.trim().to_ascii_lowercase())
            .fetch_optional(&mut *connection)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("`{entity_ref}`")))
    }

    /// The kept in-memory graph, if it is of this snapshot's catalog version.
    async fn current_graph(&self) -> Result<Option<Arc<GraphSnapshot>>, StoreError> {
        let Some(kept) = self.store().graph.kept() else { return Ok(None) };
        let version = self.catalog_version().await?;
        Ok((kept.version == version).then_some(kept))
    }

    /// The in-memory graph of this snapshot's version: the kept one, or read now (one snapshot
    /// at a time reads it; the others wait and then use it when their version is the same).
    async fn graph_in_memory(&self) -> Result<Arc<GraphSnapshot>, StoreError> {
        let cache = &self.store().graph;
        let _loading = cache.loading.lock().await;
        if let Some(graph) = self.current_graph().await? {
            return Ok(graph);
        }
        let version = self.catalog_version().await?;
        let mut connection = self.connection().await?;
        let relations: Vec<(i64, String, i64)> =
            sqlx::query_as("SELECT source_id, type, target_id FROM relations WHERE target_id IS NOT NULL")
                .fetch_all(&mut *connection)
                .await?;
        let refs: HashMap<i64, String> = sqlx::query_as::<_, (i64, String)>("SELECT id, entity_ref FROM entities")
            .fetch_all(&mut *connection)
            .await?
            .into_iter()
            .collect();
        drop(connection);
        let mut graph = GraphSnapshot {
            version,
            declared: HashMap::new(),
            received: HashMap::new(),
            refs,
        };
        for (source, relation_type, target) in relations {
            let Some(relation_type) = RelationType::parse(&relation_type) else {
                continue;
            };
            graph.declared.entry(source).or_default().push((relation_type, target));
            graph.received.entry(target).or_default().push((relation_type, source));
        }
        let graph = Arc::new(graph);
        cache.keep(graph.clone());
        Ok(graph)
    }

    /// The refs of `ids`, from the in-memory graph when there is one.
    async fn refs_of(&self, graph: Option<&GraphSnapshot>, ids: Vec<i64>) -> Result<HashMap<i64, String>, StoreError> {
        if let Some(graph) = graph {
            return Ok(ids
                .into_iter()
                .filter_map(|id| graph.refs.get(&id).map(|entity_ref| (id, entity_ref.clone())))
                .collect());
        }
        let mut connection = self.connection().await?;
        let query = if ids.len() > LARGE_RESULT {
            // Reading the whole table is cheaper than probing thousands of ids.
            sqlx::query_as::<_, (i64, String)>("SELECT id, entity_ref FROM entities")
        } else {
            sqlx::query_as::<_, (i64, String)>("SELECT id, entity_ref FROM entities WHERE id = ANY($1)").bind(ids)
        };
        Ok(query.fetch_all(&mut *connection).await?.into_iter().collect())
    }

    /// One level of a walk: the relations of `from_source` types declared by frontier nodes
    /// (towards their targets), and of `from_target` types declared towards them (towards their
    /// sources). Sorted by frontier position, then by the ref of the node reached, so that a walk
    /// is the same whatever the ids and whichever way the edges are read.
    async fn step(
        &self,
        graph: Option<&GraphSnapshot>,
        frontier: &[i64],
        from_source: RelationSet,
        from_target: RelationSet,
    ) -> Result<Vec<Step>, StoreError> {
        // The refs of the nodes reached, when read from the database.
        let mut refs: HashMap<i64, String> = HashMap::new();
        let mut steps: Vec<Step> = match graph {
            Some(graph) => {
                let mut steps = Vec::new();
                for &from in frontier {
                    for &(relation_type, target) in graph.declared.get(&from).into_iter().flatten() {
                        if from_source.contains(relation_type) {
                            steps.push(Step {
                                node: target,
                                from,
                                source: from,
                                relation_type,
                                target,
                            });
                        }
                    }
                    for &(relation_type, source) in graph.received.get(&from).into_iter().flatten() {
                        if from_target.contains(relation_type) {
                            steps.push(Step {
                                node: source,
                                from,
                                source,
                                relation_type,
                                target: from,
                            });
                        }
                    }
                }
                steps
            }
            None => {
                let mut connection = self.connection().await?;
                // Each row is one step: towards the target (true) or towards the source, with the
                // ref of the node reached.
                let rows: Vec<(i64, String, i64, bool, String)> = sqlx::query_as(
                    "SELECT r.source_id, r.type, r.target_id, true, e.entity_ref FROM relations r JOIN entities e ON e.id = r.target_id
                     WHERE r.source_id = ANY($1) AND r.type = ANY($2)
                     UNION ALL
                     SELECT r.source_id, r.type, r.target_id, false, e.entity_ref FROM relations r JOIN entities e ON e.id = r.source_id
                     WHERE r.target_id = ANY($1) AND r.type = ANY($3)",
                )
                .bind(frontier)
                .bind(from_source.all_names())
                .bind(from_target.all_names())
                .fetch_all(&mut *connection)
                .await?;
                let mut steps = Vec::with_capacity(rows.len());
                for (source, relation_type, target, towards_target, node_ref) in rows {
                    let Some(relation_type) = RelationType::parse(&relation_type) else {
                        continue;
                    };
                    let (node, from) = if towards_target { (target, source) } else { (source, target) };
                    refs.insert(node, node_ref);
                    steps.push(Step {
                        node,
                        from,
                        source,
                        relation_type,
                        target,
                    });
                }
                steps
            }
        };
        let position: HashMap<i64, usize> = frontier.iter().enumerate().map(|(index, id)| (*id, index)).collect();
        let ref_of = |id: i64| -> &str {
            match graph {
                Some(graph) => graph.refs.get(&id),
                None => refs.get(&id),
            }
            .map_or("", String::as_str)
        };
        steps.sort_by(|left, right| {
            let key = |step: &Step| (position.get(&step.from).copied().unwrap_or(usize::MAX), step.node);
            (key(left).0, ref_of(left.node), key(left).1).cmp(&(key(right).0, ref_of(right.node), key(right).1))
        });
        steps.dedup_by_key(|step| (step.from, step.node));
        Ok(steps)
    }

    /// Breadth-first from `start`; stops at `max_depth`, at `max_nodes` nodes (flagging the
    /// result truncated when more were reachable), or once `goal` is reached.
    async fn breadth_first(
        &self,
        start: i64,
        from_source: RelationSet,
        from_target: RelationSet,
        max_depth: u32,
        max_nodes: usize,
        goal: Option<i64>,
    ) -> Result<Reached, StoreError> {
        let mut reached = Reached {
            order: Vec::new(),
            step_to: HashMap::new(),
            depth_of: HashMap::from([(start, 0)]),
            truncated: false,
            graph: self.current_graph().await?,
        };
        let mut frontier = vec![start];
        let mut depth = 0;
        'walk: while !frontier.is_empty() && depth < max_depth {
            depth += 1;
            let steps = self.step(reached.graph.as_deref(), &frontier, from_source, from_target).await?;
            let mut next = Vec::new();
            for step in steps {
                if reached.depth_of.contains_key(&step.node) {
                    continue;
                }
                if reached.order.len() >= max_nodes {
                    reached.truncated = true;
                    break 'walk;
                }
                reached.depth_of.insert(step.node, depth);
                reached.step_to.insert(step.node, step);
                reached.order.push(step.node);
                next.push(step.node);
                if goal == Some(step.node) {
                    break 'walk;
                }
            }
            frontier = next;
            if reached.graph.is_none() && frontier.len() > LARGE_FRONTIER {
                reached.graph = Some(self.graph_in_memory().await?);
            }
        }
        // A walk that filled its cap exactly at the last level may still have had more to reach.
        if !reached.truncated && reached.order.len() >= max_nodes && !frontier.is_empty() && depth < max_depth {
            let steps = self.step(reached.graph.as_deref(), &frontier, from_source, from_target).await?;
            reached.truncated = steps.iter().any(|step| !reached.depth_of.contains_key(&step.node));
        }
        Ok(reached)
    }

    /// Every declared relation of `relations` types between two of `ids`, sorted by source ref,
    /// type and target ref.
    async fn edges_among(
        &self,
        graph: Option<&GraphSnapshot>,
        ids: &[i64],
        relations: RelationSet,
        refs: &HashMap<i64, String>,
    ) -> Result<Vec<GraphEdge>, StoreError> {
        let members: HashSet<i64> = ids.iter().copied().collect();
        let rows: Vec<(i64, RelationType, i64)> = match graph {
            Some(graph) => ids
                .iter()
                .flat_map(|source| {
                    graph
                        .declared
                        .get(source)
                        .into_iter()
                        .flatten()
                        .filter(|(relation_type, target)| relations.contains(*relation_type) && members.contains(target))
                        .map(|(relation_type, target)| (*source, *relation_type, *target))
                })
                .collect(),
            None => {
                let mut connection = self.connection().await?;
                let rows: Vec<(i64, String, i64)> = sqlx::query_as(
                    "SELECT source_id, type, target_id FROM relations WHERE source_id = ANY($1) AND target_id = ANY($1) AND type = ANY($2)",
                )
                .bind(ids)
                .bind(relations.all_names())
                .fetch_all(&mut *connection)
                .await?;
                rows.into_iter()
                    .filter_map(|(source, relation_type, target)| {
                        RelationType::parse(&relation_type).map(|parsed| (source, parsed, target))
                    })
                    .collect()
            }
        };
        let mut edges: Vec<GraphEdge> = rows
            .into_iter()
            .filter_map(|(source, relation_type, target)| {
                Some(GraphEdge {
                    source_id: source,
                    source_ref: refs.get(&source)?.clone(),
                    relation_type,
                    target_id: target,
                    target_ref: refs.get(&target)?.clone(),
                })
            })
            .collect();
        edges.sort_by(|left, right| {
            (&left.source_ref, left.relation_type.as_str(), &left.target_ref).cmp(&(
                &right.source_ref,
                right.relation_type.as_str(),
                &right.target_ref,
            ))
        });
        Ok(edges)
    }

    /// A walk from `start`: the entities reached with their depth and path, nearest first, and
    /// every relation of the walked types between them (the start included).
    pub async fn walk(&self, start: i64, spec: &WalkSpec) -> Result<Walk, StoreError> {
        let outward = RelationSet(
            RelationType::ALL
                .into_iter()
                .filter(|relation_type| spec.relations.contains(*relation_type) && points_outward(*relation_type))
                .fold(0, |bits, relation_type| bits | RelationSet::bit(relation_type)),
        );
        let inward = RelationSet(spec.relations.0 & !outward.0);
        let (from_source, from_target) = match spec.direction {
            Direction::Dependencies => (outward, inward),
            Direction::Dependents => (inward, outward),
        };
        let reached = self
            .breadth_first(start, from_source, from_target, spec.max_depth, spec.max_nodes, None)
            .await?;
        let ids: Vec<i64> = std::iter::once(start).chain(reached.order.iter().copied()).collect();
        let refs = self.refs_of(reached.graph.as_deref(), ids.clone()).await?;
        let ref_of = |id: &i64| refs.get(id).cloned().unwrap_or_default();
        let mut nodes: Vec<WalkNode> = reached
            .order
            .iter()
            .map(|node| WalkNode {
                id: *node,
                entity_ref: ref_of(node),
                depth: reached.depth_of.get(node).copied().unwrap_or_default(),
                path: reached.chain(start, *node).iter().map(ref_of).collect(),
            })
            .collect();
        // Nearest first, then by ref: the same order whichever way the edges were read.
        nodes.sort_by(|left, right| (left.depth, &left.entity_ref).cmp(&(right.depth, &right.entity_ref)));
        let edges = self.edges_among(reached.graph.as_deref(), &ids, spec.relations, &refs).await?;
        Ok(Walk {
            root_id: start,
            root_ref: ref_of(&start),
            nodes,
            edges,
            truncated: reached.truncated,
        })
    }

    /// What breaks if `start` goes down: its transitive dependents (the dependency family), each
    /// with depth, path, owner and the first risky dependency it has within the result.
    pub async fn impact(&self, start: i64, max_depth: u32, max_nodes: usize) -> Result<Impact, StoreError> {
        let spec = WalkSpec {
            direction: Direction::Dependents,
            relations: RelationSet::dependencies(),
            max_depth,
            max_nodes,
        };
        let walk = self.walk(start, &spec).await?;
        let ids: Vec<i64> = std::iter::once(start).chain(walk.nodes.iter().map(|node| node.id)).collect();
        let facts = self.facts(&ids).await?;
        let no_facts = Facts::default();
        let facts_of = |id: i64| facts.get(&id).unwrap_or(&no_facts);
        // Each edge in dependency order: (dependent, dependency).
        let edges: Vec<ImpactEdge> = walk
            .edges
            .into_iter()
            .map(|edge| {
                let (dependent, dependency) = if points_outward(edge.relation_type) {
                    ((edge.source_id, &edge.source_ref), (edge.target_id, &edge.target_ref))
                } else {
                    ((edge.target_id, &edge.target_ref), (edge.source_id, &edge.source_ref))
                };
                let risk = risk_of(dependent.1, facts_of(dependent.0), dependency.1, facts_of(dependency.0));
                ImpactEdge { edge, risk }
            })
            .collect();
        let mut first_risk: HashMap<&str, &Risk> = HashMap::new();
        for risk in edges.iter().filter_map(|edge| edge.risk.as_ref()) {
            first_risk
                .entry(risk.dependent_ref.as_str())
                .and_modify(|kept| {
                    if risk.dependency_ref < kept.dependency_ref {
                        *kept = risk;
                    }
                })
                .or_insert(risk);
        }
        let nodes: Vec<ImpactNode> = walk
            .nodes
            .into_iter()
            .map(|node| {
                let facts = facts_of(node.id);
                ImpactNode {
                    owner_id: facts.owner_id,
                    owner_ref: facts.owner_ref.clone().or_else(|| facts.declared_owner.clone()),
                    risk: first_risk.get(node.entity_ref.as_str()).map(|risk| (*risk).clone()),
                    node,
                }
            })
            .collect();
        let mut groups: HashMap<(Option<i64>, Option<String>), Vec<usize>> = HashMap::new();
        for (position, node) in nodes.iter().enumerate() {
            let key = match node.owner_id {
                Some(owner) => (Some(owner), None),
                None => (None, node.owner_ref.clone()),
            };
            groups.entry(key).or_default().push(position);
        }
        let mut owners: Vec<OwnerGroup> = groups
            .into_iter()
            .map(|((owner_id, declared), members)| OwnerGroup {
                owner_id,
                owner_ref: declared.or_else(|| members.first().and_then(|first| nodes[*first].owner_ref.clone())),
                members,
            })
            .collect();
        owners.sort_by(|left, right| match (&left.owner_ref, &right.owner_ref) {
            (Some(left), Some(right)) => left.cmp(right),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        Ok(Impact {
            root_id: walk.root_id,
            root_ref: walk.root_ref,
            nodes,
            edges,
            owners,
            truncated: walk.truncated,
        })
    }

    /// Lifecycle, tier and owner of each of `ids`, in one query.
    async fn facts(&self, ids: &[i64]) -> Result<HashMap<i64, Facts>, StoreError> {
        let mut connection = self.connection().await?;
        let rows: Vec<Facts> = sqlx::query_as(
            "SELECT e.id, e.lifecycle, e.tier, e.owner_ref AS declared_owner, owner.id AS owner_id, owner.entity_ref AS owner_ref
             FROM entities e
             LEFT JOIN LATERAL (
                 SELECT o.id, o.entity_ref FROM relations r JOIN entities o ON o.id = r.target_id
                 WHERE r.source_id = e.id AND r.type = 'ownedBy' ORDER BY o.entity_ref LIMIT 1
             ) owner ON true
             WHERE e.id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&mut *connection)
        .await?;
        Ok(rows.into_iter().map(|facts| (facts.id, facts)).collect())
    }

    /// The shortest chain of resolved relations (either direction, any type) from `from` to
    /// `to`, or `None` when they are not connected within `max_depth` steps.
    pub async fn path_between(&self, from: i64, to: i64, max_depth: u32) -> Result<Option<EntityPath>, StoreError> {
        let everything = RelationSet::everything();
        let reached = if from == to {
            None
        } else {
            Some(
                self.breadth_first(from, everything, everything, max_depth, usize::MAX, Some(to))
                    .await?,
            )
        };
        let (ids, steps): (Vec<i64>, Vec<Step>) = match &reached {
            None => (vec![from], Vec::new()),
            Some(reached) if reached.depth_of.contains_key(&to) => {
                let ids = reached.chain(from, to);
                let steps = ids.iter().skip(1).filter_map(|id| reached.step_to.get(id).copied()).collect();
                (ids, steps)
            }
            Some(_) => return Ok(None),
        };
        let graph = reached.as_ref().and_then(|reached| reached.graph.clone());
        let refs = self.refs_of(graph.as_deref(), ids.clone()).await?;
        let ref_of = |id: &i64| refs.get(id).cloned().unwrap_or_default();
        Ok(Some(EntityPath {
            refs: ids.iter().map(ref_of).collect(),
            steps: steps
                .iter()
                .map(|step| GraphEdge {
                    source_id: step.source,
                    source_ref: ref_of(&step.source),
                    relation_type: step.relation_type,
                    target_id: step.target,
                    target_ref: ref_of(&step.target),
                })
                .collect(),
            ids,
        }))
    }

    /// Loops in dependency, partOf and Group parent chains: per tangle of entities that reach each
    /// other, the short loops [`find_cycles`] picks, each as the refs around it starting at the
    /// smallest, sorted. The same catalog always gives the same loops (nodes are numbered in ref
    /// order). Only an apply changes them: they are computed once per catalog version and kept.
    pub async fn cycles(&self) -> Result<Arc<Vec<super::Cycle>>, StoreError> {
        let version = self.catalog_version().await?;
        let slot = &self.store().graph.cycles;
        if let Some(cycles) = kept_for(slot, version) {
            return Ok(cycles);
        }
        let cycles = Arc::new(self.find_all_cycles().await?);
        keep_for(slot, version, Arc::clone(&cycles));
        Ok(cycles)
    }

    /// [`Snapshot::cycles`], computed: every resolved relation of the three families read, then
    /// searched.
    async fn find_all_cycles(&self) -> Result<Vec<super::Cycle>, StoreError> {
        let edges: Vec<(i64, i64, String)> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT source_id, target_id, type FROM relations
                 WHERE target_id IS NOT NULL AND type IN ('dependsOn', 'partOf', 'childOf', 'parentOf', 'dependencyOf')",
            )
            .fetch_all(&mut *connection)
            .await?
        };
        let mut ids: Vec<i64> = edges.iter().flat_map(|(source, target, _)| [*source, *target]).collect();
        ids.sort_unstable();
        ids.dedup();
        let refs = self.refs_of(self.current_graph().await?.as_deref(), ids.clone()).await?;
        // Nodes numbered in ref order and edges sorted, so the search (and its ties) never
        // depends on ids or on the order rows come back in.
        let ref_of = |id: &i64| refs.get(id).map_or("", String::as_str);
        ids.sort_unstable_by(|left, right| ref_of(left).cmp(ref_of(right)).then(left.cmp(right)));
        let index: HashMap<i64, usize> = ids.iter().enumerate().map(|(position, id)| (*id, position)).collect();
        let mut cycles = Vec::new();
        for family in [&["dependsOn", "dependencyOf"][..], &["partOf"], &["childOf", "parentOf"]] {
            let mut graph: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
            for (source, target, relation_type) in edges
                .iter()
                .filter(|(_, _, relation_type)| family.contains(&relation_type.as_str()))
            {
                // Inverse declarations point the other way: B dependencyOf A means A dependsOn B.
                let (from, to) = if matches!(relation_type.as_str(), "dependencyOf" | "parentOf") {
                    (target, source)
                } else {
                    (source, target)
                };
                graph[index[from]].push(index[to]);
            }
            for targets in &mut graph {
                targets.sort_unstable();
                targets.dedup();
            }
            for found in find_cycles(&graph) {
                cycles.push(super::Cycle {
                    refs: found.nodes.iter().map(|&position| ref_of(&ids[position]).to_owned()).collect(),
                    tangle_size: found.tangle_size,
                });
            }
        }
        cycles.sort_by(|left, right| left.refs.cmp(&right.refs));
        Ok(cycles)
    }
}

impl Store {
    /// The id of an entity reference (canonical, lowercased).
    pub async fn entity_id(&self, entity_ref: &str) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT id FROM entities WHERE entity_ref = $1")
            .bind(entity_ref.to_ascii_lowercase())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("`{entity_ref}`")))
    }

    /// Direct (`max_depth` 1) or transitive dependencies or dependents along the dependency
    /// family, nearest first, each entity once, at most `max_nodes` of them.
    pub async fn walk_dependencies(
        &self,
        start: i64,
        direction: Direction,
        max_depth: u32,
        max_nodes: usize,
    ) -> Result<Vec<Dependent>, StoreError> {
        let spec = WalkSpec {
            direction,
            relations: RelationSet::dependencies(),
            max_depth,
            max_nodes,
        };
        let walk = self.snapshot().walk(start, &spec).await?;
        Ok(walk
            .nodes
            .into_iter()
            .map(|node| Dependent {
                via: node.path.iter().rev().nth(1).cloned().unwrap_or_default(),
                entity_ref: node.entity_ref,
                depth: node.depth,
            })
            .collect())
    }

    /// The shortest chain of resolved relations (either direction, any type) between two
    /// entities, as refs, or `None` when they are not connected within `max_depth` steps.
    pub async fn path_between(&self, from: i64, to: i64, max_depth: u32) -> Result<Option<Vec<String>>, StoreError> {
        Ok(self.snapshot().path_between(from, to, max_depth).await?.map(|path| path.refs))
    }

    /// Loops in dependency, partOf and Group parent chains, each as the refs around it (see
    /// [`Snapshot::cycles`]).
    pub async fn cycles(&self) -> Result<Vec<Vec<String>>, StoreError> {
        Ok(self.snapshot().cycles().await?.iter().map(|cycle| cycle.refs.clone()).collect())
    }

    /// The entities owned by a group or by any of its sub-groups (or by a user).
    pub async fn owned_by(&self, owner: i64) -> Result<Vec<EntitySummary>, StoreError> {
        let rows = sqlx::query(
            "WITH RECURSIVE teams(id) AS (
                 SELECT $1::bigint
                 UNION
                 SELECT child.id FROM teams
                 JOIN LATERAL (
                     SELECT source_id AS id FROM relations WHERE target_id = teams.id AND type = 'childOf'
                     UNION
                     SELECT target_id FROM relations WHERE source_id = teams.id AND type = 'parentOf' AND target_id IS NOT NULL
                 ) child ON true
             )
             SELECT e.id, e.entity_ref, e.title, e.owner_ref FROM relations r JOIN entities e ON e.id = r.source_id
             WHERE r.type = 'ownedBy' AND r.target_id IN (SELECT id FROM teams)
             ORDER BY e.entity_ref",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| EntitySummary {
                id: row.get(0),
                entity_ref: row.get(1),
                title: row.get(2),
                owner_ref: row.get(3),
            })
            .collect())
    }

    /// An entity's declared relations and the inverse edges other entities declare towards it.
    pub async fn relations_of(&self, id: i64) -> Result<(Vec<RelationRow>, Vec<RelationRow>), StoreError> {
        let outgoing = sqlx::query_as::<_, (String, String, bool)>(
            "SELECT type, target_ref, target_id IS NOT NULL FROM relations WHERE source_id = $1 ORDER BY type, target_ref",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let incoming = sqlx::query_as::<_, (String, String)>("SELECT r.type, e.entity_ref FROM relations r JOIN entities e ON e.id = r.source_id WHERE r.target_id = $1 ORDER BY r.type, e.entity_ref")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let outgoing = outgoing
            .into_iter()
            .map(|(relation_type, target_ref, resolved)| RelationRow {
                relation_type,
                target_ref,
                resolved,
            })
            .collect();
        let incoming = incoming
            .into_iter()
            .map(|(relation_type, source_ref)| RelationRow {
                relation_type: RelationType::parse(&relation_type)
                    .map_or(relation_type.clone(), |parsed| parsed.inverse().as_str().to_owned()),
                target_ref: source_ref,
                resolved: true,
            })
            .collect();
        Ok((outgoing, incoming))
    }

    /// One entity with its provenance and its file's diagnostics, as JSON.
    pub async fn entity_details(&self, id: i64) -> Result<serde_json::Value, StoreError> {
        let row = sqlx::query(
            "SELECT e.entity_ref, e.title, e.description, e.type, e.lifecycle, e.tier, e.owner_ref, e.system_ref, e.domain_ref, e.tags,
                    e.file_path, e.document_index, e.line, e.format, e.commit_id, r.url, r.status, r.error, e.repo_id,
                    (SELECT o.entity_ref FROM relations x JOIN entities o ON o.id = x.target_id WHERE x.source_id = e.id AND x.type = 'ownedBy' LIMIT 1),
                    e.stale_reason
             FROM entities e JOIN repos r ON r.id = e.repo_id WHERE e.id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        let repo_id: i64 = row.get(18);
        let file_path: String = row.get(10);
        let diagnostics = sqlx::query_as::<_, (i32, i32, String, String, String)>(
            "SELECT line, col, code, severity, message FROM diagnostics WHERE repo_id = $1 AND file_path = $2 ORDER BY line, col",
        )
        .bind(repo_id)
        .bind(&file_path)
        .fetch_all(&self.pool)
        .await?;
        Ok(serde_json::json!({
            "ref": row.get::<String, _>(0),
            "title": row.get::<Option<String>, _>(1),
            "description": row.get::<Option<String>, _>(2),
            "type": row.get::<Option<String>, _>(3),
            "lifecycle": row.get::<Option<String>, _>(4),
            "tier": row.get::<Option<i16>, _>(5),
            "owner": row.get::<Option<String>, _>(6),
            "ownerResolved": row.get::<Option<String>, _>(19),
            "system": row.get::<Option<String>, _>(7),
            "domain": row.get::<Option<String>, _>(8),
            "tags": row.get::<Vec<String>, _>(9),
            "provenance": {
                "repo": row.get::<String, _>(15),
                "repoStatus": row.get::<String, _>(16),
                "repoError": row.get::<Option<String>, _>(17),
                "file": file_path,
                "document": row.get::<i32, _>(11),
                "line": row.get::<i32, _>(12),
                "format": row.get::<String, _>(13),
                "commit": row.get::<String, _>(14),
                "staleReason": row.get::<Option<String>, _>(20),
            },
            "diagnostics": diagnostics.into_iter().map(|(line, column, code, severity, message)| serde_json::json!({
                "line": line, "column": column, "code": code, "severity": severity, "message": message,
            })).collect::<Vec<_>>(),
        }))
    }

    /// The label (URL, and branch when set), status and error of the repositories named that are
    /// not `ok`.
    pub async fn unhealthy_repos(&self, repos: &[super::RepoKey]) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
        let urls: Vec<&str> = repos.iter().map(|key| key.url.as_str()).collect();
        let branches: Vec<Option<&str>> = repos.iter().map(|key| key.branch.as_deref()).collect();
        let rows: Vec<(String, Option<String>, String, Option<String>)> = sqlx::query_as(
            "SELECT r.url, r.branch, r.status, r.error
             FROM repos r JOIN UNNEST($1::text[], $2::text[]) AS w (url, branch) ON r.url = w.url AND r.branch IS NOT DISTINCT FROM w.branch
             WHERE r.status <> 'ok' ORDER BY r.url, r.branch",
        )
        .bind(&urls)
        .bind(&branches)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(url, branch, status, error)| (super::repo_label(&url, branch.as_deref()), status, error))
            .collect())
    }

    /// Every entity reference in the catalog, for suggestions when one is not found: the refs
    /// with the same name first (any kind or namespace), else all of them.
    pub async fn suggestion_candidates(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let same_name: Vec<String> =
            sqlx::query_scalar("SELECT entity_ref FROM entities WHERE lower(name) = $1 ORDER BY entity_ref LIMIT 20")
                .bind(name.to_ascii_lowercase())
                .fetch_all(&self.pool)
                .await?;
        if !same_name.is_empty() {
            return Ok(same_name);
        }
        Ok(sqlx::query_scalar("SELECT entity_ref FROM entities").fetch_all(&self.pool).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_of_relation_types_is_one_fact_with_one_outward_spelling() {
        let dependencies = RelationSet::dependencies();
        assert_eq!(dependencies.names(true), vec!["apiProvidedBy", "consumesApi", "dependsOn"]);
        assert_eq!(dependencies.names(false), vec!["providesApi", "apiConsumedBy", "dependencyOf"]);
        assert_eq!(RelationSet::of(&[RelationType::HasPart]), RelationSet::of(&[RelationType::PartOf]));
        assert!(!dependencies.contains(RelationType::OwnedBy));
        for relation_type in RelationType::ALL {
            assert_ne!(
                points_outward(relation_type),
                points_outward(relation_type.inverse()),
                "{relation_type:?}"
            );
        }
    }

    #[test]
    fn only_an_active_or_tier_one_entity_on_a_fragile_dependency_is_risky() {
        let facts = |lifecycle: &str, tier: Option<i16>| Facts {
            lifecycle: Some(lifecycle.to_owned()),
            tier,
            ..Facts::default()
        };
        let risk = risk_of(
            "component:default/a",
            &facts("production", None),
            "component:default/b",
            &facts("deprecated", None),
        );
        assert_eq!(
            risk.map(|risk| risk.reason),
            Some("component:default/a is production and depends on component:default/b, which is deprecated".to_owned())
        );
        assert!(risk_of("a", &facts("experimental", Some(1)), "b", &facts("Pre-release", None)).is_some());
        assert!(risk_of("a", &facts("Active", None), "b", &facts("Deprecated", None)).is_some());
        assert!(risk_of("a", &facts("experimental", Some(2)), "b", &facts("deprecated", None)).is_none());
        assert!(risk_of("a", &facts("production", None), "b", &facts("production", None)).is_none());
    }

    #[test]
    fn paths_stop_at_the_start_and_survive_a_broken_tree() {
        let dependent = |entity_ref: &str, via: &str| Dependent {
            entity_ref: entity_ref.to_owned(),
            depth: 1,
            via: via.to_owned(),
        };
        let walk = [dependent("b", "a"), dependent("c", "b")];
        assert_eq!(paths("a", &walk), vec![vec!["a", "b"], vec!["a", "b", "c"]]);
        let looped = [dependent("b", "c"), dependent("c", "b")];
        assert!(paths("a", &looped).iter().all(|path| path.len() <= 3));
    }
}
