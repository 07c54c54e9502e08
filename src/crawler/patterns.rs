//! Which files of a repository are descriptors: the built-in names (`catalog-info.yaml`,
//! `compass.yml`…) plus the configured glob patterns, compiled once. A pattern without `/`
//! matches a file name at any depth; a pattern with `/` matches the path from the repository's
//! root. `*` stays within one folder, `**` crosses folders.

use std::fmt;
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::descriptor::is_descriptor_file_name;

/// A pattern that can never select a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "descriptor pattern `{}` {}", self.pattern, self.reason)
    }
}

impl std::error::Error for PatternError {}

/// The compiled descriptor patterns. Cheap to clone.
#[derive(Clone, Default)]
pub struct DescriptorMatcher {
    compiled: Option<Arc<Compiled>>,
}

struct Compiled {
    patterns: Vec<String>,
    /// Patterns without `/`, matched against the file name.
    by_name: GlobSet,
    /// Patterns with `/`, matched against the whole path.
    by_path: GlobSet,
}

impl fmt::Debug for DescriptorMatcher {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.patterns()).finish()
    }
}

impl PartialEq for DescriptorMatcher {
    fn eq(&self, other: &Self) -> bool {
        self.patterns() == other.patterns()
    }
}

impl DescriptorMatcher {
    /// The built-in names and `patterns`. A pattern that is empty, is not a valid glob, ends
    /// with `/`, or whose last part is `**`, `.` or `..` (which name folders) is refused.
    pub fn new<Pattern: AsRef<str>>(patterns: &[Pattern]) -> Result<DescriptorMatcher, PatternError> {
        if patterns.is_empty() {
            return Ok(DescriptorMatcher::default());
        }
        let mut by_name = GlobSetBuilder::new();
        let mut by_path = GlobSetBuilder::new();
        let mut kept = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let pattern = pattern.as_ref();
            let refuse = |reason: String| PatternError {
                pattern: pattern.to_owned(),
                reason,
            };
            if pattern.trim().is_empty() {
                return Err(refuse("is empty".to_owned()));
            }
            if pattern.ends_with('/') {
                return Err(refuse(
                    "ends with `/`, so it names folders, not files; add a file name, as in `docs/*.yaml`".to_owned(),
                ));
            }
            // A leading `/` anchors the pattern at the repository's root, like in .gitignore.
            let anchored = pattern.starts_with('/');
            let body = pattern.trim_start_matches('/');
            let last = body.rsplit('/').next().unwrap_or(body);
            if matches!(last, "**" | "." | "..") {
                return Err(refuse(format!(
                    "ends with `{last}`, which names folders, not files; add a file name, as in `**/*.yaml`"
                )));
            }
            let glob = GlobBuilder::new(body)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|error| refuse(format!("is not a valid glob: {}", error.kind())))?;
            if anchored || body.contains('/') {
                by_path.add(glob);
            } else {
                by_name.add(glob);
            }
            kept.push(pattern.to_owned());
        }
        let build = |builder: GlobSetBuilder| {
            builder.build().map_err(|error| PatternError {
                pattern: kept.join(", "),
                reason: format!("cannot be compiled: {error}"),
            })
        };
        let (by_name, by_path) = (build(by_name)?, build(by_path)?);
        Ok(DescriptorMatcher {
            compiled: Some(Arc::new(Compiled {
                patterns: kept,
                by_name,
                by_path,
            })),
        })
    }

    /// The configured patterns, as given.
    pub fn patterns(&self) -> &[String] {
        self.compiled.as_ref().map_or(&[], |compiled| &compiled.patterns)
    }

    /// Whether the file at `path` (relative to the repository's root, `/`-separated) is read as
    /// a descriptor.
    pub fn matches(&self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        if is_descriptor_file_name(name) {
            return true;
        }
        self.compiled
            .as_ref()
            .is_some_and(|compiled| compiled.by_name.is_match(name) || compiled.by_path.is_match(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_names_always_match() {
        let matcher = DescriptorMatcher::default();
        assert!(matcher.matches("catalog-info.yaml"));
        assert!(matcher.matches("services/a/compass.yml"));
        assert!(!matcher.matches("services/a/catalog-info-a.yaml"));
    }

    #[test]
    fn patterns_without_a_slash_match_names_at_any_depth() {
        let matcher = DescriptorMatcher::new(&["catalog-info-*.yaml", "*.catalog.yaml", "team?.yml", "[ab]pi.yaml"]).unwrap();
        for path in [
            "catalog-info-payments.yaml",
            "a/b/catalog-info-x.yaml",
            "x.catalog.yaml",
            "d/team1.yml",
            "bpi.yaml",
        ] {
            assert!(matcher.matches(path), "{path}");
        }
        for path in [
            "catalog-info-x.yml",
            "a/catalog-info-x.yaml/readme.md",
            "team12.yml",
            "cpi.yaml",
            "a.catalog.yaml.bak",
        ] {
            assert!(!matcher.matches(path), "{path}");
        }
    }

    #[test]
    fn patterns_with_a_slash_match_the_whole_path() {
        let matcher = DescriptorMatcher::new(&["catalog/*.yaml", "services/**/descriptor.yaml", "/root.yaml"]).unwrap();
        assert!(matcher.matches("catalog/a.yaml"));
        assert!(!matcher.matches("catalog/sub/a.yaml"), "`*` stays within one folder");
        assert!(!matcher.matches("x/catalog/a.yaml"), "anchored at the root");
        assert!(matcher.matches("services/descriptor.yaml"));
        assert!(matcher.matches("services/a/b/descriptor.yaml"));
        assert!(matcher.matches("root.yaml"));
        assert!(!matcher.matches("sub/root.yaml"));
    }

    #[test]
    fn patterns_that_cannot_match_a_file_are_refused() {
        for (pattern, reason) in [
            ("", "is empty"),
            ("  ", "is empty"),
            ("catalog/", "ends with `/`"),
            ("**", "ends with `**`"),
            ("services/**", "ends with `**`"),
            ("a/..", "ends with `..`"),
            ("catalog-[.yaml", "is not a valid glob"),
            ("{a,b", "is not a valid glob"),
        ] {
            let error = DescriptorMatcher::new(&[pattern]).unwrap_err();
            assert!(error.to_string().contains(reason), "{pattern:?}: {error}");
        }
    }
}
