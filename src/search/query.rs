//! Queries and highlights, the same for both backends: the query cleaned and cut into folded
//! words (lowercase, accents removed), each with its typo budget; and the fields of an entity
//! that a query matched, as snippets with match ranges.
//!
//! A word is a run of Unicode letters and digits (with the combining marks inside it), or a
//! single emoji or pictographic symbol; everything else (spaces, punctuation, `-`, `_`, `/`)
//! separates words. So `payments-api` is `payments` and `api`, a run of CJK characters is one
//! word, and `👩‍💻` is `👩` and `💻`. A query word matches a word of the entity when it is
//! equal to it or within its typo budget of it; the last word of the query (the one being typed)
//! also matches the words it begins, and their beginnings within its typo budget.

use std::collections::HashMap;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use crate::search::{MAX_QUERY_BYTES, MAX_QUERY_TERMS, SearchError};
use crate::store::SearchEntity;

/// One query word, folded, with the edits it may be off by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub typos: u8,
    /// Whether it also matches the words it begins: the last word of the query (search as you
    /// type), not the words before it.
    pub prefix: bool,
}

/// A query ready for a backend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedQuery {
    /// The query with control characters turned into spaces, trimmed (what Meilisearch gets).
    pub text: String,
    /// At most [`crate::search::MAX_QUERY_TERMS`]; empty: a browse.
    pub terms: Vec<Term>,
}

/// A field of a hit that the query matched: the text shown (the whole value, or a window of a
/// long one), and the matched ranges in it, as offsets in Unicode code points, end exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMatch {
    pub field: &'static str,
    pub snippet: String,
    pub ranges: Vec<(usize, usize)>,
}

/// A word of a text: folded, and where it is in the original text (Unicode code points, end
/// exclusive; the range includes the combining marks and emoji modifiers attached to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub folded: String,
    pub start: usize,
    pub end: usize,
}

/// How a query word matched a word of the entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Exact,
    /// The query word is the beginning of the word.
    Prefix,
    /// The query word is this many edits away from the word, or from its beginning.
    Typo(u8),
}

/// How much a field weighs in ranking: A (name, title) highest, then B (tags, labels), C
/// (description, owner, system), D (API definition text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    A,
    B,
    C,
    D,
}

impl Tier {
    /// The weight letter of a Postgres `tsvector` position.
    pub fn letter(self) -> char {
        match self {
            Tier::A => 'A',
            Tier::B => 'B',
            Tier::C => 'C',
            Tier::D => 'D',
        }
    }
}

/// Characters of context shown before the first match in a long field's snippet.
const CONTEXT_BEFORE: usize = 40;
/// Characters (about) of a long field's snippet; a field this long or shorter is shown whole.
const SNIPPET_CHARS: usize = 160;
/// The mark at a snippet's cut ends.
const ELLIPSIS: char = '…';

/// `text` lowercased, with diacritics removed (canonical decomposition, combining marks
/// dropped), and a few letters without a decomposition spelled in plain Latin (`ł` → `l`,
/// `ß` → `ss`). Character by character: the folding of a word does not depend on its neighbours.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for character in text.chars() {
        fold_char(character, &mut folded);
    }
    folded
}

/// Appends the folding of `character` to `out`.
fn fold_char(character: char, out: &mut String) {
    if character.is_ascii() {
        out.push(character.to_ascii_lowercase());
        return;
    }
    for lower in character.to_lowercase() {
        match lower {
            'ς' => out.push('σ'),
            'ø' => out.push('o'),
            'đ' | 'ð' => out.push('d'),
            'ł' => out.push('l'),
            'ı' => out.push('i'),
            'ħ' => out.push('h'),
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'þ' => out.push_str("th"),
            _ => decompose_canonical(lower, |part| {
                if !is_combining_mark(part) {
                    out.push(part);
                }
            }),
        }
    }
}

/// What a character is to the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    /// A letter or digit: part of a word.
    Alphanumeric,
    /// An emoji or pictographic symbol: a word of its own.
    Symbol,
    /// A combining mark, variation selector, zero-width joiner or emoji modifier: belongs to
    /// the word before it, adds nothing to its folding.
    Attachment,
    /// Everything else: between words.
    Separator,
}

