//! Terminal views of the catalog for people and scripts: the crawl summary table, `sextant show`
//! and `sextant problems`, each as text or JSON.

use std::fmt::Write as _;

use serde_json::json;

use crate::ingest::{CrawlSummary, RepoOutcome};
use crate::store::{Dependent, Problems, RelationRow};

/// The table printed at the end of a crawl.
pub fn crawl_summary(summary: &CrawlSummary) -> String {
    let totals = summary.totals;
    let crawled = summary.count(|outcome| matches!(outcome, RepoOutcome::Applied(_)));
    let unchanged = summary.count(|outcome| matches!(outcome, RepoOutcome::Unchanged));
    let failed = summary.count(|outcome| matches!(outcome, RepoOutcome::Failed(_)));
    let mut output = String::new();
    let _ = writeln!(
        output,
        "repositories  {crawled:>7} crawled   {unchanged:>7} unchanged {failed:>7} failed"
    );
    let _ = writeln!(
        output,
        "entities      {:>7} added     {:>7} updated   {:>7} removed",
        totals.added, totals.updated, totals.removed
    );
    let _ = writeln!(
        output,
        "problems      {:>7} conflicts {:>7} diagnostics",
        totals.conflicts, totals.diagnostics
    );
    let _ = writeln!(output, "elapsed       {:>7.2} s", summary.elapsed.as_secs_f64());
    for (url, outcome) in &summary.outcomes {
        if let RepoOutcome::Failed(reason) = outcome {
            let _ = writeln!(output, "failed: {url}: {reason} (its last good entities are kept)");
        }
    }
    output
}

pub fn crawl_summary_json(summary: &CrawlSummary) -> serde_json::Value {
    json!({
        "repositories": summary.outcomes.iter().map(|(url, outcome)| match outcome {
            RepoOutcome::Unchanged => json!({ "url": url, "outcome": "unchanged" }),
            RepoOutcome::Applied(stats) => json!({ "url": url, "outcome": "applied", "added": stats.added, "updated": stats.updated, "removed": stats.removed, "conflicts": stats.conflicts, "diagnostics": stats.diagnostics }),
            RepoOutcome::Failed(reason) => json!({ "url": url, "outcome": "failed", "reason": reason }),
        }).collect::<Vec<_>>(),
        "added": summary.totals.added,
        "updated": summary.totals.updated,
        "removed": summary.totals.removed,
        "conflicts": summary.totals.conflicts,
        "diagnostics": summary.totals.diagnostics,
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
            .map(|(dependent, path)| json!({ "entity_ref": dependent.entity_ref, "depth": dependent.depth, "via": dependent.via, "path": path }))
            .collect()
    };
    value["dependents"] = json!(with_paths(&view.dependents));
    value["dependencies"] = json!(with_paths(&view.dependencies));
    value
}

pub fn show_text(view: &EntityView) -> String {
    let details = &view.details;
    let text = |key: &str| details[key].as_str().map(str::to_owned);
    let mut output = String::new();
    let _ = writeln!(
        output,
        "{}{}",
        details["ref"].as_str().unwrap_or_default(),
        text("title").map(|title| format!("  \"{title}\"")).unwrap_or_default()
    );
    if let Some(description) = text("description") {
        let _ = writeln!(output, "  {description}");
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
        provenance["repo"].as_str().unwrap_or_default(),
        provenance["file"].as_str().unwrap_or_default(),
        provenance["document"],
        provenance["line"],
        provenance["format"].as_str().unwrap_or_default(),
        provenance["commit"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect::<String>(),
    );
    if provenance["repoStatus"] != "ok" {
        let _ = writeln!(
            output,
            "  repository is {}: {}",
            provenance["repoStatus"].as_str().unwrap_or_default(),
            provenance["repoError"].as_str().unwrap_or("never read")
        );
    }
    let _ = writeln!(output, "\nrelations");
    if view.outgoing.is_empty() && view.incoming.is_empty() {
        let _ = writeln!(output, "  none");
    }
    for relation in view.outgoing.iter().chain(&view.incoming) {
        let dangling = if relation.resolved {
            ""
        } else {
            "   (dangling: not in the catalog)"
        };
        let _ = writeln!(output, "  {:<14} {}{dangling}", relation.relation_type, relation.target_ref);
    }
    let _ = writeln!(output, "\ndependents (what breaks if this goes down): {}", view.dependents.len());
    let start = details["ref"].as_str().unwrap_or_default();
    for (dependent, path) in view.dependents.iter().zip(crate::store::paths(start, &view.dependents)) {
        let _ = writeln!(
            output,
            "  {:>2}  {:<40} via {}",
            dependent.depth,
            dependent.entity_ref,
            path.join(" ← ")
        );
    }
    let _ = writeln!(output, "\ndependencies: {}", view.dependencies.len());
    for dependency in &view.dependencies {
        let _ = writeln!(output, "  {:>2}  {}", dependency.depth, dependency.entity_ref);
    }
    if let Some(diagnostics) = details["diagnostics"].as_array().filter(|diagnostics| !diagnostics.is_empty()) {
        let _ = writeln!(output, "\ndiagnostics in {}", provenance["file"].as_str().unwrap_or_default());
        for diagnostic in diagnostics {
            let _ = writeln!(
                output,
                "  {}:{} {}[{}] {}",
                diagnostic["line"],
                diagnostic["column"],
                diagnostic["severity"].as_str().unwrap_or_default(),
                diagnostic["code"].as_str().unwrap_or_default(),
                diagnostic["message"].as_str().unwrap_or_default()
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
    let field = |value: &serde_json::Value, key: &str| value[key].as_str().unwrap_or_default().to_owned();
    section(
        &mut output,
        "conflicts",
        problems
            .conflicts
            .iter()
            .map(|row| {
                format!(
                    "{} is held by {}; also claimed by {}",
                    field(row, "ref"),
                    field(row, "holder"),
                    field(row, "claimant")
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
                    "{} {} {}   ({})",
                    field(row, "source"),
                    field(row, "relation"),
                    field(row, "target"),
                    field(row, "file")
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
            .map(|row| format!("{}   (owner: {})", field(row, "ref"), row["owner"].as_str().unwrap_or("none")))
            .collect(),
    );
    section(
        &mut output,
        "owners that are not a Group or User",
        problems
            .invalid_owners
            .iter()
            .map(|row| format!("{} is owned by {}", field(row, "ref"), field(row, "owner")))
            .collect(),
    );
    section(
        &mut output,
        "aliases claimed twice",
        problems
            .duplicate_aliases
            .iter()
            .map(|row| format!("{} claimed by {}", field(row, "alias"), row["entities"]))
            .collect(),
    );
    section(
        &mut output,
        "cycles",
        problems
            .cycles
            .iter()
            .map(|cycle| format!("{} → {}", cycle.join(" → "), cycle[0]))
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
                    field(row, "repo"),
                    field(row, "status"),
                    row["error"].as_str().unwrap_or("never read")
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
            .map(|row| format!("{} ({} errors)", field(row, "file"), row["errors"]))
            .collect(),
    );
    output
}
