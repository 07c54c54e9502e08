//! Terminal views of the catalog for people and scripts: the crawl summary, `sextant show` and
//! `sextant problems`, each as text or JSON; the one function that makes descriptor text safe to
//! print; and the one way to write to stdout (a reader that goes away ends the output quietly).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::domain::{Diagnostic, EntityRef};
use crate::ingest::{CrawlSummary, RepoOutcome};
use crate::store::{Dependent, NewConflict, ProblemCounts, Problems, RelationRow};

/// The crawl summary lists at most this many items of each kind and counts the rest.
pub const LIST_LIMIT: usize = 20;

/// Text from descriptors, repositories or the network, made safe for a terminal: every control
/// character (C0 such as ESC, BEL, CR and LF; DEL; C1 such as CSI) and every bidirectional
/// override is replaced by a visible escape such as `\u{1b}`, so that no text can move the
/// cursor, retitle the window, clear the screen or reorder what is shown. Tabs are kept.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for character in text.chars() {
        if needs_escape(character) {
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(character));
        } else {
            escaped.push(character);
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(character: char) -> bool {
    (character.is_control() && character != '\t') || matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Finished terminal output that may carry its own colour codes (ESC sequences) but whose text
/// parts had their C0 controls replaced already (as annotate-snippets does, with `␛`): the C1
/// controls and bidirectional overrides left in it become `�`, one character each, so that
/// carets under the text stay aligned.
pub fn without_c1_controls(rendered: String) -> String {
    let is_hostile = |character: char| matches!(character, '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !rendered.chars().any(is_hostile) {
        return rendered;
    }
    rendered
        .chars()
        .map(|character| if is_hostile(character) { '\u{fffd}' } else { character })
        .collect()
}

/// JSON for stdout, one line. serde_json escapes C0 control characters itself; DEL, the C1
/// controls and bidirectional overrides are escaped here too (`\u009b`), which is the same JSON
/// value, so that JSON shown on a terminal cannot drive it either.
pub fn json_line(value: &impl serde::Serialize) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    let mut line = String::with_capacity(text.len() + 1);
    for character in text.chars() {
        if needs_escape(character) {
            let _ = write!(line, "\\u{:04x}", u32::from(character));
        } else {
            line.push(character);
        }
    }
    line.push('\n');
    line
}

/// `1 repository`, `2 repositories`.
pub fn counted(number: usize, singular: &str, plural: &str) -> String {
    format!("{number} {}", if number == 1 { singular } else { plural })
}

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout. When the reader has gone away (a broken pipe, as with
/// `sextant problems | head -1`), this and every later write are dropped quietly and the command
/// ends with its own exit code. Any other write error is reported once on stderr and makes
/// [`stdout_failed`] true (the CLI then exits with 2).
pub fn print(text: &str) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            print_error(&format!("error: cannot write the output: {error}\n"));
        }
    }
}

/// Whether writing to stdout failed for a reason other than a reader that went away.
pub fn stdout_failed() -> bool {
    STDOUT_FAILED.load(Ordering::Relaxed)
}

/// Writes `text` to stderr; a stderr that cannot be written to is ignored (never a panic).
pub fn print_error(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
}

/// What the crawl summary says of the catalog after the crawl, read from the store.
#[derive(Debug, Clone, Default)]
pub struct CatalogAfterCrawl {
    /// Repositories this crawl read successfully that are stale now (some descriptor file is
    /// unusable), with the reason.
    pub stale: Vec<(String, String)>,
    /// Every problem the catalog holds, this crawl's and earlier ones'.
    pub problems: ProblemCounts,
    /// The command that lists them (the demo's catalog has its own).
    pub problems_command: &'static str,
}

/// What this crawl changed, gathered from the outcomes: the lists the counts are taken from.
struct CrawlChanges<'a> {
    conflicts: Vec<&'a NewConflict>,
    /// (repository URL, diagnostic), in source order.
    diagnostics: Vec<(&'a str, &'a Diagnostic)>,
    /// (repository URL, reason).
    failed: Vec<(&'a str, &'a str)>,
}

