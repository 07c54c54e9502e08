//! Applying repositories' reads: upsert their entities, delete what the new tips prove gone,
//! replace relations, record diagnostics and conflicts, resolve references set-wise.
//!
//! A batch of repositories is applied in one transaction (so every repository in it is all in or
//! all out: readers never see half a repository), with set-wise statements: a dozen round trips
//! for the whole batch. Claims are decided in order, so the first claim of a reference in source
//! order wins, deterministically.
//!
//! Rules: a file that reads with errors keeps its last good entities (only its diagnostics
//! change); deletion happens only for files absent from a successfully read tip, or documents
//! absent from a file that read cleanly; a reference held by another source stays with its
//! holder and the newcomer is recorded as a conflict.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;
use sqlx::{Postgres, Row, Transaction};

use super::{Store, StoreError};
use crate::descriptor::ParsedFile;
use crate::domain::{Code, Diagnostic, Entity, Target};

/// The advisory-lock key that serialises writers ("sextant" in ASCII).
const WRITER_LOCK: i64 = 0x0073_6578_7461_6e74;

/// Diagnostics about a repository's tree rather than one descriptor's content.
const TREE_CODES: [Code; 4] = [
    Code::SymlinkSkipped,
    Code::SubmoduleSkipped,
    Code::TooManyDescriptors,
    Code::FileTooLarge,
];

/// What happened to one descriptor file of the new tip.
#[derive(Debug, Clone)]
pub enum FileUpdate {
    /// The blob id is the one already stored: nothing to do.
    Unchanged { path: String },
    /// The blob changed (or is new) and was read.
    Read { path: String, blob_id: String, parsed: ParsedFile },
}

impl FileUpdate {
    fn path(&self) -> &str {
        match self {
            FileUpdate::Unchanged { path } | FileUpdate::Read { path, .. } => path,
        }
    }
}

/// One repository's successful read, ready to apply.
#[derive(Debug, Clone)]
pub struct RepoUpdate {
    pub repo_id: i64,
    pub commit: String,
    pub files: Vec<FileUpdate>,
    /// Diagnostics about the tree itself (symlinks, submodules, oversized blobs).
    pub tree_diagnostics: Vec<Diagnostic>,
}

/// Counts of what an apply changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub conflicts: usize,
    pub diagnostics: usize,
}

impl std::ops::AddAssign for ApplyStats {
    fn add_assign(&mut self, other: ApplyStats) {
        self.added += other.added;
        self.updated += other.updated;
        self.removed += other.removed;
        self.conflicts += other.conflicts;
        self.diagnostics += other.diagnostics;
    }
}

impl Store {
    /// Applies one repository's read atomically.
    pub async fn apply_repo(&self, update: &RepoUpdate) -> Result<ApplyStats, StoreError> {
        Ok(self.apply_repos(std::slice::from_ref(update)).await?[0])
    }

    /// Applies several repositories' reads in one transaction, in order; returns each one's
    /// counts. All of them are applied, or none.
    pub async fn apply_repos(&self, updates: &[RepoUpdate]) -> Result<Vec<ApplyStats>, StoreError> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITER_LOCK)
            .execute(&mut *transaction)
            .await?;
        let stats = apply_in(&mut transaction, updates).await?;
        transaction.commit().await?;
        Ok(stats)
    }
}

