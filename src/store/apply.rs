//! Applying one repository's read in one transaction: upsert its entities, delete what the new
//! tip proves gone, replace relations, record diagnostics and conflicts, resolve references.
//!
//! Rules: a file that reads with errors keeps its last good entities (only its diagnostics
//! change); deletion happens only for files absent from a successfully read tip, or documents
//! absent from a file that read cleanly; a reference held by another source stays with its
//! holder and the newcomer is recorded as a conflict.

use std::collections::{HashMap, HashSet};

use sqlx::{Postgres, Row, Transaction};

use super::{Store, StoreError};
use crate::descriptor::ParsedFile;
use crate::domain::{Code, Diagnostic, Entity, Position, Severity, Target};

/// The advisory-lock key that serialises writers ("sextant" in ASCII, folded to 63 bits).
const WRITER_LOCK: i64 = 0x0073_6578_7461_6e74;

/// What happened to one descriptor file of the new tip.
#[derive(Debug, Clone)]
pub enum FileUpdate {
    /// The blob id is the one already stored: nothing to do.
    Unchanged { path: String },
    /// The blob changed (or is new) and was read.
    Read { path: String, blob_id: String, parsed: ParsedFile },
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
    /// Applies a repository's read atomically. Readers see the repository before or after, never
    /// half of it.
    pub async fn apply_repo(&self, update: &RepoUpdate) -> Result<ApplyStats, StoreError> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITER_LOCK).execute(&mut *transaction).await?;
        let stats = apply_in(&mut transaction, update).await?;
        transaction.commit().await?;
        Ok(stats)
    }
}

async fn apply_in(transaction: &mut Transaction<'_, Postgres>, update: &RepoUpdate) -> Result<ApplyStats, StoreError> {
    let repo_id = update.repo_id;
    let mut stats = ApplyStats::default();

    let stored_paths: Vec<String> = sqlx::query_scalar("SELECT path FROM descriptor_files WHERE repo_id = $1")
        .bind(repo_id)
        .fetch_all(&mut **transaction)
        .await?;
    let tip_paths: HashSet<&str> = update
        .files
        .iter()
        .map(|file| match file {
            FileUpdate::Unchanged { path } | FileUpdate::Read { path, .. } => path.as_str(),
        })
        .collect();
    let gone: Vec<String> = stored_paths.into_iter().filter(|path| !tip_paths.contains(path.as_str())).collect();
    let mut freed_refs: Vec<String> = Vec::new();
    if !gone.is_empty() {
        let removed: Vec<String> = sqlx::query_scalar("DELETE FROM entities WHERE repo_id = $1 AND file_path = ANY($2) RETURNING entity_ref")
            .bind(repo_id)
            .bind(&gone)
            .fetch_all(&mut **transaction)
            .await?;
        stats.removed += removed.len();
        freed_refs.extend(removed);
        for table in ["descriptor_files", "diagnostics"] {
            let column = if table == "descriptor_files" { "path" } else { "file_path" };
            sqlx::query(&format!("DELETE FROM {table} WHERE repo_id = $1 AND {column} = ANY($2)"))
                .bind(repo_id)
                .bind(&gone)
                .execute(&mut **transaction)
                .await?;
        }
        sqlx::query("DELETE FROM conflicts WHERE claimant_repo_id = $1 AND claimant_path = ANY($2)")
            .bind(repo_id)
            .bind(&gone)
            .execute(&mut **transaction)
            .await?;
    }

    let mut invalid_files = Vec::new();
    let mut new_entity_ids = Vec::new();
    for file in &update.files {
        let FileUpdate::Read { path, blob_id, parsed } = file else { continue };
        let valid = !parsed.has_errors();
        let mut diagnostics = parsed.diagnostics.clone();
        if valid {
            let outcome = replace_file_entities(transaction, repo_id, &update.commit, path, &parsed.entities).await?;
            stats.added += outcome.added;
            stats.updated += outcome.updated;
            stats.removed += outcome.removed.len();
            stats.conflicts += outcome.conflicts.len();
            freed_refs.extend(outcome.removed);
            new_entity_ids.extend(outcome.written_ids);
            diagnostics.extend(outcome.conflicts);
        } else {
            invalid_files.push(path.clone());
        }
        stats.diagnostics += replace_diagnostics(transaction, repo_id, path, &diagnostics).await?;
        sqlx::query(
            "INSERT INTO descriptor_files (repo_id, path, blob_oid, valid) VALUES ($1, $2, $3, $4)
             ON CONFLICT (repo_id, path) DO UPDATE SET blob_oid = EXCLUDED.blob_oid, valid = EXCLUDED.valid",
        )
        .bind(repo_id)
        .bind(path)
        .bind(blob_id)
        .bind(valid)
        .execute(&mut **transaction)
        .await?;
    }
    stats.diagnostics += replace_tree_diagnostics(transaction, repo_id, &update.tree_diagnostics, &tip_paths).await?;

    if !freed_refs.is_empty() {
        release_conflicts(transaction, &freed_refs).await?;
    }
    if !new_entity_ids.is_empty() {
        // References written earlier (in any repository) that named these entities resolve now.
        sqlx::query(
            "UPDATE relations r SET target_id = e.id FROM entities e
             WHERE e.id = ANY($1) AND r.target_id IS NULL AND (r.target_ref = e.entity_ref OR e.aliases @> ARRAY[r.target_ref])",
        )
        .bind(&new_entity_ids)
        .execute(&mut **transaction)
        .await?;
    }

    let still_invalid: i64 = sqlx::query_scalar("SELECT count(*) FROM descriptor_files WHERE repo_id = $1 AND NOT valid")
        .bind(repo_id)
        .fetch_one(&mut **transaction)
        .await?;
    let (status, error) = if still_invalid > 0 {
        ("stale", Some(format!("{still_invalid} descriptor file(s) read with errors; their last good entities are kept")))
    } else {
        ("ok", None)
    };
    sqlx::query("UPDATE repos SET last_commit = $2, last_crawled_at = now(), status = $3, error = $4 WHERE id = $1")
        .bind(repo_id)
        .bind(&update.commit)
        .bind(status)
        .bind(error)
        .execute(&mut **transaction)
        .await?;
    Ok(stats)
}

