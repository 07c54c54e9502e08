//! Descriptor files → entities and per-file diagnostics. The one parser shared by `sextant
//! validate`, the crawler and the API: a file that validate accepts is a file the crawler ingests.
//!
//! Order of work for one file: byte-level guards (size, NUL, UTF-8, BOM, line endings), YAML
//! parsing with positions ([`yaml`]), a scan for templating and YAML 1.1 pitfalls, then the
//! format reader ([`backstage`] or [`compass`]) per document.

mod backstage;
mod compass;
mod fields;
pub mod yaml;

use std::path::Path;

use crate::domain::{Code, Diagnostic, Entity, Format, Position, Severity};
use fields::Reporter;
use yaml::{Node, ScalarKind, Value};

pub use backstage::known_kinds;
pub use compass::{is_component_ari, is_team_ari};

/// Files larger than this are rejected without being parsed.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// File names that discovery picks up, and the format each implies.
pub const BACKSTAGE_FILE_NAMES: &[&str] = &["catalog-info.yaml", "catalog-info.yml"];
pub const COMPASS_FILE_NAMES: &[&str] = &["compass.yml", "compass.yaml"];

/// The diagnostic for a file (or blob) of `size` bytes over `limit`, which is not read.
pub fn file_too_large(path: &str, size: u64, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::FileTooLarge,
        path,
        Position { line: 1, column: 1 },
        format!("the file is {size} bytes; descriptors larger than {limit} bytes are not read"),
    )
    .with_hint("split it into several files, or check that this is really a descriptor")
}

/// Whether a file of this name is a descriptor that directory discovery should pick up.
pub fn is_descriptor_file_name(name: &str) -> bool {
    BACKSTAGE_FILE_NAMES.contains(&name) || COMPASS_FILE_NAMES.contains(&name)
}

/// The format a path is read as: Compass for `compass.yml`/`compass.yaml`, Backstage otherwise
/// (any file given explicitly is read as a Backstage file).
pub fn format_of(path: &str) -> Format {
    let name = Path::new(path).file_name().and_then(|name| name.to_str()).unwrap_or(path);
    if COMPASS_FILE_NAMES.contains(&name) {
        Format::Compass
    } else {
        Format::Backstage
    }
}

/// Everything read from one file.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    pub entities: Vec<Entity>,
    pub diagnostics: Vec<Diagnostic>,
}

impl ParsedFile {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|diagnostic| diagnostic.severity == Severity::Error)
    }
}

/// Reads a file's raw bytes. `path` is used for the format and in diagnostics only.
pub fn parse_bytes(path: &str, bytes: &[u8]) -> ParsedFile {
    parse_bytes_with(path, bytes, Documents::Keep)
}

/// Whether each entity keeps its whole document as JSON ([`Entity::document`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Documents {
    /// Convert each entity's document to JSON, for storage and the API.
    Keep,
    /// Leave [`Entity::document`] null: `sextant validate` only checks, and the conversion was
    /// about a fifth of its time and most of its memory (every entity is kept to the end).
    Skip,
}

/// [`parse_bytes`], choosing whether entities keep their documents; the diagnostics and the
/// entities' other fields are the same either way.
pub fn parse_bytes_with(path: &str, bytes: &[u8], documents: Documents) -> ParsedFile {
    let reject = |code: Code, at: Position, message: String, hint: &str| ParsedFile {
        entities: Vec::new(),
        diagnostics: vec![Diagnostic::new(code, path, at, message).with_hint(hint)],
    };
    if bytes.len() > MAX_FILE_BYTES {
        return ParsedFile {
            entities: Vec::new(),
            diagnostics: vec![file_too_large(path, bytes.len() as u64, MAX_FILE_BYTES)],
        };
    }
    if let Some(offset) = bytes.iter().position(|&byte| byte == 0) {
        return reject(
            Code::NulByte,
            position_of_byte(bytes, offset),
            "the file contains a NUL byte".to_owned(),
            "this looks like a binary file or a UTF-16 file; save it as UTF-8",
        );
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_source_with(path, text, documents),
        Err(error) => reject(
            Code::InvalidUtf8,
            position_of_byte(bytes, error.valid_up_to()),
            "the file is not valid UTF-8".to_owned(),
            "save the file as UTF-8",
        ),
    }
}