fn crawl_changes(summary: &CrawlSummary) -> CrawlChanges<'_> {
    let mut changes = CrawlChanges {
        conflicts: Vec::new(),
        diagnostics: Vec::new(),
        failed: Vec::new(),
    };
    for (url, outcome) in &summary.outcomes {
        match outcome {
            RepoOutcome::Applied(stats) => {
                changes.conflicts.extend(&stats.new_conflicts);
                changes
                    .diagnostics
                    .extend(stats.new_diagnostics.iter().map(|diagnostic| (url.as_str(), diagnostic)));
            }
            RepoOutcome::Failed(reason) => changes.failed.push((url.as_str(), reason.as_str())),
            RepoOutcome::Unchanged | RepoOutcome::Superseded => {}
        }
    }
    changes
}

fn conflict_line(conflict: &NewConflict) -> String {
    format!(
        "conflict: {} is held by {} in {}; also claimed by {}:{} in {}",
        printable(&conflict.entity_ref),
        printable(&conflict.holder_file),
        printable(&conflict.holder_repo),
        printable(&conflict.claimant_file),
        conflict.claimant_line,
        printable(&conflict.claimant_repo),
    )
}

fn diagnostic_line(diagnostic: &Diagnostic) -> String {
    format!(
        "{}:{}:{}  {}[{}]  {}",
        printable(&diagnostic.file),
        diagnostic.line,
        diagnostic.column,
        diagnostic.severity.as_str(),
        diagnostic.code.as_str(),
        printable(&diagnostic.message)
    )
}

/// Writes at most [`LIST_LIMIT`] rows, then how many were left out.
fn write_limited(output: &mut String, rows: impl ExactSizeIterator<Item = String>) {
    let total = rows.len();
    for row in rows.take(LIST_LIMIT) {
        let _ = writeln!(output, "  {row}");
    }
    if total > LIST_LIMIT {
        let _ = writeln!(output, "  … and {} more", total - LIST_LIMIT);
    }
}

/// The problem counts in words, non-zero kinds only: `1 conflict, 3 dangling references`.
pub fn problem_breakdown(counts: &ProblemCounts) -> String {
    let parts: Vec<String> = [
        (counts.conflicts, "conflict", "conflicts"),
        (counts.dangling, "dangling reference", "dangling references"),
        (counts.orphans, "orphan", "orphans"),
        (
            counts.invalid_owners,
            "owner that is not a Group or User",
            "owners that are not a Group or User",
        ),
        (counts.duplicate_aliases, "alias claimed twice", "aliases claimed twice"),
        (counts.cycles, "cycle", "cycles"),
        (counts.stale_repos, "stale or failing repository", "stale or failing repositories"),
        (counts.invalid_files, "invalid file", "invalid files"),
    ]
    .into_iter()
    .filter(|(count, _, _)| *count > 0)
    .map(|(count, singular, plural)| counted(count, singular, plural))
    .collect();
    parts.join(", ")
}

/// The summary printed at the end of a crawl: what this crawl changed (every count equals its
/// list, lists cut at [`LIST_LIMIT`]), then how many problems the catalog holds in total.
pub fn crawl_summary(summary: &CrawlSummary, after: &CatalogAfterCrawl) -> String {
    let totals = &summary.totals;
    let changes = crawl_changes(summary);
    let crawled = summary.count(|outcome| matches!(outcome, RepoOutcome::Applied(_)));
    let unchanged = summary.count(|outcome| matches!(outcome, RepoOutcome::Unchanged));
    let mut output = String::new();
    let _ = writeln!(
        output,
        "repositories  {crawled} crawled, {unchanged} unchanged, {} failed",
        changes.failed.len()
    );
    let _ = writeln!(
        output,
        "entities      {} added, {} updated, {} removed",
        totals.added, totals.updated, totals.removed
    );
    let _ = writeln!(
        output,
        "this crawl    {}, {}, {}",
        counted(changes.conflicts.len(), "new conflict", "new conflicts"),
        counted(changes.diagnostics.len(), "new diagnostic", "new diagnostics"),
        counted(after.stale.len(), "repository stale", "repositories stale")
    );
    let _ = writeln!(output, "elapsed       {:.2} s", summary.elapsed.as_secs_f64());
    if !changes.conflicts.is_empty() {
        let _ = writeln!(
            output,
            "\n{} (the definition that holds a reference keeps it):",
            counted(changes.conflicts.len(), "new conflict", "new conflicts")
        );
        write_limited(&mut output, changes.conflicts.iter().map(|conflict| conflict_line(conflict)));
    }
    if !changes.diagnostics.is_empty() {
        let _ = writeln!(
            output,
            "\n{}:",
            counted(changes.diagnostics.len(), "new diagnostic", "new diagnostics")
        );
        // Each repository is named once, above its diagnostics; the limit counts diagnostics.
        let mut previous_url = None;
        for (url, diagnostic) in changes.diagnostics.iter().take(LIST_LIMIT) {
            if previous_url != Some(*url) {
                let _ = writeln!(output, "  {}", printable(url));
                previous_url = Some(*url);
            }
            let _ = writeln!(output, "    {}", diagnostic_line(diagnostic));
        }
        if changes.diagnostics.len() > LIST_LIMIT {
            let _ = writeln!(output, "  … and {} more", changes.diagnostics.len() - LIST_LIMIT);
        }
    }
    if !after.stale.is_empty() {
        let _ = writeln!(
            output,
            "\n{} (some files cannot be used; their last good entities, if any, are kept):",
            counted(after.stale.len(), "repository is stale", "repositories are stale")
        );
        write_limited(
            &mut output,
            after
                .stale
                .iter()
                .map(|(url, reason)| format!("{}: {}", printable(url), printable(reason))),
        );
    }
    if !changes.failed.is_empty() {
        let _ = writeln!(
            output,
            "\n{} (marked stale; their last good entities, if any, are kept):",
            counted(changes.failed.len(), "repository failed", "repositories failed")
        );
        write_limited(
            &mut output,
            changes
                .failed
                .iter()
                .map(|(url, reason)| format!("{}: {}", printable(url), printable(reason))),
        );
    }
    let total = after.problems.total();
    if total == 0 {
        let _ = writeln!(output, "\nthe catalog holds no problems");
    } else {
        let _ = writeln!(
            output,
            "\nthe catalog holds {} in total ({}); `{}` lists them",
            counted(total, "problem", "problems"),
            problem_breakdown(&after.problems),
            after.problems_command
        );
    }
    output
}