fn classify(character: char) -> CharClass {
    if character.is_alphanumeric() {
        return CharClass::Alphanumeric;
    }
    if character.is_ascii() || character.is_whitespace() || character.is_control() {
        return CharClass::Separator;
    }
    let code = u32::from(character);
    if is_combining_mark(character) || matches!(code, 0x200D | 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0xE0100..=0xE01EF)
    {
        return CharClass::Attachment;
    }
    if is_symbol(code) {
        return CharClass::Symbol;
    }
    CharClass::Separator
}

/// Emoji and pictographic symbols (without the brackets found among them).
fn is_symbol(code: u32) -> bool {
    let bracket = matches!(
        code,
        0x2308..=0x230B | 0x2329 | 0x232A | 0x2768..=0x2775 | 0x27C5 | 0x27C6 | 0x27E6..=0x27EF | 0x2983..=0x2998 | 0x29D8..=0x29DB | 0x29FC | 0x29FD
    );
    !bracket
        && matches!(
            code,
            0x00A9 | 0x00AE | 0x2100..=0x214F | 0x2190..=0x2BFF | 0x3030 | 0x303D | 0x3200..=0x32FF | 0x1F000..=0x1FBFF
        )
}

/// The words of `text`, in order.
pub fn words(text: &str) -> Vec<Word> {
    let mut found = Vec::new();
    // The word being read, and whether it is a symbol (which takes attachments only).
    let mut current: Option<(Word, bool)> = None;
    for (offset, character) in text.chars().enumerate() {
        match classify(character) {
            CharClass::Alphanumeric => match &mut current {
                Some((word, false)) => {
                    fold_char(character, &mut word.folded);
                    word.end = offset + 1;
                }
                _ => {
                    found.extend(current.take().map(|(word, _)| word));
                    let mut folded = String::new();
                    fold_char(character, &mut folded);
                    current = Some((
                        Word {
                            folded,
                            start: offset,
                            end: offset + 1,
                        },
                        false,
                    ));
                }
            },
            CharClass::Symbol => {
                found.extend(current.take().map(|(word, _)| word));
                let mut folded = String::new();
                fold_char(character, &mut folded);
                current = Some((
                    Word {
                        folded,
                        start: offset,
                        end: offset + 1,
                    },
                    true,
                ));
            }
            CharClass::Attachment => {
                if let Some((word, _)) = &mut current {
                    word.end = offset + 1;
                }
            }
            CharClass::Separator => found.extend(current.take().map(|(word, _)| word)),
        }
    }
    found.extend(current.map(|(word, _)| word));
    // A word that folds to nothing (a lone mark-like letter) cannot be searched for.
    found.retain(|word| !word.folded.is_empty());
    found
}

/// The typos a query word may have, by its length in characters (Meilisearch's defaults):
/// none under 5, one from 5, two from 9.
pub fn typo_budget(term: &str) -> u8 {
    match term.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Cleans `query` and cuts it into terms. Refuses a query longer than [`MAX_QUERY_BYTES`].
pub fn parse(query: &str) -> Result<ParsedQuery, SearchError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(SearchError::InvalidQuery(format!(
            "the query is {} bytes long; the limit is {MAX_QUERY_BYTES} bytes",
            query.len()
        )));
    }
    let cleaned: String = query.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = cleaned.trim().to_owned();
    let query_words = words(&text);
    let last = query_words.len().saturating_sub(1);
    let mut terms: Vec<Term> = Vec::new();
    for (index, word) in query_words.into_iter().enumerate() {
        let prefix = index == last;
        if let Some(term) = terms.iter_mut().find(|term| term.text == word.folded) {
            term.prefix |= prefix;
            continue;
        }
        if terms.len() == MAX_QUERY_TERMS {
            break;
        }
        terms.push(Term {
            typos: typo_budget(&word.folded),
            text: word.folded,
            prefix,
        });
    }
    Ok(ParsedQuery { text, terms })
}

/// How `term` matches the folded `word`, if it does.
pub fn term_matches(term: &Term, word: &str) -> Option<MatchKind> {
    match_word(term, word).map(|(kind, _)| kind)
}

