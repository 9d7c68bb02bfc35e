//! `enf-init doctor`: every preflight failure with its fix and exit code, run for real (a
//! process without CAP_NET_ADMIN, a missing device, a network namespace with IPv6 disabled).

use std::path::{Path, PathBuf};
use std::process::Command;

const INIT: &str = env!("CARGO_BIN_EXE_enf-init");
const ROUTER: &str = env!("CARGO_BIN_EXE_enf-router");

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "doctor tests need root (capabilities, namespaces)"
    );
}

/// An endpoint directory made by enf-router.
fn endpoint() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("router");
    let e = dir.path().join("ep");
    for args in [
        vec!["init", r.to_str().expect("utf-8")],
        vec![
            "add-endpoint",
            r.to_str().expect("utf-8"),
            "fd00::5",
            "--out",
            e.to_str().expect("utf-8"),
        ],
    ] {
        let out = Command::new(ROUTER)
            .args(&args)
            .output()
            .expect("enf-router");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (dir, e.join("enf0.conf"))
}

/// `doctor -c CONF` through an optional wrapper command: (exit code, stdout).
fn doctor(wrapper: &[&str], conf: &Path) -> (i32, String) {
    let mut argv: Vec<&str> = wrapper.to_vec();
    argv.extend([INIT, "doctor", "-c", conf.to_str().expect("utf-8")]);
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .env_remove("ENF_CONFIG")
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn line<'a>(out: &'a str, what: &str) -> &'a str {
    out.lines()
        .find(|l| l[6..].starts_with(what))
        .unwrap_or_else(|| panic!("no {what} line:\n{out}"))
}

#[test]
fn everything_in_place_passes() {
    require_root();
    let (_d, conf) = endpoint();
    let (code, out) = doctor(&[], &conf);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok    ")).count(),
        5,
        "{out}"
    );
    assert!(
        line(&out, "credentials").contains("address fd00::5"),
        "{out}"
    );
}

#[test]
fn without_cap_net_admin_it_says_to_add_it() {
    require_root();
    let (_d, conf) = endpoint();
    let (code, out) = doctor(
        &["setpriv", "--inh-caps=-all", "--bounding-set=-net_admin"],
        &conf,
    );
    assert_eq!(code, 69, "{out}");
    assert_eq!(
        line(&out, "CAP_NET_ADMIN"),
        "FAIL  CAP_NET_ADMIN: missing: enf-init cannot configure the tunnel; run the container with --cap-add=NET_ADMIN"
    );
}

#[test]
fn a_missing_tun_device_says_to_pass_it() {
    require_root();
    let (_d, conf) = endpoint();
    let text = std::fs::read_to_string(&conf)
        .expect("conf")
        .replace("\"/dev/net/tun\"", "\"/nonexistent/tun\"");
    std::fs::write(&conf, text).expect("conf");
    let (code, out) = doctor(&[], &conf);
    assert_eq!(code, 69, "{out}");
    assert_eq!(
        line(&out, "tun device"),
        "FAIL  tun device: /nonexistent/tun is missing: run the container with --device /dev/net/tun"
    );
}

#[test]
fn a_device_that_is_not_the_tun_device_says_so_in_doctor_and_at_start_up() {
    require_root();
    let (_d, conf) = endpoint();
    let text = std::fs::read_to_string(&conf)
        .expect("conf")
        .replace("\"/dev/net/tun\"", "\"/dev/null\"");
    std::fs::write(&conf, text).expect("conf");
    let want = "/dev/null is device 1:3, not the tun device 10:200: run the container with --device /dev/net/tun";
    let (code, out) = doctor(&[], &conf);
    assert_eq!(code, 69, "{out}");
    assert_eq!(
        line(&out, "tun device"),
        format!("FAIL  tun device: {want}")
    );
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", INIT, "-c"])
        .arg(&conf)
        .args(["--", "touch", "/nonexistent-service-ran"])
        .output()
        .expect("unshare");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains(&format!("error: {want}")), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("error")).count(),
        1,
        "one line: {err}"
    );
}

#[test]
fn ipv6_disabled_says_which_sysctl() {
    require_root();
    let (_d, conf) = endpoint();
    let script = format!(
        "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 && exec {INIT} doctor -c {}",
        conf.display()
    );
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .output()
        .expect("unshare");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(69),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        line(&text, "IPv6"),
        "FAIL  IPv6: disabled in this container: run it with --sysctl net.ipv6.conf.all.disable_ipv6=0"
    );
}

#[test]
fn bad_configuration_and_bad_credentials_give_their_codes() {
    require_root();
    let (d, conf) = endpoint();
    let broken = d.path().join("broken.conf");
    std::fs::write(&broken, "remote : { port = 443; };\n").expect("conf");
    let (code, out) = doctor(&[], &broken);
    assert_eq!(code, 78, "{out}");
    assert!(
        line(&out, "configuration").starts_with("FAIL  configuration:"),
        "{out}"
    );
    // Another key than the certificate's.
    let key = conf.with_file_name("enf0.key.pem");
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors");
    std::fs::copy(vectors.join("test.key.pem"), &key).expect("key");
    let (code, out) = doctor(&[], &conf);
    assert_eq!(code, 77, "{out}");
    assert!(
        line(&out, "credentials").contains("does not match"),
        "{out}"
    );
}
