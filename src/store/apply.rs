//! Applying a batch of repository changes in one transaction: load what the catalog holds of
//! the references the batch touches, let [`crate::reconcile::plan`] decide, write the plan with
//! set-wise statements (UNNEST arrays), and report what changed.
//!
//! Every repository of a batch is all in or all out, so readers never see half a repository.
//! Writers are serialised by a transaction-scoped advisory lock, and each read names the
//! repository's generation it started from: a read overtaken by a newer apply is dropped.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;
use sqlx::{Postgres, Row, Transaction};

use super::{Store, StoreError};
use crate::domain::{Code, Diagnostic};
use crate::reconcile::{self, ConflictWrite, EntityData, EntityWrite, Plan, RepoChange, Stored, StoredConflict, StoredEntity};

/// The advisory-lock key that serialises writers ("sextant" in ASCII).
const WRITER_LOCK: i64 = 0x0073_6578_7461_6e74;

/// Diagnostics about a repository's tree rather than one descriptor's content.
const TREE_CODES: [Code; 5] = [
    Code::SymlinkSkipped,
    Code::SubmoduleSkipped,
    Code::TooManyDescriptors,
    Code::FileTooLarge,
    Code::RepositoryBytesExceeded,
];

/// A conflict that an apply created: the claimant also defines `entity_ref`, which the holder
/// keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConflict {
    pub entity_ref: String,
    /// The repository (URL) and file of the definition that keeps the reference.
    pub holder_repo: String,
    pub holder_file: String,
    /// The repository (URL), file and line of the definition that lost.
    pub claimant_repo: String,
    pub claimant_file: String,
    pub claimant_line: i32,
}

/// What an apply changed in one repository: counts, and the problems it brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStats {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    /// Conflicts this apply created (claims that lost a reference and were not conflicts before).
    pub conflicts: usize,
    /// Errors and warnings of the files this apply read, and tree problems, that were not
    /// stored before (notes are not counted).
    pub diagnostics: usize,
    /// The conflicts counted in `conflicts`.
    pub new_conflicts: Vec<NewConflict>,
    /// The diagnostics counted in `diagnostics`, with file, line, column and code.
    pub new_diagnostics: Vec<Diagnostic>,
}

impl std::ops::AddAssign<&ApplyStats> for ApplyStats {
    fn add_assign(&mut self, other: &ApplyStats) {
        self.added += other.added;
        self.updated += other.updated;
        self.removed += other.removed;
        self.conflicts += other.conflicts;
        self.diagnostics += other.diagnostics;
        self.new_conflicts.extend(other.new_conflicts.iter().cloned());
        self.new_diagnostics.extend(other.new_diagnostics.iter().cloned());
    }
}

/// What became of one change of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Applied(ApplyStats),
    /// A newer read of the repository was applied after this read started: nothing written.
    Superseded,
}

impl Store {
    /// Applies several repositories' changes in one transaction, in order; returns what became
    /// of each. All of them are applied, or none.
    pub async fn apply_changes(&self, changes: &[RepoChange]) -> Result<Vec<Applied>, StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITER_LOCK)
            .execute(&mut *transaction)
            .await?;
        let current = current_changes(&mut transaction, changes).await?;
        // Usually every read is current; only then can the changes be used as they are.
        let kept: Option<Vec<RepoChange>> = (!current.iter().all(|current| *current)).then(|| {
            changes
                .iter()
                .zip(&current)
                .filter(|(_, current)| **current)
                .map(|(change, _)| change.clone())
                .collect()
        });
        let kept: &[RepoChange] = kept.as_deref().unwrap_or(changes);
        let mut stats = if kept.is_empty() {
            Vec::new()
        } else {
            apply_in(&mut transaction, kept).await?
        }
        .into_iter();
        transaction.commit().await?;
        Ok(current
            .iter()
            .map(|current| match current {
                true => Applied::Applied(stats.next().unwrap_or_default()),
                false => Applied::Superseded,
            })
            .collect())
    }
}

