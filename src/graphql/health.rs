//! The health queries: `problems` (each list a Relay connection with `totalCount`), `repos`,
//! `crawlRuns` and `stats`. Each reads the request's snapshot through the store's typed health
//! reads; cursors are opaque (the list's sort key, encoded). A `first` given as null takes its default.

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields, OpaqueCursor};
use async_graphql::{Context, Object, OutputType, Result, SimpleObject};

use super::entity::DiagnosticSeverity;
use super::{Diagnostic, Entity, ErrorCode, MAX_PAGE_SIZE, api_error, entity_by_id, snapshot, store_error};
use crate::store::{self, Keyed, Page, PageRequest};

/// Diagnostics listed per repository at most (`diagnosticCount` has them all).
pub const REPO_DIAGNOSTICS: i64 = 100;
/// Crawl runs listed at most.
pub const MAX_CRAWL_RUNS: i32 = 500;

/// The health queries.
#[derive(Default)]
pub struct HealthQuery;

/// The length of a list, beside its page.
#[derive(SimpleObject)]
pub struct ListTotal {
    /// How many items the whole list holds.
    total_count: i64,
}

/// A page of a list as a Relay connection.
pub type ListConnection<Key, Node> = Connection<OpaqueCursor<Key>, Node, ListTotal, EmptyFields>;

/// The page asked for: `first` checked against [`MAX_PAGE_SIZE`], `after` decoded.
fn page_request<Key>(first: i32, after: Option<&str>) -> Result<PageRequest<Key>>
where
    Key: serde::Serialize + serde::de::DeserializeOwned,
{
    let first = match usize::try_from(first) {
        Ok(checked) if (0..=MAX_PAGE_SIZE).contains(&first) => checked,
        _ => {
            return Err(api_error(
                ErrorCode::PageTooLarge,
                format!("first must be between 0 and {MAX_PAGE_SIZE}; it was {first}"),
            ));
        }
    };
    let after = match after {
        Some(cursor) => Some(
            OpaqueCursor::<Key>::decode_cursor(cursor)
                .map_err(|_| api_error(ErrorCode::BadRequest, "`after` is not a cursor of this list"))?
                .0,
        ),
        None => None,
    };
    Ok(PageRequest { first: Some(first), after })
}

/// A store page as a connection, each item made a node by `node`.
fn connection<Item, Node>(page: Page<Item>, has_previous_page: bool, mut node: impl FnMut(Item) -> Node) -> ListConnection<Item::Key, Node>
where
    Item: Keyed,
    Node: OutputType,
{
    let mut connection = Connection::with_additional_fields(
        has_previous_page,
        page.has_next_page,
        ListTotal {
            total_count: page.total_count,
        },
    );
    connection.edges = page
        .items
        .into_iter()
        .map(|item| Edge::new(OpaqueCursor(item.key()), node(item)))
        .collect();
    connection
}

/// A stored diagnostic as the API shows it.
fn diagnostic(diagnostic: &store::FileDiagnostic) -> Diagnostic {
    Diagnostic {
        code: diagnostic.code.clone(),
        severity: DiagnosticSeverity::stored(&diagnostic.severity),
        message: diagnostic.message.clone(),
        hint: diagnostic.hint.clone(),
        line: diagnostic.line,
        column: diagnostic.column,
        snippet: diagnostic.snippet.clone(),
    }
}

#[Object]
impl HealthQuery {
    /// Everything a platform team should look at; each list is paginated.
    async fn problems(&self) -> Problems {
        Problems
    }

