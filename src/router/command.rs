//! `enf-router COMMAND ...`: the command line (parsed purely, by `parse`) and the provisioning
//! commands `init`, `add-endpoint`, `list` and `remove-endpoint`.
//!
//! Options may come before, between or after the positional arguments, as `--opt VALUE` or
//! `--opt=VALUE`; `--` ends them. Results go to stdout; errors are one line on stderr,
//! `enf-router: error: ...`, with the codes of `crate::exit`: 64 for the command line (and an
//! address that is not registered), 77 for an unusable key or certificate file, 78 for DIR or
//! OUTDIR problems. `serve` is parsed here and run by `super::serve`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::provision::{self, Remote};
use super::registry;
use crate::config::Prefix;
use crate::exit;
use crate::identity::address_from_cn;

const USAGE_TEXT: &str = "\
usage: enf-router COMMAND DIR [ARG]...

A local ENF: a CA, endpoint credentials and a router that speaks the ENF tunnel protocol.

  init DIR [--host NAME_OR_IP]...
      Create DIR: a CA and a server certificate for the hosts (default: localhost 127.0.0.1 ::1).
  add-endpoint DIR ADDRESS (--out OUTDIR | --public-key FILE) [--host H] [--port P] [--prefix PREFIX]...
      --out: write OUTDIR/enf0.key.pem, enf0.crt.pem, enf.cacert.pem and enf0.conf (relative
      paths), and register ADDRESS with the new key. --host, --port and --prefix go into
      enf0.conf (defaults: the hosts given to init, 443, fc00::/7 for a ULA address, else default).
      --public-key: register ADDRESS with the key of FILE (a public key or certificate, PEM or DER).
      Registering an address again replaces its key.
  list DIR
      Registered addresses, their key fingerprints (SHA-256), connected or not.
  remove-endpoint DIR ADDRESS
      Revoke ADDRESS; a running `serve` closes its live session.
  serve DIR [--listen ADDR:PORT]... [--http [ADDR:]PORT]
      Route between the registered endpoints (default: [::]:443, IPv6 and IPv4). --http
      serves /metrics (Prometheus), /livez and /readyz (ADDR default 127.0.0.1).

ADDRESS is an IPv6 address (fd00::1) or 32 hex digits. Exit status: 0 done, 64 command line,
77 key or certificate file, 78 DIR or OUTDIR.
";

/// Where `serve` listens when no `--listen` is given (a dual-stack socket).
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), DEFAULT_PORT);
/// The port written into `enf0.conf` when `--port` is not given.
pub const DEFAULT_PORT: u16 = 443;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Init {
        dir: PathBuf,
        hosts: Vec<String>,
    },
    AddEndpoint(AddEndpoint),
    List {
        dir: PathBuf,
    },
    Remove {
        dir: PathBuf,
        address: Ipv6Addr,
    },
    Serve {
        dir: PathBuf,
        listen: Vec<SocketAddr>,
        http: Option<SocketAddr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddEndpoint {
    pub dir: PathBuf,
    pub address: Ipv6Addr,
    pub key: KeySource,
    /// Empty: the hosts given to `init`.
    pub hosts: Vec<String>,
    pub port: u16,
    /// Empty: `provision::default_prefixes`.
    pub prefixes: Vec<Prefix>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// Make a new identity in this directory.
    Out(PathBuf),
    /// Register the key of this public key or certificate file.
    PublicKey(PathBuf),
}

/// Why a command failed; `code` gives its exit status.
#[derive(Debug)]
pub enum Error {
    Usage(String),
    NotRegistered { address: Ipv6Addr, dir: PathBuf },
    Registry(registry::Error),
    Provision(provision::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg} (see enf-router --help)"),
            Error::NotRegistered { address, dir } => {
                write!(f, "{address} is not registered in {}", dir.display())
            }
            Error::Registry(e) => write!(f, "{e}"),
            Error::Provision(e) => write!(f, "{e}"),
        }
    }
}

impl Error {
    pub fn code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::NotRegistered { .. } => exit::USAGE,
            Error::Registry(_) => exit::CONFIG,
            Error::Provision(provision::Error::Input { .. }) => exit::CREDENTIALS,
            Error::Provision(provision::Error::Generate(_)) => exit::INTERNAL,
            Error::Provision(_) => exit::CONFIG,
        }
    }
}

