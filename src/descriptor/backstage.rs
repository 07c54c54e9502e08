//! Backstage `catalog-info.yaml` documents → entities, checking the envelope, metadata and the
//! spec of each built-in kind (rules in docs/validation.md, from Backstage's catalog model).

use std::collections::BTreeMap;

use crate::descriptor::fields::{Reporter, is_placeholder};
use crate::descriptor::yaml::{Document, Node};
use crate::domain::names::{
    is_valid_annotation_key, is_valid_api_version, is_valid_kind, is_valid_label_key, is_valid_label_value, is_valid_namespace,
    is_valid_object_name, is_valid_tag, is_valid_url, slugify,
};
use crate::domain::{
    ALIASES_ANNOTATION, Code, DEFAULT_NAMESPACE, Entity, EntityRef, Format, Link, Provenance, RefError, Relation, RelationType, Severity,
    Target,
};

/// Backstage refuses any other root key in a source file (`relations` and `status` are computed
/// by the catalog, never written by hand).
const ROOT_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
/// Annotations whose value Backstage shows as a link on the entity page ("View source", "Edit").
const LINK_ANNOTATIONS: &[&str] = &["backstage.io/view-url", "backstage.io/edit-url"];
const METADATA_KEYS: &[&str] = &[
    "name",
    "namespace",
    "title",
    "description",
    "labels",
    "annotations",
    "tags",
    "links",
    "uid",
    "etag",
    "generation",
];
/// Spec fields that people put into `metadata` by mistake.
const SPEC_FIELDS_OFTEN_MISPLACED: &[&str] = &["owner", "lifecycle", "type", "system", "dependsOn"];
const BACKSTAGE_VERSIONS: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];
const TEMPLATE_VERSIONS: &[&str] = &["scaffolder.backstage.io/v1beta3", "backstage.io/v1beta2"];

/// The shape a spec field must have.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Text,
    TextList,
    Map,
    List,
    MapOrList,
}

/// One field of a kind's spec: its shape, whether it is required, and the relation it declares
/// (with the default kind of its references; `None` means the kind must be written out).
struct SpecField {
    key: &'static str,
    shape: Shape,
    required: bool,
    relation: Option<(RelationType, Option<&'static str>)>,
}

use Shape::{List, Map, MapOrList, Text, TextList};

const fn field(key: &'static str, shape: Shape, required: bool) -> SpecField {
    SpecField {
        key,
        shape,
        required,
        relation: None,
    }
}

const fn reference(
    key: &'static str,
    shape: Shape,
    required: bool,
    relation: RelationType,
    default_kind: Option<&'static str>,
) -> SpecField {
    SpecField {
        key,
        shape,
        required,
        relation: Some((relation, default_kind)),
    }
}

use RelationType::*;

const COMPONENT: &[SpecField] = &[
    field("type", Text, true),
    field("lifecycle", Text, true),
    reference("owner", Text, true, OwnedBy, Some("group")),
    reference("system", Text, false, PartOf, Some("system")),
    reference("subcomponentOf", Text, false, PartOf, Some("component")),
    reference("providesApis", TextList, false, ProvidesApi, Some("api")),
    reference("consumesApis", TextList, false, ConsumesApi, Some("api")),
    reference("dependsOn", TextList, false, DependsOn, None),
    reference("dependencyOf", TextList, false, DependencyOf, None),
];
const API: &[SpecField] = &[
    field("type", Text, true),
    field("lifecycle", Text, true),
    reference("owner", Text, true, OwnedBy, Some("group")),
    field("definition", Text, true),
    reference("system", Text, false, PartOf, Some("system")),
];
const RESOURCE: &[SpecField] = &[
    field("type", Text, true),
    reference("owner", Text, true, OwnedBy, Some("group")),
    reference("system", Text, false, PartOf, Some("system")),
    reference("dependsOn", TextList, false, DependsOn, None),
    reference("dependencyOf", TextList, false, DependencyOf, None),
];
const SYSTEM: &[SpecField] = &[
    reference("owner", Text, true, OwnedBy, Some("group")),
    reference("domain", Text, false, PartOf, Some("domain")),
    field("type", Text, false),
];
const DOMAIN: &[SpecField] = &[
    reference("owner", Text, true, OwnedBy, Some("group")),
    reference("subdomainOf", Text, false, PartOf, Some("domain")),
    field("type", Text, false),
];
const GROUP: &[SpecField] = &[
    field("type", Text, true),
    field("profile", Map, false),
    reference("parent", Text, false, ChildOf, Some("group")),
    reference("children", TextList, true, ParentOf, Some("group")),
    reference("members", TextList, false, HasMember, Some("user")),
];
const USER: &[SpecField] = &[
    field("profile", Map, false),
    reference("memberOf", TextList, true, MemberOf, Some("group")),
];
const LOCATION: &[SpecField] = &[
    field("type", Text, false),
    field("target", Text, false),
    field("targets", TextList, false),
    field("presence", Text, false),
];
const TEMPLATE: &[SpecField] = &[
    field("type", Text, true),
    reference("owner", Text, false, OwnedBy, Some("group")),
    field("parameters", MapOrList, false),
    field("steps", List, true),
    field("output", Map, false),
    field("presentation", Map, false),
    field("EXPERIMENTAL_formDecorators", List, false),
];

/// The kinds that the catalog knows, with their spec fields and accepted apiVersions.
const KINDS: &[(&str, &[SpecField], &[&str])] = &[
    ("Component", COMPONENT, BACKSTAGE_VERSIONS),
    ("API", API, BACKSTAGE_VERSIONS),
    ("Resource", RESOURCE, BACKSTAGE_VERSIONS),
    ("System", SYSTEM, BACKSTAGE_VERSIONS),
    ("Domain", DOMAIN, BACKSTAGE_VERSIONS),
    ("Group", GROUP, BACKSTAGE_VERSIONS),
    ("User", USER, BACKSTAGE_VERSIONS),
    ("Location", LOCATION, BACKSTAGE_VERSIONS),
    ("Template", TEMPLATE, TEMPLATE_VERSIONS),
];

/// The built-in kind names, for messages and hints.
pub fn known_kinds() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(kind, _, _)| *kind)
}

