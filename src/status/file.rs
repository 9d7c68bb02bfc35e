//! The status file on disk: atomic writes with the read-only fallback, and reads that never panic.
//!
//! Write: a temporary file in the target directory (mode 0644 whatever the umask, never through a
//! symlink), then `rename` over the old document. The directory is created 0755 when missing;
//! an existing one is left as it is. Read: at most `MAX_FILE_BYTES`, then `Status::from_json`.
//! Does not choose the locations (`super::locations`) or judge health.

use super::{locations, Status};
use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A status document is a few hundred bytes; anything far larger is not one.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
const DIR_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;

/// Writes `status` to the first of `locations(preferred)` that works; returns where.
pub fn write(preferred: Option<&Path>, status: &Status) -> io::Result<PathBuf> {
    write_to(&locations(preferred), status)
}

/// Writes `status` to the first of `paths` that works; the error names every failure.
pub fn write_to(paths: &[PathBuf], status: &Status) -> io::Result<PathBuf> {
    let text = status.to_json();
    let mut failures = Vec::new();
    for path in paths {
        match write_one(path, text.as_bytes()) {
            Ok(()) => return Ok(path.clone()),
            Err(e) => failures.push((path, e)),
        }
    }
    let kind = failures
        .first()
        .map_or(io::ErrorKind::InvalidInput, |(_, e)| e.kind());
    let what: Vec<String> = failures
        .iter()
        .map(|(p, e)| format!("{}: {e}", p.display()))
        .collect();
    Err(io::Error::new(kind, what.join("; ")))
}

/// Makes temporary names unique between threads of one process (the pid covers processes).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn write_one(path: &Path, text: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the status file needs a file name",
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    make_dir(dir)?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.{}.{n}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            // Never write through a link someone planted in a shared directory.
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        // The mode given to open is cut by the umask; readers may be another user.
        f.set_permissions(Permissions::from_mode(FILE_MODE))?;
        f.write_all(text)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir` (and parents) world-readable if it is not there; an existing one is left as is.
fn make_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
}

/// Why no status could be read.
#[derive(Debug)]
pub enum Error {
    /// None of the locations has a file.
    Missing(Vec<PathBuf>),
    Read {
        path: PathBuf,
        source: io::Error,
    },
    Malformed {
        path: PathBuf,
        what: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Missing(paths) => {
                let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "no status file at {} (is enf-init running here, with its tunnel?)",
                    shown.join(" or ")
                )
            }
            Error::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Error::Malformed { path, what } => {
                write!(f, "{}: not a status file: {what}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {}

/// The most recently updated status among `locations(preferred)`.
pub fn read(preferred: Option<&Path>) -> Result<(PathBuf, Status), Error> {
    read_from(&locations(preferred))
}

/// The most recently updated status among `paths` (the first on a tie). An unreadable or
/// malformed file is reported only when no other location has a good one.
pub fn read_from(paths: &[PathBuf]) -> Result<(PathBuf, Status), Error> {
    let mut best: Option<(PathBuf, Status)> = None;
    let mut first_error = None;
    for path in paths {
        match read_one(path) {
            Ok(Some(s)) => {
                if best.as_ref().map_or(true, |(_, b)| s.updated > b.updated) {
                    best = Some((path.clone(), s));
                }
            }
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    best.ok_or_else(|| first_error.unwrap_or_else(|| Error::Missing(paths.to_vec())))
}

/// `Ok(None)` when there is no file at `path`.
fn read_one(path: &Path) -> Result<Option<Status>, Error> {
    let read_error = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // A path under a regular file cannot exist either.
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
        Err(e) => return Err(read_error(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let malformed = |what: String| Error::Malformed {
        path: path.to_path_buf(),
        what,
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(malformed(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    Status::from_json(&bytes).map(Some).map_err(malformed)
}