fn diagnostic_json(url: &str, diagnostic: &Diagnostic) -> serde_json::Value {
    json!({
        "repo": url,
        "file": diagnostic.file,
        "line": diagnostic.line,
        "column": diagnostic.column,
        "code": diagnostic.code.as_str(),
        "severity": diagnostic.severity.as_str(),
        "message": diagnostic.message,
    })
}

/// The crawl summary for scripts: the same facts as [`crawl_summary`], with complete lists.
pub fn crawl_summary_json(summary: &CrawlSummary, after: &CatalogAfterCrawl) -> serde_json::Value {
    let changes = crawl_changes(summary);
    json!({
        "repositories": summary.outcomes.iter().map(|(url, outcome)| match outcome {
            RepoOutcome::Unchanged => json!({ "url": url, "outcome": "unchanged" }),
            RepoOutcome::Applied(stats) => json!({
                "url": url,
                "outcome": "applied",
                "added": stats.added,
                "updated": stats.updated,
                "removed": stats.removed,
                "newConflicts": stats.new_conflicts.len(),
                "newDiagnostics": stats.new_diagnostics.len(),
            }),
            RepoOutcome::Failed(reason) => json!({ "url": url, "outcome": "failed", "reason": reason }),
            RepoOutcome::Superseded => json!({ "url": url, "outcome": "superseded" }),
        }).collect::<Vec<_>>(),
        "added": summary.totals.added,
        "updated": summary.totals.updated,
        "removed": summary.totals.removed,
        "newConflicts": changes.conflicts.iter().map(|conflict| json!({
            "ref": conflict.entity_ref,
            "holder": conflict.holder_repo,
            "holderFile": conflict.holder_file,
            "claimant": conflict.claimant_repo,
            "claimantFile": conflict.claimant_file,
            "claimantLine": conflict.claimant_line,
        })).collect::<Vec<_>>(),
        "newDiagnostics": changes.diagnostics.iter().map(|(url, diagnostic)| diagnostic_json(url, diagnostic)).collect::<Vec<_>>(),
        "staleRepos": after.stale.iter().map(|(url, reason)| json!({ "url": url, "reason": reason })).collect::<Vec<_>>(),
        "failedRepos": changes.failed.iter().map(|(url, reason)| json!({ "url": url, "reason": reason })).collect::<Vec<_>>(),
        "catalogProblems": after.problems,
        "catalogProblemsTotal": after.problems.total(),
        "elapsedSeconds": summary.elapsed.as_secs_f64(),
    })
}

