//! The router's store of registered endpoints, and what `serve` says about its sessions.
//!
//! `DIR/endpoints/<32 lowercase hex digits of the address>.pem` holds one endpoint's
//! SubjectPublicKeyInfo as a `PUBLIC KEY` PEM block; the file name is the registration, so
//! re-registering replaces the file. Names starting with `.` are temporary files of
//! `write_atomic` and are ignored; any other file that is not a well-formed entry is skipped
//! with one warning naming it, so one bad file never hides the others. `serve` writes
//! `DIR/run/pid` and `DIR/run/sessions` (one address per line); `connected` and `server_pid`
//! read them, and `reload_server` sends that process SIGHUP. This module does not create DIR (`provision::init` does) or run the server.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::net::Ipv6Addr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::SubjectPublicKeyInfoDer;

use crate::identity::x509;

/// Registry files are a few hundred bytes; anything this large is not one.
const MAX_ENTRY_BYTES: u64 = 64 * 1024;
/// Registered public keys are not secret; DIR itself (0700) keeps others out.
const ENTRY_MODE: u32 = 0o644;

#[derive(Debug)]
pub enum Error {
    /// DIR has no `endpoints/`: not made by `enf-router init`.
    NotARouterDir { dir: PathBuf },
    /// A filesystem operation on `path` failed.
    Io {
        op: &'static str,
        path: PathBuf,
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotARouterDir { dir } => write!(
                f,
                "{} is not an enf-router directory (no endpoints/; create one with `enf-router init DIR`)",
                dir.display()
            ),
            Error::Io { op, path, reason } => write!(f, "cannot {op} {}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

/// The `Error::Io` for `op` on `path`.
pub fn io_error<'a>(op: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |e| Error::Io {
        op,
        path: path.to_path_buf(),
        reason: crate::config::io_reason(&e),
    }
}

pub fn endpoints_dir(dir: &Path) -> PathBuf {
    dir.join("endpoints")
}

/// Where `serve` keeps `pid` and `sessions`.
pub fn run_dir(dir: &Path) -> PathBuf {
    dir.join("run")
}

/// The registry file name of `addr`: 32 lowercase hex digits and `.pem`.
pub fn file_name(addr: Ipv6Addr) -> String {
    format!("{:032x}.pem", u128::from(addr))
}

/// The address a registry file name stands for, if it is one.
fn address_of(name: &str) -> Option<Ipv6Addr> {
    let hex = name.strip_suffix(".pem")?;
    let lower = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if hex.len() != 32 || !hex.bytes().all(lower) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)
}

/// Registered addresses and their SubjectPublicKeyInfo (DER).
pub type Entries = HashMap<Ipv6Addr, Vec<u8>>;

/// Every registered address with its SPKI (DER); warnings are logged.
pub fn load(dir: &Path) -> Result<Entries, Error> {
    let (entries, warnings) = load_quiet(dir)?;
    for warning in &warnings {
        log::warn!("{warning}");
    }
    Ok(entries)
}

/// `load` without logging: one warning per skipped file, for the caller to show.
pub fn load_quiet(dir: &Path) -> Result<(Entries, Vec<String>), Error> {
    let endpoints = endpoints_dir(dir);
    let listing = match std::fs::read_dir(&endpoints) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotARouterDir {
                dir: dir.to_path_buf(),
            })
        }
        other => other.map_err(io_error("read", &endpoints))?,
    };
    let mut entries = HashMap::new();
    let mut warnings = Vec::new();
    for item in listing {
        let item = item.map_err(io_error("read", &endpoints))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = item.path();
        let skip = |why: String| format!("{}: {why}; skipped", path.display());
        let Some(addr) = address_of(&name) else {
            warnings.push(skip(
                "not a registry entry (expected 32 lowercase hex digits and .pem)".to_string(),
            ));
            continue;
        };
        match read_entry(&path) {
            Ok(spki) => {
                entries.insert(addr, spki);
            }
            Err(why) => warnings.push(skip(why)),
        }
    }
    Ok((entries, warnings))
}

