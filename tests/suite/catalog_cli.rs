//! The catalog commands as a user runs them: `demo` from nothing, `show`, `problems` and
//! `crawl`, against a fresh test database given through `DATABASE_URL`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::db::fresh_store;
use crate::git::{TestRepo, component, group};

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
    let first = sextant(&["demo"], &url, data.path());
    let text = stdout(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&first.stderr));
    assert!(text.contains("built 13 example repositories"), "{text}");
    assert!(text.contains("13 crawled") && text.contains("0 failed"), "{text}");

    let second = stdout(&sextant(&["demo"], &url, data.path()));
    assert!(second.contains("13 unchanged"), "the second run reads nothing again: {second}");

    let show = sextant(&["show", "component:booking-service", "--format", "json"], &url, data.path());
    assert_eq!(show.status.code(), Some(0));
    let entity: Value = serde_json::from_slice(&show.stdout).expect("JSON");
    assert_eq!(entity["ref"], "component:default/booking-service");
    assert_eq!(entity["ownerResolved"], "group:default/booking-team");
    let dependents: Vec<&str> = entity["dependents"].as_array().unwrap().iter().map(|dependent| dependent["entity_ref"].as_str().unwrap()).collect();
    assert!(dependents.contains(&"component:default/web-frontend"), "the frontend breaks when booking goes down: {dependents:?}");
    let human = stdout(&sextant(&["show", "booking-service"], &url, data.path()));
    assert!(human.contains("dependents (what breaks if this goes down)"), "{human}");

    let problems: Value = serde_json::from_slice(&sextant(&["problems", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    assert_eq!(problems["conflicts"].as_array().unwrap().len(), 1, "the duplicate-entity example");
    assert_eq!(problems["cycles"].as_array().unwrap().len(), 1, "the relation-cycle example");
    assert_eq!(problems["invalid_owners"].as_array().unwrap().len(), 1);
    assert_eq!(problems["duplicate_aliases"].as_array().unwrap().len(), 1);
    assert_eq!(problems["stale_repos"].as_array().unwrap().len(), 1, "only the invalid repository: {}", problems["stale_repos"]);
    assert!(problems["invalid_files"].as_array().unwrap().len() >= 30);

    let missing = sextant(&["show", "component:no-such-thing"], &url, data.path());
    assert_eq!(missing.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn crawl_takes_repositories_from_the_config_file_and_flags() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &group("payments", None))], "teams");
    let services = TestRepo::new();
    services.commit(&[("catalog-info.yaml", &component("checkout", "payments", &[]))], "services");
    std::fs::write(data.path().join("sextant.yaml"), format!("repositories:\n  - url: {}\n    name: teams\n", teams.path().display())).unwrap();
    let output = sextant(&["crawl", "--repo", &services.path().to_string_lossy(), "--format", "json"], &url, data.path());
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
