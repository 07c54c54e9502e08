//! Reporters: turn a validation [`Report`](crate::validate::Report) into text for people
//! (`human`), programs (`json`), code scanning (`sarif`) or GitHub Actions (`github`).

mod github;
mod human;
mod json;
mod sarif;

use crate::validate::Report;

/// The output formats of `sextant validate --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Source snippets with carets, like rustc (colour on a terminal).
    Human,
    /// One JSON object per diagnostic, one per line.
    Json,
    /// A SARIF 2.1.0 log, for code-scanning tools.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…`), shown on pull requests.
    Github,
}

/// Renders every diagnostic. The summary line is part of the output for `human` and `github`;
/// for `json` and `sarif`, whose output is one document, the caller prints it elsewhere.
pub fn render(report: &Report, format: OutputFormat, color: bool) -> String {
    match format {
        OutputFormat::Human => human::render(report, color),
        OutputFormat::Json => json::render(report),
        OutputFormat::Sarif => sarif::render(report),
        OutputFormat::Github => github::render(report),
    }
}
