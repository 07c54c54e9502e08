//! The `Entity` interface and its object types, one per kind (Component, Api, Resource, System,
//! Domain, Group, User, Location, Template), built from the store's `EntityRecord`. Owners,
//! systems, relation targets, diagnostics and group members are read through the request's
//! DataLoaders.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::{Context, Enum, Interface, Lookahead, Object, Result, SimpleObject};

use super::loaders::{DeclaredBy, DeclaredTowards, DefinitionOf, EntityId, EntityRefKey, FileKey, OwnedBy, load_many, load_one};
use super::{ErrorCode, api_error};
use crate::domain::{DEFAULT_NAMESPACE, EntityRef, RelationType};
use crate::store::read::{self, EntityRecord};

/// An entity of the catalog, of any kind.
// Clippy takes the interface's repeated `field(...)` arguments for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(Interface, Clone)]
#[graphql(
    name = "Entity",
    field(
        name = "ref",
        method = "entity_ref",
        ty = "String",
        desc = "The canonical reference, `kind:namespace/name`, lowercased."
    ),
    field(
        name = "kind",
        ty = "String",
        desc = "The kind as Backstage spells it: Component, API, Resource, System, Domain, Group, User, Location or Template."
    ),
    field(name = "namespace", ty = "String"),
    field(name = "name", ty = "String"),
    field(name = "title", ty = "Option<String>"),
    field(name = "description", ty = "Option<String>"),
    field(
        name = "type",
        method = "entity_type",
        ty = "Option<String>",
        desc = "`spec.type` (a Compass component's type); null for kinds without one."
    ),
    field(name = "lifecycle", ty = "Option<String>"),
    field(name = "tier", ty = "Option<i32>", desc = "The Compass tier, 1 (most critical) to 4."),
    field(name = "tags", ty = "Vec<String>"),
    field(
        name = "aliases",
        ty = "Vec<String>",
        desc = "Other identifiers the entity answers to in references: a Compass component `id`, ARIs listed in `sextant.dev/aliases`."
    ),
    field(name = "labels", ty = "Vec<KeyValue>"),
    field(name = "annotations", ty = "Vec<KeyValue>"),
    field(name = "links", ty = "Vec<Link>"),
    field(name = "owner_ref", ty = "Option<String>", desc = "The owner as written in the descriptor."),
    field(
        name = "owner",
        ty = "Option<Entity>",
        desc = "The owner entity, or null when the owner is not in the catalog."
    ),
    field(name = "system_ref", ty = "Option<String>"),
    field(name = "system", ty = "Option<System>"),
    field(name = "domain_ref", ty = "Option<String>"),
    field(name = "domain", ty = "Option<Domain>"),
    field(name = "provenance", ty = "Provenance"),
    field(
        name = "relations",
        ty = "Vec<Relation>",
        arg(name = "direction", ty = "Option<RelationDirection>"),
        arg(name = "types", ty = "Option<Vec<String>>")
    ),
    field(
        name = "diagnostics",
        ty = "Vec<Diagnostic>",
        desc = "The diagnostics of the entity's descriptor file."
    )
)]
pub enum Entity {
    Component(Component),
    Api(Api),
    Resource(Resource),
    System(System),
    Domain(Domain),
    Group(Group),
    User(User),
    Location(Location),
    Template(Template),
}

