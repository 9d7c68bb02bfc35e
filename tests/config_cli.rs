//! `enf-init config`, run as users run it: the real binary, real files in temporary directories.
//!
//! Covers one value by KEY (no credentials needed), `identity.address`, the full listing with
//! origins and credential checks, the `ENF_*` overrides and `ENF_CONFIG`, and every error path
//! with its exit code and its exact one-line message. Needs no root and no network.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_enf-init");
const USAGE: i32 = 64;
const CREDENTIALS: i32 = 77;
const CONFIG: i32 = 78;

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors")
        .join(name)
}

/// `ENF_*` variables for one run.
type Env<'a> = Vec<(&'a str, &'a str)>;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `enf-init config ARGS` with only the given `ENF_*` variables, in `cwd`.
fn run(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("config").args(args).current_dir(cwd);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ENF_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run enf-init");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A directory laid out like `/data/enf0`: `enf0.conf` with `conf`, and the vector credentials
/// (`enf0.crt.pem`, `enf0.key.pem` mode 600, `enf.cacert.pem`, `router.*`).
fn layout(conf: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        ("test.crt.pem", "enf0.crt.pem"),
        ("test.key.pem", "enf0.key.pem"),
        ("enf.cacert.pem", "enf.cacert.pem"),
        ("router.crt.pem", "router.crt.pem"),
        ("router.key.pem", "router.key.pem"),
    ];
    for (from, to) in files {
        let to = dir.path().join(to);
        std::fs::copy(vector(from), &to).expect("copy vector");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    std::fs::write(dir.path().join("enf0.conf"), conf).expect("write conf");
    dir
}

const CONF: &str = "\
version = \"1.0\";
remote : {
  hosts = [ \"a.example\", \"192.0.2.1\" ];
  ca_cert_file = \"enf.cacert.pem\";
};
route : { fwmark = 0; prefixes = [ \"2607:8f80:8000::/36\" ]; };
identity : {
  cert_file = \"enf0.crt.pem\";
  key_file = \"enf0.key.pem\";
};
";

fn ok(r: &Run) {
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "stdout: {}", r.stdout);
}

fn fails(r: &Run, code: i32, line: &str) {
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (code, format!("enf-init: error: {line}\n").as_str())
    );
}

#[test]
fn a_key_prints_its_value_without_credentials() {
    let shipped = vector("enf-services-enf0.conf");
    let c = shipped.to_str().expect("utf-8 path");
    let table = [
        ("remote.hosts", "23.147.128.112"),
        ("route.prefixes", "2607:8f80:8000::/36"),
        ("route.fwmark", "0"),
        ("remote.port", "443"),
        ("tun.ip_set", "true"),
        ("remote.heartbeat_timeout", "10000"),
        ("identity.cert_file", "/data/enf0/enf0.crt.pem"),
        ("identity.ip_file", ""),
        ("version", "1.0"),
    ];
    let cwd = std::env::temp_dir();
    for (key, want) in table {
        let r = run(&["-c", c, key], &[], &cwd);
        ok(&r);
        assert_eq!(r.stdout, format!("{want}\n"), "{key}");
    }
    let dir = layout(CONF);
    let conf = dir.path().join("enf0.conf");
    let r = run(
        &["--config", conf.to_str().expect("utf-8"), "remote.hosts"],
        &[],
        &cwd,
    );
    ok(&r);
    assert_eq!(r.stdout, "a.example 192.0.2.1\n");
    let r = run(
        &[
            &format!("--config={}", conf.display()),
            "remote.ca_cert_file",
        ],
        &[],
        &cwd,
    );
    assert_eq!(
        r.stdout,
        format!("{}\n", dir.path().join("enf.cacert.pem").display())
    );
}

#[test]
fn identity_address_checks_the_credentials() {
    let dir = layout(CONF);
    let r = run(&["-c", "enf0.conf", "identity.address"], &[], dir.path());
    ok(&r);
    assert_eq!(r.stdout, "fd00:8f80:1::1234\n");
}

#[test]
fn without_a_key_every_key_and_its_origin_then_the_credentials() {
    let dir = layout(CONF);
    let conf = dir.path().join("enf0.conf");
    let r = run(
        &["-c", conf.to_str().expect("utf-8")],
        &[("ENF_PORT", "4443")],
        dir.path(),
    );
    ok(&r);
    let f = conf.display();
    let lines: Vec<&str> = r.stdout.lines().collect();
    let has = |key: &str, value: &str, origin: &str| {
        let found = lines.iter().any(|l| {
            l.starts_with(&format!("{key} "))
                && l.contains(&format!("= {value} "))
                && l.ends_with(&format!("# {origin}"))
        });
        assert!(
            found,
            "no line for {key} = {value} # {origin} in\n{}",
            r.stdout
        );
    };
    has(
        "remote.hosts",
        "[ \"a.example\", \"192.0.2.1\" ]",
        &format!("{f}:3"),
    );
    has("remote.port", "\"4443\"", "environment ENF_PORT");
    has("tun.dev", "\"enf0\"", "default");
    has("route.fwmark", "0", &format!("{f}:6"));
    has(
        "identity.address",
        "\"fd00:8f80:1::1234\"",
        &format!("CN of {}", dir.path().join("enf0.crt.pem").display()),
    );
    assert!(lines
        .iter()
        .any(|l| l.starts_with("identity.ip_file") && l.contains("(not set)")));
    assert!(
        r.stdout.contains(": EC P-256, matches the certificate"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(": 1 certificate: CN \"XAPTUMROOT335817\""),
        "{}",
        r.stdout
    );
    assert_eq!(lines.len(), 1 + 20 + 1 + 4, "{}", r.stdout);
}

#[test]
fn environment_overrides_apply_after_the_file() {
    let dir = layout(CONF);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        elsewhere.path().join("enf0.conf"),
        "identity : { cert_file = \"nope.pem\"; };\n",
    )
    .expect("write");
    let conf = elsewhere.path().join("enf0.conf");
    let c = conf.to_str().expect("utf-8");
    let env = [
        ("ENF_HOSTS", "x.example, 192.0.2.9"),
        ("ENF_PORT", "8443"),
        ("ENF_PREFIXES", "default,fd00::/8"),
        // Relative to the current directory (the credentials directory), not to the file.
        ("ENF_CERT", "enf0.crt.pem"),
        ("ENF_KEY", "enf0.key.pem"),
        ("ENF_CA_CERT", "enf.cacert.pem"),
    ];
    let table = [
        ("remote.hosts", "x.example 192.0.2.9".to_string()),
        ("remote.port", "8443".to_string()),
        ("route.prefixes", "default fd00::/8".to_string()),
        (
            "identity.cert_file",
            dir.path().join("enf0.crt.pem").display().to_string(),
        ),
        ("identity.address", "fd00:8f80:1::1234".to_string()),
    ];
    for (key, want) in table {
        let r = run(&["-c", c, key], &env, dir.path());
        ok(&r);
        assert_eq!(r.stdout, format!("{want}\n"), "{key}");
    }
}

#[test]
fn enf_config_names_the_file_and_the_flag_wins() {
    let a = layout(CONF);
    let b = layout("remote : { hosts = [ \"b.example\" ]; };\n");
    let (a_conf, b_conf) = (a.path().join("enf0.conf"), b.path().join("enf0.conf"));
    let env = [("ENF_CONFIG", a_conf.to_str().expect("utf-8"))];
    let r = run(&["remote.hosts"], &env, b.path());
    ok(&r);
    assert_eq!(r.stdout, "a.example 192.0.2.1\n");
    let r = run(
        &["-c", b_conf.to_str().expect("utf-8"), "remote.hosts"],
        &env,
        a.path(),
    );
    ok(&r);
    assert_eq!(r.stdout, "b.example\n");
}

#[test]
fn configuration_errors_exit_78_with_one_line() {
    let dir = layout(CONF);
    let d = dir.path();
    std::fs::write(
        d.join("syntax.conf"),
        "remote : {\n  hosts = [ \"a\" \n};\n",
    )
    .expect("write");
    std::fs::write(d.join("type.conf"), "remote : {\n  port = 443;\n};\n").expect("write");
    let p = |name: &str| d.join(name).display().to_string();
    let table: Vec<(Vec<&str>, Env, String)> = vec![
        (
            vec!["remote.nope"],
            vec![],
            "config: unknown key \"remote.nope\" (run `enf-init config` to list the keys)"
                .to_string(),
        ),
        (
            vec!["-c", "missing.conf", "remote.hosts"],
            vec![],
            format!("cannot read config file {}: not found", p("missing.conf")),
        ),
        (
            vec!["-c", "syntax.conf"],
            vec![],
            format!("{}:3:1: expected `,` or `]`, found `}}`", p("syntax.conf")),
        ),
        (
            vec!["-c", "type.conf", "remote.port"],
            vec![],
            format!(
                "{}:2: remote.port: expected a string, found an integer",
                p("type.conf")
            ),
        ),
        (
            vec!["-c", "enf0.conf", "remote.port"],
            vec![("ENF_PORT", "https")],
            "ENF_PORT=\"https\": \"https\" is not a port number (1 to 65535)".to_string(),
        ),
        (
            vec!["remote.hosts"],
            vec![("ENF_CONFIG", "/nonexistent/enf0.conf")],
            "cannot read config file /nonexistent/enf0.conf: not found".to_string(),
        ),
    ];
    for (args, env, want) in table {
        let r = run(&args, &env, d);
        fails(&r, CONFIG, &want);
        assert_eq!(r.stdout, "", "{args:?}");
    }
}

#[test]
fn credential_errors_exit_77_with_one_line() {
    let dir = layout(CONF);
    let d = dir.path();
    let p = |name: &str| d.join(name).display().to_string();
    let table: Vec<(Vec<(&str, &str)>, String)> = vec![
        (vec![("ENF_CERT", "absent.pem")], format!("{}: no such file", p("absent.pem"))),
        (
            vec![("ENF_KEY", "router.key.pem")],
            format!("{}: private key does not match the certificate {}", p("router.key.pem"), p("enf0.crt.pem")),
        ),
        (
            vec![("ENF_CERT", "router.crt.pem"), ("ENF_KEY", "router.key.pem")],
            format!(
                "{}: CN \"router.enftun.example\" is not an IPv6 unicast address (expected e.g. 2607:8f80::1 or 32 hex digits)",
                p("router.crt.pem")
            ),
        ),
        (
            vec![("ENF_CERT", "enf0.key.pem")],
            format!("{}: not a certificate: no CERTIFICATE block (found EC PRIVATE KEY)", p("enf0.key.pem")),
        ),
        (vec![("ENF_CA_CERT", "enf0.conf")], format!("{}: neither PEM nor DER", p("enf0.conf"))),
    ];
    for (env, want) in table {
        let r = run(&["-c", "enf0.conf", "identity.address"], &env, d);
        fails(&r, CREDENTIALS, &want);
        assert_eq!(r.stdout, "", "{env:?}");
        // Without KEY the listing comes first, then the same one line and code.
        let r = run(&["-c", "enf0.conf"], &env, d);
        fails(&r, CREDENTIALS, &want);
        assert!(r.stdout.contains("remote.hosts"), "{env:?}: {}", r.stdout);
    }
    // A KEY other than identity.address does not need the credentials at all.
    let r = run(
        &["-c", "enf0.conf", "remote.hosts"],
        &[("ENF_CERT", "absent.pem")],
        d,
    );
    ok(&r);
}

#[test]
fn usage_errors_exit_64() {
    let cwd = std::env::temp_dir();
    let table: &[(&[&str], &str)] = &[
        (
            &["--bogus"],
            "config: unknown option --bogus (usage: enf-init config [-c FILE] [KEY])",
        ),
        (&["-c"], "config: -c needs a FILE"),
        (&["--config"], "config: --config needs a FILE"),
        (
            &["remote.hosts", "remote.port"],
            "config: only one KEY may be given, got another: remote.port",
        ),
    ];
    for (args, want) in table {
        let r = run(args, &[], &cwd);
        fails(&r, USAGE, want);
    }
    let r = run(&["--help"], &[], &cwd);
    ok(&r);
    assert!(
        r.stdout
            .starts_with("usage: enf-init config [-c FILE | --config FILE] [KEY]\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn warnings_go_to_stderr_and_do_not_fail() {
    let device = vector("enftun-example-device.conf");
    let r = run(
        &["-c", device.to_str().expect("utf-8"), "tun.dev"],
        &[],
        &std::env::temp_dir(),
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "enf0\n"));
    let warnings: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "{}", r.stderr);
    assert!(
        warnings[0].starts_with("enf-init: warning: ")
            && warnings[0].contains(":101: identity.tpm is not supported")
    );
    assert!(warnings[1].contains(":110: identity.xtt is not supported"));

    let dir = layout(CONF);
    let key = dir.path().join("enf0.key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let r = run(&["-c", "enf0.conf", "identity.address"], &[], dir.path());
    assert_eq!((r.code, r.stdout.as_str()), (0, "fd00:8f80:1::1234\n"));
    let want = format!(
        "enf-init: warning: {}: private key is readable by group or others (mode 0644); chmod 600 it\n",
        key.display()
    );
    assert_eq!(r.stderr, want);
}

#[test]
fn an_unreadable_key_says_permission_denied() {
    // root reads any file whatever its mode, so the check runs as `nobody` (setpriv, util-linux);
    // a non-root test user meets the case directly.
    let dir = layout(CONF);
    let d = dir.path();
    for (file, mode) in [
        ("", 0o755),
        ("enf0.conf", 0o644),
        ("enf0.crt.pem", 0o644),
        ("enf.cacert.pem", 0o644),
        ("enf0.key.pem", 0o000),
    ] {
        std::fs::set_permissions(d.join(file), std::fs::Permissions::from_mode(mode))
            .expect("chmod");
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            BIN,
        ]);
        c
    } else {
        Command::new(BIN)
    };
    let out = cmd
        .args(["config", "identity.address"])
        .env("ENF_CONFIG", d.join("enf0.conf"))
        .output()
        .expect("run");
    let key = d.join("enf0.key.pem");
    assert_eq!(
        out.status.code(),
        Some(CREDENTIALS),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "enf-init: error: {}: cannot read: permission denied\n",
            key.display()
        )
    );
}
