//! The job queue's SQL: enqueuing (idempotent per repository and kind), claiming batches with
//! `FOR UPDATE SKIP LOCKED` under a lease, renewing and finishing them, taking over the jobs of
//! workers whose lease expired, the crawl schedule shared by replicas, and pruning.

use std::time::Duration;

use sqlx::{PgConnection, Postgres, Transaction};

use super::{RepoKey, Store, StoreError};

/// The advisory-lock key that serialises claims ("jobs" in ASCII), so that two workers never
/// pick the same repository at once; claims are short, applies do not take it.
const CLAIM_LOCK: i64 = 0x6a6f_6273;

/// How often a statement that hit a unique index because of a concurrent enqueue or claim is
/// tried again (the second try sees the other transaction's row).
const UNIQUE_RETRIES: usize = 3;

/// What a job does to its repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Crawl,
    Forget,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Crawl => "crawl",
            JobKind::Forget => "forget",
        }
    }

    fn parse(text: &str) -> Result<JobKind, StoreError> {
        match text {
            "crawl" => Ok(JobKind::Crawl),
            "forget" => Ok(JobKind::Forget),
            other => Err(StoreError::Invariant(format!("unknown job kind `{other}`"))),
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for a worker (a retry waits until its `run_after`).
    Queued,
    /// Held by a worker under a lease.
    Running,
    Done,
    /// Failed for good: no attempts left, or nothing a retry could change.
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<JobState, StoreError> {
        match text {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "done" => Ok(JobState::Done),
            "failed" => Ok(JobState::Failed),
            other => Err(StoreError::Invariant(format!("unknown job state `{other}`"))),
        }
    }
}

/// What asked for a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobTrigger {
    Hook,
    Mutation,
    Schedule,
}

impl JobTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            JobTrigger::Hook => "hook",
            JobTrigger::Mutation => "mutation",
            JobTrigger::Schedule => "schedule",
        }
    }

    fn parse(text: &str) -> Result<JobTrigger, StoreError> {
        match text {
            "hook" => Ok(JobTrigger::Hook),
            "mutation" => Ok(JobTrigger::Mutation),
            "schedule" => Ok(JobTrigger::Schedule),
            other => Err(StoreError::Invariant(format!("unknown job trigger `{other}`"))),
        }
    }
}

/// A job as the API shows it. Times are RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub repo: RepoKey,
    pub state: JobState,
    pub trigger: JobTrigger,
    /// Attempts begun so far (a job taken over after its worker died counts that attempt).
    pub attempts: i32,
    pub max_attempts: i32,
    pub enqueued_at: String,
    /// When a queued job may run (later than `enqueued_at` for a retry).
    pub run_after: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The last attempt's result: `applied`, `unchanged`, `superseded`, `forgotten`, `failed`,
    /// `not-found`, `refused`, `lease-expired`, `released`.
    pub outcome: Option<String>,
    /// A sentence about the outcome.
    pub detail: Option<String>,
}

/// A job a worker has claimed: it holds it while its lease lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: JobKind,
    pub repo: RepoKey,
    /// Attempts begun, this one included.
    pub attempts: i32,
    pub max_attempts: i32,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFinish {
    /// The job is done.
    Done { outcome: String, detail: String },
    /// The attempt failed: the job is queued again after `retry_in` while attempts remain,
    /// else it fails for good. `retry_in: None` fails it at once (a retry would change nothing).
    Failed {
        outcome: String,
        detail: String,
        retry_in: Option<Duration>,
    },
    /// The worker gives the job back unfinished (it is shutting down): queued again at once,
    /// and the attempt is not counted.
    Released,
}

/// What became of a job its worker finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Done,
    /// Queued again for a later attempt.
    Retrying,
    Failed,
    /// The worker no longer held the job: its lease had expired and another worker took it.
    LeaseLost,
}

