//! The crawl's reconcile rule as plain code: from the reads of a batch of repositories and what
//! the catalog holds of the references they touch, decide what every reference becomes. No IO:
//! `store` loads the [`Stored`] state, calls [`plan`], and writes the [`Plan`] in one transaction.
//!
//! The rule (ARCHITECTURE.md states it with its invariants):
//! - A repository's *claims* come from a successful read of its tip: a clean file claims what it
//!   defines now; a file present but unusable (errors, a symbolic link, too large, beyond the
//!   descriptor limit) keeps the claims it had when it was last clean, marked stale with the
//!   reason; an unchanged blob claims what it claimed before; a file absent from the tip claims
//!   nothing. A forgotten repository claims nothing. A repository not in the batch keeps its
//!   stored claims.
//! - Per reference: the stored entity stays with its definition while that definition is still
//!   claimed; otherwise the claim of the same file, then of the same repository, then the first
//!   claim in (registration order, path, document index) order takes it, in the same
//!   transaction. Nobody claiming it deletes it. Every other claim is a conflict.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::domain::{Diagnostic, Entity, Severity, Target};

/// What one definition says, in the store's own shape: owned and serialisable, because a
/// conflict keeps the losing definition so that it can take the reference over later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityData {
    pub entity_ref: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub entity_type: Option<String>,
    pub lifecycle: Option<String>,
    pub tier: Option<i16>,
    pub owner: Option<String>,
    pub system: Option<String>,
    pub domain: Option<String>,
    pub tags: Vec<String>,
    pub aliases: Vec<String>,
    pub document: Json,
    pub format: String,
    pub relations: Vec<RelationData>,
}

/// One declared edge of an [`EntityData`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationData {
    pub relation_type: String,
    pub target: String,
    pub line: i32,
}

impl EntityData {
    /// Takes an entity's parts (a crawl holds many of them: nothing is copied).
    pub fn from_entity(entity: Entity) -> EntityData {
        let Entity {
            entity_ref,
            title,
            description,
            entity_type,
            lifecycle,
            tier,
            owner,
            system,
            domain,
            tags,
            aliases,
            relations,
            document,
            provenance,
            ..
        } = entity;
        EntityData {
            entity_ref: entity_ref.to_string(),
            kind: entity_ref.kind,
            namespace: entity_ref.namespace,
            name: entity_ref.name,
            title,
            description,
            entity_type,
            lifecycle,
            tier: tier.map(i16::from),
            owner: owner.as_ref().map(Target::to_string),
            system: system.as_ref().map(ToString::to_string),
            domain: domain.as_ref().map(ToString::to_string),
            tags,
            aliases,
            document,
            format: provenance.format.as_str().to_owned(),
            relations: relations
                .iter()
                .map(|relation| RelationData {
                    relation_type: relation.relation_type.as_str().to_owned(),
                    target: relation.target.to_string(),
                    line: relation.position.line as i32,
                })
                .collect(),
        }
    }
}

/// One entity defined by a cleanly read file.
#[derive(Debug, Clone)]
pub struct DefinedEntity {
    pub document_index: i32,
    pub line: i32,
    pub data: EntityData,
}

impl DefinedEntity {
    pub fn from_entity(entity: Entity) -> DefinedEntity {
        DefinedEntity {
            document_index: entity.provenance.document as i32,
            line: entity.provenance.position.line as i32,
            data: EntityData::from_entity(entity),
        }
    }
}

/// A diagnostic of a file read, with the text of the line it points at when it points at one
/// (see [`crate::ingest::snippet`]).
#[derive(Debug, Clone)]
pub struct ReadDiagnostic {
    pub diagnostic: Diagnostic,
    pub snippet: Option<String>,
}

/// One descriptor file present at a repository's tip.
#[derive(Debug, Clone)]
pub struct FileRead {
    pub path: String,
    pub state: FileState,
}

#[derive(Debug, Clone)]
pub enum FileState {
    /// The blob is the one stored: the file claims what it claimed before.
    Unchanged,
    /// Read without errors.
    Clean {
        blob_id: String,
        entities: Vec<DefinedEntity>,
        diagnostics: Vec<ReadDiagnostic>,
    },
    /// Present but unusable: it keeps the claims of its last clean read, marked with `reason`.
    Unusable {
        blob_id: String,
        reason: String,
        diagnostics: Vec<ReadDiagnostic>,
    },
}

/// A successful read of one repository's tip.
#[derive(Debug, Clone)]
pub struct RepoRead {
    pub repo_id: i64,
    /// The repository's generation when the read started: an apply whose generation is no
    /// longer current is dropped (an older read never overwrites a newer one).
    pub generation: i64,
    pub commit: String,
    /// Every descriptor file present at the tip.
    pub files: Vec<FileRead>,
    /// Problems of the tree rather than of one file (symlinks, submodules, limits).
    pub tree_diagnostics: Vec<Diagnostic>,
}