/// What the batch decided for each entity of each cleanly read file.
#[derive(Default)]
struct Plan<'update> {
    inserts: Vec<(usize, i64, &'update str, &'update Entity)>,
    updates: Vec<(usize, i64, &'update Entity)>,
    /// (repo id, path) of the cleanly read files, and the references each keeps.
    read_files: Vec<(i64, &'update str)>,
    kept_refs: Vec<String>,
    conflicts: Vec<(usize, String, i64, String, i64, &'update str, i32)>,
    /// Diagnostics to store: (update index, repo id, diagnostic).
    diagnostics: Vec<(usize, i64, Diagnostic)>,
    /// Files whose stored diagnostics are replaced: every read file.
    diagnosed_files: Vec<(i64, &'update str)>,
    descriptor_rows: Vec<(i64, &'update str, &'update str, bool)>,
}

async fn apply_in(transaction: &mut Transaction<'_, Postgres>, updates: &[RepoUpdate]) -> Result<Vec<ApplyStats>, StoreError> {
    let mut stats = vec![ApplyStats::default(); updates.len()];
    let repo_ids: Vec<i64> = updates.iter().map(|update| update.repo_id).collect();
    let position_of: HashMap<i64, usize> = repo_ids.iter().enumerate().map(|(position, id)| (*id, position)).collect();

    // What is stored for these repositories: their descriptor files and whether each was valid.
    let stored: Vec<(i64, String, bool)> = sqlx::query_as("SELECT repo_id, path, valid FROM descriptor_files WHERE repo_id = ANY($1)")
        .bind(&repo_ids)
        .fetch_all(&mut **transaction)
        .await?;
    let mut validity: HashMap<(i64, String), bool> = HashMap::new();
    for (repo_id, path, valid) in &stored {
        validity.insert((*repo_id, path.clone()), *valid);
    }

    // Files gone from a tip: their entities, rows, diagnostics and claims go.
    let tips: HashMap<i64, HashSet<&str>> = updates
        .iter()
        .map(|update| (update.repo_id, update.files.iter().map(FileUpdate::path).collect()))
        .collect();
    let gone: Vec<(i64, String)> = stored
        .iter()
        .filter(|(repo_id, path, _)| !tips[repo_id].contains(path.as_str()))
        .map(|(repo_id, path, _)| (*repo_id, path.clone()))
        .collect();
    let mut freed_refs: Vec<String> = Vec::new();
    if !gone.is_empty() {
        let (gone_repos, gone_paths): (Vec<i64>, Vec<String>) = gone.iter().cloned().unzip();
        let removed: Vec<(i64, String)> = sqlx::query_as(
            "DELETE FROM entities e USING UNNEST($1::bigint[], $2::text[]) AS gone (repo_id, path)
             WHERE e.repo_id = gone.repo_id AND e.file_path = gone.path RETURNING e.repo_id, e.entity_ref",
        )
        .bind(&gone_repos)
        .bind(&gone_paths)
        .fetch_all(&mut **transaction)
        .await?;
        for (repo_id, entity_ref) in removed {
            stats[position_of[&repo_id]].removed += 1;
            freed_refs.push(entity_ref);
        }
        for (table, repo_column, path_column) in [
            ("descriptor_files", "repo_id", "path"),
            ("diagnostics", "repo_id", "file_path"),
            ("conflicts", "claimant_repo_id", "claimant_path"),
        ] {
            sqlx::query(&format!(
                "DELETE FROM {table} t USING UNNEST($1::bigint[], $2::text[]) AS gone (repo_id, path) WHERE t.{repo_column} = gone.repo_id AND t.{path_column} = gone.path"
            ))
            .bind(&gone_repos)
            .bind(&gone_paths)
            .execute(&mut **transaction)
            .await?;
        }
        for key in &gone {
            validity.remove(key);
        }
    }

    // Who holds the references that the cleanly read files define.
    let all_refs: Vec<String> = updates
        .iter()
        .flat_map(|update| &update.files)
        .filter_map(|file| match file {
            FileUpdate::Read { parsed, .. } if !parsed.has_errors() => {
                Some(parsed.entities.iter().map(|entity| entity.entity_ref.to_string()))
            }
            _ => None,
        })
        .flatten()
        .collect();
    let mut holders: HashMap<String, (i64, i64, String, Json)> = HashMap::new();
    if !all_refs.is_empty() {
        for row in sqlx::query("SELECT entity_ref, id, repo_id, file_path, document FROM entities WHERE entity_ref = ANY($1)")
            .bind(&all_refs)
            .fetch_all(&mut **transaction)
            .await?
        {
            holders.insert(row.get(0), (row.get(1), row.get(2), row.get(3), row.get(4)));
        }
    }

    // Decide, in order, what each entity becomes.
    let mut plan = Plan::default();
    let mut claimed_in_batch: HashMap<String, (i64, &str)> = HashMap::new();
    for (index, update) in updates.iter().enumerate() {
        let repo_id = update.repo_id;
        for diagnostic in &update.tree_diagnostics {
            plan.diagnostics.push((index, repo_id, diagnostic.clone()));
        }
        for file in &update.files {
            let FileUpdate::Read { path, blob_id, parsed } = file else {
                continue;
            };
            let valid = !parsed.has_errors();
            plan.diagnosed_files.push((repo_id, path));
            plan.descriptor_rows.push((repo_id, path, blob_id, valid));
            validity.insert((repo_id, path.clone()), valid);
            for diagnostic in &parsed.diagnostics {
                plan.diagnostics.push((index, repo_id, diagnostic.clone()));
            }
            if !valid {
                continue;
            }
            plan.read_files.push((repo_id, path));
            for entity in &parsed.entities {
                let entity_ref = entity.entity_ref.to_string();
                let holder = holders
                    .get(&entity_ref)
                    .map(|(id, holder_repo, holder_path, document)| (Some((*id, document)), *holder_repo, holder_path.clone()))
                    .or_else(|| {
                        claimed_in_batch
                            .get(&entity_ref)
                            .map(|(holder_repo, holder_path)| (None, *holder_repo, (*holder_path).to_owned()))
                    });
                match holder {
                    Some((_, holder_repo, holder_path)) if holder_repo != repo_id || holder_path != *path => {
                        let line = entity.provenance.position.line as i32;
                        plan.diagnostics.push((
                            index,
                            repo_id,
                            Diagnostic::new(
                                Code::EntityConflict,
                                path,
                                entity.provenance.position,
                                format!("`{entity_ref}` is already defined by {holder_path} in another source; that definition keeps it"),
                            )
                            .with_hint("rename this entity, or remove one of the two definitions"),
                        ));
                        plan.conflicts
                            .push((index, entity_ref, holder_repo, holder_path, repo_id, path, line));
                    }
                    Some((Some((id, document)), _, _)) => {
                        plan.kept_refs.push(entity_ref);
                        if document != &entity.document {
                            plan.updates.push((index, id, entity));
                        }
                    }
                    Some((None, _, _)) => {} // A second definition in the same file: the validator reports it.
                    None => {
                        claimed_in_batch.insert(entity_ref.clone(), (repo_id, path));
                        plan.kept_refs.push(entity_ref);
                        plan.inserts.push((index, repo_id, path, entity));
                    }
                }
            }
        }
    }

    let mut written: Vec<(i64, &Entity)> = Vec::new();
    let mut new_ids: Vec<i64> = Vec::new();
    if !plan.inserts.is_empty() {
        let ids = insert_entities(transaction, updates, &plan.inserts).await?;
        for ((index, _, _, entity), id) in plan.inserts.iter().zip(ids) {
            stats[*index].added += 1;
            written.push((id, entity));
            new_ids.push(id);
        }
    }
    if !plan.updates.is_empty() {
        update_entities(transaction, updates, &plan.updates).await?;
        for (index, id, entity) in &plan.updates {
            stats[*index].updated += 1;
            written.push((*id, entity));
        }
    }

    // Entities that cleanly read files no longer define, and their stale claims.
    if !plan.read_files.is_empty() {
        let (read_repos, read_paths): (Vec<i64>, Vec<&str>) = plan.read_files.iter().copied().unzip();
        let removed: Vec<(i64, String)> = sqlx::query_as(
            "DELETE FROM entities e USING UNNEST($1::bigint[], $2::text[]) AS f (repo_id, path)
             WHERE e.repo_id = f.repo_id AND e.file_path = f.path AND NOT (e.entity_ref = ANY($3)) RETURNING e.repo_id, e.entity_ref",
        )
        .bind(&read_repos)
        .bind(&read_paths)
        .bind(&plan.kept_refs)
        .fetch_all(&mut **transaction)
        .await?;
        for (repo_id, entity_ref) in removed {
            stats[position_of[&repo_id]].removed += 1;
            freed_refs.push(entity_ref);
        }
        let claimed: Vec<&str> = plan.conflicts.iter().map(|conflict| conflict.1.as_str()).collect();
        sqlx::query(
            "DELETE FROM conflicts c USING UNNEST($1::bigint[], $2::text[]) AS f (repo_id, path)
             WHERE c.claimant_repo_id = f.repo_id AND c.claimant_path = f.path AND NOT (c.entity_ref = ANY($3))",
        )
        .bind(&read_repos)
        .bind(&read_paths)
        .bind(&claimed)
        .execute(&mut **transaction)
        .await?;
    }
    if !plan.conflicts.is_empty() {
        record_conflicts(transaction, &plan.conflicts).await?;
        for conflict in &plan.conflicts {
            stats[conflict.0].conflicts += 1;
        }
    }
    if !written.is_empty() {
        replace_aliases(transaction, &written).await?;
        replace_relations(transaction, &written).await?;
    }
    if !new_ids.is_empty() {
        // References written earlier (in any repository) that named these entities resolve now:
        // by reference, then by alias (two statements, so that each uses its index).
        sqlx::query(
            "UPDATE relations r SET target_id = e.id FROM entities e
             WHERE e.id = ANY($1) AND r.target_id IS NULL AND r.target_ref = e.entity_ref",
        )
        .bind(&new_ids)
        .execute(&mut **transaction)
        .await?;
    }
    if !written.is_empty() && written.iter().any(|(_, entity)| !entity.aliases.is_empty()) {
        let ids: Vec<i64> = written.iter().map(|(id, _)| *id).collect();
        sqlx::query(
            "UPDATE relations r SET target_id = a.entity_id FROM entity_aliases a
             WHERE a.entity_id = ANY($1) AND r.target_id IS NULL AND r.target_ref = a.alias",
        )
        .bind(&ids)
        .execute(&mut **transaction)
        .await?;
    }
    if !freed_refs.is_empty() {
        release_conflicts(transaction, &freed_refs).await?;
    }

    replace_diagnostics(transaction, updates, &plan).await?;
    for (index, _, diagnostic) in &plan.diagnostics {
        if diagnostic.severity != crate::domain::Severity::Note {
            stats[*index].diagnostics += 1;
        }
    }
    if !plan.descriptor_rows.is_empty() {
        let repos: Vec<i64> = plan.descriptor_rows.iter().map(|row| row.0).collect();
        let paths: Vec<&str> = plan.descriptor_rows.iter().map(|row| row.1).collect();
        let blobs: Vec<&str> = plan.descriptor_rows.iter().map(|row| row.2).collect();
        let valid: Vec<bool> = plan.descriptor_rows.iter().map(|row| row.3).collect();
        sqlx::query(
            "INSERT INTO descriptor_files (repo_id, path, blob_oid, valid) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bool[])
             ON CONFLICT (repo_id, path) DO UPDATE SET blob_oid = EXCLUDED.blob_oid, valid = EXCLUDED.valid",
        )
        .bind(&repos)
        .bind(&paths)
        .bind(&blobs)
        .bind(&valid)
        .execute(&mut **transaction)
        .await?;
    }

    // Each repository's status: stale while any of its files reads with errors.
    let mut invalid_counts: HashMap<i64, usize> = HashMap::new();
    for ((repo_id, _), valid) in &validity {
        if !valid {
            *invalid_counts.entry(*repo_id).or_default() += 1;
        }
    }
    let commits: Vec<&str> = updates.iter().map(|update| update.commit.as_str()).collect();
    let statuses: Vec<&str> = repo_ids
        .iter()
        .map(|id| if invalid_counts.contains_key(id) { "stale" } else { "ok" })
        .collect();
    let errors: Vec<Option<String>> = repo_ids
        .iter()
        .map(|id| {
            invalid_counts
                .get(id)
                .map(|count| format!("{count} descriptor file(s) read with errors; their last good entities are kept"))
        })
        .collect();
    sqlx::query(
        "UPDATE repos r SET last_commit = u.commit_id, last_crawled_at = now(), status = u.status, error = u.error
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u (id, commit_id, status, error) WHERE r.id = u.id",
    )
    .bind(&repo_ids)
    .bind(&commits)
    .bind(&statuses)
    .bind(&errors)
    .execute(&mut **transaction)
    .await?;
    sqlx::query("UPDATE catalog_state SET version = version + 1")
        .execute(&mut **transaction)
        .await?;
    Ok(stats)
}

/// A list of strings as a JSON array.
fn string_list(values: &[String]) -> Json {
    Json::Array(values.iter().cloned().map(Json::String).collect())
}

/// The columns that inserts and updates share, one array per column (UNNEST takes arrays).
struct EntityColumns<'entity> {
    titles: Vec<Option<String>>,
    descriptions: Vec<Option<String>>,
    types: Vec<Option<String>>,
    lifecycles: Vec<Option<String>>,
    tiers: Vec<Option<i16>>,
    owners: Vec<Option<String>>,
    systems: Vec<Option<String>>,
    domains: Vec<Option<String>>,
    tags: Vec<Json>,
    aliases: Vec<Json>,
    documents: Vec<&'entity Json>,
    document_indexes: Vec<i32>,
    lines: Vec<i32>,
    commits: Vec<&'entity str>,
}

impl<'entity> EntityColumns<'entity> {
    /// From (entity, commit it was read at) pairs.
    fn of(rows: &[(&'entity Entity, &'entity str)]) -> Self {
        let text = |get: &dyn Fn(&Entity) -> Option<String>| rows.iter().map(|(entity, _)| get(entity)).collect::<Vec<_>>();
        EntityColumns {
            titles: text(&|entity| entity.title.clone()),
            descriptions: text(&|entity| entity.description.clone()),
            types: text(&|entity| entity.entity_type.clone()),
            lifecycles: text(&|entity| entity.lifecycle.clone()),
            tiers: rows.iter().map(|(entity, _)| entity.tier.map(i16::from)).collect(),
            owners: text(&|entity| entity.owner.as_ref().map(Target::to_string)),
            systems: text(&|entity| entity.system.as_ref().map(ToString::to_string)),
            domains: text(&|entity| entity.domain.as_ref().map(ToString::to_string)),
            // Tags and aliases travel as JSON arrays, because UNNEST cannot take arrays of
            // ragged arrays.
            tags: rows.iter().map(|(entity, _)| string_list(&entity.tags)).collect(),
            aliases: rows.iter().map(|(entity, _)| string_list(&entity.aliases)).collect(),
            documents: rows.iter().map(|(entity, _)| &entity.document).collect(),
            document_indexes: rows.iter().map(|(entity, _)| entity.provenance.document as i32).collect(),
            lines: rows.iter().map(|(entity, _)| entity.provenance.position.line as i32).collect(),
            commits: rows.iter().map(|(_, commit)| *commit).collect(),
        }
    }
}

/// Inserts entities; returns their ids in the same order.
async fn insert_entities(
    transaction: &mut Transaction<'_, Postgres>,
    updates: &[RepoUpdate],
    inserts: &[(usize, i64, &str, &Entity)],
) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(&Entity, &str)> = inserts
        .iter()
        .map(|(index, _, _, entity)| (*entity, updates[*index].commit.as_str()))
        .collect();
    let columns = EntityColumns::of(&rows);
    let refs: Vec<String> = inserts.iter().map(|(_, _, _, entity)| entity.entity_ref.to_string()).collect();
    let kinds: Vec<&str> = inserts.iter().map(|(_, _, _, entity)| entity.entity_ref.kind.as_str()).collect();
    let namespaces: Vec<&str> = inserts
        .iter()
        .map(|(_, _, _, entity)| entity.entity_ref.namespace.as_str())
        .collect();
    let names: Vec<&str> = inserts.iter().map(|(_, _, _, entity)| entity.entity_ref.name.as_str()).collect();
    let formats: Vec<&str> = inserts.iter().map(|(_, _, _, entity)| entity.provenance.format.as_str()).collect();
    let repos: Vec<i64> = inserts.iter().map(|(_, repo_id, _, _)| *repo_id).collect();
    let paths: Vec<&str> = inserts.iter().map(|(_, _, path, _)| *path).collect();
    let inserted: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO entities (entity_ref, kind, namespace, name, title, description, type, lifecycle, tier, owner_ref, system_ref,
             domain_ref, tags, aliases, document, repo_id, file_path, document_index, line, format, commit_id)
         SELECT u.entity_ref, u.kind, u.namespace, u.name, u.title, u.description, u.type, u.lifecycle, u.tier, u.owner_ref, u.system_ref,
             u.domain_ref, ARRAY(SELECT jsonb_array_elements_text(u.tags)), ARRAY(SELECT jsonb_array_elements_text(u.aliases)),
             u.document, u.repo_id, u.file_path, u.document_index, u.line, u.format, u.commit_id
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::smallint[],
                     $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::jsonb[], $15::jsonb[], $16::bigint[], $17::text[],
                     $18::int[], $19::int[], $20::text[], $21::text[])
             AS u (entity_ref, kind, namespace, name, title, description, type, lifecycle, tier, owner_ref, system_ref, domain_ref,
                   tags, aliases, document, repo_id, file_path, document_index, line, format, commit_id)
         RETURNING id, entity_ref",
    )
    .bind(&refs)
    .bind(&kinds)
    .bind(&namespaces)
    .bind(&names)
    .bind(&columns.titles)
    .bind(&columns.descriptions)
    .bind(&columns.types)
    .bind(&columns.lifecycles)
    .bind(&columns.tiers)
    .bind(&columns.owners)
    .bind(&columns.systems)
    .bind(&columns.domains)
    .bind(&columns.tags)
    .bind(&columns.aliases)
    .bind(&columns.documents)
    .bind(&repos)
    .bind(&paths)
    .bind(&columns.document_indexes)
    .bind(&columns.lines)
    .bind(&formats)
    .bind(&columns.commits)
    .fetch_all(&mut **transaction)
    .await?;
    // RETURNING follows no promised order: map the ids back by reference.
    let by_ref: HashMap<String, i64> = inserted.into_iter().map(|(id, entity_ref)| (entity_ref, id)).collect();
    Ok(refs.iter().map(|entity_ref| by_ref[entity_ref]).collect())
}

