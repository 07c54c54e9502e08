//! A real Meilisearch for the tests: one server per test run ([`meili`], [`meili_or_skip`]),
//! started on a free loopback port from `../shared/bin/meilisearch` beside the repository (or
//! `MEILI_BIN`) with a throwaway database and a random master key, or an already running one
//! named by `MEILI_URL` (+ `MEILI_MASTER_KEY`); private servers for tests that stop and restart
//! theirs ([`MeiliServer::start_private`]); and [`SlowProxy`], a loopback TCP proxy that holds
//! back every response for a while, for the "Meilisearch is slow" tests.
//!
//! Servers are spawned by one long-lived thread with `PR_SET_PDEATHSIG`, so none outlives the
//! test binary (the kernel kills them when it exits, even on a panic or a signal), and the
//! databases that runs left behind are removed by the next run.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sextant::crawler::Secret;
use sextant::search::{MeiliConfig, SearchConfig};
use tempfile::TempDir;

/// How long a server may take to answer `/health` after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The task timeout of [`MeiliServer::config`].
const TEST_TASK_TIMEOUT: Duration = Duration::from_secs(30);

static SHARED: OnceLock<Result<MeiliServer, Unavailable>> = OnceLock::new();
static NEXT_INDEX: AtomicUsize = AtomicUsize::new(0);

/// Why there is no server: missing (skippable outside CI) or broken (always a failure).
#[derive(Debug)]
enum Unavailable {
    Missing(String),
    Failed(String),
}

/// A Meilisearch server for the tests: started by them (`child`, with its database in `dir`),
/// or an external one (`MEILI_URL`).
pub struct MeiliServer {
    url: String,
    key: String,
    child: Option<Child>,
    dir: TempDir,
    /// How to start it again; `None` for an external server.
    launch: Option<Launch>,
}

/// What starting (and restarting) a server needs.
#[derive(Clone)]
struct Launch {
    binary: PathBuf,
    port: u16,
    extra_args: Vec<String>,
}

/// The server of this test run. Panics when there is none (see [`meili_or_skip`] to skip instead).
#[allow(dead_code)] // The harness's API: for tests that must not skip.
pub fn meili() -> &'static MeiliServer {
    meili_or_skip().unwrap_or_else(|| panic!("no Meilisearch server for this test (the reason is printed above)"))
}

/// The server of this test run, started on first use; `None` (with the reason on stderr) when
/// no Meilisearch binary is there and `CI` is not `true`. Under `CI=true` a missing binary
/// panics, and a server that fails to start panics everywhere.
pub fn meili_or_skip() -> Option<&'static MeiliServer> {
    match SHARED.get_or_init(start_shared) {
        Ok(server) => Some(server),
        Err(Unavailable::Missing(reason)) if !on_ci() => {
            eprintln!("skipped: {reason}");
            None
        }
        Err(Unavailable::Missing(reason)) => panic!("{reason}; CI=true requires Meilisearch"),
        Err(Unavailable::Failed(reason)) => panic!("{reason}"),
    }
}

/// A fresh index uid for one test: `name` (cleaned to the uid alphabet), this process and a counter.
pub fn unique_index(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' {
                character
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    format!(
        "{name}-{}-{seconds}-{}",
        std::process::id(),
        NEXT_INDEX.fetch_add(1, Ordering::Relaxed)
    )
}

impl MeiliServer {
    /// The search configuration for index `index` of this server (30 s task timeout).
    pub fn config(&self, index: &str) -> SearchConfig {
        SearchConfig {
            meilisearch: Some(MeiliConfig {
                url: self.url.clone(),
                master_key: (!self.key.is_empty()).then(|| Secret::new(self.key.clone())),
                index: index.to_string(),
                task_timeout: TEST_TASK_TIMEOUT,
            }),
        }
    }

    /// A server of the test's own, for tests that stop, restart or configure it. Panics when no
    /// Meilisearch binary is there (see [`MeiliServer::private_or_skip`]).
    #[allow(dead_code)] // The harness's API, for other test modules.
    pub fn start_private() -> MeiliServer {
        MeiliServer::start_private_with(&[])
    }

    /// Like [`MeiliServer::start_private`], with extra command-line arguments
    /// (e.g. `--http-payload-size-limit`).
    pub fn start_private_with(extra_args: &[&str]) -> MeiliServer {
        let binary = match binary() {
            Ok(binary) => binary,
            Err(reason) => panic!("{reason}"),
        };
        let extra_args = extra_args.iter().map(|arg| arg.to_string()).collect();
        MeiliServer::start(binary, extra_args).unwrap_or_else(|reason| panic!("{reason}"))
    }

