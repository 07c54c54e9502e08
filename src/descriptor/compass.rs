//! Atlassian Compass `compass.yml` → one Component entity. Rules from Compass's config-as-code
//! documentation (docs/validation.md): enums, limits, ARIs. Owner and DEPENDS_ON are ARIs, kept as
//! alias targets and resolved against the entities that declare them.

use std::collections::{BTreeMap, HashMap};

use crate::descriptor::fields::{Reporter, closest};
use crate::descriptor::yaml::{Document, Node, ScalarKind, Value};
use crate::domain::names::{is_valid_object_name, is_valid_url, slugify};
use crate::domain::{Code, DEFAULT_NAMESPACE, Entity, EntityRef, Format, Link, Provenance, Relation, RelationType, Target};

const ROOT_KEYS: &[&str] = &[
    "configVersion",
    "name",
    "id",
    "slug",
    "description",
    "typeId",
    "ownerId",
    "fields",
    "links",
    "relationships",
    "labels",
    "customFields",
];
const FIELD_KEYS: &[&str] = &["tier", "lifecycle", "isMonorepoProject"];
const LINK_KEYS: &[&str] = &["name", "type", "url"];
const CUSTOM_FIELD_KEYS: &[&str] = &["name", "type", "value"];
const TYPE_IDS: &[&str] = &[
    "SERVICE",
    "LIBRARY",
    "APPLICATION",
    "CAPABILITY",
    "CLOUD_RESOURCE",
    "DATA_PIPELINE",
    "MACHINE_LEARNING_MODEL",
    "UI_ELEMENT",
    "WEBSITE",
    "OTHER",
];
const LIFECYCLES: &[&str] = &["Pre-release", "Active", "Deprecated"];
const LINK_TYPES: &[&str] = &[
    "DOCUMENT",
    "CHAT_CHANNEL",
    "ON_CALL",
    "REPOSITORY",
    "PROJECT",
    "DASHBOARD",
    "OTHER_LINK",
];
const CUSTOM_FIELD_TYPES: &[&str] = &["text", "number", "boolean", "user", "single_select", "multi_select"];
const MAX_NAME_CHARS: usize = 99;
const MAX_DESCRIPTION_CHARS: usize = 999;
const MAX_LINKS_PER_TYPE: usize = 5;
const MAX_DEPENDS_ON: usize = 25;
const MAX_LABELS: usize = 20;
const MAX_LABEL_CHARS: usize = 40;

/// Whether `text` is a Compass component ARI: `ari:cloud:compass:<cloud>:component/<workspace>/<id>`.
pub fn is_component_ari(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("ari:cloud:compass:") else {
        return false;
    };
    let Some((cloud, resource)) = rest.split_once(':') else {
        return false;
    };
    let parts: Vec<&str> = resource.split('/').collect();
    !cloud.is_empty() && parts.len() == 3 && parts[0] == "component" && parts[1..].iter().all(|part| is_ari_segment(part))
}

/// Whether `text` is a team ARI: `ari:cloud:teams::team/<id>` or `ari:cloud:identity::team/<id>`.
pub fn is_team_ari(text: &str) -> bool {
    ["ari:cloud:teams::team/", "ari:cloud:identity::team/"]
        .iter()
        .any(|prefix| text.strip_prefix(prefix).is_some_and(is_ari_segment))
}

fn is_ari_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_'))
}