/// Whether each change is still current: its repository exists and, for a read, its
/// generation is the one the read started from. Locks the repositories' rows.
async fn current_changes(transaction: &mut Transaction<'_, Postgres>, changes: &[RepoChange]) -> Result<Vec<bool>, StoreError> {
    let ids: Vec<i64> = changes.iter().map(RepoChange::repo_id).collect();
    let generations: HashMap<i64, i64> = sqlx::query_as("SELECT id, generation FROM repos WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .fetch_all(&mut **transaction)
        .await?
        .into_iter()
        .collect();
    let mut seen = HashSet::new();
    Ok(changes
        .iter()
        .map(|change| {
            let fresh = seen.insert(change.repo_id());
            fresh
                && match change {
                    RepoChange::Read(read) => generations.get(&read.repo_id) == Some(&read.generation),
                    RepoChange::Forget { repo_id } => generations.contains_key(repo_id),
                }
        })
        .collect())
}

async fn apply_in(transaction: &mut Transaction<'_, Postgres>, changes: &[RepoChange]) -> Result<Vec<ApplyStats>, StoreError> {
    let stored = load_stored(transaction, changes).await?;
    let plan = reconcile::plan(changes, &stored);
    let urls = repo_urls(transaction, &plan).await?;

    sqlx::query("DELETE FROM conflicts WHERE entity_ref = ANY($1)")
        .bind(&plan.references)
        .execute(&mut **transaction)
        .await?;
    if !plan.deletes.is_empty() {
        sqlx::query("DELETE FROM entities WHERE id = ANY($1)")
            .bind(&plan.deletes)
            .execute(&mut **transaction)
            .await?;
    }
    let mut written: Vec<(i64, &EntityData)> = Vec::new();
    let (content_updates, provenance_updates): (Vec<_>, Vec<_>) = plan.updates.iter().partition(|(_, write)| write.data.is_some());
    if !content_updates.is_empty() {
        let rows: Vec<(Option<i64>, &EntityWrite)> = content_updates.iter().map(|(id, write)| (Some(*id), write)).collect();
        write_entities(transaction, &rows).await?;
        written.extend(content_updates.iter().filter_map(|(id, write)| write.data.map(|data| (*id, data))));
    }
    if !provenance_updates.is_empty() {
        update_provenance(transaction, &provenance_updates).await?;
    }
    if !plan.inserts.is_empty() {
        let rows: Vec<(Option<i64>, &EntityWrite)> = plan.inserts.iter().map(|write| (None, write)).collect();
        let ids = write_entities(transaction, &rows).await?;
        written.extend(
            ids.into_iter()
                .zip(&plan.inserts)
                .filter_map(|(id, write)| write.data.map(|data| (id, data))),
        );
    }
    if !written.is_empty() {
        replace_aliases(transaction, &written).await?;
        replace_relations(transaction, &written).await?;
    }
    resolve_to_new_references(transaction, &plan.new_references).await?;
    resolve_targets(transaction, &plan.touched_targets, Relations::Dangling).await?;
    resolve_targets(transaction, &plan.dropped_aliases, Relations::All).await?;
    insert_conflicts(transaction, &plan.conflicts).await?;
    write_files(transaction, &plan).await?;
    replace_diagnostics(transaction, &plan).await?;
    write_repos(transaction, &plan).await?;
    sqlx::query("UPDATE catalog_state SET version = version + 1")
        .execute(&mut **transaction)
        .await?;

    Ok(plan
        .counts
        .iter()
        .map(|counts| {
            let new_conflicts: Vec<NewConflict> = counts
                .new_conflicts
                .iter()
                .map(|index| {
                    let conflict = &plan.conflicts[*index];
                    let url = |repo_id: i64| urls.get(&repo_id).map_or("?", String::as_str);
                    NewConflict {
                        entity_ref: conflict.entity_ref.clone(),
                        holder_repo: url(conflict.holder_repo_id).to_owned(),
                        holder_file: conflict.holder_path.clone(),
                        claimant_repo: url(conflict.claimant_repo_id).to_owned(),
                        claimant_file: conflict.claimant_path.clone(),
                        claimant_line: conflict.line,
                    }
                })
                .collect();
            ApplyStats {
                added: counts.added,
                updated: counts.updated,
                removed: counts.removed,
                conflicts: new_conflicts.len(),
                diagnostics: counts.new_diagnostics.len(),
                new_conflicts,
                new_diagnostics: counts.new_diagnostics.clone(),
            }
        })
        .collect())
}

/// Loads what the batch may touch: its repositories' files, rows, claims and diagnostics, then
/// the rows and claims of other repositories on the references in question.
async fn load_stored(transaction: &mut Transaction<'_, Postgres>, changes: &[RepoChange]) -> Result<Stored, StoreError> {
    let batch: Vec<i64> = changes.iter().map(RepoChange::repo_id).collect();
    let mut stored = Stored::default();
    for (repo_id, path, problem) in
        sqlx::query_as::<_, (i64, String, Option<String>)>("SELECT repo_id, path, problem FROM descriptor_files WHERE repo_id = ANY($1)")
            .bind(&batch)
            .fetch_all(&mut **transaction)
            .await?
    {
        stored.files.insert((repo_id, path), problem);
    }
    stored.diagnostics = sqlx::query_as("SELECT repo_id, file_path, line, col, code, message FROM diagnostics WHERE repo_id = ANY($1)")
        .bind(&batch)
        .fetch_all(&mut **transaction)
        .await?
        .into_iter()
        .collect();
    stored.entities = load_entities(transaction, "repo_id = ANY($1)", &batch, &[]).await?;
    stored.conflicts = load_conflicts(transaction, "claimant_repo_id = ANY($1)", &batch, &[]).await?;
    let references: Vec<String> = reconcile::references_in_question(changes, &stored).into_iter().collect();
    if !references.is_empty() {
        let others = load_entities(transaction, "entity_ref = ANY($2) AND NOT repo_id = ANY($1)", &batch, &references).await?;
        stored.entities.extend(others);
        let others = load_conflicts(
            transaction,
            "entity_ref = ANY($2) AND NOT claimant_repo_id = ANY($1)",
            &batch,
            &references,
        )
        .await?;
        stored.conflicts.extend(others);
    }
    Ok(stored)
}

async fn load_entities(
    transaction: &mut Transaction<'_, Postgres>,
    condition: &str,
    batch: &[i64],
    references: &[String],
) -> Result<Vec<StoredEntity>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT id, entity_ref, repo_id, file_path, document_index, line, commit_id, stale_reason, aliases, document
         FROM entities WHERE {condition}"
    ))
    .bind(batch)
    .bind(references)
    .fetch_all(&mut **transaction)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| StoredEntity {
            id: row.get(0),
            entity_ref: row.get(1),
            repo_id: row.get(2),
            path: row.get(3),
            document_index: row.get(4),
            line: row.get(5),
            commit: row.get(6),
            stale_reason: row.get(7),
            aliases: row.get(8),
            document: row.get(9),
        })
        .collect())
}

