//! The dashboard's list pages on a real `sextant serve`: the home page (counts by kind that match
//! the catalog, owner coverage, the last crawl, every problem linked), the catalog table
//! (following `a.next-page` visits every entity exactly once, whatever the page size and order;
//! a descending order is the ascending one reversed; filters stay in every link; bad parameters
//! are a 400 page, never a 500), search (a typo finds the entity, matches are marked, facets add
//! and remove filters, a faceted browse), the suggestions' JSON, hostile titles escaped
//! everywhere, the security headers on every page, an empty catalog pointing to the guide, and a
//! search backend that does not answer (a 503 page, `[]` with 503 for suggestions).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::Value;
use sextant::search::sync::sync_until_idle;
use sextant::search::{Search, SearchConfig, SyncSettings};
use sextant::store::Store;

use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::git::{TestRepo, group};
use crate::server::RunningServer;

const TEAMS: [&str; 3] = ["team-alpha", "team-beta", "team-gamma"];
/// Components `svc-01` to `svc-60`, owned in turn by the three teams.
const SERVICES: usize = 60;
/// A title that tries to be markup.
const HOSTILE_TITLE: &str = "<script>alert(\"x\")</script> Checkout & Co";

/// A component with a title, tags and dependencies.
fn component(name: &str, title: Option<&str>, owner: &str, tags: &[&str], depends_on: &[&str]) -> String {
    let mut text = format!("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n");
    if let Some(title) = title {
        text.push_str(&format!("  title: {}\n", serde_json::to_string(title).unwrap()));
    }
    if !tags.is_empty() {
        text.push_str(&format!("  tags: [{}]\n", tags.join(", ")));
    }
    text.push_str(&format!("spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"));
    if !depends_on.is_empty() {
        text.push_str(&format!("  dependsOn: [{}]\n", depends_on.join(", ")));
    }
    text
}

fn service_name(number: usize) -> String {
    format!("svc-{number:02}")
}

fn service_owner(number: usize) -> &'static str {
    TEAMS[number % TEAMS.len()]
}

/// The catalog: three teams and 60 services in one repository; in another, a payments gateway
/// with a dangling dependency, a component with a hostile title, and one whose owner is not in
/// the catalog (an orphan). 66 entities: 63 components and 3 groups.
struct Catalog {
    url: String,
    refs: Vec<String>,
    _data: tempfile::TempDir,
    _repos: Vec<TestRepo>,
}

impl Catalog {
    fn data_path(&self) -> &std::path::Path {
        self._data.path()
    }
}

async fn sync_all(store: &Store) {
    let search = Search::new(store.clone(), &SearchConfig::default()).expect("the Postgres backend");
    let deadline = Instant::now() + Duration::from_secs(60);
    sync_until_idle(&search, &SyncSettings::default(), deadline)
        .await
        .expect("the sync delivers");
    assert_eq!(store.search_lag().await.expect("the lag").pending, 0);
}

async fn crawled_catalog() -> Catalog {
    let (store, url) = fresh_store().await;
    let teams_and_services = TestRepo::new();
    let mut files: Vec<(String, String)> = TEAMS
        .iter()
        .map(|team| (format!("teams/{team}/catalog-info.yaml"), group(team, None)))
        .collect();
    for number in 1..=SERVICES {
        let name = service_name(number);
        let tags: &[&str] = if number % 2 == 0 { &["bulk", "java"] } else { &["bulk"] };
        files.push((
            format!("{name}/catalog-info.yaml"),
            component(&name, None, service_owner(number), tags, &[]),
        ));
    }
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
    teams_and_services.commit(&borrowed, "teams and services");
    let edge = TestRepo::new();
    edge.commit(
        &[
            (
                "gateway/catalog-info.yaml",
                &component(
                    "payments-gateway",
                    Some("Payments Gateway"),
                    "team-beta",
                    &["pci"],
                    &["component:missing-ledger", "component:svc-01"],
                ),
            ),
            (
                "hostile/catalog-info.yaml",
                &component("checkout-hostile", Some(HOSTILE_TITLE), "team-alpha", &[], &[]),
            ),
            (
                "lonely/catalog-info.yaml",
                &component("lonely-worker", None, "team-nowhere", &[], &[]),
            ),
        ],
        "the edge cases",
    );
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[teams_and_services.source(), edge.source()], &data.path().join("mirrors")).await;
    sync_all(&store).await;
    let refs = entity_refs(&store).await;
    assert_eq!(refs.len(), 66, "{refs:?}");
    store.close().await;
    Catalog {
        url,
        refs,
        _data: data,
        _repos: vec![teams_and_services, edge],
    }
}

