//! The keys of PROTOCOL.md §6: their names, how a parsed value sets one, how one is shown.
//!
//! One table of names and two `match`es (set and show) keep every key in one place. Checks that
//! the environment overrides share (port, host, prefix, names) live here too. It does not walk
//! the file (`typed.rs`) or read the environment (`env.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::parser::{Pos, Value};
use super::{Config, Prefix};

/// Every key, in the order `enf-init config` lists them and the printer writes them.
pub const KEYS: &[&str] = &[
    "version",
    "tun.dev",
    "tun.dev_node",
    "tun.ip_set",
    "tun.ip_path",
    "remote.hosts",
    "remote.port",
    "remote.ca_cert_file",
    "remote.heartbeat_period",
    "remote.heartbeat_timeout",
    "remote.server_name",
    "route.fwmark",
    "route.table",
    "route.prefixes",
    "route.trusted_interfaces",
    "route.allow_ipv4",
    "route.ra_period",
    "identity.cert_file",
    "identity.key_file",
    "identity.ip_file",
];

/// A key's value, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Text(String),
    Number(u64),
    Flag(bool),
    List(Vec<String>),
    Unset,
}

impl Shown {
    /// As `enftun -p` prints it: strings bare, arrays space-joined, unset empty.
    pub fn plain(&self) -> String {
        match self {
            Shown::Text(s) => s.clone(),
            Shown::Number(n) => n.to_string(),
            Shown::Flag(b) => b.to_string(),
            Shown::List(items) => items.join(" "),
            Shown::Unset => String::new(),
        }
    }

    /// As libconfig text (`"a"`, `5`, `true`, `[ "a", "b" ]`); `None` when unset.
    pub fn literal(&self) -> Option<String> {
        match self {
            Shown::Text(s) => Some(quote(s)),
            Shown::Number(n) => Some(n.to_string()),
            Shown::Flag(b) => Some(b.to_string()),
            Shown::List(items) if items.is_empty() => Some("[ ]".to_string()),
            Shown::List(items) => {
                let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
                Some(format!("[ {} ]", quoted.join(", ")))
            }
            Shown::Unset => None,
        }
    }
}

/// A libconfig string literal; control characters as escapes libconfig reads back.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0c' => out.push_str("\\f"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of `key`, or `None` for a name that is not a key.
pub fn show(cfg: &Config, key: &str) -> Option<Shown> {
    let path = |p: &Path| Shown::Text(p.to_string_lossy().into_owned());
    let opt_path = |p: &Option<PathBuf>| p.as_deref().map_or(Shown::Unset, path);
    let ms = |d: Duration| Shown::Number(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let list = |v: &[String]| Shown::List(v.to_vec());
    Some(match key {
        "version" => Shown::Text(cfg.version.clone()),
        "tun.dev" => Shown::Text(cfg.tun.dev.clone()),
        "tun.dev_node" => path(&cfg.tun.dev_node),
        "tun.ip_set" => Shown::Flag(cfg.tun.ip_set),
        "tun.ip_path" => Shown::Text(cfg.tun.ip_path.clone()),
        "remote.hosts" => list(&cfg.remote.hosts),
        "remote.port" => Shown::Text(cfg.remote.port.to_string()),
        "remote.ca_cert_file" => path(&cfg.remote.ca_cert_file),
        "remote.heartbeat_period" => ms(cfg.remote.heartbeat_period),
        "remote.heartbeat_timeout" => ms(cfg.remote.heartbeat_timeout),
        "remote.server_name" => cfg
            .remote
            .server_name
            .clone()
            .map_or(Shown::Unset, Shown::Text),
        "route.fwmark" => Shown::Number(cfg.route.fwmark.into()),
        "route.table" => Shown::Number(cfg.route.table.into()),
        "route.prefixes" => Shown::List(cfg.route.prefixes.iter().map(Prefix::to_string).collect()),
        "route.trusted_interfaces" => list(&cfg.route.trusted_interfaces),
        "route.allow_ipv4" => Shown::Flag(cfg.route.allow_ipv4),
        "route.ra_period" => ms(cfg.route.ra_period),
        "identity.cert_file" => opt_path(&cfg.identity.cert_file),
        "identity.key_file" => opt_path(&cfg.identity.key_file),
        "identity.ip_file" => opt_path(&cfg.identity.ip_file),
        _ => return None,
    })
}

/// Why a value cannot set a key; `item` names the array element at fault, if one is.
#[derive(Debug)]
pub struct Bad {
    pub item: Option<(usize, Pos)>,
    pub msg: String,
}

impl From<String> for Bad {
    fn from(msg: String) -> Bad {
        Bad { item: None, msg }
    }
}

/// Sets `key` (one of `KEYS`) from a parsed value; relative paths resolve against `dir`.
pub fn set(cfg: &mut Config, key: &str, v: &Value, dir: &Path) -> Result<(), Bad> {
    let file = |v: &Value| -> Result<PathBuf, Bad> { Ok(resolve(dir, nonempty(string(v)?)?)) };
    match key {
        "version" => cfg.version = string(v)?.to_string(),
        "tun.dev" => cfg.tun.dev = interface(string(v)?)?,
        "tun.dev_node" => cfg.tun.dev_node = file(v)?,
        "tun.ip_set" => cfg.tun.ip_set = boolean(v)?,
        "tun.ip_path" => cfg.tun.ip_path = string(v)?.to_string(),
        "remote.hosts" => cfg.remote.hosts = hosts(each(v, host)?)?,
        "remote.port" => cfg.remote.port = port(string(v)?)?,
        "remote.ca_cert_file" => cfg.remote.ca_cert_file = file(v)?,
        "remote.heartbeat_period" => cfg.remote.heartbeat_period = millis(v, 1)?,
        "remote.heartbeat_timeout" => cfg.remote.heartbeat_timeout = millis(v, 1)?,
        "remote.server_name" => cfg.remote.server_name = Some(host(string(v)?)?),
        "route.fwmark" => cfg.route.fwmark = u32_of(v)?,
        "route.table" => cfg.route.table = u32_of(v)?,
        "route.prefixes" => cfg.route.prefixes = each(v, |s| s.parse::<Prefix>())?,
        "route.trusted_interfaces" => cfg.route.trusted_interfaces = each(v, interface)?,
        "route.allow_ipv4" => cfg.route.allow_ipv4 = boolean(v)?,
        "route.ra_period" => cfg.route.ra_period = millis(v, 1)?,
        "identity.cert_file" => cfg.identity.cert_file = Some(file(v)?),
        "identity.key_file" => cfg.identity.key_file = Some(file(v)?),
        "identity.ip_file" => cfg.identity.ip_file = Some(file(v)?),
        other => return Err(Bad::from(format!("internal: no setter for {other}"))),
    }
    Ok(())
}

/// A path from the configuration: absolute as given, else under `dir`.
pub fn resolve(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

fn string(v: &Value) -> Result<&str, String> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(format!("expected a string, found {}", other.type_name())),
    }
}

