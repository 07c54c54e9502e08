//! Finds the descriptor files under the paths given on the command line.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::descriptor::is_descriptor_file_name;

/// Directories that never hold descriptors worth checking.
const SKIPPED_DIRECTORIES: &[&str] = &[".git", "node_modules", "target"];

/// A path given on the command line that cannot be used.
#[derive(Debug)]
pub struct DiscoverError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "cannot read `{}`: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for DiscoverError {}

/// Files given explicitly are taken whatever their name; directories are searched recursively
/// for descriptor file names, skipping `.git`, `node_modules` and `target`, without following
/// symbolic links; a FIFO, socket or device with a descriptor's name is taken too (and refused
/// when read). No paths means the current directory. The result is sorted and unique.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    Ok(discover_files(paths)?.into_iter().map(|file| file.path).collect())
}

/// A file that [`discover`] found.
pub(crate) struct FoundFile {
    pub path: PathBuf,
    /// The directory walk saw a regular file (not one given explicitly, nor a FIFO, socket or
    /// device): reading it need not look at its metadata before opening it.
    pub known_regular: bool,
}

/// [`discover`], telling which files the walk saw as regular files.
pub(crate) fn discover_files(paths: &[PathBuf]) -> Result<Vec<FoundFile>, DiscoverError> {
    let current = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &current[..] } else { paths };
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|error| DiscoverError { path: path.clone(), error })?;
        if !metadata.is_dir() {
            files.push(FoundFile {
                path: path.clone(),
                known_regular: false,
            });
            continue;
        }
        let walker = walkdir::WalkDir::new(path)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !(entry.file_type().is_dir() && is_skipped(entry.path())));
        for entry in walker {
            let entry = entry.map_err(|error| DiscoverError {
                path: error.path().map_or_else(|| path.clone(), Path::to_path_buf),
                error: error.into(),
            })?;
            // Symbolic links are not followed. Anything else with a descriptor's name is taken,
            // so that a FIFO, socket or device is reported when it is read, not silently skipped.
            let file_type = entry.file_type();
            let is_descriptor =
                !file_type.is_dir() && !file_type.is_symlink() && entry.file_name().to_str().is_some_and(is_descriptor_file_name);
            if is_descriptor {
                files.push(FoundFile {
                    known_regular: file_type.is_file(),
                    path: entry.into_path(),
                });
            }
        }
    }
    files.sort_by(|left, right| left.path.cmp(&right.path));
    files.dedup_by(|later, kept| {
        let same = later.path == kept.path;
        if same {
            kept.known_regular &= later.known_regular;
        }
        same
    });
    Ok(files)
}

fn is_skipped(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| SKIPPED_DIRECTORIES.contains(&name))
}
