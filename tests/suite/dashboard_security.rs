//! The dashboard against hostile descriptors, over plain HTTP: a catalog whose titles,
//! descriptions, annotation values, link titles, Compass fields, a team's display name, a
//! repository's folder and broken files carry markup (`<script>`, `"><img onerror>`,
//! `]]></svg>`) and script links (`javascript:`, `data:`, ` JaVaScRiPt:`). Every page (home,
//! catalog, search, each hostile entity, the team, the graph page and its SVG, the repositories,
//! the repository page, the problems and each list, the guide, not-found pages) must answer with
//! the security headers (a Content-Security-Policy without inline script or style that forbids
//! framing, `nosniff`, a Referrer-Policy) and show the hostile text only as text: no markup from
//! a descriptor, no script or data link, no inline script or style, no event handler attribute;
//! the SVG has no script, no `foreignObject` and stays well formed.

use std::path::PathBuf;

use sextant::crawler::{Origin, Source, commit_files};
use sextant::search::sync::sync_until_idle;
use sextant::search::{Search, SearchConfig, SyncSettings};

use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::server::RunningServer;

const SCRIPT: &str = "<script>alert(1)</script>";
const IMAGE: &str = "\"><img src=x onerror=alert(1)>";
const SVG_BREAK: &str = "]]></svg>";

/// A YAML double-quoted scalar of `text`.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string")
}

/// The hostile catalog's files.
fn hostile_files() -> Vec<(&'static str, String)> {
    let team = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: hostile-team\n  title: {title}\n  description: {description}\n  \
         annotations:\n    example.com/note: {note}\n  links:\n    - url: https://wiki.example.com/team\n      title: {link_title}\n\
         spec:\n  type: team\n  profile:\n    displayName: {display}\n    email: team@example.com\n  children: []\n",
        title = quoted(&format!("Team {SCRIPT}")),
        description = quoted(&format!("{IMAGE} {SVG_BREAK}")),
        note = quoted(SCRIPT),
        link_title = quoted(SCRIPT),
        display = quoted(&format!("{IMAGE} team")),
    );
    let system = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: hostile-system\n  title: {title}\nspec:\n  owner: hostile-team\n",
        title = quoted(IMAGE),
    );
    let service = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: hostile-service\n  title: {title}\n  description: {description}\n  \
         tags: [hostile]\n  annotations:\n    example.com/runbook: {javascript}\n    example.com/dashboard: {data}\n    example.com/status: {mixed}\n    \
         example.com/markup: {markup}\n  links:\n    - url: https://status.example.com/hostile\n      title: {link_title}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: hostile-team\n  system: hostile-system\n  dependsOn:\n    - component:hostile-dependency\n    \
         - component:hostile-compass\n",
        title = quoted(&format!("Hostile {IMAGE} {SVG_BREAK}")),
        description = quoted(&format!("Calls {SCRIPT} and {IMAGE}")),
        javascript = quoted("javascript:alert(1)"),
        data = quoted("data:text/html,<script>alert(1)</script>"),
        mixed = quoted(" JaVaScRiPt:x"),
        markup = quoted(&format!("{SVG_BREAK}{SCRIPT}")),
        link_title = quoted(&format!("{SCRIPT}{IMAGE}")),
    );
    let dependency = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: hostile-dependency\n  title: {title}\n  description: {description}\n\
         spec:\n  type: library\n  lifecycle: production\n  owner: hostile-team\n  system: hostile-system\n",
        title = quoted(&format!("{SVG_BREAK}<script>alert(1)</script> dependency")),
        description = quoted(IMAGE),
    );
    let compass = format!(
        "name: {name}\nslug: hostile-compass\ndescription: {description}\nconfigVersion: 1\ntypeId: SERVICE\n\
         ownerId: 'ari:cloud:teams::team/0f4c63d9-1455-4f59-9964-000000000bad'\nfields:\n  tier: 2\n  lifecycle: Active\n\
         links:\n  - name: {link_name}\n    type: DOCUMENT\n    url: https://docs.example.com/hostile\n\
         customFields:\n  - name: {field_name}\n    type: text\n    value: {field_value}\n",
        name = quoted(&format!("Compass {SCRIPT}")),
        description = quoted(&format!("{IMAGE} {SVG_BREAK}")),
        link_name = quoted(SCRIPT),
        field_name = quoted(IMAGE),
        field_value = quoted(SCRIPT),
    );
    // Script links are refused (S0116) and their files shown with the offending snippet.
    let script_link = |name: &str, url: &str| {
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  title: {title}\n  links:\n    - url: {url}\n      \
             title: {link_title}\nspec:\n  type: service\n  lifecycle: production\n  owner: hostile-team\n",
            title = quoted(SCRIPT),
            url = quoted(url),
            link_title = quoted(IMAGE),
        )
    };
    let compass_data_link = format!(
        "name: Data link\nslug: compass-data-link\nconfigVersion: 1\ntypeId: SERVICE\nlinks:\n  - type: DASHBOARD\n    name: {name}\n    url: {url}\n",
        name = quoted(SCRIPT),
        url = quoted("data:text/html,<script>alert(1)</script>"),
    );
    // A file that is not YAML: its snippet is the hostile line.
    let broken = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: broken\n  title: {SCRIPT} {IMAGE}\n  tags: [{SCRIPT}\n"
    );
    vec![
        ("team/catalog-info.yaml", team),
        ("system/catalog-info.yaml", system),
        ("service/catalog-info.yaml", service),
        ("dependency/catalog-info.yaml", dependency),
        ("compass/compass.yml", compass),
        (
            "links/javascript/catalog-info.yaml",
            script_link("javascript-link", "javascript:alert(1)"),
        ),
        (
            "links/data/catalog-info.yaml",
            script_link("data-link", "data:text/html,<script>alert(1)</script>"),
        ),
        (
            "links/mixed-case/catalog-info.yaml",
            script_link("mixed-case-link", " JaVaScRiPt:x"),
        ),
        ("links/compass/compass.yml", compass_data_link),
        ("broken/catalog-info.yaml", broken),
    ]
}