    /// The repositories with their state, by URL then branch.
    async fn repos(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<store::RepoOrderKey, Repo>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let snapshot = snapshot(context)?;
        let page = snapshot.repo_page(&request).await.map_err(|error| store_error(&error))?;
        // The diagnostics of the whole page in one statement, only when they are asked for.
        let look_ahead = context.look_ahead();
        let wanted = look_ahead.field("nodes").field("diagnostics").exists()
            || look_ahead.field("edges").field("node").field("diagnostics").exists();
        let mut diagnostics = if wanted {
            let ids: Vec<i64> = page.items.iter().map(|repo| repo.id).collect();
            snapshot
                .repo_diagnostics(&ids, REPO_DIAGNOSTICS)
                .await
                .map_err(|error| store_error(&error))?
        } else {
            Default::default()
        };
        Ok(connection(page, request.after.is_some(), |state| Repo {
            diagnostics: diagnostics.remove(&state.id).unwrap_or_default(),
            state,
        }))
    }

    /// The most recent crawl runs, newest first (at most 500).
    async fn crawl_runs(&self, context: &Context<'_>, #[graphql(default = 20)] first: Option<i32>) -> Result<Vec<CrawlRun>> {
        let first = first.unwrap_or(20);
        if !(0..=MAX_CRAWL_RUNS).contains(&first) {
            return Err(api_error(
                ErrorCode::PageTooLarge,
                format!("first must be between 0 and {MAX_CRAWL_RUNS}; it was {first}"),
            ));
        }
        let runs = snapshot(context)?
            .crawl_runs(i64::from(first))
            .await
            .map_err(|error| store_error(&error))?;
        Ok(runs.into_iter().map(CrawlRun).collect())
    }

    /// The catalog in figures: counts by kind, type and lifecycle, and owner coverage.
    async fn stats(&self, context: &Context<'_>) -> Result<Stats> {
        let stats = snapshot(context)?.stats().await.map_err(|error| store_error(&error))?;
        Ok(Stats(stats))
    }
}

/// The problem lists. Each is ordered by a unique key and paginated with `first` and `after`.
pub struct Problems;

#[Object]
impl Problems {
    /// References defined twice: the holder keeps the entity, the claimant is named.
    async fn conflicts(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<store::ConflictKey, Conflict>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let page = snapshot(context)?.conflicts(&request).await.map_err(|error| store_error(&error))?;
        Ok(connection(page, request.after.is_some(), Conflict))
    }

    /// Relations whose target is not in the catalog.
    async fn dangling_references(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<store::DanglingKey, DanglingReference>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let page = snapshot(context)?
            .dangling_references(&request)
            .await
            .map_err(|error| store_error(&error))?;
        Ok(connection(page, request.after.is_some(), DanglingReference))
    }

    /// Entities (other than groups, users and locations) whose owner is not in the catalog.
    async fn orphans(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<String, Orphan>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let page = snapshot(context)?.orphans(&request).await.map_err(|error| store_error(&error))?;
        Ok(connection(page, request.after.is_some(), Orphan))
    }

    /// Owners that resolve to something other than a Group or a User.
    async fn invalid_owners(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<store::InvalidOwnerKey, InvalidOwner>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let page = snapshot(context)?
            .invalid_owners(&request)
            .await
            .map_err(|error| store_error(&error))?;
        Ok(connection(page, request.after.is_some(), InvalidOwner))
    }

    /// Aliases (Compass ids, `sextant.dev/aliases`) claimed by more than one entity.
    async fn duplicate_aliases(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<String, DuplicateAlias>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let page = snapshot(context)?
            .duplicate_aliases(&request)
            .await
            .map_err(|error| store_error(&error))?;
        Ok(connection(page, request.after.is_some(), DuplicateAlias))
    }

    /// Loops of dependsOn, partOf or Group parent relations.
    async fn cycles(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<Vec<String>, Cycle>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let page = snapshot(context)?.cycle_page(&request).await.map_err(|error| store_error(&error))?;
        Ok(connection(page, request.after.is_some(), Cycle))
    }

    /// Repositories never read, or stale (the last read failed, or some file is unusable).
    async fn stale_repos(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<store::RepoOrderKey, StaleRepo>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let page = snapshot(context)?
            .stale_repos(&request)
            .await
            .map_err(|error| store_error(&error))?;
        Ok(connection(page, request.after.is_some(), StaleRepo))
    }

