//! A `Config` written back as an enftun `enf0.conf` that enftun and `load` both read.
//!
//! Every set key is written with its effective value (paths absolute where they were resolved),
//! so the output stands alone wherever it is stored; unset optional keys are left out.
//! `parse(print(c))` gives `c` back (a property test checks it). It does not write files.

use super::keys::{show, KEYS};
use super::Config;

/// The configuration in libconfig syntax, grouped as enftun's own files are.
// The router's `add-endpoint --out` writes an endpoint's enf0.conf with it (a later issue).
pub fn print(cfg: &Config) -> String {
    let mut out = String::from("# enftun configuration, written by enf-init.\n");
    if let Some(version) = show(cfg, "version").and_then(|v| v.literal()) {
        out.push_str(&format!("version = {version};\n"));
    }
    for group in ["tun", "remote", "route", "identity"] {
        out.push_str(&format!("\n{group} : {{\n"));
        for key in KEYS {
            let Some(name) = key.strip_prefix(group).and_then(|k| k.strip_prefix('.')) else {
                continue;
            };
            if let Some(literal) = show(cfg, key).and_then(|v| v.literal()) {
                out.push_str(&format!("  {name} = {literal};\n"));
            }
        }
        out.push_str("};\n");
    }
    out
}
