//! The dashboard's entity and team pages over a real `sextant serve` on a real Postgres, from
//! real git repositories: owner links, relations both ways (a dangling one marked), the impact
//! list with paths and risky edges, provenance (no web link for a local repository) and the
//! diagnostics of a file whose other document is invalid; a team's members, parent and
//! sub-teams, what it owns with and without sub-teams, its problems and coverage; hostile
//! descriptor text shown only escaped, unsafe links never clickable; an unknown entity's 404.

use crate::db::{crawl_into, fresh_store};
use crate::git::TestRepo;
use crate::server::{Answer, RunningServer, get};

const ORG: &str = "apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: platform
  title: Platform
spec:
  type: department
  children: [payments-team]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments-team
  title: Payments Team
spec:
  type: team
  parent: platform
  children: []
  members: [bob]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: alice
spec:
  profile:
    displayName: Alice Doe
  memberOf: [payments-team]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: bob
spec:
  memberOf: []
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: payments-system
spec:
  owner: payments-team
";

/// A component descriptor (Backstage) with an owner, lifecycle, optional system and dependencies.
fn component(name: &str, owner: &str, lifecycle: &str, system: Option<&str>, depends_on: &[&str], extra_metadata: &str) -> String {
    let mut text = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{extra_metadata}spec:\n  type: service\n  lifecycle: {lifecycle}\n  owner: {owner}\n"
    );
    if let Some(system) = system {
        text.push_str(&format!("  system: {system}\n"));
    }
    if !depends_on.is_empty() {
        text.push_str("  dependsOn:\n");
        for dependency in depends_on {
            text.push_str(&format!("    - {dependency}\n"));
        }
    }
    text
}

/// The hostile document's metadata: markup in the title, description and annotations, and
/// links that are valid URLs but not web links. With `dangerous_links`, also `javascript:` and
/// `data:` links, which make the file unusable.
fn hostile_metadata(dangerous_links: bool) -> String {
    let mut text = String::from(
        "  title: \"<script>alert(1)</script>\"
  description: \"<img src=x onerror=alert(1)> and \\\"quotes\\\"\"
  annotations:
    example.com/quote: \"\\\"'><b>bold</b>\"
    example.com/script: \"javascript:alert(2)\"
  links:
    - url: https://dash.example/board?a=1&b=2
      title: \"Dash <i>board</i>\"
    - url: ftp://files.example/dump
      title: FTP dump
",
    );
    if dangerous_links {
        text.push_str(
            "    - url: javascript:alert(1)
      title: Click me
    - url: \"data:text/html,<script>alert(1)</script>\"
      title: Data link
",
        );
    }
    text
}

fn mixed_file(dangerous_links: bool) -> String {
    format!(
        "{}---\n{}",
        component("sibling", "payments-team", "experimental", None, &[], ""),
        component(
            "hostile",
            "payments-team",
            "production",
            None,
            &[],
            &hostile_metadata(dangerous_links)
        )
    )
}

struct Catalog {
    url: String,
    data: tempfile::TempDir,
    services: TestRepo,
    _org: TestRepo,
    /// The commit of the services repository's first version (the hostile file's last good read).
    first_commit: String,
    /// The commit of its second version (the tip).
    tip_commit: String,
}

