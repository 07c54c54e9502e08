//! The pull-request check: descriptor files checked against the live catalog (a running sextant
//! over GraphQL, or a snapshot file written by `sextant export`). References the checked files do
//! not define are resolved in the catalog; the entities the files define are compared with what
//! the catalog holds from the same repository and branch (added, removed, renamed, changed); the
//! dependents of every removed or renamed entity elsewhere in the catalog are reported as a
//! breaking change.
//!
//! ```text
//! validate::read_files ─▶ local entities and per-file diagnostics
//!   │ git_context: the repository (origin remote, default branch) and the files' paths in it
//!   ▼
//! Catalog (remote: a few batched GraphQL requests | snapshot: a file in memory)
//!   │ lookup(unresolved refs) · repository(url, branch) → its entities · dependents(removed)
//!   ▼
//! diff::compare (pure) ─▶ ChangeReport ─▶ diagnostics (S05xx) + the report's `change` section
//! ```

mod check;
pub mod diff;
pub mod markdown;
pub mod remote;
mod repository;
pub mod snapshot;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use check::{CheckSettings, Checked, check_paths};
pub use repository::LocalRepository;

/// What the catalog knows of one entity: the fields a change can alter, and where it is defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogEntity {
    /// The canonical reference, lowercase: `component:default/payments-api`.
    #[serde(rename = "ref")]
    pub entity_ref: String,
    /// The repository's URL as the catalog's configuration names it.
    pub repo: String,
    /// The configured branch; `None` follows the remote's default branch.
    pub branch: Option<String>,
    /// The descriptor file's path in the repository.
    pub path: String,
    pub line: u32,
    /// The YAML document's index in the file, from 0.
    pub document_index: u32,
    /// The owner's canonical reference (resolved, else as declared).
    pub owner_ref: Option<String>,
    pub lifecycle: Option<String>,
    pub tier: Option<u8>,
    /// The system's canonical reference, as declared.
    pub system_ref: Option<String>,
    /// Compass component ids and ARIs the entity answers to.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The relations the entity declares, sorted: (type as declared, target's canonical
    /// reference or alias as written).
    #[serde(default)]
    pub relations: Vec<DeclaredEdge>,
}

impl CatalogEntity {
    /// The entity's kind, from its reference.
    pub fn kind(&self) -> &str {
        self.entity_ref.split_once(':').map_or("", |(kind, _)| kind)
    }
}

/// One declared relation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeclaredEdge {
    /// `dependsOn`, `consumesApi`, ... (the Backstage spelling).
    #[serde(rename = "type")]
    pub relation_type: String,
    /// The target's canonical reference (lowercase), or an alias as written.
    pub target: String,
}

/// A repository the catalog crawls, as it names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRepo {
    pub url: String,
    pub branch: Option<String>,
}

/// An entity that depends, transitively, on one that a change removes or renames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependent {
    #[serde(rename = "ref")]
    pub entity_ref: String,
    pub owner_ref: Option<String>,
    pub repo: String,
    pub branch: Option<String>,
    /// Its descriptor file's path in its repository, and the line of its document.
    pub file: String,
    pub line: u32,
    /// Steps from the removed entity (1: a direct dependent).
    pub depth: u32,
    /// The refs from the removed entity to this dependent, both included.
    pub path: Vec<String>,
    /// At depth 1: whether this dependent declares a relation to the removed entity itself (it
    /// is not only named by one the removed entity declares, such as `providesApis`).
    #[serde(default)]
    pub declares_reference: bool,
}

/// Why the catalog could not answer. The local checks are still printed; the exit code is 2.
#[derive(Debug)]
pub enum CatalogError {
    /// The server could not be reached, or did not answer in time.
    Unreachable { url: String, reason: String },
    /// The server refused the token (HTTP 401 or 403).
    Unauthorized { url: String, status: u16 },
    /// The server answered with an error, or with something that is not the expected answer.
    Answer { url: String, reason: String },
    /// A snapshot file that cannot be used: unreadable, truncated, another format version, too big.
    Snapshot { path: String, reason: String },
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogError::Unreachable { url, reason } => write!(formatter, "the catalog at {url} could not be reached: {reason}"),
            CatalogError::Unauthorized { url, status } => write!(
                formatter,
                "the catalog at {url} refused the token (HTTP {status}); set SEXTANT_TOKEN to a token the server accepts"
            ),
            CatalogError::Answer { url, reason } => write!(formatter, "the catalog at {url} answered with an error: {reason}"),
            CatalogError::Snapshot { path, reason } => write!(formatter, "the snapshot {path} cannot be used: {reason}"),
        }
    }
}

impl std::error::Error for CatalogError {}

impl CatalogError {
    /// A stable code for scripts and logs.
    pub fn code(&self) -> &'static str {
        match self {
            CatalogError::Unreachable { .. } => "catalog-unreachable",
            CatalogError::Unauthorized { .. } => "catalog-unauthorized",
            CatalogError::Answer { .. } => "catalog-error",
            CatalogError::Snapshot { .. } => "catalog-snapshot-unusable",
        }
    }
}

/// The catalog a check runs against.
pub enum Catalog {
    Remote(remote::RemoteCatalog),
    Snapshot(snapshot::SnapshotCatalog),
}