    /// A private server, or `None` (with the reason on stderr) when no binary is there and
    /// `CI` is not `true`.
    pub fn private_or_skip(extra_args: &[&str]) -> Option<MeiliServer> {
        match binary() {
            Ok(_) => Some(MeiliServer::start_private_with(extra_args)),
            Err(reason) if !on_ci() => {
                eprintln!("skipped: {reason}");
                None
            }
            Err(reason) => panic!("{reason}; CI=true requires Meilisearch"),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The master key (empty for an external server started without one).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Kills the server (connections are refused from now on).
    pub fn stop(&mut self) {
        assert!(
            self.launch.is_some(),
            "the tests cannot stop a server they did not start ({})",
            self.url
        );
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same database, and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let launch = self.launch.clone().expect("stop() checked that the tests started this server");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match spawn_and_wait(&launch, self.dir.path(), &self.key) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                // The old server's port may take a moment to be free again.
                Err(reason) if Instant::now() < deadline => {
                    eprintln!("restarting Meilisearch on port {} again: {reason}", launch.port);
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(reason) => panic!("cannot restart Meilisearch on port {}: {reason}", launch.port),
            }
        }
    }

    /// Starts `binary` on a free port in a fresh folder, retrying with another port if the
    /// first one was taken meanwhile.
    fn start(binary: PathBuf, extra_args: Vec<String>) -> Result<MeiliServer, String> {
        let dir = server_dir()?;
        let key = random_key();
        let mut last_error = String::new();
        for _ in 0..3 {
            let launch = Launch {
                binary: binary.clone(),
                port: free_port()?,
                extra_args: extra_args.clone(),
            };
            match spawn_and_wait(&launch, dir.path(), &key) {
                Ok(child) => {
                    return Ok(MeiliServer {
                        url: format!("http://127.0.0.1:{}", launch.port),
                        key,
                        child: Some(child),
                        dir,
                        launch: Some(launch),
                    });
                }
                Err(reason) => last_error = reason,
            }
        }
        Err(format!("cannot start Meilisearch from {}: {last_error}", binary.display()))
    }
}

impl Drop for MeiliServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// The run's server: the external one of `MEILI_URL`, or one started from the binary.
fn start_shared() -> Result<MeiliServer, Unavailable> {
    if let Some(url) = std::env::var("MEILI_URL").ok().filter(|url| !url.trim().is_empty()) {
        let url = url.trim().trim_end_matches('/').to_string();
        let address = socket_address(&url).map_err(Unavailable::Failed)?;
        wait_healthy(address, None, Path::new(""))
            .map_err(|reason| Unavailable::Failed(format!("MEILI_URL names {url}, which does not answer: {reason}")))?;
        return Ok(MeiliServer {
            url,
            key: std::env::var("MEILI_MASTER_KEY").unwrap_or_default(),
            child: None,
            dir: tempfile::tempdir().map_err(|error| Unavailable::Failed(format!("a temporary folder: {error}")))?,
            launch: None,
        });
    }
    let binary = binary().map_err(Unavailable::Missing)?;
    MeiliServer::start(binary, Vec::new()).map_err(Unavailable::Failed)
}

/// The Meilisearch binary: `MEILI_BIN`, else `../shared/bin/meilisearch` beside the repository.
fn binary() -> Result<PathBuf, String> {
    let (path, named_by) = match std::env::var_os("MEILI_BIN").filter(|path| !path.is_empty()) {
        Some(path) => (PathBuf::from(path), "MEILI_BIN"),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bin/meilisearch"),
            "the default place, beside the repository",
        ),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no Meilisearch binary at {} ({named_by}); set MEILI_BIN to one, or MEILI_URL (+ MEILI_MASTER_KEY) to a running server",
            path.display()
        ))
    }
}