async fn update_entities(
    transaction: &mut Transaction<'_, Postgres>,
    updates: &[RepoUpdate],
    changes: &[(usize, i64, &Entity)],
) -> Result<(), StoreError> {
    let rows: Vec<(&Entity, &str)> = changes
        .iter()
        .map(|(index, _, entity)| (*entity, updates[*index].commit.as_str()))
        .collect();
    let columns = EntityColumns::of(&rows);
    let ids: Vec<i64> = changes.iter().map(|(_, id, _)| *id).collect();
    sqlx::query(
        "UPDATE entities e SET title = u.title, description = u.description, type = u.type, lifecycle = u.lifecycle, tier = u.tier,
             owner_ref = u.owner_ref, system_ref = u.system_ref, domain_ref = u.domain_ref,
             tags = ARRAY(SELECT jsonb_array_elements_text(u.tags)), aliases = ARRAY(SELECT jsonb_array_elements_text(u.aliases)),
             document = u.document, document_index = u.document_index, line = u.line, commit_id = u.commit_id, updated_at = now()
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::text[], $8::text[], $9::text[],
                     $10::jsonb[], $11::jsonb[], $12::jsonb[], $13::int[], $14::int[], $15::text[])
             AS u (id, title, description, type, lifecycle, tier, owner_ref, system_ref, domain_ref, tags, aliases, document,
                   document_index, line, commit_id)
         WHERE e.id = u.id",
    )
    .bind(&ids)
    .bind(&columns.titles)
    .bind(&columns.descriptions)
    .bind(&columns.types)
    .bind(&columns.lifecycles)
    .bind(&columns.tiers)
    .bind(&columns.owners)
    .bind(&columns.systems)
    .bind(&columns.domains)
    .bind(&columns.tags)
    .bind(&columns.aliases)
    .bind(&columns.documents)
    .bind(&columns.document_indexes)
    .bind(&columns.lines)
    .bind(&columns.commits)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Replaces the alias rows of the written entities.
