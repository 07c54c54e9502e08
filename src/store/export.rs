//! The catalog snapshot `sextant export --format json` writes (the format is described in
//! `src/pr_check/snapshot.rs`): every repository, then every entity with its provenance, owner,
//! lifecycle, tier, system, aliases and declared relations, streamed page by page in reference
//! order from one consistent read (a REPEATABLE READ, READ ONLY transaction), so that memory is
//! bounded by the page size whatever the catalog's size and a crawl committed meanwhile never
//! makes the file mix two versions of the catalog.

use std::collections::HashMap;
use std::io::Write;

use super::{Snapshot, Store, StoreError};
use crate::pr_check::snapshot::{SNAPSHOT_FORMAT, SNAPSHOT_VERSION};
use crate::pr_check::{CatalogEntity, CatalogRepo, DeclaredEdge};

/// Entities read per statement (and held in memory at once).
pub const EXPORT_PAGE_SIZE: usize = 2_000;

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub entities: u64,
    pub repositories: usize,
    /// When the catalog was read (RFC 3339, UTC), as the file's `exportedAt` says.
    pub exported_at: String,
}

/// Why an export failed.
#[derive(Debug)]
pub enum ExportError {
    /// The catalog could not be read.
    Store(StoreError),
    /// The output could not be written.
    Write(std::io::Error),
}

impl ExportError {
    /// A stable code for scripts and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ExportError::Store(error) => error.code(),
            ExportError::Write(_) => "export-write",
        }
    }
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::Store(error) => error.fmt(formatter),
            ExportError::Write(error) => write!(formatter, "cannot write the snapshot: {error}"),
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExportError::Store(error) => Some(error),
            ExportError::Write(error) => Some(error),
        }
    }
}

impl From<StoreError> for ExportError {
    fn from(error: StoreError) -> Self {
        ExportError::Store(error)
    }
}

impl From<sqlx::Error> for ExportError {
    fn from(error: sqlx::Error) -> Self {
        ExportError::Store(error.into())
    }
}

impl From<std::io::Error> for ExportError {
    fn from(error: std::io::Error) -> Self {
        ExportError::Write(error)
    }
}

impl From<serde_json::Error> for ExportError {
    fn from(error: serde_json::Error) -> Self {
        ExportError::Write(error.into())
    }
}

/// The header of the file, before its entities.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Header<'a> {
    format: &'static str,
    version: u32,
    exported_at: &'a str,
    repos: &'a [CatalogRepo],
}

/// An entity's columns, as one page reads them.
#[derive(sqlx::FromRow)]
struct ExportRow {
    id: i64,
    entity_ref: String,
    repo_url: String,
    repo_branch: Option<String>,
    file_path: String,
    line: i32,
    document_index: i32,
    owner_ref: Option<String>,
    lifecycle: Option<String>,
    tier: Option<i16>,
    system_ref: Option<String>,
    aliases: Vec<String>,
}

/// A page of entities after a reference (the first page: after the empty text), in reference order (the `entities_entity_ref_key`
/// index: the database's order of text, byte order under sextant's own cluster, whose locale is
/// C). The owner is the resolved `ownedBy` target (the smallest, as `impact` picks it), else the
/// owner as written.
const PAGE: &str = "SELECT e.id, e.entity_ref, r.url AS repo_url, r.branch AS repo_branch, e.file_path, e.line, e.document_index,
        coalesce(owner.entity_ref, e.owner_ref) AS owner_ref, e.lifecycle, e.tier, e.system_ref, e.aliases
     FROM entities e
     JOIN repos r ON r.id = e.repo_id
     LEFT JOIN LATERAL (
         SELECT o.entity_ref FROM relations x JOIN entities o ON o.id = x.target_id
         WHERE x.source_id = e.id AND x.type = 'ownedBy' ORDER BY o.entity_ref LIMIT 1
     ) owner ON true
     WHERE e.entity_ref > $1
     ORDER BY e.entity_ref
     LIMIT $2";

/// The relations a page's entities declare, each target as written (a canonical reference, or an
/// alias: a Compass ARI), as the API's `relations(direction: OUTGOING) { targetRef }` shows it: a
/// check needs to know whether a reference goes through an alias that a renamed entity keeps.
const RELATIONS: &str = "SELECT x.source_id, x.type, x.target_ref FROM relations x WHERE x.source_id = ANY($1)";

/// Writes the catalog's snapshot to `out`, page by page: at most [`EXPORT_PAGE_SIZE`] entities
/// are held at once. The output is flushed at the end; the caller decides what a failure
/// leaves behind (the CLI writes to a temporary file).
pub async fn export_snapshot(store: &Store, out: &mut (impl Write + Send)) -> Result<ExportSummary, ExportError> {
    let snapshot = store.snapshot();
    let written = write_snapshot(&snapshot, out, EXPORT_PAGE_SIZE).await;
    snapshot.release().await;
    written
}