    /// Descriptor files that did not read cleanly (their last good entities are kept), with
    /// their diagnostics.
    async fn invalid_files(
        &self,
        context: &Context<'_>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<ListConnection<store::InvalidFileKey, InvalidFile>> {
        let request = page_request(first.unwrap_or(100), after.as_deref())?;
        let page = snapshot(context)?
            .invalid_files(&request)
            .await
            .map_err(|error| store_error(&error))?;
        Ok(connection(page, request.after.is_some(), InvalidFile))
    }
}

/// A place in a repository: URL, branch, file path and line.
#[derive(SimpleObject)]
pub struct SourcePlace {
    /// The repository URL (or local path) as configured, without credentials.
    repo: String,
    /// The configured branch; null follows the remote's HEAD.
    branch: Option<String>,
    /// The file's path in the repository.
    path: String,
    /// The line of the definition (null when unknown).
    line: Option<i32>,
}

/// A reference defined in two places.
pub struct Conflict(store::Conflict);

#[Object]
impl Conflict {
    /// The reference both define.
    #[graphql(name = "ref")]
    async fn entity_ref(&self) -> &str {
        &self.0.entity_ref
    }

    /// Where the definition that holds the reference is.
    async fn holder(&self) -> SourcePlace {
        SourcePlace {
            repo: self.0.holder.clone(),
            branch: self.0.holder_branch.clone(),
            path: self.0.holder_file.clone(),
            line: self.0.holder_line,
        }
    }

    /// Where the definition that lost is.
    async fn claimant(&self) -> SourcePlace {
        SourcePlace {
            repo: self.0.claimant.clone(),
            branch: self.0.claimant_branch.clone(),
            path: self.0.claimant_file.clone(),
            line: Some(self.0.claimant_line),
        }
    }
}

/// A relation whose target is not in the catalog.
pub struct DanglingReference(store::DanglingReference);

#[Object]
impl DanglingReference {
    /// The declaring entity.
    async fn source(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        entity_by_id(context, self.0.source_id).await
    }

    async fn source_ref(&self) -> &str {
        &self.0.source
    }

    /// The relation type as declared, e.g. `dependsOn`.
    #[graphql(name = "type")]
    async fn relation_type(&self) -> &str {
        &self.0.relation
    }

    /// The target as written (an entity reference or an alias).
    async fn target(&self) -> &str {
        &self.0.target
    }

    /// Where it is declared.
    async fn place(&self) -> SourcePlace {
        SourcePlace {
            repo: self.0.repo.clone(),
            branch: self.0.branch.clone(),
            path: self.0.file.clone(),
            line: Some(self.0.line),
        }
    }
}

/// An entity without an owner in the catalog.
pub struct Orphan(store::Orphan);

#[Object]
impl Orphan {
    async fn entity(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        entity_by_id(context, self.0.entity_id).await
    }

    #[graphql(name = "ref")]
    async fn entity_ref(&self) -> &str {
        &self.0.entity_ref
    }

    /// The owner as declared (null when none is).
    async fn owner_ref(&self) -> Option<&str> {
        self.0.owner.as_deref()
    }
}

/// An owner that is neither a Group nor a User.
pub struct InvalidOwner(store::InvalidOwner);

#[Object]
impl InvalidOwner {
    async fn entity(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        entity_by_id(context, self.0.entity_id).await
    }

    #[graphql(name = "ref")]
    async fn entity_ref(&self) -> &str {
        &self.0.entity_ref
    }

    async fn owner(&self, context: &Context<'_>) -> Result<Option<Entity>> {
        entity_by_id(context, self.0.owner_id).await
    }

    async fn owner_ref(&self) -> &str {
        &self.0.owner
    }

    /// The owner's kind (lowercased), e.g. `component`.
    async fn owner_kind(&self) -> &str {
        &self.0.owner_kind
    }
}

/// An alias claimed by several entities.
pub struct DuplicateAlias(store::DuplicateAlias);

