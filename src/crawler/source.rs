//! Repository sources and the URL allow-list that is checked before libgit2 sees a URL: the
//! schemes, and the addresses a source may reach (link-local and cloud-metadata addresses
//! never; loopback and private ranges only from the operator).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::PathBuf;

/// Who named a source: the operator (command line, config file) may name local paths and
/// addresses on this machine or its private network; sources that arrive over the network (API
/// mutations, webhooks) are limited to remote URLs on public addresses.
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
    /// The source as given, without its password.
    pub source: String,
    pub reason: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "refused repository source `{}`: {}", self.source, self.reason)
    }
}

impl std::error::Error for SourceError {}

/// Looks up the addresses of a host name (the system resolver, or a table in tests).
type Resolver<'resolver> = &'resolver dyn Fn(&str, u16) -> std::io::Result<Vec<IpAddr>>;

fn system_resolver(host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
    Ok((host, port).to_socket_addrs()?.map(|address| address.ip()).collect())
}

impl Source {
    /// Checks `text` against the allow-list and builds a source. Allowed: `https://…`,
    /// `ssh://…`, scp-like `user@host:path`, and (from the operator only) local paths, read in
    /// place, and `file://` URLs, fetched into a mirror. Refused: every other scheme (`ext::`,
    /// `http://`, `git://`, `fd::`…), bare `host:path` (which git would guess to be ssh), and
    /// hosts at addresses a source may not reach (see [`Origin`]). For a source from the
    /// network, a host name is resolved now and refused when any of its addresses is refused.
    pub fn parse(text: &str, branch: Option<String>, name: Option<String>, origin: Origin) -> Result<Source, SourceError> {
        Source::parse_with(text, branch, name, origin, &system_resolver)
    }

    fn parse_with(
        text: &str,
        branch: Option<String>,
        name: Option<String>,
        origin: Origin,
        resolve: Resolver<'_>,
    ) -> Result<Source, SourceError> {
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
            check_remote_host(text, origin, resolve).map_err(|reason| refuse(&reason))?;
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
            check_remote_host(text, origin, resolve).map_err(|reason| refuse(&reason))?;
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
        let url = match &location {
            // A path is shown as given: it holds no credentials.
            Location::Local(_) => text.to_owned(),
            Location::Remote(_) => redact(text),
        };
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
    let Some((user, rest)) = text.split_once('@') else {
        return false;
    };
    let Some((host, path)) = split_scp_host(rest) else {
        return false;
    };
    !user.is_empty() && !host.is_empty() && !path.is_empty() && !user.contains(['/', ':']) && !host.contains('/')
}

/// `host:path` or `[v6]:path` → (host, path).
fn split_scp_host(rest: &str) -> Option<(&str, &str)> {
    if rest.starts_with('[') {
        let end = rest.find("]:")?;
        Some((&rest[..=end], &rest[end + 2..]))
    } else {
        rest.split_once(':')
    }
}

/// The host of a remote (`https://`, `ssh://` or scp-like), lowercased and without brackets,
/// and its port when one is given.
pub(crate) fn remote_host(text: &str) -> Option<(String, Option<u16>)> {
    let host_and_port = match text.split_once("://") {
        Some((_, rest)) => {
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            authority.rsplit_once('@').map_or(authority, |(_, host)| host)
        }
        None => {
            let (_, rest) = text.split_once('@')?;
            split_scp_host(rest)?.0
        }
    };
    let (host, port) = if let Some(bracketed) = host_and_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match host_and_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_and_port, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(port.parse::<u16>().ok()?),
    };
    Some((host.to_ascii_lowercase(), port))
}

