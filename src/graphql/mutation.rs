//! The mutations (`crawlRepo`, `crawlAll`, `forgetRepo`) and the `job` query: each mutation
//! queues a job and returns it with typed errors (`UNAUTHORIZED` without the bearer token,
//! `NOT_FOUND` for a repository neither configured nor stored, ...). Built from the store's
//! `Job` at the edge.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use super::{ErrorCode, api_error, caller};
use crate::jobs::{JobError, Queue};
use crate::store::{self, JobTrigger};

/// The mutation root: one field per action on the job queue.
#[derive(Default)]
pub struct MutationRoot;

/// The `job` query field.
#[derive(Default)]
pub struct JobQuery;

/// What a job does.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "JobKind")]
pub enum JobKindView {
    /// Read the repository's tip and apply what changed.
    Crawl,
    /// Remove the repository from the catalog.
    Forget,
}

/// Where a job is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "JobState")]
pub enum JobStateView {
    /// Waiting for a worker (a retry waits until `runAfter`).
    Queued,
    /// A worker of some replica holds it.
    Running,
    Done,
    /// Failed for good (`outcome` and `detail` say why).
    Failed,
}

/// What asked for a job.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "JobTrigger")]
pub enum JobTriggerView {
    Hook,
    Mutation,
    Schedule,
}

/// A crawl or forget job. Times are RFC 3339 in UTC.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "Job")]
pub struct JobView {
    pub id: ID,
    pub kind: JobKindView,
    pub state: JobStateView,
    /// The repository's URL (or path) as configured or stored.
    pub repo: String,
    /// The branch; null follows the repository's HEAD.
    pub branch: Option<String>,
    pub trigger: JobTriggerView,
    /// Attempts begun so far.
    pub attempts: i32,
    pub max_attempts: i32,
    pub enqueued_at: String,
    /// When a queued job may run (later than `enqueuedAt` for a retry).
    pub run_after: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The last attempt's result: applied, unchanged, superseded, forgotten, failed, not-found,
    /// refused, lease-expired, released.
    pub outcome: Option<String>,
    /// A sentence about the outcome.
    pub detail: Option<String>,
}

impl From<store::Job> for JobView {
    fn from(job: store::Job) -> JobView {
        JobView {
            id: ID(job.id.to_string()),
            kind: match job.kind {
                store::JobKind::Crawl => JobKindView::Crawl,
                store::JobKind::Forget => JobKindView::Forget,
            },
            state: match job.state {
                store::JobState::Queued => JobStateView::Queued,
                store::JobState::Running => JobStateView::Running,
                store::JobState::Done => JobStateView::Done,
                store::JobState::Failed => JobStateView::Failed,
            },
            repo: job.repo.url,
            branch: job.repo.branch,
            trigger: match job.trigger {
                JobTrigger::Hook => JobTriggerView::Hook,
                JobTrigger::Mutation => JobTriggerView::Mutation,
                JobTrigger::Schedule => JobTriggerView::Schedule,
            },
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            enqueued_at: job.enqueued_at,
            run_after: job.run_after,
            started_at: job.started_at,
            finished_at: job.finished_at,
            outcome: job.outcome,
            detail: job.detail,
        }
    }
}

/// The stable codes of a mutation's errors.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum MutationErrorCode {
    /// The request did not carry the configured bearer token.
    Unauthorized,
    /// The repository is neither configured nor in the catalog.
    NotFound,
    /// A URL without a branch names a repository crawled on several branches.
    Ambiguous,
    /// The catalog's database cannot be reached; try again.
    Unavailable,
    /// A fault of the server (details in its log).
    Internal,
}

/// Why a mutation did nothing.
#[derive(SimpleObject, Debug, Clone)]
pub struct MutationError {
    pub code: MutationErrorCode,
    pub message: String,
}

/// The result of `crawlRepo` and `forgetRepo`: the job (null when `errors` says why none).
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct JobPayload {
    pub job: Option<JobView>,
    /// False when a job for the repository was queued already (or had just started): that one
    /// covers the request.
    pub created: bool,
    pub errors: Vec<MutationError>,
}

/// The result of `crawlAll`: every queued crawl job.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct CrawlAllPayload {
    pub jobs: Vec<JobView>,
    pub errors: Vec<MutationError>,
}

fn unauthorized() -> MutationError {
    MutationError {
        code: MutationErrorCode::Unauthorized,
        message: "mutations need the configured bearer token (Authorization: Bearer ...)".to_owned(),
    }
}