/// One change to apply.
#[derive(Debug, Clone)]
pub enum RepoChange {
    Read(RepoRead),
    /// The repository leaves the catalog: it claims nothing any more.
    Forget {
        repo_id: i64,
    },
}

impl RepoChange {
    pub fn repo_id(&self) -> i64 {
        match self {
            RepoChange::Read(read) => read.repo_id,
            RepoChange::Forget { repo_id } => *repo_id,
        }
    }
}

/// A stored entity row.
#[derive(Debug, Clone)]
pub struct StoredEntity {
    pub id: i64,
    pub entity_ref: String,
    pub repo_id: i64,
    pub path: String,
    pub document_index: i32,
    pub line: i32,
    pub commit: String,
    pub stale_reason: Option<String>,
    pub aliases: Vec<String>,
    pub document: Json,
}

/// A stored conflict: a claim that did not get its reference.
#[derive(Debug, Clone)]
pub struct StoredConflict {
    pub entity_ref: String,
    pub claimant_repo_id: i64,
    pub claimant_path: String,
    pub document_index: i32,
    pub line: i32,
    pub commit: String,
    pub stale_reason: Option<String>,
    pub entity: EntityData,
}

/// What the store holds that the batch may touch.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// Descriptor files of the batch's repositories: (repo, path) → problem (None: clean).
    pub files: HashMap<(i64, String), Option<String>>,
    /// Entity rows held by the batch's repositories and rows of every reference in question.
    pub entities: Vec<StoredEntity>,
    /// Conflicts claimed by the batch's repositories and conflicts of every reference in question.
    pub conflicts: Vec<StoredConflict>,
    /// Diagnostics stored for the batch's repositories: (repo, file, line, column, code, message).
    pub diagnostics: HashSet<DiagnosticKey>,
}

/// What identifies a diagnostic when telling new ones from old ones.
pub type DiagnosticKey = (i64, String, i32, i32, String, String);

/// The references a batch touches, known before the rows of other repositories are loaded:
/// every reference the batch's repositories claim now or claimed before.
pub fn references_in_question(changes: &[RepoChange], stored: &Stored) -> BTreeSet<String> {
    let batch: HashSet<i64> = changes.iter().map(RepoChange::repo_id).collect();
    let mut refs = BTreeSet::new();
    for change in changes {
        if let RepoChange::Read(read) = change {
            for file in &read.files {
                if let FileState::Clean { entities, .. } = &file.state {
                    refs.extend(entities.iter().map(|entity| entity.data.entity_ref.clone()));
                }
            }
        }
    }
    refs.extend(
        stored
            .entities
            .iter()
            .filter(|row| batch.contains(&row.repo_id))
            .map(|row| row.entity_ref.clone()),
    );
    refs.extend(
        stored
            .conflicts
            .iter()
            .filter(|conflict| batch.contains(&conflict.claimant_repo_id))
            .map(|conflict| conflict.entity_ref.clone()),
    );
    refs
}

/// A claim's definition: new from a read, the stored row itself, or kept by a conflict.
#[derive(Debug, Clone, Copy)]
enum Definition<'input> {
    Read(&'input EntityData),
    Row,
    Kept(&'input EntityData),
}

#[derive(Debug, Clone)]
struct Claim<'input> {
    entity_ref: &'input str,
    repo_id: i64,
    path: &'input str,
    document_index: i32,
    line: i32,
    commit: &'input str,
    stale_reason: Option<&'input str>,
    definition: Definition<'input>,
}

impl Claim<'_> {
    fn order(&self) -> (i64, &str, i32) {
        (self.repo_id, self.path, self.document_index)
    }
}

/// Where the entity of a reference now comes from and what is written.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityWrite<'input> {
    pub entity_ref: String,
    pub repo_id: i64,
    pub path: String,
    pub document_index: i32,
    pub line: i32,
    pub commit: String,
    pub stale_reason: Option<String>,
    /// The definition to write (with its relations and aliases), or `None` when only the
    /// provenance changes.
    pub data: Option<&'input EntityData>,
}

/// A conflict row to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictWrite<'input> {
    pub entity_ref: String,
    pub holder_repo_id: i64,
    pub holder_path: String,
    pub claimant_repo_id: i64,
    pub claimant_path: String,
    pub document_index: i32,
    pub line: i32,
    pub commit: String,
    pub stale_reason: Option<String>,
    pub entity: &'input EntityData,
    /// Whether the claim was not a conflict before this apply.
    pub is_new: bool,
}

