//! The dashboard in a real headless Chromium against `sextant demo` (the example organisation
//! of `catalog-examples/`): one browser session walks what a user does. Home; the catalog; a
//! search with a one-letter typo, picking a suggestion; the entity page; its owner's team page;
//! back to a component; its dependency graph and a dependency followed from the picture; the
//! repositories and the `invalid` repository's diagnostics; the problems; the guide; then keyboard only:
//! Tab to the search box, type, ArrowDown to a suggestion, Enter; `/` focuses the search box.
//! Every page is checked for console errors (script errors, Content-Security-Policy violations)
//! and `style` attributes, and screenshotted into `target/dashboard-screenshots/`.

use std::path::Path;

use serde_json::json;

use crate::browser::{Browser, keys};
use crate::db::fresh_store;
use crate::server::RunningServer;

/// `sextant demo` serving the example organisation on a throwaway cluster.
async fn demo_server() -> (RunningServer, tempfile::TempDir) {
    let (_store, database_url) = fresh_store().await;
    let data = tempfile::tempdir().expect("a data folder");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog-examples");
    let examples = examples.to_string_lossy().into_owned();
    let server = RunningServer::start(
        &["demo", "--listen", "127.0.0.1:0"],
        &database_url,
        data.path(),
        &[("SEXTANT_EXAMPLES", examples.as_str())],
    );
    assert!(server.output.contains("13 crawled"), "the demo crawls first: {}", server.output);
    (server, data)
}

