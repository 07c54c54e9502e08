//! The embedded default database: a private PostgreSQL cluster started from the machine's own
//! Postgres binaries when `DATABASE_URL` is not set. Also the test suite's database launcher.
//!
//! Postgres refuses to run as root, so when sextant runs as root the cluster is created and run
//! as the `postgres` user (or `nobody`), in a folder that user can reach. It listens on
//! 127.0.0.1 only, on a port chosen at creation and remembered in the data folder.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a private cluster could not be started.
#[derive(Debug)]
pub enum PgError {
    /// No `initdb`/`pg_ctl` on PATH or in the usual install folders.
    BinariesNotFound,
    /// A Postgres command failed; the message carries its output.
    Command {
        command: String,
        output: String,
    },
    Io(std::io::Error),
}

impl fmt::Display for PgError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::BinariesNotFound => formatter.write_str(
                "no PostgreSQL server binaries (initdb, pg_ctl) were found on PATH or under /usr/lib/postgresql/*/bin; \
                 install them (Debian/Ubuntu: `apt-get install postgresql`) or set DATABASE_URL to an existing server",
            ),
            PgError::Command { command, output } => write!(formatter, "`{command}` failed: {}", output.trim()),
            PgError::Io(error) => write!(formatter, "cannot prepare the private PostgreSQL cluster: {error}"),
        }
    }
}

impl std::error::Error for PgError {}

impl From<std::io::Error> for PgError {
    fn from(error: std::io::Error) -> Self {
        PgError::Io(error)
    }
}

/// A running private cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub data_dir: PathBuf,
    pub port: u16,
    bin_dir: PathBuf,
    run_as: Option<(u32, u32)>,
}

const PORT_FILE: &str = "sextant-port";

impl Cluster {
    /// Starts the cluster kept in `data_dir` (creating it on first use), or reuses it when it
    /// is already running.
    pub fn start_or_reuse(data_dir: &Path) -> Result<Cluster, PgError> {
        let bin_dir = find_binaries()?;
        let run_as = unprivileged_user_if_root();
        let cluster_exists = data_dir.join("PG_VERSION").is_file();
        let port = if cluster_exists {
            std::fs::read_to_string(data_dir.join(PORT_FILE))?.trim().parse().map_err(|_| {
                PgError::Io(std::io::Error::other(format!(
                    "{} holds no port number",
                    data_dir.join(PORT_FILE).display()
                )))
            })?
        } else {
            free_port()?
        };
        let cluster = Cluster {
            data_dir: data_dir.to_path_buf(),
            port,
            bin_dir,
            run_as,
        };
        if !cluster_exists {
            cluster.init()?;
        }
        if !cluster.is_running() {
            cluster.start(false)?;
        }
        Ok(cluster)
    }

    /// Starts a throwaway cluster in a new temporary folder, tuned for tests (no fsync). A
    /// watchdog process stops it and deletes the folder when the current process ends.
    pub fn start_throwaway() -> Result<Cluster, PgError> {
        let bin_dir = find_binaries()?;
        let run_as = unprivileged_user_if_root();
        let base = std::env::temp_dir().join(format!("sextant-pg-{}-{}", std::process::id(), free_port()?));
        std::fs::create_dir_all(&base)?;
        let cluster = Cluster {
            data_dir: base.join("data"),
            port: free_port()?,
            bin_dir,
            run_as,
        };
        cluster.hand_over(&base)?;
        cluster.init()?;
        cluster.start(true)?;
        cluster.watch_owner(&base)?;
        Ok(cluster)
    }

