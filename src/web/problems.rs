//! The problems of the catalog: `/problems` lists every kind of problem with its count, and
//! `/problems/{list}` shows one list a page at a time (keyset pagination: the key of the page's
//! last item, JSON in the `after` parameter), with the columns that explain each problem: both
//! sources of a conflict, the declaring entity and missing target of a dangling reference, the
//! entities around a cycle, the diagnostics of an invalid file.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::links::{entity_path, kind_of};
use super::query::Params;
use super::{Chrome, Dashboard, PageError, PageResult, render};
use crate::store::{self, Keyed, Page, PageRequest, ProblemCounts};

/// Items of a problem list per page, unless `first` says otherwise.
const PAGE_SIZE: u32 = 50;
/// The largest `first` a list page takes.
const MAX_PAGE_SIZE: u32 = 200;
/// Diagnostics shown per invalid file in its list (the repository page has them all).
const DIAGNOSTICS_PER_FILE: usize = 3;

/// One of the problem lists, as named in its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemList {
    InvalidFiles,
    Conflicts,
    Dangling,
    Orphans,
    InvalidOwners,
    DuplicateAliases,
    Cycles,
    StaleRepos,
}

impl ProblemList {
    /// Every list, in the order the overview shows them.
    pub const ALL: [ProblemList; 8] = [
        ProblemList::InvalidFiles,
        ProblemList::Conflicts,
        ProblemList::Dangling,
        ProblemList::Orphans,
        ProblemList::InvalidOwners,
        ProblemList::DuplicateAliases,
        ProblemList::Cycles,
        ProblemList::StaleRepos,
    ];

    /// The list's name in its URL, `/problems/{slug}`.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemList::InvalidFiles => "invalid-files",
            ProblemList::Conflicts => "conflicts",
            ProblemList::Dangling => "dangling",
            ProblemList::Orphans => "orphans",
            ProblemList::InvalidOwners => "invalid-owners",
            ProblemList::DuplicateAliases => "duplicate-aliases",
            ProblemList::Cycles => "cycles",
            ProblemList::StaleRepos => "stale-repos",
        }
    }

    pub fn from_slug(slug: &str) -> Option<ProblemList> {
        ProblemList::ALL.into_iter().find(|list| list.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            ProblemList::InvalidFiles => "Invalid files",
            ProblemList::Conflicts => "Conflicts",
            ProblemList::Dangling => "Dangling references",
            ProblemList::Orphans => "Orphans",
            ProblemList::InvalidOwners => "Invalid owners",
            ProblemList::DuplicateAliases => "Duplicate aliases",
            ProblemList::Cycles => "Cycles",
            ProblemList::StaleRepos => "Stale repositories",
        }
    }

    /// What the list holds, in one sentence.
    pub fn explanation(self) -> &'static str {
        match self {
            ProblemList::InvalidFiles => {
                "Descriptor files at their repository's tip that did not read cleanly; the catalog keeps their last good entities."
            }
            ProblemList::Conflicts => {
                "Entities defined in two places: the definition that holds the reference keeps it, the other one is ignored."
            }
            ProblemList::Dangling => "Relations whose target is not in the catalog.",
            ProblemList::Orphans => "Entities (other than groups, users and locations) whose owner is not in the catalog.",
            ProblemList::InvalidOwners => "Owners that are in the catalog but are neither a Group nor a User.",
            ProblemList::DuplicateAliases => "Aliases (Compass ids, sextant.dev/aliases) claimed by more than one entity.",
            ProblemList::Cycles => {
                "Loops of dependsOn, partOf or Group parent relations: per set of entities that all reach each other, the shortest loops through them (at most 20)."
            }
            ProblemList::StaleRepos => {
                "Repositories never read, or whose last read failed or found an unusable file; their entities are last good copies."
            }
        }
    }

    pub fn count(self, counts: &ProblemCounts) -> usize {
        match self {
            ProblemList::InvalidFiles => counts.invalid_files,
            ProblemList::Conflicts => counts.conflicts,
            ProblemList::Dangling => counts.dangling,
            ProblemList::Orphans => counts.orphans,
            ProblemList::InvalidOwners => counts.invalid_owners,
            ProblemList::DuplicateAliases => counts.duplicate_aliases,
            ProblemList::Cycles => counts.cycles,
            ProblemList::StaleRepos => counts.stale_repos,
        }
    }

    /// The column headers of the list's table.
    fn headers(self) -> &'static [&'static str] {
        match self {
            ProblemList::InvalidFiles => &["Repository", "File", "Why", "Diagnostics"],
            ProblemList::Conflicts => &["Entity", "Kept by (holds the reference)", "Also defined by (ignored)"],
            ProblemList::Dangling => &["Declared by", "Relation", "Missing target", "Where"],
            ProblemList::Orphans => &["Entity", "Declared owner"],
            ProblemList::InvalidOwners => &["Entity", "Owner", "Owner's kind"],
            ProblemList::DuplicateAliases => &["Alias", "Claimed by"],
            ProblemList::Cycles => &["Cycle", "Entities that all reach each other"],
            ProblemList::StaleRepos => &["Repository", "Branch", "Status", "Error"],
        }
    }
}