/// The hostile catalog, crawled from a repository whose folder name is markup, indexed for
/// search, and served.
async fn hostile_server() -> (RunningServer, tempfile::TempDir) {
    let (store, url) = fresh_store().await;
    let data = tempfile::tempdir().expect("a data folder");
    let folder: PathBuf = data.path().join(IMAGE.replace('/', "_"));
    let files = hostile_files();
    let changes: Vec<(&str, Option<&[u8]>)> = files.iter().map(|(path, text)| (*path, Some(text.as_bytes()))).collect();
    commit_files(&folder, &changes, "hostile descriptors").expect("commit");
    let source = Source::parse(&folder.to_string_lossy(), None, None, Origin::Operator).expect("a local path is allowed");
    crawl_into(&store, &[source], &data.path().join("mirrors")).await;
    assert_eq!(
        entity_refs(&store).await,
        [
            "component:default/hostile-compass",
            "component:default/hostile-dependency",
            "component:default/hostile-service",
            "group:default/hostile-team",
            "system:default/hostile-system",
        ],
        "the hostile but valid entities are in the catalog; those with script links and the broken file are not"
    );
    let search = Search::new(store.clone(), &SearchConfig::default()).expect("the Postgres backend");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    sync_until_idle(&search, &SyncSettings::default(), deadline)
        .await
        .expect("the search index is up to date");
    store.close().await;
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);
    (server, data)
}

/// One tag of a page: its name (lowercase), attributes (lowercase names, raw values) and
/// whether it closes an element.
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
    closing: bool,
    self_closing: bool,
}

