//! Reporters: turn a validation [`Report`](crate::validate::Report) into text for people
//! (`human`), programs (`json`), code scanning (`sarif`), GitHub Actions (`github`) or a
//! pull request's page (`markdown`).

mod github;
mod human;
mod json;
pub mod markdown;
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
    /// A pull-request summary in Markdown (for a PR comment or GITHUB_STEP_SUMMARY).
    Markdown,
}

/// Renders every diagnostic. The summary line is part of the output for `human`, `github` and
/// `markdown` (its heading); for `json` and `sarif`, whose output is one document, the caller
/// prints it elsewhere.
pub fn render(report: &Report, format: OutputFormat, color: bool) -> String {
    match format {
        OutputFormat::Human => human::render(report, color),
        OutputFormat::Json => json::render(report),
        OutputFormat::Sarif => sarif::render(report),
        OutputFormat::Github => github::render(report),
        OutputFormat::Markdown => markdown::render(report),
    }
}
