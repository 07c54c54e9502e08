//! One comparable form of a repository's address, so that a hook's URLs match the stored ones:
//! scheme, user and port dropped, host and path in lower case, no trailing `.git` or slash,
//! and the ssh forms (`ssh://git@host/path`, `git@host:path`) equal to the https one.

/// A repository address in comparable form: `host/path` for a remote, `local:/path` for a
/// repository on this machine (a plain path or a `file://` URL; its case is kept).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoAddress(String);

impl RepoAddress {
    /// The comparable form of `text`, or `None` when it names no repository.
    pub fn parse(text: &str) -> Option<RepoAddress> {
        let text = text.trim();
        if text.is_empty() || text.chars().any(char::is_control) {
            return None;
        }
        if let Some(path) = text.strip_prefix("file://") {
            return local(path);
        }
        if text.starts_with('/') {
            return local(text);
        }
        let remote = match text.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                if !matches!(scheme.as_str(), "https" | "http" | "ssh" | "git" | "git+ssh" | "ssh+git") {
                    return None;
                }
                let (authority, path) = rest.split_once('/')?;
                (host_of(authority)?, path)
            }
            None => {
                // scp-like `user@host:path` (git's form without a scheme).
                let (authority, path) = text.split_once(':')?;
                if authority.contains('/') || !authority.contains('@') {
                    return None;
                }
                (host_of(authority)?, path)
            }
        };
        let (host, path) = remote;
        let path = trimmed(path).to_lowercase();
        if path.is_empty() {
            return None;
        }
        Some(RepoAddress(format!("{host}/{path}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn local(path: &str) -> Option<RepoAddress> {
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix("/.git").unwrap_or(path);
    if path.is_empty() {
        return None;
    }
    Some(RepoAddress(format!("local:{path}")))
}

/// The host of `[user[:password]@]host[:port]`, in lower case, without the port.
fn host_of(authority: &str) -> Option<String> {
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_and_port.strip_prefix('[') {
        // [v6 address]:port
        bracketed.split_once(']').map(|(address, _)| address)?
    } else {
        host_and_port.split_once(':').map_or(host_and_port, |(host, _)| host)
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// A remote path without the slashes around it and a trailing `.git`.
fn trimmed(path: &str) -> &str {
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    path.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::RepoAddress;

    fn address(text: &str) -> Option<String> {
        RepoAddress::parse(text).map(|address| address.as_str().to_owned())
    }

    #[test]
    fn the_forms_of_one_remote_are_equal() {
        let forms = [
            "https://github.com/Acme/Payments.git",
            "https://github.com/acme/payments",
            "https://github.com/acme/payments/",
            "HTTPS://GitHub.com/acme/payments.git/",
            "https://user:token@github.com:443/acme/payments.git",
            "ssh://git@github.com/acme/payments.git",
            "ssh://git@github.com:22/acme/payments",
            "git@github.com:acme/payments.git",
            "git@github.com:/acme/payments.git",
            "git://github.com/acme/payments.git",
            "http://github.com/acme/payments",
        ];
        for form in forms {
            assert_eq!(address(form).as_deref(), Some("github.com/acme/payments"), "{form}");
        }
    }

    #[test]
    fn different_repositories_differ() {
        assert_ne!(
            address("https://github.com/acme/payments"),
            address("https://github.com/acme/ledger")
        );
        assert_ne!(
            address("https://github.com/acme/payments"),
            address("https://gitlab.com/acme/payments")
        );
        assert_ne!(
            address("https://gitlab.com/acme/group/payments"),
            address("https://gitlab.com/acme/payments")
        );
    }

    #[test]
    fn local_paths_keep_their_case_and_match_file_urls() {
        assert_eq!(address("/srv/Git/payments").as_deref(), Some("local:/srv/Git/payments"));
        assert_eq!(address("file:///srv/Git/payments/"), address("/srv/Git/payments"));
        assert_eq!(address("/srv/Git/payments/.git"), address("/srv/Git/payments"));
        assert_ne!(address("/srv/git/payments"), address("/srv/Git/payments"));
    }

    #[test]
    fn text_that_names_no_repository_has_no_address() {
        for text in [
            "",
            "  ",
            "payments",
            "host:path",
            "ftp://host/path",
            "https://host",
            "https://host/",
            "a\nb",
            "ext::sh -c x",
        ] {
            assert_eq!(address(text), None, "{text:?}");
        }
    }

    #[test]
    fn ipv6_hosts_lose_their_port() {
        assert_eq!(address("https://[fd00::7]:8443/acme/x.git").as_deref(), Some("fd00::7/acme/x"));
    }
}
