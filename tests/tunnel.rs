//! enf-init's tunnel against enf-router, in network namespaces: readiness before the service,
//! traffic between endpoints, status, router restarts and freezes, bad servers, new credentials.

mod common;

use common::endpoint::Endpoint;
use common::router::Router;
use std::time::Duration;

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";

fn ping(from: &Endpoint, to: &str) -> bool {
    from.exec(&["ping", "-6", "-c", "1", "-W", "2", to])
        .status
        .success()
}

#[test]
fn two_endpoints_ping_each_other_and_the_service_reaches_the_other_on_its_first_try() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    let mut b = Endpoint::new(&r, B);
    // The service's very first action: one ping, no retry. It succeeds only if enf-init started
    // it after the overlay was routable.
    b.start(&[], &["ping", "-6", "-c", "1", "-W", "3", A]);
    assert_eq!(b.wait(Duration::from_secs(20)), 0, "{}", b.log());
    let mut b2 = Endpoint::new(&r, "fd00:8f80:1::c");
    b2.start(
        &[],
        &[
            "sh",
            "-c",
            "echo \"$ENF_ADDRESS $ENF_IFACE\"; ping -6 -c 3 -i 0.2 -W 2 fd00:8f80:1::a",
        ],
    );
    assert_eq!(b2.wait(Duration::from_secs(20)), 0, "{}", b2.log());
    assert!(
        b2.stdout().starts_with("fd00:8f80:1::c enf0\n"),
        "{}",
        b2.stdout()
    );
}

#[test]
fn status_says_down_before_the_router_and_up_after() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    r.stop();
    a.start(&[], &["sh", "-c", "echo service-started; sleep 60"]);
    a.wait_log("cannot connect", Duration::from_secs(15));
    let (code, text) = a.status(false);
    assert_eq!(code, 1, "{text}");
    assert_eq!(a.stdout(), "", "the service must wait for the tunnel");
    r.serve();
    a.wait_stdout("service-started", Duration::from_secs(40));
    let (code, text) = a.status(false);
    assert_eq!(code, 0, "{text}");
    let (_, json) = a.status(true);
    assert!(json.contains("\"state\":") && json.contains("up"), "{json}");
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait(Duration::from_secs(10)), 143);
    let (code, json) = a.status(true);
    assert_eq!(code, 1);
    assert!(json.contains("stopped"), "{json}");
}

#[test]
fn the_overlay_comes_back_after_a_router_restart_and_the_service_keeps_its_pid() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    let mut b = Endpoint::new(&r, B);
    a.start(&[], &[]);
    b.start(&[], &["sh", "-c", "echo pid=$$; exec sleep 300"]);
    b.wait_stdout("pid=", Duration::from_secs(20));
    a.wait_log("tunnel up", Duration::from_secs(20));
    assert!(ping(&b, A), "{}", b.log());
    let pid_before = b.stdout();
    r.stop();
    b.wait_log("session with", Duration::from_secs(10));
    r.serve();
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    while !ping(&b, A) {
        assert!(
            std::time::Instant::now() < deadline,
            "overlay never came back:\n{}",
            b.log()
        );
    }
    assert_eq!(b.stdout(), pid_before, "the service was restarted");
    assert!(b.is_running(), "{}", b.log());
}

#[test]
fn a_frozen_router_is_detected_by_heartbeat_within_period_plus_timeout() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    // Heartbeats every 1 s, dead after 1 s more without anything received.
    let conf = a.dir.join("enf0.conf");
    let text = std::fs::read_to_string(&conf).expect("conf");
    let text = text
        .replace("heartbeat_period = 300000;", "heartbeat_period = 1000;")
        .replace("heartbeat_timeout = 10000;", "heartbeat_timeout = 1000;");
    assert!(text.contains("heartbeat_period = 1000;"), "{text}");
    std::fs::write(&conf, text).expect("conf");
    a.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    r.signal(libc::SIGSTOP);
    let frozen = std::time::Instant::now();
    a.wait_log("no heartbeat reply within 1000 ms", Duration::from_secs(10));
    let took = frozen.elapsed();
    r.signal(libc::SIGCONT);
    assert!(
        took < Duration::from_millis(3500),
        "detected after {took:?}"
    );
}

