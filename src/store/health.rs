//! The catalog's health as typed data: the problem lists (conflicts, dangling references,
//! orphans, invalid owners, duplicate aliases, cycles, stale repositories, invalid files), each
//! read a page at a time after a key; the repositories with their state; the crawl runs; and
//! statistics (counts by kind, type and lifecycle, owner coverage).
//!
//! Every list is ordered by a unique key, and a page starts after the key of the previous page's
//! last item (keyset pagination): pages stay consistent while rows come and go. Reads run on a
//! [`Snapshot`]; the CLI's whole lists are the same reads without a page size.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{RepoListing, Snapshot, Store, StoreError};

/// One page of a list: at most the size asked for, whether more follow, and the list's length.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub total_count: i64,
}

/// An item of a paginated list: its position in the list's order.
pub trait Keyed {
    type Key: Clone + Serialize + for<'de> Deserialize<'de> + Send + Sync;
    fn key(&self) -> Self::Key;
}

/// Which part of a list to read: at most `first` items (all when `None`) after `after`.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    pub first: Option<usize>,
    pub after: Option<K>,
}

impl<K> PageRequest<K> {
    /// The whole list.
    pub fn all() -> PageRequest<K> {
        PageRequest { first: None, after: None }
    }

    /// The SQL limit: one more than the page, to know whether another follows.
    fn limit(&self) -> Option<i64> {
        self.first
            .map(|first| i64::try_from(first).unwrap_or(i64::MAX - 1).saturating_add(1))
    }

    /// Cuts the extra row off and counts.
    fn page<T>(&self, mut items: Vec<T>, total_count: i64) -> Page<T> {
        let has_next_page = self.first.is_some_and(|first| items.len() > first);
        if let Some(first) = self.first {
            items.truncate(first);
        }
        Page {
            items,
            has_next_page,
            total_count,
        }
    }
}

/// A reference defined twice: the holder keeps it, the claimant is named. Both places are
/// given as repository URL, branch, file path and line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    #[serde(rename = "ref")]
    pub entity_ref: String,
    /// The holder's repository URL.
    pub holder: String,
    pub holder_branch: Option<String>,
    pub holder_file: String,
    /// The holder's line, when its definition is the stored one (it always is, unless the
    /// store is mid-way through a change).
    pub holder_line: Option<i32>,
    /// The claimant's repository URL.
    pub claimant: String,
    pub claimant_branch: Option<String>,
    pub claimant_file: String,
    pub claimant_line: i32,
    /// The YAML document of the claimant's file (from 0).
    pub claimant_document: i32,
}

/// Where a conflict is in the list's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictKey(String, String, String, String, i32);

/// The columns of a [`RepoState`], over `repos r` (the repository's counts by subquery): the
/// repository list's and `store::read::repo_states`'.
pub(super) const REPO_STATE_COLUMNS: &str = "r.id, r.url, r.branch, r.name, r.status, r.error, r.last_commit,
    to_char(r.last_crawled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_crawled_at,
    (SELECT count(*) FROM entities e WHERE e.repo_id = r.id) AS entities,
    (SELECT count(*) FROM descriptor_files f WHERE f.repo_id = r.id AND f.problem IS NOT NULL) AS unusable_files,
    (SELECT count(*) FROM diagnostics d WHERE d.repo_id = r.id AND d.severity <> 'note') AS diagnostics,
    (SELECT count(*) FROM conflicts c WHERE c.claimant_repo_id = r.id) AS conflicts FROM repos r";

impl Keyed for Conflict {
    type Key = ConflictKey;
    fn key(&self) -> ConflictKey {
        ConflictKey(
            self.entity_ref.clone(),
            self.claimant.clone(),
            self.claimant_branch.clone().unwrap_or_default(),
            self.claimant_file.clone(),
            self.claimant_document,
        )
    }
}

/// A relation whose target is not in the catalog, with where it is declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct DanglingReference {
    /// The declaring entity's ref.
    pub source: String,
    #[serde(skip)]
    pub source_id: i64,
    pub relation: String,
    /// The target as written (an entity ref or an alias).
    pub target: String,
    /// The repository URL.
    pub repo: String,
    pub branch: Option<String>,
    pub file: String,
    pub line: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DanglingKey(String, String, String);

impl Keyed for DanglingReference {
    type Key = DanglingKey;
    fn key(&self) -> DanglingKey {
        DanglingKey(self.source.clone(), self.relation.clone(), self.target.clone())
    }
}

/// An entity (other than a Group, User or Location) whose owner does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Orphan {
    #[serde(rename = "ref")]
    pub entity_ref: String,
    #[serde(skip)]
    pub entity_id: i64,
    /// The owner as declared, if any.
    pub owner: Option<String>,
}

