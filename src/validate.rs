//! `sextant validate`: find descriptor files, read each (in parallel), run the checks across all
//! of them, and hand the result to a reporter.

mod baseline;
mod cross_file;
mod discover;
pub mod report;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::descriptor::{self, Documents, MAX_FILE_BYTES, ParsedFile};
use crate::domain::{Code, Diagnostic, Entity, Position, Severity};

pub use baseline::{FsBaseline, read_all_for_baseline};
pub use cross_file::{Elsewhere, KnownElsewhere, check_across_files, check_across_files_with, unresolved_targets};
pub use discover::{DiscoverError, discover};
use discover::{FoundFile, discover_files};

/// Settings of one validation run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Dangling references are errors instead of warnings.
    pub strict: bool,
    /// Worker threads for reading and parsing; 0 means one per core.
    pub threads: usize,
}

/// The result of validating a set of files.
#[derive(Debug, Default)]
pub struct Report {
    pub files_checked: usize,
    pub entities: Vec<Entity>,
    /// Sorted by file, then position.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of each file that has diagnostics, for source snippets. Before [`finish`], also
    /// the text of each file that defines entities (the cross-file checks may speak of it).
    pub sources: HashMap<String, String>,
}

impl Report {
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics.iter().filter(|diagnostic| diagnostic.severity == severity).count()
    }

    /// Whether some file could not be read at all (exit code 2).
    pub fn has_read_errors(&self) -> bool {
        self.diagnostics.iter().any(|diagnostic| diagnostic.code == Code::ReadError)
    }

    /// `checked 412 files, 498 entities: 3 errors, 7 warnings`
    pub fn summary(&self) -> String {
        let plural = |count: usize, word: &str| format!("{count} {word}{}", if count == 1 { "" } else { "s" });
        let mut summary = format!(
            "checked {}, {}: {}, {}",
            plural(self.files_checked, "file"),
            plural(self.entities.len(), "entity").replace("entitys", "entities"),
            plural(self.count(Severity::Error), "error"),
            plural(self.count(Severity::Warning), "warning"),
        );
        let notes = self.count(Severity::Note);
        if notes > 0 {
            summary.push_str(&format!(", {}", plural(notes, "note")));
        }
        summary
    }
}

/// Validates the files and directories in `paths` (the current directory when empty).
pub fn validate_paths(paths: &[PathBuf], options: Options) -> Result<Report, DiscoverError> {
    let files = discover_files(paths)?;
    let parsed = read_all(files.len(), options.threads, |index| {
        let FoundFile { path, known_regular } = &files[index];
        read_file(path, *known_regular)
    });
    let mut report = collect(parsed);
    finish(&mut report, options.strict, None);
    Ok(report)
}

/// Validates exactly these files.
pub fn validate_files(files: &[PathBuf], options: Options) -> Report {
    let mut report = read_files(files, options.threads);
    finish(&mut report, options.strict, None);
    report
}

/// Reads and parses these files: their entities (without their documents, which validation
/// does not need) and each file's own diagnostics, before the checks across files ([`finish`]).
pub fn read_files(files: &[PathBuf], threads: usize) -> Report {
    collect(read_all(files.len(), threads, |index| read_file(&files[index], false)))
}

/// Gathers the files read into one report (before the checks across files).
fn collect(parsed: Vec<FileResult>) -> Report {
    let mut report = Report {
        files_checked: parsed.len(),
        entities: Vec::with_capacity(parsed.len()),
        ..Report::default()
    };
    for (file, text, parsed_file) in parsed {
        if let Some(text) = text {
            report.sources.insert(file, text);
        }
        report.diagnostics.extend(parsed_file.diagnostics);
        report.entities.extend(parsed_file.entities);
    }
    report
}