impl Entity {
    /// The object type of the record's kind.
    pub fn from_record(record: Arc<EntityRecord>) -> Entity {
        let node = EntityNode(record);
        match node.0.kind.as_str() {
            "api" => Entity::Api(Api(node)),
            "resource" => Entity::Resource(Resource(node)),
            "system" => Entity::System(System(node)),
            "domain" => Entity::Domain(Domain(node)),
            "group" => Entity::Group(Group(node)),
            "user" => Entity::User(User(node)),
            "location" => Entity::Location(Location(node)),
            "template" => Entity::Template(Template(node)),
            "component" => Entity::Component(Component(node)),
            other => {
                // The descriptor readers admit only the kinds above.
                tracing::warn!(entity.kind = other, entity.r#ref = %node.0.entity_ref, "an entity of an unknown kind is shown as a Component");
                Entity::Component(Component(node))
            }
        }
    }

    /// The record behind the object.
    pub fn record(&self) -> &Arc<EntityRecord> {
        match self {
            Entity::Component(Component(node))
            | Entity::Api(Api(node))
            | Entity::Resource(Resource(node))
            | Entity::System(System(node))
            | Entity::Domain(Domain(node))
            | Entity::Group(Group(node))
            | Entity::User(User(node))
            | Entity::Location(Location(node))
            | Entity::Template(Template(node)) => &node.0,
        }
    }
}

/// The Backstage spelling of a (lowercased) kind.
fn kind_name(kind: &str) -> String {
    match kind {
        "component" => "Component".to_owned(),
        "api" => "API".to_owned(),
        "resource" => "Resource".to_owned(),
        "system" => "System".to_owned(),
        "domain" => "Domain".to_owned(),
        "group" => "Group".to_owned(),
        "user" => "User".to_owned(),
        "location" => "Location".to_owned(),
        "template" => "Template".to_owned(),
        other => other.to_owned(),
    }
}

/// Parses a reference as people type it: surrounding spaces ignored, any case, the kind and
/// namespace defaulted (`default_kind`, then `default`) as in descriptors.
pub fn parse_ref(text: &str, default_kind: &str) -> Result<EntityRef> {
    let trimmed = text.trim();
    EntityRef::parse(trimmed, Some(default_kind), DEFAULT_NAMESPACE)
        .map_err(|error| api_error(ErrorCode::BadRequest, format!("the reference `{}` {error}", trimmed.escape_debug())))
}

/// The entity with this id, if it exists.
pub async fn entity_by_id(context: &Context<'_>, id: i64) -> Result<Option<Entity>> {
    Ok(load_one(context, EntityId(id)).await?.map(Entity::from_record))
}

/// The entities with these ids, in the order given, without the ids that do not exist; one
/// statement for all of them (and none for those already loaded by the request).
pub async fn entities_by_ids(context: &Context<'_>, ids: &[i64]) -> Result<Vec<Entity>> {
    let loaded = load_many(context, ids.iter().copied().map(EntityId)).await?;
    Ok(ids
        .iter()
        .filter_map(|id| loaded.get(&EntityId(*id)).cloned().map(Entity::from_record))
        .collect())
}

/// The entity a typed reference names (see [`parse_ref`]), else the entity that answers to the
/// text as an alias (a Compass component id or ARI); `None` when nothing does.
pub async fn entity_by_ref(context: &Context<'_>, text: &str, default_kind: &str) -> Result<Option<Entity>> {
    let entity_ref = parse_ref(text, default_kind)?;
    if let Some(record) = load_one(context, EntityRefKey(entity_ref.to_string())).await? {
        return Ok(Some(Entity::from_record(record)));
    }
    let snapshot = super::snapshot(context)?;
    let aliased = read::entity_ids_by_aliases(snapshot, &[text.trim().to_owned()])
        .await
        .map_err(|error| super::store_error(&error))?;
    match aliased.first() {
        Some((_, id)) => entity_by_id(context, *id).await,
        None => Ok(None),
    }
}

/// Fields whose resolvers read an entity's relations (declared and towards it).
const RELATION_FIELDS: &[&str] = &["owner", "relations", "members", "parent", "children", "groups", "owned"];

/// Loads, for a list of entities, what `selection` will ask of each of them, a level at a time:
/// their relations, then the entities at the other end (owners, relation targets), systems and
/// domains, and diagnostics, each with one statement for the whole list. The resolvers then
/// find it in the request's loaders' cache. Without it, DataLoaders batch only the keys asked
/// for within their delay, which a long list can outlast.
pub async fn prefetch(context: &Context<'_>, records: &[Arc<EntityRecord>], selection: &Lookahead<'_>) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = records.iter().map(|record| record.id).collect();
    let owner = selection.field("owner");
    let relations = selection.field("relations");
    let targets = relations.field("target");
    let mut related: Vec<i64> = Vec::new();
    if RELATION_FIELDS.iter().any(|field| selection.field(field).exists()) {
        let declared = load_many(context, ids.iter().copied().map(DeclaredBy)).await?;
        let towards = load_many(context, ids.iter().copied().map(DeclaredTowards)).await?;
        if owner.exists() {
            related.extend(
                declared
                    .values()
                    .flat_map(|relations| relations.iter())
                    .filter(|relation| relation.relation_type == RelationType::OwnedBy.as_str())
                    .filter_map(|relation| relation.target_id),
            );
            related.extend(
                towards
                    .values()
                    .flat_map(|relations| relations.iter())
                    .filter(|relation| relation.relation_type == RelationType::OwnerOf.as_str())
                    .map(|relation| relation.source_id),
            );
        }
        if targets.exists() {
            related.extend(
                declared
                    .values()
                    .flat_map(|relations| relations.iter())
                    .filter_map(|relation| relation.target_id),
            );
            related.extend(
                towards
                    .values()
                    .flat_map(|relations| relations.iter())
                    .map(|relation| relation.source_id),
            );
        }
    }
    let system = selection.field("system");
    let domain = selection.field("domain");
    let mut refs: Vec<String> = Vec::new();
    if system.exists() {
        refs.extend(records.iter().filter_map(|record| record.system_ref.clone()));
    }
    if domain.exists() {
        refs.extend(records.iter().filter_map(|record| record.domain_ref.clone()));
    }
    if selection.field("diagnostics").exists() {
        load_many(
            context,
            records
                .iter()
                .map(|record| FileKey(record.provenance.repo_id, record.provenance.path.clone())),
        )
        .await?;
    }
    let loaded = load_many(context, related.iter().copied().map(EntityId)).await?;
    let by_ref = load_many(context, refs.into_iter().map(EntityRefKey)).await?;
    // One level down: the owners, the targets, the systems and domains, each with its own selection.
    let owners: Vec<Arc<EntityRecord>> = if owner.exists() {
        loaded.values().cloned().collect()
    } else {
        Vec::new()
    };
    let target_records: Vec<Arc<EntityRecord>> = if targets.exists() {
        loaded.values().cloned().collect()
    } else {
        Vec::new()
    };
    let systems: Vec<Arc<EntityRecord>> = by_ref.values().filter(|record| record.kind == "system").cloned().collect();
    let domains: Vec<Arc<EntityRecord>> = by_ref.values().filter(|record| record.kind == "domain").cloned().collect();
    for (next, next_selection) in [(owners, owner), (target_records, targets), (systems, system), (domains, domain)] {
        if next_selection.exists() {
            Box::pin(prefetch(context, &next, &next_selection)).await?;
        }
    }
    Ok(())
}

