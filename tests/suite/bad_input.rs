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

/// The memory bomb of issue 6: one anchored string of `string_bytes` bytes and `aliases` aliases
/// of it in one flow list, about 700 KB for 400 KB and 100,000: under the file cap, and the node
/// budget alone would have noticed only at the last alias, after 40 GB of copies.
pub fn big_string_alias_bomb(string_bytes: usize, aliases: usize) -> String {
    let mut text = format!("a: &a \"{}\"\nb: [", "x".repeat(string_bytes));
    text.push_str(&vec!["*a"; aliases].join(","));
    text.push_str("]\n");
    text
}

/// Parses `text` as a Backstage file and returns its one diagnostic, which must be S0009.
fn refused_by_the_budget(text: &str) -> Diagnostic {
    assert!(text.len() <= MAX_FILE_BYTES, "the bomb fits under the file cap");
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert_eq!(
        codes(&parsed.diagnostics),
        vec![Code::AliasExpansionLimit],
        "{:?}",
        parsed.diagnostics
    );
    assert!(parsed.entities.is_empty());
    let diagnostic = parsed.diagnostics[0].clone();
    assert_eq!(diagnostic.severity, Severity::Error);
    assert_eq!(diagnostic.file, "catalog-info.yaml");
    diagnostic
}

#[test]
fn a_big_anchored_string_repeated_by_aliases_is_refused_by_the_byte_budget() {
    let text = big_string_alias_bomb(400_000, 100_000);
    assert!(
        (700_000..=800_000).contains(&text.len()),
        "the size the issue names: {}",
        text.len()
    );
    let diagnostic = refused_by_the_budget(&text);
    assert!(
        diagnostic.message.contains("MiB"),
        "refused for its bytes, not its nodes: {diagnostic:?}"
    );
    // Line 2 holds the aliases; `b: [` is 4 characters and each `*a,` 3 more. The budget of 4 MiB
    // copied (the anchor's own copy included) is spent by the tenth alias, long before the last.
    assert_eq!(diagnostic.line, 2, "{diagnostic:?}");
    let alias_number = (diagnostic.column - 5) / 3 + 1;
    assert!((9..=11).contains(&alias_number), "refused at alias {alias_number}: {diagnostic:?}");
    assert_eq!((diagnostic.column - 5) % 3, 0, "the column is an alias's `*`: {diagnostic:?}");
}

#[test]
fn nested_aliases_of_big_strings_are_refused_by_the_byte_budget() {
    // Each level repeats the one below four times: 100 KB, 400 KB, 1.6 MB, 6.4 MB.
    let text = format!(
        "a: &a \"{}\"\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: &d [*c, *c, *c, *c]\ne: [*d, *d, *d, *d]\n",
        "y".repeat(100_000)
    );
    let diagnostic = refused_by_the_budget(&text);
    assert!(diagnostic.message.contains("MiB"), "{diagnostic:?}");
    assert!((3..=5).contains(&diagnostic.line), "at an alias of a nested level: {diagnostic:?}");
}

#[test]
fn aliases_of_a_big_mapping_are_refused_by_the_byte_budget() {
    let entries: Vec<String> = (0..100).map(|index| format!("k{index}: \"{}\"", "z".repeat(4_000))).collect();
    let text = format!("m: &m {{{}}}\nlist:\n{}", entries.join(", "), "  - *m\n".repeat(50_000));
    let diagnostic = refused_by_the_budget(&text);
    assert!(diagnostic.message.contains("MiB"), "{diagnostic:?}");
    assert!((3..=20).contains(&diagnostic.line), "at one of the first aliases: {diagnostic:?}");
    assert_eq!(diagnostic.column, 5, "{diagnostic:?}");
}

#[test]
fn anchors_nested_deep_pay_for_their_copies() {
    // Every level is anchored, so each keeps a copy of everything below it: 64 copies of 900 KB.
    let mut text = String::from("a: ");
    for level in 0..60 {
        text.push_str(&format!("&l{level} ["));
    }
    text.push_str(&format!("\"{}\"", "w".repeat(900_000)));
    text.push_str(&"]".repeat(60));
    text.push('\n');
    let diagnostic = refused_by_the_budget(&text);
    assert_eq!(diagnostic.line, 1, "{diagnostic:?}");
}

#[test]
fn aliases_within_the_budgets_still_read_into_the_entity_document() {
    // A 500 KB description repeated by three aliases: 2 MB copied, under the 4 MiB budget.
    let description = "d".repeat(500_000);
    let text = VALID.replace(
        "  name: checkout\n",
        &format!("  name: checkout\n  description: &text \"{description}\"\n  annotations:\n    a.example/one: *text\n    a.example/two: *text\n    a.example/three: *text\n"),
    );
    let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let entity = &parsed.entities[0];
    assert_eq!(
        entity.document["metadata"]["annotations"]["a.example/three"].as_str(),
        Some(description.as_str())
    );
}

#[test]
fn the_binary_refuses_the_bomb_with_file_line_and_column() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join("catalog-info.yaml");
    std::fs::write(&path, big_string_alias_bomb(400_000, 100_000)).expect("write the bomb");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["validate", "--format", "json"])
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1), "an error, not a crash: {output:?}");
    let line = String::from_utf8_lossy(&output.stdout);
    let diagnostic: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON diagnostic");
    assert_eq!(diagnostic["code"], "S0009");
    assert_eq!(diagnostic["file"].as_str(), Some(path.to_string_lossy().as_ref()));
    assert_eq!(diagnostic["line"], 2);
    assert!(diagnostic["column"].as_u64().is_some_and(|column| column > 4));
}

