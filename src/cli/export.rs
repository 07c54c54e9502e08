//! `sextant export --format json [--output FILE]`: the catalog snapshot that
//! `sextant validate --catalog FILE` reads (see `src/pr_check/snapshot.rs` for the format), on
//! stdout or in a file. A file is written under a temporary name beside it and renamed at the
//! end, so a failed export never leaves a truncated file under the name asked for.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;

use super::{fail, open_store};
use crate::config::Config;
use crate::pr_check::snapshot::group_digits;
use crate::store::export::{ExportError, ExportSummary, export_snapshot};
use crate::store::{Catalog, Store};

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ExportFormat {
    /// The catalog snapshot (`sextant validate --catalog FILE` reads it).
    Json,
}

/// Writes the catalog's snapshot to `output` (stdout when `None`) and a one-line summary on stderr.
pub(super) async fn export_command(config: &Config, catalog: Catalog, format: ExportFormat, output: Option<&Path>) -> ExitCode {
    let ExportFormat::Json = format;
    let store = match open_store(config, catalog).await {
        Ok(store) => store,
        Err(message) => return fail(&message),
    };
    let exported = match output {
        Some(path) => export_to_file(&store, path).await,
        None => export_to_stdout(&store).await,
    };
    store.close().await;
    match exported {
        Ok(summary) => {
            let destination = output.map_or("stdout".to_owned(), |path| path.display().to_string());
            crate::terminal::print_error(&format!(
                "exported {} from {} to {destination}\n",
                counted_grouped(summary.entities, "entity", "entities"),
                counted_grouped(summary.repositories as u64, "repository", "repositories"),
            ));
            if summary.entities == 0 {
                crate::terminal::print_error("warning: the catalog is empty: crawl it first, or add --demo for the demo's catalog\n");
            }
            ExitCode::SUCCESS
        }
        // A reader that went away (`sextant export | head`) is not an error of the export.
        Err(ExportError::Write(error)) if output.is_none() && error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => fail(&format!("{error} [{}]", error.code())),
    }
}

/// `1,234 entities`.
fn counted_grouped(number: u64, singular: &str, plural: &str) -> String {
    format!("{} {}", group_digits(number), if number == 1 { singular } else { plural })
}

async fn export_to_stdout(store: &Store) -> Result<ExportSummary, ExportError> {
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout());
    export_snapshot(store, &mut out).await
}

/// Exports into a temporary file beside `path`, renamed to `path` once complete and on disk;
/// removed when anything fails.
async fn export_to_file(store: &Store, path: &Path) -> Result<ExportSummary, ExportError> {
    let temporary = temporary_path(path);
    let written = write_file(store, &temporary).await.and_then(|summary| {
        std::fs::rename(&temporary, path)?;
        Ok(summary)
    });
    if written.is_err() {
        // Nothing to keep; a file that was never created is fine too.
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

async fn write_file(store: &Store, temporary: &Path) -> Result<ExportSummary, ExportError> {
    let file = File::options().write(true).create_new(true).open(temporary)?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    let summary = export_snapshot(store, &mut out).await?;
    let file = out.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    Ok(summary)
}

/// `dir/.NAME.PID.tmp` for `dir/NAME`: in the same folder, so the rename stays on one file system.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or("snapshot".into(), |name| name.to_string_lossy());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_temporary_file_is_a_hidden_sibling() {
        let temporary = temporary_path(Path::new("out/catalog.json"));
        assert_eq!(temporary.parent(), Some(Path::new("out")));
        let name = temporary
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert!(name.starts_with(".catalog.json.") && name.ends_with(".tmp"), "{name}");
        assert_eq!(counted_grouped(1_234, "entity", "entities"), "1,234 entities");
        assert_eq!(counted_grouped(1, "repository", "repositories"), "1 repository");
    }
}