/// A label or annotation.
#[derive(SimpleObject, Clone)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// A link of an entity.
#[derive(SimpleObject, Clone)]
pub struct Link {
    pub url: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    /// The link's type (Compass: DOCUMENT, REPOSITORY, DASHBOARD...).
    #[graphql(name = "type")]
    pub link_type: Option<String>,
}

/// Where an entity was declared.
#[derive(SimpleObject, Clone)]
pub struct Provenance {
    /// The repository's URL (or path) as configured.
    pub repo: String,
    /// The configured branch; null follows the remote's default branch.
    pub branch: Option<String>,
    /// The descriptor file's path in the repository.
    pub path: String,
    /// The line of the entity's document in the file.
    pub line: i32,
    /// The YAML document's index in the file, from 0.
    pub document_index: i32,
    /// The commit the definition was read at.
    pub commit: String,
    /// BACKSTAGE or COMPASS.
    pub format: DescriptorFormat,
    /// When the repository was last read (RFC 3339, UTC).
    pub last_crawled: Option<String>,
    /// Whether the catalog keeps a last good copy: the file is unusable now, or the
    /// repository's last read failed.
    pub stale: bool,
    pub stale_reason: Option<String>,
}

/// The descriptor format an entity was read from.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DescriptorFormat {
    Backstage,
    Compass,
}

