//! The dashboard's health pages over a real `sextant serve`: the repositories list and a
//! repository's page (status, diagnostics with file:line:col and code), the problems overview
//! (counts equal to the catalog's) and each problem list (both sources of a conflict, the
//! declaring entity and missing target of a dangling reference, orphans, invalid files, stale
//! repositories), keyset pagination that visits every item once, hostile text shown escaped,
//! unknown ids, lists and cursors answered with error pages, and the guide.

use std::collections::BTreeSet;

use sextant::crawler::{Origin, Source};
use sextant::store::Store;

use crate::db::{crawl_into, fresh_store};
use crate::git::{TestRepo, component, group};
use crate::server::{Answer, RunningServer, get};

/// A name that would run as a script if it were not escaped.
const HOSTILE: &str = "<script>alert(1)</script>";

/// The catalog of these tests and the facts the pages must show.
struct Catalog {
    url: String,
    store: Store,
    data: tempfile::TempDir,
    team: TestRepo,
    services: TestRepo,
}

/// Three repositories, registered in this order:
/// - team: a group, `ledger`, `payments` (depends on `ledger` and on `missing-thing`, which is
///   nowhere) and `lonely` (owned by `ghost-team`, which is nowhere: an orphan);
/// - services: `ledger` again (a conflict: team holds it), a file with a YAML error and a file
///   whose entity name is hostile markup (a schema error);
/// - team's URL on a branch named with hostile markup that does not exist (a failed read).
async fn health_catalog() -> Catalog {
    let (store, url) = fresh_store().await;
    let team = TestRepo::new();
    team.commit(
        &[
            ("catalog-info.yaml", &group("payments-team", None)),
            ("ledger/catalog-info.yaml", &component("ledger", "payments-team", &[])),
            (
                "payments/catalog-info.yaml",
                &component("payments", "payments-team", &["component:ledger", "component:missing-thing"]),
            ),
            ("lonely/catalog-info.yaml", &component("lonely", "ghost-team", &[])),
        ],
        "team",
    );
    let services = TestRepo::new();
    services.commit(
        &[
            ("legacy/catalog-info.yaml", &component("ledger", "payments-team", &[])),
            (
                "broken/catalog-info.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\nspec:\n  type: service\n",
            ),
            (
                "hostile/catalog-info.yaml",
                &format!(
                    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: \"{HOSTILE}\"\nspec:\n  type: service\n  lifecycle: production\n  owner: payments-team\n"
                ),
            ),
        ],
        "services",
    );
    let hostile_branch = Source::parse(&team.path().to_string_lossy(), Some(format!("x{HOSTILE}")), None, Origin::Operator)
        .expect("a local path with a branch");
    let data = tempfile::tempdir().unwrap();
    crawl_into(
        &store,
        &[team.source(), services.source(), hostile_branch],
        &data.path().join("mirrors"),
    )
    .await;
    Catalog {
        url,
        store,
        data,
        team,
        services,
    }
}

fn serve(catalog: &Catalog) -> RunningServer {
    RunningServer::serve(&catalog.url, catalog.data.path(), &["--crawl-interval", "0"], &[])
}

/// The page at `path`, which must be a 200 HTML page with no unescaped hostile markup.
fn page(server: &RunningServer, path: &str) -> String {
    let answer = get(&server.url(path));
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    assert!(answer.content_type.starts_with("text/html"), "{path}: {}", answer.content_type);
    assert_escaped(path, &answer);
    answer.body
}

/// No descriptor or repository text became markup: the only script element is the page's own.
fn assert_escaped(path: &str, answer: &Answer) {
    assert!(
        !answer.body.contains(HOSTILE),
        "{path} shows hostile markup unescaped: {}",
        answer.body
    );
    assert_eq!(
        answer.body.matches("<script").count(),
        1,
        "{path} has a script element besides /static/sextant.js: {}",
        answer.body
    );
}

/// Undoes the HTML escaping of an attribute value.
fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// The `href` of every `<a class="CLASS" href="...">`, unescaped.
fn hrefs(body: &str, class: &str) -> Vec<String> {
    let marker = format!("class=\"{class}\" href=\"");
    body.match_indices(&marker)
        .map(|(start, _)| {
            let rest = &body[start + marker.len()..];
            unescape(&rest[..rest.find('"').expect("a closed attribute")])
        })
        .collect()
}

