//! `sextant demo`: the main job on the example organisation. It builds one git repository per
//! folder of `catalog-examples/` (with git2, a few commits each), crawls them into the catalog
//! (the private Postgres cluster unless `DATABASE_URL` is set), and prints the crawl summary and
//! what to try next. The server joins it with the API issue.

use std::path::{Path, PathBuf};

use crate::crawler::{Origin, Source, commit_files};

/// The example organisation shipped in the source tree.
pub fn default_examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog-examples")
}

/// Builds (or, when already built, reuses) one repository per example folder under `into`, and
/// returns them as crawl sources, in name order.
pub fn build_example_repositories(examples: &Path, into: &Path) -> Result<Vec<Source>, String> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(examples)
        .map_err(|error| format!("cannot read {}: {error}", examples.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    let mut sources = Vec::new();
    for folder in folders {
        let name = folder.file_name().expect("a folder has a name").to_string_lossy().into_owned();
        let repository = into.join(&name);
        if !repository.join(".git").exists() {
            build_one(&folder, &repository).map_err(|error| format!("cannot build the example repository {name}: {error}"))?;
        }
        let source = Source::parse(&repository.to_string_lossy(), None, Some(name), Origin::Operator).map_err(|error| error.to_string())?;
        sources.push(source);
    }
    Ok(sources)
}

/// A short history: a README first, then the descriptors, the last one in a commit of its own.
fn build_one(folder: &Path, repository: &Path) -> Result<(), String> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    collect_files(folder, folder, &mut files).map_err(|error| error.to_string())?;
    files.sort();
    let name = folder.file_name().unwrap_or_default().to_string_lossy();
    let readme = format!("# {name}\n\nAn example repository of the sextant demo organisation.\n");
    let git = |changes: &[(&str, Option<&[u8]>)], message: &str| {
        commit_files(repository, changes, message)
            .map(|_| ())
            .map_err(|error| error.to_string())
    };
    git(&[("README.md", Some(readme.as_bytes()))], "Start the repository")?;
    let (last, first) = files.split_last().ok_or("the folder is empty")?;
    if !first.is_empty() {
        let changes: Vec<(&str, Option<&[u8]>)> = first.iter().map(|(path, bytes)| (path.as_str(), Some(bytes.as_slice()))).collect();
        git(&changes, "Describe the components in the catalog")?;
    }
    git(&[(last.0.as_str(), Some(last.1.as_slice()))], &format!("Add {}", last.0))
}

fn collect_files(root: &Path, folder: &Path, files: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, files)?;
        } else {
            let relative = path.strip_prefix(root).expect("inside the root").to_string_lossy().into_owned();
            files.push((relative, std::fs::read(&path)?));
        }
    }
    Ok(())
}