#[Object]
impl DuplicateAlias {
    async fn alias(&self) -> &str {
        &self.0.alias
    }

    /// The refs of the entities that claim it, in the order they were stored.
    async fn refs(&self) -> &[String] {
        &self.0.entities
    }
}

/// A loop of relations.
pub struct Cycle(store::Cycle);

#[Object]
impl Cycle {
    /// The refs around the loop, starting at the smallest; the last leads back to the first.
    async fn refs(&self) -> &[String] {
        &self.0.refs
    }

    /// How many entities all reach each other through this loop and the loops it shares entities
    /// with (its strongly connected component); the loop's own length when it shares none. A
    /// tangle lists at most 20 loops: the shortest through its entities, in ref order.
    async fn tangle_size(&self) -> usize {
        self.0.tangle_size
    }
}

/// A repository that is not `ok`.
pub struct StaleRepo(store::StaleRepo);

#[Object]
impl StaleRepo {
    async fn url(&self) -> &str {
        &self.0.repo
    }

    async fn branch(&self) -> Option<&str> {
        self.0.branch.as_deref()
    }

    /// `new` (never read) or `stale`.
    async fn status(&self) -> &str {
        &self.0.status
    }

    /// Why it is stale.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
}

/// A descriptor file that did not read cleanly.
pub struct InvalidFile(store::InvalidFile);

#[Object]
impl InvalidFile {
    async fn repo(&self) -> &str {
        &self.0.repo
    }

    async fn branch(&self) -> Option<&str> {
        self.0.branch.as_deref()
    }

    async fn path(&self) -> &str {
        &self.0.file
    }

    /// How many error diagnostics it has.
    async fn error_count(&self) -> i64 {
        self.0.errors
    }

    /// Why it is unusable, when recorded (errors, a symbolic link, too large...).
    async fn problem(&self) -> Option<&str> {
        self.0.problem.as_deref()
    }

    /// Its diagnostics, by line and column.
    async fn diagnostics(&self) -> Vec<Diagnostic> {
        self.0.diagnostics.iter().map(diagnostic).collect()
    }
}

/// A repository with its state.
pub struct Repo {
    state: store::RepoState,
    diagnostics: Vec<store::FileDiagnostic>,
}

impl Repo {
    /// A repository with its diagnostics (for `reposMatching`, which lists repositories too).
    pub(super) fn new(state: store::RepoState, diagnostics: Vec<store::FileDiagnostic>) -> Repo {
        Repo { state, diagnostics }
    }
}

#[Object]
impl Repo {
    /// The URL (or local path) as configured, without credentials.
    async fn url(&self) -> &str {
        &self.state.listing.url
    }

    /// The configured branch; null follows the remote's HEAD.
    async fn branch(&self) -> Option<&str> {
        self.state.listing.branch.as_deref()
    }

    async fn name(&self) -> &str {
        &self.state.listing.name
    }

    /// `new` (never read), `ok`, or `stale` (the last read failed, or some file is unusable).
    async fn status(&self) -> &str {
        &self.state.listing.status
    }

    /// The tip commit of the last successful read.
    async fn tip(&self) -> Option<&str> {
        self.state.listing.last_commit.as_deref()
    }

    /// When it was last crawled (RFC 3339, UTC).
    async fn last_crawled_at(&self) -> Option<&str> {
        self.state.listing.last_crawled_at.as_deref()
    }

    /// Why it is stale.
    async fn last_error(&self) -> Option<&str> {
        self.state.listing.error.as_deref()
    }

    /// How many entities it defines.
    async fn entity_count(&self) -> i64 {
        self.state.listing.entities
    }

    /// Descriptor files present at its tip but unusable.
    async fn unusable_file_count(&self) -> i64 {
        self.state.listing.unusable_files
    }

    /// Its errors and warnings.
    async fn diagnostic_count(&self) -> i64 {
        self.state.listing.diagnostics
    }

