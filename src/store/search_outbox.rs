//! The search outbox, seen from the catalog: claiming changed entity references with their
//! current state (`FOR UPDATE SKIP LOCKED`, under a lease), acknowledging or failing them, the
//! index lag, the reindex pause, and every entity's indexed fields in pages (for a reindex).
//! The rows are written by triggers on `entities` (migration `..._search.sql`).
//!
//! Acknowledgements and failures lock their rows by reference first (the triggers' order), with a
//! short lock timeout, and try again when a lock is not granted: a crawl never waits on the
//! sync in a cycle, and is never the one Postgres cancels.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Postgres};

use super::{Store, StoreError};

/// An entity's indexed fields: what both search backends hold and highlight from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchEntity {
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
    /// `key=value` (Backstage `metadata.labels`) or the label itself (Compass `labels`).
    pub labels: Vec<String>,
    /// The URL of the repository the entity is defined in.
    pub repo: Option<String>,
    /// An API's definition text (`spec.definition` when it is text), cut to [`MAX_DEFINITION_BYTES`].
    pub definition: Option<String>,
}

#[cfg(test)]
impl SearchEntity {
    /// A component with a name and nothing else, for unit tests.
    pub(crate) fn component_named(name: &str) -> SearchEntity {
        SearchEntity {
            entity_ref: format!("component:default/{name}"),
            kind: "component".into(),
            namespace: "default".into(),
            name: name.into(),
            title: None,
            description: None,
            entity_type: None,
            lifecycle: None,
            tier: None,
            owner: None,
            system: None,
            domain: None,
            tags: Vec::new(),
            labels: Vec::new(),
            repo: None,
            definition: None,
        }
    }
}

/// API definition text indexed per entity; the rest is not searchable.
pub const MAX_DEFINITION_BYTES: usize = 64 * 1024;

/// One claimed outbox row: the reference, the version claimed, and the claim's token (an
/// acknowledgement or failure acts only while the row is still under that claim; `None` for a
/// row read unclaimed, by a reindex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedChange {
    pub entity_ref: String,
    pub version: i64,
    pub attempts: i32,
    pub claim_token: Option<i64>,
}

/// What a claim found.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Nothing is due.
    Empty,
    /// A reindex is running: nothing is claimed until it ends.
    Paused,
    /// Claimed changes, and the current state of those still in the catalog (the others were
    /// deleted: the index drops them).
    Batch {
        changes: Vec<ClaimedChange>,
        present: Vec<SearchEntity>,
    },
}

/// How far the index is behind the catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchLag {
    /// Changed entities not yet delivered.
    pub pending: i64,
    /// Of those, how many failed at least once.
    pub failing: i64,
    /// Age in seconds of the oldest undelivered change.
    pub oldest_seconds: Option<f64>,
    /// The most recent failure's message.
    pub last_error: Option<String>,
    /// Whether a reindex is running.
    pub reindexing: bool,
}

/// Longest failure message kept per change: enough to say what went wrong.
const MAX_ERROR_CHARS: usize = 1000;

/// How long an acknowledgement or failure waits for a row lock before it lets go of its locks
/// and tries again: well under Postgres's `deadlock_timeout` (1 s), so that in a cycle the
/// sync gives way, never the crawl.
const OUTBOX_LOCK_TIMEOUT: &str = "200ms";
/// Tries of an acknowledgement or failure whose locks were not granted in time.
const OUTBOX_LOCK_TRIES: u32 = 50;

