//! Push hooks from GitHub, GitLab and Bitbucket Cloud: the signature or token checked in
//! constant time, the push read (repository URLs, branch, default branch), matched against the
//! configured and stored repositories by address, and a crawl queued for each match. Nothing
//! from a hook ever adds a repository. The HTTP layer caps the body (1 MiB) and maps
//! [`HookResponse`] onto a response.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{KnownRepo, Queue, RepoAddress};
use crate::crawler::Secret;
use crate::store::JobTrigger;

/// The service a hook comes from (its path: `/hooks/github`, `/hooks/gitlab`, `/hooks/bitbucket`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    GitHub,
    GitLab,
    Bitbucket,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Bitbucket => "bitbucket",
        }
    }
}

/// Each provider's secret (GitHub and Bitbucket: the HMAC key; GitLab: the token); a provider
/// without one has its hook disabled.
#[derive(Debug, Clone, Default)]
pub struct HookSecrets {
    pub github: Option<Secret>,
    pub gitlab: Option<Secret>,
    pub bitbucket: Option<Secret>,
}

impl HookSecrets {
    fn of(&self, provider: Provider) -> Option<&Secret> {
        match provider {
            Provider::GitHub => self.github.as_ref(),
            Provider::GitLab => self.gitlab.as_ref(),
            Provider::Bitbucket => self.bitbucket.as_ref(),
        }
        .filter(|secret| !secret.expose().is_empty())
    }
}

/// What to answer the hook's sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResponse {
    pub status: u16,
    /// `queued`, `pong`, `ignored`, `unknown-repository`, `branch-not-tracked`, `hook-disabled`,
    /// `bad-signature`, `bad-payload`, or a store code (503).
    pub code: &'static str,
    pub message: String,
    /// The crawl jobs that cover the push (new, or queued already).
    pub job_ids: Vec<i64>,
}

impl HookResponse {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> HookResponse {
        HookResponse {
            status,
            code,
            message: message.into(),
            job_ids: Vec::new(),
        }
    }
}

/// Handles one hook delivery: checks, reads, matches, queues.
pub async fn receive(provider: Provider, headers: &HeaderMap, body: &[u8], secrets: &HookSecrets, queue: &Queue) -> HookResponse {
    let Some(secret) = secrets.of(provider) else {
        return HookResponse::new(404, "hook-disabled", format!("the {} hook is not configured", provider.as_str()));
    };
    if let Err(reason) = verify(provider, headers, body, secret) {
        tracing::warn!(hook = provider.as_str(), reason, "hook refused: bad signature");
        return HookResponse::new(401, "bad-signature", reason);
    }
    match event_of(provider, headers) {
        Event::Push => {}
        Event::Ping => return HookResponse::new(200, "pong", "the hook is set up"),
        Event::Other(name) => {
            return HookResponse::new(
                202,
                "ignored",
                format!("`{}` events are not used; only pushes are", printable(&name)),
            );
        }
    }
    let push = match read_push(provider, body) {
        Ok(push) => push,
        Err(reason) => return HookResponse::new(400, "bad-payload", reason),
    };
    let Some(branch) = push.branch.clone() else {
        return HookResponse::new(202, "ignored", "the push changed no branch (a tag, or nothing)");
    };
    let known = match queue.known_repositories().await {
        Ok(known) => known,
        Err(error) => return HookResponse::new(503, error.code(), "the catalog cannot be reached; deliver the hook again later"),
    };
    let addresses: Vec<RepoAddress> = push.urls.iter().filter_map(|url| RepoAddress::parse(url)).collect();
    let same_repository: Vec<&KnownRepo> = known
        .iter()
        .filter(|repo| repo.address.as_ref().is_some_and(|address| addresses.contains(address)))
        .collect();
    if same_repository.is_empty() {
        tracing::info!(hook = provider.as_str(), repo.urls = ?push.urls, "hook for a repository that is neither configured nor in the catalog; nothing added");
        return HookResponse::new(
            202,
            "unknown-repository",
            "the repository is neither configured nor in the catalog; nothing was added",
        );
    }
    let tracked: Vec<&KnownRepo> = same_repository
        .into_iter()
        .filter(|repo| match &repo.key.branch {
            Some(tracked) => *tracked == branch,
            // Follows HEAD: the pushed branch must be the default one (unknown: crawl anyway, an
            // unchanged tip costs one fetch).
            None => push.default_branch.as_ref().is_none_or(|default| *default == branch),
        })
        .collect();
    if tracked.is_empty() {
        return HookResponse::new(
            202,
            "branch-not-tracked",
            format!("the branch `{}` of this repository is not crawled", printable(&branch)),
        );
    }
    let mut response = HookResponse::new(202, "queued", "");
    for repo in tracked {
        match queue.crawl(&repo.key, JobTrigger::Hook).await {
            Ok(enqueued) => response.job_ids.push(enqueued.job.id),
            Err(error) => return HookResponse::new(503, error.code(), "the crawl could not be queued; deliver the hook again later"),
        }
    }
    response.message = match response.job_ids.len() {
        1 => "a crawl of the repository is queued".to_owned(),
        count => format!("crawls of {count} repositories are queued"),
    };
    response
}