impl From<registry::Error> for Error {
    fn from(e: registry::Error) -> Error {
        Error::Registry(e)
    }
}

impl From<provision::Error> for Error {
    fn from(e: provision::Error) -> Error {
        Error::Provision(e)
    }
}

/// Runs `enf-router ARGS`; returns the exit code.
pub fn run(args: &[OsString]) -> u8 {
    let result = match parse(args) {
        Ok(Command::Help) => {
            print!("{USAGE_TEXT}");
            return 0;
        }
        Ok(Command::Serve { dir, listen, http }) => return super::serve::run(&dir, &listen, http),
        Ok(Command::Init { dir, hosts }) => init(&dir, &hosts),
        Ok(Command::AddEndpoint(add)) => add_endpoint(&add),
        Ok(Command::List { dir }) => list(&dir),
        Ok(Command::Remove { dir, address }) => remove(&dir, address),
        Err(msg) => Err(Error::Usage(msg)),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("enf-router: error: {e}");
            e.code()
        }
    }
}

fn init(dir: &Path, hosts: &[String]) -> Result<(), Error> {
    let ca = provision::init(dir, hosts)?;
    let hosts = provision::hosts(dir)?;
    println!(
        "created {}: a CA and a server certificate for {}",
        dir.display(),
        hosts.join(", ")
    );
    println!(
        "CA certificate {}: SHA-256 fingerprint {}",
        dir.join(provision::CA_CERT).display(),
        registry::fingerprint(&ca)
    );
    Ok(())
}

fn add_endpoint(add: &AddEndpoint) -> Result<(), Error> {
    let spki = match &add.key {
        KeySource::PublicKey(file) => provision::read_public_key(file, add.address)?,
        KeySource::Out(outdir) => {
            let remote = Remote {
                hosts: match &add.hosts[..] {
                    [] => provision::hosts(&add.dir)?,
                    given => given.to_vec(),
                },
                port: add.port,
                prefixes: match &add.prefixes[..] {
                    [] => provision::default_prefixes(add.address),
                    given => given.to_vec(),
                },
            };
            let spki = provision::write_endpoint(&add.dir, outdir, add.address, &remote)?;
            println!(
                "wrote {}: {}, {}, {}, {}",
                outdir.display(),
                provision::CONF_FILE,
                provision::CERT_FILE,
                provision::KEY_FILE,
                provision::CA_FILE
            );
            spki
        }
    };
    let connected = registry::connected(&add.dir).contains(&add.address);
    let fp = registry::fingerprint(&spki);
    match registry::register(&add.dir, add.address, &spki)? {
        None => println!("registered {} (key SHA-256 {fp})", add.address),
        Some(old) if old == spki => {
            println!("{} was already registered with this key", add.address)
        }
        Some(_) => {
            println!("replaced the key of {} (now SHA-256 {fp})", add.address);
            if connected {
                reload(&add.dir, "to close the session that uses the old key");
            }
        }
    }
    Ok(())
}

fn list(dir: &Path) -> Result<(), Error> {
    let (entries, warnings) = registry::load_quiet(dir)?;
    for warning in &warnings {
        eprintln!("enf-router: warning: {warning}");
    }
    let connected = registry::connected(dir);
    let mut entries: Vec<_> = entries.into_iter().collect();
    entries.sort();
    println!(
        "{:<39}  {:<95}  CONNECTED",
        "ADDRESS", "KEY SHA-256 FINGERPRINT"
    );
    for (address, spki) in entries {
        let yes = if connected.contains(&address) {
            "yes"
        } else {
            "no"
        };
        println!("{address:<39}  {:<95}  {yes}", registry::fingerprint(&spki));
    }
    Ok(())
}

fn remove(dir: &Path, address: Ipv6Addr) -> Result<(), Error> {
    let connected = registry::connected(dir).contains(&address);
    if !registry::remove(dir, address)? {
        return Err(Error::NotRegistered {
            address,
            dir: dir.to_path_buf(),
        });
    }
    println!("removed {address}");
    // Even when it looked unconnected: a session may have started since `connected` was read.
    let why = if connected {
        "to close its live session"
    } else {
        "to re-read the registry"
    };
    reload(dir, why);
    Ok(())
}

