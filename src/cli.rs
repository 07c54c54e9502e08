//! The command line: clap definitions and one function per command. Exit codes: 0 no errors,
//! 1 errors found, 2 usage or I/O problems.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::validate::report::{OutputFormat, render};
use crate::validate::{self, Options};

#[derive(Debug, Parser)]
#[command(name = "sextant", version, about = "A component catalog for Backstage and Compass descriptors")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Validate the example organisation (catalog-examples/) and show what it holds and the
    /// diagnostics of its deliberate mistakes.
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
        Command::Validate { paths, format, strict, color, threads } => {
            let color = match color.as_str() {
                "always" => true,
                "never" => false,
                _ => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            validate_command(&paths, format, Options { strict, threads }, color)
        }
        Command::Demo { examples } => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            match crate::demo::run(&examples) {
                Ok(demo) => {
                    print!("{}", crate::demo::render_demo(&demo, color));
                    let organisation_clean = demo.organisation.count(crate::domain::Severity::Error) == 0;
                    if organisation_clean { ExitCode::SUCCESS } else { ExitCode::from(1) }
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Codes => {
            for code in crate::domain::Code::ALL {
                println!("{}  {:<26} {:<8} {}", code.as_str(), code.slug(), code.default_severity().as_str(), code.summary());
            }
            ExitCode::SUCCESS
        }
    }
}

fn validate_command(paths: &[PathBuf], format: OutputFormat, options: Options, color: bool) -> ExitCode {
    let report = match validate::validate_paths(paths, options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
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
    } else if report.count(crate::domain::Severity::Error) > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends here: freeing every entity one by one would only cost time.
    std::mem::forget(report);
    exit_code
}