/// Reads the document of a compass.yml into a Component entity.
pub(crate) fn read_document(reporter: &mut Reporter, document: &Document) -> Option<Entity> {
    let root = &document.root;
    let entries = root.as_mapping()?;
    reporter.unknown_keys(entries, ROOT_KEYS, "a compass.yml", false);

    if let Some(version) = root.get("configVersion")
        && !matches!(&version.value, Value::Scalar(scalar) if scalar.kind == ScalarKind::Int(1))
    {
        reporter
            .report(
                Code::InvalidConfigVersion,
                version,
                format!("configVersion `{}` is not supported", scalar_text(version)),
            )
            .hint = Some("the only configVersion is `1`".to_owned());
    }

    let display_name = reporter.required(root, "name", "a compass.yml").and_then(|node| {
        let name = reporter.string(node, "name")?;
        if name.trim().is_empty() {
            reporter.report(Code::MissingField, node, "`name` must not be blank");
            return None;
        }
        if name.chars().count() > MAX_NAME_CHARS {
            reporter.report(
                Code::ValueTooLong,
                node,
                format!(
                    "`name` has {} characters; Compass allows at most {MAX_NAME_CHARS}",
                    name.chars().count()
                ),
            );
        }
        Some(name)
    });

    let description = optional_nullable_string(reporter, root, "description").inspect(|description| {
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            let node = root.get("description").expect("read above");
            reporter.report(
                Code::ValueTooLong,
                node,
                format!("`description` is longer than {MAX_DESCRIPTION_CHARS} characters"),
            );
        }
    });

    let component_id = optional_nullable_string(reporter, root, "id").filter(|id| {
        let valid = is_component_ari(id);
        if !valid {
            reporter
                .report(
                    Code::InvalidAri,
                    root.get("id").expect("read above"),
                    format!("`{id}` is not a Compass component ARI"),
                )
                .hint = Some("component ids look like `ari:cloud:compass:<cloud-id>:component/<workspace-id>/<component-id>`".to_owned());
        }
        valid
    });

    let type_id = optional_nullable_string(reporter, root, "typeId").inspect(|type_id| {
        if !TYPE_IDS.contains(type_id) {
            let diagnostic = reporter.report(
                Code::InvalidCompassType,
                root.get("typeId").expect("read above"),
                format!("`{type_id}` is not a built-in Compass component type"),
            );
            diagnostic.hint = Some(match closest(type_id, TYPE_IDS) {
                Some(suggestion) => format!("did you mean `{suggestion}`? (custom types defined on your site are fine)"),
                None => format!("built-in types: {}", TYPE_IDS.join(", ")),
            });
        }
    });

    let owner_id = optional_nullable_string(reporter, root, "ownerId").filter(|owner| {
        let valid = is_team_ari(owner);
        if !valid {
            reporter
                .report(
                    Code::InvalidAri,
                    root.get("ownerId").expect("read above"),
                    format!("`{owner}` is not a team ARI"),
                )
                .hint = Some("owners are teams: `ari:cloud:teams::team/<team-id>`".to_owned());
        }
        valid
    });

    let (tier, lifecycle) = read_fields(reporter, root.get("fields"));
    let links = read_links(reporter, root.get("links"), type_id);
    let depends_on = read_relationships(reporter, root.get("relationships"));
    let labels = read_labels(reporter, root.get("labels"));
    read_custom_fields(reporter, root.get("customFields"));

    let slug = optional_nullable_string(reporter, root, "slug").filter(|slug| {
        let valid = is_valid_object_name(slug);
        if !valid {
            reporter
                .report(
                    Code::InvalidEntityName,
                    root.get("slug").expect("read above"),
                    format!("`{slug}` is not a valid component slug"),
                )
                .hint = Some("slugs follow the entity name rule: letters, digits, `-`, `_`, `.`".to_owned());
        }
        valid
    });
    let display_name = display_name?;
    let name = match slug {
        Some(slug) => slug.to_owned(),
        None => match slugify(display_name) {
            Some(name) => name,
            None => {
                reporter
                    .report(
                        Code::InvalidEntityName,
                        root.get("name").expect("required above"),
                        format!("no entity name can be made from `{display_name}`"),
                    )
                    .hint = Some("add a `slug:` with letters, digits and `-`".to_owned());
                return None;
            }
        },
    };

    let mut relations = Vec::new();
    if let Some(owner) = owner_id {
        let position = root.get("ownerId").map(|node| node.start).unwrap_or_default();
        relations.push(Relation {
            relation_type: RelationType::OwnedBy,
            target: Target::Alias(owner.to_owned()),
            position,
        });
    }
    for (ari, node) in depends_on {
        relations.push(Relation {
            relation_type: RelationType::DependsOn,
            target: Target::Alias(ari.to_owned()),
            position: node.start,
        });
    }
    Some(Entity {
        entity_ref: EntityRef::new("component", DEFAULT_NAMESPACE, &name),
        title: Some(display_name.to_owned()),
        description: description.map(str::to_owned),
        entity_type: type_id.map(str::to_ascii_lowercase),
        lifecycle: lifecycle.map(str::to_owned),
        tier,
        owner: owner_id.map(|owner| Target::Alias(owner.to_owned())),
        system: None,
        domain: None,
        tags: labels,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        links,
        aliases: component_id.map(str::to_owned).into_iter().collect(),
        relations,
        document: serde_json::Value::Null, // Filled in by the caller, which owns the tree.
        provenance: Provenance {
            file: reporter.file.to_owned(),
            document: document.index,
            position: root.start,
            format: Format::Compass,
        },
    })
}

fn scalar_text(node: &Node) -> &str {
    node.as_key().unwrap_or(node.type_name())
}

