//! `enf-init config [-c FILE] [KEY]`: the effective configuration, like `enftun -p KEY`.
//!
//! With KEY: its value on stdout (arrays space-joined), from the config file and environment
//! only, so it works where the credentials are not mounted; `identity.address` loads and checks
//! the credentials and prints the address. Without KEY: every key with its value and origin,
//! then the credentials checked as start-up checks them. Errors are one line on stderr with the
//! documented exit code; the logger may not be set up here, so warnings are printed directly.

use std::ffi::OsString;
use std::path::PathBuf;

use super::{keys, load_quiet, locate, Config, Origin, KEYS};
use crate::exit;
use crate::identity::{self, Identity};

const USAGE_TEXT: &str = "\
usage: enf-init config [-c FILE | --config FILE] [KEY]

Prints the effective configuration: the config file (default: $ENF_CONFIG, else
/data/enf0/enf0.conf if it exists, else /etc/enftun/enf0.conf) with the ENF_* overrides.
  KEY                 print one value, like `enftun -p KEY` (arrays space-joined)
  identity.address    load and check the credentials, print the certificate's address
  (no KEY)            every key with its origin, then the credential checks
";

/// The pseudo-key that loads the credentials.
const ADDRESS_KEY: &str = "identity.address";

struct Args {
    config: Option<PathBuf>,
    key: Option<String>,
}

/// Runs the subcommand with the arguments after `config`; returns the exit code.
pub fn run(args: &[OsString]) -> u8 {
    let args = match parse_args(args) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE_TEXT}");
            return 0;
        }
        Err(msg) => return fail(exit::USAGE, &format!("config: {msg}")),
    };
    if let Some(key) = &args.key {
        if key != ADDRESS_KEY && !KEYS.contains(&key.as_str()) {
            return fail(
                exit::CONFIG,
                &format!("config: unknown key {key:?} (run `enf-init config` to list the keys)"),
            );
        }
    }
    let env = |k: &str| std::env::var(k).ok();
    let path = locate(args.config.as_deref(), &env);
    let cfg = match load_quiet(&path, &env) {
        Ok(cfg) => cfg,
        Err(e) => return fail(exit::CONFIG, &e.to_string()),
    };
    for warning in &cfg.warnings {
        eprintln!("enf-init: warning: {warning}");
    }
    match args.key.as_deref() {
        Some(ADDRESS_KEY) => match credentials(&cfg) {
            Ok(id) => {
                println!("{}", id.address);
                0
            }
            Err(code) => code,
        },
        Some(key) => {
            println!(
                "{}",
                keys::show(&cfg, key).map(|v| v.plain()).unwrap_or_default()
            );
            0
        }
        None => list(&cfg),
    }
}

/// `Ok(None)` for --help.
fn parse_args(args: &[OsString]) -> Result<Option<Args>, String> {
    let mut out = Args {
        config: None,
        key: None,
    };
    let mut it = args.iter();
    let mut options_done = false;
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy();
        if !options_done && text.starts_with('-') && text.len() > 1 {
            match text.as_ref() {
                "--" => options_done = true,
                "-h" | "--help" => return Ok(None),
                "-c" | "--config" => {
                    let file = it.next().ok_or_else(|| format!("{text} needs a FILE"))?;
                    out.config = Some(PathBuf::from(file));
                }
                t if t.starts_with("--config=") => {
                    out.config = Some(PathBuf::from(&t["--config=".len()..]))
                }
                t if t.starts_with("-c") => out.config = Some(PathBuf::from(&t[2..])),
                t => {
                    return Err(format!(
                        "unknown option {t} (usage: enf-init config [-c FILE] [KEY])"
                    ))
                }
            }
        } else if out.key.is_some() {
            return Err(format!("only one KEY may be given, got another: {text}"));
        } else {
            out.key = Some(text.into_owned());
        }
    }
    Ok(Some(out))
}

/// Every key, its value and origin, then the credential checks.
fn list(cfg: &Config) -> u8 {
    println!("# {}", cfg.file.display());
    for key in KEYS {
        let value = keys::show(cfg, key).and_then(|v| v.literal());
        let origin = match cfg.origin(key) {
            Origin::Default => "default".to_string(),
            Origin::File { line } => format!("{}:{line}", cfg.file.display()),
            Origin::Env(var) => format!("environment {var}"),
        };
        match value {
            Some(v) => println!("{key:<26} = {v:<32} # {origin}"),
            None => println!("{key:<26}   {:<32} # {origin}", "(not set)"),
        }
    }
    println!("# credentials, checked as start-up checks them");
    match credentials(cfg) {
        Ok(id) => {
            report(cfg, &id);
            0
        }
        Err(code) => code,
    }
}

fn report(cfg: &Config, id: &Identity) {
    let show = |p: &Option<PathBuf>| {
        p.as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let address = format!("\"{}\"", id.address);
    println!(
        "{ADDRESS_KEY:<26} = {address:<32} # CN of {}",
        show(&cfg.identity.cert_file)
    );
    let (from, to) = (
        identity::time::format(id.not_before),
        identity::time::format(id.not_after),
    );
    println!(
        "# certificate {}: CN {:?}, valid {from} to {to}",
        show(&cfg.identity.cert_file),
        id.subject_cn
    );
    if !id.chain.is_empty() {
        println!(
            "#   with {} more certificate(s) in the chain",
            id.chain.len()
        );
    }
    println!(
        "# private key {}: {}, matches the certificate",
        show(&cfg.identity.key_file),
        id.key_type
    );
    let cns: Vec<String> = id
        .ca
        .iter()
        .map(
            |c| match identity::x509::parse(c).ok().and_then(|c| c.subject_cn) {
                Some(cn) => format!("{cn:?}"),
                None => "(no CN)".to_string(),
            },
        )
        .collect();
    let count = if id.ca.len() == 1 {
        "1 certificate".to_string()
    } else {
        format!("{} certificates", id.ca.len())
    };
    println!(
        "# CA {}: {count}: CN {}",
        cfg.remote.ca_cert_file.display(),
        cns.join(", ")
    );
}

/// The credentials, with their warnings on stderr; on failure the line is printed and the exit
/// code returned.
fn credentials(cfg: &Config) -> Result<Identity, u8> {
    match identity::load_quiet(cfg) {
        Ok(id) => {
            for warning in &id.warnings {
                eprintln!("enf-init: warning: {warning}");
            }
            Ok(id)
        }
        Err(e) => Err(fail(exit::CREDENTIALS, &e.to_string())),
    }
}

fn fail(code: u8, msg: &str) -> u8 {
    eprintln!("enf-init: error: {msg}");
    code
}
