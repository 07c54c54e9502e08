//! One typed configuration from `sextant.yaml`, the environment and the command line (in that
//! order of precedence, last wins). Secrets are redacted in `Debug`.
//!
//! ```yaml
//! repositories:
//!   - url: https://git.example.com/acme/payments.git   # https, ssh, user@host:path, or a path
//!     branch: main                                      # default: the remote's HEAD
//!     name: payments                                    # default: the last path segment
//! directories:
//!   - /srv/git            # every git repository under this folder
//! crawl:
//!   concurrency: 8
//!   timeoutSeconds: 120
//!   maxDescriptorsPerRepo: 1000
//!   descriptorPatterns: ["*.catalog.yaml"]
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crawler::{Origin, Source, find_repositories};
use crate::descriptor::yaml::{self, Node};

/// The settings of a crawl.
#[derive(Clone, Default)]
pub struct Config {
    pub sources: Vec<Source>,
    pub concurrency: Option<usize>,
    pub repo_timeout: Option<Duration>,
    pub max_descriptors: Option<usize>,
    pub descriptor_patterns: Vec<String>,
    pub data_dir: Option<PathBuf>,
    /// `DATABASE_URL`; may hold a password, so it is never printed.
    pub database_url: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Config")
            .field("sources", &self.sources.iter().map(|source| &source.url).collect::<Vec<_>>())
            .field("concurrency", &self.concurrency)
            .field("repo_timeout", &self.repo_timeout)
            .field("max_descriptors", &self.max_descriptors)
            .field("descriptor_patterns", &self.descriptor_patterns)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|url| crate::crawler::redact(url)))
            .finish()
    }
}

/// A config file that cannot be used, with the place of the problem.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads `path`. Relative local paths in it are taken relative to the file's folder.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError(format!("cannot read {}: {error}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_text(&text, &path.display().to_string(), base)
    }

    pub fn from_text(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let (documents, diagnostics) = yaml::parse(text, file);
        if let Some(diagnostic) = diagnostics.first() {
            return Err(ConfigError(format!(
                "{file}:{}:{}: {}",
                diagnostic.line, diagnostic.column, diagnostic.message
            )));
        }
        let mut config = Config::default();
        let Some(root) = documents.first().map(|document| &document.root).filter(|root| !root.is_null()) else {
            return Ok(config);
        };
        let at = |node: &Node, message: &str| ConfigError(format!("{file}:{}:{}: {message}", node.start.line, node.start.column));
        let entries = root.as_mapping().ok_or_else(|| at(root, "the config must be a mapping"))?;
        for (key, value) in entries {
            match key.as_key() {
                Some("repositories") => {
                    for item in value.as_sequence().ok_or_else(|| at(value, "`repositories` must be a list"))? {
                        let (url_node, branch, name) = match item.as_str() {
                            Some(_) => (item, None, None),
                            None => {
                                let url = item.get("url").ok_or_else(|| at(item, "a repository needs a `url`"))?;
                                let text_of = |key: &str| item.get(key).and_then(Node::as_str).map(str::to_owned);
                                (url, text_of("branch"), text_of("name"))
                            }
                        };
                        let url = url_node.as_str().ok_or_else(|| at(url_node, "`url` must be a string"))?;
                        let url = resolve_local(url, base);
                        let source =
                            Source::parse(&url, branch, name, Origin::Operator).map_err(|error| at(url_node, &error.to_string()))?;
                        config.sources.push(source);
                    }
                }
                Some("directories") => {
                    for item in value.as_sequence().ok_or_else(|| at(value, "`directories` must be a list"))? {
                        let folder = item.as_str().ok_or_else(|| at(item, "a directory must be a string"))?;
                        config.add_directory(&base.join(folder)).map_err(|error| at(item, &error.0))?;
                    }
                }
                Some("crawl") => {
                    let number = |key: &str| -> Result<Option<u64>, ConfigError> {
                        match value.get(key) {
                            None => Ok(None),
                            Some(node) => match node.to_json().as_u64() {
                                Some(number) if number > 0 => Ok(Some(number)),
                                _ => Err(at(node, &format!("`{key}` must be a positive integer"))),
                            },
                        }
                    };
                    config.concurrency = number("concurrency")?.map(|number| number as usize);
                    config.repo_timeout = number("timeoutSeconds")?.map(Duration::from_secs);
                    config.max_descriptors = number("maxDescriptorsPerRepo")?.map(|number| number as usize);
                    if let Some(patterns) = value.get("descriptorPatterns") {
                        for pattern in patterns
                            .as_sequence()
                            .ok_or_else(|| at(patterns, "`descriptorPatterns` must be a list"))?
                        {
                            config.descriptor_patterns.push(
                                pattern
                                    .as_str()
                                    .ok_or_else(|| at(pattern, "a pattern must be a string"))?
                                    .to_owned(),
                            );
                        }
                    }
                }
                Some("dataDir") => config.data_dir = value.as_str().map(|dir| base.join(dir)),
                Some("database") => config.database_url = value.as_str().map(str::to_owned),
                Some(other) => {
                    return Err(at(
                        key,
                        &format!("unknown setting `{other}` (known: repositories, directories, crawl, dataDir, database)"),
                    ));
                }
                None => return Err(at(key, "keys must be plain strings")),
            }
        }
        Ok(config)
    }

    /// Adds every git repository under `folder` as a local source.
    pub fn add_directory(&mut self, folder: &Path) -> Result<(), ConfigError> {
        let repositories = find_repositories(folder).map_err(|error| ConfigError(format!("cannot list {}: {error}", folder.display())))?;
        for repository in repositories {
            let source = Source::parse(&repository.to_string_lossy(), None, None, Origin::Operator)
                .map_err(|error| ConfigError(error.to_string()))?;
            self.sources.push(source);
        }
        Ok(())
    }

    /// Adds a repository named on the command line.
    pub fn add_repository(&mut self, url: &str) -> Result<(), ConfigError> {
        let source = Source::parse(url, None, None, Origin::Operator).map_err(|error| ConfigError(error.to_string()))?;
        self.sources.push(source);
        Ok(())
    }

    /// Applies the environment: `DATABASE_URL`, `SEXTANT_DATA_DIR`.
    pub fn apply_environment(&mut self) {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            self.database_url = Some(url);
        }
        if let Some(dir) = std::env::var_os("SEXTANT_DATA_DIR") {
            self.data_dir = Some(PathBuf::from(dir));
        }
    }

    /// Drops sources listed twice (same URL and branch), keeping the first.
    pub fn dedup_sources(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.sources
            .retain(|source| seen.insert((source.url.clone(), source.branch.clone())));
    }
}

