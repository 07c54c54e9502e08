//! The job queue on a real Postgres: idempotent enqueuing, concurrent claims that never share a
//! repository, leases taken over after they expire, the schedule run once by racing replicas,
//! retries with backoff, forget jobs, and workers that crawl real git repositories and stop on
//! shutdown.

use std::collections::HashSet;
use std::time::Duration;

use sextant::crawler::{Origin, ReadOptions, Source};
use sextant::ingest::CrawlOptions;
use sextant::jobs::{JobContext, JobError, JobSettings, Queue, run_due_schedule, run_workers, work_once};
use sextant::store::{Finished, JobFinish, JobKind, JobState, JobTrigger, RepoKey, Store};

use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::git::{TestRepo, component};

/// Settings for tests: short leases and delays.
fn settings() -> JobSettings {
    JobSettings {
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        retry_delay: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(10),
        ..JobSettings::default()
    }
}

fn context(store: &Store, configured: Vec<Source>, settings: JobSettings) -> JobContext {
    let mut crawl = CrawlOptions::new(ReadOptions::new(std::env::temp_dir().join("sextant-test-unused-mirrors")));
    crawl.repo_timeout = Duration::from_secs(30);
    JobContext {
        queue: Queue::new(store.clone(), configured, &settings),
        crawl,
        settings,
    }
}

fn key(url: &str, branch: Option<&str>) -> RepoKey {
    RepoKey {
        url: url.to_owned(),
        branch: branch.map(str::to_owned),
    }
}

fn key_of(source: &Source) -> RepoKey {
    key(&source.url, source.branch.as_deref())
}

/// Repositories known to the store without a crawl (remote URLs are never fetched here).
async fn register(store: &Store, keys: &[RepoKey]) {
    let names: Vec<String> = keys
        .iter()
        .map(|key| key.url.rsplit('/').next().unwrap_or("repo").to_owned())
        .collect();
    store.register_repos(keys, &names).await.expect("register");
}

