//! Fault injection: hostile and slow servers in place of the router (tests/common/hostile.rs).
//!
//! A server that finishes the TLS handshake and then says nothing, stalls inside a frame, sends
//! an oversize length or closes mid-frame: each ends the session with its own log line, enf-init
//! keeps running, never starts the service without a tunnel, keeps its memory, and waits longer
//! between attempts as they keep failing. A server that answers heartbeats but sends zero-length
//! frames, non-IP, IPv6 with a lying length, IPv4, or packets for another address: each packet is
//! dropped and counted, and the session and service carry on. (A server that accepts TCP and
//! never speaks TLS is tests/tunnel.rs; garbage and stalls against the router, tests/router_serve.rs.)

mod common;
mod fault_support;

use common::endpoint::Endpoint;
use common::hostile::{self, Behaviour, Hostile};
use common::router::{Router, PORT};
use fault_support::*;
use std::net::Ipv6Addr;
use std::time::Duration;

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";
/// Somebody else on the overlay, as the source of a packet the hostile server sends A.
const PEER: &str = "fd00:8f80:1::99";

fn addr(s: &str) -> Ipv6Addr {
    s.parse().expect("address")
}

/// A router directory and namespace with its server stopped, an endpoint provisioned for A with
/// 1 s heartbeats, and a hostile server in the router's place with the router's certificate.
fn hostile_setup(plan: Vec<Behaviour>) -> (Router, Endpoint, Hostile) {
    let mut r = Router::start();
    let a = Endpoint::new(&r, A);
    heartbeat(&a, 1000, 1000);
    assert_eq!(r.stop(), Some(0), "{}", r.log());
    let config = hostile::server_config(
        &r.dir().join("server.crt.pem"),
        &r.dir().join("server.key.pem"),
    );
    let h = Hostile::start(&r.ns.name, PORT, config, plan);
    (r, a, h)
}

#[test]
fn session_faults_each_end_the_session_with_their_own_line_and_the_back_off_grows() {
    let cycle = [
        Behaviour::SilentTls,
        Behaviour::HeaderThenStall,
        Behaviour::Oversize,
        Behaviour::CloseMidFrame,
    ];
    let plan: Vec<Behaviour> = cycle.iter().cycle().take(12).cloned().collect();
    let (_r, mut a, h) = hostile_setup(plan);
    a.start(&[], &["sh", "-c", "echo service-started; exec sleep 60"]);
    let pid = a.init_pid();

    h.wait_accepted(2, Duration::from_secs(20));
    let rss_early = vm_rss_kib(pid);
    // Nine connections: eight failed sessions, so eight back-off delays in the log.
    let accepted = h.wait_accepted(9, Duration::from_secs(90));
    let rss_late = vm_rss_kib(pid);
    let log = a.log();

    assert!(a.is_running(), "enf-init gave up:\n{log}");
    assert_no_panic(&log);
    assert_eq!(
        a.stdout(),
        "",
        "the service started without a tunnel:\n{log}"
    );
    assert_eq!(count_lines(&log, "tunnel up"), 0, "{log}");
    let (code, json) = a.status(true);
    assert_eq!(code, 1, "{json}");

    // Each fault names itself, and each distinct cause is a warning once, not once per attempt.
    let causes = [
        // Silence after the handshake, and a frame header with nothing after it.
        "lost: no heartbeat reply within 1000 ms (remote.heartbeat_timeout)",
        "lost: malformed stream: frame of 65535 bytes is longer than 1496",
        "lost: the peer closed the connection",
    ];
    for cause in causes {
        let all = count_lines(&log, cause);
        let warned = log
            .lines()
            .filter(|l| l.contains(cause) && l.contains(": warn: "))
            .count();
        assert!(all >= 2, "{all} lines with {cause:?}:\n{log}");
        assert_eq!(warned, 1, "{cause:?} warned {warned} times:\n{log}");
    }

    // Back-off: every delay under its ceiling, and the later ones longer than the first.
    let delays = logged_delays(&log);
    assert!(delays.len() >= 8, "{} delays:\n{log}", delays.len());
    for (n, d) in delays.iter().enumerate() {
        assert!(*d <= ceiling_ms(n), "delay {n}: {d} ms > {}", ceiling_ms(n));
    }
    let first: u64 = delays[..3].iter().sum();
    let last: u64 = delays[5..8].iter().sum();
    assert!(
        last > first,
        "the back-off did not grow: delays {delays:?} ms"
    );
    let gaps: Vec<u128> = accepted
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_millis())
        .collect();
    eprintln!("hostile sessions: back-off delays {delays:?} ms; connection spacing {gaps:?} ms");

    // Memory: nothing kept per failed session (a leaked 64 KiB decoder each would show).
    eprintln!(
        "hostile sessions: enf-init VmRSS {rss_early} KiB after 2 sessions, {rss_late} KiB after 9"
    );
    assert!(
        rss_late <= rss_early + 512,
        "enf-init grew from {rss_early} to {rss_late} KiB over 7 failed sessions"
    );
}

