//! Tokens for https remotes, each scoped to the hosts it was configured for: a token is offered
//! only to a URL whose host is one of them. Tokens never appear in `Debug` output.

use std::fmt;
use std::sync::Arc;

use super::source::remote_host;

/// A secret value; `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("<redacted>")
    }
}

/// A host a token may be sent to: a name or IP address, with a port when the token is for
/// that port only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    host: String,
    port: Option<u16>,
}

impl HostName {
    /// Reads `git.example.com`, `git.example.com:8443`, `10.0.0.7`, `[fd00::7]:8443` or
    /// `fd00::7`. Names are compared without regard to case.
    pub fn parse(text: &str) -> Result<HostName, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the host is empty".to_owned());
        }
        if text.contains("://") || text.contains(['/', '@', '?', '#']) || text.chars().any(char::is_whitespace) {
            return Err(format!(
                "`{text}` is not a host name: write the host alone, as in `git.example.com` or `git.example.com:8443`"
            ));
        }
        let bare_ipv6 = text.matches(':').count() > 1 && !text.starts_with('[');
        let parsed = if bare_ipv6 {
            text.parse::<std::net::Ipv6Addr>().ok().map(|_| (text.to_ascii_lowercase(), None))
        } else {
            remote_host(&format!("https://{text}/"))
        };
        match parsed {
            Some((host, port)) if !host.is_empty() => Ok(HostName {
                host: host.trim_end_matches('.').to_owned(),
                port,
            }),
            _ => Err(format!("`{text}` is not a host name with an optional port")),
        }
    }

    /// Whether `url` (an https URL) points at this host (and port, when one is set; an URL
    /// without a port means 443).
    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        self.host == host.trim_end_matches('.') && self.port.is_none_or(|wanted| wanted == port.unwrap_or(443))
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => write!(formatter, "{host}:{port}"),
            None => formatter.write_str(&host),
        }
    }
}

/// One token and the hosts it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostToken {
    pub hosts: Vec<HostName>,
    /// The user name sent with the token (`x-access-token` unless configured).
    pub username: String,
    pub token: Secret,
}

/// The https tokens of a crawl. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    tokens: Arc<Vec<HostToken>>,
}

/// The user name sent with a token when none is configured (GitHub's convention for tokens).
pub const DEFAULT_TOKEN_USERNAME: &str = "x-access-token";

impl Credentials {
    pub fn new(tokens: Vec<HostToken>) -> Credentials {
        Credentials { tokens: Arc::new(tokens) }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The user name and token to offer `url`: only for an https URL whose host is one the
    /// token was configured for. The first configured token that matches wins.
    pub fn token_for(&self, url: &str) -> Option<(&str, &str)> {
        if !url.starts_with("https://") {
            return None;
        }
        let (host, port) = remote_host(url)?;
        self.tokens
            .iter()
            .find(|token| token.hosts.iter().any(|wanted| wanted.matches(&host, port)))
            .map(|token| (token.username.as_str(), token.token.expose()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(hosts: &[&str], token: &str) -> Credentials {
        Credentials::new(vec![HostToken {
            hosts: hosts.iter().map(|host| HostName::parse(host).unwrap()).collect(),
            username: DEFAULT_TOKEN_USERNAME.to_owned(),
            token: Secret::new(token.to_owned()),
        }])
    }

    #[test]
    fn a_token_goes_to_its_hosts_only() {
        let credentials = credentials(&["Git.Example.com", "10.0.0.7:8443"], "t0ken");
        assert_eq!(
            credentials.token_for("https://git.example.com/org/x.git"),
            Some(("x-access-token", "t0ken"))
        );
        assert!(
            credentials.token_for("https://GIT.EXAMPLE.COM:9443/org/x.git").is_some(),
            "any port without one configured"
        );
        assert!(credentials.token_for("https://10.0.0.7:8443/x").is_some());
        assert!(credentials.token_for("https://10.0.0.7/x").is_none(), "another port");
        assert!(credentials.token_for("https://10.0.0.7:443/x").is_none());
        assert!(credentials.token_for("https://example.com/x").is_none());
        assert!(credentials.token_for("https://git.example.com.evil.test/x").is_none());
        assert!(credentials.token_for("https://evil.test/git.example.com/x").is_none());
        assert!(credentials.token_for("https://git.example.com@evil.test/x").is_none());
        assert!(
            credentials.token_for("ssh://git@git.example.com/x").is_none(),
            "tokens are for https only"
        );
        assert!(credentials.token_for("git@git.example.com:org/x").is_none());
    }

    #[test]
    fn host_names_are_checked() {
        assert_eq!(HostName::parse("[fd00::7]:8443").unwrap().to_string(), "[fd00::7]:8443");
        assert_eq!(HostName::parse("fd00::7").unwrap().to_string(), "[fd00::7]");
        for wrong in [
            "",
            "https://git.example.com",
            "git.example.com/org",
            "bot@git.example.com",
            "git.example.com:http",
            "a b",
            "a:b:c",
        ] {
            assert!(HostName::parse(wrong).is_err(), "{wrong:?}");
        }
    }

    #[test]
    fn tokens_never_show_in_debug() {
        let shown = format!("{:?}", credentials(&["git.example.com"], "t0ken-value"));
        assert!(!shown.contains("t0ken-value") && shown.contains("git.example.com"), "{shown}");
    }
}
