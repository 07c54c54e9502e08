//! The processes the benchmark serves from: `sextant serve` (this same binary) on loopback over
//! the benchmark's database, and a Meilisearch server with a fresh database; plus the small HTTP
//! calls the phases make to them (GraphQL posts, page fetches).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::process::status_kib;

/// The bearer token the benchmark's server accepts for mutations.
pub const TOKEN: &str = "sextant-bench-token-0123456789abcdef";
const MEILI_KEY: &str = "sextant-bench-master-key-0123456789";
const MEILI_INDEX: &str = "sextant-bench";

/// A running `sextant serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
}

impl Server {
    /// Starts `sextant serve` on a free loopback port over `database_url`, Meilisearch when given.
    pub fn start(database_url: &str, data_dir: &Path, meili: Option<&Meili>) -> Result<Server, String> {
        let executable = std::env::current_exe().map_err(|error| format!("cannot find this program: {error}"))?;
        let mut command = Command::new(executable);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--crawl-interval", "0"])
            .env("DATABASE_URL", database_url)
            .env("SEXTANT_DATA_DIR", data_dir)
            .env("SEXTANT_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .env_remove("SEXTANT_CONFIG")
            .env_remove("MEILI_URL")
            .env_remove("MEILI_MASTER_KEY")
            .env_remove("MEILI_INDEX")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(meili) = meili {
            command
                .env("MEILI_URL", &meili.url)
                .env("MEILI_MASTER_KEY", MEILI_KEY)
                .env("MEILI_INDEX", MEILI_INDEX);
        }
        let mut child = command.spawn().map_err(|error| format!("cannot start sextant serve: {error}"))?;
        let stdout = child.stdout.take().ok_or("sextant serve has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(start) = line.find("http://") {
                        break line[start..].trim().trim_end_matches('/').trim_end_matches("/graphql").to_owned();
                    }
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err("sextant serve exited before printing its address".to_owned());
                }
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, base })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.base)
    }

    /// Peak resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        status_kib(self.pid(), "VmHWM:").unwrap_or(0) as f64 / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Meilisearch server on loopback with a fresh database, killed when dropped.
pub struct Meili {
    child: Child,
    pub url: String,
}

impl Meili {
    /// The Meilisearch binary: `given`, else `MEILI_BIN`, else `meilisearch` on PATH, else
    /// `../shared/bin/meilisearch` beside the repository.
    pub fn find_binary(given: Option<&Path>) -> Option<PathBuf> {
        if let Some(path) = given {
            return Some(path.to_path_buf());
        }
        if let Some(path) = std::env::var_os("MEILI_BIN") {
            return Some(PathBuf::from(path));
        }
        if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|folder| folder.join("meilisearch"))
                .find(|candidate| candidate.is_file())
        }) {
            return Some(found);
        }
        let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bin/meilisearch");
        beside.is_file().then_some(beside)
    }

    pub fn start(binary: &Path, folder: &Path) -> Result<Meili, String> {
        let _ = std::fs::remove_dir_all(folder);
        std::fs::create_dir_all(folder).map_err(|error| format!("cannot create {}: {error}", folder.display()))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("no free port: {error}"))?
            .port();
        let log = std::fs::File::create(folder.join("meilisearch.log")).map_err(|error| format!("meilisearch log: {error}"))?;
        let child = Command::new(binary)
            .arg("--db-path")
            .arg(folder.join("data.ms"))
            .arg("--dump-dir")
            .arg(folder.join("dumps"))
            .arg("--snapshot-dir")
            .arg(folder.join("snapshots"))
            .args([
                "--http-addr",
                &format!("127.0.0.1:{port}"),
                "--master-key",
                MEILI_KEY,
                "--no-analytics",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
        let meili = Meili {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while !get_text(&format!("{}/health", meili.url)).is_ok_and(|(_, body)| body.contains("available")) {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!("meilisearch did not start within 30 s (see {})", folder.display()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(meili)
    }

    /// The search configuration that selects this server (as `MEILI_URL` does for `serve`).
    pub fn config(&self) -> crate::search::SearchConfig {
        crate::search::SearchConfig {
            meilisearch: Some(crate::search::MeiliConfig {
                url: self.url.clone(),
                master_key: Some(crate::crawler::Secret::new(MEILI_KEY.to_owned())),
                index: MEILI_INDEX.to_owned(),
                task_timeout: crate::search::DEFAULT_TASK_TIMEOUT,
            }),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn peak_rss_mib(&self) -> f64 {
        status_kib(self.child.id(), "VmHWM:").unwrap_or(0) as f64 / 1024.0
    }
}

impl Drop for Meili {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/1.1 exchange on loopback with a plain blocking socket (the benchmark's own checks
/// and polls, not the load): status and body.
fn exchange(url: &str, method: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// is supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let mut stream = std::net::TcpStream::connect(authority).map_err(|error| format!("{url}: {error}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|error| format!("{url}: {error}"))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|error| format!("{url}: {error}"))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|error| format!("{url}: {error}"))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("{url}: no HTTP answer"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("{url}: no status"))?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    Ok((status, if chunked { dechunk(body) } else { body.to_owned() }))
}

/// The body of a chunked answer.
fn dechunk(mut body: &str) -> String {
    let mut text = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        text.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    text
}

/// GET: status and body.
pub fn get_text(url: &str) -> Result<(u16, String), String> {
    exchange(url, "GET", &[], &[])
}

/// Posts a GraphQL request (with the bench token); the answer's JSON.
pub fn graphql(endpoint: &str, query: &str, variables: serde_json::Value) -> Result<serde_json::Value, String> {
    let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
    let authorization = format!("Bearer {TOKEN}");
    let (status, text) = exchange(
        endpoint,
        "POST",
        &[("Content-Type", "application/json"), ("Authorization", &authorization)],
        body.as_bytes(),
    )?;
    let answer: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| format!("{endpoint} answered {status} with non-JSON ({error}): {text}"))?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "hello world");
    }
}
