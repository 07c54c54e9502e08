//! The command line: clap definitions and one short function per command. Exit codes: 0 success
//! (for `validate`: no errors), 1 errors found or a repository failed, 2 usage, configuration,
//! database or I/O problems.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::crawler::ReadOptions;
use crate::domain::{EntityRef, Severity};
use crate::ingest::{CrawlOptions, RepoOutcome};
use crate::store::{Direction, Store};
use crate::validate::report::{OutputFormat, render};
use crate::validate::{self, Options};

#[derive(Debug, Parser)]
#[command(name = "sextant", version, about = "A component catalog for Backstage and Compass descriptors")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    },
    /// Crawl git repositories into the catalog.
    Crawl {
        /// The config file (default: ./sextant.yaml when it exists).
        #[arg(long, env = "SEXTANT_CONFIG")]
        config: Option<PathBuf>,
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
    },
    /// Build git repositories from the example organisation, crawl them, and show the result.
    Demo {
        /// The example organisation to use.
        #[arg(long, default_value_os_t = crate::demo::default_examples_dir())]
        examples: PathBuf,
    },
    /// List every diagnostic code with its name, default severity and meaning.
    Codes,
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match cli.command {
        Command::Validate {
            paths,
            format,
            strict,
            color,
            threads,
        } => {
            let color = match color.as_str() {
                "always" => true,
                "never" => false,
                _ => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            validate_command(&paths, format, Options { strict, threads }, color)
        }
        Command::Crawl {
            config,
            repos,
            dirs,
            concurrency,
            timeout,
            format,
        } => {
            let config = match build_config(config.as_deref(), &repos, &dirs) {
                Ok(config) => config,
                Err(message) => return fail(&message),
            };
            block_on(crawl_command(config, concurrency, timeout, format))
        }
        Command::Show { entity, depth, format } => block_on(show_command(&entity, depth, format)),
        Command::Problems { format } => block_on(problems_command(format)),
        Command::Demo { examples } => block_on(demo_command(&examples)),
        Command::Codes => {
            for code in crate::domain::Code::ALL {
                println!(
                    "{}  {:<26} {:<8} {}",
                    code.as_str(),
                    code.slug(),
                    code.default_severity().as_str(),
                    code.summary()
                );
            }
            ExitCode::SUCCESS
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
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

fn validate_command(paths: &[PathBuf], format: OutputFormat, options: Options, color: bool) -> ExitCode {
    let report = match validate::validate_paths(paths, options) {
        Ok(report) => report,
        Err(error) => return fail(&error.to_string()),
    };
    let output = render(&report, format, color);
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(output.as_bytes()).and_then(|()| stdout.flush()).is_err() {
        return ExitCode::from(2);
    }
    if matches!(format, OutputFormat::Json | OutputFormat::Sarif) {
        eprintln!("{}", report.summary());
    }
    let exit_code = if report.has_read_errors() {
        ExitCode::from(2)
    } else if report.count(Severity::Error) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends here: freeing every entity one by one would only cost time.
    std::mem::forget(report);
    exit_code
}

/// The config file (explicit, or ./sextant.yaml when present), then the environment, then flags.
fn build_config(file: Option<&Path>, repos: &[String], dirs: &[PathBuf]) -> Result<Config, String> {
    let default_file = Path::new("sextant.yaml");
    let mut config = match file {
        Some(file) => Config::from_file(file).map_err(|error| error.to_string())?,
        None if default_file.is_file() => Config::from_file(default_file).map_err(|error| error.to_string())?,
        None => Config::default(),
    };
    config.apply_environment();
    for repo in repos {
        config.add_repository(repo).map_err(|error| error.to_string())?;
    }
    for dir in dirs {
        config.add_directory(dir).map_err(|error| error.to_string())?;
    }
    config.dedup_sources();
    if config.sources.is_empty() {
        return Err("no repositories to crawl: list them in sextant.yaml, or pass --repo URL or --dir FOLDER".to_owned());
    }
    Ok(config)
}

async fn open_store(config: &Config) -> Result<Store, String> {
    let result = match &config.database_url {
        Some(url) => Store::connect(url).await,
        None => Store::open_default(&config.data_dir.clone().unwrap_or_else(crate::pg::default_data_dir)).await,
    };
    result.map_err(|error| format!("{error} [{}]", error.code()))
}

fn environment_config() -> Config {
    let mut config = Config::default();
    config.apply_environment();
    config
}

async fn crawl_command(config: Config, concurrency: Option<usize>, timeout: Option<u64>, format: ViewFormat) -> ExitCode {
    let store = match open_store(&config).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let data_dir = config.data_dir.clone().unwrap_or_else(crate::pg::default_data_dir);
    let mut read = ReadOptions::new(data_dir.join("mirrors"));
    read.extra_patterns = config.descriptor_patterns.clone();
    if let Some(max) = config.max_descriptors {
        read.max_descriptors = max;
    }
    let mut options = CrawlOptions::new(read);
    if let Some(concurrency) = concurrency.or(config.concurrency) {
        options.concurrency = concurrency;
    }
    if let Some(timeout) = timeout.map(std::time::Duration::from_secs).or(config.repo_timeout) {
        options.repo_timeout = timeout;
    }
    run_crawl(&store, &config.sources, &options, format).await
}

async fn run_crawl(store: &Store, sources: &[crate::crawler::Source], options: &CrawlOptions, format: ViewFormat) -> ExitCode {
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
        progress.set_message(url.to_owned());
        progress.inc(1);
    })
    .await;
    progress.finish_and_clear();
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => return fail(&format!("{error} [{}]", error.code())),
    };
    match format {
        ViewFormat::Human => {
            print!("{}", crate::terminal::crawl_summary(&summary));
            if summary.totals.conflicts > 0
                && let Ok(problems) = store.problems().await
            {
                for conflict in &problems.conflicts {
                    println!(
                        "conflict: {} is held by {}; also claimed by {}",
                        conflict["ref"].as_str().unwrap_or_default(),
                        conflict["holder"].as_str().unwrap_or_default(),
                        conflict["claimant"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        ViewFormat::Json => println!("{}", crate::terminal::crawl_summary_json(&summary)),
    }
    if summary.count(|outcome| matches!(outcome, RepoOutcome::Failed(_))) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

async fn show_command(entity: &str, depth: u32, format: ViewFormat) -> ExitCode {
    let entity_ref = match EntityRef::parse(entity, Some("component"), crate::domain::DEFAULT_NAMESPACE) {
        Ok(entity_ref) => entity_ref,
        Err(error) => return fail(&format!("`{entity}` {error}")),
    };
    let store = match open_store(&environment_config()).await {
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
    match view {
        Ok(view) => {
            match format {
                ViewFormat::Human => print!("{}", crate::terminal::show_text(&view)),
                ViewFormat::Json => println!("{}", crate::terminal::show_json(&view)),
            }
            ExitCode::SUCCESS
        }
        Err(crate::store::StoreError::NotFound(what)) => {
            eprintln!("error: {what} is not in the catalog");
            ExitCode::from(1)
        }
        Err(error) => fail(&format!("{error} [{}]", error.code())),
    }
}

async fn problems_command(format: ViewFormat) -> ExitCode {
    let store = match open_store(&environment_config()).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    match store.problems().await {
        Ok(problems) => {
            match format {
                ViewFormat::Human => print!("{}", crate::terminal::problems_text(&problems)),
                ViewFormat::Json => println!("{}", serde_json::to_string(&problems).unwrap_or_default()),
            }
            ExitCode::SUCCESS
        }
        Err(error) => fail(&format!("{error} [{}]", error.code())),
    }
}

async fn demo_command(examples: &Path) -> ExitCode {
    let config = environment_config();
    let data_dir = config.data_dir.clone().unwrap_or_else(crate::pg::default_data_dir);
    let repositories = data_dir.join("demo-repositories");
    let sources = match crate::demo::build_example_repositories(examples, &repositories) {
        Ok(sources) => sources,
        Err(message) => return fail(&message),
    };
    println!("built {} example repositories under {}", sources.len(), repositories.display());
    let store = match open_store(&config).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let options = CrawlOptions::new(ReadOptions::new(data_dir.join("mirrors")));
    let code = run_crawl(&store, &sources, &options, ViewFormat::Human).await;
    if let Ok(problems) = store.problems().await {
        println!(
            "\nproblems in the catalog: {} (the `invalid` repository holds one mistake per diagnostic; `sextant problems` lists them)",
            problems.total()
        );
    }
    println!("\ntry:\n  sextant show component:booking-service\n  sextant show group:platform-team\n  sextant problems");
    code
}
