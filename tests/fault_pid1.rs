//! Fault injection: PID 1 under stress with the tunnel on.
//!
//! SIGTERM while start-up still waits for the tunnel (no router, or a server stuck in the TLS
//! handshake) ends enf-init at once with 143 and no service; a storm of 10,000 signals while
//! children come and go leaves the tunnel thread alone. (1,000 zombies at once, the storm
//! without a tunnel, a daemon that ignores SIGTERM, SIGTERM during hooks and a hanging hook are
//! tests/pid1_processes.rs and tests/pid1_start.rs.)

mod common;
mod fault_support;

use common::endpoint::Endpoint;
use common::hostile::{self, Behaviour, Hostile};
use common::router::{Router, PORT};
use fault_support::*;
use std::time::{Duration, Instant};

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";
/// The shell's status for SIGTERM (README's exit-code table: a stop before the service started).
const STOPPED_BY_SIGTERM: i32 = 143;

/// Sends SIGTERM to `a` and checks it ends promptly with 143, having started nothing.
fn sigterm_ends_start_up(mut a: Endpoint) -> Duration {
    let asked = Instant::now();
    a.signal(libc::SIGTERM);
    let code = a.wait(Duration::from_secs(10));
    let took = asked.elapsed();
    let log = a.log();
    assert_eq!(code, STOPPED_BY_SIGTERM, "{log}");
    assert_eq!(a.stdout(), "", "the service started:\n{log}");
    assert!(!log.contains("service sh started"), "{log}");
    assert_no_panic(&log);
    let (code, json) = a.status(true);
    assert_eq!(code, 1, "{json}");
    assert!(json.contains("\"stopped\""), "{json}");
    assert!(
        took < Duration::from_secs(2),
        "the stop took {took:?}:\n{log}"
    );
    took
}

#[test]
fn sigterm_while_the_router_is_unreachable_exits_at_once_without_a_service() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    assert_eq!(r.stop(), Some(0));
    a.start(&[], &["sh", "-c", "echo service-started; exec sleep 60"]);
    a.wait_log("cannot connect", Duration::from_secs(15));
    let took = sigterm_ends_start_up(a);
    eprintln!(
        "SIGTERM before the tunnel (no router): exit after {:.1} ms",
        took.as_secs_f64() * 1e3
    );
}

#[test]
fn sigterm_during_a_stalled_tls_handshake_exits_at_once_without_a_service() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    assert_eq!(r.stop(), Some(0));
    let config = hostile::server_config(
        &r.dir().join("server.crt.pem"),
        &r.dir().join("server.key.pem"),
    );
    let h = Hostile::start(&r.ns.name, PORT, config, vec![Behaviour::SilentTcp]);
    a.start(&[], &["sh", "-c", "echo service-started; exec sleep 60"]);
    h.wait_accepted(1, Duration::from_secs(15));
    // Well inside the 10 s handshake timeout.
    std::thread::sleep(Duration::from_millis(500));
    let took = sigterm_ends_start_up(a);
    eprintln!(
        "SIGTERM during a stalled handshake: exit after {:.1} ms",
        took.as_secs_f64() * 1e3
    );
}

#[test]
fn a_storm_of_ten_thousand_signals_leaves_the_tunnel_up() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    let mut b = Endpoint::new(&r, B);
    heartbeat(&a, 1000, 1000);
    b.start(&[], &[]);
    // The service counts what it gets and keeps forking short-lived children.
    a.start(
        &[],
        &[
            "sh",
            "-c",
            "u=0; trap 'u=$((u+1))' USR1 USR2 HUP WINCH; trap 'echo received=$u; exit 0' TERM; \
             echo ready; while :; do (true) & sleep 0.01; done",
        ],
    );
    a.wait_stdout("ready", Duration::from_secs(20));
    b.wait_log("tunnel up", Duration::from_secs(15));
    wait_until("an overlay ping", Duration::from_secs(10), || {
        a.exec(&["ping", "-6", "-c", "1", "-W", "1", B])
            .status
            .success()
    });
    let pid = a.init_pid() as i32;
    let kinds = [libc::SIGUSR1, libc::SIGUSR2, libc::SIGHUP, libc::SIGWINCH];
    let storm = Instant::now();
    for i in 0..10_000usize {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, kinds[i % kinds.len()]) };
    }
    let sent = storm.elapsed();
    // Several heartbeat periods after the storm: the session must not have noticed.
    let ping = a.exec(&["ping", "-6", "-c", "5", "-i", "0.5", "-W", "1", B]);
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let log = a.log();
    assert_eq!(
        count_lines(&log, "tunnel up"),
        1,
        "the tunnel went down:\n{log}"
    );
    assert_eq!(count_lines(&log, " lost: "), 0, "{log}");
    assert_eq!(a.status(false).0, 0, "{log}");
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait(Duration::from_secs(10)), 0, "{}", a.log());
    let received: u64 = a
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("received="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count: {:?}", a.stdout()));
    assert!(received > 0 && received <= 10_000, "{received}");
    eprintln!(
        "signal storm with the tunnel up: 10,000 signals sent in {:.0} ms, {received} reached the \
         service, tunnel never down",
        sent.as_secs_f64() * 1e3
    );
}
