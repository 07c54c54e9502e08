//! The crawler: the only module that uses git2. It fetches remote repositories into bare mirrors
//! (the tracked branch only), opens local ones in place, and reads the descriptor files of the
//! tip commit's tree. Everything here is blocking; callers run it in `spawn_blocking`.

mod credentials;
mod local_repos;
mod patterns;
mod source;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use git2::{FetchOptions, ObjectType, RemoteCallbacks, Repository, TreeWalkMode, TreeWalkResult};

use sha2::{Digest, Sha256};

use crate::descriptor::MAX_FILE_BYTES;
use crate::domain::{Code, Diagnostic, Position};

pub use credentials::{Credentials, DEFAULT_TOKEN_USERNAME, HostName, HostToken, Secret};
pub use local_repos::{Change, commit_files, commit_gitlink, commit_symlink, find_repositories};
pub use patterns::{DescriptorMatcher, PatternError};
pub use source::{Location, Origin, Source, SourceError, redact};

/// The bytes of descriptor blobs read per repository by default: far more than any real
/// repository's descriptors, and small enough that a crawl's memory stays bounded.
pub const MAX_REPO_BYTES: u64 = 16 * 1024 * 1024;

/// Limits, places and credentials for reading repositories. Tokens are redacted in `Debug`.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Where bare mirrors of remote repositories are kept.
    pub mirrors_dir: PathBuf,
    /// Blobs larger than this are reported, not read.
    pub max_blob_bytes: usize,
    /// At most this many descriptor files per repository.
    pub max_descriptors: usize,
    /// At most this many bytes of descriptor blobs are read per repository and read; files
    /// beyond it (in path order) are present but unread, so they keep their last good entities.
    pub max_repo_bytes: u64,
    /// Which files are descriptors: the built-in names plus configured globs.
    pub descriptors: DescriptorMatcher,
    /// https tokens, each offered only to its own hosts.
    pub credentials: Credentials,
    /// Give up on a repository after this moment (checked during fetches).
    pub deadline: Option<Instant>,
}

impl ReadOptions {
    pub fn new(mirrors_dir: PathBuf) -> Self {
        ReadOptions {
            mirrors_dir,
            max_blob_bytes: MAX_FILE_BYTES,
            max_descriptors: 1_000,
            max_repo_bytes: MAX_REPO_BYTES,
            descriptors: DescriptorMatcher::default(),
            credentials: Credentials::default(),
            deadline: None,
        }
    }
}

/// One descriptor file of the tip tree. `bytes` is `None` when the blob id was already known
/// (the caller holds its entities) or when the file could not be read (`problem` says why:
/// a symbolic link, too large, beyond the descriptor limit); such a file is present, so its
/// last good entities are kept.
#[derive(Debug, Clone)]
pub struct DescriptorBlob {
    pub path: String,
    pub blob_id: String,
    pub bytes: Option<Vec<u8>>,
    pub problem: Option<String>,
}

/// A successful read of a repository's tip.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub commit: String,
    pub files: Vec<DescriptorBlob>,
    /// Problems of the tree rather than of one file: symlinks, submodules, size limits.
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a repository could not be read. The message never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrawlError {
    /// The repository could not be opened or fetched (unreachable, refused, not a repository).
    Unreachable(String),
    /// The server refused the credentials.
    Authentication(String),
    /// The branch does not exist (deleted, or never there).
    MissingBranch(String),
    /// The repository has no commit yet.
    Empty,
    /// The read took longer than the per-repository limit.
    Timeout,
    /// The repository's objects are damaged.
    Corrupt(String),
}

impl std::fmt::Display for CrawlError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrawlError::Unreachable(message) => write!(formatter, "cannot reach the repository: {message}"),
            CrawlError::Authentication(message) => write!(formatter, "the server refused the credentials: {message}"),
            CrawlError::MissingBranch(branch) => write!(formatter, "the branch `{branch}` does not exist"),
            CrawlError::Empty => formatter.write_str("the repository has no commit yet"),
            CrawlError::Timeout => formatter.write_str("the read took longer than the per-repository limit"),
            CrawlError::Corrupt(message) => write!(formatter, "the repository's objects are damaged: {message}"),
        }
    }
}