async fn load_conflicts(
    transaction: &mut Transaction<'_, Postgres>,
    condition: &str,
    batch: &[i64],
    references: &[String],
) -> Result<Vec<StoredConflict>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT entity_ref, claimant_repo_id, claimant_path, claimant_document_index, claimant_line, claimant_commit,
                claimant_stale_reason, claimant_entity
         FROM conflicts WHERE claimant_entity IS NOT NULL AND {condition}"
    ))
    .bind(batch)
    .bind(references)
    .fetch_all(&mut **transaction)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            // A definition that no longer reads as one (written by another version) is dropped;
            // the next read of its file writes it again.
            let entity: EntityData = serde_json::from_value(row.get::<Json, _>(7)).ok()?;
            Some(StoredConflict {
                entity_ref: row.get(0),
                claimant_repo_id: row.get(1),
                claimant_path: row.get(2),
                document_index: row.get(3),
                line: row.get(4),
                commit: row.get(5),
                stale_reason: row.get(6),
                entity,
            })
        })
        .collect())
}

/// The URLs of the repositories named by the plan's conflicts, for the crawl summary.
async fn repo_urls(transaction: &mut Transaction<'_, Postgres>, plan: &Plan<'_>) -> Result<HashMap<i64, String>, StoreError> {
    let mut ids: Vec<i64> = plan
        .conflicts
        .iter()
        .filter(|conflict| conflict.is_new)
        .flat_map(|conflict| [conflict.holder_repo_id, conflict.claimant_repo_id])
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(sqlx::query_as("SELECT id, url FROM repos WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_all(&mut **transaction)
        .await?
        .into_iter()
        .collect())
}

/// A list of strings as a JSON array.
fn string_list(values: &[String]) -> Json {
    Json::Array(values.iter().cloned().map(Json::String).collect())
}

/// At most about this many bytes of definitions go into one statement: the statement's
/// buffer holds every value it sends, so big descriptors are written in several statements.
const STATEMENT_BYTES: usize = 4 * 1024 * 1024;

/// Inserts (id `None`) or rewrites (id given) entity rows with their full definition and
/// provenance, in statements of bounded size; returns the ids in the same order.
async fn write_entities(
    transaction: &mut Transaction<'_, Postgres>,
    rows: &[(Option<i64>, &EntityWrite<'_>)],
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut start = 0;
    while start < rows.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < rows.len() && (end == start || bytes < STATEMENT_BYTES) {
            bytes += rows[end].1.data.map_or(0, |data| json_size(&data.document) * 2);
            end += 1;
        }
        ids.extend(write_entity_statement(transaction, &rows[start..end]).await?);
        start = end;
    }
    Ok(ids)
}

/// About how many bytes a JSON value takes as text.
fn json_size(value: &Json) -> usize {
    match value {
        Json::Null | Json::Bool(_) | Json::Number(_) => 8,
        Json::String(text) => text.len() + 2,
        Json::Array(items) => items.iter().map(json_size).sum::<usize>() + 2,
        Json::Object(fields) => fields.iter().map(|(key, value)| key.len() + 4 + json_size(value)).sum::<usize>() + 2,
    }
}

async fn write_entity_statement(
    transaction: &mut Transaction<'_, Postgres>,
    rows: &[(Option<i64>, &EntityWrite<'_>)],
) -> Result<Vec<i64>, StoreError> {
    let data: Vec<&EntityData> = rows.iter().filter_map(|(_, write)| write.data).collect();
    if data.len() != rows.len() {
        return Err(StoreError::Invariant("an entity row is written without its definition".to_owned()));
    }
    let text = |get: &dyn Fn(&EntityData) -> Option<&str>| data.iter().map(|entity| get(entity)).collect::<Vec<_>>();
    let ids: Vec<Option<i64>> = rows.iter().map(|(id, _)| *id).collect();
    let refs: Vec<&str> = data.iter().map(|entity| entity.entity_ref.as_str()).collect();
    let kinds: Vec<&str> = data.iter().map(|entity| entity.kind.as_str()).collect();
    let namespaces: Vec<&str> = data.iter().map(|entity| entity.namespace.as_str()).collect();
    let names: Vec<&str> = data.iter().map(|entity| entity.name.as_str()).collect();
    let titles = text(&|entity| entity.title.as_deref());
    let descriptions = text(&|entity| entity.description.as_deref());
    let types = text(&|entity| entity.entity_type.as_deref());
    let lifecycles = text(&|entity| entity.lifecycle.as_deref());
    let tiers: Vec<Option<i16>> = data.iter().map(|entity| entity.tier).collect();
    let owners = text(&|entity| entity.owner.as_deref());
    let systems = text(&|entity| entity.system.as_deref());
    let domains = text(&|entity| entity.domain.as_deref());
    // Tags and aliases travel as JSON arrays, because UNNEST cannot take ragged arrays.
    let tags: Vec<Json> = data.iter().map(|entity| string_list(&entity.tags)).collect();
    let aliases: Vec<Json> = data.iter().map(|entity| string_list(&entity.aliases)).collect();
    let documents: Vec<&Json> = data.iter().map(|entity| &entity.document).collect();
    let formats: Vec<&str> = data.iter().map(|entity| entity.format.as_str()).collect();
    let repos: Vec<i64> = rows.iter().map(|(_, write)| write.repo_id).collect();
    let paths: Vec<&str> = rows.iter().map(|(_, write)| write.path.as_str()).collect();
    let document_indexes: Vec<i32> = rows.iter().map(|(_, write)| write.document_index).collect();
    let lines: Vec<i32> = rows.iter().map(|(_, write)| write.line).collect();
    let commits: Vec<&str> = rows.iter().map(|(_, write)| write.commit.as_str()).collect();
    let stale: Vec<Option<&str>> = rows.iter().map(|(_, write)| write.stale_reason.as_deref()).collect();
    let written: Vec<(i64, String)> = sqlx::query_as(
        "WITH u AS (
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                  $9::text[], $10::smallint[], $11::text[], $12::text[], $13::text[], $14::jsonb[], $15::jsonb[],
                                  $16::jsonb[], $17::text[], $18::bigint[], $19::text[], $20::int[], $21::int[], $22::text[], $23::text[])
                 AS u (id, entity_ref, kind, namespace, name, title, description, type, lifecycle, tier, owner_ref, system_ref,
                       domain_ref, tags, aliases, document, format, repo_id, file_path, document_index, line, commit_id, stale_reason)
         ),
         updated AS (
             UPDATE entities e SET title = u.title, description = u.description, type = u.type, lifecycle = u.lifecycle,
                 tier = u.tier, owner_ref = u.owner_ref, system_ref = u.system_ref, domain_ref = u.domain_ref,
                 tags = ARRAY(SELECT jsonb_array_elements_text(u.tags)), aliases = ARRAY(SELECT jsonb_array_elements_text(u.aliases)),
                 document = u.document, format = u.format, repo_id = u.repo_id, file_path = u.file_path,
                 document_index = u.document_index, line = u.line, commit_id = u.commit_id, stale_reason = u.stale_reason,
                 updated_at = now()
             FROM u WHERE u.id IS NOT NULL AND e.id = u.id
             RETURNING e.id, e.entity_ref
         ),
         inserted AS (
             INSERT INTO entities (entity_ref, kind, namespace, name, title, description, type, lifecycle, tier, owner_ref,
                 system_ref, domain_ref, tags, aliases, document, format, repo_id, file_path, document_index, line, commit_id,
                 stale_reason)
             SELECT u.entity_ref, u.kind, u.namespace, u.name, u.title, u.description, u.type, u.lifecycle, u.tier, u.owner_ref,
                 u.system_ref, u.domain_ref, ARRAY(SELECT jsonb_array_elements_text(u.tags)),
                 ARRAY(SELECT jsonb_array_elements_text(u.aliases)), u.document, u.format, u.repo_id, u.file_path,
                 u.document_index, u.line, u.commit_id, u.stale_reason
             FROM u WHERE u.id IS NULL
             RETURNING id, entity_ref
         )
         SELECT id, entity_ref FROM updated UNION ALL SELECT id, entity_ref FROM inserted",
    )
    .bind(&ids)
    .bind(&refs)
    .bind(&kinds)
    .bind(&namespaces)
    .bind(&names)
    .bind(&titles)
    .bind(&descriptions)
    .bind(&types)
    .bind(&lifecycles)
    .bind(&tiers)
    .bind(&owners)
    .bind(&systems)
    .bind(&domains)
    .bind(&tags)
    .bind(&aliases)
    .bind(&documents)
    .bind(&formats)
    .bind(&repos)
    .bind(&paths)
    .bind(&document_indexes)
    .bind(&lines)
    .bind(&commits)
    .bind(&stale)
    .fetch_all(&mut **transaction)
    .await?;
    // RETURNING follows no promised order: map the ids back by reference.
    let by_ref: HashMap<String, i64> = written.into_iter().map(|(id, entity_ref)| (entity_ref, id)).collect();
    refs.iter()
        .map(|entity_ref| {
            by_ref
                .get(*entity_ref)
                .copied()
                .ok_or_else(|| StoreError::Invariant(format!("the row of {entity_ref} was not written")))
        })
        .collect()
}

/// Moves rows whose definition did not change: document index, line, commit, stale mark (and
/// file, for a holder's unchanged definition).
async fn update_provenance(transaction: &mut Transaction<'_, Postgres>, updates: &[&(i64, EntityWrite<'_>)]) -> Result<(), StoreError> {
    let ids: Vec<i64> = updates.iter().map(|(id, _)| *id).collect();
    let repos: Vec<i64> = updates.iter().map(|(_, write)| write.repo_id).collect();
    let paths: Vec<&str> = updates.iter().map(|(_, write)| write.path.as_str()).collect();
    let document_indexes: Vec<i32> = updates.iter().map(|(_, write)| write.document_index).collect();
    let lines: Vec<i32> = updates.iter().map(|(_, write)| write.line).collect();
    let commits: Vec<&str> = updates.iter().map(|(_, write)| write.commit.as_str()).collect();
    let stale: Vec<Option<&str>> = updates.iter().map(|(_, write)| write.stale_reason.as_deref()).collect();
    sqlx::query(
        "UPDATE entities e SET repo_id = u.repo_id, file_path = u.file_path, document_index = u.document_index, line = u.line,
             commit_id = u.commit_id, stale_reason = u.stale_reason
         FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[])
             AS u (id, repo_id, file_path, document_index, line, commit_id, stale_reason)
         WHERE e.id = u.id",
    )
    .bind(&ids)
    .bind(&repos)
    .bind(&paths)
    .bind(&document_indexes)
    .bind(&lines)
    .bind(&commits)
    .bind(&stale)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Replaces the alias rows of the written entities.
