//! A page's query string as typed parameters: repeated keys (`?kind=api&kind=component`) become
//! lists, unknown keys are ignored, and the same parameters are written back into links (so a
//! filtered, sorted view is a link anyone can share).

/// The decoded `key=value` pairs of a query string, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// The longest query string read; the rest is ignored (no page needs more).
const MAX_QUERY: usize = 16 * 1024;

impl Params {
    /// Decodes `raw` (the part after `?`, if any).
    pub fn parse(raw: Option<&str>) -> Params {
        let raw = raw.unwrap_or_default();
        let raw = &raw[..floor_char_boundary(raw, MAX_QUERY)];
        Params {
            pairs: form_urlencoded::parse(raw.as_bytes())
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect(),
        }
    }

    /// The first non-empty value of `key`, trimmed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.trim())
            .find(|value| !value.is_empty())
    }

    /// Every non-empty value of `key`, trimmed, in order, without repeats.
    pub fn all(&self, key: &str) -> Vec<String> {
        let mut values: Vec<String> = Vec::new();
        for (name, value) in &self.pairs {
            let value = value.trim();
            if name == key && !value.is_empty() && !values.iter().any(|seen| seen == value) {
                values.push(value.to_owned());
            }
        }
        values
    }

    /// A number parameter within `range`, else `default`.
    pub fn number(&self, key: &str, default: u32, range: std::ops::RangeInclusive<u32>) -> u32 {
        self.get(key)
            .and_then(|value| value.parse::<u32>().ok())
            .filter(|value| range.contains(value))
            .unwrap_or(default)
    }

    /// These parameters with `key` set to `value` (replacing its values; `None` removes it),
    /// encoded as a query string starting with `?` (empty when nothing is left).
    pub fn with(&self, key: &str, value: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|(name, value)| name != key && !value.trim().is_empty())
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        if let Some(value) = value {
            pairs.push((key, value));
        }
        encode(&pairs)
    }
}

/// `?k=v&...` (empty for no pairs).
pub fn encode(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut serializer = form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    for (key, value) in pairs {
        serializer.append_pair(key, value);
    }
    serializer.finish()
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    let mut at = at;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_become_lists_and_links_keep_them() {
        let params = Params::parse(Some("kind=api&kind=component&kind=api&owner=group%3Adefault%2Fa+b&q="));
        assert_eq!(params.all("kind"), vec!["api", "component"]);
        assert_eq!(params.get("owner"), Some("group:default/a b"));
        assert_eq!(params.get("q"), None);
        assert_eq!(
            params.with("sort", Some("name")),
            "?kind=api&kind=component&kind=api&owner=group%3Adefault%2Fa+b&sort=name"
        );
        assert_eq!(Params::parse(None).with("x", None), "");
    }

    #[test]
    fn numbers_outside_their_range_take_the_default() {
        let params = Params::parse(Some("depth=9&first=abc&n=3"));
        assert_eq!(params.number("depth", 2, 1..=4), 2);
        assert_eq!(params.number("first", 50, 1..=200), 50);
        assert_eq!(params.number("n", 1, 1..=5), 3);
    }
}
