//! The command line: clap definitions and one short function per command. Exit codes: 0 success
//! (for `validate`: no errors), 1 errors found or a repository failed, 2 usage, configuration,
//! database or I/O problems.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::crawler::ReadOptions;
use crate::domain::{EntityRef, Severity};
use crate::ingest::{CrawlOptions, RepoOutcome};
use crate::store::{Catalog, Direction, Migrations, OpenOptions, Store};
use crate::validate::report::{OutputFormat, render};
use crate::validate::{self, Options};

mod export;
mod repos;
mod search;
mod serve;

/// `println!` through the one stdout writer, which survives a reader that went away.
macro_rules! say_line {
    ($($argument:tt)*) => {
        say(&format!("{}\n", format_args!($($argument)*)))
    };
}

#[derive(Debug, Parser)]
#[command(name = "sextant", version, about = "A component catalog for Backstage and Compass descriptors")]
struct Cli {
    /// Work on the demo's catalog (the one `sextant demo` fills) instead of your own.
    #[arg(long, global = true)]
    demo: bool,
    /// The config file, read by every catalog command (default: ./sextant.yaml when it exists).
    #[arg(long, global = true, env = "SEXTANT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Problem kinds that `--fail-on` turns into exit code 1, for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    /// A reference defined twice.
    Conflicts,
    /// A repository whose last read failed or that holds an unusable file.
    Stale,
    /// An error diagnostic in a file of the catalog.
    Errors,
    /// A relation whose target is not in the catalog.
    Dangling,
}

