//! The embedded default database: a private PostgreSQL cluster started from the machine's own
//! Postgres binaries when no database URL is configured. Also the test suite's database launcher.
//!
//! Only the user sextant runs as can reach the cluster: it listens on no TCP address, only on a
//! Unix socket in `<data folder>/socket`, a folder of mode 0700 owned by the cluster's user, and
//! its `pg_hba.conf` accepts nothing but that socket. Trust over the socket is therefore trust in
//! whoever can enter the folder: the cluster's user and root. The settings are written again on
//! every start, so a cluster made by an older sextant (trust on 127.0.0.1) is moved onto the
//! socket, restarted when it is running the old way.
//!
//! Postgres refuses to run as root, so when sextant runs as root the cluster is created and run
//! as the `postgres` user (or `nobody`), in a folder that user can reach; root still enters the
//! socket folder. Creating and starting the cluster happens under a lock file beside the data
//! folder, so two sextant processes starting it at once both succeed: the second one waits.

use std::fmt;
use std::fs::File;
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
    /// The socket's path is longer than a Unix socket address can hold.
    SocketPathTooLong(PathBuf),
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
            PgError::SocketPathTooLong(path) => write!(
                formatter,
                "the private cluster's socket {} would be longer than the {MAX_SOCKET_PATH} bytes a Unix socket path may have; \
                 set SEXTANT_DATA_DIR (or `dataDir` in sextant.yaml) to a shorter folder",
                path.display()
            ),
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

/// A private cluster: its data folder, its port (which names its socket) and how to run its tools.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub data_dir: PathBuf,
    pub port: u16,
    bin_dir: PathBuf,
    run_as: Option<(u32, u32)>,
}

const PORT_FILE: &str = "sextant-port";
const SOCKET_DIR: &str = "socket";
const SETTINGS_FILE: &str = "sextant.conf";
const LOG_FILE: &str = "postgres.log";
/// `sun_path` holds 108 bytes including the closing NUL.
const MAX_SOCKET_PATH: usize = 107;

impl Cluster {
    /// Starts the cluster kept in `data_dir` (creating it on first use), or reuses it when it
    /// is already running. Tells on stderr where a cluster it created or started lives and how
    /// to stop it, since it keeps running after the command.
    pub fn start_or_reuse(data_dir: &Path) -> Result<Cluster, PgError> {
        let bin_dir = find_binaries()?;
        let run_as = unprivileged_user_if_root();
        if let Some(parent) = data_dir.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _lock = lock_beside(data_dir)?;
        let cluster_exists = data_dir.join("PG_VERSION").is_file();
        let port = if cluster_exists { read_port(data_dir)? } else { free_port()? };
        let cluster = Cluster {
            data_dir: data_dir.to_path_buf(),
            port,
            bin_dir,
            run_as,
        };
        if !cluster_exists {
            cluster.init()?;
        }
        cluster.write_settings(false)?;
        if cluster.is_running() {
            if cluster.socket_path().exists() {
                return Ok(cluster);
            }
            notify(format_args!(
                "sextant: restarting the private PostgreSQL cluster in {} to move it from TCP onto its private socket",
                data_dir.display()
            ));
            cluster.stop()?;
        }
        cluster.start()?;
        let what = if cluster_exists { "started the" } else { "created a" };
        notify(format_args!(
            "sextant: {what} private PostgreSQL cluster in {}; it keeps running after this command \
             (`sextant db status` shows it, `sextant db stop` stops it)",
            data_dir.display()
        ));
        Ok(cluster)
    }

    /// The cluster kept in `data_dir`, running or not, without starting it; `None` when no
    /// cluster was ever created there.
    pub fn existing(data_dir: &Path) -> Result<Option<Cluster>, PgError> {
        if !data_dir.join("PG_VERSION").is_file() {
            return Ok(None);
        }
        Ok(Some(Cluster {
            data_dir: data_dir.to_path_buf(),
            port: read_port(data_dir)?,
            bin_dir: find_binaries()?,
            run_as: unprivileged_user_if_root(),
        }))
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
        cluster.write_settings(true)?;
        cluster.start()?;
        cluster.watch_owner(&base)?;
        Ok(cluster)
    }