impl Keyed for Orphan {
    type Key = String;
    fn key(&self) -> String {
        self.entity_ref.clone()
    }
}

/// An owner that resolves to something other than a Group or a User.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct InvalidOwner {
    #[serde(rename = "ref")]
    pub entity_ref: String,
    #[serde(skip)]
    pub entity_id: i64,
    /// The owner's ref.
    pub owner: String,
    #[serde(skip)]
    pub owner_id: i64,
    pub owner_kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidOwnerKey(String, String);

impl Keyed for InvalidOwner {
    type Key = InvalidOwnerKey;
    fn key(&self) -> InvalidOwnerKey {
        InvalidOwnerKey(self.entity_ref.clone(), self.owner.clone())
    }
}

/// An alias (a Compass id, or one listed in `sextant.dev/aliases`) claimed by several entities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateAlias {
    pub alias: String,
    /// The claiming entities' refs, in the order they were stored.
    pub entities: Vec<String>,
}

impl Keyed for DuplicateAlias {
    type Key = String;
    fn key(&self) -> String {
        self.alias.clone()
    }
}

/// A loop of dependsOn, partOf or Group parent relations: the refs around it, smallest first,
/// and the size of its tangle (the entities that all reach each other through it and other loops;
/// a tangle lists at most [`crate::domain::MAX_LOOPS_PER_TANGLE`] loops).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cycle {
    pub refs: Vec<String>,
    pub tangle_size: usize,
}

impl Keyed for Cycle {
    type Key = Vec<String>;
    fn key(&self) -> Vec<String> {
        self.refs.clone()
    }
}

/// A repository that is not `ok`: never read (`new`), or `stale` with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct StaleRepo {
    /// The repository URL.
    pub repo: String,
    pub branch: Option<String>,
    pub status: String,
    pub error: Option<String>,
}

/// Where a repository is in a list ordered by URL, then branch (none first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoOrderKey(String, String);

impl Keyed for StaleRepo {
    type Key = RepoOrderKey;
    fn key(&self) -> RepoOrderKey {
        RepoOrderKey(self.repo.clone(), self.branch.clone().unwrap_or_default())
    }
}

/// A stored diagnostic of a descriptor file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct FileDiagnostic {
    #[serde(skip)]
    pub repo_id: i64,
    pub file: String,
    pub line: i32,
    pub column: i32,
    pub code: String,
    pub severity: String,
    pub message: String,
    pub hint: Option<String>,
    /// The text of the line it points at, cut around the column when long (`None`: about the
    /// whole file, or stored before lines were kept).
    pub snippet: Option<String>,
}

/// A descriptor file present at its repository's tip that did not read cleanly; its last good
/// entities are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct InvalidFile {
    /// The repository URL.
    pub repo: String,
    #[serde(skip)]
    pub repo_id: i64,
    pub branch: Option<String>,
    pub file: String,
    /// Its error diagnostics.
    pub errors: i64,
    /// Why it is unusable (errors, a symbolic link, too large...), when recorded.
    pub problem: Option<String>,
    /// Its diagnostics, by line and column.
    #[sqlx(skip)]
    pub diagnostics: Vec<FileDiagnostic>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidFileKey(String, String, String);

impl Keyed for InvalidFile {
    type Key = InvalidFileKey;
    fn key(&self) -> InvalidFileKey {
        InvalidFileKey(self.repo.clone(), self.branch.clone().unwrap_or_default(), self.file.clone())
    }
}