/// The tags of an HTML or SVG text, read as a browser would find them: every `<` that starts a
/// tag (text is escaped, so a `<` in text would be markup). Comments, doctypes, processing
/// instructions and CDATA sections are skipped (and reported as tags named `!cdata` so that an
/// SVG can be checked for them).
fn tags(text: &str) -> Vec<Tag> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find('<') {
        let start = at + offset;
        let rest = &text[start..];
        let skip_to = |end: &str| rest.find(end).map_or(text.len(), |found| start + found + end.len());
        if rest.starts_with("<!--") {
            at = skip_to("-->");
            continue;
        }
        if rest.starts_with("<![CDATA[") {
            found.push(Tag {
                name: "!cdata".to_owned(),
                attributes: Vec::new(),
                closing: false,
                self_closing: true,
            });
            at = skip_to("]]>");
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            at = skip_to(">");
            continue;
        }
        let mut position = start + 1;
        let closing = bytes.get(position) == Some(&b'/');
        if closing {
            position += 1;
        }
        let name_start = position;
        while position < bytes.len() && (bytes[position].is_ascii_alphanumeric() || matches!(bytes[position], b':' | b'-' | b'_')) {
            position += 1;
        }
        if position == name_start {
            // Not a tag (`<` followed by something else is text to a browser).
            at = start + 1;
            continue;
        }
        let name = text[name_start..position].to_ascii_lowercase();
        let mut attributes = Vec::new();
        let mut self_closing = false;
        loop {
            while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            match bytes.get(position) {
                None => break,
                Some(b'>') => {
                    position += 1;
                    break;
                }
                Some(b'/') => {
                    self_closing = bytes.get(position + 1) == Some(&b'>');
                    position += 1;
                    continue;
                }
                Some(_) => {}
            }
            let attribute_start = position;
            while position < bytes.len() && !bytes[position].is_ascii_whitespace() && !matches!(bytes[position], b'=' | b'>' | b'/') {
                position += 1;
            }
            let attribute = text[attribute_start..position].to_ascii_lowercase();
            while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                position += 1;
            }
            let mut value = String::new();
            if bytes.get(position) == Some(&b'=') {
                position += 1;
                while position < bytes.len() && bytes[position].is_ascii_whitespace() {
                    position += 1;
                }
                match bytes.get(position) {
                    Some(&quote) if quote == b'"' || quote == b'\'' => {
                        let value_start = position + 1;
                        let value_end = text[value_start..]
                            .find(char::from(quote))
                            .map_or(text.len(), |end| value_start + end);
                        value = text[value_start..value_end].to_owned();
                        position = (value_end + 1).min(text.len());
                    }
                    _ => {
                        let value_start = position;
                        while position < bytes.len() && !bytes[position].is_ascii_whitespace() && bytes[position] != b'>' {
                            position += 1;
                        }
                        value = text[value_start..position].to_owned();
                    }
                }
            }
            if attribute.is_empty() {
                position += 1;
            } else {
                attributes.push((attribute, value));
            }
        }
        found.push(Tag {
            name,
            attributes,
            closing,
            self_closing,
        });
        at = position.max(start + 1);
    }
    found
}

/// Whether a URL attribute's value would run script or render a document when followed: its
/// scheme, as a browser reads it (leading whitespace and control characters, tabs and line
/// breaks ignored; character references `&#...;` and `&colon;` decoded as the parser would).
fn is_script_url(value: &str) -> bool {
    let decoded = value
        .replace("&colon;", ":")
        .replace("&#58;", ":")
        .replace("&#x3a;", ":")
        .replace("&#x3A;", ":")
        .replace("&Tab;", "")
        .replace("&NewLine;", "");
    let cleaned: String = decoded
        .trim_start_matches(|character: char| character <= ' ' || character.is_whitespace())
        .chars()
        .filter(|character| !matches!(character, '\t' | '\n' | '\r'))
        .collect::<String>()
        .to_ascii_lowercase();
    ["javascript:", "data:", "vbscript:"]
        .iter()
        .any(|scheme| cleaned.starts_with(scheme))
}

/// The attributes whose value a browser follows or loads.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "xlink:href",
    "src",
    "action",
    "formaction",
    "srcset",
    "poster",
    "background",
];