/// How `term` matches the folded `word`, and how many characters of the word the match covers
/// (a typo'd match covers the whole word or the beginning of it that is within the budget).
pub(crate) fn match_word(term: &Term, word: &str) -> Option<(MatchKind, usize)> {
    if word == term.text {
        return Some((MatchKind::Exact, word.chars().count()));
    }
    if term.prefix && word.starts_with(term.text.as_str()) {
        return Some((MatchKind::Prefix, term.text.chars().count()));
    }
    if term.typos == 0 {
        return None;
    }
    let budget = usize::from(term.typos);
    let term_length = term.text.chars().count();
    let word_length = word.chars().count();
    // The word is too short to be within the budget.
    if word_length + budget < term_length {
        return None;
    }
    // A whole word is compared only when it is not longer than the budget allows.
    if !term.prefix && word_length > term_length + budget {
        return None;
    }
    // The longest part of the word compared. Every edit changes at most one character of the
    // multiset of characters, so a term with more characters missing from it than the budget
    // matches none of its beginnings: most words are ruled out here, cheaply.
    let longest_compared = (term_length + budget).min(word_length);
    let mut counts = [0i32; 64];
    for character in term.text.chars() {
        counts[character as usize % 64] += 1;
    }
    for character in word.chars().take(longest_compared) {
        counts[character as usize % 64] -= 1;
    }
    let missing: i32 = counts.iter().filter(|&&count| count > 0).sum();
    if missing > i32::from(term.typos) {
        return None;
    }
    let term_chars: Vec<char> = term.text.chars().collect();
    let word_chars: Vec<char> = word.chars().take(longest_compared).collect();
    // The whole word, then its beginnings from `budget` characters shorter to `budget` longer
    // than the term.
    let mut best: Option<(usize, usize)> = None;
    if word_length <= term_length + budget {
        let distance = strsim::generic_damerau_levenshtein(&term_chars, &word_chars);
        if distance <= budget {
            best = Some((distance, word_length));
        }
    }
    // The beginnings (the last word of the query only).
    let shortest = term_length.saturating_sub(budget).max(1);
    let longest = if term.prefix {
        (term_length + budget).min(word_length.saturating_sub(1))
    } else {
        0
    };
    for length in shortest..=longest {
        let distance = strsim::generic_damerau_levenshtein(&term_chars, &word_chars[..length]);
        if distance <= budget && best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, length));
        }
    }
    best.map(|(distance, length)| (MatchKind::Typo(u8::try_from(distance).unwrap_or(u8::MAX)), length))
}

/// The searchable fields of `entity`, with their tiers: one entry per tag and label.
pub fn fields(entity: &SearchEntity) -> Vec<(&'static str, Tier, &str)> {
    let mut fields = vec![("name", Tier::A, entity.name.as_str())];
    fields.extend(entity.title.as_deref().map(|title| ("title", Tier::A, title)));
    fields.extend(entity.tags.iter().map(|tag| ("tags", Tier::B, tag.as_str())));
    fields.extend(entity.labels.iter().map(|label| ("labels", Tier::B, label.as_str())));
    fields.extend(
        entity
            .description
            .as_deref()
            .map(|description| ("description", Tier::C, description)),
    );
    fields.extend(entity.owner.as_deref().map(|owner| ("owner", Tier::C, owner)));
    fields.extend(entity.system.as_deref().map(|system| ("system", Tier::C, system)));
    fields.extend(entity.definition.as_deref().map(|definition| ("definition", Tier::D, definition)));
    fields
}

/// The fields of `entity` that `query` matched, in field order, with their snippets.
pub fn highlight(query: &ParsedQuery, entity: &SearchEntity) -> Vec<FieldMatch> {
    if query.terms.is_empty() {
        return Vec::new();
    }
    let mut matcher = Matcher {
        terms: &query.terms,
        known: HashMap::new(),
    };
    fields(entity)
        .into_iter()
        .filter_map(|(field, _, text)| highlight_field(&mut matcher, field, text))
        .collect()
}

/// The terms, and what is known of the words already looked at (a text repeats its words).
struct Matcher<'a> {
    terms: &'a [Term],
    known: HashMap<String, Option<usize>>,
}

impl Matcher<'_> {
    /// The longest match of any term on `word`, in folded characters of the word.
    fn best_match(&mut self, word: &str) -> Option<usize> {
        if let Some(known) = self.known.get(word) {
            return *known;
        }
        let best = self
            .terms
            .iter()
            .filter_map(|term| match_word(term, word).map(|(_, length)| length))
            .max();
        self.known.insert(word.to_owned(), best);
        best
    }
}

