//! Push hooks on a real Postgres: signatures and tokens (good, wrong, missing) for GitHub,
//! GitLab and Bitbucket, disabled hooks, unknown repositories and untracked branches (nothing
//! added), malformed payloads, and a push that leads to a crawl showing the new commit.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;
use sextant::crawler::{ReadOptions, Secret};
use sextant::ingest::CrawlOptions;
use sextant::jobs::hooks::{self, HookResponse, HookSecrets, Provider};
use sextant::jobs::{JobContext, JobSettings, Queue, work_once};
use sextant::store::{RepoKey, Store};

use crate::db::{entity_refs, fresh_store};
use crate::git::{TestRepo, component};

const GITHUB_SECRET: &str = "github-hook-secret";
const GITLAB_TOKEN: &str = "gitlab-hook-token";
const BITBUCKET_SECRET: &str = "bitbucket-hook-secret";

fn secrets() -> HookSecrets {
    HookSecrets {
        github: Some(Secret::new(GITHUB_SECRET.to_owned())),
        gitlab: Some(Secret::new(GITLAB_TOKEN.to_owned())),
        bitbucket: Some(Secret::new(BITBUCKET_SECRET.to_owned())),
    }
}

fn context(store: &Store, configured: Vec<sextant::crawler::Source>) -> JobContext {
    let settings = JobSettings::default();
    JobContext {
        queue: Queue::new(store.clone(), configured, &settings),
        crawl: CrawlOptions::new(ReadOptions::new(std::env::temp_dir().join("sextant-test-unused-mirrors"))),
        settings,
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

fn signature(secret: &str, body: &[u8]) -> String {
    let digest = hooks::hmac_sha256(secret.as_bytes(), body);
    format!("sha256={}", digest.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

fn github_push(url_field: &str, url: &str, reference: &str, default_branch: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": reference,
        "before": "0000000000000000000000000000000000000000",
        "after": "1111111111111111111111111111111111111111",
        "repository": { url_field: url, "default_branch": default_branch, "full_name": "acme/payments" },
        "pusher": { "name": "someone" }
    }))
    .unwrap()
}

fn gitlab_push(url: &str, reference: &str, default_branch: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object_kind": "push",
        "ref": reference,
        "project": { "git_ssh_url": url, "default_branch": default_branch, "path_with_namespace": "acme/payments" },
        "repository": { "name": "payments" }
    }))
    .unwrap()
}

fn bitbucket_push(href: &str, full_name: &str, branch: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "repository": { "full_name": full_name, "links": { "html": { "href": href } } },
        "push": { "changes": [ { "new": { "type": "branch", "name": branch }, "old": { "type": "branch", "name": branch } } ] }
    }))
    .unwrap()
}

/// A delivery signed (or carrying the token) as each provider does.
fn signed(provider: Provider, body: &[u8]) -> HeaderMap {
    match provider {
        Provider::GitHub => headers(&[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signature(GITHUB_SECRET, body))]),
        Provider::GitLab => headers(&[("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", GITLAB_TOKEN)]),
        Provider::Bitbucket => headers(&[
            ("X-Event-Key", "repo:push"),
            ("X-Hub-Signature", &signature(BITBUCKET_SECRET, body)),
        ]),
    }
}

async fn job_count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn repo_count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM repos")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

async fn register(store: &Store, url: &str, branch: Option<&str>) {
    let key = RepoKey {
        url: url.to_owned(),
        branch: branch.map(str::to_owned),
    };
    store.register_repos(&[key], &["payments".to_owned()]).await.unwrap();
}

