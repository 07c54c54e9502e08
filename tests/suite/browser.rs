//! A real headless Chromium for the dashboard's end-to-end tests: `chromedriver` started on a
//! free loopback port (in a process group of its own, so that the browsers it starts end with it),
//! a fantoccini WebDriver session with the browser's console log switched on, explicit waits that
//! poll with a deadline, the console's errors (a script error or a Content-Security-Policy
//! violation), and screenshots saved under `target/dashboard-screenshots/`.
//!
//! The binaries come from `CHROMEDRIVER` and `CHROME`, else from `PATH`. When they are missing
//! the test is skipped with a line saying why, except under `CI=true`, where it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long an explicit wait polls before it fails the test.
pub const WAIT: Duration = Duration::from_secs(10);

/// The WebDriver key codes the tests press.
pub mod keys {
    pub const TAB: &str = "\u{e004}";
    pub const ENTER: &str = "\u{e007}";
    pub const ARROW_DOWN: &str = "\u{e015}";
}

/// A headless Chromium driven through chromedriver; both end when this is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// The console messages read so far (reading the log empties it in the browser).
    console: Vec<String>,
}

/// Where the browser and its driver are, or why they cannot be used.
struct Binaries {
    driver: PathBuf,
    chrome: PathBuf,
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|folder| names.iter().map(move |name| folder.join(name)))
        .find(|candidate| candidate.is_file())
}

fn find_binaries() -> Result<Binaries, String> {
    let from_env = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let driver = match from_env("CHROMEDRIVER") {
        Some(given) if given.is_file() => given,
        Some(given) => return Err(format!("CHROMEDRIVER={} is not a file", given.display())),
        None => {
            on_path(&["chromedriver"]).ok_or("no chromedriver on PATH (Debian: apt-get install chromium-driver; or set CHROMEDRIVER)")?
        }
    };
    let chrome = match from_env("CHROME") {
        Some(given) if given.is_file() => given,
        Some(given) => return Err(format!("CHROME={} is not a file", given.display())),
        None => on_path(&["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"])
            .ok_or("no chromium on PATH (Debian: apt-get install chromium; or set CHROME)")?,
    };
    Ok(Binaries { driver, chrome })
}

/// Whether this is a CI run, where a browser test must run rather than skip.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("its address").port()
}

/// Whether chromedriver at `base` says it is ready.
fn driver_ready(base: &str) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let Ok(mut response) = agent.get(&format!("{base}/status")).call() else {
        return false;
    };
    let Ok(body) = response.body_mut().read_to_string() else {
        return false;
    };
    serde_json::from_str::<Value>(&body).is_ok_and(|status| status["value"]["ready"] == true)
}

/// `POST /session/{id}/se/log {"type": "browser"}`: chromedriver's console log of the page (its
/// entries since the last read), with `goog:loggingPrefs` asking for every level.
#[derive(Debug)]
struct ReadConsoleLog;

/// `url::ParseError` (the url crate comes through reqwest, which names only its `Url`).
type UrlParseError = <reqwest::Url as std::str::FromStr>::Err;

impl WebDriverCompatibleCommand for ReadConsoleLog {
    fn endpoint(&self, base_url: &reqwest::Url, session_id: Option<&str>) -> Result<reqwest::Url, UrlParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session. `None` (after printing why) when
    /// the binaries are missing outside CI; under `CI=true` that fails the test.
    pub async fn start(test: &str) -> Option<Browser> {
        let binaries = match find_binaries() {
            Ok(binaries) => binaries,
            Err(why) if in_ci() => panic!("{test}: CI=true and the browser test cannot run: {why}"),
            Err(why) => {
                eprintln!("skipped {test}: {why} (with CI=true this fails)");
                return None;
            }
        };
        let port = free_port();
        let mut command = Command::new(&binaries.driver);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A process group of its own: dropping the browser ends chromedriver and every Chromium
        // process it started, even when the test failed before the session was closed.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut driver = command
            .spawn()
            .unwrap_or_else(|error| panic!("{test}: cannot start {}: {error}", binaries.driver.display()));
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !driver_ready(&base) {
            if let Ok(Some(status)) = driver.try_wait() {
                panic!("{test}: {} exited ({status}) before it was ready", binaries.driver.display());
            }
            if Instant::now() > deadline {
                kill_group(&mut driver);
                panic!("{test}: {} did not answer /status within 20 s", binaries.driver.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": binaries.chrome,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1400,1000",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--disable-background-networking",
                    "--disable-sync",
                    "--disable-component-update",
                    "--lang=en-GB",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("the capabilities are an object")
        };
        let client = match ClientBuilder::native().capabilities(capabilities).connect(&base).await {
            Ok(client) => client,
            Err(error) => {
                kill_group(&mut driver);
                panic!("{test}: no WebDriver session with {}: {error}", binaries.chrome.display());
            }
        };
        Some(Browser {
            client,
            driver,
            console: Vec::new(),
        })
    }

    /// Opens `url` and waits for `ready` (a CSS selector) to be there.
    pub async fn open(&self, url: &str, ready: &str) -> Element {
        self.client.goto(url).await.unwrap_or_else(|error| panic!("open {url}: {error}"));
        self.wait_for(ready).await
    }

    /// The first element matching `css`, waiting for it at most [`WAIT`].
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => {
                let url = self.url().await;
                let body = self.body_text().await;
                panic!("no `{css}` on {url} within {WAIT:?} ({error}); the page says:\n{body}")
            }
        }
    }