async fn write_snapshot(snapshot: &Snapshot, out: &mut (impl Write + Send), page_size: usize) -> Result<ExportSummary, ExportError> {
    let (exported_at, mut repos): (String, Vec<CatalogRepo>) = {
        let mut connection = snapshot.connection().await?;
        // The transaction's start: the moment the file shows the catalog as of.
        let exported_at: String = sqlx::query_scalar("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
            .fetch_one(&mut *connection)
            .await?;
        let rows: Vec<(String, Option<String>)> = sqlx::query_as("SELECT url, branch FROM repos").fetch_all(&mut *connection).await?;
        (
            exported_at,
            rows.into_iter().map(|(url, branch)| CatalogRepo { url, branch }).collect(),
        )
    };
    repos.sort_by(|left, right| (&left.url, &left.branch).cmp(&(&right.url, &right.branch)));
    let header = serde_json::to_string(&Header {
        format: SNAPSHOT_FORMAT,
        version: SNAPSHOT_VERSION,
        exported_at: &exported_at,
        repos: &repos,
    })?;
    // The header's object stays open for the entities.
    let open = header.strip_suffix('}').unwrap_or(&header);
    out.write_all(open.as_bytes())?;
    out.write_all(b",\"entities\":[")?;
    let mut count: u64 = 0;
    let mut after = String::new();
    let limit = i64::try_from(page_size.max(1)).unwrap_or(i64::MAX);
    loop {
        let page: Vec<ExportRow> = {
            let mut connection = snapshot.connection().await?;
            sqlx::query_as(PAGE).bind(&after).bind(limit).fetch_all(&mut *connection).await?
        };
        let Some(last) = page.last() else { break };
        after.clone_from(&last.entity_ref);
        let full = page.len() as i64 >= limit;
        let ids: Vec<i64> = page.iter().map(|row| row.id).collect();
        let relation_rows: Vec<(i64, String, String)> = {
            let mut connection = snapshot.connection().await?;
            sqlx::query_as(RELATIONS).bind(&ids).fetch_all(&mut *connection).await?
        };
        let mut relations: HashMap<i64, Vec<DeclaredEdge>> = HashMap::new();
        for (source, relation_type, target) in relation_rows {
            relations.entry(source).or_default().push(DeclaredEdge { relation_type, target });
        }
        for row in page {
            let entity = catalog_entity(row, &mut relations);
            out.write_all(if count == 0 { b"\n" } else { b",\n" })?;
            serde_json::to_writer(&mut *out, &entity)?;
            count += 1;
        }
        if !full {
            break;
        }
    }
    out.write_all(b"\n]}\n")?;
    out.flush()?;
    Ok(ExportSummary {
        entities: count,
        repositories: repos.len(),
        exported_at,
    })
}

/// The snapshot's entity of a row, with its relations (taken from `relations`) and aliases
/// sorted, each once.
fn catalog_entity(row: ExportRow, relations: &mut HashMap<i64, Vec<DeclaredEdge>>) -> CatalogEntity {
    let mut edges = relations.remove(&row.id).unwrap_or_default();
    edges.sort();
    // An alias and a reference that resolve to the same entity are one relation.
    edges.dedup();
    let mut aliases = row.aliases;
    aliases.sort();
    aliases.dedup();
    CatalogEntity {
        entity_ref: row.entity_ref,
        repo: row.repo_url,
        branch: row.repo_branch,
        path: row.file_path,
        line: u32::try_from(row.line).unwrap_or_default(),
        document_index: u32::try_from(row.document_index).unwrap_or_default(),
        owner_ref: row.owner_ref,
        lifecycle: row.lifecycle,
        tier: row.tier.and_then(|tier| u8::try_from(tier).ok()),
        system_ref: row.system_ref,
        aliases,
        relations: edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_and_aliases_are_sorted_and_each_once() {
        let edge = |relation_type: &str, target: &str| DeclaredEdge {
            relation_type: relation_type.to_owned(),
            target: target.to_owned(),
        };
        let row = ExportRow {
            id: 7,
            entity_ref: "component:default/a".to_owned(),
            repo_url: "https://example.com/a".to_owned(),
            repo_branch: None,
            file_path: "catalog-info.yaml".to_owned(),
            line: 1,
            document_index: 0,
            owner_ref: None,
            lifecycle: None,
            tier: Some(-1),
            system_ref: None,
            aliases: vec!["b".to_owned(), "a".to_owned(), "b".to_owned()],
        };
        let mut relations = HashMap::from([(
            7,
            vec![
                edge("dependsOn", "component:default/z"),
                edge("consumesApi", "api:default/x"),
                edge("dependsOn", "component:default/z"),
            ],
        )]);
        let entity = catalog_entity(row, &mut relations);
        assert_eq!(entity.aliases, vec!["a", "b"]);
        assert_eq!(
            entity.relations,
            vec![edge("consumesApi", "api:default/x"), edge("dependsOn", "component:default/z")]
        );
        assert_eq!(entity.tier, None, "a tier out of range is left out");
        assert!(relations.is_empty());
    }
}
