//! argv + environment -> what to do (pure: no I/O, no process state).
//!
//! Options stop at the first non-option word or at `--`; what follows is the service command.
//! Every option has an `ENF_*` environment variable; the flag wins. Subcommands (`status`,
//! `config`) are recognised only as the very first argument, so a service called `status` is
//! still reachable with `enf-init -- status`.

use crate::status::LossPolicy;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// How long the tunnel may be down under `--on-tunnel-loss=stop` unless told otherwise: longer
/// than a router restart with the first back-off steps, short enough to matter.
pub const DEFAULT_LOSS_GRACE: Duration = Duration::from_secs(30);

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    Run(Box<Options>),
    Status {
        json: bool,
        status_file: Option<PathBuf>,
    },
    Config(Vec<OsString>),
    Doctor(Vec<OsString>),
    Help,
    Version,
}

/// Options of the init itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub config: Option<PathBuf>,
    pub tunnel: bool,
    pub init_only: bool,
    pub hooks_dir: PathBuf,
    /// `None` waits forever.
    pub ready_timeout: Option<Duration>,
    pub stop_timeout: Duration,
    pub stop_signal: Option<i32>,
    /// `None` lets a hook run as long as it likes.
    pub hook_timeout: Option<Duration>,
    pub keep_net_admin: bool,
    pub user: Option<String>,
    pub status_file: Option<PathBuf>,
    /// Where the probes and metrics listen (`--http`), if anywhere.
    pub http: Option<SocketAddr>,
    pub on_tunnel_loss: LossPolicy,
    /// Under `--on-tunnel-loss=stop`: how long the tunnel may stay down.
    pub tunnel_loss_grace: Duration,
    pub command: Vec<OsString>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: None,
            tunnel: true,
            init_only: false,
            hooks_dir: PathBuf::from("/entrypoint.d"),
            ready_timeout: None,
            stop_timeout: Duration::from_secs(8),
            stop_signal: None,
            hook_timeout: None,
            keep_net_admin: false,
            user: None,
            status_file: None,
            http: None,
            on_tunnel_loss: LossPolicy::Reconnect,
            tunnel_loss_grace: DEFAULT_LOSS_GRACE,
            command: Vec::new(),
        }
    }
}

/// A command line that cannot be used; the text is the whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (see enf-init --help)", self.0)
    }
}

pub const HELP: &str = "\
enf-init: PID 1 for a service on the Xaptum ENF

usage: enf-init [OPTIONS] [--] COMMAND [ARG]...
       enf-init [OPTIONS] --init-only
       enf-init status [--json] [--status-file FILE]
       enf-init config [-c FILE] [KEY]
       enf-init doctor [-c FILE]

options (each also as an environment variable; the flag wins):
  -c, --config FILE       enftun configuration            ENF_CONFIG
                          (default /data/enf0/enf0.conf if it exists, else /etc/enftun/enf0.conf)
      --no-tunnel         plain init: no tunnel, no wait  ENF_TUNNEL=off
      --init-only         bring the tunnel up, run hooks, start no service; stay up until stopped
                                                          ENF_INIT_ONLY=1
      --hooks-dir DIR     hooks to run before the service (default /entrypoint.d)  ENF_HOOKS_DIR
      --ready-timeout S   give up when the tunnel is not ready after S seconds (0 = never)
                                                          ENF_READY_TIMEOUT
      --stop-timeout S    grace from the stop signal to SIGKILL (default 8)  ENF_STOP_TIMEOUT
      --stop-signal SIG   signal the service gets when a stop begins (default: the one received)
                                                          ENF_STOP_SIGNAL
      --hook-timeout S    kill a hook that runs longer and fail start-up (0 = none)  ENF_HOOK_TIMEOUT
      --keep-net-admin    let the service keep CAP_NET_ADMIN  ENF_KEEP_NET_ADMIN=1
      --user USER[:GROUP] run the service as this user    ENF_USER
      --status-file FILE  default /run/enf-init/status.json  ENF_STATUS_FILE
      --on-tunnel-loss P  when the tunnel is lost: reconnect (default; stay healthy), unready
                          (reconnect, unhealthy while down) or stop (unhealthy, then stop the
                          service and exit 76 after the grace)   ENF_ON_TUNNEL_LOSS
      --tunnel-loss-grace S  down time allowed under stop (default 30)  ENF_TUNNEL_LOSS_GRACE
      --http [ADDR:]PORT  serve /livez /readyz /status /metrics (ADDR default 127.0.0.1)
                                                          ENF_HTTP
  -V, --version
  -h, --help

