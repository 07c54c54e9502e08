//! The repositories: `/repos` lists every repository with its status, branch, tip, last crawl,
//! last error and counts (a page at a time, keyset pagination by URL then branch); `/repo/{id}`
//! shows one repository's state, the entities it declares and its diagnostics file by file.
//!
//! A page does no git IO: a diagnostic shows its position, code, message and hint, the text of
//! its line that the crawl kept with it (the column marked), and links to the line in the
//! repository's web view when the host is a known one.

use askama::Template;
use axum::extract::{Path, RawQuery, State};

use super::problems::{EntityLink, Pager, page_request, status_class};
use super::query::{Params, encode};
use super::{Chrome, Dashboard, PageError, PageResult, render};
use crate::ingest::snippet::{self, Marked};
use crate::store::read::{self, EntityQuery, SortOrder};
use crate::store::{FileDiagnostic, RepoListing, RepoOrderKey, RepoState};

/// Repositories per page, unless `first` says otherwise.
const PAGE_SIZE: u32 = 50;
/// The largest `first` the list takes.
const MAX_PAGE_SIZE: u32 = 200;
/// The characters of a last error shown in the list (the repository's page shows it whole).
const ERROR_PREVIEW_CHARS: usize = 200;
/// The entities a repository's page lists (the catalog page filtered by the repository has all).
const ENTITIES_SHOWN: usize = 100;
/// Diagnostics per page of a repository's page.
const DIAGNOSTICS_PER_PAGE: u32 = 200;
/// The last diagnostics page a repository's page shows.
const MAX_DIAGNOSTICS_PAGE: u32 = 100;

/// A repository as the pages show it.
struct RepoView {
    href: String,
    url: String,
    name: String,
    /// The configured branch; `None` follows the remote's HEAD.
    branch: Option<String>,
    status: String,
    status_class: &'static str,
    error: Option<String>,
    /// The error's first characters, for the list.
    error_preview: Option<String>,
    commit: Option<String>,
    short_commit: Option<String>,
    last_crawled: Option<String>,
    entities: i64,
    unusable_files: i64,
    diagnostics: i64,
    conflicts: i64,
    /// The repository's own web page, when its URL is a web URL.
    web_href: Option<String>,
}

impl RepoView {
    fn of(state: RepoState) -> RepoView {
        let RepoListing {
            url,
            branch,
            name,
            status,
            error,
            last_commit,
            last_crawled_at,
            entities,
            unusable_files,
            diagnostics,
            conflicts,
        } = state.listing;
        RepoView {
            href: format!("/repo/{}", state.id),
            web_href: super::links::repo_web_url(&url),
            status_class: status_class(&status),
            error_preview: error.as_deref().map(|error| preview(error, ERROR_PREVIEW_CHARS)),
            short_commit: last_commit.as_deref().map(|commit| commit.chars().take(12).collect()),
            url,
            branch: branch.filter(|branch| !branch.is_empty()),
            name,
            status,
            error,
            commit: last_commit,
            last_crawled: last_crawled_at,
            entities,
            unusable_files,
            diagnostics,
            conflicts,
        }
    }
}

/// The first `limit` characters of `text`, with an ellipsis when cut.
fn preview(text: &str, limit: usize) -> String {
    let mut characters = text.chars();
    let mut shown: String = characters.by_ref().take(limit).collect();
    if characters.next().is_some() {
        shown.push('…');
    }
    shown
}

/// `/repos`.
#[derive(Template)]
#[template(path = "repos.html")]
struct ReposPage {
    chrome: Chrome,
    repos: Vec<RepoView>,
    total: i64,
    pager: Pager,
}

