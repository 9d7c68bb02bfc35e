//! The `/entrypoint.d` hooks: which files run, in which order, and what a sourced hook exports.
//!
//! As in the docker-library images: files in `sort -V` order; executable `*.sh` are run, `*.envsh`
//! are sourced by `/bin/sh` and the variables they export reach later hooks and the service;
//! anything else is logged as ignored. Running them is the supervisor's job (it waits for them in
//! its own loop, so signals and timeouts keep working); this module is pure apart from listing
//! the directory.

use std::cmp::Ordering;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Run,
    Source,
    Ignored(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub path: PathBuf,
    pub name: String,
    pub kind: Kind,
}

/// How `/bin/sh` sources a hook: its output goes to stderr so that stdout carries only the
/// environment, NUL-separated.
pub const SOURCE_SCRIPT: &str = ". \"$1\" >&2 && exec env -0";

/// The hooks in `dir`, in order; a missing directory means none.
pub fn list(dir: &Path) -> io::Result<Vec<Hook>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut hooks = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // Follow symlinks: hooks are often linked in from elsewhere.
        let meta = std::fs::metadata(&path);
        let (is_file, executable) = match &meta {
            Ok(m) => (m.is_file(), m.permissions().mode() & 0o111 != 0),
            Err(_) => (false, false),
        };
        let kind = classify(&name, is_file, executable);
        hooks.push(Hook { path, name, kind });
    }
    hooks.sort_by(|a, b| version_cmp(&a.name, &b.name));
    Ok(hooks)
}

/// What to do with a directory entry.
pub fn classify(name: &str, is_file: bool, executable: bool) -> Kind {
    if !is_file {
        Kind::Ignored("not a regular file")
    } else if name.ends_with(".envsh") {
        Kind::Source
    } else if name.ends_with(".sh") {
        if executable {
            Kind::Run
        } else {
            Kind::Ignored("not executable")
        }
    } else {
        Kind::Ignored("not *.sh or *.envsh")
    }
}

/// `sort -V` order: runs of digits compare as numbers, everything else byte by byte.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    while !x.is_empty() && !y.is_empty() {
        let ord = if x[0].is_ascii_digit() && y[0].is_ascii_digit() {
            let (nx, rx) = split_digits(x);
            let (ny, ry) = split_digits(y);
            let (tx, ty) = (trim_zeros(nx), trim_zeros(ny));
            let ord = tx.len().cmp(&ty.len()).then(tx.cmp(ty));
            x = rx;
            y = ry;
            ord
        } else {
            let ord = x[0].cmp(&y[0]);
            x = &x[1..];
            y = &y[1..];
            ord
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    x.len().cmp(&y.len()).then_with(|| a.cmp(b))
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    s.split_at(n)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b'0').count();
    &s[n..]
}

/// Variables a shell sets on its own and that a sourced hook did not mean to export.
const SHELL_NOISE: [&str; 4] = ["PWD", "OLDPWD", "SHLVL", "_"];

/// The environment after a sourced hook: `env -0` output applied over `before`. Variables the
/// hook unset are removed; the shell's own bookkeeping variables are left as they were.
pub fn apply_env0(before: &[(OsString, OsString)], output: &[u8]) -> Vec<(OsString, OsString)> {
    let noise = |k: &OsString| SHELL_NOISE.iter().any(|n| k.as_bytes() == n.as_bytes());
    let mut after: Vec<(OsString, OsString)> = output
        .split(|&b| b == 0)
        .filter_map(|item| {
            let eq = item.iter().position(|&b| b == b'=')?;
            (eq > 0).then(|| {
                (
                    OsString::from_vec(item[..eq].to_vec()),
                    OsString::from_vec(item[eq + 1..].to_vec()),
                )
            })
        })
        .filter(|(k, _)| !noise(k))
        .collect();
    after.extend(before.iter().filter(|(k, _)| noise(k)).cloned());
    after
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_sort_v() {
        // The expected order is what GNU `LC_ALL=C sort -V` prints for these names.
        let mut names = vec![
            "20-b.sh",
            "10-a.sh",
            "9-z.sh",
            "100-last.sh",
            "10-a.envsh",
            "010-x.sh",
            "a.sh",
            "A.sh",
        ];
        names.sort_by(|a, b| version_cmp(a, b));
        let want = [
            "9-z.sh",
            "10-a.envsh",
            "10-a.sh",
            "010-x.sh",
            "20-b.sh",
            "100-last.sh",
            "A.sh",
            "a.sh",
        ];
        assert_eq!(names, want);
    }

    #[test]
    fn classifies_like_the_docker_library_entrypoints() {
        assert_eq!(classify("10-x.sh", true, true), Kind::Run);
        assert_eq!(
            classify("10-x.sh", true, false),
            Kind::Ignored("not executable")
        );
        assert_eq!(classify("10-x.envsh", true, false), Kind::Source);
        assert_eq!(
            classify("README", true, true),
            Kind::Ignored("not *.sh or *.envsh")
        );
        assert_eq!(
            classify("d.sh", false, true),
            Kind::Ignored("not a regular file")
        );
    }

    #[test]
    fn sourced_environment_replaces_adds_and_removes() {
        let os = |s: &str| OsString::from(s);
        let before = vec![
            (os("KEEP"), os("1")),
            (os("GONE"), os("x")),
            (os("PWD"), os("/")),
        ];
        let out = b"KEEP=1\0NEW=a=b\0PWD=/tmp\0SHLVL=1\0EMPTY=\0\0junk\0";
        let after = apply_env0(&before, out);
        assert_eq!(
            after,
            vec![
                (os("KEEP"), os("1")),
                (os("NEW"), os("a=b")),
                (os("EMPTY"), os("")),
                (os("PWD"), os("/"))
            ]
        );
    }

    #[test]
    fn missing_directory_means_no_hooks() {
        assert_eq!(
            list(Path::new("/nonexistent/entrypoint.d")).expect("ok"),
            vec![]
        );
    }
}
