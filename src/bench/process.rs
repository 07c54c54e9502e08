//! What the benchmark reads about processes from Linux: a child's wall time and CPU time when it
//! exits (`wait4`), its peak memory (VmHWM, sampled while it runs), a live process's resident
//! memory and open files (`/proc`), and the CPU time of a process tree (a Postgres cluster: the
//! postmaster and its backends, including those that have exited).

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How a child process ran, read when it exited.
#[derive(Clone, Debug)]
pub struct Finished {
    pub success: bool,
    pub wall: Duration,
    pub cpu_seconds: f64,
    pub peak_rss_kib: u64,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `command` to its end with its output captured; its wall time, CPU time (user + system)
/// and peak resident memory (sampled every 5 ms: growth in its last 5 ms can be missed).
pub fn run_measured(command: &mut Command) -> Result<Finished, String> {
    use std::io::Read;
    use std::process::Stdio;
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start {command:?}: {error}"))?;
    let mut stdout_pipe = child.stdout.take();
    let mut stderr_pipe = child.stderr.take();
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = stdout_pipe.as_mut() {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(pipe) = stderr_pipe.as_mut() {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    });
    // The child's peak memory is its VmHWM, sampled until it exits: `wait4`'s `ru_maxrss` also
    // counts the memory of this process at the moment it spawned the child (Linux records the
    // high-water mark of the address space the child had before `exec`), which inflated the
    // crawler's figure to the benchmark's own size.
    let pid = child.id();
    let exited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let exited = exited.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !exited.load(std::sync::atomic::Ordering::Acquire) {
                peak = status_kib(pid, "VmHWM:").map_or(peak, |kib| kib.max(peak));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let waited = wait_until_exited(&child);
    exited.store(true, std::sync::atomic::Ordering::Release);
    let peak_rss_kib = sampler.join().unwrap_or(0);
    waited?;
    let (status, usage) = wait_with_usage(&child)?;
    let wall = started.elapsed();
    // The child is reaped; `Child` must not wait for it again (it would fail harmlessly).
    drop(child);
    Ok(Finished {
        success: status == 0,
        wall,
        cpu_seconds: timeval_seconds(usage.ru_utime) + timeval_seconds(usage.ru_stime),
        peak_rss_kib,
        stdout: stdout_reader.join().unwrap_or_default(),
        stderr: stderr_reader.join().unwrap_or_default(),
    })
}

/// Waits until the child has exited without reaping it (`waitid` with `WNOWAIT`): its process id
/// stays its own, so nothing samples another process that reused it.
fn wait_until_exited(child: &Child) -> Result<(), String> {
    let pid = child.id() as libc::id_t;
    loop {
        // SAFETY: siginfo is plain data that waitid fills for our own child.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our child's, the pointer is to a live local.
        let waited = unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if waited == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for process {pid}: {error}"));
        }
    }
}

/// Reaps the exited child with `wait4`, for its CPU time; its exit status (0 is success).
fn wait_with_usage(child: &Child) -> Result<(i32, libc::rusage), String> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 writes it and the status for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our child's, the pointers are to live locals.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for process {pid}: {error}"));
        }
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Ok((code, usage))
}

fn timeval_seconds(time: libc::timeval) -> f64 {
    time.tv_sec as f64 + time.tv_usec as f64 / 1e6
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS:`, `VmHWM:`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// The number of open file descriptors of a live process.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// CPU seconds used so far by `root` and its descendants: the live ones, and the exited ones
/// their parents waited for (`cutime`, `cstime`).
pub fn tree_cpu_seconds(root: u32) -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut processes: Vec<(u32, u32, u64)> = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command (which may hold spaces): state, ppid, ..., utime (the 14th field of
        // the line), stime, cutime, cstime.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let number = |index: usize| fields.get(index).and_then(|field| field.parse::<u64>().ok()).unwrap_or(0);
        processes.push((pid, number(1) as u32, number(11) + number(12) + number(13) + number(14)));
    }
    let mut tree = vec![root];
    let mut ticks = 0;
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        for (pid, ppid, used) in &processes {
            if *pid == parent {
                ticks += used;
            }
            if *ppid == parent && !tree.contains(pid) {
                tree.push(*pid);
            }
        }
        index += 1;
    }
    ticks as f64 / ticks_per_second
}

/// The postmaster's process id, from `postmaster.pid` in the cluster's data folder.
pub fn postmaster_pid(data_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The CPU time this process has used (user + system, all threads).
pub fn own_cpu_seconds() -> f64 {
    // SAFETY: rusage is plain data that getrusage fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a live local.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    timeval_seconds(usage.ru_utime) + timeval_seconds(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_measured_when_it_exits() {
        let finished = run_measured(Command::new("sh").args(["-c", "echo out; echo err >&2; sleep 0.1; exit 3"])).expect("sh runs");
        assert!(!finished.success);
        assert_eq!(finished.stdout, "out\n");
        assert_eq!(finished.stderr, "err\n");
        assert!(finished.peak_rss_kib > 0);
        let finished = run_measured(&mut Command::new("true")).expect("true runs");
        assert!(finished.success);
    }

    #[test]
    fn a_childs_peak_memory_is_its_own_not_its_parents() {
        // This process holds 256 MiB (touched) while the child runs; a child that never holds
        // more than a few MiB must not be measured at this process's size.
        let held = vec![1_u8; 256 << 20];
        let small = run_measured(Command::new("sh").args(["-c", "sleep 0.2"])).expect("sh runs");
        assert!(
            small.peak_rss_kib > 0 && small.peak_rss_kib < 64 << 10,
            "{} KiB",
            small.peak_rss_kib
        );
        // A child holding 40 MB in a shell variable is measured at least that large.
        let large =
            run_measured(Command::new("sh").args(["-c", "text=$(head -c 40000000 /dev/zero | tr '\\0' a); sleep 0.2; echo ${#text}"]))
                .expect("sh runs");
        assert_eq!(large.stdout.trim(), "40000000");
        assert!(large.peak_rss_kib >= 39_000, "{} KiB", large.peak_rss_kib);
        assert_eq!(held.iter().map(|&byte| byte as usize).sum::<usize>(), 256 << 20);
    }

    #[test]
    fn this_process_is_visible_in_proc() {
        let pid = std::process::id();
        assert!(status_kib(pid, "VmRSS:").is_some_and(|kib| kib > 0));
        assert!(open_fds(pid).is_some_and(|count| count >= 3));
        assert!(tree_cpu_seconds(pid) >= 0.0);
    }
}
