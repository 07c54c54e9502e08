//! The Postgres job queue: crawl and forget jobs from hooks, mutations and the schedule,
//! claimed with `FOR UPDATE SKIP LOCKED` under a lease, so that several replicas share the work.
//!
//! [`Queue`] queues jobs (only for repositories that are configured or stored: nothing arriving
//! over the network adds a repository); [`work_once`] claims a batch and runs it;
//! [`run_due_schedule`] queues the crawl of every source when the shared schedule is due;
//! [`run_workers`] loops around both until shutdown; [`hooks::receive`] turns a verified push
//! event into crawl jobs. The SQL is in `store/jobs.rs`.

mod address;
pub mod hooks;
mod schedule;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::crawler::Source;
use crate::ingest::CrawlOptions;
use crate::store::{Job, JobKind, JobTrigger, RepoKey, Store, StoreError};

pub use address::RepoAddress;
pub use hooks::{HookResponse, HookSecrets, Provider};
pub use schedule::run_due_schedule;
pub use worker::{WorkReport, run_workers, work_once};

/// How the queue and its workers behave.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// A job whose worker stops renewing its lease for this long is taken over by another.
    pub lease: Duration,
    /// Jobs a worker claims at once (crawled together in one `ingest::crawl`).
    pub batch_size: usize,
    /// Worker loops per process.
    pub workers: usize,
    /// How often an idle worker looks for jobs queued by other replicas (jobs queued by this
    /// process wake it at once), and how often the schedule is looked at.
    pub poll_interval: Duration,
    /// `None`: no scheduled crawl.
    pub crawl_interval: Option<Duration>,
    /// The wait before the first retry of a failed attempt; each further retry waits twice as
    /// long, up to [`MAX_RETRY_DELAY`].
    pub retry_delay: Duration,
    /// Attempts a job gets before it fails for good.
    pub max_attempts: i32,
    /// Finished jobs are kept this long (their status answers the `job` query), then pruned.
    pub keep_finished: Duration,
    /// On shutdown, the crawl under way gets this long to finish; after that it is dropped (an
    /// apply in progress rolls back whole) and its unfinished jobs are queued again.
    pub shutdown_grace: Duration,
}

/// The longest wait between two attempts of a job.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            lease: Duration::from_secs(60),
            batch_size: 64,
            workers: 2,
            poll_interval: Duration::from_secs(1),
            crawl_interval: Some(Duration::from_secs(600)),
            retry_delay: Duration::from_secs(30),
            max_attempts: 5,
            keep_finished: Duration::from_secs(7 * 24 * 3600),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl JobSettings {
    /// The wait before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn retry_delay_after(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
        self.retry_delay.saturating_mul(2u32.saturating_pow(doublings)).min(MAX_RETRY_DELAY)
    }
}

/// What the workers need: the queue, how to crawl, and the settings.
#[derive(Clone)]
pub struct JobContext {
    pub queue: Queue,
    pub crawl: CrawlOptions,
    pub settings: JobSettings,
}

/// Why a job could not be queued.
#[derive(Debug)]
pub enum JobError {
    /// The repository is neither configured nor stored.
    NotFound(String),
    /// A URL given without a branch names several repositories.
    Ambiguous(String),
    Store(StoreError),
}

impl JobError {
    /// A stable code: `not-found`, `ambiguous`, or the store's.
    pub fn code(&self) -> &'static str {
        match self {
            JobError::NotFound(_) => "not-found",
            JobError::Ambiguous(_) => "ambiguous",
            JobError::Store(error) => error.code(),
        }
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::NotFound(message) | JobError::Ambiguous(message) => formatter.write_str(message),
            JobError::Store(error) => error.fmt(formatter),
        }
    }
}

impl std::error::Error for JobError {}

impl From<StoreError> for JobError {
    fn from(error: StoreError) -> Self {
        JobError::Store(error)
    }
}

/// A repository jobs may name: configured, or stored by an earlier crawl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRepo {
    pub key: RepoKey,
    pub name: String,
    /// Its address in comparable form (`None` for text that is no URL or path).
    pub address: Option<RepoAddress>,
}

/// A job just asked for, and whether it is new (`false`: one was queued already, or had just
/// started, and covers this request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueued {
    pub job: Job,
    pub created: bool,
}