/// The text of the first element matching `css`.
async fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .wait_for(css)
        .await
        .text()
        .await
        .unwrap_or_else(|error| panic!("the text of `{css}`: {error}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_finds_an_entity_its_owner_its_dependencies_and_the_problems_in_a_real_browser() {
    let Some(mut browser) = Browser::start("the dashboard browser test").await else {
        return;
    };
    let (server, _data) = demo_server().await;
    let booking = "/entity/component/default/booking-service";
    let booking_team = "/entity/group/default/booking-team";
    let payments = "/entity/component/default/payments-service";

    // Home: counts by kind, coverage, the last crawl, the problems each linking to a list.
    browser.open(&server.url("/"), "#kind-counts").await;
    let counts = text_of(&browser, "#kind-counts").await;
    assert!(counts.contains("Component") || counts.contains("component"), "{counts}");
    browser.wait_for("#owner-coverage").await;
    browser.wait_for("#last-crawl").await;
    assert!(
        !browser.all("#problems-at-a-glance a[href^='/problems']").await.is_empty(),
        "each problem at a glance links to its list:\n{}",
        browser.body_text().await
    );
    browser.assert_page_clean("home").await;
    browser.screenshot("home").await;

    // Catalog: one row per entity, each name linking to its page.
    browser.open(&server.url("/catalog"), "table#entities tbody tr").await;
    let rows = browser.all("table#entities tbody tr").await.len();
    assert!(rows >= 10, "the catalog lists the example organisation ({rows} rows)");
    browser.wait_for("table#entities tbody tr a[href^='/entity/']").await;
    browser.wait_for("form#filters").await;
    browser.assert_page_clean("catalog").await;
    browser.screenshot("catalog").await;

    // The search page finds through a one-letter typo and shows facets.
    browser.open(&server.url("/search?q=bookng"), "#results li a").await;
    browser.wait_for(&format!("#results a[href='{booking}']")).await;
    browser.wait_for("#facets").await;
    browser.assert_page_clean("search").await;
    browser.screenshot("search").await;

    // Search as you type with the same typo; pick the booking service among the suggestions.
    browser
        .open(&server.url("/"), "#search-box")
        .await
        .click()
        .await
        .expect("click the search box");
    browser.press("bookng").await;
    let suggestion = browser.wait_for(&format!("#suggestions a[href$='{booking}']")).await;
    assert_eq!(
        browser.script("return document.getElementById('suggestions').hidden").await,
        json!(false),
        "the suggestions are shown"
    );
    suggestion.click().await.expect("click the suggestion");
    browser
        .wait_for_path("picking a suggestion opens its entity page", |path| path == booking)
        .await;

    // The entity page: title, relations, impact, provenance, and the owner linked.
    let title = text_of(&browser, "h1").await;
    assert!(title.contains("Booking service"), "the entity page's title: {title}");
    for section in ["#relations", "#impact", "#provenance"] {
        browser.wait_for(section).await;
    }
    let relations = text_of(&browser, "#relations").await;
    assert!(
        relations.contains("payments-service"),
        "booking-service depends on payments-service: {relations}"
    );
    let impact = text_of(&browser, "#impact").await;
    assert!(impact.contains("api-gateway"), "the gateway depends on booking-service: {impact}");
    browser.assert_page_clean("entity").await;
    browser.screenshot("entity").await;

    // `/` anywhere but in a field focuses the search box (and types nothing).
    browser
        .script("document.activeElement && document.activeElement.blur(); return true")
        .await;
    browser.press("/").await;
    browser
        .wait_until(
            "document.activeElement && document.activeElement.id === 'search-box'",
            "`/` focuses the search box",
        )
        .await;
    assert_eq!(
        browser.script("return document.getElementById('search-box').value").await,
        json!("")
    );

    // The owner's team page lists what the team owns.
    browser.wait_for("a.owner-link").await.click().await.expect("follow the owner");
    browser
        .wait_for_path("the owner link opens the team page", |path| path == booking_team)
        .await;
    browser.wait_for("#owned").await;
    for section in ["#members", "#subteams", "#team-problems", "#team-coverage"] {
        browser.wait_for(section).await;
    }
    browser.assert_page_clean("team").await;
    browser.screenshot("team").await;

    // Back to a component the team owns, then its dependency graph.
    browser
        .wait_for(&format!("#owned a[href='{booking}']"))
        .await
        .click()
        .await
        .expect("open an owned component");
    browser
        .wait_for_path("an owned component's link opens its page", |path| path == booking)
        .await;
    browser.wait_for("a#graph-link").await.click().await.expect("open the graph");
    browser
        .wait_for_path("the graph link opens the graph page", |path| {
            path.starts_with(&format!("{booking}/graph"))
        })
        .await;
    browser.wait_for("svg.dependency-graph g.node").await;
    browser
        .wait_for("svg.dependency-graph g.node.focus[data-ref='component:default/booking-service']")
        .await;
    browser
        .wait_for(
            "svg.dependency-graph g.edge[data-source='component:default/booking-service']\
             [data-target='component:default/payments-service']",
        )
        .await;
    let nodes = browser.all("svg.dependency-graph g.node").await.len();
    assert!(nodes >= 5, "booking-service's graph shows its neighbours ({nodes} nodes)");
    browser.assert_page_clean("graph").await;
    browser.screenshot_window("graph").await;
    browser
        .wait_for("svg.dependency-graph g.node[data-ref='component:default/payments-service'] a")
        .await
        .click()
        .await
        .expect("follow a dependency in the picture");
    browser
        .wait_for_path("a node of the picture opens its entity page", |path| path == payments)
        .await;
    let title = text_of(&browser, "h1").await;
    assert!(title.to_lowercase().contains("payments"), "the dependency's page: {title}");
    browser.assert_page_clean("the dependency's entity page").await;

    // Repositories, and the `invalid` repository's per-file diagnostics.
    browser.open(&server.url("/repos"), "table#repos tr.repo a.repo-link").await;
    let repos = browser.all("table#repos tr.repo").await;
    assert_eq!(repos.len(), 13, "the demo's 13 repositories are listed");
    browser.assert_page_clean("repos").await;
    browser.screenshot("repos").await;
    let mut invalid_link = None;
    for row in &repos {
        let text = row.text().await.expect("a row's text");
        if text.contains("invalid") {
            invalid_link = Some(
                row.find(fantoccini::Locator::Css("a.repo-link"))
                    .await
                    .expect("the row links to its repository"),
            );
            break;
        }
    }
    invalid_link
        .expect("the `invalid` repository is listed")
        .click()
        .await
        .expect("open the invalid repository");
    browser
        .wait_for_path("a repository link opens its page", |path| path.starts_with("/repo/"))
        .await;
    browser.wait_for("#repo-status").await;
    browser.wait_for("#diagnostics .diagnostic").await;
    let diagnostics = browser.all("#diagnostics .diagnostic").await.len();
    assert!(
        diagnostics >= 20,
        "the invalid repository shows one diagnostic per case at least ({diagnostics})"
    );
    let listed = text_of(&browser, "#diagnostics").await;
    assert!(
        listed.contains("S0005") && listed.contains("S0116"),
        "codes of the invalid examples are shown: {listed}"
    );
    browser.assert_page_clean("repo").await;
    browser.screenshot("repo").await;

    // Problems: every list linked; a list opens as a table.
    browser.open(&server.url("/problems"), "#problem-lists a[href^='/problems/']").await;
    browser.assert_page_clean("problems").await;
    browser.screenshot("problems").await;
    browser
        .wait_for("#problem-lists a[href^='/problems/']")
        .await
        .click()
        .await
        .expect("open a problem list");
    browser
        .wait_for_path("a problem list opens", |path| path.starts_with("/problems/"))
        .await;
    browser.wait_for("table#problems").await;
    browser.assert_page_clean("a problem list").await;

    // The guide: how to add a repository and validate files in CI.
    browser.open(&server.url("/guide"), "main h1").await;
    let guide = text_of(&browser, "main").await;
    assert!(guide.contains("sextant validate"), "the guide explains validating in CI:\n{guide}");
    browser.assert_page_clean("guide").await;
    browser.screenshot("guide").await;

    // Keyboard only: Tab from a fresh home page (the skip link comes first) to the search box,
    // type with a typo, ArrowDown into the suggestions, Enter opens the entity.
    browser.open(&server.url("/"), "#kind-counts").await;
    browser.press(keys::TAB).await;
    let first = browser.focused().await;
    assert!(first.starts_with("a.skip"), "the first Tab reaches the skip link, not {first}");
    let mut tabs = 1;
    while browser.focused().await != "input#search-box" {
        assert!(tabs < 20, "Tab never reached the search box (now on {})", browser.focused().await);
        browser.press(keys::TAB).await;
        tabs += 1;
    }
    browser.press("paymnts").await;
    browser.wait_for(&format!("#suggestions a[href$='{payments}']")).await;
    browser.press(keys::ARROW_DOWN).await;
    browser
        .wait_until(
            "document.activeElement && document.activeElement.closest('#suggestions') && document.activeElement.tagName === 'A'",
            "ArrowDown moves into the suggestions",
        )
        .await;
    let chosen = browser.script("return document.activeElement.getAttribute('href')").await;
    let chosen = chosen.as_str().expect("the suggestion's href").to_owned();
    assert!(chosen.contains("/entity/"), "a suggestion links to an entity page: {chosen}");
    browser.press(keys::ENTER).await;
    let opened = browser
        .wait_for_path("Enter opens the suggestion", |path| chosen.ends_with(path))
        .await;
    browser.wait_for("h1").await;
    assert!(opened.contains("/entity/"), "{opened}");
    browser.assert_page_clean("the page opened from the keyboard").await;

    browser.finish().await;
}