fn nonempty(s: &str) -> Result<&str, String> {
    if s.is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(s)
    }
}

fn boolean(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(format!(
            "expected true or false, found {}",
            other.type_name()
        )),
    }
}

fn integer(v: &Value, min: i64, max: i64) -> Result<i64, String> {
    match v {
        Value::Int(i) if (min..=max).contains(i) => Ok(*i),
        Value::Int(i) => Err(format!("{i} is out of range ({min} to {max})")),
        other => Err(format!("expected an integer, found {}", other.type_name())),
    }
}

fn u32_of(v: &Value) -> Result<u32, String> {
    // The range check above makes the conversion exact.
    integer(v, 0, u32::MAX.into()).map(|i| u32::try_from(i).unwrap_or(u32::MAX))
}

fn millis(v: &Value, min: i64) -> Result<Duration, String> {
    integer(v, min, i64::MAX).map(|ms| Duration::from_millis(ms.unsigned_abs()))
}

/// Every element of an array or list of strings, through `check`.
fn each<T, E: Into<String>>(
    v: &Value,
    check: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, Bad> {
    let items = match v {
        Value::Array(items) | Value::List(items) => items,
        other => {
            return Err(Bad::from(format!(
                "expected an array of strings, found {}",
                other.type_name()
            )))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let bad = |msg: String| Bad {
            item: Some((i, item.pos)),
            msg,
        };
        let s = string(&item.value).map_err(bad)?;
        out.push(check(s).map_err(|e| bad(e.into()))?);
    }
    Ok(out)
}

fn hosts(list: Vec<String>) -> Result<Vec<String>, String> {
    if list.is_empty() {
        Err("needs at least one host".to_string())
    } else {
        Ok(list)
    }
}

/// A host name or address literal: not empty, no spaces or commas (ENF_HOSTS splits on those).
pub fn host(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == ',' || c.is_control())
    {
        Err(format!("\"{s}\" is not a host name or address"))
    } else {
        Ok(s.to_string())
    }
}

/// A TCP port: decimal 1 to 65535 (enftun keeps it as a string).
pub fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("\"{s}\" is not a port number (1 to 65535)")),
    }
}

/// A Linux interface name: 1 to 15 bytes, no `/`, `:` or whitespace, not `.` or `..`.
pub fn interface(s: &str) -> Result<String, String> {
    let bad_char = |c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control();
    if s.is_empty() || s.len() > 15 || s == "." || s == ".." || s.chars().any(bad_char) {
        Err(format!(
            "\"{s}\" is not an interface name (1 to 15 characters, no '/', ':' or spaces)"
        ))
    } else {
        Ok(s.to_string())
    }
}
