//! The tun device and its configuration against the real kernel, each test in a network
//! namespace of its own (`ip netns add enftun-<pid>-<n>`, deleted on drop, also on failure).
//!
//! The code under test runs in a fresh thread that joined the namespace with setns(2), which
//! moves only that thread; results are checked from outside with the real `ip -n NS`. Only
//! addresses inside the namespace are used, and no packet leaves it. These tests need root and
//! fail, saying so, without it.

use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use enf_init::config::Prefix;
use enf_init::tunnel::netcfg::{self, Applied, Plan};
use enf_init::tunnel::tun::{self, Tun};

const OURS: &str = "fd00:8f80:1::1234";
const PEER: &str = "fd00::99";
const CLONE_DEVICE: &str = "/dev/net/tun";
const PATIENCE: Duration = Duration::from_secs(3);

static NEXT: AtomicU32 = AtomicU32::new(0);

struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "this test needs root (network namespaces, tun devices)"
        );
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("enftun-{}-{n}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        Netns { name }
    }

    /// `f` in a new thread inside the namespace; its panic is the test's.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = Path::new("/run/netns").join(&self.name);
        let thread = std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).expect("namespace file");
            // SAFETY: setns on an open namespace fd; it changes only this thread's namespace.
            let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        });
        thread
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// `ip -n NS ARGS...`: its output; the test fails if it does.
    fn ip(&self, args: &[&str]) -> String {
        run_ok(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    fn ip_fails(&self, args: &[&str]) -> bool {
        let out = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .output()
            .unwrap();
        !out.status.success()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("ip (iproute2) must be installed");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn plan(prefixes: &[&str], fwmark: u32, server_is_ipv6: bool, trusted: &[&str]) -> Plan {
    Plan {
        ifname: "enf0".into(),
        address: OURS.parse().unwrap(),
        mtu: 1280,
        prefixes: prefixes
            .iter()
            .map(|p| p.parse::<Prefix>().unwrap())
            .collect(),
        fwmark,
        table: 2097,
        server_is_ipv6,
        trusted_interfaces: trusted.iter().map(|s| s.to_string()).collect(),
    }
}

/// Opens enf0 and configures it twice (as a reconnect would) inside `ns`.
fn bring_up(ns: &Netns, plan: Plan) -> (Tun, Applied) {
    ns.run(move || {
        let tun = Tun::open(Path::new(CLONE_DEVICE), "enf0").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tun.name(), "enf0");
        let first = netcfg::configure(&plan).unwrap_or_else(|e| panic!("{e}"));
        let again = netcfg::configure(&plan).unwrap_or_else(|e| panic!("second run: {e}"));
        assert_eq!(first, again);
        (tun, first)
    })
}

/// An underlay with an IPv6 default route, as a container on an IPv6 network has.
fn underlay(ns: &Netns) {
    ns.ip(&["link", "add", "ul0", "type", "veth", "peer", "name", "ul1"]);
    ns.ip(&["link", "set", "ul0", "up"]);
    ns.ip(&["link", "set", "ul1", "up"]);
    ns.ip(&["-6", "addr", "add", "fd01::1/64", "dev", "ul0", "nodad"]);
    ns.ip(&[
        "-6", "route", "add", "default", "via", "fd01::2", "dev", "ul0",
    ]);
}

fn rules(ns: &Netns) -> Vec<String> {
    ns.ip(&["-6", "rule"])
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn device_address_and_prefix_routes() {
    let ns = Netns::new();
    let p = plan(&["fd00::/8", "2607:8f80:8000::/36"], 0, true, &[]);
    let (tun, applied) = bring_up(&ns, p);
    assert_eq!(applied.fwmark, 0, "no default route: no mark needed");

    let link = ns.ip(&["link", "show", "dev", "enf0"]);
    assert!(link.contains("mtu 1280"), "{link}");
    assert!(link.contains(",UP,"), "{link}");
    let addr = ns.ip(&["-6", "addr", "show", "dev", "enf0"]);
    assert!(
        addr.contains(&format!("inet6 {OURS}/128 scope global nodad")),
        "{addr}"
    );
    assert!(!addr.contains("tentative"), "{addr}");
    let routes = ns.ip(&["-6", "route", "show", "table", "all"]);
    assert_eq!(count(&routes, "fd00::/8 dev enf0"), 1, "{routes}");
    assert_eq!(
        count(&routes, "2607:8f80:8000::/36 dev enf0"),
        1,
        "{routes}"
    );
    assert_eq!(
        rules(&ns),
        ["0: from all lookup local", "32766: from all lookup main"]
    );

    let usable = ns.run(|| {
        let ours = netcfg::address_usable("enf0", OURS.parse().unwrap()).unwrap();
        let other = netcfg::address_usable("enf0", PEER.parse().unwrap()).unwrap();
        let missing = netcfg::address_usable("nope0", OURS.parse().unwrap()).unwrap_err();
        (ours, other, missing.to_string())
    });
    assert_eq!(
        usable,
        (
            true,
            false,
            "finding interface nope0: no such device".into()
        )
    );
    drop(tun);
}

#[test]
fn default_with_a_mark_spares_the_tunnel_connection() {
    let ns = Netns::new();
    underlay(&ns);
    let (_tun, applied) = bring_up(&ns, plan(&["default"], 363, true, &["ul0"]));
    assert_eq!(applied.fwmark, 363);
    assert_eq!(
        rules(&ns),
        [
            "0: from all lookup local",
            "32761: from all oif ul0 lookup main",
            "32761: from all iif ul0 lookup main",
            "32762: from all lookup main suppress_prefixlength 0",
            "32763: not from all fwmark 0x16b lookup 2097",
            "32766: from all lookup main",
        ],
        "configured twice, each rule once"
    );
    let table = ns.ip(&["-6", "route", "show", "table", "2097"]);
    assert!(table.starts_with("default dev enf0"), "{table}");
    // Everything goes through the tunnel ...
    let get = ns.ip(&["-6", "route", "get", "fd02::443"]);
    assert!(get.contains("dev enf0 table 2097"), "{get}");
    // ... except the tunnel's own connection, which carries the mark,
    let get = ns.ip(&["-6", "route", "get", "fd02::443", "mark", "363"]);
    assert!(get.contains("via fd01::2 dev ul0"), "{get}");
    // a socket bound to a trusted interface, and the underlay's own subnet.
    let get = ns.ip(&["-6", "route", "get", "fd02::443", "oif", "ul0"]);
    assert!(get.contains("dev ul0"), "{get}");
    let get = ns.ip(&["-6", "route", "get", "fd01::5"]);
    assert!(get.contains("dev ul0"), "{get}");
}

#[test]
fn default_without_a_mark_over_ipv6_uses_the_reference_mark() {
    let ns = Netns::new();
    let (_tun, applied) = bring_up(&ns, plan(&["default"], 0, true, &[]));
    assert_eq!(applied.fwmark, netcfg::DEFAULT_FWMARK);
    let rules = rules(&ns);
    assert!(
        rules.contains(&"32763: not from all fwmark 0x16b lookup 2097".to_string()),
        "{rules:?}"
    );
}

#[test]
fn default_without_a_mark_over_ipv4_is_a_plain_default_route() {
    let ns = Netns::new();
    underlay(&ns);
    let (_tun, applied) = bring_up(&ns, plan(&["default"], 0, false, &[]));
    assert_eq!(applied.fwmark, 0);
    let main = ns.ip(&["-6", "route", "show", "table", "main"]);
    assert_eq!(
        count(&main, "default"),
        1,
        "ours replaced the underlay's: {main}"
    );
    assert!(main.contains("default dev enf0"), "{main}");
    assert_eq!(
        rules(&ns),
        ["0: from all lookup local", "32766: from all lookup main"]
    );
    let get = ns.ip(&["-6", "route", "get", "fd02::443"]);
    assert!(get.contains("dev enf0"), "{get}");
}

/// What the readiness check does: poll until the kernel takes packets for `address`.
fn wait_usable(address: Ipv6Addr) {
    let deadline = Instant::now() + PATIENCE;
    while !netcfg::address_usable("enf0", address).unwrap() {
        assert!(
            Instant::now() < deadline,
            "{address} not usable within {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A UDP datagram in an IPv6 packet, checksum included.
fn udp_packet(src: SocketAddrV6, dst: SocketAddrV6, payload: &[u8]) -> Vec<u8> {
    let udp_len = (8 + payload.len()) as u16;
    let mut udp = Vec::new();
    udp.extend_from_slice(&src.port().to_be_bytes());
    udp.extend_from_slice(&dst.port().to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut pseudo = [src.ip().octets(), dst.ip().octets()].concat();
    pseudo.extend_from_slice(&u32::from(udp_len).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    pseudo.extend_from_slice(&udp);
    let mut sum: u32 = pseudo
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    udp[6..8].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    p.extend_from_slice(&udp);
    p
}

/// The next UDP packet to `dst` the kernel sends into the tun (skipping its MLD and the like).
fn read_udp_to(tun: &Tun, dst: Ipv6Addr) -> Vec<u8> {
    let deadline = Instant::now() + PATIENCE;
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        match tun.read(&mut buf) {
            Ok(n) if n >= 48 && buf[6] == 17 && buf[24..40] == dst.octets() => {
                return buf[..n].to_vec()
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("reading the tun: {e}"),
        }
    }
    panic!("no UDP packet to {dst} came out of the tun within {PATIENCE:?}");
}

#[test]
fn packets_both_ways_and_a_clone_keeps_the_device() {
    let ns = Netns::new();
    let (tun, reply) = ns.run(|| {
        let tun = Tun::open(Path::new(CLONE_DEVICE), "enf0").unwrap();
        let mut buf = [0u8; 1500];
        let e = tun.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "non-blocking");
        netcfg::configure(&plan(&["fd00::/8"], 0, false, &[])).unwrap();
        let ours: Ipv6Addr = OURS.parse().unwrap();
        wait_usable(ours);
        let peer = SocketAddrV6::new(PEER.parse().unwrap(), 9, 0, 0);
        let sock = UdpSocket::bind(SocketAddrV6::new(ours, 0, 0, 0)).unwrap();
        sock.set_read_timeout(Some(PATIENCE)).unwrap();
        sock.send_to(b"ping", peer).unwrap();
        let out = read_udp_to(&tun, *peer.ip());
        assert_eq!(&out[8..24], &ours.octets(), "from our address");
        assert_eq!(&out[48..], b"ping");

        // The answer goes in through a clone; the original is closed first.
        let clone = tun.try_clone().unwrap();
        drop(tun);
        let local = match sock.local_addr().unwrap() {
            std::net::SocketAddr::V6(a) => a,
            other => panic!("{other}"),
        };
        let packet = udp_packet(peer, local, b"pong");
        assert_eq!(clone.write(&packet).unwrap(), packet.len());
        let mut got = [0u8; 16];
        let (n, from) = sock
            .recv_from(&mut got)
            .expect("the reply written to the tun");
        (clone, (got[..n].to_vec(), from))
    });
    assert_eq!(
        reply,
        (
            b"pong".to_vec(),
            SocketAddrV6::new(PEER.parse().unwrap(), 9, 0, 0).into()
        )
    );
    assert!(
        ns.ip(&["link", "show", "dev", "enf0"]).contains("enf0"),
        "the clone keeps it"
    );
    drop(tun);
    assert!(
        ns.ip_fails(&["link", "show", "dev", "enf0"]),
        "gone with the last descriptor"
    );
}

#[test]
fn clear_errors() {
    let ns = Netns::new();
    ns.ip(&["link", "add", "ul0", "type", "veth", "peer", "name", "ul1"]);
    let errors = ns.run(|| {
        let open = |name: &str| {
            Tun::open(Path::new(CLONE_DEVICE), name)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        let missing = Tun::open(Path::new("/nonexistent/tun"), "enf0")
            .unwrap_err()
            .to_string();
        let long = open(&"a".repeat(tun::MAX_NAME_BYTES + 1));
        let _held = Tun::open(Path::new(CLONE_DEVICE), "enf0").unwrap();
        let busy = open("enf0");
        let not_tun = open("ul0");
        let no_device = netcfg::configure(&Plan {
            ifname: "nope0".into(),
            ..plan(&[], 0, false, &[])
        });
        [
            missing,
            long,
            busy,
            not_tun,
            no_device.unwrap_err().to_string(),
        ]
    });
    assert_eq!(
        errors,
        [
            "opening /nonexistent/tun: no such device; run the container with --device /dev/net/tun",
            "tun device name \"aaaaaaaaaaaaaaaa\" is 16 bytes long; interface names are at most 15 bytes",
            "creating tun device enf0: device busy; another process (enftun, another enf-init?) has it open",
            "creating tun device ul0: an interface of that name exists and is not a tun device; choose another tun.dev",
            "finding interface nope0: no such device",
        ]
    );
}

/// Drops CAP_NET_ADMIN from this thread's effective set (capabilities are per thread).
fn drop_net_admin_in_this_thread() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_ADMIN_BIT: u32 = 1 << 12;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset with a v3 header and the two data words it requires.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut Header,
            data.as_mut_ptr(),
        )
    };
    assert_eq!(r, 0, "capget: {}", std::io::Error::last_os_error());
    data[0].effective &= !CAP_NET_ADMIN_BIT;
    // SAFETY: as above.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    assert_eq!(r, 0, "capset: {}", std::io::Error::last_os_error());
}

#[test]
fn without_net_admin_the_errors_name_the_capability() {
    let ns = Netns::new();
    let (tun, _) = bring_up(&ns, plan(&["fd00::/8"], 0, false, &[]));
    let errors = ns.run(|| {
        drop_net_admin_in_this_thread();
        let open = Tun::open(Path::new(CLONE_DEVICE), "enf1")
            .unwrap_err()
            .to_string();
        let conf = netcfg::configure(&plan(&["fd00::/8"], 0, false, &[]))
            .unwrap_err()
            .to_string();
        [open, conf]
    });
    assert_eq!(
        errors[0],
        "creating tun device enf1 needs CAP_NET_ADMIN (--cap-add=NET_ADMIN)"
    );
    assert_eq!(
        errors[1],
        "bringing enf0 up with MTU 1280: Operation not permitted; needs CAP_NET_ADMIN (--cap-add=NET_ADMIN)"
    );
    drop(tun);
}

#[test]
fn disabled_ipv6_is_detected_and_explained() {
    let ns = Netns::new();
    let sysctl = |v: &str| {
        let arg = format!("net.ipv6.conf.all.disable_ipv6={v}");
        run_ok(Command::new("ip").args(["netns", "exec", &ns.name, "sysctl", "-q", "-w", &arg]));
    };
    assert!(!ns.run(netcfg::ipv6_disabled), "a fresh namespace has IPv6");
    sysctl("1");
    let (disabled, error) = ns.run(|| {
        let _tun = Tun::open(Path::new(CLONE_DEVICE), "enf0").unwrap();
        let e = netcfg::configure(&plan(&["fd00::/8"], 0, false, &[])).unwrap_err();
        (netcfg::ipv6_disabled(), e.to_string())
    });
    assert!(disabled);
    assert!(
        error.starts_with(&format!(
            "adding address {OURS}/128 to enf0: Permission denied"
        )),
        "{error}"
    );
    assert!(
        error.ends_with("run with --sysctl net.ipv6.conf.all.disable_ipv6=0"),
        "{error}"
    );
}
