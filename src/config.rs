//! One typed configuration from `sextant.yaml`, the environment and the command line (in that
//! order of precedence, last wins). Secrets are redacted in `Debug`; tokens are never written in
//! the file, only the names of the environment variables that hold them.
//!
//! ```yaml
//! repositories:
//!   - url: https://git.example.com/acme/payments.git   # https, ssh, user@host:path, or a path
//!     branch: main                                      # default: the remote's HEAD
//!     name: payments                                    # default: the last path segment
//! directories:
//!   - /srv/git            # every git repository under this folder
//! crawl:
//!   concurrency: 8
//!   timeoutSeconds: 120
//!   maxDescriptorsPerRepo: 1000
//!   maxBytesPerRepo: 16777216
//!   descriptorPatterns: ["*.catalog.yaml"]
//! credentials:
//!   - host: git.example.com   # the token is sent to this host only (add `:port` for one port)
//!     tokenEnv: GIT_TOKEN     # the environment variable that holds the token
//!     username: x-access-token
//! dataDir: ./data             # relative to this file
//! database: postgres://...
//! server:                     # `sextant serve`
//!   listen: 127.0.0.1:7878
//!   tokenEnv: SEXTANT_TOKEN   # the bearer token that mutations need (default SEXTANT_TOKEN)
//!   crawlIntervalSeconds: 600 # a crawl of every source on this interval (jittered); 0: none
//!   jobLeaseSeconds: 60       # a crawl job whose replica stops renewing it is taken over after this
//!   requestTimeoutSeconds: 30
//!   introspection: true
//!   hooks:                    # the environment variables holding each provider's secret
//!     githubSecretEnv: SEXTANT_GITHUB_SECRET
//!     gitlabTokenEnv: SEXTANT_GITLAB_TOKEN
//!     bitbucketSecretEnv: SEXTANT_BITBUCKET_SECRET
//! search:                     # default: Postgres full-text in the catalog's database
//!   meilisearch:              # or MEILI_URL (+ MEILI_MASTER_KEY, MEILI_INDEX) in the environment
//!     url: http://127.0.0.1:7700
//!     masterKeyEnv: MEILI_MASTER_KEY  # the environment variable holding the key (default MEILI_MASTER_KEY)
//!     index: sextant-entities         # the index's uid (the demo's catalog uses `<index>-demo`)
//!     taskTimeoutSeconds: 30          # how long to wait for one Meilisearch task
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crawler::{
    Credentials, DEFAULT_TOKEN_USERNAME, DescriptorMatcher, HostName, HostToken, Location, Origin, ReadOptions, Secret, Source,
    find_repositories,
};
use crate::descriptor::yaml::{self, Node};
use crate::search::{DEFAULT_MEILI_INDEX, DEFAULT_TASK_TIMEOUT, MeiliConfig, SearchConfig};

/// The settings of a crawl.
#[derive(Clone, Default)]
pub struct Config {
    pub sources: Vec<Source>,
    pub concurrency: Option<usize>,
    pub repo_timeout: Option<Duration>,
    pub max_descriptors: Option<usize>,
    /// Bytes of descriptor blobs read per repository and read.
    pub max_repo_bytes: Option<u64>,
    /// The built-in descriptor names plus `crawl.descriptorPatterns`, checked when read.
    pub descriptor_patterns: DescriptorMatcher,
    /// The file's `credentials`: which environment variable holds the token of which host.
    pub credentials: Vec<CredentialSetting>,
    /// Absolute (a relative `dataDir` is taken relative to the config file).
    pub data_dir: Option<PathBuf>,
    /// `DATABASE_URL`; may hold a password, so it is never printed.
    pub database_url: Option<String>,
    /// The settings of `sextant serve`.
    pub server: ServerConfig,
    /// The search backend: Postgres full-text unless Meilisearch is configured. The master key
    /// is read from the environment by [`Config::apply_environment`].
    pub search: SearchConfig,
    /// `search.meilisearch.masterKeyEnv`: the environment variable holding Meilisearch's master
    /// key (`None`: [`MEILI_KEY_VARIABLE`]).
    pub meili_master_key_env: Option<String>,
}

/// The `server` section: how `sextant serve` listens, authenticates and schedules. Secrets are
/// read from the environment variables the file names, when the server starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: Option<String>,
    /// The environment variable holding the bearer token of mutations.
    pub token_env: String,
    /// `None`: no scheduled crawl.
    pub crawl_interval: Option<Duration>,
    pub job_lease: Duration,
    pub request_timeout: Duration,
    pub introspection: bool,
    pub github_secret_env: String,
    pub gitlab_token_env: String,
    pub bitbucket_secret_env: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: None,
            token_env: "SEXTANT_TOKEN".to_owned(),
            crawl_interval: Some(Duration::from_secs(600)),
            job_lease: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            introspection: true,
            github_secret_env: "SEXTANT_GITHUB_SECRET".to_owned(),
            gitlab_token_env: "SEXTANT_GITLAB_TOKEN".to_owned(),
            bitbucket_secret_env: "SEXTANT_BITBUCKET_SECRET".to_owned(),
        }
    }
}

impl ServerConfig {
    /// The value of the environment variable `name`, when set and not empty.
    pub fn secret(name: &str) -> Option<Secret> {
        std::env::var(name).ok().filter(|value| !value.is_empty()).map(Secret::new)
    }
}