/// Which relations of an entity: those it declares, or those others declare towards it.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum RelationDirection {
    /// Declared by the entity (`dependsOn` in its descriptor).
    Outgoing,
    /// Declared by another entity towards this one, shown with the inverse type from this
    /// entity's side (B's `dependencyOf` A when A declares `dependsOn` B).
    Incoming,
}

/// A relation seen from one entity.
#[derive(Clone)]
pub struct Relation {
    relation_type: String,
    target_ref: String,
    target_id: Option<i64>,
    direction: RelationDirection,
}

#[Object]
impl Relation {
    /// The relation type, e.g. `dependsOn`, `ownedBy`, `hasMember`.
    #[graphql(name = "type")]
    async fn relation_type(&self) -> &str {
        &self.relation_type
    }

    /// The other end, as written (outgoing) or as its canonical reference (incoming).
    async fn target_ref(&self) -> &str {
        &self.target_ref
    }

    async fn direction(&self) -> RelationDirection {
        self.direction
    }

    /// The other end, or null when it is not in the catalog (a dangling reference).
    async fn target(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        match self.target_id {
            Some(id) => entity_by_id(context, id).await,
            None => Ok(None),
        }
    }
}

/// How serious a diagnostic is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosticSeverity {
    Error,
    Warning,
    Note,
}

impl DiagnosticSeverity {
    /// The severity as the store keeps it (`Severity::as_str`); anything else counts as an error.
    pub fn stored(severity: &str) -> DiagnosticSeverity {
        match severity {
            "warning" => DiagnosticSeverity::Warning,
            "note" => DiagnosticSeverity::Note,
            _ => DiagnosticSeverity::Error,
        }
    }
}

/// A problem found in a descriptor file.
#[derive(SimpleObject, Clone)]
pub struct Diagnostic {
    /// The stable code, e.g. `S0201`.
    pub code: String,
    pub severity: DiagnosticSeverity,
    pub message: String,
    pub hint: Option<String>,
    pub line: i32,
    pub column: i32,
    /// The text of the line it points at as last crawled (at most 240 characters, cut around
    /// the column with "…"); null when it is about the whole file or not stored yet.
    pub snippet: Option<String>,
}

/// The record behind every object type, with the resolvers they share.
#[derive(Clone)]
pub struct EntityNode(pub Arc<EntityRecord>);

impl EntityNode {
    fn tier(&self) -> Option<i32> {
        self.0.tier.map(i32::from)
    }

    fn pairs(pairs: &[(String, String)]) -> Vec<KeyValue> {
        pairs
            .iter()
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect()
    }

    fn links(&self) -> Vec<Link> {
        self.0
            .links
            .iter()
            .map(|link| Link {
                url: link.url.clone(),
                title: link.title.clone(),
                icon: link.icon.clone(),
                link_type: link.link_type.clone(),
            })
            .collect()
    }

    fn provenance(&self) -> Provenance {
        let provenance = &self.0.provenance;
        Provenance {
            repo: provenance.repo_url.clone(),
            branch: provenance.branch.clone(),
            path: provenance.path.clone(),
            line: provenance.line,
            document_index: provenance.document_index,
            commit: provenance.commit.clone(),
            format: if provenance.format == "compass" {
                DescriptorFormat::Compass
            } else {
                DescriptorFormat::Backstage
            },
            last_crawled: provenance.last_crawled.clone(),
            stale: provenance.stale(),
            stale_reason: provenance.stale_reason.clone(),
        }
    }