async fn job_states(store: &Store) -> Vec<(i64, String, String, Option<String>)> {
    sqlx::query_as("SELECT id, state, url, outcome FROM jobs ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn enqueuing_twice_queues_one_job_and_a_push_during_a_crawl_queues_one_after_it() {
    let (store, _) = fresh_store().await;
    let payments = key("https://git.example.com/acme/payments.git", None);
    register(&store, std::slice::from_ref(&payments)).await;
    let context = context(&store, Vec::new(), settings());
    let queue = &context.queue;

    let first = queue.crawl(&payments, JobTrigger::Hook).await.unwrap();
    let second = queue.crawl(&payments, JobTrigger::Mutation).await.unwrap();
    assert!(first.created);
    assert!(!second.created, "a queued crawl covers the second request");
    assert_eq!(first.job.id, second.job.id);
    assert_eq!(first.job.state, JobState::Queued);
    assert_eq!(job_states(&store).await.len(), 1);

    // The job starts; a push arriving now gets one new job, queued behind the running one.
    let claimed = store.claim_jobs("worker-a", Duration::from_secs(30), 64).await.unwrap();
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), vec![first.job.id]);
    let third = queue.crawl(&payments, JobTrigger::Hook).await.unwrap();
    let fourth = queue.crawl(&payments, JobTrigger::Hook).await.unwrap();
    assert!(third.created);
    assert_ne!(third.job.id, first.job.id);
    assert_eq!(fourth.job.id, third.job.id);
    // It waits for the running one: no second running job for the repository.
    assert!(store.claim_jobs("worker-b", Duration::from_secs(30), 64).await.unwrap().is_empty());
    assert_eq!(
        store
            .finish_job(
                first.job.id,
                "worker-a",
                &JobFinish::Done {
                    outcome: "unchanged".to_owned(),
                    detail: String::new()
                }
            )
            .await
            .unwrap(),
        Finished::Done
    );
    let next = store.claim_jobs("worker-b", Duration::from_secs(30), 64).await.unwrap();
    assert_eq!(next.iter().map(|job| job.id).collect::<Vec<_>>(), vec![third.job.id]);

    // A repository that is neither configured nor stored gets no job.
    let unknown = queue.find("https://git.example.com/acme/unknown.git", None).await;
    assert!(matches!(unknown, Err(JobError::NotFound(_))), "{unknown:?}");
    // Another form of a known URL finds it.
    assert_eq!(queue.find("git@git.example.com:Acme/payments", None).await.unwrap(), payments);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_claiming_at_once_get_disjoint_jobs_and_one_running_job_per_repository() {
    let (store, url) = fresh_store().await;
    let keys: Vec<RepoKey> = (0..40)
        .map(|index| key(&format!("https://git.example.com/acme/repo-{index}.git"), None))
        .collect();
    register(&store, &keys).await;
    let queue = context(&store, Vec::new(), settings()).queue;
    for repo in &keys {
        queue.crawl(repo, JobTrigger::Schedule).await.unwrap();
    }
    // Forgets for some of the same repositories: they must wait for the crawls.
    for repo in keys.iter().step_by(4) {
        queue.forget(repo, JobTrigger::Mutation).await.unwrap();
    }
    // A second pool, as a second replica would have.
    let other = Store::connect(&url).await.unwrap();
    let mut claimed_ids = HashSet::new();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let (first, second) = {
            let (one, two) = (store.clone(), other.clone());
            let first = tokio::spawn(async move { one.claim_jobs(&format!("a-{rounds}"), Duration::from_secs(30), 7).await });
            let second = tokio::spawn(async move { two.claim_jobs(&format!("b-{rounds}"), Duration::from_secs(30), 7).await });
            (first.await.unwrap().unwrap(), second.await.unwrap().unwrap())
        };
        for batch in [&first, &second] {
            let repos: HashSet<&RepoKey> = batch.iter().map(|job| &job.repo).collect();
            assert_eq!(repos.len(), batch.len(), "one job per repository in a batch");
            assert!(batch.len() <= 7);
        }
        for job in first.iter().chain(&second) {
            assert!(claimed_ids.insert(job.id), "job {} claimed twice", job.id);
        }
        let doubled: Vec<(String, i64)> =
            sqlx::query_as("SELECT url, count(*) FROM jobs WHERE state = 'running' GROUP BY url, branch HAVING count(*) > 1")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert!(doubled.is_empty(), "two running jobs for one repository: {doubled:?}");
        if first.is_empty() && second.is_empty() {
            break;
        }
        assert!(rounds < 20, "the claims do not end");
    }
    // Every crawl was claimed; the forgets wait behind their repositories' running crawls.
    assert_eq!(claimed_ids.len(), 40);
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'queued' AND kind = 'forget'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(waiting, 10);
    other.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_lease_expired_is_taken_over_and_its_first_worker_cannot_finish_it() {
    let (store, _) = fresh_store().await;
    let payments = key("https://git.example.com/acme/payments.git", Some("main"));
    register(&store, std::slice::from_ref(&payments)).await;
    let queue = context(&store, Vec::new(), settings()).queue;
    let job = queue.crawl(&payments, JobTrigger::Hook).await.unwrap().job;

    let first = store.claim_jobs("dead-worker", Duration::from_millis(300), 64).await.unwrap();
    assert_eq!(first.len(), 1);
    // While the lease lasts, nobody else gets the job; renewing it keeps it.
    assert!(store.claim_jobs("other", Duration::from_secs(30), 64).await.unwrap().is_empty());
    assert_eq!(store.renew_lease("dead-worker", Duration::from_millis(300)).await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let second = store.claim_jobs("live-worker", Duration::from_secs(30), 64).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, job.id);
    assert_eq!(second[0].attempts, 2, "the dead worker's attempt counts");
    // The dead worker comes back: it no longer holds the job.
    let done = JobFinish::Done {
        outcome: "applied".to_owned(),
        detail: String::new(),
    };
    assert_eq!(store.finish_job(job.id, "dead-worker", &done).await.unwrap(), Finished::LeaseLost);
    assert_eq!(store.renew_lease("dead-worker", Duration::from_secs(1)).await.unwrap(), 0);
    assert_eq!(store.finish_job(job.id, "live-worker", &done).await.unwrap(), Finished::Done);
    let finished = store.job(job.id).await.unwrap().unwrap();
    assert_eq!(finished.state, JobState::Done);
    assert_eq!(finished.outcome.as_deref(), Some("applied"));
    assert!(finished.finished_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_job_with_a_newer_one_queued_fails_and_names_it() {
    let (store, _) = fresh_store().await;
    let payments = key("https://git.example.com/acme/payments.git", None);
    register(&store, std::slice::from_ref(&payments)).await;
    let queue = context(&store, Vec::new(), settings()).queue;
    let old = queue.crawl(&payments, JobTrigger::Hook).await.unwrap().job;
    store.claim_jobs("dead-worker", Duration::from_millis(100), 64).await.unwrap();
    let newer = queue.crawl(&payments, JobTrigger::Hook).await.unwrap().job;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let claimed = store.claim_jobs("live-worker", Duration::from_secs(30), 64).await.unwrap();
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), vec![newer.id]);
    let old = store.job(old.id).await.unwrap().unwrap();
    assert_eq!(old.state, JobState::Failed);
    assert_eq!(old.outcome.as_deref(), Some("lease-expired"));
    assert!(old.detail.unwrap_or_default().contains(&format!("job {}", newer.id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_is_run_once_by_two_racing_replicas() {
    let (store, url) = fresh_store().await;
    let stored = key("https://git.example.com/acme/stored.git", None);
    register(&store, std::slice::from_ref(&stored)).await;
    let configured = Source::parse(
        "https://git.example.com/acme/configured.git",
        Some("main".to_owned()),
        None,
        Origin::Operator,
    )
    .unwrap();
    let other = Store::connect(&url).await.unwrap();
    let replicas = [
        context(&store, vec![configured.clone()], settings()).queue,
        context(&other, vec![configured.clone()], settings()).queue,
    ];
    let interval = Duration::from_secs(600);
    let mut runs = Vec::new();
    for _ in 0..5 {
        let (one, two) = (replicas[0].clone(), replicas[1].clone());
        let first = tokio::spawn(async move { run_due_schedule(&one, interval).await });
        let second = tokio::spawn(async move { run_due_schedule(&two, interval).await });
        runs.push(first.await.unwrap().unwrap());
        runs.push(second.await.unwrap().unwrap());
    }
    assert_eq!(runs.iter().flatten().count(), 1, "one run in all: {runs:?}");
    assert_eq!(
        runs.iter().flatten().copied().collect::<Vec<_>>(),
        vec![2],
        "the configured and the stored repository"
    );
    let queued: Vec<(String, Option<String>, String)> = sqlx::query_as("SELECT url, branch, trigger FROM jobs ORDER BY url")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(
        queued,
        vec![
            (configured.url.clone(), Some("main".to_owned()), "schedule".to_owned()),
            (stored.url.clone(), None, "schedule".to_owned())
        ]
    );
    // The next run is one interval away, give or take 10%.
    let seconds_away: f64 = sqlx::query_scalar("SELECT extract(epoch FROM next_run_at - now())::float8 FROM job_schedule")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!((535.0..=661.0).contains(&seconds_away), "{seconds_away}");
    // Due again: the crawls still queued are not queued twice.
    sqlx::query("UPDATE job_schedule SET next_run_at = now()")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(run_due_schedule(&replicas[1], interval).await.unwrap(), Some(0));
    // A shorter interval than the one the next run was set with makes it due at once.
    assert_eq!(run_due_schedule(&replicas[0], interval).await.unwrap(), None);
    assert_eq!(run_due_schedule(&replicas[0], Duration::from_secs(60)).await.unwrap(), Some(0));
    other.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn work_once_crawls_the_claimed_repositories_and_records_each_outcome() {
    let (store, _) = fresh_store().await;
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &component("billing", "payments", &[]))], "first");
    let services = TestRepo::new();
    services.commit(&[("catalog-info.yaml", &component("checkout", "payments", &[]))], "first");
    let context = context(&store, vec![teams.source(), services.source()], settings());

    let jobs = context.queue.crawl_all(JobTrigger::Mutation).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let report = work_once(&context).await.unwrap();
    assert_eq!((report.claimed, report.done), (2, 2), "{report:?}");
    assert_eq!(
        entity_refs(&store).await,
        vec!["component:default/billing", "component:default/checkout"]
    );
    for job in &jobs {
        let job = store.job(job.id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Done);
        assert_eq!(job.outcome.as_deref(), Some("applied"));
        assert!(job.started_at.is_some() && job.finished_at.is_some());
    }
    assert_eq!(work_once(&context).await.unwrap().claimed, 0, "nothing left");

    // A new commit, a crawl of that repository only.
    services.commit(&[("more/catalog-info.yaml", &component("ledger", "payments", &[]))], "second");
    let job = context
        .queue
        .crawl(&key_of(&services.source()), JobTrigger::Hook)
        .await
        .unwrap()
        .job;
    assert_eq!(work_once(&context).await.unwrap().done, 1);
    assert_eq!(store.job(job.id).await.unwrap().unwrap().outcome.as_deref(), Some("applied"));
    assert!(entity_refs(&store).await.contains(&"component:default/ledger".to_owned()));
    let again = context
        .queue
        .crawl(&key_of(&services.source()), JobTrigger::Hook)
        .await
        .unwrap()
        .job;
    work_once(&context).await.unwrap();
    assert_eq!(store.job(again.id).await.unwrap().unwrap().outcome.as_deref(), Some("unchanged"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_repository_that_is_no_longer_configured_is_crawled_from_its_row() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("billing", "payments", &[]))], "first");
    crawl_into(&store, &[repo.source()], &std::env::temp_dir().join("sextant-test-unused-mirrors")).await;
    repo.commit(&[("catalog-info.yaml", &component("invoicing", "payments", &[]))], "rename");
    let context = context(&store, Vec::new(), settings());
    let found = context.queue.find(&repo.path().to_string_lossy(), None).await.unwrap();
    context.queue.crawl(&found, JobTrigger::Mutation).await.unwrap();
    assert_eq!(work_once(&context).await.unwrap().done, 1);
    assert_eq!(entity_refs(&store).await, vec!["component:default/invoicing"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forget_job_removes_the_repository_and_unknown_ones_are_refused() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("billing", "payments", &[]))], "first");
    let context = context(&store, vec![repo.source()], settings());
    context.queue.crawl(&key_of(&repo.source()), JobTrigger::Mutation).await.unwrap();
    work_once(&context).await.unwrap();
    assert_eq!(entity_refs(&store).await, vec!["component:default/billing"]);

    let job = context
        .queue
        .forget(&key_of(&repo.source()), JobTrigger::Mutation)
        .await
        .unwrap()
        .job;
    assert_eq!(job.kind, JobKind::Forget);
    assert_eq!(work_once(&context).await.unwrap().done, 1);
    assert!(entity_refs(&store).await.is_empty());
    let job = store.job(job.id).await.unwrap().unwrap();
    assert_eq!((job.state, job.outcome.as_deref()), (JobState::Done, Some("forgotten")));
    assert!(store.stored_repositories().await.unwrap().is_empty());

    // Forgotten (and still configured): forgetting it again is refused at once.
    let again = context.queue.forget(&key_of(&repo.source()), JobTrigger::Mutation).await;
    assert!(matches!(again, Err(JobError::NotFound(_))), "{again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_crawl_is_retried_after_a_backoff_then_fails_for_good() {
    let (store, _) = fresh_store().await;
    let missing = tempfile::tempdir().unwrap();
    let gone = Source::parse(&missing.path().join("gone").to_string_lossy(), None, None, Origin::Operator).unwrap();
    let context = context(
        &store,
        vec![gone.clone()],
        JobSettings {
            max_attempts: 2,
            retry_delay: Duration::from_millis(300),
            ..settings()
        },
    );
    let job = context.queue.crawl(&key_of(&gone), JobTrigger::Mutation).await.unwrap().job;

    let report = work_once(&context).await.unwrap();
    assert_eq!((report.claimed, report.retrying), (1, 1), "{report:?}");
    let retrying = store.job(job.id).await.unwrap().unwrap();
    assert_eq!((retrying.state, retrying.attempts), (JobState::Queued, 1));
    assert_eq!(retrying.outcome.as_deref(), Some("failed"));
    assert!(retrying.run_after > retrying.enqueued_at);
    // Not before its backoff.
    assert_eq!(work_once(&context).await.unwrap().claimed, 0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let report = work_once(&context).await.unwrap();
    assert_eq!((report.claimed, report.failed), (1, 1), "{report:?}");
    let failed = store.job(job.id).await.unwrap().unwrap();
    assert_eq!((failed.state, failed.attempts), (JobState::Failed, 2));
    assert!(failed.detail.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_crawl_what_is_queued_and_stop_on_shutdown() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("billing", "payments", &[]))], "first");
    let context = context(
        &store,
        vec![repo.source()],
        JobSettings {
            crawl_interval: None,
            poll_interval: Duration::from_secs(30),
            ..settings()
        },
    );
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(run_workers(context.clone(), shutdown));
    // The queue wakes this process's idle workers at once (the poll interval is 30 s).
    let job = context
        .queue
        .crawl(&key_of(&repo.source()), JobTrigger::Mutation)
        .await
        .unwrap()
        .job;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.job(job.id).await.unwrap().unwrap().state != JobState::Done {
        assert!(
            std::time::Instant::now() < deadline,
            "the job was not done: {:?}",
            job_states(&store).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(entity_refs(&store).await, vec!["component:default/billing"]);
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), workers)
        .await
        .expect("the workers stop on shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_loop_queues_and_crawls_every_source_and_old_jobs_are_pruned() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("billing", "payments", &[]))], "first");
    let context = context(
        &store,
        vec![repo.source()],
        JobSettings {
            crawl_interval: Some(Duration::from_secs(3600)),
            ..settings()
        },
    );
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = tokio::spawn(run_workers(context.clone(), shutdown));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while entity_refs(&store).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the schedule crawled nothing: {:?}",
            job_states(&store).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), workers).await.unwrap().unwrap();
    let jobs = job_states(&store).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");

    sqlx::query("UPDATE jobs SET finished_at = now() - interval '2 days'")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.prune_jobs(Duration::from_secs(3 * 24 * 3600)).await.unwrap(), 0);
    assert_eq!(store.prune_jobs(Duration::from_secs(24 * 3600)).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mutations_queue_jobs_for_callers_with_the_token_and_say_why_not_otherwise() {
    use sextant::graphql::{Caller, SchemaOptions, build_schema_with_jobs, execute_one};
    let (store, _) = fresh_store().await;
    let payments = key("https://git.example.com/acme/payments.git", Some("main"));
    let ledger_main = key("https://git.example.com/acme/ledger.git", Some("main"));
    let ledger_dev = key("https://git.example.com/acme/ledger.git", Some("dev"));
    register(&store, &[payments.clone(), ledger_main, ledger_dev]).await;
    let queue = context(&store, Vec::new(), settings()).queue;
    let schema = build_schema_with_jobs(
        store.clone(),
        sextant::search::Search::new(store.clone(), &sextant::search::SearchConfig::default()).expect("the Postgres search backend"),
        queue,
        &SchemaOptions::default(),
    );
    let run = |query: String, authorized: bool| {
        let (schema, store) = (schema.clone(), store.clone());
        async move {
            let response = execute_one(&schema, std::sync::Arc::new(store.snapshot()), query.into(), Caller { authorized }).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            response.data.into_json().unwrap()
        }
    };
    let fields =
        "job { id state kind repo branch trigger attempts enqueuedAt startedAt finishedAt outcome } created errors { code message }";

    let refused = run(
        format!(
            r#"mutation {{ crawlRepo(url: "{}", branch: "main") {{ {fields} }} }}"#,
            payments.url
        ),
        false,
    )
    .await;
    assert_eq!(refused["crawlRepo"]["errors"][0]["code"], "UNAUTHORIZED");
    assert!(refused["crawlRepo"]["job"].is_null());
    let refused = run("mutation { crawlAll { jobs { id } errors { code } } }".to_owned(), false).await;
    assert_eq!(refused["crawlAll"]["errors"][0]["code"], "UNAUTHORIZED");
    assert_eq!(job_states(&store).await.len(), 0);

    // Another form of the URL finds the repository.
    let queued = run(
        format!(r#"mutation {{ crawlRepo(url: "git@git.example.com:acme/payments", branch: "main") {{ {fields} }} }}"#),
        true,
    )
    .await;
    let job = &queued["crawlRepo"]["job"];
    assert_eq!(queued["crawlRepo"]["errors"], serde_json::json!([]));
    assert_eq!(queued["crawlRepo"]["created"], true);
    assert_eq!((job["state"].as_str(), job["kind"].as_str()), (Some("QUEUED"), Some("CRAWL")));
    assert_eq!(
        (job["repo"].as_str(), job["branch"].as_str()),
        (Some(payments.url.as_str()), Some("main"))
    );
    assert_eq!((job["trigger"].as_str(), job["attempts"].as_i64()), (Some("MUTATION"), Some(0)));
    assert!(job["startedAt"].is_null() && job["outcome"].is_null());
    let again = run(
        format!(
            r#"mutation {{ crawlRepo(url: "{}", branch: "main") {{ {fields} }} }}"#,
            payments.url
        ),
        true,
    )
    .await;
    assert_eq!(again["crawlRepo"]["job"]["id"], job["id"]);
    assert_eq!(again["crawlRepo"]["created"], false);

    let unknown = run(
        format!(r#"mutation {{ crawlRepo(url: "https://git.example.com/acme/nope.git") {{ {fields} }} }}"#),
        true,
    )
    .await;
    assert_eq!(unknown["crawlRepo"]["errors"][0]["code"], "NOT_FOUND");
    let wrong_branch = run(
        format!(
            r#"mutation {{ forgetRepo(url: "{}", branch: "dev") {{ {fields} }} }}"#,
            payments.url
        ),
        true,
    )
    .await;
    assert_eq!(wrong_branch["forgetRepo"]["errors"][0]["code"], "NOT_FOUND");
    let ambiguous = run(
        format!(r#"mutation {{ forgetRepo(url: "https://git.example.com/acme/ledger.git") {{ {fields} }} }}"#),
        true,
    )
    .await;
    assert_eq!(ambiguous["forgetRepo"]["errors"][0]["code"], "AMBIGUOUS");
    let forget = run(
        format!(r#"mutation {{ forgetRepo(url: "https://git.example.com/acme/ledger.git", branch: "dev") {{ {fields} }} }}"#),
        true,
    )
    .await;
    assert_eq!(forget["forgetRepo"]["job"]["kind"], "FORGET");

    let all = run(
        "mutation { crawlAll { jobs { repo branch state } errors { code } } }".to_owned(),
        true,
    )
    .await;
    assert_eq!(all["crawlAll"]["jobs"].as_array().map(Vec::len), Some(3), "{all}");

    let id = job["id"].as_str().unwrap();
    let found = run(format!(r#"{{ job(id: "{id}") {{ id state repo }} }}"#), false).await;
    assert_eq!(found["job"]["repo"].as_str(), Some(payments.url.as_str()));
    let missing = run(r#"{ job(id: "999999") { id } }"#.to_owned(), false).await;
    assert!(missing["job"].is_null());
}