/// A server that answers heartbeats, then sends one of each bad packet and one good one: the
/// echo reply from A's kernel shows the session carried on. Returns the endpoint's log.
fn bad_packets_then_a_good_one() -> String {
    let mut bad_length = common::enf_client::ipv6_packet(addr(PEER), addr(A), b"xx");
    bad_length[5] = 200;
    let mut ipv4 = vec![0u8; 28];
    ipv4[0] = 0x45;
    ipv4[2..4].copy_from_slice(&28u16.to_be_bytes());
    let once = vec![
        vec![0, 0],
        hostile::framed(&[0x50; 60]),
        hostile::framed(&bad_length),
        hostile::framed(&ipv4),
        hostile::framed(&common::enf_client::ipv6_packet(
            addr(PEER),
            addr(B),
            b"not for A",
        )),
    ];
    // The good packet comes after every heartbeat reply: one lost while the address settles
    // does not fail the test.
    let every = vec![hostile::framed(&hostile::echo_request(
        addr(PEER),
        addr(A),
        0x4242,
        b"hello",
    ))];
    let (_r, mut a, h) = hostile_setup(vec![Behaviour::Answer { once, every }]);
    a.start(&[], &["sh", "-c", "echo service-started; exec sleep 60"]);
    a.wait_stdout("service-started", Duration::from_secs(20));
    h.wait_received(
        |p| hostile::is_echo_reply(p, 0x4242),
        Duration::from_secs(10),
    );
    // The status file is refreshed every 2 s.
    let mut json = String::new();
    wait_until("drops in the status file", Duration::from_secs(10), || {
        json = a.status(true).1;
        drop_count(&json, "not_our_address") > 0
    });
    for reason in [
        "empty",
        "unknown_version",
        "bad_length",
        "ipv4_not_allowed",
        "not_our_address",
    ] {
        assert_eq!(drop_count(&json, reason), 1, "{reason}: {json}");
    }
    let log = a.log();
    assert!(a.is_running(), "{log}");
    assert_no_panic(&log);
    assert_eq!(count_lines(&log, "tunnel up"), 1, "reconnected:\n{log}");
    assert_eq!(
        count_lines(&log, " lost: "),
        0,
        "the session dropped:\n{log}"
    );
    assert_eq!(a.status(false).0, 0, "{json}");
    drop(h);
    log
}

#[test]
fn bad_packets_from_the_server_are_dropped_and_counted_and_the_session_carries_on() {
    bad_packets_then_a_good_one();
}

#[test]
fn bad_packets_from_the_server_are_named_in_the_log() {
    let log = bad_packets_then_a_good_one();
    for reason in [
        "empty",
        "unknown_version",
        "bad_length",
        "ipv4_not_allowed",
        "not_our_address",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("drop") && l.contains(reason)),
            "no line names the drop {reason:?}:\n{log}"
        );
    }
}