struct FileOutcome {
    added: usize,
    updated: usize,
    removed: Vec<String>,
    written_ids: Vec<i64>,
    conflicts: Vec<Diagnostic>,
}

/// Makes the entities of one cleanly read file exactly `entities`.
async fn replace_file_entities(
    transaction: &mut Transaction<'_, Postgres>,
    repo_id: i64,
    commit: &str,
    path: &str,
    entities: &[Entity],
) -> Result<FileOutcome, StoreError> {
    let mut outcome = FileOutcome { added: 0, updated: 0, removed: Vec::new(), written_ids: Vec::new(), conflicts: Vec::new() };
    let refs: Vec<String> = entities.iter().map(|entity| entity.entity_ref.to_string()).collect();
    let holders: HashMap<String, (i64, i64, String, serde_json::Value)> = sqlx::query(
        "SELECT entity_ref, id, repo_id, file_path, document FROM entities WHERE entity_ref = ANY($1)",
    )
    .bind(&refs)
    .fetch_all(&mut **transaction)
    .await?
    .into_iter()
    .map(|row| (row.get::<String, _>(0), (row.get(1), row.get(2), row.get(3), row.get(4))))
    .collect();

    let mut claimed_here = HashSet::new();
    let mut written = Vec::new();
    for (entity, entity_ref) in entities.iter().zip(&refs) {
        match holders.get(entity_ref) {
            Some((_, holder_repo, holder_path, _)) if *holder_repo != repo_id || holder_path != path => {
                record_conflict(transaction, entity_ref, *holder_repo, holder_path, repo_id, path, entity.provenance.position).await?;
                outcome.conflicts.push(
                    Diagnostic::new(Code::EntityConflict, path, entity.provenance.position, format!("`{entity_ref}` is already defined by {holder_path} in another source; that definition keeps it"))
                        .with_hint("rename this entity, or remove one of the two definitions"),
                );
                continue;
            }
            Some((id, _, _, document)) => {
                claimed_here.insert(entity_ref.clone());
                if document != &entity.document {
                    update_entity(transaction, *id, commit, entity).await?;
                    outcome.updated += 1;
                    written.push((*id, entity));
                }
            }
            None => {
                if !claimed_here.insert(entity_ref.clone()) {
                    continue; // A second definition in the same file: the validator reports it.
                }
                let id = insert_entity(transaction, repo_id, commit, path, entity).await?;
                outcome.added += 1;
                outcome.written_ids.push(id);
                written.push((id, entity));
            }
        }
    }

    let kept: Vec<String> = claimed_here.into_iter().collect();
    outcome.removed = sqlx::query_scalar("DELETE FROM entities WHERE repo_id = $1 AND file_path = $2 AND NOT (entity_ref = ANY($3)) RETURNING entity_ref")
        .bind(repo_id)
        .bind(path)
        .bind(&kept)
        .fetch_all(&mut **transaction)
        .await?;
    sqlx::query("DELETE FROM conflicts WHERE claimant_repo_id = $1 AND claimant_path = $2 AND NOT (entity_ref = ANY($3))")
        .bind(repo_id)
        .bind(path)
        .bind(&refs)
        .execute(&mut **transaction)
        .await?;
    for (id, entity) in written {
        replace_relations(transaction, id, entity).await?;
    }
    Ok(outcome)
}

