//! `sextant serve` and the serving half of `sextant demo`: logging, the schema, the HTTP server,
//! the job workers and the search sync, started together and stopped together (in-flight
//! requests and the current apply finish first).

use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum;

use crate::config::{Config, ServerConfig};
use crate::http::{AppState, HttpSettings};
use crate::jobs::{HookSecrets, JobContext, JobSettings, Queue};
use crate::search::{Search, SyncSettings};
use crate::store::Store;

/// How `serve` writes its logs (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Database connections of a server's pool: requests hold one each while they run (their
/// snapshot), crawls a few.
const SERVER_CONNECTIONS: u32 = 16;

/// The address `serve` listens on when neither `--listen` nor `server.listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// Starts `tracing` for a long-running command: `RUST_LOG` when set, else `info` for sextant and
/// `warn` for its libraries.
pub fn init_logging(format: LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sextant=info"));
    // Colours only on a terminal: a log file or a collector gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    // A second initialisation keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// What `serve` was asked for on the command line, over the configuration.
#[derive(Debug, Clone, Default)]
pub struct ServeFlags {
    pub listen: Option<String>,
    /// Seconds between scheduled crawls; 0: none.
    pub crawl_interval: Option<u64>,
    pub job_lease: Option<u64>,
}

impl ServeFlags {
    /// The server section with the flags applied.
    pub fn apply(&self, mut server: ServerConfig) -> ServerConfig {
        if let Some(listen) = &self.listen {
            server.listen = Some(listen.clone());
        }
        if let Some(seconds) = self.crawl_interval {
            server.crawl_interval = (seconds > 0).then(|| Duration::from_secs(seconds));
        }
        if let Some(seconds) = self.job_lease {
            server.job_lease = Duration::from_secs(seconds.max(1));
        }
        server
    }
}

/// Binds `listen` (`host:port`); a name such as `localhost` is resolved.
async fn bind(listen: &str) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))
}

/// Serves `store` until Ctrl-C or SIGTERM; `announce` is printed before the URL once listening.
pub async fn serve(store: &Store, config: &Config, listener: tokio::net::TcpListener, announce: &str) -> ExitCode {
    let server = &config.server;
    let crawl = match super::crawl_options(config, None, None) {
        Ok(crawl) => crawl,
        Err(message) => return super::fail(&message),
    };
    let settings = JobSettings {
        lease: server.job_lease,
        crawl_interval: server.crawl_interval,
        ..JobSettings::default()
    };
    let queue = Queue::new(store.clone(), config.sources.clone(), &settings);
    let http_settings = HttpSettings {
        token: ServerConfig::secret(&server.token_env),
        request_timeout: server.request_timeout,
        hooks: HookSecrets {
            github: ServerConfig::secret(&server.github_secret_env),
            gitlab: ServerConfig::secret(&server.gitlab_token_env),
            bitbucket: ServerConfig::secret(&server.bitbucket_secret_env),
        },
    };
    if http_settings.token.is_none() {
        tracing::info!(variable = %server.token_env, "no bearer token set: mutations are refused");
    }
    let options = crate::graphql::SchemaOptions {
        introspection: server.introspection,
        ..Default::default()
    };
    // One search service for the whole server: the GraphQL `search` query, the probes and the sync.
    let search = match Search::new(store.clone(), &config.search) {
        Ok(search) => search,
        Err(error) => return super::fail(&format!("{error} [{}]", error.code())),
    };
    tracing::info!(backend = search.backend_name(), "search backend");
    let schema = crate::graphql::build_schema_with_jobs(store.clone(), search.clone(), queue.clone(), &options);
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => return super::fail(&format!("cannot read the listening address: {error}")),
    };
    let (stop_workers, workers_stopped) = tokio::sync::watch::channel(false);
    let context = JobContext {
        queue: queue.clone(),
        crawl,
        settings,
    };
    let sync = tokio::spawn(crate::search::sync::run_sync(
        search.clone(),
        SyncSettings::default(),
        workers_stopped.clone(),
    ));
    let workers = tokio::spawn(crate::jobs::run_workers(context, workers_stopped));
    super::say(&format!("{announce}http://{address}/\n  GraphQL:   http://{address}/graphql\n"));
    tracing::info!(%address, "listening");
    let state = AppState::new(store.clone(), schema, queue, search, http_settings);
    let served = crate::http::serve(listener, state, crate::http::shutdown_signal()).await;
    tracing::info!("stopping: requests in flight are answered; the job workers finish or hand back their jobs");
    let _ = stop_workers.send(true);
    let _ = workers.await;
    let _ = sync.await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => super::fail(&format!("the server stopped: {error}")),
    }
}

/// `sextant serve`.
pub async fn serve_command(mut config: Config, flags: ServeFlags, catalog: crate::store::Catalog) -> ExitCode {
    config.server = flags.apply(config.server.clone());
    config.search = config.search_for(catalog);
    let listen = config.server.listen.clone().unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listener = match bind(&listen).await {
        Ok(listener) => listener,
        Err(message) => return super::fail(&message),
    };
    // The server applies the migrations it lacks (replicas starting together wait for each
    // other on the migrator's lock), and keeps more connections than a command.
    let open = crate::store::OpenOptions {
        migrations: crate::store::Migrations::Apply,
        connections: SERVER_CONNECTIONS,
    };
    let store = match super::open_store_with(&config, catalog, &open).await {
        Ok(store) => store,
        Err(message) => return super::fail(&message),
    };
    let code = serve(&store, &config, listener, "serving the catalog\n  dashboard: ").await;
    store.close().await;
    code
}

/// The demo's listener: `listen` when given, else the default port, else any free port.
pub async fn demo_listener(listen: Option<&str>) -> Result<tokio::net::TcpListener, String> {
    match listen {
        Some(listen) => bind(listen).await,
        None => match bind(DEFAULT_LISTEN).await {
            Ok(listener) => Ok(listener),
            Err(_) => bind("127.0.0.1:0").await,
        },
    }
}