/// Two repositories crawled twice: the second time, the mixed file gains dangerous links and
/// becomes unusable (its entities are kept as last good copies, with its diagnostics).
async fn catalog() -> Catalog {
    let (store, url) = fresh_store().await;
    let org = TestRepo::new();
    org.commit(&[("catalog-info.yaml", ORG)], "org");
    let services = TestRepo::new();
    let ledger_metadata = "  annotations:\n    sextant.dev/aliases: old-ledger\n";
    let first_commit = services.commit(
        &[
            (
                "payments/catalog-info.yaml",
                &component(
                    "payments",
                    "payments-team",
                    "production",
                    Some("payments-system"),
                    &["component:ledger", "component:ghost"],
                    "",
                ),
            ),
            (
                "ledger/catalog-info.yaml",
                &component(
                    "ledger",
                    "payments-team",
                    "deprecated",
                    Some("payments-system"),
                    &[],
                    ledger_metadata,
                ),
            ),
            (
                "checkout/catalog-info.yaml",
                &component("checkout", "platform", "production", None, &["component:payments"], ""),
            ),
            (
                "stray/catalog-info.yaml",
                &component("stray", "group:nobody", "production", Some("payments-system"), &[], ""),
            ),
            ("mixed/catalog-info.yaml", &mixed_file(false)),
        ],
        "services",
    );
    let data = tempfile::tempdir().unwrap();
    let mirrors = data.path().join("mirrors");
    crawl_into(&store, &[org.source(), services.source()], &mirrors).await;
    assert_eq!(
        crate::db::entity_refs(&store).await,
        [
            "component:default/checkout",
            "component:default/hostile",
            "component:default/ledger",
            "component:default/payments",
            "component:default/sibling",
            "component:default/stray",
            "group:default/payments-team",
            "group:default/platform",
            "system:default/payments-system",
            "user:default/alice",
            "user:default/bob",
        ]
    );
    let tip_commit = services.commit(&[("mixed/catalog-info.yaml", &mixed_file(true))], "dangerous links");
    crawl_into(&store, &[org.source(), services.source()], &mirrors).await;
    store.close().await;
    Catalog {
        url,
        data,
        services,
        _org: org,
        first_commit,
        tip_commit,
    }
}

/// The markup of the element with this id, up to the end of its section.
fn section<'body>(body: &'body str, id: &str) -> &'body str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{body}"));
    let end = body[start..].find("</section>").map_or(body.len(), |end| start + end);
    &body[start..end]
}

