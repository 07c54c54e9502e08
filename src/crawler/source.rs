//! Repository sources and the URL allow-list that is checked before libgit2 sees a URL.

use std::fmt;
use std::path::PathBuf;

/// Who named a source: the operator (command line, config file) may name local paths; sources
/// that arrive over the network (API, webhooks) are limited to remote URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Operator,
    Network,
}

/// Where a repository is read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// An https or ssh remote (or an operator's `file://` URL), fetched into a bare mirror.
    Remote(String),
    /// A repository on this machine, read in place.
    Local(PathBuf),
}

/// One repository to crawl.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    pub location: Location,
    /// The source as shown and stored: the URL without credentials, or the path.
    pub url: String,
    pub name: String,
    /// `None` follows the remote's (or the local repository's) HEAD.
    pub branch: Option<String>,
}

/// A source refused by the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub source: String,
    pub reason: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "refused repository source `{}`: {}", self.source, self.reason)
    }
}

impl std::error::Error for SourceError {}

impl Source {
    /// Checks `text` against the allow-list and builds a source. Allowed: `https://…`,
    /// `ssh://…`, scp-like `user@host:path`, and (from the operator only) local paths, read in
    /// place, and `file://` URLs, fetched into a mirror. Refused: every other scheme (`ext::`, `http://`, `git://`, `fd::`…) and
    /// bare `host:path`, which git would guess to be ssh.
    pub fn parse(text: &str, branch: Option<String>, name: Option<String>, origin: Origin) -> Result<Source, SourceError> {
        let refuse = |reason: &str| SourceError {
            source: redact(text),
            reason: reason.to_owned(),
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(refuse("it is empty"));
        }
        if text.chars().any(|character| character.is_control()) {
            return Err(refuse("it contains control characters"));
        }
        if text.starts_with('-') {
            return Err(refuse("it starts with `-`, which a git tool would read as an option"));
        }
        let location = if let Some(rest) = text.strip_prefix("https://").or_else(|| text.strip_prefix("ssh://")) {
            if rest.is_empty() || rest.starts_with('/') {
                return Err(refuse("the URL names no host"));
            }
            Location::Remote(text.to_owned())
        } else if text.starts_with("file://") {
            // Fetched into a mirror like a remote (a plain path is read in place instead).
            if origin != Origin::Operator {
                return Err(refuse("local paths are only accepted from the command line or the config file"));
            }
            Location::Remote(text.to_owned())
        } else if text.contains("::") || text.contains("://") {
            return Err(refuse("only https://, ssh:// and user@host:path remotes are allowed"));
        } else if is_scp_like(text) {
            Location::Remote(text.to_owned())
        } else if text.contains(':') && !text.starts_with('/') && !text.starts_with('.') {
            return Err(refuse(
                "`host:path` is ambiguous; write `ssh://host/path` or a path starting with `/` or `./`",
            ));
        } else {
            if origin != Origin::Operator {
                return Err(refuse("local paths are only accepted from the command line or the config file"));
            }
            Location::Local(PathBuf::from(text))
        };
        let url = redact(text);
        let name = name.unwrap_or_else(|| default_name(&url));
        Ok(Source {
            location,
            url,
            name,
            branch,
        })
    }
}

/// `user@host:path` with no scheme: the ssh form git documents.
fn is_scp_like(text: &str) -> bool {
    let Some((user_host, path)) = text.split_once(':') else {
        return false;
    };
    let Some((user, host)) = user_host.split_once('@') else {
        return false;
    };
    !user.is_empty() && !host.is_empty() && !path.is_empty() && !host.contains('/') && !user.contains('/')
}

/// The URL without a password or token (`https://user:secret@host` → `https://user@host`).
pub fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}{path}")
        }
        None => text.to_owned(),
    }
}

/// The last path segment without `.git`.
fn default_name(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let last = trimmed.rsplit(['/', ':']).next().unwrap_or(trimmed);
    let name = last.strip_suffix(".git").unwrap_or(last);
    if name.is_empty() { url.to_owned() } else { name.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, origin: Origin) -> Result<Location, SourceError> {
        Source::parse(text, None, None, origin).map(|source| source.location)
    }

    #[test]
    fn allow_list() {
        assert!(matches!(
            parse("https://example.com/org/repo.git", Origin::Network),
            Ok(Location::Remote(_))
        ));
        assert!(matches!(
            parse("ssh://git@example.com/org/repo.git", Origin::Network),
            Ok(Location::Remote(_))
        ));
        assert!(matches!(
            parse("git@example.com:org/repo.git", Origin::Network),
            Ok(Location::Remote(_))
        ));
        assert!(matches!(parse("/srv/repos/a", Origin::Operator), Ok(Location::Local(_))));
        assert!(matches!(parse("./repos/a", Origin::Operator), Ok(Location::Local(_))));
        for refused in [
            "ext::sh -c touch% /tmp/pwned",
            "http://example.com/a",
            "git://example.com/a",
            "fd::17",
            "example.com:org/repo",
            "-uhelp",
            "https://",
            "",
        ] {
            assert!(parse(refused, Origin::Operator).is_err(), "{refused} must be refused");
        }
        assert!(parse("/srv/repos/a", Origin::Network).is_err());
        assert!(parse("file:///srv/repos/a", Origin::Network).is_err());
    }

    #[test]
    fn credentials_never_show() {
        let source = Source::parse("https://bot:s3cret@example.com/org/repo.git", None, None, Origin::Operator).unwrap();
        assert_eq!(source.url, "https://bot@example.com/org/repo.git");
        assert_eq!(source.name, "repo");
        let error = Source::parse("ftp://bot:s3cret@example.com/x", None, None, Origin::Operator).unwrap_err();
        assert!(!error.to_string().contains("s3cret"));
    }
}