/// A relative local path in the config file is relative to the file's folder.
fn resolve_local(url: &str, base: &Path) -> String {
    if url.starts_with("./") || url.starts_with("../") {
        base.join(url).to_string_lossy().into_owned()
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sources_and_settings() {
        let text = "repositories:\n  - url: https://bot:secret@git.example.com/acme/payments.git\n    branch: main\n  - ./local/repo\ncrawl:\n  concurrency: 4\n  timeoutSeconds: 30\n  descriptorPatterns: ['*.catalog.yaml']\ndatabase: postgres://user:pw@db/sextant\n";
        let config = Config::from_text(text, "sextant.yaml", Path::new("/etc/sextant")).unwrap();
        assert_eq!(config.sources.len(), 2);
        assert_eq!(config.sources[0].url, "https://bot@git.example.com/acme/payments.git");
        assert_eq!(config.sources[0].branch.as_deref(), Some("main"));
        assert_eq!(config.sources[1].url, "/etc/sextant/./local/repo");
        assert_eq!(config.concurrency, Some(4));
        assert_eq!(config.repo_timeout, Some(Duration::from_secs(30)));
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret") && !shown.contains(":pw@"), "{shown}");
    }

    #[test]
    fn errors_name_the_place() {
        let error = Config::from_text("repositories:\n  - url: ext::sh -c evil\n", "sextant.yaml", Path::new(".")).unwrap_err();
        assert!(error.0.starts_with("sextant.yaml:2:10: refused repository source"), "{}", error.0);
        let error = Config::from_text("repos: []\n", "sextant.yaml", Path::new(".")).unwrap_err();
        assert!(error.0.contains("unknown setting `repos`"), "{}", error.0);
    }
}
