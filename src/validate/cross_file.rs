//! Checks over every entity of a run: duplicate references and Compass ids, dangling
//! references, owners that are not Groups or Users, and cycles in partOf and Group parent chains.

use std::collections::HashMap;

use crate::domain::{Code, Diagnostic, Entity, EntityRef, Related, RelationType, Severity, Target, find_cycles};

/// Runs every cross-file check. Entities are expected in a stable order (by file, then
/// document): the first definition of a reference keeps it, later ones are reported.
pub fn check_across_files(entities: &[Entity], strict: bool) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let by_ref = index_refs(entities, &mut diagnostics);
    let by_alias = index_aliases(entities, &mut diagnostics);
    let resolve = |target: &Target| match target {
        Target::Entity(entity_ref) => by_ref.get(entity_ref).copied(),
        Target::Alias(alias) => by_alias.get(alias.as_str()).copied(),
    };

    for entity in entities {
        for relation in &entity.relations {
            let at = relation.position;
            let file = &entity.provenance.file;
            match resolve(&relation.target) {
                None => {
                    let severity = if strict { Severity::Error } else { Severity::Warning };
                    diagnostics.push(
                        Diagnostic::new(
                            Code::DanglingReference,
                            file,
                            at,
                            format!(
                                "`{}` ({}) is not defined in any checked file",
                                relation.target,
                                relation.relation_type.as_str()
                            ),
                        )
                        .with_severity(severity)
                        .with_hint(if strict {
                            "define it, fix the reference, or validate the repository that defines it together with this one"
                        } else {
                            "fine if it lives in a repository not checked here; `--strict` makes this an error"
                        }),
                    );
                }
                Some(target) if relation.relation_type == RelationType::OwnedBy => {
                    let owner = &entities[target];
                    if !matches!(owner.entity_ref.kind.as_str(), "group" | "user") {
                        diagnostics.push(
                            Diagnostic::new(
                                Code::InvalidOwnerKind,
                                file,
                                at,
                                format!(
                                    "`{}` owns `{}`, but owners must be a Group or a User",
                                    owner.entity_ref, entity.entity_ref
                                ),
                            )
                            .with_hint("name the team that owns it, e.g. `owner: group:payments-team`")
                            .with_related(related(owner, "the owner is defined here")),
                        );
                    }
                }
                Some(_) => {}
            }
        }
    }

    report_cycles(entities, &resolve, &mut diagnostics);
    diagnostics
}

fn related(entity: &Entity, message: &str) -> Related {
    Related {
        file: entity.provenance.file.clone(),
        position: entity.provenance.position,
        message: message.to_owned(),
    }
}

/// Maps each reference to its first definition and reports later ones.
fn index_refs<'entity>(entities: &'entity [Entity], diagnostics: &mut Vec<Diagnostic>) -> HashMap<&'entity EntityRef, usize> {
    let mut by_ref: HashMap<&EntityRef, usize> = HashMap::with_capacity(entities.len());
    for (index, entity) in entities.iter().enumerate() {
        if let Some(&first) = by_ref.get(&entity.entity_ref) {
            let first = &entities[first];
            diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateEntity,
                    &entity.provenance.file,
                    entity.provenance.position,
                    format!(
                        "`{}` is defined twice: here and at {}:{}:{}",
                        entity.entity_ref, first.provenance.file, first.provenance.position.line, first.provenance.position.column
                    ),
                )
                .with_hint("references are unique per kind and namespace, ignoring case; rename one, or delete the copy")
                .with_related(related(first, "first defined here")),
            );
        } else {
            by_ref.insert(&entity.entity_ref, index);
        }
    }
    by_ref
}

/// Maps each alias (Compass id, `sextant.dev/aliases`) to its first claimant and reports others.
fn index_aliases<'entity>(entities: &'entity [Entity], diagnostics: &mut Vec<Diagnostic>) -> HashMap<&'entity str, usize> {
    let mut by_alias: HashMap<&str, usize> = HashMap::new();
    for (index, entity) in entities.iter().enumerate() {
        for alias in &entity.aliases {
            match by_alias.get(alias.as_str()) {
                Some(&first) if first != index => {
                    let first = &entities[first];
                    diagnostics.push(
                        Diagnostic::new(
                            Code::DuplicateCompassId,
                            &entity.provenance.file,
                            entity.provenance.position,
                            format!("`{alias}` is claimed by `{}` here and by `{}` at {}", entity.entity_ref, first.entity_ref, first.provenance.file),
                        )
                        .with_hint("a copied compass.yml keeps the original's `id` (remove the `id` line so Compass creates a new component); an alias in `sextant.dev/aliases` must name one entity")
                        .with_related(related(first, "first claimed here")),
                    );
                }
                Some(_) => {}
                None => {
                    by_alias.insert(alias, index);
                }
            }
        }
    }
    by_alias
}

/// Finds loops in partOf chains and in Group parent chains; each loop is reported once, at its
/// entity with the smallest reference.
fn report_cycles(entities: &[Entity], resolve: &dyn Fn(&Target) -> Option<usize>, diagnostics: &mut Vec<Diagnostic>) {
    let mut part_of: Vec<Vec<usize>> = vec![Vec::new(); entities.len()];
    let mut parent: Vec<Vec<usize>> = vec![Vec::new(); entities.len()];
    for (index, entity) in entities.iter().enumerate() {
        for relation in &entity.relations {
            let Some(target) = resolve(&relation.target) else { continue };
            match relation.relation_type {
                RelationType::PartOf => part_of[index].push(target),
                RelationType::ChildOf => parent[index].push(target),
                RelationType::ParentOf => parent[target].push(index),
                _ => {}
            }
        }
    }
    for (graph, chain) in [(&part_of, "partOf"), (&parent, "Group parent")] {
        for cycle in find_cycles(graph) {
            let start = *cycle
                .iter()
                .min_by_key(|&&index| &entities[index].entity_ref)
                .expect("cycles are non-empty");
            let rotation = cycle.iter().position(|&index| index == start).expect("start is in the cycle");
            let ordered: Vec<usize> = cycle[rotation..].iter().chain(&cycle[..rotation]).copied().collect();
            let path: Vec<String> = ordered
                .iter()
                .chain(std::iter::once(&start))
                .map(|&index| entities[index].entity_ref.to_string())
                .collect();
            let entity = &entities[start];
            let mut diagnostic = Diagnostic::new(
                Code::RelationCycle,
                &entity.provenance.file,
                entity.provenance.position,
                format!("the {chain} chain loops back on itself: {}", path.join(" → ")),
            )
            .with_hint("a chain of parents must end; remove one of these links");
            for &index in &ordered[1..] {
                diagnostic = diagnostic.with_related(related(&entities[index], "part of the loop"));
            }
            diagnostics.push(diagnostic);
        }
    }
}