/// Everything `sextant problems` lists. Places are given as separate fields: `repo` (the URL),
/// `branch`, `file` (the path in the repository) and `line`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problems {
    pub conflicts: Vec<Conflict>,
    pub dangling: Vec<DanglingReference>,
    pub orphans: Vec<Orphan>,
    /// Owners that resolve to something other than a Group or a User.
    pub invalid_owners: Vec<InvalidOwner>,
    /// Aliases (Compass ids, `sextant.dev/aliases`) claimed by more than one entity.
    pub duplicate_aliases: Vec<DuplicateAlias>,
    pub cycles: Vec<Cycle>,
    pub stale_repos: Vec<StaleRepo>,
    pub invalid_files: Vec<InvalidFile>,
}

impl Problems {
    pub fn total(&self) -> usize {
        self.conflicts.len()
            + self.dangling.len()
            + self.orphans.len()
            + self.invalid_owners.len()
            + self.duplicate_aliases.len()
            + self.cycles.len()
            + self.stale_repos.len()
            + self.invalid_files.len()
    }
}

/// How many problems of each kind the catalog holds (the lengths of [`Problems`]' lists, and
/// the error diagnostics of its files), counted without reading the rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemCounts {
    pub conflicts: usize,
    pub dangling: usize,
    pub orphans: usize,
    pub invalid_owners: usize,
    pub duplicate_aliases: usize,
    pub cycles: usize,
    pub stale_repos: usize,
    pub invalid_files: usize,
    /// Error diagnostics in the catalog's files and trees (an invalid file has at least one).
    pub error_diagnostics: usize,
}

impl ProblemCounts {
    /// The same total as [`Problems::total`].
    pub fn total(&self) -> usize {
        self.conflicts
            + self.dangling
            + self.orphans
            + self.invalid_owners
            + self.duplicate_aliases
            + self.cycles
            + self.stale_repos
            + self.invalid_files
    }
}

/// A repository with its state and its id (for loading its diagnostics).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RepoState {
    pub id: i64,
    #[sqlx(flatten)]
    pub listing: RepoListing,
}

impl Keyed for RepoState {
    type Key = RepoOrderKey;
    fn key(&self) -> RepoOrderKey {
        RepoOrderKey(self.listing.url.clone(), self.listing.branch.clone().unwrap_or_default())
    }
}

/// A finished crawl run with its counts. Times are RFC 3339, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct CrawlRun {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub repos_crawled: i32,
    pub repos_unchanged: i32,
    pub repos_failed: i32,
    pub entities_added: i32,
    pub entities_updated: i32,
    pub entities_removed: i32,
    pub conflicts: i32,
    pub diagnostics: i32,
}

/// How many entities have a value (`None`: the field is not set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueCount {
    pub value: Option<String>,
    pub count: i64,
}

/// How many entities of a kind have a type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeCount {
    pub kind: String,
    pub entity_type: Option<String>,
    pub count: i64,
}

/// The catalog in figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogStats {
    pub entities: i64,
    /// By kind, sorted by kind.
    pub by_kind: Vec<ValueCount>,
    /// By kind and type, sorted.
    pub by_type: Vec<TypeCount>,
    /// By lifecycle, sorted (unset last).
    pub by_lifecycle: Vec<ValueCount>,
    /// Components whose owner resolves to a Group or a User.
    pub owned_components: i64,
    pub components: i64,
}

impl CatalogStats {
    /// The share of components whose owner resolves to a Group or a User (`None` without components).
    pub fn owner_coverage(&self) -> Option<f64> {
        (self.components > 0).then(|| self.owned_components as f64 / self.components as f64)
    }
}

/// A row of the statistics' grouping sets.
#[derive(sqlx::FromRow)]
struct GroupedCount {
    grouping_set: i32,
    kind: Option<String>,
    entity_type: Option<String>,
    lifecycle: Option<String>,
    count: i64,
}

/// An orphan: not a Group, User or Location, and no `ownedBy` relation that resolves.
const ORPHAN_CONDITION: &str = "e.kind NOT IN ('group', 'user', 'location')
    AND NOT EXISTS (SELECT 1 FROM relations r WHERE r.source_id = e.id AND r.type = 'ownedBy' AND r.target_id IS NOT NULL)";

