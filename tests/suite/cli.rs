//! The `sextant` binary as CI runs it: exit codes, output formats, and the example organisation
//! (diagnostics in `catalog-examples/invalid/` only, each folder showing its own code).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sextant(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the binary runs")
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[test]
fn examples_report_problems_in_the_invalid_folder_only() {
    let output = sextant(&["validate", "--format", "json", "catalog-examples"]);
    assert_eq!(output.status.code(), Some(1), "the invalid folder holds errors");
    let diagnostics = json_lines(&output);
    let outside: Vec<&Value> = diagnostics
        .iter()
        .filter(|diagnostic| !diagnostic["file"].as_str().unwrap().contains("/invalid/"))
        .collect();
    assert!(outside.is_empty(), "the example repos must be clean: {outside:?}");

    let mut codes_by_folder: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for diagnostic in &diagnostics {
        let file = diagnostic["file"].as_str().unwrap();
        let folder = file.split("/invalid/").nth(1).unwrap().split('/').next().unwrap().to_owned();
        codes_by_folder
            .entry(folder)
            .or_default()
            .insert(diagnostic["code"].as_str().unwrap().to_owned());
        assert!(diagnostic["line"].as_u64().unwrap() >= 1 && diagnostic["column"].as_u64().unwrap() >= 1);
    }
    let folders: Vec<String> = std::fs::read_dir(repo().join("catalog-examples/invalid"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(folders.len() >= 40, "one folder per diagnostic, found {}", folders.len());
    for folder in &folders {
        let code = &folder[..5];
        let found = codes_by_folder.get(folder).cloned().unwrap_or_default();
        assert!(found.contains(code), "{folder} should show {code}, showed {found:?}");
    }
    let summary = String::from_utf8_lossy(&output.stderr);
    assert!(summary.starts_with("checked "), "summary on stderr for json: {summary}");
}

#[test]
fn the_example_organisation_is_clean_and_linked_across_repos() {
    let repos: Vec<PathBuf> = std::fs::read_dir(repo().join("catalog-examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir() && !path.ends_with("invalid"))
        .collect();
    assert!(repos.len() >= 8, "at least 8 example repos, found {}", repos.len());
    let args: Vec<String> = ["validate", "--strict", "--color", "never"]
        .iter()
        .map(|arg| arg.to_string())
        .chain(repos.iter().map(|path| path.to_string_lossy().into_owned()))
        .collect();
    let output = sextant(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    assert!(summary.ends_with(": 0 errors, 0 warnings"), "{summary}");
    let entities: usize = summary.split(", ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(entities >= 30, "at least 30 entities: {summary}");
}

#[test]
fn human_output_shows_the_source_line_with_a_caret_and_a_hint() {
    let output = sextant(&["validate", "--color", "never", "catalog-examples/invalid/S0104-invalid-entity-name"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("error[S0104]"), "{stdout}");
    assert!(
        stdout.contains("catalog-examples/invalid/S0104-invalid-entity-name/catalog-info.yaml:"),
        "{stdout}"
    );
    assert!(stdout.contains("^^^"), "a caret under the offending value: {stdout}");
    assert!(stdout.contains("help:"), "{stdout}");
    assert!(stdout.trim_end().ends_with("1 error, 0 warnings"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "no colour when asked for none");
}

#[test]
fn github_annotations_are_workflow_commands() {
    let output = sextant(&[
        "validate",
        "--format",
        "github",
        "catalog-examples/invalid/S0302-dangling-reference",
    ]);
    assert_eq!(output.status.code(), Some(0), "dangling references are warnings by default");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with("::warning file=catalog-examples/invalid/S0302-dangling-reference/"),
        "{first}"
    );
    assert!(
        first.contains(",line=") && first.contains(",col=") && first.contains("title=S0302 dangling-reference::"),
        "{first}"
    );
}

#[test]
fn strict_makes_dangling_references_errors() {
    let output = sextant(&[
        "validate",
        "--strict",
        "--format",
        "json",
        "catalog-examples/invalid/S0302-dangling-reference",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let diagnostics = json_lines(&output);
    assert!(
        diagnostics
            .iter()
            .any(|diagnostic| diagnostic["code"] == "S0302" && diagnostic["severity"] == "error")
    );
}

#[test]
fn sarif_output_is_a_sarif_2_1_0_log() {
    let output = sextant(&["validate", "--format", "sarif", "catalog-examples/invalid/S0301-duplicate-entity"]);
    assert_eq!(output.status.code(), Some(1));
    let log: Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    let result = results
        .iter()
        .find(|result| result["ruleId"] == "S0301")
        .expect("the duplicate is reported");
    assert_eq!(result["level"], "error");
    let rule_index = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(rules[rule_index]["id"], "S0301");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert!(region["startLine"].as_u64().unwrap() >= 1);
    assert_eq!(
        result["relatedLocations"].as_array().unwrap().len(),
        1,
        "the duplicate names the first definition too"
    );
}

#[test]
fn usage_and_io_problems_exit_with_2() {
    assert_eq!(sextant(&["validate", "no/such/path"]).status.code(), Some(2));
    assert_eq!(sextant(&["validate", "--format", "xml", "."]).status.code(), Some(2));
    assert_eq!(sextant(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn directories_are_searched_by_name_skipping_vendored_folders() {
    let dir = tempfile::tempdir().unwrap();
    let write = |relative: &str, text: &str| {
        let path = dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let broken = "kind: [\n";
    write(
        "service/catalog-info.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n",
    );
    write("node_modules/pkg/catalog-info.yaml", broken);
    write("target/catalog-info.yaml", broken);
    write(".git/catalog-info.yaml", broken);
    write("docs/other.yaml", broken);
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["validate"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("checked 1 file, 1 entity: 0 errors, 0 warnings"), "{stdout}");
    // A file named explicitly is read whatever its name.
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["validate", "docs/other.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(Path::new(&dir.path().join("docs/other.yaml")).exists());
}
