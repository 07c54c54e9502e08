//! Hostile and broken input: every case gets a clear diagnostic with a position and a stable
//! code, never a panic or a hang. (How long each takes is measured by `cargo bench`, not here.)

use sextant::descriptor::{MAX_FILE_BYTES, parse_bytes};
use sextant::domain::{Code, Diagnostic, Severity};

const VALID: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: checkout\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

fn codes(diagnostics: &[Diagnostic]) -> Vec<Code> {
    diagnostics.iter().map(|diagnostic| diagnostic.code).collect()
}

fn only(bytes: &[u8], code: Code) -> Diagnostic {
    let parsed = parse_bytes("catalog-info.yaml", bytes);
    let matching: Vec<&Diagnostic> = parsed.diagnostics.iter().filter(|diagnostic| diagnostic.code == code).collect();
    assert_eq!(matching.len(), 1, "expected one {code}, got {:?}", parsed.diagnostics);
    matching[0].clone()
}

/// The classic "billion laughs": nine levels of nine aliases, 342 bytes.
pub fn billion_laughs() -> String {
    let mut text = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (previous, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
        let aliases = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
    }
    text
}

#[test]
fn billion_laughs_is_stopped_by_the_node_budget() {
    let text = billion_laughs();
    assert_eq!(text.len(), 342, "the classic payload is 342 bytes");
    let diagnostic = only(text.as_bytes(), Code::AliasExpansionLimit);
    assert_eq!(diagnostic.severity, Severity::Error);
    assert!(diagnostic.line >= 2, "points at the alias that exceeded the budget: {diagnostic:?}");
}

#[test]
fn deep_flow_nesting_is_refused() {
    let text = format!("a: {}", "[".repeat(80_000));
    let diagnostic = only(text.as_bytes(), Code::NestingTooDeep);
    assert_eq!(diagnostic.line, 1);
}

#[test]
fn deep_block_nesting_is_refused() {
    let text = format!("{}x\n", "- ".repeat(5_000));
    let diagnostic = only(text.as_bytes(), Code::NestingTooDeep);
    assert_eq!(diagnostic.line, 1);
}

#[test]
fn oversized_files_are_not_parsed() {
    let mut text = String::from(VALID);
    text.push_str(&"# padding\n".repeat(MAX_FILE_BYTES / 10 + 1));
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert_eq!(codes(&parsed.diagnostics), vec![Code::FileTooLarge]);
    assert!(parsed.entities.is_empty());
}

#[test]
fn invalid_utf8_points_at_the_bad_byte() {
    let mut bytes = VALID.as_bytes().to_vec();
    bytes.splice(54..54, [0xff, 0xfe]);
    let diagnostic = only(&bytes, Code::InvalidUtf8);
    assert_eq!((diagnostic.line, diagnostic.column), (3, 5), "inside `metadata`, after `meta`");
}

#[test]
fn nul_bytes_are_refused_as_binary() {
    let diagnostic = only(b"apiVersion: backstage.io/v1alpha1\nkind: Com\0ponent\n", Code::NulByte);
    assert_eq!((diagnostic.line, diagnostic.column), (2, 10));
}

#[test]
fn a_byte_order_mark_is_a_warning_and_the_file_still_reads() {
    let text = format!("\u{feff}{VALID}");
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert_eq!(codes(&parsed.diagnostics), vec![Code::ByteOrderMark]);
    assert_eq!(parsed.entities.len(), 1);
    assert_eq!(parsed.entities[0].entity_ref.to_string(), "component:default/checkout");
}

#[test]
fn crlf_files_read_with_correct_positions() {
    let text = VALID.replace('\n', "\r\n").replace("name: checkout", "name: Check Out");
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert_eq!(codes(&parsed.diagnostics), vec![Code::CrlfLineEndings, Code::InvalidEntityName]);
    let name = &parsed.diagnostics[1];
    assert_eq!((name.line, name.column), (4, 9));
    assert_eq!(parsed.diagnostics[0].severity, Severity::Note);
}

#[test]
fn tabs_in_indentation_are_named() {
    let text = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n\tname: checkout\n";
    let diagnostic = only(text.as_bytes(), Code::TabIndentation);
    assert_eq!(diagnostic.line, 4);
}

#[test]
fn empty_and_comment_only_files_warn() {
    for text in ["", "\n\n", "# just a comment\n", "---\n---\n"] {
        let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
        assert_eq!(codes(&parsed.diagnostics), vec![Code::EmptyFile], "for {text:?}");
        assert_eq!(parsed.diagnostics[0].severity, Severity::Warning);
    }
}

#[test]
fn documents_that_are_not_mappings_are_errors_and_others_still_read() {
    let text = format!("- a\n- b\n---\n{VALID}---\njust text\n");
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert_eq!(codes(&parsed.diagnostics), vec![Code::NotAMapping, Code::NotAMapping]);
    assert_eq!(parsed.diagnostics[0].line, 1);
    assert_eq!(parsed.entities.len(), 1, "the good document in the middle is kept");
}

#[test]
fn yaml11_booleans_warn_but_read_as_strings_like_backstage() {
    let text = VALID.replace("owner: team-a", "owner: no");
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert_eq!(codes(&parsed.diagnostics), vec![Code::AmbiguousScalar]);
    assert_eq!(parsed.diagnostics[0].line, 8);
    let owner = parsed.entities[0].owner.as_ref().expect("owner").to_string();
    assert_eq!(owner, "group:default/no");
}

