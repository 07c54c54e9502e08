//! `--format json`: one JSON object per diagnostic, one per line (JSON Lines).

use serde_json::json;

use crate::domain::Diagnostic;
use crate::validate::Report;

pub fn render(report: &Report) -> String {
    let mut output = String::new();
    for diagnostic in &report.diagnostics {
        output.push_str(&to_json(diagnostic).to_string());
        output.push('\n');
    }
    output
}

/// The JSON form of one diagnostic; its field names are part of sextant's stable interface.
pub fn to_json(diagnostic: &Diagnostic) -> serde_json::Value {
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
