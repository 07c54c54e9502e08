//! `--format human`: rustc-style diagnostics with the offending source line and a caret, drawn
//! by annotate-snippets (the renderer rustc itself uses).

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::domain::{Code, Diagnostic, Position, Severity};
use crate::validate::Report;

pub fn render(report: &Report, color: bool) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let mut output = String::new();
    for diagnostic in &report.diagnostics {
        let source = report.sources.get(&diagnostic.file).map(String::as_str);
        output.push_str(&render_one(&renderer, diagnostic, source));
        output.push_str("\n\n");
    }
    output.push_str(&report.summary());
    output.push('\n');
    // annotate-snippets shows C0 controls of the file as `␛`-style pictures; C1 controls and
    // bidirectional overrides would reach the terminal as they are.
    crate::terminal::without_c1_controls(output)
}

fn level(severity: Severity) -> Level<'static> {
    match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    }
}

/// Codes whose file has no text worth showing (binary, unreadable or too large).
fn shows_source(code: Code) -> bool {
    !matches!(code, Code::FileTooLarge | Code::InvalidUtf8 | Code::NulByte | Code::ReadError)
}

fn render_one(renderer: &Renderer, diagnostic: &Diagnostic, source: Option<&str>) -> String {
    let title = level(diagnostic.severity)
        .primary_title(diagnostic.message.as_str())
        .id(diagnostic.code.as_str());
    let location = format!("{}:{}:{}", diagnostic.file, diagnostic.line, diagnostic.column);
    let mut group = match source.filter(|_| shows_source(diagnostic.code)) {
        Some(source) => {
            let span = byte_span(source, diagnostic.position(), diagnostic.end);
            let mut snippet = Snippet::source(source)
                .path(diagnostic.file.as_str())
                .annotation(AnnotationKind::Primary.span(span).label(diagnostic.code.slug()));
            for related in diagnostic.related.iter().filter(|related| related.file == diagnostic.file) {
                let span = byte_span(source, related.position, None);
                snippet = snippet.annotation(AnnotationKind::Context.span(span).label(related.message.as_str()));
            }
            title.element(snippet)
        }
        None => title.element(Level::NOTE.message(format!("in {location}"))),
    };
    for related in diagnostic
        .related
        .iter()
        .filter(|related| related.file != diagnostic.file || source.is_none())
    {
        group = group.element(Level::NOTE.message(format!(
            "{}: {}:{}:{}",
            related.message, related.file, related.position.line, related.position.column
        )));
    }
    if let Some(hint) = &diagnostic.hint {
        group = group.element(Level::HELP.message(hint.as_str()));
    }
    let report: [Group<'_>; 1] = [group];
    renderer.render(&report)
}

/// The byte range of a diagnostic in `source`: to `end` when it is on the same line, otherwise
/// the word at the start position.
fn byte_span(source: &str, start: Position, end: Option<Position>) -> std::ops::Range<usize> {
    let Some(line_start) = line_offset(source, start.line) else {
        return source.len()..source.len();
    };
    let line_end = source[line_start..]
        .find(['\n', '\r'])
        .map_or(source.len(), |offset| line_start + offset);
    let line = &source[line_start..line_end];
    let column_offset = |column: u32| {
        line.char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(line.len(), |(offset, _)| offset)
    };
    let from = line_start + column_offset(start.column);
    let to = match end {
        Some(end) if end.line == start.line && end.column > start.column => line_start + column_offset(end.column),
        _ => {
            let rest = &source[from..line_end];
            let word = &rest[..rest.find([' ', '\t', ',', ']', '}', '#']).unwrap_or(rest.len())];
            let word = word.strip_suffix(':').unwrap_or(word);
            from + word.len().max(rest.chars().next().map_or(0, char::len_utf8))
        }
    };
    from..to.max(from)
}

/// The byte offset where 1-based `line` starts.
fn line_offset(source: &str, line: u32) -> Option<usize> {
    if line <= 1 {
        return Some(0);
    }
    source.match_indices('\n').nth(line as usize - 2).map(|(offset, _)| offset + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_columns_in_characters() {
        let source = "a: 1\nname: é x\n";
        let span = byte_span(source, Position { line: 2, column: 7 }, None);
        assert_eq!(&source[span], "é");
        let span = byte_span(source, Position { line: 2, column: 1 }, Some(Position { line: 2, column: 5 }));
        assert_eq!(&source[span], "name");
        let span = byte_span(source, Position { line: 2, column: 1 }, None);
        assert_eq!(&source[span], "name");
        let source = "owner: user:jane # the lead\n";
        assert_eq!(&source[byte_span(source, Position { line: 1, column: 8 }, None)], "user:jane");
        assert_eq!(byte_span("", Position { line: 1, column: 1 }, None), 0..0);
    }
}