/// One matched word of a field: the original code points it covers that matched.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
}

/// The match of `terms` in one field's `text`, if any word matched.
fn highlight_field(matcher: &mut Matcher<'_>, field: &'static str, text: &str) -> Option<FieldMatch> {
    let text_words = words(text);
    let first = text_words.iter().position(|word| matcher.best_match(&word.folded).is_some())?;
    let characters: Vec<char> = text.chars().collect();
    let (window_start, window_end) = window(&characters, &text_words, first);
    let mut hits = Vec::new();
    for word in &text_words[first..] {
        if word.start >= window_end {
            break;
        }
        if let Some(matched_chars) = matcher.best_match(&word.folded) {
            let end = original_end(&characters, word, matched_chars).min(window_end);
            if end > word.start {
                hits.push(Hit { start: word.start, end });
            }
        }
    }
    let mut snippet = String::new();
    let mut shift = 0;
    if window_start > 0 {
        snippet.push(ELLIPSIS);
        shift = 1;
    }
    snippet.extend(
        characters[window_start..window_end]
            .iter()
            .map(|&c| if c.is_control() { ' ' } else { c }),
    );
    if window_end < characters.len() {
        snippet.push(ELLIPSIS);
    }
    let ranges = hits
        .iter()
        .map(|hit| (hit.start - window_start + shift, hit.end - window_start + shift))
        .collect();
    Some(FieldMatch { field, snippet, ranges })
}

/// The end, in the original text, of the first `folded_chars` folded characters of `word` (with
/// the marks attached to the last of them).
fn original_end(characters: &[char], word: &Word, folded_chars: usize) -> usize {
    let mut produced = 0;
    let mut folded = String::new();
    for (offset, &character) in characters.iter().enumerate().take(word.end).skip(word.start) {
        if produced >= folded_chars {
            // Marks attached to the last matched character belong to the match.
            if classify(character) == CharClass::Attachment {
                continue;
            }
            return offset;
        }
        folded.clear();
        fold_char(character, &mut folded);
        produced += folded.chars().count();
    }
    word.end
}