/// Asks a running `serve` to re-read the registry, and says so.
fn reload(dir: &Path, why: &str) {
    if let Some(pid) = registry::reload_server(dir) {
        println!("sent SIGHUP to enf-router serve (pid {pid}) {why}");
    }
}

/// The command line, without the program name. Pure.
pub fn parse(args: &[OsString]) -> Result<Command, String> {
    let Some((first, rest)) = args.split_first() else {
        return Err("no command given".to_string());
    };
    let command = first.to_string_lossy();
    let allowed: &[&str] = match command.as_ref() {
        "-h" | "--help" | "help" => return Ok(Command::Help),
        "init" => &["--host"],
        "add-endpoint" => &["--out", "--public-key", "--host", "--port", "--prefix"],
        "list" | "remove-endpoint" => &[],
        "serve" => &["--listen", "--http"],
        other => {
            return Err(format!(
                "unknown command {other:?} (expected init, add-endpoint, list, remove-endpoint or serve)"
            ))
        }
    };
    let p = split(&command, rest, allowed)?;
    if p.options.iter().any(|(o, _)| o == "--help") {
        return Ok(Command::Help);
    }
    match p.command {
        "init" => {
            let [dir] = p.positional(["DIR"])?;
            let hosts = p.hosts()?;
            Ok(Command::Init {
                dir: dir.into(),
                hosts,
            })
        }
        "list" => {
            let [dir] = p.positional(["DIR"])?;
            Ok(Command::List { dir: dir.into() })
        }
        "remove-endpoint" => {
            let [dir, address] = p.positional(["DIR", "ADDRESS"])?;
            let address = address_from_cn(&p.text(&address)?).map_err(|e| bad_address(&e.cn))?;
            Ok(Command::Remove {
                dir: dir.into(),
                address,
            })
        }
        "serve" => {
            let [dir] = p.positional(["DIR"])?;
            let mut listen: Vec<SocketAddr> = p
                .values("--listen")
                .map(|v| listen(&p.text(v)?))
                .collect::<Result<_, _>>()?;
            if listen.is_empty() {
                listen.push(DEFAULT_LISTEN);
            }
            let http = match p.one("--http")? {
                Some(v) => Some(http(&p.text(&v)?)?),
                None => None,
            };
            Ok(Command::Serve {
                dir: dir.into(),
                listen,
                http,
            })
        }
        _ => add_endpoint_args(&p).map(Command::AddEndpoint),
    }
}

fn add_endpoint_args(p: &Parsed<'_>) -> Result<AddEndpoint, String> {
    let [dir, address] = p.positional(["DIR", "ADDRESS"])?;
    let address = endpoint_address(&p.text(&address)?)?;
    let key = match (p.one("--out")?, p.one("--public-key")?) {
        (Some(out), None) => KeySource::Out(out.into()),
        (None, Some(file)) => KeySource::PublicKey(file.into()),
        (Some(_), Some(_)) => {
            return Err("add-endpoint: give --out or --public-key, not both".to_string())
        }
        (None, None) => {
            return Err("add-endpoint needs --out OUTDIR or --public-key FILE".to_string())
        }
    };
    let port = p.one("--port")?.map(|v| port(&p.text(&v)?)).transpose()?;
    let prefixes: Vec<Prefix> = p
        .values("--prefix")
        .map(|v| p.text(v)?.parse().map_err(|e| format!("--prefix {e}")))
        .collect::<Result<_, String>>()?;
    let hosts = p.hosts()?;
    let conf_options = port.is_some() || !hosts.is_empty() || !prefixes.is_empty();
    if matches!(key, KeySource::PublicKey(_)) && conf_options {
        return Err(
            "add-endpoint: --host, --port and --prefix go into enf0.conf and need --out"
                .to_string(),
        );
    }
    Ok(AddEndpoint {
        dir: dir.into(),
        address,
        key,
        hosts,
        port: port.unwrap_or(DEFAULT_PORT),
        prefixes,
    })
}

