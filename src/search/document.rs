//! Search documents on the wire: Meilisearch document ids (entity references encoded to
//! `[A-Za-z0-9_-]`, at most 511 bytes, collision-free) and the document sent for an entity.
//!
//! Meilisearch compares filter values without regard to case (`owner = "A"` also matches `a`)
//! and cuts long facet values, while the search contract compares values exactly. So each
//! document also carries `filter_keys`: one digest per (field, value) pair, and filters are
//! built on those digests; the plain fields are what facets count.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::search::FacetField;
use crate::store::SearchEntity;

/// Longest document id Meilisearch accepts, in bytes.
pub const MAX_DOCUMENT_ID_BYTES: usize = 511;

/// The document attribute holding the exact-match keys of [`filter_key`].
pub const FILTER_KEYS_ATTRIBUTE: &str = "filter_keys";

/// The Meilisearch document id of an entity reference: ASCII letters, digits and `-` are kept,
/// every other byte (`_` too) becomes `_` and two uppercase hex digits. An id that would be
/// longer than [`MAX_DOCUMENT_ID_BYTES`] is `_h` and the SHA-256 of the reference in lowercase
/// hex instead; the escaping never writes `_h` (h is not an uppercase hex digit), so two
/// references never share an id.
pub fn document_id(entity_ref: &str) -> String {
    let mut id = String::with_capacity(entity_ref.len());
    for byte in entity_ref.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            id.push(char::from(byte));
        } else {
            id.push('_');
            id.push(hex_digit(byte >> 4, b'A'));
            id.push(hex_digit(byte & 0x0f, b'A'));
        }
        if id.len() > MAX_DOCUMENT_ID_BYTES {
            return format!("_h{}", sha256_hex(entity_ref.as_bytes()));
        }
    }
    id
}

/// The exact-match key of `value` in `field`: the SHA-256 of the field's name, a NUL and the
/// value, in lowercase hex (safe inside a filter, and equal only for equal values).
pub fn filter_key(field: FacetField, value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(field.name().as_bytes());
    hasher.update([0u8]);
    hasher.update(value.as_bytes());
    hex_lower(&hasher.finalize())
}

/// An entity as a Meilisearch document: the id, the reference, the fields filters and facets
/// use (under [`FacetField::name`]), the searchable text, and the exact-match keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeiliDocument {
    pub id: String,
    pub entity_ref: String,
    pub kind: String,
    #[serde(rename = "type")]
    pub entity_type: Option<String>,
    pub owner: Option<String>,
    pub lifecycle: Option<String>,
    pub tier: Option<i16>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub system: Option<String>,
    pub domain: Option<String>,
    pub namespace: String,
    pub repo: Option<String>,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub definition: Option<String>,
    #[serde(default)]
    pub filter_keys: Vec<String>,
}

impl MeiliDocument {
    pub fn from_entity(entity: &SearchEntity) -> MeiliDocument {
        MeiliDocument::from_owned(entity.clone())
    }

    /// The document of `entity`, reusing its strings.
    pub fn from_owned(entity: SearchEntity) -> MeiliDocument {
        let mut filter_keys = Vec::new();
        for field in FacetField::ALL {
            for value in facet_values(&entity, field) {
                filter_keys.push(filter_key(field, &value));
            }
        }
        MeiliDocument {
            id: document_id(&entity.entity_ref),
            entity_ref: entity.entity_ref,
            kind: entity.kind,
            entity_type: entity.entity_type,
            owner: entity.owner,
            lifecycle: entity.lifecycle,
            tier: entity.tier,
            tags: entity.tags,
            system: entity.system,
            domain: entity.domain,
            namespace: entity.namespace,
            repo: entity.repo,
            name: entity.name,
            title: entity.title,
            description: entity.description,
            labels: entity.labels,
            definition: entity.definition,
            filter_keys,
        }
    }

    pub fn into_entity(self) -> SearchEntity {
        SearchEntity {
            entity_ref: self.entity_ref,
            kind: self.kind,
            namespace: self.namespace,
            name: self.name,
            title: self.title,
            description: self.description,
            entity_type: self.entity_type,
            lifecycle: self.lifecycle,
            tier: self.tier,
            owner: self.owner,
            system: self.system,
            domain: self.domain,
            tags: self.tags,
            labels: self.labels,
            repo: self.repo,
            definition: self.definition,
        }
    }
}

/// The values `entity` has in `field`, as a filter names them (a tier as its decimal number).
pub fn facet_values(entity: &SearchEntity, field: FacetField) -> Vec<String> {
    let single = |value: &Option<String>| value.iter().cloned().collect();
    match field {
        FacetField::Kind => vec![entity.kind.clone()],
        FacetField::Type => single(&entity.entity_type),
        FacetField::Owner => single(&entity.owner),
        FacetField::Lifecycle => single(&entity.lifecycle),
        FacetField::Tier => entity.tier.iter().map(i16::to_string).collect(),
        FacetField::Tags => entity.tags.clone(),
        FacetField::System => single(&entity.system),
        FacetField::Domain => single(&entity.domain),
        FacetField::Namespace => vec![entity.namespace.clone()],
        FacetField::Repo => single(&entity.repo),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex_lower(&Sha256::digest(bytes))
}

fn hex_lower(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(hex_digit(byte >> 4, b'a'));
        text.push(hex_digit(byte & 0x0f, b'a'));
    }
    text
}

