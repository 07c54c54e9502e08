//! `--format sarif`: a SARIF 2.1.0 log for code-scanning tools (e.g. GitHub code scanning).
//! Written with serde_json directly: the log needs a dozen fields, and the generated SARIF
//! model crates pull in far more code than that.

use serde_json::{Value, json};

use crate::domain::{Code, Position, Severity};
use crate::validate::Report;

pub fn render(report: &Report) -> String {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|code| {
            json!({
                "id": code.as_str(),
                "name": code.slug(),
                "shortDescription": { "text": code.summary() },
                "defaultConfiguration": { "level": level(code.default_severity()) },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let mut text = diagnostic.message.clone();
            if let Some(hint) = &diagnostic.hint {
                text.push_str(&format!(" (help: {hint})"));
            }
            let related: Vec<Value> = diagnostic
                .related
                .iter()
                .enumerate()
                .map(|(index, related)| {
                    let mut location = location(&related.file, related.position, None);
                    location["id"] = json!(index);
                    location["message"] = json!({ "text": related.message });
                    location
                })
                .collect();
            json!({
                "ruleId": diagnostic.code.as_str(),
                "ruleIndex": Code::ALL.iter().position(|code| *code == diagnostic.code),
                "level": level(diagnostic.severity),
                "message": { "text": text },
                "locations": [location(&diagnostic.file, diagnostic.position(), diagnostic.end)],
                "relatedLocations": related,
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "sextant",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    let mut output = serde_json::to_string_pretty(&log).expect("JSON values always serialize");
    output.push('\n');
    output
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn location(file: &str, start: Position, end: Option<Position>) -> Value {
    let mut region = json!({ "startLine": start.line, "startColumn": start.column });
    if let Some(end) = end {
        region["endLine"] = json!(end.line);
        region["endColumn"] = json!(end.column);
    }
    json!({ "physicalLocation": { "artifactLocation": { "uri": file }, "region": region } })
}
