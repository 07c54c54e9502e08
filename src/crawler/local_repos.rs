//! Local repositories: finding every git repository under a folder (directory sources), and
//! writing commits with git2 (used by `sextant demo` to build the example repositories, and by
//! the tests).

use std::path::{Path, PathBuf};

use git2::{IndexEntry, IndexTime, Repository, Signature};

/// Every git repository under `folder` (working trees with `.git`, and bare repositories),
/// without descending into the repositories found. Sorted.
pub fn find_repositories(folder: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let is_working_tree = dir.join(".git").exists();
        let is_bare = dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir();
        if is_working_tree || is_bare {
            found.push(dir);
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() && entry.file_name() != "node_modules" {
                pending.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// A change to commit: write `Some(bytes)` at the path, or remove the path (`None`).
pub type Change<'content> = (&'content str, Option<&'content [u8]>);

/// Commits `changes` on the current branch of the repository at `dir` (created, on `main`,
/// when missing). The working tree is updated to match. Returns the new commit id.
pub fn commit_files(dir: &Path, changes: &[Change<'_>], message: &str) -> Result<String, git2::Error> {
    let repository = match Repository::open(dir) {
        Ok(repository) => repository,
        Err(_) => {
            std::fs::create_dir_all(dir).map_err(|error| git2::Error::from_str(&error.to_string()))?;
            let mut options = git2::RepositoryInitOptions::new();
            options.initial_head("main");
            Repository::init_opts(dir, &options)?
        }
    };
    let mut index = repository.index()?;
    for (path, content) in changes {
        let on_disk = dir.join(path);
        match content {
            Some(bytes) => {
                if let Some(parent) = on_disk.parent() {
                    std::fs::create_dir_all(parent).map_err(|error| git2::Error::from_str(&error.to_string()))?;
                }
                std::fs::write(&on_disk, bytes).map_err(|error| git2::Error::from_str(&error.to_string()))?;
                index.add_frombuffer(&entry(path, 0o100644), bytes)?;
            }
            None => {
                let _ = std::fs::remove_file(&on_disk);
                index.remove_path(Path::new(path))?;
            }
        }
    }
    write_commit(&repository, &mut index, message)
}

/// Commits a symbolic link at `path` pointing at `target`.
pub fn commit_symlink(dir: &Path, path: &str, target: &str, message: &str) -> Result<String, git2::Error> {
    let repository = Repository::open(dir)?;
    let mut index = repository.index()?;
    index.add_frombuffer(&entry(path, 0o120000), target.as_bytes())?;
    write_commit(&repository, &mut index, message)
}

/// Commits a submodule entry (a gitlink) at `path` pointing at commit `commit`.
pub fn commit_gitlink(dir: &Path, path: &str, commit: &str, message: &str) -> Result<String, git2::Error> {
    let repository = Repository::open(dir)?;
    let mut index = repository.index()?;
    let mut gitlink = entry(path, 0o160000);
    gitlink.id = git2::Oid::from_str(commit)?;
    index.add(&gitlink)?;
    write_commit(&repository, &mut index, message)
}

fn entry(path: &str, mode: u32) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id: git2::Oid::zero(),
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

fn write_commit(repository: &Repository, index: &mut git2::Index, message: &str) -> Result<String, git2::Error> {
    index.write()?;
    let tree = repository.find_tree(index.write_tree()?)?;
    let signature = Signature::now("sextant", "sextant@example.invalid")?;
    let parent = repository.head().ok().and_then(|head| head.peel_to_commit().ok());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    let commit = repository.commit(Some("HEAD"), &signature, &signature, message, &tree, &parents)?;
    Ok(commit.to_string())
}
