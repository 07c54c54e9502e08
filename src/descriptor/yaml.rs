//! YAML text → documents of nodes with source positions. The only module that touches the YAML
//! parser (saphyr-parser), so swapping the parser stays a one-file change.
//!
//! Why saphyr-parser rather than serde_yaml: serde_yaml's `Value` has no positions and spends
//! seconds on deeply nested flow collections (measured: 8.2 s for 80 KB of `[`); an event parser
//! with markers lets this module build its own tree with positions, report duplicate keys at the
//! second occurrence, and stop early at a depth limit and at budgets of nodes and bytes (figures
//! in BENCHMARKS.md).
//!
//! The budgets are spent while the tree is built, before anything is copied: every node and every
//! byte of scalar text (keys included) counts once where it is written, and again for each copy
//! this module makes, i.e. the copy kept for an anchor and each alias expansion. So a small file
//! cannot make the reader hold more than [`MAX_NODES`] nodes and [`MAX_MATERIALISED_BYTES`] bytes
//! of text, and whatever later copies or converts the tree (entity documents, JSON) is bounded too.
//!
//! Scalars are resolved with the YAML 1.2 core schema, as Backstage's own parser does: `no` and
//! `on` are strings, `true`/`false` are booleans, `~`/`null`/empty are null.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError};

use crate::domain::{Code, Diagnostic, Position};

/// Deeper nesting than this is refused; real descriptors stay under 20 levels.
pub const MAX_DEPTH: usize = 64;
/// At most this many nodes per file, counting every anchor copy and alias expansion.
pub const MAX_NODES: usize = 100_000;
/// At most this many bytes of scalar text copied by anchors and alias expansions per file (4 MiB).
pub const MAX_COPIED_BYTES: usize = 4 * 1024 * 1024;
/// At most this many bytes of scalar text per file, written and copied together (8 MiB: eight
/// times the 1 MiB file cap, [`crate::descriptor::MAX_FILE_BYTES`]).
pub const MAX_MATERIALISED_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum ScalarKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub kind: ScalarKind,
    /// Written without quotes or block indicators, so the core schema resolved its type.
    pub plain: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub start: Position,
    pub end: Position,
}

impl Node {
    /// The node's text when it is a string scalar (quoted, or plain and resolved as a string).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(Scalar {
                text,
                kind: ScalarKind::Str,
                ..
            }) => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(
            &self.value,
            Value::Scalar(Scalar {
                kind: ScalarKind::Null,
                ..
            })
        )
    }

    pub fn as_mapping(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Sequence(items) => Some(items),
            _ => None,
        }
    }

    /// The value stored under `key` in a mapping (the first one, should the key repeat).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_mapping()?
            .iter()
            .find(|(candidate, _)| candidate.as_key() == Some(key))
            .map(|(_, value)| value)
    }

    /// The text of a scalar used as a mapping key, whatever its resolved type.
    pub fn as_key(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(scalar) => Some(&scalar.text),
            _ => None,
        }
    }

    /// A short name of the node's type for messages: "a string", "a list", ...
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(scalar) => match scalar.kind {
                ScalarKind::Null => "null",
                ScalarKind::Bool(_) => "a boolean",
                ScalarKind::Int(_) => "an integer",
                ScalarKind::Float(_) => "a number",
                ScalarKind::Str => "a string",
            },
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
        }
    }

    /// Converts to JSON; keys that are not scalars are rendered as their YAML type name.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as Json;
        match &self.value {
            Value::Scalar(scalar) => match scalar.kind {
                ScalarKind::Null => Json::Null,
                ScalarKind::Bool(value) => Json::Bool(value),
                ScalarKind::Int(value) => Json::from(value),
                ScalarKind::Float(value) => serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number),
                ScalarKind::Str => Json::String(scalar.text.clone()),
            },
            Value::Sequence(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Value::Mapping(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.as_key().unwrap_or(key.type_name()).to_owned(), value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON by moving the strings out of the tree (no copies).
    pub fn into_json(self) -> serde_json::Value {
        use serde_json::Value as Json;
        match self.value {
            Value::Scalar(Scalar {
                kind: ScalarKind::Str,
                text,
                ..
            }) => Json::String(text),
            Value::Scalar(_) => self.to_json(),
            Value::Sequence(items) => Json::Array(items.into_iter().map(Node::into_json).collect()),
            Value::Mapping(entries) => Json::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        let key = match key.value {
                            Value::Scalar(scalar) => scalar.text,
                            _ => key.type_name().to_owned(),
                        };
                        (key, value.into_json())
                    })
                    .collect(),
            ),
        }
    }

    /// This node and every value below it (mapping keys excluded), in document order.
    pub fn values(&self) -> impl Iterator<Item = &Node> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            let node = stack.pop()?;
            match &node.value {
                Value::Scalar(_) => {}
                Value::Sequence(items) => stack.extend(items.iter().rev()),
                Value::Mapping(entries) => stack.extend(entries.iter().rev().map(|(_, value)| value)),
            }
            Some(node)
        })
    }

    /// What a copy of this node costs: its nodes and its bytes of scalar text, keys included.
    fn size(&self) -> Size {
        match &self.value {
            Value::Scalar(scalar) => Size {
                nodes: 1,
                bytes: scalar.text.len(),
            },
            Value::Sequence(items) => items.iter().map(Node::size).fold(Size { nodes: 1, bytes: 0 }, Size::add),
            Value::Mapping(entries) => entries
                .iter()
                .flat_map(|(key, value)| [key.size(), value.size()])
                .fold(Size { nodes: 1, bytes: 0 }, Size::add),
        }
    }
}