async fn replace_aliases(transaction: &mut Transaction<'_, Postgres>, written: &[(i64, &Entity)]) -> Result<(), StoreError> {
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

/// Replaces the declared relations of the written entities, resolving each target now if it
/// exists (entities inserted earlier in this transaction included).
async fn replace_relations(transaction: &mut Transaction<'_, Postgres>, written: &[(i64, &Entity)]) -> Result<(), StoreError> {
    let ids: Vec<i64> = written.iter().map(|(id, _)| *id).collect();
    sqlx::query("DELETE FROM relations WHERE source_id = ANY($1)")
        .bind(&ids)
        .execute(&mut **transaction)
        .await?;
    let edges: Vec<(i64, &str, String, i32)> = written
        .iter()
        .flat_map(|(id, entity)| {
            entity.relations.iter().map(move |relation| {
                (
                    *id,
                    relation.relation_type.as_str(),
                    relation.target.to_string(),
                    relation.position.line as i32,
                )
            })
        })
        .collect();
    if edges.is_empty() {
        return Ok(());
    }
    let sources: Vec<i64> = edges.iter().map(|edge| edge.0).collect();
    let types: Vec<&str> = edges.iter().map(|edge| edge.1).collect();
    let targets: Vec<&str> = edges.iter().map(|edge| edge.2.as_str()).collect();
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

type Conflict<'update> = (usize, String, i64, String, i64, &'update str, i32);

async fn record_conflicts(transaction: &mut Transaction<'_, Postgres>, conflicts: &[Conflict<'_>]) -> Result<(), StoreError> {
    let refs: Vec<&str> = conflicts.iter().map(|conflict| conflict.1.as_str()).collect();
    let holder_repos: Vec<i64> = conflicts.iter().map(|conflict| conflict.2).collect();
    let holder_paths: Vec<&str> = conflicts.iter().map(|conflict| conflict.3.as_str()).collect();
    let claimant_repos: Vec<i64> = conflicts.iter().map(|conflict| conflict.4).collect();
    let claimant_paths: Vec<&str> = conflicts.iter().map(|conflict| conflict.5).collect();
    let lines: Vec<i32> = conflicts.iter().map(|conflict| conflict.6).collect();
    sqlx::query(
        "INSERT INTO conflicts (entity_ref, holder_repo_id, holder_path, claimant_repo_id, claimant_path, claimant_line)
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::int[])
         ON CONFLICT (entity_ref, claimant_repo_id, claimant_path) DO UPDATE
             SET holder_repo_id = EXCLUDED.holder_repo_id, holder_path = EXCLUDED.holder_path, claimant_line = EXCLUDED.claimant_line",
    )
    .bind(&refs)
    .bind(&holder_repos)
    .bind(&holder_paths)
    .bind(&claimant_repos)
    .bind(&claimant_paths)
    .bind(&lines)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// When a holder gives a reference up, its claimants get to read their files again on the next
