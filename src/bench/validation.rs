//! The validate phase: `validate_paths` (walk, read, parse, every rule, the cross-file checks)
//! on one thread and on every core, for typical single-entity files and for the organisation's
//! own files; the file system's cost alone (walk and read, nothing parsed), the limit to
//! approach; and Backstage's validator on the same files, one core each.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::backstage;
use super::report::{Figure, Report, Target, Unit};
use crate::validate::{Options, validate_paths};

/// The file sets validated.
pub struct Sets<'a> {
    /// One Component per file.
    pub single: &'a Path,
    /// The organisation as crawled: Backstage files of three entities, Compass files, the org file.
    pub organisation: &'a Path,
}

/// Measures each set and adds the figures (Backstage's beside them when `backstage_harness` is
/// given and works).
pub fn measure(report: &mut Report, sets: &Sets<'_>, repeat: usize, backstage_harness: Option<&Path>) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let repeat = repeat.max(1);
    let baseline = file_system_rate(sets.single, repeat);
    println!("validate: file system alone (walk and read, one thread): {baseline:.0} files/s");
    for (name, folder, typical) in [
        ("single-entity files", sets.single, true),
        (
            "organisation files (3 entities per Backstage file, Compass files, the org file)",
            sets.organisation,
            false,
        ),
    ] {
        let backstage_rate = backstage_harness.and_then(|harness| match backstage::run_validator(harness, folder, repeat) {
            Ok(run) => {
                println!(
                    "validate: Backstage's validator on {name}: {} files, best {:.0} files/s (first pass {:.0})",
                    run.files, run.best_files_per_second, run.first_pass_files_per_second
                );
                Some(run.best_files_per_second)
            }
            Err(error) => {
                println!("validate: Backstage's validator could not run: {error}");
                None
            }
        });
        for threads in [1, cores] {
            match rate(folder, threads, repeat) {
                Ok((rate, files)) => {
                    println!("validate: {name}, {threads} thread(s): {files} files, best {rate:.0} files/s");
                    let mut figure = Figure::new(
                        "validate",
                        format!(
                            "{name}, {}",
                            if threads == 1 {
                                "one core".to_owned()
                            } else {
                                format!("{threads} cores")
                            }
                        ),
                        rate,
                        Unit::FilesPerSecond,
                    )
                    .note(format!(
                        "{files} files, best of {repeat}; walk, read, parse, rules and cross-file checks"
                    ));
                    if threads == 1 {
                        figure = figure.backstage(backstage_rate);
                        if typical {
                            figure = figure.target(Target::AtLeast(50_000.0)).target(Target::TimesBackstage(10.0));
                        }
                    }
                    report.add(figure);
                }
                Err(error) => println!("validate: {name} could not be validated: {error}"),
            }
        }
    }
    report.add(
        Figure::new(
            "validate",
            "file system alone: walk and read single-entity files, one core",
            baseline,
            Unit::FilesPerSecond,
        )
        .note("the limit validate approaches"),
    );
}

/// Best files per second of `validate_paths` over `repeat` passes, and the files checked.
fn rate(folder: &Path, threads: usize, repeat: usize) -> Result<(f64, usize), String> {
    let mut best = Duration::MAX;
    let mut files = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        let checked = validate_paths(&[folder.to_path_buf()], Options { strict: false, threads }).map_err(|error| error.to_string())?;
        best = best.min(started.elapsed());
        files = checked.files_checked;
    }
    Ok((files as f64 / best.as_secs_f64().max(1e-9), files))
}

/// Best files per second of walking `folder` and reading every file in it, one thread.
fn file_system_rate(folder: &Path, repeat: usize) -> f64 {
    let mut best = Duration::MAX;
    let mut files = 0usize;
    for _ in 0..repeat {
        let started = Instant::now();
        files = 0;
        let mut pending: Vec<PathBuf> = vec![folder.to_path_buf()];
        while let Some(directory) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&directory) else { continue };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() {
                    pending.push(entry.path());
                } else if kind.is_file() && std::fs::read(entry.path()).is_ok() {
                    files += 1;
                }
            }
        }
        best = best.min(started.elapsed());
    }
    files as f64 / best.as_secs_f64().max(1e-9)
}
