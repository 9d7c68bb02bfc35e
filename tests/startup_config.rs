//! Start-up with the tunnel on: configuration and credentials are checked before anything runs,
//! and each failure is one line with its documented exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_enf-init");

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors")
        .join(name)
}

fn start(conf: &str, dir: &Path) -> (i32, String, String) {
    let path = dir.join("enf0.conf");
    std::fs::write(&path, conf).expect("write conf");
    // In a network namespace of its own: a tunnel that gets this far must not touch the host.
    let out = Command::new("unshare")
        .args([
            "--net",
            BIN,
            "-c",
            path.to_str().expect("utf-8"),
            "--ready-timeout",
            "1",
            "--",
            "sh",
            "-c",
            "echo service-ran",
        ])
        .env_remove("ENF_TUNNEL")
        .output()
        .expect("run enf-init");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn conf(cert: &str, key: &str) -> String {
    format!(
        "remote : {{ hosts = [\"127.0.0.1\"]; ca_cert_file = \"{}\"; }};\n\
         identity : {{ cert_file = \"{cert}\"; key_file = \"{key}\"; }};\n",
        vector("router.crt.pem").display()
    )
}

#[test]
fn a_broken_config_exits_78_before_anything_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = start("remote : { port = 443; };\n", dir.path());
    assert_eq!(code, 78, "{err}");
    assert_eq!(out, "");
    assert_eq!(
        err.lines().filter(|l| l.contains("error")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("remote.port"), "{err}");
}

#[test]
fn credentials_that_do_not_match_exit_77() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("k.pem");
    std::fs::copy(vector("router.key.pem"), &key).expect("copy");
    let cert = vector("test.crt.pem");
    let (code, out, err) = start(
        &conf(cert.to_str().expect("utf-8"), key.to_str().expect("utf-8")),
        dir.path(),
    );
    assert_eq!(code, 77, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn good_credentials_and_no_server_end_in_the_ready_timeout_without_a_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("k.pem");
    std::fs::copy(vector("test.key.pem"), &key).expect("copy");
    let cert = vector("test.crt.pem");
    let (code, out, err) = start(
        &conf(cert.to_str().expect("utf-8"), key.to_str().expect("utf-8")),
        dir.path(),
    );
    assert_eq!(code, 75, "{err}");
    assert_eq!(out, "", "the service must not start without the tunnel");
    assert!(
        err.contains("the tunnel was not ready within --ready-timeout"),
        "{err}"
    );
    assert!(err.contains("cannot connect to 127.0.0.1:443"), "{err}");
}
