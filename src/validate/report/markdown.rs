//! `--format markdown`: a pull-request summary in Markdown (GitHub Flavored), for a PR comment
//! or `GITHUB_STEP_SUMMARY`: the summary line as a heading, then the diagnostics as a table,
//! errors first. Every piece of text from a file is escaped ([`escape`]), so that a descriptor
//! cannot inject markup, links, HTML or mentions into the page.

use std::fmt::Write;

use crate::domain::Diagnostic;
use crate::validate::Report;

pub fn render(report: &Report) -> String {
    let mut output = format!("### sextant validate: {}\n\n", escape(&report.summary()));
    if report.diagnostics.is_empty() {
        output.push_str("No problems found.\n");
        return output;
    }
    let mut diagnostics: Vec<&Diagnostic> = report.diagnostics.iter().collect();
    // Stable: within a severity, the report's own order (file, line, column, code).
    diagnostics.sort_by_key(|diagnostic| diagnostic.severity);
    output.push_str("| severity | code | location | message |\n|---|---|---|---|\n");
    for diagnostic in diagnostics {
        let mut message = escape(&diagnostic.message);
        if let Some(hint) = &diagnostic.hint {
            let _ = write!(message, "<br>*help:* {}", escape(hint));
        }
        for related in &diagnostic.related {
            let _ = write!(
                message,
                "<br>{}: {}:{}:{}",
                escape(&related.message),
                escape(&related.file),
                related.position.line,
                related.position.column
            );
        }
        let _ = writeln!(
            output,
            "| {} | {} {} | {}:{}:{} | {} |",
            diagnostic.severity.as_str(),
            diagnostic.code.as_str(),
            escape(diagnostic.code.slug()),
            escape(&diagnostic.file),
            diagnostic.line,
            diagnostic.column,
            message
        );
    }
    output
}

/// Text made inert for a Markdown table cell, a heading or a link's text: on one line, control
/// characters shown as `\u{…}`, HTML-significant characters as entities, Markdown punctuation
/// (`|`, backticks, emphasis, brackets, …) backslash-escaped, and `@` kept from forming a
/// mention (a word joiner after it).
pub fn escape(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|character| if matches!(character, '\n' | '\r' | '\t') { ' ' } else { character })
        .collect();
    let printable = crate::terminal::printable(&one_line);
    let mut escaped = String::with_capacity(printable.len() + 8);
    for character in printable.chars() {
        match character {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '@' => escaped.push_str("@\u{2060}"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '!' | '|' | '~' => {
                escaped.push('\\');
                escaped.push(character);
            }
            // Bidirectional overrides and C1 controls would reorder or drive what a reader sees.
            '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => escaped.push('\u{fffd}'),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Code, Diagnostic, Position};

    #[test]
    fn escapes_markup_html_and_mentions() {
        let escaped = escape("a|b `c` <script>alert(1)</script> [x](javascript:y) @team\nnext");
        assert!(!escaped.contains("<script>"), "{escaped}");
        assert!(escaped.contains("&lt;script&gt;"), "{escaped}");
        assert!(escaped.contains("a\\|b"), "{escaped}");
        assert!(escaped.contains("\\`c\\`"), "{escaped}");
        assert!(escaped.contains("\\[x\\]\\(javascript:y\\)"), "{escaped}");
        assert!(escaped.contains("@\u{2060}team"), "{escaped}");
        assert!(!escaped.contains('\n'), "{escaped}");
        // Every `|` is escaped, so that a cell never ends early.
        assert!(escaped.match_indices('|').all(|(index, _)| escaped[..index].ends_with('\\')));
        assert_eq!(escape("plain words 42"), "plain words 42");
    }

    #[test]
    fn a_table_with_errors_first() {
        let position = Position { line: 3, column: 5 };
        let report = Report {
            files_checked: 2,
            diagnostics: vec![
                Diagnostic::new(Code::EntityAdded, "a.yaml", position, "`component:default/a` is added"),
                Diagnostic::new(Code::MissingField, "b|<b>.yaml", position, "needs a `spec`").with_hint("add one"),
            ],
            ..Report::default()
        };
        let output = render(&report);
        assert!(output.starts_with("### sextant validate: checked 2 files"), "{output}");
        let rows: Vec<&str> = output
            .lines()
            .filter(|line| line.starts_with("| ") && !line.starts_with("| severity"))
            .collect();
        assert_eq!(rows.len(), 2, "{output}");
        assert!(
            rows[0].starts_with("| error | S0101 missing-field | b\\|&lt;b&gt;.yaml:3:5 |"),
            "{output}"
        );
        assert!(rows[0].contains("<br>*help:* add one"), "{output}");
        assert!(rows[1].starts_with("| note | S0502 entity-added | a.yaml:3:5 |"), "{output}");
        assert!(render(&Report::default()).contains("No problems found."));
    }
}
