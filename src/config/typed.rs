//! The parsed tree -> `Config`: known keys typed and checked, unknown keys warned about.
//!
//! Pure: no file or environment access. The reference silently ignores a value of the wrong
//! type; here it is an error naming the file, line and key. `identity.xtt` and `identity.tpm`
//! (hardware provisioning in the reference) are accepted with a warning: the key and
//! certificate are then loaded as plain files, and only failing that is an error.

use std::path::Path;

use super::keys::{self, KEYS};
use super::parser::{Setting, Value};
use super::{Config, Error, Origin};

/// The top-level groups enftun reads.
const GROUPS: &[&str] = &["tun", "remote", "route", "identity"];

/// Types `settings` read from `file`; relative paths resolve against the file's directory.
pub fn from_settings(settings: &[Setting], file: &Path) -> Result<Config, Error> {
    let mut cfg = Config::defaults(file);
    let dir = file.parent().unwrap_or(Path::new(""));
    for top in settings {
        if top.name == "version" {
            apply(&mut cfg, "version", top, dir)?;
        } else if GROUPS.contains(&top.name.as_str()) {
            let Value::Group(children) = &top.value else {
                let found = top.value.type_name();
                return Err(key_error(
                    file,
                    top.pos.line,
                    &top.name,
                    format!("expected a group, found {found}"),
                ));
            };
            for child in children {
                let key = format!("{}.{}", top.name, child.name);
                apply(&mut cfg, &key, child, dir)?;
            }
        } else {
            warn_unknown(&mut cfg, &top.name, top);
        }
    }
    Ok(cfg)
}

/// Sets one key from its setting, or warns that the key is not one we know.
fn apply(cfg: &mut Config, key: &str, setting: &Setting, dir: &Path) -> Result<(), Error> {
    let line = setting.pos.line;
    if key == "identity.xtt" || key == "identity.tpm" {
        let file = cfg.file.display();
        cfg.warnings.push(format!(
            "{file}:{line}: {key} is not supported (hardware provisioning); \
             identity.cert_file and identity.key_file are loaded as files"
        ));
        return Ok(());
    }
    let Some(&known) = KEYS.iter().find(|k| **k == key) else {
        warn_unknown(cfg, key, setting);
        return Ok(());
    };
    keys::set(cfg, known, &setting.value, dir).map_err(|bad| match bad.item {
        Some((i, pos)) => key_error(&cfg.file, pos.line, &format!("{key}[{i}]"), bad.msg),
        None => key_error(&cfg.file, line, key, bad.msg),
    })?;
    cfg.origins.insert(known, Origin::File { line });
    Ok(())
}

fn warn_unknown(cfg: &mut Config, key: &str, setting: &Setting) {
    let (file, line) = (cfg.file.display(), setting.pos.line);
    cfg.warnings
        .push(format!("{file}:{line}: unknown key {key}, ignored"));
}

fn key_error(file: &Path, line: u32, key: &str, msg: String) -> Error {
    Error::Key {
        path: file.to_path_buf(),
        line,
        key: key.to_string(),
        msg,
    }
}