/// Converts a count from the database.
fn count(value: i64) -> usize {
    usize::try_from(value).unwrap_or_default()
}

impl Snapshot {
    /// One `SELECT count(*)` statement.
    async fn count(&self, sql: &str) -> Result<i64, StoreError> {
        let mut connection = self.connection().await?;
        Ok(sqlx::query_scalar(sql).fetch_one(&mut *connection).await?)
    }

    /// Conflicts by ref, then claimant repository, branch, file and document.
    pub async fn conflicts(&self, request: &PageRequest<ConflictKey>) -> Result<Page<Conflict>, StoreError> {
        let after = request.after.clone();
        let rows: Vec<Conflict> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT c.entity_ref, h.url AS holder, h.branch AS holder_branch, c.holder_path AS holder_file,
                        held.line AS holder_line, k.url AS claimant, k.branch AS claimant_branch,
                        c.claimant_path AS claimant_file, c.claimant_line, c.claimant_document_index AS claimant_document
                 FROM conflicts c JOIN repos h ON h.id = c.holder_repo_id JOIN repos k ON k.id = c.claimant_repo_id
                 LEFT JOIN entities held ON held.entity_ref = c.entity_ref AND held.repo_id = c.holder_repo_id AND held.file_path = c.holder_path
                 WHERE $1::text IS NULL
                    OR (c.entity_ref, k.url, coalesce(k.branch, ''), c.claimant_path, c.claimant_document_index) > ($1, $2, $3, $4, $5)
                 ORDER BY c.entity_ref, k.url, coalesce(k.branch, ''), c.claimant_path, c.claimant_document_index
                 LIMIT $6",
            )
            .bind(after.as_ref().map(|key| &key.0))
            .bind(after.as_ref().map(|key| &key.1))
            .bind(after.as_ref().map(|key| &key.2))
            .bind(after.as_ref().map(|key| &key.3))
            .bind(after.as_ref().map(|key| key.4))
            .bind(request.limit())
            .fetch_all(&mut *connection)
            .await?
        };
        let total = self.count("SELECT count(*) FROM conflicts").await?;
        Ok(request.page(rows, total))
    }

    /// Dangling references by declaring entity, relation type and target.
    pub async fn dangling_references(&self, request: &PageRequest<DanglingKey>) -> Result<Page<DanglingReference>, StoreError> {
        let after = request.after.clone();
        let rows: Vec<DanglingReference> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT e.entity_ref AS source, e.id AS source_id, r.type AS relation, r.target_ref AS target,
                        p.url AS repo, p.branch, e.file_path AS file, r.line
                 FROM relations r JOIN entities e ON e.id = r.source_id JOIN repos p ON p.id = e.repo_id
                 WHERE r.target_id IS NULL AND ($1::text IS NULL OR (e.entity_ref, r.type, r.target_ref) > ($1, $2, $3))
                 ORDER BY e.entity_ref, r.type, r.target_ref
                 LIMIT $4",
            )
            .bind(after.as_ref().map(|key| &key.0))
            .bind(after.as_ref().map(|key| &key.1))
            .bind(after.as_ref().map(|key| &key.2))
            .bind(request.limit())
            .fetch_all(&mut *connection)
            .await?
        };
        let total = self.count("SELECT count(*) FROM relations WHERE target_id IS NULL").await?;
        Ok(request.page(rows, total))
    }

    /// Orphans by ref.
    pub async fn orphans(&self, request: &PageRequest<String>) -> Result<Page<Orphan>, StoreError> {
        let rows: Vec<Orphan> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(&format!(
                "SELECT e.entity_ref, e.id AS entity_id, e.owner_ref AS owner FROM entities e
                 WHERE {ORPHAN_CONDITION} AND ($1::text IS NULL OR e.entity_ref > $1)
                 ORDER BY e.entity_ref LIMIT $2"
            ))
            .bind(&request.after)
            .bind(request.limit())
            .fetch_all(&mut *connection)
            .await?
        };
        let total = self
            .count(&format!("SELECT count(*) FROM entities e WHERE {ORPHAN_CONDITION}"))
            .await?;
        Ok(request.page(rows, total))
    }

    /// Owners that are not a Group or a User, by entity ref then owner ref.
    pub async fn invalid_owners(&self, request: &PageRequest<InvalidOwnerKey>) -> Result<Page<InvalidOwner>, StoreError> {
        let after = request.after.clone();
        let rows: Vec<InvalidOwner> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT e.entity_ref, e.id AS entity_id, o.entity_ref AS owner, o.id AS owner_id, o.kind AS owner_kind
                 FROM relations r JOIN entities e ON e.id = r.source_id JOIN entities o ON o.id = r.target_id
                 WHERE r.type = 'ownedBy' AND o.kind NOT IN ('group', 'user')
                   AND ($1::text IS NULL OR (e.entity_ref, o.entity_ref) > ($1, $2))
                 ORDER BY e.entity_ref, o.entity_ref LIMIT $3",
            )
            .bind(after.as_ref().map(|key| &key.0))
            .bind(after.as_ref().map(|key| &key.1))
            .bind(request.limit())
            .fetch_all(&mut *connection)
            .await?
        };
        let total = self
            .count(
                "SELECT count(*) FROM relations r JOIN entities o ON o.id = r.target_id
                 WHERE r.type = 'ownedBy' AND o.kind NOT IN ('group', 'user')",
            )
            .await?;
        Ok(request.page(rows, total))
    }

    /// Aliases claimed more than once, by alias.
    pub async fn duplicate_aliases(&self, request: &PageRequest<String>) -> Result<Page<DuplicateAlias>, StoreError> {
        let rows: Vec<DuplicateAlias> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT a.alias, array_agg(e.entity_ref ORDER BY e.id) AS entities
                 FROM entity_aliases a JOIN entities e ON e.id = a.entity_id
                 WHERE $1::text IS NULL OR a.alias > $1
                 GROUP BY a.alias HAVING count(*) > 1 ORDER BY a.alias LIMIT $2",
            )
            .bind(&request.after)
            .bind(request.limit())
            .fetch_all(&mut *connection)
            .await?
        };
        let total = self
            .count("SELECT count(*) FROM (SELECT 1 FROM entity_aliases GROUP BY alias HAVING count(*) > 1) twice")
            .await?;
        Ok(request.page(rows, total))
    }

    /// Cycles, sorted (each starts at its smallest ref).
    pub async fn cycle_page(&self, request: &PageRequest<Vec<String>>) -> Result<Page<Cycle>, StoreError> {
        let cycles = self.cycles().await?;
        let total = i64::try_from(cycles.len()).unwrap_or(i64::MAX);
        let rest: Vec<Cycle> = cycles
            .iter()
            .filter(|cycle| request.after.as_ref().is_none_or(|after| &cycle.refs > after))
            .take(request.first.map_or(usize::MAX, |first| first.saturating_add(1)))
            .cloned()
            .collect();
        Ok(request.page(rest, total))
    }

    /// Repositories that are not `ok`, by URL then branch.
    pub async fn stale_repos(&self, request: &PageRequest<RepoOrderKey>) -> Result<Page<StaleRepo>, StoreError> {
        let after = request.after.clone();
        let rows: Vec<StaleRepo> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT url AS repo, branch, status, error FROM repos
                 WHERE status <> 'ok' AND ($1::text IS NULL OR (url, coalesce(branch, '')) > ($1, $2))
                 ORDER BY url, coalesce(branch, '') LIMIT $3",
            )
            .bind(after.as_ref().map(|key| &key.0))
            .bind(after.as_ref().map(|key| &key.1))
            .bind(request.limit())
            .fetch_all(&mut *connection)
            .await?
        };
        let total = self.count("SELECT count(*) FROM repos WHERE status <> 'ok'").await?;
        Ok(request.page(rows, total))
    }

    /// Invalid files by repository URL, branch and path, each with its diagnostics.
    pub async fn invalid_files(&self, request: &PageRequest<InvalidFileKey>) -> Result<Page<InvalidFile>, StoreError> {
        let after = request.after.clone();
        let mut rows: Vec<InvalidFile> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT r.url AS repo, r.id AS repo_id, r.branch, f.path AS file, f.problem,
                        (SELECT count(*) FROM diagnostics d WHERE d.repo_id = f.repo_id AND d.file_path = f.path AND d.severity = 'error') AS errors
                 FROM descriptor_files f JOIN repos r ON r.id = f.repo_id
                 WHERE NOT f.valid AND ($1::text IS NULL OR (r.url, coalesce(r.branch, ''), f.path) > ($1, $2, $3))
                 ORDER BY r.url, coalesce(r.branch, ''), f.path LIMIT $4",
            )
            .bind(after.as_ref().map(|key| &key.0))
            .bind(after.as_ref().map(|key| &key.1))
            .bind(after.as_ref().map(|key| &key.2))
            .bind(request.limit())
            .fetch_all(&mut *connection)
            .await?
        };
        let repo_ids: Vec<i64> = rows.iter().map(|file| file.repo_id).collect();
        let paths: Vec<&str> = rows.iter().map(|file| file.file.as_str()).collect();
        let diagnostics: Vec<FileDiagnostic> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT d.repo_id, d.file_path AS file, d.line, d.col AS \"column\", d.code, d.severity, d.message, d.hint, d.snippet
                 FROM diagnostics d JOIN UNNEST($1::bigint[], $2::text[]) AS wanted (repo_id, path)
                   ON d.repo_id = wanted.repo_id AND d.file_path = wanted.path
                 ORDER BY d.repo_id, d.file_path, d.line, d.col, d.id",
            )
            .bind(&repo_ids)
            .bind(&paths)
            .fetch_all(&mut *connection)
            .await?
        };
        let mut by_file: HashMap<(i64, String), Vec<FileDiagnostic>> = HashMap::new();
        for diagnostic in diagnostics {
            by_file
                .entry((diagnostic.repo_id, diagnostic.file.clone()))
                .or_default()
                .push(diagnostic);
        }
        for file in &mut rows {
            file.diagnostics = by_file.remove(&(file.repo_id, file.file.clone())).unwrap_or_default();
        }
        let total = self.count("SELECT count(*) FROM descriptor_files WHERE NOT valid").await?;
        Ok(request.page(rows, total))
    }

    /// Every problem list, whole.
    pub async fn problems(&self) -> Result<Problems, StoreError> {
        Ok(Problems {
            conflicts: self.conflicts(&PageRequest::all()).await?.items,
            dangling: self.dangling_references(&PageRequest::all()).await?.items,
            orphans: self.orphans(&PageRequest::all()).await?.items,
            invalid_owners: self.invalid_owners(&PageRequest::all()).await?.items,
            duplicate_aliases: self.duplicate_aliases(&PageRequest::all()).await?.items,
            cycles: self.cycles().await?.as_ref().clone(),
            stale_repos: self.stale_repos(&PageRequest::all()).await?.items,
            invalid_files: self.invalid_files(&PageRequest::all()).await?.items,
        })
    }

    /// How many problems of each kind the catalog holds. Everything but the stale repositories
    /// changes only with an apply, so it is counted once per catalog version (one query, and the
    /// cycle search) and kept; the stale repositories (a failed read marks its repository without
    /// an apply) are counted every time.
    pub async fn problem_counts(&self) -> Result<ProblemCounts, StoreError> {
        let version = self.catalog_version().await?;
        let slot = &self.store().graph.problem_counts;
        let mut counts = match super::graph::kept_for(slot, version) {
            Some(counts) => counts,
            None => {
                let counts = self.count_problems().await?;
                super::graph::keep_for(slot, version, counts);
                counts
            }
        };
        counts.stale_repos = count(self.count("SELECT count(*) FROM repos WHERE status <> 'ok'").await?);
        Ok(counts)
    }

    /// [`Snapshot::problem_counts`], counted.
    async fn count_problems(&self) -> Result<ProblemCounts, StoreError> {
        let counts: (i64, i64, i64, i64, i64, i64, i64, i64) = {
            let mut connection = self.connection().await?;
            sqlx::query_as(&format!(
                "SELECT (SELECT count(*) FROM conflicts),
                        (SELECT count(*) FROM relations WHERE target_id IS NULL),
                        (SELECT count(*) FROM entities e WHERE {ORPHAN_CONDITION}),
                        (SELECT count(*) FROM relations r JOIN entities o ON o.id = r.target_id
                           WHERE r.type = 'ownedBy' AND o.kind NOT IN ('group', 'user')),
                        (SELECT count(*) FROM (SELECT 1 FROM entity_aliases GROUP BY alias HAVING count(*) > 1) twice),
                        (SELECT count(*) FROM repos WHERE status <> 'ok'),
                        (SELECT count(*) FROM descriptor_files WHERE NOT valid),
                        (SELECT count(*) FROM diagnostics WHERE severity = 'error')"
            ))
            .fetch_one(&mut *connection)
            .await?
        };
        Ok(ProblemCounts {
            conflicts: count(counts.0),
            dangling: count(counts.1),
            orphans: count(counts.2),
            invalid_owners: count(counts.3),
            duplicate_aliases: count(counts.4),
            cycles: self.cycles().await?.len(),
            stale_repos: count(counts.5),
            invalid_files: count(counts.6),
            error_diagnostics: count(counts.7),
        })
    }

    /// The repositories with their state, by URL then branch (none first).
    pub async fn repo_page(&self, request: &PageRequest<RepoOrderKey>) -> Result<Page<RepoState>, StoreError> {
        let after = request.after.clone();
        let rows: Vec<RepoState> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                &format!("SELECT {REPO_STATE_COLUMNS} WHERE $1::text IS NULL OR (r.url, coalesce(r.branch, '')) > ($1, $2) ORDER BY r.url, coalesce(r.branch, '') LIMIT $3"),
            )
            .bind(after.as_ref().map(|key| &key.0))
            .bind(after.as_ref().map(|key| &key.1))
            .bind(request.limit())
            .fetch_all(&mut *connection)
            .await?
        };
        let total = self.count("SELECT count(*) FROM repos").await?;
        Ok(request.page(rows, total))
    }

    /// The diagnostics of each of `repo_ids` (errors and warnings first, then by file, line and
    /// column), at most `per_repo` each, in one query.
    pub async fn repo_diagnostics(&self, repo_ids: &[i64], per_repo: i64) -> Result<HashMap<i64, Vec<FileDiagnostic>>, StoreError> {
        let rows: Vec<FileDiagnostic> = {
            let mut connection = self.connection().await?;
            sqlx::query_as(
                "SELECT repo_id, file, line, \"column\", code, severity, message, hint, snippet FROM (
                     SELECT d.repo_id, d.file_path AS file, d.line, d.col AS \"column\", d.code, d.severity, d.message, d.hint, d.snippet,
                            row_number() OVER (PARTITION BY d.repo_id
                                ORDER BY d.severity = 'note', d.file_path, d.line, d.col, d.id) AS position
                     FROM diagnostics d WHERE d.repo_id = ANY($1)
                 ) ranked WHERE position <= $2 ORDER BY repo_id, position",
            )
            .bind(repo_ids)
            .bind(per_repo)
            .fetch_all(&mut *connection)
            .await?
        };
        let mut by_repo: HashMap<i64, Vec<FileDiagnostic>> = HashMap::new();
        for row in rows {
            by_repo.entry(row.repo_id).or_default().push(row);
        }
        Ok(by_repo)
    }

    /// The `first` most recent crawl runs, newest first.
    pub async fn crawl_runs(&self, first: i64) -> Result<Vec<CrawlRun>, StoreError> {
        let mut connection = self.connection().await?;
        Ok(sqlx::query_as(
            "SELECT id,
                    to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS started_at,
                    to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS finished_at,
                    repos_crawled, repos_unchanged, repos_failed, entities_added, entities_updated, entities_removed,
                    conflicts, diagnostics
             FROM crawl_runs ORDER BY id DESC LIMIT $1",
        )
        .bind(first)
        .fetch_all(&mut *connection)
        .await?)
    }

    /// Counts by kind, type and lifecycle, and owner coverage. Only an apply changes them: they
    /// are counted once per catalog version and kept.
    pub async fn stats(&self) -> Result<CatalogStats, StoreError> {
        let version = self.catalog_version().await?;
        let slot = &self.store().graph.stats;
        if let Some(stats) = super::graph::kept_for(slot, version) {
            return Ok(stats);
        }
        let stats = self.count_stats().await?;
        super::graph::keep_for(slot, version, stats.clone());
        Ok(stats)
    }

    /// [`Snapshot::stats`], counted: two queries.
    async fn count_stats(&self) -> Result<CatalogStats, StoreError> {
        let mut connection = self.connection().await?;
        // Grouping sets: 1 = by kind, 2 = by kind and type, 3 = by lifecycle.
        let rows: Vec<GroupedCount> = sqlx::query_as(
            "SELECT CASE WHEN GROUPING(kind, type, lifecycle) = 3 THEN 1 WHEN GROUPING(kind, type, lifecycle) = 1 THEN 2 ELSE 3 END AS grouping_set,
                    kind, type AS entity_type, lifecycle, count(*) AS count
             FROM entities GROUP BY GROUPING SETS ((kind), (kind, type), (lifecycle))
             ORDER BY 1, 2, 3 NULLS LAST, 4 NULLS LAST",
        )
        .fetch_all(&mut *connection)
        .await?;
        let (owned_components, components): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE EXISTS (
                        SELECT 1 FROM relations r JOIN entities o ON o.id = r.target_id
                        WHERE r.source_id = e.id AND r.type = 'ownedBy' AND o.kind IN ('group', 'user'))),
                    count(*)
             FROM entities e WHERE e.kind = 'component'",
        )
        .fetch_one(&mut *connection)
        .await?;
        let mut stats = CatalogStats {
            entities: 0,
            by_kind: Vec::new(),
            by_type: Vec::new(),
            by_lifecycle: Vec::new(),
            owned_components,
            components,
        };
        for GroupedCount {
            grouping_set,
            kind,
            entity_type,
            lifecycle,
            count,
        } in rows
        {
            match grouping_set {
                1 => {
                    stats.entities += count;
                    stats.by_kind.push(ValueCount { value: kind, count });
                }
                2 => stats.by_type.push(TypeCount {
                    kind: kind.unwrap_or_default(),
                    entity_type,
                    count,
                }),
                _ => stats.by_lifecycle.push(ValueCount { value: lifecycle, count }),
            }
        }
        Ok(stats)
    }
}