/// One entry of `credentials`: a token for one host, read from an environment variable when a
/// crawl starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSetting {
    pub host: HostName,
    /// The name of the environment variable that holds the token.
    pub token_env: String,
    pub username: Option<String>,
    /// `file:line:col` of the entry, for messages.
    pub place: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Config")
            .field("sources", &self.sources.iter().map(|source| &source.url).collect::<Vec<_>>())
            .field("concurrency", &self.concurrency)
            .field("repo_timeout", &self.repo_timeout)
            .field("max_descriptors", &self.max_descriptors)
            .field("max_repo_bytes", &self.max_repo_bytes)
            .field("descriptor_patterns", &self.descriptor_patterns)
            .field("credentials", &self.credentials)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|url| crate::crawler::redact(url)))
            .field("server", &self.server)
            .field("search", &self.search)
            .field("meili_master_key_env", &self.meili_master_key_env)
            .finish()
    }
}

/// A config file that cannot be used, with the place of the problem.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

const TOP_LEVEL_KEYS: &[&str] = &[
    "repositories",
    "directories",
    "crawl",
    "credentials",
    "dataDir",
    "database",
    "server",
    "search",
];
const SEARCH_KEYS: &[&str] = &["meilisearch"];
const MEILI_KEYS: &[&str] = &["url", "masterKeyEnv", "index", "taskTimeoutSeconds"];

/// The environment form of the search settings: Meilisearch's URL selects it (and overrides
/// the file's), with its master key and index.
const MEILI_URL_VARIABLE: &str = "MEILI_URL";
pub const MEILI_KEY_VARIABLE: &str = "MEILI_MASTER_KEY";
const MEILI_INDEX_VARIABLE: &str = "MEILI_INDEX";
const SERVER_KEYS: &[&str] = &[
    "listen",
    "tokenEnv",
    "crawlIntervalSeconds",
    "jobLeaseSeconds",
    "requestTimeoutSeconds",
    "introspection",
    "hooks",
];
const HOOK_KEYS: &[&str] = &["githubSecretEnv", "gitlabTokenEnv", "bitbucketSecretEnv"];
const REPOSITORY_KEYS: &[&str] = &["url", "branch", "name"];
const CRAWL_KEYS: &[&str] = &[
    "concurrency",
    "timeoutSeconds",
    "maxDescriptorsPerRepo",
    "maxBytesPerRepo",
    "descriptorPatterns",
];
const CREDENTIAL_KEYS: &[&str] = &["host", "tokenEnv", "username"];

/// The environment form of a token: `SEXTANT_GIT_TOKEN`, for the hosts in `SEXTANT_GIT_HOST`.
const TOKEN_VARIABLE: &str = "SEXTANT_GIT_TOKEN";
const HOST_VARIABLE: &str = "SEXTANT_GIT_HOST";
const USERNAME_VARIABLE: &str = "SEXTANT_GIT_USERNAME";

