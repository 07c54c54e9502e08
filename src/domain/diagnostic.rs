//! Diagnostics: what sextant says about a file, with a stable code, a place and a plain message.

use std::fmt;

/// How bad a diagnostic is. Only errors make `sextant validate` exit with 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $slug:literal, $severity:ident, $summary:literal; )*) => {
        /// Every diagnostic sextant can emit. Codes are stable: a code, once released, keeps its
        /// meaning forever, so CI configurations and suppressions can name them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $variant, )*
        }

        impl Code {
            /// All codes, in code order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable code, e.g. `S0104`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// The stable kebab-case name, e.g. `invalid-entity-name`.
            pub fn slug(self) -> &'static str {
                match self { $( Code::$variant => $slug, )* }
            }

            /// The severity this code has unless a flag (such as `--strict`) changes it.
            pub fn default_severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }

            /// One sentence saying what the code is about (used in SARIF rule metadata and docs).
            pub fn summary(self) -> &'static str {
                match self { $( Code::$variant => $summary, )* }
            }
        }
    };
}

codes! {
    // File and YAML level.
    FileTooLarge = "S0001", "file-too-large", Error, "The file is larger than the limit and was not parsed.";
    InvalidUtf8 = "S0002", "invalid-utf8", Error, "The file is not valid UTF-8.";
    ByteOrderMark = "S0003", "byte-order-mark", Warning, "The file starts with a UTF-8 byte-order mark.";
    NulByte = "S0004", "nul-byte", Error, "The file contains a NUL byte; it is probably binary.";
    YamlSyntax = "S0005", "yaml-syntax", Error, "The file is not valid YAML.";
    DuplicateKey = "S0006", "duplicate-key", Error, "A mapping has the same key twice.";
    TabIndentation = "S0007", "tab-indentation", Error, "A tab is used for indentation, which YAML forbids.";
    NestingTooDeep = "S0008", "nesting-too-deep", Error, "Collections are nested deeper than any descriptor needs.";
    AliasExpansionLimit = "S0009", "alias-expansion-limit", Error, "Aliases expand the file beyond its budget of nodes or bytes (a billion-laughs pattern).";
    EmptyFile = "S0010", "empty-file", Warning, "The file holds no YAML document.";
    ReadError = "S0011", "read-error", Error, "The file could not be read.";
    CrlfLineEndings = "S0012", "crlf-line-endings", Note, "The file uses CRLF line endings.";
    NotAMapping = "S0013", "not-a-mapping", Error, "A YAML document is not a mapping.";
    TemplatePlaceholder = "S0014", "template-placeholder", Error, "The file holds scaffolder `${{ }}` placeholders: it is a template skeleton, not a descriptor.";
    TextTemplate = "S0015", "helm-template", Error, "The file holds Helm, Jinja or cookiecutter `{{ }}` templating.";
    AmbiguousScalar = "S0016", "yaml11-ambiguous-scalar", Warning, "A plain scalar that YAML 1.1 tools read differently (e.g. `no` as false).";
    MultipleCompassDocuments = "S0017", "compass-multiple-documents", Error, "A compass.yml holds more than one YAML document.";
    // Backstage descriptors.
    MissingField = "S0101", "missing-field", Error, "A required field is missing.";
    UnknownField = "S0102", "unknown-field", Error, "A field that the format does not define.";
    WrongType = "S0103", "wrong-type", Error, "A field has the wrong YAML type.";
    InvalidEntityName = "S0104", "invalid-entity-name", Error, "An entity name breaks the naming rule.";
    InvalidNamespace = "S0105", "invalid-namespace", Error, "A namespace is not a DNS label.";
    InvalidApiVersion = "S0106", "invalid-api-version", Error, "The apiVersion is malformed or not one this kind supports.";
    InvalidKind = "S0107", "invalid-kind", Error, "The kind is malformed.";
    InvalidTag = "S0108", "invalid-tag", Error, "A tag breaks the tag rule.";
    InvalidLabel = "S0109", "invalid-label", Error, "A label key or value breaks the label rule.";
    InvalidAnnotation = "S0110", "invalid-annotation", Error, "An annotation key breaks the annotation rule.";
    InvalidLink = "S0111", "invalid-link", Error, "A link is malformed.";
    UnknownKind = "S0112", "unknown-kind", Error, "The kind is not one that the catalog knows.";
    InvalidEntityRef = "S0113", "invalid-entity-ref", Error, "An entity reference is malformed.";
    RefKindRequired = "S0114", "ref-kind-required", Error, "A reference in a field without a default kind does not name its kind.";
    InvalidValue = "S0115", "invalid-value", Error, "A field has a value outside its allowed set.";
    DangerousLinkScheme = "S0116", "dangerous-link-scheme", Error, "A link uses a `javascript:`, `data:` or `vbscript:` URL, which a browser runs or renders instead of following.";
    // Compass descriptors.
    InvalidConfigVersion = "S0201", "invalid-config-version", Error, "The Compass configVersion is not 1.";
    InvalidCompassType = "S0202", "invalid-compass-type", Warning, "The Compass typeId is not a built-in type.";
    InvalidAri = "S0203", "invalid-ari", Error, "An Atlassian resource identifier (ARI) is malformed.";
    InvalidTier = "S0204", "invalid-tier", Error, "The Compass tier is not an integer from 1 to 4.";
    InvalidLifecycle = "S0205", "invalid-lifecycle", Error, "The Compass lifecycle is not Pre-release, Active or Deprecated.";
    InvalidLinkType = "S0206", "invalid-link-type", Error, "The Compass link type is not a known one.";
    OnCallLinkNotService = "S0207", "on-call-link-not-service", Error, "An ON_CALL link on a component that is not a SERVICE.";
    LimitExceeded = "S0208", "limit-exceeded", Error, "A list holds more items than Compass allows.";
    ValueTooLong = "S0209", "value-too-long", Error, "A value is longer than the format allows.";
    InvalidCustomField = "S0210", "invalid-custom-field", Error, "A Compass custom field is malformed.";
    InvalidRelationshipType = "S0211", "invalid-relationship-type", Error, "A Compass relationship type other than DEPENDS_ON.";
    // Checks across every file of a run.
    DuplicateEntity = "S0301", "duplicate-entity", Error, "Two documents define the same entity reference.";
    DanglingReference = "S0302", "dangling-reference", Warning, "A reference names an entity that no checked file defines.";
    InvalidOwnerKind = "S0303", "invalid-owner-kind", Error, "An owner is neither a Group nor a User.";
    RelationCycle = "S0304", "relation-cycle", Error, "A partOf or Group parent chain loops back on itself.";
    DuplicateCompassId = "S0305", "duplicate-compass-id", Error, "Two Compass files claim the same component id.";
    // Reading repositories.
    SymlinkSkipped = "S0401", "symlink-skipped", Warning, "A descriptor that is a symbolic link is not followed.";
    SubmoduleSkipped = "S0402", "submodule-skipped", Note, "A git submodule is not crawled with its parent repository.";
    TooManyDescriptors = "S0403", "too-many-descriptors", Warning, "A repository holds more descriptor files than the limit; the rest are not read.";
    EntityConflict = "S0404", "entity-conflict", Error, "Another repository or file already holds this entity reference.";
    RepositoryBytesExceeded = "S0405", "repository-bytes-exceeded", Warning, "A repository's descriptor files hold more bytes than are read per repository; the rest are not read.";
    // Checks against the catalog (`validate --catalog`).
    BreakingChange = "S0501", "breaking-change", Error, "A change removes or renames an entity that other entities in the catalog depend on.";
    EntityAdded = "S0502", "entity-added", Note, "A change adds an entity that the catalog does not hold yet.";
    EntityRemoved = "S0503", "entity-removed", Note, "A change removes an entity that the catalog holds from this repository.";
    EntityRenamed = "S0504", "entity-renamed", Note, "A change gives an entity a new reference at the same file and document.";
    EntityChanged = "S0505", "entity-changed", Note, "A change alters an entity's owner, lifecycle, tier, system or relations.";
    RepositoryNotInCatalog = "S0506", "repository-not-in-catalog", Note, "The catalog does not crawl this repository and branch; every entity counts as added.";
}