/// Output of the catalog commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ViewFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check descriptor files (catalog-info.yaml, compass.yml) and report every problem.
    Validate {
        /// Files (read whatever their name) or directories (searched for descriptor files).
        /// Defaults to the current directory.
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: OutputFormat,
        /// Treat references to entities that no checked file defines as errors.
        #[arg(long)]
        strict: bool,
        /// Colour in human output: auto (when stdout is a terminal), always or never.
        #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
        color: String,
        /// Worker threads (0: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        #[command(flatten)]
        against: CatalogCheckArgs,
    },
    /// Crawl git repositories into the catalog.
    Crawl {
        /// A repository to crawl (https, ssh, user@host:path, or a local path); repeatable.
        #[arg(long = "repo")]
        repos: Vec<String>,
        /// Crawl every git repository under this folder; repeatable.
        #[arg(long = "dir")]
        dirs: Vec<PathBuf>,
        /// Repositories read at the same time.
        #[arg(long)]
        concurrency: Option<usize>,
        /// Seconds before a repository's read is given up.
        #[arg(long)]
        timeout: Option<u64>,
        #[arg(long, value_enum, default_value = "human")]
        format: ViewFormat,
        /// Exit with 1 when, after the crawl, the catalog holds problems of these kinds
        /// (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',')]
        fail_on: Vec<FailOn>,
        /// Treat the configuration as the full list: forget stored repositories it does not list
        /// (their references pass to other definitions or are deleted).
        #[arg(long)]
        prune: bool,
    },
    /// List the catalog's repositories: status, tip, last crawl, entities and problems.
    Repos {
        #[arg(long, value_enum, default_value = "human")]
        format: ViewFormat,
    },
    /// Remove a repository and its entities from the catalog (they pass to other definitions of
    /// the same references, if any).
    Forget {
        /// The repository's URL or path, as `sextant repos` lists it.
        url: String,
        /// Only this branch's repository (default: every branch stored for the URL).
        #[arg(long)]
        branch: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Show one entity: owner, relations, dependents with the path to each, provenance, diagnostics.
    Show {
        /// `[kind:][namespace/]name`; the kind defaults to component.
        entity: String,
        /// How deep to follow dependents and dependencies.
        #[arg(long, default_value_t = 10)]
        depth: u32,
        #[arg(long, value_enum, default_value = "human")]
        format: ViewFormat,
    },
    /// List conflicts, dangling references, orphans, cycles, stale repositories and invalid files.
    Problems {
        #[arg(long, value_enum, default_value = "human")]
        format: ViewFormat,
        /// Exit with 1 when the catalog holds problems of these kinds (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',')]
        fail_on: Vec<FailOn>,
    },
    /// Search the catalog (names, titles, tags, labels, descriptions, owners, systems, API
    /// definitions; prefixes and typos allowed), best match first. Exit code 0 when something
    /// matched, 1 when nothing did, 2 on an error.
    Search {
        /// The words to look for (none: the entities the filters let through, by name).
        query: Vec<String>,
        /// Only entities of this kind (component, api, group...); repeatable: any of them.
        #[arg(long)]
        kind: Vec<String>,
        /// Only entities of this `spec.type` (service, website, openapi...); repeatable.
        #[arg(long = "type")]
        entity_type: Vec<String>,
        /// Only entities owned by this group or user (`team-a`, `user:jane`); repeatable.
        #[arg(long)]
        owner: Vec<String>,
        /// Only entities with this tag; repeatable: any of them.
        #[arg(long)]
        tag: Vec<String>,
        /// Only entities of this lifecycle (production, experimental...); repeatable.
        #[arg(long)]
        lifecycle: Vec<String>,
        /// Only entities of this system; repeatable.
        #[arg(long)]
        system: Vec<String>,
        /// Hits shown (at most 100).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long, value_enum, default_value = "human")]
        format: ViewFormat,
        /// Also count the matches by kind, type, owner, lifecycle, tier, tags, system, domain,
        /// namespace and repository.
        #[arg(long)]
        facets: bool,
        /// Matches in bold: auto (when stdout is a terminal), always or never (then `[brackets]`).
        #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
        color: String,
    },
    /// Build git repositories from the example organisation, crawl them, and show the result.
    Demo {
        /// The example organisation to use (default: catalog-examples/ next to the binary or in
        /// the current folder).
        #[arg(long, env = "SEXTANT_EXAMPLES")]
        examples: Option<PathBuf>,
        /// Delete the demo's catalog and example repositories first, and build them anew.
        #[arg(long)]
        reset: bool,
        /// Crawl the examples and stop, without serving them.
        #[arg(long)]
        no_serve: bool,
        /// Where to serve the demo (default: 127.0.0.1:7878, or a free port when that is taken).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Measure every performance figure on this machine (and Backstage's on the same data, when
    /// Node is installed): validate, crawl, GraphQL, search, dashboard, pull-request check.
    /// Needs `wrk` (Debian: apt-get install wrk) and the Postgres server binaries.
    Bench {
        /// small (about 1k entities), medium (28k), large (100k) or xl (280k); a comma-separated
        /// list runs each and prints how every figure grows.
        #[arg(long, default_value = "medium", value_delimiter = ',')]
        scale: Vec<String>,
        /// Also write every figure to this file as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Seconds of each load phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent connections of the load phases (one-client latency is measured too).
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Where the generated organisation (kept for later runs) and the scratch data go.
        #[arg(long, default_value = "target/sextant-bench")]
        dir: PathBuf,
        /// Do not measure Backstage, even when Node is installed.
        #[arg(long)]
        no_backstage: bool,
        /// Seconds Backstage's catalog may take until every entity is queryable.
        #[arg(long, default_value_t = 900)]
        backstage_timeout: u64,
        /// Seconds to wait for a one-line edit to show in Backstage on its default schedule.
        #[arg(long, default_value_t = 240)]
        backstage_edit_timeout: u64,
        /// The Meilisearch binary (default: MEILI_BIN, `meilisearch` on PATH, or
        /// ../shared/bin/meilisearch beside the repository); without one only Postgres search is measured.
        #[arg(long)]
        meilisearch: Option<PathBuf>,
        /// Passes of each validate measure (the best is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Serve the catalog: GraphQL (GraphiQL on GET /graphql), /healthz, /readyz, /metrics, push
    /// hooks, and scheduled crawls of the configured repositories.
    Serve {
        /// `host:port` to listen on (default: `server.listen` in the config, else 127.0.0.1:7878).
        #[arg(long)]
        listen: Option<String>,
        /// Log lines as text or JSON (on stderr; RUST_LOG filters them).
        #[arg(long, value_enum, default_value = "text")]
        log_format: serve::LogFormat,
        /// Seconds between scheduled crawls of every repository (0: none; default from the config, 600).
        #[arg(long)]
        crawl_interval: Option<u64>,
        /// Seconds after which a crawl job whose replica stopped renewing it is taken over (default 60).
        #[arg(long)]
        job_lease: Option<u64>,
    },
    /// Apply the database migrations of this version (`serve` applies them too when it starts).
    Migrate,
    /// Rebuild the search index from the catalog and swap it in (delivery of changes pauses
    /// meanwhile).
    Reindex,
    /// Write the catalog's snapshot (every entity with its provenance and declared relations,
    /// in reference order), which `sextant validate --catalog FILE` checks against offline.
    Export {
        #[arg(long, value_enum, default_value = "json")]
        format: export::ExportFormat,
        /// Write to this file (through a temporary file renamed at the end) instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Print the GraphQL schema that `serve` answers (SDL; committed as schema/catalog.graphql).
    Schema,
    /// The embedded database (used when no database URL is configured): status, stop, reset.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// List every diagnostic code with its name, default severity and meaning.
    Codes,
}

#[derive(Debug, Subcommand)]
enum DbAction {
    /// Where the private cluster lives, whether it runs, its socket, its databases and their sizes.
    Status,
    /// Stop the private cluster (the next catalog command starts it again).
    Stop,
    /// Delete the catalog databases (yours and the demo's) from the private cluster.
    Reset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Parses the command line and runs the command. Output that cannot be written (other than to
/// a reader that went away, which ends the output quietly) makes the exit code 2.
pub fn run() -> ExitCode {
    let code = run_command();
    if crate::terminal::stdout_failed() {
        ExitCode::from(2)
    } else {
        code
    }
}

fn run_command() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let catalog = if cli.demo { Catalog::Demo } else { Catalog::Main };
    // Every catalog command reads the same configuration; `validate` and `codes` need none.
    let config = if matches!(
        cli.command,
        Command::Validate { .. } | Command::Codes | Command::Schema | Command::Bench { .. }
    ) {
        Config::default()
    } else {
        match load_config(cli.config.as_deref()) {
            Ok(config) => config,
            Err(message) => return fail(&message),
        }
    };
    match cli.command {
        Command::Validate {
            paths,
            format,
            strict,
            color,
            threads,
            against,
        } => {
            let color = match color.as_str() {
                "always" => true,
                "never" => false,
                _ => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            let options = Options { strict, threads };
            match against.settings() {
                Some(settings) => block_on(validate_against_catalog(&paths, format, options, color, &settings)),
                None if against.repo.is_some() || against.branch.is_some() => fail(
                    "--repo and --branch compare with a catalog: add --catalog URL (a running sextant) or --catalog FILE (a snapshot from `sextant export`)",
                ),
                None => validate_command(&paths, format, options, color),
            }
        }
        Command::Crawl {
            repos,
            dirs,
            concurrency,
            timeout,
            format,
            fail_on,
            prune,
        } => {
            let config = match with_sources(config, &repos, &dirs) {
                Ok(config) => config,
                Err(message) => return fail(&message),
            };
            block_on(crawl_command(config, catalog, concurrency, timeout, format, fail_on, prune))
        }
        Command::Repos { format } => block_on(repos::repos_command(&config, catalog, format)),
        Command::Forget { url, branch, yes } => block_on(repos::forget_command(&config, catalog, &url, branch, yes)),
        Command::Show { entity, depth, format } => block_on(show_command(&config, &entity, depth, format, catalog)),
        Command::Problems { format, fail_on } => block_on(problems_command(&config, format, &fail_on, catalog)),
        Command::Search {
            query,
            kind,
            entity_type,
            owner,
            tag,
            lifecycle,
            system,
            limit,
            format,
            facets,
            color,
        } => {
            use crate::search::FacetField;
            let args = search::SearchArgs {
                query: query.join(" "),
                filter: vec![
                    (FacetField::Kind, kind),
                    (FacetField::Type, entity_type),
                    (FacetField::Owner, owner),
                    (FacetField::Tags, tag),
                    (FacetField::Lifecycle, lifecycle),
                    (FacetField::System, system),
                ],
                limit,
                format,
                facets,
                color: search::use_color(&color),
            };
            block_on(search::search_command(&config, catalog, args))
        }
        Command::Demo {
            examples,
            reset,
            no_serve,
            listen,
        } => block_on(demo_command(config, examples.as_deref(), reset, (!no_serve).then_some(listen))),
        Command::Bench {
            scale,
            json,
            seconds,
            connections,
            dir,
            no_backstage,
            backstage_timeout,
            backstage_edit_timeout,
            meilisearch,
            repeat,
        } => {
            let scales = match scale
                .iter()
                .map(|name| crate::bench::Scale::parse(name))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(scales) => scales,
                Err(message) => return fail(&message),
            };
            let options = crate::bench::BenchOptions {
                scales,
                json,
                seconds,
                connections,
                work_dir: dir,
                backstage: !no_backstage,
                backstage_timeout: std::time::Duration::from_secs(backstage_timeout),
                backstage_edit_timeout: std::time::Duration::from_secs(backstage_edit_timeout),
                meilisearch,
                repeat,
            };
            match crate::bench::run(&options) {
                Ok(_) => ExitCode::SUCCESS,
                Err(message) => fail(&message),
            }
        }
        Command::Serve {
            listen,
            log_format,
            crawl_interval,
            job_lease,
        } => {
            serve::init_logging(log_format);
            let flags = serve::ServeFlags {
                listen,
                crawl_interval,
                job_lease,
            };
            block_on(serve::serve_command(config, flags, catalog))
        }
        Command::Migrate => block_on(migrate_command(&config, catalog)),
        Command::Reindex => block_on(reindex_command(&config, catalog)),
        Command::Export { format, output } => block_on(export::export_command(&config, catalog, format, output.as_deref())),
        Command::Schema => {
            say(&crate::graphql::sdl());
            ExitCode::SUCCESS
        }
        Command::Db { action } => block_on(db_command(&config, action)),
        Command::Codes => {
            let mut output = String::new();
            for code in crate::domain::Code::ALL {
                let _ = writeln!(
                    output,
                    "{}  {:<26} {:<8} {}",
                    code.as_str(),
                    code.slug(),
                    code.default_severity().as_str(),
                    code.summary()
                );
            }
            say(&output);
            ExitCode::SUCCESS
        }
    }
}

/// Writes to stdout through the one writer that survives a closed pipe.
fn say(text: &str) {
    crate::terminal::print(text);
}

fn fail(message: &str) -> ExitCode {
    crate::terminal::print_error(&format!("error: {message}\n"));
    ExitCode::from(2)
}

fn block_on(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => {
            let code = runtime.block_on(work);
            // A git read abandoned at its timeout may still be blocked in libgit2; dropping the
            // runtime would wait for it, so let it go with the process instead.
            runtime.shutdown_background();
            code
        }
        Err(error) => fail(&format!("cannot start the async runtime: {error}")),
    }
}

/// `sextant validate --catalog …`: the pull-request check.
#[derive(Debug, clap::Args)]
struct CatalogCheckArgs {
    /// Check against a catalog: a running sextant (`https://sextant.example.com`; its token from
    /// SEXTANT_TOKEN) or a snapshot file written by `sextant export`. References the files do
    /// not define are looked up there, and the files' entities are compared with the catalog's.
    #[arg(long, value_name = "URL|FILE")]
    catalog: Option<String>,
    /// The repository the files belong to, as the catalog crawls it (default: the `origin`
    /// remote of the git repository around the files).
    #[arg(long, value_name = "URL")]
    repo: Option<String>,
    /// The catalog branch to compare with (default: the remote's default branch).
    #[arg(long)]
    branch: Option<String>,
    /// The severity of a breaking change (a removed or renamed entity others depend on).
    #[arg(long, default_value = "error", value_parser = ["error", "warning"])]
    breaking: String,
    /// The dashboard's URL for links in the markdown summary (default: the catalog server's).
    #[arg(long, value_name = "URL")]
    dashboard_url: Option<String>,
}

impl CatalogCheckArgs {
    fn settings(&self) -> Option<crate::pr_check::CheckSettings> {
        let catalog = self.catalog.clone()?;
        Some(crate::pr_check::CheckSettings {
            catalog,
            token: std::env::var("SEXTANT_TOKEN").ok().filter(|token| !token.is_empty()),
            // An empty value (`--branch "${{ github.base_ref }}"` outside a pull request) is no value.
            repo: self.repo.clone().filter(|repo| !repo.trim().is_empty()),
            branch: self.branch.clone().filter(|branch| !branch.trim().is_empty()),
            breaking: if self.breaking == "warning" {
                Severity::Warning
            } else {
                Severity::Error
            },
            dashboard_url: self.dashboard_url.clone().filter(|url| !url.trim().is_empty()),
        })
    }
}

/// The pull-request check: the local checks, then the catalog's findings; exit 2 (with the local
/// checks printed) when the catalog cannot answer.
async fn validate_against_catalog(
    paths: &[PathBuf],
    format: OutputFormat,
    options: Options,
    color: bool,
    settings: &crate::pr_check::CheckSettings,
) -> ExitCode {
    let checked = match crate::pr_check::check_paths(paths, options, settings).await {
        Ok(checked) => checked,
        Err(error) => return fail(&error.to_string()),
    };
    say(&render_checked(&checked, format, color));
    if matches!(format, OutputFormat::Json | OutputFormat::Sarif) {
        crate::terminal::print_error(&format!("{}\n", checked.report.summary()));
    }
    if let Some(change) = &checked.change {
        let line = format!("catalog: {}", change.summary());
        // With the report for people; beside the one document for programs.
        match format {
            OutputFormat::Human | OutputFormat::Github => say(&line),
            _ => crate::terminal::print_error(&format!("{line}\n")),
        }
    }
    for note in &checked.notes {
        crate::terminal::print_error(&format!("note: {note}\n"));
    }
    if let Some(error) = &checked.catalog_error {
        crate::terminal::print_error(&format!("error[{}]: {error}\n", error.code()));
        return ExitCode::from(2);
    }
    validate_exit_code(&checked.report)
}

/// The report's output; for markdown, the catalog diff's summary comes first.
fn render_checked(checked: &crate::pr_check::Checked, format: OutputFormat, color: bool) -> String {
    let diagnostics = render(&checked.report, format, color);
    // A summary or annotations that look clean must not hide that the catalog was not consulted.
    let unavailable = checked
        .catalog_error
        .as_ref()
        .map(|error| format!("the catalog was not consulted: {error} [{}]", error.code()));
    match (&checked.change, format, unavailable) {
        (Some(change), OutputFormat::Markdown, _) => format!("{}\n{diagnostics}", crate::pr_check::markdown::render_change(change)),
        (_, OutputFormat::Markdown, Some(unavailable)) => {
            format!(
                "> **Warning**: {}\n\n{diagnostics}",
                validate::report::markdown::escape(&unavailable)
            )
        }
        (_, OutputFormat::Github, Some(unavailable)) => {
            format!(
                "{diagnostics}::error title=sextant catalog check::{}",
                unavailable.replace('%', "%25").replace('\n', "%0A")
            )
        }
        _ => diagnostics,
    }
}

/// 2 when a file could not be read, 1 when errors were found, else 0.
fn validate_exit_code(report: &validate::Report) -> ExitCode {
    if report.has_read_errors() {
        ExitCode::from(2)
    } else if report.count(Severity::Error) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn validate_command(paths: &[PathBuf], format: OutputFormat, options: Options, color: bool) -> ExitCode {
    let report = match validate::validate_paths(paths, options) {
        Ok(report) => report,
        Err(error) => return fail(&error.to_string()),
    };
    say(&render(&report, format, color));
    if matches!(format, OutputFormat::Json | OutputFormat::Sarif) {
        crate::terminal::print_error(&format!("{}\n", report.summary()));
    }
    let exit_code = validate_exit_code(&report);
    // The process ends here: freeing every entity one by one would only cost time.
    std::mem::forget(report);
    exit_code
}

/// The configuration every catalog command uses: the config file (`--config` or
/// `SEXTANT_CONFIG`, else ./sextant.yaml when present), then the environment. Flags come last,
/// in the command that has them.
fn load_config(file: Option<&Path>) -> Result<Config, String> {
    let default_file = Path::new("sextant.yaml");
    let mut config = match file {
        Some(file) => Config::from_file(file).map_err(|error| error.to_string())?,
        None if default_file.is_file() => Config::from_file(default_file).map_err(|error| error.to_string())?,
        None => Config::default(),
    };
    config.apply_environment();
    Ok(config)
}

/// Adds the repositories named by `--repo` and `--dir` to the configured ones.
fn with_sources(mut config: Config, repos: &[String], dirs: &[PathBuf]) -> Result<Config, String> {
    for repo in repos {
        config.add_repository(repo).map_err(|error| error.to_string())?;
    }
    for dir in dirs {
        config.add_directory(dir).map_err(|error| error.to_string())?;
    }
    config.dedup_sources();
    if config.sources.is_empty() {
        return Err("no repositories to crawl: list them under `repositories` in the config file (./sextant.yaml, or --config FILE), or pass --repo URL or --dir FOLDER".to_owned());
    }
    Ok(config)
}

/// Opens the catalog, requiring its migrations applied (only `serve` and `migrate` apply them
/// to the operator's database; sextant's own databases are always brought up to date).
async fn open_store(config: &Config, catalog: Catalog) -> Result<Store, String> {
    let open = OpenOptions {
        migrations: Migrations::Require,
        ..OpenOptions::default()
    };
    open_store_with(config, catalog, &open).await
}

async fn open_store_with(config: &Config, catalog: Catalog, open: &OpenOptions) -> Result<Store, String> {
    let data_dir = config.data_dir.clone().unwrap_or_else(crate::pg::default_data_dir);
    Store::open_default(config.database_url.as_deref(), &data_dir, catalog, open)
        .await
        .map_err(|error| format!("{error} [{}]", error.code()))
}

/// How crawls read with `config`: mirrors in its data folder, its patterns, descriptor cap and
/// https tokens (a token without hosts is refused here), and its concurrency and timeout unless
/// the command line gives them.
fn crawl_options(config: &Config, concurrency: Option<usize>, timeout: Option<std::time::Duration>) -> Result<CrawlOptions, String> {
    let data_dir = config.data_dir.clone().unwrap_or_else(crate::pg::default_data_dir);
    let read = config.read_options(data_dir.join("mirrors")).map_err(|error| error.to_string())?;
    let mut options = CrawlOptions::new(read);
    if let Some(concurrency) = concurrency.or(config.concurrency) {
        options.concurrency = concurrency;
    }
    if let Some(timeout) = timeout.or(config.repo_timeout) {
        options.repo_timeout = timeout;
    }
    Ok(options)
}

async fn crawl_command(
    config: Config,
    catalog: Catalog,
    concurrency: Option<usize>,
    timeout: Option<u64>,
    format: ViewFormat,
    fail_on: Vec<FailOn>,
    prune: bool,
) -> ExitCode {
    let options = match crawl_options(&config, concurrency, timeout.map(std::time::Duration::from_secs)) {
        Ok(options) => options,
        Err(message) => return fail(&message),
    };
    let store = match open_store(&config, catalog).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    if prune {
        match repos::prune(&store, &config).await {
            Ok(gone) if !gone.is_empty() => {
                let listed: Vec<String> = gone.iter().map(|key| crate::terminal::printable(&key.url).into_owned()).collect();
                say(&format!(
                    "pruned {} no longer configured: {}\n",
                    crate::terminal::counted(gone.len(), "repository", "repositories"),
                    listed.join(", ")
                ));
            }
            Ok(_) => {}
            Err(error) => {
                store.close().await;
                return fail(&format!("{error} [{}]", error.code()));
            }
        }
    }
    let code = run_crawl(&store, &config.sources, &options, format, &fail_on, catalog).await;
    sync_search_after_crawl(&store, &config.search_for(catalog)).await;
    store.close().await;
    code
}

/// Crawls, prints the summary, and picks the exit code: 1 when a repository failed or when the
/// catalog holds problems of a kind named by `fail_on`.
async fn run_crawl(
    store: &Store,
    sources: &[crate::crawler::Source],
    options: &CrawlOptions,
    format: ViewFormat,
    fail_on: &[FailOn],
    catalog: Catalog,
) -> ExitCode {
    let progress = if std::io::stderr().is_terminal() && format == ViewFormat::Human {
        let bar = indicatif::ProgressBar::new(sources.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} repositories  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let result = crate::ingest::crawl(store, sources, options, |url, _| {
        progress.set_message(crate::terminal::printable(url).into_owned());
        progress.inc(1);
    })
    .await;
    progress.finish_and_clear();
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => return fail(&format!("{error} [{}]", error.code())),
    };
    let after = match catalog_after_crawl(store, &summary, catalog).await {
        Ok(after) => after,
        Err(error) => return fail(&format!("{error} [{}]", error.code())),
    };
    match format {
        ViewFormat::Human => say(&crate::terminal::crawl_summary(&summary, &after)),
        ViewFormat::Json => say(&crate::terminal::json_line(&crate::terminal::crawl_summary_json(&summary, &after))),
    }
    let failed = summary.count(|outcome| matches!(outcome, RepoOutcome::Failed(_))) > 0;
    if failed | fails_on(&after.problems, fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// What the crawl summary says of the catalog after the crawl: the repositories it read that
/// are stale now, and the problem counts.
async fn catalog_after_crawl(
    store: &Store,
    summary: &crate::ingest::CrawlSummary,
    catalog: Catalog,
) -> Result<crate::terminal::CatalogAfterCrawl, crate::store::StoreError> {
    let applied: Vec<crate::store::RepoKey> = summary
        .outcomes
        .iter()
        .zip(&summary.repos)
        .filter(|((_, outcome), _)| matches!(outcome, RepoOutcome::Applied(_)))
        .map(|(_, key)| key.clone())
        .collect();
    let stale = store
        .unhealthy_repos(&applied)
        .await?
        .into_iter()
        .map(|(label, status, error)| (label, error.unwrap_or(status)))
        .collect();
    Ok(crate::terminal::CatalogAfterCrawl {
        stale,
        problems: store.problem_counts().await?,
        problems_command: match catalog {
            Catalog::Main => "sextant problems",
            Catalog::Demo => "sextant problems --demo",
        },
    })
}

/// Whether the catalog holds problems of a kind named by `--fail-on`; says which on stderr.
fn fails_on(counts: &crate::store::ProblemCounts, fail_on: &[FailOn]) -> bool {
    let mut kinds = fail_on.to_vec();
    kinds.sort_by_key(|kind| *kind as u8);
    kinds.dedup();
    let found: Vec<String> = kinds
        .iter()
        .filter_map(|kind| {
            let (count, singular, plural) = match kind {
                FailOn::Conflicts => (counts.conflicts, "conflict", "conflicts"),
                FailOn::Stale => (counts.stale_repos, "stale or failing repository", "stale or failing repositories"),
                FailOn::Errors => (counts.error_diagnostics, "error diagnostic", "error diagnostics"),
                FailOn::Dangling => (counts.dangling, "dangling reference", "dangling references"),
            };
            (count > 0).then(|| crate::terminal::counted(count, singular, plural))
        })
        .collect();
    if found.is_empty() {
        return false;
    }
    crate::terminal::print_error(&format!("failing (--fail-on): the catalog holds {}\n", found.join(", ")));
    true
}

async fn show_command(config: &Config, entity: &str, depth: u32, format: ViewFormat, catalog: Catalog) -> ExitCode {
    let entity_ref = match EntityRef::parse(entity, Some("component"), crate::domain::DEFAULT_NAMESPACE) {
        Ok(entity_ref) => entity_ref,
        Err(error) => return fail(&format!("`{}` {error}", crate::terminal::printable(entity))),
    };
    let store = match open_store(config, catalog).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let view = async {
        let id = store.entity_id(&entity_ref.to_string()).await?;
        let details = store.entity_details(id).await?;
        let (outgoing, incoming) = store.relations_of(id).await?;
        let dependents = store.walk_dependencies(id, Direction::Dependents, depth, 1_000).await?;
        let dependencies = store.walk_dependencies(id, Direction::Dependencies, depth, 1_000).await?;
        Ok::<_, crate::store::StoreError>(crate::terminal::EntityView {
            details,
            outgoing,
            incoming,
            dependents,
            dependencies,
        })
    }
    .await;
    // A reference that is not there: suggest the nearest ones (best effort).
    let suggestions = match &view {
        Err(crate::store::StoreError::NotFound(_)) => store
            .suggestion_candidates(&entity_ref.name)
            .await
            .map(|candidates| crate::terminal::nearest_refs(&entity_ref, &candidates))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    store.close().await;
    match view {
        Ok(view) => {
            match format {
                ViewFormat::Human => say(&crate::terminal::show_text(&view)),
                ViewFormat::Json => say(&crate::terminal::json_line(&crate::terminal::show_json(&view))),
            }
            ExitCode::SUCCESS
        }
        Err(crate::store::StoreError::NotFound(_)) => {
            let hint = if suggestions.is_empty() {
                String::new()
            } else {
                let quoted: Vec<String> = suggestions
                    .iter()
                    .map(|suggestion| format!("`{}`", crate::terminal::printable(suggestion)))
                    .collect();
                format!("; did you mean {}?", quoted.join(" or "))
            };
            crate::terminal::print_error(&format!("error: `{entity_ref}` is not in the catalog{hint}\n"));
            ExitCode::from(1)
        }
        Err(error) => fail(&format!("{error} [{}]", error.code())),
    }
}

async fn problems_command(config: &Config, format: ViewFormat, fail_on: &[FailOn], catalog: Catalog) -> ExitCode {
    let store = match open_store(config, catalog).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let problems = store.problems().await;
    let counts = if fail_on.is_empty() {
        Ok(None)
    } else {
        store.problem_counts().await.map(Some)
    };
    store.close().await;
    match (problems, counts) {
        (Ok(problems), Ok(counts)) => {
            match format {
                ViewFormat::Human => say(&crate::terminal::problems_text(&problems)),
                ViewFormat::Json => say(&crate::terminal::json_line(&problems)),
            }
            match counts {
                Some(counts) if fails_on(&counts, fail_on) => ExitCode::from(1),
                _ => ExitCode::SUCCESS,
            }
        }
        (Err(error), _) | (_, Err(error)) => fail(&format!("{error} [{}]", error.code())),
    }
}

/// How long a crawl waits for the search index to take its changes.
const SEARCH_SYNC_AFTER_CRAWL: std::time::Duration = std::time::Duration::from_secs(30);

/// After a crawl: delivers the catalog's changes to the search index, for at most
/// [`SEARCH_SYNC_AFTER_CRAWL`]. A problem is a warning on stderr and never changes the exit code:
/// the crawl is committed whatever the index does, and the index catches up later.
async fn sync_search_after_crawl(store: &Store, config: &crate::search::SearchConfig) {
    let warn = |message: &str| {
        crate::terminal::print_error(&format!(
            "warning: the search index is not up to date: {message}; the crawl is committed, and the index catches up \
             with the next crawl or `sextant serve`\n"
        ));
    };
    let search = match crate::search::Search::new(store.clone(), config) {
        Ok(search) => search,
        Err(error) => return warn(&format!("{error} [{}]", error.code())),
    };
    let backend = search.backend_name();
    match crate::search::sync::catch_up(&search, std::time::Instant::now() + SEARCH_SYNC_AFTER_CRAWL).await {
        Err(error) => return warn(&format!("{error} [{}]", error.code())),
        Ok(report) if report.paused => {
            crate::terminal::print_error("note: a reindex is running; the search index takes the crawl's changes once it ends\n");
            return;
        }
        Ok(_) => {}
    }
    match store.search_lag().await {
        Ok(lag) if lag.failing > 0 => warn(&format!(
            "{} of {} failing, last error: {}",
            lag.failing,
            crate::terminal::counted(lag.pending as usize, "change", "changes"),
            lag.last_error.as_deref().unwrap_or("unknown")
        )),
        Ok(lag) if lag.pending > 0 && !lag.reindexing => warn(&format!(
            "{} not yet delivered to {backend} [search-unavailable]",
            crate::terminal::counted(lag.pending as usize, "change", "changes")
        )),
        Ok(_) => {}
        Err(error) => warn(&format!("{error} [{}]", error.code())),
    }
}

/// `sextant reindex`: the search index rebuilt from the catalog and swapped in.
async fn reindex_command(config: &Config, catalog: Catalog) -> ExitCode {
    let store = match open_store(config, catalog).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let search = match crate::search::Search::new(store.clone(), &config.search_for(catalog)) {
        Ok(search) => search,
        Err(error) => {
            store.close().await;
            return fail(&format!("{error} [{}]", error.code()));
        }
    };
    let result = async {
        search.prepare().await?;
        crate::search::sync::reindex(&search).await
    }
    .await;
    store.close().await;
    match result {
        Ok(report) => {
            say_line!(
                "reindexed {} into {} in {:.1} s",
                crate::terminal::counted(report.documents, "entity", "entities"),
                search.backend_name(),
                report.elapsed.as_secs_f64()
            );
            if report.rejected > 0 {
                say_line!(
                    "{} refused by {}: failing changes now, retried by the sync (see /readyz)",
                    crate::terminal::counted(report.rejected, "entity was", "entities were"),
                    search.backend_name()
                );
            }
            ExitCode::SUCCESS
        }
        Err(crate::search::SearchError::Busy) => {
            fail("a reindex is already running (another `sextant reindex`); nothing was done: try again when it has finished [search-busy]")
        }
        Err(error) => fail(&format!(
            "cannot reindex into {}: {error} [{}]",
            search.backend_name(),
            error.code()
        )),
    }
}

/// `sextant migrate`: the catalog's schema brought to this version.
async fn migrate_command(config: &Config, catalog: Catalog) -> ExitCode {
    let open = OpenOptions {
        migrations: Migrations::Leave,
        ..OpenOptions::default()
    };
    let store = match open_store_with(config, catalog, &open).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    // The migrator holds an advisory lock: replicas or another `migrate` wait for it.
    let result = async {
        let before = store.schema_state().await?;
        store.migrate().await?;
        Ok::<_, crate::store::StoreError>((before, store.schema_state().await?))
    }
    .await;
    store.close().await;
    match result {
        Ok((_, after)) if !after.is_current() => fail(&format!("migrations not applied: {:?}; failed: {:?}", after.pending, after.failed)),
        Ok((before, _)) if before.pending.is_empty() => {
            say_line!("the catalog's schema is current; nothing to apply");
            ExitCode::SUCCESS
        }
        Ok((before, _)) => {
            let versions: Vec<String> = before.pending.iter().map(i64::to_string).collect();
            say_line!(
                "applied {}: {}; the catalog's schema is current",
                crate::terminal::counted(before.pending.len(), "migration", "migrations"),
                versions.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(&format!("{error} [{}]", error.code())),
    }
}

/// `sextant demo`: the example repositories built, crawled into the demo's catalog, then served
/// (unless `serve` is `None`: `Some(listen)` names the address, or the default).
async fn demo_command(config: Config, examples: Option<&Path>, reset: bool, serve: Option<Option<String>>) -> ExitCode {
    let examples = match crate::demo::find_examples_dir(examples) {
        Ok(examples) => examples,
        Err(message) => return fail(&message),
    };
    let data_dir = config.data_dir.clone().unwrap_or_else(crate::pg::default_data_dir);
    let repositories = data_dir.join("demo-repositories");
    if reset {
        if let Err(message) = crate::demo::remove_example_repositories(&repositories) {
            return fail(&message);
        }
        if let Err(error) = crate::store::drop_catalog(config.database_url.as_deref(), &data_dir, Catalog::Demo).await {
            return fail(&format!("{error} [{}]", error.code()));
        }
        say_line!("deleted the demo catalog and its example repositories");
    }
    let sources = match crate::demo::build_example_repositories(&examples, &repositories) {
        Ok(sources) => sources,
        Err(message) => return fail(&message),
    };
    say_line!("{} example repositories ready under {}", sources.len(), repositories.display());
    let store = match open_store(&config, Catalog::Demo).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let options = CrawlOptions::new(ReadOptions::new(data_dir.join("mirrors")));
    let code = run_crawl(&store, &sources, &options, ViewFormat::Human, &[], Catalog::Demo).await;
    sync_search_after_crawl(&store, &config.search_for(Catalog::Demo)).await;
    say_line!("\n(the demo's problems are on purpose: its `invalid` repository holds one mistake per diagnostic code)");
    say_line!(
        "\nthe demo has a catalog of its own; `--demo` reads it:\n  sextant show --demo component:booking-service\n  \
         sextant show --demo group:platform-team\n  sextant problems --demo"
    );
    let Some(listen) = serve else {
        store.close().await;
        return code;
    };
    serve::init_logging(serve::LogFormat::Text);
    let listener = match serve::demo_listener(listen.as_deref()).await {
        Ok(listener) => listener,
        Err(message) => {
            store.close().await;
            return fail(&message);
        }
    };
    // The demo serves what it crawled: no scheduled crawl of the user's configured repositories.
    let mut demo_config = Config {
        sources,
        data_dir: Some(data_dir.clone()),
        ..Config::default()
    };
    demo_config.server.crawl_interval = None;
    demo_config.search = config.search_for(Catalog::Demo);
    let code = serve::serve(
        &store,
        &demo_config,
        listener,
        "\nserving the demo (Ctrl-C stops it)\n  dashboard: ",
    )
    .await;
    store.close().await;
    code
}

async fn db_command(config: &Config, action: DbAction) -> ExitCode {
    let data_dir = config.data_dir.clone().unwrap_or_else(crate::pg::default_data_dir);
    let cluster_dir = crate::pg::cluster_dir(&data_dir);
    if let Some(url) = &config.database_url {
        let url = crate::crawler::redact(url);
        return match action {
            DbAction::Status => {
                say_line!(
                    "the catalog is in the configured database (DATABASE_URL or `database` in sextant.yaml): {url}\n\
                     sextant runs no database of its own then"
                );
                ExitCode::SUCCESS
            }
            DbAction::Stop | DbAction::Reset { .. } => fail(&format!(
                "the catalog is in the configured database (DATABASE_URL or `database` in sextant.yaml: {url}); \
                 `sextant db stop` and `sextant db reset` \
                 manage only sextant's private cluster, so nothing was done"
            )),
        };
    }
    let cluster = match crate::pg::Cluster::existing(&cluster_dir) {
        Ok(Some(cluster)) => cluster,
        Ok(None) => {
            say_line!(
                "no private PostgreSQL cluster in {} yet; the first catalog command (crawl, demo, show, problems) creates it",
                cluster_dir.display()
            );
            return ExitCode::SUCCESS;
        }
        Err(error) => return fail(&error.to_string()),
    };
    match action {
        DbAction::Status => db_status(&cluster).await,
        DbAction::Stop => {
            if !cluster.is_running() {
                say_line!("the private cluster in {} is not running", cluster_dir.display());
                return ExitCode::SUCCESS;
            }
            match tokio::task::spawn_blocking(move || cluster.stop()).await {
                Ok(Ok(())) => {
                    say_line!("stopped the private cluster in {}", cluster_dir.display());
                    ExitCode::SUCCESS
                }
                Ok(Err(error)) => fail(&error.to_string()),
                Err(error) => fail(&error.to_string()),
            }
        }
        DbAction::Reset { yes } => db_reset(&cluster_dir, &data_dir, yes).await,
    }
}

async fn db_status(cluster: &crate::pg::Cluster) -> ExitCode {
    say_line!("private PostgreSQL cluster: {}", cluster.data_dir.display());
    if !cluster.is_running() {
        say_line!("running: no (the next catalog command starts it)");
        return ExitCode::SUCCESS;
    }
    say_line!("running: yes, on the socket {} only (no TCP)", cluster.socket_path().display());
    say_line!("log: {}", cluster.log_file().display());
    match crate::store::cluster_databases(cluster).await {
        Ok(databases) if databases.is_empty() => say_line!("databases: none yet"),
        Ok(databases) => {
            say_line!("databases:");
            for (name, bytes) in databases {
                let role = match name.as_str() {
                    "sextant" => "  (your catalog)",
                    "sextant_demo" => "  (the demo's catalog)",
                    _ => "",
                };
                say_line!("  {name:<16} {:>6.1} MB{role}", bytes as f64 / 1_000_000.0);
            }
        }
        Err(error) => return fail(&format!("{error} [{}]", error.code())),
    }
    say_line!("stop it with `sextant db stop`");
    ExitCode::SUCCESS
}

async fn db_reset(cluster_dir: &Path, data_dir: &Path, yes: bool) -> ExitCode {
    if !yes {
        if !std::io::stdin().is_terminal() {
            return fail("`sextant db reset` deletes your catalog; without a terminal to confirm on, pass --yes");
        }
        crate::terminal::print_error(&format!(
            "This deletes the catalog databases (yours and the demo's) in {}. Type `yes` to go on: ",
            cluster_dir.display()
        ));
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err() || answer.trim() != "yes" {
            crate::terminal::print_error("nothing was deleted\n");
            return ExitCode::from(1);
        }
    }
    for catalog in [Catalog::Main, Catalog::Demo] {
        match crate::store::drop_catalog(None, data_dir, catalog).await {
            Ok(true) => say_line!("deleted the database {}", catalog.embedded_database()),
            Ok(false) => say_line!("no database {} to delete", catalog.embedded_database()),
            Err(error) => return fail(&format!("{error} [{}]", error.code())),
        }
    }
    ExitCode::SUCCESS
}