/// Everything `sextant show` says of one entity.
pub struct EntityView {
    pub details: serde_json::Value,
    pub outgoing: Vec<RelationRow>,
    pub incoming: Vec<RelationRow>,
    pub dependents: Vec<Dependent>,
    pub dependencies: Vec<Dependent>,
}

pub fn show_json(view: &EntityView) -> serde_json::Value {
    let mut value = view.details.clone();
    value["relations"] = json!(view.outgoing);
    value["inverseRelations"] = json!(view.incoming);
    let start = view.details["ref"].as_str().unwrap_or_default();
    let with_paths = |walk: &[Dependent]| -> Vec<serde_json::Value> {
        walk.iter()
            .zip(crate::store::paths(start, walk))
            .map(|(dependent, path)| json!({ "entityRef": dependent.entity_ref, "depth": dependent.depth, "via": dependent.via, "path": path }))
            .collect()
    };
    value["dependents"] = json!(with_paths(&view.dependents));
    value["dependencies"] = json!(with_paths(&view.dependencies));
    value
}

pub fn show_text(view: &EntityView) -> String {
    let details = &view.details;
    let text = |key: &str| details[key].as_str().map(|value| printable(value).into_owned());
    let shown = |value: &serde_json::Value| printable(value.as_str().unwrap_or_default()).into_owned();
    let mut output = String::new();
    let _ = writeln!(
        output,
        "{}{}",
        shown(&details["ref"]),
        text("title").map(|title| format!("  \"{title}\"")).unwrap_or_default()
    );
    // A description may span lines; each is shown indented, none may carry control characters.
    if let Some(description) = details["description"].as_str() {
        for line in description.lines() {
            let _ = writeln!(output, "  {}", printable(line));
        }
    }
    let facts: Vec<String> = [
        ("type", text("type")),
        ("lifecycle", text("lifecycle")),
        ("tier", details["tier"].as_i64().map(|tier| tier.to_string())),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|value| format!("{label} {value}")))
    .collect();
    if !facts.is_empty() {
        let _ = writeln!(output, "  {}", facts.join(" · "));
    }
    let owner = match (text("owner"), text("ownerResolved")) {
        (_, Some(resolved)) => resolved,
        (Some(owner), None) => format!("{owner} (not in the catalog)"),
        (None, None) => "none".to_owned(),
    };
    let _ = writeln!(output, "  owner      {owner}");
    let provenance = &details["provenance"];
    let _ = writeln!(
        output,
        "  defined in {} : {} (document {}, line {}, {} format) at {}",
        shown(&provenance["repo"]),
        shown(&provenance["file"]),
        provenance["document"],
        provenance["line"],
        shown(&provenance["format"]),
        shown(&provenance["commit"]).chars().take(12).collect::<String>(),
    );
    if let Some(reason) = provenance["staleReason"].as_str() {
        let _ = writeln!(output, "  stale: {} (this is its last good definition)", printable(reason));
    }
    if provenance["repoStatus"] != "ok" {
        let _ = writeln!(
            output,
            "  repository is {}: {}",
            shown(&provenance["repoStatus"]),
            provenance["repoError"].as_str().map_or(Cow::Borrowed("never read"), printable)
        );
    }
    // Its own declarations first; then what other entities declare about it (the inverse of
    // their relations), leaving out what its own declarations already say.
    let _ = writeln!(output, "\nrelations it declares");
    if view.outgoing.is_empty() {
        let _ = writeln!(output, "  none");
    }
    for relation in &view.outgoing {
        let dangling = if relation.resolved {
            ""
        } else {
            "   (dangling: not in the catalog)"
        };
        let _ = writeln!(
            output,
            "  {:<14} {}{dangling}",
            printable(&relation.relation_type),
            printable(&relation.target_ref)
        );
    }
    let mut from_others: Vec<&RelationRow> = view
        .incoming
        .iter()
        .filter(|relation| {
            !view
                .outgoing
                .iter()
                .any(|own| own.relation_type == relation.relation_type && own.target_ref == relation.target_ref)
        })
        .collect();
    from_others.sort_by(|left, right| (&left.relation_type, &left.target_ref).cmp(&(&right.relation_type, &right.target_ref)));
    if !from_others.is_empty() {
        let _ = writeln!(output, "\nrelations others declare with it");
        for relation in from_others {
            let _ = writeln!(
                output,
                "  {:<14} {}",
                printable(&relation.relation_type),
                printable(&relation.target_ref)
            );
        }
    }
    let _ = writeln!(output, "\ndependents (what breaks if this goes down): {}", view.dependents.len());
    let start = details["ref"].as_str().unwrap_or_default();
    for (dependent, path) in view.dependents.iter().zip(crate::store::paths(start, &view.dependents)) {
        let path: Vec<Cow<'_, str>> = path.iter().map(|step| printable(step)).collect();
        let _ = writeln!(
            output,
            "  {:>2}  {:<40} via {}",
            dependent.depth,
            printable(&dependent.entity_ref),
            path.join(" ← ")
        );
    }
    let _ = writeln!(output, "\ndependencies: {}", view.dependencies.len());
    for dependency in &view.dependencies {
        let _ = writeln!(output, "  {:>2}  {}", dependency.depth, printable(&dependency.entity_ref));
    }
    if let Some(diagnostics) = details["diagnostics"].as_array().filter(|diagnostics| !diagnostics.is_empty()) {
        let _ = writeln!(output, "\ndiagnostics in {}", shown(&provenance["file"]));
        for diagnostic in diagnostics {
            let _ = writeln!(
                output,
                "  {}:{} {}[{}] {}",
                diagnostic["line"],
                diagnostic["column"],
                shown(&diagnostic["severity"]),
                shown(&diagnostic["code"]),
                shown(&diagnostic["message"])
            );
        }
    }
    output
}

