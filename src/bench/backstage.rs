//! Backstage in `sextant bench`: runs the Node harnesses in `bench/` on the same files and the
//! same PostgreSQL cluster as sextant, and measures them. `run_catalog` starts Backstage's
//! catalog backend (`bench/backstage-catalog/backend.mjs`) on the organisation's files and times
//! it until every entity is queryable through its REST API, with the CPU of Node and of the
//! cluster, Node's peak memory, and how long a one-line edit takes to show (default schedule,
//! then an explicit refresh). `run_validator` runs Backstage's own validator
//! (`bench/backstage-validator/validate.mjs`) on the descriptor files.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::process::{status_kib, tree_cpu_seconds};

/// The oldest Node major version the harnesses run on (the catalog backend needs 20).
const MIN_NODE_MAJOR: u32 = 20;
/// How often the REST API is polled while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long one REST request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long Node gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The kinds counted as the organisation's entities (every kind the harness allows except
/// Location: the harness's own location and the files' locations are not the organisation's).
const COUNTED_KINDS: [&str; 7] = ["component", "api", "resource", "system", "group", "user", "domain"];

/// Figures of Backstage's catalog ingesting an organisation from files.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogRun {
    /// The Backstage-format entities in the files (the plan's figure).
    pub entities_expected: usize,
    /// Entities of the counted kinds seen through REST when the wait ended.
    pub entities_queryable: usize,
    /// Whether every expected entity became queryable within the plan's timeout; when not, the
    /// figures below are those at the timeout and the edits were not tried.
    pub queryable_complete: bool,
    /// From the backend process's start until every expected entity is queryable through REST
    /// (or until the timeout).
    pub queryable_seconds: f64,
    /// The Node process's user and system CPU, with its reaped children, over that time.
    pub node_cpu_seconds: f64,
    /// The cluster's CPU over that time: the postmaster's own and reaped children's, plus its
    /// live children's (backends, background workers).
    pub postgres_cpu_seconds: f64,
    /// Node's peak resident memory (VmHWM) when every entity was queryable.
    pub node_peak_rss_bytes: u64,
    /// Node's peak resident memory at the end of the run, after the edits (the refresh
    /// re-reads every file).
    pub node_peak_rss_end_bytes: u64,
    /// A one-line edit of the edited file's `description:`: seconds until the new text shows
    /// through REST with Backstage's default processing schedule; `None` when it did not show
    /// within `edit_default_timeout_seconds`.
    pub edit_default_seconds: Option<f64>,
    pub edit_default_timeout_seconds: f64,
    /// A second edit, then `POST /api/catalog/refresh` for the edited entity (what the entity
    /// page's refresh button does): seconds until it shows; `None` on timeout.
    pub edit_refresh_seconds: Option<f64>,
    pub edit_refresh_timeout_seconds: f64,
    /// Node's and the Backstage packages' versions, e.g.
    /// `node v20.20.2, @backstage/backend-defaults 0.19.0, @backstage/plugin-catalog-backend 4.0.5`.
    pub versions: String,
    /// The backend's log (its standard output and error).
    pub log_file: PathBuf,
}

/// What `run_catalog` runs Backstage on.
#[derive(Debug, Clone)]
pub struct CatalogPlan<'a> {
    /// The harness folder, `bench/backstage-catalog`.
    pub harness: &'a Path,
    /// A folder of repository folders, each holding its descriptor: `<files>/<repo>/catalog-info.yaml`
    /// (Backstage reads those through one `file` location with the glob
    /// `<files>/*/catalog-info.yaml`; other files such as `compass.yml` are not read).
    pub files: &'a Path,
    /// The PostgreSQL cluster's socket folder and port (`sextant::pg::Cluster::socket_dir()`
    /// and `.port`); Backstage connects as `postgres` without a password.
    pub socket_dir: &'a Path,
    pub port: u16,
    /// The catalog's database in that cluster. It is dropped, when present, before the backend
    /// starts (Backstage then creates it), so that every run ingests from empty.
    pub database: &'a str,
    /// The Backstage-format entities in the files, Locations excepted.
    pub expected_entities: usize,
    /// A descriptor file under `files` to edit: its first `description:` line is rewritten
    /// (and the file's original text is put back at the end of the run).
    pub edit_file: &'a Path,
    /// The entity whose description that line is: (kind, namespace, name), e.g.
    /// `("component", "default", "service-1")`.
    pub edit_entity: (String, String, String),
    /// How long to wait until every entity is queryable.
    pub queryable_timeout: Duration,
    /// How long to wait for each edit to show.
    pub edit_timeout: Duration,
}