log level: ENF_LOG or RUST_LOG (error, warn, info, debug, trace; default info)
";

/// Parses the arguments after the program name; `env` looks up `ENF_*` variables.
pub fn parse(
    args: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Invocation, UsageError> {
    match args.first().and_then(|a| a.to_str()) {
        Some("config") => return Ok(Invocation::Config(args[1..].to_vec())),
        Some("doctor") => return Ok(Invocation::Doctor(args[1..].to_vec())),
        Some("status") => return parse_status(&args[1..], env),
        _ => {}
    }
    let mut opts = from_env(env)?;
    let mut i = 0;
    while i < args.len() {
        let Some(arg) = args[i].to_str() else { break };
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        let (flag, inline) = split_flag(arg);
        let mut value = |name: &str| -> Result<String, UsageError> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .and_then(|v| v.to_str())
                .map(str::to_string)
                .ok_or_else(|| UsageError(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "-c" | "--config" => opts.config = Some(PathBuf::from(value(&flag)?)),
            "--no-tunnel" => opts.tunnel = false,
            "--init-only" => opts.init_only = true,
            "--keep-net-admin" => opts.keep_net_admin = true,
            "--hooks-dir" => opts.hooks_dir = PathBuf::from(value(&flag)?),
            "--ready-timeout" => opts.ready_timeout = optional_seconds(&flag, &value(&flag)?)?,
            "--stop-timeout" => opts.stop_timeout = seconds(&flag, &value(&flag)?)?,
            "--stop-signal" => opts.stop_signal = Some(signal(&flag, &value(&flag)?)?),
            "--hook-timeout" => opts.hook_timeout = optional_seconds(&flag, &value(&flag)?)?,
            "--user" => opts.user = Some(user(&flag, &value(&flag)?)?),
            "--status-file" => opts.status_file = Some(PathBuf::from(value(&flag)?)),
            "--http" => opts.http = Some(http(&flag, &value(&flag)?)?),
            "--on-tunnel-loss" => opts.on_tunnel_loss = loss_policy(&flag, &value(&flag)?)?,
            "--tunnel-loss-grace" => opts.tunnel_loss_grace = seconds(&flag, &value(&flag)?)?,
            _ => return Err(UsageError(format!("unknown option {arg}"))),
        }
        if inline.is_some() && is_switch(&flag) {
            return Err(UsageError(format!("{flag} takes no value")));
        }
        i += 1;
    }
    opts.command = args[i..].to_vec();
    if opts.command.is_empty() && !opts.init_only {
        return Err(UsageError(
            "no command to run: give the service's command (the image's CMD) or --init-only".into(),
        ));
    }
    if !opts.command.is_empty() && opts.init_only {
        return Err(UsageError(
            "--init-only starts no service, but a command was given".into(),
        ));
    }
    Ok(Invocation::Run(Box::new(opts)))
}

fn parse_status(
    args: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Invocation, UsageError> {
    let mut json = false;
    let mut status_file = env("ENF_STATUS_FILE").map(PathBuf::from);
    let mut rest = args.iter().map(|a| a.to_str());
    while let Some(arg) = rest.next() {
        match arg {
            Some("--json") => json = true,
            Some("--status-file") => match rest.next().flatten() {
                Some(v) => status_file = Some(PathBuf::from(v)),
                None => return Err(UsageError("--status-file needs a value".into())),
            },
            Some(a) if a.starts_with("--status-file=") => {
                status_file = Some(PathBuf::from(&a["--status-file=".len()..]))
            }
            other => {
                let shown = other.unwrap_or("(not UTF-8)");
                return Err(UsageError(format!("status: unexpected argument {shown}")));
            }
        }
    }
    Ok(Invocation::Status { json, status_file })
}

/// The options as the environment sets them, before the flags.
fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Options, UsageError> {
    let mut o = Options::default();
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(v) = get("ENF_CONFIG") {
        o.config = Some(PathBuf::from(v));
    }
    if let Some(v) = get("ENF_TUNNEL") {
        o.tunnel = boolean("ENF_TUNNEL", &v)?;
    }
    if let Some(v) = get("ENF_INIT_ONLY") {
        o.init_only = boolean("ENF_INIT_ONLY", &v)?;
    }
    if let Some(v) = get("ENF_KEEP_NET_ADMIN") {
        o.keep_net_admin = boolean("ENF_KEEP_NET_ADMIN", &v)?;
    }
    if let Some(v) = get("ENF_HOOKS_DIR") {
        o.hooks_dir = PathBuf::from(v);
    }
    if let Some(v) = get("ENF_READY_TIMEOUT") {
        o.ready_timeout = optional_seconds("ENF_READY_TIMEOUT", &v)?;
    }
    if let Some(v) = get("ENF_STOP_TIMEOUT") {
        o.stop_timeout = seconds("ENF_STOP_TIMEOUT", &v)?;
    }
    if let Some(v) = get("ENF_STOP_SIGNAL") {
        o.stop_signal = Some(signal("ENF_STOP_SIGNAL", &v)?);
    }
    if let Some(v) = get("ENF_HOOK_TIMEOUT") {
        o.hook_timeout = optional_seconds("ENF_HOOK_TIMEOUT", &v)?;
    }
    if let Some(v) = get("ENF_USER") {
        o.user = Some(user("ENF_USER", &v)?);
    }
    if let Some(v) = get("ENF_STATUS_FILE") {
        o.status_file = Some(PathBuf::from(v));
    }
    if let Some(v) = get("ENF_HTTP") {
        o.http = Some(http("ENF_HTTP", &v)?);
    }
    if let Some(v) = get("ENF_ON_TUNNEL_LOSS") {
        o.on_tunnel_loss = loss_policy("ENF_ON_TUNNEL_LOSS", &v)?;
    }
    if let Some(v) = get("ENF_TUNNEL_LOSS_GRACE") {
        o.tunnel_loss_grace = seconds("ENF_TUNNEL_LOSS_GRACE", &v)?;
    }
    Ok(o)
}

fn split_flag(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((f, v)) if arg.starts_with("--") => (f.to_string(), Some(v.to_string())),
        _ if arg.len() > 2 && arg.starts_with("-c") && !arg.starts_with("--") => {
            ("-c".to_string(), Some(arg[2..].to_string()))
        }
        _ => (arg.to_string(), None),
    }
}

fn is_switch(flag: &str) -> bool {
    matches!(
        flag,
        "--no-tunnel" | "--init-only" | "--keep-net-admin" | "--help" | "--version"
    )
}

fn boolean(name: &str, v: &str) -> Result<bool, UsageError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(UsageError(format!(
            "{name}={v}: expected on/off, true/false, yes/no or 1/0"
        ))),
    }
}

