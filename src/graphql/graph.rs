//! The graph queries: `dependencies` (either direction, any relation types, with depth, a node
//! cap and every edge between the nodes returned), `impact` (transitive dependents grouped by
//! owner, with risky edges flagged) and `path` (the shortest chain between two entities). Each
//! reads the request's snapshot through the store's walks; entities come from the DataLoaders.

use async_graphql::{Context, Enum, Object, Result};

use super::{Entity, ErrorCode, MAX_PAGE_SIZE, api_error, entities_by_ids, entity_by_id, entity_by_ref, snapshot, store_error};
use crate::domain::RelationType;
use crate::store::{self, RelationSet, WalkSpec};

/// Deepest walk `dependencies` and `impact` accept.
pub const MAX_WALK_DEPTH: i32 = 20;
/// Longest chain `path` looks for.
pub const MAX_PATH_LENGTH: u32 = 12;

/// The graph queries.
#[derive(Default)]
pub struct GraphQuery;

/// Which way `dependencies` walks.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What the entity depends on (consumes, belongs to, is owned by, for those relation types).
    Outgoing,
    /// What depends on the entity (consumes it, is part of it, is owned by it...).
    Incoming,
}

/// The entity `text` names, as an id; `NOT_FOUND` when the catalog has none.
async fn resolve(context: &Context<'_>, text: &str) -> Result<i64> {
    match entity_by_ref(context, text, "component").await? {
        Some(entity) => Ok(entity.record().id),
        None => Err(api_error(
            ErrorCode::NotFound,
            format!("`{}` is not in the catalog", text.trim().escape_debug()),
        )),
    }
}

/// `depth` checked against 1..=[`MAX_WALK_DEPTH`].
fn walk_depth(depth: i32) -> Result<u32> {
    if (1..=MAX_WALK_DEPTH).contains(&depth) {
        Ok(depth.unsigned_abs())
    } else {
        Err(api_error(
            ErrorCode::BadRequest,
            format!("depth must be between 1 and {MAX_WALK_DEPTH}; it was {depth}"),
        ))
    }
}

/// `first` checked against 0..=[`MAX_PAGE_SIZE`].
fn node_cap(first: i32) -> Result<usize> {
    match usize::try_from(first) {
        Ok(checked) if (0..=MAX_PAGE_SIZE).contains(&first) => Ok(checked),
        _ => Err(api_error(
            ErrorCode::PageTooLarge,
            format!("first must be between 0 and {MAX_PAGE_SIZE}; it was {first}"),
        )),
    }
}

/// The relation types named, each with its inverse; the dependency family when none are named.
fn relation_set(names: Option<&[String]>) -> Result<RelationSet> {
    let Some(names) = names else {
        return Ok(RelationSet::dependencies());
    };
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        match RelationType::parse(name.trim()) {
            Some(relation_type) => types.push(relation_type),
            None => {
                let known: Vec<&str> = RelationType::ALL.iter().map(|known| known.as_str()).collect();
                return Err(api_error(
                    ErrorCode::BadRequest,
                    format!("`{}` is not a relation type; known: {}", name.escape_debug(), known.join(", ")),
                ));
            }
        }
    }
    Ok(RelationSet::of(&types))
}

#[Object]
impl GraphQuery {
    /// The entities an entity depends on (OUTGOING) or that depend on it (INCOMING), breadth
    /// first, each once (cycles end the walk), with its depth and the path that reaches it, and
    /// every relation of the walked types between any two of them (the start included).
    /// `relationTypes` names relation types (either spelling of a pair: `partOf` or `hasPart`);
    /// by default the dependency family (dependsOn, consumesApi, providesApi, dependencyOf). An
    /// OUTGOING walk follows dependsOn, consumesApi, apiProvidedBy (an API depends on its
    /// provider), partOf, ownedBy, childOf and memberOf as written, and their inverses backwards.
    /// `depth` is at most 20; `first` (the node cap) at most 500, and `truncated` says whether it
    /// left entities out. An argument given as null takes its default.
    async fn dependencies(
        &self,
        context: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
        #[graphql(default_with = "Some(Direction::Outgoing)")] direction: Option<Direction>,
        #[graphql(default = 1)] depth: Option<i32>,
        relation_types: Option<Vec<String>>,
        #[graphql(default = 200)] first: Option<i32>,
    ) -> Result<DependencyGraph> {
        let spec = WalkSpec {
            direction: match direction.unwrap_or(Direction::Outgoing) {
                Direction::Outgoing => store::Direction::Dependencies,
                Direction::Incoming => store::Direction::Dependents,
            },
            relations: relation_set(relation_types.as_deref())?,
            max_depth: walk_depth(depth.unwrap_or(1))?,
            max_nodes: node_cap(first.unwrap_or(200))?,
        };
        let start = resolve(context, &entity_ref).await?;
        let walk = snapshot(context)?.walk(start, &spec).await.map_err(|error| store_error(&error))?;
        Ok(DependencyGraph(walk))
    }

