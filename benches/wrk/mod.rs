//! Load from `wrk` (Debian's package), shared by the benchmarks that put a server under load: one
//! run with a Lua script that prints its figures as one JSON line, timed by `/usr/bin/time` for
//! the load generator's own CPU time (both run on the same machine as the server).

use std::path::Path;
use std::process::Command;

/// Runs `wrk -t1 -c<connections> -d<seconds>s -s <script> <endpoint>`; the script's JSON figures
/// and wrk's CPU seconds (user + system).
pub fn run(endpoint: &str, script: &Path, connections: usize, seconds: usize) -> (serde_json::Value, f64) {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%U %S"])
        .arg("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "-s"])
        .arg(script)
        .arg(endpoint)
        .output()
        .expect("run wrk");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let figures = stdout
        .lines()
        .find_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .unwrap_or_else(|| panic!("wrk printed no figures: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    let cpu_seconds = String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|part| part.parse::<f64>().ok())
        .sum();
    (figures, cpu_seconds)
}
