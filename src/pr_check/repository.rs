//! The git repository around the checked files: its `origin` remote and default branch (what
//! `--repo` and `--branch` default to), and each file's path inside it (what the catalog records).

use std::path::{Path, PathBuf};

/// A working copy found from the current folder.
#[derive(Debug, Clone)]
pub struct LocalRepository {
    /// The working tree's top folder, canonical.
    pub root: PathBuf,
    /// The `origin` remote's URL, when there is one, without the password or token a CI
    /// checkout may have put in it (it is shown in reports and pull-request comments).
    pub origin_url: Option<String>,
    /// The remote's default branch, from `refs/remotes/origin/HEAD` when a clone recorded it
    /// (a shallow CI checkout usually does not).
    pub default_branch: Option<String>,
}

impl LocalRepository {
    /// The repository holding `start` (a folder), if any.
    pub fn discover(start: &Path) -> Option<LocalRepository> {
        let repository = git2::Repository::discover(start).ok()?;
        let root = repository.workdir()?.canonicalize().ok()?;
        let origin_url = repository
            .find_remote("origin")
            .ok()
            .and_then(|remote| remote.url().map(crate::crawler::redact));
        let default_branch = repository
            .find_reference("refs/remotes/origin/HEAD")
            .ok()
            .and_then(|reference| reference.symbolic_target().map(str::to_owned))
            .and_then(|target| target.strip_prefix("refs/remotes/origin/").map(str::to_owned));
        Some(LocalRepository {
            root,
            origin_url,
            default_branch,
        })
    }

    /// `path` (as given on the command line, relative to the current folder) as a path inside the
    /// repository, with `/` separators; "" for the top folder; `None` when it lies outside.
    pub fn relative_path(&self, path: &Path) -> Option<String> {
        let absolute = std::path::absolute(path).ok()?;
        // Canonical where it exists (a removed file's folder still resolves), so that symbolic
        // links in the way (/tmp → /private/tmp) do not hide the repository prefix.
        let resolved = match absolute.canonicalize() {
            Ok(canonical) => canonical,
            Err(_) => match (
                absolute.parent().and_then(|parent| parent.canonicalize().ok()),
                absolute.file_name(),
            ) {
                (Some(parent), Some(name)) => parent.join(name),
                _ => absolute,
            },
        };
        let inside = resolved.strip_prefix(&self.root).ok()?;
        Some(
            inside
                .components()
                .map(|component| component.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::LocalRepository;

    #[test]
    fn finds_origin_default_branch_and_relative_paths() {
        let folder = tempfile::tempdir().expect("temp dir");
        let repository = git2::Repository::init(folder.path()).expect("init");
        repository.remote("origin", "git@github.com:acme/pay.git").expect("remote");
        let signature = git2::Signature::now("t", "t@example.com").expect("signature");
        let tree = repository.treebuilder(None).expect("builder").write().expect("tree");
        let tree = repository.find_tree(tree).expect("tree");
        let commit = repository.commit(None, &signature, &signature, "root", &tree, &[]).expect("commit");
        repository
            .reference("refs/remotes/origin/trunk", commit, true, "test")
            .expect("branch");
        repository
            .reference_symbolic("refs/remotes/origin/HEAD", "refs/remotes/origin/trunk", true, "test")
            .expect("origin HEAD");
        std::fs::create_dir_all(folder.path().join("services/pay")).expect("folders");

        let found = LocalRepository::discover(&folder.path().join("services")).expect("a repository");
        assert_eq!(found.origin_url.as_deref(), Some("git@github.com:acme/pay.git"));
        assert_eq!(found.default_branch.as_deref(), Some("trunk"));
        assert_eq!(
            found
                .relative_path(&folder.path().join("services/pay/catalog-info.yaml"))
                .as_deref(),
            Some("services/pay/catalog-info.yaml")
        );
        assert_eq!(found.relative_path(folder.path()).as_deref(), Some(""));
        assert_eq!(found.relative_path(std::path::Path::new("/")), None);
    }

    #[test]
    fn a_token_in_the_origin_url_is_left_out() {
        let folder = tempfile::tempdir().expect("temp dir");
        let repository = git2::Repository::init(folder.path()).expect("init");
        // As GitLab CI clones: the job's token in the remote's URL.
        repository
            .remote("origin", "https://gitlab-ci-token:glcbt-secret@gitlab.example.com/acme/pay.git")
            .expect("remote");
        let found = LocalRepository::discover(folder.path()).expect("a repository");
        assert_eq!(
            found.origin_url.as_deref(),
            Some("https://gitlab-ci-token@gitlab.example.com/acme/pay.git")
        );
    }
}