impl Catalog {
    /// Opens `--catalog`: an `http://` or `https://` URL is a running sextant (with `token` as
    /// its bearer token); anything else is a snapshot file's path.
    pub fn open(location: &str, token: Option<String>) -> Result<Catalog, CatalogError> {
        if location.starts_with("http://") || location.starts_with("https://") {
            Ok(Catalog::Remote(remote::RemoteCatalog::new(location, token)?))
        } else if !std::path::Path::new(location).exists() && looks_like_host(location) {
            Err(CatalogError::Snapshot {
                path: location.to_owned(),
                reason: format!("there is no such file; for a running sextant, write its URL: `--catalog http://{location}`"),
            })
        } else {
            Ok(Catalog::Snapshot(snapshot::SnapshotCatalog::load(std::path::Path::new(location))?))
        }
    }

    /// The dashboard of a running sextant, for links in the markdown summary (`None` for a snapshot).
    pub fn dashboard_url(&self) -> Option<String> {
        match self {
            Catalog::Remote(remote) => Some(remote.dashboard_url()),
            Catalog::Snapshot(_) => None,
        }
    }

    /// The entities answering to each of `refs` (canonical references or aliases, as written in
    /// the checked files); refs the catalog does not know are absent from the answer.
    pub async fn lookup(&self, refs: &[String]) -> Result<HashMap<String, CatalogEntity>, CatalogError> {
        match self {
            Catalog::Remote(remote) => remote.lookup(refs).await,
            Catalog::Snapshot(snapshot) => Ok(snapshot.lookup(refs)),
        }
    }

    /// The catalog's repositories that name the same repository as `url` (see
    /// [`repo_identity`]), with every crawled branch.
    pub async fn repositories(&self, url: &str) -> Result<Vec<CatalogRepo>, CatalogError> {
        match self {
            Catalog::Remote(remote) => remote.repositories(url).await,
            Catalog::Snapshot(snapshot) => Ok(snapshot.repositories(url)),
        }
    }

    /// Every entity the catalog holds from this repository (its URL exactly as the catalog names
    /// it) and branch, sorted by reference.
    pub async fn repository_entities(&self, repo: &CatalogRepo) -> Result<Vec<CatalogEntity>, CatalogError> {
        match self {
            Catalog::Remote(remote) => remote.repository_entities(repo).await,
            Catalog::Snapshot(snapshot) => Ok(snapshot.repository_entities(repo)),
        }
    }

    /// The transitive dependents of each of `refs` (the dependency family, as the `impact` query
    /// walks it), nearest first; refs the catalog does not know map to an empty list.
    pub async fn dependents(&self, refs: &[String]) -> Result<HashMap<String, Vec<Dependent>>, CatalogError> {
        match self {
            Catalog::Remote(remote) => remote.dependents(refs).await,
            Catalog::Snapshot(snapshot) => Ok(snapshot.dependents(refs)),
        }
    }
}

/// Whether `location` reads like `host:port` or `host.domain` (a URL without its scheme).
fn looks_like_host(location: &str) -> bool {
    let host = location.split('/').next().unwrap_or_default();
    !location.starts_with(['.', '/', '~'])
        && !location.ends_with(".json")
        && (host
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
            || host == "localhost")
}

/// What names a repository whatever the URL's spelling: the host (lowercase) and the path,
/// without scheme, user, port, `.git` suffix or trailing slash, so that
/// `git@github.com:Acme/pay.git`, `ssh://git@github.com/Acme/pay` and `https://github.com/Acme/pay/`
/// are the same repository. A local path is made absolute and kept as it is otherwise.
pub fn repo_identity(url: &str) -> String {
    let text = url.trim();
    let (host, path) = if let Some((_, rest)) = text.split_once("://") {
        let rest = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
        match rest.split_once('/') {
            Some((host, path)) => (host, path),
            None => (rest, ""),
        }
    } else if let Some((user_host, path)) = text.split_once(':').filter(|(before, _)| !before.contains('/')) {
        (user_host.rsplit_once('@').map_or(user_host, |(_, host)| host), path)
    } else {
        let path = std::path::Path::new(text);
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let shown = absolute.to_string_lossy();
        return shown.trim_end_matches('/').trim_end_matches(".git").to_owned();
    };
    let host = host.rsplit_once(':').map_or(
        host,
        |(name, port)| if port.bytes().all(|b| b.is_ascii_digit()) { name } else { host },
    );
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path).trim_end_matches('/');
    format!("{}/{}", host.to_ascii_lowercase(), path)
}

#[cfg(test)]
mod tests {
    use super::repo_identity;

    #[test]
    fn one_repository_whatever_the_url_spelling() {
        let same = [
            "git@github.com:Acme/pay.git",
            "ssh://git@github.com/Acme/pay",
            "ssh://git@GitHub.com:22/Acme/pay.git",
            "https://github.com/Acme/pay/",
            "https://token@github.com/Acme/pay.git",
        ];
        for url in same {
            assert_eq!(repo_identity(url), "github.com/Acme/pay", "{url}");
        }
        assert_ne!(
            repo_identity("https://github.com/Acme/pay"),
            repo_identity("https://github.com/Acme/payments")
        );
        assert_eq!(repo_identity("/srv/repos/pay.git"), "/srv/repos/pay");
        assert_eq!(repo_identity("file:///srv/repos/pay.git"), "/srv/repos/pay");
    }
}