impl std::error::Error for CrawlError {}

fn classify(error: &git2::Error, url: &str) -> CrawlError {
    // libgit2 messages may quote the URL as given; show the redacted one instead.
    let message = error.message().replace(url, &redact(url));
    let lowered = message.to_ascii_lowercase();
    if error.code() == git2::ErrorCode::Auth || lowered.contains("authentication") || lowered.contains("401") {
        return CrawlError::Authentication(message);
    }
    if error.code() == git2::ErrorCode::User {
        // Only the transfer-progress callback aborts, and only at the deadline.
        return CrawlError::Timeout;
    }
    match error.class() {
        git2::ErrorClass::Odb | git2::ErrorClass::Zlib | git2::ErrorClass::Object => CrawlError::Corrupt(message),
        _ => CrawlError::Unreachable(message),
    }
}

/// The outcome of a successful read.
#[derive(Debug, Clone)]
pub enum TipRead {
    /// The tip is the commit already known: nothing was read.
    Unchanged {
        commit: String,
    },
    Changed(Snapshot),
}

/// What the caller already holds of a repository, so that unchanged work is skipped.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub commit: Option<String>,
    /// Descriptor path → blob id.
    pub blobs: HashMap<String, String>,
}

/// Reads the tip of `source`. When the tip is `known.commit`, nothing else is read; blobs whose
/// id is in `known.blobs` are listed but not read again.
pub fn read_tip(source: &Source, known: &Known, options: &ReadOptions) -> Result<TipRead, CrawlError> {
    configure_network_timeouts();
    let (repository, branch_ref) = match &source.location {
        Location::Local(path) => open_local(path, source.branch.as_deref())?,
        Location::Remote(url) => open_mirror(url, source.branch.as_deref(), options)?,
    };
    read_tree(&repository, &branch_ref, known, options)
}

/// A server that accepts a connection and then says nothing would hold a read's thread (and
/// its repository's slot) for as long as the connection stays open: libgit2 waits forever by
/// default. These bound each connect and each socket read.
const CONNECT_TIMEOUT_MS: i32 = 10_000;
const SOCKET_READ_TIMEOUT_MS: i32 = 30_000;

/// Sets libgit2's network timeouts once per process, before this module's first git call (every
/// use of libgit2 here goes through `read_tip`, so none runs while the setting is written).
fn configure_network_timeouts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: libgit2 reads these globals when it connects; `call_once` makes every reader
        // of this module wait until they are written, and nothing else in sextant uses libgit2's
        // network code (tests' fixtures use local repositories only).
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(CONNECT_TIMEOUT_MS);
            let _ = git2::opts::set_server_timeout_in_milliseconds(SOCKET_READ_TIMEOUT_MS);
        }
    });
}

fn open_local(path: &Path, branch: Option<&str>) -> Result<(Repository, String), CrawlError> {
    let repository = Repository::open(path).map_err(|error| classify(&error, &path.to_string_lossy()))?;
    let branch_ref = match branch {
        Some(branch) => format!("refs/heads/{branch}"),
        None => match repository.find_reference("HEAD").and_then(|head| {
            head.symbolic_target()
                .map(str::to_owned)
                .ok_or_else(|| git2::Error::from_str("HEAD is detached"))
        }) {
            Ok(target) => target,
            Err(_) => "HEAD".to_owned(),
        },
    };
    Ok((repository, branch_ref))
}