/// The S0116 diagnostics of a file, as (line, column), and whether it yields any entity.
fn script_links(path: &str, text: &str) -> (Vec<(u32, u32)>, usize) {
    let parsed = parse_bytes(path, text.as_bytes());
    let found = parsed
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.code == Code::DangerousLinkScheme)
        .map(|diagnostic| (diagnostic.line, diagnostic.column))
        .collect();
    (found, parsed.entities.len())
}

#[test]
fn script_links_are_refused_in_any_spelling_and_yield_no_entity() {
    let with_link = |url: &str| VALID.replace("  name: checkout\n", &format!("  name: checkout\n  links:\n    - url: {url}\n"));
    assert_eq!(
        script_links("catalog-info.yaml", &with_link("https://status.example.com")),
        (vec![], 1)
    );
    for url in [
        "javascript:alert(1)",
        "\" JaVaScRiPt:alert(1)\"",
        "\"\\u0001\\tjavascript:alert(1)\"",
        "\"java\\tscript:alert(1)\"",
        "\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\"",
        "VBScript:MsgBox(1)",
    ] {
        let text = with_link(url);
        assert_eq!(script_links("catalog-info.yaml", &text), (vec![(6, 12)], 0), "for {url}");
        let parsed = parse_bytes("catalog-info.yaml", text.as_bytes());
        assert_eq!(codes(&parsed.diagnostics), vec![Code::DangerousLinkScheme], "only S0116 for {url}");
        assert_eq!(parsed.diagnostics[0].severity, Severity::Error);
        assert!(!parsed.diagnostics[0].message.contains("alert"), "the payload is not echoed");
    }
}

#[test]
fn script_links_are_refused_in_view_and_edit_url_annotations() {
    let text = VALID.replace(
        "  name: checkout\n",
        "  name: checkout\n  annotations:\n    backstage.io/view-url: https://git.example.com/checkout\n    backstage.io/edit-url: \"  javascript:alert(1)\"\n    example.com/note: \"javascript: is only text here\"\n",
    );
    assert_eq!(script_links("catalog-info.yaml", &text), (vec![(7, 28)], 0));
}

#[test]
fn script_links_are_refused_in_compass_files() {
    let compass = |url: &str| {
        format!("name: Fare Cache\nslug: fare-cache\nconfigVersion: 1\ntypeId: SERVICE\nlinks:\n  - type: DASHBOARD\n    url: {url}\n")
    };
    assert_eq!(script_links("compass.yml", &compass("https://dash.example.com/fares")), (vec![], 1));
    assert_eq!(
        script_links("compass.yml", &compass("\"DATA:text/html,<script>alert(1)</script>\"")),
        (vec![(7, 10)], 0)
    );
}

/// Runs the binary and returns its output, or fails the test (killing the process) when it has
/// not finished within `limit`: a hang fails instead of blocking the suite.
fn run_with_deadline(command: &mut std::process::Command, limit: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let process_id = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(limit) {
        Ok(output) => output.expect("the binary's output"),
        Err(_) => {
            let _ = std::process::Command::new("kill").args(["-9", &process_id.to_string()]).status();
            panic!("sextant did not finish within {limit:?}: it hangs");
        }
    }
}

fn make_fifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_named_on_the_command_line_is_refused_without_waiting_for_a_writer() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let fifo = folder.path().join("catalog-info.yaml");
    make_fifo(&fifo);
    let output = run_with_deadline(
        std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(["validate", "--format", "json"])
            .arg(&fifo),
        std::time::Duration::from_secs(20),
    );
    assert_eq!(output.status.code(), Some(2), "an unreadable file is exit 2: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let diagnostic: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON diagnostic");
    assert_eq!(diagnostic["code"], "S0011");
    assert_eq!(diagnostic["file"].as_str(), Some(fifo.to_string_lossy().as_ref()));
    assert!(
        diagnostic["message"]
            .as_str()
            .is_some_and(|message| message.contains("named pipe (FIFO)")),
        "{diagnostic}"
    );
}

#[test]
fn a_fifo_found_in_a_directory_is_reported_and_the_other_files_are_checked() {
    let folder = tempfile::tempdir().expect("temporary folder");
    std::fs::create_dir_all(folder.path().join("pipe")).unwrap();
    std::fs::create_dir_all(folder.path().join("good")).unwrap();
    make_fifo(&folder.path().join("pipe/compass.yml"));
    std::fs::write(
        folder.path().join("good/catalog-info.yaml"),
        VALID.replace("name: checkout", "name: Check Out"),
    )
    .unwrap();
    let output = run_with_deadline(
        std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(["validate", "--format", "json"])
            .arg(folder.path()),
        std::time::Duration::from_secs(20),
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let codes: Vec<(String, String)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON"))
        .map(|diagnostic| {
            let file = diagnostic["file"].as_str().unwrap_or_default();
            let folder_name = file.rsplit('/').nth(1).unwrap_or_default().to_owned();
            (diagnostic["code"].as_str().unwrap_or_default().to_owned(), folder_name)
        })
        .collect();
    assert_eq!(
        codes,
        vec![("S0104".to_owned(), "good".to_owned()), ("S0011".to_owned(), "pipe".to_owned())],
        "the good file is still checked"
    );
}
