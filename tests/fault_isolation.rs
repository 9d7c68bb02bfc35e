//! Fault injection: anti-spoofing and isolation over a real router and real endpoints.
//!
//! An endpoint that forges its source address reaches nobody (enf-init's own egress filter stops
//! it, and a client that skips enf-init is stopped by the router); an endpoint cannot receive
//! traffic for another address (the router delivers by the certificate's address only, and a
//! certificate naming another address with our key is refused); and a service run with `--user`
//! can neither reconfigure the tun device nor read the private key. (The router's own
//! anti-spoofing counters are tests/router_serve.rs; CAP_NET_ADMIN kept from the service,
//! tests/tunnel_more.rs and tests/pid1_start.rs.)

mod common;
mod fault_support;

use common::endpoint::Endpoint;
use common::enf_client::{ipv6_packet, EnfClient};
use common::router::Router;
use fault_support::*;
use std::net::Ipv6Addr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::Duration;

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";
const C: &str = "fd00:8f80:1::c";
const D: &str = "fd00:8f80:1::d";
const UDP_PORT: u16 = 9000;

fn addr(s: &str) -> Ipv6Addr {
    s.parse().expect("address")
}

/// A process killed when the test ends, also on failure.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A UDP listener on `[at]:UDP_PORT` in `ep`'s namespace that prints each datagram's text.
const LISTEN: &str = "import socket,sys\n\
s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n\
s.bind((sys.argv[1],int(sys.argv[2])))\n\
print('listening',flush=True)\n\
while True:\n  d,a=s.recvfrom(2048)\n  print(a[0],d.decode(errors='replace'),flush=True)\n";

/// The listener's output so far.
struct Listener {
    _child: Reaped,
    out: std::path::PathBuf,
}

