//! `enf-init doctor [-c FILE]`: the checks start-up makes before it touches the network, each
//! with its fix, changing nothing (no device is opened, no address set).
//!
//! One line per check on stdout (`ok` or `FAIL`, what, and the fix); the exit code is that of
//! the first failure, as start-up would have exited (78 configuration, 77 credentials, 69 what
//! the container lacks), or 0.

use crate::{config, exit, identity, supervisor::caps, tunnel::netcfg};
use std::ffi::OsString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The tun clone device's character device numbers (misc major 10, minor 200).
const TUN_MAJOR: u64 = 10;
const TUN_MINOR: u64 = 200;

/// One check's outcome: the detail when it passed, the problem and its fix when not.
struct Check {
    what: &'static str,
    outcome: Result<String, (String, u8)>,
}

/// Runs the subcommand with the arguments after `doctor`; returns the exit code.
pub fn run(args: &[OsString]) -> u8 {
    let mut config_path: Option<PathBuf> = None;
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        match a.to_str() {
            Some("-c") | Some("--config") => match rest.next() {
                Some(v) => config_path = Some(PathBuf::from(v)),
                None => return usage("--config needs a value"),
            },
            Some(s) if s.starts_with("--config=") => {
                config_path = Some(PathBuf::from(&s["--config=".len()..]))
            }
            other => {
                return usage(&format!(
                    "unexpected argument {}",
                    other.unwrap_or("(not UTF-8)")
                ))
            }
        }
    }
    let env = |k: &str| std::env::var(k).ok();
    let path = config::locate(config_path.as_deref(), &env);
    let checks = checks(&path, &env);
    let mut code = 0;
    for c in &checks {
        match &c.outcome {
            Ok(detail) => println!("ok    {}: {detail}", c.what),
            Err((problem, failure)) => {
                println!("FAIL  {}: {problem}", c.what);
                if code == 0 {
                    code = *failure;
                }
            }
        }
    }
    code
}

fn usage(what: &str) -> u8 {
    eprintln!("enf-init: error: doctor: {what} (usage: enf-init doctor [-c FILE])");
    exit::USAGE
}

fn checks(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Vec<Check> {
    let mut out = Vec::new();
    let cfg = config::load_quiet(path, env);
    out.push(Check {
        what: "configuration",
        outcome: match &cfg {
            Ok(c) if c.warnings.is_empty() => Ok(c.file.display().to_string()),
            Ok(c) => Ok(format!("{} ({})", c.file.display(), c.warnings.join("; "))),
            Err(e) => Err((e.to_string(), exit::CONFIG)),
        },
    });
    if let Ok(cfg) = &cfg {
        out.push(Check {
            what: "credentials",
            outcome: match identity::load_quiet(cfg) {
                Ok(id) => {
                    let mut detail = format!(
                        "address {}, certificate valid until {}",
                        id.address,
                        identity::time::format(id.not_after)
                    );
                    for w in &id.warnings {
                        detail.push_str(&format!("; warning: {w}"));
                    }
                    Ok(detail)
                }
                Err(e) => Err((e.to_string(), exit::CREDENTIALS)),
            },
        });
        out.push(Check {
            what: "tun device",
            outcome: tun_device(&cfg.tun.dev_node),
        });
    }
    out.push(Check {
        what: "CAP_NET_ADMIN",
        outcome: match caps::effective(caps::CAP_NET_ADMIN) {
            true => Ok("present (the service will not inherit it)".into()),
            false => Err((
                "missing: enf-init cannot configure the tunnel; run the container with --cap-add=NET_ADMIN".into(),
                exit::TUNNEL_UNAVAILABLE,
            )),
        },
    });
    out.push(Check {
        what: "IPv6",
        outcome: match netcfg::ipv6_disabled() {
            false => Ok("enabled".into()),
            true => Err((
                "disabled in this container: run it with --sysctl net.ipv6.conf.all.disable_ipv6=0"
                    .into(),
                exit::TUNNEL_UNAVAILABLE,
            )),
        },
    });
    out
}

/// A character device at `node` that is not the tun clone device (e.g. `/dev/null` bound in its
/// place): what start-up says before trying it, since TUNSETIFF on it only says "inappropriate
/// ioctl". A missing node is left to the open, which says so itself.
pub fn wrong_tun_device(node: &Path) -> Option<String> {
    let m = std::fs::metadata(node).ok()?;
    if !m.file_type().is_char_device() {
        return None;
    }
    tun_device(node).err().map(|(why, _)| why)
}

/// The clone device exists and is the tun character device (nothing is opened).
fn tun_device(node: &Path) -> Result<String, (String, u8)> {
    let fix = "run the container with --device /dev/net/tun";
    match std::fs::metadata(node) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err((
            format!("{} is missing: {fix}", node.display()),
            exit::TUNNEL_UNAVAILABLE,
        )),
        Err(e) => Err((format!("{}: {e}", node.display()), exit::TUNNEL_UNAVAILABLE)),
        Ok(m) if !m.file_type().is_char_device() => Err((
            format!("{} is not a character device: {fix}", node.display()),
            exit::TUNNEL_UNAVAILABLE,
        )),
        Ok(m) => {
            let (major, minor) = (libc::major(m.rdev()) as u64, libc::minor(m.rdev()) as u64);
            if (major, minor) == (TUN_MAJOR, TUN_MINOR) {
                Ok(format!("{}", node.display()))
            } else {
                Err((
                    format!(
                        "{} is device {major}:{minor}, not the tun device 10:200: {fix}",
                        node.display()
                    ),
                    exit::TUNNEL_UNAVAILABLE,
                ))
            }
        }
    }
}
