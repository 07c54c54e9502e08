//! The pull-request check end to end, as CI runs it: a catalog crawled from two real git
//! repositories and served by a real `sextant serve`, a clone of one repository changed as a
//! pull request would change it, and `sextant validate --catalog` run in the clone: against the
//! server, against a snapshot written by `sextant export`, and against a catalog that cannot answer.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use sextant::crawler::commit_files;

use crate::db::{crawl_into, fresh_store};
use crate::git::{TestRepo, component, group};
use crate::server::RunningServer;

const PAYMENTS: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
spec:
  type: service
  lifecycle: production
  owner: team-a
  providesApis: [payments-api]
";

const PAYMENTS_API: &str = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: 'openapi: 3.0.0'
";

const CHECKOUT: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
spec:
  type: service
  lifecycle: production
  owner: team-b
  dependsOn: [component:payments]
  consumesApis: [payments-api]
";

/// The pull request's version of `payments/catalog-info.yaml`: renamed (same file, same place),
/// with a reference to another repository's entity and one to nothing.
const PAYMENTS_RENAMED: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-core
spec:
  type: service
  lifecycle: production
  owner: team-a
  providesApis: [payments-api]
  dependsOn: [component:checkout, component:nowhere-to-be-found]
";

/// The repository the pull request changes, the other repository (teams and dependents), and
/// a catalog of both served.
struct Fixture {
    changed: TestRepo,
    _other: TestRepo,
    server: RunningServer,
    database_url: String,
    data: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let changed = TestRepo::new();
    changed.commit(
        &[
            ("payments/catalog-info.yaml", PAYMENTS),
            ("api/catalog-info.yaml", PAYMENTS_API),
            ("ledger/catalog-info.yaml", &component("ledger", "team-a", &[])),
        ],
        "the payments repository",
    );
    let other = TestRepo::new();
    other.commit(
        &[
            (
                "teams/catalog-info.yaml",
                &format!("{}---\n{}", group("team-a", None), group("team-b", None)),
            ),
            ("checkout/catalog-info.yaml", CHECKOUT),
            ("web/catalog-info.yaml", &component("web", "team-b", &["component:checkout"])),
        ],
        "the shop repository",
    );
    let (store, database_url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[changed.source(), other.source()], &data.path().join("mirrors")).await;
    store.close().await;
    let server = RunningServer::serve(&database_url, data.path(), &["--crawl-interval", "0"], &[]);
    Fixture {
        changed,
        _other: other,
        server,
        database_url,
        data,
    }
}

/// A clone of the changed repository (its `origin` is the repository the catalog crawls) with the
/// pull request committed on a branch of its own, checked out as CI checks it out: `payments`
/// renamed, the API's file deleted, `ledger` handed to team-b, and a new component.
fn pull_request(fixture: &Fixture) -> tempfile::TempDir {
    let clone = tempfile::tempdir().unwrap();
    let repository = git2::Repository::clone(&fixture.changed.path().to_string_lossy(), clone.path()).expect("clone");
    let base = repository.head().unwrap().peel_to_commit().unwrap();
    repository
        .branch("rename-payments", &base, false)
        .expect("the pull request's branch");
    repository.set_head("refs/heads/rename-payments").expect("check the branch out");
    let ledger = component("ledger", "team-b", &[]);
    let search = component("search", "team-a", &[]);
    commit_files(
        clone.path(),
        &[
            ("payments/catalog-info.yaml", Some(PAYMENTS_RENAMED.as_bytes())),
            ("api/catalog-info.yaml", None),
            ("ledger/catalog-info.yaml", Some(ledger.as_bytes())),
            ("search/catalog-info.yaml", Some(search.as_bytes())),
        ],
        "rename payments, remove its API, hand ledger to team-b, add search",
    )
    .expect("commit the pull request");
    assert_eq!(repository.head().unwrap().shorthand(), Some("rename-payments"));
    clone
}

fn sextant(args: &[&str], folder: &Path, environment: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
    command
        .args(args)
        .current_dir(folder)
        .env_remove("SEXTANT_CONFIG")
        .env_remove("SEXTANT_TOKEN");
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

/// The JSON diagnostics of `validate --format json` output.
fn diagnostics(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("a JSON line ({error}): {line}")))
        .collect()
}

fn with_code<'all>(diagnostics: &'all [Value], code: &str) -> Vec<&'all Value> {
    diagnostics.iter().filter(|diagnostic| diagnostic["code"] == code).collect()
}