/// Text from a payload or header, safe for a message: control characters escaped, at most 200
/// characters.
fn printable(text: &str) -> String {
    text.chars().take(200).flat_map(char::escape_debug).collect()
}

fn header<'headers>(headers: &'headers HeaderMap, name: &str) -> Option<&'headers str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim)
}

/// Checks the delivery's signature (GitHub, Bitbucket) or token (GitLab) in constant time.
fn verify(provider: Provider, headers: &HeaderMap, body: &[u8], secret: &Secret) -> Result<(), String> {
    match provider {
        Provider::GitHub => verify_hmac(header(headers, "x-hub-signature-256"), "X-Hub-Signature-256", body, secret),
        Provider::Bitbucket => verify_hmac(header(headers, "x-hub-signature"), "X-Hub-Signature", body, secret),
        Provider::GitLab => {
            let token = header(headers, "x-gitlab-token").ok_or("the X-Gitlab-Token header is missing")?;
            if constant_time_equal(token.as_bytes(), secret.expose().as_bytes()) {
                Ok(())
            } else {
                Err("the X-Gitlab-Token header does not match".to_owned())
            }
        }
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
fn verify_hmac(value: Option<&str>, name: &str, body: &[u8], secret: &Secret) -> Result<(), String> {
    let value = value.ok_or_else(|| format!("the {name} header is missing"))?;
    let hex = value
        .strip_prefix("sha256=")
        .ok_or_else(|| format!("the {name} header must be `sha256=` and a hex digest"))?;
    let given = decode_hex(hex).ok_or_else(|| format!("the {name} header must be `sha256=` and a hex digest"))?;
    let expected = hmac_sha256(secret.expose().as_bytes(), body);
    if constant_time_equal(&given, &expected) {
        Ok(())
    } else {
        Err(format!("the {name} header does not match the body"))
    }
}

/// HMAC-SHA256 of `body` under `key`.
pub fn hmac_sha256(key: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// Whether `given` equals `expected`, in time that depends on neither's content (nor on the
/// length of `given`): both are hashed first, and the digests compared with `subtle`.
pub fn constant_time_equal(given: &[u8], expected: &[u8]) -> bool {
    let given = Sha256::digest(given);
    let expected = Sha256::digest(expected);
    bool::from(given.as_slice().ct_eq(expected.as_slice()))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    // Hex digits only: `from_str_radix` alone would take a sign.
    if !text.len().is_multiple_of(2) || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(digits, 16).ok()
        })
        .collect()
}

enum Event {
    Push,
    Ping,
    Other(String),
}

fn event_of(provider: Provider, headers: &HeaderMap) -> Event {
    let (name, push, ping) = match provider {
        Provider::GitHub => ("x-github-event", "push", Some("ping")),
        Provider::GitLab => ("x-gitlab-event", "Push Hook", None),
        Provider::Bitbucket => ("x-event-key", "repo:push", Some("diagnostics:ping")),
    };
    match header(headers, name) {
        Some(event) if event == push => Event::Push,
        Some(event) if Some(event) == ping => Event::Ping,
        Some(event) => Event::Other(event.to_owned()),
        None => Event::Other(format!("(no {name} header)")),
    }
}

/// What a push says: the repository's URLs, the branch pushed (`None`: a tag or no branch),
/// and the repository's default branch when the payload names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub urls: Vec<String>,
    pub branch: Option<String>,
    pub default_branch: Option<String>,
}

#[derive(Deserialize)]
struct GitHubPush {
    #[serde(rename = "ref")]
    reference: String,
    repository: GitHubRepository,
}