/// Nodes and bytes of scalar text, what the budgets count.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
}

impl Size {
    fn add(self, other: Size) -> Size {
        Size {
            nodes: self.nodes + other.nodes,
            bytes: self.bytes + other.bytes,
        }
    }
}

/// What is left of a file's budgets.
struct Budget {
    nodes: usize,
    bytes: usize,
    copied_bytes: usize,
}

/// One YAML document of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Index among the file's documents, counting empty ones, from 0.
    pub index: usize,
    pub root: Node,
}

/// Parses every document of `text`. On a syntax error, no document is returned: a file that
/// does not parse is rejected whole, never half-read.
pub fn parse(text: &str, file: &str) -> (Vec<Document>, Vec<Diagnostic>) {
    let mut builder = Builder::new(file);
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_event() {
            None | Some(Ok((Event::StreamEnd, _))) => break,
            Some(Ok((event, span))) => {
                if let Err(diagnostic) = builder.accept(event, position(span.start), position(span.end)) {
                    return (Vec::new(), vec![*diagnostic]);
                }
            }
            Some(Err(error)) => return (Vec::new(), vec![scan_error(&error, file)]),
        }
    }
    (builder.documents, builder.diagnostics)
}

fn position(marker: Marker) -> Position {
    Position {
        line: marker.line() as u32,
        column: marker.col() as u32 + 1,
    }
}

fn scan_error(error: &ScanError, file: &str) -> Diagnostic {
    let at = position(*error.marker());
    let info = error.info();
    if info.contains("tab") {
        return Diagnostic::new(
            Code::TabIndentation,
            file,
            at,
            format!("a tab is used where YAML needs spaces ({info})"),
        )
        .with_hint("indent with spaces; YAML forbids tabs in indentation");
    }
    if info.contains("recursion limit") {
        return Diagnostic::new(Code::NestingTooDeep, file, at, "collections are nested too deeply to parse");
    }
    Diagnostic::new(Code::YamlSyntax, file, at, format!("invalid YAML: {info}"))
}

enum Frame {
    Sequence {
        items: Vec<Node>,
        start: Position,
        anchor: usize,
    },
    Mapping {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        start: Position,
        anchor: usize,
    },
}

struct Builder<'file> {
    file: &'file str,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, Size)>,
    budget: Budget,
    document_index: usize,
    root: Option<Node>,
    documents: Vec<Document>,
    diagnostics: Vec<Diagnostic>,
}

type Abort = Box<Diagnostic>;

