//! `sextant demo`: the main job on the embedded example organisation (`catalog-examples/`).
//! Today it validates every example repository together, prints what the organisation holds,
//! and shows the deliberate mistakes of `catalog-examples/invalid/` with their diagnostics.
//! The crawl issue extends it to build git repositories from the examples and crawl them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::domain::Severity;
use crate::validate::report::{OutputFormat, render};
use crate::validate::{Options, Report, validate_paths};

/// The example organisation shipped in the source tree.
pub fn default_examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog-examples")
}

/// What the demo found: the clean organisation alone, and the whole folder with `invalid/`.
pub struct DemoReport {
    pub organisation: Report,
    pub repositories: Vec<String>,
    pub invalid: Report,
}

/// Validates the example repositories together (strictly: every reference must resolve), and
/// the whole folder, whose only diagnostics must come from `invalid/`.
pub fn run(examples: &Path) -> Result<DemoReport, crate::validate::DiscoverError> {
    let current = std::env::current_dir().unwrap_or_default();
    let examples = examples.strip_prefix(&current).unwrap_or(examples);
    let mut repositories: Vec<PathBuf> = std::fs::read_dir(examples)
        .map_err(|error| crate::validate::DiscoverError { path: examples.to_path_buf(), error })?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && !path.ends_with("invalid"))
        .collect();
    repositories.sort();
    let strict = Options { strict: true, threads: 0 };
    let organisation = validate_paths(&repositories, strict)?;
    // The mistakes are checked with the organisation beside them, so their owners resolve.
    let invalid = validate_paths(&[examples.to_path_buf()], Options { strict: false, threads: 0 })?;
    let repositories = repositories.iter().filter_map(|path| path.file_name()).map(|name| name.to_string_lossy().into_owned()).collect();
    Ok(DemoReport { organisation, repositories, invalid })
}

/// The demo's text: an overview of the organisation, then the invalid folder's diagnostics.
pub fn render_demo(demo: &DemoReport, color: bool) -> String {
    let mut output = String::new();
    let organisation = &demo.organisation;
    let _ = writeln!(output, "example organisation: {} repositories, {}", demo.repositories.len(), organisation.summary());
    let mut per_repository: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for entity in &organisation.entities {
        let repository = demo
            .repositories
            .iter()
            .find(|repository| entity.provenance.file.contains(&format!("/{repository}/")))
            .map_or("?", String::as_str);
        *per_repository.entry(repository).or_default().entry(entity.entity_ref.kind.as_str()).or_default() += 1;
    }
    for (repository, kinds) in &per_repository {
        let kinds: Vec<String> = kinds.iter().map(|(kind, count)| format!("{count} {kind}")).collect();
        let _ = writeln!(output, "  {repository:<20} {}", kinds.join(", "));
    }
    let relations: usize = organisation.entities.iter().map(|entity| entity.relations.len()).sum();
    let _ = writeln!(output, "  {relations} declared relations, every reference resolved (--strict)\n");
    if organisation.count(Severity::Error) + organisation.count(Severity::Warning) > 0 {
        output.push_str(&render(organisation, OutputFormat::Human, color));
        output.push('\n');
    }
    let _ = writeln!(output, "deliberate mistakes in invalid/, one folder per diagnostic code:\n");
    output.push_str(&render(&demo.invalid, OutputFormat::Human, color));
    output
}