async fn insert_entity(transaction: &mut Transaction<'_, Postgres>, repo_id: i64, commit: &str, path: &str, entity: &Entity) -> Result<i64, StoreError> {
    let entity_ref = &entity.entity_ref;
    let id = sqlx::query_scalar(
        "INSERT INTO entities (entity_ref, kind, namespace, name, title, description, type, lifecycle, tier, owner_ref,
             system_ref, domain_ref, tags, aliases, document, repo_id, file_path, document_index, line, format, commit_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
         RETURNING id",
    )
    .bind(entity_ref.to_string())
    .bind(&entity_ref.kind)
    .bind(&entity_ref.namespace)
    .bind(&entity_ref.name)
    .bind(&entity.title)
    .bind(&entity.description)
    .bind(&entity.entity_type)
    .bind(&entity.lifecycle)
    .bind(entity.tier.map(i16::from))
    .bind(entity.owner.as_ref().map(Target::to_string))
    .bind(entity.system.as_ref().map(ToString::to_string))
    .bind(entity.domain.as_ref().map(ToString::to_string))
    .bind(&entity.tags)
    .bind(&entity.aliases)
    .bind(&entity.document)
    .bind(repo_id)
    .bind(path)
    .bind(entity.provenance.document as i32)
    .bind(entity.provenance.position.line as i32)
    .bind(entity.provenance.format.as_str())
    .bind(commit)
    .fetch_one(&mut **transaction)
    .await?;
    Ok(id)
}

async fn update_entity(transaction: &mut Transaction<'_, Postgres>, id: i64, commit: &str, entity: &Entity) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE entities SET title = $2, description = $3, type = $4, lifecycle = $5, tier = $6, owner_ref = $7, system_ref = $8,
             domain_ref = $9, tags = $10, aliases = $11, document = $12, document_index = $13, line = $14, commit_id = $15, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&entity.title)
    .bind(&entity.description)
    .bind(&entity.entity_type)
    .bind(&entity.lifecycle)
    .bind(entity.tier.map(i16::from))
    .bind(entity.owner.as_ref().map(Target::to_string))
    .bind(entity.system.as_ref().map(ToString::to_string))
    .bind(entity.domain.as_ref().map(ToString::to_string))
    .bind(&entity.tags)
    .bind(&entity.aliases)
    .bind(&entity.document)
    .bind(entity.provenance.document as i32)
    .bind(entity.provenance.position.line as i32)
    .bind(commit)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Replaces an entity's declared relations, resolving each target now if it exists.