    async fn owner(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        match self.related_ids(context, RelationType::OwnedBy).await?.first() {
            Some(id) => entity_by_id(context, *id).await,
            None => Ok(None),
        }
    }

    async fn by_ref<T>(
        &self,
        context: &Context<'_>,
        entity_ref: Option<&String>,
        wanted_kind: &str,
        wrap: fn(EntityNode) -> T,
    ) -> Result<Option<T>> {
        let Some(entity_ref) = entity_ref else { return Ok(None) };
        let record = load_one(context, EntityRefKey(entity_ref.clone())).await?;
        Ok(record
            .filter(|record| record.kind == wanted_kind)
            .map(|record| wrap(EntityNode(record))))
    }

    /// The entity's relations seen from its side: those it declares, then those declared
    /// towards it (with the inverse type), each sorted by type and reference.
    pub async fn relations(
        &self,
        context: &Context<'_>,
        direction: Option<RelationDirection>,
        types: Option<Vec<String>>,
    ) -> Result<Vec<Relation>> {
        let wanted = |relation_type: &str| {
            types
                .as_ref()
                .is_none_or(|types| types.iter().any(|wanted| wanted == relation_type))
        };
        let mut relations = Vec::new();
        if direction.is_none_or(|direction| direction == RelationDirection::Outgoing) {
            let declared = load_one(context, DeclaredBy(self.0.id)).await?.unwrap_or_default();
            relations.extend(
                declared
                    .iter()
                    .filter(|relation| wanted(&relation.relation_type))
                    .map(|relation| Relation {
                        relation_type: relation.relation_type.clone(),
                        target_ref: relation.target_ref.clone(),
                        target_id: relation.target_id,
                        direction: RelationDirection::Outgoing,
                    }),
            );
        }
        if direction.is_none_or(|direction| direction == RelationDirection::Incoming) {
            let incoming = load_one(context, DeclaredTowards(self.0.id)).await?.unwrap_or_default();
            let mut seen: Vec<Relation> = incoming
                .iter()
                .map(|relation| Relation {
                    relation_type: RelationType::parse(&relation.relation_type)
                        .map_or_else(|| relation.relation_type.clone(), |parsed| parsed.inverse().as_str().to_owned()),
                    target_ref: relation.source_ref.clone(),
                    target_id: Some(relation.source_id),
                    direction: RelationDirection::Incoming,
                })
                .filter(|relation| wanted(&relation.relation_type))
                .collect();
            seen.sort_by(|left, right| (&left.relation_type, &left.target_ref).cmp(&(&right.relation_type, &right.target_ref)));
            relations.extend(seen);
        }
        Ok(relations)
    }

    /// The ids of the entities at the other end of this entity's relations of one type, seen from
    /// its side (declared, or declared towards it with the inverse type), each once, resolved only.
    pub async fn related_ids(&self, context: &Context<'_>, relation_type: RelationType) -> Result<Vec<i64>> {
        let wanted = relation_type.as_str().to_owned();
        let relations = self.relations(context, None, Some(vec![wanted])).await?;
        let mut seen = HashSet::new();
        Ok(relations
            .iter()
            .filter_map(|relation| relation.target_id)
            .filter(|id| seen.insert(*id))
            .collect())
    }

    /// The related entities of one kind (e.g. a group's members: `hasMember` users).
    async fn related_of_kind<T>(
        &self,
        context: &Context<'_>,
        relation_type: RelationType,
        kind: &str,
        wrap: fn(EntityNode) -> T,
    ) -> Result<Vec<T>> {
        let ids = self.related_ids(context, relation_type).await?;
        let loaded = load_many(context, ids.iter().copied().map(EntityId)).await?;
        Ok(ids
            .iter()
            .filter_map(|id| loaded.get(&EntityId(*id)))
            .filter(|record| record.kind == kind)
            .map(|record| wrap(EntityNode(record.clone())))
            .collect())
    }