/// A descriptor file row to store (files read in this batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite<'input> {
    pub repo_id: i64,
    pub path: &'input str,
    pub blob_id: &'input str,
    pub problem: Option<&'input str>,
}

/// A repository's state after its read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoWrite {
    pub repo_id: i64,
    pub commit: String,
    pub stale: bool,
    pub error: Option<String>,
}

/// Counts and lists of what an apply changed, for one change of the batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeCounts {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    /// Indexes into [`Plan::conflicts`] of the conflicts this change brought.
    pub new_conflicts: Vec<usize>,
    /// Errors and warnings not stored before (notes are not counted).
    pub new_diagnostics: Vec<Diagnostic>,
}

/// Everything an apply writes, decided in memory.
#[derive(Debug, Default)]
pub struct Plan<'input> {
    /// References whose conflicts are replaced by `conflicts`.
    pub references: Vec<String>,
    /// New entity rows.
    pub inserts: Vec<EntityWrite<'input>>,
    /// Existing rows (by id) that change; `data: None` for provenance only.
    pub updates: Vec<(i64, EntityWrite<'input>)>,
    /// Rows deleted, by id.
    pub deletes: Vec<i64>,
    pub conflicts: Vec<ConflictWrite<'input>>,
    /// References and aliases that appeared or went: relations left dangling on them resolve
    /// again (a relation that pointed at a deleted row is dangling by then).
    pub touched_targets: Vec<String>,
    /// Aliases a row stopped listing: relations resolved through them are resolved anew.
    pub dropped_aliases: Vec<String>,
    /// References of new rows: relations naming them resolve to them (a reference wins over
    /// an alias that happened to have the same text).
    pub new_references: Vec<String>,
    /// Descriptor files gone from their tips (their rows and diagnostics go).
    pub gone_files: Vec<(i64, String)>,
    /// Files read in this batch: their rows are written and their diagnostics replaced.
    pub files: Vec<FileWrite<'input>>,
    /// Diagnostics to store: (repo, diagnostic, the text of its line), for the files read and
    /// the trees.
    pub diagnostics: Vec<(i64, &'input Diagnostic, Option<&'input str>)>,
    /// Repositories whose tree diagnostics are replaced (every read one).
    pub read_repos: Vec<RepoWrite>,
    /// Repositories that leave the catalog.
    pub forgotten_repos: Vec<i64>,
    /// One entry per change, in order.
    pub counts: Vec<ChangeCounts>,
}

