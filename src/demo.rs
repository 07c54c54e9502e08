//! `sextant demo`: the main job on the example organisation. It builds one git repository per
//! folder of `catalog-examples/` (with git2, a few commits each), crawls them into the demo's own
//! catalog (kept apart from the user's, see `store::Catalog`), and prints the crawl summary and
//! what to try next. The server joins it with the API issue.

use std::path::{Path, PathBuf};

use crate::crawler::{Origin, Source, commit_files};

/// The example organisation's folder name.
const EXAMPLES: &str = "catalog-examples";

/// Finds the example organisation at run time: `given` (the `--examples` flag, or
/// `SEXTANT_EXAMPLES`) when set, else `catalog-examples/` (or `share/sextant/catalog-examples/`)
/// in the binary's folder or one of its ancestors (a checkout's `target/release/sextant`, an
/// install under `/usr/local/bin`), else `catalog-examples/` in the current folder.
pub fn find_examples_dir(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(given) = given {
        return if given.is_dir() {
            Ok(given.to_path_buf())
        } else {
            Err(format!("the examples folder {} does not exist or is not a folder", given.display()))
        };
    }
    let binary = std::env::current_exe().ok();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(binary) = &binary {
        for ancestor in binary.ancestors().skip(1) {
            candidates.push(ancestor.join(EXAMPLES));
            candidates.push(ancestor.join("share/sextant").join(EXAMPLES));
        }
    }
    candidates.push(PathBuf::from(EXAMPLES));
    candidates.into_iter().find(|candidate| candidate.is_dir()).ok_or_else(|| {
        format!(
            "cannot find the example organisation: no {EXAMPLES}/ next to the binary{} or in the current folder; \
             pass --examples DIR or set SEXTANT_EXAMPLES",
            binary.map(|binary| format!(" ({})", binary.display())).unwrap_or_default()
        )
    })
}

/// Removes the example repositories built under `into`, so that the next run builds them anew.
pub fn remove_example_repositories(into: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(into) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(format!("cannot remove {}: {error}", into.display())),
        _ => Ok(()),
    }
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
        let Some(name) = folder.file_name().map(|name| name.to_string_lossy().into_owned()) else {
            continue;
        };
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
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
            files.push((relative, std::fs::read(&path)?));
        }
    }
    Ok(())
}