/// The bare mirror folder of a remote branch: the end of the URL, readable, then the SHA-256
/// (hex) of the URL without credentials, a newline, and the branch (empty for the remote's
/// HEAD). The name is the same on every machine and Rust release, and differs per branch.
fn mirror_name(url: &str, branch: Option<&str>) -> String {
    let url = redact(url);
    let mut hasher = Sha256::new();
    hasher.update(url.as_bytes());
    hasher.update(b"\n");
    hasher.update(branch.unwrap_or_default().as_bytes());
    let digest: String = hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
    let readable: String = url
        .chars()
        .map(|character| if character.is_ascii_alphanumeric() { character } else { '_' })
        .collect();
    let readable = &readable[readable.len().saturating_sub(40)..];
    format!("{readable}-{digest}.git")
}

fn open_mirror(url: &str, branch: Option<&str>, options: &ReadOptions) -> Result<(Repository, String), CrawlError> {
    let path = options.mirrors_dir.join(mirror_name(url, branch));
    match fetch_into(&path, url, branch, options) {
        Err(CrawlError::Corrupt(_)) => {
            // A damaged mirror is derived state: drop it and fetch again once.
            let _ = std::fs::remove_dir_all(&path);
            fetch_into(&path, url, branch, options)
        }
        other => other,
    }
}

fn fetch_into(path: &Path, url: &str, branch: Option<&str>, options: &ReadOptions) -> Result<(Repository, String), CrawlError> {
    let repository = match Repository::open_bare(path) {
        Ok(repository) => repository,
        Err(_) => {
            let _ = std::fs::remove_dir_all(path);
            std::fs::create_dir_all(path).map_err(|error| CrawlError::Unreachable(format!("cannot create the mirror: {error}")))?;
            Repository::init_bare(path).map_err(|error| classify(&error, url))?
        }
    };
    let branch = fetch_branch(&repository, url, branch, options)?;
    Ok((repository, format!("refs/heads/{branch}")))
}

/// Fetches the branch (the remote's default when `None`) into the mirror and returns its name.
fn fetch_branch(repository: &Repository, url: &str, branch: Option<&str>, options: &ReadOptions) -> Result<String, CrawlError> {
    let mut remote = repository.remote_anonymous(url).map_err(|error| classify(&error, url))?;
    // Ask the remote what it has first: fetching a refspec that matches nothing succeeds quietly
    // and would leave the mirror's old branch in place when the branch was deleted upstream.
    remote
        .connect_auth(git2::Direction::Fetch, Some(callbacks(options)), None)
        .map_err(|error| classify(&error, url))?;
    let branch = match branch {
        Some(branch) => branch.to_owned(),
        None => {
            let default = remote.default_branch().map_err(|error| classify(&error, url))?;
            default
                .as_str()
                .unwrap_or("refs/heads/main")
                .trim_start_matches("refs/heads/")
                .to_owned()
        }
    };
    let wanted = format!("refs/heads/{branch}");
    let advertised = remote
        .list()
        .map_err(|error| classify(&error, url))?
        .iter()
        .any(|head| head.name() == wanted);
    remote.disconnect().map_err(|error| classify(&error, url))?;
    if !advertised {
        return Err(CrawlError::MissingBranch(branch));
    }
    let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
    let mut fetch_options = FetchOptions::new();
    fetch_options.remote_callbacks(callbacks(options));
    fetch_options.download_tags(git2::AutotagOption::None);
    match remote.fetch(&[refspec.as_str()], Some(&mut fetch_options), None) {
        Ok(()) => Ok(branch),
        Err(error) => Err(classify(&error, url)),
    }
}

