//! The file system's own share of `sextant validate`: the same directory walk and the same reads
//! of every descriptor, without parsing or checking, so that validate's throughput can be set
//! against the floor the kernel and the disk allow (`cargo bench --bench validate`, `sextant bench`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{DiscoverError, discover_files, read_regular_file};

/// What walking and reading the files took, on the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsBaseline {
    /// Descriptor files found (read or not).
    pub files: usize,
    /// Bytes read, over every file that could be read.
    pub bytes: u64,
    /// The directory walk, as validate does it.
    pub walk: Duration,
    /// Reading every file found, as validate does it.
    pub read: Duration,
}

impl FsBaseline {
    /// Walk and reads together.
    pub fn elapsed(&self) -> Duration {
        self.walk + self.read
    }

    /// Files walked and read per second.
    pub fn files_per_second(&self) -> f64 {
        self.files as f64 / self.elapsed().as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Walks `paths` and reads every descriptor file the way [`super::validate_paths`] does (same
/// discovery, same checks of the file's kind and size, same reads), on the calling thread, and
/// only counts: no parsing, no checks. Files that cannot be read are counted but add no bytes.
pub fn read_all_for_baseline(paths: &[PathBuf]) -> Result<FsBaseline, DiscoverError> {
    let started = Instant::now();
    let files = discover_files(paths)?;
    let walk = started.elapsed();
    let started = Instant::now();
    let mut bytes = 0;
    for file in &files {
        if let Ok(Ok(content)) = read_regular_file(&file.path, file.known_regular) {
            bytes += content.len() as u64;
        }
    }
    Ok(FsBaseline {
        files: files.len(),
        bytes,
        walk,
        read: started.elapsed(),
    })
}