impl Config {
    /// Reads `path`. Relative local paths and `dataDir` in it are taken relative to the file's
    /// folder.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError(format!("cannot read {}: {error}", path.display())))?;
        let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| absolute_path(path, Path::new(".")));
        let base = absolute.parent().unwrap_or(Path::new("/"));
        Config::from_text(&text, &path.display().to_string(), base)
    }

    /// Reads the text of a config file named `file`; relative paths are taken relative to `base`.
    pub fn from_text(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let (documents, diagnostics) = yaml::parse(text, file);
        if let Some(diagnostic) = diagnostics.first() {
            return Err(ConfigError(format!(
                "{file}:{}:{}: {}",
                diagnostic.line, diagnostic.column, diagnostic.message
            )));
        }
        let base = &absolute_path(base, Path::new("."));
        let mut config = Config::default();
        let Some(root) = documents.first().map(|document| &document.root).filter(|root| !root.is_null()) else {
            return Ok(config);
        };
        let reader = Reader { file };
        let entries = root.as_mapping().ok_or_else(|| reader.at(root, "the config must be a mapping"))?;
        reader.check_keys(root, TOP_LEVEL_KEYS, None)?;
        for (key, value) in entries {
            match key.as_key() {
                Some("repositories") => {
                    for item in reader.list(value, "repositories")? {
                        config.sources.push(reader.repository(item, base)?);
                    }
                }
                Some("directories") => {
                    for item in reader.list(value, "directories")? {
                        let folder = reader.text(item, "a directory")?;
                        config
                            .add_directory_from(Path::new(folder), base)
                            .map_err(|error| reader.at(item, &error.0))?;
                    }
                }
                Some("crawl") => reader.crawl(value, &mut config)?,
                Some("server") => reader.server(value, &mut config.server)?,
                Some("search") => reader.search(value, &mut config)?,
                Some("credentials") => {
                    for item in reader.list(value, "credentials")? {
                        config.credentials.push(reader.credential(item)?);
                    }
                }
                Some("dataDir") => config.data_dir = Some(absolute_path(Path::new(reader.text(value, "`dataDir`")?), base)),
                Some("database") => config.database_url = Some(reader.text(value, "`database`")?.to_owned()),
                _ => {}
            }
        }
        Ok(config)
    }

    /// Adds every git repository under `folder` (relative to the current folder) as a local
    /// source, with its absolute path.
    pub fn add_directory(&mut self, folder: &Path) -> Result<(), ConfigError> {
        self.add_directory_from(folder, &current_dir())
    }

    fn add_directory_from(&mut self, folder: &Path, base: &Path) -> Result<(), ConfigError> {
        let folder = absolute_path(folder, base);
        let repositories = find_repositories(&folder).map_err(|error| ConfigError(format!("cannot list {}: {error}", folder.display())))?;
        for repository in repositories {
            let source = Source::parse(&repository.to_string_lossy(), None, None, Origin::Operator)
                .map_err(|error| ConfigError(error.to_string()))?;
            self.sources.push(source);
        }
        Ok(())
    }

    /// Adds a repository named on the command line; a local path is made absolute (relative to
    /// the current folder).
    pub fn add_repository(&mut self, url: &str) -> Result<(), ConfigError> {
        let source = local_made_absolute(url, None, None, &current_dir()).map_err(|error| ConfigError(error.to_string()))?;
        self.sources.push(source);
        Ok(())
    }

    /// The URL a crawl would store for `text` given on the command line: a local path made
    /// absolute, a remote URL without its password. Unusable text is returned as it is.
    pub fn stored_url(text: &str) -> String {
        local_made_absolute(text, None, None, &current_dir()).map_or_else(|_| text.to_owned(), |source| source.url)
    }

    /// Applies the environment: `DATABASE_URL`, `SEXTANT_DATA_DIR`, and the search settings
    /// (see [`Config::apply_search_environment`]).
    pub fn apply_environment(&mut self) {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            self.database_url = Some(url);
        }
        if let Some(dir) = std::env::var_os("SEXTANT_DATA_DIR") {
            self.data_dir = Some(PathBuf::from(dir));
        }
        self.apply_search_environment(&|name| std::env::var(name).ok());
    }

    /// `MEILI_URL` selects Meilisearch (over the file's URL), `MEILI_INDEX` names its index;
    /// then, with Meilisearch selected, its master key is read from `masterKeyEnv` (default
    /// `MEILI_MASTER_KEY`). Empty values count as unset.
    fn apply_search_environment(&mut self, environment: &dyn Fn(&str) -> Option<String>) {
        let variable = |name: &str| {
            environment(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        if let Some(url) = variable(MEILI_URL_VARIABLE) {
            match &mut self.search.meilisearch {
                Some(meili) => meili.url = url,
                None => self.search.meilisearch = Some(default_meili(url)),
            }
        }
        let Some(meili) = &mut self.search.meilisearch else {
            return;
        };
        if let Some(index) = variable(MEILI_INDEX_VARIABLE) {
            meili.index = index;
        }
        let key_variable = self.meili_master_key_env.as_deref().unwrap_or(MEILI_KEY_VARIABLE);
        meili.master_key = environment(key_variable).filter(|key| !key.is_empty()).map(Secret::new);
    }

    /// The search settings of `catalog`: the demo's catalog keeps to an index of its own
    /// (`<index>-demo`) when Meilisearch is configured, so that it never mixes with yours.
    pub fn search_for(&self, catalog: crate::store::Catalog) -> SearchConfig {
        let mut search = self.search.clone();
        if catalog == crate::store::Catalog::Demo
            && let Some(meili) = &mut search.meilisearch
        {
            meili.index = format!("{}-demo", meili.index);
        }
        search
    }

    /// Drops sources listed twice (same URL and branch), keeping the first.
    pub fn dedup_sources(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.sources
            .retain(|source| seen.insert((source.url.clone(), source.branch.clone())));
    }

    /// How the crawler reads repositories with this configuration: mirrors under `mirrors_dir`,
    /// the descriptor patterns and cap, and the https tokens (see [`Config::git_credentials`]).
    pub fn read_options(&self, mirrors_dir: PathBuf) -> Result<ReadOptions, ConfigError> {
        let mut options = ReadOptions::new(mirrors_dir);
        options.descriptors = self.descriptor_patterns.clone();
        if let Some(max) = self.max_repo_bytes {
            options.max_repo_bytes = max;
        }
        if let Some(max) = self.max_descriptors {
            options.max_descriptors = max;
        }
        options.credentials = self.git_credentials()?;
        Ok(options)
    }

    /// The https tokens, read from the environment now: each `credentials` entry's `tokenEnv`
    /// variable, then `SEXTANT_GIT_TOKEN` for the hosts in `SEXTANT_GIT_HOST` (comma-separated;
    /// user name `SEXTANT_GIT_USERNAME`). A token without hosts is refused: it would otherwise
    /// go to every server a source names.
    pub fn git_credentials(&self) -> Result<Credentials, ConfigError> {
        self.git_credentials_from(&|name| std::env::var(name).ok())
    }

    fn git_credentials_from(&self, environment: &dyn Fn(&str) -> Option<String>) -> Result<Credentials, ConfigError> {
        let mut tokens = Vec::new();
        for setting in &self.credentials {
            let token = environment(&setting.token_env).filter(|token| !token.is_empty()).ok_or_else(|| {
                ConfigError(format!(
                    "{}: the environment variable `{}` (the `tokenEnv` of host `{}`) is not set",
                    setting.place, setting.token_env, setting.host
                ))
            })?;
            tokens.push(HostToken {
                hosts: vec![setting.host.clone()],
                username: setting.username.clone().unwrap_or_else(|| DEFAULT_TOKEN_USERNAME.to_owned()),
                token: Secret::new(token),
            });
        }
        if let Some(token) = environment(TOKEN_VARIABLE).filter(|token| !token.is_empty()) {
            let hosts = environment(HOST_VARIABLE).unwrap_or_default();
            if hosts.trim().is_empty() {
                return Err(ConfigError(format!(
                    "{TOKEN_VARIABLE} is set but {HOST_VARIABLE} is not: name the hosts the token is for \
                     ({HOST_VARIABLE}=git.example.com, comma-separated for several); it is never sent to other hosts"
                )));
            }
            let hosts = hosts
                .split(',')
                .map(|host| HostName::parse(host).map_err(|reason| ConfigError(format!("{HOST_VARIABLE}: {reason}"))))
                .collect::<Result<Vec<_>, _>>()?;
            tokens.push(HostToken {
                hosts,
                username: environment(USERNAME_VARIABLE)
                    .filter(|name| !name.is_empty())
                    .unwrap_or_else(|| DEFAULT_TOKEN_USERNAME.to_owned()),
                token: Secret::new(token),
            });
        }
        Ok(Credentials::new(tokens))
    }
}

/// Reads the parts of one config file, with positions in its errors.
struct Reader<'file> {
    file: &'file str,
}

