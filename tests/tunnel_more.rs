//! More of enf-init's tunnel against enf-router, in network namespaces: `default` routes with the
//! router reached over IPv4 and over IPv6, a wrong CA, a frozen router under bulk traffic,
//! throughput and start-up figures for the note, `--init-only`, and CAP_NET_ADMIN kept from the
//! service. Every test builds its own namespaces (dropped by the harness, also on failure).

mod common;

use common::children;
use common::endpoint::Endpoint;
use common::netns::Netns;
use common::router::Router;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";
const IPERF_PORT: &str = "5201";
const CAP_NET_ADMIN_BIT: u32 = 12;
const CAP_NET_RAW_BIT: u32 = 13;

/// Fails the test, naming the program, unless it is on PATH.
fn require_tool(name: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join(name).is_file());
    assert!(found, "this test needs `{name}` on PATH; install it");
}

/// Heartbeat every second, dead after one more second without anything received.
fn fast_heartbeat(ep: &Endpoint) {
    ep.edit_conf(&[
        ("heartbeat_period = 300000;", "heartbeat_period = 1000;"),
        ("heartbeat_timeout = 10000;", "heartbeat_timeout = 1000;"),
    ]);
}

/// Runs `argv` in `ns`; its stdout, or a failure with both streams.
fn ns_out(ns: &Netns, argv: &[&str]) -> String {
    let out = ns
        .command(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("ip netns exec {}: {e}", argv[0]));
    assert!(
        out.status.success(),
        "{argv:?} in {}: {}{}",
        ns.name,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ping(from: &Endpoint, to: &str) -> bool {
    from.exec(&["ping", "-6", "-c", "1", "-W", "2", to])
        .status
        .success()
}

/// Pings until one answer comes (a fresh overlay route may take a moment on the far side).
fn ping_within(from: &Endpoint, to: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !ping(from, to) {
        assert!(
            Instant::now() < deadline,
            "no overlay ping from {} to {to} within {limit:?}:\n{}",
            from.address,
            from.log()
        );
    }
}

fn running(ep: &mut Endpoint) -> bool {
    ep.is_running()
}

/// The host pid of the endpoint's enf-init (PID 1 of its own PID namespace).
fn init_pid(ep: &Endpoint) -> u32 {
    ep.init_pid()
}

/// The hex mask of `field` (CapEff, CapBnd, ...) in a /proc/PID/status text.
fn cap_mask(status: &str, field: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in:\n{status}"));
    let hex = line.split_whitespace().nth(1).expect("mask");
    u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

/// The rules `ip -6 rule` prints, one per line, whitespace collapsed.
fn ip6_rules(ns: &Netns) -> Vec<String> {
    ns_out(ns, &["ip", "-6", "rule"])
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The interface that holds `addr` in `ns`.
fn ifname_with(ns: &Netns, addr: &str) -> String {
    let text = ns_out(ns, &["ip", "-o", "addr", "show"]);
    text.lines()
        .find(|l| l.contains(&format!(" {addr}/")))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no interface with {addr} in {}:\n{text}", ns.name))
        .to_string()
}

/// A process killed (and its namespace's program with it) when the test ends, also on failure.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something in `ns` listens on TCP `port`.
fn wait_listening(ns: &Netns, port: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let text = ns_out(ns, &["ss", "-Hltn", &format!("sport = :{port}")]);
        if !text.trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port} in {}",
            ns.name
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `iperf3 -s -1 -B bind` in `ns`, once it listens.
fn iperf_server(ns: &Netns, bind: &str) -> Reaped {
    require_tool("iperf3");
    require_tool("ss");
    let child = ns
        .command("iperf3")
        .args(["-s", "-1", "-B", bind, "-p", IPERF_PORT])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 -s");
    let server = Reaped(child);
    wait_listening(ns, IPERF_PORT, Duration::from_secs(10));
    server
}

/// `iperf3 -c to -t secs -J` in `ns`: the receiver's bits per second.
fn iperf_client_bps(ns: &Netns, to: &str, secs: u32) -> f64 {
    let json = ns_out(
        ns,
        &[
            "iperf3",
            "-c",
            to,
            "-p",
            IPERF_PORT,
            "-t",
            &secs.to_string(),
            "-J",
        ],
    );
    received_bps(&json).unwrap_or_else(|| panic!("no end.sum_received in iperf3 output:\n{json}"))
}

/// `end.sum_received.bits_per_second` of iperf3's JSON, without a JSON library.
fn received_bps(json: &str) -> Option<f64> {
    let at = json.find("\"sum_received\"")?;
    let rest = &json[at..];
    let key = "\"bits_per_second\":";
    let rest = rest[rest.find(key)? + key.len()..].trim_start();
    let end = rest.find([',', '\n', '}'])?;
    rest[..end].trim().parse().ok()
}

/// An address as `ss` filters take it: IPv6 in brackets.
fn bracketed(addr: &str) -> String {
    if addr.contains(':') {
        format!("[{addr}]")
    } else {
        addr.to_string()
    }
}

/// Send-Q (bytes) of the TCP connections from `ns` to `peer`, summed.
fn send_queue(ns: &Netns, peer: &str) -> u64 {
    ns_out(ns, &["ss", "-Htn", "dst", &bracketed(peer)])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
        .sum()
}

/// Polls `enf-init status` every 20 ms until it exits 0; the time since `started`.
fn time_to_status_up(ep: &Endpoint, started: Instant, limit: Duration) -> Duration {
    loop {
        if ep.status(false).0 == 0 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "status never said up within {limit:?}:\n{}",
            ep.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls the service's stdout every 20 ms until it holds `text`; the time since `started`.
fn time_to_stdout(ep: &Endpoint, text: &str, started: Instant, limit: Duration) -> Duration {
    loop {
        if ep.stdout().contains(text) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "service never printed {text:?} within {limit:?}:\n{}",
            ep.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that the session stayed up for `span` of fast heartbeats: one "tunnel up", no loss.
fn stays_up(ep: &mut Endpoint, span: Duration) {
    std::thread::sleep(span);
    let log = ep.log();
    assert!(running(ep), "enf-init ended:\n{log}");
    assert_eq!(log.matches("tunnel up").count(), 1, "reconnected:\n{log}");
    assert!(!log.contains("lost"), "the session dropped:\n{log}");
    assert!(!log.contains("no heartbeat reply"), "{log}");
    let (code, text) = ep.status(false);
    assert_eq!(code, 0, "status not up:\n{text}\n{log}");
}

#[test]
fn default_route_with_the_router_over_ipv4_goes_in_main_and_keeps_the_tunnel_up() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    let mut b = Endpoint::new(&r, B);
    a.edit_conf(&[(
        "prefixes = [ \"fc00::/7\" ];",
        "prefixes = [ \"default\" ];",
    )]);
    fast_heartbeat(&a);
    b.start(&[], &[]);
    a.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    b.wait_log("tunnel up", Duration::from_secs(15));

    // fwmark 0 and an IPv4 server: a plain default route in main, no policy rules.
    let main = ns_out(&a.ns, &["ip", "-6", "route", "show", "table", "main"]);
    assert!(
        main.lines().any(|l| l.starts_with("default dev enf0")),
        "no default through enf0 in main:\n{main}"
    );
    let all = ns_out(&a.ns, &["ip", "-6", "route", "show", "table", "all"]);
    assert!(
        !all.contains("table 2097"),
        "a policy table although the server is IPv4:\n{all}"
    );
    let rules = ip6_rules(&a.ns);
    assert!(
        !rules
            .iter()
            .any(|l| l.contains("fwmark") || l.contains("2097")),
        "policy rules although no mark is needed:\n{rules:#?}"
    );
    // Any IPv6 destination now leaves through the tunnel (a lookup, no traffic).
    let get = ns_out(&a.ns, &["ip", "-6", "route", "get", "2001:db8::1"]);
    assert!(get.contains("dev enf0"), "{get}");

    ping_within(&a, B, Duration::from_secs(5));
    ping_within(&b, A, Duration::from_secs(5));
    stays_up(&mut a, Duration::from_secs(4));
    assert!(ping(&a, B), "{}", a.log());
}

/// An endpoint that reaches the router at its IPv6 underlay address on the link, with `default`.
fn ipv6_default_endpoint(r: &Router, address: &str) -> (Endpoint, String) {
    let a = Endpoint::new(r, address);
    let (router6, _) =
        a.ns.ip6_pair()
            .expect("a child namespace has IPv6 underlay addresses");
    a.edit_conf(&[
        (
            &format!("hosts = [ \"{}\" ];", a.ns.host_ip),
            &format!("hosts = [ \"{router6}\" ];"),
        ),
        (
            "prefixes = [ \"fc00::/7\" ];",
            "prefixes = [ \"default\" ];",
        ),
    ]);
    fast_heartbeat(&a);
    (a, router6)
}

/// Checks the policy routing of `default` for an IPv6 server with fwmark 0 in the file: the
/// reference's mark 363 (0x16b), wg-quick's two rules, and the default route in table 2097.
fn assert_policy_routing(ns: &Netns) {
    let rules = ip6_rules(ns);
    let has = |want: &str| rules.iter().any(|l| l.ends_with(want));
    assert!(
        has("32762: from all lookup main suppress_prefixlength 0"),
        "{rules:#?}"
    );
    assert!(
        has("32763: not from all fwmark 0x16b lookup 2097"),
        "{rules:#?}"
    );
    let t = ns_out(ns, &["ip", "-6", "route", "show", "table", "2097"]);
    assert!(
        t.lines().any(|l| l.starts_with("default dev enf0")),
        "no default through enf0 in table 2097:\n{t}"
    );
    let main = ns_out(ns, &["ip", "-6", "route", "show", "table", "main"]);
    assert!(
        !main.lines().any(|l| l.starts_with("default dev enf0")),
        "the tunnel's default is in main, where it captures everything:\n{main}"
    );
}

/// The tunnel socket's mark, from `ss -e` in the endpoint's namespace (0 when none).
fn tunnel_socket_mark(ns: &Netns, router: &str) -> String {
    let text = ns_out(ns, &["ss", "-Htne", "dst", &bracketed(router)]);
    let line = text
        .lines()
        .find(|l| l.starts_with("ESTAB"))
        .unwrap_or_else(|| panic!("no established connection to {router}:\n{text}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("fwmark:"))
        .unwrap_or("0")
        .to_string()
}

#[test]
fn default_route_with_the_router_over_ipv6_does_not_capture_the_tunnel_connection() {
    let r = Router::start();
    let (mut a, router6) = ipv6_default_endpoint(&r, A);
    let mut b = Endpoint::new(&r, B);
    b.start(&[], &[]);
    a.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    b.wait_log("tunnel up", Duration::from_secs(15));
    assert!(
        a.log().contains(&format!("[{router6}]:4443")),
        "not connected over IPv6:\n{}",
        a.log()
    );
    assert_policy_routing(&a.ns);
    assert_eq!(tunnel_socket_mark(&a.ns, &router6), "0x16b");

    ping_within(&a, B, Duration::from_secs(5));
    ping_within(&b, A, Duration::from_secs(5));
    // Several heartbeats (1 s period, 1 s timeout): a captured connection would die here.
    stays_up(&mut a, Duration::from_secs(4));
    assert!(ping(&a, B), "{}", a.log());
}

/// The router's service address, off-link for the endpoints (the router listens on [::]).
const ROUTER6_OFF_LINK: &str = "fdee:ffff::1";

/// An endpoint that reaches the router through an IPv6 default gateway, as a real host reaches
/// the ENF: the router gets `ROUTER6_OFF_LINK` on its loopback, the endpoint a default route via
/// its link's parent end, and the config `hosts = [ host ]` and `default`. Returns the gateway.
fn endpoint_behind_ipv6_gateway(r: &Router, address: &str, host: &str) -> (Endpoint, String) {
    let a = Endpoint::new(r, address);
    let (gateway6, _) = a.ns.ip6_pair().expect("IPv6 underlay");
    let lo_addr = format!("{ROUTER6_OFF_LINK}/128");
    r.ns.exec_ok(&["ip", "-6", "addr", "replace", &lo_addr, "dev", "lo"]);
    a.ns.exec_ok(&["ip", "-6", "route", "add", "default", "via", &gateway6]);
    a.edit_conf(&[
        (
            &format!("hosts = [ \"{}\" ];", a.ns.host_ip),
            &format!("hosts = [ \"{host}\" ];"),
        ),
        (
            "prefixes = [ \"fc00::/7\" ];",
            "prefixes = [ \"default\" ];",
        ),
    ]);
    fast_heartbeat(&a);
    (a, gateway6)
}

/// Starts `a` (set up by `endpoint_behind_ipv6_gateway`) and B, and checks that only the
/// tunnel's own (marked) connection stays on the gateway, that the overlay works and the session
/// lasts.
fn check_default_behind_gateway(r: &Router, mut a: Endpoint, gateway6: &str) {
    let mut b = Endpoint::new(r, B);
    b.start(&[], &[]);
    a.start(&[], &[]);
    b.wait_log("tunnel up", Duration::from_secs(15));
    a.wait_log("tunnel up", Duration::from_secs(15));
    assert_policy_routing(&a.ns);
    let main = ns_out(&a.ns, &["ip", "-6", "route", "show", "table", "main"]);
    assert!(
        main.contains(&format!("default via {gateway6}")),
        "the underlay default route is gone:\n{main}"
    );
    let route_get = |extra: &[&str]| {
        let mut argv = vec!["ip", "-6", "route", "get", ROUTER6_OFF_LINK];
        argv.extend_from_slice(extra);
        ns_out(&a.ns, &argv)
    };
    let marked = route_get(&["mark", "0x16b"]);
    assert!(!marked.contains("dev enf0"), "{marked}");
    let unmarked = route_get(&[]);
    assert!(unmarked.contains("dev enf0"), "{unmarked}");
    assert_eq!(tunnel_socket_mark(&a.ns, ROUTER6_OFF_LINK), "0x16b");

    ping_within(&a, B, Duration::from_secs(5));
    stays_up(&mut a, Duration::from_secs(4));
    assert!(ping(&a, B), "{}", a.log());
}

/// As above, but the router is not on the link: only the policy rules keep the tunnel's own
/// connection on the gateway while every other IPv6 packet goes into the tunnel. (On the link,
/// the connected /64 beats any default route, so the test above would pass without them.)
#[test]
fn default_route_with_the_router_behind_an_ipv6_gateway_keeps_the_tunnel_on_the_gateway() {
    let r = Router::start();
    let (a, gateway6) = endpoint_behind_ipv6_gateway(&r, A, ROUTER6_OFF_LINK);
    check_default_behind_gateway(&r, a, &gateway6);
}

/// `/etc/netns/NAME/hosts`, which `ip netns exec NAME` mounts over /etc/hosts; removed on drop.
struct NetnsHosts(std::path::PathBuf);

impl NetnsHosts {
    fn write(ns: &Netns, lines: &str) -> NetnsHosts {
        let dir = Path::new("/etc/netns").join(&ns.name);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let file = dir.join("hosts");
        std::fs::write(
            &file,
            format!("127.0.0.1 localhost\n::1 localhost\n{lines}"),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        NetnsHosts(dir)
    }
}

impl Drop for NetnsHosts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // Only if empty: someone else's namespaces may have files there.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// The same with the router named in `remote.hosts` (names are resolved at each attempt) and
/// the name resolving to its IPv6 address: the server is reached over IPv6 all the same, so its
/// connection must be kept out of the tunnel's default route.
#[test]
fn default_route_with_the_router_named_and_resolving_to_ipv6_keeps_the_tunnel_on_the_gateway() {
    let r = Router::start();
    let name = "enf-router.test";
    let (a, gateway6) = endpoint_behind_ipv6_gateway(&r, A, name);
    let _hosts = NetnsHosts::write(&a.ns, &format!("{ROUTER6_OFF_LINK} {name}\n"));
    let resolved = ns_out(&a.ns, &["getent", "ahostsv6", name]);
    assert!(resolved.contains(ROUTER6_OFF_LINK), "{resolved}");
    check_default_behind_gateway(&r, a, &gateway6);
}

#[test]
fn a_wrong_ca_is_named_clearly_retried_with_back_off_and_the_service_never_starts() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    let real_enf_ca =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/enf.cacert.pem");
    std::fs::copy(&real_enf_ca, a.dir.join("enf.cacert.pem"))
        .unwrap_or_else(|e| panic!("{}: {e}", real_enf_ca.display()));
    a.start(&[], &["sh", "-c", "echo service-started; exec sleep 60"]);
    let started = Instant::now();
    a.wait_log("is not signed by a configured CA", Duration::from_secs(15));
    std::thread::sleep(Duration::from_secs(6).saturating_sub(started.elapsed()));
    let log = a.log();
    assert!(running(&mut a), "enf-init gave up:\n{log}");
    assert_eq!(a.stdout(), "", "the service started:\n{log}");
    assert!(!log.contains("panicked"), "{log}");

    // The line names the server's certificate and the issuer it was looking for.
    let problem: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("is not signed by a configured CA"))
        .collect();
    let warned: Vec<&&str> = problem.iter().filter(|l| l.contains(": warn: ")).collect();
    assert_eq!(warned.len(), 1, "one warning per cause:\n{log}");
    let line = warned[0];
    assert!(
        line.contains("TLS handshake failed")
            && line.contains("server certificate CN=")
            && line.contains("(issuer CN="),
        "{line}"
    );

    // Back-off: several attempts, each waiting no longer than its ceiling (100 ms doubling to
    // 30 s), and nowhere near a tight loop in 6 s.
    let delays: Vec<u64> = log
        .lines()
        .filter_map(|l| l.split("next attempt in ").nth(1))
        .filter_map(|rest| rest.trim_end_matches(" ms").trim().parse().ok())
        .collect();
    assert!(
        delays.len() >= 4 && delays.len() <= 40,
        "{} attempts in 6 s:\n{log}",
        delays.len()
    );
    for (n, d) in delays.iter().enumerate() {
        let ceiling = (100u64 << n.min(20)).min(30_000);
        assert!(
            *d <= ceiling,
            "attempt {n} waited {d} ms > {ceiling}:\n{log}"
        );
    }
    assert!(
        problem.len() >= delays.len(),
        "every attempt failed on the CA:\n{log}"
    );
    let (code, json) = a.status(true);
    assert_eq!(code, 1, "{json}");
    assert!(json.contains("is not signed by a configured CA"), "{json}");
}

#[test]
fn a_frozen_router_is_detected_within_period_plus_timeout_while_bulk_traffic_fills_the_send_path() {
    require_tool("iperf3");
    require_tool("ss");
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    let mut b = Endpoint::new(&r, B);
    fast_heartbeat(&b);
    a.start(&[], &[]);
    b.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    b.wait_log("tunnel up", Duration::from_secs(15));
    ping_within(&b, A, Duration::from_secs(5));

    // UDP at full speed, B to A: a TCP flow would stop by itself once the frozen router stops
    // carrying A's ACKs back (its window drains into the router's receive buffer and nothing
    // more comes), so only a sender that ignores the far end keeps the send path full.
    let _server = iperf_server(&a.ns, A);
    let client =
        b.ns.command("iperf3")
            .args([
                "-c", A, "-p", IPERF_PORT, "-t", "30", "-u", "-b", "0", "-l", "1200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("iperf3 -c");
    let _client = Reaped(client);
    std::thread::sleep(Duration::from_secs(1));
    let log = b.log();
    assert!(
        !log.contains("no heartbeat reply"),
        "died before the freeze:\n{log}"
    );

    /// Wakes the router however the test ends.
    struct Thaw<'a>(&'a Router);
    impl Drop for Thaw<'_> {
        fn drop(&mut self) {
            self.0.signal(libc::SIGCONT);
        }
    }
    let thaw = Thaw(&r);
    r.signal(libc::SIGSTOP);
    let frozen = Instant::now();
    std::thread::sleep(Duration::from_millis(700));
    // The send path is full: the tunnel's socket holds bytes the router does not take.
    let queued = send_queue(&b.ns, &b.ns.host_ip);
    b.wait_log("no heartbeat reply within 1000 ms", Duration::from_secs(10));
    let took = frozen.elapsed();
    assert!(
        queued >= 64 * 1024,
        "the send path was not full: Send-Q {queued} bytes"
    );
    assert!(
        took < Duration::from_millis(4000),
        "detected after {took:?} (period 1 s + timeout 1 s)"
    );
    eprintln!("frozen router detected after {took:?} with {queued} bytes in Send-Q");

    // Thawed, the router takes B back, with the UDP flood still running.
    drop(thaw);
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.log().matches("tunnel up").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "B never came back after the thaw:\n{}",
            b.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(running(&mut b), "{}", b.log());
}

#[test]
fn overlay_and_underlay_throughput_printed_side_by_side() {
    require_tool("iperf3");
    let r = Router::start();
    let (a, b) = Endpoint::pair(&r, A, B);
    ping_within(&a, B, Duration::from_secs(5));

    // Overlay: A to B through both tunnels and the router, TCP, 5 s.
    let server = iperf_server(&b.ns, B);
    let overlay = iperf_client_bps(&a.ns, B, 5);
    drop(server);

    // Underlay: A's namespace to the router's over their veth, with the overlay's MTU.
    let a_if = ifname_with(&a.ns, &a.ns.ns_ip);
    let r_if = ifname_with(&r.ns, &a.ns.host_ip);
    a.ns.exec_ok(&["ip", "link", "set", &a_if, "mtu", "1280"]);
    r.ns.exec_ok(&["ip", "link", "set", &r_if, "mtu", "1280"]);
    let server = iperf_server(&r.ns, &a.ns.host_ip);
    let underlay = iperf_client_bps(&a.ns, &a.ns.host_ip, 5);
    drop(server);

    assert!(overlay > 0.0, "overlay iperf3 reported {overlay}");
    assert!(underlay > 0.0, "underlay iperf3 reported {underlay}");
    eprintln!(
        "throughput: overlay A->B {:.2} Gbit/s, underlay veth (MTU 1280) {:.2} Gbit/s, \
         overlay/underlay {:.2}",
        overlay / 1e9,
        underlay / 1e9,
        overlay / underlay
    );

    // Start-up: to `status` up with the tunnel, against plain init with --no-tunnel.
    let service = ["sh", "-c", "echo service-started; exec sleep 60"];
    let mut c = Endpoint::new(&r, "fd00:8f80:1::c");
    let started = Instant::now();
    c.start(&[], &service);
    let up = time_to_status_up(&c, started, Duration::from_secs(15));
    let service_up = time_to_stdout(&c, "service-started", started, Duration::from_secs(15));
    let mut d = Endpoint::new(&r, "fd00:8f80:1::d");
    let started = Instant::now();
    d.start(&["--no-tunnel"], &service);
    let plain = time_to_stdout(&d, "service-started", started, Duration::from_secs(15));
    eprintln!(
        "start-up: status up after {:.1} ms (service started after {:.1} ms); \
         --no-tunnel service started after {:.1} ms",
        up.as_secs_f64() * 1e3,
        service_up.as_secs_f64() * 1e3,
        plain.as_secs_f64() * 1e3
    );
    assert!(running(&mut c) && running(&mut d));
}

#[test]
fn init_only_brings_the_tunnel_up_starts_nothing_and_stops_cleanly() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    let mut b = Endpoint::new(&r, B);
    let no_hooks = r.path("no-hooks");
    b.start(&[], &[]);
    a.start(&["--hooks-dir", no_hooks.to_str().expect("utf-8")], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    b.wait_log("tunnel up", Duration::from_secs(15));
    let (code, text) = a.status(false);
    assert_eq!(code, 0, "{text}\n{}", a.log());
    ping_within(&b, A, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    let pid = init_pid(&a);
    assert_eq!(children(pid), Vec::<u32>::new(), "something was started");
    assert_eq!(a.stdout(), "");

    a.signal(libc::SIGTERM);
    let code = a.wait(Duration::from_secs(10));
    assert_eq!(code, 0, "{}", a.log());
    let (code, json) = a.status(true);
    assert_eq!(code, 1, "{json}");
    assert!(json.contains("\"stopped\""), "{json}");
}

#[test]
fn the_service_does_not_inherit_cap_net_admin_that_enf_init_used_for_the_device() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(
        &[],
        &["sh", "-c", "grep ^Cap /proc/self/status; exec sleep 60"],
    );
    let out = a.wait_stdout("CapAmb", Duration::from_secs(20));
    let admin = 1u64 << CAP_NET_ADMIN_BIT;
    for field in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            cap_mask(&out, field) & admin,
            0,
            "{field} of the service has CAP_NET_ADMIN:\n{out}"
        );
    }
    // Not a service stripped of everything: NET_RAW (ping) stays.
    assert_ne!(
        cap_mask(&out, "CapEff") & (1 << CAP_NET_RAW_BIT),
        0,
        "{out}"
    );

    // enf-init itself has it, and used it: enf0 is up with the endpoint's address.
    let own = std::fs::read_to_string(format!("/proc/{}/status", init_pid(&a))).expect("status");
    assert_ne!(cap_mask(&own, "CapEff") & admin, 0, "{own}");
    let dev = ns_out(&a.ns, &["ip", "-6", "addr", "show", "dev", "enf0"]);
    assert!(
        dev.contains(&format!("{A}/128")) && dev.contains("UP"),
        "{dev}"
    );
    assert!(running(&mut a), "{}", a.log());
}
