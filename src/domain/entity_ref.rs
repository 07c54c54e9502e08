//! Entity references: `[kind:][namespace/]name`, parsed once into a canonical, lowercased form.

use std::fmt;

/// The namespace that entities and references fall back to.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A canonical entity reference `kind:namespace/name`. All three parts are lowercased, because
/// the catalog compares references case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// Why a reference string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefError {
    /// A part (kind, namespace or name) is present but empty, as in `group:` or `/name`.
    EmptyPart,
    /// The reference has no kind and its field has no default kind, as in `dependsOn: [db]`.
    MissingKind,
}

impl fmt::Display for RefError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefError::EmptyPart => formatter.write_str("is not of the form [<kind>:][<namespace>/]<name>"),
            RefError::MissingKind => formatter.write_str("does not say which kind of entity it names"),
        }
    }
}

impl EntityRef {
    /// Builds a reference from parts, lowercasing them.
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        EntityRef {
            kind: kind.to_ascii_lowercase(),
            namespace: namespace.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
        }
    }

    /// Parses `[kind:][namespace/]name`. The string splits at the first `:` and the first `/`;
    /// a `/` before the first `:` means the colon belongs to the name. `default_kind` of `None`
    /// means the kind must be written out.
    pub fn parse(text: &str, default_kind: Option<&str>, default_namespace: &str) -> Result<EntityRef, RefError> {
        let slash = text.find('/');
        let colon = text.find(':').filter(|&colon| slash.is_none_or(|slash| colon < slash));
        let kind = colon.map(|colon| &text[..colon]);
        let name_start = match (colon, slash) {
            (_, Some(slash)) => slash + 1,
            (Some(colon), None) => colon + 1,
            (None, None) => 0,
        };
        let namespace = slash.map(|slash| &text[colon.map_or(0, |colon| colon + 1)..slash]);
        let name = &text[name_start..];
        if kind == Some("") || namespace == Some("") || name.is_empty() {
            return Err(RefError::EmptyPart);
        }
        let kind = kind.or(default_kind).ok_or(RefError::MissingKind)?;
        Ok(EntityRef::new(kind, namespace.unwrap_or(default_namespace), name))
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, kind: Option<&str>) -> Result<String, RefError> {
        EntityRef::parse(text, kind, "default").map(|entity_ref| entity_ref.to_string())
    }

    #[test]
    fn parses_all_forms() {
        assert_eq!(parse("Component:Ns/My-Service", None).unwrap(), "component:ns/my-service");
        assert_eq!(parse("team-a", Some("Group")).unwrap(), "group:default/team-a");
        assert_eq!(parse("other/team-a", Some("group")).unwrap(), "group:other/team-a");
        assert_eq!(parse("user:jane", None).unwrap(), "user:default/jane");
        assert_eq!(parse("ns/a:b", Some("component")).unwrap(), "component:ns/a:b");
        assert_eq!(parse("a:b/c/d", None).unwrap(), "a:b/c/d");
    }

    #[test]
    fn rejects_empty_parts_and_missing_kinds() {
        assert_eq!(parse("group:", Some("group")), Err(RefError::EmptyPart));
        assert_eq!(parse(":x", Some("group")), Err(RefError::EmptyPart));
        assert_eq!(parse("/x", Some("group")), Err(RefError::EmptyPart));
        assert_eq!(parse("", Some("group")), Err(RefError::EmptyPart));
        assert_eq!(parse("artists-db", None), Err(RefError::MissingKind));
    }
}