impl fmt::Display for Code {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.as_str(), self.slug())
    }
}

/// A place in a source file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// Another place that a diagnostic refers to, such as the first definition of a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub file: String,
    pub position: Position,
    pub message: String,
}

/// One problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Where the offending node ends (exclusive), when known; used to underline it.
    pub end: Option<Position>,
    pub message: String,
    pub hint: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: Code, file: &str, position: Position, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.default_severity(),
            file: file.to_owned(),
            line: position.line,
            column: position.column,
            end: None,
            message: message.into(),
            hint: None,
            related: Vec::new(),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_end(mut self, end: Position) -> Self {
        self.end = Some(end);
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn with_related(mut self, related: Related) -> Self {
        self.related.push(related);
        self
    }

    pub fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_and_slugs_are_unique_and_well_formed() {
        let mut codes = HashSet::new();
        let mut slugs = HashSet::new();
        for code in Code::ALL {
            assert!(codes.insert(code.as_str()), "duplicate code {}", code.as_str());
            assert!(slugs.insert(code.slug()), "duplicate slug {}", code.slug());
            let text = code.as_str();
            assert!(text.len() == 5 && text.starts_with('S') && text[1..].bytes().all(|b| b.is_ascii_digit()));
            assert!(
                code.slug()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            );
        }
    }

    /// docs/validation.md lists every code with its name and default severity, and no other.
    #[test]
    fn the_reference_page_lists_every_code() {
        let page = include_str!("../../docs/validation.md");
        let section = page.split("\n## Diagnostic codes").nth(1).unwrap_or_default();
        let section = section.split("\n## ").next().unwrap_or_default();
        let rows: Vec<Vec<&str>> = section
            .lines()
            .filter(|line| line.starts_with("| S0"))
            .map(|line| line.split('|').map(str::trim).collect())
            .collect();
        for code in Code::ALL {
            let row = rows
                .iter()
                .find(|row| row.get(1) == Some(&code.as_str()))
                .unwrap_or_else(|| panic!("docs/validation.md does not list {}", code.as_str()));
            assert_eq!(row.get(2), Some(&code.slug()), "{}", code.as_str());
            let severity = row.get(3).copied().unwrap_or_default();
            assert!(
                severity.starts_with(code.default_severity().as_str()),
                "{}: {severity}",
                code.as_str()
            );
        }
        assert_eq!(
            rows.len(),
            Code::ALL.len(),
            "docs/validation.md lists a code that does not exist, or one twice"
        );
    }
}