/// The pagination cursor of a list: the key of the previous page's last item, as JSON.
pub(super) fn cursor_of<Key: Serialize>(key: &Key) -> Option<String> {
    serde_json::to_string(key).ok()
}

/// The page a request asks for: `first` (default [`PAGE_SIZE`]) after the key in `after`; a
/// cursor that is not a key of this list is a bad request.
pub(super) fn page_request<Key: DeserializeOwned>(
    params: &Params,
    default_size: u32,
    max_size: u32,
) -> Result<PageRequest<Key>, PageError> {
    let first = params.number("first", default_size, 1..=max_size);
    let after = match params.get("after") {
        Some(cursor) => Some(
            serde_json::from_str::<Key>(cursor)
                .map_err(|_| PageError::BadRequest("the `after` parameter is not a position in this list".to_owned()))?,
        ),
        None => None,
    };
    Ok(PageRequest {
        first: usize::try_from(first).ok(),
        after,
    })
}

/// Links to the first page (when this is not it) and to the next one (when there is one).
#[derive(Debug, Clone, Default)]
pub(super) struct Pager {
    pub first_href: Option<String>,
    pub next_href: Option<String>,
}

impl Pager {
    /// The links of `page`, read after `after_given`, keeping the request's other parameters.
    pub fn of<Item: Keyed>(path: &str, params: &Params, page: &Page<Item>, after_given: bool) -> Pager {
        let next_href = if page.has_next_page {
            page.items
                .last()
                .and_then(|item| cursor_of(&item.key()))
                .map(|cursor| format!("{path}{}", params.with("after", Some(&cursor))))
        } else {
            None
        };
        Pager {
            first_href: after_given.then(|| format!("{path}{}", params.with("after", None))),
            next_href,
        }
    }
}

/// An entity named in a problem, linked to its page.
#[derive(Debug, Clone)]
pub(super) struct EntityLink {
    pub label: String,
    pub href: String,
    pub kind: String,
}

impl EntityLink {
    pub fn of(entity_ref: &str) -> EntityLink {
        EntityLink {
            label: entity_ref.to_owned(),
            href: entity_path(entity_ref),
            kind: kind_of(entity_ref).to_owned(),
        }
    }
}

/// A place in a repository: URL, branch, file and line.
#[derive(Debug, Clone)]
struct Place {
    repo: String,
    branch: Option<String>,
    file: String,
    line: Option<i32>,
}

/// A diagnostic of an invalid file, in one line.
#[derive(Debug, Clone)]
struct DiagnosticLine {
    line: i32,
    column: i32,
    severity: String,
    code: String,
    message: String,
}

/// A cell of a problem table.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Code(String),
    /// Muted text that says a value is absent.
    Absent(&'static str),
    Entity(EntityLink),
    Entities(Vec<EntityLink>),
    /// Entities around a loop, the first again at the end.
    Chain(Vec<EntityLink>),
    Place(Place),
    /// A repository linked to its page.
    Repo {
        url: String,
        branch: Option<String>,
        href: String,
    },
    Badge {
        class: String,
        label: String,
    },
    /// The first diagnostics of a file, and how many more its repository page shows.
    Diagnostics {
        shown: Vec<DiagnosticLine>,
        more: usize,
        href: String,
    },
}

/// `/problems`: every list with its count.
#[derive(Template)]
#[template(path = "problems.html")]
struct ProblemsPage {
    chrome: Chrome,
    lists: Vec<ListSummary>,
    total: usize,
    error_diagnostics: usize,
}

struct ListSummary {
    slug: &'static str,
    title: &'static str,
    explanation: &'static str,
    count: usize,
}

/// `/problems/{list}`: one page of a list.
#[derive(Template)]
#[template(path = "problem_list.html")]
struct ProblemListPage {
    chrome: Chrome,
    slug: &'static str,
    explanation: &'static str,
    total: i64,
    headers: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
    pager: Pager,
}