/// Starts the server of `launch` on its database in `dir` and waits until it answers.
fn spawn_and_wait(launch: &Launch, dir: &Path, key: &str) -> Result<Child, String> {
    let log_path = dir.join("meilisearch.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|error| format!("cannot open {}: {error}", log_path.display()))?;
    let log_for_stderr = log.try_clone().map_err(|error| format!("cannot share the log file: {error}"))?;
    let mut command = Command::new(&launch.binary);
    command
        .arg("--db-path")
        .arg(dir.join("data.ms"))
        .arg("--http-addr")
        .arg(format!("127.0.0.1:{}", launch.port))
        .arg("--master-key")
        .arg(key)
        .arg("--no-analytics")
        .args(&launch.extra_args)
        // Dumps and snapshots default to the working folder.
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_for_stderr);
    // Meilisearch reads its configuration from MEILI_* variables too: the test's own
    // (MEILI_URL, MEILI_MASTER_KEY, ...) must not reach it.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MEILI_") {
            command.env_remove(name);
        }
    }
    let mut child = spawn_tied_to_this_process(command).map_err(|error| format!("cannot run {}: {error}", launch.binary.display()))?;
    let address = SocketAddr::from(([127, 0, 0, 1], launch.port));
    match wait_healthy(address, Some(&mut child), &log_path) {
        Ok(()) => Ok(child),
        Err(reason) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(reason)
        }
    }
}

/// A spawn request for the spawner thread.
struct SpawnRequest {
    command: Command,
    reply: mpsc::Sender<std::io::Result<Child>>,
}

/// Spawns `command` so that the kernel kills it when this process ends. The death signal is
/// tied to the thread that forks, so every server is forked by one thread that lives as long as
/// the process (a test's own thread ends with the test, and would take the server with it).
fn spawn_tied_to_this_process(mut command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("meilisearch-spawner".to_string())
            .spawn(move || {
                for request in receiver {
                    let mut command = request.command;
                    let _ = request.reply.send(command.spawn());
                }
            })
            .expect("start the Meilisearch spawner thread");
        Mutex::new(sender)
    });
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2) and
    // getppid(2), which are async-signal-safe; it allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The test binary died between the fork and the prctl: do not outlive it.
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("the test process is gone"));
            }
            Ok(())
        });
    }
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send(SpawnRequest { command, reply })
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    answer.recv().map_err(|_| std::io::Error::other("the spawner thread is gone"))?
}

/// Waits until `/health` at `address` answers `available` (at most [`START_TIMEOUT`]); a
/// `child` that exits meanwhile fails at once, with the end of its log.
fn wait_healthy(address: SocketAddr, mut child: Option<&mut Child>, log_path: &Path) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(child) = child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(format!(
                "Meilisearch exited ({status}) before answering; its log ends with:\n{}",
                log_tail(log_path)
            ));
        }
        if health_is_available(address) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no healthy answer from {address} within {} s; the log ends with:\n{}",
                START_TIMEOUT.as_secs(),
                log_tail(log_path)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One `GET /health` over a plain socket.
fn health_is_available(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer.starts_with("HTTP/1.1 200") && answer.contains("available")
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A fresh folder for a server's database under `<temp>/sextant-meili-tests`, named after this
/// process; folders of processes that are gone (whose servers were killed with them) are removed.
fn server_dir() -> Result<TempDir, String> {
    let base = std::env::temp_dir().join("sextant-meili-tests");
    std::fs::create_dir_all(&base).map_err(|error| format!("cannot create {}: {error}", base.display()))?;
    static CLEANED: OnceLock<()> = OnceLock::new();
    CLEANED.get_or_init(|| remove_dirs_of_dead_processes(&base));
    tempfile::Builder::new()
        .prefix(&format!("{}-", std::process::id()))
        .tempdir_in(&base)
        .map_err(|error| format!("cannot create a folder in {}: {error}", base.display()))
}

fn remove_dirs_of_dead_processes(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|pid| pid.parse::<libc::pid_t>().ok()) else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| format!("no free loopback port: {error}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| format!("no free loopback port: {error}"))
}

/// 32 hex digits from the kernel's random source.
fn random_key() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut random) = std::fs::File::open("/dev/urandom") {
        let _ = random.read_exact(&mut bytes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    bytes[0] ^= nanos.to_le_bytes()[0];
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `127.0.0.1:7700` from `http://127.0.0.1:7700`.
fn socket_address(url: &str) -> Result<SocketAddr, String> {
    let host_port = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported by the test harness"))?
        .split('/')
        .next()
        .unwrap_or_default();
    let host_port = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:80")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .map_err(|error| format!("{url}: {error}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))
}

/// A TCP proxy on loopback in front of a server: every byte goes through unchanged, and each
/// response (the first bytes the server sends after the client sent something) is held back for
/// the current delay, which can be changed at any time.
pub struct SlowProxy {
    address: SocketAddr,
    delay_ms: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    accept_thread: Option<JoinHandle<()>>,
}