impl Reader<'_> {
    fn at(&self, node: &Node, message: &str) -> ConfigError {
        ConfigError(format!("{}:{}:{}: {message}", self.file, node.start.line, node.start.column))
    }

    fn list<'node>(&self, node: &'node Node, what: &str) -> Result<&'node [Node], ConfigError> {
        node.as_sequence()
            .ok_or_else(|| self.at(node, &format!("`{what}` must be a list, not {}", node.type_name())))
    }

    fn text<'node>(&self, node: &'node Node, what: &str) -> Result<&'node str, ConfigError> {
        node.as_str()
            .ok_or_else(|| self.at(node, &format!("{what} must be a string, not {}", node.type_name())))
    }

    fn optional_text<'node>(&self, mapping: &'node Node, key: &str) -> Result<Option<&'node str>, ConfigError> {
        mapping.get(key).map(|node| self.text(node, &format!("`{key}`"))).transpose()
    }

    /// Every key of `mapping` must be one of `known`; a near miss is named.
    fn check_keys(&self, mapping: &Node, known: &[&str], within: Option<&str>) -> Result<(), ConfigError> {
        for (key, _) in mapping.as_mapping().unwrap_or_default() {
            let Some(name) = key.as_key() else {
                return Err(self.at(key, "keys must be plain strings"));
            };
            if known.contains(&name) {
                continue;
            }
            let place = within.map(|within| format!(" in `{within}`")).unwrap_or_default();
            let help = match closest(name, known) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("known: {}", known.join(", ")),
            };
            let is_key = ["masterKey", "key", "apiKey"].iter().any(|key| name.eq_ignore_ascii_case(key));
            let token_hint = if within == Some("credentials") && name.eq_ignore_ascii_case("token") {
                "; a token is never written in the file: put it in an environment variable and name that with `tokenEnv`"
            } else if within == Some("search.meilisearch") && is_key {
                "; a key is never written in the file: put it in an environment variable and name that with `masterKeyEnv`"
            } else {
                ""
            };
            return Err(self.at(key, &format!("unknown setting `{name}`{place}; {help}{token_hint}")));
        }
        Ok(())
    }

    fn repository(&self, item: &Node, base: &Path) -> Result<Source, ConfigError> {
        let (url_node, branch, name) = if item.as_str().is_some() {
            (item, None, None)
        } else if item.as_mapping().is_some() {
            self.check_keys(item, REPOSITORY_KEYS, Some("repositories"))?;
            let url = item.get("url").ok_or_else(|| self.at(item, "a repository needs a `url`"))?;
            (url, self.optional_text(item, "branch")?, self.optional_text(item, "name")?)
        } else {
            return Err(self.at(
                item,
                &format!("a repository must be a URL or a mapping with `url`, not {}", item.type_name()),
            ));
        };
        let url = self.text(url_node, "`url`")?;
        local_made_absolute(url, branch.map(str::to_owned), name.map(str::to_owned), base)
            .map_err(|error| self.at(url_node, &error.to_string()))
    }

    fn crawl(&self, value: &Node, config: &mut Config) -> Result<(), ConfigError> {
        if value.as_mapping().is_none() {
            return Err(self.at(value, &format!("`crawl` must be a mapping, not {}", value.type_name())));
        }
        self.check_keys(value, CRAWL_KEYS, Some("crawl"))?;
        let number = |key: &str| -> Result<Option<u64>, ConfigError> {
            match value.get(key) {
                None => Ok(None),
                Some(node) => match node.to_json().as_u64() {
                    Some(number) if number > 0 => Ok(Some(number)),
                    _ => Err(self.at(node, &format!("`{key}` must be a positive integer"))),
                },
            }
        };
        config.concurrency = number("concurrency")?.map(|number| number as usize);
        config.repo_timeout = number("timeoutSeconds")?.map(Duration::from_secs);
        config.max_descriptors = number("maxDescriptorsPerRepo")?.map(|number| number as usize);
        config.max_repo_bytes = number("maxBytesPerRepo")?;
        if let Some(patterns) = value.get("descriptorPatterns") {
            let mut texts = Vec::new();
            for pattern in self.list(patterns, "descriptorPatterns")? {
                let text = self.text(pattern, "a pattern")?;
                // Checked one by one so that the error points at the pattern.
                DescriptorMatcher::new(&[text]).map_err(|error| self.at(pattern, &error.to_string()))?;
                texts.push(text);
            }
            config.descriptor_patterns = DescriptorMatcher::new(&texts).map_err(|error| self.at(patterns, &error.to_string()))?;
        }
        Ok(())
    }

    fn server(&self, value: &Node, server: &mut ServerConfig) -> Result<(), ConfigError> {
        if value.as_mapping().is_none() {
            return Err(self.at(value, &format!("`server` must be a mapping, not {}", value.type_name())));
        }
        self.check_keys(value, SERVER_KEYS, Some("server"))?;
        let seconds = |key: &str, zero_allowed: bool| -> Result<Option<u64>, ConfigError> {
            match value.get(key) {
                None => Ok(None),
                Some(node) => match node.to_json().as_u64() {
                    Some(number) if number > 0 || zero_allowed => Ok(Some(number)),
                    _ => Err(self.at(node, &format!("`{key}` must be a positive integer"))),
                },
            }
        };
        if let Some(listen) = self.optional_text(value, "listen")? {
            server.listen = Some(listen.to_owned());
        }
        if let Some(name) = self.optional_text(value, "tokenEnv")? {
            server.token_env = name.to_owned();
        }
        if let Some(interval) = seconds("crawlIntervalSeconds", true)? {
            server.crawl_interval = (interval > 0).then(|| Duration::from_secs(interval));
        }
        if let Some(lease) = seconds("jobLeaseSeconds", false)? {
            server.job_lease = Duration::from_secs(lease);
        }
        if let Some(timeout) = seconds("requestTimeoutSeconds", false)? {
            server.request_timeout = Duration::from_secs(timeout);
        }
        if let Some(node) = value.get("introspection") {
            server.introspection = node
                .to_json()
                .as_bool()
                .ok_or_else(|| self.at(node, "`introspection` must be true or false"))?;
        }
        if let Some(hooks) = value.get("hooks") {
            if hooks.as_mapping().is_none() {
                return Err(self.at(hooks, &format!("`hooks` must be a mapping, not {}", hooks.type_name())));
            }
            self.check_keys(hooks, HOOK_KEYS, Some("server.hooks"))?;
            for (key, target) in [
                ("githubSecretEnv", &mut server.github_secret_env),
                ("gitlabTokenEnv", &mut server.gitlab_token_env),
                ("bitbucketSecretEnv", &mut server.bitbucket_secret_env),
            ] {
                if let Some(name) = self.optional_text(hooks, key)? {
                    *target = name.to_owned();
                }
            }
        }
        Ok(())
    }

    fn search(&self, value: &Node, config: &mut Config) -> Result<(), ConfigError> {
        if value.as_mapping().is_none() {
            return Err(self.at(value, &format!("`search` must be a mapping, not {}", value.type_name())));
        }
        self.check_keys(value, SEARCH_KEYS, Some("search"))?;
        let Some(meili) = value.get("meilisearch") else {
            return Ok(());
        };
        if meili.as_mapping().is_none() {
            return Err(self.at(meili, &format!("`meilisearch` must be a mapping, not {}", meili.type_name())));
        }
        self.check_keys(meili, MEILI_KEYS, Some("search.meilisearch"))?;
        let url_node = meili
            .get("url")
            .ok_or_else(|| self.at(meili, "`meilisearch` needs a `url`, e.g. http://127.0.0.1:7700"))?;
        let url = self.text(url_node, "`url`")?.trim();
        let host = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
        if host.is_none_or(|host| host.is_empty() || host.starts_with('/')) {
            return Err(self.at(url_node, &format!("`{url}` is not an http:// or https:// URL")));
        }
        let mut settings = default_meili(url.to_owned());
        if let Some(index) = self.optional_text(meili, "index")? {
            let valid = !index.is_empty()
                && index.len() <= 400
                && index
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '-' || character == '_');
            if !valid {
                return Err(self.at(
                    meili.get("index").unwrap_or(meili),
                    "`index` must be a Meilisearch index uid: letters, digits, `-` and `_`",
                ));
            }
            settings.index = index.to_owned();
        }
        if let Some(node) = meili.get("taskTimeoutSeconds") {
            match node.to_json().as_u64() {
                Some(seconds) if seconds > 0 => settings.task_timeout = Duration::from_secs(seconds),
                _ => return Err(self.at(node, "`taskTimeoutSeconds` must be a positive integer")),
            }
        }
        if let Some(name) = self.optional_text(meili, "masterKeyEnv")? {
            if !is_variable_name(name) {
                return Err(self.at(
                    meili.get("masterKeyEnv").unwrap_or(meili),
                    "`masterKeyEnv` must name an environment variable (letters, digits and `_`), not hold the key",
                ));
            }
            config.meili_master_key_env = Some(name.to_owned());
        }
        config.search.meilisearch = Some(settings);
        Ok(())
    }

    fn credential(&self, item: &Node) -> Result<CredentialSetting, ConfigError> {
        if item.as_mapping().is_none() {
            return Err(self.at(
                item,
                &format!(
                    "a credential must be a mapping with `host` and `tokenEnv`, not {}",
                    item.type_name()
                ),
            ));
        }
        self.check_keys(item, CREDENTIAL_KEYS, Some("credentials"))?;
        let host_node = item.get("host").ok_or_else(|| self.at(item, "a credential needs a `host`"))?;
        let host = HostName::parse(self.text(host_node, "`host`")?).map_err(|reason| self.at(host_node, &reason))?;
        let token_node = item
            .get("tokenEnv")
            .ok_or_else(|| self.at(item, "a credential needs `tokenEnv`, the environment variable that holds the token"))?;
        let token_env = self.text(token_node, "`tokenEnv`")?;
        if !is_variable_name(token_env) {
            return Err(self.at(
                token_node,
                "`tokenEnv` must name an environment variable (letters, digits and `_`), not hold the token",
            ));
        }
        let username = self.optional_text(item, "username")?;
        if username.is_some_and(str::is_empty) {
            return Err(self.at(item, "`username` must not be empty"));
        }
        Ok(CredentialSetting {
            host,
            token_env: token_env.to_owned(),
            username: username.map(str::to_owned),
            place: format!("{}:{}:{}", self.file, item.start.line, item.start.column),
        })
    }
}