pub async fn page(State(dashboard): State<Dashboard>, RawQuery(query): RawQuery) -> PageResult {
    let params = Params::parse(query.as_deref());
    let request = page_request::<RepoOrderKey>(&params, PAGE_SIZE, MAX_PAGE_SIZE)?;
    let snapshot = dashboard.store().snapshot();
    let page = snapshot.repo_page(&request).await?;
    let pager = Pager::of("/repos", &params, &page, request.after.is_some());
    render(&ReposPage {
        chrome: Chrome::new("Repositories", "repos"),
        total: page.total_count,
        repos: page.items.into_iter().map(RepoView::of).collect(),
        pager,
    })
}

/// A diagnostic of a file, with where to see its line.
struct DiagnosticView {
    line: i32,
    column: i32,
    severity: String,
    code: String,
    message: String,
    hint: Option<String>,
    /// The line in the repository's web view, when its host is known.
    line_href: Option<String>,
    /// The text of the line, split at the column.
    snippet: Option<Marked>,
    /// The line is not stored yet (the row is older than the stored lines).
    snippet_pending: bool,
}

/// A file's diagnostics on the page.
struct FileDiagnostics {
    path: String,
    diagnostics: Vec<DiagnosticView>,
}

/// `/repo/{id}`.
#[derive(Template)]
#[template(path = "repo.html")]
struct RepoPage {
    chrome: Chrome,
    repo: RepoView,
    entities: Vec<EntityRow>,
    /// `/catalog?repo=URL`: every entity of the repository.
    catalog_href: String,
    files: Vec<FileDiagnostics>,
    diagnostics_page: u32,
    diagnostics_on_page: usize,
    previous_diagnostics_href: Option<String>,
    next_diagnostics_href: Option<String>,
}

struct EntityRow {
    link: EntityLink,
    title: Option<String>,
    entity_type: Option<String>,
    path: String,
    line: i32,
    stale: bool,
}