/// Decides what the batch changes. `stored` must hold the rows described on [`Stored`] for the
/// references of [`references_in_question`].
pub fn plan<'input>(changes: &'input [RepoChange], stored: &'input Stored) -> Plan<'input> {
    let batch: HashMap<i64, usize> = changes
        .iter()
        .enumerate()
        .map(|(index, change)| (change.repo_id(), index))
        .collect();
    let mut plan = Plan {
        counts: vec![ChangeCounts::default(); changes.len()],
        ..Plan::default()
    };
    let references = references_in_question(changes, stored);
    let book = ClaimBook::of(changes, stored, &references, &batch);
    let rows: HashMap<&str, &StoredEntity> = stored.entities.iter().map(|row| (row.entity_ref.as_str(), row)).collect();
    let stored_conflicts: HashSet<(&str, i64, &str, i32)> = stored
        .conflicts
        .iter()
        .map(|conflict| {
            (
                conflict.entity_ref.as_str(),
                conflict.claimant_repo_id,
                conflict.claimant_path.as_str(),
                conflict.document_index,
            )
        })
        .collect();
    // Counts go to the change of the repository concerned, or to the first change.
    let change_of = |repo_id: i64| batch.get(&repo_id).copied().unwrap_or(0);

    for entity_ref in &references {
        let row = rows.get(entity_ref.as_str()).copied();
        let (claims, winner) = book.settle(entity_ref, changes, row);
        let claims = &claims;
        match (winner, row) {
            (None, None) => {}
            (None, Some(row)) => {
                plan.deletes.push(row.id);
                plan.touched_targets.push(entity_ref.clone());
                plan.touched_targets.extend(row.aliases.iter().cloned());
                plan.counts[change_of(row.repo_id)].removed += 1;
            }
            (Some(index), None) => {
                let claim = &claims[index];
                // A row claim exists only with its row, so a new row comes from a definition.
                let (Definition::Read(data) | Definition::Kept(data)) = claim.definition else {
                    continue;
                };
                plan.inserts.push(write_of(entity_ref, claim, Some(data)));
                plan.new_references.push(entity_ref.clone());
                plan.touched_targets.extend(data.aliases.iter().cloned());
                plan.counts[change_of(claim.repo_id)].added += 1;
            }
            (Some(index), Some(row)) => {
                let claim = &claims[index];
                let moved = claim.repo_id != row.repo_id || claim.path != row.path;
                let data = match claim.definition {
                    Definition::Row => None,
                    Definition::Read(data) | Definition::Kept(data) => {
                        let same = data.document == row.document && claim.line == row.line && !moved;
                        (!same).then_some(data)
                    }
                };
                let write = write_of(entity_ref, claim, data);
                let provenance_changed = write.document_index != row.document_index
                    || write.line != row.line
                    || write.commit != row.commit
                    || write.stale_reason != row.stale_reason
                    || moved;
                if let Some(data) = data {
                    plan.dropped_aliases
                        .extend(row.aliases.iter().filter(|alias| !data.aliases.contains(alias)).cloned());
                    plan.touched_targets.extend(data.aliases.iter().cloned());
                    if data.document != row.document || moved {
                        plan.counts[change_of(claim.repo_id)].updated += 1;
                    }
                }
                if data.is_some() || provenance_changed {
                    plan.updates.push((row.id, write));
                }
            }
        }
        for (index, claim) in claims.iter().enumerate() {
            if Some(index) == winner {
                continue;
            }
            let entity = match claim.definition {
                Definition::Read(data) | Definition::Kept(data) => data,
                // The stored row is always the winner when it is claimed.
                Definition::Row => continue,
            };
            let Some(holder) = winner.map(|winner| &claims[winner]) else {
                continue;
            };
            let is_new = !stored_conflicts.contains(&(entity_ref.as_str(), claim.repo_id, claim.path, claim.document_index));
            if is_new {
                plan.counts[change_of(claim.repo_id)].new_conflicts.push(plan.conflicts.len());
            }
            plan.conflicts.push(ConflictWrite {
                entity_ref: entity_ref.clone(),
                holder_repo_id: holder.repo_id,
                holder_path: holder.path.to_owned(),
                claimant_repo_id: claim.repo_id,
                claimant_path: claim.path.to_owned(),
                document_index: claim.document_index,
                line: claim.line,
                commit: claim.commit.to_owned(),
                stale_reason: claim.stale_reason.map(str::to_owned),
                entity,
                is_new,
            });
        }
    }
    plan.references = references.into_iter().collect();
    plan_files(changes, stored, &mut plan);
    plan
}

/// Every claim on the references in question, before the batch and after each change of it.
struct ClaimBook<'input> {
    /// The stored claims (rows and conflicts) of every repository.
    before: HashMap<&'input str, Vec<Claim<'input>>>,
    /// The claims of change `index`'s repository after it: (reference, index) → claims.
    after: HashMap<(&'input str, usize), Vec<Claim<'input>>>,
    /// The changes whose repository claims the reference, before or after.
    touching: HashMap<&'input str, BTreeSet<usize>>,
}