/// Runs the checks across every file read (references not defined by them looked up in
/// `elsewhere`), reads the sources of files that only these checks speak of (for snippets), and
/// sorts the diagnostics.
pub fn finish(report: &mut Report, strict: bool, elsewhere: Elsewhere<'_>) {
    let across = check_across_files_with(&report.entities, strict, elsewhere);
    report.diagnostics.extend(across);
    // Files whose text was not kept when they were read (diagnostics added by the caller), for
    // snippets; read as carefully as the first time (regular files only, capped).
    for diagnostic in &report.diagnostics {
        if diagnostic.code != Code::ReadError
            && !report.sources.contains_key(&diagnostic.file)
            && let Ok(Ok(bytes)) = read_regular_file(Path::new(&diagnostic.file), false)
        {
            report
                .sources
                .insert(diagnostic.file.clone(), String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    report
        .diagnostics
        .sort_by(|left, right| (&left.file, left.line, left.column, left.code).cmp(&(&right.file, right.line, right.column, right.code)));
    // Only the texts that snippets need stay (the diagnostics are grouped by file now).
    let mut mentioned: Vec<&str> = report.diagnostics.iter().map(|diagnostic| diagnostic.file.as_str()).collect();
    mentioned.dedup();
    let mentioned: HashSet<&str> = mentioned.into_iter().collect();
    report.sources.retain(|file, _| mentioned.contains(file.as_str()));
}

/// The name a file is shown under: its path as given, without a leading `./`.
pub fn display_name(path: &Path) -> String {
    let shown = path.to_string_lossy();
    shown.strip_prefix("./").unwrap_or(&shown).to_owned()
}

type FileResult = (String, Option<String>, ParsedFile);

/// Reads and parses `count` files (`read_one(index)` reads one), on `threads` workers, keeping
/// the input order.
fn read_all(count: usize, threads: usize, read_one: impl Fn(usize) -> FileResult + Sync) -> Vec<FileResult> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        threads => threads,
    }
    .min(count.max(1));
    if threads == 1 {
        // On the calling thread: a worker thread would allocate from a secondary malloc arena,
        // which grows in small steps (measured: about 5% of the run in mprotect).
        return (0..count).map(read_one).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, FileResult)>> = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        break;
                    }
                    local.push((index, read_one(index)));
                }
                results.lock().expect("no worker panics while holding the lock").extend(local);
            });
        }
    });
    let mut results = results.into_inner().expect("workers finished");
    results.sort_unstable_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// Reads one file, refusing oversized files before reading them (the size comes from the open
/// file, so a file growing meanwhile is still capped by the bounded read). Only regular files are
/// read: a FIFO, socket or device is refused from its metadata, before it is opened, and the file
/// is opened without blocking and checked again, so a path swapped for a FIFO meanwhile cannot
/// make the run wait for a writer.
pub fn read_one(path: &Path) -> FileResult {
    read_file(path, false)
}

/// [`read_one`]; `known_regular` when the directory walk saw a regular file, whose metadata need
/// not be read again before opening it (the open file's metadata is still checked). The text is
/// kept when the file has diagnostics or defines entities (for the snippets of the checks across
/// files); entities do not keep their documents (validate only checks).
fn read_file(path: &Path, known_regular: bool) -> FileResult {
    let name = display_name(path);
    let at = Position { line: 1, column: 1 };
    let refuse = |diagnostic: Diagnostic| ParsedFile {
        entities: Vec::new(),
        diagnostics: vec![diagnostic],
    };
    match read_regular_file(path, known_regular) {
        Ok(Ok(bytes)) => {
            let parsed = descriptor::parse_bytes_with(&name, &bytes, Documents::Skip);
            let text = if parsed.diagnostics.is_empty() && parsed.entities.is_empty() {
                None
            } else {
                // Moved, not copied, when the bytes are UTF-8 (always when entities were read).
                Some(String::from_utf8(bytes).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
            };
            (name, text, parsed)
        }
        Ok(Err(length)) => {
            let diagnostic = descriptor::file_too_large(&name, length, MAX_FILE_BYTES);
            (name, None, refuse(diagnostic))
        }
        Err(ReadFailure::Special(kind)) => {
            let diagnostic = Diagnostic::new(
                Code::ReadError,
                &name,
                at,
                format!("the path is {kind}, not a regular file; it is not read"),
            )
            .with_hint("only regular files are read; name the descriptor file itself");
            (name, None, refuse(diagnostic))
        }
        Err(ReadFailure::Io(error)) => {
            let diagnostic = Diagnostic::new(Code::ReadError, &name, at, format!("cannot read the file: {error}"));
            (name, None, refuse(diagnostic))
        }
    }
}

enum ReadFailure {
    /// A FIFO, socket, device or directory: what it is.
    Special(&'static str),
    Io(std::io::Error),
}

impl From<std::io::Error> for ReadFailure {
    fn from(error: std::io::Error) -> Self {
        ReadFailure::Io(error)
    }
}

/// The bytes of a regular file, or its length when it is over the cap. `known_regular`: the
/// directory walk saw a regular file at this path, so its metadata is not read before opening.
fn read_regular_file(path: &Path, known_regular: bool) -> Result<Result<Vec<u8>, u64>, ReadFailure> {
    use std::io::Read;
    if !known_regular && let Some(kind) = special_file_kind(&std::fs::metadata(path)?) {
        return Err(ReadFailure::Special(kind));
    }
    let file = open_without_blocking(path)?;
    let metadata = file.metadata()?;
    if let Some(kind) = special_file_kind(&metadata) {
        return Err(ReadFailure::Special(kind));
    }
    let length = metadata.len();
    if length > MAX_FILE_BYTES as u64 {
        return Ok(Err(length));
    }
    let mut bytes = Vec::with_capacity(length as usize + 1);
    file.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    Ok(Ok(bytes))
}

/// What a path is when it is neither a regular file nor a directory: "a named pipe (FIFO)", ...
fn special_file_kind(metadata: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let file_type = metadata.file_type();
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() || file_type.is_block_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

/// Opens `path` for reading without waiting on a FIFO (reads of regular files are unaffected).
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer.
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)
}