#[test]
fn real_booleans_where_strings_belong_are_wrong_types_with_a_quoting_hint() {
    let text = VALID.replace("owner: team-a", "owner: false");
    let diagnostic = only(text.as_bytes(), Code::WrongType);
    assert!(
        diagnostic.hint.as_deref().unwrap_or_default().contains("\"false\""),
        "{diagnostic:?}"
    );
}

#[test]
fn scaffolder_placeholders_mark_a_template_skeleton() {
    let text = VALID
        .replace("name: checkout", "name: ${{ values.name }}")
        .replace("owner: team-a", "owner: ${{ values.owner }}");
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert_eq!(
        codes(&parsed.diagnostics),
        vec![Code::TemplatePlaceholder],
        "one diagnostic, not one per field"
    );
    assert_eq!(parsed.diagnostics[0].line, 4);
    assert!(parsed.entities.is_empty());
}

#[test]
fn templates_themselves_may_hold_placeholders() {
    let text = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: new-service\nspec:\n  type: service\n  steps:\n    - id: fetch\n      action: fetch:template\n      input:\n        values:\n          name: ${{ parameters.name }}\n";
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert_eq!(parsed.entities[0].entity_ref.to_string(), "template:default/new-service");
}

#[test]
fn helm_templating_is_named_even_when_it_breaks_the_yaml() {
    let text = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {{ .Values.name }}\n";
    let diagnostic = only(text.as_bytes(), Code::TextTemplate);
    assert_eq!((diagnostic.line, diagnostic.column), (4, 9));
    let quoted = text.replace("{{ .Values.name }}", "\"{{ .Values.name }}\"");
    let diagnostic = only(quoted.as_bytes(), Code::TextTemplate);
    assert_eq!(diagnostic.line, 4);
}

#[test]
fn duplicate_keys_reject_the_file_and_point_at_the_second_key() {
    let text = VALID.replace("  type: service\n", "  type: service\n  owner: team-b\n");
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert_eq!(codes(&parsed.diagnostics), vec![Code::DuplicateKey]);
    // The inserted key is on line 7; the original `owner` on line 9 is the second occurrence.
    assert_eq!((parsed.diagnostics[0].line, parsed.diagnostics[0].column), (9, 3));
    assert!(parsed.entities.is_empty(), "an ambiguous file yields no entity");
}

/// A small deterministic generator (xorshift), so the mutation test needs no extra crate and
/// fails the same way every run.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

#[test]
fn mutated_real_files_never_panic_and_always_have_positions() {
    const INTERESTING: &[u8] = b"[]{}:-&*!|>'\"#\t\n\r ,?%@`\\\xff\x00";
    let Some(corpus) = crate::support::corpus_dir("mutated_real_files_never_panic_and_always_have_positions") else {
        return;
    };
    let corpus = corpus.join("catalog-info");
    let mut files: Vec<_> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    let mut random = Xorshift(0x5eed_cafe_f00d_d00d);
    let mut runs = 0;
    for path in files.iter().take(40) {
        let original = std::fs::read(path).expect("readable");
        for _ in 0..150 {
            let mut bytes = original.clone();
            for _ in 0..=random.below(4) {
                let at = random.below(bytes.len() + 1);
                match random.below(4) {
                    0 if at < bytes.len() => bytes[at] = INTERESTING[random.below(INTERESTING.len())],
                    1 => bytes.insert(at, INTERESTING[random.below(INTERESTING.len())]),
                    2 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.truncate(at),
                }
            }
            let parsed = parse_bytes("catalog-info.yaml", &bytes);
            for diagnostic in &parsed.diagnostics {
                assert!(
                    diagnostic.line >= 1 && diagnostic.column >= 1,
                    "position missing in {diagnostic:?} for {}",
                    path.display()
                );
                assert!(!diagnostic.message.is_empty());
            }
            runs += 1;
        }
    }
    assert_eq!(runs, 40 * 150);
}

#[test]
fn a_compass_file_with_two_documents_yields_no_component() {
    let text = "name: Fare Rules\nslug: fare-rules\n---\nname: Fare Cache\nslug: fare-cache\n";
    let parsed = parse_bytes("compass.yml", text.as_bytes());
    assert_eq!(codes(&parsed.diagnostics), vec![Code::MultipleCompassDocuments]);
    assert_eq!(parsed.diagnostics[0].line, 4);
    assert!(parsed.entities.is_empty());
}

#[test]
fn placeholders_stand_for_spec_values_but_not_for_names() {
    let api = "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: fares\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./openapi.yaml\n";
    let parsed = parse_bytes("catalog-info.yaml", api.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert_eq!(parsed.entities.len(), 1);
    let named_by_placeholder = VALID.replace("name: checkout", "name:\n    $text: ./name.txt");
    let diagnostic = only(named_by_placeholder.as_bytes(), Code::WrongType);
    assert_eq!(diagnostic.line, 5);
}

#[test]
fn computed_root_keys_are_refused_as_backstage_does() {
    let text = format!("{VALID}status:\n  items: []\n");
    let diagnostic = only(text.as_bytes(), Code::UnknownField);
    assert_eq!((diagnostic.line, diagnostic.severity), (9, Severity::Error));
}