/// The job columns, with times as RFC 3339 text.
macro_rules! job_columns {
    () => {
        "id, kind, url, branch, state, trigger, attempts, max_attempts,
         to_char(enqueued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS enqueued_at,
         to_char(run_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS run_after,
         to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS started_at,
         to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS finished_at,
         outcome, detail"
    };
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    url: String,
    branch: Option<String>,
    state: String,
    trigger: String,
    attempts: i32,
    max_attempts: i32,
    enqueued_at: String,
    run_after: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    outcome: Option<String>,
    detail: Option<String>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Job, StoreError> {
        Ok(Job {
            id: row.id,
            kind: JobKind::parse(&row.kind)?,
            repo: RepoKey {
                url: row.url,
                branch: row.branch,
            },
            state: JobState::parse(&row.state)?,
            trigger: JobTrigger::parse(&row.trigger)?,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            enqueued_at: row.enqueued_at,
            run_after: row.run_after,
            started_at: row.started_at,
            finished_at: row.finished_at,
            outcome: row.outcome,
            detail: row.detail,
        })
    }
}

fn jobs_from(rows: Vec<JobRow>) -> Result<Vec<Job>, StoreError> {
    rows.into_iter().map(Job::try_from).collect()
}

/// A statement refused by a unique index (23505).
fn is_unique_violation(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(sqlx::Error::Database(database)) if database.code().as_deref() == Some("23505"))
}

/// A stored repository: its key and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRepo {
    pub key: RepoKey,
    pub name: String,
}

impl Store {
    /// Queues a job of `kind` for `repo`, unless one of that kind is queued already: then that
    /// one is returned (`false`: nothing new was queued). When the queued job was claimed in
    /// between, the running job is returned: it started after this request, so it covers it.
    pub async fn enqueue_job(
        &self,
        kind: JobKind,
        repo: &RepoKey,
        trigger: JobTrigger,
        max_attempts: i32,
    ) -> Result<(Job, bool), StoreError> {
        for _ in 0..UNIQUE_RETRIES {
            let inserted: Option<JobRow> = sqlx::query_as(concat!(
                "INSERT INTO jobs (kind, url, branch, trigger, max_attempts) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (kind, url, branch) WHERE state = 'queued' DO NOTHING
                 RETURNING ",
                job_columns!()
            ))
            .bind(kind.as_str())
            .bind(&repo.url)
            .bind(&repo.branch)
            .bind(trigger.as_str())
            .bind(max_attempts.max(1))
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = inserted {
                return Ok((Job::try_from(row)?, true));
            }
            let existing: Option<JobRow> = sqlx::query_as(concat!(
                "SELECT ",
                job_columns!(),
                " FROM jobs WHERE kind = $1 AND url = $2 AND branch IS NOT DISTINCT FROM $3 AND state IN ('queued', 'running')
                 ORDER BY state = 'queued' DESC, id DESC LIMIT 1"
            ))
            .bind(kind.as_str())
            .bind(&repo.url)
            .bind(&repo.branch)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = existing {
                return Ok((Job::try_from(row)?, false));
            }
            // The queued job was claimed and finished in between: queue a new one.
        }
        Err(StoreError::Invariant(format!(
            "could not queue a {} job for {}",
            kind.as_str(),
            repo.url
        )))
    }

    /// Queues a crawl of each of `configured` and of every stored repository, except those with
    /// a queued crawl already. Returns the number of jobs queued.
    pub async fn enqueue_crawls_of_all(&self, configured: &[RepoKey], trigger: JobTrigger, max_attempts: i32) -> Result<u64, StoreError> {
        let mut connection = self.pool.acquire().await?;
        enqueue_all(&mut connection, configured, trigger, max_attempts).await
    }

    /// Every queued crawl job, oldest first.
    pub async fn queued_crawl_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = sqlx::query_as(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE kind = 'crawl' AND state = 'queued' ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        jobs_from(rows)
    }

