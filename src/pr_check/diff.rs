//! The catalog diff of a change (pure): the entities the checked files define against what the
//! catalog holds from the same repository and branch, and the diagnostics that say so.

use std::collections::HashMap;

use serde::Serialize;

use super::{CatalogEntity, CatalogRepo, DeclaredEdge, Dependent};
use crate::domain::{Diagnostic, Entity, Severity};

/// Which of the catalog's entities the change can speak for: those whose file is among the
/// checked paths (repository-relative; "" is the whole repository), minus those in checked files
/// that could not be read or parsed (their entities are neither removed nor compared).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Repository-relative paths that were checked: files, or folders (every file under them).
    pub checked: Vec<String>,
    /// Repository-relative paths of checked files with errors that stopped them being read.
    pub unreadable: Vec<String>,
}

/// One field of an entity that a change alters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "field", rename_all = "camelCase")]
pub enum FieldChange {
    Owner { before: Option<String>, after: Option<String> },
    Lifecycle { before: Option<String>, after: Option<String> },
    Tier { before: Option<u8>, after: Option<u8> },
    System { before: Option<String>, after: Option<String> },
    RelationAdded { relation: DeclaredEdge },
    RelationRemoved { relation: DeclaredEdge },
}

/// An entity defined at the same file and position under a new reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    pub from: CatalogEntity,
    pub to: CatalogEntity,
    /// What else changed with the name.
    pub changes: Vec<FieldChange>,
}

/// An entity kept under its reference with some of its fields altered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changed {
    pub before: CatalogEntity,
    pub after: CatalogEntity,
    pub changes: Vec<FieldChange>,
}

/// What a change does to the catalog's entities of one repository and branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChangeSet {
    /// Local view of each new entity.
    pub added: Vec<CatalogEntity>,
    /// Catalog view of each entity the change removes.
    pub removed: Vec<CatalogEntity>,
    pub renamed: Vec<Renamed>,
    pub changed: Vec<Changed>,
    pub unchanged: usize,
    /// Catalog entities in checked files that could not be read: not compared.
    pub not_compared: Vec<CatalogEntity>,
}

/// The whole result of checking a change against the catalog.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeReport {
    /// The repository as the check named it (`--repo`, or the origin remote).
    pub repo_url: String,
    pub branch: Option<String>,
    /// The catalog's repository compared with; `None` when the catalog does not know it (every
    /// entity is then added).
    pub catalog_repo: Option<CatalogRepo>,
    pub changes: ChangeSet,
    /// The dependents elsewhere in the catalog (other repositories or branches) of every removed
    /// or renamed entity, by the entity's catalog reference.
    pub dependents: HashMap<String, Vec<Dependent>>,
    /// The severity breaking changes are reported with (error unless configured).
    #[serde(skip)]
    pub breaking_severity: Severity,
    /// The dashboard's base URL, when known, for links in the markdown summary.
    pub dashboard_url: Option<String>,
}

/// The local entity as the catalog would hold it once the change merges: `path` is its file's
/// repository-relative path.
pub fn local_view(entity: &Entity, path: &str, repo: &CatalogRepo) -> CatalogEntity {
    let _ = (entity, path, repo);
    todo!("helper: diff")
}

/// Compares the local entities (already in [`local_view`] form) with the catalog's entities of
/// the same repository and branch.
pub fn compare(local: &[CatalogEntity], catalog: &[CatalogEntity], scope: &Scope) -> ChangeSet {
    let _ = (local, catalog, scope);
    todo!("helper: diff")
}

/// The diagnostics of a change report (codes S05xx): breaking changes (error by default, at the
/// removed entity's old place or the renamed entity's new one, each dependent as a related
/// location), and notes for added, removed, renamed and changed entities and for a repository
/// the catalog does not know. `display_path` maps a repository-relative path to the file name
/// diagnostics show.
pub fn diagnostics(report: &ChangeReport, display_path: &dyn Fn(&str) -> String) -> Vec<Diagnostic> {
    let _ = (report, display_path);
    todo!("helper: diff")
}
