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
