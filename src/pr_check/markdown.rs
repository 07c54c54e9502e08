//! The catalog diff of a change as a pull-request summary in Markdown (for a PR comment or
//! `GITHUB_STEP_SUMMARY`): breaking changes first, each with its dependents, then what the change
//! adds, removes, renames and changes. Every piece of text from a file or the catalog is escaped,
//! so that neither can inject markup; entity references link to the dashboard when its URL is
//! known.

use std::fmt::Write;

use super::diff::{ChangeReport, FieldChange, dependent_place};
use super::{CatalogEntity, Dependent};
use crate::domain::Severity;
use crate::validate::report::markdown::escape;

/// Dependents listed per breaking change; the rest are counted.
const LISTED_DEPENDENTS: usize = 50;

/// The summary of a change report.
pub fn render_change(report: &ChangeReport) -> String {
    let changes = &report.changes;
    let mut output = String::new();
    let branch = report
        .branch
        .as_deref()
        .map(|branch| format!(" ({})", escape(branch)))
        .unwrap_or_default();
    let _ = writeln!(output, "## Catalog changes: {}{branch}\n", escape(&report.repo_url));

    let breaking: Vec<(String, &CatalogEntity, Vec<&Dependent>)> = changes
        .removed
        .iter()
        .map(|entity| (format!("{} is removed", entity_link(report, &entity.entity_ref)), entity))
        .chain(changes.renamed.iter().map(|renamed| {
            let title = format!(
                "{} is renamed to {}",
                entity_link(report, &renamed.from.entity_ref),
                entity_link(report, &renamed.to.entity_ref)
            );
            (title, &renamed.from)
        }))
        .filter_map(|(title, entity)| {
            let mut dependents: Vec<&Dependent> = dependents_of(report, &entity.entity_ref).iter().collect();
            dependents.sort_by(|a, b| (a.depth, &a.entity_ref, &a.repo).cmp(&(b.depth, &b.entity_ref, &b.repo)));
            (!dependents.is_empty()).then_some((title, entity, dependents))
        })
        .collect();

    let mut counts = Vec::new();
    if !breaking.is_empty() {
        counts.push(format!("**{} breaking**", breaking.len()));
    }
    for (number, word) in [
        (changes.added.len(), "added"),
        (changes.removed.len(), "removed"),
        (changes.renamed.len(), "renamed"),
        (changes.changed.len(), "changed"),
        (changes.unchanged, "unchanged"),
        (changes.not_compared.len(), "not compared"),
    ] {
        if number > 0 {
            counts.push(format!("{number} {word}"));
        }
    }
    if counts.is_empty() {
        output.push_str("No entity is added, removed, renamed or changed.\n\n");
    } else {
        let _ = writeln!(output, "{}\n", counts.join(" · "));
    }
    if report.catalog_repo.is_none() {
        let _ = writeln!(
            output,
            "> The catalog does not crawl this repository{branch}: every entity counts as added.\n"
        );
    }

    if !breaking.is_empty() {
        let reported_as = match report.breaking_severity {
            Severity::Error => "",
            Severity::Warning => " (reported as warnings)",
            Severity::Note => " (reported as notes)",
        };
        let _ = writeln!(output, "### Breaking changes{reported_as}\n");
        for (title, _, dependents) in &breaking {
            let _ = writeln!(
                output,
                "**{title}**, and {} elsewhere in the catalog {} on it:\n",
                plural(dependents.len(), "entity", "entities"),
                if dependents.len() == 1 { "depends" } else { "depend" }
            );
            output.push_str("| dependent | owner | repository and file | path |\n|---|---|---|---|\n");
            for dependent in dependents.iter().take(LISTED_DEPENDENTS) {
                let path: Vec<String> = dependent.path.iter().map(|step| escape(step)).collect();
                let _ = writeln!(
                    output,
                    "| {} | {} | {}:{} | {} |",
                    entity_link(report, &dependent.entity_ref),
                    optional(dependent.owner_ref.as_deref()),
                    escape(&dependent_place(dependent)),
                    dependent.line,
                    path.join(" → ")
                );
            }
            if dependents.len() > LISTED_DEPENDENTS {
                let _ = writeln!(output, "\nand {} more.", dependents.len() - LISTED_DEPENDENTS);
            }
            output.push('\n');
        }
    }

    if !changes.added.is_empty() {
        let _ = writeln!(output, "### Added ({})\n", changes.added.len());
        entity_table(&mut output, report, &changes.added);
    }
    if !changes.removed.is_empty() {
        let _ = writeln!(output, "### Removed ({})\n", changes.removed.len());
        entity_table(&mut output, report, &changes.removed);
    }
    if !changes.renamed.is_empty() {
        let _ = writeln!(output, "### Renamed ({})\n", changes.renamed.len());
        output.push_str("| from | to | file | also changes |\n|---|---|---|---|\n");
        for renamed in &changes.renamed {
            let also: Vec<String> = renamed
                .changes
                .iter()
                .map(|change| {
                    let (field, before, after) = change_cells(change);
                    format!("{field}: {before} → {after}")
                })
                .collect();
            let _ = writeln!(
                output,
                "| {} | {} | {} | {} |",
                entity_link(report, &renamed.from.entity_ref),
                entity_link(report, &renamed.to.entity_ref),
                place(&renamed.to),
                if also.is_empty() { "—".to_owned() } else { also.join("<br>") }
            );
        }
        output.push('\n');
    }
    if !changes.changed.is_empty() {
        let _ = writeln!(output, "### Changed ({})\n", changes.changed.len());
        output.push_str("| entity | field | before | after |\n|---|---|---|---|\n");
        for changed in &changes.changed {
            for change in &changed.changes {
                let (field, before, after) = change_cells(change);
                let _ = writeln!(
                    output,
                    "| {} | {field} | {before} | {after} |",
                    entity_link(report, &changed.after.entity_ref)
                );
            }
        }
        output.push('\n');
    }
    if !changes.not_compared.is_empty() {
        let _ = writeln!(
            output,
            "### Not compared ({})\n\nThese entities are in files that do not parse or that the check did not read; they are neither removed nor compared.\n",
            changes.not_compared.len()
        );
        entity_table(&mut output, report, &changes.not_compared);
    }
    output
}