    /// What breaks if an entity goes down: its transitive dependents (the dependency family)
    /// with depth and path, grouped by owner, and the risky edges among them: an active
    /// (production) or tier-1 entity depending on something deprecated or experimental.
    async fn impact(
        &self,
        context: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
        #[graphql(default = 10)] depth: Option<i32>,
        #[graphql(default = 500)] first: Option<i32>,
    ) -> Result<Impact> {
        let max_depth = walk_depth(depth.unwrap_or(10))?;
        let max_nodes = node_cap(first.unwrap_or(500))?;
        let start = resolve(context, &entity_ref).await?;
        let impact = snapshot(context)?
            .impact(start, max_depth, max_nodes)
            .await
            .map_err(|error| store_error(&error))?;
        Ok(Impact(std::sync::Arc::new(impact)))
    }

    /// The shortest chain of relations (any type, either direction) from one entity to
    /// another, at most 12 steps; null when there is none.
    async fn path(&self, context: &Context<'_>, from: String, to: String) -> Result<Option<EntityPath>> {
        let from = resolve(context, &from).await?;
        let to = resolve(context, &to).await?;
        let path = snapshot(context)?
            .path_between(from, to, MAX_PATH_LENGTH)
            .await
            .map_err(|error| store_error(&error))?;
        Ok(path.map(EntityPath))
    }
}

/// The result of `dependencies`.
pub struct DependencyGraph(store::Walk);

#[Object]
impl DependencyGraph {
    /// The entity the walk starts from.
    async fn root(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        entity_by_id(context, self.0.root_id).await
    }

    /// The entities reached, nearest first.
    async fn nodes(&self) -> Vec<GraphNode<'_>> {
        self.0.nodes.iter().map(GraphNode).collect()
    }

    /// Every relation of the walked types between two of the nodes (the root included), as declared.
    async fn edges(&self) -> Vec<GraphEdge<'_>> {
        self.0.edges.iter().map(GraphEdge).collect()
    }

    /// Whether the node cap (`first`) left out entities the walk would have reached.
    async fn truncated(&self) -> bool {
        self.0.truncated
    }
}

/// An entity reached by a walk.
pub struct GraphNode<'walk>(&'walk store::WalkNode);

#[Object]
impl GraphNode<'_> {
    async fn entity(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        entity_by_id(context, self.0.id).await
    }

    /// Steps from the root (1 for a direct neighbour).
    async fn depth(&self) -> i32 {
        i32::try_from(self.0.depth).unwrap_or(i32::MAX)
    }

    /// The refs from the root to this entity, both included.
    async fn path(&self) -> &[String] {
        &self.0.path
    }
}

/// A declared relation between two entities of a result.
pub struct GraphEdge<'walk>(&'walk store::GraphEdge);

#[Object]
impl GraphEdge<'_> {
    /// The declaring entity's ref.
    async fn from(&self) -> &str {
        &self.0.source_ref
    }

    /// The target's ref.
    async fn to(&self) -> &str {
        &self.0.target_ref
    }

    /// The relation type as declared, e.g. `dependsOn`.
    #[graphql(name = "type")]
    async fn relation_type(&self) -> &'static str {
        self.0.relation_type.as_str()
    }
}

/// The result of `impact`.
pub struct Impact(std::sync::Arc<store::Impact>);

#[Object]
impl Impact {
    /// The entity whose dependents these are.
    async fn root(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        entity_by_id(context, self.0.root_id).await
    }

    /// Every dependent, nearest first.
    async fn nodes(&self) -> Vec<ImpactNode<'_>> {
        self.0.nodes.iter().map(ImpactNode).collect()
    }

    /// The dependents by owner (by owner ref; the unowned last).
    async fn by_owner(&self) -> Vec<OwnerImpact<'_>> {
        self.0.owners.iter().map(|group| OwnerImpact { impact: &self.0, group }).collect()
    }

    /// Every dependency relation between two of the entities (the root included), as declared,
    /// with its risk.
    async fn edges(&self) -> Vec<ImpactEdge<'_>> {
        self.0.edges.iter().map(ImpactEdge).collect()
    }

    /// How many dependents have a risky dependency.
    async fn risky_count(&self) -> i32 {
        let risky = self.0.nodes.iter().filter(|node| node.risk.is_some()).count();
        i32::try_from(risky).unwrap_or(i32::MAX)
    }

    /// Whether the node cap (`first`) left out dependents.
    async fn truncated(&self) -> bool {
        self.0.truncated
    }
}

/// A dependent within an impact.
pub struct ImpactNode<'impact>(&'impact store::ImpactNode);