/// One command's arguments: options with their values, in order, and the positionals.
struct Parsed<'a> {
    command: &'a str,
    options: Vec<(String, OsString)>,
    positional: Vec<OsString>,
}

impl Parsed<'_> {
    fn positional<const N: usize>(&self, names: [&str; N]) -> Result<[OsString; N], String> {
        let got = self.positional.len();
        self.positional.clone().try_into().map_err(|_| {
            let s = if got == 1 { "" } else { "s" };
            format!(
                "{} takes {} (got {got} argument{s})",
                self.command,
                names.join(" ")
            )
        })
    }

    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s OsString> + 's {
        self.options
            .iter()
            .filter(move |(o, _)| o == name)
            .map(|(_, v)| v)
    }

    fn one(&self, name: &str) -> Result<Option<OsString>, String> {
        match self.values(name).collect::<Vec<_>>()[..] {
            [] => Ok(None),
            [v] => Ok(Some(v.clone())),
            _ => Err(format!("{}: {name} may be given only once", self.command)),
        }
    }

    fn text(&self, o: &OsString) -> Result<String, String> {
        o.to_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{}: {o:?} is not valid UTF-8", self.command))
    }

    fn hosts(&self) -> Result<Vec<String>, String> {
        self.values("--host")
            .map(|v| host(&self.text(v)?))
            .collect()
    }
}

/// Splits `args` into options with their values (checked against `allowed`) and positionals.
fn split<'a>(command: &'a str, args: &[OsString], allowed: &[&str]) -> Result<Parsed<'a>, String> {
    let mut p = Parsed {
        command,
        options: Vec::new(),
        positional: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            p.positional.extend(it.cloned());
            break;
        }
        if !text.starts_with('-') || text == "-" {
            p.positional.push(arg.clone());
            continue;
        }
        if text == "-h" || text == "--help" {
            p.options.push(("--help".to_string(), OsString::new()));
            continue;
        }
        // Split the raw bytes, so a non-UTF-8 path after `=` survives intact.
        let bytes = arg.as_bytes();
        let (name, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(i) => (
                String::from_utf8_lossy(&bytes[..i]).into_owned(),
                Some(OsStr::from_bytes(&bytes[i + 1..]).to_os_string()),
            ),
            None => (text.into_owned(), None),
        };
        if !allowed.contains(&name.as_str()) {
            return Err(format!("{command}: unknown option {name}"));
        }
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("{command}: {name} needs a value"))?,
        };
        p.options.push((name, value));
    }
    Ok(p)
}

/// A host name or IP literal for a certificate SAN and `remote.hosts`.
fn host(s: &str) -> Result<String, String> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
    if s.parse::<IpAddr>().is_ok()
        || (!s.is_empty() && !s.starts_with('-') && s.chars().all(name_char))
    {
        Ok(s.to_string())
    } else {
        Err(format!("--host {s:?} is not a host name or IP address"))
    }
}

fn port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("--port {s:?} is not a port number (1 to 65535)")),
    }
}

/// `--http`: ADDR:PORT, or a bare PORT on loopback (metrics are not for the world unless asked).
fn http(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.strip_prefix(':').unwrap_or(s).parse::<u16>() {
        return Ok(SocketAddr::new(
            IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port,
        ));
    }
    s.parse()
        .map_err(|_| format!("--http {s:?} is not PORT or ADDR:PORT (e.g. 9364 or 0.0.0.0:9364)"))
}

fn listen(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("--listen {s:?} is not ADDR:PORT (e.g. [::]:443 or 0.0.0.0:4443)"))
}

fn bad_address(s: &str) -> String {
    format!("ADDRESS {s:?} is not an IPv6 unicast address (e.g. fd00::1 or 32 hex digits)")
}

/// An address an endpoint can have: not loopback, not link-local (the router itself is fe80::1).
fn endpoint_address(s: &str) -> Result<Ipv6Addr, String> {
    let address = address_from_cn(s).map_err(|e| bad_address(&e.cn))?;
    if address.is_loopback() || address.segments()[0] & 0xffc0 == 0xfe80 {
        return Err(format!(
            "ADDRESS {address} is loopback or link-local; an endpoint needs a routable address"
        ));
    }
    Ok(address)
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