/// The dependents the report holds for a catalog reference.
fn dependents_of<'a>(report: &'a ChangeReport, entity_ref: &str) -> &'a [Dependent] {
    report
        .dependents
        .get(entity_ref)
        .or_else(|| report.dependents.get(&entity_ref.to_lowercase()))
        .map_or(&[], Vec::as_slice)
}

/// A table of entities: reference, owner, file.
fn entity_table(output: &mut String, report: &ChangeReport, entities: &[CatalogEntity]) {
    output.push_str("| entity | owner | file |\n|---|---|---|\n");
    for entity in entities {
        let _ = writeln!(
            output,
            "| {} | {} | {} |",
            entity_link(report, &entity.entity_ref),
            optional(entity.owner_ref.as_deref()),
            place(entity)
        );
    }
    output.push('\n');
}

/// `path:line`, escaped.
fn place(entity: &CatalogEntity) -> String {
    format!("{}:{}", escape(&entity.path), entity.line)
}

/// A value escaped, or a dash when absent.
fn optional(value: Option<&str>) -> String {
    value.map_or_else(|| "—".to_owned(), escape)
}

/// The field, before and after of one change, escaped.
fn change_cells(change: &FieldChange) -> (&'static str, String, String) {
    let tier = |tier: &Option<u8>| tier.map_or_else(|| "—".to_owned(), |tier| tier.to_string());
    let edge = |relation: &super::DeclaredEdge| format!("{} {}", escape(&relation.relation_type), escape(&relation.target));
    match change {
        FieldChange::Owner { before, after } => ("owner", optional(before.as_deref()), optional(after.as_deref())),
        FieldChange::Lifecycle { before, after } => ("lifecycle", optional(before.as_deref()), optional(after.as_deref())),
        FieldChange::Tier { before, after } => ("tier", tier(before), tier(after)),
        FieldChange::System { before, after } => ("system", optional(before.as_deref()), optional(after.as_deref())),
        FieldChange::RelationAdded { relation } => ("relation added", "—".to_owned(), edge(relation)),
        FieldChange::RelationRemoved { relation } => ("relation removed", edge(relation), "—".to_owned()),
    }
}