/// Reads a file's text: every document, every diagnostic of this file alone.
pub fn parse_source(path: &str, text: &str) -> ParsedFile {
    parse_source_with(path, text, Documents::Keep)
}

fn parse_source_with(path: &str, text: &str, keep: Documents) -> ParsedFile {
    let mut reporter = Reporter::new(path);
    let start = Position { line: 1, column: 1 };
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            reporter.diagnostics.push(
                Diagnostic::new(Code::ByteOrderMark, path, start, "the file starts with a byte-order mark")
                    .with_hint("save the file as UTF-8 without BOM; some tools misread the first key"),
            );
            rest
        }
        None => text,
    };
    if text.contains("\r\n") {
        reporter.diagnostics.push(
            Diagnostic::new(Code::CrlfLineEndings, path, start, "the file uses CRLF (Windows) line endings")
                .with_hint("it is read correctly; LF endings avoid noisy diffs (`git config core.autocrlf input`)"),
        );
    }

    let (documents, yaml_diagnostics) = yaml::parse(text, path);
    let parse_failed = documents.is_empty() && yaml_diagnostics.iter().any(|diagnostic| diagnostic.code != Code::DuplicateKey);
    if parse_failed {
        if let Some(diagnostic) = text_template_instead_of(text, path, &yaml_diagnostics) {
            reporter.diagnostics.push(diagnostic);
        } else {
            reporter.diagnostics.extend(yaml_diagnostics);
        }
        return ParsedFile {
            entities: Vec::new(),
            diagnostics: reporter.diagnostics,
        };
    }
    let yaml_errors = !yaml_diagnostics.is_empty();
    reporter.diagnostics.extend(yaml_diagnostics);

    let documents: Vec<_> = documents.into_iter().filter(|document| !document.root.is_null()).collect();
    if documents.is_empty() {
        reporter.diagnostics.push(
            Diagnostic::new(Code::EmptyFile, path, start, "the file holds no YAML document").with_hint("add an entity, or delete the file"),
        );
        return ParsedFile {
            entities: Vec::new(),
            diagnostics: reporter.diagnostics,
        };
    }

    let format = format_of(path);
    let mut entities = Vec::new();
    let mut entity_documents = Vec::new();
    for (position, document) in documents.iter().enumerate() {
        if document.root.as_mapping().is_none() {
            reporter
                .report(
                    Code::NotAMapping,
                    &document.root,
                    format!("this document is {}, but an entity must be a mapping", document.root.type_name()),
                )
                .hint = Some("a descriptor document starts with keys such as `apiVersion:` and `kind:`".to_owned());
            continue;
        }
        let is_template = document.root.get("kind").and_then(Node::as_str) == Some("Template");
        if !is_template && let Some(diagnostic) = find_templating(&document.root, path) {
            reporter.diagnostics.push(diagnostic);
            continue;
        }
        warn_ambiguous_scalars(&document.root, &mut reporter);
        let errors_before = reporter.error_count();
        let entity = match format {
            Format::Backstage => backstage::read_document(&mut reporter, document),
            Format::Compass => compass::read_document(&mut reporter, document),
        };
        let errors_after = reporter.error_count();
        if let Some(entity) = entity.filter(|_| errors_after == errors_before) {
            entities.push(entity);
            entity_documents.push(position);
        }
    }
    if format == Format::Compass && documents.len() > 1 {
        let second = &documents[1].root;
        reporter
            .report(
                Code::MultipleCompassDocuments,
                second,
                "a compass.yml describes one component, but this file has several documents",
            )
            .hint = Some("put each component in its own compass.yml, one per folder".to_owned());
        entities.clear();
    }
    if yaml_errors {
        // Duplicate keys make the whole file ambiguous: no entity of it is trusted.
        entities.clear();
    }
    if keep == Documents::Keep {
        let mut roots: Vec<Option<Node>> = documents.into_iter().map(|document| Some(document.root)).collect();
        for (entity, position) in entities.iter_mut().zip(entity_documents) {
            if let Some(root) = roots[position].take() {
                entity.document = root.into_json();
            }
        }
    }
    ParsedFile {
        entities,
        diagnostics: reporter.diagnostics,
    }
}

