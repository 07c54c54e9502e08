//! The container files kept in step with the code: the Dockerfile's command is one the CLI
//! accepts, docker-compose.yml wires health checks, start order and the variables sextant reads,
//! the mounted config parses, and the image's health check script tells 200 from anything else.
//! (Building and running the image itself is container/check.sh: it needs podman and root.)

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_yaml::Value;
use sextant::config::{Config, ServerConfig};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The JSON array of the Dockerfile instruction `keyword` (exec form), e.g. `CMD ["serve"]`.
fn dockerfile_exec_form(dockerfile: &str, keyword: &str) -> Vec<String> {
    let prefix = format!("{keyword} ");
    let line = dockerfile
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("the Dockerfile has no {keyword}"));
    serde_json::from_str(line[prefix.len()..].trim()).unwrap_or_else(|error| panic!("{keyword} is not in exec form: {error}"))
}

fn compose() -> Value {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).expect("docker-compose.yml");
    serde_yaml::from_str(&text).expect("docker-compose.yml is YAML")
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    let mut current = value;
    for key in path {
        current = &current[*key];
    }
    current
        .as_str()
        .unwrap_or_else(|| panic!("docker-compose.yml: no text at {}", path.join(".")))
}

/// The port in `--listen HOST:PORT` of the Dockerfile's command.
fn listen_port(command: &[String]) -> u16 {
    let position = command
        .iter()
        .position(|argument| argument == "--listen")
        .expect("CMD passes --listen");
    let address = command.get(position + 1).expect("--listen has a value");
    assert!(
        address.starts_with("0.0.0.0:"),
        "the image must listen on every interface, not {address}"
    );
    address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("--listen names a port")
}

#[test]
fn dockerfile_runs_serve_with_flags_the_cli_accepts() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    assert_eq!(dockerfile_exec_form(&dockerfile, "ENTRYPOINT"), ["sextant"]);
    let command = dockerfile_exec_form(&dockerfile, "CMD");
    assert_eq!(command.first().map(String::as_str), Some("serve"));
    let port = listen_port(&command);
    assert!(
        dockerfile.lines().any(|line| line == format!("EXPOSE {port}")),
        "EXPOSE {port} missing"
    );
    assert!(
        dockerfile
            .lines()
            .any(|line| line.starts_with("USER ") && !line.starts_with("USER root")),
        "a non-root USER"
    );
    assert!(dockerfile.lines().any(|line| line.starts_with("HEALTHCHECK ")), "a HEALTHCHECK");

    // clap rejects an unknown flag or a bad value before it reaches `--help`, so the command's
    // own arguments are checked without starting a server.
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(&command)
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "`sextant {}` is refused: {}",
        command.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["serve", "--no-such-flag", "--help"])
        .output()
        .expect("the binary runs");
    assert_eq!(
        refused.status.code(),
        Some(2),
        "an unknown flag before --help must still be refused"
    );
}

#[test]
fn compose_starts_sextant_after_healthy_postgres_and_meilisearch() {
    let compose = compose();
    let services = &compose["services"];
    for service in ["postgres", "meilisearch", "sextant"] {
        let test = services[service]["healthcheck"]["test"].as_sequence();
        assert!(test.is_some_and(|test| !test.is_empty()), "{service} needs a health check");
    }
    for dependency in ["postgres", "meilisearch"] {
        assert_eq!(
            text(services, &["sextant", "depends_on", dependency, "condition"]),
            "service_healthy"
        );
    }
    assert!(text(services, &["postgres", "image"]).starts_with("postgres:15"));
    assert!(text(services, &["meilisearch", "image"]).starts_with("getmeili/meilisearch:v1."));
    assert!(
        services["meilisearch"]["environment"]["MEILI_MASTER_KEY"].as_str().is_some(),
        "Meilisearch needs a master key"
    );

    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let port = listen_port(&dockerfile_exec_form(&dockerfile, "CMD"));
    let ports = services["sextant"]["ports"].as_sequence().expect("sextant publishes a port");
    assert!(
        ports
            .iter()
            .filter_map(Value::as_str)
            .any(|mapping| mapping.ends_with(&format!(":{port}"))),
        "the published port must be the one the image listens on ({port}): {ports:?}"
    );
}

#[test]
fn compose_passes_the_variables_sextant_reads() {
    let compose = compose();
    let environment = &compose["services"]["sextant"]["environment"];
    assert!(text(environment, &["DATABASE_URL"]).starts_with("postgres://sextant:"));
    assert!(text(environment, &["DATABASE_URL"]).contains("@postgres:5432/sextant"));
    assert_eq!(text(environment, &["MEILI_URL"]), "http://meilisearch:7700");
    assert!(environment["MEILI_MASTER_KEY"].as_str().is_some());
    let defaults = ServerConfig::default();
    for name in [
        &defaults.token_env,
        &defaults.github_secret_env,
        &defaults.gitlab_token_env,
        &defaults.bitbucket_secret_env,
    ] {
        assert!(
            environment[name.as_str()].as_str().is_some(),
            "docker-compose.yml does not pass {name}"
        );
    }
    // No secret has a default: compose refuses to start without it.
    for name in ["POSTGRES_PASSWORD", "MEILI_MASTER_KEY", "SEXTANT_TOKEN"] {
        let compose_text = std::fs::read_to_string(repo().join("docker-compose.yml")).expect("docker-compose.yml");
        assert!(
            compose_text.contains(&format!("${{{name}:?")),
            "{name} must be required (${{{name}:?...}})"
        );
    }

    // The mounted config is the one SEXTANT_CONFIG names, and sextant accepts it.
    let config_path = text(environment, &["SEXTANT_CONFIG"]);
    let volumes = compose["services"]["sextant"]["volumes"]
        .as_sequence()
        .expect("sextant mounts volumes");
    let mount = volumes
        .iter()
        .filter_map(Value::as_str)
        .find_map(|volume| {
            volume
                .strip_suffix(":ro")
                .unwrap_or(volume)
                .strip_suffix(&format!(":{config_path}"))
        })
        .expect("a volume mounts the file SEXTANT_CONFIG names");
    let config = Config::from_file(&repo().join(mount)).unwrap_or_else(|error| panic!("{mount}: {}", error.0));
    assert_eq!(config.server.crawl_interval, Some(Duration::from_secs(600)));
}

/// Serves one connection with `response`, and gives back the request it received.
fn answer_once(listener: TcpListener, response: &'static str) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("the health check connects");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut request = Vec::new();
        let mut buffer = [0_u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => request.extend_from_slice(&buffer[..read]),
            }
        }
        stream.write_all(response.as_bytes()).expect("write the response");
        String::from_utf8_lossy(&request).into_owned()
    })
}

fn run_healthcheck(port: u16) -> bool {
    let script: &Path = &repo().join("container/healthcheck");
    Command::new("bash")
        .arg(script)
        .arg(port.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("bash runs the health check")
        .success()
}

#[test]
fn healthcheck_script_passes_on_200_only() {
    for (response, healthy) in [
        ("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", true),
        ("HTTP/1.0 200 OK\r\n\r\n", true),
        ("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n", false),
        ("HTTP/1.1 2000 OK\r\n\r\n", false),
        ("garbage\r\n\r\n", false),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = answer_once(listener, response);
        assert_eq!(run_healthcheck(port), healthy, "response {response:?}");
        let request = server.join().expect("the server thread");
        assert!(
            request.starts_with("GET /healthz HTTP/1.1\r\n"),
            "the check asks for /healthz: {request:?}"
        );
    }
    // Nothing listening: unhealthy.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    assert!(!run_healthcheck(port));
}
