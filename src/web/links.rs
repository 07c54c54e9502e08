//! Links the pages build: entity pages from references (each part percent-encoded), and
//! whether a descriptor's URL may become a clickable link (only `http`, `https` and `mailto`).

use crate::domain::names::dangerous_link_scheme;

/// Percent-encodes one path segment: everything but unreserved characters.
pub fn encode_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The dashboard path of an entity reference `kind:namespace/name` (the namespace defaults to
/// `default`, the kind to `component`): `/entity/{kind}/{namespace}/{name}`.
pub fn entity_path(entity_ref: &str) -> String {
    let (kind, rest) = entity_ref.split_once(':').unwrap_or(("component", entity_ref));
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    format!(
        "/entity/{}/{}/{}",
        encode_segment(&kind.to_ascii_lowercase()),
        encode_segment(&namespace.to_ascii_lowercase()),
        encode_segment(&name.to_ascii_lowercase())
    )
}

/// The kind of a canonical reference (`component` when it has none).
pub fn kind_of(entity_ref: &str) -> &str {
    entity_ref.split_once(':').map_or("component", |(kind, _)| kind)
}

/// `url` when it may be a clickable link: an `http`, `https` or `mailto` URL without spaces or
/// control characters. Anything else (`javascript:`, `data:`, relative paths) is shown as text.
pub fn safe_href(url: &str) -> Option<&str> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(|character| character.is_whitespace() || character.is_control()) {
        return None;
    }
    if dangerous_link_scheme(url).is_some() {
        return None;
    }
    let (scheme, rest) = url.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    match scheme.as_str() {
        "http" | "https" => rest.starts_with("//").then_some(url),
        "mailto" => (!rest.is_empty()).then_some(url),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_paths_encode_each_part() {
        assert_eq!(
            entity_path("component:default/payments-api"),
            "/entity/component/default/payments-api"
        );
        assert_eq!(entity_path("group:team a/x?y"), "/entity/group/team%20a/x%3Fy");
        assert_eq!(entity_path("api:ns/a/b"), "/entity/api/ns/a%2Fb");
        assert_eq!(entity_path("thing"), "/entity/component/default/thing");
    }

    #[test]
    fn only_http_https_and_mailto_are_clickable() {
        assert_eq!(safe_href("https://example.com/x"), Some("https://example.com/x"));
        assert_eq!(safe_href(" HTTP://example.com "), Some("HTTP://example.com"));
        assert_eq!(safe_href("mailto:team@example.com"), Some("mailto:team@example.com"));
        for hostile in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "/relative",
            "//evil.example",
            "https:evil",
            "https://exa mple.com",
            "https://example.com/\u{0}",
            "",
        ] {
            assert_eq!(safe_href(hostile), None, "{hostile:?}");
        }
    }
}

/// The repository web hosts whose file views [`repo_file_url`] knows how to link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RepoHost {
    GitHub,
    GitLab,
    Bitbucket,
}

impl RepoHost {
    fn of(host: &str) -> Option<RepoHost> {
        match host.to_ascii_lowercase().trim_start_matches("www.") {
            "github.com" => Some(RepoHost::GitHub),
            "gitlab.com" => Some(RepoHost::GitLab),
            "bitbucket.org" => Some(RepoHost::Bitbucket),
            _ => None,
        }
    }

    fn origin(self) -> &'static str {
        match self {
            RepoHost::GitHub => "https://github.com",
            RepoHost::GitLab => "https://gitlab.com",
            RepoHost::Bitbucket => "https://bitbucket.org",
        }
    }
}