/// A string field that may be absent or null.
fn optional_nullable_string<'node>(reporter: &mut Reporter, mapping: &'node Node, key: &str) -> Option<&'node str> {
    let node = mapping.get(key)?;
    if node.is_null() {
        return None;
    }
    reporter.string(node, key)
}

/// A list field that may be absent or null.
fn optional_list<'node>(reporter: &mut Reporter, node: Option<&'node Node>, field: &str) -> &'node [Node] {
    node.map_or(&[], |node| reporter.sequence(node, field, true))
}

fn read_fields(reporter: &mut Reporter, node: Option<&Node>) -> (Option<u8>, Option<&'static str>) {
    let Some(node) = node.filter(|node| !node.is_null()) else {
        return (None, None);
    };
    let Some(entries) = reporter.mapping(node, "fields") else {
        return (None, None);
    };
    reporter.unknown_keys(entries, FIELD_KEYS, "`fields`", false);
    let tier = node
        .get("tier")
        .filter(|tier| !tier.is_null())
        .and_then(|tier_node| match &tier_node.value {
            Value::Scalar(scalar) => match scalar.kind {
                ScalarKind::Int(tier @ 1..=4) => Some(tier as u8),
                _ => {
                    reporter
                        .report(
                            Code::InvalidTier,
                            tier_node,
                            format!("tier `{}` is not an integer from 1 to 4", scalar.text),
                        )
                        .hint = Some("1 is the most critical, 4 the least".to_owned());
                    None
                }
            },
            _ => {
                reporter.wrong_type(tier_node, "fields.tier", "an integer from 1 to 4");
                None
            }
        });
    // Compared ignoring case: Atlassian's own examples write `Pre-Release`.
    let lifecycle = optional_nullable_string(reporter, node, "lifecycle").and_then(|lifecycle| {
        let known = LIFECYCLES.iter().find(|known| known.eq_ignore_ascii_case(lifecycle)).copied();
        if known.is_none() {
            let diagnostic = reporter.report(
                Code::InvalidLifecycle,
                node.get("lifecycle").expect("read above"),
                format!("`{lifecycle}` is not a Compass lifecycle"),
            );
            diagnostic.hint = Some(match closest(lifecycle, LIFECYCLES) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("use one of: {}", LIFECYCLES.join(", ")),
            });
        }
        known
    });
    if let Some(flag) = node.get("isMonorepoProject")
        && !matches!(&flag.value, Value::Scalar(scalar) if matches!(scalar.kind, ScalarKind::Bool(_) | ScalarKind::Null))
    {
        reporter.wrong_type(flag, "fields.isMonorepoProject", "a boolean");
    }
    (tier, lifecycle)
}

/// Links; ON_CALL links are checked against `type_id` only when the file states a type.
fn read_links(reporter: &mut Reporter, node: Option<&Node>, type_id: Option<&str>) -> Vec<Link> {
    let mut links = Vec::new();
    let mut per_type: HashMap<&str, usize> = HashMap::new();
    for link_node in optional_list(reporter, node, "links") {
        let Some(entries) = reporter.mapping(link_node, "links[]") else {
            continue;
        };
        reporter.unknown_keys(entries, LINK_KEYS, "a link", false);
        let link_type = reporter.required(link_node, "type", "a link").and_then(|type_node| {
            let link_type = reporter.string(type_node, "type")?;
            if !LINK_TYPES.contains(&link_type) {
                let diagnostic = reporter.report(
                    Code::InvalidLinkType,
                    type_node,
                    format!("`{link_type}` is not a Compass link type"),
                );
                diagnostic.hint = Some(match closest(link_type, LINK_TYPES) {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => format!("use one of: {}", LINK_TYPES.join(", ")),
                });
                return None;
            }
            if link_type == "ON_CALL" && type_id.is_some_and(|type_id| type_id != "SERVICE") {
                reporter
                    .report(
                        Code::OnCallLinkNotService,
                        type_node,
                        "ON_CALL links are only allowed on SERVICE components",
                    )
                    .hint = Some("set `typeId: SERVICE`, or use another link type".to_owned());
            }
            let count = per_type.entry(link_type).or_default();
            *count += 1;
            if *count == MAX_LINKS_PER_TYPE + 1 {
                reporter.report(
                    Code::LimitExceeded,
                    type_node,
                    format!("more than {MAX_LINKS_PER_TYPE} links of type {link_type}"),
                );
            }
            Some(link_type)
        });
        let url = reporter.required(link_node, "url", "a link").and_then(|url_node| {
            let url = reporter.string(url_node, "url")?;
            if reporter.dangerous_link(url_node, url) {
                return None;
            }
            if !is_valid_url(url) {
                reporter.report(Code::InvalidLink, url_node, format!("`{url}` is not a URL"));
                return None;
            }
            Some(url)
        });
        let title = optional_nullable_string(reporter, link_node, "name");
        if let Some(url) = url {
            links.push(Link {
                url: url.to_owned(),
                title: title.map(str::to_owned),
                icon: None,
                link_type: link_type.map(str::to_owned),
            });
        }
    }
    links
}