#[Object]
impl ImpactNode<'_> {
    async fn entity(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        entity_by_id(context, self.0.node.id).await
    }

    /// Steps from the root (1 for a direct dependent).
    async fn depth(&self) -> i32 {
        i32::try_from(self.0.node.depth).unwrap_or(i32::MAX)
    }

    /// The refs from the root to this dependent, both included.
    async fn path(&self) -> &[String] {
        &self.0.node.path
    }

    /// The owner's ref (resolved, else as declared); null when unowned.
    async fn owner_ref(&self) -> Option<&str> {
        self.0.owner_ref.as_deref()
    }

    /// Whether it is active (production) or tier 1 and depends, within this result, on
    /// something deprecated or experimental.
    async fn risky(&self) -> bool {
        self.0.risk.is_some()
    }

    /// Why it is risky (its first risky dependency, by ref).
    async fn risk_reason(&self) -> Option<&str> {
        self.0.risk.as_ref().map(|risk| risk.reason.as_str())
    }
}

/// The dependents of one owner.
pub struct OwnerImpact<'impact> {
    impact: &'impact store::Impact,
    group: &'impact store::OwnerGroup,
}

#[Object]
impl OwnerImpact<'_> {
    /// The owner entity; null when unowned or when the owner is not in the catalog.
    async fn owner(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        match self.group.owner_id {
            Some(owner) => entity_by_id(context, owner).await,
            None => Ok(None),
        }
    }

    /// The owner's ref (resolved, else as declared); null for the unowned.
    async fn owner_ref(&self) -> Option<&str> {
        self.group.owner_ref.as_deref()
    }

    /// Its dependents, nearest first.
    async fn entities(&self, context: &Context<'_>) -> Result<Vec<Entity>> {
        let ids: Vec<i64> = self.members().map(|node| node.node.id).collect();
        entities_by_ids(context, &ids).await
    }

    /// Its dependents with depth, path and risk, nearest first.
    async fn nodes(&self) -> Vec<ImpactNode<'_>> {
        self.members().map(ImpactNode).collect()
    }

    /// How many of its dependents have a risky dependency.
    async fn risky_count(&self) -> i32 {
        let risky = self.members().filter(|node| node.risk.is_some()).count();
        i32::try_from(risky).unwrap_or(i32::MAX)
    }
}

impl OwnerImpact<'_> {
    fn members(&self) -> impl Iterator<Item = &store::ImpactNode> {
        self.group.members.iter().filter_map(|position| self.impact.nodes.get(*position))
    }
}

/// A dependency relation within an impact.
pub struct ImpactEdge<'impact>(&'impact store::ImpactEdge);

#[Object]
impl ImpactEdge<'_> {
    /// The declaring entity's ref.
    async fn from(&self) -> &str {
        &self.0.edge.source_ref
    }

    /// The target's ref.
    async fn to(&self) -> &str {
        &self.0.edge.target_ref
    }

    /// The relation type as declared.
    #[graphql(name = "type")]
    async fn relation_type(&self) -> &'static str {
        self.0.edge.relation_type.as_str()
    }

    /// The ref of the entity that depends (the target, for providesApi and dependencyOf).
    async fn dependent(&self) -> &str {
        if store::points_outward(self.0.edge.relation_type) {
            &self.0.edge.source_ref
        } else {
            &self.0.edge.target_ref
        }
    }

    /// The ref of the entity depended on.
    async fn dependency(&self) -> &str {
        if store::points_outward(self.0.edge.relation_type) {
            &self.0.edge.target_ref
        } else {
            &self.0.edge.source_ref
        }
    }

    /// Whether an active (production) or tier-1 entity depends here on something deprecated or experimental.
    async fn risky(&self) -> bool {
        self.0.risk.is_some()
    }

    async fn risk_reason(&self) -> Option<&str> {
        self.0.risk.as_ref().map(|risk| risk.reason.as_str())
    }
}

/// The shortest chain between two entities.
pub struct EntityPath(store::EntityPath);

#[Object]
impl EntityPath {
    /// The refs along the chain, both ends included.
    async fn refs(&self) -> &[String] {
        &self.0.refs
    }

    /// The entities along the chain, both ends included.
    async fn entities(&self, context: &Context<'_>) -> Result<Vec<Entity>> {
        entities_by_ids(context, &self.0.ids).await
    }

    /// The relation linking each consecutive pair, as declared (so `from` and `to` may run
    /// against the chain's direction).
    async fn steps(&self) -> Vec<GraphEdge<'_>> {
        self.0.steps.iter().map(GraphEdge).collect()
    }

    /// How many steps the chain has.
    async fn length(&self) -> i32 {
        i32::try_from(self.0.steps.len()).unwrap_or(i32::MAX)
    }
}