/// What an address is, as far as a source may reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Never: link-local and cloud-metadata addresses.
    Never(&'static str),
    /// Only from the operator: loopback, private and other internal ranges.
    OperatorOnly(&'static str),
    Anyone,
}

/// Host names of cloud metadata services.
const METADATA_HOST_NAMES: &[&str] = &["metadata.google.internal", "metadata"];

fn check_remote_host(text: &str, origin: Origin, resolve: Resolver<'_>) -> Result<(), String> {
    let Some((host, port)) = remote_host(text) else {
        return Err("the URL's host or port cannot be read".to_owned());
    };
    let host = host.strip_suffix('.').unwrap_or(&host);
    if host.is_empty() {
        return Err("the URL names no host".to_owned());
    }
    if !host
        .chars()
        .all(|character| character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_' | ':'))
    {
        return Err("the host may hold only letters, digits, `.`, `-` and `_` (or an IP address)".to_owned());
    }
    let verdict = |reach: Reach, what: &str| match (reach, origin) {
        (Reach::Never(kind), _) => Err(format!("{what} is {kind}; no source may reach it")),
        (Reach::OperatorOnly(kind), Origin::Network) => Err(format!(
            "{what} is {kind}; such addresses are only accepted from the command line or the config file"
        )),
        _ => Ok(()),
    };
    if let Some(address) = literal_address(host) {
        return verdict(reach_of(address), &format!("the address {address}"));
    }
    if METADATA_HOST_NAMES.contains(&host) {
        return verdict(Reach::Never("a cloud metadata service"), &format!("the host `{host}`"));
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return verdict(Reach::OperatorOnly("this machine (loopback)"), &format!("the host `{host}`"));
    }
    if origin == Origin::Network {
        let default_port = if text.starts_with("https://") { 443 } else { 22 };
        let addresses =
            resolve(host, port.unwrap_or(default_port)).map_err(|error| format!("the host `{host}` cannot be resolved: {error}"))?;
        if addresses.is_empty() {
            return Err(format!("the host `{host}` resolves to no address"));
        }
        for address in addresses {
            verdict(reach_of(address), &format!("the host `{host}` resolves to {address}, which"))?;
        }
    }
    Ok(())
}

/// An IP address written as the host: IPv6, or IPv4 in any form `inet_aton` accepts (dotted,
/// decimal `2852039166`, hex `0xa9fea9fe`, octal parts, fewer than four parts).
fn literal_address(host: &str) -> Option<IpAddr> {
    if host.contains(':') {
        return host.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    loose_ipv4(host).map(IpAddr::V4)
}

fn loose_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let number = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            if hex.is_empty() { 0 } else { u64::from_str_radix(hex, 16).ok()? }
        } else if part.len() > 1 && part.starts_with('0') {
            u64::from_str_radix(&part[1..], 8).ok()?
        } else if !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()) {
            part.parse::<u64>().ok()?
        } else {
            return None;
        };
        numbers.push(number);
    }
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|number| *number > 255) {
        return None;
    }
    let last_bits = 8 * (4 - leading.len() as u32);
    if *last >= 1u64 << last_bits {
        return None;
    }
    let mut value: u64 = 0;
    for (index, number) in leading.iter().enumerate() {
        value |= number << (24 - 8 * index as u32);
    }
    Some(Ipv4Addr::from((value | last) as u32))
}

fn reach_of(address: IpAddr) -> Reach {
    match address {
        IpAddr::V4(address) => reach_of_v4(address),
        IpAddr::V6(address) => reach_of_v6(address),
    }
}

fn reach_of_v4(address: Ipv4Addr) -> Reach {
    let [first, second, third, fourth] = address.octets();
    match (first, second, third, fourth) {
        (169, 254, 169, 254) | (100, 100, 100, 200) => Reach::Never("a cloud metadata service"),
        (169, 254, _, _) => Reach::Never("link-local"),
        (127, _, _, _) => Reach::OperatorOnly("this machine (loopback)"),
        (0, _, _, _) => Reach::OperatorOnly("this machine (unspecified address)"),
        (10, _, _, _) | (192, 168, _, _) => Reach::OperatorOnly("a private address"),
        (172, 16..=31, _, _) => Reach::OperatorOnly("a private address"),
        (100, 64..=127, _, _) => Reach::OperatorOnly("a shared (carrier-grade NAT) address"),
        (224..=255, _, _, _) => Reach::OperatorOnly("not a unicast address"),
        _ => Reach::Anyone,
    }
}