/// crawl (their blob ids and tip commits are forgotten), so the earliest remaining claim wins.
async fn release_conflicts(transaction: &mut Transaction<'_, Postgres>, freed_refs: &[String]) -> Result<(), StoreError> {
    let released: Vec<(i64, String)> =
        sqlx::query_as("DELETE FROM conflicts WHERE entity_ref = ANY($1) RETURNING claimant_repo_id, claimant_path")
            .bind(freed_refs)
            .fetch_all(&mut **transaction)
            .await?;
    if released.is_empty() {
        return Ok(());
    }
    let (repos, paths): (Vec<i64>, Vec<String>) = released.into_iter().unzip();
    sqlx::query("UPDATE descriptor_files d SET blob_oid = '' FROM UNNEST($1::bigint[], $2::text[]) AS f (repo_id, path) WHERE d.repo_id = f.repo_id AND d.path = f.path")
        .bind(&repos)
        .bind(&paths)
        .execute(&mut **transaction)
        .await?;
    sqlx::query("UPDATE repos SET last_commit = NULL WHERE id = ANY($1)")
        .bind(&repos)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// Replaces the diagnostics of every read file, and each repository's tree diagnostics.
async fn replace_diagnostics(
    transaction: &mut Transaction<'_, Postgres>,
    updates: &[RepoUpdate],
    plan: &Plan<'_>,
) -> Result<(), StoreError> {
    let (file_repos, file_paths): (Vec<i64>, Vec<&str>) = plan.diagnosed_files.iter().copied().unzip();
    let repo_ids: Vec<i64> = updates.iter().map(|update| update.repo_id).collect();
    let tree_codes: Vec<&str> = TREE_CODES.iter().map(|code| code.as_str()).collect();
    if !file_repos.is_empty() {
        sqlx::query("DELETE FROM diagnostics d USING UNNEST($1::bigint[], $2::text[]) AS f (repo_id, path) WHERE d.repo_id = f.repo_id AND d.file_path = f.path")
            .bind(&file_repos)
            .bind(&file_paths)
            .execute(&mut **transaction)
            .await?;
    }
    sqlx::query("DELETE FROM diagnostics WHERE repo_id = ANY($1) AND code = ANY($2)")
        .bind(&repo_ids)
        .bind(&tree_codes)
        .execute(&mut **transaction)
        .await?;
    if plan.diagnostics.is_empty() {
        return Ok(());
    }
    let repos: Vec<i64> = plan.diagnostics.iter().map(|(_, repo_id, _)| *repo_id).collect();
    let files: Vec<&str> = plan.diagnostics.iter().map(|(_, _, diagnostic)| diagnostic.file.as_str()).collect();
    let lines: Vec<i32> = plan.diagnostics.iter().map(|(_, _, diagnostic)| diagnostic.line as i32).collect();
    let columns: Vec<i32> = plan.diagnostics.iter().map(|(_, _, diagnostic)| diagnostic.column as i32).collect();
    let codes: Vec<&str> = plan.diagnostics.iter().map(|(_, _, diagnostic)| diagnostic.code.as_str()).collect();
    let severities: Vec<&str> = plan
        .diagnostics
        .iter()
        .map(|(_, _, diagnostic)| diagnostic.severity.as_str())
        .collect();
    let messages: Vec<&str> = plan
        .diagnostics
        .iter()
        .map(|(_, _, diagnostic)| diagnostic.message.as_str())
        .collect();
    let hints: Vec<Option<&str>> = plan
        .diagnostics
        .iter()
        .map(|(_, _, diagnostic)| diagnostic.hint.as_deref())
        .collect();
    sqlx::query(
        "INSERT INTO diagnostics (repo_id, file_path, line, col, code, severity, message, hint)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[])",
    )
    .bind(&repos)
    .bind(&files)
    .bind(&lines)
    .bind(&columns)
    .bind(&codes)
    .bind(&severities)
    .bind(&messages)
    .bind(&hints)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}