pub fn problems_text(problems: &Problems) -> String {
    let mut output = String::new();
    let section = |output: &mut String, title: &str, rows: Vec<String>| {
        let _ = writeln!(output, "{title}: {}", rows.len());
        for row in rows {
            let _ = writeln!(output, "  {row}");
        }
    };
    let field = |value: &str| printable(value).into_owned();
    let optional = |value: Option<&str>, absent: &str| printable(value.unwrap_or(absent)).into_owned();
    let repo = |url: &str, branch: Option<&str>| printable(&crate::store::repo_label(url, branch)).into_owned();
    section(
        &mut output,
        "conflicts",
        problems
            .conflicts
            .iter()
            .map(|row| {
                format!(
                    "{} is held by {} : {}; also claimed by {} : {}:{}",
                    field(&row.entity_ref),
                    repo(&row.holder, row.holder_branch.as_deref()),
                    field(&row.holder_file),
                    repo(&row.claimant, row.claimant_branch.as_deref()),
                    field(&row.claimant_file),
                    row.claimant_line
                )
            })
            .collect(),
    );
    section(
        &mut output,
        "dangling references",
        problems
            .dangling
            .iter()
            .map(|row| {
                format!(
                    "{} {} {}   ({} : {}:{})",
                    field(&row.source),
                    field(&row.relation),
                    field(&row.target),
                    repo(&row.repo, row.branch.as_deref()),
                    field(&row.file),
                    row.line
                )
            })
            .collect(),
    );
    section(
        &mut output,
        "orphans (no owner in the catalog)",
        problems
            .orphans
            .iter()
            .map(|row| format!("{}   (owner: {})", field(&row.entity_ref), optional(row.owner.as_deref(), "none")))
            .collect(),
    );
    section(
        &mut output,
        "owners that are not a Group or User",
        problems
            .invalid_owners
            .iter()
            .map(|row| format!("{} is owned by {}", field(&row.entity_ref), field(&row.owner)))
            .collect(),
    );
    section(
        &mut output,
        "aliases claimed twice",
        problems
            .duplicate_aliases
            .iter()
            .map(|row| {
                let entities: Vec<String> = row.entities.iter().map(|entity| field(entity)).collect();
                format!("{} claimed by {}", field(&row.alias), entities.join(", "))
            })
            .collect(),
    );
    section(
        &mut output,
        "cycles",
        problems
            .cycles
            .iter()
            .map(|cycle| {
                let steps: Vec<Cow<'_, str>> = cycle.refs.iter().map(|step| printable(step)).collect();
                let chain = format!("{} → {}", steps.join(" → "), steps.first().map_or("", |first| first.as_ref()));
                match crate::domain::tangle_note(cycle.refs.len(), cycle.tangle_size) {
                    Some(note) => format!("{chain}  {note}"),
                    None => chain,
                }
            })
            .collect(),
    );
    section(
        &mut output,
        "stale or failing repositories",
        problems
            .stale_repos
            .iter()
            .map(|row| {
                format!(
                    "{} ({}): {}",
                    repo(&row.repo, row.branch.as_deref()),
                    field(&row.status),
                    optional(row.error.as_deref(), "never read")
                )
            })
            .collect(),
    );
    section(
        &mut output,
        "invalid files",
        problems
            .invalid_files
            .iter()
            .map(|row| {
                let errors = usize::try_from(row.errors).unwrap_or_default();
                format!(
                    "{} : {} ({})",
                    repo(&row.repo, row.branch.as_deref()),
                    field(&row.file),
                    counted(errors, "error", "errors")
                )
            })
            .collect(),
    );
    output
}

