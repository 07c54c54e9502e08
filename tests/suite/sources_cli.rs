//! Managing the catalog's sources as a user does: `sextant repos`, `sextant forget` (with its
//! confirmation) and `sextant crawl --prune`, against a fresh test database.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::db::{entity_refs, fresh_store};
use crate::git::{TestRepo, group};

fn sextant(args: &[&str], database_url: &str, folder: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SEXTANT_DATA_DIR", folder)
        .env_remove("SEXTANT_CONFIG")
        .current_dir(folder)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// `path` written relative to `base` (both absolute), with `..` as needed.
fn relative_to(path: &Path, base: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap();
    let base = std::fs::canonicalize(base).unwrap();
    let common = path
        .components()
        .zip(base.components())
        .take_while(|(left, right)| left == right)
        .count();
    let mut relative = std::path::PathBuf::new();
    for _ in base.components().skip(common) {
        relative.push("..");
    }
    for component in path.components().skip(common) {
        relative.push(component);
    }
    relative.to_string_lossy().into_owned()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn repos_lists_forget_asks_and_prune_forgets_what_the_config_no_longer_lists() {
    let (store, url) = fresh_store().await;
    let folder = tempfile::tempdir().unwrap();
    let a = TestRepo::new();
    a.commit(&[("catalog-info.yaml", &group("shared", None))], "a");
    let b = TestRepo::new();
    b.commit(
        &[(
            "catalog-info.yaml",
            &format!("{}---\n{}", group("shared", None), group("only-b", None)),
        )],
        "b",
    );
    let (a_path, b_path) = (a.source().url, b.source().url);
    let crawl = sextant(&["crawl", "--repo", &a_path, "--repo", &b_path], &url, folder.path());
    assert_eq!(crawl.status.code(), Some(0), "{}", text(&crawl));

    let listed = sextant(&["repos", "--format", "json"], &url, folder.path());
    let repos: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let repos = repos.as_array().unwrap();
    assert_eq!(repos.len(), 2);
    let of = |path: &str| repos.iter().find(|repo| repo["url"] == path).unwrap().clone();
    assert_eq!(of(&a_path)["entities"], 1);
    assert_eq!(
        (of(&b_path)["entities"].clone(), of(&b_path)["conflicts"].clone()),
        (Value::from(1), Value::from(1))
    );
    assert_eq!(of(&a_path)["status"], "ok");
    assert!(of(&a_path)["lastCommit"].as_str().is_some_and(|commit| commit.len() == 40));
    let human = text(&sextant(&["repos"], &url, folder.path()));
    assert!(human.contains("2 repositories") && human.contains("1 conflict"), "{human}");

    // Without a terminal and without --yes, nothing is forgotten, but the summary says what would go.
    let refused = sextant(&["forget", &a_path], &url, folder.path());
    assert_eq!(refused.status.code(), Some(1));
    let said = text(&refused);
    assert!(said.contains("group:default/shared passes to its next definition"), "{said}");
    assert_eq!(entity_refs(&store).await, vec!["group:default/only-b", "group:default/shared"]);

    // Named the way it was crawled from here: relative to the current folder.
    let relative = relative_to(std::path::Path::new(&a_path), folder.path());
    let forgotten = sextant(&["forget", &relative, "--yes"], &url, folder.path());
    assert_eq!(forgotten.status.code(), Some(0), "{}", text(&forgotten));
    let holder: String =
        sqlx::query_scalar("SELECT r.url FROM entities e JOIN repos r ON r.id = e.repo_id WHERE e.entity_ref = 'group:default/shared'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(holder, b_path, "the reference passed to b's definition");
    let unknown = sextant(&["forget", &a_path, "--yes"], &url, folder.path());
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));

    // --prune: the config lists a only; b is forgotten, its entities go.
    std::fs::write(folder.path().join("sextant.yaml"), format!("repositories:\n  - url: {a_path}\n")).unwrap();
    let pruned = sextant(&["crawl", "--prune"], &url, folder.path());
    assert_eq!(pruned.status.code(), Some(0), "{}", text(&pruned));
    assert!(text(&pruned).contains("pruned 1 repository"), "{}", text(&pruned));
    assert_eq!(entity_refs(&store).await, vec!["group:default/shared"]);
    let holder: String = sqlx::query_scalar("SELECT r.url FROM entities e JOIN repos r ON r.id = e.repo_id")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(holder, a_path);
}
