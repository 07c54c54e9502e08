//! What a crawl may reach and what it reads, as a user configures it: https tokens sent only to
//! the hosts they are configured for (checked against a real https server that records what it
//! receives), addresses no source may reach, descriptor globs, and relative paths stored as
//! absolute ones.

use std::path::Path;
use std::process::{Command, Output};

use sextant::crawler::{DescriptorMatcher, ReadOptions};
use sextant::ingest::{CrawlOptions, crawl};

use crate::db::{entity_refs, fresh_store};
use crate::git::{TestRepo, component, group};
use crate::https::RecordingServer;

/// Runs `sextant crawl` with only the variables given (besides the database and data folder);
/// returns the exit code and stdout + stderr.
fn sextant_crawl(args: &[&str], variables: &[(&str, &str)], database_url: &str, data: &Path) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
    command
        .arg("crawl")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SEXTANT_DATA_DIR", data)
        .current_dir(data);
    for name in ["SEXTANT_CONFIG", "SEXTANT_GIT_TOKEN", "SEXTANT_GIT_HOST", "SEXTANT_GIT_USERNAME"] {
        command.env_remove(name);
    }
    for (name, value) in variables {
        command.env(name, value);
    }
    let output: Output = command.output().expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// One crawl: the `credentials` entry of the file, the environment, and the credentials the