/// The markup checks every dashboard page (and the SVG) must pass.
fn assert_no_injected_markup(what: &str, body: &str) {
    let lowered = body.to_ascii_lowercase();
    for raw in ["<script>alert", "<img src=x", "<svg onload", "href=\"javascript:", "href=\"data:"] {
        assert!(!lowered.contains(raw), "{what}: the body contains `{raw}`:\n{body}");
    }
    let all_tags = tags(body);
    let svg_opened = all_tags.iter().filter(|tag| tag.name == "svg" && !tag.closing).count();
    let svg_closed = all_tags.iter().filter(|tag| tag.name == "svg" && tag.closing).count();
    assert_eq!(
        svg_opened, svg_closed,
        "{what}: a picture closed early or twice (`</svg>` from a descriptor?)"
    );
    for tag in all_tags {
        if tag.closing {
            continue;
        }
        let described = format!("{what}: <{} {:?}>", tag.name, tag.attributes);
        assert!(
            !matches!(
                tag.name.as_str(),
                "style" | "iframe" | "object" | "embed" | "base" | "frame" | "foreignobject"
            ),
            "{described}: no such element on a dashboard page"
        );
        if tag.name == "img" {
            assert!(
                tag.attributes
                    .iter()
                    .any(|(name, value)| name == "src" && value.starts_with('/') && !value.starts_with("//")),
                "{described}: an image from anywhere but this server"
            );
        }
        if tag.name == "script" {
            assert!(
                tag.attributes
                    .iter()
                    .any(|(name, value)| name == "src" && value.starts_with("/static/")),
                "{described}: a script without a src from /static/ is inline script"
            );
        }
        if tag.name == "meta" {
            assert!(
                !tag.attributes.iter().any(|(name, _)| name == "http-equiv"),
                "{described}: no meta http-equiv (a refresh could navigate anywhere)"
            );
        }
        for (name, value) in &tag.attributes {
            assert!(name != "style", "{described}: a style attribute (the policy refuses inline style)");
            assert!(!name.starts_with("on"), "{described}: an event handler attribute");
            assert!(name != "srcdoc", "{described}: srcdoc");
            if URL_ATTRIBUTES.contains(&name.as_str()) {
                assert!(!is_script_url(value), "{described}: a script or data URL in {name}");
            }
        }
    }
}

/// The checks of the graph's SVG: no script, no foreign object, no CDATA, no handlers, and
/// every element closed in order (a descriptor's `</svg>` would end the picture early).
fn assert_safe_svg(what: &str, svg: &str) {
    assert_no_injected_markup(what, svg);
    let mut open: Vec<String> = Vec::new();
    let mut elements = 0;
    for tag in tags(svg) {
        assert!(
            !matches!(tag.name.as_str(), "script" | "foreignobject" | "!cdata" | "iframe"),
            "{what}: <{}> in the SVG",
            tag.name
        );
        if tag.closing {
            let top = open.pop();
            assert_eq!(top.as_deref(), Some(tag.name.as_str()), "{what}: </{}> closes {top:?}", tag.name);
        } else if !tag.self_closing {
            open.push(tag.name.clone());
            elements += 1;
        } else {
            elements += 1;
        }
    }
    assert!(open.is_empty(), "{what}: elements left open: {open:?}");
    assert!(elements > 3, "{what}: the SVG has content");
    let opened = svg.matches("<svg").count();
    assert_eq!(opened, svg.matches("</svg>").count(), "{what}: every <svg> is closed once");
}

/// The headers of an answer: status, content type, and the security headers.
struct Checked {
    status: u16,
    content_type: String,
    body: String,
}

/// GETs `path`, checks the security headers, returns the answer.
fn fetch(server: &RunningServer, path: &str) -> Checked {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let mut response = agent
        .get(&server.url(path))
        .call()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let policy = header("content-security-policy").unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
    assert_policy(path, &policy);
    assert_eq!(
        header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{path}: X-Content-Type-Options"
    );
    let referrer = header("referrer-policy").unwrap_or_else(|| panic!("{path}: no Referrer-Policy"));
    assert!(
        ["no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"].contains(&referrer.as_str()),
        "{path}: Referrer-Policy {referrer} leaks the page's URL to other sites"
    );
    let content_type = header("content-type").unwrap_or_default();
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Checked {
        status,
        content_type,
        body,
    }
}