/// The host and the repository's path (`owner/name`, or `group/sub/name` on GitLab) of a
/// repository URL in any of the spellings git accepts for a known host: `https://host/o/r(.git)`,
/// `http://`, `ssh://git@host(:port)/o/r.git`, `git@host:o/r.git`, with or without user
/// information or a trailing slash.
fn repo_on_known_host(repo_url: &str) -> Option<(RepoHost, Vec<&str>)> {
    let url = repo_url.trim();
    let (authority, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if !["https", "http", "ssh", "git+ssh"].contains(&scheme.to_ascii_lowercase().as_str()) {
            return None;
        }
        rest.split_once('/')?
    } else {
        // The scp-like spelling: `user@host:owner/name.git`.
        let (authority, path) = url.split_once(':')?;
        if !authority.contains('@') || path.starts_with('/') {
            return None;
        }
        (authority, path)
    };
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = host_and_port.split_once(':').map_or(host_and_port, |(host, _)| host);
    let host = RepoHost::of(host)?;
    let path = path.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let plain = |segment: &&str| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_'))
    };
    let allowed_depth = match host {
        RepoHost::GitLab => 2..=20,
        RepoHost::GitHub | RepoHost::Bitbucket => 2..=2,
    };
    (allowed_depth.contains(&segments.len()) && segments.iter().all(plain)).then_some((host, segments))
}

/// Percent-encodes a path of `/`-separated segments, keeping the separators.
fn encode_path(path: &str) -> String {
    path.split('/').map(encode_segment).collect::<Vec<_>>().join("/")
}