pub async fn page(State(dashboard): State<Dashboard>, RawQuery(_query): RawQuery) -> PageResult {
    let counts = dashboard.store().snapshot().problem_counts().await?;
    let lists = ProblemList::ALL
        .into_iter()
        .map(|list| ListSummary {
            slug: list.slug(),
            title: list.title(),
            explanation: list.explanation(),
            count: list.count(&counts),
        })
        .collect();
    render(&ProblemsPage {
        chrome: Chrome::new("Problems", "problems"),
        lists,
        total: counts.total(),
        error_diagnostics: counts.error_diagnostics,
    })
}

pub async fn list(State(dashboard): State<Dashboard>, Path(slug): Path<String>, RawQuery(query): RawQuery) -> PageResult {
    let list = ProblemList::from_slug(&slug).ok_or_else(|| PageError::NotFound(format!("there is no problem list named `{slug}`")))?;
    let params = Params::parse(query.as_deref());
    let path = format!("/problems/{}", list.slug());
    let snapshot = dashboard.store().snapshot();
    let after_given = params.get("after").is_some();
    let (rows, total, pager) = match list {
        ProblemList::InvalidFiles => {
            let page = snapshot.invalid_files(&page_request(&params, PAGE_SIZE, MAX_PAGE_SIZE)?).await?;
            table(&path, &params, page, after_given, invalid_file_row)
        }
        ProblemList::Conflicts => {
            let page = snapshot.conflicts(&page_request(&params, PAGE_SIZE, MAX_PAGE_SIZE)?).await?;
            table(&path, &params, page, after_given, conflict_row)
        }
        ProblemList::Dangling => {
            let page = snapshot
                .dangling_references(&page_request(&params, PAGE_SIZE, MAX_PAGE_SIZE)?)
                .await?;
            table(&path, &params, page, after_given, dangling_row)
        }
        ProblemList::Orphans => {
            let page = snapshot.orphans(&page_request(&params, PAGE_SIZE, MAX_PAGE_SIZE)?).await?;
            table(&path, &params, page, after_given, orphan_row)
        }
        ProblemList::InvalidOwners => {
            let page = snapshot.invalid_owners(&page_request(&params, PAGE_SIZE, MAX_PAGE_SIZE)?).await?;
            table(&path, &params, page, after_given, invalid_owner_row)
        }
        ProblemList::DuplicateAliases => {
            let page = snapshot
                .duplicate_aliases(&page_request(&params, PAGE_SIZE, MAX_PAGE_SIZE)?)
                .await?;
            table(&path, &params, page, after_given, duplicate_alias_row)
        }
        ProblemList::Cycles => {
            let page = snapshot.cycle_page(&page_request(&params, PAGE_SIZE, MAX_PAGE_SIZE)?).await?;
            table(&path, &params, page, after_given, cycle_row)
        }
        ProblemList::StaleRepos => {
            let page = snapshot.stale_repos(&page_request(&params, PAGE_SIZE, MAX_PAGE_SIZE)?).await?;
            table(&path, &params, page, after_given, stale_repo_row)
        }
    };
    render(&ProblemListPage {
        chrome: Chrome::new(list.title(), "problems"),
        slug: list.slug(),
        explanation: list.explanation(),
        total,
        headers: list.headers(),
        rows,
        pager,
    })
}

/// A page of a list as table rows, its total and its pager.
fn table<Item: Keyed>(
    path: &str,
    params: &Params,
    page: Page<Item>,
    after_given: bool,
    row: fn(Item) -> Vec<Cell>,
) -> (Vec<Vec<Cell>>, i64, Pager) {
    let pager = Pager::of(path, params, &page, after_given);
    let total = page.total_count;
    (page.items.into_iter().map(row).collect(), total, pager)
}

fn optional_text(value: Option<String>, absent: &'static str) -> Cell {
    match value {
        Some(text) if !text.is_empty() => Cell::Text(text),
        _ => Cell::Absent(absent),
    }
}

fn invalid_file_row(file: store::InvalidFile) -> Vec<Cell> {
    let href = format!("/repo/{}", file.repo_id);
    let more = file.diagnostics.len().saturating_sub(DIAGNOSTICS_PER_FILE);
    let shown = file
        .diagnostics
        .into_iter()
        .take(DIAGNOSTICS_PER_FILE)
        .map(|diagnostic| DiagnosticLine {
            line: diagnostic.line,
            column: diagnostic.column,
            severity: diagnostic.severity,
            code: diagnostic.code,
            message: diagnostic.message,
        })
        .collect();
    vec![
        Cell::Repo {
            url: file.repo,
            branch: file.branch,
            href: href.clone(),
        },
        Cell::Code(file.file),
        optional_text(file.problem, "errors"),
        Cell::Diagnostics { shown, more, href },
    ]
}