impl<'input> ClaimBook<'input> {
    /// `position_of` maps each repository of the batch to its change's index.
    fn of(
        changes: &'input [RepoChange],
        stored: &'input Stored,
        references: &BTreeSet<String>,
        position_of: &HashMap<i64, usize>,
    ) -> ClaimBook<'input> {
        let mut book = ClaimBook {
            before: HashMap::new(),
            after: HashMap::new(),
            touching: HashMap::new(),
        };
        let mut rows_by_file: HashMap<(i64, &str), Vec<&StoredEntity>> = HashMap::new();
        for row in &stored.entities {
            rows_by_file.entry((row.repo_id, row.path.as_str())).or_default().push(row);
            if references.contains(&row.entity_ref) {
                book.before.entry(&row.entity_ref).or_default().push(Claim::of_row(row, None, None));
            }
        }
        let mut conflicts_by_file: HashMap<(i64, &str), Vec<&StoredConflict>> = HashMap::new();
        for conflict in &stored.conflicts {
            conflicts_by_file
                .entry((conflict.claimant_repo_id, conflict.claimant_path.as_str()))
                .or_default()
                .push(conflict);
            if references.contains(&conflict.entity_ref) {
                book.before
                    .entry(&conflict.entity_ref)
                    .or_default()
                    .push(Claim::of_conflict(conflict, None, None));
            }
        }
        // A batch repository's change touches every reference it claimed before.
        for (entity_ref, claims) in &book.before {
            for claim in claims {
                if let Some(index) = position_of.get(&claim.repo_id) {
                    book.touching.entry(entity_ref).or_default().insert(*index);
                }
            }
        }
        for (index, change) in changes.iter().enumerate() {
            let RepoChange::Read(read) = change else { continue };
            for file in &read.files {
                let mut claims: Vec<Claim> = Vec::new();
                let kept = |commit: Option<&'input str>, stale: Option<Option<&'input str>>, claims: &mut Vec<Claim<'input>>| {
                    let key = (read.repo_id, file.path.as_str());
                    claims.extend(
                        rows_by_file
                            .get(&key)
                            .into_iter()
                            .flatten()
                            .map(|row| Claim::of_row(row, commit, stale)),
                    );
                    claims.extend(
                        conflicts_by_file
                            .get(&key)
                            .into_iter()
                            .flatten()
                            .map(|conflict| Claim::of_conflict(conflict, commit, stale)),
                    );
                };
                match &file.state {
                    FileState::Clean { entities, .. } => claims.extend(entities.iter().map(|entity| Claim {
                        entity_ref: &entity.data.entity_ref,
                        repo_id: read.repo_id,
                        path: &file.path,
                        document_index: entity.document_index,
                        line: entity.line,
                        commit: &read.commit,
                        stale_reason: None,
                        definition: Definition::Read(&entity.data),
                    })),
                    FileState::Unchanged => {
                        // A clean file's definitions are as of the new tip; an unusable one's are not.
                        let clean = matches!(stored.files.get(&(read.repo_id, file.path.clone())), Some(None) | None);
                        kept(clean.then_some(read.commit.as_str()), None, &mut claims);
                    }
                    FileState::Unusable { reason, .. } => kept(None, Some(Some(reason.as_str())), &mut claims),
                }
                for claim in claims {
                    book.touching.entry(claim.entity_ref).or_default().insert(index);
                    book.after.entry((claim.entity_ref, index)).or_default().push(claim);
                }
            }
        }
        book
    }

    /// The claims on `entity_ref` after the whole batch and the index of the one that holds it,
    /// as if the batch's changes were applied one after the other, in order.
    fn settle(&self, entity_ref: &str, changes: &[RepoChange], row: Option<&StoredEntity>) -> (Vec<Claim<'input>>, Option<usize>) {
        let mut claims: Vec<Claim> = self.before.get(entity_ref).cloned().unwrap_or_default();
        claims.sort_by(|left, right| left.order().cmp(&right.order()));
        let mut holder: Option<(i64, &str)> = row.map(|row| (row.repo_id, row.path.as_str()));
        let mut winner = choose_winner(&claims, holder);
        for index in self.touching.get(entity_ref).into_iter().flatten() {
            let repo_id = changes[*index].repo_id();
            claims.retain(|claim| claim.repo_id != repo_id);
            claims.extend(self.after.get(&(entity_ref, *index)).into_iter().flatten().cloned());
            claims.sort_by(|left, right| left.order().cmp(&right.order()));
            winner = choose_winner(&claims, holder);
            holder = winner.map(|winner| (claims[winner].repo_id, claims[winner].path));
        }
        (claims, winner)
    }
}