    /// One job by id.
    pub async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let row: Option<JobRow> = sqlx::query_as(concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Job::try_from).transpose()
    }

    /// Claims up to `limit` jobs for `lease_owner` (a token unique to this claim), at most one
    /// per repository and none of a repository with a running job. First, jobs whose lease
    /// expired are taken back: queued again while attempts remain (failed when a queued job of
    /// theirs exists, which does the work), so that this claim can pick them up.
    pub async fn claim_jobs(&self, lease_owner: &str, lease: Duration, limit: usize) -> Result<Vec<ClaimedJob>, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.try_claim_jobs(lease_owner, lease, limit).await {
                Err(error) if is_unique_violation(&error) && tries < UNIQUE_RETRIES => continue,
                result => return result,
            }
        }
    }

    async fn try_claim_jobs(&self, lease_owner: &str, lease: Duration, limit: usize) -> Result<Vec<ClaimedJob>, StoreError> {
        let mut transaction: Transaction<'_, Postgres> = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CLAIM_LOCK)
            .execute(&mut *transaction)
            .await?;
        take_back_expired(&mut transaction).await?;
        let candidates: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT j.id, j.url, j.branch FROM jobs j
             WHERE j.state = 'queued' AND j.run_after <= now()
               AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.state = 'running' AND r.url = j.url AND r.branch IS NOT DISTINCT FROM j.branch)
             ORDER BY j.run_after, j.id
             LIMIT $1
             FOR UPDATE OF j SKIP LOCKED",
        )
        .bind(i64::try_from(limit.saturating_mul(2)).unwrap_or(i64::MAX))
        .fetch_all(&mut *transaction)
        .await?;
        // One job per repository (a crawl and a forget may both be queued): the older first.
        let mut seen = std::collections::HashSet::new();
        let chosen: Vec<i64> = candidates
            .into_iter()
            .filter(|(_, url, branch)| seen.insert((url.clone(), branch.clone())))
            .map(|(id, _, _)| id)
            .take(limit)
            .collect();
        if chosen.is_empty() {
            transaction.commit().await?;
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, String, String, Option<String>, i32, i32)> = sqlx::query_as(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $2,
                 lease_expires_at = now() + make_interval(secs => $3), started_at = clock_timestamp(), finished_at = NULL
             WHERE id = ANY($1)
             RETURNING id, kind, url, branch, attempts, max_attempts",
        )
        .bind(&chosen)
        .bind(lease_owner)
        .bind(lease.as_secs_f64())
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        let mut claimed = rows
            .into_iter()
            .map(|(id, kind, url, branch, attempts, max_attempts)| {
                Ok(ClaimedJob {
                    id,
                    kind: JobKind::parse(&kind)?,
                    repo: RepoKey { url, branch },
                    attempts,
                    max_attempts,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort_by_key(|job| job.id);
        Ok(claimed)
    }

    /// Extends the lease of every job `lease_owner` still runs; returns how many.
    pub async fn renew_lease(&self, lease_owner: &str, lease: Duration) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $2) WHERE lease_owner = $1 AND state = 'running'",
        )
        .bind(lease_owner)
        .bind(lease.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Records how an attempt of job `id` ended, if `lease_owner` still holds it.
    pub async fn finish_job(&self, id: i64, lease_owner: &str, finish: &JobFinish) -> Result<Finished, StoreError> {
        match finish {
            JobFinish::Done { outcome, detail } => self.close_job(id, lease_owner, "done", outcome, detail).await,
            JobFinish::Failed {
                outcome,
                detail,
                retry_in: Some(delay),
            } => match self.requeue_job(id, lease_owner, *delay, outcome, detail, false).await {
                Ok(true) => Ok(Finished::Retrying),
                // No attempts left, or no longer ours (close_job tells which).
                Ok(false) => self.close_job(id, lease_owner, "failed", outcome, detail).await,
                Err(error) if is_unique_violation(&error) => {
                    let detail = format!("{detail}; the crawl queued after it tries again");
                    self.close_job(id, lease_owner, "failed", outcome, &detail).await
                }
                Err(error) => Err(error),
            },
            JobFinish::Failed {
                outcome,
                detail,
                retry_in: None,
            } => self.close_job(id, lease_owner, "failed", outcome, detail).await,
            JobFinish::Released => {
                let detail = "its worker stopped before finishing it; queued again";
                match self.requeue_job(id, lease_owner, Duration::ZERO, "released", detail, true).await {
                    Ok(true) => Ok(Finished::Retrying),
                    Ok(false) => Ok(Finished::LeaseLost),
                    Err(error) if is_unique_violation(&error) => {
                        let detail = "its worker stopped before finishing it; the job queued after it does the work";
                        self.close_job(id, lease_owner, "failed", "released", detail).await
                    }
                    Err(error) => Err(error),
                }
            }
        }
    }

    async fn close_job(&self, id: i64, lease_owner: &str, state: &str, outcome: &str, detail: &str) -> Result<Finished, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET state = $3, outcome = $4, detail = $5, finished_at = clock_timestamp(), lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(lease_owner)
        .bind(state)
        .bind(outcome)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(match (result.rows_affected(), state) {
            (0, _) => Finished::LeaseLost,
            (_, "done") => Finished::Done,
            _ => Finished::Failed,
        })
    }

    /// Queues job `id` again after `delay` (while attempts remain, unless `uncount` gives this
    /// attempt back); false when it has no attempts left or is not held by `lease_owner`.
    async fn requeue_job(
        &self,
        id: i64,
        lease_owner: &str,
        delay: Duration,
        outcome: &str,
        detail: &str,
        uncount: bool,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_after = now() + make_interval(secs => $3), outcome = $4, detail = $5,
                 lease_owner = NULL, lease_expires_at = NULL, attempts = attempts - CASE WHEN $6 THEN 1 ELSE 0 END
             WHERE id = $1 AND lease_owner = $2 AND state = 'running' AND ($6 OR attempts < max_attempts)",
        )
        .bind(id)
        .bind(lease_owner)
        .bind(delay.as_secs_f64())
        .bind(outcome)
        .bind(detail)
        .bind(uncount)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// If the crawl schedule is due, moves it `interval` (±10%) forward and queues a crawl of
    /// `configured` and of every stored repository, in one transaction: of several replicas
    /// calling it at once, one does it. Returns the number of jobs queued, `None` when not due.
    /// A next run further away than the longest interval (set under a longer one) is due now.
    pub async fn run_schedule_if_due(
        &self,
        interval: Duration,
        configured: &[RepoKey],
        max_attempts: i32,
    ) -> Result<Option<u64>, StoreError> {
        let mut transaction = self.begin().await?;
        let claimed = sqlx::query(
            "UPDATE job_schedule SET next_run_at = now() + make_interval(secs => $1 * (0.9 + 0.2 * random())), last_run_at = now()
             WHERE id = 1 AND (next_run_at <= now() OR next_run_at > now() + make_interval(secs => $1 * 1.1))",
        )
        .bind(interval.as_secs_f64())
        .execute(&mut *transaction)
        .await?;
        if claimed.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(None);
        }
        let queued = enqueue_all(&mut transaction, configured, JobTrigger::Schedule, max_attempts).await?;
        transaction.commit().await?;
        Ok(Some(queued))
    }

    /// Deletes jobs finished more than `age` ago; returns how many.
    pub async fn prune_jobs(&self, age: Duration) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'failed') AND finished_at < now() - make_interval(secs => $1)")
            .bind(age.as_secs_f64())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// Every stored repository with its name, in registration order.
    pub async fn stored_repositories(&self) -> Result<Vec<StoredRepo>, StoreError> {
        let rows: Vec<(String, Option<String>, String)> = sqlx::query_as("SELECT url, branch, name FROM repos ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(url, branch, name)| StoredRepo {
                key: RepoKey { url, branch },
                name,
            })
            .collect())
    }

    /// The stored repositories among `keys`, with their names.
    pub async fn stored_repositories_among(&self, keys: &[RepoKey]) -> Result<Vec<StoredRepo>, StoreError> {
        let urls: Vec<&str> = keys.iter().map(|key| key.url.as_str()).collect();
        let branches: Vec<Option<&str>> = keys.iter().map(|key| key.branch.as_deref()).collect();
        let rows: Vec<(String, Option<String>, String)> = sqlx::query_as(
            "SELECT r.url, r.branch, r.name FROM repos r
             JOIN UNNEST($1::text[], $2::text[]) AS k (url, branch) ON r.url = k.url AND r.branch IS NOT DISTINCT FROM k.branch
             ORDER BY r.id",
        )
        .bind(&urls)
        .bind(&branches)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(url, branch, name)| StoredRepo {
                key: RepoKey { url, branch },
                name,
            })
            .collect())
    }
}