/// server must receive (`None`: none at all).
type Case = (String, Vec<(&'static str, String)>, Option<&'static str>);

#[tokio::test(flavor = "multi_thread")]
async fn a_token_is_sent_only_to_the_hosts_configured_for_it() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let server = RecordingServer::start(data.path());
    let port = server.port;
    let remote = format!("https://127.0.0.1:{port}/acme/payments.git");
    let cert = server.cert.to_string_lossy().into_owned();
    let config = data.path().join("sextant.yaml");
    let file_token = ("ACME_TOKEN", "s3cret-file-token");

    let cases: Vec<Case> = vec![
        // The file's credentials: another host, the right host on another port, the right one.
        ("- host: git.example.com\n    tokenEnv: ACME_TOKEN\n".to_owned(), vec![], None),
        (
            format!("- host: 127.0.0.1:{}\n    tokenEnv: ACME_TOKEN\n", port.wrapping_add(1)),
            vec![],
            None,
        ),
        (
            format!("- host: 127.0.0.1:{port}\n    tokenEnv: ACME_TOKEN\n    username: bot\n"),
            vec![],
            Some("bot:s3cret-file-token"),
        ),
        (
            "- host: 127.0.0.1\n    tokenEnv: ACME_TOKEN\n".to_owned(),
            vec![],
            Some("x-access-token:s3cret-file-token"),
        ),
        // The environment form.
        (
            String::new(),
            vec![
                ("SEXTANT_GIT_TOKEN", "s3cret-env-token".to_owned()),
                ("SEXTANT_GIT_HOST", "git.example.com".to_owned()),
            ],
            None,
        ),
        (
            String::new(),
            vec![
                ("SEXTANT_GIT_TOKEN", "s3cret-env-token".to_owned()),
                ("SEXTANT_GIT_HOST", format!("git.example.com, 127.0.0.1:{port}")),
            ],
            Some("x-access-token:s3cret-env-token"),
        ),
    ];
    for (credentials, environment, expected) in cases {
        let credentials = if credentials.is_empty() {
            String::new()
        } else {
            format!("credentials:\n  {credentials}")
        };
        std::fs::write(&config, format!("repositories:\n  - {remote}\n{credentials}")).unwrap();
        let mut variables: Vec<(&str, &str)> = vec![("SSL_CERT_FILE", &cert), file_token];
        variables.extend(environment.iter().map(|(name, value)| (*name, value.as_str())));
        let (code, text) = sextant_crawl(&["--config", "sextant.yaml"], &variables, &url, data.path());
        let case = format!("{credentials}{environment:?}");
        assert_eq!(code, Some(1), "{case}: the refused repository fails the crawl: {text}");
        assert!(text.contains("the server refused the credentials"), "{case}: {text}");
        assert!(!text.contains("s3cret"), "{case}: no token is printed: {text}");
        let requests = server.take_requests();
        assert!(!requests.is_empty(), "{case}: the server was asked");
        match expected {
            None => assert!(
                requests.iter().all(|received| received == "-"),
                "{case}: no token may reach this host: {requests:?}"
            ),
            Some(expected) => assert!(
                requests.iter().any(|received| received == expected),
                "{case}: the token for this host is sent: {requests:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_does_not_follow_a_redirect_to_another_host() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let target = RecordingServer::start(data.path());
    let redirector = RecordingServer::redirecting(data.path(), &format!("https://localhost:{}", target.port));
    let remote = format!("https://127.0.0.1:{}/acme/payments.git", redirector.port);
    let cert = target.cert.to_string_lossy().into_owned();
    for (host, reaches_target) in [("127.0.0.1", false), ("localhost", true)] {
        std::fs::write(
            data.path().join("sextant.yaml"),
            format!("repositories:\n  - {remote}\ncredentials:\n  - host: {host}\n    tokenEnv: ACME_TOKEN\n"),
        )
        .unwrap();
        let (code, text) = sextant_crawl(
            &[],
            &[("SSL_CERT_FILE", &cert), ("ACME_TOKEN", "s3cret-file-token")],
            &url,
            data.path(),
        );
        assert_eq!(code, Some(1), "{host}: {text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!redirector.take_requests().is_empty(), "{host}: the first server was asked");
        let requests = target.take_requests();
        assert!(!requests.is_empty(), "{host}: the redirect was followed");
        let received = requests.iter().any(|received| received == "x-access-token:s3cret-file-token");
        assert_eq!(
            received, reaches_target,
            "{host}: the token reaches the redirect's host only when configured for it: {requests:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_hosts_is_refused_before_anything_is_fetched() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let server = RecordingServer::start(data.path());
    let remote = format!("https://127.0.0.1:{}/acme/payments.git", server.port);
    let cert = server.cert.to_string_lossy().into_owned();

    let (code, text) = sextant_crawl(
        &["--repo", &remote],
        &[("SSL_CERT_FILE", &cert), ("SEXTANT_GIT_TOKEN", "s3cret-env-token")],
        &url,
        data.path(),
    );
    assert_eq!(code, Some(2), "a configuration error: {text}");
    assert!(text.contains("SEXTANT_GIT_TOKEN is set but SEXTANT_GIT_HOST is not"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");

    std::fs::write(
        data.path().join("sextant.yaml"),
        format!("repositories:\n  - {remote}\ncredentials:\n  - host: 127.0.0.1\n    tokenEnv: UNSET_TOKEN\n"),
    )
    .unwrap();
    let (code, text) = sextant_crawl(&[], &[("SSL_CERT_FILE", &cert)], &url, data.path());
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("sextant.yaml:4:5: the environment variable `UNSET_TOKEN`"),
        "the entry is named: {text}"
    );
    assert!(server.take_requests().is_empty(), "nothing was fetched");
}

#[tokio::test(flavor = "multi_thread")]
async fn addresses_no_source_may_reach_are_refused_without_showing_passwords() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    for (given, reason) in [
        ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("https://bot:s3cretpw@2852039166/x.git", "169.254.169.254"),
        ("https://[::ffff:169.254.169.254]/x.git", "cloud metadata"),
        ("https://metadata.google.internal/computeMetadata/v1/", "cloud metadata"),
        ("https://[fe80::1]/x.git", "link-local"),
        ("git:s3cretpw@git.example.com:org/x", "ambiguous"),
    ] {
        let (code, text) = sextant_crawl(&["--repo", given], &[], &url, data.path());
        assert_eq!(code, Some(2), "{given}: {text}");
        assert!(
            text.contains("refused repository source") && text.contains(reason),
            "{given}: {text}"
        );
        assert!(!text.contains("s3cretpw"), "{given}: the password is never shown: {text}");
    }
    std::fs::write(
        data.path().join("sextant.yaml"),
        "repositories:\n  - url: https://bot:s3cretpw@[fd00:ec2::254]/x.git\n",
    )
    .unwrap();
    let (code, text) = sextant_crawl(&[], &[], &url, data.path());
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("sextant.yaml:2:10: refused repository source `https://bot@[fd00:ec2::254]/x.git`"),
        "{text}"
    );
    assert!(!text.contains("s3cretpw"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn descriptor_globs_select_files_by_name_and_by_path() {
    let (store, _) = fresh_store().await;
    let mirrors = tempfile::tempdir().unwrap();
    let repo = TestRepo::new();
    repo.commit(
        &[
            ("catalog-info.yaml", &group("always-read", None)),
            ("catalog-info-payments.yaml", &component("payments", "group:always-read", &[])),
            (
                "services/billing/catalog-info-billing.yaml",
                &component("billing", "group:always-read", &[]),
            ),
            ("catalog/teams.yaml", &group("from-path", None)),
            ("catalog/deep/teams.yaml", &group("too-deep", None)),
            ("notes-catalog-info-x.yaml", &group("not-a-descriptor", None)),
            ("catalog-info-old.yml", &group("wrong-extension", None)),
        ],
        "descriptors under several names",
    );
    let mut read = ReadOptions::new(mirrors.path().to_path_buf());
    read.descriptors = DescriptorMatcher::new(&["catalog-info-*.yaml", "catalog/*.yaml"]).unwrap();
    let options = CrawlOptions::new(read);
    crawl(&store, &[repo.source()], &options, |_, _| {}).await.expect("the crawl runs");
    assert_eq!(
        entity_refs(&store).await,
        [
            "component:default/billing",
            "component:default/payments",
            "group:default/always-read",
            "group:default/from-path"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_descriptor_pattern_that_cannot_match_a_file_is_a_configuration_error() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("sextant.yaml"),
        "repositories:\n  - /srv/none\ncrawl:\n  descriptorPatterns:\n    - 'catalog-info-*.yaml'\n    - 'services/**'\n",
    )
    .unwrap();
    let (code, text) = sextant_crawl(&[], &[], &url, data.path());
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("sextant.yaml:6:7: descriptor pattern `services/**` ends with `**`"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn relative_repository_paths_are_stored_absolute() {
    let (store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let data_path = std::fs::canonicalize(data.path()).unwrap();
    for name in ["a", "b", "c/d"] {
        sextant::crawler::commit_files(
            &data_path.join("repos").join(name),
            &[(
                "catalog-info.yaml",
                Some(group(&format!("team-{}", name.replace('/', "-")), None).as_bytes()),
            )],
            "team",
        )
        .unwrap();
    }
    // From the command line: relative to the current folder.
    let (code, text) = sextant_crawl(&["--repo", "repos/a", "--dir", "repos/c"], &[], &url, data.path());
    assert_eq!(code, Some(0), "{text}");
    // From a config file in another folder: relative to the file.
    std::fs::write(data_path.join("repos/sextant.yaml"), "repositories:\n  - b\n  - ./a\n").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
    let output = command
        .args(["crawl", "--config"])
        .arg(data_path.join("repos/sextant.yaml"))
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .env_remove("SEXTANT_CONFIG")
        .current_dir(elsewhere.path())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));

    let mut urls: Vec<String> = sqlx::query_scalar("SELECT url FROM repos").fetch_all(store.pool()).await.unwrap();
    urls.sort();
    let expected: Vec<String> = ["a", "b", "c/d"]
        .iter()
        .map(|name| data_path.join("repos").join(name).to_string_lossy().into_owned())
        .collect();
    assert_eq!(urls, expected, "one repository per folder, each with its absolute path");
    assert_eq!(
        entity_refs(&store).await,
        ["group:default/team-a", "group:default/team-b", "group:default/team-c-d"]
    );
}