/// Whether `commit` looks like a git object id (abbreviated or full, SHA-1 or SHA-256).
fn is_commit_id(commit: &str) -> bool {
    (7..=64).contains(&commit.len()) && commit.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// The repository's own page on its host (`https://github.com/acme/x`), when the repository is
/// on a host whose views are known (the same spellings as [`repo_file_url`]).
pub fn repo_web_url(repo_url: &str) -> Option<String> {
    let (host, repo) = repo_on_known_host(repo_url)?;
    safe_href(&format!("{}/{}", host.origin(), repo.join("/"))).map(str::to_owned)
}

/// The address of a file in its repository's web view (`path` at `line`), when the repository
/// is on a host whose views are known: github.com, gitlab.com, bitbucket.org (https, http,
/// ssh or scp-like spellings). The commit makes a permalink; without one, the branch (or the
/// default branch, `HEAD`) is used. `None` for any other host, a local path, or a path with
/// nothing in it.
pub fn repo_file_url(repo_url: &str, branch: Option<&str>, commit: Option<&str>, path: &str, line: Option<i32>) -> Option<String> {
    let (host, repo) = repo_on_known_host(repo_url)?;
    let path = path.trim_matches('/');
    if path.is_empty() || path.split('/').any(|segment| segment.is_empty() || segment == "..") {
        return None;
    }
    let revision = match (commit.map(str::trim).filter(|commit| is_commit_id(commit)), branch.map(str::trim)) {
        (Some(commit), _) => commit.to_ascii_lowercase(),
        (None, Some(branch)) if !branch.is_empty() => encode_path(branch),
        _ => "HEAD".to_owned(),
    };
    let repo = repo.join("/");
    let file = encode_path(path);
    let line = line.filter(|line| *line > 0);
    let origin = host.origin();
    let url = match host {
        RepoHost::GitHub => format!(
            "{origin}/{repo}/blob/{revision}/{file}{}",
            line.map(|line| format!("#L{line}")).unwrap_or_default()
        ),
        RepoHost::GitLab => format!(
            "{origin}/{repo}/-/blob/{revision}/{file}{}",
            line.map(|line| format!("#L{line}")).unwrap_or_default()
        ),
        RepoHost::Bitbucket => format!(
            "{origin}/{repo}/src/{revision}/{file}{}",
            line.map(|line| format!("#lines-{line}")).unwrap_or_default()
        ),
    };
    safe_href(&url).map(str::to_owned)
}

#[cfg(test)]
mod repo_file_url_tests {
    use super::repo_file_url;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn github_links_prefer_the_commit_in_every_spelling() {
        let expected = format!("https://github.com/acme/x/blob/{COMMIT}/svc/catalog-info.yaml#L3");
        for spelling in [
            "https://github.com/acme/x",
            "https://github.com/acme/x.git",
            "https://github.com/acme/x/",
            "http://github.com/acme/x",
            "https://token:secret@github.com/acme/x.git",
            "HTTPS://GitHub.com/acme/x",
            "git@github.com:acme/x.git",
            "ssh://git@github.com/acme/x.git",
            "ssh://git@github.com:22/acme/x",
        ] {
            assert_eq!(
                repo_file_url(spelling, Some("main"), Some(COMMIT), "svc/catalog-info.yaml", Some(3)).as_deref(),
                Some(expected.as_str()),
                "{spelling}"
            );
        }
    }

    #[test]
    fn repository_pages_on_known_hosts_only() {
        use super::repo_web_url;
        for spelling in [
            "https://github.com/acme/payments.git",
            "git@github.com:acme/payments.git",
            "ssh://git@GitHub.com/acme/payments",
        ] {
            assert_eq!(
                repo_web_url(spelling).as_deref(),
                Some("https://github.com/acme/payments"),
                "{spelling}"
            );
        }
        assert_eq!(
            repo_web_url("https://gitlab.com/acme/platform/payments.git").as_deref(),
            Some("https://gitlab.com/acme/platform/payments")
        );
        for other in [
            "/srv/git/payments",
            "https://git.example.com/acme/payments.git",
            "https://github.com/acme",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(repo_web_url(other), None, "{other}");
        }
    }

    #[test]
    fn without_a_commit_the_branch_or_head_is_used() {
        assert_eq!(
            repo_file_url("https://github.com/acme/x", Some("release/2.0"), None, "catalog-info.yaml", None).as_deref(),
            Some("https://github.com/acme/x/blob/release/2.0/catalog-info.yaml")
        );
        assert_eq!(
            repo_file_url(
                "https://github.com/acme/x",
                None,
                Some("not a commit"),
                "catalog-info.yaml",
                Some(0)
            )
            .as_deref(),
            Some("https://github.com/acme/x/blob/HEAD/catalog-info.yaml")
        );
    }

    #[test]
    fn gitlab_and_bitbucket_have_their_own_views() {
        assert_eq!(
            repo_file_url(
                "git@gitlab.com:acme/platform/x.git",
                None,
                Some(COMMIT),
                "a b/catalog-info.yaml",
                Some(12)
            )
            .as_deref(),
            Some(format!("https://gitlab.com/acme/platform/x/-/blob/{COMMIT}/a%20b/catalog-info.yaml#L12").as_str())
        );
        assert_eq!(
            repo_file_url("https://bitbucket.org/acme/x.git", Some("main"), None, "catalog-info.yaml", Some(7)).as_deref(),
            Some("https://bitbucket.org/acme/x/src/main/catalog-info.yaml#lines-7")
        );
    }

    #[test]
    fn unknown_hosts_local_paths_and_odd_input_give_no_link() {
        for repo in [
            "/srv/git/x",
            "file:///srv/git/x",
            "https://git.example.com/acme/x",
            "https://github.com.evil.example/acme/x",
            "https://evil.example/github.com/acme/x",
            "https://github.com/acme",
            "https://github.com/acme/x/y",
            "https://github.com/acme/<script>",
            "https://github.com/../x",
            "javascript:alert(1)//github.com/acme/x",
            "git@github.com:/acme/x.git",
            "",
        ] {
            assert_eq!(
                repo_file_url(repo, Some("main"), Some(COMMIT), "catalog-info.yaml", Some(1)),
                None,
                "{repo}"
            );
        }
        assert_eq!(repo_file_url("https://github.com/acme/x", None, Some(COMMIT), "", Some(1)), None);
        assert_eq!(
            repo_file_url("https://github.com/acme/x", None, Some(COMMIT), "../etc/passwd", Some(1)),
            None
        );
        // Characters a path may hold are encoded, never passed through.
        assert_eq!(
            repo_file_url("https://github.com/acme/x", None, Some(COMMIT), "a\"><b/c?d#e.yaml", None).as_deref(),
            Some(format!("https://github.com/acme/x/blob/{COMMIT}/a%22%3E%3Cb/c%3Fd%23e.yaml").as_str())
        );
    }
}