/// Only this file's own diagnostics (no cross-file checks).
pub fn validate_source(path: &str, text: &str) -> Vec<Diagnostic> {
    parse_source(path, text).diagnostics
}

fn position_of_byte(bytes: &[u8], offset: usize) -> Position {
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    Position {
        line: line as u32,
        column: column as u32,
    }
}

/// When YAML fails to parse because the file is a Helm/Jinja/cookiecutter template, say that
/// instead of the parser's own complaint.
fn text_template_instead_of(text: &str, path: &str, yaml_diagnostics: &[Diagnostic]) -> Option<Diagnostic> {
    let offset = text.find("{{")?;
    text[offset..].find("}}")?;
    let at = position_of_byte(text.as_bytes(), offset);
    let parser_said = yaml_diagnostics
        .first()
        .map(|diagnostic| {
            format!(
                " (the YAML parser stopped at {}:{}: {})",
                diagnostic.line, diagnostic.column, diagnostic.message
            )
        })
        .unwrap_or_default();
    let code = if text[..offset].ends_with('$') {
        Code::TemplatePlaceholder
    } else {
        Code::TextTemplate
    };
    Some(
        Diagnostic::new(
            code,
            path,
            at,
            format!("the file is a template, not a descriptor: `{{{{ }}}}` templating is not YAML{parser_said}"),
        )
        .with_hint("render the template first, or give it another name (e.g. catalog-info.yaml.njk) so it is not read as a descriptor"),
    )
}

/// The first string in a document that holds `${{ }}` placeholders or `{{ }}` templating.
fn find_templating(root: &Node, path: &str) -> Option<Diagnostic> {
    root.values().find_map(|node| {
        let Value::Scalar(scalar) = &node.value else { return None };
        if scalar.kind != ScalarKind::Str {
            return None;
        }
        let text = &scalar.text;
        let offset = text.find("{{")?;
        text[offset..].contains("}}").then(|| {
            if text[..offset].ends_with('$') {
                Diagnostic::new(Code::TemplatePlaceholder, path, node.start, format!("`{text}` is a scaffolder placeholder: this document is a template skeleton, not a descriptor"))
                    .with_end(node.end)
                    .with_hint("skeleton files are filled in when a template runs; name them e.g. catalog-info.yaml.njk so they are not read as descriptors")
            } else {
                Diagnostic::new(Code::TextTemplate, path, node.start, format!("`{text}` is Helm, Jinja or cookiecutter templating, not a value"))
                    .with_end(node.end)
                    .with_hint("render the template before validating, or exclude the file")
            }
        })
    })
}

/// Plain scalars that YAML 1.1 tools read as booleans or octal numbers, while
/// YAML 1.2 and Backstage read them as strings: `owner: no`, `lifecycle: on`, `port: 0755`.
fn warn_ambiguous_scalars(root: &Node, reporter: &mut Reporter) {
    const YAML11_BOOLEANS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ];
    for node in root.values() {
        let Value::Scalar(scalar) = &node.value else { continue };
        if !scalar.plain {
            continue;
        }
        let text = scalar.text.as_str();
        let boolean = scalar.kind == ScalarKind::Str && YAML11_BOOLEANS.contains(&text);
        let octal = matches!(scalar.kind, ScalarKind::Int(_))
            && text.len() > 1
            && text.starts_with('0')
            && text.bytes().all(|byte| byte.is_ascii_digit());
        if boolean || octal {
            let (reading, other_reading) = if boolean {
                (format!("the string \"{text}\""), "a boolean")
            } else {
                (format!("the decimal number {}", text.trim_start_matches('0')), "an octal number")
            };
            reporter
                .report(
                    Code::AmbiguousScalar,
                    node,
                    format!("`{text}` is read as {reading} here, but YAML 1.1 tools read it as {other_reading}"),
                )
                .hint = Some(format!("quote it: `\"{text}\"`"));
        }
    }
}