fn message(diagnostic: &Value) -> String {
    diagnostic["message"].as_str().unwrap_or_default().to_owned()
}

fn explain(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Checks what a catalog (a server or a snapshot) says about the pull request.
fn assert_pull_request_findings(output: &Output) {
    let found = diagnostics(output);
    let context = explain(output);
    assert_eq!(output.status.code(), Some(1), "breaking changes are errors: {context}");

    let renamed = with_code(&found, "S0504");
    assert_eq!(renamed.len(), 1, "{context}");
    assert!(
        message(renamed[0]).contains("payments-core") && message(renamed[0]).contains("component:default/payments`"),
        "{context}"
    );
    assert_eq!(renamed[0]["file"], "payments/catalog-info.yaml", "{context}");

    let removed = with_code(&found, "S0503");
    assert_eq!(removed.len(), 1, "only the API is removed (payments is renamed): {context}");
    assert!(message(removed[0]).contains("api:default/payments-api"), "{context}");

    let breaking = with_code(&found, "S0501");
    assert_eq!(breaking.len(), 2, "the rename and the removal break dependents: {context}");
    let for_payments = breaking
        .iter()
        .find(|diagnostic| message(diagnostic).contains("component:default/payments`"))
        .unwrap_or_else(|| panic!("a breaking change for payments: {context}"));
    assert_eq!(for_payments["severity"], "error");
    let text = serde_json::to_string(for_payments).unwrap();
    assert!(text.contains("component:default/checkout"), "the direct dependent: {text}");
    assert!(text.contains("component:default/web"), "the transitive dependent: {text}");
    assert!(text.contains("group:default/team-b"), "the dependents' owner: {text}");
    let for_api = breaking
        .iter()
        .find(|diagnostic| message(diagnostic).contains("api:default/payments-api"))
        .unwrap_or_else(|| panic!("a breaking change for the API: {context}"));
    assert!(
        serde_json::to_string(for_api).unwrap().contains("component:default/checkout"),
        "{context}"
    );

    let changed = with_code(&found, "S0505");
    assert_eq!(changed.len(), 1, "{context}");
    assert!(
        message(changed[0]).contains("team-a") && message(changed[0]).contains("team-b"),
        "an owner change names both teams: {context}"
    );
    let added = with_code(&found, "S0502");
    let added_refs: BTreeSet<String> = added.iter().map(|diagnostic| message(diagnostic)).collect();
    assert_eq!(
        added.len(),
        1,
        "search is the one new entity (payments-core is a rename): {added_refs:?}\n{context}"
    );
    assert!(message(added[0]).contains("component:default/search"), "{context}");

    // checkout is in the catalog; the API is in it too, but this change removes it.
    let dangling: BTreeSet<String> = with_code(&found, "S0302").iter().map(|diagnostic| message(diagnostic)).collect();
    assert_eq!(dangling.len(), 2, "{context}");
    assert!(dangling.iter().any(|text| text.contains("nowhere-to-be-found")), "{context}");
    assert!(
        dangling
            .iter()
            .any(|text| text.contains("api:default/payments-api") && text.contains("nor in the catalog")),
        "a reference to what the change removes dangles: {context}"
    );
    assert!(with_code(&found, "S0506").is_empty(), "the catalog knows the repository: {context}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pull_request_is_checked_against_the_served_catalog_and_against_its_snapshot() {
    let fixture = fixture().await;
    let clone = pull_request(&fixture);
    let catalog = fixture.server.base.clone();

    let output = sextant(&["validate", "--catalog", &catalog, "--format", "json"], clone.path(), &[]);
    assert_pull_request_findings(&output);

    // --breaking warning: the same findings, and only warnings, so the check passes.
    let lenient = sextant(
        &["validate", "--catalog", &catalog, "--format", "json", "--breaking", "warning"],
        clone.path(),
        &[],
    );
    assert_eq!(lenient.status.code(), Some(0), "{}", explain(&lenient));
    assert!(
        with_code(&diagnostics(&lenient), "S0501")
            .iter()
            .all(|diagnostic| diagnostic["severity"] == "warning")
    );

    // The markdown summary for the pull request: the breaking changes first.
    let markdown = sextant(&["validate", "--catalog", &catalog, "--format", "markdown"], clone.path(), &[]);
    let summary = String::from_utf8_lossy(&markdown.stdout).into_owned();
    assert_eq!(markdown.status.code(), Some(1), "{}", explain(&markdown));
    let breaking_at = summary.find("Breaking").unwrap_or_else(|| panic!("a breaking section: {summary}"));
    let added_at = summary.find("Added").unwrap_or_else(|| panic!("an added section: {summary}"));
    assert!(breaking_at < added_at, "breaking changes come first: {summary}");
    assert!(summary.contains("checkout") && summary.contains("payments-api"), "{summary}");
    // Entity names link to the catalog server's own dashboard, and the pages are there.
    let link_start = summary
        .find(&format!("({catalog}/entity/"))
        .unwrap_or_else(|| panic!("links to the server's dashboard: {summary}"));
    let link = &summary[link_start + 1..];
    let link = &link[..link.find(')').expect("the link ends")];
    let page = crate::server::get(link);
    assert_eq!(page.status, 200, "{link}: {}", page.body);
    assert!(page.content_type.starts_with("text/html"), "{link}: {}", page.content_type);

    // The same check against a snapshot of the catalog.
    let snapshot = fixture.data.path().join("catalog.json");
    let export = sextant(
        &["export", "--format", "json", "--output", &snapshot.to_string_lossy()],
        fixture.data.path(),
        &[
            ("DATABASE_URL", &fixture.database_url),
            ("SEXTANT_DATA_DIR", &fixture.data.path().to_string_lossy()),
        ],
    );
    assert_eq!(export.status.code(), Some(0), "{}", explain(&export));
    let offline = sextant(
        &["validate", "--catalog", &snapshot.to_string_lossy(), "--format", "json"],
        clone.path(),
        &[],
    );
    assert_pull_request_findings(&offline);
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_do_not_parse_are_reported_and_their_entities_are_not_counted_as_removed() {
    let fixture = fixture().await;
    let clone = pull_request(&fixture);
    std::fs::write(
        clone.path().join("ledger/catalog-info.yaml"),
        "kind: Component\nmetadata: [unclosed\n",
    )
    .unwrap();
    let output = sextant(
        &["validate", "--catalog", &fixture.server.base, "--format", "json"],
        clone.path(),
        &[],
    );
    let found = diagnostics(&output);
    let context = explain(&output);
    assert!(
        found
            .iter()
            .any(|diagnostic| diagnostic["file"] == "ledger/catalog-info.yaml" && diagnostic["severity"] == "error"),
        "the broken file is reported: {context}"
    );
    let removed: Vec<String> = with_code(&found, "S0503").iter().map(|diagnostic| message(diagnostic)).collect();
    assert!(
        removed.iter().all(|text| !text.contains("ledger")),
        "ledger is not removed: {removed:?}"
    );
    assert!(with_code(&found, "S0505").is_empty(), "nor compared: {context}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_the_catalog_does_not_know_has_every_entity_added_with_a_note() {
    let fixture = fixture().await;
    let clone = pull_request(&fixture);
    let output = sextant(
        &[
            "validate",
            "--catalog",
            &fixture.server.base,
            "--repo",
            "https://git.example.com/acme/unknown",
            "--format",
            "json",
        ],
        clone.path(),
        &[],
    );
    let found = diagnostics(&output);
    let context = explain(&output);
    assert_eq!(with_code(&found, "S0506").len(), 1, "{context}");
    assert_eq!(
        with_code(&found, "S0502").len(),
        3,
        "payments-core, ledger and search are added: {context}"
    );
    assert!(
        with_code(&found, "S0503").is_empty() && with_code(&found, "S0501").is_empty(),
        "{context}"
    );
    assert_eq!(output.status.code(), Some(0), "{context}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_that_cannot_answer_is_exit_2_with_the_local_checks_printed() {
    let fixture = fixture().await;
    let clone = pull_request(&fixture);
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("http://127.0.0.1:{closed_port}");
    let output = sextant(&["validate", "--catalog", &unreachable, "--format", "json"], clone.path(), &[]);
    let context = explain(&output);
    assert_eq!(output.status.code(), Some(2), "{context}");
    let found = diagnostics(&output);
    assert!(
        with_code(&found, "S0302")
            .iter()
            .any(|diagnostic| message(diagnostic).contains("nowhere-to-be-found")),
        "the local checks are printed: {context}"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("catalog-unreachable"), "{context}");

    // A token the server refuses: exit 2, the local checks printed.
    let guarded_data = tempfile::tempdir().unwrap();
    let guarded = RunningServer::serve(
        &fixture.database_url,
        guarded_data.path(),
        &["--crawl-interval", "0"],
        &[("SEXTANT_TOKEN", "the-right-token")],
    );
    let refused = sextant(
        &["validate", "--catalog", &guarded.base, "--format", "json"],
        clone.path(),
        &[("SEXTANT_TOKEN", "a-wrong-token")],
    );
    let context = explain(&refused);
    assert_eq!(refused.status.code(), Some(2), "{context}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("catalog-unauthorized"),
        "{context}"
    );
    assert!(!with_code(&diagnostics(&refused), "S0302").is_empty(), "{context}");
}

const LEDGER_ARI: &str = "ari:cloud:compass:c0ffee00-0000-4000-8000-000000000000:component/0000beef-0000-4000-8000-000000000000/0000aaaa-0000-4000-8000-000000000000";
const TEAM_ARI: &str = "ari:cloud:teams::team/0000bbbb-0000-4000-8000-000000000000";

fn compass_ledger(slug: &str) -> String {
    format!(
        "name: Ledger\nid: '{LEDGER_ARI}'\nslug: {slug}\nconfigVersion: 1\ntypeId: SERVICE\nownerId: '{TEAM_ARI}'\nfields:\n  tier: 1\n"
    )
}

fn ledger_db(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: {name}\nspec:\n  type: database\n  owner: team-a\n  dependencyOf: [component:reports]\n"
    )
}

/// A Compass component renamed (a new slug, the same `id`): what refers to it by its ARI still
/// resolves; what refers to it by its old name breaks. A resource renamed that declares itself
/// `dependencyOf` a component breaks nothing: the relation moves with it.
#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_compass_component_breaks_only_what_names_it_by_its_old_name() {
    let ledger = TestRepo::new();
    ledger.commit(
        &[
            ("compass.yml", &compass_ledger("ledger")),
            ("db/catalog-info.yaml", &ledger_db("ledger-db")),
        ],
        "the ledger",
    );
    let users = TestRepo::new();
    let by_ari = format!(
        "name: Billing\nid: 'ari:cloud:compass:c0ffee00-0000-4000-8000-000000000000:component/0000beef-0000-4000-8000-000000000000/0000cccc-0000-4000-8000-000000000000'\nslug: billing\nconfigVersion: 1\ntypeId: SERVICE\nownerId: '{TEAM_ARI}'\nrelationships:\n  DEPENDS_ON:\n    - '{LEDGER_ARI}'\n"
    );
    users.commit(
        &[
            ("billing/compass.yml", &by_ari),
            ("reports/catalog-info.yaml", &component("reports", "team-a", &["component:ledger"])),
            ("teams/catalog-info.yaml", &group("team-a", None)),
        ],
        "the users",
    );
    let (store, database_url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    crawl_into(&store, &[ledger.source(), users.source()], &data.path().join("mirrors")).await;
    store.close().await;
    let server = RunningServer::serve(&database_url, data.path(), &["--crawl-interval", "0"], &[]);

    let clone = tempfile::tempdir().unwrap();
    git2::Repository::clone(&ledger.path().to_string_lossy(), clone.path()).expect("clone");
    std::fs::write(clone.path().join("compass.yml"), compass_ledger("ledger-core")).unwrap();
    std::fs::write(clone.path().join("db/catalog-info.yaml"), ledger_db("ledger-store")).unwrap();

    let snapshot = data.path().join("catalog.json");
    let export = sextant(
        &["export", "--format", "json", "--output", &snapshot.to_string_lossy()],
        data.path(),
        &[
            ("DATABASE_URL", &database_url),
            ("SEXTANT_DATA_DIR", &data.path().to_string_lossy()),
        ],
    );
    assert_eq!(export.status.code(), Some(0), "{}", explain(&export));

    for catalog in [server.base.clone(), snapshot.to_string_lossy().into_owned()] {
        let output = sextant(&["validate", "--catalog", &catalog, "--format", "json"], clone.path(), &[]);
        let found = diagnostics(&output);
        let context = explain(&output);
        assert_eq!(with_code(&found, "S0504").len(), 2, "the renames: {context}");
        let breaking = with_code(&found, "S0501");
        assert_eq!(breaking.len(), 1, "{context}");
        let text = serde_json::to_string(breaking[0]).unwrap();
        assert!(
            text.contains("component:default/reports"),
            "named by its old reference: it breaks: {text}"
        );
        assert!(
            !text.contains("billing"),
            "named by its ARI, which the renamed component keeps: {text}"
        );
        assert!(
            message(breaking[0]).contains("component:default/ledger`"),
            "the resource's rename breaks nothing: {context}"
        );
        assert_eq!(output.status.code(), Some(1), "{context}");
    }
}