/// The longest timeout accepted: about 31 years, far beyond use, far below clock overflow.
const MAX_SECONDS: f64 = 1e9;

fn seconds(name: &str, v: &str) -> Result<Duration, UsageError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s <= MAX_SECONDS)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            UsageError(format!(
                "{name} {v}: expected a number of seconds, e.g. 8 or 0.5"
            ))
        })
}

fn optional_seconds(name: &str, v: &str) -> Result<Option<Duration>, UsageError> {
    let d = seconds(name, v)?;
    Ok((!d.is_zero()).then_some(d))
}

fn signal(name: &str, v: &str) -> Result<i32, UsageError> {
    crate::signals::parse(v).ok_or_else(|| {
        UsageError(format!(
            "{name} {v}: not a signal (e.g. TERM, SIGQUIT, 15, RTMIN+3)"
        ))
    })
}

/// `ADDR:PORT`, or a bare `PORT` (or `:PORT`) on loopback: probes and metrics are not for the
/// world unless asked.
fn http(name: &str, v: &str) -> Result<SocketAddr, UsageError> {
    let v = v.trim();
    let port_only = v.strip_prefix(':').unwrap_or(v);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    v.parse().map_err(|_| {
        UsageError(format!(
            "{name} {v}: expected PORT or ADDR:PORT (e.g. 9363, 0.0.0.0:9363, [::]:9363)"
        ))
    })
}

fn loss_policy(name: &str, v: &str) -> Result<LossPolicy, UsageError> {
    LossPolicy::parse(&v.trim().to_ascii_lowercase())
        .ok_or_else(|| UsageError(format!("{name} {v}: expected reconnect, unready or stop")))
}

fn user(name: &str, v: &str) -> Result<String, UsageError> {
    let (u, g) = v.split_once(':').unwrap_or((v, "x"));
    if u.is_empty() || g.is_empty() {
        return Err(UsageError(format!(
            "{name} {v}: expected USER or USER:GROUP"
        )));
    }
    Ok(v.to_string())
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
