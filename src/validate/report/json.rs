//! `--format json`: one JSON object per diagnostic, one per line (JSON Lines).

use serde::Serialize;

use crate::domain::Diagnostic;
use crate::validate::Report;

pub fn render(report: &Report) -> String {
    let mut output = Vec::with_capacity(report.diagnostics.len() * 400);
    for diagnostic in &report.diagnostics {
        // Written straight from the diagnostic, without building a JSON value per line (that took
        // a tenth of a run with many diagnostics); the test below checks the bytes are the same.
        serde_json::to_writer(&mut output, &Line::of(diagnostic)).expect("writing JSON to memory cannot fail");
        output.push(b'\n');
    }
    String::from_utf8(output).expect("serde_json writes UTF-8")
}

/// One line of the output: one diagnostic. Its field names are part of sextant's stable
/// interface; they are written in the order serde_json gives a `json!` object's keys (sorted),
/// as this output always had it.
#[derive(Serialize)]
struct Line<'report> {
    code: &'report str,
    column: u32,
    #[serde(rename = "endColumn")]
    end_column: Option<u32>,
    #[serde(rename = "endLine")]
    end_line: Option<u32>,
    file: &'report str,
    hint: Option<&'report str>,
    line: u32,
    message: &'report str,
    name: &'report str,
    related: Vec<RelatedLine<'report>>,
    severity: &'report str,
}

#[derive(Serialize)]
struct RelatedLine<'report> {
    column: u32,
    file: &'report str,
    line: u32,
    message: &'report str,
}

impl<'report> Line<'report> {
    fn of(diagnostic: &'report Diagnostic) -> Self {
        Line {
            code: diagnostic.code.as_str(),
            column: diagnostic.column,
            end_column: diagnostic.end.map(|end| end.column),
            end_line: diagnostic.end.map(|end| end.line),
            file: &diagnostic.file,
            hint: diagnostic.hint.as_deref(),
            line: diagnostic.line,
            message: &diagnostic.message,
            name: diagnostic.code.slug(),
            related: diagnostic
                .related
                .iter()
                .map(|related| RelatedLine {
                    column: related.position.column,
                    file: &related.file,
                    line: related.position.line,
                    message: &related.message,
                })
                .collect(),
            severity: diagnostic.severity.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Code, Position, Related};
    use serde_json::json;

    /// The JSON value each line used to be built as, the reference for [`Line`].
    fn to_json(diagnostic: &Diagnostic) -> serde_json::Value {
        json!({
            "code": diagnostic.code.as_str(),
            "name": diagnostic.code.slug(),
            "severity": diagnostic.severity.as_str(),
            "file": diagnostic.file,
            "line": diagnostic.line,
            "column": diagnostic.column,
            "endLine": diagnostic.end.map(|end| end.line),
            "endColumn": diagnostic.end.map(|end| end.column),
            "message": diagnostic.message,
            "hint": diagnostic.hint,
            "related": diagnostic.related.iter().map(|related| json!({
                "file": related.file,
                "line": related.position.line,
                "column": related.position.column,
                "message": related.message,
            })).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn lines_are_the_json_values_written_out() {
        let at = Position { line: 3, column: 7 };
        let bare = Diagnostic::new(Code::DanglingReference, "a/catalog-info.yaml", at, "`x` \"quoted\" é \u{1}");
        let full = Diagnostic::new(Code::DuplicateEntity, "b/compass.yml", at, "twice")
            .with_end(Position { line: 3, column: 12 })
            .with_hint("rename one")
            .with_related(Related {
                file: "c/catalog-info.yaml".to_owned(),
                position: Position { line: 1, column: 1 },
                message: "first defined here".to_owned(),
            });
        for diagnostic in [bare, full] {
            let report = Report {
                diagnostics: vec![diagnostic.clone()],
                ..Report::default()
            };
            assert_eq!(render(&report), format!("{}\n", to_json(&diagnostic)));
        }
    }
}
