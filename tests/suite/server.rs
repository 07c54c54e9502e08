//! A real `sextant serve` process for the HTTP tests: started on a free loopback port against a
//! test database, its address read from its first line of output, killed when dropped; and a
//! small HTTP client (ureq) that never turns a status into an error.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `sextant serve` (or `demo`).
pub struct RunningServer {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// What the process printed before its URL (and after, once it stopped).
    pub output: String,
}

impl RunningServer {
    /// Starts `sextant ARGS` with `DATABASE_URL` and the data folder, plus `environment`, and
    /// waits (at most 60 s) for the line with its URL.
    pub fn start(args: &[&str], database_url: &str, data_dir: &Path, environment: &[(&str, &str)]) -> RunningServer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
        command
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("SEXTANT_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("SEXTANT_CONFIG")
            .env_remove("SEXTANT_TOKEN")
            .current_dir(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in environment {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut output = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok(line) => {
                    output.push_str(&line);
                    output.push('\n');
                    if let Some(start) = line.find("http://") {
                        let url = line[start..].trim();
                        let base = url.strip_suffix("/graphql").unwrap_or(url).trim_end_matches('/').to_owned();
                        // Keep draining the output so that the process never blocks on a full pipe.
                        std::thread::spawn(move || while receiver.recv().is_ok() {});
                        return RunningServer { child, base, output };
                    }
                }
                Err(_) => {
                    let exited = child.try_wait().ok().flatten();
                    let _ = child.kill();
                    let _ = child.wait();
                    match exited {
                        Some(status) => panic!("the server exited ({status}) before printing its URL; output:\n{output}"),
                        None => panic!("the server printed no URL within 60 s; output so far:\n{output}"),
                    }
                }
            }
        }
    }

    /// `sextant serve --listen 127.0.0.1:0 EXTRA...`
    pub fn serve(database_url: &str, data_dir: &Path, extra: &[&str], environment: &[(&str, &str)]) -> RunningServer {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        RunningServer::start(&args, database_url, data_dir, environment)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `signal` and waits (at most 30 s) for the process to end; its exit status.
    pub fn stop_with(&mut self, signal: i32) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not stop within 30 s of signal {signal}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status, content type and body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    /// The `extensions.code` of each GraphQL error.
    pub fn error_codes(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|error| error["extensions"]["code"].as_str().unwrap_or("<none>").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.expect("the server answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body,
    }
}

pub fn get(url: &str) -> Answer {
    answer(agent().get(url).call())
}

/// GETs `url` with `headers`.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.call())
}

/// POSTs `body` with `headers`.
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut request = agent().post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send(body))
}

/// A GraphQL query (with variables) as JSON, with an optional bearer token.
pub fn graphql(base: &str, query: &str, variables: Value, token: Option<&str>) -> Answer {
    let body = serde_json::to_vec(&serde_json::json!({ "query": query, "variables": variables })).unwrap();
    let bearer = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    post(&format!("{base}/graphql"), &headers, &body)
}
