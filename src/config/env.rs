//! Which file to read, and the `ENF_*` environment overrides applied after it.
//!
//! The environment comes in as a function so this stays testable without touching the process
//! environment. An empty variable counts as unset (`ENF_PORT=${PORT}` with no `PORT` must not
//! break a start-up). Relative paths from a variable resolve against the current directory,
//! which is what a user typing `ENF_CERT=my.crt` means.

use std::path::{Path, PathBuf};

use super::keys::{self, resolve};
use super::{Config, Error, Origin, Prefix};

/// Where the reference layout and our images keep the file, in the order they are tried.
pub const DATA_CONFIG: &str = "/data/enf0/enf0.conf";
pub const ETC_CONFIG: &str = "/etc/enftun/enf0.conf";

/// The config file: `--config`, else `ENF_CONFIG`, else `/data/enf0/enf0.conf` if it exists,
/// else `/etc/enftun/enf0.conf`.
pub fn locate(cli: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    locate_with(cli, env, &|p| p.exists())
}

/// `locate` with the existence check passed in, for tests.
pub fn locate_with(
    cli: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(path) = cli {
        return path.to_path_buf();
    }
    if let Some(path) = var(env, "ENF_CONFIG") {
        return PathBuf::from(path);
    }
    if exists(Path::new(DATA_CONFIG)) {
        PathBuf::from(DATA_CONFIG)
    } else {
        PathBuf::from(ETC_CONFIG)
    }
}

/// Applies `ENF_HOSTS`, `ENF_PORT`, `ENF_CA_CERT`, `ENF_CERT`, `ENF_KEY` and `ENF_PREFIXES`.
/// `cwd` anchors relative paths; without one they stay relative (to whatever the cwd is).
pub fn apply(
    cfg: &mut Config,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: Option<&Path>,
) -> Result<(), Error> {
    let cwd = cwd.unwrap_or(Path::new(""));
    if let Some(v) = var(env, "ENF_HOSTS") {
        cfg.remote.hosts = split(&v, "ENF_HOSTS", keys::host)?;
        cfg.origins.insert("remote.hosts", Origin::Env("ENF_HOSTS"));
    }
    if let Some(v) = var(env, "ENF_PORT") {
        cfg.remote.port = keys::port(&v).map_err(|msg| env_error("ENF_PORT", &v, msg))?;
        cfg.origins.insert("remote.port", Origin::Env("ENF_PORT"));
    }
    if let Some(v) = var(env, "ENF_CA_CERT") {
        cfg.remote.ca_cert_file = resolve(cwd, &v);
        cfg.origins
            .insert("remote.ca_cert_file", Origin::Env("ENF_CA_CERT"));
    }
    if let Some(v) = var(env, "ENF_CERT") {
        cfg.identity.cert_file = Some(resolve(cwd, &v));
        cfg.origins
            .insert("identity.cert_file", Origin::Env("ENF_CERT"));
    }
    if let Some(v) = var(env, "ENF_KEY") {
        cfg.identity.key_file = Some(resolve(cwd, &v));
        cfg.origins
            .insert("identity.key_file", Origin::Env("ENF_KEY"));
    }
    if let Some(v) = var(env, "ENF_PREFIXES") {
        cfg.route.prefixes = split(&v, "ENF_PREFIXES", |s| s.parse::<Prefix>())?;
        cfg.origins
            .insert("route.prefixes", Origin::Env("ENF_PREFIXES"));
    }
    Ok(())
}

/// A variable's value, `None` when unset or empty.
fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.trim().is_empty())
}

/// Entries separated by commas and/or whitespace, each through `check`.
fn split<T>(
    value: &str,
    var: &'static str,
    check: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, Error> {
    let entries = value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| check(s).map_err(|msg| env_error(var, value, msg)))
        .collect::<Result<Vec<T>, Error>>()?;
    if entries.is_empty() {
        return Err(env_error(var, value, "no entries".to_string()));
    }
    Ok(entries)
}

fn env_error(var: &'static str, value: &str, msg: String) -> Error {
    Error::Env {
        var,
        value: value.to_string(),
        msg,
    }
}
