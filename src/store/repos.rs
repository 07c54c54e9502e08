//! The catalog's sources: listing the repositories with their state, and forgetting them. A
//! repository forgotten is a proven deletion: its entities go or pass to their next claimants
//! in the same transaction, exactly as if its tip had given every definition up.

use serde::Serialize;

use super::{Applied, RepoKey, Store, StoreError};
use crate::reconcile::RepoChange;

/// One repository as `sextant repos` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RepoListing {
    pub url: String,
    pub branch: Option<String>,
    pub name: String,
    /// `new` (never read), `ok`, or `stale` (the last read failed, or some file is unusable).
    pub status: String,
    /// Why the repository is stale.
    pub error: Option<String>,
    /// The tip of the last successful read.
    pub last_commit: Option<String>,
    /// When it was last crawled (RFC 3339, UTC).
    pub last_crawled_at: Option<String>,
    pub entities: i64,
    /// Descriptor files present at the tip but unusable (their last good entities are kept).
    pub unusable_files: i64,
    /// Errors and warnings stored for its files.
    pub diagnostics: i64,
    /// Its definitions that lost their reference to another definition.
    pub conflicts: i64,
}

/// What forgetting a repository removes, for the confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForgetPreview {
    pub url: String,
    pub branch: Option<String>,
    /// References it holds: each is deleted, or passes to the next claimant.
    pub entities: Vec<String>,
    /// Of those, the ones another definition waits for (they pass, they are not deleted).
    pub handed_over: Vec<String>,
    pub descriptor_files: i64,
}

impl Store {
    /// Every repository with its state, by URL then branch.
    pub async fn repositories(&self) -> Result<Vec<RepoListing>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT r.url, r.branch, r.name, r.status, r.error, r.last_commit,
                    to_char(r.last_crawled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS last_crawled_at,
                    (SELECT count(*) FROM entities e WHERE e.repo_id = r.id) AS entities,
                    (SELECT count(*) FROM descriptor_files f WHERE f.repo_id = r.id AND f.problem IS NOT NULL) AS unusable_files,
                    (SELECT count(*) FROM diagnostics d WHERE d.repo_id = r.id AND d.severity <> 'note') AS diagnostics,
                    (SELECT count(*) FROM conflicts c WHERE c.claimant_repo_id = r.id) AS conflicts
             FROM repos r ORDER BY r.url, r.branch NULLS FIRST",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The repositories stored with this URL (one per branch).
    pub async fn repositories_with_url(&self, url: &str) -> Result<Vec<RepoKey>, StoreError> {
        let branches: Vec<Option<String>> = sqlx::query_scalar("SELECT branch FROM repos WHERE url = $1 ORDER BY branch NULLS FIRST")
            .bind(url)
            .fetch_all(&self.pool)
            .await?;
        Ok(branches
            .into_iter()
            .map(|branch| RepoKey {
                url: url.to_owned(),
                branch,
            })
            .collect())
    }

    /// What forgetting `key` would remove; `NotFound` when it is not a stored repository.
    pub async fn forget_preview(&self, key: &RepoKey) -> Result<ForgetPreview, StoreError> {
        let id = self.repo_id(key).await?;
        let entities: Vec<String> = sqlx::query_scalar("SELECT entity_ref FROM entities WHERE repo_id = $1 ORDER BY entity_ref")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let handed_over: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT c.entity_ref FROM conflicts c JOIN entities e ON e.entity_ref = c.entity_ref
             WHERE e.repo_id = $1 AND c.claimant_repo_id <> $1 ORDER BY c.entity_ref",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let descriptor_files: i64 = sqlx::query_scalar("SELECT count(*) FROM descriptor_files WHERE repo_id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(ForgetPreview {
            url: key.url.clone(),
            branch: key.branch.clone(),
            entities,
            handed_over,
            descriptor_files,
        })
    }

    /// Forgets repositories: they leave the catalog in one transaction, their references pass
    /// to the next claimants or are deleted. Unknown keys are `NotFound`.
    pub async fn forget(&self, keys: &[RepoKey]) -> Result<(), StoreError> {
        let mut changes = Vec::with_capacity(keys.len());
        for key in keys {
            changes.push(RepoChange::Forget {
                repo_id: self.repo_id(key).await?,
            });
        }
        let applied = self.apply_changes(&changes).await?;
        if applied.contains(&Applied::Superseded) {
            return Err(StoreError::NotFound("a repository to forget".to_owned()));
        }
        Ok(())
    }

    async fn repo_id(&self, key: &RepoKey) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT id FROM repos WHERE url = $1 AND branch IS NOT DISTINCT FROM $2")
            .bind(&key.url)
            .bind(&key.branch)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| {
                let branch = key
                    .branch
                    .as_deref()
                    .map(|branch| format!(" (branch {branch})"))
                    .unwrap_or_default();
                StoreError::NotFound(format!("the repository {}{branch}", key.url))
            })
    }

    /// Every stored repository; `crawl --prune` forgets those its configuration no longer lists.
    pub async fn repository_keys(&self) -> Result<Vec<RepoKey>, StoreError> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as("SELECT url, branch FROM repos ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(url, branch)| RepoKey { url, branch }).collect())
    }
}