/// An entity reference, escaped, linked to its dashboard page when the dashboard's URL is known
/// and the reference has the form `kind:namespace/name`.
fn entity_link(report: &ChangeReport, entity_ref: &str) -> String {
    let text = escape(entity_ref);
    let parts = entity_ref
        .split_once(':')
        .and_then(|(kind, rest)| rest.split_once('/').map(|(namespace, name)| (kind, namespace, name)));
    match (report.dashboard_url.as_deref(), parts) {
        (Some(base), Some((kind, namespace, name))) if !kind.is_empty() && !namespace.is_empty() && !name.is_empty() => {
            format!(
                "[{text}]({}/entity/{}/{}/{})",
                base.trim_end_matches('/')
                    .replace(' ', "%20")
                    .replace('(', "%28")
                    .replace(')', "%29"),
                percent_encoded(kind),
                percent_encoded(namespace),
                percent_encoded(name)
            )
        }
        _ => text,
    }
}

/// A URL path segment: every byte outside the unreserved characters percent-encoded, so that a
/// reference cannot end the link or add to it.
fn percent_encoded(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

fn plural(number: usize, one: &str, many: &str) -> String {
    format!("{number} {}", if number == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::pr_check::diff::{ChangeSet, Changed, Renamed};
    use crate::pr_check::{CatalogRepo, DeclaredEdge};

    fn entity(entity_ref: &str) -> CatalogEntity {
        CatalogEntity {
            entity_ref: entity_ref.to_owned(),
            repo: "https://github.com/acme/pay".to_owned(),
            branch: None,
            path: "catalog-info.yaml".to_owned(),
            line: 1,
            document_index: 0,
            owner_ref: Some("group:default/team-pay".to_owned()),
            lifecycle: Some("production".to_owned()),
            tier: None,
            system_ref: None,
            aliases: Vec::new(),
            relations: Vec::new(),
        }
    }

    fn dependent(entity_ref: &str) -> Dependent {
        Dependent {
            entity_ref: entity_ref.to_owned(),
            owner_ref: Some("group:default/team-web".to_owned()),
            repo: "https://github.com/acme/web".to_owned(),
            branch: None,
            file: "web/catalog-info.yaml".to_owned(),
            line: 7,
            depth: 1,
            path: vec!["api:default/pay-api".to_owned(), entity_ref.to_owned()],
            declares_reference: true,
        }
    }

    fn report() -> ChangeReport {
        let changes = ChangeSet {
            added: vec![entity("component:default/new")],
            removed: vec![entity("api:default/pay-api"), entity("resource:default/old-db")],
            renamed: vec![Renamed {
                from: entity("component:default/payments-api"),
                to: entity("component:default/payments"),
                changes: Vec::new(),
            }],
            changed: vec![Changed {
                before: entity("component:default/ledger"),
                after: entity("component:default/ledger"),
                changes: vec![
                    FieldChange::Owner {
                        before: Some("group:default/team-pay".to_owned()),
                        after: Some("group:default/team-ledger".to_owned()),
                    },
                    FieldChange::RelationAdded {
                        relation: DeclaredEdge {
                            relation_type: "dependsOn".to_owned(),
                            target: "resource:default/ledger-db".to_owned(),
                        },
                    },
                ],
            }],
            unchanged: 4,
            not_compared: Vec::new(),
        };
        ChangeReport {
            repo_url: "https://github.com/acme/pay".to_owned(),
            branch: Some("main".to_owned()),
            catalog_repo: Some(CatalogRepo {
                url: "https://github.com/acme/pay".to_owned(),
                branch: None,
            }),
            changes,
            dependents: HashMap::from([("api:default/pay-api".to_owned(), vec![dependent("component:default/web")])]),
            breaking_severity: Severity::Error,
            dashboard_url: Some("https://catalog.acme.dev/".to_owned()),
        }
    }

    #[test]
    fn breaking_changes_first_then_every_section() {
        let output = render_change(&report());
        let at = |text: &str| output.find(text).unwrap_or_else(|| panic!("no {text:?} in\n{output}"));
        assert!(at("**1 breaking** · 1 added · 2 removed · 1 renamed · 1 changed · 4 unchanged") < at("### Breaking changes"));
        assert!(at("### Breaking changes") < at("### Added (1)"));
        assert!(at("### Added (1)") < at("### Removed (2)"));
        assert!(at("### Removed (2)") < at("### Renamed (1)"));
        assert!(at("### Renamed (1)") < at("### Changed (1)"));
        // Only the removed API has dependents: it is the one breaking change.
        assert!(
            output.contains(
                "**[api:default/pay-api](https://catalog.acme.dev/entity/api/default/pay-api) is removed**, and 1 entity elsewhere \
                 in the catalog depends on it:"
            ),
            "{output}"
        );
        assert!(
            output.contains("| [component:default/web](https://catalog.acme.dev/entity/component/default/web) | group:default/team-web |"),
            "{output}"
        );
        assert!(
            output.contains("https://github.com/acme/web/web/catalog-info.yaml:7 | api:default/pay-api → component:default/web |"),
            "{output}"
        );
        assert!(
            output.contains("| owner | group:default/team-pay | group:default/team-ledger |"),
            "{output}"
        );
        assert!(
            output.contains("| relation added | — | dependsOn resource:default/ledger-db |"),
            "{output}"
        );
        assert!(!output.contains("does not crawl"), "{output}");
    }

    #[test]
    fn an_unknown_repository_and_no_dashboard() {
        let mut report = report();
        report.catalog_repo = None;
        report.dashboard_url = None;
        let output = render_change(&report);
        assert!(
            output.contains("> The catalog does not crawl this repository (main): every entity counts as added."),
            "{output}"
        );
        assert!(!output.contains("](http"), "{output}");
        report.changes = ChangeSet::default();
        report.dependents.clear();
        assert!(render_change(&report).contains("No entity is added, removed, renamed or changed."));
    }

    #[test]
    fn hostile_text_cannot_inject_markup() {
        let hostile = "component:default/x|<script>alert(1)</script>`[y](https://evil)`";
        let mut report = report();
        let mut added = entity(hostile);
        added.owner_ref = Some("@everyone | <img src=x onerror=alert(1)>".to_owned());
        added.path = "a|b/`c`.yaml".to_owned();
        report.changes.added = vec![added];
        report.dependents.insert("api:default/pay-api".to_owned(), vec![dependent(hostile)]);
        let output = render_change(&report);
        assert!(!output.contains("<script>") && !output.contains("<img"), "{output}");
        assert!(!output.contains("](https://evil)"), "{output}");
        assert!(!output.contains("@everyone"), "{output}");
        // Each table row keeps its column count: no `|` from the text is left unescaped.
        for line in output.lines().filter(|line| line.starts_with('|')) {
            let unescaped = line.match_indices('|').filter(|(index, _)| !line[..*index].ends_with('\\')).count();
            assert!(unescaped == 4 || unescaped == 5, "{line}");
        }
        // The link's target cannot be ended early by the reference.
        assert!(
            output.contains("/entity/component/default/x%7C%3Cscript%3Ealert%281%29%3C%2Fscript%3E%60%5By%5D%28https%3A%2F%2Fevil%29%60)"),
            "{output}"
        );
    }
}