impl Store {
    /// Everything a platform team should look at, read in one snapshot.
    pub async fn problems(&self) -> Result<Problems, StoreError> {
        self.snapshot().problems().await
    }

    /// How many problems of each kind the catalog holds.
    pub async fn problem_counts(&self) -> Result<ProblemCounts, StoreError> {
        self.snapshot().problem_counts().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_asks_for_one_more_row_and_cuts_it_off() {
        let request: PageRequest<String> = PageRequest {
            first: Some(2),
            after: None,
        };
        assert_eq!(request.limit(), Some(3));
        let page = request.page(vec![1, 2, 3], 7);
        assert_eq!((page.items, page.has_next_page, page.total_count), (vec![1, 2], true, 7));
        let last = request.page(vec![1, 2], 2);
        assert!(!last.has_next_page);
        let all: PageRequest<String> = PageRequest::all();
        assert_eq!(all.limit(), None);
        assert!(!all.page(vec![1, 2, 3], 3).has_next_page);
        let huge: PageRequest<String> = PageRequest {
            first: Some(usize::MAX),
            after: None,
        };
        assert_eq!(huge.limit(), Some(i64::MAX));
    }

    #[test]
    fn owner_coverage_is_a_share_of_components_and_absent_without_them() {
        let stats = |owned_components, components| CatalogStats {
            entities: components,
            by_kind: Vec::new(),
            by_type: Vec::new(),
            by_lifecycle: Vec::new(),
            owned_components,
            components,
        };
        assert_eq!(stats(3, 4).owner_coverage(), Some(0.75));
        assert_eq!(stats(0, 0).owner_coverage(), None);
    }
}