    /// The URL of a database in this cluster, through the private socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/{database}?host={}",
            self.port,
            percent_encode(&self.socket_dir().to_string_lossy())
        )
    }

    /// The folder holding the cluster's socket; only the cluster's user (and root) may enter it.
    pub fn socket_dir(&self) -> PathBuf {
        self.data_dir.join(SOCKET_DIR)
    }

    /// The socket itself, present while the cluster runs.
    pub fn socket_path(&self) -> PathBuf {
        self.socket_dir().join(format!(".s.PGSQL.{}", self.port))
    }

    /// The server's log.
    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join(LOG_FILE)
    }

    /// Whether the cluster's server is running.
    pub fn is_running(&self) -> bool {
        let mut status = self.command("pg_ctl");
        status
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        status.status().is_ok_and(|status| status.success())
    }

    /// Stops the server, ending open sessions (`pg_ctl stop -m fast`), and waits until it is down.
    pub fn stop(&self) -> Result<(), PgError> {
        let mut stop = self.command("pg_ctl");
        stop.arg("stop").arg("-w").arg("-D").arg(&self.data_dir).args(["-m", "fast"]);
        self.run(stop)
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
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
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

    /// Makes `path` belong to the user the cluster runs as.
    fn hand_over(&self, path: &Path) -> Result<(), PgError> {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// Writes `contents` to `path` (a file of the cluster) unless it already holds them.
    fn write_owned(&self, path: &Path, contents: &str) -> Result<(), PgError> {
        if std::fs::read_to_string(path).is_ok_and(|current| current == contents) {
            return Ok(());
        }
        std::fs::write(path, contents)?;
        self.hand_over(path)
    }

    fn init(&self) -> Result<(), PgError> {
        std::fs::create_dir_all(&self.data_dir)?;
        self.hand_over(&self.data_dir)?;
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(&self.data_dir).args([
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=reject",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ]);
        self.run(initdb)?;
        self.write_owned(&self.data_dir.join(PORT_FILE), &self.port.to_string())
    }

    /// The access rules and settings sextant relies on, written on every start: the socket
    /// folder (0700, the cluster user's), `pg_hba.conf` with the socket only, and
    /// `sextant.conf` (no TCP, the socket's folder and mode, the port), included last by
    /// `postgresql.conf`.
    fn write_settings(&self, throwaway: bool) -> Result<(), PgError> {
        let socket_path = self.socket_path();
        if socket_path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(PgError::SocketPathTooLong(socket_path));
        }
        let socket_dir = self.socket_dir();
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            if !socket_dir.is_dir() {
                std::fs::DirBuilder::new().mode(0o700).create(&socket_dir)?;
            }
            std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o700))?;
            self.hand_over(&socket_dir)?;
        }
        self.write_owned(
            &self.data_dir.join("pg_hba.conf"),
            "# Written by sextant on every start. The server listens only on a Unix socket in a folder\n\
             # that only the cluster's user (and root) can enter, so trust reaches no other user.\n\
             local all all trust\n",
        )?;
        let mut settings = format!(
            "# Written by sextant on every start; included last by postgresql.conf.\n\
             listen_addresses = ''\n\
             port = {port}\n\
             unix_socket_directories = '{socket}'\n\
             unix_socket_permissions = 0700\n\
             log_line_prefix = '%m [%p] %q%u@%d '\n",
            port = self.port,
            socket = socket_dir.to_string_lossy().replace('\'', "''"),
        );
        if throwaway {
            settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n");
        }
        self.write_owned(&self.data_dir.join(SETTINGS_FILE), &settings)?;
        let main_settings = self.data_dir.join("postgresql.conf");
        let include = format!("include '{SETTINGS_FILE}'");
        let mut text = std::fs::read_to_string(&main_settings)?;
        if !text.lines().any(|line| line.trim() == include) {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&include);
            text.push('\n');
            self.write_owned(&main_settings, &text)?;
        }
        Ok(())
    }

    fn start(&self) -> Result<(), PgError> {
        let mut start = self.command("pg_ctl");
        start
            .arg("start")
            .arg("-w")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(self.log_file());
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

/// Tells the user on stderr what happened to the cluster; a closed stderr is no reason to fail.
fn notify(message: fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Takes the lock that guards creating and starting the cluster in `data_dir`: a file beside
/// it (initdb wants an empty folder), held until the returned file is dropped.
fn lock_beside(data_dir: &Path) -> Result<File, PgError> {
    let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.with_file_name(name))?;
    lock.lock()?;
    Ok(lock)
}

fn read_port(data_dir: &Path) -> Result<u16, PgError> {
    let port_file = data_dir.join(PORT_FILE);
    std::fs::read_to_string(&port_file)?
        .trim()
        .parse()
        .map_err(|_| PgError::Io(std::io::Error::other(format!("{} holds no port number", port_file.display()))))
}

/// `text` with every byte outside `[A-Za-z0-9/._~-]` written as `%XX`, for a URL's query.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/._~-".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
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

/// A TCP port on 127.0.0.1 that is free right now. The cluster listens on no TCP port; the
/// number names its socket, and a free one keeps it apart from a system Postgres on the machine.
fn free_port() -> Result<u16, PgError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

/// The private cluster's folder inside sextant's data folder.
pub fn cluster_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("postgres")
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

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn socket_folders_are_encoded_for_the_url_query() {
        assert_eq!(percent_encode("/tmp/sextant-pg-1/data/socket"), "/tmp/sextant-pg-1/data/socket");
        assert_eq!(percent_encode("/home/a b/x&y=z"), "/home/a%20b/x%26y%3Dz");
        assert_eq!(percent_encode("/é"), "/%C3%A9");
    }
}
