//! Fault injection: bad credentials and a container without what the tunnel needs, at start-up.
//!
//! Each case is one clear line, the documented exit code (src/exit.rs, the README's table) and
//! no service: a CN that is not an address, an expired client certificate, an unreadable key
//! (77); a missing /dev/net/tun, no CAP_NET_ADMIN (69); an expired server certificate, which is
//! the server's problem and so retried with back-off until --ready-timeout (75). A key readable
//! by others is a warning, and the tunnel comes up. (A wrong CA is tests/tunnel_more.rs, a key
//! that does not match its certificate tests/startup_config.rs, the same checks on demand
//! tests/doctor_cli.rs and tests/config_cli.rs.)

mod common;
mod fault_support;

use common::endpoint::Endpoint;
use common::hostile::{self, Behaviour, Hostile};
use common::router::{router_ok, utf8, Router, PORT};
use fault_support::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_enf-init");
const A: &str = "fd00:8f80:1::a";
const TUNNEL_UNAVAILABLE: i32 = 69;
const READY_TIMEOUT: i32 = 75;
const CREDENTIALS: i32 = 77;
const SERVICE: &[&str] = &["--", "sh", "-c", "echo service-ran"];

/// A router directory and an endpoint directory for A made by enf-router (nothing serving).
fn provisioned() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let r = tmp.path().join("router");
    let e = tmp.path().join("ep");
    router_ok(&["init", utf8(&r), "--host", "198.18.0.1"]);
    router_ok(&["add-endpoint", utf8(&r), A, "--out", utf8(&e)]);
    (tmp, r, e)
}

/// What a start-up printed and returned.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The run failed before the service with `code` and exactly one error line holding `text`.
    fn failed(&self, code: i32, text: &str) {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.contains(": error: "))
            .collect();
        assert_eq!(self.code, code, "{}", self.stderr);
        assert_eq!(errors.len(), 1, "one error line:\n{}", self.stderr);
        assert!(errors[0].contains(text), "{text:?} not in {:?}", errors[0]);
        assert_eq!(self.stdout, "", "the service ran:\n{}", self.stderr);
        assert_no_panic(&self.stderr);
    }
}

/// `enf-init -c DIR/enf0.conf [args] -- sh -c 'echo service-ran'` in network and PID namespaces
/// of its own (nothing it does reaches the host), through `wrapper` (setpriv) if given.
fn start_up(dir: &Path, args: &[&str], wrapper: &[&str]) -> Run {
    let conf = dir.join("enf0.conf");
    let out = Command::new("unshare")
        .args(["--net", "--pid", "--fork", "--mount-proc", "--kill-child"])
        .args(wrapper)
        .arg(BIN)
        .args([
            "-c",
            utf8(&conf),
            "--hooks-dir",
            "/nonexistent",
            "--ready-timeout",
            "5",
        ])
        .args(args)
        .args(SERVICE)
        .env_remove("ENF_LOG")
        .env_remove("ENF_TUNNEL")
        .output()
        .expect("unshare (util-linux) and enf-init");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn name(pairs: &[(rcgen::DnType, &str)]) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    for (t, v) in pairs {
        dn.push(t.clone(), *v);
    }
    dn
}

/// A certificate for `cn` that expired in 2021, signed by `issuer` (self-signed if none);
/// written as PEM to `cert` and `key`.
fn expired(cn: &str, issuer: Option<&rcgen::Issuer<'_, rcgen::KeyPair>>, cert: &Path, key: &Path) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = name(&[(rcgen::DnType::CommonName, cn)]);
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let made = match issuer {
        Some(i) => params.signed_by(&pair, i),
        None => params.self_signed(&pair),
    }
    .expect("sign");
    std::fs::write(cert, made.pem()).expect("write cert");
    std::fs::write(key, pair.serialize_pem()).expect("write key");
    chmod(key, 0o600);
}

/// The router's CA (DIR/ca.crt.pem, ca.key.pem) as an issuer: same name, same key.
fn router_ca(dir: &Path) -> rcgen::Issuer<'static, rcgen::KeyPair> {
    let key = std::fs::read_to_string(dir.join("ca.key.pem")).expect("CA key");
    let key = rcgen::KeyPair::from_pem(&key).expect("CA key PEM");
    let mut params = rcgen::CertificateParams::default();
    // The subject enf-router gives its CA (src/router/provision.rs): issuer names compare bytes.
    params.distinguished_name = name(&[
        (rcgen::DnType::OrganizationName, "enf-router"),
        (rcgen::DnType::CommonName, "enf-router local CA"),
    ]);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    rcgen::Issuer::new(params, key)
}