/// A policy with no inline script or style, scripts from this server only, and no framing.
fn assert_policy(path: &str, policy: &str) {
    let directives: Vec<(&str, Vec<&str>)> = policy
        .split(';')
        .filter_map(|directive| {
            let mut words = directive.split_whitespace();
            words.next().map(|name| (name, words.collect()))
        })
        .collect();
    let sources = |name: &str| {
        directives
            .iter()
            .find(|(directive, _)| *directive == name)
            .map(|(_, sources)| sources.clone())
    };
    assert!(!policy.contains("'unsafe-inline'"), "{path}: {policy}");
    assert!(!policy.contains("'unsafe-eval'"), "{path}: {policy}");
    assert!(!policy.contains("'unsafe-hashes'"), "{path}: {policy}");
    assert_eq!(sources("script-src"), Some(vec!["'self'"]), "{path}: script-src in {policy}");
    assert_eq!(
        sources("frame-ancestors"),
        Some(vec!["'none'"]),
        "{path}: frame-ancestors in {policy}"
    );
    let style = sources("style-src").or_else(|| sources("default-src"));
    assert!(
        style
            .as_ref()
            .is_some_and(|style| style.iter().all(|source| *source == "'self'" || *source == "'none'")),
        "{path}: styles from this server only: {policy}"
    );
    assert_eq!(
        sources("object-src").or_else(|| sources("default-src")),
        Some(vec!["'none'"]),
        "{path}: no plugins: {policy}"
    );
    assert!(sources("base-uri").is_some(), "{path}: base-uri is restricted: {policy}");
}

/// A dashboard HTML page answering `status`, with no injected markup.
fn page(server: &RunningServer, path: &str, status: u16) -> String {
    let answer = fetch(server, path);
    assert_eq!(answer.status, status, "{path}: status\n{}", answer.body);
    assert!(
        answer.content_type.starts_with("text/html"),
        "{path}: content type {}",
        answer.content_type
    );
    assert!(answer.body.contains("<html"), "{path}: an HTML page");
    assert_no_injected_markup(path, &answer.body);
    answer.body
}

/// The link targets of `body` (`href` values without their fragment) that start with `prefix`,
/// without repeats.
fn links_starting(body: &str, prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for tag in tags(body) {
        for (name, value) in tag.attributes {
            let target = value.split('#').next().unwrap_or_default().replace("&amp;", "&");
            if name == "href" && target.starts_with(prefix) && !found.contains(&target) {
                found.push(target);
            }
        }
    }
    found
}

/// `text` escaped for HTML, with numeric character references (as askama writes them) or
/// named ones.
fn escaped(text: &str, named: bool) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for character in text.chars() {
        match (character, named) {
            ('&', false) => out.push_str("&#38;"),
            ('<', false) => out.push_str("&#60;"),
            ('>', false) => out.push_str("&#62;"),
            ('"', false) => out.push_str("&#34;"),
            ('\'', false) => out.push_str("&#39;"),
            ('&', true) => out.push_str("&amp;"),
            ('<', true) => out.push_str("&lt;"),
            ('>', true) => out.push_str("&gt;"),
            ('"', true) => out.push_str("&quot;"),
            ('\'', true) => out.push_str("&#39;"),
            (other, _) => out.push(other),
        }
    }
    out
}