fn assert_response(response: &HookResponse, status: u16, code: &str) {
    assert_eq!((response.status, response.code), (status, code), "{response:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_provider_accepts_a_good_signature_and_refuses_a_wrong_or_missing_one() {
    let (store, _) = fresh_store().await;
    register(&store, "https://github.com/acme/payments.git", None).await;
    register(&store, "https://gitlab.example.com/acme/payments.git", Some("main")).await;
    register(&store, "git@bitbucket.org:acme/payments.git", Some("main")).await;
    let context = context(&store, Vec::new());
    let queue = &context.queue;
    let deliveries = [
        (
            Provider::GitHub,
            github_push("clone_url", "https://github.com/acme/payments.git", "refs/heads/main", "main"),
            "X-Hub-Signature-256",
        ),
        (
            Provider::GitLab,
            gitlab_push("git@gitlab.example.com:acme/payments.git", "refs/heads/main", "main"),
            "X-Gitlab-Token",
        ),
        (
            Provider::Bitbucket,
            bitbucket_push("https://bitbucket.org/acme/payments", "acme/payments", "main"),
            "X-Hub-Signature",
        ),
    ];
    for (index, (provider, body, signature_header)) in deliveries.iter().enumerate() {
        let good = signed(*provider, body);

        let mut missing = good.clone();
        missing.remove(*signature_header);
        assert_response(
            &hooks::receive(*provider, &missing, body, &secrets(), queue).await,
            401,
            "bad-signature",
        );

        // One character off at the end, at the start, and a value of another length.
        let value = good.get(*signature_header).unwrap().to_str().unwrap().to_owned();
        let last = if value.ends_with('0') { '1' } else { '0' };
        let mut wrong_values = vec![
            format!("{}{last}", &value[..value.len() - 1]),
            "sha256=00".to_owned(),
            "x".to_owned(),
        ];
        if *provider != Provider::GitLab {
            wrong_values.push(value.replacen("sha256=", "sha1=", 1));
            // The right digest of a different body.
            wrong_values.push(signature(
                if *provider == Provider::GitHub {
                    GITHUB_SECRET
                } else {
                    BITBUCKET_SECRET
                },
                b"{}",
            ));
        }
        for wrong_value in wrong_values {
            let mut wrong = good.clone();
            wrong.insert(
                HeaderName::from_bytes(signature_header.as_bytes()).unwrap(),
                HeaderValue::from_str(&wrong_value).unwrap(),
            );
            let response = hooks::receive(*provider, &wrong, body, &secrets(), queue).await;
            assert_response(&response, 401, "bad-signature");
        }
        // The body changed after signing (GitHub and Bitbucket sign the body).
        if *provider != Provider::GitLab {
            let mut tampered = body.clone();
            tampered.push(b' ');
            assert_response(
                &hooks::receive(*provider, &good, &tampered, &secrets(), queue).await,
                401,
                "bad-signature",
            );
        }
        assert_eq!(job_count(&store).await, index as i64, "nothing is queued before a good delivery");

        let response = hooks::receive(*provider, &good, body, &secrets(), queue).await;
        assert_response(&response, 202, "queued");
        assert_eq!(response.job_ids.len(), 1);
        // Delivered again (or to another replica): the same job.
        let again = hooks::receive(*provider, &good, body, &secrets(), queue).await;
        assert_eq!(again.job_ids, response.job_ids);
    }
    assert_eq!(job_count(&store).await, 3);
    assert_eq!(repo_count(&store).await, 3);

    // Without a secret the hook is disabled, signed or not.
    let (provider, body, _) = &deliveries[0];
    let disabled = HookSecrets { github: None, ..secrets() };
    assert_response(
        &hooks::receive(*provider, &signed(*provider, body), body, &disabled, queue).await,
        404,
        "hook-disabled",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_repositories_and_untracked_branches_add_nothing() {
    let (store, _) = fresh_store().await;
    register(&store, "https://github.com/acme/payments.git", Some("main")).await;
    register(&store, "https://github.com/acme/ledger", None).await;
    let context = context(&store, Vec::new());
    let queue = &context.queue;
    let deliver = |body: Vec<u8>| {
        let headers = signed(Provider::GitHub, &body);
        async move { hooks::receive(Provider::GitHub, &headers, &body, &secrets(), queue).await }
    };

    let unknown = deliver(github_push(
        "clone_url",
        "https://github.com/acme/unknown.git",
        "refs/heads/main",
        "main",
    ))
    .await;
    assert_response(&unknown, 202, "unknown-repository");
    let other_host = deliver(github_push(
        "clone_url",
        "https://gitlab.com/acme/payments.git",
        "refs/heads/main",
        "main",
    ))
    .await;
    assert_response(&other_host, 202, "unknown-repository");
    // A branch that is not the one tracked.
    let dev = deliver(github_push(
        "clone_url",
        "https://github.com/acme/payments.git",
        "refs/heads/dev",
        "main",
    ))
    .await;
    assert_response(&dev, 202, "branch-not-tracked");
    // A repository that follows HEAD: only pushes to its default branch count.
    let feature = deliver(github_push(
        "ssh_url",
        "git@github.com:acme/ledger.git",
        "refs/heads/feature",
        "trunk",
    ))
    .await;
    assert_response(&feature, 202, "branch-not-tracked");
    let tag = deliver(github_push(
        "clone_url",
        "https://github.com/acme/payments.git",
        "refs/tags/v1.0",
        "main",
    ))
    .await;
    assert_response(&tag, 202, "ignored");
    assert_eq!(job_count(&store).await, 0);
    assert_eq!(repo_count(&store).await, 2, "no repository was added");

    // The forms of a known URL all match (ssh, html page, other case).
    let trunk = deliver(github_push(
        "ssh_url",
        "git@github.com:Acme/Ledger.git",
        "refs/heads/trunk",
        "trunk",
    ))
    .await;
    assert_response(&trunk, 202, "queued");
    let main = deliver(github_push(
        "html_url",
        "https://github.com/acme/payments",
        "refs/heads/main",
        "main",
    ))
    .await;
    assert_response(&main, 202, "queued");
    let queued: Vec<(String, Option<String>)> = sqlx::query_as("SELECT url, branch FROM jobs ORDER BY url")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(
        queued,
        vec![
            ("https://github.com/acme/ledger".to_owned(), None),
            ("https://github.com/acme/payments.git".to_owned(), Some("main".to_owned()))
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_payloads_pings_and_other_events() {
    let (store, _) = fresh_store().await;
    register(&store, "https://github.com/acme/payments.git", None).await;
    let context = context(&store, Vec::new());
    let queue = &context.queue;
    for body in [
        &b"{not json"[..],
        b"[]",
        b"{}",
        br#"{"ref": "refs/heads/main"}"#,
        br#"{"ref": 5, "repository": {}}"#,
        b"",
    ] {
        for provider in [Provider::GitHub, Provider::GitLab, Provider::Bitbucket] {
            let response = hooks::receive(provider, &signed(provider, body), body, &secrets(), queue).await;
            assert_response(&response, 400, "bad-payload");
        }
    }
    // A push that names no URL at all.
    let body = br#"{"ref": "refs/heads/main", "repository": {"default_branch": "main"}}"#;
    assert_response(
        &hooks::receive(Provider::GitHub, &signed(Provider::GitHub, body), body, &secrets(), queue).await,
        400,
        "bad-payload",
    );

    let body = br#"{"zen": "Keep it logically awesome.", "hook_id": 1}"#;
    let ping = headers(&[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &signature(GITHUB_SECRET, body))]);
    assert_response(&hooks::receive(Provider::GitHub, &ping, body, &secrets(), queue).await, 200, "pong");
    // A ping with a bad signature is refused like any delivery.
    let bad_ping = headers(&[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &signature("wrong", body))]);
    assert_response(
        &hooks::receive(Provider::GitHub, &bad_ping, body, &secrets(), queue).await,
        401,
        "bad-signature",
    );
    let issues = headers(&[
        ("X-GitHub-Event", "issues"),
        ("X-Hub-Signature-256", &signature(GITHUB_SECRET, body)),
    ]);
    assert_response(
        &hooks::receive(Provider::GitHub, &issues, body, &secrets(), queue).await,
        202,
        "ignored",
    );
    let merge = headers(&[("X-Gitlab-Event", "Merge Request Hook"), ("X-Gitlab-Token", GITLAB_TOKEN)]);
    assert_response(
        &hooks::receive(Provider::GitLab, &merge, body, &secrets(), queue).await,
        202,
        "ignored",
    );
    assert_eq!(job_count(&store).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_leads_to_a_crawl_that_shows_the_new_commit() {
    let (store, _) = fresh_store().await;
    let repo = TestRepo::new();
    repo.commit(&[("catalog-info.yaml", &component("billing", "payments", &[]))], "first");
    let context = context(&store, vec![repo.source()]);
    context.queue.crawl_all(sextant::store::JobTrigger::Schedule).await.unwrap();
    work_once(&context).await.unwrap();
    assert_eq!(entity_refs(&store).await, vec!["component:default/billing"]);

    repo.commit(&[("ledger/catalog-info.yaml", &component("ledger", "payments", &[]))], "second");
    // A local repository's address is its path (a `file://` URL names it too).
    let url = format!("file://{}/", repo.path().display());
    for (provider, body) in [
        (Provider::GitHub, github_push("clone_url", &url, "refs/heads/main", "main")),
        (Provider::GitLab, gitlab_push(&url, "refs/heads/main", "main")),
    ] {
        let response = hooks::receive(provider, &signed(provider, &body), &body, &secrets(), &context.queue).await;
        assert_response(&response, 202, "queued");
    }
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'queued'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(jobs, 1, "two deliveries of one push, one job");
    let report = tokio::time::timeout(Duration::from_secs(30), work_once(&context))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.done, 1, "{report:?}");
    assert_eq!(
        entity_refs(&store).await,
        vec!["component:default/billing", "component:default/ledger"]
    );
}