#[test]
fn a_cn_that_is_not_an_address_exits_77_naming_the_certificate() {
    let (_t, r, e) = provisioned();
    // The router's own server certificate and key: they match, but the CN is an IPv4 address.
    std::fs::copy(r.join("server.crt.pem"), e.join("enf0.crt.pem")).expect("cert");
    std::fs::copy(r.join("server.key.pem"), e.join("enf0.key.pem")).expect("key");
    let run = start_up(&e, &[], &[]);
    run.failed(
        CREDENTIALS,
        "enf0.crt.pem: CN \"198.18.0.1\" is not an IPv6 unicast address",
    );
}

#[test]
fn an_expired_client_certificate_exits_77_with_its_date() {
    let (_t, _r, e) = provisioned();
    expired(A, None, &e.join("enf0.crt.pem"), &e.join("enf0.key.pem"));
    let run = start_up(&e, &[], &[]);
    run.failed(
        CREDENTIALS,
        "enf0.crt.pem: certificate expired on 2021-01-01",
    );
}

#[test]
fn an_unreadable_key_exits_77_saying_permission_denied() {
    let (t, _r, e) = provisioned();
    // Everything readable by `nobody` but the key (root-owned, 0600): root itself reads any
    // file, so enf-init runs as nobody, keeping CAP_NET_ADMIN out of the question.
    chmod(t.path(), 0o755);
    chmod(&e, 0o755);
    for f in ["enf0.conf", "enf0.crt.pem", "enf.cacert.pem"] {
        chmod(&e.join(f), 0o644);
    }
    let run = start_up(
        &e,
        &["--keep-net-admin"],
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
        ],
    );
    run.failed(CREDENTIALS, "enf0.key.pem: cannot read: permission denied");
}

#[test]
fn a_missing_tun_device_exits_69_saying_to_pass_it() {
    let (_t, _r, e) = provisioned();
    let conf = e.join("enf0.conf");
    let text = std::fs::read_to_string(&conf).expect("conf");
    std::fs::write(
        &conf,
        text.replace("\"/dev/net/tun\"", "\"/nonexistent/tun\""),
    )
    .expect("conf");
    let run = start_up(&e, &[], &[]);
    run.failed(TUNNEL_UNAVAILABLE, "/nonexistent/tun");
    assert!(
        run.stderr.contains("--device /dev/net/tun"),
        "{}",
        run.stderr
    );
}

#[test]
fn without_cap_net_admin_it_exits_69_saying_to_add_it() {
    let (_t, _r, e) = provisioned();
    let run = start_up(
        &e,
        &[],
        &["setpriv", "--inh-caps=-all", "--bounding-set=-net_admin"],
    );
    run.failed(TUNNEL_UNAVAILABLE, "CAP_NET_ADMIN");
    assert!(run.stderr.contains("--cap-add=NET_ADMIN"), "{}", run.stderr);
}

#[test]
fn an_expired_server_certificate_is_named_retried_and_ends_in_the_ready_timeout() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    assert_eq!(r.stop(), Some(0), "{}", r.log());
    let (cert, key) = (r.path("expired.crt.pem"), r.path("expired.key.pem"));
    expired(
        "expired.router.test",
        Some(&router_ca(&r.dir())),
        &cert,
        &key,
    );
    let _h = Hostile::start(
        &r.ns.name,
        PORT,
        hostile::server_config(&cert, &key),
        vec![Behaviour::Answer {
            once: vec![],
            every: vec![],
        }],
    );
    a.start(&["--ready-timeout", "4"], &["sh", "-c", "echo service-ran"]);
    let code = a.wait(Duration::from_secs(20));
    let log = a.log();
    assert_eq!(code, READY_TIMEOUT, "{log}");
    assert_eq!(a.stdout(), "", "the service ran:\n{log}");
    assert_no_panic(&log);
    let cause = "TLS handshake failed: TLS: invalid peer certificate: server certificate \
                 CN=expired.router.test expired on 2021-01-01";
    let warned = log
        .lines()
        .filter(|l| l.contains(cause) && l.contains(": warn: "))
        .count();
    assert_eq!(warned, 1, "one warning for the cause:\n{log}");
    let attempts = count_lines(&log, cause);
    assert!(attempts >= 3, "{attempts} attempts in 4 s:\n{log}");
    let errors: Vec<&str> = log.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(
        errors,
        vec!["enf-init: error: the tunnel was not ready within --ready-timeout; starting nothing"],
        "{log}"
    );
}

#[test]
fn a_key_readable_by_others_is_a_warning_and_the_tunnel_comes_up() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    let key = a.dir.join("enf0.key.pem");
    chmod(&key, 0o644);
    a.start(&[], &["sh", "-c", "echo service-started; exec sleep 60"]);
    a.wait_stdout("service-started", Duration::from_secs(20));
    let log = a.log();
    let want = format!(
        "enf-init: warn: {}: private key is readable by group or others (mode 0644); chmod 600 it",
        key.display()
    );
    assert_eq!(count_lines(&log, &want), 1, "{log}");
    assert_eq!(count_lines(&log, "tunnel up"), 1, "{log}");
    assert!(a.is_running(), "{log}");
}