    /// Its definitions that lost their reference to another definition.
    async fn conflict_count(&self) -> i64 {
        self.state.listing.conflicts
    }

    /// Its diagnostics, errors and warnings first, then by file, line and column (at most 100).
    async fn diagnostics(&self) -> Vec<RepoDiagnostic<'_>> {
        self.diagnostics.iter().map(RepoDiagnostic).collect()
    }
}

/// A diagnostic with the file it is in.
pub struct RepoDiagnostic<'repo>(&'repo store::FileDiagnostic);

#[Object]
impl RepoDiagnostic<'_> {
    /// The file's path in the repository.
    async fn path(&self) -> &str {
        &self.0.file
    }

    async fn diagnostic(&self) -> Diagnostic {
        diagnostic(self.0)
    }
}

/// A finished crawl run.
pub struct CrawlRun(store::CrawlRun);

#[Object]
impl CrawlRun {
    /// RFC 3339, UTC.
    async fn started_at(&self) -> &str {
        &self.0.started_at
    }

    async fn finished_at(&self) -> Option<&str> {
        self.0.finished_at.as_deref()
    }

    async fn repos_crawled(&self) -> i32 {
        self.0.repos_crawled
    }

    async fn repos_unchanged(&self) -> i32 {
        self.0.repos_unchanged
    }

    async fn repos_failed(&self) -> i32 {
        self.0.repos_failed
    }

    async fn entities_added(&self) -> i32 {
        self.0.entities_added
    }

    async fn entities_updated(&self) -> i32 {
        self.0.entities_updated
    }

    async fn entities_removed(&self) -> i32 {
        self.0.entities_removed
    }

    /// New conflicts found by the run.
    async fn conflicts(&self) -> i32 {
        self.0.conflicts
    }

    /// Diagnostics found by the run.
    async fn diagnostics(&self) -> i32 {
        self.0.diagnostics
    }
}

/// How many entities have a value.
#[derive(SimpleObject)]
pub struct ValueCount {
    /// The value; null counts the entities without one.
    value: Option<String>,
    count: i64,
}

/// How many entities of a kind have a type.
#[derive(SimpleObject)]
pub struct TypeCount {
    /// The kind, lowercased.
    kind: String,
    /// The type; null counts the entities of the kind without one.
    #[graphql(name = "type")]
    entity_type: Option<String>,
    count: i64,
}

/// The share of components whose owner resolves to a Group or a User.
#[derive(SimpleObject)]
pub struct OwnerCoverage {
    covered: i64,
    total: i64,
    /// `covered / total`; null when there are no components.
    ratio: Option<f64>,
}

/// The catalog in figures.
pub struct Stats(store::CatalogStats);

#[Object]
impl Stats {
    async fn entity_count(&self) -> i64 {
        self.0.entities
    }

    /// By kind (lowercased), sorted.
    async fn by_kind(&self) -> Vec<ValueCount> {
        self.0
            .by_kind
            .iter()
            .map(|count| ValueCount {
                value: count.value.clone(),
                count: count.count,
            })
            .collect()
    }

    /// By kind and type, sorted.
    async fn by_type(&self) -> Vec<TypeCount> {
        self.0
            .by_type
            .iter()
            .map(|count| TypeCount {
                kind: count.kind.clone(),
                entity_type: count.entity_type.clone(),
                count: count.count,
            })
            .collect()
    }

    /// By lifecycle, sorted (unset last).
    async fn by_lifecycle(&self) -> Vec<ValueCount> {
        self.0
            .by_lifecycle
            .iter()
            .map(|count| ValueCount {
                value: count.value.clone(),
                count: count.count,
            })
            .collect()
    }

    /// Components whose owner resolves to a Group or a User.
    async fn owner_coverage(&self) -> OwnerCoverage {
        OwnerCoverage {
            covered: self.0.owned_components,
            total: self.0.components,
            ratio: self.0.owner_coverage(),
        }
    }
}
