//! The inputs of entity lists: `EntityFilter` (turned into the store's `EntityQuery`, with
//! references parsed as people type them), `EntityOrder`, page sizes, and the opaque cursors of
//! keyset pagination.

use async_graphql::{Enum, InputObject, Result};

use super::entity::parse_ref;
use super::{ErrorCode, api_error};
use crate::store::read::{EntityQuery, LabelMatch, SortField, SortOrder, SortPosition};

/// The largest page (`first`) a list returns.
pub const MAX_PAGE_SIZE: i32 = 500;
/// The page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: i32 = 50;
/// Most values in one filter field.
const MAX_FILTER_VALUES: usize = 100;

/// Which entities a list holds. Each field takes several values and matches any of them;
/// fields are combined with "and". An absent or empty field does not filter.
#[derive(InputObject, Default, Clone)]
pub struct EntityFilter {
    /// Kinds, any case: `Component`, `api`...
    pub kinds: Option<Vec<String>>,
    /// `spec.type` values, any case.
    pub types: Option<Vec<String>>,
    pub namespaces: Option<Vec<String>>,
    /// Owners as references (`team-a` means `group:default/team-a`; `user:jane` a user):
    /// entities whose owner resolves to one of them, or is written so.
    pub owners: Option<Vec<String>>,
    /// With `owners`: also what the owners' sub-groups own, at any depth.
    #[graphql(default = false)]
    pub include_subgroups: bool,
    /// Lifecycles, any case: `production`, `experimental`...
    pub lifecycles: Option<Vec<String>>,
    /// Compass tiers, 1 to 4.
    pub tiers: Option<Vec<i32>>,
    /// Entities with at least one of these tags.
    pub tags: Option<Vec<String>>,
    /// `key=value` (that value) or `key` (any value): entities with at least one of them.
    pub labels: Option<Vec<String>>,
    /// Systems as references (`payments` means `system:default/payments`).
    pub systems: Option<Vec<String>>,
    /// Domains as references: systems of the domain, and entities of those systems.
    pub domains: Option<Vec<String>>,
    /// Repository URLs (or local paths) as configured.
    pub repos: Option<Vec<String>>,
    /// Whether the entity's descriptor file has diagnostics.
    pub has_diagnostics: Option<bool>,
    /// Whether the catalog keeps a last good copy of the entity.
    pub stale: Option<bool>,
    /// Whether the entity (other than groups, users and locations) has no owner in the catalog.
    pub orphan: Option<bool>,
    /// Whether the entity has a relation to something that is not in the catalog.
    pub dangling: Option<bool>,
}

/// What a list is sorted by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntityOrderField {
    /// The canonical reference: kind, then namespace, then name.
    #[default]
    Ref,
    /// The name, then the reference.
    Name,
    /// The title (or the name when there is none), then the reference.
    Title,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

/// A list's order.
#[derive(InputObject, Clone, Copy, Default)]
pub struct EntityOrder {
    #[graphql(default)]
    pub field: EntityOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl EntityOrder {
    pub fn sort_order(self) -> SortOrder {
        SortOrder {
            field: match self.field {
                EntityOrderField::Ref => SortField::Ref,
                EntityOrderField::Name => SortField::Name,
                EntityOrderField::Title => SortField::Title,
            },
            descending: self.direction == OrderDirection::Desc,
        }
    }
}

/// `first` checked against the page size cap, before any work.
pub fn page_size(first: Option<i32>) -> Result<usize> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(0..=MAX_PAGE_SIZE).contains(&first) {
        return Err(api_error(
            ErrorCode::PageTooLarge,
            format!("`first` must be between 0 and {MAX_PAGE_SIZE}; it is {first}"),
        ));
    }
    Ok(usize::try_from(first).unwrap_or_default())
}

/// The page size a list's complexity is counted with (the cap itself is checked by [`page_size`]).
pub fn complexity_page_size(first: Option<i32>) -> usize {
    usize::try_from(first.unwrap_or(DEFAULT_PAGE_SIZE).clamp(0, MAX_PAGE_SIZE)).unwrap_or_default()
}

impl EntityFilter {
    /// The store's query: kinds and namespaces lowercased, references made canonical with the
    /// field's default kind, labels split. Too many values, or a malformed reference, label
    /// or tier, is a `BAD_REQUEST`.
    pub fn to_query(&self) -> Result<EntityQuery> {
        let lowered = |field: &str, values: &Option<Vec<String>>| -> Result<Vec<String>> {
            Ok(checked(field, values)?.iter().map(|value| value.trim().to_lowercase()).collect())
        };
        let refs = |field: &str, values: &Option<Vec<String>>, default_kind: &str| -> Result<Vec<String>> {
            checked(field, values)?
                .iter()
                .map(|value| parse_ref(value, default_kind).map(|entity_ref| entity_ref.to_string()))
                .collect()
        };
        let tiers = checked("tiers", &self.tiers)?
            .iter()
            .map(|tier| i16::try_from(*tier).map_err(|_| api_error(ErrorCode::BadRequest, format!("`{tier}` is not a tier (1 to 4)"))))
            .collect::<Result<Vec<i16>>>()?;
        let labels = checked("labels", &self.labels)?
            .iter()
            .map(|label| {
                let (key, value) = match label.split_once('=') {
                    Some((key, value)) => (key.trim(), Some(value.trim().to_owned())),
                    None => (label.trim(), None),
                };
                if key.is_empty() {
                    return Err(api_error(
                        ErrorCode::BadRequest,
                        format!("the label `{}` has no key; write `key=value` or `key`", label.escape_debug()),
                    ));
                }
                Ok(LabelMatch {
                    key: key.to_owned(),
                    value,
                })
            })
            .collect::<Result<Vec<LabelMatch>>>()?;
        Ok(EntityQuery {
            kinds: lowered("kinds", &self.kinds)?,
            types: lowered("types", &self.types)?,
            namespaces: lowered("namespaces", &self.namespaces)?,
            owners: refs("owners", &self.owners, "group")?,
            include_subgroups: self.include_subgroups,
            lifecycles: lowered("lifecycles", &self.lifecycles)?,
            tiers,
            tags: checked("tags", &self.tags)?.iter().map(|tag| tag.trim().to_owned()).collect(),
            labels,
            systems: refs("systems", &self.systems, "system")?,
            domains: refs("domains", &self.domains, "domain")?,
            repos: checked("repos", &self.repos)?.iter().map(|repo| repo.trim().to_owned()).collect(),
            has_diagnostics: self.has_diagnostics,
            stale: self.stale,
            orphan: self.orphan,
            dangling: self.dangling,
        })
    }
}