/// An HTTP answer with its headers (lowercase names).
struct Page {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

fn fetch(url: &str) -> Page {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent.get(url).call().unwrap_or_else(|error| panic!("{url}: {error}"));
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    Page {
        status: response.status().as_u16(),
        headers,
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// GETs a page that must answer 200 with the security headers.
fn page(server: &RunningServer, path: &str) -> Page {
    let answer = fetch(&server.url(path));
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    assert_security_headers(path, &answer);
    answer
}

fn assert_security_headers(path: &str, answer: &Page) {
    let header = |name: &str| answer.headers.get(name).map(String::as_str).unwrap_or_default();
    let policy = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{path}: `{directive}` in the CSP {policy:?}");
    }
    assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    assert!(!header("referrer-policy").is_empty(), "{path}: a Referrer-Policy");
}

/// Undoes the HTML escaping of an attribute or a text (named and numeric character references).
fn unescape(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        plain.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|end| *end <= 10) else {
            plain.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|decimal| decimal.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(character) => {
                plain.push(character);
                rest = &rest[end + 1..];
            }
            None => {
                plain.push('&');
                rest = &rest[1..];
            }
        }
    }
    plain.push_str(rest);
    plain
}

/// The part of `html` from the element with this `id` to the end of `closing`.
fn element<'a>(html: &'a str, id: &str, closing: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("an element #{id} in {html}"));
    let end = html[start..].find(closing).map_or(html.len(), |end| start + end + closing.len());
    &html[start..end]
}

/// The (unescaped) values of `attribute` in `html`, in order.
fn attributes(html: &str, attribute: &str) -> Vec<String> {
    let marker = format!("{attribute}=\"");
    html.match_indices(&marker)
        .filter_map(|(at, _)| {
            let value = &html[at + marker.len()..];
            value.find('"').map(|end| unescape(&value[..end]))
        })
        .collect()
}

/// The `href` of the first `<a>` whose class list starts with `class`.
fn link_of_class(html: &str, class: &str) -> Option<String> {
    let marker = format!("class=\"{class}\" href=\"");
    let at = html.find(&marker)? + marker.len();
    html[at..].find('"').map(|end| unescape(&html[at..at + end]))
}

/// The references of the rows of `table#entities`, in order (none when the page has no table).
fn table_refs(html: &str) -> Vec<String> {
    if !html.contains("id=\"entities\"") {
        return Vec::new();
    }
    attributes(element(html, "entities", "</table>"), "data-ref")
}

/// Every reference the catalog lists from `start`, following `a.next-page`; and the number of pages.
fn walk_catalog(server: &RunningServer, start: &str) -> (Vec<String>, usize) {
    let mut refs = Vec::new();
    let mut pages = 0;
    let mut next = Some(start.to_owned());
    while let Some(path) = next {
        pages += 1;
        assert!(pages <= 100, "the pages never end at {path}");
        let answer = page(server, &path);
        let rows = table_refs(&answer.body);
        assert!(!rows.is_empty(), "{path} has rows");
        refs.extend(rows);
        next = link_of_class(&answer.body, "next-page");
    }
    (refs, pages)
}