/// The handle that queues jobs; cheap to clone. Jobs queued through it wake this process's
/// idle workers at once; other replicas find them at their next poll.
#[derive(Clone)]
pub struct Queue {
    store: Store,
    configured: Arc<[Source]>,
    max_attempts: i32,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Queue")
            .field("configured", &self.configured.len())
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl Queue {
    /// A queue on `store` for the `configured` sources (the config's `sources`).
    pub fn new(store: Store, configured: Vec<Source>, settings: &JobSettings) -> Queue {
        Queue {
            store,
            configured: configured.into(),
            max_attempts: settings.max_attempts.max(1),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn configured_keys(&self) -> Vec<RepoKey> {
        self.configured.iter().map(repo_key).collect()
    }

    /// Every repository jobs may name: the configured ones, then the stored ones not configured.
    pub async fn known_repositories(&self) -> Result<Vec<KnownRepo>, StoreError> {
        let mut known: Vec<KnownRepo> = self
            .configured
            .iter()
            .map(|source| KnownRepo {
                key: repo_key(source),
                name: source.name.clone(),
                address: RepoAddress::parse(&source.url),
            })
            .collect();
        let mut seen: std::collections::HashSet<RepoKey> = known.iter().map(|repo| repo.key.clone()).collect();
        for stored in self.store.stored_repositories().await? {
            if seen.insert(stored.key.clone()) {
                known.push(KnownRepo {
                    address: RepoAddress::parse(&stored.key.url),
                    key: stored.key,
                    name: stored.name,
                });
            }
        }
        Ok(known)
    }

    /// The known repository that `url` (in any of its forms: https, ssh, with or without
    /// `.git`) and `branch` name. Without a branch: the repository that follows HEAD, else the
    /// only one with that URL; several are `Ambiguous`.
    pub async fn find(&self, url: &str, branch: Option<&str>) -> Result<RepoKey, JobError> {
        let address = RepoAddress::parse(url);
        let matches_url = |repo: &KnownRepo| repo.key.url == url || (address.is_some() && repo.address == address);
        let known = self.known_repositories().await?;
        let same_url: Vec<&KnownRepo> = known.iter().filter(|repo| matches_url(repo)).collect();
        let not_found = || {
            let branch = branch.map(|branch| format!(" (branch {branch})")).unwrap_or_default();
            JobError::NotFound(format!(
                "the repository {}{branch} is neither configured nor in the catalog",
                crate::crawler::redact(url)
            ))
        };
        if let Some(branch) = branch {
            return same_url
                .iter()
                .find(|repo| repo.key.branch.as_deref() == Some(branch))
                .map(|repo| repo.key.clone())
                .ok_or_else(not_found);
        }
        if let Some(repo) = same_url.iter().find(|repo| repo.key.branch.is_none()) {
            return Ok(repo.key.clone());
        }
        match same_url.as_slice() {
            [] => Err(not_found()),
            [only] => Ok(only.key.clone()),
            several => {
                let branches: Vec<&str> = several.iter().filter_map(|repo| repo.key.branch.as_deref()).collect();
                Err(JobError::Ambiguous(format!(
                    "the repository {} is crawled on several branches ({}): name one",
                    crate::crawler::redact(url),
                    branches.join(", ")
                )))
            }
        }
    }

    /// Queues a crawl of `repo` (which must be known: see [`Queue::find`]).
    pub async fn crawl(&self, repo: &RepoKey, trigger: JobTrigger) -> Result<Enqueued, JobError> {
        self.enqueue(JobKind::Crawl, repo, trigger).await
    }

    /// Queues the forgetting of a stored repository.
    pub async fn forget(&self, repo: &RepoKey, trigger: JobTrigger) -> Result<Enqueued, JobError> {
        if self.store.stored_repositories_among(std::slice::from_ref(repo)).await?.is_empty() {
            return Err(JobError::NotFound(format!(
                "the repository {} is not in the catalog",
                crate::store::repo_label(&repo.url, repo.branch.as_deref())
            )));
        }
        self.enqueue(JobKind::Forget, repo, trigger).await
    }

    async fn enqueue(&self, kind: JobKind, repo: &RepoKey, trigger: JobTrigger) -> Result<Enqueued, JobError> {
        let (job, created) = self.store.enqueue_job(kind, repo, trigger, self.max_attempts).await?;
        if created {
            tracing::info!(job.id = job.id, job.kind = kind.as_str(), repo.url = %repo.url, repo.branch = ?repo.branch, job.trigger = trigger.as_str(), "job queued");
            self.wake.notify_waiters();
        }
        Ok(Enqueued { job, created })
    }

    /// Queues a crawl of every configured and stored repository (one job each, except those
    /// with a crawl queued already); returns every queued crawl job.
    pub async fn crawl_all(&self, trigger: JobTrigger) -> Result<Vec<Job>, JobError> {
        let queued = self
            .store
            .enqueue_crawls_of_all(&self.configured_keys(), trigger, self.max_attempts)
            .await?;
        if queued > 0 {
            tracing::info!(jobs = queued, job.trigger = trigger.as_str(), "crawl of every repository queued");
            self.wake.notify_waiters();
        }
        Ok(self.store.queued_crawl_jobs().await?)
    }

    /// A job by id.
    pub async fn job(&self, id: i64) -> Result<Option<Job>, JobError> {
        Ok(self.store.job(id).await?)
    }

    /// The source a crawl job reads: the configured one, else one made from the stored row (its
    /// URL came from the operator). `Err` when the repository is neither, or its URL is refused.
    async fn sources_for(&self, keys: &[RepoKey]) -> Result<Vec<Result<Source, SourceProblem>>, StoreError> {
        let stored = self.store.stored_repositories_among(keys).await?;
        Ok(keys
            .iter()
            .map(|key| {
                if let Some(source) = self.configured.iter().find(|source| repo_key(source) == *key) {
                    return Ok(source.clone());
                }
                let Some(repo) = stored.iter().find(|repo| repo.key == *key) else {
                    return Err(SourceProblem::NotFound);
                };
                Source::parse(
                    &key.url,
                    key.branch.clone(),
                    Some(repo.name.clone()),
                    crate::crawler::Origin::Operator,
                )
                .map_err(|error| SourceProblem::Refused(error.to_string()))
            })
            .collect())
    }
}

/// Why a crawl job has no source.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SourceProblem {
    /// Neither configured nor stored (forgotten since it was queued).
    NotFound,
    Refused(String),
}

fn repo_key(source: &Source) -> RepoKey {
    RepoKey {
        url: source.url.clone(),
        branch: source.branch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::JobSettings;
    use std::time::Duration;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_the_cap() {
        let settings = JobSettings {
            retry_delay: Duration::from_secs(10),
            ..JobSettings::default()
        };
        assert_eq!(settings.retry_delay_after(1), Duration::from_secs(10));
        assert_eq!(settings.retry_delay_after(2), Duration::from_secs(20));
        assert_eq!(settings.retry_delay_after(4), Duration::from_secs(80));
        assert_eq!(settings.retry_delay_after(60), super::MAX_RETRY_DELAY);
        assert_eq!(settings.retry_delay_after(0), Duration::from_secs(10));
    }
}