/// The hex digit of `nibble` (0..16), letters from `letter_a` (`b'a'` or `b'A'`).
fn hex_digit(nibble: u8, letter_a: u8) -> char {
    let nibble = nibble & 0x0f;
    char::from(if nibble < 10 { b'0' + nibble } else { letter_a + nibble - 10 })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn in_alphabet(id: &str) -> bool {
        id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    }

    #[test]
    fn plain_characters_are_kept_and_others_escaped_in_uppercase_hex() {
        assert_eq!(document_id("payments-api"), "payments-api");
        assert_eq!(document_id("component:default/payments-api"), "component_3Adefault_2Fpayments-api");
        assert_eq!(document_id("a_b"), "a_5Fb");
        assert_eq!(document_id("é"), "_C3_A9");
        assert_eq!(document_id(""), "");
    }

    #[test]
    fn refs_that_differ_only_in_escaped_characters_get_distinct_ids() {
        assert_ne!(document_id("a:b"), document_id("a_3Ab"));
        assert_eq!(document_id("a_3Ab"), "a_5F3Ab");
        assert_ne!(document_id("a b"), document_id("a+b"));
    }

    #[test]
    fn long_refs_are_hashed_and_short_enough() {
        let fits = "a".repeat(MAX_DOCUMENT_ID_BYTES);
        assert_eq!(document_id(&fits), fits);
        let long = "a".repeat(MAX_DOCUMENT_ID_BYTES + 1);
        let id = document_id(&long);
        assert!(id.starts_with("_h"), "{id}");
        assert_eq!(id.len(), 66);
        // Escaping makes a short ref long: 200 colons are 600 bytes once escaped.
        let escaped_long = ":".repeat(200);
        let id = document_id(&escaped_long);
        assert!(id.starts_with("_h") && in_alphabet(&id), "{id}");
        assert_ne!(document_id(&":".repeat(201)), id);
    }

    #[test]
    fn generated_refs_map_to_distinct_valid_ids() {
        // A deterministic generator (xorshift) over an alphabet of plain, escaped and
        // multi-byte characters, including the characters of the escape sequences themselves.
        let alphabet: Vec<char> = "aA9-_:/h3Ffé😀 \"\\.".chars().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut seen: HashMap<String, String> = HashMap::new();
        for round in 0..20_000 {
            let length = if round % 100 == 0 {
                150 + (next() % 300) as usize
            } else {
                (next() % 12) as usize
            };
            let entity_ref: String = (0..length).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let id = document_id(&entity_ref);
            assert!(in_alphabet(&id), "{entity_ref:?} -> {id}");
            assert!(id.len() <= MAX_DOCUMENT_ID_BYTES, "{entity_ref:?} -> {} bytes", id.len());
            if let Some(other) = seen.insert(id.clone(), entity_ref.clone()) {
                assert_eq!(other, entity_ref, "two refs share the id {id}");
            }
        }
        assert!(seen.len() > 10_000, "the generator made too few distinct refs: {}", seen.len());
    }

    #[test]
    fn filter_keys_tell_values_and_fields_apart() {
        assert_ne!(filter_key(FacetField::Owner, "A"), filter_key(FacetField::Owner, "a"));
        assert_ne!(filter_key(FacetField::Owner, "x"), filter_key(FacetField::System, "x"));
        assert_eq!(filter_key(FacetField::Tags, "x").len(), 64);
        assert!(filter_key(FacetField::Tags, "\"").bytes().all(|byte| byte.is_ascii_hexdigit()));
    }

    #[test]
    fn documents_round_trip_through_json() {
        let entity = SearchEntity {
            entity_ref: "component:default/payments-api".into(),
            kind: "component".into(),
            namespace: "default".into(),
            name: "payments-api".into(),
            title: Some("Payments API".into()),
            description: None,
            entity_type: Some("service".into()),
            lifecycle: Some("production".into()),
            tier: Some(1),
            owner: Some("group:default/payments".into()),
            system: None,
            domain: None,
            tags: vec!["java".into(), "x\" OR kind = \"group".into()],
            labels: vec!["team=payments".into()],
            repo: Some("https://git.example.com/payments".into()),
            definition: None,
        };
        let document = MeiliDocument::from_entity(&entity);
        let json = serde_json::to_value(&document).expect("serializes");
        assert_eq!(json["type"], "service");
        assert_eq!(json["tier"], 1);
        assert_eq!(json["id"], "component_3Adefault_2Fpayments-api");
        // kind, type, owner, lifecycle, tier, two tags, namespace, repo.
        assert_eq!(document.filter_keys.len(), 9);
        let back: MeiliDocument = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back.into_entity(), entity);
    }
}