/// Meilisearch at `url` with the default index, timeout and no key.
fn default_meili(url: String) -> MeiliConfig {
    MeiliConfig {
        url,
        master_key: None,
        index: DEFAULT_MEILI_INDEX.to_owned(),
        task_timeout: DEFAULT_TASK_TIMEOUT,
    }
}

/// Whether `name` can name an environment variable: letters, digits and `_`, not starting with
/// a digit.
fn is_variable_name(name: &str) -> bool {
    name.chars().next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
}

/// The known word closest to `word`, if it is close enough to be a likely typo.
fn closest<'known>(word: &str, known: &[&'known str]) -> Option<&'known str> {
    let lowered = word.to_ascii_lowercase();
    known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(&lowered, &candidate.to_ascii_lowercase()), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.min(candidate.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

/// `path` made absolute: relative to `base`, and canonical (symbolic links resolved) when it
/// exists.
fn absolute_path(path: &Path, base: &Path) -> PathBuf {
    let joined = base.join(path);
    std::fs::canonicalize(&joined).unwrap_or_else(|_| std::path::absolute(&joined).unwrap_or(joined))
}

/// Parses a source named by the operator; a local path is made absolute against `base`, so that
/// the stored URL does not depend on the folder sextant ran in. Remote URLs are kept as given.
fn local_made_absolute(
    text: &str,
    branch: Option<String>,
    name: Option<String>,
    base: &Path,
) -> Result<Source, crate::crawler::SourceError> {
    let source = Source::parse(text, branch.clone(), name.clone(), Origin::Operator)?;
    match &source.location {
        Location::Local(path) => Source::parse(&absolute_path(path, base).to_string_lossy(), branch, name, Origin::Operator),
        Location::Remote(_) => Ok(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Config, ConfigError> {
        Config::from_text(text, "sextant.yaml", Path::new("/etc/sextant"))
    }

    fn error(text: &str) -> String {
        read(text).unwrap_err().0
    }

    #[test]
    fn reads_sources_and_settings() {
        let text = "repositories:\n  - url: https://bot:secret@git.example.com/acme/payments.git\n    branch: main\n  - ./local/repo\n  - repos/b\n  - ../up\n  - /srv/abs\ncrawl:\n  concurrency: 4\n  timeoutSeconds: 30\n  descriptorPatterns: ['*.catalog.yaml']\ndatabase: postgres://user:pw@db/sextant\ndataDir: data\n";
        let config = read(text).unwrap();
        let urls: Vec<&str> = config.sources.iter().map(|source| source.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://bot@git.example.com/acme/payments.git",
                "/etc/sextant/local/repo",
                "/etc/sextant/repos/b",
                "/etc/sextant/../up",
                "/srv/abs"
            ]
        );
        assert_eq!(config.sources[0].branch.as_deref(), Some("main"));
        assert_eq!(config.sources[2].name, "b");
        assert_eq!(config.concurrency, Some(4));
        assert_eq!(config.repo_timeout, Some(Duration::from_secs(30)));
        assert_eq!(config.descriptor_patterns.patterns(), ["*.catalog.yaml"]);
        assert_eq!(config.data_dir.as_deref(), Some(Path::new("/etc/sextant/data")));
        let shown = format!("{config:?}");
        assert!(!shown.contains(":secret@") && !shown.contains(":pw@"), "{shown}");
    }

    #[test]
    fn relative_paths_in_a_file_are_relative_to_its_folder() {
        let folder = tempfile::tempdir().unwrap();
        let repository = folder.path().join("repos").join("a");
        std::fs::create_dir_all(&repository).unwrap();
        std::fs::write(
            folder.path().join("sextant.yaml"),
            "repositories:\n  - repos/a\n  - ./repos/../repos/a\ndataDir: state\n",
        )
        .unwrap();
        let config = Config::from_file(&folder.path().join("sextant.yaml")).unwrap();
        let canonical = std::fs::canonicalize(&repository).unwrap();
        assert_eq!(config.sources[0].url, canonical.to_string_lossy());
        assert_eq!(config.sources[1].url, canonical.to_string_lossy(), "existing paths are canonical");
        assert_eq!(config.data_dir, Some(std::fs::canonicalize(folder.path()).unwrap().join("state")));
    }

    #[test]
    fn command_line_paths_are_made_absolute() {
        let mut config = Config::default();
        config.add_repository(".").unwrap();
        config.add_repository("does-not-exist/repo").unwrap();
        config.add_repository("https://git.example.com/acme/x.git").unwrap();
        let current = std::env::current_dir().unwrap();
        assert_eq!(config.sources[0].url, std::fs::canonicalize(&current).unwrap().to_string_lossy());
        assert_eq!(
            config.sources[0].location,
            Location::Local(std::fs::canonicalize(&current).unwrap())
        );
        assert_eq!(config.sources[1].url, current.join("does-not-exist/repo").to_string_lossy());
        assert_eq!(
            config.sources[2].url, "https://git.example.com/acme/x.git",
            "remote URLs are untouched"
        );

        let folder = tempfile::tempdir().unwrap();
        crate::crawler::commit_files(&folder.path().join("one"), &[("a.txt", Some(b"a"))], "one").unwrap();
        let relative = pathdiff(folder.path(), &current);
        config.add_directory(&relative).unwrap();
        assert_eq!(
            config.sources[3].url,
            std::fs::canonicalize(folder.path()).unwrap().join("one").to_string_lossy()
        );
    }

    /// `target` written relative to `from`, through `..` segments.
    fn pathdiff(target: &Path, from: &Path) -> PathBuf {
        let mut relative = PathBuf::new();
        for _ in from.components().skip(1) {
            relative.push("..");
        }
        relative.join(target.strip_prefix("/").unwrap())
    }

    #[test]
    fn errors_name_the_place() {
        let message = error("repositories:\n  - url: ext::sh -c evil\n");
        assert!(message.starts_with("sextant.yaml:2:10: refused repository source"), "{message}");
        let message = error("repos: []\n");
        assert!(message.contains("unknown setting `repos`"), "{message}");
        assert!(message.contains("known: repositories, directories"), "{message}");
    }

    #[test]
    fn unknown_keys_anywhere_are_errors_with_a_suggestion() {
        for (text, expected) in [
            (
                "repositorys: []\n",
                "sextant.yaml:1:1: unknown setting `repositorys`; did you mean `repositories`?",
            ),
            (
                "datadir: x\n",
                "sextant.yaml:1:1: unknown setting `datadir`; did you mean `dataDir`?",
            ),
            (
                "crawl:\n  concurency: 4\n",
                "sextant.yaml:2:3: unknown setting `concurency` in `crawl`; did you mean `concurrency`?",
            ),
            (
                "crawl:\n  descriptorPattern: ['*.yaml']\n",
                "sextant.yaml:2:3: unknown setting `descriptorPattern` in `crawl`; did you mean `descriptorPatterns`?",
            ),
            (
                "repositories:\n  - url: /srv/a\n    brnach: main\n",
                "sextant.yaml:3:5: unknown setting `brnach` in `repositories`; did you mean `branch`?",
            ),
            (
                "credentials:\n  - host: git.example.com\n    tokenenv: T\n",
                "sextant.yaml:3:5: unknown setting `tokenenv` in `credentials`; did you mean `tokenEnv`?",
            ),
            (
                "credentials:\n  - host: git.example.com\n    token: s3cret\n",
                "a token is never written in the file",
            ),
        ] {
            let message = error(text);
            assert!(message.contains(expected), "{text:?}: {message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    #[test]
    fn wrong_shapes_are_errors() {
        for (text, expected) in [
            ("crawl: 4\n", "sextant.yaml:1:8: `crawl` must be a mapping, not an integer"),
            ("dataDir: 3\n", "sextant.yaml:1:10: `dataDir` must be a string"),
            ("database: [a]\n", "`database` must be a string"),
            (
                "repositories:\n  - url: /srv/a\n    branch: [x]\n",
                "sextant.yaml:3:13: `branch` must be a string",
            ),
            ("repositories:\n  - 3\n", "a repository must be a URL or a mapping"),
            ("credentials:\n  - host: git.example.com\n", "needs `tokenEnv`"),
            ("credentials:\n  - tokenEnv: T\n", "needs a `host`"),
            (
                "credentials:\n  - host: https://git.example.com\n    tokenEnv: T\n",
                "sextant.yaml:2:11: `https://git.example.com` is not a host name",
            ),
            (
                "credentials:\n  - host: git.example.com\n    tokenEnv: ghp_abc-123\n",
                "must name an environment variable",
            ),
            (
                "crawl:\n  descriptorPatterns: ['*.yaml', 'catalog/']\n",
                "sextant.yaml:2:34: descriptor pattern `catalog/` ends with `/`",
            ),
            ("crawl:\n  descriptorPatterns: ['**']\n", "descriptor pattern `**` ends with `**`"),
            ("crawl:\n  descriptorPatterns: ['']\n", "descriptor pattern `` is empty"),
            ("crawl:\n  descriptorPatterns: ['[a']\n", "is not a valid glob"),
        ] {
            let message = error(text);
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn search_defaults_to_postgres_and_reads_meilisearch_settings() {
        let config = read("repositories: []\n").unwrap();
        assert!(config.search.meilisearch.is_none(), "Postgres full-text by default");

        let text = "search:\n  meilisearch:\n    url: http://127.0.0.1:7700\n    masterKeyEnv: SEARCH_KEY\n    index: catalog_1\n    taskTimeoutSeconds: 90\n";
        let mut config = read(text).unwrap();
        let meili = config.search.meilisearch.clone().unwrap();
        assert_eq!(meili.url, "http://127.0.0.1:7700");
        assert_eq!(meili.index, "catalog_1");
        assert_eq!(meili.task_timeout, Duration::from_secs(90));
        assert!(meili.master_key.is_none(), "keys come from the environment only");
        assert_eq!(config.meili_master_key_env.as_deref(), Some("SEARCH_KEY"));

        config.apply_search_environment(&|name| match name {
            "SEARCH_KEY" => Some("s3cret-key".to_owned()),
            MEILI_KEY_VARIABLE => Some("other-key".to_owned()),
            _ => None,
        });
        let meili = config.search.meilisearch.clone().unwrap();
        assert_eq!(
            meili.master_key.as_ref().map(Secret::expose),
            Some("s3cret-key"),
            "the variable the file names"
        );
        assert!(!format!("{config:?}").contains("s3cret"), "the key is redacted");

        let defaults = read("search:\n  meilisearch:\n    url: https://search.example.com\n").unwrap();
        let meili = defaults.search.meilisearch.unwrap();
        assert_eq!(
            (meili.index.as_str(), meili.task_timeout),
            (DEFAULT_MEILI_INDEX, DEFAULT_TASK_TIMEOUT)
        );
    }

    #[test]
    fn the_environment_selects_meilisearch_over_the_file() {
        let mut config = read("search:\n  meilisearch:\n    url: http://file:7700\n    index: from-file\n").unwrap();
        config.apply_search_environment(&|name| match name {
            "MEILI_URL" => Some("http://env:7700".to_owned()),
            "MEILI_INDEX" => Some("from-env".to_owned()),
            _ => None,
        });
        let meili = config.search.meilisearch.clone().unwrap();
        assert_eq!((meili.url.as_str(), meili.index.as_str()), ("http://env:7700", "from-env"));
        assert!(meili.master_key.is_none());

        let mut config = Config::default();
        config.apply_search_environment(&|name| match name {
            "MEILI_URL" => Some("http://127.0.0.1:7700".to_owned()),
            "MEILI_MASTER_KEY" => Some("k3y".to_owned()),
            _ => None,
        });
        let meili = config.search.meilisearch.clone().unwrap();
        assert_eq!(meili.url, "http://127.0.0.1:7700");
        assert_eq!(meili.index, DEFAULT_MEILI_INDEX);
        assert_eq!(meili.master_key.as_ref().map(Secret::expose), Some("k3y"));
        let demo = config.search_for(crate::store::Catalog::Demo).meilisearch.unwrap();
        assert_eq!(demo.index, format!("{DEFAULT_MEILI_INDEX}-demo"), "the demo keeps to its own index");
        assert_eq!(
            config.search_for(crate::store::Catalog::Main).meilisearch.unwrap().index,
            DEFAULT_MEILI_INDEX
        );

        let mut config = Config::default();
        config.apply_search_environment(&|name| match name {
            "MEILI_URL" => Some(" ".to_owned()),
            "MEILI_MASTER_KEY" => Some("k3y".to_owned()),
            _ => None,
        });
        assert!(
            config.search.meilisearch.is_none(),
            "an empty MEILI_URL selects nothing; a key alone neither"
        );
    }

    #[test]
    fn search_settings_are_checked() {
        for (text, expected) in [
            ("search: meili\n", "sextant.yaml:1:9: `search` must be a mapping, not a string"),
            (
                "search:\n  meilisearh: {}\n",
                "sextant.yaml:2:3: unknown setting `meilisearh` in `search`; did you mean `meilisearch`?",
            ),
            (
                "search:\n  meilisearch:\n    url: http://x:7700\n    masterKey: abc\n",
                "sextant.yaml:4:5: unknown setting `masterKey` in `search.meilisearch`; known: url, masterKeyEnv, index, \
                 taskTimeoutSeconds; a key is never written in the file",
            ),
            ("search:\n  meilisearch:\n    index: a\n", "`meilisearch` needs a `url`"),
            (
                "search:\n  meilisearch:\n    url: 127.0.0.1:7700\n",
                "is not an http:// or https:// URL",
            ),
            (
                "search:\n  meilisearch:\n    url: http://x\n    taskTimeoutSeconds: 0\n",
                "`taskTimeoutSeconds` must be a positive integer",
            ),
            (
                "search:\n  meilisearch:\n    url: http://x\n    index: 'a b'\n",
                "`index` must be a Meilisearch index uid",
            ),
            (
                "search:\n  meilisearch:\n    url: http://x\n    masterKeyEnv: abc-123-key\n",
                "`masterKeyEnv` must name an environment variable",
            ),
            (
                "search:\n  meilisearch: [a]\n",
                "sextant.yaml:2:16: `meilisearch` must be a mapping, not a list",
            ),
        ] {
            let message = error(text);
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn tokens_go_only_to_their_hosts() {
        let config = read("credentials:\n  - host: git.example.com\n    tokenEnv: ACME_TOKEN\n  - host: 10.0.0.7:8443\n    tokenEnv: LAB_TOKEN\n    username: bot\n").unwrap();
        let environment = |name: &str| match name {
            "ACME_TOKEN" => Some("acme-t0ken".to_owned()),
            "LAB_TOKEN" => Some("lab-t0ken".to_owned()),
            "SEXTANT_GIT_TOKEN" => Some("env-t0ken".to_owned()),
            "SEXTANT_GIT_HOST" => Some("ci.example.com, other.example.com:8080".to_owned()),
            _ => None,
        };
        let credentials = config.git_credentials_from(&environment).unwrap();
        assert_eq!(
            credentials.token_for("https://git.example.com/a.git"),
            Some(("x-access-token", "acme-t0ken"))
        );
        assert_eq!(credentials.token_for("https://10.0.0.7:8443/a.git"), Some(("bot", "lab-t0ken")));
        assert_eq!(
            credentials.token_for("https://ci.example.com/a.git"),
            Some(("x-access-token", "env-t0ken"))
        );
        assert_eq!(
            credentials.token_for("https://other.example.com:8080/a.git"),
            Some(("x-access-token", "env-t0ken"))
        );
        assert_eq!(credentials.token_for("https://other.example.com/a.git"), None);
        assert_eq!(credentials.token_for("https://evil.example.com/a.git"), None);
        assert!(!format!("{credentials:?}").contains("t0ken"));
    }

    #[test]
    fn a_token_without_hosts_is_refused() {
        let environment = |name: &str| (name == "SEXTANT_GIT_TOKEN").then(|| "env-t0ken".to_owned());
        let message = Config::default().git_credentials_from(&environment).unwrap_err().0;
        assert!(
            message.contains("SEXTANT_GIT_TOKEN is set but SEXTANT_GIT_HOST is not"),
            "{message}"
        );
        assert!(!message.contains("t0ken"), "{message}");

        let config = read("credentials:\n  - host: git.example.com\n    tokenEnv: MISSING_TOKEN\n").unwrap();
        let message = config.git_credentials_from(&|_| None).unwrap_err().0;
        assert_eq!(
            message,
            "sextant.yaml:2:5: the environment variable `MISSING_TOKEN` (the `tokenEnv` of host `git.example.com`) is not set"
        );
        assert!(Config::default().git_credentials_from(&|_| None).unwrap().is_empty());
    }
}