fn conflict_row(conflict: store::Conflict) -> Vec<Cell> {
    vec![
        Cell::Entity(EntityLink::of(&conflict.entity_ref)),
        Cell::Place(Place {
            repo: conflict.holder,
            branch: conflict.holder_branch,
            file: conflict.holder_file,
            line: conflict.holder_line,
        }),
        Cell::Place(Place {
            repo: conflict.claimant,
            branch: conflict.claimant_branch,
            file: conflict.claimant_file,
            line: Some(conflict.claimant_line),
        }),
    ]
}

fn dangling_row(reference: store::DanglingReference) -> Vec<Cell> {
    vec![
        Cell::Entity(EntityLink::of(&reference.source)),
        Cell::Code(reference.relation),
        Cell::Code(reference.target),
        Cell::Place(Place {
            repo: reference.repo,
            branch: reference.branch,
            file: reference.file,
            line: Some(reference.line),
        }),
    ]
}

fn orphan_row(orphan: store::Orphan) -> Vec<Cell> {
    vec![
        Cell::Entity(EntityLink::of(&orphan.entity_ref)),
        match orphan.owner {
            Some(owner) if !owner.is_empty() => Cell::Code(owner),
            _ => Cell::Absent("no owner declared"),
        },
    ]
}

fn invalid_owner_row(owner: store::InvalidOwner) -> Vec<Cell> {
    vec![
        Cell::Entity(EntityLink::of(&owner.entity_ref)),
        Cell::Entity(EntityLink::of(&owner.owner)),
        Cell::Badge {
            class: format!("kind kind-{}", owner.owner_kind),
            label: owner.owner_kind,
        },
    ]
}

fn duplicate_alias_row(alias: store::DuplicateAlias) -> Vec<Cell> {
    vec![
        Cell::Code(alias.alias),
        Cell::Entities(alias.entities.iter().map(|entity_ref| EntityLink::of(entity_ref)).collect()),
    ]
}

fn cycle_row(cycle: store::Cycle) -> Vec<Cell> {
    let mut chain: Vec<EntityLink> = cycle.refs.iter().map(|entity_ref| EntityLink::of(entity_ref)).collect();
    if let Some(first) = chain.first().cloned() {
        chain.push(first);
    }
    vec![Cell::Chain(chain), Cell::Text(cycle.tangle_size.to_string())]
}

fn stale_repo_row(repo: store::StaleRepo) -> Vec<Cell> {
    vec![
        Cell::Code(repo.repo),
        optional_text(repo.branch, "the remote's HEAD"),
        Cell::Badge {
            class: status_class(&repo.status).to_owned(),
            label: repo.status,
        },
        optional_text(repo.error, "no error recorded"),
    ]
}

/// The badge class of a repository status.
pub(super) fn status_class(status: &str) -> &'static str {
    match status {
        "ok" => "ok",
        "stale" => "stale",
        _ => "new",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_has_a_distinct_slug_that_reads_back() {
        for list in ProblemList::ALL {
            assert_eq!(ProblemList::from_slug(list.slug()), Some(list));
            assert!(!list.headers().is_empty());
        }
        let mut slugs: Vec<&str> = ProblemList::ALL.iter().map(|list| list.slug()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), ProblemList::ALL.len());
        assert_eq!(ProblemList::from_slug("Conflicts"), None);
        assert_eq!(ProblemList::from_slug(""), None);
    }

    #[test]
    fn cursors_read_back_and_foreign_ones_are_bad_requests() {
        let key = store::StaleRepo {
            repo: "https://example.com/a&b?c=<d>".to_owned(),
            branch: None,
            status: "stale".to_owned(),
            error: None,
        }
        .key();
        let cursor = cursor_of(&key).expect("a key serializes");
        let link = Params::parse(None).with("after", Some(&cursor));
        let params = Params::parse(link.strip_prefix('?'));
        let request: PageRequest<store::RepoOrderKey> = page_request(&params, 50, 200).expect("its own cursor reads");
        assert_eq!(request.after, Some(key));
        assert_eq!(request.first, Some(50));

        for hostile in ["not json", "[1,2]", "{\"a\":1}", "[\"only one\"]"] {
            let params = Params::parse(Some(&format!("after={hostile}&first=1")));
            let result: Result<PageRequest<store::RepoOrderKey>, PageError> = page_request(&params, 50, 200);
            assert!(matches!(result, Err(PageError::BadRequest(_))), "{hostile}");
        }
        let params = Params::parse(Some("first=1"));
        let request: PageRequest<String> = page_request(&params, 50, 200).expect("no cursor");
        assert_eq!((request.first, request.after), (Some(1), None));
    }
}
