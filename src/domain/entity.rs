//! The one normalized entity that both descriptor formats become, and its typed relations.

use std::collections::BTreeMap;

use super::{EntityRef, Position};

/// Which descriptor format an entity was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Backstage,
    Compass,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Backstage => "backstage",
            Format::Compass => "compass",
        }
    }
}

/// Where an entity was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub file: String,
    /// The index of the YAML document within the file, counting from 0.
    pub document: usize,
    pub position: Position,
    pub format: Format,
}

/// The relation types of the catalog. Each declared edge implies its inverse on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RelationType {
    OwnedBy,
    OwnerOf,
    PartOf,
    HasPart,
    ProvidesApi,
    ApiProvidedBy,
    ConsumesApi,
    ApiConsumedBy,
    DependsOn,
    DependencyOf,
    MemberOf,
    HasMember,
    ChildOf,
    ParentOf,
}

impl RelationType {
    /// The relation that the target of this edge has back to its source.
    pub fn inverse(self) -> RelationType {
        use RelationType::*;
        match self {
            OwnedBy => OwnerOf,
            OwnerOf => OwnedBy,
            PartOf => HasPart,
            HasPart => PartOf,
            ProvidesApi => ApiProvidedBy,
            ApiProvidedBy => ProvidesApi,
            ConsumesApi => ApiConsumedBy,
            ApiConsumedBy => ConsumesApi,
            DependsOn => DependencyOf,
            DependencyOf => DependsOn,
            MemberOf => HasMember,
            HasMember => MemberOf,
            ChildOf => ParentOf,
            ParentOf => ChildOf,
        }
    }

    /// Every relation type.
    pub const ALL: [RelationType; 14] = [
        RelationType::OwnedBy,
        RelationType::OwnerOf,
        RelationType::PartOf,
        RelationType::HasPart,
        RelationType::ProvidesApi,
        RelationType::ApiProvidedBy,
        RelationType::ConsumesApi,
        RelationType::ApiConsumedBy,
        RelationType::DependsOn,
        RelationType::DependencyOf,
        RelationType::MemberOf,
        RelationType::HasMember,
        RelationType::ChildOf,
        RelationType::ParentOf,
    ];

    /// The relation type with this Backstage spelling.
    pub fn parse(text: &str) -> Option<RelationType> {
        RelationType::ALL.into_iter().find(|relation_type| relation_type.as_str() == text)
    }

    /// The Backstage spelling, e.g. `ownedBy`.
    pub fn as_str(self) -> &'static str {
        use RelationType::*;
        match self {
            OwnedBy => "ownedBy",
            OwnerOf => "ownerOf",
            PartOf => "partOf",
            HasPart => "hasPart",
            ProvidesApi => "providesApi",
            ApiProvidedBy => "apiProvidedBy",
            ConsumesApi => "consumesApi",
            ApiConsumedBy => "apiConsumedBy",
            DependsOn => "dependsOn",
            DependencyOf => "dependencyOf",
            MemberOf => "memberOf",
            HasMember => "hasMember",
            ChildOf => "childOf",
            ParentOf => "parentOf",
        }
    }
}

/// What a relation points at: an entity reference, or an alias (a Compass ARI) that some entity
/// declares and that is resolved once every file is known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Entity(EntityRef),
    Alias(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Entity(entity_ref) => entity_ref.fmt(formatter),
            Target::Alias(alias) => formatter.write_str(alias),
        }
    }
}

/// One declared, outgoing edge, with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub relation_type: RelationType,
    pub target: Target,
    pub position: Position,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    pub link_type: Option<String>,
}

/// A catalog entity, the same whichever format declared it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub entity_ref: EntityRef,
    pub title: Option<String>,
    pub description: Option<String>,
    /// `spec.type` (Backstage) or the lowercased `typeId` (Compass).
    pub entity_type: Option<String>,
    pub lifecycle: Option<String>,
    /// Compass tier, 1 (most critical) to 4.
    pub tier: Option<u8>,
    pub owner: Option<Target>,
    pub system: Option<EntityRef>,
    pub domain: Option<EntityRef>,
    /// Backstage tags, or Compass labels.
    pub tags: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub links: Vec<Link>,
    /// Other identifiers this entity answers to: a Compass component `id`, or the ARIs listed in
    /// the `sextant.dev/aliases` annotation.
    pub aliases: Vec<String>,
    /// Declared outgoing edges; inverses are derived with [`RelationType::inverse`].
    pub relations: Vec<Relation>,
    /// The whole document as JSON, for storage and the API.
    pub document: serde_json::Value,
    pub provenance: Provenance,
}

/// The annotation through which an entity declares extra identifiers (comma-separated ARIs).
pub const ALIASES_ANNOTATION: &str = "sextant.dev/aliases";

#[cfg(test)]
mod tests {
    use super::RelationType::*;

    #[test]
    fn inverses_pair_up() {
        for relation in super::RelationType::ALL {
            assert_eq!(super::RelationType::parse(relation.as_str()), Some(relation));
            assert_ne!(relation.inverse(), relation);
            assert_eq!(relation.inverse().inverse(), relation);
        }
        assert_eq!(DependsOn.inverse(), DependencyOf);
        assert_eq!(ChildOf.inverse().as_str(), "parentOf");
    }
}
