//! Production behaviour with the real binaries in namespaces: the tunnel-loss policies with the
//! router killed (what the service sees, what the probes and `enf-init status` say, the exit
//! code), and `/metrics` of enf-init and enf-router scraped by prometheus_client's parser with
//! values checked against traffic the test sent.

mod common;

use common::endpoint::Endpoint;
use common::router::Router;
use scraped::Json;
use std::time::{Duration, Instant};

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";
const PORT: &str = "9363";

/// Python with Debian's prometheus_client (`scripts/setup` installs it).
const PYTHON: &str = "/usr/bin/python3";

/// `scrape.py get` inside the endpoint's namespace: (HTTP status, body).
fn get(e: &Endpoint, path: &str) -> (u16, String) {
    let helper = common::helper("scrape.py");
    let url = format!("http://127.0.0.1:{PORT}{path}");
    let out = e.exec(&[PYTHON, helper.to_str().unwrap(), "get", &url]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "GET {url}: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, body) = text.split_once('\n').unwrap_or((&text, ""));
    (status.trim().parse().expect("status"), body.to_string())
}

/// The metrics page as parsed by prometheus_client: sample name{labels} -> value.
fn metrics(e: &Endpoint, port: &str) -> Json {
    let helper = common::helper("scrape.py");
    let url = format!("http://127.0.0.1:{port}/metrics");
    let out =
        e.ns.command(PYTHON)
            .args([helper.to_str().unwrap(), "metrics", &url])
            .output()
            .expect("python3");
    assert!(
        out.status.success(),
        "prometheus_client could not parse {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Json::parse(&String::from_utf8_lossy(&out.stdout))
}

/// Waits until `cond` holds, polling every 100 ms; panics with `what` after `limit`.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ping(from: &Endpoint, to: &str, count: &str) -> bool {
    from.exec(&[
        "ping", "-6", "-c", count, "-i", "0.2", "-s", "100", "-W", "2", to,
    ])
    .status
    .success()
}

const SERVICE: &[&str] = &[
    "sh",
    "-c",
    "trap 'echo got-term; exit 0' TERM; echo pid=$$; while :; do sleep 0.1; done",
];

#[test]
fn reconnect_keeps_the_container_healthy_while_readyz_follows_the_data_plane() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(&["--http", PORT], SERVICE);
    a.wait_stdout("pid=", Duration::from_secs(20));
    let pid = a.stdout();
    assert_eq!(get(&a, "/readyz").0, 200);
    assert_eq!(get(&a, "/livez"), (200, "alive: running\n".into()));
    assert_eq!(a.status(false).0, 0);

    r.stop();
    wait_until("/readyz to say 503", Duration::from_secs(10), || {
        get(&a, "/readyz").0 == 503
    });
    let (_, why) = get(&a, "/readyz");
    assert!(why.starts_with("not ready: the tunnel is "), "{why}");
    assert_eq!(get(&a, "/livez").0, 200, "the PID 1 loop answers");
    wait_until(
        "the status file to say down",
        Duration::from_secs(10),
        || {
            a.status(true).1.contains("\"state\": \"down\"")
                || a.status(true).1.contains("\"state\": \"connecting\"")
        },
    );
    let (code, text) = a.status(false);
    assert_eq!(
        code, 0,
        "reconnect: still healthy while reconnecting:\n{text}"
    );
    assert!(
        text.contains("and reconnecting (--on-tunnel-loss=reconnect)"),
        "{text}"
    );

    r.serve();
    wait_until("/readyz to say 200 again", Duration::from_secs(40), || {
        get(&a, "/readyz").0 == 200
    });
    assert_eq!(a.stdout(), pid, "the service kept running, untouched");
    assert!(a.is_running());
    let m = metrics(&a, PORT);
    assert!(m.num("enf_tunnel_reconnects_total") >= 1.0, "{m:?}");
    assert_eq!(m.num("enf_tunnel_ready"), 1.0);
    assert_eq!(m.num("enf_service_running"), 1.0);
}

