//! Load from `wrk` (Debian's package): one run cycles through fixed requests (GraphQL posts or
//! page paths) with a Lua script that prints wrk's figures as one JSON line, and counts GraphQL
//! answers that carry errors. wrk runs on the same machine as the server, so its own CPU time is
//! measured too.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::run_measured;

/// What wrk is asked to send, in turn.
pub enum Requests<'a> {
    /// JSON bodies posted to the endpoint (GraphQL).
    Posts(&'a [String]),
    /// Paths fetched with GET from the endpoint's origin.
    Gets(&'a [String]),
}

/// One wrk run's figures. Latencies in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Load {
    pub requests: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Non-2xx answers, socket errors and GraphQL answers with errors.
    pub errors: u64,
    /// wrk's own CPU time (user + system).
    pub generator_cpu_seconds: f64,
}

impl Load {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(0.001)
    }

    /// wrk's CPU use as a percentage of one core.
    pub fn generator_cpu_percent(&self) -> f64 {
        self.generator_cpu_seconds / self.seconds.max(0.001) * 100.0
    }
}

/// Whether `wrk` can be run.
pub fn wrk_available() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// Runs `wrk -t1 -c<connections> -d<seconds>s` against `endpoint` with `requests`.
pub fn run(folder: &Path, name: &str, endpoint: &str, requests: Requests<'_>, connections: usize, seconds: u64) -> Result<Load, String> {
    let script = write_script(folder, name, &requests)?;
    let target = match requests {
        Requests::Posts(_) => endpoint.to_owned(),
        Requests::Gets(_) => origin(endpoint),
    };
    let finished = run_measured(
        Command::new("wrk")
            .args([
                "-t1",
                &format!("-c{connections}"),
                &format!("-d{seconds}s"),
                "--timeout",
                "10s",
                "-s",
            ])
            .arg(&script)
            .arg(&target),
    )?;
    let figures = finished
        .stdout
        .lines()
        .find_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .ok_or_else(|| format!("wrk printed no figures: {}{}", finished.stdout, finished.stderr))?;
    let number = |key: &str| figures[key].as_f64().unwrap_or(0.0);
    Ok(Load {
        requests: number("requests") as u64,
        seconds: number("seconds"),
        p50_ms: number("p50") / 1000.0,
        p95_ms: number("p95") / 1000.0,
        p99_ms: number("p99") / 1000.0,
        max_ms: number("max") / 1000.0,
        errors: (number("non2xx") + number("socket_errors") + number("graphql_errors")) as u64,
        generator_cpu_seconds: finished.cpu_seconds,
    })
}

/// `http://host:port/graphql` → `http://host:port`.
fn origin(endpoint: &str) -> String {
    let after_scheme = endpoint.find("://").map_or(0, |index| index + 3);
    match endpoint[after_scheme..].find('/') {
        Some(slash) => endpoint[..after_scheme + slash].to_owned(),
        None => endpoint.to_owned(),
    }
}

/// A Lua long string that cannot be closed early by its content.
fn lua_string(text: &str) -> String {
    let mut level = 1;
    while text.contains(&format!("]{}]", "=".repeat(level))) {
        level += 1;
    }
    let equals = "=".repeat(level);
    format!("[{equals}[{text}]{equals}]")
}

fn write_script(folder: &Path, name: &str, requests: &Requests<'_>) -> Result<PathBuf, String> {
    let (items, request) = match requests {
        Requests::Posts(bodies) => (
            *bodies,
            "return wrk.format(\"POST\", nil, {[\"Content-Type\"] = \"application/json\"}, items[index])",
        ),
        Requests::Gets(paths) => (*paths, "return wrk.format(\"GET\", items[index])"),
    };
    if items.is_empty() {
        return Err(format!("{name}: nothing to request"));
    }
    let count_errors = matches!(requests, Requests::Posts(_));
    let text = format!(
        "local items = {{ {items} }}\nlocal index = 0\nlocal threads = {{}}\ngraphql_errors = 0\n\
         setup = function(thread)\n  table.insert(threads, thread)\nend\n\
         request = function()\n  index = index % #items + 1\n  {request}\nend\n\
         {response}\
         done = function(summary, latency, requests)\n  local errors = 0\n  for _, thread in ipairs(threads) do errors = errors + (thread:get(\"graphql_errors\") or 0) end\n  \
         io.write(string.format('{{\"requests\":%d,\"seconds\":%f,\"p50\":%d,\"p95\":%d,\"p99\":%d,\"max\":%d,\"non2xx\":%d,\"socket_errors\":%d,\"graphql_errors\":%d}}\\n', \
         summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, \
         summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, errors))\nend\n",
        items = items.iter().map(|item| lua_string(item)).collect::<Vec<_>>().join(",\n"),
        response = if count_errors {
            "response = function(status, headers, body)\n  if string.find(body, '\"errors\"', 1, true) then graphql_errors = graphql_errors + 1 end\nend\n"
        } else {
            ""
        },
    );
    let path = folder.join(format!("{name}.lua"));
    std::fs::write(&path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_hold_any_text() {
        assert_eq!(lua_string("a"), "[=[a]=]");
        assert_eq!(lua_string("x]=]y"), "[==[x]=]y]==]");
    }

    #[test]
    fn the_origin_drops_the_path() {
        assert_eq!(origin("http://127.0.0.1:7878/graphql"), "http://127.0.0.1:7878");
        assert_eq!(origin("http://127.0.0.1:7878"), "http://127.0.0.1:7878");
    }
}
