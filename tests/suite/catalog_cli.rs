//! The catalog commands as a user runs them: `demo` from nothing, `show`, `problems` and
//! `crawl`, against a fresh test database given through `DATABASE_URL`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::db::fresh_store;
use crate::git::{TestRepo, component, group};
use crate::https::RecordingServer;

fn sextant(args: &[&str], database_url: &str, data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SEXTANT_DATA_DIR", data_dir)
        .env_remove("SEXTANT_CONFIG")
        .current_dir(data_dir)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_builds_crawls_and_answers_show_and_problems() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let first = sextant(&["demo", "--no-serve"], &url, data.path());
    let text = stdout(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&first.stderr));
    assert!(text.contains("13 example repositories ready"), "{text}");
    assert!(text.contains("13 crawled") && text.contains("0 failed"), "{text}");
    assert!(
        text.contains("conflict: component:default/checkout-widget is held by"),
        "conflicts are named in the crawl output: {text}"
    );

    let second = stdout(&sextant(&["demo", "--no-serve"], &url, data.path()));
    assert!(second.contains("13 unchanged"), "the second run reads nothing again: {second}");

    // The demo's catalog is its own: the user's stays empty, `--demo` reads the demo's.
    let own: Value = serde_json::from_slice(&sextant(&["problems", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    assert_eq!(own["conflicts"].as_array().map(Vec::len), Some(0), "{own}");
    assert_eq!(own["invalidFiles"].as_array().map(Vec::len), Some(0), "{own}");
    let not_mixed = sextant(&["show", "component:booking-service"], &url, data.path());
    assert_eq!(not_mixed.status.code(), Some(1), "the examples are not in the user's catalog");

    let show = sextant(
        &["show", "--demo", "component:booking-service", "--format", "json"],
        &url,
        data.path(),
    );
    assert_eq!(show.status.code(), Some(0));
    let entity: Value = serde_json::from_slice(&show.stdout).expect("JSON");
    assert_eq!(entity["ref"], "component:default/booking-service");
    assert_eq!(entity["ownerResolved"], "group:default/booking-team");
    let dependents: Vec<&str> = entity["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|dependent| dependent["entityRef"].as_str().unwrap())
        .collect();
    assert!(
        dependents.contains(&"component:default/web-frontend"),
        "the frontend breaks when booking goes down: {dependents:?}"
    );
    let frontend = entity["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|dependent| dependent["entityRef"] == "component:default/web-frontend")
        .unwrap();
    let path: Vec<&str> = frontend["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step.as_str().unwrap())
        .collect();
    assert_eq!(path.first(), Some(&"component:default/booking-service"));
    assert_eq!(path.last(), Some(&"component:default/web-frontend"));
    assert_eq!(
        path.len() as u64,
        frontend["depth"].as_u64().unwrap() + 1,
        "one step per level: {path:?}"
    );
    let human = stdout(&sextant(&["--demo", "show", "booking-service"], &url, data.path()));
    assert!(human.contains("dependents (what breaks if this goes down)"), "{human}");

    let problems: Value =
        serde_json::from_slice(&sextant(&["problems", "--demo", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    assert_eq!(problems["conflicts"].as_array().unwrap().len(), 1, "the duplicate-entity example");
    assert_eq!(problems["cycles"].as_array().unwrap().len(), 1, "the relation-cycle example");
    assert_eq!(problems["invalidOwners"].as_array().unwrap().len(), 1);
    assert_eq!(problems["duplicateAliases"].as_array().unwrap().len(), 1);
    assert_eq!(
        problems["staleRepos"].as_array().unwrap().len(),
        1,
        "only the invalid repository: {}",
        problems["staleRepos"]
    );
    assert!(problems["invalidFiles"].as_array().unwrap().len() >= 30);

    let missing = sextant(&["show", "--demo", "component:no-such-thing"], &url, data.path());
    assert_eq!(missing.status.code(), Some(1));

    let reset = sextant(&["demo", "--no-serve", "--reset"], &url, data.path());
    let text = stdout(&reset);
    assert_eq!(reset.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&reset.stderr));
    assert!(text.contains("deleted the demo catalog"), "{text}");
    assert!(text.contains("13 crawled"), "everything is built and read anew: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_finds_its_examples_at_run_time_or_says_where_it_looked() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    // From an empty current folder, the examples are found next to the binary's ancestors
    // (target/debug/sextant in this checkout).
    let found = sextant(&["demo", "--no-serve"], &url, data.path());
    assert_eq!(found.status.code(), Some(0), "{}", String::from_utf8_lossy(&found.stderr));

    let missing = data.path().join("no-examples-here");
    let flag = sextant(&["demo", "--no-serve", "--examples", &missing.to_string_lossy()], &url, data.path());
    assert_eq!(flag.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&flag.stderr).contains("no-examples-here"));

    let two = data.path().join("two-examples");
    for name in ["org", "booking-service"] {
        let folder = two.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("catalog-examples")
            .join(name)
            .join("catalog-info.yaml");
        std::fs::copy(source, folder.join("catalog-info.yaml")).unwrap();
    }
    let from_environment = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["demo", "--no-serve", "--reset"])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .env("SEXTANT_EXAMPLES", &two)
        .current_dir(data.path())
        .output()
        .unwrap();
    assert_eq!(
        from_environment.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_environment.stderr)
    );
    assert!(
        stdout(&from_environment).contains("2 example repositories ready"),
        "{}",
        stdout(&from_environment)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crawl_takes_repositories_from_the_config_file_and_flags() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &group("payments", None))], "teams");
    let services = TestRepo::new();
    services.commit(&[("catalog-info.yaml", &component("checkout", "payments", &[]))], "services");
    std::fs::write(
        data.path().join("sextant.yaml"),
        format!("repositories:\n  - url: {}\n    name: teams\n", teams.path().display()),
    )
    .unwrap();
    let output = sextant(
        &["crawl", "--repo", &services.path().to_string_lossy(), "--format", "json"],
        &url,
        data.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(summary["added"], 2);
    assert_eq!(summary["repositories"].as_array().unwrap().len(), 2);

    let refused = sextant(&["crawl", "--repo", "ext::sh -c 'touch /tmp/pwned'"], &url, data.path());
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refused repository source"));

    std::fs::remove_file(data.path().join("sextant.yaml")).unwrap();
    let nothing = sextant(&["crawl"], &url, data.path());
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no repositories to crawl"));
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_fail_the_repository_without_showing_the_token() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let server = RecordingServer::start(data.path());
    let remote = format!("https://127.0.0.1:{}/acme/payments.git", server.port);
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["crawl", "--repo", &remote])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .env("SSL_CERT_FILE", &server.cert)
        .env("SEXTANT_GIT_TOKEN", "s3cret-token")
        .env("SEXTANT_GIT_HOST", "127.0.0.1")
        .current_dir(data.path())
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "a failed repository fails the crawl: {text}");
    assert!(text.contains("the server refused the credentials"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let problems: Value = serde_json::from_slice(&sextant(&["problems", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    assert_eq!(problems["staleRepos"][0]["repo"], remote);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_that_never_answers_times_out_and_the_crawl_ends() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    // Accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let remote = format!("https://127.0.0.1:{port}/acme/silent.git");
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &group("payments", None))], "teams");
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args([
            "crawl",
            "--timeout",
            "2",
            "--repo",
            &remote,
            "--repo",
            &teams.path().to_string_lossy(),
            "--format",
            "json",
        ])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .current_dir(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // A regression must fail this test, not hang it.
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the crawl did not end within 60 s of a 2 s timeout");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    let elapsed = started.elapsed();
    drop(silent);
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(summary["repositories"][0]["outcome"], "failed");
    assert!(
        summary["repositories"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("longer than the per-repository limit"),
        "{summary}"
    );
    assert_eq!(
        summary["repositories"][1]["outcome"], "applied",
        "the other repository is not held up"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(30),
        "the crawl ends soon after the timeout, took {elapsed:?}"
    );
}

/// Runs the binary in `folder` with no `DATABASE_URL` and no `SEXTANT_CONFIG`: whatever it
/// knows comes from `sextant.yaml` there.
fn sextant_in(folder: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SEXTANT_CONFIG")
        .env("SEXTANT_DATA_DIR", folder.join("data"))
        .current_dir(folder)
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_catalog_command_reads_the_database_from_sextant_yaml() {
    let (_store, url) = fresh_store().await;
    let folder = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("catalog-info.yaml", &group("payments", None)),
            ("checkout/catalog-info.yaml", &component("checkout", "payments", &[])),
        ],
        "two entities",
    );
    std::fs::write(
        folder.path().join("sextant.yaml"),
        format!("database: {url}\nrepositories:\n  - url: {}\n", repo.path().display()),
    )
    .unwrap();

    let crawl = sextant_in(folder.path(), &["crawl"]);
    assert_eq!(crawl.status.code(), Some(0), "{}{}", stdout(&crawl), stderr(&crawl));
    let show = sextant_in(folder.path(), &["show", "checkout", "--format", "json"]);
    assert_eq!(
        show.status.code(),
        Some(0),
        "show reads `database` from sextant.yaml: {}",
        stderr(&show)
    );
    let entity: Value = serde_json::from_slice(&show.stdout).expect("JSON");
    assert_eq!(entity["ownerResolved"], "group:default/payments");
    let problems = sextant_in(folder.path(), &["problems", "--format", "json"]);
    assert_eq!(problems.status.code(), Some(0), "{}", stderr(&problems));
    let problems: Value = serde_json::from_slice(&problems.stdout).expect("JSON");
    assert_eq!(problems["orphans"].as_array().map(Vec::len), Some(0), "{problems}");

    // `--config` names another file, from any folder; the same file read by every command.
    let elsewhere = tempfile::tempdir().unwrap();
    let config = folder.path().join("sextant.yaml");
    let named = sextant_in(elsewhere.path(), &["show", "--config", &config.to_string_lossy(), "group:payments"]);
    assert_eq!(named.status.code(), Some(0), "{}", stderr(&named));
    assert!(stdout(&named).starts_with("group:default/payments"), "{}", stdout(&named));

    // A config file that cannot be used is an error for every command, not silently skipped.
    std::fs::write(folder.path().join("sextant.yaml"), "databse: nowhere\n").unwrap();
    let broken = sextant_in(folder.path(), &["problems"]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("databse"), "{}", stderr(&broken));
}

/// A description, title, type and lifecycle holding terminal escapes (retitle the window, clear
/// the screen, bell, a carriage return, an 8-bit CSI), and a file whose error quotes them.
fn hostile_component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n  title: \"Pay\\e]0;owned\\a\"\n  \
         description: \"first line\\e[2J\\rhidden\\nsecond \\x9b31m line\"\nspec:\n  type: \"service\\e[8m\"\n  \
         lifecycle: \"production\\a\"\n  owner: nobody\n  dependsOn: [\"component:ghost\"]\n"
    )
}

fn assert_no_control_bytes(what: &str, output: &Output) {
    let text = String::from_utf8_lossy(&output.stdout);
    let raw: Vec<char> = text
        .chars()
        .filter(|character| character.is_control() && !matches!(character, '\n' | '\t'))
        .collect();
    assert!(raw.is_empty(), "{what} printed control characters {raw:?}:\n{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn show_problems_and_crawl_never_print_terminal_escapes_from_descriptors() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("catalog-info.yaml", &hostile_component("checkout")),
            // An invalid name (the diagnostic quotes it) in a folder whose name holds escapes:
            // the path reaches `problems` (invalid files, the stale reason) and the crawl summary.
            (
                "bad\u{1b}[2J\u{7}/catalog-info.yaml",
                &component("\"bad\\e[2Jname\\a\"", "nobody", &[]),
            ),
        ],
        "hostile text",
    );
    let crawl = sextant(&["crawl", "--repo", &repo.path().to_string_lossy()], &url, data.path());
    assert_no_control_bytes("crawl", &crawl);
    let show = sextant(&["show", "checkout"], &url, data.path());
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));
    assert_no_control_bytes("show", &show);
    let shown = stdout(&show);
    assert!(
        shown.contains("Pay\\u{1b}]0;owned\\u{7}"),
        "the escapes are shown, visibly: {shown}"
    );
    assert!(
        shown.contains("  first line\\u{1b}[2J\\u{d}hidden\n  second \\u{9b}31m line"),
        "{shown}"
    );
    let problems = sextant(&["problems"], &url, data.path());
    assert_no_control_bytes("problems", &problems);
    assert!(stdout(&problems).contains("\\u{1b}[2J"), "{}", stdout(&problems));
    // JSON escapes control characters itself and keeps the text exact.
    let json = sextant(&["show", "checkout", "--format", "json"], &url, data.path());
    assert_no_control_bytes("show --format json", &json);
    let entity: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(entity["title"], "Pay\u{1b}]0;owned\u{7}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_crawl_summary_lists_what_this_crawl_changed_and_counts_the_catalog() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let first = TestRepo::new();
    let second = TestRepo::new();
    let names: Vec<String> = (0..25).map(|index| format!("service-{index:02}")).collect();
    let documents: Vec<String> = names.iter().map(|name| component(name, "payments", &[])).collect();
    let both = documents.join("---\n");
    first.commit(
        &[("catalog-info.yaml", &both), ("teams/catalog-info.yaml", &group("payments", None))],
        "25 services",
    );
    // The same 25 references (25 conflicts) and one invalid file with two errors.
    second.commit(
        &[
            ("catalog-info.yaml", &both),
            (
                "broken/catalog-info.yaml",
                "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Not Valid\nspec:\n  type: service\n  lifecycle: production\n",
            ),
        ],
        "the same services, and a broken file",
    );
    let (first_path, second_path) = (first.path().to_string_lossy(), second.path().to_string_lossy());
    let crawl = sextant(&["crawl", "--repo", &first_path, "--repo", &second_path], &url, data.path());
    let text = stdout(&crawl);
    assert_eq!(crawl.status.code(), Some(0), "{text}{}", stderr(&crawl));
    assert!(text.contains("25 new conflicts"), "{text}");
    let listed = text.lines().filter(|line| line.starts_with("  conflict: ")).count();
    assert_eq!(listed, 20, "at most 20 are listed: {text}");
    assert!(text.contains("  … and 5 more"), "{text}");

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM diagnostics WHERE severity <> 'note'")
        .fetch_one(_store.pool())
        .await
        .unwrap();
    let diagnostic_lines = text.lines().filter(|line| line.contains("broken/catalog-info.yaml:")).count() as i64;
    assert!(stored >= 2, "the broken file has two errors: {stored}");
    assert_eq!(diagnostic_lines, stored, "every new diagnostic is listed once: {text}");
    assert!(
        text.contains(&format!("{} new diagnostics", stored)),
        "the count equals the list: {text}"
    );
    assert!(
        text.contains("broken/catalog-info.yaml:4:9  error[S0104]"),
        "file:line:column and code: {text}"
    );
    assert!(text.contains("the catalog holds "), "{text}");

    // The JSON has the complete lists, in camelCase, file and line apart.
    let again = sextant(
        &["crawl", "--repo", &first_path, "--repo", &second_path, "--format", "json"],
        &url,
        data.path(),
    );
    let summary: Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(
        summary["newConflicts"].as_array().map(Vec::len),
        Some(0),
        "nothing changed: {summary}"
    );
    assert_eq!(summary["newDiagnostics"].as_array().map(Vec::len), Some(0), "{summary}");
    assert_eq!(summary["catalogProblems"]["conflicts"], 25, "{summary}");
    assert!(summary["catalogProblemsTotal"].as_u64().unwrap() >= 26, "{summary}");

    // One more conflict: only it is listed on the next crawl.
    second.commit(&[("extra/catalog-info.yaml", &group("payments", None))], "claims the team too");
    let third = sextant(
        &["crawl", "--repo", &first_path, "--repo", &second_path, "--format", "json"],
        &url,
        data.path(),
    );
    let summary: Value = serde_json::from_slice(&third.stdout).expect("JSON");
    let conflicts = summary["newConflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{summary}");
    assert_eq!(conflicts[0]["ref"], "group:default/payments");

    let problems: Value = serde_json::from_slice(&sextant(&["problems", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    let conflict = &problems["conflicts"][0];
    assert!(conflict["claimantLine"].is_u64(), "file and line are separate fields: {conflict}");
    assert_eq!(conflict["claimantFile"], "catalog-info.yaml", "{conflict}");
    let invalid = &problems["invalidFiles"][0];
    assert_eq!(invalid["file"], "broken/catalog-info.yaml", "{invalid}");
    let keys = serde_json::to_string(&problems).unwrap() + &serde_json::to_string(&summary).unwrap();
    assert!(
        !keys.contains("_files\"") && !keys.contains("_repos\"") && !keys.contains("entity_ref"),
        "camelCase keys: {keys}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_on_turns_catalog_problems_into_exit_code_1() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(
        &[("catalog-info.yaml", &component("checkout", "payments", &["component:ledger"]))],
        "dangling",
    );
    let path = repo.path().to_string_lossy().into_owned();
    let crawl = sextant(&["crawl", "--repo", &path, "--fail-on", "conflicts,errors"], &url, data.path());
    assert_eq!(crawl.status.code(), Some(0), "no conflicts, no errors: {}", stderr(&crawl));
    let crawl = sextant(&["crawl", "--repo", &path, "--fail-on", "dangling"], &url, data.path());
    assert_eq!(crawl.status.code(), Some(1), "{}", stderr(&crawl));
    assert!(stderr(&crawl).contains("2 dangling references"), "{}", stderr(&crawl));

    let problems = sextant(&["problems", "--fail-on", "stale,conflicts"], &url, data.path());
    assert_eq!(problems.status.code(), Some(0));
    let problems = sextant(
        &["problems", "--fail-on", "conflicts,dangling", "--format", "json"],
        &url,
        data.path(),
    );
    assert_eq!(problems.status.code(), Some(1));
    let listed: Value = serde_json::from_slice(&problems.stdout).expect("the list is printed all the same");
    assert_eq!(listed["dangling"].as_array().map(Vec::len), Some(2), "{listed}");
    let unknown = sextant(&["problems", "--fail-on", "warnings"], &url, data.path());
    assert_eq!(unknown.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn show_suggests_the_nearest_references() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("catalog-info.yaml", &group("shop-team", None)),
            ("booking/catalog-info.yaml", &component("booking-service", "shop-team", &[])),
        ],
        "team and service",
    );
    sextant(&["crawl", "--repo", &repo.path().to_string_lossy()], &url, data.path());
    let team = sextant(&["show", "shop-team"], &url, data.path());
    assert_eq!(team.status.code(), Some(1));
    assert!(
        stderr(&team).contains("is not in the catalog; did you mean `group:default/shop-team`?"),
        "{}",
        stderr(&team)
    );
    let typo = sextant(&["show", "bookng-service"], &url, data.path());
    assert!(
        stderr(&typo).contains("did you mean `component:default/booking-service`?"),
        "{}",
        stderr(&typo)
    );
    let nothing = sextant(&["show", "ledger"], &url, data.path());
    assert_eq!(nothing.status.code(), Some(1));
    assert!(!stderr(&nothing).contains("did you mean"), "{}", stderr(&nothing));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::io::BufRead;
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    // 1,500 orphans with dangling owners: far more output than a pipe buffers (64 KiB).
    let documents: Vec<String> = (0..1_500)
        .map(|index| component(&format!("orphan-service-with-a-long-name-{index:04}"), "nobody", &[]))
        .collect();
    repo.commit(&[("catalog-info.yaml", &documents.join("---\n"))], "many orphans");
    let crawl = sextant(&["crawl", "--repo", &repo.path().to_string_lossy()], &url, data.path());
    assert_eq!(crawl.status.code(), Some(0), "{}", stderr(&crawl));
    for args in [&["problems"][..], &["codes"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("SEXTANT_DATA_DIR", data.path())
            .current_dir(data.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut reader = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let mut first = String::new();
        reader.read_line(&mut first).expect("one line");
        assert!(!first.is_empty());
        drop(reader); // `| head -1`
        let output = child.wait_with_output().expect("it ends");
        let errors = stderr(&output);
        assert_ne!(output.status.code(), Some(101), "{args:?} panicked: {errors}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {errors}");
        assert!(errors.is_empty(), "{args:?} is quiet about the closed pipe: {errors}");
    }
}

#[test]
fn validate_never_prints_terminal_controls_from_a_file() {
    let folder = tempfile::tempdir().unwrap();
    // Raw ESC, BEL, an 8-bit CSI, DEL and a right-to-left override in the line that is shown.
    std::fs::write(
        folder.path().join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: bad\u{1b}]0;owned\u{7}\u{9b}2J\u{7f}\u{202e}name\nspec:\n  type: service\n  lifecycle: production\n  owner: team\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["validate", "--color", "never"])
        .arg(folder.path())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_no_control_bytes("validate", &output);
    assert!(!stdout(&output).contains('\u{202e}'), "{}", stdout(&output));
    assert!(stdout(&output).contains("S0104"), "{}", stdout(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn show_says_when_an_entity_is_a_last_good_copy() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("checkout", "payments", &[]))], "good");
    let path = repo.path().to_string_lossy().into_owned();
    sextant(&["crawl", "--repo", &path], &url, data.path());
    repo.commit(
        &[(
            "catalog-info.yaml",
            &component("checkout", "payments", &[]).replace("kind:", "kind: ["),
        )],
        "broken",
    );
    let crawl = sextant(&["crawl", "--repo", &path], &url, data.path());
    assert!(stdout(&crawl).contains("1 repository is stale"), "{}", stdout(&crawl));
    let show = sextant(&["show", "checkout"], &url, data.path());
    assert_eq!(show.status.code(), Some(0), "the last good entity stays: {}", stderr(&show));
    assert!(stdout(&show).contains("  stale: "), "{}", stdout(&show));
    let json: Value = serde_json::from_slice(&sextant(&["show", "checkout", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    assert!(json["provenance"]["staleReason"].is_string(), "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_on_an_unmigrated_database_ask_for_sextant_migrate_which_applies_them() {
    let name = format!("unmigrated_{}", std::process::id());
    sextant::store::create_database_if_missing(crate::db::cluster(), &name)
        .await
        .unwrap();
    let url = crate::db::cluster().url(&name);
    let data = tempfile::tempdir().unwrap();

    let refused = sextant(&["repos"], &url, data.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("run `sextant migrate`") && stderr.contains("store-schema-outdated"),
        "{stderr}"
    );

    let migrated = sextant(&["migrate"], &url, data.path());
    assert_eq!(migrated.status.code(), Some(0), "{}", String::from_utf8_lossy(&migrated.stderr));
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("the migrations folder")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.path().extension().is_some_and(|extension| extension == "sql"))
        })
        .count();
    assert!(
        stdout(&migrated).starts_with(&format!("applied {migrations} migrations: 20261125000001, ")),
        "{}",
        stdout(&migrated)
    );
    let listed = sextant(&["repos"], &url, data.path());
    assert_eq!(listed.status.code(), Some(0), "{}", String::from_utf8_lossy(&listed.stderr));
    // A second migrate has nothing to do, and says so.
    let again = sextant(&["migrate"], &url, data.path());
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("nothing to apply"), "{}", stdout(&again));
}
