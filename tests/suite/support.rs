//! Helpers shared by the integration tests: where the optional real-world corpus is, and per-document
//! verdicts from sextant's own reader.

use std::path::PathBuf;

use sextant::descriptor::{self, yaml};
use sextant::domain::{Diagnostic, Severity};

/// The real-world corpus, an optional folder outside the repository: the one named by
/// `SEXTANT_CORPUS` when that is set (even to a folder that does not exist), else
/// `../shared/corpus` beside the repository. When it is absent, `test` is reported as skipped
/// (with the reason, on stderr) and `None` comes back; under `CI=true` a missing corpus fails
/// the test instead, so that CI never passes without it.
pub fn corpus_dir(test: &str) -> Option<PathBuf> {
    let (dir, named_by) = match std::env::var_os("SEXTANT_CORPUS") {
        Some(dir) => (PathBuf::from(dir), "SEXTANT_CORPUS"),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
            "the default place, beside the repository",
        ),
    };
    if dir.join("VERDICTS.jsonl").is_file() {
        return Some(dir);
    }
    let reason = format!(
        "the real-world corpus is not at {} ({named_by}): no VERDICTS.jsonl there",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!("{test}: {reason}; CI=true requires the corpus: set SEXTANT_CORPUS to its folder");
    }
    eprintln!("skipped {test}: {reason}; set SEXTANT_CORPUS to its folder to run it");
    None
}

/// What sextant says of one file, split by YAML document.
pub struct FileVerdict {
    /// Errors that reject the whole file (it does not parse, is binary, ...).
    pub file_errors: Vec<Diagnostic>,
    /// For each document index, the errors attributed to it.
    pub documents: Vec<(usize, Vec<Diagnostic>)>,
}

impl FileVerdict {
    pub fn document_errors(&self, index: usize) -> Option<&[Diagnostic]> {
        self.documents
            .iter()
            .find(|(document, _)| *document == index)
            .map(|(_, errors)| errors.as_slice())
    }
}

/// Reads a file alone (no cross-file checks) and attributes each error to the document whose
/// lines contain it.
pub fn file_verdict(path: &std::path::Path, display: &str) -> FileVerdict {
    let bytes = std::fs::read(path).expect("corpus file is readable");
    let parsed = descriptor::parse_bytes(display, &bytes);
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(|diagnostic| diagnostic.severity == Severity::Error)
        .collect();
    let text = String::from_utf8_lossy(&bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let (documents, _) = yaml::parse(text, display);
    if documents.is_empty() {
        return FileVerdict {
            file_errors: errors,
            documents: Vec::new(),
        };
    }
    let starts: Vec<(usize, u32)> = documents
        .iter()
        .map(|document| (document.index, document.root.start.line))
        .collect();
    let mut verdict = FileVerdict {
        file_errors: Vec::new(),
        documents: starts.iter().map(|(index, _)| (*index, Vec::new())).collect(),
    };
    for error in errors {
        let owner = starts.iter().rposition(|(_, line)| *line <= error.line);
        match owner {
            Some(position) => verdict.documents[position].1.push(error),
            None => verdict.file_errors.push(error),
        }
    }
    verdict
}