impl SlowProxy {
    /// A proxy to the server at `upstream_url` (`http://host:port`), with no delay yet.
    pub fn start(upstream_url: &str) -> SlowProxy {
        let upstream = socket_address(upstream_url).unwrap_or_else(|reason| panic!("{reason}"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let delay_ms = Arc::new(AtomicU64::new(0));
        let stopping = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accept_thread = {
            let (delay_ms, stopping, connections) = (delay_ms.clone(), stopping.clone(), connections.clone());
            std::thread::Builder::new()
                .name("slow-proxy".to_string())
                .spawn(move || {
                    for client in listener.incoming() {
                        if stopping.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(client) = client else { continue };
                        let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(2)) else {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        };
                        proxy_connection(client, server, &delay_ms, &connections);
                    }
                })
                .expect("start the proxy thread")
        };
        SlowProxy {
            address,
            delay_ms,
            stopping,
            connections,
            accept_thread: Some(accept_thread),
        }
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Holds back each response from now on by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// `server`'s configuration for `index`, reaching it through this proxy, with `task_timeout`.
    pub fn config(&self, server: &MeiliServer, index: &str, task_timeout: Duration) -> SearchConfig {
        let mut config = server.config(index);
        if let Some(meili) = config.meilisearch.as_mut() {
            meili.url = self.url();
            meili.task_timeout = task_timeout;
        }
        config
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        for connection in self.connections.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).drain(..) {
            let _ = connection.shutdown(Shutdown::Both);
        }
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
    }
}

/// Pumps bytes both ways between `client` and `server` on two threads; the first bytes from the
/// server after each request bytes wait for the delay.
fn proxy_connection(client: TcpStream, server: TcpStream, delay_ms: &Arc<AtomicU64>, connections: &Arc<Mutex<Vec<TcpStream>>>) {
    let streams = (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone());
    let (Ok(client_reader), Ok(server_writer), Ok(client_writer), Ok(server_reader)) = streams else {
        return;
    };
    {
        let mut open = connections.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        open.retain(|stream| stream.peer_addr().is_ok());
        if let (Ok(client), Ok(server)) = (client.try_clone(), server.try_clone()) {
            open.push(client);
            open.push(server);
        }
    }
    let request_pending = Arc::new(AtomicBool::new(false));
    let pending = request_pending.clone();
    std::thread::spawn(move || pump(client_reader, server_writer, || pending.store(true, Ordering::SeqCst)));
    let delay_ms = delay_ms.clone();
    std::thread::spawn(move || {
        pump(server_reader, client_writer, || {
            if request_pending.swap(false, Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(delay_ms.load(Ordering::SeqCst)));
            }
        })
    });
}

/// Copies `from` to `to` until either side closes, calling `before_write` before each chunk;
/// then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream, before_write: impl Fn()) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                before_write();
                if to.write_all(&buffer[..read]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl MeiliServer {
    /// `GET path` on the server's API with the master key: the status and the JSON answer
    /// (`null` when the body is not JSON).
    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let request = http_agent().get(format!("{}{path}", self.url));
        let request = if self.key.is_empty() {
            request
        } else {
            request.header("Authorization", format!("Bearer {}", self.key))
        };
        json_answer(request.call(), path)
    }

    /// `POST path` with a JSON body on the server's API with the master key.
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let request = http_agent().post(format!("{}{path}", self.url));
        let request = if self.key.is_empty() {
            request
        } else {
            request.header("Authorization", format!("Bearer {}", self.key))
        };
        json_answer(request.send_json(body), path)
    }

    /// `PATCH path` with a JSON body on the server's API with the master key.
    pub fn patch_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let request = http_agent().patch(format!("{}{path}", self.url));
        let request = if self.key.is_empty() {
            request
        } else {
            request.header("Authorization", format!("Bearer {}", self.key))
        };
        json_answer(request.send_json(body), path)
    }

    /// Waits (at most 30 s) for task `uid` to finish and returns it.
    pub fn wait_task(&self, uid: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, task) = self.get_json(&format!("/tasks/{uid}"));
            match task["status"].as_str() {
                Some("succeeded" | "failed" | "canceled") => return task,
                _ if Instant::now() >= deadline => panic!("task {uid} did not finish in 30 s: {task}"),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn json_answer(answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>, path: &str) -> (u16, serde_json::Value) {
    let mut response = answer.unwrap_or_else(|error| panic!("{path}: {error}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_json::<serde_json::Value>()
        .unwrap_or(serde_json::Value::Null);
    (status, body)
}