/// Credentials (for https, the configured token of the URL's host, and nothing for other hosts;
/// for ssh, `SEXTANT_GIT_SSH_KEY` or the ssh agent), and the deadline check. libgit2 passes the
/// URL it is talking to, after any redirect, so a token never follows a redirect to another host.
fn callbacks(options: &ReadOptions) -> RemoteCallbacks<'static> {
    let mut callbacks = RemoteCallbacks::new();
    let mut attempts = 0;
    let credentials = options.credentials.clone();
    callbacks.credentials(move |url, username, allowed| {
        attempts += 1;
        if attempts > 3 {
            return Err(git2::Error::from_str("authentication failed"));
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            let user = username.unwrap_or("git");
            if let Some(key) = std::env::var_os("SEXTANT_GIT_SSH_KEY") {
                return git2::Cred::ssh_key(user, None, Path::new(&key), None);
            }
            return git2::Cred::ssh_key_from_agent(user);
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
            && let Some((user, token)) = credentials.token_for(url)
        {
            return git2::Cred::userpass_plaintext(user, token);
        }
        Err(git2::Error::from_str(
            "authentication required, and no credentials are configured for this host",
        ))
    });
    let deadline = options.deadline;
    callbacks.transfer_progress(move |_| deadline.is_none_or(|deadline| Instant::now() < deadline));
    callbacks
}

