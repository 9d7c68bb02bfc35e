//! enf-router serving in a network namespace, driven by endpoints built on enf-init's own frame
//! codec and TLS configuration: routing, heartbeats, anti-spoofing, refusal, bad peers, scale.

mod common;

use common::enf_client::{ipv6_packet, EnfClient};
use common::router::{router_ok, utf8, Router};
use std::io::Write;
use std::net::{Ipv6Addr, TcpStream};
use std::time::Duration;

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";

fn addr(s: &str) -> Ipv6Addr {
    s.parse().expect("address")
}

#[test]
fn two_endpoints_exchange_packets_and_heartbeats() {
    let r = Router::start();
    let (da, db) = (r.endpoint(A), r.endpoint(B));
    let mut a = EnfClient::connect(&da, r.addr).expect("A connects");
    let mut b = EnfClient::connect(&db, r.addr).expect("B connects");
    r.wait_log(&format!("session start {B}"), Duration::from_secs(5));
    a.heartbeat().expect("A's heartbeat answered");
    b.heartbeat().expect("B's heartbeat answered");
    for i in 0..100u32 {
        let p = ipv6_packet(addr(A), addr(B), &i.to_be_bytes().repeat(100));
        a.send(&p).expect("send");
        assert_eq!(b.recv().expect("B receives"), p);
    }
    let back = ipv6_packet(addr(B), addr(A), b"pong");
    b.send(&back).expect("send");
    assert_eq!(a.recv().expect("A receives"), back);
}

#[test]
fn a_spoofed_source_reaches_nobody_and_is_counted() {
    let mut r = Router::start();
    let (da, db) = (r.endpoint(A), r.endpoint(B));
    let mut a = EnfClient::connect(&da, r.addr).expect("A");
    let mut b = EnfClient::connect(&db, r.addr).expect("B");
    r.wait_log(&format!("session start {B}"), Duration::from_secs(5));
    a.send(&ipv6_packet(addr("fd00:8f80:1::c"), addr(B), b"forged"))
        .expect("send");
    let genuine = ipv6_packet(addr(A), addr(B), b"genuine");
    a.send(&genuine).expect("send");
    // Frames are delivered in order: the first thing B sees is the genuine packet.
    assert_eq!(b.recv().expect("recv"), genuine);
    assert_eq!(r.stop(), Some(0));
    let log = r.log();
    assert!(
        log.contains(&format!("session end {A}")) && log.contains("dropped spoofed_source 1"),
        "{log}"
    );
}

#[test]
fn an_unregistered_key_is_refused_with_the_reason_logged() {
    let r = Router::start();
    // An endpoint of another router: same address, a key this router never registered. Its CA
    // file is the other router's, so the client is pointed at this router's CA explicitly.
    let other = Router::start();
    let stranger = other.endpoint(A);
    std::fs::copy(r.dir().join("ca.crt.pem"), stranger.join("enf.cacert.pem")).expect("ca");
    // With TLS 1.3 the client may finish before the router has judged its certificate, so the
    // refusal can also arrive as the first read.
    let refused = match EnfClient::connect(&stranger, r.addr) {
        Err(_) => true,
        Ok(mut c) => c.heartbeat().is_err(),
    };
    assert!(refused, "an unregistered key got a session");
    // The readiness probe's connection also shows as dropped; wait for this one's reason.
    r.wait_log(
        &format!("invalid peer certificate: client {A} refused: unknown key"),
        Duration::from_secs(5),
    );
}

#[test]
fn the_reference_v1_vectors_work_as_a_client_identity_when_registered() {
    let r = Router::start();
    let vectors = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors");
    router_ok(&[
        "add-endpoint",
        utf8(&r.dir()),
        "fd008f80000100000000000000001234",
        "--public-key",
        utf8(&vectors.join("test.crt.pem")),
    ]);
    let ep = r.path("v1");
    std::fs::create_dir_all(&ep).expect("mkdir");
    let key = ep.join("test.key.pem");
    std::fs::copy(vectors.join("test.key.pem"), &key).expect("copy");
    std::fs::write(
        ep.join("enf0.conf"),
        format!(
            "remote : {{ hosts = [\"{}\"]; port = \"4443\"; ca_cert_file = \"{}\"; }};\n\
             identity : {{ cert_file = \"{}\"; key_file = \"test.key.pem\"; }};\n",
            r.addr.ip(),
            utf8(&r.dir().join("ca.crt.pem")),
            utf8(&vectors.join("test.crt.pem")),
        ),
    )
    .expect("conf");
    let mut c = EnfClient::connect(&ep, r.addr).expect("v1 client connects");
    assert_eq!(c.addr, addr("fd00:8f80:1::1234"));
    c.heartbeat().expect("heartbeat");
}