    async fn diagnostics(&self, context: &Context<'_>) -> Result<Vec<Diagnostic>> {
        let provenance = &self.0.provenance;
        let diagnostics = load_one(context, FileKey(provenance.repo_id, provenance.path.clone()))
            .await?
            .unwrap_or_default();
        Ok(diagnostics
            .iter()
            .map(|diagnostic| Diagnostic {
                code: diagnostic.code.clone(),
                severity: DiagnosticSeverity::stored(&diagnostic.severity),
                message: diagnostic.message.clone(),
                hint: diagnostic.hint.clone(),
                line: diagnostic.line,
                column: diagnostic.column,
                snippet: diagnostic.snippet.clone(),
            })
            .collect())
    }

    /// What these owners own (each entity once, in the owners' order then by reference).
    async fn owned_by(&self, context: &Context<'_>, owners: &[i64], include_subgroups: bool) -> Result<Vec<Entity>> {
        let keys: Vec<OwnedBy> = owners
            .iter()
            .map(|owner| OwnedBy {
                owner: *owner,
                include_subgroups,
            })
            .collect();
        let owned = load_many(context, keys.iter().copied()).await?;
        let mut seen = HashSet::new();
        let ids: Vec<i64> = keys
            .iter()
            .filter_map(|key| owned.get(key))
            .flat_map(|ids| ids.iter().copied())
            .filter(|id| seen.insert(*id))
            .collect();
        entities_by_ids(context, &ids).await
    }
}