fn reach_of_v6(address: Ipv6Addr) -> Reach {
    let segments = address.segments();
    if address == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Reach::Never("a cloud metadata service");
    }
    if segments[0] & 0xffc0 == 0xfe80 {
        return Reach::Never("link-local");
    }
    if address.is_loopback() {
        return Reach::OperatorOnly("this machine (loopback)");
    }
    if address.is_unspecified() {
        return Reach::OperatorOnly("this machine (unspecified address)");
    }
    // IPv4 carried inside IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
    // (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
    let embedded = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    if let Some(v4) = address.to_ipv4() {
        return reach_of_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return reach_of_v4(embedded(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return reach_of_v4(embedded(segments[1], segments[2]));
    }
    if segments[0] & 0xfe00 == 0xfc00 {
        return Reach::OperatorOnly("a private (unique local) address");
    }
    if segments[0] & 0xffc0 == 0xfec0 {
        return Reach::OperatorOnly("a private (site-local) address");
    }
    if segments[0] & 0xff00 == 0xff00 {
        return Reach::OperatorOnly("not a unicast address");
    }
    Reach::Anyone
}

/// The URL without a password or token: `https://user:secret@host/x` → `https://user@host/x`,
/// and the scp-like `user:secret@host:x` → `user@host:x`.
pub fn redact(text: &str) -> String {
    let (prefix, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        // Without a scheme only the first path segment can hold `user:password@host`.
        None => (String::new(), text),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{prefix}{user}@{host}{path}")
        }
        _ => text.to_owned(),
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

    /// A resolver that knows a few names and fails for the rest, so that tests never use DNS.
    fn table(host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        let addresses: &[&str] = match host {
            "git.example.com" => &["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
            "intranet.example.com" => &["93.184.215.14", "10.1.2.3"],
            "rebind.example.com" => &["169.254.169.254"],
            "v6-private.example.com" => &["fd12:3456::1"],
            _ => return Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such host")),
        };
        Ok(addresses.iter().map(|address| address.parse().expect("a test address")).collect())
    }

    fn parse(text: &str, origin: Origin) -> Result<Location, SourceError> {
        Source::parse_with(text, None, None, origin, &table).map(|source| source.location)
    }

    #[test]
    fn allow_list() {
        assert!(matches!(
            parse("https://git.example.com/org/repo.git", Origin::Network),
            Ok(Location::Remote(_))
        ));
        assert!(matches!(
            parse("ssh://git@git.example.com/org/repo.git", Origin::Network),
            Ok(Location::Remote(_))
        ));
        assert!(matches!(
            parse("git@git.example.com:org/repo.git", Origin::Network),
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
    fn link_local_and_metadata_addresses_are_refused_from_anyone() {
        for refused in [
            "https://169.254.169.254/latest/meta-data",
            "https://169.254.169.254./x",
            "https://169.254.1.1/x",
            "https://2852039166/x",
            "https://0xa9fea9fe/x",
            "https://0xA9.0xFE.0xA9.0xFE/x",
            "https://0251.0376.0251.0376/x",
            "https://169.254.43518/x",
            "https://[::ffff:169.254.169.254]/x",
            "https://[::ffff:a9fe:a9fe]/x",
            "https://[64:ff9b::a9fe:a9fe]/x",
            "https://[2002:a9fe:a9fe::1]/x",
            "https://[fe80::1]/x",
            "https://[fd00:ec2::254]/x",
            "https://100.100.100.200/x",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://METADATA.google.internal./x",
            "https://user@169.254.169.254:443/x",
            "https://git.example.com@169.254.169.254/x",
            "https://169.254.169.254#@git.example.com/x",
            "ssh://git@[fe80::1]:22/org/x",
            "git@169.254.169.254:org/x",
            "git@[fe80::1]:org/x",
            "https://%31%36%39.254.169.254/x",
        ] {
            for origin in [Origin::Operator, Origin::Network] {
                assert!(parse(refused, origin).is_err(), "{refused} must be refused ({origin:?})");
            }
        }
        let error = parse("https://2852039166/x", Origin::Operator).unwrap_err();
        assert!(error.reason.contains("169.254.169.254"), "{error}");
        assert!(error.reason.contains("metadata"), "{error}");
    }

    #[test]
    fn internal_addresses_only_from_the_operator() {
        for internal in [
            "https://127.0.0.1:8443/org/x",
            "https://2130706433/x",
            "https://localhost/x",
            "https://git.localhost/x",
            "https://[::1]/x",
            "https://0.0.0.0/x",
            "https://10.0.0.7/x",
            "https://172.16.4.4/x",
            "https://172.31.255.255/x",
            "https://192.168.1.10/x",
            "https://100.64.0.1/x",
            "https://[fd12:3456::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "ssh://git@10.0.0.7/org/x",
            "git@192.168.1.10:org/x",
            "https://intranet.example.com/org/x",
            "https://v6-private.example.com/org/x",
        ] {
            assert!(parse(internal, Origin::Operator).is_ok(), "{internal} is the operator's choice");
            assert!(
                parse(internal, Origin::Network).is_err(),
                "{internal} must be refused from the network"
            );
        }
        for public in ["https://172.32.0.1/x", "https://100.128.0.1/x", "https://[2606:4700::1111]/x"] {
            assert!(parse(public, Origin::Network).is_ok(), "{public} is public");
        }
    }

    #[test]
    fn host_names_from_the_network_are_resolved() {
        let error = parse("https://rebind.example.com/org/x", Origin::Network).unwrap_err();
        assert!(error.reason.contains("resolves to 169.254.169.254"), "{error}");
        // The operator's names are not looked up; only metadata names are refused by name.
        assert!(parse("https://rebind.example.com/org/x", Origin::Operator).is_ok());
        let error = parse("https://unknown.example.com/org/x", Origin::Network).unwrap_err();
        assert!(error.reason.contains("cannot be resolved"), "{error}");
    }

    #[test]
    fn loose_ipv4_forms() {
        assert_eq!(loose_ipv4("2852039166"), Some(Ipv4Addr::new(169, 254, 169, 254)));
        assert_eq!(loose_ipv4("0xa9fea9fe"), Some(Ipv4Addr::new(169, 254, 169, 254)));
        assert_eq!(loose_ipv4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(loose_ipv4("10.0.258"), Some(Ipv4Addr::new(10, 0, 1, 2)));
        assert_eq!(loose_ipv4("256.1.1.1"), None);
        assert_eq!(loose_ipv4("1.2.3.4.5"), None);
        assert_eq!(loose_ipv4("4294967296"), None);
        assert_eq!(loose_ipv4("git"), None);
        assert_eq!(loose_ipv4("08.1.1.1"), None);
    }

    #[test]
    fn hosts_are_read_like_git_reads_them() {
        assert_eq!(
            remote_host("https://bot:pw@Git.Example.com:8443/x"),
            Some(("git.example.com".to_owned(), Some(8443)))
        );
        assert_eq!(remote_host("ssh://git@[::1]:22/x"), Some(("::1".to_owned(), Some(22))));
        assert_eq!(remote_host("git@example.com:org/x"), Some(("example.com".to_owned(), None)));
        assert_eq!(remote_host("git@[::1]:org/x"), Some(("::1".to_owned(), None)));
        assert_eq!(remote_host("https://example.com:99999/x"), None);
    }

    #[test]
    fn credentials_never_show() {
        let source = Source::parse("https://bot:s3cret@example.com/org/repo.git", None, None, Origin::Operator).unwrap();
        assert_eq!(source.url, "https://bot@example.com/org/repo.git");
        assert_eq!(source.name, "repo");
        for (given, shown) in [
            ("https://bot:s3cret@example.com/org/x", "https://bot@example.com/org/x"),
            ("ssh://git:s3cret@example.com/org/x", "ssh://git@example.com/org/x"),
            ("git:s3cret@example.com:org/x", "git@example.com:org/x"),
            ("ftp://bot:s3cret@example.com/x", "ftp://bot@example.com/x"),
            ("https://bot:s3cret@169.254.169.254/x", "https://bot@169.254.169.254/x"),
            ("https://bot:s3:cr@et@example.com/x", "https://bot@example.com/x"),
            ("git@example.com:org/x", "git@example.com:org/x"),
            ("/srv/a@b:c", "/srv/a@b:c"),
        ] {
            assert_eq!(redact(given), shown);
        }
        for refused in [
            "ftp://bot:s3cret@example.com/x",
            "git:s3cret@example.com:org/x",
            "https://bot:s3cret@169.254.169.254/x",
            "ssh://git:s3cret@[fe80::1]/x",
            "git:s3cret@git.example.com:org/x",
        ] {
            let error = Source::parse_with(refused, None, None, Origin::Network, &table).unwrap_err();
            assert!(!error.to_string().contains("s3cret"), "{error}");
            assert!(!format!("{error:?}").contains("s3cret"), "{error:?}");
        }
    }
}