async fn replace_aliases(transaction: &mut Transaction<'_, Postgres>, written: &[(i64, &EntityData)]) -> Result<(), StoreError> {
    let ids: Vec<i64> = written.iter().map(|(id, _)| *id).collect();
    sqlx::query("DELETE FROM entity_aliases WHERE entity_id = ANY($1)")
        .bind(&ids)
        .execute(&mut **transaction)
        .await?;
    let rows: Vec<(&str, i64)> = written
        .iter()
        .flat_map(|(id, entity)| entity.aliases.iter().map(move |alias| (alias.as_str(), *id)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let (aliases, owners): (Vec<&str>, Vec<i64>) = rows.into_iter().unzip();
    sqlx::query("INSERT INTO entity_aliases (alias, entity_id) SELECT * FROM UNNEST($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING")
        .bind(&aliases)
        .bind(&owners)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Replaces the declared relations of the written entities, resolving each target against the
/// rows as they are now (rows written earlier in this transaction included).
async fn replace_relations(transaction: &mut Transaction<'_, Postgres>, written: &[(i64, &EntityData)]) -> Result<(), StoreError> {
    let ids: Vec<i64> = written.iter().map(|(id, _)| *id).collect();
    sqlx::query("DELETE FROM relations WHERE source_id = ANY($1)")
        .bind(&ids)
        .execute(&mut **transaction)
        .await?;
    let edges: Vec<(i64, &str, &str, i32)> = written
        .iter()
        .flat_map(|(id, entity)| {
            entity
                .relations
                .iter()
                .map(move |relation| (*id, relation.relation_type.as_str(), relation.target.as_str(), relation.line))
        })
        .collect();
    if edges.is_empty() {
        return Ok(());
    }
    let sources: Vec<i64> = edges.iter().map(|edge| edge.0).collect();
    let types: Vec<&str> = edges.iter().map(|edge| edge.1).collect();
    let targets: Vec<&str> = edges.iter().map(|edge| edge.2).collect();
    let lines: Vec<i32> = edges.iter().map(|edge| edge.3).collect();
    sqlx::query(
        "INSERT INTO relations (source_id, type, target_ref, target_id, line)
         SELECT declared.source_id, declared.type, declared.target_ref,
                COALESCE((SELECT id FROM entities WHERE entity_ref = declared.target_ref),
                         (SELECT min(entity_id) FROM entity_aliases WHERE alias = declared.target_ref)),
                declared.line
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::int[]) AS declared (source_id, type, target_ref, line)
         ON CONFLICT DO NOTHING",
    )
    .bind(&sources)
    .bind(&types)
    .bind(&targets)
    .bind(&lines)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Points every relation that names one of `references` (new rows) at that row.
async fn resolve_to_new_references(transaction: &mut Transaction<'_, Postgres>, references: &[String]) -> Result<(), StoreError> {
    if references.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE relations r SET target_id = e.id FROM entities e
         WHERE e.entity_ref = ANY($1) AND r.target_ref = e.entity_ref AND r.target_id IS DISTINCT FROM e.id",
    )
    .bind(references)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Which relations naming a target are resolved again.
#[derive(Clone, Copy)]
enum Relations {
    /// Only dangling ones (references and aliases that appeared, or whose entity went: a
    /// relation that pointed at a deleted row is dangling by then), through the partial index.
    Dangling,
    /// All of them (aliases a row dropped: what they resolved must be unlinked or moved).
    All,
}

/// Resolves the relations that name one of `targets`: to the entity with that reference, else
/// to an entity with that alias, else to nothing (dangling).
async fn resolve_targets(transaction: &mut Transaction<'_, Postgres>, targets: &[String], which: Relations) -> Result<(), StoreError> {
    if targets.is_empty() {
        return Ok(());
    }
    let condition = match which {
        Relations::Dangling => "r.target_id IS NULL AND resolved.id IS NOT NULL",
        Relations::All => "r.target_id IS DISTINCT FROM resolved.id",
    };
    sqlx::query(&format!(
        "UPDATE relations r SET target_id = resolved.id
         FROM (SELECT t.target,
                      COALESCE((SELECT id FROM entities WHERE entity_ref = t.target),
                               (SELECT min(entity_id) FROM entity_aliases WHERE alias = t.target)) AS id
               FROM (SELECT DISTINCT target FROM UNNEST($1::text[]) AS t (target)) t) resolved
         WHERE r.target_ref = resolved.target AND {condition}"
    ))
    .bind(targets)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn insert_conflicts(transaction: &mut Transaction<'_, Postgres>, conflicts: &[ConflictWrite<'_>]) -> Result<(), StoreError> {
    if conflicts.is_empty() {
        return Ok(());
    }
    let refs: Vec<&str> = conflicts.iter().map(|conflict| conflict.entity_ref.as_str()).collect();
    let holder_repos: Vec<i64> = conflicts.iter().map(|conflict| conflict.holder_repo_id).collect();
    let holder_paths: Vec<&str> = conflicts.iter().map(|conflict| conflict.holder_path.as_str()).collect();
    let claimant_repos: Vec<i64> = conflicts.iter().map(|conflict| conflict.claimant_repo_id).collect();
    let claimant_paths: Vec<&str> = conflicts.iter().map(|conflict| conflict.claimant_path.as_str()).collect();
    let document_indexes: Vec<i32> = conflicts.iter().map(|conflict| conflict.document_index).collect();
    let lines: Vec<i32> = conflicts.iter().map(|conflict| conflict.line).collect();
    let commits: Vec<&str> = conflicts.iter().map(|conflict| conflict.commit.as_str()).collect();
    let stale: Vec<Option<&str>> = conflicts.iter().map(|conflict| conflict.stale_reason.as_deref()).collect();
    let entities: Vec<Json> = conflicts
        .iter()
        .map(|conflict| serde_json::to_value(conflict.entity).unwrap_or(Json::Null))
        .collect();
    sqlx::query(
        "INSERT INTO conflicts (entity_ref, holder_repo_id, holder_path, claimant_repo_id, claimant_path, claimant_document_index,
             claimant_line, claimant_commit, claimant_stale_reason, claimant_entity)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::int[], $7::int[], $8::text[],
                              $9::text[], $10::jsonb[])
         ON CONFLICT DO NOTHING",
    )
    .bind(&refs)
    .bind(&holder_repos)
    .bind(&holder_paths)
    .bind(&claimant_repos)
    .bind(&claimant_paths)
    .bind(&document_indexes)
    .bind(&lines)
    .bind(&commits)
    .bind(&stale)
    .bind(&entities)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Files gone from their tips go with their diagnostics; files read are written.
async fn write_files(transaction: &mut Transaction<'_, Postgres>, plan: &Plan<'_>) -> Result<(), StoreError> {
    if !plan.gone_files.is_empty() {
        let (repos, paths): (Vec<i64>, Vec<&str>) = plan.gone_files.iter().map(|(repo_id, path)| (*repo_id, path.as_str())).unzip();
        for (table, path_column) in [("descriptor_files", "path"), ("diagnostics", "file_path")] {
            sqlx::query(&format!(
                "DELETE FROM {table} t USING UNNEST($1::bigint[], $2::text[]) AS gone (repo_id, path)
                 WHERE t.repo_id = gone.repo_id AND t.{path_column} = gone.path"
            ))
            .bind(&repos)
            .bind(&paths)
            .execute(&mut **transaction)
            .await?;
        }
    }
    if plan.files.is_empty() {
        return Ok(());
    }
    let repos: Vec<i64> = plan.files.iter().map(|file| file.repo_id).collect();
    let paths: Vec<&str> = plan.files.iter().map(|file| file.path).collect();
    let blobs: Vec<&str> = plan.files.iter().map(|file| file.blob_id).collect();
    let problems: Vec<Option<&str>> = plan.files.iter().map(|file| file.problem).collect();
    sqlx::query(
        "INSERT INTO descriptor_files (repo_id, path, blob_oid, valid, problem)
         SELECT repo_id, path, blob_oid, problem IS NULL, problem FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[])
             AS f (repo_id, path, blob_oid, problem)
         ON CONFLICT (repo_id, path) DO UPDATE SET blob_oid = EXCLUDED.blob_oid, valid = EXCLUDED.valid, problem = EXCLUDED.problem",
    )
    .bind(&repos)
    .bind(&paths)
    .bind(&blobs)
    .bind(&problems)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Replaces the diagnostics of every file read (each with the text of its line, when it points
/// at one), and each read repository's tree diagnostics.
async fn replace_diagnostics(transaction: &mut Transaction<'_, Postgres>, plan: &Plan<'_>) -> Result<(), StoreError> {
    let (file_repos, file_paths): (Vec<i64>, Vec<&str>) = plan.files.iter().map(|file| (file.repo_id, file.path)).unzip();
    if !file_repos.is_empty() {
        sqlx::query(
            "DELETE FROM diagnostics d USING UNNEST($1::bigint[], $2::text[]) AS f (repo_id, path)
             WHERE d.repo_id = f.repo_id AND d.file_path = f.path",
        )
        .bind(&file_repos)
        .bind(&file_paths)
        .execute(&mut **transaction)
        .await?;
    }
    let read_repos: Vec<i64> = plan.read_repos.iter().map(|repo| repo.repo_id).collect();
    let tree_codes: Vec<&str> = TREE_CODES.iter().map(|code| code.as_str()).collect();
    sqlx::query("DELETE FROM diagnostics WHERE repo_id = ANY($1) AND code = ANY($2)")
        .bind(&read_repos)
        .bind(&tree_codes)
        .execute(&mut **transaction)
        .await?;
    if plan.diagnostics.is_empty() {
        return Ok(());
    }
    let repos: Vec<i64> = plan.diagnostics.iter().map(|(repo_id, _, _)| *repo_id).collect();
    let files: Vec<&str> = plan.diagnostics.iter().map(|(_, diagnostic, _)| diagnostic.file.as_str()).collect();
    let lines: Vec<i32> = plan.diagnostics.iter().map(|(_, diagnostic, _)| diagnostic.line as i32).collect();
    let columns: Vec<i32> = plan.diagnostics.iter().map(|(_, diagnostic, _)| diagnostic.column as i32).collect();
    let codes: Vec<&str> = plan.diagnostics.iter().map(|(_, diagnostic, _)| diagnostic.code.as_str()).collect();
    let severities: Vec<&str> = plan
        .diagnostics
        .iter()
        .map(|(_, diagnostic, _)| diagnostic.severity.as_str())
        .collect();
    let messages: Vec<&str> = plan
        .diagnostics
        .iter()
        .map(|(_, diagnostic, _)| diagnostic.message.as_str())
        .collect();
    let hints: Vec<Option<&str>> = plan
        .diagnostics
        .iter()
        .map(|(_, diagnostic, _)| diagnostic.hint.as_deref())
        .collect();
    let snippets: Vec<Option<&str>> = plan.diagnostics.iter().map(|(_, _, snippet)| *snippet).collect();
    sqlx::query(
        "INSERT INTO diagnostics (repo_id, file_path, line, col, code, severity, message, hint, snippet)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])",
    )
    .bind(&repos)
    .bind(&files)
    .bind(&lines)
    .bind(&columns)
    .bind(&codes)
    .bind(&severities)
    .bind(&messages)
    .bind(&hints)
    .bind(&snippets)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Each read repository's tip, status and next generation; forgotten repositories go (their
/// files, diagnostics and claims with them).
async fn write_repos(transaction: &mut Transaction<'_, Postgres>, plan: &Plan<'_>) -> Result<(), StoreError> {
    if !plan.read_repos.is_empty() {
        let ids: Vec<i64> = plan.read_repos.iter().map(|repo| repo.repo_id).collect();
        let commits: Vec<&str> = plan.read_repos.iter().map(|repo| repo.commit.as_str()).collect();
        let statuses: Vec<&str> = plan.read_repos.iter().map(|repo| if repo.stale { "stale" } else { "ok" }).collect();
        let errors: Vec<Option<&str>> = plan.read_repos.iter().map(|repo| repo.error.as_deref()).collect();
        sqlx::query(
            "UPDATE repos r SET last_commit = u.commit_id, last_crawled_at = now(), status = u.status, error = u.error, read_failed = false,
                 generation = r.generation + 1
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u (id, commit_id, status, error) WHERE r.id = u.id",
        )
        .bind(&ids)
        .bind(&commits)
        .bind(&statuses)
        .bind(&errors)
        .execute(&mut **transaction)
        .await?;
    }
    if !plan.forgotten_repos.is_empty() {
        sqlx::query("DELETE FROM repos WHERE id = ANY($1)")
            .bind(&plan.forgotten_repos)
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
}