fn page(server: &RunningServer, path: &str) -> Answer {
    let answer = get(&server.url(path));
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    assert!(answer.content_type.starts_with("text/html"), "{path}: {}", answer.content_type);
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn entity_pages_show_owner_relations_impact_provenance_and_diagnostics() {
    let catalog = catalog().await;
    let server = RunningServer::serve(&catalog.url, catalog.data.path(), &["--crawl-interval", "0"], &[]);

    let payments = page(&server, "/entity/component/default/payments").body;
    assert!(
        payments.contains("<h1>payments</h1>"),
        "the name is the heading without a title:\n{payments}"
    );
    assert!(
        payments.contains("class=\"ref owner-link\" href=\"/entity/group/default/payments-team\""),
        "the owner links to its page:\n{payments}"
    );
    assert!(payments.contains("href=\"/entity/system/default/payments-system\""), "{payments}");
    assert!(payments.contains("badge lifecycle production"), "{payments}");
    let relations = section(&payments, "relations");
    // Declared by payments: dependsOn ledger (resolved), ghost (dangling), ownedBy, partOf.
    let depends_on = &relations[relations.find("data-type=\"dependsOn\"").expect("dependsOn group")..];
    let depends_on = &depends_on[..depends_on.find("</div>").unwrap()];
    assert!(depends_on.contains("href=\"/entity/component/default/ledger\""), "{relations}");
    assert!(
        depends_on.contains("<span class=\"ref dangling-ref\">component:default/ghost</span>") && depends_on.contains("not in the catalog"),
        "a dangling target is shown as text with a badge:\n{relations}"
    );
    assert!(!depends_on.contains("href=\"/entity/component/default/ghost\""), "{relations}");
    // Declared towards payments by checkout, seen from payments as dependencyOf.
    let dependency_of = &relations[relations.find("data-type=\"dependencyOf\"").expect("incoming group")..];
    let dependency_of = &dependency_of[..dependency_of.find("</div>").unwrap()];
    assert!(
        dependency_of.contains("href=\"/entity/component/default/checkout\"") && dependency_of.contains("declared by it"),
        "{relations}"
    );
    assert!(
        section(&payments, "dependency-graph").contains("id=\"graph-link\" href=\"/entity/component/default/payments/graph\""),
        "{payments}"
    );

    // What breaks if ledger goes down: payments (depth 1, risky: production on deprecated),
    // then checkout through payments (depth 2).
    let ledger = page(&server, "/entity/component/default/ledger").body;
    let impact = section(&ledger, "impact");
    assert!(impact.contains("2 dependents"), "{impact}");
    let rows: Vec<&str> = impact.split("<tr class=\"dependent").skip(1).collect();
    assert_eq!(rows.len(), 2, "{impact}");
    assert!(rows[0].starts_with(" risky\""), "payments' edge to ledger is risky:\n{impact}");
    assert!(rows[0].contains("href=\"/entity/component/default/payments\""), "{impact}");
    assert!(
        rows[0].contains("component:default/payments is production and depends on component:default/ledger, which is deprecated"),
        "the risk says why:\n{impact}"
    );
    assert!(rows[0].contains("<td class=\"number\">1</td>"), "{impact}");
    assert!(
        rows[1].starts_with("\""),
        "checkout depends on production payments, no risk:\n{impact}"
    );
    assert!(rows[1].contains("<td class=\"number\">2</td>"), "{impact}");
    assert!(
        rows[1].contains("<td class=\"path\"><a href=\"/entity/component/default/payments\">payments</a></td>"),
        "checkout depends on ledger through payments, a link:\n{impact}"
    );
    assert!(
        rows[0].contains("<td class=\"path\"><span class=\"muted\">directly</span></td>"),
        "{impact}"
    );
    assert!(
        rows[1].contains("class=\"ref dependent-owner\" href=\"/entity/group/default/platform\""),
        "each dependent's owner:\n{impact}"
    );
    assert!(impact.contains("1 risky edge"), "{impact}");

    // Provenance: a local repository has no web view, so the path is text.
    let provenance = section(&ledger, "provenance");
    assert!(provenance.contains(&catalog.services.path().display().to_string()), "{provenance}");
    assert!(
        provenance.contains("<code class=\"file-path\">ledger/catalog-info.yaml</code>, line 1"),
        "{provenance}"
    );
    assert!(!provenance.contains("file-link"), "no link for a local path:\n{provenance}");
    assert!(
        provenance.contains(&format!("title=\"{}\">{}</code>", catalog.tip_commit, &catalog.tip_commit[..12])),
        "an unchanged file is read at the tip:\n{provenance}"
    );
    assert!(provenance.contains("backstage"), "{provenance}");
    assert!(provenance.contains("<time datetime=\""), "when it was last crawled:\n{provenance}");
    assert!(!provenance.contains("badge stale"), "{provenance}");
    assert!(
        section(&ledger, "diagnostics").contains("None: the file reads cleanly."),
        "{ledger}"
    );

    // An alias leads to the entity's own page.
    let aliased = page(&server, "/entity/component/default/old-ledger").body;
    assert!(aliased.contains("<h1>ledger</h1>"), "{aliased}");

    // The stray component's owner is not in the catalog: shown as text with a note, not a link.
    let stray = page(&server, "/entity/component/default/stray").body;
    let owner = &stray[stray.find("id=\"owner\"").unwrap()..];
    let owner = &owner[..owner.find("</dd>").unwrap()];
    assert!(
        owner.contains("<span class=\"ref dangling-ref\">group:default/nobody</span>") && owner.contains("not in the catalog"),
        "{owner}"
    );
    assert!(!owner.contains("owner-link"), "{owner}");

    // sibling's file now has an invalid document: the sibling is a last good copy, and its page
    // shows why and the file's diagnostics with their place.
    let sibling = page(&server, "/entity/component/default/sibling").body;
    let provenance = section(&sibling, "provenance");
    assert!(provenance.contains("<span class=\"badge stale\">stale</span>"), "{provenance}");
    let diagnostics = section(&sibling, "diagnostics");
    assert_eq!(diagnostics.matches("<li class=\"diagnostic error\">").count(), 2, "{diagnostics}");
    assert!(diagnostics.contains("S0116"), "{diagnostics}");
    assert!(
        diagnostics.contains("<code class=\"where\">mixed/catalog-info.yaml:"),
        "{diagnostics}"
    );
    assert!(diagnostics.contains("class=\"hint\""), "{diagnostics}");

    // An unknown entity: the error page, 404.
    let missing = get(&server.url("/entity/component/default/no-such-thing"));
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(missing.content_type.starts_with("text/html"), "{}", missing.content_type);
    assert!(missing.body.contains("class=\"error-message\""), "{}", missing.body);
    assert!(missing.body.contains("component:default/no-such-thing"), "{}", missing.body);
    assert!(missing.body.contains("<code>not-found</code>"), "{}", missing.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn team_pages_show_members_subteams_what_they_own_problems_and_coverage() {
    let catalog = catalog().await;
    let server = RunningServer::serve(&catalog.url, catalog.data.path(), &["--crawl-interval", "0"], &[]);

    let team = page(&server, "/entity/group/default/payments-team").body;
    assert!(team.contains("<h1>Payments Team</h1>"), "{team}");
    let members = section(&team, "members");
    // bob from the group's members, alice from her memberOf.
    assert!(members.contains("href=\"/entity/user/default/bob\""), "{members}");
    assert!(members.contains("href=\"/entity/user/default/alice\""), "{members}");
    let around = section(&team, "subteams");
    assert!(
        around.contains("class=\"ref parent-link\" href=\"/entity/group/default/platform\""),
        "{around}"
    );

    let owned = section(&team, "owned");
    for owned_entity in ["payments", "ledger", "sibling", "hostile"] {
        assert!(
            owned.contains(&format!("href=\"/entity/component/default/{owned_entity}\"")),
            "{owned_entity}:\n{owned}"
        );
    }
    assert!(owned.contains("href=\"/entity/system/default/payments-system\""), "{owned}");
    assert!(
        !owned.contains("/entity/component/default/stray"),
        "stray's owner does not resolve:\n{owned}"
    );
    assert!(
        owned.contains("owner=group%3Adefault%2Fpayments-team"),
        "the catalog filtered by owner:\n{owned}"
    );

    let problems = section(&team, "team-problems");
    let problem = |id: &str| {
        let start = problems
            .find(&format!("data-problem=\"{id}\""))
            .unwrap_or_else(|| panic!("{id}:\n{problems}"));
        let rest = &problems[start..];
        &rest[..rest[1..].find("data-problem=").map_or(rest.len(), |end| end + 1)]
    };
    let with_diagnostics = problem("diagnostics");
    assert!(with_diagnostics.contains(">2</a>"), "sibling and hostile:\n{problems}");
    assert!(
        with_diagnostics.contains("owner=group%3Adefault%2Fpayments-team") && with_diagnostics.contains("problem=diagnostics"),
        "{problems}"
    );
    let dangling = problem("dangling");
    assert!(
        dangling.contains(">1</a>") && dangling.contains("href=\"/entity/component/default/payments\""),
        "{problems}"
    );
    assert!(dangling.contains("problem=dangling"), "{problems}");
    let orphans = problem("orphan");
    assert!(
        orphans.contains(">1</a>") && orphans.contains("href=\"/entity/component/default/stray\""),
        "{problems}"
    );
    assert!(orphans.contains("system=system%3Adefault%2Fpayments-system"), "{problems}");

    // payments, ledger and stray are the components of its system; stray's owner does not resolve.
    let coverage = section(&team, "team-coverage");
    assert!(
        coverage.contains("<span class=\"figure coverage-percent\">66%</span>"),
        "{coverage}"
    );
    assert!(
        coverage.contains("<span class=\"coverage-owned\">2</span> of <span class=\"coverage-total\">3</span>"),
        "{coverage}"
    );
    assert!(
        coverage.contains("<meter class=\"coverage-meter\" min=\"0\" max=\"100\" value=\"66\">"),
        "{coverage}"
    );

    // The department: payments-team is its sub-team; it owns checkout directly, and with its
    // sub-teams also what payments-team owns.
    let platform = page(&server, "/entity/group/default/platform").body;
    let around = section(&platform, "subteams");
    assert!(
        around.contains("class=\"ref subteam-link\" href=\"/entity/group/default/payments-team\""),
        "{around}"
    );
    assert!(around.contains("none (a top-level team)"), "{around}");
    assert!(section(&platform, "members").contains("No members listed."), "{platform}");
    let direct = section(&platform, "owned");
    assert!(direct.contains("What it owns <span class=\"muted\">1</span>"), "{direct}");
    assert!(direct.contains("href=\"/entity/component/default/checkout\""), "{direct}");
    assert!(!direct.contains("href=\"/entity/component/default/payments\""), "{direct}");
    assert!(
        direct.contains("class=\"owned-direct\" href=\"/entity/group/default/platform\" aria-current=\"true\""),
        "{direct}"
    );
    assert!(direct.contains("subteams=1"), "a link to the view with sub-teams:\n{direct}");

    let with_subteams = page(&server, "/entity/group/default/platform?subteams=1").body;
    let owned = section(&with_subteams, "owned");
    assert!(owned.contains("What it owns <span class=\"muted\">6</span>"), "{owned}");
    for owned_entity in ["checkout", "payments", "ledger", "sibling", "hostile"] {
        assert!(
            owned.contains(&format!("href=\"/entity/component/default/{owned_entity}\"")),
            "{owned_entity}:\n{owned}"
        );
    }
    assert!(owned.contains("aria-current=\"true\">Owned with sub-teams</a>"), "{owned}");
    // The problems follow the toggle: payments' dangling reference counts for the department now.
    let problems = section(&with_subteams, "team-problems");
    assert!(
        problems.contains("owner=group%3Adefault%2Fplatform") && problems.contains("subgroups=1"),
        "the catalog's lists include sub-teams too:\n{problems}"
    );
    assert!(owned.contains("subgroups=1"), "{owned}");
    let dangling = &problems[problems.find("data-problem=\"dangling\"").unwrap()..];
    assert!(dangling.contains(">1</a>"), "{problems}");
    let direct_problems = section(&platform, "team-problems");
    let dangling = &direct_problems[direct_problems.find("data-problem=\"dangling\"").unwrap()..];
    assert!(dangling.contains(">0</a>"), "{direct_problems}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_descriptor_text_is_escaped_and_unsafe_links_are_not_clickable() {
    let catalog = catalog().await;
    let server = RunningServer::serve(&catalog.url, catalog.data.path(), &["--crawl-interval", "0"], &[]);

    let hostile = page(&server, "/entity/component/default/hostile");
    let body = &hostile.body;
    let lowercase = body.to_ascii_lowercase();
    // The only scripts are the page's own; no descriptor markup became an element.
    assert_eq!(lowercase.matches("<script").count(), 1, "{body}");
    assert!(lowercase.contains("<script src=\"/static/sextant.js\" defer></script>"), "{body}");
    for markup in ["<img", "<b>bold", "<i>board"] {
        assert!(!lowercase.contains(markup), "{markup} in the page:\n{body}");
    }
    assert!(
        body.contains("<h1>&#60;script&#62;alert(1)&#60;/script&#62;</h1>"),
        "the title, escaped:\n{body}"
    );
    assert!(
        body.contains("&#60;img src=x onerror=alert(1)&#62; and &#34;quotes&#34;"),
        "the description, escaped:\n{body}"
    );
    assert!(
        body.contains("&#34;&#39;&#62;&#60;b&#62;bold&#60;/b&#62;"),
        "the annotation with quotes, escaped:\n{body}"
    );
    // No link the browser would run or render, anywhere.
    for scheme in ["javascript:", "data:", "vbscript:"] {
        assert!(!lowercase.contains(&format!("href=\"{scheme}")), "{scheme} link:\n{body}");
        assert!(!lowercase.contains(&format!("src=\"{scheme}")), "{scheme} source:\n{body}");
    }
    // The annotation holding a javascript: URL is inert text.
    assert!(body.contains("<td class=\"annotation-value\">javascript:alert(2)</td>"), "{body}");
    // A web link is clickable (escaped, safe rel); an ftp link is shown as text.
    assert!(
        body.contains(
            "<a class=\"external-link\" href=\"https://dash.example/board?a=1&#38;b=2\" rel=\"noopener noreferrer nofollow\">Dash &#60;i&#62;board&#60;/i&#62;</a>"
        ),
        "{body}"
    );
    assert!(
        body.contains("<span class=\"inert-link\">FTP dump</span> <code class=\"inert-url\">ftp://files.example/dump</code>"),
        "{body}"
    );
    assert!(!body.contains("href=\"ftp:"), "{body}");
    // The dangerous links made the file unusable: the page shows the last good copy and why.
    assert!(section(body, "diagnostics").contains("S0116"), "{body}");
    let provenance = section(body, "provenance");
    assert!(provenance.contains("badge stale"), "{provenance}");
    assert!(
        provenance.contains(&catalog.first_commit[..12]),
        "the last good copy was read at the first commit:\n{provenance}"
    );

    // Hostile text in the URL never reaches the page unescaped either.
    let probe = get(&server.url("/entity/component/default/%3Cscript%3Ealert(1)%3C%2Fscript%3E"));
    assert_eq!(probe.status, 404, "{}", probe.body);
    assert!(!probe.body.contains("<script>alert(1)"), "{}", probe.body);
    assert!(probe.body.contains("&#60;script&#62;alert(1)"), "{}", probe.body);

    // The team page lists the hostile entity by its escaped title too.
    let team = page(&server, "/entity/group/default/payments-team").body;
    assert!(!team.to_ascii_lowercase().contains("<script>alert"), "{team}");
    assert!(team.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{team}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hubs_page_caps_its_lists_and_says_how_many_more() {
    let (store, url) = fresh_store().await;
    let repo = TestRepo::new();
    let mut documents = vec![component("hub", "platform", "production", None, &[], "")];
    for index in 0..130 {
        documents.push(component(
            &format!("client-{index:03}"),
            "platform",
            "production",
            None,
            &["component:hub"],
            "",
        ));
    }
    repo.commit(
        &[("catalog-info.yaml", &documents.join("---\n")), ("org/catalog-info.yaml", ORG)],
        "a hub",
    );
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[repo.source()], &data.path().join("mirrors")).await;
    store.close().await;
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);

    let hub = page(&server, "/entity/component/default/hub").body;
    assert!(hub.len() < 100 * 1024, "the page stays small: {} bytes", hub.len());
    let impact = section(&hub, "impact");
    assert_eq!(impact.matches("<tr class=\"dependent").count(), 100, "{impact}");
    assert!(impact.contains("More than 100 dependents"), "the truncation is said:\n{impact}");
    assert!(
        impact.contains("<a href=\"/entity/component/default/hub/graph?direction=incoming\">"),
        "the rest is in the graph:\n{impact}"
    );
    let relations = section(&hub, "relations");
    let dependency_of = &relations[relations.find("data-type=\"dependencyOf\"").expect("incoming group")..];
    let dependency_of = &dependency_of[..dependency_of.find("</div>").unwrap()];
    assert!(
        dependency_of.contains("dependencyOf <span class=\"muted\">130</span>"),
        "{dependency_of}"
    );
    assert_eq!(dependency_of.matches("<li>").count(), 40, "{dependency_of}");
    assert!(dependency_of.contains(">90 more</a>"), "{dependency_of}");

    // The team owns the 131 components: the first 100 are listed, the catalog has them all.
    let team = page(&server, "/entity/group/default/platform").body;
    let owned = section(&team, "owned");
    assert!(owned.contains("What it owns <span class=\"muted\">131</span>"), "{owned}");
    assert_eq!(owned.matches("<tr class=\"owned-entity\">").count(), 100, "{owned}");
    assert!(owned.contains("31 more: <a class=\"owned-catalog-link\""), "{owned}");
    let relations = section(&team, "relations");
    assert!(relations.contains("ownerOf <span class=\"muted\">131</span>"), "{relations}");
    assert!(
        relations.contains("href=\"/catalog?") && relations.contains("owner=group%3Adefault%2Fplatform"),
        "{relations}"
    );
}

/// Groups and Users with profiles (one email hostile, one a `javascript:` URL), a User
/// without one, and a Location: nothing on them but what their descriptors say.
const PROFILES: &str = r#"apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: booking-team
  title: Booking
spec:
  type: team
  profile:
    displayName: "  Booking Squad  "
    email: booking@wayfarer.example
    picture: https://pictures.example/booking.png
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: carol
spec:
  profile:
    displayName: Carol Ng
    email: 'x@y.z" onmouseover="alert(1)'
  memberOf: [booking-team]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: dave
spec:
  profile:
    email: javascript:alert(1)
  memberOf: [booking-team]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: erin
spec:
  memberOf: []
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: elsewhere
spec:
  type: url
  target: https://example.com/catalog-info.yaml
"#;

#[tokio::test(flavor = "multi_thread")]
async fn groups_and_users_show_their_profile_and_empty_facts_are_not_rendered() {
    let (store, url) = fresh_store().await;
    let org = TestRepo::new();
    org.commit(&[("catalog-info.yaml", PROFILES)], "profiles");
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[org.source()], &data.path().join("mirrors")).await;
    assert_eq!(
        crate::db::entity_refs(&store).await,
        [
            "group:default/booking-team",
            "location:default/elsewhere",
            "user:default/carol",
            "user:default/dave",
            "user:default/erin",
        ]
    );
    store.close().await;
    let server = RunningServer::serve(&url, data.path(), &["--crawl-interval", "0"], &[]);

    // The team page: the title is the heading, the display name (trimmed) and a mailto link are facts.
    let team = page(&server, "/entity/group/default/booking-team").body;
    assert!(team.contains("<h1>Booking</h1>"), "{team}");
    assert!(
        team.contains("<dt>Display name</dt><dd id=\"display-name\">Booking Squad</dd>"),
        "{team}"
    );
    assert!(
        team.contains("<a class=\"email-link\" href=\"mailto:booking@wayfarer.example\">booking@wayfarer.example</a>"),
        "{team}"
    );
    assert!(!team.contains("pictures.example"), "the picture is not shown:\n{team}");
    assert!(section(&team, "members").contains("href=\"/entity/user/default/carol\""), "{team}");

    // A User without a title: the display name is the heading (and not repeated as a fact); a
    // hostile email is escaped text, never an attribute.
    let carol = page(&server, "/entity/user/default/carol").body;
    assert!(carol.contains("<h1>Carol Ng</h1>"), "{carol}");
    assert!(!carol.contains("<dt>Display name</dt>"), "{carol}");
    assert!(!carol.contains("class=\"email-link\""), "{carol}");
    assert!(!carol.contains("href=\"mailto:"), "{carol}");
    assert!(!carol.contains("onmouseover=\"alert"), "{carol}");
    assert!(
        carol.contains("<dd id=\"email\"><span class=\"inert-link\">x@y.z&#34; onmouseover=&#34;alert(1)</span>"),
        "{carol}"
    );

    let dave = page(&server, "/entity/user/default/dave").body;
    assert!(dave.contains("<h1>dave</h1>"), "no display name: the name:\n{dave}");
    assert!(!dave.to_ascii_lowercase().contains("href=\"javascript:"), "{dave}");
    assert!(!dave.contains("href=\"mailto:"), "{dave}");
    assert!(
        dave.contains("<dd id=\"email\"><span class=\"inert-link\">javascript:alert(1)</span>"),
        "{dave}"
    );

    // Nothing to list: no facts card at all.
    for path in ["/entity/user/default/erin", "/entity/location/default/elsewhere"] {
        let body = page(&server, path).body;
        assert!(body.contains("<h1>"), "{path}:\n{body}");
        assert!(!body.contains("entity-facts"), "{path}:\n{body}");
        let empty_lists = body
            .match_indices("<dl class=\"facts\">")
            .filter(|(start, opening)| body[start + opening.len()..].trim_start().starts_with("</dl>"));
        assert_eq!(empty_lists.count(), 0, "{path}:\n{body}");
        assert!(
            section(&body, "provenance").contains("<dl class=\"facts\">"),
            "the provenance keeps its list:\n{body}"
        );
    }
}