/// Whether `body` shows `text` as escaped text.
fn shows_text(body: &str, text: &str) -> bool {
    body.contains(&escaped(text, false)) || body.contains(&escaped(text, true))
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_descriptors_stay_text_on_every_dashboard_page() {
    let (server, _data) = hostile_server().await;

    // Home and catalog (also with hostile filter values in the URL).
    page(&server, "/", 200);
    let catalog = page(&server, "/catalog", 200);
    assert!(
        catalog.contains("/entity/component/default/hostile-service"),
        "the catalog lists the service"
    );
    assert!(
        shows_text(&catalog, &format!("Hostile {IMAGE}")),
        "its hostile title is shown as text:\n{catalog}"
    );

    // Search: results with the hostile titles and highlights, and hostile queries echoed back.
    let results = page(&server, "/search?q=hostile", 200);
    assert!(
        results.contains("/entity/component/default/hostile-service"),
        "search finds the service:\n{results}"
    );
    for query in [SCRIPT, IMAGE, SVG_BREAK, "alert", "script", "img onerror"] {
        let path = format!("/search?q={}", encode(query));
        page(&server, &path, 200);
        let suggest = fetch(&server, &format!("/search/suggest?q={}", encode(query)));
        assert_eq!(suggest.status, 200, "suggest {query}: {}", suggest.body);
        assert!(
            suggest.content_type.starts_with("application/json"),
            "suggest answers JSON: {}",
            suggest.content_type
        );
        let hits: serde_json::Value = serde_json::from_str(&suggest.body).expect("JSON suggestions");
        for hit in hits.as_array().into_iter().flatten() {
            let href = hit["href"].as_str().unwrap_or_default();
            assert!(href.starts_with("/entity/"), "a suggestion links to an entity page: {hit}");
        }
    }

    // Each hostile entity's page shows its hostile fields as escaped text.
    for (path, shown) in [
        ("/entity/component/default/hostile-service", format!("Hostile {IMAGE} {SVG_BREAK}")),
        (
            "/entity/component/default/hostile-dependency",
            format!("{SVG_BREAK}{SCRIPT} dependency"),
        ),
        ("/entity/component/default/hostile-compass", format!("Compass {SCRIPT}")),
        ("/entity/system/default/hostile-system", IMAGE.to_owned()),
    ] {
        let body = page(&server, path, 200);
        assert!(shows_text(&body, &shown), "{path} shows `{shown}` as text:\n{body}");
    }
    let service = page(&server, "/entity/component/default/hostile-service", 200);
    for shown in [
        format!("Calls {SCRIPT} and {IMAGE}"),
        "javascript:alert(1)".to_owned(),
        "data:text/html,<script>alert(1)</script>".to_owned(),
        format!("{SCRIPT}{IMAGE}"),
    ] {
        assert!(shows_text(&service, &shown), "the service page shows `{shown}` as text:\n{service}");
    }
    assert!(
        service.contains("href=\"https://status.example.com/hostile\""),
        "an https link stays clickable:\n{service}"
    );

    // The team page.
    let team = page(&server, "/entity/group/default/hostile-team", 200);
    assert!(shows_text(&team, &format!("Team {SCRIPT}")), "the team's title as text:\n{team}");
    assert!(
        team.contains("/entity/component/default/hostile-service"),
        "the team page lists what it owns"
    );

    // The graph page and its SVG, outgoing and incoming, deep.
    for path in [
        "/entity/component/default/hostile-service/graph",
        "/entity/component/default/hostile-dependency/graph?direction=incoming",
        "/entity/component/default/hostile-service/graph?depth=3&direction=both",
    ] {
        let body = page(&server, path, 200);
        assert!(body.contains("dependency-graph"), "{path} embeds the picture");
    }
    for path in [
        "/entity/component/default/hostile-service/graph.svg",
        "/entity/component/default/hostile-dependency/graph.svg?direction=incoming",
        "/entity/group/default/hostile-team/graph.svg",
    ] {
        let answer = fetch(&server, path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert!(answer.content_type.starts_with("image/svg+xml"), "{path}: {}", answer.content_type);
        assert_safe_svg(path, &answer.body);
    }
    let svg = fetch(&server, "/entity/component/default/hostile-service/graph.svg").body;
    assert!(
        svg.contains("component:default/hostile-dependency"),
        "the hostile dependency is drawn:\n{svg}"
    );

    // Repositories: the list, and the repository page with each diagnostic's snippet as text.
    let repos = page(&server, "/repos", 200);
    let repo_links = links_starting(&repos, "/repo/");
    assert_eq!(repo_links.len(), 1, "one repository, linked: {repo_links:?}\n{repos}");
    let repo = page(&server, &repo_links[0], 200);
    for code in ["S0116", "S0005"] {
        assert!(repo.contains(code), "the repository page shows {code}:\n{repo}");
    }
    assert!(
        repo.contains("broken/catalog-info.yaml") && repo.contains("links/javascript/catalog-info.yaml"),
        "the repository page names the files with diagnostics:\n{repo}"
    );

    // Problems: the overview and every list it links to.
    let problems = page(&server, "/problems", 200);
    let lists = links_starting(&problems, "/problems/");
    assert!(lists.len() >= 5, "the problem lists are linked: {lists:?}");
    for list in &lists {
        page(&server, list, 200);
    }
    let invalid_files = lists.iter().find(|list| list.contains("invalid")).expect("an invalid-files list");
    let invalid = page(&server, invalid_files, 200);
    assert!(invalid.contains("S0116"), "the invalid files list the script links:\n{invalid}");

    // Markup in every parameter a page reads (echoed into links, forms and notes): a page or a
    // 400 page, never markup.
    let service = "/entity/component/default/hostile-service";
    for hostile in [SCRIPT, IMAGE, SVG_BREAK, "javascript:alert(1)"] {
        let value = encode(hostile);
        for path in [
            format!("/catalog?kind={value}&type={value}&owner={value}&lifecycle={value}&tag={value}&system={value}&problems={value}"),
            format!("/catalog?sort={value}&order={value}"),
            format!("/catalog?first={value}&after={value}&after_key={value}"),
            format!("/search?q=hostile&kind={value}&owner={value}&tags={value}&tag={value}"),
            format!("/search?q={value}&page={value}"),
            format!("{service}/graph?select={value}&relation={value}&direction={value}&depth={value}&per_level={value}"),
            format!("{service}/graph.svg?select={value}&relation={value}&direction={value}"),
            format!("/entity/group/default/hostile-team?subteams={value}"),
            format!("{}?page={value}", repo_links[0]),
            format!(
                "/problems/{}?after={value}&first={value}",
                lists[0].trim_start_matches("/problems/")
            ),
        ] {
            let answer = fetch(&server, &path);
            assert!([200, 400].contains(&answer.status), "{path}: {}\n{}", answer.status, answer.body);
            if path.contains("graph.svg") && answer.status == 200 {
                assert_safe_svg(&path, &answer.body);
            } else {
                assert_no_injected_markup(&path, &answer.body);
            }
        }
    }
    // The path to a selected node is emphasised: the hostile dependency's title on that path.
    let selected = page(
        &server,
        &format!("{service}/graph?select=component:default/hostile-dependency"),
        200,
    );
    assert!(selected.contains("hostile-dependency"), "the selected node is drawn");

    // The guide, and not-found pages (one named with markup).
    page(&server, "/guide", 200);
    let missing = page(&server, "/entity/component/default/no-such-entity", 404);
    assert!(missing.contains("not-found"), "the error page names its code");
    page(&server, &format!("/entity/component/default/{}", encode(SCRIPT)), 404);
    page(&server, &format!("/entity/{0}/{0}/{0}", encode(IMAGE)), 404);
    page(&server, &format!("/problems/{}", encode(SCRIPT)), 404);
    page(&server, &format!("/repo/{}", encode(SCRIPT)), 404);
}

/// Percent-encodes `text` for a query value or a path segment.
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[test]
fn the_markup_checks_catch_what_they_look_for() {
    let caught = |body: &str| std::panic::catch_unwind(|| assert_no_injected_markup("sample", body)).is_err();
    assert!(!caught(
        "<html><body><a href=\"/entity/x\">&lt;script&gt;alert(1)&lt;/script&gt; onerror=x</a></body></html>"
    ));
    assert!(!caught("<script src=\"/static/sextant.js\" defer></script>"));
    assert!(caught("<p>x</p><script>alert(1)</script>"));
    assert!(caught("<script defer>go()</script>"));
    assert!(caught("<a href=\" JaVaScRiPt:x\">x</a>"));
    assert!(caught("<a href='data:text/html,x'>x</a>"));
    assert!(caught("<a href=\"javascript&colon;x\">x</a>"));
    assert!(caught("<p title=\"x\" style=\"color:red\">x</p>"));
    assert!(caught("<div ONMOUSEOVER=alert(1)>x</div>"));
    assert!(caught("<style>p{}</style>"));
    assert!(caught("<x \"><img src=x onerror=alert(1)>"));
    let svg_caught = |svg: &str| std::panic::catch_unwind(|| assert_safe_svg("sample", svg)).is_err();
    let good =
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><g class=\"node\"><a href=\"/entity/a\"><text>]]&gt;&lt;/svg&gt;</text></a></g></svg>";
    assert!(!svg_caught(good));
    assert!(svg_caught("<svg><g><text>]]></svg></text></g></svg>"));
    assert!(caught("<p><svg><text>x</svg></text></svg></p>"));
    assert!(svg_caught(
        "<svg><g><foreignObject><p>x</p></foreignObject></g><text>a</text></svg>"
    ));
    assert!(svg_caught("<svg><g onclick=\"x\"><text>a</text><text>b</text></g></svg>"));
}