async fn replace_relations(transaction: &mut Transaction<'_, Postgres>, id: i64, entity: &Entity) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM relations WHERE source_id = $1").bind(id).execute(&mut **transaction).await?;
    if entity.relations.is_empty() {
        return Ok(());
    }
    let types: Vec<&str> = entity.relations.iter().map(|relation| relation.relation_type.as_str()).collect();
    let targets: Vec<String> = entity.relations.iter().map(|relation| relation.target.to_string()).collect();
    let lines: Vec<i32> = entity.relations.iter().map(|relation| relation.position.line as i32).collect();
    sqlx::query(
        "INSERT INTO relations (source_id, type, target_ref, target_id, line)
         SELECT $1, declared.type, declared.target_ref,
                COALESCE((SELECT id FROM entities WHERE entity_ref = declared.target_ref),
                         (SELECT id FROM entities WHERE aliases @> ARRAY[declared.target_ref] ORDER BY id LIMIT 1)),
                declared.line
         FROM UNNEST($2::text[], $3::text[], $4::int[]) AS declared (type, target_ref, line)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&types)
    .bind(&targets)
    .bind(&lines)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn record_conflict(
    transaction: &mut Transaction<'_, Postgres>,
    entity_ref: &str,
    holder_repo: i64,
    holder_path: &str,
    claimant_repo: i64,
    claimant_path: &str,
    at: Position,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO conflicts (entity_ref, holder_repo_id, holder_path, claimant_repo_id, claimant_path, claimant_line)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (entity_ref, claimant_repo_id, claimant_path) DO UPDATE
             SET holder_repo_id = EXCLUDED.holder_repo_id, holder_path = EXCLUDED.holder_path, claimant_line = EXCLUDED.claimant_line",
    )
    .bind(entity_ref)
    .bind(holder_repo)
    .bind(holder_path)
    .bind(claimant_repo)
    .bind(claimant_path)
    .bind(at.line as i32)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// When a holder gives a reference up, its claimants get to read their files again on the next
/// crawl (their blob ids and tip commits are forgotten), so the earliest remaining claim wins.
async fn release_conflicts(transaction: &mut Transaction<'_, Postgres>, freed_refs: &[String]) -> Result<(), StoreError> {
    let released = sqlx::query("DELETE FROM conflicts WHERE entity_ref = ANY($1) RETURNING claimant_repo_id, claimant_path")
        .bind(freed_refs)
        .fetch_all(&mut **transaction)
        .await?;
    for row in released {
        let (repo_id, path): (i64, String) = (row.get(0), row.get(1));
        sqlx::query("UPDATE descriptor_files SET blob_oid = '' WHERE repo_id = $1 AND path = $2").bind(repo_id).bind(&path).execute(&mut **transaction).await?;
        sqlx::query("UPDATE repos SET last_commit = NULL WHERE id = $1").bind(repo_id).execute(&mut **transaction).await?;
    }
    Ok(())
}

async fn replace_diagnostics(transaction: &mut Transaction<'_, Postgres>, repo_id: i64, path: &str, diagnostics: &[Diagnostic]) -> Result<usize, StoreError> {
    sqlx::query("DELETE FROM diagnostics WHERE repo_id = $1 AND file_path = $2").bind(repo_id).bind(path).execute(&mut **transaction).await?;
    insert_diagnostics(transaction, repo_id, diagnostics).await
}

/// Tree-level diagnostics name paths that are not descriptor files of the tip (symlinks,
/// submodules, oversized blobs); they are replaced as a whole on every read.
async fn replace_tree_diagnostics(transaction: &mut Transaction<'_, Postgres>, repo_id: i64, diagnostics: &[Diagnostic], tip_paths: &HashSet<&str>) -> Result<usize, StoreError> {
    let codes: Vec<&str> = [Code::SymlinkSkipped, Code::SubmoduleSkipped, Code::TooManyDescriptors, Code::FileTooLarge].iter().map(|code| code.as_str()).collect();
    let tip: Vec<&str> = tip_paths.iter().copied().collect();
    sqlx::query("DELETE FROM diagnostics WHERE repo_id = $1 AND code = ANY($2) AND NOT (file_path = ANY($3))")
        .bind(repo_id)
        .bind(&codes)
        .bind(&tip)
        .execute(&mut **transaction)
        .await?;
    insert_diagnostics(transaction, repo_id, diagnostics).await
}

async fn insert_diagnostics(transaction: &mut Transaction<'_, Postgres>, repo_id: i64, diagnostics: &[Diagnostic]) -> Result<usize, StoreError> {
    if diagnostics.is_empty() {
        return Ok(0);
    }
    let files: Vec<&str> = diagnostics.iter().map(|diagnostic| diagnostic.file.as_str()).collect();
    let lines: Vec<i32> = diagnostics.iter().map(|diagnostic| diagnostic.line as i32).collect();
    let columns: Vec<i32> = diagnostics.iter().map(|diagnostic| diagnostic.column as i32).collect();
    let codes: Vec<&str> = diagnostics.iter().map(|diagnostic| diagnostic.code.as_str()).collect();
    let severities: Vec<&str> = diagnostics.iter().map(|diagnostic| diagnostic.severity.as_str()).collect();
    let messages: Vec<&str> = diagnostics.iter().map(|diagnostic| diagnostic.message.as_str()).collect();
    let hints: Vec<Option<&str>> = diagnostics.iter().map(|diagnostic| diagnostic.hint.as_deref()).collect();
    sqlx::query(
        "INSERT INTO diagnostics (repo_id, file_path, line, col, code, severity, message, hint)
         SELECT $1, * FROM UNNEST($2::text[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[])",
    )
    .bind(repo_id)
    .bind(&files)
    .bind(&lines)
    .bind(&columns)
    .bind(&codes)
    .bind(&severities)
    .bind(&messages)
    .bind(&hints)
    .execute(&mut **transaction)
    .await?;
    Ok(diagnostics.iter().filter(|diagnostic| diagnostic.severity != Severity::Note).count())
}