    /// The URL of a database in this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        command.stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        // Postgres tools look for their config relative to the current folder's owner; the
        // cluster folder is one the cluster's user can always enter.
        command.current_dir(self.data_dir.parent().unwrap_or(Path::new("/")));
        command
    }

    fn run(&self, mut command: Command) -> Result<(), PgError> {
        let description = format!("{command:?}");
        let output = command.output()?;
        if output.status.success() {
            return Ok(());
        }
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        let log = std::fs::read_to_string(self.data_dir.join("postgres.log")).unwrap_or_default();
        let log_tail: Vec<&str> = log.lines().rev().take(5).collect();
        if !log_tail.is_empty() {
            text.push_str("\nserver log: ");
            text.push_str(&log_tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
        Err(PgError::Command {
            command: description,
            output: text,
        })
    }

    /// Makes `folder` belong to the user the cluster runs as.
    fn hand_over(&self, folder: &Path) -> Result<(), PgError> {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(folder, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    fn init(&self) -> Result<(), PgError> {
        std::fs::create_dir_all(&self.data_dir)?;
        self.hand_over(&self.data_dir)?;
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(&self.data_dir).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ]);
        self.run(initdb)?;
        let port_file = self.data_dir.join(PORT_FILE);
        std::fs::write(&port_file, self.port.to_string())?;
        self.hand_over(&port_file)?;
        Ok(())
    }

    fn is_running(&self) -> bool {
        let mut status = self.command("pg_ctl");
        status
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        status.status().is_ok_and(|status| status.success())
    }

    fn start(&self, throwaway: bool) -> Result<(), PgError> {
        let mut options = format!("-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''", self.port);
        if throwaway {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200");
        }
        let mut start = self.command("pg_ctl");
        start
            .arg("start")
            .arg("-w")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.data_dir.join("postgres.log"))
            .arg("-o")
            .arg(options);
        self.run(start)
    }

    /// A small shell loop, running as the cluster's user, that stops the cluster and removes
    /// its folder once this process is gone.
    fn watch_owner(&self, base: &Path) -> Result<(), PgError> {
        let script = format!(
            "while [ -e /proc/{pid} ]; do sleep 0.5; done; '{pg_ctl}' stop -D '{data}' -m immediate >/dev/null 2>&1; rm -rf '{base}'",
            pid = std::process::id(),
            pg_ctl = self.bin_dir.join("pg_ctl").display(),
            data = self.data_dir.display(),
            base = base.display(),
        );
        let mut watchdog = Command::new("sh");
        watchdog
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            watchdog.uid(uid).gid(gid);
        }
        watchdog.current_dir("/");
        watchdog.spawn()?;
        Ok(())
    }
}

/// The folder holding `initdb` and `pg_ctl`: from PATH, else the newest under the usual
/// install folders.
pub fn find_binaries() -> Result<PathBuf, PgError> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_tools(&dir) {
                return Ok(dir);
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = Vec::new();
    for root in ["/usr/lib/postgresql", "/usr/local/pgsql", "/opt/postgresql"] {
        let Ok(entries) = std::fs::read_dir(root) else { continue };
        for entry in entries.flatten() {
            let bin = entry.path().join("bin");
            if has_tools(&bin) {
                let version = entry.file_name().to_string_lossy().parse().unwrap_or(0);
                candidates.push((version, bin));
            }
        }
        let bin = Path::new(root).join("bin");
        if has_tools(&bin) {
            candidates.push((0, bin));
        }
    }
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin).ok_or(PgError::BinariesNotFound)
}

/// `(uid, gid)` of an unprivileged user to run Postgres as, when this process is root.
fn unprivileged_user_if_root() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let is_root = std::fs::metadata("/proc/self").map(|metadata| metadata.uid() == 0).unwrap_or(false);
    if !is_root {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    ["postgres", "nobody"].iter().find_map(|wanted| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && fields[0] == *wanted).then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))?
        })
    })
}

/// A TCP port on 127.0.0.1 that is free right now.
fn free_port() -> Result<u16, PgError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// The folder where sextant keeps its state (the private cluster, git mirrors): `SEXTANT_DATA_DIR`,
/// else `/var/lib/sextant` for root (the `postgres` user cannot enter root's home), else
/// `$XDG_DATA_HOME/sextant` or `~/.local/share/sextant`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SEXTANT_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if unprivileged_user_if_root().is_some() {
        return PathBuf::from("/var/lib/sextant");
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("sextant");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/sextant")
}