impl<'file> Builder<'file> {
    fn new(file: &'file str) -> Self {
        Builder {
            file,
            stack: Vec::new(),
            anchors: HashMap::new(),
            budget: Budget {
                nodes: MAX_NODES,
                bytes: MAX_MATERIALISED_BYTES,
                copied_bytes: MAX_COPIED_BYTES,
            },
            document_index: 0,
            root: None,
            documents: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    fn accept(&mut self, event: Event<'_>, start: Position, end: Position) -> Result<(), Abort> {
        match event {
            Event::DocumentStart(_) => {
                self.root = None;
                self.anchors.clear();
            }
            Event::DocumentEnd => {
                if let Some(root) = self.root.take() {
                    self.documents.push(Document {
                        index: self.document_index,
                        root,
                    });
                }
                self.document_index += 1;
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.spend(
                    Size {
                        nodes: 1,
                        bytes: text.len(),
                    },
                    false,
                    start,
                )?;
                let forced_string = tag.as_ref().is_some_and(|tag| tag.suffix == "str");
                let plain = style == ScalarStyle::Plain && !forced_string;
                let kind = if plain { resolve_core_schema(&text) } else { ScalarKind::Str };
                let node = Node {
                    value: Value::Scalar(Scalar {
                        text: text.into_owned(),
                        kind,
                        plain,
                    }),
                    start,
                    end,
                };
                self.finish(node, anchor)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(start)?;
                self.stack.push(Frame::Sequence {
                    items: Vec::new(),
                    start,
                    anchor,
                });
            }
            Event::MappingStart(anchor, _) => {
                self.enter(start)?;
                self.stack.push(Frame::Mapping {
                    entries: Vec::new(),
                    key: None,
                    start,
                    anchor,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node_and_anchor = match self.stack.pop() {
                    Some(Frame::Sequence { items, start, anchor }) => (
                        Node {
                            value: Value::Sequence(items),
                            start,
                            end,
                        },
                        anchor,
                    ),
                    Some(Frame::Mapping {
                        entries, start, anchor, ..
                    }) => {
                        self.check_duplicate_keys(&entries);
                        (
                            Node {
                                value: Value::Mapping(entries),
                                start,
                                end,
                            },
                            anchor,
                        )
                    }
                    None => return Ok(()),
                };
                self.spend(Size { nodes: 1, bytes: 0 }, false, start)?;
                self.finish(node_and_anchor.0, node_and_anchor.1)?;
            }
            Event::Alias(anchor) => {
                let Some(&(_, size)) = self.anchors.get(&anchor) else {
                    return Err(Box::new(Diagnostic::new(
                        Code::YamlSyntax,
                        self.file,
                        start,
                        "an alias refers to an unknown anchor",
                    )));
                };
                // Spent before the copy is made, so a refused expansion never allocates.
                self.spend(size, true, start)?;
                let Some((node, _)) = self.anchors.get(&anchor) else {
                    return Ok(());
                };
                let node = node.clone();
                self.finish(Node { start, end, ..node }, 0)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn enter(&mut self, at: Position) -> Result<(), Abort> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Box::new(
                Diagnostic::new(
                    Code::NestingTooDeep,
                    self.file,
                    at,
                    format!("collections are nested more than {MAX_DEPTH} levels deep"),
                )
                .with_hint("a descriptor never needs this; the file is probably generated or malicious"),
            ));
        }
        Ok(())
    }

    /// Spends `size` from the file's budgets, or refuses the file at `at`. `copy` is true for the
    /// copies made for anchors and aliases, which also spend the copied-bytes budget.
    fn spend(&mut self, size: Size, copy: bool, at: Position) -> Result<(), Abort> {
        let refuse = |message: String| {
            Err(Box::new(
                Diagnostic::new(Code::AliasExpansionLimit, self.file, at, message)
                    .with_hint("aliases (`*name`) that repeat anchors many times can blow up a document; write the values out"),
            ))
        };
        let Some(nodes) = self.budget.nodes.checked_sub(size.nodes) else {
            return refuse(format!(
                "the file expands to more than {MAX_NODES} YAML nodes (every alias expansion counts)"
            ));
        };
        let copied_bytes = if copy {
            match self.budget.copied_bytes.checked_sub(size.bytes) {
                Some(left) => left,
                None => {
                    return refuse(format!(
                        "aliases expand to more than {} MiB of copied text",
                        MAX_COPIED_BYTES / (1024 * 1024)
                    ));
                }
            }
        } else {
            self.budget.copied_bytes
        };
        let Some(bytes) = self.budget.bytes.checked_sub(size.bytes) else {
            return refuse(format!(
                "the file expands to more than {} MiB of text (every alias expansion counts)",
                MAX_MATERIALISED_BYTES / (1024 * 1024)
            ));
        };
        self.budget = Budget {
            nodes,
            bytes,
            copied_bytes,
        };
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), Abort> {
        if anchor != 0 {
            // The copy kept for later aliases is paid for like an expansion, before it is made.
            let size = node.size();
            self.spend(size, true, node.start)?;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                None => {
                    if !matches!(node.value, Value::Scalar(_)) {
                        return Err(Box::new(
                            Diagnostic::new(
                                Code::YamlSyntax,
                                self.file,
                                node.start,
                                format!("a mapping key is {}, but keys must be plain values", node.type_name()),
                            )
                            .with_hint("an unquoted `{` or `[` starts a collection; quote the value if it is text such as `{{ name }}`"),
                        ));
                    }
                    *key = Some(node);
                }
                Some(key_node) => entries.push((key_node, node)),
            },
        }
        Ok(())
    }

    fn check_duplicate_keys(&mut self, entries: &[(Node, Node)]) {
        /// Up to this many keys, earlier keys are searched in place instead of hashed (no
        /// allocation; descriptors' mappings hold a handful of keys).
        const SCANNED: usize = 16;
        if entries.len() < 2 {
            return;
        }
        let mut seen: HashMap<&str, &Node> = HashMap::new();
        for (index, (key, _)) in entries.iter().enumerate() {
            let Some(text) = key.as_key() else { continue };
            let first = if entries.len() <= SCANNED {
                entries[..index]
                    .iter()
                    .map(|(earlier, _)| earlier)
                    .find(|earlier| earlier.as_key() == Some(text))
            } else {
                seen.get(text).copied()
            };
            if let Some(first) = first {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::DuplicateKey,
                        self.file,
                        key.start,
                        format!("the key `{text}` appears twice in this mapping"),
                    )
                    .with_end(key.end)
                    .with_hint(format!(
                        "first defined at line {}; YAML parsers disagree on which one wins, so remove one",
                        first.start.line
                    )),
                );
            } else if entries.len() > SCANNED {
                seen.insert(text, key);
            }
        }
    }
}

/// Resolves a plain scalar's type with the YAML 1.2 core schema.
fn resolve_core_schema(text: &str) -> ScalarKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" => return ScalarKind::Bool(true),
        "false" | "False" | "FALSE" => return ScalarKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return ScalarKind::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return ScalarKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float(f64::NAN),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return ScalarKind::Str;
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).map_or(ScalarKind::Str, ScalarKind::Int);
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return i64::from_str_radix(octal, 8).map_or(ScalarKind::Str, ScalarKind::Int);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .map_or_else(|_| text.parse::<f64>().map_or(ScalarKind::Str, ScalarKind::Float), ScalarKind::Int);
    }
    let float_shaped = digits
        .bytes()
        .all(|byte| byte.is_ascii_digit() || matches!(byte, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|byte| byte.is_ascii_digit());
    if float_shaped && let Ok(value) = text.parse::<f64>() {
        return ScalarKind::Float(value);
    }
    ScalarKind::Str
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Vec<Document> {
        let (documents, diagnostics) = parse(text, "t.yaml");
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        documents
    }

    #[test]
    fn positions_are_one_based() {
        let documents = parse_ok("a: 1\nb:\n  c: [x, 'y']\n");
        let root = &documents[0].root;
        let c = root.get("b").unwrap().get("c").unwrap();
        assert_eq!(c.start, Position { line: 3, column: 6 });
        let items = c.as_sequence().unwrap();
        assert_eq!(items[1].start, Position { line: 3, column: 10 });
        assert_eq!(items[1].as_str(), Some("y"));
    }

    #[test]
    fn core_schema_resolution() {
        assert_eq!(resolve_core_schema("no"), ScalarKind::Str);
        assert_eq!(resolve_core_schema("on"), ScalarKind::Str);
        assert_eq!(resolve_core_schema("true"), ScalarKind::Bool(true));
        assert_eq!(resolve_core_schema("~"), ScalarKind::Null);
        assert_eq!(resolve_core_schema("42"), ScalarKind::Int(42));
        assert_eq!(resolve_core_schema("0x1F"), ScalarKind::Int(31));
        assert_eq!(resolve_core_schema("1.5e3"), ScalarKind::Float(1500.0));
        assert_eq!(resolve_core_schema("1.2.3"), ScalarKind::Str);
        assert_eq!(resolve_core_schema("2024-01-01"), ScalarKind::Str);
        assert_eq!(resolve_core_schema("-"), ScalarKind::Str);
    }

    #[test]
    fn duplicate_keys_point_at_the_second_occurrence() {
        let (documents, diagnostics) = parse("name: a\nowner: x\nname: b\n", "t.yaml");
        assert_eq!(documents.len(), 1);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::DuplicateKey);
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (3, 1));
    }

    #[test]
    fn documents_keep_their_index() {
        let documents = parse_ok("---\na: 1\n---\n---\nb: 2\n");
        let indexes: Vec<usize> = documents.iter().map(|document| document.index).collect();
        assert_eq!(indexes, vec![0, 1, 2]);
        assert!(documents[1].root.is_null(), "an empty document reads as null");
        assert!(documents[2].root.get("b").is_some());
    }

    #[test]
    fn aliases_expand_within_budget() {
        let documents = parse_ok("base: &b {x: 1}\ncopy: *b\n");
        assert_eq!(
            documents[0].root.get("copy").unwrap().get("x").unwrap().to_json(),
            serde_json::json!(1)
        );
    }
}