fn read_tree(repository: &Repository, branch_ref: &str, known: &Known, options: &ReadOptions) -> Result<TipRead, CrawlError> {
    let reference = match repository.find_reference(branch_ref) {
        Ok(reference) => reference,
        Err(error) if error.code() == git2::ErrorCode::NotFound => {
            return Err(if repository.is_empty().unwrap_or(false) {
                CrawlError::Empty
            } else {
                CrawlError::MissingBranch(branch_ref.trim_start_matches("refs/heads/").to_owned())
            });
        }
        Err(error) => return Err(classify(&error, branch_ref)),
    };
    // A branch names its commit directly: when that is the commit read last time, the tip is
    // unchanged without reading the commit object (a no-change recrawl reads no object at all).
    if let (Some(known_commit), Ok(direct)) = (known.commit.as_deref(), reference.resolve())
        && let Some(target) = direct.target()
        && target.to_string() == known_commit
    {
        return Ok(TipRead::Unchanged {
            commit: known_commit.to_owned(),
        });
    }
    let commit = reference.peel_to_commit().map_err(|error| {
        if repository.is_empty().unwrap_or(false) {
            CrawlError::Empty
        } else {
            classify(&error, branch_ref)
        }
    })?;
    let commit_id = commit.id().to_string();
    if known.commit.as_deref() == Some(commit_id.as_str()) {
        return Ok(TipRead::Unchanged { commit: commit_id });
    }
    let tree = commit.tree().map_err(|error| classify(&error, branch_ref))?;
    let odb = repository.odb().map_err(|error| classify(&error, branch_ref))?;

    let mut snapshot = Snapshot {
        commit: commit_id,
        files: Vec::new(),
        diagnostics: Vec::new(),
    };
    let mut found: Vec<(String, git2::Oid, i32)> = Vec::new();
    let mut submodules: Vec<String> = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |folder, entry| {
        let Some(name) = entry.name() else { return TreeWalkResult::Ok };
        let path = format!("{folder}{name}");
        match entry.kind() {
            Some(ObjectType::Tree) if name == "node_modules" => TreeWalkResult::Skip,
            Some(ObjectType::Commit) => {
                submodules.push(path);
                TreeWalkResult::Ok
            }
            Some(ObjectType::Blob) if options.descriptors.matches(&path) => {
                found.push((path, entry.id(), entry.filemode()));
                TreeWalkResult::Ok
            }
            _ => TreeWalkResult::Ok,
        }
    })
    .map_err(|error| classify(&error, branch_ref))?;

    // Path order decides which files fall beyond the descriptor limit.
    found.sort();
    let at = Position { line: 1, column: 1 };
    for path in submodules {
        snapshot.diagnostics.push(
            Diagnostic::new(
                Code::SubmoduleSkipped,
                &path,
                at,
                "a git submodule is not crawled with this repository",
            )
            .with_hint("add the submodule's repository as a source of its own"),
        );
    }
    let (mut bytes_read, mut over_repo_bytes) = (0_u64, false);
    for (index, (path, blob_id, filemode)) in found.into_iter().enumerate() {
        let blob_id_text = blob_id.to_string();
        let unreadable = |problem: String| DescriptorBlob {
            path: path.clone(),
            blob_id: blob_id_text.clone(),
            bytes: None,
            problem: Some(problem),
        };
        if index >= options.max_descriptors {
            if index == options.max_descriptors {
                snapshot.diagnostics.push(Diagnostic::new(
                    Code::TooManyDescriptors,
                    &path,
                    at,
                    format!(
                        "the repository holds more than {} descriptor files; the rest are not read",
                        options.max_descriptors
                    ),
                ));
            }
            snapshot.files.push(unreadable(format!(
                "beyond the limit of {} descriptor files",
                options.max_descriptors
            )));
            continue;
        }
        if filemode == i32::from(git2::FileMode::Link) {
            snapshot.diagnostics.push(
                Diagnostic::new(
                    Code::SymlinkSkipped,
                    &path,
                    at,
                    "the descriptor is a symbolic link and is not followed",
                )
                .with_hint("commit the file itself; a link may point outside the repository"),
            );
            snapshot.files.push(unreadable("a symbolic link, not followed".to_owned()));
            continue;
        }
        if known.blobs.get(&path) == Some(&blob_id_text) {
            snapshot.files.push(DescriptorBlob {
                path,
                blob_id: blob_id_text,
                bytes: None,
                problem: None,
            });
            continue;
        }
        let (size, _) = odb.read_header(blob_id).map_err(|error| classify(&error, &path))?;
        if size > options.max_blob_bytes {
            snapshot
                .diagnostics
                .push(crate::descriptor::file_too_large(&path, size as u64, options.max_blob_bytes));
            snapshot
                .files
                .push(unreadable(format!("larger than the limit of {} bytes", options.max_blob_bytes)));
            continue;
        }
        if bytes_read + size as u64 > options.max_repo_bytes {
            if !over_repo_bytes {
                over_repo_bytes = true;
                snapshot.diagnostics.push(
                    Diagnostic::new(
                        Code::RepositoryBytesExceeded,
                        &path,
                        at,
                        format!(
                            "the repository's changed descriptor files hold more than {} bytes; this file and the ones after it are not read",
                            options.max_repo_bytes
                        ),
                    )
                    .with_hint("raise `crawl.maxBytesPerRepo`, or split the descriptors across repositories"),
                );
            }
            snapshot.files.push(unreadable(format!(
                "beyond the repository's limit of {} descriptor bytes",
                options.max_repo_bytes
            )));
            continue;
        }
        bytes_read += size as u64;
        let blob = repository.find_blob(blob_id).map_err(|error| classify(&error, &path))?;
        snapshot.files.push(DescriptorBlob {
            path,
            blob_id: blob_id_text,
            bytes: Some(blob.content().to_vec()),
            problem: None,
        });
    }
    Ok(TipRead::Changed(snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_names_are_stable_and_differ_by_branch() {
        let url = "https://git.example.com/acme/payments.git";
        assert_eq!(
            mirror_name(url, None),
            "ttps___git_example_com_acme_payments_git-fdd7847060e50805da3d7baa1df61d506a85a9d1e462be5937ec9664ba7e0897.git"
        );
        assert_eq!(
            mirror_name(url, Some("main")),
            "ttps___git_example_com_acme_payments_git-febaae4b4a1c853356a46bacf3d35a02a53014dc9da8961c4c5a74ac96fdf577.git"
        );
        assert_ne!(mirror_name(url, Some("main")), mirror_name(url, Some("release")));
        // Credentials in the URL change neither the name nor the hash.
        assert_eq!(
            mirror_name("https://bot:s3cret@git.example.com/acme/payments.git", Some("main")),
            mirror_name("https://bot@git.example.com/acme/payments.git", Some("main"))
        );
        assert!(!mirror_name("https://bot:s3cret@git.example.com/acme/payments.git", None).contains("s3cret"));
    }
}
