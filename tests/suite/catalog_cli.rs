//! The catalog commands as a user runs them: `demo` from nothing, `show`, `problems` and
//! `crawl`, against a fresh test database given through `DATABASE_URL`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::db::fresh_store;
use crate::git::{TestRepo, component, group};

fn sextant(args: &[&str], database_url: &str, data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("SEXTANT_DATA_DIR", data_dir)
        .env_remove("SEXTANT_CONFIG")
        .current_dir(data_dir)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_builds_crawls_and_answers_show_and_problems() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let first = sextant(&["demo"], &url, data.path());
    let text = stdout(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&first.stderr));
    assert!(text.contains("built 13 example repositories"), "{text}");
    assert!(text.contains("13 crawled") && text.contains("0 failed"), "{text}");
    assert!(
        text.contains("conflict: component:default/checkout-widget is held by"),
        "conflicts are named in the crawl output: {text}"
    );

    let second = stdout(&sextant(&["demo"], &url, data.path()));
    assert!(second.contains("13 unchanged"), "the second run reads nothing again: {second}");

    let show = sextant(&["show", "component:booking-service", "--format", "json"], &url, data.path());
    assert_eq!(show.status.code(), Some(0));
    let entity: Value = serde_json::from_slice(&show.stdout).expect("JSON");
    assert_eq!(entity["ref"], "component:default/booking-service");
    assert_eq!(entity["ownerResolved"], "group:default/booking-team");
    let dependents: Vec<&str> = entity["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|dependent| dependent["entity_ref"].as_str().unwrap())
        .collect();
    assert!(
        dependents.contains(&"component:default/web-frontend"),
        "the frontend breaks when booking goes down: {dependents:?}"
    );
    let frontend = entity["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|dependent| dependent["entity_ref"] == "component:default/web-frontend")
        .unwrap();
    let path: Vec<&str> = frontend["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step.as_str().unwrap())
        .collect();
    assert_eq!(path.first(), Some(&"component:default/booking-service"));
    assert_eq!(path.last(), Some(&"component:default/web-frontend"));
    assert_eq!(
        path.len() as u64,
        frontend["depth"].as_u64().unwrap() + 1,
        "one step per level: {path:?}"
    );
    let human = stdout(&sextant(&["show", "booking-service"], &url, data.path()));
    assert!(human.contains("dependents (what breaks if this goes down)"), "{human}");

    let problems: Value = serde_json::from_slice(&sextant(&["problems", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    assert_eq!(problems["conflicts"].as_array().unwrap().len(), 1, "the duplicate-entity example");
    assert_eq!(problems["cycles"].as_array().unwrap().len(), 1, "the relation-cycle example");
    assert_eq!(problems["invalid_owners"].as_array().unwrap().len(), 1);
    assert_eq!(problems["duplicate_aliases"].as_array().unwrap().len(), 1);
    assert_eq!(
        problems["stale_repos"].as_array().unwrap().len(),
        1,
        "only the invalid repository: {}",
        problems["stale_repos"]
    );
    assert!(problems["invalid_files"].as_array().unwrap().len() >= 30);

    let missing = sextant(&["show", "component:no-such-thing"], &url, data.path());
    assert_eq!(missing.status.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn crawl_takes_repositories_from_the_config_file_and_flags() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &group("payments", None))], "teams");
    let services = TestRepo::new();
    services.commit(&[("catalog-info.yaml", &component("checkout", "payments", &[]))], "services");
    std::fs::write(
        data.path().join("sextant.yaml"),
        format!("repositories:\n  - url: {}\n    name: teams\n", teams.path().display()),
    )
    .unwrap();
    let output = sextant(
        &["crawl", "--repo", &services.path().to_string_lossy(), "--format", "json"],
        &url,
        data.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(summary["added"], 2);
    assert_eq!(summary["repositories"].as_array().unwrap().len(), 2);

    let refused = sextant(&["crawl", "--repo", "ext::sh -c 'touch /tmp/pwned'"], &url, data.path());
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refused repository source"));

    std::fs::remove_file(data.path().join("sextant.yaml")).unwrap();
    let nothing = sextant(&["crawl"], &url, data.path());
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no repositories to crawl"));
}

/// An https server on 127.0.0.1 that refuses every request with 401, with a certificate made
/// for the test and trusted through `SSL_CERT_FILE`.
struct RefusingServer {
    child: std::process::Child,
    port: u16,
    cert: std::path::PathBuf,
}

impl RefusingServer {
    fn start(dir: &Path) -> RefusingServer {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl runs");
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let script = r#"
import http.server, ssl, sys

class Refuse(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401)
        self.send_header('WWW-Authenticate', 'Basic realm="git"')
        self.send_header('Content-Length', '0')
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(('127.0.0.1', 0), Refuse)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&cert)
            .arg(&key)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("piped")), &mut line)
            .expect("the server prints its port");
        RefusingServer {
            child,
            port: line.trim().parse().expect("a port"),
            cert,
        }
    }
}

impl Drop for RefusingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_fail_the_repository_without_showing_the_token() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    let server = RefusingServer::start(data.path());
    let remote = format!("https://127.0.0.1:{}/acme/payments.git", server.port);
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["crawl", "--repo", &remote])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .env("SSL_CERT_FILE", &server.cert)
        .env("SEXTANT_GIT_TOKEN", "s3cret-token")
        .current_dir(data.path())
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "a failed repository fails the crawl: {text}");
    assert!(text.contains("the server refused the credentials"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let problems: Value = serde_json::from_slice(&sextant(&["problems", "--format", "json"], &url, data.path()).stdout).expect("JSON");
    assert_eq!(problems["stale_repos"][0]["repo"], remote);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_that_never_answers_times_out_and_the_crawl_ends() {
    let (_store, url) = fresh_store().await;
    let data = tempfile::tempdir().unwrap();
    // Accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let remote = format!("https://127.0.0.1:{port}/acme/silent.git");
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &group("payments", None))], "teams");
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args([
            "crawl",
            "--timeout",
            "2",
            "--repo",
            &remote,
            "--repo",
            &teams.path().to_string_lossy(),
            "--format",
            "json",
        ])
        .env("DATABASE_URL", &url)
        .env("SEXTANT_DATA_DIR", data.path())
        .current_dir(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // A regression must fail this test, not hang it.
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the crawl did not end within 60 s of a 2 s timeout");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    let elapsed = started.elapsed();
    drop(silent);
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(summary["repositories"][0]["outcome"], "failed");
    assert!(
        summary["repositories"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("longer than the per-repository limit"),
        "{summary}"
    );
    assert_eq!(
        summary["repositories"][1]["outcome"], "applied",
        "the other repository is not held up"
    );
    assert!(
        elapsed < std::time::Duration::from_secs(30),
        "the crawl ends soon after the timeout, took {elapsed:?}"
    );
}