fn assert_each_once(listed: &[String], expected: &[String], context: &str) {
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "{context}: an entity listed twice: {listed:?}");
    let mut sorted = listed.to_vec();
    sorted.sort();
    let mut wanted = expected.to_vec();
    wanted.sort();
    assert_eq!(sorted, wanted, "{context}");
}

fn entity_link(reference: &str) -> String {
    let (kind, rest) = reference.split_once(':').unwrap();
    let (namespace, name) = rest.split_once('/').unwrap();
    format!("/entity/{kind}/{namespace}/{name}")
}

#[tokio::test(flavor = "multi_thread")]
async fn home_and_catalog_show_the_catalog_a_page_at_a_time_with_filters_in_every_link() {
    let catalog = crawled_catalog().await;
    let server = RunningServer::serve(&catalog.url, catalog.data_path(), &["--crawl-interval", "0"], &[]);

    // Home: counts by kind that match the catalog, each linking to the filtered catalog.
    let home = page(&server, "/");
    let kinds = element(&home.body, "kind-counts", "</section>");
    assert!(kinds.contains("id=\"entity-total\">66<"), "{kinds}");
    for (kind, count) in [("component", 63), ("group", 3)] {
        let at = kinds
            .find(&format!("data-kind=\"{kind}\""))
            .unwrap_or_else(|| panic!("{kind} in {kinds}"));
        assert!(
            kinds[at..].contains(&format!("class=\"kind-count\">{count}<")),
            "{kind}: {count} in {kinds}"
        );
        assert!(attributes(kinds, "href").contains(&format!("/catalog?kind={kind}")), "{kinds}");
    }
    let coverage = element(&home.body, "owner-coverage", "</section>");
    assert!(coverage.contains("62 of 63 components"), "{coverage}");
    assert!(attributes(coverage, "href").contains(&"/problems/orphans".to_owned()), "{coverage}");
    let crawl = element(&home.body, "last-crawl", "</section>");
    assert!(crawl.contains("66 added"), "{crawl}");
    assert!(crawl.contains("2 read"), "{crawl}");
    assert!(attributes(crawl, "href").contains(&"/repos".to_owned()), "{crawl}");
    let problems = element(&home.body, "problems-at-a-glance", "</section>");
    let problem_links = attributes(problems, "href");
    for list in [
        "invalid-files",
        "conflicts",
        "dangling",
        "orphans",
        "invalid-owners",
        "duplicate-aliases",
        "cycles",
        "stale-repos",
    ] {
        assert!(problem_links.contains(&format!("/problems/{list}")), "{list} in {problems}");
    }
    let count_after = |label: &str| {
        let at = problems.find(label).unwrap_or_else(|| panic!("{label} in {problems}"));
        let rest = &problems[at..];
        let start = rest.find("problem-count").unwrap();
        rest[start..rest[start..].find("</span>").unwrap() + start].to_owned()
    };
    assert!(count_after("Conflicts").contains("none"), "{problems}");
    assert!(count_after("Invalid files").contains("none"), "{problems}");
    assert!(count_after("Orphans").contains("some\">1"), "{problems}");
    assert!(count_after("Dangling references").contains("some"), "{problems}");

    // Every entity exactly once, following a.next-page: 2 pages of 50, or 7 of 10.
    let (listed, pages) = walk_catalog(&server, "/catalog");
    assert_eq!(pages, 2);
    assert_eq!(listed, catalog.refs, "by reference, ascending");
    let (listed, pages) = walk_catalog(&server, "/catalog?first=10");
    assert_eq!(pages, 7);
    assert_eq!(listed, catalog.refs);
    let first = page(&server, "/catalog?first=10");
    assert!(first.body.contains("id=\"entity-count\">66<"), "the total");
    assert!(
        link_of_class(&first.body, "first-page").is_none(),
        "no first-page link on the first page"
    );
    let second = page(&server, &link_of_class(&first.body, "next-page").unwrap());
    assert_eq!(link_of_class(&second.body, "first-page").as_deref(), Some("/catalog?first=10"));

    // Descending is ascending reversed, in every order (the title order pages with after_key).
    let mut reversed = catalog.refs.clone();
    reversed.reverse();
    assert_eq!(walk_catalog(&server, "/catalog?order=desc&first=25").0, reversed);
    assert_eq!(table_refs(&page(&server, "/catalog?order=desc").body), reversed[..50]);
    for sort in ["name", "title"] {
        let (ascending, _) = walk_catalog(&server, &format!("/catalog?sort={sort}&first=9"));
        assert_each_once(&ascending, &catalog.refs, sort);
        let (mut descending, _) = walk_catalog(&server, &format!("/catalog?sort={sort}&order=desc&first=9"));
        descending.reverse();
        assert_eq!(descending, ascending, "{sort} descending is ascending reversed");
    }
    // The header link of the current order turns it around.
    let by_name = page(&server, "/catalog?sort=name");
    let sort_hrefs = attributes(element(&by_name.body, "entities", "</thead>"), "href");
    assert!(sort_hrefs.contains(&"/catalog?sort=name&order=desc".to_owned()), "{sort_hrefs:?}");

    // Filters: kind and owner in the table, the form and every link.
    let alpha: Vec<String> = catalog
        .refs
        .iter()
        .filter(|reference| {
            let name = reference.rsplit('/').next().unwrap();
            reference.starts_with("component:")
                && (name == "checkout-hostile"
                    || name
                        .strip_prefix("svc-")
                        .and_then(|number| number.parse::<usize>().ok())
                        .map(service_owner)
                        == Some("team-alpha"))
        })
        .cloned()
        .collect();
    assert_eq!(alpha.len(), 21);
    let filtered_path = "/catalog?kind=component&owner=team-alpha&first=5";
    let filtered = page(&server, filtered_path);
    let next = link_of_class(&filtered.body, "next-page").expect("a next page");
    for kept in ["kind=component", "owner=team-alpha", "first=5"] {
        assert!(next.contains(kept), "{kept} in {next}");
        for href in attributes(element(&filtered.body, "entities", "</thead>"), "href") {
            assert!(href.contains(kept), "{kept} in the sort link {href}");
        }
    }
    let form = element(&filtered.body, "filters", "</form>");
    assert!(form.contains("method=\"get\""), "{form}");
    assert!(form.contains("name=\"kind\" value=\"component\" checked"), "{form}");
    assert!(form.contains("name=\"owner\" value=\"team-alpha\""), "{form}");
    assert!(form.contains("name=\"first\" value=\"5\""), "{form}");
    let (owned, pages) = walk_catalog(&server, filtered_path);
    assert_eq!(pages, 5);
    assert_each_once(&owned, &alpha, "owned by team-alpha");
    // Rows link to the entity and to its owner.
    let table = element(&filtered.body, "entities", "</table>");
    let links = attributes(table, "href");
    assert!(links.contains(&entity_link(&owned[0])), "{table}");
    assert!(
        table.contains("class=\"owner-link\" href=\"/entity/group/default/team-alpha\""),
        "{table}"
    );
    let groups = page(&server, "/catalog?kind=group&kind=api");
    assert_eq!(table_refs(&groups.body).len(), 3, "repeated kinds mean any of them");
    assert!(link_of_class(&groups.body, "next-page").is_none());
    let orphans = page(&server, "/catalog?problem=orphan");
    assert_eq!(table_refs(&orphans.body), ["component:default/lonely-worker"]);
    let dangling = table_refs(&page(&server, "/catalog?problem=dangling").body);
    assert!(dangling.contains(&"component:default/payments-gateway".to_owned()), "{dangling:?}");
    let java = table_refs(&page(&server, "/catalog?tag=java&first=200").body);
    assert_eq!(java.len(), SERVICES / 2);

    // A hostile title is text.
    let hostile = page(&server, "/catalog?owner=team-alpha&first=200");
    assert!(!hostile.body.contains("<script>alert"), "escaped");
    assert!(unescape(&hostile.body).contains(HOSTILE_TITLE), "shown as text");

    // Bad parameters: a 400 page that says why (never a 500); a page size out of range is a note.
    for (path, said) in [
        ("/catalog?sort=owner", "sorted by"),
        ("/catalog?order=sideways", "sideways"),
        ("/catalog?tier=9", "tier"),
        ("/catalog?problem=ugly", "ugly"),
        ("/catalog?kind=a%00b", "control character"),
        ("/catalog?owner=group%3A", "owner"),
        ("/catalog?sort=title&after=component%3Adefault%2Fsvc-01", "after_key"),
    ] {
        let refused = fetch(&server.url(path));
        assert_eq!(refused.status, 400, "{path}: {}", refused.body);
        assert!(refused.body.contains("bad-request"), "{path}: {}", refused.body);
        assert!(refused.body.contains(said), "{path} says {said}: {}", refused.body);
        assert_security_headers(path, &refused);
    }
    let noted = page(&server, "/catalog?first=100000");
    assert_eq!(table_refs(&noted.body).len(), 50);
    assert!(noted.body.contains("class=\"page-note\""), "the ignored page size is noted");
    let past_the_end = page(&server, "/catalog?after=zzz");
    assert!(table_refs(&past_the_end.body).is_empty());
    assert!(link_of_class(&past_the_end.body, "first-page").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_with_typos_marks_matches_offers_facets_and_suggests_as_json() {
    let catalog = crawled_catalog().await;
    let server = RunningServer::serve(&catalog.url, catalog.data_path(), &["--crawl-interval", "0"], &[]);

    // A one-letter typo finds the gateway; the box keeps the query; the match is marked.
    let typo = page(&server, "/search?q=paymants");
    assert!(
        typo.body
            .contains("id=\"search-box\" name=\"q\" type=\"search\" value=\"paymants\""),
        "the box keeps the query"
    );
    let results = element(&typo.body, "results", "</ol>");
    let first_link = attributes(results, "href").into_iter().next().expect("a hit");
    assert_eq!(first_link, "/entity/component/default/payments-gateway");
    assert!(results.contains("<mark>Payments</mark> Gateway"), "{results}");
    assert!(typo.body.contains("id=\"facets\""));

    // Facets add filters; active filters can be removed.
    let services = page(&server, "/search?q=svc");
    assert!(services.body.contains("id=\"result-count\">60<"), "every service");
    assert!(services.body.contains("class=\"next-page\""), "20 per page");
    let facets = element(&services.body, "facets", "</aside>");
    assert!(facets.contains("<h3>Owner</h3>") && facets.contains("<h3>Kind</h3>"), "{facets}");
    let add_alpha = attributes(facets, "href")
        .into_iter()
        .find(|href| href.contains("owner=group%3Adefault%2Fteam-alpha"))
        .unwrap_or_else(|| panic!("a facet link for team-alpha in {facets}"));
    assert!(add_alpha.contains("q=svc"), "{add_alpha}");
    let narrowed = page(&server, &add_alpha);
    assert!(
        narrowed.body.contains("id=\"result-count\">20<"),
        "team-alpha's services: {}",
        element(&narrowed.body, "result-count", "</p>")
    );
    let remove = link_of_class(&narrowed.body, "remove-filter").expect("a removable filter");
    assert_eq!(remove, "/search?q=svc");
    let second = page(&server, "/search?q=svc&page=2");
    let first_refs = attributes(element(&services.body, "results", "</ol>"), "data-ref");
    let second_refs = attributes(element(&second.body, "results", "</ol>"), "data-ref");
    assert_eq!((first_refs.len(), second_refs.len()), (20, 20));
    assert!(
        first_refs.iter().all(|reference| !second_refs.contains(reference)),
        "pages do not overlap"
    );

    // An empty query with a filter is a faceted browse.
    let teams = page(&server, "/search?kind=group");
    assert!(teams.body.contains("id=\"result-count\">3<"), "{}", teams.body);
    let team_links = attributes(element(&teams.body, "results", "</ol>"), "href");
    assert!(team_links.contains(&"/entity/group/default/team-beta".to_owned()), "{team_links:?}");

    // A hostile title is text on the results page and plain JSON text in suggestions.
    let hostile = page(&server, "/search?q=checkout");
    assert!(!hostile.body.contains("<script>alert"), "escaped");
    assert!(
        unescape(&hostile.body).contains("<script>alert(\"x\")</script> <mark>Checkout</mark> & Co"),
        "shown as text"
    );
    let suggested = page(&server, "/search/suggest?q=checkout");
    assert!(
        suggested.headers["content-type"].starts_with("application/json"),
        "{:?}",
        suggested.headers
    );
    let hits: Value = serde_json::from_str(&suggested.body).unwrap();
    assert_eq!(hits[0]["title"], HOSTILE_TITLE);
    assert_eq!(hits[0]["href"], "/entity/component/default/checkout-hostile");

    // Suggestions: at most eight, each with href, title, kind and owner.
    let typed = page(&server, "/search/suggest?q=paymants");
    let hits: Value = serde_json::from_str(&typed.body).unwrap();
    let first = hits
        .as_array()
        .expect("an array")
        .first()
        .expect("a suggestion")
        .as_object()
        .unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4, "{first:?}");
    for key in ["href", "title", "kind", "owner"] {
        assert!(first.contains_key(key), "{key} in {first:?}");
    }
    assert_eq!(first["href"], "/entity/component/default/payments-gateway");
    assert_eq!(first["title"], "Payments Gateway");
    assert_eq!(first["kind"], "component");
    assert_eq!(first["owner"], "team-beta");
    let many: Value = serde_json::from_str(&page(&server, "/search/suggest?q=svc").body).unwrap();
    assert_eq!(many.as_array().unwrap().len(), 8);
    for blank in ["/search/suggest?q=", "/search/suggest?q=%20%20", "/search/suggest"] {
        assert_eq!(page(&server, blank).body, "[]", "{blank}");
    }

    // What the search service cannot take is a 400 page; a page past the end is a note.
    let long = format!("/search?q={}", "a".repeat(2000));
    let refused = fetch(&server.url(&long));
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("bad-request"));
    let far = page(&server, "/search?q=svc&page=999");
    assert!(far.body.contains("class=\"page-note\""));
    let prompt = page(&server, "/search");
    assert!(!prompt.body.contains("id=\"results\""), "nothing asked, nothing listed");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_catalog_points_to_the_guide_and_a_search_backend_down_is_a_503() {
    let (store, url) = fresh_store().await;
    store.close().await;
    let data = tempfile::tempdir().unwrap();
    // A loopback port nothing listens on: Meilisearch is down.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let meili_url = format!("http://127.0.0.1:{closed_port}");
    let server = RunningServer::serve(
        &url,
        data.path(),
        &["--crawl-interval", "0"],
        &[("MEILI_URL", &meili_url), ("MEILI_MASTER_KEY", "a-master-key-for-tests")],
    );

    let home = page(&server, "/");
    assert!(attributes(&home.body, "href").contains(&"/guide".to_owned()));
    assert!(home.body.contains("The catalog is empty"), "{}", home.body);
    assert!(element(&home.body, "last-crawl", "</section>").contains("No crawl has run yet"));
    let empty = page(&server, "/catalog");
    assert!(table_refs(&empty.body).is_empty());
    assert!(empty.body.contains("href=\"/guide\""), "{}", empty.body);

    let down = fetch(&server.url("/search?q=payments"));
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.body.contains("search-unavailable"), "{}", down.body);
    assert!(
        !down.body.contains("127.0.0.1") && !down.body.contains(&closed_port.to_string()),
        "{}",
        down.body
    );
    assert_security_headers("/search", &down);
    let suggestions = fetch(&server.url("/search/suggest?q=payments"));
    assert_eq!((suggestions.status, suggestions.body.as_str()), (503, "[]"));
}
