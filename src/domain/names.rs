//! The Backstage field-format rules as pure predicates: names, namespaces, tags, labels, URLs.
//!
//! Each function states one rule from `docs/validation.md`; they are written by hand (no regex
//! engine) because they run for every field of every file and must stay fast.

const MAX_NAME_LENGTH: usize = 63;
const MAX_SUBDOMAIN_LENGTH: usize = 253;

fn is_alphanumeric(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// `metadata.name`: `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`, 1 to 63 characters.
pub fn is_valid_object_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LENGTH {
        return false;
    }
    let first_and_last_ok = is_alphanumeric(bytes[0]) && is_alphanumeric(bytes[bytes.len() - 1]);
    first_and_last_ok
        && bytes
            .iter()
            .all(|&byte| is_alphanumeric(byte) || matches!(byte, b'-' | b'_' | b'.'))
}

/// A DNS label: lowercase alphanumeric runs separated by dashes, 1 to 63 characters.
pub fn is_valid_dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LENGTH {
        return false;
    }
    let lower_alphanumeric = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    lower_alphanumeric(bytes[0])
        && lower_alphanumeric(bytes[bytes.len() - 1])
        && bytes.iter().all(|&byte| lower_alphanumeric(byte) || byte == b'-')
}

/// `metadata.namespace`: a DNS label.
pub fn is_valid_namespace(text: &str) -> bool {
    is_valid_dns_label(text)
}

/// A DNS subdomain: dot-separated DNS labels, at most 253 characters.
pub fn is_valid_dns_subdomain(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_SUBDOMAIN_LENGTH && text.split('.').all(is_valid_dns_label)
}

/// `[prefix/]suffix` where the prefix (if any) and the suffix each pass their own rule.
fn is_valid_prefix_and_or_suffix(text: &str, is_valid_prefix: fn(&str) -> bool, is_valid_suffix: fn(&str) -> bool) -> bool {
    let mut parts = text.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(suffix), None, None) => is_valid_suffix(suffix),
        (Some(prefix), Some(suffix), None) => is_valid_prefix(prefix) && is_valid_suffix(suffix),
        _ => false,
    }
}

/// `apiVersion`: `[dns-subdomain/]suffix`, the suffix alphanumeric and 1 to 63 characters.
pub fn is_valid_api_version(text: &str) -> bool {
    is_valid_prefix_and_or_suffix(text, is_valid_dns_subdomain, |suffix| {
        !suffix.is_empty() && suffix.len() <= MAX_NAME_LENGTH && suffix.bytes().all(is_alphanumeric)
    })
}

/// `kind`: `^[a-zA-Z][a-z0-9A-Z]*$`, 1 to 63 characters.
pub fn is_valid_kind(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_NAME_LENGTH && bytes[0].is_ascii_alphabetic() && bytes.iter().all(|&byte| is_alphanumeric(byte))
}

/// A label key: `[dns-subdomain/]object-name`.
pub fn is_valid_label_key(text: &str) -> bool {
    is_valid_prefix_and_or_suffix(text, is_valid_dns_subdomain, is_valid_object_name)
}

/// A label value: empty, or an object name.
pub fn is_valid_label_value(text: &str) -> bool {
    text.is_empty() || is_valid_object_name(text)
}

/// An annotation key: `[dns-subdomain/]object-name` (annotation values may be any string).
pub fn is_valid_annotation_key(text: &str) -> bool {
    is_valid_prefix_and_or_suffix(text, is_valid_dns_subdomain, is_valid_object_name)
}

/// A tag: runs of `[a-z0-9:+#]` separated by single dashes, 1 to 63 characters.
pub fn is_valid_tag(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LENGTH {
        return false;
    }
    let tag_byte = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b':' | b'+' | b'#');
    text.split('-').all(|run| !run.is_empty() && run.bytes().all(tag_byte))
}

/// Schemes that WHATWG URL parsing treats as "special": they need a host after `//`.
const SPECIAL_SCHEMES: &[&str] = &["http", "https", "ws", "wss", "ftp"];

/// A URL as a browser's URL parser accepts it: a scheme, and for web schemes a host.
pub fn is_valid_url(text: &str) -> bool {
    let text = text.trim_matches(|character: char| character <= ' ');
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return false;
    }
    let scheme = scheme.to_ascii_lowercase();
    if !SPECIAL_SCHEMES.contains(&scheme.as_str()) {
        return true;
    }
    let after_slashes = rest.trim_start_matches(['/', '\\']);
    let authority = &after_slashes[..after_slashes.find(['/', '\\', '?', '#']).unwrap_or(after_slashes.len())];
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (host, port) = match host_and_port.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return false,
        },
        None => match host_and_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_and_port, None),
        },
    };
    let port_ok = port.is_none_or(|port| port.is_empty() || port.parse::<u16>().is_ok());
    !host.is_empty() && port_ok && !host.contains(|character: char| character.is_whitespace() || "<>^|\"".contains(character))
}