/// Reads one Backstage document. Returns the entity when the document is valid enough to name
/// one (its diagnostics are in `reporter` either way; the caller decides what errors mean).
pub(crate) fn read_document(reporter: &mut Reporter, document: &Document) -> Option<Entity> {
    let root = &document.root;
    let entries = root.as_mapping()?;
    reporter.unknown_keys(entries, ROOT_KEYS, "the entity", false);

    let api_version = reporter.required(root, "apiVersion", "the entity").and_then(|node| {
        let text = reporter.string(node, "apiVersion")?;
        if !is_valid_api_version(text) {
            reporter
                .report(Code::InvalidApiVersion, node, format!("`{text}` is not a valid apiVersion"))
                .hint = Some("use `backstage.io/v1alpha1`".to_owned());
            return None;
        }
        Some((text, node))
    });

    let kind = reporter.required(root, "kind", "the entity").and_then(|node| {
        let text = reporter.string(node, "kind")?;
        if text.is_empty() {
            reporter.report(Code::InvalidKind, node, "`kind` is empty").hint =
                Some(format!("name the kind of entity: {}", known_kinds().collect::<Vec<_>>().join(", ")));
            return None;
        }
        if !is_valid_kind(text) {
            reporter
                .report(
                    Code::InvalidKind,
                    node,
                    format!("`{text}` is not a valid kind: it must be letters and digits, starting with a letter"),
                )
                .hint = suggest_kind(text).map(|kind| format!("did you mean `{kind}`?"));
            return None;
        }
        Some((text, node))
    });

    let known = kind.and_then(|(text, node)| {
        let found = KINDS.iter().find(|(name, _, _)| *name == text);
        if found.is_none() {
            let diagnostic = reporter.report(Code::UnknownKind, node, format!("`{text}` is not a kind the catalog knows"));
            diagnostic.hint = Some(match suggest_kind(text) {
                Some(kind) => format!("did you mean `{kind}`? kinds are case-sensitive"),
                None => format!("known kinds: {}", known_kinds().collect::<Vec<_>>().join(", ")),
            });
        }
        found
    });

    if let (Some((kind_name, _, versions)), Some((version, node))) = (known, api_version)
        && !versions.contains(&version)
    {
        reporter
            .report(
                Code::InvalidApiVersion,
                node,
                format!("{kind_name} entities do not use apiVersion `{version}`"),
            )
            .hint = Some(format!("use one of: {}", versions.join(", ")));
    }

    let metadata = reporter
        .required(root, "metadata", "the entity")
        .and_then(|node| read_metadata(reporter, node));

    let spec = root.get("spec");
    let mut relations = Vec::new();
    let mut spec_values = SpecValues::default();
    if let Some((kind_name, fields, _)) = known {
        match spec {
            None => {
                reporter
                    .report(Code::MissingField, root, format!("a {kind_name} entity needs a `spec`"))
                    .end = None;
            }
            Some(spec) => {
                let namespace = metadata.as_ref().map_or(DEFAULT_NAMESPACE, |metadata| metadata.namespace.as_str());
                spec_values = read_spec(reporter, spec, kind_name, fields, namespace, &mut relations);
            }
        }
    }

    let (kind_name, _, _) = known?;
    let metadata = metadata?;
    let aliases = metadata
        .annotations
        .get(ALIASES_ANNOTATION)
        .map(|text| {
            text.split(',')
                .map(str::trim)
                .filter(|alias| !alias.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let owner = relations
        .iter()
        .find(|relation| relation.relation_type == OwnedBy)
        .map(|relation| relation.target.clone());
    let part_of = |kind: &str| {
        relations.iter().find_map(|relation| match &relation.target {
            Target::Entity(target) if relation.relation_type == PartOf && target.kind == kind => Some(target.clone()),
            _ => None,
        })
    };
    let (system, domain) = (part_of("system"), part_of("domain"));
    Some(Entity {
        entity_ref: EntityRef::new(kind_name, &metadata.namespace, &metadata.name),
        title: metadata.title,
        description: metadata.description,
        entity_type: spec_values.entity_type,
        lifecycle: spec_values.lifecycle,
        tier: None,
        owner,
        system,
        domain,
        tags: metadata.tags,
        labels: metadata.labels,
        annotations: metadata.annotations,
        links: metadata.links,
        aliases,
        relations,
        document: serde_json::Value::Null, // Filled in by the caller, which owns the tree.
        provenance: Provenance {
            file: reporter.file.to_owned(),
            document: document.index,
            position: root.start,
            format: Format::Backstage,
        },
    })
}

fn suggest_kind(text: &str) -> Option<&'static str> {
    let kinds: Vec<&'static str> = known_kinds().collect();
    crate::descriptor::fields::closest(text, &kinds)
}

struct Metadata {
    name: String,
    namespace: String,
    title: Option<String>,
    description: Option<String>,
    tags: Vec<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    links: Vec<Link>,
}

fn read_metadata(reporter: &mut Reporter, node: &Node) -> Option<Metadata> {
    let entries = reporter.mapping(node, "metadata")?;
    reporter.unknown_keys(entries, METADATA_KEYS, "metadata", true);
    for (key, _) in entries {
        if let Some(misplaced) = key.as_key().filter(|key| SPEC_FIELDS_OFTEN_MISPLACED.contains(key)) {
            let diagnostic = reporter.report(Code::UnknownField, key, format!("`metadata.{misplaced}` is ignored by the catalog"));
            diagnostic.severity = Severity::Warning;
            diagnostic.hint = Some(format!("`{misplaced}` belongs under `spec`"));
        }
    }

    let name = reporter.required(node, "name", "metadata").and_then(|name_node| {
        let name = reporter.string(name_node, "metadata.name")?;
        if !is_valid_object_name(name) {
            let diagnostic = reporter.report(Code::InvalidEntityName, name_node, format!("`{name}` is not a valid entity name"));
            diagnostic.hint = Some(match slugify(name) {
                Some(slug) if slug != name => format!("names are letters, digits, `-`, `_` and `.`, at most 63 characters, starting and ending with a letter or digit; for example `{slug}`"),
                _ => "names are letters, digits, `-`, `_` and `.`, at most 63 characters, starting and ending with a letter or digit".to_owned(),
            });
            return None;
        }
        Some(name.to_owned())
    });

    let namespace = match node.get("namespace") {
        None => Some(DEFAULT_NAMESPACE.to_owned()),
        Some(namespace_node) => reporter.string(namespace_node, "metadata.namespace").and_then(|namespace| {
            if !is_valid_namespace(namespace) {
                reporter
                    .report(
                        Code::InvalidNamespace,
                        namespace_node,
                        format!("`{namespace}` is not a valid namespace"),
                    )
                    .hint = Some("namespaces are lowercase letters, digits and `-`, at most 63 characters".to_owned());
                return None;
            }
            Some(namespace.to_owned())
        }),
    };

    let title = node
        .get("title")
        .and_then(|title| reporter.string(title, "metadata.title"))
        .map(str::to_owned);
    let description = node
        .get("description")
        .and_then(|description| reporter.string(description, "metadata.description"))
        .map(str::to_owned);

    let mut tags = Vec::new();
    if let Some(tags_node) = node.get("tags") {
        for tag_node in reporter.sequence(tags_node, "metadata.tags", false) {
            let Some(tag) = reporter.string(tag_node, "metadata.tags[]") else {
                continue;
            };
            if is_valid_tag(tag) {
                tags.push(tag.to_owned());
            } else {
                let lowered = tag.to_lowercase().replace([' ', '_', '.'], "-");
                let diagnostic = reporter.report(Code::InvalidTag, tag_node, format!("`{tag}` is not a valid tag"));
                diagnostic.hint = Some(if is_valid_tag(&lowered) {
                    format!("tags are lowercase `a-z 0-9 : + #` separated by single `-`; try `{lowered}`")
                } else {
                    "tags are lowercase `a-z 0-9 : + #` separated by single `-`, at most 63 characters".to_owned()
                });
            }
        }
    }

    let labels = read_string_map(
        reporter,
        node.get("labels"),
        "metadata.labels",
        |reporter, key_node, key, value_node, value| {
            if !is_valid_label_key(key) {
                reporter
                    .report(Code::InvalidLabel, key_node, format!("`{key}` is not a valid label key"))
                    .hint = Some("label keys are `[prefix/]name`, the prefix a DNS name, the name like an entity name".to_owned());
            }
            if !is_valid_label_value(value) {
                reporter
                    .report(Code::InvalidLabel, value_node, format!("`{value}` is not a valid label value"))
                    .hint = Some("label values are empty or like an entity name; free text belongs in annotations".to_owned());
            }
        },
    );
    let annotations = read_string_map(
        reporter,
        node.get("annotations"),
        "metadata.annotations",
        |reporter, key_node, key, value_node, value| {
            if !is_valid_annotation_key(key) {
                reporter
                    .report(Code::InvalidAnnotation, key_node, format!("`{key}` is not a valid annotation key"))
                    .hint = Some("annotation keys are `[prefix/]name`, e.g. `github.com/project-slug`".to_owned());
            }
            if LINK_ANNOTATIONS.contains(&key) {
                reporter.dangerous_link(value_node, value);
            }
        },
    );

    let mut links = Vec::new();
    if let Some(links_node) = node.get("links") {
        for link_node in reporter.sequence(links_node, "metadata.links", false) {
            if let Some(link) = read_link(reporter, link_node) {
                links.push(link);
            }
        }
    }

    Some(Metadata {
        name: name?,
        namespace: namespace?,
        title,
        description,
        tags,
        labels,
        annotations,
        links,
    })
}

fn read_link(reporter: &mut Reporter, node: &Node) -> Option<Link> {
    reporter.mapping(node, "metadata.links[]")?;
    let url = reporter.required(node, "url", "a link").and_then(|url_node| {
        let url = reporter.string(url_node, "url")?;
        if reporter.dangerous_link(url_node, url) {
            return None;
        }
        if !is_valid_url(url) {
            reporter.report(Code::InvalidLink, url_node, format!("`{url}` is not a URL")).hint =
                Some("links need an absolute URL such as `https://example.com/dashboard`".to_owned());
            return None;
        }
        Some(url.to_owned())
    });
    let mut optional_string = |key: &str| {
        let value_node = node.get(key)?;
        let value = reporter.string(value_node, key)?;
        if value.trim().is_empty() {
            reporter.report(Code::InvalidLink, value_node, format!("a link's `{key}` must not be empty"));
            return None;
        }
        Some(value.to_owned())
    };
    let title = optional_string("title");
    let icon = optional_string("icon");
    let link_type = optional_string("type");
    Some(Link {
        url: url?,
        title,
        icon,
        link_type,
    })
}

type StringMapCheck = fn(&mut Reporter, &Node, &str, &Node, &str);

fn read_string_map(reporter: &mut Reporter, node: Option<&Node>, field: &str, check: StringMapCheck) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let Some(entries) = node.and_then(|node| reporter.mapping(node, field)) else {
        return map;
    };
    for (key_node, value_node) in entries {
        let Some(key) = key_node.as_key() else { continue };
        let Some(value) = reporter.string(value_node, &format!("{field}.{key}")) else {
            continue;
        };
        check(reporter, key_node, key, value_node, value);
        map.insert(key.to_owned(), value.to_owned());
    }
    map
}

#[derive(Default)]
struct SpecValues {
    entity_type: Option<String>,
    lifecycle: Option<String>,
}

fn read_spec(
    reporter: &mut Reporter,
    spec: &Node,
    kind: &str,
    fields: &[SpecField],
    namespace: &str,
    relations: &mut Vec<Relation>,
) -> SpecValues {
    let mut values = SpecValues::default();
    let Some(entries) = reporter.mapping(spec, "spec") else {
        return values;
    };
    let known_keys: Vec<&str> = fields.iter().map(|field| field.key).collect();
    reporter.unknown_keys(entries, &known_keys, &format!("the {kind} spec"), true);

    for field in fields {
        let Some(node) = spec.get(field.key) else {
            if field.required {
                reporter
                    .report(
                        Code::MissingField,
                        spec,
                        format!("the {kind} spec is missing the required field `{}`", field.key),
                    )
                    .end = None;
            }
            continue;
        };
        let path = format!("spec.{}", field.key);
        match field.shape {
            Shape::Text => {
                let Some(text) = reporter.string_or_placeholder(node, &path) else {
                    continue;
                };
                match field.key {
                    "type" => values.entity_type = Some(text.to_owned()),
                    "lifecycle" => values.lifecycle = Some(text.to_owned()),
                    "presence" if !matches!(text, "required" | "optional") => {
                        reporter
                            .report(Code::InvalidValue, node, format!("`{text}` is not a valid presence"))
                            .hint = Some("use `required` or `optional`".to_owned());
                    }
                    _ => {}
                }
                if let Some((relation_type, default_kind)) = field.relation {
                    add_relation(reporter, node, text, relation_type, default_kind, namespace, relations);
                }
            }
            Shape::TextList => {
                for item in reporter.sequence(node, &path, false) {
                    let Some(text) = reporter.non_empty_string(item, &format!("{path}[]")) else {
                        continue;
                    };
                    if let Some((relation_type, default_kind)) = field.relation {
                        add_relation(reporter, item, text, relation_type, default_kind, namespace, relations);
                    }
                }
            }
            Shape::Map => {
                if !is_placeholder(node) && reporter.mapping(node, &path).is_some() && field.key == "profile" {
                    for key in ["displayName", "email", "picture"] {
                        if let Some(value) = node.get(key) {
                            reporter.non_empty_string(value, &format!("spec.profile.{key}"));
                        }
                    }
                }
            }
            Shape::List => {
                let items = reporter.sequence(node, &path, false);
                if field.key == "steps" {
                    for step in items {
                        if reporter.mapping(step, "spec.steps[]").is_some()
                            && let Some(action) = reporter.required(step, "action", "a template step")
                        {
                            reporter.non_empty_string(action, "action");
                        }
                    }
                }
            }
            Shape::MapOrList => {
                if node.as_mapping().is_none() && node.as_sequence().is_none() {
                    reporter.wrong_type(node, &path, "a mapping or a list");
                }
            }
        }
    }
    values
}

fn add_relation(
    reporter: &mut Reporter,
    node: &Node,
    text: &str,
    relation_type: RelationType,
    default_kind: Option<&str>,
    namespace: &str,
    relations: &mut Vec<Relation>,
) {
    match EntityRef::parse(text, default_kind, namespace) {
        Ok(target) => relations.push(Relation {
            relation_type,
            target: Target::Entity(target),
            position: node.start,
        }),
        Err(RefError::EmptyPart) => {
            reporter
                .report(Code::InvalidEntityRef, node, format!("`{text}` is not a valid entity reference"))
                .hint = Some("references are `[kind:][namespace/]name`, e.g. `group:default/payments-team`".to_owned());
        }
        Err(RefError::MissingKind) => {
            reporter
                .report(
                    Code::RefKindRequired,
                    node,
                    format!("`{text}` does not say which kind of entity it is"),
                )
                .hint = Some(format!(
                "`{}` has no default kind: write e.g. `resource:{text}` or `component:{text}`",
                relation_type.as_str()
            ));
        }
    }
}
