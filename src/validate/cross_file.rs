//! Checks over every entity of a run: duplicate references and Compass ids, dangling
//! references, owners that are not Groups or Users, and cycles in partOf and Group parent chains.

use std::collections::HashMap;

use crate::domain::{Code, Diagnostic, Entity, EntityRef, Related, RelationType, Severity, Target, find_cycles, tangle_note};

/// An entity that no checked file defines but that the catalog holds (`validate --catalog`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownElsewhere {
    /// Its canonical reference in the catalog.
    pub entity_ref: String,
    /// Its kind, lowercase.
    pub kind: String,
    /// Where the catalog has it from, for messages: `<repository> <path>:<line>`.
    pub place: String,
}

/// How references that no checked file defines are looked up outside the run: `None` when no
/// catalog is consulted; else the answer for each target (its Display form: a reference or an alias).
pub type Elsewhere<'lookup> = Option<&'lookup dyn Fn(&Target) -> Option<KnownElsewhere>>;

/// The targets of relations that no checked file defines (by reference or alias), each once, in
/// order of first mention.
pub fn unresolved_targets(entities: &[Entity]) -> Vec<Target> {
    let defined: std::collections::HashSet<&EntityRef> = entities.iter().map(|entity| &entity.entity_ref).collect();
    let aliases: std::collections::HashSet<&str> = entities
        .iter()
        .flat_map(|entity| entity.aliases.iter().map(String::as_str))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut targets = Vec::new();
    for relation in entities.iter().flat_map(|entity| &entity.relations) {
        let known = match &relation.target {
            Target::Entity(entity_ref) => defined.contains(entity_ref),
            Target::Alias(alias) => aliases.contains(alias.as_str()),
        };
        if !known && seen.insert(&relation.target) {
            targets.push(relation.target.clone());
        }
    }
    targets
}

/// Runs every cross-file check. Entities are expected in a stable order (by file, then
/// document): the first definition of a reference keeps it, later ones are reported.
pub fn check_across_files(entities: &[Entity], strict: bool) -> Vec<Diagnostic> {
    check_across_files_with(entities, strict, None)
}

/// [`check_across_files`], with references that no checked file defines looked up in `elsewhere`
/// (the catalog): one it holds is no dangling reference, and as an owner it must be a Group or User.
pub fn check_across_files_with(entities: &[Entity], strict: bool, elsewhere: Elsewhere<'_>) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let by_ref = index_refs(entities, &mut diagnostics);
    let by_alias = index_aliases(entities, &mut diagnostics);
    // Each relation's target, resolved once (in order of entities, then relations) for both the
    // reference checks and the cycle search.
    let resolved: Vec<Option<usize>> = entities
        .iter()
        .flat_map(|entity| &entity.relations)
        .map(|relation| match &relation.target {
            Target::Entity(entity_ref) => by_ref.get(entity_ref).copied(),
            Target::Alias(alias) => by_alias.get(alias.as_str()).copied(),
        })
        .collect();
    let mut targets = resolved.iter().copied();

    for entity in entities {
        for relation in &entity.relations {
            let at = relation.position;
            let file = &entity.provenance.file;
            let target = targets.next().expect("one resolution per relation");
            match target {
                None if let Some(known) = elsewhere.and_then(|lookup| lookup(&relation.target)) => {
                    if relation.relation_type == RelationType::OwnedBy && !can_own(&known.kind) {
                        diagnostics.push(invalid_owner(
                            file,
                            at,
                            format!(
                                "`{}` owns `{}`, but owners must be a Group or a User; the catalog has `{}` ({})",
                                relation.target, entity.entity_ref, known.entity_ref, known.place
                            ),
                        ));
                    }
                }
                None => {
                    let nowhere = if elsewhere.is_some() {
                        "is not defined in any checked file, nor in the catalog once this change merges"
                    } else {
                        "is not defined in any checked file"
                    };
                    let severity = if strict { Severity::Error } else { Severity::Warning };
                    diagnostics.push(
                        Diagnostic::new(
                            Code::DanglingReference,
                            file,
                            at,
                            format!("`{}` ({}) {nowhere}", relation.target, relation.relation_type.as_str()),
                        )
                        .with_severity(severity)
                        .with_hint(if elsewhere.is_some() {
                            "define it or fix the reference; if another repository defines it, check that the catalog crawls it \
                             (a reference to what this change removes or renames dangles too)"
                        } else if strict {
                            "define it, fix the reference, or validate the repository that defines it together with this one"
                        } else {
                            "fine if it lives in a repository not checked here; `--strict` makes this an error"
                        }),
                    );
                }
                Some(target) if relation.relation_type == RelationType::OwnedBy => {
                    let owner = &entities[target];
                    if !can_own(&owner.entity_ref.kind) {
                        diagnostics.push(
                            invalid_owner(
                                file,
                                at,
                                format!(
                                    "`{}` owns `{}`, but owners must be a Group or a User",
                                    owner.entity_ref, entity.entity_ref
                                ),
                            )
                            .with_related(related(owner, "the owner is defined here")),
                        );
                    }
                }
                Some(_) => {}
            }
        }
    }

    report_cycles(entities, &resolved, &mut diagnostics);
    diagnostics
}

/// Whether entities of this kind (lowercase) can own others.
fn can_own(kind: &str) -> bool {
    matches!(kind, "group" | "user")
}

/// An owner that is neither a Group nor a User.
fn invalid_owner(file: &str, at: crate::domain::Position, message: String) -> Diagnostic {
    Diagnostic::new(Code::InvalidOwnerKind, file, at, message).with_hint("name the team that owns it, e.g. `owner: group:payments-team`")
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

/// Finds loops in partOf chains and in Group parent chains (the short loops that
/// [`find_cycles`] picks), each reported once, at its entity with the smallest reference.
/// `resolved` holds each relation's target (in order of entities, then relations).
fn report_cycles(entities: &[Entity], resolved: &[Option<usize>], diagnostics: &mut Vec<Diagnostic>) {
    let mut part_of: Vec<Vec<usize>> = vec![Vec::new(); entities.len()];
    let mut parent: Vec<Vec<usize>> = vec![Vec::new(); entities.len()];
    let mut targets = resolved.iter().copied();
    for (index, entity) in entities.iter().enumerate() {
        for relation in &entity.relations {
            let Some(target) = targets.next().expect("one resolution per relation") else {
                continue;
            };
            match relation.relation_type {
                RelationType::PartOf => part_of[index].push(target),
                RelationType::ChildOf => parent[index].push(target),
                RelationType::ParentOf => parent[target].push(index),
                _ => {}
            }
        }
    }
    for (graph, chain) in [(&part_of, "partOf"), (&parent, "Group parent")] {
        for found in find_cycles(graph) {
            let cycle = found.nodes;
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
                match tangle_note(cycle.len(), found.tangle_size) {
                    Some(note) => format!("the {chain} chain loops back on itself: {} {note}", path.join(" → ")),
                    None => format!("the {chain} chain loops back on itself: {}", path.join(" → ")),
                },
            )
            .with_hint("a chain of parents must end; remove one of these links");
            for &index in &ordered[1..] {
                diagnostic = diagnostic.with_related(related(&entities[index], "part of the loop"));
            }
            diagnostics.push(diagnostic);
        }
    }
}
