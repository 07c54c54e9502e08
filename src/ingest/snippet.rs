//! The offending line of each diagnostic, kept with it when a crawl parses a descriptor file, so
//! that the dashboard shows it without reading git. A line longer than [`MAX_CHARS`] characters
//! is cut to a window around the diagnostic's column, with "…" on each cut side; [`mark`] finds
//! the column again in what was kept.
//!
//! Lines are counted as the diagnostics count them: 1-based, split at `\n` (a `\r` before it is
//! not part of the line), after a leading byte-order mark; columns count characters.

use crate::domain::{Code, Diagnostic};

/// The longest snippet, in characters, the "…" marks included.
pub const MAX_CHARS: usize = 240;
/// Characters kept before the column when a long line is cut on its left (always this many, so
/// that [`mark`] finds the column again).
const LEAD_CHARS: usize = 100;
/// Stands for the cut part of a long line.
const CUT: char = '…';

/// Diagnostics about a file as a whole or about the repository's tree, whose position is not a
/// place in the file's text: they have no snippet.
const WHOLE_FILE_CODES: [Code; 6] = [
    Code::FileTooLarge,
    Code::ReadError,
    Code::SymlinkSkipped,
    Code::SubmoduleSkipped,
    Code::TooManyDescriptors,
    Code::RepositoryBytesExceeded,
];

/// Whether a diagnostic with this stored code points at a line of its file's text (and so has a
/// snippet once its file is parsed by a crawl).
pub fn points_at_a_line(code: &str) -> bool {
    !WHOLE_FILE_CODES.iter().any(|whole_file| whole_file.as_str() == code)
}

/// The snippet of each of `diagnostics`, in order, from the bytes of the file they are about:
/// the text of the diagnostic's line, cut around its column when longer than [`MAX_CHARS`].
/// `None` for line 0, a line beyond the end, and diagnostics about the whole file. Bytes that are
/// not UTF-8 read as U+FFFD, as the parser counts them; control characters other than tab too
/// (the store keeps no NUL).
pub fn of_file(bytes: &[u8], diagnostics: &[Diagnostic]) -> Vec<Option<String>> {
    if diagnostics.is_empty() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let lines: Vec<&str> = text.split('\n').collect();
    diagnostics
        .iter()
        .map(|diagnostic| {
            if !points_at_a_line(diagnostic.code.as_str()) {
                return None;
            }
            let line = lines.get((diagnostic.line as usize).checked_sub(1)?)?;
            Some(window(line.strip_suffix('\r').unwrap_or(line), diagnostic.column))
        })
        .collect()
}

/// `line` whole when it is short enough, else [`MAX_CHARS`] characters at most around the 1-based
/// `column`: [`LEAD_CHARS`] before it when the line is cut on the left, "…" on each cut side.
fn window(line: &str, column: u32) -> String {
    let length = line.chars().count();
    let (start, end) = if length <= MAX_CHARS {
        (0, length)
    } else {
        let at = (column.saturating_sub(1) as usize).min(length);
        let start = at.saturating_sub(LEAD_CHARS);
        // Room for the kept characters with a "…" on the left (when cut there) and on the right.
        let room = MAX_CHARS - 1 - usize::from(start > 0);
        (start, (start + room).min(length))
    };
    let mut snippet = String::with_capacity(end - start + 2);
    if start > 0 {
        snippet.push(CUT);
    }
    snippet.extend(line.chars().skip(start).take(end - start).map(|character| {
        if character.is_control() && character != '\t' {
            '\u{fffd}'
        } else {
            character
        }
    }));
    if end < length {
        snippet.push(CUT);
    }
    snippet
}

/// A snippet split at its diagnostic's column: the text before, the part pointed at (the rest of
/// the word there, at least one character; empty past the end of the line), and the text after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub before: String,
    pub marked: String,
    pub after: String,
}

