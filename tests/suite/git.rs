//! Real git repositories for crawl tests, written with git2 through the crawler's own helpers.

use std::path::{Path, PathBuf};

use sextant::crawler::{Origin, Source, commit_files};

/// A working-tree repository in a temporary folder.
pub struct TestRepo {
    pub dir: PathBuf,
    _temporary: tempfile::TempDir,
}

impl TestRepo {
    pub fn new() -> TestRepo {
        let temporary = tempfile::tempdir().expect("temporary folder");
        TestRepo {
            dir: temporary.path().join("repo"),
            _temporary: temporary,
        }
    }

    /// Commits files (path, text) and returns the commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        let changes: Vec<(&str, Option<&[u8]>)> = files.iter().map(|(path, text)| (*path, Some(text.as_bytes()))).collect();
        commit_files(&self.dir, &changes, message).expect("commit")
    }

    pub fn remove(&self, paths: &[&str], message: &str) -> String {
        let changes: Vec<(&str, Option<&[u8]>)> = paths.iter().map(|path| (*path, None)).collect();
        commit_files(&self.dir, &changes, message).expect("commit")
    }

    pub fn source(&self) -> Source {
        Source::parse(&self.dir.to_string_lossy(), None, None, Origin::Operator).expect("a local path is allowed")
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

pub fn component(name: &str, owner: &str, depends_on: &[&str]) -> String {
    let mut text = format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    );
    if !depends_on.is_empty() {
        text.push_str("  dependsOn:\n");
        for dependency in depends_on {
            text.push_str(&format!("    - {dependency}\n"));
        }
    }
    text
}

pub fn group(name: &str, parent: Option<&str>) -> String {
    let parent = parent.map(|parent| format!("  parent: {parent}\n")).unwrap_or_default();
    format!("apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\nspec:\n  type: team\n{parent}  children: []\n")
}