#[test]
fn a_server_that_never_speaks_tls_hits_the_handshake_timeout_and_backs_off() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    // A TCP listener in the router's namespace that accepts and says nothing.
    let conf = a.dir.join("enf0.conf");
    let text = std::fs::read_to_string(&conf)
        .expect("conf")
        .replace("\"4443\"", "\"4444\"");
    std::fs::write(&conf, text).expect("conf");
    let mut silent = r
        .ns
        .command("python3")
        .args(["-c", "import socket,time\ns=socket.socket(socket.AF_INET6)\ns.bind(('::',4444))\ns.listen(8)\nc=[]\nwhile True:\n  c.append(s.accept())\n"])
        .spawn()
        .expect("python3");
    a.start(&[], &[]);
    let log = a.wait_log("no TLS handshake within 10 s", Duration::from_secs(25));
    let _ = silent.kill();
    let _ = silent.wait();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn an_unknown_registration_is_refused_clearly_and_retried_with_back_off() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    common::router::router_ok(&["remove-endpoint", common::router::utf8(&r.dir()), A]);
    a.start(&[], &["sh", "-c", "echo service-started"]);
    a.wait_log("TLS handshake failed", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(2));
    let log = a.log();
    assert!(a.is_running(), "enf-init gave up:\n{log}");
    assert_eq!(a.stdout(), "");
    // It keeps trying, but says each distinct cause once, not once per attempt.
    let warned = log
        .lines()
        .filter(|l| l.contains("warn:") && l.contains("TLS handshake failed"))
        .count();
    let attempts = log.matches("next attempt in").count();
    assert!(
        (1..=3).contains(&warned) && attempts > warned,
        "{warned} warnings, {attempts} attempts:\n{log}"
    );
}

#[test]
fn replaced_credentials_are_used_at_the_next_connection() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    // A new key for the same address, written over the old files and registered (the router
    // drops the session that used the old key). enf-init must come back with the new files.
    r.endpoint_via(A, &a.ns.host_ip);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while a.log().matches("tunnel up").count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "never came back with the new key:\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_certificate_expiring_within_a_week_is_warned_about_and_shown_in_status() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    // Replace the endpoint's certificate by one valid for 3 more days, same address, new key.
    let (key, cert) = (a.dir.join("enf0.key.pem"), a.dir.join("enf0.crt.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "3",
        ])
        .args([
            "-subj",
            &format!("/CN={A}"),
            "-keyout",
            common::router::utf8(&key),
            "-out",
            common::router::utf8(&cert),
        ])
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::router::router_ok(&[
        "add-endpoint",
        common::router::utf8(&r.dir()),
        A,
        "--public-key",
        common::router::utf8(&cert),
    ]);
    a.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    let log = a.log();
    assert!(
        log.contains("client certificate expires on") && log.contains("days); renew it"),
        "{log}"
    );
    let (_, json) = a.status(true);
    assert!(json.contains("\"cert_not_after\""), "{json}");
}

#[test]
fn credentials_for_another_address_are_refused_without_leaving_the_old_address() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    // B's credentials copied over A's: the device, routes and service all run as A.
    let b_dir = r.endpoint_via(B, &a.ns.host_ip);
    for f in ["enf0.crt.pem", "enf0.key.pem"] {
        std::fs::copy(b_dir.join(f), a.dir.join(f)).expect("copy");
    }
    let log = a.wait_log(
        "restart enf-init to change address",
        Duration::from_secs(20),
    );
    assert!(
        log.contains(&format!(
            "the certificate now names {B}, but this tunnel runs as {A}"
        )),
        "{log}"
    );
    assert!(a.is_running(), "{log}");
}