/// The references nearest to `wanted` among `candidates`, best first, at most three: the same
/// name under another kind or namespace (`group:default/shop-team` for `shop-team`), else names
/// within a small edit distance.
pub fn nearest_refs(wanted: &EntityRef, candidates: &[String]) -> Vec<String> {
    let name = wanted.name.to_ascii_lowercase();
    let allowed = if name.chars().count() <= 4 {
        1
    } else {
        2 + name.chars().count() / 8
    };
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter_map(|candidate| {
            let candidate_name = candidate.rsplit(['/', ':']).next().unwrap_or(candidate);
            let distance = strsim::damerau_levenshtein(&name, &candidate_name.to_ascii_lowercase());
            (distance <= allowed).then_some((distance, candidate))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, candidate)| candidate.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_separates_its_own_relations_from_what_others_declare_and_says_each_once() {
        let row = |relation_type: &str, target_ref: &str| RelationRow {
            relation_type: relation_type.to_owned(),
            target_ref: target_ref.to_owned(),
            resolved: true,
        };
        let view = EntityView {
            details: json!({ "ref": "group:default/platform-team", "provenance": {}, "diagnostics": [] }),
            outgoing: vec![row("childOf", "group:default/engineering")],
            incoming: vec![
                row("childOf", "group:default/engineering"),
                row("ownerOf", "component:default/b"),
                row("ownerOf", "component:default/a"),
            ],
            dependents: Vec::new(),
            dependencies: Vec::new(),
        };
        let text = show_text(&view);
        assert_eq!(text.matches("group:default/engineering").count(), 1, "{text}");
        let others = text
            .split("relations others declare with it")
            .nth(1)
            .expect("a section for the others");
        let a = others.find("component:default/a").unwrap();
        let b = others.find("component:default/b").unwrap();
        assert!(a < b, "sorted: {text}");
    }

    #[test]
    fn control_characters_become_visible_escapes() {
        let hostile = "pay\u{1b}]0;owned\u{7}\u{1b}[2J\rments\u{9b}31m\u{7f}\u{202e}x\ty";
        let shown = printable(hostile);
        assert_eq!(shown, "pay\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{d}ments\\u{9b}31m\\u{7f}\\u{202e}x\ty");
        assert!(!shown.chars().any(|character| character.is_control() && character != '\t'));
        assert!(matches!(printable("plain text · ünïcode"), Cow::Borrowed(_)));
        assert_eq!(printable("two\nlines"), "two\\u{a}lines");
    }

    #[test]
    fn json_lines_escape_every_control_character_and_keep_the_value() {
        let value = json!({ "title": "a\u{1b}b\u{9b}c\u{7f}d\u{202e}e" });
        let line = json_line(&value);
        assert!(line.ends_with('\n'));
        assert!(!line.trim_end().chars().any(needs_escape), "{line}");
        let read: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(read, value);
    }

    #[test]
    fn counts_are_singular_or_plural() {
        assert_eq!(counted(1, "repository", "repositories"), "1 repository");
        assert_eq!(counted(2, "repository", "repositories"), "2 repositories");
        assert_eq!(counted(0, "conflict", "conflicts"), "0 conflicts");
    }

    #[test]
    fn nearest_refs_prefer_the_same_name_then_small_edits() {
        let candidates: Vec<String> = [
            "group:default/shop-team",
            "component:default/shop",
            "component:default/booking-service",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        let wanted = EntityRef::parse("shop-team", Some("component"), "default").unwrap();
        assert_eq!(nearest_refs(&wanted, &candidates), vec!["group:default/shop-team"]);
        let typo = EntityRef::parse("bookng-service", Some("component"), "default").unwrap();
        assert_eq!(nearest_refs(&typo, &candidates), vec!["component:default/booking-service"]);
        let far = EntityRef::parse("ledger", Some("component"), "default").unwrap();
        assert!(nearest_refs(&far, &candidates).is_empty());
    }
}