/// Schemes that make a browser run the link or show content the link itself carries, instead
/// of going to a page: a descriptor's author could run script in the catalog's pages with them.
pub const DANGEROUS_LINK_SCHEMES: &[&str] = &["javascript", "data", "vbscript"];

/// The dangerous scheme (lowercase) that `url` uses, read as a browser reads a link: leading
/// whitespace, control characters and byte-order marks are ignored, tabs and line breaks anywhere are dropped,
/// and case does not matter (` JaVa\tScript:` is `javascript`).
pub fn dangerous_link_scheme(url: &str) -> Option<&'static str> {
    let rest = url.trim_start_matches(|character: char| {
        character <= ' ' || character == '\u{feff}' || character.is_whitespace() || character.is_control()
    });
    let longest = DANGEROUS_LINK_SCHEMES.iter().map(|scheme| scheme.len()).max().unwrap_or(0);
    let mut scheme = String::with_capacity(longest);
    for character in rest.chars().filter(|character| !matches!(character, '\t' | '\n' | '\r')) {
        if character == ':' {
            return DANGEROUS_LINK_SCHEMES.iter().copied().find(|dangerous| *dangerous == scheme);
        }
        if scheme.len() >= longest {
            return None;
        }
        scheme.push(character.to_ascii_lowercase());
    }
    None
}

/// Turns a display name into a valid entity name (`Payments Service` → `payments-service`), as used
/// for Compass components that carry no slug. Returns `None` when nothing usable is left.
pub fn slugify(display_name: &str) -> Option<String> {
    let mut slug = String::with_capacity(display_name.len());
    for character in display_name.chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(MAX_NAME_LENGTH);
    let slug = slug.trim_end_matches('-').to_owned();
    (!slug.is_empty()).then_some(slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        assert!(is_valid_object_name("a"));
        assert!(is_valid_object_name("my-service_v2.1"));
        assert!(!is_valid_object_name("invalid component"));
        assert!(!is_valid_object_name("-leading"));
        assert!(!is_valid_object_name("trailing."));
        assert!(!is_valid_object_name(&"a".repeat(64)));
        assert!(is_valid_object_name(&"a".repeat(63)));
        assert!(!is_valid_object_name("démo"));
    }

    #[test]
    fn tags_and_urls() {
        assert!(is_valid_tag("java"));
        assert!(is_valid_tag("c++"));
        assert!(is_valid_tag("lang:go-1"));
        assert!(!is_valid_tag("Java"));
        assert!(!is_valid_tag("a--b"));
        assert!(!is_valid_tag("documentación"));
        assert!(is_valid_url("https://example.com/x?y#z"));
        assert!(is_valid_url("mailto:team@example.com"));
        assert!(!is_valid_url("not a url"));
        assert!(!is_valid_url("https://"));
        assert!(!is_valid_url("example.com"));
    }

    #[test]
    fn dangerous_link_schemes() {
        assert_eq!(dangerous_link_scheme("javascript:alert(1)"), Some("javascript"));
        assert_eq!(dangerous_link_scheme(" JaVaScRiPt:alert(1)"), Some("javascript"));
        assert_eq!(dangerous_link_scheme("\u{1}\u{7f}\t\u{a0}javascript:void(0)"), Some("javascript"));
        assert_eq!(dangerous_link_scheme("java\tscr\nipt:alert(1)"), Some("javascript"));
        assert_eq!(dangerous_link_scheme("DATA:text/html;base64,PHNjcmlwdD4="), Some("data"));
        assert_eq!(dangerous_link_scheme("vbscript:msgbox"), Some("vbscript"));
        assert_eq!(dangerous_link_scheme("https://example.com/javascript:x"), None);
        assert_eq!(dangerous_link_scheme("mailto:data@example.com"), None);
        assert_eq!(dangerous_link_scheme("javascripts:x"), None);
        assert_eq!(dangerous_link_scheme("java script:x"), None);
        assert_eq!(dangerous_link_scheme("data"), None);
        assert_eq!(dangerous_link_scheme(""), None);
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("Payments Service").as_deref(), Some("payments-service"));
        assert_eq!(
            slugify("  CampusHires2025_Ecommerce_UI ").as_deref(),
            Some("campushires2025-ecommerce-ui")
        );
        assert_eq!(slugify("日本"), None);
    }
}