    /// Every element matching `css` (none is no error).
    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("find `{css}`: {error}"))
    }

    /// Polls `condition` (a JavaScript expression) until it is true, at most [`WAIT`].
    pub async fn wait_until(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.script(&format!("return !!({condition});")).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let url = self.url().await;
                panic!("{what}: `{condition}` still false on {url} after {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's URL path (with its query) satisfies `accept`; the URL.
    pub async fn wait_for_path(&self, what: &str, accept: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            let path = url
                .split_once("://")
                .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
                .unwrap_or("/");
            if accept(path) && self.script("return document.readyState").await == "complete" {
                return url;
            }
            if Instant::now() > deadline {
                panic!("{what}: still on {url} after {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `body` (a function body with `return`) in the page.
    pub async fn script(&self, body: &str) -> Value {
        self.client
            .execute(body, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("script `{body}`: {error}"))
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|url| url.to_string())
            .unwrap_or_else(|error| format!("<no URL: {error}>"))
    }

    /// The page's visible text (for failure messages).
    pub async fn body_text(&self) -> String {
        match self
            .client
            .execute("return document.body ? document.body.innerText : ''", Vec::new())
            .await
        {
            Ok(Value::String(text)) => text.chars().take(2000).collect(),
            other => format!("<no text: {other:?}>"),
        }
    }

    /// The element that has the keyboard focus, described as `tag#id.class` plus its href.
    pub async fn focused(&self) -> String {
        let described = self
            .script(
                "var e = document.activeElement; if (!e) return ''; \
                 return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + \
                 (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + \
                 (e.getAttribute('href') ? ' ' + e.getAttribute('href') : '');",
            )
            .await;
        described.as_str().unwrap_or_default().to_owned()
    }

    /// Types `keys` (text or [`keys`] codes) as a keyboard would: each key pressed and released,
    /// going to whatever has the focus.
    pub async fn press(&self, keys: &str) {
        let mut typing = KeyActions::new("keyboard".to_owned());
        for key in keys.chars() {
            typing = typing.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
        }
        self.client
            .perform_actions(typing)
            .await
            .unwrap_or_else(|error| panic!("press {keys:?}: {error}"));
    }

    /// Reads the console's new messages into the record; the new ones as `LEVEL message`.
    pub async fn read_console(&mut self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(ReadConsoleLog)
            .await
            .unwrap_or_else(|error| panic!("read the browser's log: {error}"));
        let fresh: Vec<String> = entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|entry| {
                format!(
                    "{} {}",
                    entry["level"].as_str().unwrap_or("?"),
                    entry["message"].as_str().unwrap_or_default()
                )
            })
            .collect();
        self.console.extend(fresh.iter().cloned());
        fresh
    }

    /// Fails when the page logged an error or a warning since the last check (a script error, a
    /// failed fetch, a Content-Security-Policy violation) or carries a `style` attribute (which
    /// the policy would have refused).
    pub async fn assert_page_clean(&mut self, page: &str) {
        let fresh = self.read_console().await;
        let problems: Vec<&String> = fresh
            .iter()
            .filter(|line| line.starts_with("SEVERE") || line.starts_with("WARNING"))
            // The browser asks for /favicon.ico by itself; whether there is one is not the page's error.
            .filter(|line| !line.contains("/favicon.ico "))
            .collect();
        assert!(problems.is_empty(), "{page}: the browser's console has errors: {problems:#?}");
        let styled = self.script("return document.querySelectorAll('[style]').length").await;
        assert_eq!(styled, json!(0), "{page}: elements with a style attribute (refused by the CSP)");
    }

    /// Saves a PNG of the whole page (up to 3000 px tall) as `target/dashboard-screenshots/{name}.png`:
    /// the window is made as tall as the page for the picture, then restored.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let height = self
            .script("return Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)")
            .await
            .as_u64()
            .unwrap_or(1000)
            .clamp(600, 3000);
        let (width, old_height) = self.client.get_window_size().await.unwrap_or((1400, 1000));
        let resized = self.client.set_window_size(width as u32, height as u32 + 140).await.is_ok();
        let file = self.screenshot_window(name).await;
        if resized {
            let _ = self.client.set_window_size(width as u32, old_height as u32).await;
        }
        file
    }

    /// Saves a PNG of the window as it is (for pages sized to the window, like the graph's
    /// viewport, which a taller window would only stretch).
    pub async fn screenshot_window(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|error| panic!("screenshot {name}: {error}"));
        assert!(png.starts_with(b"\x89PNG"), "the screenshot {name} is a PNG");
        let folder = screenshot_dir();
        std::fs::create_dir_all(&folder).unwrap_or_else(|error| panic!("create {}: {error}", folder.display()));
        let file = folder.join(format!("{name}.png"));
        std::fs::write(&file, &png).unwrap_or_else(|error| panic!("write {}: {error}", file.display()));
        file
    }

    /// Ends the session (closing Chromium), then chromedriver.
    pub async fn finish(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        kill_group(&mut self.driver);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// Ends chromedriver's process group (chromedriver and the Chromium it started) and reaps it.
fn kill_group(driver: &mut Child) {
    if let Ok(None) = driver.try_wait() {
        let group = driver.id() as i32;
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    let _ = driver.wait();
}

/// `target/dashboard-screenshots/`: under `CARGO_TARGET_DIR` when set, else the crate's `target/`.
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|value| !value.is_empty()) {
        Some(dir) => manifest.join(dir),
        None => manifest.join("target"),
    };
    target.join("dashboard-screenshots")
}