/// Declares an object type of the `Entity` interface: the shared fields, then the kind's own.
macro_rules! entity_object {
    ($(#[$meta:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(pub EntityNode);

        #[Object]
        impl $name {
            /// The canonical reference, `kind:namespace/name`, lowercased.
            #[graphql(name = "ref")]
            async fn entity_ref(&self) -> String {
                self.0.0.entity_ref.clone()
            }

            /// The kind as Backstage spells it.
            async fn kind(&self) -> String {
                kind_name(&self.0.0.kind)
            }

            async fn namespace(&self) -> String {
                self.0.0.namespace.clone()
            }

            async fn name(&self) -> String {
                self.0.0.name.clone()
            }

            async fn title(&self) -> Option<String> {
                self.0.0.title.clone()
            }

            async fn description(&self) -> Option<String> {
                self.0.0.description.clone()
            }

            /// `spec.type` (a Compass component's type); null for kinds without one.
            #[graphql(name = "type")]
            async fn entity_type(&self) -> Option<String> {
                self.0.0.entity_type.clone()
            }

            async fn lifecycle(&self) -> Option<String> {
                self.0.0.lifecycle.clone()
            }

            /// The Compass tier, 1 (most critical) to 4.
            async fn tier(&self) -> Option<i32> {
                self.0.tier()
            }

            async fn tags(&self) -> Vec<String> {
                self.0.0.tags.clone()
            }

            /// Other identifiers the entity answers to in references: a Compass component `id`,
            /// ARIs listed in `sextant.dev/aliases`.
            async fn aliases(&self) -> Vec<String> {
                self.0.0.aliases.clone()
            }

            /// `metadata.labels`, sorted by key.
            async fn labels(&self) -> Vec<KeyValue> {
                EntityNode::pairs(&self.0.0.labels)
            }

            /// `metadata.annotations`, sorted by key.
            async fn annotations(&self) -> Vec<KeyValue> {
                EntityNode::pairs(&self.0.0.annotations)
            }

            async fn links(&self) -> Vec<Link> {
                self.0.links()
            }

            /// The owner as written in the descriptor.
            async fn owner_ref(&self) -> Option<String> {
                self.0.0.owner_ref.clone()
            }

            /// The owner entity, or null when the owner is not in the catalog.
            async fn owner(&self, context: &Context<'_>) -> Result<Option<Entity>> {
                self.0.owner(context).await
            }

            async fn system_ref(&self) -> Option<String> {
                self.0.0.system_ref.clone()
            }

            /// The system the entity is part of, when it is in the catalog.
            async fn system(&self, context: &Context<'_>) -> Result<Option<System>> {
                self.0.by_ref(context, self.0.0.system_ref.as_ref(), "system", System).await
            }

            async fn domain_ref(&self) -> Option<String> {
                self.0.0.domain_ref.clone()
            }

            /// The domain the entity is part of, when it is in the catalog.
            async fn domain(&self, context: &Context<'_>) -> Result<Option<Domain>> {
                self.0.by_ref(context, self.0.0.domain_ref.as_ref(), "domain", Domain).await
            }

            async fn provenance(&self) -> Provenance {
                self.0.provenance()
            }

            /// The entity's relations: those it declares (OUTGOING), and those other entities
            /// declare towards it (INCOMING, with the inverse type); both when no direction is
            /// given. `types` keeps only these types (as shown, e.g. `dependencyOf`).
            async fn relations(
                &self,
                context: &Context<'_>,
                direction: Option<RelationDirection>,
                types: Option<Vec<String>>,
            ) -> Result<Vec<Relation>> {
                self.0.relations(context, direction, types).await
            }

            /// The diagnostics of the entity's descriptor file.
            async fn diagnostics(&self, context: &Context<'_>) -> Result<Vec<Diagnostic>> {
                self.0.diagnostics(context).await
            }

            $($extra)*
        }
    };
}

entity_object!(
    /// A piece of software: a service, website, library...
    Component {}
);

entity_object!(
    /// An interface that components provide or consume.
    Api {
        /// `spec.definition`, when the descriptor holds it as text.
        async fn definition(&self, context: &Context<'_>) -> Result<Option<String>> {
            load_one(context, DefinitionOf(self.0.0.id)).await
        }
    }
);

entity_object!(
    /// Infrastructure a component needs: a database, a bucket, a queue...
    Resource {}
);

entity_object!(
    /// A collection of entities that cooperate to perform a function.
    System {}
);

entity_object!(
    /// A business area grouping systems.
    Domain {}
);

entity_object!(
    /// A team or other organisational unit.
    Group {
        /// The users who are members (from the group's `members` or the users' `memberOf`).
        async fn members(&self, context: &Context<'_>) -> Result<Vec<User>> {
            self.0.related_of_kind(context, RelationType::HasMember, "user", User).await
        }

        /// The parent group, when it is in the catalog.
        async fn parent(&self, context: &Context<'_>) -> Result<Option<Group>> {
            Ok(self.0.related_of_kind(context, RelationType::ChildOf, "group", Group).await?.into_iter().next())
        }

        /// The sub-groups (from the group's `children` or their `parent`).
        async fn children(&self, context: &Context<'_>) -> Result<Vec<Group>> {
            self.0.related_of_kind(context, RelationType::ParentOf, "group", Group).await
        }

        /// What the group owns; with `includeSubgroups`, also what its sub-groups own, at any depth.
        async fn owned_entities(
            &self,
            context: &Context<'_>,
            #[graphql(default = false)] include_subgroups: bool,
        ) -> Result<Vec<Entity>> {
            self.0.owned_by(context, &[self.0.0.id], include_subgroups).await
        }
    }
);

entity_object!(
    /// A person.
    User {
        /// The groups the user is a member of.
        async fn groups(&self, context: &Context<'_>) -> Result<Vec<Group>> {
            self.0.related_of_kind(context, RelationType::MemberOf, "group", Group).await
        }

        /// What the user owns directly, then what the user's groups own, each entity once.
        async fn owned(&self, context: &Context<'_>) -> Result<Vec<Entity>> {
            let mut owners = vec![self.0.0.id];
            owners.extend(self.0.related_ids(context, RelationType::MemberOf).await?);
            self.0.owned_by(context, &owners, false).await
        }
    }
);

entity_object!(
    /// A pointer to more descriptor files.
    Location {}
);

entity_object!(
    /// A software template of the scaffolder.
    Template {}
);
