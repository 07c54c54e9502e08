//! Three `sextant serve` processes on loopback against one Postgres: pushes delivered to
//! several replicas are crawled once per repository and never by two replicas at a time, and a
//! replica killed (SIGKILL) in the middle of a crawl leaves its jobs to the others once their
//! lease expires, with the catalog complete in the end.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sextant::store::Store;

use crate::db::{crawl_into, entity_refs, fresh_store};
use crate::git::{TestRepo, component};
use crate::server::{RunningServer, graphql, post};

const SECRET: &str = "replica-hook-secret";
const TOKEN: &str = "replica-token";

fn signature(body: &[u8]) -> String {
    let digest = sextant::jobs::hooks::hmac_sha256(SECRET.as_bytes(), body);
    format!("sha256={}", digest.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// A GitHub push of `main` for the repository at `path`.
fn push(server: &RunningServer, path: &Path) -> serde_json::Value {
    let body = serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "repository": { "clone_url": format!("file://{}", path.display()), "default_branch": "main" }
    }))
    .unwrap();
    let answer = post(
        &server.url("/hooks/github"),
        &[
            ("content-type", "application/json"),
            ("x-github-event", "push"),
            ("x-hub-signature-256", &signature(&body)),
        ],
        &body,
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    answer.json()
}

/// A replica: its own data folder (mirrors), the shared database, a 2 s lease, no schedule.
fn replica(database_url: &str, data: &Path, environment: &[(&str, &str)]) -> RunningServer {
    let mut all = vec![("SEXTANT_GITHUB_SECRET", SECRET), ("SEXTANT_TOKEN", TOKEN), ("RUST_LOG", "warn")];
    all.extend_from_slice(environment);
    RunningServer::serve(database_url, data, &["--crawl-interval", "0", "--job-lease", "2"], &all)
}