/// The SPKI of one registry file, or why it is not usable.
fn read_entry(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| crate::config::io_reason(&e))?;
    if !meta.is_file() || meta.len() > MAX_ENTRY_BYTES {
        return Err("not a small regular file".to_string());
    }
    let bytes = std::fs::read(path).map_err(|e| crate::config::io_reason(&e))?;
    spki_from_pem(&bytes)
}

/// The SPKI of the first `PUBLIC KEY` block, checked to be a well-formed SubjectPublicKeyInfo.
pub fn spki_from_pem(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let spki = SubjectPublicKeyInfoDer::from_pem_slice(bytes)
        .map_err(|e| format!("no readable PUBLIC KEY block ({e})"))?;
    x509::public_key(spki.as_ref()).map_err(|e| e.to_string())?;
    Ok(spki.as_ref().to_vec())
}

/// Registers `addr` with `spki_der`, replacing any earlier key; returns the key it replaced.
pub fn register(dir: &Path, addr: Ipv6Addr, spki_der: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let endpoints = endpoints_dir(dir);
    if !endpoints.is_dir() {
        return Err(Error::NotARouterDir {
            dir: dir.to_path_buf(),
        });
    }
    let path = endpoints.join(file_name(addr));
    let old = read_entry(&path).ok();
    write_atomic(&path, pem("PUBLIC KEY", spki_der).as_bytes(), ENTRY_MODE)?;
    Ok(old)
}

/// Removes `addr`'s registration; `false` if it had none.
pub fn remove(dir: &Path, addr: Ipv6Addr) -> Result<bool, Error> {
    let endpoints = endpoints_dir(dir);
    if !endpoints.is_dir() {
        return Err(Error::NotARouterDir {
            dir: dir.to_path_buf(),
        });
    }
    let path = endpoints.join(file_name(addr));
    match std::fs::remove_file(&path) {
        Ok(()) => {
            sync_dir(&endpoints)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("remove", &path)(e)),
    }
}

/// SHA-256 of `der` as uppercase hex pairs joined by colons (as `openssl -fingerprint` shows).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let pairs: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// The pid of a running `enf-router serve` for DIR, from `DIR/run/pid`.
pub fn server_pid(dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(run_dir(dir).join("pid")).ok()?;
    // A pid of 0 or below would address a process group or everything: never signal those.
    let pid = text.trim().parse::<i32>().ok().filter(|&p| p > 0)?;
    let alive = match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    };
    // A stale pid file may name a recycled pid; where /proc tells, it must be enf-router.
    let ours = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_or(true, |comm| comm.trim_end() == "enf-router");
    (alive && ours).then_some(pid)
}

/// Sends SIGHUP to a running `serve` for DIR, which re-reads the registry and closes the
/// sessions whose key is gone; returns its pid if there was one.
pub fn reload_server(dir: &Path) -> Option<i32> {
    let pid = server_pid(dir)?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .ok()
    .map(|()| pid)
}

/// The addresses with a live session, as the running `serve` last wrote them; empty when none runs.
pub fn connected(dir: &Path) -> HashSet<Ipv6Addr> {
    if server_pid(dir).is_none() {
        return HashSet::new();
    }
    let text = std::fs::read_to_string(run_dir(dir).join("sessions")).unwrap_or_default();
    parse_sessions(&text)
}

/// One address per line; lines that are not addresses are ignored (the file is advisory).
fn parse_sessions(text: &str) -> HashSet<Ipv6Addr> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// A PEM block of `der` under `label`, 64 base64 characters a line.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Writes `path` so readers see the old file or the new one, never half of one: a temporary
/// file in the same directory, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_error("create", &tmp))?;
        // The umask may have taken bits away; the mode asked for is the mode wanted.
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io_error("set the mode of", &tmp))?;
        file.write_all(bytes).map_err(io_error("write", &tmp))?;
        file.sync_all().map_err(io_error("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(io_error("replace", path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync", dir))
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
