//! The dashboard's health pages over a real `sextant serve`: the repositories list and a
//! repository's page (status, diagnostics with file:line:col, code and the offending line kept by
//! the crawl, across recrawls and from before lines were kept), the problems overview
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

/// A diagnostic row as stored: file, line, column, code and the text of its line.
type StoredDiagnostic = (String, i32, i32, String, Option<String>);

async fn stored_diagnostics(pool: &sqlx::PgPool, repo_id: i64) -> Vec<StoredDiagnostic> {
    sqlx::query_as(
        "SELECT file_path, line, col, code, snippet FROM diagnostics WHERE repo_id = $1 ORDER BY file_path, line, col, code, message",
    )
    .bind(repo_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every `<pre class="snippet">` of a page: its line number and its text as HTML, marks removed.
fn shown_snippets(body: &str) -> Vec<(i32, String)> {
    let marker = "<pre class=\"snippet\"><code><span class=\"line-number\">";
    body.split(marker)
        .skip(1)
        .map(|rest| {
            let rest = &rest[..rest.find("</code></pre>").expect("a closed snippet")];
            let (number, text) = rest.split_once("</span>").expect("the line number");
            (
                number.parse().expect("a line number"),
                text.replace("<mark>", "").replace("</mark>", ""),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnostics_keep_the_offending_line_across_crawls_and_show_it_escaped() {
    let (store, url) = fresh_store().await;
    let pool = store.pool().clone();
    let repo = TestRepo::new();
    let data = tempfile::tempdir().unwrap();
    let mirrors = data.path().join("mirrors");
    let keeper = component("keeper", "payments-team", &[]);
    repo.commit(
        &[
            ("keeper/catalog-info.yaml", &keeper),
            ("other/catalog-info.yaml", &component("other", "payments-team", &[])),
        ],
        "clean",
    );
    crawl_into(&store, &[repo.source()], &mirrors).await;

    // keeper's file gains an invalid document whose offending line is markup (keeper is kept as
    // its last good copy); a YAML error; a schema error in the middle of a 5,000-character line.
    let hostile_line = format!("  name: \"{HOSTILE}\"");
    let keeper_invalid = format!("{keeper}---\n{}", component(&format!("\"{HOSTILE}\""), "payments-team", &[]));
    assert!(keeper_invalid.lines().any(|line| line == hostile_line));
    let broken = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\nspec:\n  type: service\n";
    let mut long_line = "  tags: [".to_owned();
    let mut index = 0;
    while long_line.len() < 2_500 {
        long_line.push_str(&format!("tag-{index:04}, "));
        index += 1;
    }
    long_line.push_str("NOT A TAG!");
    while long_line.len() < 4_999 {
        long_line.push_str(&format!(", tag-{index:04}"));
        index += 1;
    }
    long_line.truncate(4_999);
    long_line.push(']');
    assert_eq!(long_line.chars().count(), 5_000);
    let long = component("long", "payments-team", &[]).replace("metadata:\n", &format!("metadata:\n{long_line}\n"));
    let files = [
        ("keeper/catalog-info.yaml", keeper_invalid.clone()),
        ("broken/catalog-info.yaml", broken.to_owned()),
        ("long/catalog-info.yaml", long),
    ];
    let file_pairs: Vec<(&str, &str)> = files.iter().map(|(path, text)| (*path, text.as_str())).collect();
    repo.commit(&file_pairs, "problems");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    let repo_id = repo_id(&pool, &repo.source().url).await;

    // Every diagnostic keeps the exact text of its line; the long line is cut around the column.
    let stored = stored_diagnostics(&pool, repo_id).await;
    let codes: BTreeSet<&str> = stored.iter().map(|(_, _, _, code, _)| code.as_str()).collect();
    for code in ["S0104", "S0005", "S0108"] {
        assert!(codes.contains(code), "{code}: {stored:?}");
    }
    for (file, line, column, code, snippet) in &stored {
        let text = &files.iter().find(|(path, _)| path == file).expect("a file of the commit").1;
        let expected = text.split('\n').nth(*line as usize - 1).expect("the line is in the file");
        let snippet = snippet
            .as_deref()
            .unwrap_or_else(|| panic!("{file}:{line} {code} keeps its line: {stored:?}"));
        if expected.chars().count() <= 240 {
            assert_eq!(snippet, expected, "{file}:{line}:{column} {code}");
            continue;
        }
        assert!(
            snippet.chars().count() <= 240,
            "{file}:{line} {code}: {} characters",
            snippet.chars().count()
        );
        let kept = snippet.strip_prefix('…').unwrap_or(snippet);
        let kept = kept.strip_suffix('…').unwrap_or(kept);
        let start = expected.find(kept).expect("the kept part is a part of the line");
        assert!(
            (start..start + kept.len()).contains(&(*column as usize - 1)),
            "{file}:{line}:{column} {code}: the column is in the window {start}..{}",
            start + kept.len()
        );
    }
    let hostile = stored
        .iter()
        .find(|(_, _, _, code, _)| code == "S0104")
        .expect("the hostile name's error");
    assert_eq!(hostile.4.as_deref(), Some(hostile_line.as_str()));
    let long_tag = stored
        .iter()
        .find(|(_, _, _, code, _)| code == "S0108")
        .expect("the bad tag's error");
    assert!(
        long_tag
            .4
            .as_deref()
            .is_some_and(|snippet| snippet.contains("NOT A TAG!") && snippet.starts_with('…') && snippet.ends_with('…')),
        "the middle of the line, cut on both sides: {long_tag:?}"
    );

    // The repository's page shows each line, with its number, escaped; the hostile part marked.
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);
    let repo_page = page(&server, &format!("/repo/{repo_id}"));
    let shown = shown_snippets(&repo_page);
    assert_eq!(shown.len(), stored.len(), "{repo_page}");
    for (file, line, _, code, snippet) in &stored {
        let snippet = escape(snippet.as_deref().unwrap_or_default());
        assert!(
            shown.contains(&(*line, snippet.clone())),
            "{file}:{line} {code} shows {snippet}: {shown:?}"
        );
    }
    assert!(
        repo_page.contains(&format!("<mark>{}</mark>", escape(&format!("\"{HOSTILE}\"")))),
        "the offending name is marked: {repo_page}"
    );
    assert!(!repo_page.contains("the line is not stored yet"), "{repo_page}");

    // The kept entity's page shows its file's diagnostics with their lines too.
    let keeper_page = page(&server, "/entity/component/default/keeper");
    let section = &keeper_page[keeper_page.find("id=\"diagnostics\"").expect("the diagnostics section")..];
    let section = &section[..section.find("</section>").expect("a closed section")];
    assert!(shown_snippets(section).contains(&(hostile.1, escape(&hostile_line))), "{section}");

    // Another file changes: the unchanged files keep their rows, lines included.
    repo.commit(&[("other/catalog-info.yaml", &component("other", "ledger-team", &[]))], "other");
    crawl_into(&store, &[repo.source()], &mirrors).await;
    assert_eq!(stored_diagnostics(&pool, repo_id).await, stored);
    assert_eq!(shown_snippets(&page(&server, &format!("/repo/{repo_id}"))), shown);

    // Rows from before lines were kept (as the migration leaves them): the page says so, and the
    // next crawl, at the same tip, stores the lines.
    sqlx::query("UPDATE diagnostics SET snippet = NULL").execute(&pool).await.unwrap();
    let migration = include_str!("../../migrations/20261129000003_diagnostic_snippets.sql");
    let backfill = &migration[migration.find("UPDATE").expect("the migration's backfill")..];
    sqlx::query(backfill).execute(&pool).await.unwrap();
    let repo_page = page(&server, &format!("/repo/{repo_id}"));
    assert!(shown_snippets(&repo_page).is_empty(), "{repo_page}");
    assert_eq!(
        repo_page
            .matches("the line is not stored yet: it will be after the next crawl of this repository")
            .count(),
        stored.len(),
        "{repo_page}"
    );
    let summary = crawl_into(&store, &[repo.source()], &mirrors).await;
    assert_eq!(summary.totals.diagnostics, 0, "nothing new: {:?}", summary.totals);
    assert_eq!(stored_diagnostics(&pool, repo_id).await, stored);
    assert_eq!(shown_snippets(&page(&server, &format!("/repo/{repo_id}"))), shown);
}