/// The part of a field shown: all of it when short, else about [`SNIPPET_CHARS`] characters
/// from a little before the first matched word, cut at word boundaries.
fn window(characters: &[char], text_words: &[Word], first: usize) -> (usize, usize) {
    if characters.len() <= SNIPPET_CHARS {
        return (0, characters.len());
    }
    let first_word = &text_words[first];
    let wanted_start = first_word.start.saturating_sub(CONTEXT_BEFORE);
    let start = if wanted_start == 0 {
        0
    } else {
        text_words[..=first]
            .iter()
            .find(|word| word.start >= wanted_start)
            .map_or(first_word.start, |word| word.start)
    };
    let wanted_end = start + SNIPPET_CHARS;
    if wanted_end >= characters.len() {
        return (start, characters.len());
    }
    let end = text_words[first..]
        .iter()
        .take_while(|word| word.end <= wanted_end)
        .last()
        .map_or(first_word.end, |word| word.end)
        .max(first_word.end)
        .min(start + 2 * SNIPPET_CHARS);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(name: &str) -> SearchEntity {
        SearchEntity::component_named(name)
    }

    fn folded_words(text: &str) -> Vec<String> {
        words(text).into_iter().map(|word| word.folded).collect()
    }

    /// A term as the last word of a query (a prefix).
    fn term(text: &str) -> Term {
        Term {
            text: text.into(),
            typos: typo_budget(text),
            prefix: true,
        }
    }

    /// A term before the last word of a query (a whole word).
    fn whole(text: &str) -> Term {
        Term {
            prefix: false,
            ..term(text)
        }
    }

    fn texts(query: &ParsedQuery) -> Vec<&str> {
        query.terms.iter().map(|term| term.text.as_str()).collect()
    }

    /// The highlighted parts of a field match, as text.
    fn marked(field: &FieldMatch) -> Vec<String> {
        let characters: Vec<char> = field.snippet.chars().collect();
        field
            .ranges
            .iter()
            .map(|&(start, end)| characters[start..end].iter().collect())
            .collect()
    }

    #[test]
    fn folding_lowercases_and_removes_accents() {
        assert_eq!(fold("Crème Brûlée"), "creme brulee");
        assert_eq!(fold("ÉCOLE"), "ecole");
        // Decomposed input folds like composed input.
        assert_eq!(fold("Cre\u{300}me"), "creme");
        assert_eq!(fold("Łódź Straße"), "lodz strasse");
        assert_eq!(fold("ΟΔΟΣ"), fold("οδος"));
    }

    #[test]
    fn words_are_alphanumeric_runs() {
        assert_eq!(folded_words("payments-api"), ["payments", "api"]);
        assert_eq!(folded_words("shop_team"), ["shop", "team"]);
        assert_eq!(
            folded_words("group:default/payments-team"),
            ["group", "default", "payments", "team"]
        );
        assert_eq!(folded_words("  Café au lait. "), ["cafe", "au", "lait"]);
        assert_eq!(folded_words("-- __ //"), Vec::<String>::new());
    }

    #[test]
    fn a_cjk_run_is_one_word() {
        assert_eq!(folded_words("支付服务 api"), ["支付服务", "api"]);
        assert_eq!(term_matches(&term("支付"), "支付服务"), Some(MatchKind::Prefix));
        assert_eq!(term_matches(&term("支付服务"), "支付服务"), Some(MatchKind::Exact));
        assert_eq!(term_matches(&term("服务"), "支付服务"), None);
    }

    #[test]
    fn each_emoji_is_a_word() {
        assert_eq!(folded_words("rocket🚀launch"), ["rocket", "🚀", "launch"]);
        assert_eq!(folded_words("🔥🔥"), ["🔥", "🔥"]);
        // Variation selectors, joiners and skin tones belong to the emoji before them.
        let joined = words("👩\u{200D}💻 👍\u{1F3FD} ☺\u{FE0F}");
        assert_eq!(
            joined
                .iter()
                .map(|word| (word.folded.as_str(), word.start, word.end))
                .collect::<Vec<_>>(),
            [("👩", 0, 2), ("💻", 2, 3), ("👍", 4, 6), ("☺", 7, 9)]
        );
        // Punctuation among the symbols is not a word.
        assert_eq!(folded_words("⟨x⟩ ‹y› “z”"), ["x", "y", "z"]);
    }

    #[test]
    fn typo_budgets_follow_word_length() {
        assert_eq!(typo_budget("paym"), 0);
        assert_eq!(typo_budget("payme"), 1);
        assert_eq!(typo_budget("payments"), 1);
        assert_eq!(typo_budget("paymentsx"), 2);
        assert_eq!(typo_budget("支付服务"), 0);
    }

    #[test]
    fn matches_exact_prefix_and_typos() {
        assert_eq!(term_matches(&term("payments"), "payments"), Some(MatchKind::Exact));
        assert_eq!(term_matches(&term("pay"), "payments"), Some(MatchKind::Prefix));
        // Under five characters: no typo.
        assert_eq!(term_matches(&term("pyam"), "paym"), None);
        // Five to eight: one.
        assert_eq!(term_matches(&term("paymnts"), "payments"), Some(MatchKind::Typo(1)));
        assert_eq!(term_matches(&term("pyamnets"), "payments"), None);
        assert_eq!(term_matches(&term("ledgr"), "ledger"), Some(MatchKind::Typo(1)));
        // A transposition is one typo.
        assert_eq!(term_matches(&term("ldeger"), "ledger"), Some(MatchKind::Typo(1)));
        // Nine and more: two.
        assert_eq!(term_matches(&term("inventroy"), "inventory"), Some(MatchKind::Typo(1)));
        assert_eq!(term_matches(&term("invntorry"), "inventory"), Some(MatchKind::Typo(2)));
        assert_eq!(term_matches(&term("ivnntorry"), "inventory"), None);
        // A typo in the beginning of a longer word.
        assert_eq!(term_matches(&term("paymnt"), "paymentsservice"), Some(MatchKind::Typo(1)));
        assert_eq!(term_matches(&term("servce"), "paymentsservice"), None);
        // Too far off.
        assert_eq!(term_matches(&term("billing"), "payments"), None);
    }

    #[test]
    fn parse_cleans_and_dedups() {
        let query = parse("  Payments\u{7}API payments  ").expect("valid");
        assert_eq!(query.text, "Payments API payments");
        assert_eq!(texts(&query), ["payments", "api"]);
        assert_eq!(query.terms[0].typos, 1);
        assert_eq!(query.terms[1].typos, 0);
        let emoji = parse("🚀 rocketship").expect("valid");
        assert_eq!(
            emoji.terms,
            [
                Term {
                    text: "🚀".into(),
                    typos: 0,
                    prefix: false
                },
                term("rocketship")
            ]
        );
        assert_eq!(emoji.terms[1].typos, 2);
    }

    #[test]
    fn only_the_last_word_is_a_prefix() {
        let query = parse("pay payments ap").expect("valid");
        assert_eq!(query.terms, [whole("pay"), whole("payments"), term("ap")]);
        // A word repeated last is a prefix.
        let query = parse("api payments api").expect("valid");
        assert_eq!(query.terms, [term("api"), whole("payments")]);
        assert_eq!(term_matches(&whole("pay"), "payments"), None);
        assert_eq!(term_matches(&whole("pay"), "pay"), Some(MatchKind::Exact));
        // Before the last word, a typo'd word is compared whole, not with beginnings.
        assert_eq!(term_matches(&whole("paymnts"), "payments"), Some(MatchKind::Typo(1)));
        assert_eq!(term_matches(&whole("paymnt"), "paymentsservice"), None);
        assert_eq!(term_matches(&term("paymnt"), "paymentsservice"), Some(MatchKind::Typo(1)));
        assert_eq!(term_matches(&whole("inventroy"), "inventory"), Some(MatchKind::Typo(1)));
        let mut payments = entity("payments-api");
        payments.title = Some("Pay the payments".into());
        let matches = highlight(&parse("pay ap").expect("valid"), &payments);
        let title = matches.iter().find(|field| field.field == "title").expect("title matched");
        assert_eq!(marked(title), ["Pay"]);
        let name = matches.iter().find(|field| field.field == "name").expect("name matched");
        assert_eq!(marked(name), ["ap"]);
    }

    #[test]
    fn control_characters_become_spaces() {
        let query = parse("\u{0}pay\nments\u{1b}[31m\t").expect("valid");
        assert_eq!(query.text, "pay ments [31m");
        assert_eq!(texts(&query), ["pay", "ments", "31m"]);
    }

    #[test]
    fn a_10kb_query_is_refused() {
        let long = "a".repeat(10 * 1024);
        match parse(&long) {
            Err(SearchError::InvalidQuery(message)) => assert!(message.contains(&MAX_QUERY_BYTES.to_string()), "{message}"),
            other => panic!("expected an invalid query, got {other:?}"),
        }
        assert!(parse(&"a".repeat(MAX_QUERY_BYTES)).is_ok());
    }

    #[test]
    fn separators_only_is_a_browse() {
        assert!(parse("-- // __ ... !!").expect("valid").terms.is_empty());
        assert!(parse("").expect("valid").terms.is_empty());
        assert!(parse(" \u{0}\u{1} ").expect("valid").terms.is_empty());
    }

    #[test]
    fn terms_are_capped() {
        let query = parse("a b c d e f g h i j k l m").expect("valid");
        assert_eq!(query.terms.len(), MAX_QUERY_TERMS);
    }

    #[test]
    fn highlights_name_title_and_tags() {
        let mut payments = entity("payments-api");
        payments.title = Some("Payments API".into());
        payments.tags = vec!["billing".into(), "payments".into()];
        let query = parse("pay").expect("valid");
        let matches = highlight(&query, &payments);
        assert_eq!(
            matches,
            [
                FieldMatch {
                    field: "name",
                    snippet: "payments-api".into(),
                    ranges: vec![(0, 3)]
                },
                FieldMatch {
                    field: "title",
                    snippet: "Payments API".into(),
                    ranges: vec![(0, 3)]
                },
                FieldMatch {
                    field: "tags",
                    snippet: "payments".into(),
                    ranges: vec![(0, 3)]
                },
            ]
        );
        assert!(highlight(&parse("").expect("valid"), &payments).is_empty());
    }

    #[test]
    fn ranges_count_code_points_of_accented_and_emoji_text() {
        let mut cafe = entity("cafe");
        cafe.title = Some("🚀 Crème brûlée café".into());
        let matches = highlight(&parse("creme brul").expect("valid"), &cafe);
        let title = matches.iter().find(|field| field.field == "title").expect("title matched");
        assert_eq!(title.ranges, [(2, 7), (8, 12)]);
        assert_eq!(marked(title), ["Crème", "brûl"]);
        // Decomposed accents: the marks belong to the letter they follow.
        cafe.title = Some("cafe\u{301} cafe\u{301}s".into());
        let matches = highlight(&parse("café").expect("valid"), &cafe);
        let title = matches.iter().find(|field| field.field == "title").expect("title matched");
        assert_eq!(title.ranges, [(0, 5), (6, 11)]);
        cafe.title = Some("launch 🚀 now".into());
        let matches = highlight(&parse("🚀").expect("valid"), &cafe);
        let title = matches.iter().find(|field| field.field == "title").expect("title matched");
        assert_eq!(title.ranges, [(7, 8)]);
        cafe.title = Some("支付服务".into());
        let matches = highlight(&parse("支付").expect("valid"), &cafe);
        let title = matches.iter().find(|field| field.field == "title").expect("title matched");
        assert_eq!(marked(title), ["支付"]);
    }

    #[test]
    fn typos_highlight_the_word() {
        let mut payments = entity("payments");
        payments.description = Some("Takes payments.".into());
        let matches = highlight(&parse("paymnts").expect("valid"), &payments);
        let description = matches.iter().find(|field| field.field == "description").expect("matched");
        assert_eq!(marked(description), ["payments"]);
    }

    #[test]
    fn long_descriptions_show_a_window() {
        let mut ledger = entity("ledger");
        let filler = "lorem ipsum dolor sit amet ".repeat(20);
        ledger.description = Some(format!("{filler}the ledger keeps every entry {filler}"));
        let matches = highlight(&parse("ledger").expect("valid"), &ledger);
        let description = matches.iter().find(|field| field.field == "description").expect("matched");
        let snippet: Vec<char> = description.snippet.chars().collect();
        assert!(snippet.len() <= SNIPPET_CHARS + 2, "{}", description.snippet);
        assert_eq!(snippet.first(), Some(&ELLIPSIS));
        assert_eq!(snippet.last(), Some(&ELLIPSIS));
        // Cut at word boundaries: the ellipses sit next to whole words.
        assert!(snippet[1].is_alphanumeric() && snippet[snippet.len() - 2].is_alphanumeric());
        assert_eq!(marked(description), ["ledger"]);
        // The match is near the start, with context before it.
        let (start, _) = description.ranges[0];
        assert!((10..=CONTEXT_BEFORE + 2).contains(&start), "{start}");

        // A match at the very beginning: no ellipsis in front.
        ledger.description = Some(format!("Ledger {filler}"));
        let matches = highlight(&parse("ledger").expect("valid"), &ledger);
        let description = matches.iter().find(|field| field.field == "description").expect("matched");
        assert!(description.snippet.starts_with("Ledger "));
        assert!(description.snippet.ends_with(ELLIPSIS));
        assert_eq!(description.ranges, [(0, 6)]);
    }

    #[test]
    fn snippets_replace_control_characters() {
        let mut api = entity("orders");
        api.definition = Some("openapi: 3.0.0\ninfo:\n  title: Orders\x1b[0m\n".into());
        let matches = highlight(&parse("orders").expect("valid"), &api);
        let definition = matches.iter().find(|field| field.field == "definition").expect("matched");
        assert!(!definition.snippet.chars().any(char::is_control), "{:?}", definition.snippet);
        assert_eq!(marked(definition), ["Orders"]);
    }

    #[test]
    fn every_matched_tag_and_owner_words() {
        let mut shop = entity("shop");
        shop.tags = vec!["team-payments".into(), "java".into(), "payments".into()];
        shop.owner = Some("group:default/payments-team".into());
        let matches = highlight(&parse("payments").expect("valid"), &shop);
        let fields: Vec<(&str, &str)> = matches.iter().map(|field| (field.field, field.snippet.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("tags", "team-payments"),
                ("tags", "payments"),
                ("owner", "group:default/payments-team")
            ]
        );
        assert_eq!(matches[2].ranges, [(14, 22)]);
    }
}
