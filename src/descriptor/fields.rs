//! Typed reads of YAML nodes that report a diagnostic whenever a field is missing or has the
//! wrong shape; shared by the Backstage and Compass readers.

use crate::descriptor::yaml::{Node, ScalarKind, Value};
use crate::domain::names::dangerous_link_scheme;
use crate::domain::{Code, Diagnostic, Severity};

/// Collects the diagnostics of one file while its documents are read.
pub(crate) struct Reporter<'file> {
    pub file: &'file str,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'file> Reporter<'file> {
    pub fn new(file: &'file str) -> Self {
        Reporter {
            file,
            diagnostics: Vec::new(),
        }
    }

    /// Reports a problem that spans `node`.
    pub fn report(&mut self, code: Code, node: &Node, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics
            .push(Diagnostic::new(code, self.file, node.start, message).with_end(node.end));
        self.diagnostics.last_mut().expect("just pushed")
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
            .count()
    }

    /// Reports a link URL whose scheme a browser runs or renders instead of following
    /// (`javascript:`, `data:`, `vbscript:`); true when it did. The URL itself is not repeated.
    pub fn dangerous_link(&mut self, node: &Node, url: &str) -> bool {
        let Some(scheme) = dangerous_link_scheme(url) else {
            return false;
        };
        self.report(
            Code::DangerousLinkScheme,
            node,
            format!("this link uses the `{scheme}:` scheme, which a browser runs or renders instead of following"),
        )
        .hint = Some(
            "links must lead to a page, e.g. `https://example.com/runbook`; `javascript:`, `data:` and `vbscript:` links are refused"
                .to_owned(),
        );
        true
    }

    /// Reports that `node` should have been `expected` (e.g. "a string").
    pub fn wrong_type(&mut self, node: &Node, field: &str, expected: &str) {
        let found = node.type_name();
        let diagnostic = self.report(Code::WrongType, node, format!("`{field}` must be {expected}, but it is {found}"));
        if expected == "a string" && matches!(&node.value, Value::Scalar(scalar) if scalar.plain && scalar.kind != ScalarKind::Null) {
            let text = node.as_key().unwrap_or_default();
            diagnostic.hint = Some(format!("quote it to make it a string: `\"{text}\"`"));
        }
    }

    /// The mapping entries of `node`, or a wrong-type diagnostic.
    pub fn mapping<'node>(&mut self, node: &'node Node, field: &str) -> Option<&'node [(Node, Node)]> {
        let entries = node.as_mapping();
        if entries.is_none() {
            self.wrong_type(node, field, "a mapping");
        }
        entries
    }

    /// The text of a string field, or a wrong-type diagnostic.
    pub fn string<'node>(&mut self, node: &'node Node, field: &str) -> Option<&'node str> {
        let text = node.as_str();
        if text.is_none() {
            self.wrong_type(node, field, "a string");
        }
        text
    }

    /// A string that may also be a placeholder (`$text: ./openapi.yaml`), which Backstage's
    /// ingestion substitutes before validating; a placeholder yields `None` without a diagnostic.
    pub fn string_or_placeholder<'node>(&mut self, node: &'node Node, field: &str) -> Option<&'node str> {
        if is_placeholder(node) {
            return None;
        }
        self.non_empty_string(node, field)
    }

    /// A string that must not be empty.
    pub fn non_empty_string<'node>(&mut self, node: &'node Node, field: &str) -> Option<&'node str> {
        let text = self.string(node, field)?;
        if text.is_empty() {
            self.report(Code::InvalidValue, node, format!("`{field}` must not be empty"));
            return None;
        }
        Some(text)
    }

    /// The items of a list field (a null value reads as an empty list only when `null_ok`).
    pub fn sequence<'node>(&mut self, node: &'node Node, field: &str, null_ok: bool) -> &'node [Node] {
        if null_ok && node.is_null() {
            return &[];
        }
        match node.as_sequence() {
            Some(items) => items,
            None => {
                self.wrong_type(node, field, "a list");
                &[]
            }
        }
    }

    /// The value of a required key, or a missing-field diagnostic at the mapping.
    pub fn required<'node>(&mut self, mapping: &'node Node, key: &str, within: &str) -> Option<&'node Node> {
        let value = mapping.get(key);
        if value.is_none() {
            self.report(
                Code::MissingField,
                mapping,
                format!("{within} is missing the required field `{key}`"),
            )
            .end = None;
        }
        value
    }

    /// Reports keys of `mapping` that are not in `known`. Unknown keys are errors when the format
    /// forbids extra keys; otherwise only near misses of known keys are reported, as warnings.
    pub fn unknown_keys(&mut self, mapping: &[(Node, Node)], known: &[&str], within: &str, extra_keys_allowed: bool) {
        for (key, _) in mapping {
            let Some(text) = key.as_key() else { continue };
            if known.contains(&text) {
                continue;
            }
            let suggestion = closest(text, known);
            if extra_keys_allowed && suggestion.is_none() {
                continue;
            }
            let diagnostic = self.report(Code::UnknownField, key, format!("unknown field `{text}` in {within}"));
            if let Some(suggestion) = suggestion {
                diagnostic.hint = Some(format!("did you mean `{suggestion}`?"));
            } else {
                diagnostic.hint = Some(format!("known fields: {}", known.join(", ")));
            }
            if extra_keys_allowed {
                diagnostic.severity = Severity::Warning;
                diagnostic.message.push_str(" is ignored");
            }
        }
    }
}

/// A value that Backstage's ingestion substitutes before validation: `{$text: ./openapi.yaml}`,
/// `$json` or `$yaml`.
pub fn is_placeholder(node: &Node) -> bool {
    matches!(node.as_mapping(), Some([(key, _)]) if matches!(key.as_key(), Some("$text" | "$json" | "$yaml")))
}

/// The known word closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'known>(word: &str, known: &[&'known str]) -> Option<&'known str> {
    let lowered = word.to_ascii_lowercase();
    known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(&lowered, &candidate.to_ascii_lowercase()), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.min(candidate.len() / 3).max(1) || (*distance == 0))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn near_misses() {
        let known = ["dependsOn", "dependencyOf", "owner", "lifecycle"];
        assert_eq!(closest("dependson", &known), Some("dependsOn"));
        assert_eq!(closest("dependOn", &known), Some("dependsOn"));
        assert_eq!(closest("owners", &known), Some("owner"));
        assert_eq!(closest("lifecyle", &known), Some("lifecycle"));
        assert_eq!(closest("x-custom", &known), None);
        assert_eq!(closest("own", &known), None);
    }
}