/// Figures of Backstage's own validator (`@backstage/catalog-model`) on the descriptor files.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatorRun {
    pub files: usize,
    pub documents: usize,
    pub valid_documents: usize,
    pub passes: usize,
    pub best_files_per_second: f64,
    pub median_files_per_second: f64,
    /// The first pass (cold JIT, schemas compiled on first use): a one-shot run's view.
    pub first_pass_files_per_second: f64,
    /// Whether the run was pinned to one core with `taskset -c 0`.
    pub pinned_to_one_core: bool,
    /// Node's and `@backstage/catalog-model`'s versions.
    pub versions: String,
}

/// Whether Node (version 20 or later) can be run.
pub fn node_available() -> bool {
    node_version().is_some_and(|version| {
        version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|major| major.parse::<u32>().ok())
            .is_some_and(|major| major >= MIN_NODE_MAJOR)
    })
}

fn node_version() -> Option<String> {
    let output = Command::new("node").arg("--version").stdin(Stdio::null()).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Runs `npm ci` in the harness when its `node_modules` is missing or older than its
/// `package-lock.json` (it says so on stderr; npm's own output goes to stderr too).
pub fn prepare(harness: &Path) -> Result<(), String> {
    let lock = harness.join("package-lock.json");
    let lock_time = fs::metadata(&lock)
        .and_then(|metadata| metadata.modified())
        .map_err(|error| format!("cannot read {}: {error}", lock.display()))?;
    // npm writes node_modules/.package-lock.json on every install.
    let installed = harness.join("node_modules").join(".package-lock.json");
    let fresh = fs::metadata(&installed)
        .and_then(|metadata| metadata.modified())
        .is_ok_and(|installed_time| installed_time >= lock_time);
    if fresh {
        return Ok(());
    }
    eprintln!(
        "sextant bench: installing the Backstage harness's packages (npm ci in {})",
        harness.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(harness)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .map_err(|error| format!("cannot run npm in {}: {error}", harness.display()))?;
    if !status.success() {
        return Err(format!("`npm ci` in {} failed ({status})", harness.display()));
    }
    Ok(())
}

/// `[taskset -c 0] node validate.mjs --json --repeat N FILES` in the validator's harness
/// (`bench/backstage-validator`), after `prepare`; `taskset` only when it is installed.
pub fn run_validator(harness: &Path, files: &Path, repeat: usize) -> Result<ValidatorRun, String> {
    prepare(harness)?;
    let pinned = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let mut command = if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", "0", "node"]);
        command
    } else {
        Command::new("node")
    };
    command
        .arg("validate.mjs")
        .arg("--json")
        .arg("--repeat")
        .arg(repeat.max(1).to_string())
        .arg(files)
        .current_dir(harness)
        .stdin(Stdio::null());
    let output = command
        .output()
        .map_err(|error| format!("cannot run node in {}: {error}", harness.display()))?;
    if !output.status.success() {
        return Err(format!(
            "validate.mjs failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .ok_or_else(|| format!("validate.mjs printed no JSON summary: {}", stdout.trim()))?;
    let summary: serde_json::Value =
        serde_json::from_str(line).map_err(|error| format!("validate.mjs's summary is not JSON ({error}): {line}"))?;
    let number = |key: &str| {
        summary
            .get(key)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| format!("validate.mjs's summary has no number `{key}`: {line}"))
    };
    let files_count = number("files")? as usize;
    let first_ms = number("firstMs")?;
    let node = summary.get("node").and_then(serde_json::Value::as_str).unwrap_or("node ?");
    let catalog_model = summary.get("catalogModel").and_then(serde_json::Value::as_str).unwrap_or("?");
    Ok(ValidatorRun {
        files: files_count,
        documents: number("documents")? as usize,
        valid_documents: number("valid")? as usize,
        passes: number("repeat")? as usize,
        best_files_per_second: number("bestFilesPerSec")?,
        median_files_per_second: number("medianFilesPerSec")?,
        first_pass_files_per_second: if first_ms > 0.0 {
            files_count as f64 / (first_ms / 1000.0)
        } else {
            0.0
        },
        pinned_to_one_core: pinned,
        versions: format!("node {node}, @backstage/catalog-model {catalog_model}"),
    })
}

/// Starts Backstage's catalog backend on the plan's files and measures it (see `CatalogRun`).
/// The backend is stopped at the end, and on error.
pub fn run_catalog(plan: &CatalogPlan) -> Result<CatalogRun, String> {
    prepare(plan.harness)?;
    let files = fs::canonicalize(plan.files).map_err(|error| format!("cannot find {}: {error}", plan.files.display()))?;
    let original_edit_text =
        fs::read_to_string(plan.edit_file).map_err(|error| format!("cannot read {}: {error}", plan.edit_file.display()))?;
    rewrite_description(&original_edit_text, "check").map_err(|error| format!("{}: {error}", plan.edit_file.display()))?;
    let versions = catalog_versions(plan.harness);
    drop_database(plan.socket_dir, plan.port, plan.database)?;
    let postmaster = postmaster_pid(plan.socket_dir, plan.port)?;
    let http_port = free_port()?;
    let log_file = std::env::temp_dir().join(format!("sextant-bench-backstage-{}-{http_port}.log", std::process::id()));
    let log = fs::File::create(&log_file).map_err(|error| format!("cannot create {}: {error}", log_file.display()))?;
    let log_copy = log
        .try_clone()
        .map_err(|error| format!("cannot share {}: {error}", log_file.display()))?;
    let target = files.join("*").join("catalog-info.yaml");

    let postgres_cpu_before = tree_cpu_seconds(postmaster);
    let started = Instant::now();
    let child = Command::new("node")
        .arg("backend.mjs")
        .current_dir(plan.harness)
        .env("BACKSTAGE_BENCH_PORT", http_port.to_string())
        .env("BACKSTAGE_BENCH_PG_HOST", plan.socket_dir)
        .env("BACKSTAGE_BENCH_PG_PORT", plan.port.to_string())
        .env("BACKSTAGE_BENCH_PG_USER", "postgres")
        .env("BACKSTAGE_BENCH_DATABASE", plan.database)
        .env("BACKSTAGE_BENCH_TARGET", &target)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_copy)
        .spawn()
        .map_err(|error| format!("cannot start node in {}: {error}", plan.harness.display()))?;
    let mut backend = Backend { child };
    let restore = RestoreFile {
        path: plan.edit_file,
        text: &original_edit_text,
    };
    let with_log = |error: String| format!("{error} (backend log: {})", log_file.display());

    let address = SocketAddr::from(([127, 0, 0, 1], http_port));
    let count_path = format!(
        "/api/catalog/entities/by-query?limit=1&filter={}",
        COUNTED_KINDS
            .iter()
            .map(|kind| format!("kind={kind}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut queryable = 0;
    let mut complete = false;
    loop {
        backend.check_running().map_err(with_log)?;
        // Until the backend listens, or while the catalog plugin starts, requests fail: keep polling.
        if let Ok(count) = total_items(address, &count_path) {
            queryable = count;
            if count >= plan.expected_entities {
                complete = true;
                break;
            }
        }
        if started.elapsed() >= plan.queryable_timeout {
            break;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    let queryable_seconds = started.elapsed().as_secs_f64();
    let node_cpu_seconds = tree_cpu_seconds(backend.pid());
    let postgres_cpu_seconds = (tree_cpu_seconds(postmaster) - postgres_cpu_before).max(0.0);
    let node_peak_rss_bytes = peak_rss_bytes(backend.pid()).map_err(with_log)?;

    let edit_default_timeout_seconds = plan.edit_timeout.as_secs_f64();
    let mut edit_default_seconds = None;
    let mut edit_refresh_seconds = None;
    if complete {
        let (kind, namespace, name) = &plan.edit_entity;
        let entity_path = format!("/api/catalog/entities/by-name/{kind}/{namespace}/{name}");
        let entity_ref = format!("{kind}:{namespace}/{name}");

        let description = edit_marker("default schedule");
        write_edit(plan.edit_file, &original_edit_text, &description)?;
        let edited = Instant::now();
        edit_default_seconds =
            wait_for_description(&mut backend, address, &entity_path, &description, edited, plan.edit_timeout).map_err(with_log)?;

        let description = edit_marker("refresh");
        write_edit(plan.edit_file, &original_edit_text, &description)?;
        let refreshed = Instant::now();
        let body = serde_json::json!({ "entityRef": entity_ref }).to_string();
        let (status, answer) = http_request(address, "POST", "/api/catalog/refresh", Some(&body)).map_err(with_log)?;
        if !(200..300).contains(&status) {
            return Err(with_log(format!(
                "POST /api/catalog/refresh for {entity_ref} answered {status}: {answer}"
            )));
        }
        edit_refresh_seconds =
            wait_for_description(&mut backend, address, &entity_path, &description, refreshed, plan.edit_timeout).map_err(with_log)?;
    }
    let node_peak_rss_end_bytes = peak_rss_bytes(backend.pid()).map_err(with_log)?;
    backend.stop();
    drop(restore);

    Ok(CatalogRun {
        entities_expected: plan.expected_entities,
        entities_queryable: queryable,
        queryable_complete: complete,
        queryable_seconds,
        node_cpu_seconds,
        postgres_cpu_seconds,
        node_peak_rss_bytes,
        node_peak_rss_end_bytes,
        edit_default_seconds,
        edit_default_timeout_seconds,
        edit_refresh_seconds,
        edit_refresh_timeout_seconds: plan.edit_timeout.as_secs_f64(),
        versions,
        log_file,
    })
}

/// The backend's process; stopped (SIGTERM, then SIGKILL after a grace period) when dropped.
struct Backend {
    child: Child,
}

impl Backend {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error when the process has ended.
    fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the Backstage backend ended early ({status})")),
            Err(error) => Err(format!("cannot check on the Backstage backend: {error}")),
        }
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Puts a file's original text back when dropped.
struct RestoreFile<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Drop for RestoreFile<'_> {
    fn drop(&mut self) {
        let _ = write_atomically(self.path, self.text);
    }
}

/// Polls the entity until its description is `description`: the seconds since `started`, or
/// `None` once `timeout` has passed since then.
fn wait_for_description(
    backend: &mut Backend,
    address: SocketAddr,
    entity_path: &str,
    description: &str,
    started: Instant,
    timeout: Duration,
) -> Result<Option<f64>, String> {
    loop {
        backend.check_running()?;
        if let Ok((200, body)) = http_request(address, "GET", entity_path, None) {
            let entity: serde_json::Value =
                serde_json::from_str(&body).map_err(|error| format!("GET {entity_path} answered with no JSON ({error})"))?;
            if entity.pointer("/metadata/description").and_then(serde_json::Value::as_str) == Some(description) {
                return Ok(Some(started.elapsed().as_secs_f64()));
            }
        }
        if started.elapsed() >= timeout {
            return Ok(None);
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// A description that no earlier run wrote.
fn edit_marker(what: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    format!("Edited for the Backstage bench ({what}, {nanos}).")
}

fn write_edit(path: &Path, original: &str, description: &str) -> Result<(), String> {
    let text = rewrite_description(original, description).map_err(|error| format!("{}: {error}", path.display()))?;
    write_atomically(path, &text)
}

/// The text with its first `description:` line's value replaced (indentation kept).
fn rewrite_description(text: &str, description: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + description.len());
    let mut done = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if !done && trimmed.starts_with("description:") {
            let indent = &line[..line.len() - trimmed.len()];
            let _ = writeln!(out, "{indent}description: {description}");
            done = true;
        } else {
            out.push_str(line);
        }
    }
    if done {
        Ok(out)
    } else {
        Err("no `description:` line to edit".to_string())
    }
}

/// Writes through a temporary file and a rename, so that a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".sextant-bench-edit");
    let temporary = PathBuf::from(temporary);
    fs::write(&temporary, text).map_err(|error| format!("cannot write {}: {error}", temporary.display()))?;
    fs::rename(&temporary, path).map_err(|error| format!("cannot replace {}: {error}", path.display()))
}

/// `totalItems` of a `by-query` answer.
fn total_items(address: SocketAddr, path: &str) -> Result<usize, String> {
    let (status, body) = http_request(address, "GET", path, None)?;
    if status != 200 {
        return Err(format!("GET {path} answered {status}"));
    }
    let answer: serde_json::Value = serde_json::from_str(&body).map_err(|error| format!("GET {path}: no JSON ({error})"))?;
    answer
        .get("totalItems")
        .and_then(serde_json::Value::as_u64)
        .map(|total| total as usize)
        .ok_or_else(|| format!("GET {path}: no totalItems in {body}"))
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`): the status and the body.
fn http_request(address: SocketAddr, method: &str, path: &str, json_body: Option<&str>) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect_timeout(&address, REQUEST_TIMEOUT).map_err(|error| format!("cannot connect to {address}: {error}"))?;
    stream
        .set_read_timeout(Some(REQUEST_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(REQUEST_TIMEOUT)))
        .map_err(|error| format!("cannot set timeouts: {error}"))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAccept: application/json\r\n");
    let body = json_body.unwrap_or("");
    if json_body.is_some() {
        let _ = write!(request, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .map_err(|error| format!("{method} {path}: cannot send: {error}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|error| format!("{method} {path}: cannot read the answer: {error}"))?;
    parse_response(&answer).map_err(|error| format!("{method} {path}: {error}"))
}

fn parse_response(answer: &[u8]) -> Result<(u16, String), String> {
    let split = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let body = &answer[split + 4..];
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("no status line in {head:?}"))?;
    let chunked = lines.any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.starts_with("transfer-encoding:") && lower.contains("chunked")
    });
    let body = if chunked { dechunk(body)? } else { body.to_vec() };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    loop {
        let line_end = body
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("a chunk has no size line")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|error| format!("bad chunk size {size_text:?}: {error}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size {
            return Err("a chunk is cut short".to_string());
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or(&[]);
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(|error| format!("cannot find a free port: {error}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| format!("cannot find a free port: {error}"))
}

/// Drops a database of the cluster when present (from a thread of its own, so that this works
/// inside or outside an async runtime).
fn drop_database(socket_dir: &Path, port: u16, database: &str) -> Result<(), String> {
    use sqlx::Connection as _;
    let url = format!(
        "postgres://postgres@localhost:{port}/postgres?host={}",
        percent_encode(&socket_dir.to_string_lossy())
    );
    let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", database.replace('"', "\"\""));
    let worker = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start a runtime: {error}"))?;
        runtime.block_on(async {
            let mut connection = sqlx::PgConnection::connect(&url)
                .await
                .map_err(|error| format!("cannot connect to {url}: {error}"))?;
            sqlx::query(&statement)
                .execute(&mut connection)
                .await
                .map_err(|error| format!("{statement}: {error}"))?;
            connection.close().await.map_err(|error| format!("closing {url}: {error}"))
        })
    });
    worker
        .join()
        .map_err(|_| "the thread dropping Backstage's database panicked".to_string())?
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Node's version and the harness's Backstage packages' versions.
fn catalog_versions(harness: &Path) -> String {
    let package_version = |name: &str| {
        let path = harness.join("node_modules").join(name).join("package.json");
        fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|package| package.get("version").and_then(serde_json::Value::as_str).map(str::to_string))
            .unwrap_or_else(|| "?".to_string())
    };
    format!(
        "node {}, @backstage/backend-defaults {}, @backstage/plugin-catalog-backend {}",
        node_version().unwrap_or_else(|| "?".to_string()),
        package_version("@backstage/backend-defaults"),
        package_version("@backstage/plugin-catalog-backend"),
    )
}

/// The postmaster's pid, from the lock file beside the cluster's socket.
fn postmaster_pid(socket_dir: &Path, port: u16) -> Result<u32, String> {
    let lock = socket_dir.join(format!(".s.PGSQL.{port}.lock"));
    let text = fs::read_to_string(&lock).map_err(|error| format!("cannot read {}: {error}", lock.display()))?;
    text.lines()
        .next()
        .and_then(|line| line.trim().parse::<u32>().ok())
        .ok_or_else(|| format!("{} does not start with a pid", lock.display()))
}

/// Node's peak resident memory (VmHWM), in bytes.
fn peak_rss_bytes(pid: u32) -> Result<u64, String> {
    status_kib(pid, "VmHWM:")
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("cannot read VmHWM of process {pid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_first_description_only() {
        let text = "kind: Component\nmetadata:\n  name: a\n  description: Old.\nspec:\n  description: other\n";
        let edited = rewrite_description(text, "New.").expect("has a description");
        assert_eq!(
            edited,
            "kind: Component\nmetadata:\n  name: a\n  description: New.\nspec:\n  description: other\n"
        );
        assert!(rewrite_description("kind: Group\n", "x").is_err());
    }

    #[test]
    fn parses_plain_and_chunked_answers() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain), Ok((200, "{}".to_string())));
        let chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Ok((201, "abcde".to_string())));
    }
}
