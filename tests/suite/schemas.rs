//! The committed JSON Schemas (`schema/`) and the validator agree on the corpus and on the
//! example organisation, except for the rules a schema cannot express (listed below).

use std::path::Path;

use serde_json::Value;
use sextant::descriptor::{parse_bytes, yaml};
use sextant::domain::{Code, Severity};

use crate::support::corpus_dir;

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema").join(name);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("schema is readable")).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

/// Rules that only sextant checks: a JSON Schema sees one document's values, not duplicate keys,
/// the kind rules of references, templating, or how many documents a file holds.
fn schema_cannot_express(code: Code) -> bool {
    matches!(
        code,
        Code::DuplicateKey
            | Code::RefKindRequired
            | Code::TemplatePlaceholder
            | Code::TextTemplate
            | Code::InvalidEntityRef
            | Code::MultipleCompassDocuments
    )
}

struct Comparison {
    compared: usize,
    disagreements: Vec<String>,
}

/// Validates each document of each file with the schema and with sextant (this file alone) and
/// records where they differ.
fn compare(files: &[(String, Vec<u8>)], validator: &jsonschema::Validator) -> Comparison {
    let mut comparison = Comparison {
        compared: 0,
        disagreements: Vec::new(),
    };
    for (name, bytes) in files {
        let Ok(text) = std::str::from_utf8(bytes) else { continue };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (documents, yaml_diagnostics) = yaml::parse(text, name);
        if documents.is_empty() || !yaml_diagnostics.is_empty() {
            continue; // Not YAML a schema could be applied to.
        }
        let parsed = parse_bytes(name, bytes);
        let starts: Vec<u32> = documents.iter().map(|document| document.root.start.line).collect();
        for (position, document) in documents.iter().enumerate() {
            if document.root.is_null() {
                continue;
            }
            let lines = starts[position]..starts.get(position + 1).copied().unwrap_or(u32::MAX);
            let errors: Vec<Code> = parsed
                .diagnostics
                .iter()
                .filter(|diagnostic| diagnostic.severity == Severity::Error && lines.contains(&diagnostic.line))
                .map(|diagnostic| diagnostic.code)
                .collect();
            if errors.iter().any(|code| schema_cannot_express(*code)) {
                continue;
            }
            comparison.compared += 1;
            let instance = document.root.to_json();
            let schema_valid = validator.is_valid(&instance);
            if schema_valid != errors.is_empty() {
                let schema_errors: Vec<String> = validator
                    .iter_errors(&instance)
                    .take(3)
                    .map(|error| format!("{} at {}", error, error.instance_path))
                    .collect();
                comparison.disagreements.push(format!(
                    "{name} doc {}: schema {schema_valid} {schema_errors:?}, sextant errors {errors:?}",
                    document.index
                ));
            }
        }
    }
    comparison
}

fn read_dir_files(dir: &Path, name_as: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let shown = path.to_string_lossy().into_owned();
            let name = name_as.map_or(shown.clone(), |name| format!("{shown}/{name}"));
            (name, std::fs::read(&path).expect("readable"))
        })
        .collect()
}

fn example_files(file_name: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog-examples");
    walk(&root)
        .into_iter()
        .filter(|path| path.file_name().is_some_and(|name| name == file_name))
        .map(|path| (path.to_string_lossy().into_owned(), std::fs::read(&path).expect("readable")))
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(walk(&path))
        } else {
            found.push(path)
        }
    }
    found.sort();
    found
}

#[test]
fn backstage_schema_agrees_with_the_validator() {
    let validator = schema("catalog-info.schema.json");
    // Without the corpus, the example organisation is still compared.
    let corpus = corpus_dir("backstage_schema_agrees_with_the_validator (its corpus part)");
    let mut files = match &corpus {
        Some(corpus) => read_dir_files(&corpus.join("catalog-info"), None),
        None => Vec::new(),
    };
    files.extend(example_files("catalog-info.yaml"));
    let comparison = compare(&files, &validator);
    let least = if corpus.is_some() { 150 } else { 20 };
    assert!(comparison.compared >= least, "compared only {} documents", comparison.compared);
    assert!(
        comparison.disagreements.is_empty(),
        "{} disagreements:\n{}",
        comparison.disagreements.len(),
        comparison.disagreements.join("\n")
    );
}

#[test]
fn compass_schema_agrees_with_the_validator() {
    let validator = schema("compass.schema.json");
    // Without the corpus, the example organisation is still compared.
    let corpus = corpus_dir("compass_schema_agrees_with_the_validator (its corpus part)");
    // Corpus files carry prefixed names; read them as `<name>/compass.yml` so the Compass rules apply.
    let mut files = match &corpus {
        Some(corpus) => read_dir_files(&corpus.join("compass"), Some("compass.yml")),
        None => Vec::new(),
    };
    files.extend(example_files("compass.yml"));
    let comparison = compare(&files, &validator);
    let least = if corpus.is_some() { 40 } else { 3 };
    assert!(comparison.compared >= least, "compared only {} documents", comparison.compared);
    assert!(
        comparison.disagreements.is_empty(),
        "{} disagreements:\n{}",
        comparison.disagreements.len(),
        comparison.disagreements.join("\n")
    );
}
