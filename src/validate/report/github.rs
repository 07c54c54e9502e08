//! `--format github`: GitHub Actions workflow commands, which show as annotations on the pull
//! request's changed lines.

use crate::domain::Severity;
use crate::validate::Report;

pub fn render(report: &Report) -> String {
    let mut output = String::new();
    for diagnostic in &report.diagnostics {
        let command = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut properties = format!(
            "file={},line={},col={}",
            escape_property(&diagnostic.file),
            diagnostic.line,
            diagnostic.column
        );
        if let Some(end) = diagnostic.end {
            properties.push_str(&format!(",endLine={},endColumn={}", end.line, end.column));
        }
        properties.push_str(&format!(",title={}", escape_property(&diagnostic.code.to_string())));
        let mut message = diagnostic.message.clone();
        if let Some(hint) = &diagnostic.hint {
            message.push_str("\nhelp: ");
            message.push_str(hint);
        }
        output.push_str(&format!("::{command} {properties}::{}\n", escape_data(&message)));
    }
    output.push_str(&report.summary());
    output.push('\n');
    output
}

/// Escapes a workflow command's message: line breaks as the workflow syntax encodes them, then
/// every other control character made visible the way the terminal views do (a CI log is a
/// terminal too).
fn escape_data(text: &str) -> String {
    let encoded = text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    crate::terminal::printable(&encoded).into_owned()
}

/// Escapes a workflow command's property value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_separators() {
        assert_eq!(super::escape_property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
        assert_eq!(super::escape_data("50%\nx"), "50%25%0Ax");
        assert_eq!(super::escape_data("a\u{1b}]0;x\u{7}b\u{9b}"), "a\\u{1b}]0;x\\u{7}b\\u{9b}");
    }
}