impl Listener {
    fn start(ep: &Endpoint, at: &str, dir: &std::path::Path) -> Listener {
        require_tool("python3");
        let out = dir.join(format!("udp-{}.out", at.replace(':', "_")));
        let file = std::fs::File::create(&out).expect("listener output");
        let child = ep
            .ns
            .command("python3")
            .args(["-c", LISTEN, at, &UDP_PORT.to_string()])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let l = Listener {
            _child: Reaped(child),
            out,
        };
        wait_until("the UDP listener", Duration::from_secs(10), || {
            l.text().contains("listening")
        });
        l
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

/// Sends one datagram from `[src]` to `[dst]:UDP_PORT` inside `ep`'s namespace.
fn send_udp(ep: &Endpoint, src: &str, dst: &str, text: &str) {
    let script = "import socket,sys\n\
s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM)\n\
s.bind((sys.argv[1],0))\n\
s.sendto(sys.argv[4].encode(),(sys.argv[2],int(sys.argv[3])))\n";
    let out = ep.exec(&[
        "python3",
        "-c",
        script,
        src,
        dst,
        &UDP_PORT.to_string(),
        text,
    ]);
    assert!(
        out.status.success(),
        "sending from {src}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_forged_source_address_reaches_nobody_whether_enf_init_or_the_router_stops_it() {
    let mut r = Router::start();
    let (a, b) = Endpoint::pair(&r, A, B);
    let listener = Listener::start(&b, B, r.dir.path());

    // A's namespace claims C's address too and sends from it: enf-init's egress filter drops it.
    a.ns.exec_ok(&[
        "ip",
        "-6",
        "addr",
        "add",
        &format!("{C}/128"),
        "dev",
        "enf0",
        "nodad",
    ]);
    send_udp(&a, C, B, "forged-by-a");
    send_udp(&a, A, B, "genuine-from-a");
    wait_until("the genuine datagram", Duration::from_secs(5), || {
        listener.text().contains("genuine-from-a")
    });

    // A client that skips enf-init (D's credentials, its own TLS session) and forges C: the
    // router drops it; D's genuine packet right after it arrives.
    let d_dir = r.endpoint(D);
    let mut d = EnfClient::connect(&d_dir, r.addr).expect("D connects");
    d.heartbeat().expect("D's heartbeat");
    let udp = |src: &str, text: &str| {
        // A UDP header with a zero checksum is invalid over IPv6: the kernel would drop it
        // silently and prove nothing. So a correct one.
        let (s, t) = (addr(src), addr(B));
        let len = 8 + text.len();
        let mut u = Vec::with_capacity(len);
        u.extend_from_slice(&40000u16.to_be_bytes());
        u.extend_from_slice(&UDP_PORT.to_be_bytes());
        u.extend_from_slice(&(len as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(text.as_bytes());
        let mut sum: u32 = 0;
        let mut add = |bytes: &[u8]| {
            for pair in bytes.chunks(2) {
                sum += (u32::from(pair[0]) << 8) | u32::from(pair.get(1).copied().unwrap_or(0));
            }
        };
        add(&s.octets());
        add(&t.octets());
        add(&(len as u32).to_be_bytes());
        add(&[0, 0, 0, 17]);
        add(&u);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let sum = !(sum as u16);
        u[6..8].copy_from_slice(&sum.to_be_bytes());
        ipv6_packet(s, t, &u[..])
    };
    let (forged, genuine) = (udp(C, "forged-by-d"), udp(D, "genuine-from-d"));
    d.send(&forged).expect("send");
    d.send(&genuine).expect("send");
    wait_until("D's genuine datagram", Duration::from_secs(5), || {
        listener.text().contains("genuine-from-d")
    });
    // Frames are delivered in order, so the forged ones would have come first.
    std::thread::sleep(Duration::from_millis(200));
    let heard = listener.text();
    eprintln!("B heard:\n{heard}");
    assert!(
        !heard.contains("forged"),
        "a forged datagram arrived:\n{heard}"
    );
    // Who stopped which: the router counts what reached it per session, and says so when the
    // session ends. A's forged packet never got there (enf-init dropped it); D's did.
    drop(d);
    assert_eq!(r.stop(), Some(0), "{}", r.log());
    let log = r.log();
    let end = |who: &str| {
        log.lines()
            .find(|l| l.contains(&format!("session end {who} from")))
            .unwrap_or_else(|| panic!("no session end for {who}:\n{log}"))
            .to_string()
    };
    assert!(end(D).contains("spoofed_source 1"), "{}", end(D));
    assert!(!end(A).contains("spoofed_source"), "{}", end(A));
}

#[test]
fn an_endpoint_cannot_receive_traffic_for_another_address() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    a.start(&[], &[]);
    a.wait_log("tunnel up", Duration::from_secs(15));
    // D is connected and listening for anything; C is registered but not connected.
    let _c_dir = r.endpoint(C);
    let d_dir = r.endpoint(D);
    let mut d = EnfClient::connect(&d_dir, r.addr).expect("D connects");
    d.heartbeat().expect("D's heartbeat");
    send_udp(&a, A, C, "for-c-1");
    send_udp(&a, A, D, "for-d");
    // The first packet D gets is its own; C's went nowhere.
    let got = d.recv().expect("D receives its own packet");
    assert_eq!(
        &got[24..40],
        &addr(D).octets(),
        "D got a packet for another address"
    );
    assert!(String::from_utf8_lossy(&got).contains("for-d"), "{got:?}");

    // A certificate that names C, made with D's registered key: refused, no session for C.
    let forged_dir = r.path("forged-c");
    std::fs::create_dir_all(&forged_dir).expect("mkdir");
    for f in ["enf0.conf", "enf.cacert.pem", "enf0.key.pem"] {
        std::fs::copy(d_dir.join(f), forged_dir.join(f)).expect("copy");
    }
    let key_pem = std::fs::read_to_string(d_dir.join("enf0.key.pem")).expect("D's key");
    let key = rcgen::KeyPair::from_pem(&key_pem).expect("D's key PEM");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, C);
    let cert = params.self_signed(&key).expect("self-signed");
    std::fs::write(forged_dir.join("enf0.crt.pem"), cert.pem()).expect("cert");
    let refused = match EnfClient::connect(&forged_dir, r.addr) {
        Err(_) => true,
        Ok(mut c) => c.heartbeat().is_err(),
    };
    assert!(refused, "a certificate for C with D's key got a session");
    r.wait_log(
        &format!("client {C} refused: key differs from the one registered"),
        Duration::from_secs(5),
    );
    // Still nothing for C reaches D, and D's own session is untouched.
    send_udp(&a, A, C, "for-c-2");
    send_udp(&a, A, D, "for-d-again");
    let got = d.recv().expect("D receives");
    assert!(
        String::from_utf8_lossy(&got).contains("for-d-again"),
        "{got:?}"
    );
}

#[test]
fn with_user_the_service_can_neither_reconfigure_the_tun_nor_read_the_key() {
    let r = Router::start();
    let mut a = Endpoint::new(&r, A);
    let mut b = Endpoint::new(&r, B);
    b.start(&[], &[]);
    // Only the key's own mode protects it: every directory on the way is open to `nobody`.
    let mut dir = a.dir.clone();
    while dir.starts_with(std::env::temp_dir()) && dir != std::env::temp_dir() {
        let mode = std::fs::metadata(&dir).expect("stat").permissions().mode() & 0o7777;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode | 0o005))
            .expect("chmod");
        dir.pop();
    }
    let key = a.dir.join("enf0.key.pem");
    let script = format!(
        "id -u; ip link set enf0 down 2>&1; echo link=$?; \
         ip -6 addr add fd00:8f80:1::99/128 dev enf0 2>&1; echo addr=$?; \
         ip -6 route del fc00::/7 dev enf0 2>&1; echo route=$?; \
         cat {} > /dev/null 2>&1; echo key=$?; echo done; exec sleep 60",
        key.display()
    );
    a.start(&["--user", "nobody"], &["sh", "-c", &script]);
    let out = a.wait_stdout("done", Duration::from_secs(20));
    eprintln!("the service as nobody:\n{out}");
    assert!(out.starts_with("65534\n"), "{out}");
    for what in ["link", "addr", "route", "key"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{what}=")) && l != format!("{what}=0")),
            "the service as nobody managed {what}:\n{out}"
        );
    }
    assert!(out.contains("Operation not permitted"), "{out}");
    // The device is as enf-init left it, and the overlay works.
    let dev = a.exec(&["ip", "-6", "addr", "show", "dev", "enf0"]);
    let dev = String::from_utf8_lossy(&dev.stdout);
    assert!(
        dev.contains("UP") && dev.contains(&format!("{A}/128")),
        "{dev}"
    );
    assert!(!dev.contains("fd00:8f80:1::99"), "{dev}");
    wait_until("an overlay ping", Duration::from_secs(10), || {
        a.exec(&["ping", "-6", "-c", "1", "-W", "1", B])
            .status
            .success()
    });
    assert!(a.is_running(), "{}", a.log());
}