fn no_queue() -> MutationError {
    tracing::error!("a mutation ran on a schema without the job queue");
    MutationError {
        code: MutationErrorCode::Internal,
        message: "the job queue is not set up on this server".to_owned(),
    }
}

/// The one place where job errors become mutation errors: store details go to the log only.
fn mutation_error(error: &JobError) -> MutationError {
    match error {
        JobError::NotFound(message) => MutationError {
            code: MutationErrorCode::NotFound,
            message: message.clone(),
        },
        JobError::Ambiguous(message) => MutationError {
            code: MutationErrorCode::Ambiguous,
            message: message.clone(),
        },
        JobError::Store(store_error) => {
            tracing::warn!(error.code = store_error.code(), error.detail = %store_error, "a mutation failed in the store");
            if store_error.is_unreachable() {
                MutationError {
                    code: MutationErrorCode::Unavailable,
                    message: "the catalog's database is unavailable; try again shortly".to_owned(),
                }
            } else {
                MutationError {
                    code: MutationErrorCode::Internal,
                    message: "internal error; the server's log has the details".to_owned(),
                }
            }
        }
    }
}

/// The queue, when the caller may use it.
fn authorized_queue<'context>(context: &Context<'context>) -> Result<&'context Queue, MutationError> {
    if !caller(context).authorized {
        return Err(unauthorized());
    }
    context.data::<Queue>().map_err(|_| no_queue())
}

fn failed_payload(error: MutationError) -> JobPayload {
    JobPayload {
        job: None,
        created: false,
        errors: vec![error],
    }
}

#[derive(Clone, Copy)]
enum Action {
    Crawl,
    Forget,
}

async fn queue_job(context: &Context<'_>, action: Action, url: &str, branch: Option<&str>) -> JobPayload {
    let queue = match authorized_queue(context) {
        Ok(queue) => queue,
        Err(error) => return failed_payload(error),
    };
    let result = match queue.find(url, branch).await {
        Ok(repo) => match action {
            Action::Crawl => queue.crawl(&repo, JobTrigger::Mutation).await,
            Action::Forget => queue.forget(&repo, JobTrigger::Mutation).await,
        },
        Err(error) => Err(error),
    };
    match result {
        Ok(enqueued) => JobPayload {
            job: Some(enqueued.job.into()),
            created: enqueued.created,
            errors: Vec::new(),
        },
        Err(error) => failed_payload(mutation_error(&error)),
    }
}

#[Object]
impl MutationRoot {
    /// Queues a crawl of one configured or stored repository (any form of its URL: https, ssh,
    /// with or without `.git`). Without `branch`: the repository that follows HEAD, else the
    /// only one with that URL. Needs the bearer token.
    async fn crawl_repo(&self, context: &Context<'_>, url: String, branch: Option<String>) -> JobPayload {
        queue_job(context, Action::Crawl, &url, branch.as_deref()).await
    }

    /// Queues a crawl of every configured and stored repository (one job each; those with a
    /// crawl queued already keep it). Needs the bearer token.
    async fn crawl_all(&self, context: &Context<'_>) -> CrawlAllPayload {
        let queue = match authorized_queue(context) {
            Ok(queue) => queue,
            Err(error) => {
                return CrawlAllPayload {
                    jobs: Vec::new(),
                    errors: vec![error],
                };
            }
        };
        match queue.crawl_all(JobTrigger::Mutation).await {
            Ok(jobs) => CrawlAllPayload {
                jobs: jobs.into_iter().map(JobView::from).collect(),
                errors: Vec::new(),
            },
            Err(error) => CrawlAllPayload {
                jobs: Vec::new(),
                errors: vec![mutation_error(&error)],
            },
        }
    }

    /// Queues the forgetting of a stored repository: its entities leave the catalog or pass to
    /// their next claimants. A configured repository comes back at its next crawl. Needs the
    /// bearer token.
    async fn forget_repo(&self, context: &Context<'_>, url: String, branch: Option<String>) -> JobPayload {
        queue_job(context, Action::Forget, &url, branch.as_deref()).await
    }
}

#[Object]
impl JobQuery {
    /// A job by id (finished jobs are kept for a while, then pruned).
    async fn job(&self, context: &Context<'_>, id: ID) -> async_graphql::Result<Option<JobView>> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let queue = context
            .data::<Queue>()
            .map_err(|_| api_error(ErrorCode::Internal, "the job queue is not set up on this server"))?;
        match queue.job(id).await {
            Ok(job) => Ok(job.map(JobView::from)),
            Err(JobError::Store(error)) => Err(super::store_error(&error)),
            Err(other) => Err(api_error(ErrorCode::Internal, other.to_string())),
        }
    }
}