/// The `<tr class="ROW">` rows of the page's table body, as HTML.
fn rows<'body>(body: &'body str, row_class: &str) -> Vec<&'body str> {
    let marker = format!("<tr class=\"{row_class}\">");
    body.split(marker.as_str())
        .skip(1)
        .map(|rest| &rest[..rest.find("</tr>").expect("a closed row")])
        .collect()
}

/// Follows `a.next-page` from `start`; the rows of every page visited, in order.
fn every_row(server: &RunningServer, start: &str, row_class: &str) -> Vec<String> {
    let mut rows_seen = Vec::new();
    let mut next = Some(start.to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        pages += 1;
        assert!(pages < 50, "pagination from {start} does not end");
        let body = page(server, &path);
        let on_page = rows(&body, row_class);
        assert!(on_page.len() <= 1, "{path} shows more rows than first=1: {body}");
        rows_seen.extend(on_page.into_iter().map(str::to_owned));
        next = hrefs(&body, "next-page").into_iter().next();
    }
    rows_seen
}

/// The number shown for a list in `<span ... data-list="SLUG">N</span>`.
fn shown_count(body: &str, slug: &str) -> usize {
    let marker = format!("data-list=\"{slug}\">");
    let start = body.find(&marker).unwrap_or_else(|| panic!("no count for {slug}: {body}")) + marker.len();
    let rest = &body[start..];
    rest[..rest.find('<').expect("the count's element closes")]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the count of {slug} is not a number: {body}"))
}

/// The stored id of the repository with this URL that follows HEAD.
async fn repo_id(pool: &sqlx::PgPool, url: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM repos WHERE url = $1 AND branch IS NULL")
        .bind(url)
        .fetch_one(pool)
        .await
        .expect("the repository is stored")
}