impl<'input> Claim<'input> {
    /// A stored row's claim; `commit` and `stale` replace its own when given.
    fn of_row(row: &'input StoredEntity, commit: Option<&'input str>, stale: Option<Option<&'input str>>) -> Claim<'input> {
        Claim {
            entity_ref: &row.entity_ref,
            repo_id: row.repo_id,
            path: &row.path,
            document_index: row.document_index,
            line: row.line,
            commit: commit.unwrap_or(&row.commit),
            stale_reason: stale.unwrap_or(row.stale_reason.as_deref()),
            definition: Definition::Row,
        }
    }

    /// A stored conflict's claim; `commit` and `stale` replace its own when given.
    fn of_conflict(conflict: &'input StoredConflict, commit: Option<&'input str>, stale: Option<Option<&'input str>>) -> Claim<'input> {
        Claim {
            entity_ref: &conflict.entity_ref,
            repo_id: conflict.claimant_repo_id,
            path: &conflict.claimant_path,
            document_index: conflict.document_index,
            line: conflict.line,
            commit: commit.unwrap_or(&conflict.commit),
            stale_reason: stale.unwrap_or(conflict.stale_reason.as_deref()),
            definition: Definition::Kept(&conflict.entity),
        }
    }
}

/// The index of the claim that gets the reference: the stored row while it is still claimed,
/// else the first claim of the holder's file, else of the holder's repository, else the first.
/// `claims` are sorted by (registration order, path, document index).
fn choose_winner(claims: &[Claim], holder: Option<(i64, &str)>) -> Option<usize> {
    if claims.is_empty() {
        return None;
    }
    if let Some(index) = claims.iter().position(|claim| matches!(claim.definition, Definition::Row)) {
        return Some(index);
    }
    if let Some((repo_id, path)) = holder {
        if let Some(index) = claims.iter().position(|claim| claim.repo_id == repo_id && claim.path == path) {
            return Some(index);
        }
        if let Some(index) = claims.iter().position(|claim| claim.repo_id == repo_id) {
            return Some(index);
        }
    }
    Some(0)
}

fn write_of<'input>(entity_ref: &str, claim: &Claim<'input>, data: Option<&'input EntityData>) -> EntityWrite<'input> {
    EntityWrite {
        entity_ref: entity_ref.to_owned(),
        repo_id: claim.repo_id,
        path: claim.path.to_owned(),
        document_index: claim.document_index,
        line: claim.line,
        commit: claim.commit.to_owned(),
        stale_reason: claim.stale_reason.map(str::to_owned),
        data,
    }
}

/// Descriptor files, diagnostics and repository states.
fn plan_files<'input>(changes: &'input [RepoChange], stored: &'input Stored, plan: &mut Plan<'input>) {
    for (index, change) in changes.iter().enumerate() {
        let read = match change {
            RepoChange::Forget { repo_id } => {
                plan.forgotten_repos.push(*repo_id);
                continue;
            }
            RepoChange::Read(read) => read,
        };
        let at_tip: HashSet<&str> = read.files.iter().map(|file| file.path.as_str()).collect();
        let mut gone: Vec<(i64, String)> = stored
            .files
            .keys()
            .filter(|(repo_id, path)| *repo_id == read.repo_id && !at_tip.contains(path.as_str()))
            .cloned()
            .collect();
        gone.sort();
        plan.gone_files.extend(gone);
        // Unusable files, with their reasons, in path order.
        let mut unusable: BTreeMap<&str, &str> = BTreeMap::new();
        for file in &read.files {
            let (blob_id, problem, diagnostics) = match &file.state {
                FileState::Unchanged => {
                    if let Some(Some(problem)) = stored.files.get(&(read.repo_id, file.path.clone())) {
                        unusable.insert(&file.path, problem);
                    }
                    continue;
                }
                FileState::Clean { blob_id, diagnostics, .. } => (blob_id, None, diagnostics),
                FileState::Unusable {
                    blob_id,
                    reason,
                    diagnostics,
                } => {
                    unusable.insert(&file.path, reason);
                    (blob_id, Some(reason.as_str()), diagnostics)
                }
            };
            plan.files.push(FileWrite {
                repo_id: read.repo_id,
                path: &file.path,
                blob_id,
                problem,
            });
            for read_diagnostic in diagnostics {
                let snippet = read_diagnostic.snippet.as_deref();
                note_diagnostic(plan, stored, index, read.repo_id, &read_diagnostic.diagnostic, snippet);
            }
        }
        for diagnostic in &read.tree_diagnostics {
            note_diagnostic(plan, stored, index, read.repo_id, diagnostic, None);
        }
        let error = (!unusable.is_empty()).then(|| {
            let listed: Vec<String> = unusable.iter().take(5).map(|(path, reason)| format!("{path} ({reason})")).collect();
            let more = unusable.len().saturating_sub(listed.len());
            let (noun, keep) = if unusable.len() == 1 {
                ("descriptor file is", "its")
            } else {
                ("descriptor files are", "their")
            };
            format!(
                "{} {noun} unusable ({keep} last good entities, if any, are kept): {}{}",
                unusable.len(),
                listed.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            )
        });
        plan.read_repos.push(RepoWrite {
            repo_id: read.repo_id,
            commit: read.commit.clone(),
            stale: error.is_some(),
            error,
        });
    }
}

fn note_diagnostic<'input>(
    plan: &mut Plan<'input>,
    stored: &Stored,
    index: usize,
    repo_id: i64,
    diagnostic: &'input Diagnostic,
    snippet: Option<&'input str>,
) {
    plan.diagnostics.push((repo_id, diagnostic, snippet));
    if diagnostic.severity == Severity::Note {
        return;
    }
    let key: DiagnosticKey = (
        repo_id,
        diagnostic.file.clone(),
        diagnostic.line as i32,
        diagnostic.column as i32,
        diagnostic.code.as_str().to_owned(),
        diagnostic.message.clone(),
    );
    if !stored.diagnostics.contains(&key) {
        plan.counts[index].new_diagnostics.push(diagnostic.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(entity_ref: &str, description: &str) -> EntityData {
        let (kind, name) = entity_ref.split_once(':').unwrap();
        let name = name.trim_start_matches("default/");
        EntityData {
            entity_ref: entity_ref.to_owned(),
            kind: kind.to_owned(),
            namespace: "default".to_owned(),
            name: name.to_owned(),
            title: None,
            description: Some(description.to_owned()),
            entity_type: None,
            lifecycle: None,
            tier: None,
            owner: None,
            system: None,
            domain: None,
            tags: Vec::new(),
            aliases: Vec::new(),
            document: serde_json::json!({ "name": name, "description": description }),
            format: "backstage".to_owned(),
            relations: Vec::new(),
        }
    }

    fn defined(document_index: i32, line: i32, entity_ref: &str) -> DefinedEntity {
        DefinedEntity {
            document_index,
            line,
            data: data(entity_ref, "same"),
        }
    }

    fn clean(path: &str, entities: Vec<DefinedEntity>) -> FileRead {
        FileRead {
            path: path.to_owned(),
            state: FileState::Clean {
                blob_id: format!("blob-{path}"),
                entities,
                diagnostics: Vec::new(),
            },
        }
    }

    fn read(repo_id: i64, files: Vec<FileRead>) -> RepoChange {
        RepoChange::Read(RepoRead {
            repo_id,
            generation: 0,
            commit: "tip".to_owned(),
            files,
            tree_diagnostics: Vec::new(),
        })
    }

    fn row(id: i64, entity_ref: &str, repo_id: i64, path: &str, document_index: i32, line: i32) -> StoredEntity {
        StoredEntity {
            id,
            entity_ref: entity_ref.to_owned(),
            repo_id,
            path: path.to_owned(),
            document_index,
            line,
            commit: "old".to_owned(),
            stale_reason: None,
            aliases: Vec::new(),
            document: data(entity_ref, "same").document,
        }
    }

    fn stored_with(rows: Vec<StoredEntity>, conflicts: Vec<StoredConflict>, files: &[(i64, &str)]) -> Stored {
        Stored {
            files: files.iter().map(|(repo, path)| ((*repo, (*path).to_owned()), None)).collect(),
            entities: rows,
            conflicts,
            diagnostics: HashSet::new(),
        }
    }

    #[test]
    fn a_document_split_into_another_file_of_the_same_repository_is_a_move() {
        // catalog-info.yaml held x (document 0) and y (document 1); x moves to x/catalog-info.yaml.
        let stored = stored_with(
            vec![
                row(1, "component:default/x", 1, "catalog-info.yaml", 0, 1),
                row(2, "component:default/y", 1, "catalog-info.yaml", 1, 17),
            ],
            Vec::new(),
            &[(1, "catalog-info.yaml")],
        );
        let changes = vec![read(
            1,
            vec![
                clean("catalog-info.yaml", vec![defined(0, 1, "component:default/y")]),
                clean("x/catalog-info.yaml", vec![defined(0, 1, "component:default/x")]),
            ],
        )];
        let plan = plan(&changes, &stored);
        assert!(plan.conflicts.is_empty(), "{:?}", plan.conflicts);
        assert!(plan.deletes.is_empty() && plan.inserts.is_empty());
        let moved = plan.updates.iter().find(|(id, _)| *id == 1).expect("x is updated in place");
        assert_eq!(moved.1.path, "x/catalog-info.yaml");
        let shifted = plan.updates.iter().find(|(id, _)| *id == 2).expect("y's provenance is current");
        assert_eq!((shifted.1.document_index, shifted.1.line), (0, 1));
        assert_eq!(plan.counts[0].removed, 0);
    }

    #[test]
    fn a_reference_given_up_passes_to_the_waiting_claimant_of_a_repository_outside_the_batch() {
        let waiting = StoredConflict {
            entity_ref: "component:default/moved".to_owned(),
            claimant_repo_id: 2,
            claimant_path: "catalog-info.yaml".to_owned(),
            document_index: 0,
            line: 3,
            commit: "b-tip".to_owned(),
            stale_reason: None,
            entity: data("component:default/moved", "from b"),
        };
        let stored = stored_with(
            vec![row(7, "component:default/moved", 1, "catalog-info.yaml", 0, 1)],
            vec![waiting],
            &[(1, "catalog-info.yaml")],
        );
        let changes = vec![read(1, Vec::new())];
        let plan = plan(&changes, &stored);
        assert!(plan.deletes.is_empty(), "the entity is handed over, not deleted");
        let (id, write) = &plan.updates[0];
        assert_eq!((*id, write.repo_id, write.line, write.commit.as_str()), (7, 2, 3, "b-tip"));
        assert_eq!(write.data.unwrap().description.as_deref(), Some("from b"));
        assert!(plan.conflicts.is_empty());
        assert_eq!(plan.gone_files, vec![(1, "catalog-info.yaml".to_owned())]);
    }

    #[test]
    fn an_unusable_file_keeps_its_last_good_entities_marked_stale() {
        let stored = stored_with(
            vec![row(1, "component:default/x", 1, "catalog-info.yaml", 0, 1)],
            Vec::new(),
            &[(1, "catalog-info.yaml")],
        );
        let changes = vec![read(
            1,
            vec![FileRead {
                path: "catalog-info.yaml".to_owned(),
                state: FileState::Unusable {
                    blob_id: "big".to_owned(),
                    reason: "larger than the limit".to_owned(),
                    diagnostics: Vec::new(),
                },
            }],
        )];
        let plan = plan(&changes, &stored);
        assert!(plan.deletes.is_empty());
        let (_, write) = &plan.updates[0];
        assert_eq!(write.stale_reason.as_deref(), Some("larger than the limit"));
        assert_eq!(write.commit, "old", "a last good copy keeps the commit it was read at");
        assert!(plan.read_repos[0].stale);
    }

    #[test]
    fn the_holder_keeps_its_reference_and_a_newcomer_is_a_conflict() {
        let stored = stored_with(vec![row(1, "component:default/x", 2, "catalog-info.yaml", 0, 1)], Vec::new(), &[]);
        // Repository 1 registered earlier, but repository 2 holds x: no flapping.
        let changes = vec![read(
            1,
            vec![clean("catalog-info.yaml", vec![defined(0, 1, "component:default/x")])],
        )];
        let plan = plan(&changes, &stored);
        assert!(plan.updates.is_empty() && plan.inserts.is_empty());
        assert_eq!(plan.conflicts.len(), 1);
        assert_eq!((plan.conflicts[0].holder_repo_id, plan.conflicts[0].claimant_repo_id), (2, 1));
        assert_eq!(plan.counts[0].new_conflicts, vec![0]);
    }

    #[test]
    fn new_claims_go_to_the_first_in_registration_order_and_forgetting_hands_over() {
        // A crawl applies in registration order; within one file, the first document wins.
        let changes = vec![
            read(
                1,
                vec![clean(
                    "a.yaml",
                    vec![defined(0, 1, "component:default/x"), defined(1, 9, "component:default/x")],
                )],
            ),
            read(2, vec![clean("b.yaml", vec![defined(0, 1, "component:default/x")])]),
        ];
        let nothing_stored = Stored::default();
        let first = plan(&changes, &nothing_stored);
        assert_eq!((first.inserts[0].repo_id, first.inserts[0].line), (1, 1));
        let claimants: Vec<(i64, i32)> = first
            .conflicts
            .iter()
            .map(|conflict| (conflict.claimant_repo_id, conflict.line))
            .collect();
        assert_eq!(claimants, vec![(1, 9), (2, 1)]);

        let kept = StoredConflict {
            entity_ref: "component:default/x".to_owned(),
            claimant_repo_id: 2,
            claimant_path: "b.yaml".to_owned(),
            document_index: 0,
            line: 1,
            commit: "tip".to_owned(),
            stale_reason: None,
            entity: data("component:default/x", "same"),
        };
        let stored = stored_with(vec![row(5, "component:default/x", 1, "a.yaml", 0, 1)], vec![kept], &[(1, "a.yaml")]);
        let forget = vec![RepoChange::Forget { repo_id: 1 }];
        let plan = plan(&forget, &stored);
        assert_eq!(plan.updates[0].1.repo_id, 2);
        assert_eq!(plan.forgotten_repos, vec![1]);
    }

    #[test]
    fn a_batch_decides_as_if_its_changes_were_applied_one_after_the_other() {
        // Repository 1 holds x and gives it up; repository 3 (not in the batch) waits for it;
        // repository 2 claims it for the first time, after 1 in the batch. Applied alone, 1
        // hands x to 3, and 2 then finds it held: the batch must decide the same.
        let waiting = StoredConflict {
            entity_ref: "component:default/x".to_owned(),
            claimant_repo_id: 3,
            claimant_path: "catalog-info.yaml".to_owned(),
            document_index: 0,
            line: 1,
            commit: "c".to_owned(),
            stale_reason: None,
            entity: data("component:default/x", "from c"),
        };
        let stored = stored_with(
            vec![row(9, "component:default/x", 1, "catalog-info.yaml", 0, 1)],
            vec![waiting],
            &[(1, "catalog-info.yaml")],
        );
        let changes = vec![
            read(1, Vec::new()),
            read(2, vec![clean("catalog-info.yaml", vec![defined(0, 1, "component:default/x")])]),
        ];
        let plan = plan(&changes, &stored);
        assert_eq!(plan.updates[0].1.repo_id, 3);
        assert_eq!(plan.conflicts.len(), 1);
        assert_eq!((plan.conflicts[0].holder_repo_id, plan.conflicts[0].claimant_repo_id), (3, 2));
    }
}