/// Takes back the jobs whose lease expired: queued again while attempts remain and no queued
/// job of theirs exists; failed otherwise (with the job that does the work named).
async fn take_back_expired(connection: &mut PgConnection) -> Result<(), StoreError> {
    let taken: Vec<(i64, String, String)> = sqlx::query_as(
        "WITH expired AS (
             SELECT id, kind, url, branch FROM jobs
             WHERE state = 'running' AND lease_expires_at < now()
             FOR UPDATE SKIP LOCKED
         ), twins AS (
             SELECT e.id, (SELECT q.id FROM jobs q
                           WHERE q.state = 'queued' AND q.kind = e.kind AND q.url = e.url AND q.branch IS NOT DISTINCT FROM e.branch) AS twin_id
             FROM expired e
         )
         UPDATE jobs j SET
             state = CASE WHEN t.twin_id IS NULL AND j.attempts < j.max_attempts THEN 'queued' ELSE 'failed' END,
             finished_at = CASE WHEN t.twin_id IS NULL AND j.attempts < j.max_attempts THEN NULL ELSE now() END,
             run_after = now(), lease_owner = NULL, lease_expires_at = NULL, outcome = 'lease-expired',
             detail = CASE
                 WHEN t.twin_id IS NOT NULL THEN 'its worker stopped renewing the lease; job ' || t.twin_id || ', queued after it, does the work'
                 WHEN j.attempts >= j.max_attempts THEN 'its worker stopped renewing the lease, and no attempts are left'
                 ELSE 'its worker stopped renewing the lease; queued again' END
         FROM twins t WHERE j.id = t.id
         RETURNING j.id, j.url, j.state",
    )
    .fetch_all(&mut *connection)
    .await?;
    for (id, url, state) in taken {
        tracing::warn!(job.id = id, repo.url = %url, job.state = %state, "job lease expired, taken back");
    }
    Ok(())
}

/// Queues a crawl of `configured` and of every stored repository, except those with a queued
/// crawl already.
async fn enqueue_all(
    connection: &mut PgConnection,
    configured: &[RepoKey],
    trigger: JobTrigger,
    max_attempts: i32,
) -> Result<u64, StoreError> {
    let urls: Vec<&str> = configured.iter().map(|key| key.url.as_str()).collect();
    let branches: Vec<Option<&str>> = configured.iter().map(|key| key.branch.as_deref()).collect();
    let result = sqlx::query(
        "INSERT INTO jobs (kind, url, branch, trigger, max_attempts)
         SELECT 'crawl', k.url, k.branch, $3, $4
         FROM (SELECT url, branch FROM UNNEST($1::text[], $2::text[]) AS c (url, branch) UNION SELECT url, branch FROM repos) k
         ON CONFLICT (kind, url, branch) WHERE state = 'queued' DO NOTHING",
    )
    .bind(&urls)
    .bind(&branches)
    .bind(trigger.as_str())
    .bind(max_attempts.max(1))
    .execute(&mut *connection)
    .await?;
    Ok(result.rows_affected())
}