#[test]
fn unready_reports_unhealthy_until_the_tunnel_is_back() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(&["--http", PORT, "--on-tunnel-loss", "unready"], SERVICE);
    a.wait_stdout("pid=", Duration::from_secs(20));
    assert_eq!(a.status(false).0, 0);
    r.stop();
    wait_until("enf-init status to fail", Duration::from_secs(10), || {
        a.status(false).0 == 1
    });
    let (_, text) = a.status(false);
    assert!(text.contains("(--on-tunnel-loss=unready)"), "{text}");
    assert_eq!(get(&a, "/readyz").0, 503);
    assert_eq!(get(&a, "/livez").0, 200);
    let m = metrics(&a, PORT);
    assert_eq!(m.num("enf_tunnel_healthy"), 0.0);
    assert!(m.num("enf_tunnel_down_seconds") > 0.0, "{m:?}");
    assert!(a.is_running(), "unready never stops the service");
    assert!(!a.stdout().contains("got-term"));
    r.serve();
    wait_until(
        "enf-init status to pass again",
        Duration::from_secs(40),
        || a.status(false).0 == 0,
    );
    assert_eq!(get(&a, "/readyz").0, 200);
}

#[test]
fn stop_ends_the_service_after_the_grace_and_exits_76_even_when_it_exits_0() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(
        &[
            "--http",
            PORT,
            "--on-tunnel-loss=stop",
            "--tunnel-loss-grace",
            "2",
        ],
        SERVICE,
    );
    a.wait_stdout("pid=", Duration::from_secs(20));
    r.stop();
    let lost = Instant::now();
    a.wait_log(
        "the tunnel is down: the service will be stopped unless it is back within 2.0s",
        Duration::from_secs(10),
    );
    assert_eq!(get(&a, "/readyz").0, 503);
    let code = a.wait(Duration::from_secs(20));
    let took = lost.elapsed();
    assert_eq!(
        code,
        76,
        "exit code after the tunnel was lost:\n{}",
        a.log()
    );
    assert!(
        a.stdout().contains("got-term"),
        "the service got SIGTERM:\n{}",
        a.stdout()
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "stopped {took:?} after the loss, with a 2 s grace"
    );
    let log = a.log();
    assert!(
        log.contains(
            "--on-tunnel-loss=stop, --tunnel-loss-grace 2.0s): stopping the service; exit code 76"
        ),
        "{log}"
    );
    let (code, json) = a.status(true);
    assert_eq!(code, 1);
    assert!(json.contains("\"state\": \"stopped\""), "{json}");
}

#[test]
fn stop_does_nothing_when_the_tunnel_is_back_within_the_grace() {
    let mut r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(
        &["--on-tunnel-loss=stop", "--tunnel-loss-grace", "30"],
        SERVICE,
    );
    a.wait_stdout("pid=", Duration::from_secs(20));
    r.stop();
    a.wait_log(
        "the service will be stopped unless it is back within 30.0s",
        Duration::from_secs(10),
    );
    r.serve();
    wait_until("health back", Duration::from_secs(30), || {
        a.status(false).0 == 0
    });
    assert!(a.is_running());
    assert!(!a.stdout().contains("got-term"));
    a.signal(libc::SIGTERM);
    assert_eq!(
        a.wait(Duration::from_secs(10)),
        0,
        "the service's own status on a normal stop"
    );
}