pub async fn repo(State(dashboard): State<Dashboard>, Path(id): Path<String>, RawQuery(query): RawQuery) -> PageResult {
    let not_found = || PageError::NotFound(format!("there is no repository with the id `{id}`"));
    let repo_id: i64 = id.parse().map_err(|_| not_found())?;
    let params = Params::parse(query.as_deref());
    let snapshot = dashboard.store().snapshot();
    let state = read::repo_states(&snapshot, &[repo_id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(not_found)?;

    // The entities: the catalog's page of this URL (every branch), keeping this repository's.
    let filter = EntityQuery {
        repos: vec![state.listing.url.clone()],
        ..EntityQuery::default()
    };
    let entities: Vec<EntityRow> = read::entities_page(&snapshot, &filter, SortOrder::default(), None, ENTITIES_SHOWN)
        .await?
        .into_iter()
        .filter(|entity| entity.provenance.repo_id == repo_id)
        .map(|entity| EntityRow {
            link: EntityLink::of(&entity.entity_ref),
            stale: entity.provenance.stale(),
            title: entity.title,
            entity_type: entity.entity_type,
            path: entity.provenance.path,
            line: entity.provenance.line,
        })
        .collect();

    // The diagnostics: page N holds the N-th run of DIAGNOSTICS_PER_PAGE in the store's order
    // (errors and warnings first, then by file, line and column).
    let diagnostics_page = params.number("page", 1, 1..=MAX_DIAGNOSTICS_PAGE);
    let wanted = i64::from(diagnostics_page) * i64::from(DIAGNOSTICS_PER_PAGE);
    let mut read = snapshot.repo_diagnostics(&[repo_id], wanted + 1).await?;
    let diagnostics = read.remove(&repo_id).unwrap_or_default();
    let has_next = i64::try_from(diagnostics.len()).unwrap_or(i64::MAX) > wanted && diagnostics_page < MAX_DIAGNOSTICS_PAGE;
    let skip = usize::try_from((diagnostics_page - 1) * DIAGNOSTICS_PER_PAGE).unwrap_or(usize::MAX);
    let on_page: Vec<FileDiagnostic> = diagnostics
        .into_iter()
        .skip(skip)
        .take(usize::try_from(DIAGNOSTICS_PER_PAGE).unwrap_or(usize::MAX))
        .collect();
    let listing = &state.listing;
    let diagnostics_on_page = on_page.len();
    let files = by_file(on_page, |path, line| {
        super::links::repo_file_url(
            &listing.url,
            listing.branch.as_deref(),
            listing.last_commit.as_deref(),
            path,
            Some(line),
        )
    });
    let page_link = |page: u32| {
        let value = page.to_string();
        format!(
            "/repo/{repo_id}{}#diagnostics",
            params.with("page", (page > 1).then_some(value.as_str()))
        )
    };
    let repo = RepoView::of(state);
    render(&RepoPage {
        chrome: Chrome::new(format!("Repository {}", repo.name), "repos"),
        catalog_href: format!("/catalog{}", encode(&[("repo", repo.url.as_str())])),
        entities,
        files,
        diagnostics_page,
        diagnostics_on_page,
        previous_diagnostics_href: (diagnostics_page > 1).then(|| page_link(diagnostics_page - 1)),
        next_diagnostics_href: has_next.then(|| page_link(diagnostics_page + 1)),
        repo,
    })
}

/// Diagnostics grouped by file, files in the order they first appear.
fn by_file(diagnostics: Vec<FileDiagnostic>, line_href: impl Fn(&str, i32) -> Option<String>) -> Vec<FileDiagnostics> {
    let mut files: Vec<FileDiagnostics> = Vec::new();
    for diagnostic in diagnostics {
        let view = DiagnosticView {
            line_href: line_href(&diagnostic.file, diagnostic.line),
            snippet_pending: diagnostic.snippet.is_none() && diagnostic.line > 0 && snippet::points_at_a_line(&diagnostic.code),
            snippet: diagnostic
                .snippet
                .map(|text| snippet::mark(&text, u32::try_from(diagnostic.column).unwrap_or(0))),
            line: diagnostic.line,
            column: diagnostic.column,
            severity: diagnostic.severity,
            code: diagnostic.code,
            message: diagnostic.message,
            hint: diagnostic.hint,
        };
        match files.iter_mut().find(|file| file.path == diagnostic.file) {
            Some(file) => file.diagnostics.push(view),
            None => files.push(FileDiagnostics {
                path: diagnostic.file,
                diagnostics: vec![view],
            }),
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_cut_at_characters_not_bytes() {
        assert_eq!(preview("short", 10), "short");
        assert_eq!(preview("ééééé", 3), "ééé…");
        assert_eq!(preview("", 3), "");
    }

    #[test]
    fn diagnostics_group_by_file_in_order_of_first_appearance() {
        let diagnostic = |file: &str, line: i32| FileDiagnostic {
            repo_id: 1,
            file: file.to_owned(),
            line,
            column: 1,
            code: "S0005".to_owned(),
            severity: "error".to_owned(),
            message: "m".to_owned(),
            hint: None,
            snippet: (line < 9).then(|| "name: [unclosed".to_owned()),
        };
        let files = by_file(
            vec![diagnostic("b.yaml", 1), diagnostic("a.yaml", 2), diagnostic("b.yaml", 9)],
            |path, line| Some(format!("{path}#{line}")),
        );
        let shape: Vec<(&str, Vec<i32>)> = files
            .iter()
            .map(|file| (file.path.as_str(), file.diagnostics.iter().map(|view| view.line).collect()))
            .collect();
        assert_eq!(shape, vec![("b.yaml", vec![1, 9]), ("a.yaml", vec![2])]);
        assert_eq!(files[0].diagnostics[1].line_href.as_deref(), Some("b.yaml#9"));
        let marked = files[0].diagnostics[0].snippet.as_ref().expect("a stored line");
        assert_eq!(
            (marked.before.as_str(), marked.marked.as_str(), marked.after.as_str()),
            ("", "name:", " [unclosed")
        );
        assert!(!files[0].diagnostics[0].snippet_pending);
        assert!(files[0].diagnostics[1].snippet.is_none() && files[0].diagnostics[1].snippet_pending);
    }
}