#[test]
fn a_thousand_concurrent_sessions_all_get_heartbeat_replies() {
    let r = Router::start();
    // 1,000 endpoints, each provisioned with its own key, connect and stay connected.
    let mut raise = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut raise);
        raise.rlim_cur = raise.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &raise);
    }
    let mut clients = Vec::new();
    for i in 0..1000u32 {
        let a = format!("fd00:8f80:3::{:x}", i + 1);
        let dir = r.endpoint(&a);
        clients.push(
            EnfClient::connect(&dir, r.addr)
                .unwrap_or_else(|e| panic!("session {i}: {e}\n{}", r.log())),
        );
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.heartbeat()
            .unwrap_or_else(|e| panic!("heartbeat {i}: {e}"));
    }
    // And all of them are still there after every one was answered.
    for c in clients.iter_mut().step_by(97) {
        c.heartbeat().expect("second round");
    }
}

#[test]
fn bad_peers_are_cut_off_and_cost_nobody_else_anything() {
    let r = Router::start();
    let (da, db) = (r.endpoint(A), r.endpoint(B));
    let mut healthy = EnfClient::connect(&db, r.addr).expect("B");

    // Garbage instead of a TLS handshake.
    let mut junk = TcpStream::connect(r.addr).expect("tcp");
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    r.wait_log(
        "refused or dropped before the handshake: TLS:",
        Duration::from_secs(5),
    );
    healthy.heartbeat().expect("B unaffected");

    // An oversize frame length ends that session only.
    let mut a = EnfClient::connect(&da, r.addr).expect("A");
    a.send_raw(&[0xff, 0xff, 0, 0]).expect("write");
    r.wait_log(
        "malformed stream: frame of 65535 bytes",
        Duration::from_secs(5),
    );
    healthy.heartbeat().expect("B unaffected");

    // Half a frame, then silence: cut off after the stall timeout.
    let mut a = EnfClient::connect(&da, r.addr).expect("A again");
    a.send_raw(&[0x00, 0x30, 0x60, 0x00]).expect("write");
    r.wait_log("stalled in the middle of a frame", Duration::from_secs(15));
    healthy.heartbeat().expect("B unaffected");

    // TCP, but never a handshake.
    let _silent = TcpStream::connect(r.addr).expect("tcp");
    r.wait_log("no TLS handshake within 10 s", Duration::from_secs(15));
    healthy.heartbeat().expect("B unaffected");

    // A packet that is not IP, and an IPv6 header whose length lies: dropped, session kept.
    let mut a = EnfClient::connect(&da, r.addr).expect("A once more");
    a.send(&[0x50; 60]).expect("send");
    let mut liar = ipv6_packet(addr(A), addr(B), b"xx");
    liar[5] = 200;
    a.send(&liar).expect("send");
    a.heartbeat().expect("A kept after bad packets");
}

#[test]
fn list_and_remove_endpoint_including_a_connected_one() {
    let r = Router::start();
    let (da, _db) = (r.endpoint(A), r.endpoint(B));
    let mut a = EnfClient::connect(&da, r.addr).expect("A");
    a.heartbeat().expect("heartbeat");
    let list = router_ok(&["list", utf8(&r.dir())]);
    let line = |who: &str| {
        list.lines()
            .find(|l| l.starts_with(who))
            .unwrap_or_else(|| panic!("{who} not listed:\n{list}"))
            .to_string()
    };
    assert!(line(A).ends_with("yes"), "{list}");
    assert!(line(B).ends_with("no"), "{list}");
    router_ok(&["remove-endpoint", utf8(&r.dir()), A]);
    r.wait_log(&format!("session end {A}"), Duration::from_secs(5));
    assert!(a.recv().is_err(), "A's session must be closed");
    assert!(EnfClient::connect(&da, r.addr)
        .and_then(|mut c| c.heartbeat().map_err(|e| e.to_string()))
        .is_err());
}

#[test]
fn sigterm_closes_sessions_cleanly_and_exits_zero() {
    let mut r = Router::start();
    let da = r.endpoint(A);
    let mut a = EnfClient::connect(&da, r.addr).expect("A");
    a.heartbeat().expect("heartbeat");
    assert_eq!(r.stop(), Some(0));
    let err = a.recv().expect_err("closed");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::UnexpectedEof,
        "close_notify, not a reset: {err}"
    );
}

#[test]
fn a_second_session_for_an_address_replaces_the_first_and_sigusr1_reports_counters() {
    let r = Router::start();
    let da = r.endpoint(A);
    let mut first = EnfClient::connect(&da, r.addr).expect("first");
    first.heartbeat().expect("heartbeat");
    let mut second = EnfClient::connect(&da, r.addr).expect("second");
    second.heartbeat().expect("the new session works");
    r.wait_log(&format!("session end {A}"), Duration::from_secs(5));
    assert!(r.log().contains("replaced by a new session"), "{}", r.log());
    assert!(first.recv().is_err(), "the old session must be closed");
    r.signal(libc::SIGUSR1);
    r.wait_log("1 sessions, 1 routed addresses", Duration::from_secs(5));
    r.wait_log(&format!("session {A} from"), Duration::from_secs(5));
}