#[test]
fn metrics_count_the_traffic_the_test_sent_on_both_sides() {
    let mut r = Router::start();
    r.stop();
    r.serve_with(&["--http", "127.0.0.1:9364"]);
    let mut a = Endpoint::new(&r, A);
    let mut b = Endpoint::new(&r, B);
    a.start(&["--http", PORT], &[]);
    b.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(20));
    b.wait_log("tunnel up", Duration::from_secs(20));
    assert!(ping(&a, B, "1"), "{}", a.log());
    // Counters are published with the status file (every 2 s): let them settle first.
    std::thread::sleep(Duration::from_secs(3));
    let before = metrics(&a, PORT);
    let router_before = metrics_router(&r);

    const N: f64 = 20.0;
    // 100 bytes of payload: 8 ICMPv6 + 40 IPv6 = 148 bytes per packet.
    assert!(ping(&a, B, "20"), "{}", a.log());
    let mut after = before.clone();
    wait_until(
        "the counters to include the pings",
        Duration::from_secs(10),
        || {
            after = metrics(&a, PORT);
            after.num("enf_tunnel_transmit_packets_total")
                - before.num("enf_tunnel_transmit_packets_total")
                >= N
                && after.num("enf_tunnel_receive_packets_total")
                    - before.num("enf_tunnel_receive_packets_total")
                    >= N
        },
    );
    let d = |k: &str| after.num(k) - before.num(k);
    // Besides our pings, the kernel may send a few packets of its own (neighbour discovery,
    // MLD reports); heartbeats are not packets.
    for (k, per) in [
        ("enf_tunnel_transmit_packets_total", 1.0),
        ("enf_tunnel_receive_packets_total", 1.0),
        ("enf_tunnel_transmit_bytes_total", 148.0),
        ("enf_tunnel_receive_bytes_total", 148.0),
    ] {
        let got = d(k);
        assert!(
            got >= N * per && got <= (N + 5.0) * per.max(200.0),
            "{k} grew by {got} for {N} pings of 148 bytes"
        );
    }
    assert_eq!(after.kind("enf_tunnel_transmit_packets"), "counter");
    assert_eq!(after.kind("enf_tunnel_up"), "gauge");
    assert_eq!(after.num("enf_tunnel_state{state=up}"), 1.0);
    assert_eq!(after.num("enf_tunnel_state{state=down}"), 0.0);
    assert!(after.num("enf_tunnel_heartbeat_rtt_seconds") > 0.0);
    assert!(after.num("enf_tunnel_last_receive_age_seconds") < 10.0);
    assert!(after.num("process_resident_memory_bytes") > 100_000.0);
    assert_eq!(
        after.num("enf_service_running"),
        0.0,
        "--init-only runs no service"
    );

    let router_after = metrics_router(&r);
    let rd = |k: &str| router_after.num(k) - router_before.num(k);
    assert_eq!(router_after.num("enf_router_sessions"), 2.0);
    assert_eq!(router_after.num("enf_router_registered_endpoints"), 2.0);
    // The router sees A's 20 requests and B's 20 replies, and sends each on.
    assert!(rd("enf_router_receive_packets_total") >= 2.0 * N);
    assert!(rd("enf_router_transmit_packets_total") >= 2.0 * N);
    assert!(rd("enf_router_receive_bytes_total") >= 2.0 * N * 148.0);
    assert!(rd("enf_router_receive_bytes_total") <= 2.0 * (N + 5.0) * 200.0);
    assert_eq!(router_after.kind("enf_router_dropped_packets"), "counter");
}

/// The router's metrics, scraped from inside its namespace.
fn metrics_router(r: &Router) -> Json {
    let helper = common::helper("scrape.py");
    let out =
        r.ns.command(PYTHON)
            .args([
                helper.to_str().unwrap(),
                "metrics",
                "http://127.0.0.1:9364/metrics",
            ])
            .output()
            .expect("python3");
    assert!(
        out.status.success(),
        "prometheus_client could not parse the router's metrics: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Json::parse(&String::from_utf8_lossy(&out.stdout))
}

/// What scrape.py prints: `key<TAB>value` lines, `__type__NAME` for each family's type.
mod scraped {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    pub struct Json(BTreeMap<String, String>);

    impl Json {
        pub fn parse(text: &str) -> Json {
            Json(
                text.lines()
                    .filter_map(|l| l.split_once('\t'))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        }

        pub fn num(&self, key: &str) -> f64 {
            self.0
                .get(key)
                .unwrap_or_else(|| panic!("no sample {key} in {:?}", self.0.keys()))
                .parse()
                .expect("number")
        }

        pub fn kind(&self, family: &str) -> &str {
            self.0
                .get(&format!("__type__{family}"))
                .unwrap_or_else(|| panic!("no family {family}"))
        }
    }
}