#[derive(Deserialize)]
struct GitHubRepository {
    clone_url: Option<String>,
    ssh_url: Option<String>,
    html_url: Option<String>,
    git_url: Option<String>,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct GitLabPush {
    #[serde(rename = "ref")]
    reference: String,
    project: Option<GitLabProject>,
    repository: Option<GitLabRepository>,
}

#[derive(Deserialize)]
struct GitLabProject {
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
    web_url: Option<String>,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct GitLabRepository {
    git_http_url: Option<String>,
    git_ssh_url: Option<String>,
    homepage: Option<String>,
}

#[derive(Deserialize)]
struct BitbucketPush {
    repository: BitbucketRepository,
    push: BitbucketChanges,
}

#[derive(Deserialize)]
struct BitbucketRepository {
    full_name: Option<String>,
    links: Option<BitbucketLinks>,
    mainbranch: Option<BitbucketBranch>,
}

#[derive(Deserialize)]
struct BitbucketLinks {
    html: Option<BitbucketLink>,
}

#[derive(Deserialize)]
struct BitbucketLink {
    href: Option<String>,
}

#[derive(Deserialize)]
struct BitbucketChanges {
    changes: Vec<BitbucketChange>,
}

#[derive(Deserialize)]
struct BitbucketChange {
    new: Option<BitbucketBranch>,
    old: Option<BitbucketBranch>,
}

#[derive(Deserialize)]
struct BitbucketBranch {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
}

/// `refs/heads/X` → `X`; any other ref (tags) → `None`.
fn branch_of(reference: &str) -> Option<String> {
    reference
        .strip_prefix("refs/heads/")
        .filter(|branch| !branch.is_empty())
        .map(str::to_owned)
}

/// Reads a push payload; `Err` says what is wrong with it.
pub fn read_push(provider: Provider, body: &[u8]) -> Result<Push, String> {
    let invalid = |error: serde_json::Error| format!("the payload is not a {} push event: {error}", provider.as_str());
    let push = match provider {
        Provider::GitHub => {
            let event: GitHubPush = serde_json::from_slice(body).map_err(invalid)?;
            let repository = event.repository;
            Push {
                urls: [repository.clone_url, repository.ssh_url, repository.html_url, repository.git_url]
                    .into_iter()
                    .flatten()
                    .collect(),
                branch: branch_of(&event.reference),
                default_branch: repository.default_branch,
            }
        }
        Provider::GitLab => {
            let event: GitLabPush = serde_json::from_slice(body).map_err(invalid)?;
            let mut urls = Vec::new();
            let mut default_branch = None;
            if let Some(project) = event.project {
                urls.extend([project.git_http_url, project.git_ssh_url, project.web_url].into_iter().flatten());
                default_branch = project.default_branch;
            }
            if let Some(repository) = event.repository {
                urls.extend(
                    [repository.git_http_url, repository.git_ssh_url, repository.homepage]
                        .into_iter()
                        .flatten(),
                );
            }
            Push {
                urls,
                branch: branch_of(&event.reference),
                default_branch,
            }
        }
        Provider::Bitbucket => {
            let event: BitbucketPush = serde_json::from_slice(body).map_err(invalid)?;
            let repository = event.repository;
            let html = repository.links.and_then(|links| links.html).and_then(|link| link.href);
            let mut urls: Vec<String> = html.iter().cloned().collect();
            // The full name on the same host as the page (bitbucket.org by default).
            if let Some(full_name) = repository.full_name {
                let host = html
                    .as_deref()
                    .and_then(RepoAddress::parse)
                    .and_then(|address| address.as_str().split_once('/').map(|(host, _)| host.to_owned()))
                    .unwrap_or_else(|| "bitbucket.org".to_owned());
                urls.push(format!("https://{host}/{full_name}"));
            }
            // The first branch the push changed (a deleted branch is read as such by the crawl).
            let branch = event
                .push
                .changes
                .into_iter()
                .filter_map(|change| change.new.or(change.old))
                .find(|branch| branch.kind.as_deref() == Some("branch"))
                .and_then(|branch| branch.name);
            Push {
                urls,
                branch,
                default_branch: repository.mainbranch.and_then(|branch| branch.name),
            }
        }
    };
    if push.urls.is_empty() {
        return Err(format!("the {} push event names no repository URL", provider.as_str()));
    }
    Ok(push)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digests_are_decoded_strictly() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("+1"), None);
        assert_eq!(decode_hex("é1"), None);
    }

    #[test]
    fn the_constant_time_comparison_tells_equal_from_different() {
        assert!(constant_time_equal(b"secret", b"secret"));
        assert!(!constant_time_equal(b"secret", b"secreT"));
        assert!(!constant_time_equal(b"Secret", b"secret"));
        assert!(!constant_time_equal(b"secret", b"secret2"));
        assert!(!constant_time_equal(b"", b"secret"));
    }

    #[test]
    fn the_hmac_matches_the_rfc_4231_vector() {
        // RFC 4231, test case 2.
        let digest = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn pushes_name_their_branch_and_tags_name_none() {
        assert_eq!(branch_of("refs/heads/main").as_deref(), Some("main"));
        assert_eq!(branch_of("refs/heads/feature/x").as_deref(), Some("feature/x"));
        assert_eq!(branch_of("refs/tags/v1"), None);
        assert_eq!(branch_of("refs/heads/"), None);
    }

    #[test]
    fn a_bitbucket_push_gives_the_page_and_the_full_name() {
        let body = br#"{"repository": {"full_name": "acme/payments", "links": {"html": {"href": "https://bitbucket.org/acme/payments"}}},
                        "push": {"changes": [{"new": {"type": "branch", "name": "main"}, "old": null}]}}"#;
        let push = read_push(Provider::Bitbucket, body).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(push.branch.as_deref(), Some("main"));
        assert_eq!(
            push.urls,
            vec!["https://bitbucket.org/acme/payments", "https://bitbucket.org/acme/payments"]
        );
    }
}