fn read_relationships<'node>(reporter: &mut Reporter, node: Option<&'node Node>) -> Vec<(&'node str, &'node Node)> {
    let mut depends_on = Vec::new();
    let Some(node) = node.filter(|node| !node.is_null()) else {
        return depends_on;
    };
    let Some(entries) = reporter.mapping(node, "relationships") else {
        return depends_on;
    };
    for (key, _) in entries {
        if key.as_key() != Some("DEPENDS_ON") {
            reporter
                .report(
                    Code::InvalidRelationshipType,
                    key,
                    format!("`{}` is not a Compass relationship type", scalar_text(key)),
                )
                .hint = Some("the only relationship type is `DEPENDS_ON`".to_owned());
        }
    }
    let items = optional_list(reporter, node.get("DEPENDS_ON"), "relationships.DEPENDS_ON");
    if items.len() > MAX_DEPENDS_ON {
        reporter.report(
            Code::LimitExceeded,
            &items[MAX_DEPENDS_ON],
            format!("{} DEPENDS_ON entries; Compass allows at most {MAX_DEPENDS_ON}", items.len()),
        );
    }
    for item in items {
        let Some(ari) = reporter.string(item, "DEPENDS_ON[]") else {
            continue;
        };
        if is_component_ari(ari) {
            depends_on.push((ari, item));
        } else {
            reporter
                .report(Code::InvalidAri, item, format!("`{ari}` is not a Compass component ARI"))
                .hint =
                Some("DEPENDS_ON lists component ids: `ari:cloud:compass:<cloud-id>:component/<workspace-id>/<component-id>`".to_owned());
        }
    }
    depends_on
}

fn read_labels(reporter: &mut Reporter, node: Option<&Node>) -> Vec<String> {
    let items = optional_list(reporter, node, "labels");
    if items.len() > MAX_LABELS {
        reporter.report(
            Code::LimitExceeded,
            &items[MAX_LABELS],
            format!("{} labels; Compass allows at most {MAX_LABELS}", items.len()),
        );
    }
    let mut labels = Vec::new();
    for item in items {
        let Some(label) = reporter.string(item, "labels[]") else { continue };
        if label.chars().count() > MAX_LABEL_CHARS {
            reporter.report(
                Code::ValueTooLong,
                item,
                format!("label `{label}` is longer than {MAX_LABEL_CHARS} characters"),
            );
        }
        labels.push(label.to_lowercase());
    }
    labels
}

fn read_custom_fields(reporter: &mut Reporter, node: Option<&Node>) {
    for field_node in optional_list(reporter, node, "customFields") {
        let Some(entries) = reporter.mapping(field_node, "customFields[]") else {
            continue;
        };
        reporter.unknown_keys(entries, CUSTOM_FIELD_KEYS, "a custom field", false);
        if let Some(name) = reporter.required(field_node, "name", "a custom field") {
            reporter.non_empty_string(name, "name");
        }
        if let Some(type_node) = reporter.required(field_node, "type", "a custom field")
            && let Some(field_type) = reporter.string(type_node, "type")
            && !CUSTOM_FIELD_TYPES.contains(&field_type)
        {
            reporter
                .report(
                    Code::InvalidCustomField,
                    type_node,
                    format!("`{field_type}` is not a custom field type"),
                )
                .hint = Some(format!("use one of: {}", CUSTOM_FIELD_TYPES.join(", ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aris() {
        assert!(is_component_ari(
            "ari:cloud:compass:2caf52b4-1fe8:component/59f782fc-ddd5/fcb282b6-5dc1"
        ));
        assert!(!is_component_ari("ari:cloud:compass:x:component/a"));
        assert!(!is_component_ari("payments"));
        assert!(is_team_ari("ari:cloud:teams::team/1b2c3d4e-aaaa"));
        assert!(is_team_ari("ari:cloud:identity::team/1b2c3d4e-aaaa"));
        assert!(!is_team_ari("team-payments"));
    }
}