/// An entity's indexed fields over `entities e JOIN repos r`: labels from the stored document
/// (Backstage `metadata.labels` as `key=value`, scalar values only, by key; Compass `labels`
/// as they are), and an API's `spec.definition` when it is text (cut in characters here, in bytes
/// by [`cut_definition`]).
const SEARCH_ENTITY_COLUMNS: &str = "e.entity_ref, e.kind, e.namespace, e.name, e.title, e.description, e.type AS entity_type,
    e.lifecycle, e.tier, e.owner_ref AS owner, e.system_ref AS system, e.domain_ref AS domain, e.tags,
    CASE
        WHEN e.format = 'backstage' AND jsonb_typeof(e.document #> '{metadata,labels}') = 'object' THEN
            ARRAY(SELECT label.key || '=' || (label.value #>> '{}')
                  FROM jsonb_each(e.document #> '{metadata,labels}') AS label
                  WHERE jsonb_typeof(label.value) IN ('string', 'number', 'boolean')
                  ORDER BY label.key)
        WHEN e.format = 'compass' AND jsonb_typeof(e.document -> 'labels') = 'array' THEN
            ARRAY(SELECT label #>> '{}' FROM jsonb_array_elements(e.document -> 'labels') AS label
                  WHERE jsonb_typeof(label) = 'string')
        ELSE ARRAY[]::text[]
    END AS labels,
    r.url AS repo,
    CASE WHEN e.kind = 'api' AND jsonb_typeof(e.document #> '{spec,definition}') = 'string'
         THEN left(e.document #>> '{spec,definition}', $MAX_DEFINITION_CHARS) END AS definition
    FROM entities e JOIN repos r ON r.id = e.repo_id";

#[derive(sqlx::FromRow)]
struct SearchEntityRow {
    entity_ref: String,
    kind: String,
    namespace: String,
    name: String,
    title: Option<String>,
    description: Option<String>,
    entity_type: Option<String>,
    lifecycle: Option<String>,
    tier: Option<i16>,
    owner: Option<String>,
    system: Option<String>,
    domain: Option<String>,
    tags: Vec<String>,
    labels: Vec<String>,
    repo: Option<String>,
    definition: Option<String>,
}

impl From<SearchEntityRow> for SearchEntity {
    fn from(row: SearchEntityRow) -> SearchEntity {
        SearchEntity {
            entity_ref: row.entity_ref,
            kind: row.kind,
            namespace: row.namespace,
            name: row.name,
            title: row.title,
            description: row.description,
            entity_type: row.entity_type,
            lifecycle: row.lifecycle,
            tier: row.tier,
            owner: row.owner,
            system: row.system,
            domain: row.domain,
            tags: row.tags,
            labels: row.labels,
            repo: row.repo,
            definition: row.definition.map(cut_definition),
        }
    }
}

/// The columns query with the definition cut applied: at most [`MAX_DEFINITION_BYTES`]
/// characters leave the database (each at least a byte), the byte cut is made in Rust.
fn search_entity_columns() -> String {
    SEARCH_ENTITY_COLUMNS.replace("$MAX_DEFINITION_CHARS", &MAX_DEFINITION_BYTES.to_string())
}

/// `text` cut to at most [`MAX_DEFINITION_BYTES`] bytes, at a character boundary.
fn cut_definition(mut text: String) -> String {
    if text.len() > MAX_DEFINITION_BYTES {
        let mut end = MAX_DEFINITION_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// `message` cut to [`MAX_ERROR_CHARS`] characters.
fn cut_error(message: &str) -> String {
    match message.char_indices().nth(MAX_ERROR_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_owned(),
    }
}

/// The indexed fields of the entities `refs` names that exist, by reference.
async fn search_entities_by_refs(connection: &mut PgConnection, refs: &[String]) -> Result<Vec<SearchEntity>, StoreError> {
    let rows: Vec<SearchEntityRow> = sqlx::query_as::<Postgres, SearchEntityRow>(&format!(
        "SELECT {} WHERE e.entity_ref = ANY($1) ORDER BY e.entity_ref",
        search_entity_columns()
    ))
    .bind(refs)
    .fetch_all(connection)
    .await?;
    Ok(rows.into_iter().map(SearchEntity::from).collect())
}

impl Store {
    /// Claims up to `limit` due changes (oldest first) for `lease`, with the current state of
    /// their entities, in one transaction. Rows claimed by another replica are skipped.
    ///
    /// The transaction reads `search_state` `FOR SHARE`, so that a reindex starting (an `UPDATE`
    /// of that row) waits for claims in progress and no claim starts while it runs. A change
    /// made while the batch is claimed waits on the claimed row's lock until this commits, then
    /// bumps its version: the entity state read here is never newer than what the version says.
    pub async fn claim_search_changes(&self, limit: usize, lease: Duration) -> Result<Claim, StoreError> {
        let mut transaction = self.begin().await?;
        let paused: bool = sqlx::query_scalar("SELECT coalesce(reindex_until > now(), false) FROM search_state WHERE id = 1 FOR SHARE")
            .fetch_optional(&mut *transaction)
            .await?
            .unwrap_or(false);
        if paused {
            transaction.commit().await?;
            return Ok(Claim::Paused);
        }
        let token: i64 = sqlx::query_scalar("SELECT nextval('search_tokens')")
            .fetch_one(&mut *transaction)
            .await?;
        let rows: Vec<(String, i64, i32)> = sqlx::query_as(
            "WITH due AS (
                 SELECT entity_ref FROM search_outbox
                 WHERE available_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
                 ORDER BY available_at, entity_ref
                 LIMIT $1
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE search_outbox o SET claimed_until = now() + make_interval(secs => $2), claim_token = $3
             FROM due WHERE o.entity_ref = due.entity_ref
             RETURNING o.entity_ref, o.version, o.attempts",
        )
        .bind(i64::try_from(limit.max(1)).unwrap_or(i64::MAX))
        .bind(lease.as_secs_f64())
        .bind(token)
        .fetch_all(&mut *transaction)
        .await?;
        if rows.is_empty() {
            transaction.commit().await?;
            return Ok(Claim::Empty);
        }
        let mut changes: Vec<ClaimedChange> = rows
            .into_iter()
            .map(|(entity_ref, version, attempts)| ClaimedChange {
                entity_ref,
                version,
                attempts,
                claim_token: Some(token),
            })
            .collect();
        changes.sort_by(|left, right| left.entity_ref.cmp(&right.entity_ref));
        let refs: Vec<String> = changes.iter().map(|change| change.entity_ref.clone()).collect();
        let present = search_entities_by_refs(&mut transaction, &refs).await?;
        transaction.commit().await?;
        Ok(Claim::Batch { changes, present })
    }

    /// Removes delivered changes whose version is still the claimed one; a change made since the
    /// claim stays, due again now (counted from now in the lag, its failures forgotten: the
    /// delivery that just succeeded was of an older state). Rows no longer under this claim
    /// (its lease ran out and another sync took them, or they were released) are left alone.
    ///
    /// One transaction: the rows are locked by reference first (the triggers' order), then
    /// deleted, then the rest made due; a change committed while the rows were being locked is
    /// seen by both statements.
    pub async fn acknowledge_search_changes(&self, changes: &[ClaimedChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let (refs, versions, tokens) = claimed_columns(changes);
        self.with_outbox_rows(&refs, || {
            vec![
                sqlx::query(
                    "DELETE FROM search_outbox o
                 USING UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS d (entity_ref, version, claim_token)
                 WHERE o.entity_ref = d.entity_ref AND o.version = d.version
                   AND o.claim_token IS NOT DISTINCT FROM d.claim_token",
                )
                .bind(&refs)
                .bind(&versions)
                .bind(&tokens),
                sqlx::query(
                    "UPDATE search_outbox o
                 SET available_at = now(), changed_at = now(), attempts = 0, last_error = NULL,
                     claimed_until = NULL, claim_token = NULL
                 FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS d (entity_ref, version, claim_token)
                 WHERE o.entity_ref = d.entity_ref AND o.claim_token IS NOT DISTINCT FROM d.claim_token",
                )
                .bind(&refs)
                .bind(&versions)
                .bind(&tokens),
            ]
        })
        .await
    }

    /// Records a failed delivery of `changes`: attempts + 1, the error, due again after `retry_after`.
    pub async fn fail_search_changes(&self, changes: &[ClaimedChange], error: &str, retry_after: Duration) -> Result<(), StoreError> {
        let failures: Vec<(&ClaimedChange, &str)> = changes.iter().map(|change| (change, error)).collect();
        self.fail_search_changes_each(&failures, retry_after).await
    }

    /// Records failed deliveries, each change with its own error (documents a backend refused
    /// one by one): attempts + 1, the error, due again after `retry_after`, the claim released.
    /// Rows no longer under the failing claim are left alone.
    pub async fn fail_search_changes_each(&self, failures: &[(&ClaimedChange, &str)], retry_after: Duration) -> Result<(), StoreError> {
        if failures.is_empty() {
            return Ok(());
        }
        let refs: Vec<&str> = failures.iter().map(|(change, _)| change.entity_ref.as_str()).collect();
        let tokens: Vec<Option<i64>> = failures.iter().map(|(change, _)| change.claim_token).collect();
        let errors: Vec<String> = failures.iter().map(|(_, error)| cut_error(error)).collect();
        self.with_outbox_rows(&refs, || {
            vec![
                sqlx::query(
                    "UPDATE search_outbox o
                 SET attempts = o.attempts + 1, last_error = f.error, available_at = now() + make_interval(secs => $4),
                     claimed_until = NULL, claim_token = NULL
                 FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS f (entity_ref, claim_token, error)
                 WHERE o.entity_ref = f.entity_ref AND o.claim_token IS NOT DISTINCT FROM f.claim_token",
                )
                .bind(&refs)
                .bind(&tokens)
                .bind(&errors)
                .bind(retry_after.as_secs_f64()),
            ]
        })
        .await
    }

    /// Gives claimed changes back undelivered (a sync stopping with a batch in flight): due now,
    /// their attempts unchanged. Rows no longer under the claim are left alone.
    pub async fn release_search_changes(&self, changes: &[ClaimedChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let (refs, _, tokens) = claimed_columns(changes);
        self.with_outbox_rows(&refs, || {
            vec![
                sqlx::query(
                    "UPDATE search_outbox o SET available_at = now(), claimed_until = NULL, claim_token = NULL
                 FROM UNNEST($1::text[], $2::bigint[]) AS r (entity_ref, claim_token)
                 WHERE o.entity_ref = r.entity_ref AND o.claim_token IS NOT DISTINCT FROM r.claim_token",
                )
                .bind(&refs)
                .bind(&tokens),
            ]
        })
        .await
    }

    /// Records documents a rebuild could not index (the backend refused them): each becomes a
    /// failing change (attempts + 1, the reason, due after `retry_after`), so that the lag shows
    /// it and the sync tries it again.
    pub async fn record_search_rejections(&self, rejected: &[(String, String)], retry_after: Duration) -> Result<(), StoreError> {
        if rejected.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<(&str, String)> = rejected
            .iter()
            .map(|(entity_ref, reason)| (entity_ref.as_str(), cut_error(reason)))
            .collect();
        sorted.sort_by(|left, right| left.0.cmp(right.0));
        sorted.dedup_by(|left, right| left.0 == right.0);
        let (refs, reasons): (Vec<&str>, Vec<String>) = sorted.into_iter().unzip();
        self.with_outbox_rows(&refs, || {
            vec![
                sqlx::query(
                    "INSERT INTO search_outbox AS o (entity_ref, attempts, last_error, available_at)
                 SELECT entity_ref, 1, reason, now() + make_interval(secs => $3)
                 FROM UNNEST($1::text[], $2::text[]) AS r (entity_ref, reason) ORDER BY entity_ref
                 ON CONFLICT (entity_ref) DO UPDATE
                 SET attempts = o.attempts + 1, last_error = excluded.last_error, available_at = excluded.available_at",
                )
                .bind(&refs)
                .bind(&reasons)
                .bind(retry_after.as_secs_f64()),
            ]
        })
        .await
    }

    /// Runs the statements `statements` makes in a transaction holding the outbox rows of `refs`,
    /// and commits; a lock wait cut short (a lock cycle with a crawl) is tried again with fresh
    /// statements, see [`retry_outbox_lock`].
    async fn with_outbox_rows<'q>(
        &self,
        refs: &[&str],
        statements: impl Fn() -> Vec<sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>> + Sync,
    ) -> Result<(), StoreError> {
        let mut tries = 0;
        loop {
            let result = async {
                let mut transaction = self.lock_outbox_rows(refs).await?;
                for statement in statements() {
                    statement.execute(&mut *transaction).await?;
                }
                transaction.commit().await?;
                Ok(())
            }
            .await;
            if !retry_outbox_lock(&mut tries, &result).await {
                return result;
            }
        }
    }

    /// A transaction holding the outbox rows of `refs`, locked by reference (the triggers'
    /// order), each lock waited for at most [`OUTBOX_LOCK_TIMEOUT`] (see [`retry_outbox_lock`]).
    async fn lock_outbox_rows(&self, refs: &[&str]) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let mut transaction = self.begin().await?;
        sqlx::query(&format!("SET LOCAL lock_timeout = '{OUTBOX_LOCK_TIMEOUT}'"))
            .execute(&mut *transaction)
            .await?;
        sqlx::query("SELECT 1 FROM search_outbox WHERE entity_ref = ANY($1) ORDER BY entity_ref FOR UPDATE")
            .bind(refs)
            .execute(&mut *transaction)
            .await?;
        Ok(transaction)
    }

    /// The index lag now. The last error is the one of the failing change due latest (the
    /// outbox keeps no failure times; the latest due is the most recently failed one among
    /// changes of the same attempt count).
    pub async fn search_lag(&self) -> Result<SearchLag, StoreError> {
        let (pending, failing, oldest_seconds, last_error, reindexing): (i64, i64, Option<f64>, Option<String>, bool) = sqlx::query_as(
            "SELECT count(*),
                    count(*) FILTER (WHERE attempts > 0),
                    extract(epoch FROM now() - min(changed_at))::float8,
                    (SELECT last_error FROM search_outbox WHERE last_error IS NOT NULL ORDER BY available_at DESC LIMIT 1),
                    coalesce((SELECT reindex_until > now() FROM search_state WHERE id = 1), false)
             FROM search_outbox",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(SearchLag {
            pending,
            failing,
            oldest_seconds: oldest_seconds.map(|seconds| seconds.max(0.0)),
            last_error,
            reindexing,
        })
    }

    /// Starts a reindex: pauses delivery for `lease` (waiting for claims in progress to commit).
    /// Returns the reindex's token, which alone extends or ends this pause; `None`: another
    /// reindex is running.
    pub async fn begin_reindex(&self, lease: Duration) -> Result<Option<i64>, StoreError> {
        let token: Option<i64> = sqlx::query_scalar(
            "UPDATE search_state SET reindex_until = now() + make_interval(secs => $1), reindex_token = nextval('search_tokens')
             WHERE id = 1 AND (reindex_until IS NULL OR reindex_until < now())
             RETURNING reindex_token",
        )
        .bind(lease.as_secs_f64())
        .fetch_optional(self.pool())
        .await?;
        Ok(token)
    }

    /// Keeps the pause of reindex `token` for another `lease` (its heartbeat). `false`: that
    /// reindex no longer holds the pause (its lease ran out, and maybe another reindex began).
    pub async fn extend_reindex(&self, token: i64, lease: Duration) -> Result<bool, StoreError> {
        let extended: Option<i16> = sqlx::query_scalar(
            "UPDATE search_state SET reindex_until = now() + make_interval(secs => $2)
             WHERE id = 1 AND reindex_token = $1 AND reindex_until > now()
             RETURNING id",
        )
        .bind(token)
        .bind(lease.as_secs_f64())
        .fetch_optional(self.pool())
        .await?;
        Ok(extended.is_some())
    }

    /// Ends reindex `token`: delivery resumes. A pause held by another reindex is left alone.
    pub async fn end_reindex(&self, token: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE search_state SET reindex_until = NULL, reindex_token = NULL WHERE id = 1 AND reindex_token = $1")
            .bind(token)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The undelivered changes that are due now, with their versions: a reindex reads them once
    /// delivery is paused, and acknowledges them once the rebuilt index (which read the catalog
    /// later) is in place. Changes under a lease (a batch claimed before the pause may still be
    /// in flight, and could write an older state after the swap) or waiting out a backoff are
    /// left to the sync.
    pub async fn pending_search_changes(&self) -> Result<Vec<ClaimedChange>, StoreError> {
        let rows: Vec<(String, i64, i32, Option<i64>)> = sqlx::query_as(
            "SELECT entity_ref, version, attempts, claim_token FROM search_outbox
             WHERE available_at <= now() AND (claimed_until IS NULL OR claimed_until < now())",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(entity_ref, version, attempts, claim_token)| ClaimedChange {
                entity_ref,
                version,
                attempts,
                claim_token,
            })
            .collect())
    }

    /// Up to `limit` entities' indexed fields, by reference, after `after` (keyset pages: a
    /// reindex reads the catalog in bounded memory).
    pub async fn search_entities_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<SearchEntity>, StoreError> {
        let rows: Vec<SearchEntityRow> = sqlx::query_as::<Postgres, SearchEntityRow>(&format!(
            "SELECT {} WHERE ($1::text IS NULL OR e.entity_ref > $1) ORDER BY e.entity_ref LIMIT $2",
            search_entity_columns()
        ))
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(SearchEntity::from).collect())
    }
}

/// The references, versions and claim tokens of `changes`, as arrays for `UNNEST`.
fn claimed_columns(changes: &[ClaimedChange]) -> (Vec<&str>, Vec<i64>, Vec<Option<i64>>) {
    let mut refs = Vec::with_capacity(changes.len());
    let mut versions = Vec::with_capacity(changes.len());
    let mut tokens = Vec::with_capacity(changes.len());
    for change in changes {
        refs.push(change.entity_ref.as_str());
        versions.push(change.version);
        tokens.push(change.claim_token);
    }
    (refs, versions, tokens)
}

/// Whether a transaction of [`Store::lock_outbox_rows`] that ended with `result` should be tried
/// again: a lock was not granted in time (a crawl holds it) or Postgres broke a deadlock by
/// cancelling it, and fewer than [`OUTBOX_LOCK_TRIES`] tries were made. Waits a little first.
async fn retry_outbox_lock(tries: &mut u32, result: &Result<(), StoreError>) -> bool {
    *tries += 1;
    match result {
        Err(error) if *tries < OUTBOX_LOCK_TRIES && lock_not_granted(error) => {
            tracing::debug!(tries = *tries, error = %error, "search outbox: rows locked by a change in progress; trying again");
            tokio::time::sleep(Duration::from_millis(20)).await;
            true
        }
        _ => false,
    }
}

/// Whether `error` is a lock not granted in time (`55P03`) or a deadlock Postgres broke by
/// cancelling this transaction (`40P01`): both are worth another try.
fn lock_not_granted(error: &StoreError) -> bool {
    match error {
        StoreError::Database(sqlx::Error::Database(database)) => matches!(database.code().as_deref(), Some("55P03" | "40P01")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_cut_at_a_character_boundary() {
        let short = "openapi: 3.0.0".to_owned();
        assert_eq!(cut_definition(short.clone()), short);
        let long = "é".repeat(MAX_DEFINITION_BYTES);
        let cut = cut_definition(long);
        assert!(
            cut.len() <= MAX_DEFINITION_BYTES && cut.len() >= MAX_DEFINITION_BYTES - 1,
            "{}",
            cut.len()
        );
        assert!(cut.chars().all(|character| character == 'é'));
    }

    #[test]
    fn errors_are_cut_in_characters() {
        assert_eq!(cut_error("refused"), "refused");
        let long = "ü".repeat(MAX_ERROR_CHARS + 10);
        let cut = cut_error(&long);
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