/// A filter field's values, at most [`MAX_FILTER_VALUES`] of them.
fn checked<'values, T>(field: &str, values: &'values Option<Vec<T>>) -> Result<&'values [T]> {
    let values = values.as_deref().unwrap_or_default();
    if values.len() > MAX_FILTER_VALUES {
        return Err(api_error(
            ErrorCode::BadRequest,
            format!("`{field}` takes at most {MAX_FILTER_VALUES} values; it has {}", values.len()),
        ));
    }
    Ok(values)
}

/// The version tag of cursors: a cursor of another version is refused rather than misread.
const CURSOR_VERSION: &str = "e1";

/// An opaque cursor: the order's field, the sort key and the reference, hex-encoded.
pub fn encode_cursor(field: SortField, position: &SortPosition) -> String {
    let text = format!("{CURSOR_VERSION}\0{}\0{}\0{}", field_tag(field), position.key, position.entity_ref);
    text.bytes().map(|byte| format!("{byte:02x}")).collect()
}

/// The position a cursor holds, checked against the list's order.
pub fn decode_cursor(field: SortField, cursor: &str) -> Result<SortPosition> {
    let invalid = || api_error(ErrorCode::BadRequest, "`after` is not a cursor of this list");
    if !cursor.len().is_multiple_of(2) || cursor.len() > 8_192 {
        return Err(invalid());
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|start| cursor.get(start..start + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let parts: Vec<&str> = text.split('\0').collect();
    match parts.as_slice() {
        [version, tag, key, entity_ref] if *version == CURSOR_VERSION => {
            if *tag != field_tag(field) {
                return Err(api_error(
                    ErrorCode::BadRequest,
                    "`after` is a cursor of a list in another order; keep `orderBy` while paging",
                ));
            }
            Ok(SortPosition {
                key: (*key).to_owned(),
                entity_ref: (*entity_ref).to_owned(),
            })
        }
        _ => Err(invalid()),
    }
}

fn field_tag(field: SortField) -> &'static str {
    match field {
        SortField::Ref => "ref",
        SortField::Name => "name",
        SortField::Title => "title",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_orders_and_garbage() {
        let position = SortPosition {
            key: "Booking Service ✓".to_owned(),
            entity_ref: "component:default/booking-service".to_owned(),
        };
        let cursor = encode_cursor(SortField::Title, &position);
        assert!(cursor.chars().all(|character| character.is_ascii_hexdigit()));
        assert_eq!(decode_cursor(SortField::Title, &cursor).ok(), Some(position));
        assert!(decode_cursor(SortField::Name, &cursor).is_err());
        for garbage in ["", "zz", "abc", "00", &"61".repeat(10)] {
            assert!(decode_cursor(SortField::Ref, garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn page_sizes_are_capped_before_any_work() {
        assert_eq!(page_size(None).ok(), Some(50));
        assert_eq!(page_size(Some(500)).ok(), Some(500));
        assert!(page_size(Some(501)).is_err());
        assert!(page_size(Some(-1)).is_err());
        assert_eq!(complexity_page_size(Some(99_999_999)), 500);
    }

    #[test]
    fn filters_take_references_as_people_type_them() {
        let filter = EntityFilter {
            kinds: Some(vec![" Component ".to_owned()]),
            owners: Some(vec!["Team-A".to_owned(), "user:Jane".to_owned()]),
            systems: Some(vec!["payments".to_owned()]),
            labels: Some(vec!["tier=gold".to_owned(), "pci".to_owned()]),
            ..EntityFilter::default()
        };
        let query = filter.to_query().expect("a valid filter");
        assert_eq!(query.kinds, vec!["component"]);
        assert_eq!(query.owners, vec!["group:default/team-a", "user:default/jane"]);
        assert_eq!(query.systems, vec!["system:default/payments"]);
        assert_eq!(query.labels[0].value.as_deref(), Some("gold"));
        assert_eq!(query.labels[1].value, None);
        let too_many = EntityFilter {
            tags: Some(vec!["x".to_owned(); 101]),
            ..EntityFilter::default()
        };
        assert!(too_many.to_query().is_err());
        let empty_label = EntityFilter {
            labels: Some(vec!["=x".to_owned()]),
            ..EntityFilter::default()
        };
        assert!(empty_label.to_query().is_err());
    }
}