/// Waits (at most `limit`) until `done` says so, reporting the jobs table otherwise.
async fn wait_until(store: &Store, limit: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        if Instant::now() > deadline {
            let jobs: Vec<(i64, String, String, String, Option<String>, i32)> =
                sqlx::query_as("SELECT id, url, kind, state, outcome, attempts FROM jobs ORDER BY id")
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
            panic!("{what} within {limit:?}; jobs: {jobs:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The crawl jobs of one repository that overlapped in time (started before another ended).
async fn overlapping_jobs(store: &Store) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT a.id, b.id FROM jobs a JOIN jobs b ON a.url = b.url AND a.id < b.id
         WHERE a.started_at IS NOT NULL AND b.started_at IS NOT NULL
           AND a.started_at < coalesce(b.finished_at, now()) AND b.started_at < coalesce(a.finished_at, now())
           AND a.state = 'done' AND b.state = 'done'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushes_spread_over_three_replicas_are_crawled_once_per_repository() {
    let (store, url) = fresh_store().await;
    let repos: Vec<TestRepo> = (0..6).map(|_| TestRepo::new()).collect();
    for (index, repo) in repos.iter().enumerate() {
        repo.commit(
            &[("catalog-info.yaml", &component(&format!("service-{index}"), "team", &[]))],
            "first",
        );
    }
    let data: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let sources: Vec<_> = repos.iter().map(TestRepo::source).collect();
    crawl_into(&store, &sources, &data[0].path().join("mirrors")).await;
    let replicas: Vec<RunningServer> = data.iter().map(|folder| replica(&url, folder.path(), &[])).collect();

    for (index, repo) in repos.iter().enumerate() {
        repo.commit(
            &[("more/catalog-info.yaml", &component(&format!("added-{index}"), "team", &[]))],
            "second",
        );
    }
    // Each push is delivered to two replicas, as a retried delivery would be.
    let mut answers = Vec::new();
    for (index, repo) in repos.iter().enumerate() {
        answers.push(push(&replicas[index % 3], repo.path()));
        answers.push(push(&replicas[(index + 1) % 3], repo.path()));
    }
    for answer in &answers {
        assert_eq!(answer["code"], "queued", "{answer}");
    }
    let expected = 12;
    wait_until(&store, Duration::from_secs(60), "the pushes were not all crawled", async || {
        let finished: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state NOT IN ('done', 'failed')")
            .fetch_one(store.pool())
            .await
            .unwrap();
        entity_refs(&store).await.len() == expected && finished == 0
    })
    .await;

    // Each repository's new commit was applied by exactly one job; a second delivery was either
    // the same job or one after it that found the tip unchanged.
    let applied: Vec<(String, i64)> =
        sqlx::query_as("SELECT url, count(*) FILTER (WHERE outcome = 'applied') FROM jobs WHERE kind = 'crawl' GROUP BY url ORDER BY url")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(applied.len(), 6, "{applied:?}");
    assert!(applied.iter().all(|(_, count)| *count == 1), "{applied:?}");
    let outcomes: Vec<String> = sqlx::query_scalar("SELECT DISTINCT outcome FROM jobs ORDER BY outcome")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(
        outcomes.iter().all(|outcome| outcome == "applied" || outcome == "unchanged"),
        "{outcomes:?}"
    );
    assert!(overlapping_jobs(&store).await.is_empty(), "two jobs of one repository ran at once");
    drop(replicas);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_mid_crawl_leaves_its_jobs_to_the_others() {
    let (store, url) = fresh_store().await;
    // Enough repositories and files that the crawl takes a while.
    let repos: Vec<TestRepo> = (0..24).map(|_| TestRepo::new()).collect();
    for (index, repo) in repos.iter().enumerate() {
        let files: Vec<(String, String)> = (0..60)
            .map(|file| {
                (
                    format!("services/s{file}/catalog-info.yaml"),
                    component(&format!("repo{index}-service{file}"), "team", &[]),
                )
            })
            .collect();
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(path, text)| (path.as_str(), text.as_str())).collect();
        repo.commit(&borrowed, "services");
    }
    let expected = 24 * 60;
    // Every replica has the repositories in its configuration.
    let config: String = std::iter::once("repositories:\n".to_owned())
        .chain(repos.iter().map(|repo| format!("  - url: {}\n", repo.path().display())))
        .collect();
    let data: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for folder in &data {
        std::fs::write(folder.path().join("sextant.yaml"), &config).unwrap();
    }

    let mut victim = replica(&url, data[0].path(), &[]);
    let victim_pid = victim.child.id();
    let queued = graphql(
        &victim.base,
        "mutation { crawlAll { jobs { id } errors { code } } }",
        json!({}),
        Some(TOKEN),
    );
    assert_eq!(
        queued.json()["data"]["crawlAll"]["jobs"].as_array().map(Vec::len),
        Some(24),
        "{}",
        queued.body
    );
    // Kill it in the middle of its crawl: some repositories applied, others still running.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (running, entities): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE $1), (SELECT count(*) FROM entities)",
        )
        .bind(format!("%/{victim_pid}/%"))
        .fetch_one(store.pool())
        .await
        .unwrap();
        if running > 0 && entities > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the victim never was mid-crawl (running {running}, entities {entities})"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = victim.stop_with(libc::SIGKILL);
    assert!(!status.success());
    let orphaned: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'running'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(orphaned > 0, "the victim finished before it was killed: make its crawl longer");
    // Under load the kill can land after the victim applied its last repository but before it
    // marked those jobs done: the catalog is then complete, and the running jobs are still
    // orphans the survivors must take over, which is what this test is about.
    let entities_at_kill = entity_refs(&store).await.len();
    assert!(
        entities_at_kill > 0 && entities_at_kill <= expected,
        "{entities_at_kill} entities at the kill"
    );

    let survivors: Vec<RunningServer> = data[1..].iter().map(|folder| replica(&url, folder.path(), &[])).collect();
    wait_until(&store, Duration::from_secs(120), "the catalog was not completed", async || {
        let unfinished: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state NOT IN ('done', 'failed')")
            .fetch_one(store.pool())
            .await
            .unwrap();
        unfinished == 0 && entity_refs(&store).await.len() == expected
    })
    .await;
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'failed'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(failed, 0);
    let taken_over: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE attempts >= 2")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(taken_over, orphaned, "the jobs running at the kill, and only they, were taken over");
    let status: Vec<(String, String)> = sqlx::query_as("SELECT DISTINCT status, coalesce(error, '') FROM repos")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(status, vec![("ok".to_owned(), String::new())]);
    eprintln!("killed with {orphaned} running jobs and {entities_at_kill} of {expected} entities in the catalog");
    drop(survivors);
}
