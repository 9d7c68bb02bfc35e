//! enftun-compatible configuration: where the file is, what it says, and what overrides it.
//!
//! `locate` picks the file, `load` parses it (libconfig syntax, `parser.rs`), types it against the
//! keys of PROTOCOL.md §6 (`typed.rs`), then applies the `ENF_*` environment overrides (`env.rs`).
//! Relative paths in the file resolve against the file's own directory; relative paths in an
//! environment variable resolve against the current directory, where the user typed them.
//! Credentials are not read here: `crate::identity` loads them from the paths in `Config`.

pub mod command;
mod env;
mod keys;
mod lexer;
mod number;
pub mod parser;
mod prefix;
pub mod print;
mod typed;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use env::locate;
pub use keys::KEYS;
pub use prefix::Prefix;
pub use typed::from_settings;

/// The effective configuration: every key of PROTOCOL.md §6, typed, with its default.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from (relative paths in it were resolved against its directory).
    pub file: PathBuf,
    /// The file format version; present in every real file and otherwise ignored.
    pub version: String,
    pub tun: Tun,
    pub remote: Remote,
    pub route: Route,
    pub identity: IdentityFiles,
    /// Where each key's value came from; keys not listed have their default.
    pub origins: BTreeMap<&'static str, Origin>,
    /// One line each: unknown keys, unsupported groups. `load` also logs them.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tun {
    pub dev: String,
    pub dev_node: PathBuf,
    pub ip_set: bool,
    /// Read by the reference only (we set the address without `ip`); kept for printing.
    pub ip_path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// Tried in order: names or IPv4/IPv6 literals.
    pub hosts: Vec<String>,
    /// A string in the file (as in enftun), a number here.
    pub port: u16,
    pub ca_cert_file: PathBuf,
    pub heartbeat_period: Duration,
    pub heartbeat_timeout: Duration,
    /// Our extension: when set, the server certificate must name this host.
    pub server_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// SO_MARK on the tunnel socket; 0 = none.
    pub fwmark: u32,
    pub table: u32,
    pub prefixes: Vec<Prefix>,
    pub trusted_interfaces: Vec<String>,
    pub allow_ipv4: bool,
    /// Read by the reference only (router advertisements).
    pub ra_period: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdentityFiles {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub ip_file: Option<PathBuf>,
}

/// Where a key's effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    File { line: u32 },
    Env(&'static str),
}

impl Config {
    /// Every key at its default, as if `file` were empty.
    pub fn defaults(file: &Path) -> Config {
        Config {
            file: file.to_path_buf(),
            version: "1.0".to_string(),
            tun: Tun {
                dev: "enf0".to_string(),
                dev_node: PathBuf::from("/dev/net/tun"),
                ip_set: true,
                ip_path: "/bin/ip".to_string(),
            },
            remote: Remote {
                hosts: vec!["23.147.128.112".to_string()],
                port: 443,
                ca_cert_file: PathBuf::from("/etc/enftun/enf.cacert.pem"),
                heartbeat_period: Duration::from_millis(300_000),
                heartbeat_timeout: Duration::from_millis(10_000),
                server_name: None,
            },
            route: Route {
                fwmark: 363,
                table: 2097,
                prefixes: vec![Prefix::Default],
                trusted_interfaces: Vec::new(),
                allow_ipv4: false,
                ra_period: Duration::from_millis(600_000),
            },
            identity: IdentityFiles {
                cert_file: None,
                key_file: None,
                ip_file: None,
            },
            origins: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Where `key`'s value came from.
    pub fn origin(&self, key: &str) -> Origin {
        self.origins.get(key).copied().unwrap_or(Origin::Default)
    }

    /// Whether the settings (not the file name, origins or warnings) are the same.
    #[cfg(test)]
    pub fn same_settings(&self, other: &Config) -> bool {
        (
            &self.version,
            &self.tun,
            &self.remote,
            &self.route,
            &self.identity,
        ) == (
            &other.version,
            &other.tun,
            &other.remote,
            &other.route,
            &other.identity,
        )
    }
}

/// A configuration error: one line naming the file, line and key, or the variable.
#[derive(Debug)]
pub enum Error {
    /// The file cannot be read at all.
    Read { path: PathBuf, reason: String },
    /// The file is not valid libconfig.
    Syntax {
        path: PathBuf,
        line: u32,
        col: u32,
        msg: String,
    },
    /// A key has the wrong type or a value out of range.
    Key {
        path: PathBuf,
        line: u32,
        key: String,
        msg: String,
    },
    /// An `ENF_*` override has a bad value.
    Env {
        var: &'static str,
        value: String,
        msg: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, reason } => {
                write!(f, "cannot read config file {}: {reason}", path.display())
            }
            Error::Syntax {
                path,
                line,
                col,
                msg,
            } => {
                write!(f, "{}:{line}:{col}: {msg}", path.display())
            }
            Error::Key {
                path,
                line,
                key,
                msg,
            } => write!(f, "{}:{line}: {key}: {msg}", path.display()),
            Error::Env { var, value, msg } => write!(f, "{var}={value:?}: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

/// Reads, types and overrides the configuration, and logs its warnings.
// The start-up path calls it; the supervisor work wires it into main.rs.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let config = load_quiet(path, env)?;
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    Ok(config)
}

/// `load` without logging: the warnings are in `Config::warnings` for the caller to show.
pub fn load_quiet(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, Error> {
    // Anchored once, so every path in every message is absolute whatever the cwd later is.
    let cwd = std::env::current_dir().ok();
    let path = &match &cwd {
        Some(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let settings = parser::parse(path).map_err(|e| match e {
        parser::ParseError::Syntax(s) => Error::Syntax {
            path: path.to_path_buf(),
            line: s.pos.line,
            col: s.pos.col,
            msg: s.msg,
        },
        other => Error::Read {
            path: path.to_path_buf(),
            reason: read_reason(&other),
        },
    })?;
    let mut config = from_settings(&settings, path)?;
    env::apply(&mut config, env, cwd.as_deref())?;
    Ok(config)
}

/// A short reason for an unreadable file ("not found", "permission denied").
pub(crate) fn read_reason(e: &parser::ParseError) -> String {
    match e {
        parser::ParseError::Read(io) => io_reason(io),
        other => other.to_string(),
    }
}

/// An I/O error as a few words, without the "(os error N)" suffix.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "not found".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => match e.raw_os_error() {
            Some(libc::EISDIR) => "is a directory".to_string(),
            _ => e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