/// Splits a stored snippet at the 1-based `column` of its diagnostic (a column in the line, not in
/// the snippet: a snippet cut on the left keeps [`LEAD_CHARS`] characters before the column). A
/// short line that itself starts with "…" and is pointed at beyond [`LEAD_CHARS`] is read as cut.
pub fn mark(snippet: &str, column: u32) -> Marked {
    let characters: Vec<char> = snippet.chars().collect();
    let wanted = column.saturating_sub(1) as usize;
    let cut_on_the_left = characters.first() == Some(&CUT) && wanted > LEAD_CHARS;
    let at = if cut_on_the_left { LEAD_CHARS + 1 } else { wanted }.min(characters.len());
    // A "…" that ends a snippet of the longest length stands for the rest of the line.
    let text_end = if characters.len() == MAX_CHARS && characters.last() == Some(&CUT) {
        characters.len() - 1
    } else {
        characters.len()
    };
    let word = characters
        .get(at..text_end)
        .unwrap_or_default()
        .iter()
        .take_while(|character| !character.is_whitespace())
        .count();
    let marked_end = (at + word.max(1)).min(characters.len());
    Marked {
        before: characters[..at].iter().collect(),
        marked: characters[at..marked_end].iter().collect(),
        after: characters[marked_end..].iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Position;

    fn diagnostic(code: Code, line: u32, column: u32) -> Diagnostic {
        Diagnostic::new(code, "catalog-info.yaml", Position { line, column }, "message")
    }

    fn snippet(bytes: &[u8], line: u32, column: u32) -> Option<String> {
        of_file(bytes, &[diagnostic(Code::YamlSyntax, line, column)]).remove(0)
    }

    #[test]
    fn the_line_of_each_diagnostic_without_its_ending() {
        let text = b"kind: Component\r\nmetadata:\n  name: [unclosed\n";
        assert_eq!(snippet(text, 1, 1).as_deref(), Some("kind: Component"));
        assert_eq!(snippet(text, 3, 9).as_deref(), Some("  name: [unclosed"));
        // The end of a file that ends with a newline is an empty line; beyond it there is none.
        assert_eq!(snippet(text, 4, 1).as_deref(), Some(""));
        assert_eq!(snippet(text, 5, 1), None);
        assert_eq!(snippet(text, 0, 1), None);
        assert_eq!(snippet(text, u32::MAX, u32::MAX), None);
        assert_eq!(snippet(b"", 1, 1).as_deref(), Some(""));
        assert_eq!(
            of_file(
                text,
                &[diagnostic(Code::SymlinkSkipped, 1, 1), diagnostic(Code::UnknownField, 2, 1)]
            ),
            vec![None, Some("metadata:".to_owned())]
        );
        assert!(of_file(text, &[]).is_empty());
    }

    #[test]
    fn lines_count_after_a_byte_order_mark_and_bad_bytes_read_as_replacements() {
        assert_eq!(snippet("\u{feff}a: 1\nb: 2".as_bytes(), 1, 1).as_deref(), Some("a: 1"));
        assert_eq!(snippet(b"a: \xff\xfe\nb: \x00x\x07", 1, 4).as_deref(), Some("a: \u{fffd}\u{fffd}"));
        assert_eq!(
            snippet(b"a: \xff\xfe\nb: \x00x\x07\tc", 2, 4).as_deref(),
            Some("b: \u{fffd}x\u{fffd}\tc")
        );
    }

    #[test]
    fn a_long_line_is_cut_around_the_column() {
        let line = format!("key: {}", "é".repeat(4_995));
        // At the start: the beginning, cut on the right.
        let start = snippet(line.as_bytes(), 1, 1).unwrap();
        assert_eq!(start.chars().count(), MAX_CHARS);
        assert!(start.starts_with("key: é") && start.ends_with("é…"), "{start}");
        // In the middle: cut on both sides, the column LEAD_CHARS characters in.
        let long = format!("{}X{}", "a".repeat(2_999), "b".repeat(2_000));
        let middle = snippet(long.as_bytes(), 1, 3_000).unwrap();
        assert_eq!(middle.chars().count(), MAX_CHARS);
        assert_eq!(middle.chars().position(|character| character == 'X'), Some(LEAD_CHARS + 1));
        assert!(middle.starts_with('…') && middle.ends_with('…'), "{middle}");
        assert_eq!(mark(&middle, 3_000).marked, format!("X{}", "b".repeat(MAX_CHARS - LEAD_CHARS - 3)));
        // Near the end: cut on the left only.
        let end = snippet(long.as_bytes(), 1, 4_990).unwrap();
        assert!(
            end.starts_with('…') && end.ends_with('b') && end.chars().count() <= MAX_CHARS,
            "{end}"
        );
        assert_eq!(mark(&end, 4_990).before.chars().count(), LEAD_CHARS + 1);
        // A column beyond the line's end: its end, cut on the left.
        let beyond = snippet(long.as_bytes(), 1, 9_000).unwrap();
        assert_eq!(beyond.chars().count(), LEAD_CHARS + 1);
        let marked = mark(&beyond, 9_000);
        assert_eq!(
            (marked.before.chars().count(), marked.marked.as_str(), marked.after.as_str()),
            (LEAD_CHARS + 1, "", "")
        );
        // Exactly the longest length: whole.
        let exact = "x".repeat(MAX_CHARS);
        assert_eq!(snippet(exact.as_bytes(), 1, 200).as_deref(), Some(exact.as_str()));
    }

    #[test]
    fn mark_points_at_the_word_at_the_column() {
        let marked = mark("  name: <script>alert(1)</script> tail", 9);
        assert_eq!(marked.before, "  name: ");
        assert_eq!(marked.marked, "<script>alert(1)</script>");
        assert_eq!(marked.after, " tail");
        assert_eq!(mark("a b", 2).marked, " ");
        assert_eq!(
            mark("ab", 3),
            Marked {
                before: "ab".to_owned(),
                marked: String::new(),
                after: String::new()
            }
        );
        assert_eq!(mark("ab", 0).marked, "ab");
        assert_eq!(mark("", u32::MAX).before, "");
        // A short line that starts with "…" and is pointed at near its start is not read as cut.
        assert_eq!(mark("…ab", 2).marked, "ab");
    }
}
