//! The embedded cluster as a shared machine sees it: another local user cannot connect (neither
//! over TCP nor through the socket), a cluster left by an older sextant on TCP is moved onto the
//! socket, two processes starting one cluster at once both succeed, `sextant db status|stop|reset`,
//! and commands that close their connections cleanly.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sextant::pg::{Cluster, find_binaries};

use crate::git::{TestRepo, group};

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}

/// `(uid, gid)` of a user named in /etc/passwd.
fn user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() > 3 && fields[0] == name {
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        } else {
            None
        }
    })
}

/// The user the cluster runs as when the tests run as root (as sextant picks it).
fn cluster_user() -> Option<(u32, u32)> {
    if is_root() {
        user("postgres").or_else(|| user("nobody"))
    } else {
        None
    }
}

/// The server's own `psql`: beside `pg_ctl`, or beside the file it links to.
fn psql_binary() -> PathBuf {
    let bin = find_binaries().expect("Postgres binaries");
    if bin.join("psql").is_file() {
        return bin.join("psql");
    }
    let pg_ctl = std::fs::canonicalize(bin.join("pg_ctl")).expect("pg_ctl");
    pg_ctl.with_file_name("psql")
}

/// Runs the server's own `psql`, as `run_as` when given, against `host` (a socket folder or an
/// address) and `port`; fails fast instead of prompting or waiting.
fn psql(run_as: Option<(u32, u32)>, host: &str, port: u16, sql: &str) -> Output {
    let mut command = Command::new(psql_binary());
    command
        .args(["-X", "-A", "-t", "-w", "-U", "postgres", "-d", "postgres", "-h", host, "-p"])
        .arg(port.to_string())
        .args(["-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .env_remove("PGPASSWORD")
        .env_remove("PGSERVICE")
        .current_dir("/")
        .stdin(Stdio::null());
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid).env("HOME", "/");
    }
    command.output().expect("psql runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts that another local user (`nobody`) can reach the cluster neither over TCP nor through
/// its socket, and that this process can, through the socket. Without root, no other user can
/// be tried; then the folder's mode and the closed TCP port are checked, and CI (which runs as
/// root) fails instead.
fn assert_only_the_owner_gets_in(cluster: &Cluster) {
    let socket_dir = cluster.socket_dir().to_string_lossy().into_owned();
    let owner = psql(
        None,
        &socket_dir,
        cluster.port,
        "SELECT 'inside ' || current_setting('listen_addresses') || '.'",
    );
    assert!(owner.status.success(), "the owner connects through the socket: {}", text(&owner));
    assert_eq!(
        String::from_utf8_lossy(&owner.stdout).trim(),
        "inside .",
        "no TCP address is listened on"
    );
    let tcp = psql(None, "127.0.0.1", cluster.port, "SELECT 1");
    assert!(!tcp.status.success(), "nothing answers on TCP: {}", text(&tcp));
    assert!(text(&tcp).contains("refused"), "{}", text(&tcp));

    let metadata = std::fs::metadata(cluster.socket_dir()).expect("the socket folder");
    assert_eq!(
        metadata.permissions().mode() & 0o777,
        0o700,
        "only its owner may enter the socket folder"
    );

    if !is_root() {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI=true: the tests must run as root to connect as another user"
        );
        eprintln!("embedded_db: not root, so connecting as another local user was not tried");
        return;
    }
    let nobody = user("nobody").expect("a `nobody` user");
    assert_ne!(
        Some(nobody),
        cluster_user(),
        "the cluster must not run as the user that tries to get in"
    );
    let version = Command::new(psql_binary())
        .arg("--version")
        .uid(nobody.0)
        .gid(nobody.1)
        .current_dir("/")
        .output()
        .expect("psql runs");
    assert!(version.status.success(), "nobody can run psql at all: {}", text(&version));

    let through_socket = psql(Some(nobody), &socket_dir, cluster.port, "SELECT 'inside'");
    assert!(
        !through_socket.status.success() && !text(&through_socket).contains("inside"),
        "another user is kept out of the socket: {}",
        text(&through_socket)
    );
    assert!(text(&through_socket).contains("Permission denied"), "{}", text(&through_socket));
    let over_tcp = psql(Some(nobody), "127.0.0.1", cluster.port, "SELECT 'inside'");
    assert!(
        !over_tcp.status.success() && text(&over_tcp).contains("refused"),
        "another user finds no TCP port: {}",
        text(&over_tcp)
    );
}

#[test]
fn another_local_user_cannot_connect_to_the_test_cluster() {
    assert_only_the_owner_gets_in(crate::db::cluster());
}

/// A data folder the cluster's user can reach (a temporary folder is private to its creator),
/// whose cluster is stopped when the test ends, whatever happens.
struct DataFolder {
    dir: tempfile::TempDir,
}

impl DataFolder {
    fn new() -> DataFolder {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        DataFolder { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cluster_dir(&self) -> PathBuf {
        sextant::pg::cluster_dir(self.path())
    }

    fn sextant(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
        command
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("SEXTANT_CONFIG")
            .env("SEXTANT_DATA_DIR", self.path())
            .current_dir(self.path())
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.sextant(args).output().expect("the binary runs")
    }
}

impl Drop for DataFolder {
    fn drop(&mut self) {
        if let Ok(Some(cluster)) = Cluster::existing(&self.cluster_dir()) {
            let _ = cluster.stop();
        }
    }
}

/// Runs the same command in two processes at once and returns both outputs.
fn twice_at_once(folder: &DataFolder, args: &[&str]) -> [Output; 2] {
    let first = folder.sextant(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let second = folder.sextant(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()]
}

#[test]
fn two_processes_starting_the_cluster_at_once_both_succeed_and_db_manages_it() {
    let folder = DataFolder::new();
    let status = folder.run(&["db", "status"]);
    assert!(status.status.success());
    assert!(text(&status).contains("no private PostgreSQL cluster"), "{}", text(&status));

    // A new cluster: both processes create it at once.
    let outputs = twice_at_once(&folder, &["problems", "--format", "json"]);
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", text(output));
    }
    let notices: Vec<String> = outputs
        .iter()
        .map(|output| String::from_utf8_lossy(&output.stderr).into_owned())
        .collect();
    assert_eq!(
        notices
            .iter()
            .filter(|notice| notice.contains("created a private PostgreSQL cluster"))
            .count(),
        1,
        "one process creates the cluster and says where it lives: {notices:?}"
    );
    assert!(
        notices
            .iter()
            .any(|notice| notice.contains("`sextant db stop` stops it") && notice.contains(&folder.cluster_dir().display().to_string())),
        "{notices:?}"
    );
    let cluster = Cluster::existing(&folder.cluster_dir()).unwrap().expect("a cluster");
    assert_only_the_owner_gets_in(&cluster);

    let status = text(&folder.run(&["db", "status"]));
    assert!(status.contains("running: yes"), "{status}");
    assert!(status.contains(&cluster.socket_path().display().to_string()), "{status}");
    assert!(status.contains("sextant ") && status.contains("MB  (your catalog)"), "{status}");

    let stop = folder.run(&["db", "stop"]);
    assert!(stop.status.success(), "{}", text(&stop));
    assert!(text(&stop).contains("stopped the private cluster"), "{}", text(&stop));
    assert!(!cluster.is_running());
    assert!(text(&folder.run(&["db", "status"])).contains("running: no"));

    // A stopped cluster: both processes start it at once.
    let outputs = twice_at_once(&folder, &["problems"]);
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", text(output));
    }
    assert_eq!(
        outputs
            .iter()
            .filter(|output| String::from_utf8_lossy(&output.stderr).contains("started the private PostgreSQL cluster"))
            .count(),
        1
    );
    assert!(cluster.is_running());

    // Reset refuses without a terminal to confirm on, then deletes the catalog with --yes.
    let refused = folder.run(&["db", "reset"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("--yes"), "{}", text(&refused));
    let reset = folder.run(&["db", "reset", "--yes"]);
    assert!(reset.status.success(), "{}", text(&reset));
    assert!(text(&reset).contains("deleted the database sextant"), "{}", text(&reset));
    assert!(text(&reset).contains("no database sextant_demo to delete"), "{}", text(&reset));
    let status = text(&folder.run(&["db", "status"]));
    assert!(status.contains("databases: none yet"), "{status}");
}

#[test]
fn db_commands_leave_an_external_database_alone() {
    let folder = DataFolder::new();
    for args in [&["db", "stop"][..], &["db", "reset", "--yes"]] {
        let output = folder
            .sextant(args)
            .env("DATABASE_URL", "postgres://catalog:s3cret@db.example.com/catalog")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains("DATABASE_URL"), "{}", text(&output));
        assert!(!text(&output).contains("s3cret"), "{}", text(&output));
    }
    let status = folder
        .sextant(&["db", "status"])
        .env("DATABASE_URL", "postgres://catalog:s3cret@db.example.com/catalog")
        .output()
        .unwrap();
    assert!(status.status.success());
    assert!(text(&status).contains("db.example.com"), "{}", text(&status));
    assert!(!text(&status).contains("s3cret"), "{}", text(&status));
    assert!(!folder.cluster_dir().exists(), "no cluster was made");
}

#[test]
fn a_cluster_left_on_tcp_by_an_older_sextant_is_moved_onto_the_socket() {
    let folder = DataFolder::new();
    let data = folder.cluster_dir();
    let bin = find_binaries().unwrap();
    let as_cluster_user = |command: &mut Command| {
        if let Some((uid, gid)) = cluster_user() {
            command.uid(uid).gid(gid);
        }
        command.current_dir("/").stdin(Stdio::null());
    };
    // What the older code made: trust for everyone, listening on 127.0.0.1.
    std::fs::create_dir(&data).unwrap();
    if let Some((uid, gid)) = cluster_user() {
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
    }
    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--no-instructions"]);
    as_cluster_user(&mut initdb);
    let made = initdb.output().unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(data.join("sextant-port"), port.to_string()).unwrap();
    let mut start = Command::new(bin.join("pg_ctl"));
    start
        .arg("start")
        .arg("-w")
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(data.join("postgres.log"))
        .arg("-o")
        .arg(format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"));
    as_cluster_user(&mut start);
    let started = start.output().unwrap();
    assert!(started.status.success(), "{}", text(&started));
    if let Some(nobody) = user("nobody").filter(|_| is_root()) {
        let open = psql(Some(nobody), "127.0.0.1", port, "SELECT 'inside'");
        assert!(
            text(&open).contains("inside"),
            "the old hole: anyone gets in over TCP: {}",
            text(&open)
        );
    }

    let cluster = Cluster::start_or_reuse(&data).expect("the old cluster is taken over");
    assert_eq!(cluster.port, port);
    assert_only_the_owner_gets_in(&cluster);
    let rules = std::fs::read_to_string(data.join("pg_hba.conf")).unwrap();
    let active: Vec<&str> = rules
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .collect();
    assert_eq!(active, ["local all all trust"], "{rules}");
}

/// Log lines of `database` from `offset` on that tell of a client that went away without
/// saying goodbye.
fn unclean_disconnections(log: &Path, offset: usize, database: &str) -> Vec<String> {
    let text = std::fs::read(log).unwrap();
    String::from_utf8_lossy(&text[offset.min(text.len())..])
        .lines()
        .filter(|line| line.contains(&format!("@{database} ")))
        .filter(|line| {
            let line = line.to_lowercase();
            line.contains("unexpected eof") || line.contains("connection reset") || line.contains("could not receive data")
        })
        .map(str::to_owned)
        .collect()
}

fn log_length(log: &Path) -> usize {
    std::fs::metadata(log).map_or(0, |metadata| metadata.len() as usize)
}

/// Waits until `check` holds, for at most five seconds.
fn eventually(check: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_close_their_connections_cleanly() {
    use sqlx::Connection;
    let (store, url) = crate::db::fresh_store().await;
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    // Sessions opened with this URL log what the server otherwise keeps quiet: a client that
    // leaves without a goodbye ("unexpected EOF", at DEBUG1), and every disconnection.
    let url = format!("{url}&options=-c%20log_min_messages%3Ddebug1%20-c%20log_disconnections%3Don");
    let log = crate::db::cluster().log_file();

    // The control: a connection dropped without closing it is seen.
    let offset = log_length(&log);
    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut connection).await.unwrap();
    drop(connection);
    assert!(
        eventually(|| !unclean_disconnections(&log, offset, &database).is_empty()),
        "the log shows a dropped connection (log_line_prefix and log_min_messages in effect)"
    );

    let data = tempfile::tempdir().unwrap();
    let teams = TestRepo::new();
    teams.commit(&[("catalog-info.yaml", &group("payments", None))], "teams");
    let offset = log_length(&log);
    let commands: [&[&str]; 3] = [
        &["crawl", "--repo", &teams.path().to_string_lossy()],
        &["problems"],
        &["show", "group:payments"],
    ];
    for args in commands {
        let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("SEXTANT_DATA_DIR", data.path())
            .env_remove("SEXTANT_CONFIG")
            .current_dir(data.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output));
    }
    let disconnections = |offset| {
        String::from_utf8_lossy(&std::fs::read(&log).unwrap()[offset..])
            .lines()
            .filter(|line| line.contains(&format!("@{database} ")) && line.contains("disconnection:"))
            .count()
    };
    assert!(
        eventually(|| disconnections(offset) >= 3),
        "each command's sessions ended and were logged"
    );
    std::thread::sleep(Duration::from_millis(300));
    let unclean = unclean_disconnections(&log, offset, &database);
    let session_lines: Vec<String> = String::from_utf8_lossy(&std::fs::read(&log).unwrap()[offset..])
        .lines()
        .filter(|line| line.contains(&format!("@{database} ")) && !line.contains("DEBUG:  InitPostgres"))
        .map(str::to_owned)
        .collect();
    assert!(
        unclean.is_empty(),
        "commands left without closing their connections: {unclean:#?}\nthe sessions' log: {session_lines:#?}"
    );
}