#[tokio::test(flavor = "multi_thread")]
async fn repositories_pages_show_status_diagnostics_and_paginate() {
    let catalog = health_catalog().await;
    let pool = catalog.store.pool().clone();
    let team_url = catalog.team.source().url;
    let services_url = catalog.services.source().url;
    let services_id = repo_id(&pool, &services_url).await;
    let team_id = repo_id(&pool, &team_url).await;
    let server = serve(&catalog);

    // Every dashboard answer carries the security headers.
    let response = ureq::get(&server.url("/repos")).call().expect("the server answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let policy = header("content-security-policy");
    assert!(
        policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "same-origin");

    // The list: every repository once, linked to its page, with its status and tip.
    let repos = page(&server, "/repos");
    assert!(repos.contains("<table id=\"repos\""), "{repos}");
    let links = hrefs(&repos, "repo-link");
    assert_eq!(links.len(), 3, "{repos}");
    assert!(links.contains(&format!("/repo/{team_id}")), "{repos}");
    assert!(links.contains(&format!("/repo/{services_id}")), "{repos}");
    assert_eq!(rows(&repos, "repo").len(), 3, "{repos}");
    let team_commit: String = sqlx::query_scalar("SELECT last_commit FROM repos WHERE id = $1")
        .bind(team_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let team_row = rows(&repos, "repo")
        .into_iter()
        .find(|row| row.contains(&format!("href=\"/repo/{team_id}\"")))
        .expect("the team's row");
    assert!(team_row.contains(&team_commit[..12]), "the tip, short: {team_row}");
    assert!(team_row.contains("badge ok"), "{team_row}");
    let services_row = rows(&repos, "repo")
        .into_iter()
        .find(|row| row.contains(&format!("href=\"/repo/{services_id}\"")))
        .expect("the services' row");
    assert!(services_row.contains("badge stale"), "{services_row}");
    // The failed read's branch and error name hostile markup: shown, escaped.
    assert!(repos.contains(&escape(&format!("x{HOSTILE}"))), "{repos}");
    assert!(repos.contains(">3</span> repositories"), "the total: {repos}");

    // One repository a page: each visited once.
    let visited: Vec<String> = every_row(&server, "/repos?first=1", "repo")
        .iter()
        .map(|row| hrefs(row, "repo-link").remove(0))
        .collect();
    let distinct: BTreeSet<&String> = visited.iter().collect();
    assert_eq!(visited.len(), 3, "{visited:?}");
    assert_eq!(distinct.len(), 3, "{visited:?}");

    // A repository's page: its state, its entities, and every diagnostic with its position and code.
    let services_page = page(&server, &format!("/repo/{services_id}"));
    assert!(services_page.contains("id=\"repo-status\""), "{services_page}");
    assert!(services_page.contains("id=\"diagnostics\""), "{services_page}");
    let catalog_link = hrefs(&services_page, "catalog-link").remove(0);
    let (catalog_path, catalog_query) = catalog_link.split_once('?').expect("a query");
    assert_eq!(catalog_path, "/catalog");
    let filters: Vec<(String, String)> = form_urlencoded::parse(catalog_query.as_bytes()).into_owned().collect();
    assert!(
        filters.contains(&("repo".to_owned(), services_url.clone())),
        "the link to all its entities: {catalog_link}"
    );
    let diagnostics: Vec<(String, i32, i32, String)> =
        sqlx::query_as("SELECT file_path, line, col, code FROM diagnostics WHERE repo_id = $1 ORDER BY file_path, line")
            .bind(services_id)
            .fetch_all(&pool)
            .await
            .unwrap();
    let codes: BTreeSet<&str> = diagnostics.iter().map(|(_, _, _, code)| code.as_str()).collect();
    assert!(
        codes.contains("S0005") && codes.contains("S0104"),
        "a YAML error and a schema error: {diagnostics:?}"
    );
    assert_eq!(
        services_page.matches("<div class=\"diagnostic ").count(),
        diagnostics.len(),
        "{services_page}"
    );
    for (file, line, column, code) in &diagnostics {
        assert!(
            services_page.contains(&format!("{file}:{line}:{column}")),
            "{file}:{line}:{column}: {services_page}"
        );
        assert!(
            services_page.contains(&format!("<code class=\"code\">{code}</code>")),
            "{code}: {services_page}"
        );
    }
    assert!(
        services_page.contains(&format!("`{}` is not a valid entity name", escape(HOSTILE))),
        "the hostile name in the message, escaped: {services_page}"
    );
    // The conflict's losing definition is not this repository's entity: the team holds ledger.
    let team_page = page(&server, &format!("/repo/{team_id}"));
    for entity in ["payments", "lonely", "ledger"] {
        assert!(
            team_page.contains(&format!("href=\"/entity/component/default/{entity}\"")),
            "{entity}: {team_page}"
        );
    }
    assert!(
        !services_page.contains("href=\"/entity/component/default/ledger\""),
        "{services_page}"
    );
    assert!(team_page.contains("No diagnostics"), "{team_page}");

    // Unknown or malformed ids and cursors are error pages.
    for (path, status) in [
        ("/repo/999999999".to_owned(), 404),
        ("/repo/abc".to_owned(), 404),
        ("/repo/-1".to_owned(), 404),
        ("/repos?after=not-a-cursor".to_owned(), 400),
        ("/repos?after=%5B1%2C2%5D".to_owned(), 400),
    ] {
        let answer = get(&server.url(&path));
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert!(answer.content_type.starts_with("text/html"), "{path}");
        assert_escaped(&path, &answer);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn problem_pages_match_the_catalog_and_explain_each_problem() {
    let catalog = health_catalog().await;
    let counts = catalog.store.problem_counts().await.expect("the counts");
    assert!(
        counts.conflicts == 1 && counts.dangling >= 2 && counts.orphans == 1 && counts.invalid_files == 2 && counts.stale_repos == 2,
        "the catalog holds the problems the test is about: {counts:?}"
    );
    let team_url = catalog.team.source().url;
    let services_url = catalog.services.source().url;
    let server = serve(&catalog);

    // The overview: every list with the catalog's count, linked.
    let overview = page(&server, "/problems");
    assert!(overview.contains("id=\"problem-lists\""), "{overview}");
    for (slug, count) in [
        ("invalid-files", counts.invalid_files),
        ("conflicts", counts.conflicts),
        ("dangling", counts.dangling),
        ("orphans", counts.orphans),
        ("invalid-owners", counts.invalid_owners),
        ("duplicate-aliases", counts.duplicate_aliases),
        ("cycles", counts.cycles),
        ("stale-repos", counts.stale_repos),
    ] {
        assert!(overview.contains(&format!("href=\"/problems/{slug}\"")), "{slug}: {overview}");
        assert_eq!(shown_count(&overview, slug), count, "{slug}: {overview}");
        // Each list page exists, has its table and the same total.
        let list = page(&server, &format!("/problems/{slug}"));
        assert!(list.contains("<table id=\"problems\""), "{slug}: {list}");
        assert_eq!(shown_count(&list, slug), count, "{slug}: {list}");
        assert_eq!(rows(&list, "problem").len(), count, "{slug}: {list}");
    }

    // The conflict names both sources: the holder (team) and the ignored claimant (services).
    let conflicts = page(&server, "/problems/conflicts");
    let conflict = rows(&conflicts, "problem").remove(0);
    assert!(conflict.contains("href=\"/entity/component/default/ledger\""), "{conflict}");
    let holder = conflict.find(&escape(&team_url)).expect("the holder's repository");
    let claimant = conflict.find(&escape(&services_url)).expect("the claimant's repository");
    assert!(holder < claimant, "the holder first: {conflict}");
    assert!(conflict.contains("ledger/catalog-info.yaml:"), "{conflict}");
    assert!(conflict.contains("legacy/catalog-info.yaml:"), "{conflict}");

    // Dangling references name the declaring entity (linked), the relation and the missing target.
    let dangling = page(&server, "/problems/dangling");
    let missing = rows(&dangling, "problem")
        .into_iter()
        .find(|row| row.contains("missing-thing"))
        .expect("the dependency on missing-thing");
    assert!(missing.contains("href=\"/entity/component/default/payments\""), "{missing}");
    assert!(missing.contains("<code>dependsOn</code>"), "{missing}");
    assert!(missing.contains("payments/catalog-info.yaml:"), "{missing}");

    // Orphans name the entity and the owner it declares.
    let orphans = page(&server, "/problems/orphans");
    let orphan = rows(&orphans, "problem").remove(0);
    assert!(orphan.contains("href=\"/entity/component/default/lonely\""), "{orphan}");
    assert!(orphan.contains("ghost-team"), "{orphan}");

    // Invalid files: the repository (linked), the path and the first diagnostics with line:col and code.
    let invalid = page(&server, "/problems/invalid-files");
    for (file, code) in [("broken/catalog-info.yaml", "S0005"), ("hostile/catalog-info.yaml", "S0104")] {
        let row = rows(&invalid, "problem")
            .into_iter()
            .find(|row| row.contains(file))
            .unwrap_or_else(|| panic!("{file}: {invalid}"));
        assert!(row.contains(&format!("<code>{code}</code>")), "{row}");
        assert!(row.contains("class=\"repo-link\" href=\"/repo/"), "{row}");
        let (line, column): (i32, i32) = sqlx::query_as("SELECT line, col FROM diagnostics WHERE file_path = $1 AND code = $2")
            .bind(file)
            .bind(code)
            .fetch_one(catalog.store.pool())
            .await
            .unwrap();
        assert!(row.contains(&format!("<code>{line}:{column}</code>")), "{row}");
    }
    assert!(invalid.contains(&escape(HOSTILE)), "{invalid}");

    // Stale repositories show their error; the hostile branch's error is escaped.
    let stale = page(&server, "/problems/stale-repos");
    assert!(stale.contains(&escape(&format!("x{HOSTILE}"))), "{stale}");

    // One item a page: every dangling reference and every stale repository once.
    for (slug, count) in [("dangling", counts.dangling), ("stale-repos", counts.stale_repos)] {
        let visited = every_row(&server, &format!("/problems/{slug}?first=1"), "problem");
        let distinct: BTreeSet<&String> = visited.iter().collect();
        assert_eq!(visited.len(), count, "{slug}: {visited:?}");
        assert_eq!(distinct.len(), count, "{slug}: {visited:?}");
    }

    // Unknown lists and cursors of another list are error pages.
    for (path, status) in [
        ("/problems/nope", 404),
        ("/problems/CONFLICTS", 404),
        ("/problems/conflicts?after=%7B%7D", 400),
        ("/problems/conflicts?after=garbage", 400),
        ("/problems/orphans?after=%5B%22a%22%5D", 400),
    ] {
        let answer = get(&server.url(path));
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_escaped(path, &answer);
    }

    // The guide names the real configuration and commands.
    let guide = page(&server, "/guide");
    for needle in [
        "repositories:",
        "sextant crawl --repo",
        "/hooks/github",
        "SEXTANT_GITHUB_SECRET",
        "sextant validate --format github",
        "--format sarif",
        "--format markdown",
        "--catalog https://sextant.example.com",
        "${{ github.base_ref }}",
    ] {
        assert!(guide.contains(needle), "{needle}: {guide}");
    }
}

/// `text` HTML-escaped as askama writes it.
fn escape(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}
