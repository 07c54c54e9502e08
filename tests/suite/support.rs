//! Helpers shared by the integration tests: where the shared corpus is, and per-document
//! verdicts from sextant's own reader.

use std::path::PathBuf;

use sextant::descriptor::{self, yaml};
use sextant::domain::{Diagnostic, Severity};

/// The real-world corpus shipped beside the repository (`../shared/corpus`), or the folder named
/// by `SEXTANT_CORPUS`.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("SEXTANT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    assert!(
        dir.join("VERDICTS.jsonl").is_file(),
        "the corpus is missing at {}; set SEXTANT_CORPUS to its folder",
        dir.display()
    );
    dir
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
