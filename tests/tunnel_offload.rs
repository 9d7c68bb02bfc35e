//! The tunnel's bulk data path end to end (enf-init A → enf-router → enf-init B, in network
//! namespaces): bulk TCP both ways at once arrives byte for byte (so segmentation and coalescing
//! on the tun keep every checksum and every byte in order), UDP datagrams of all sizes arrive
//! whole, and repeated iperf3 runs print the overlay's throughput (median, min, max) for the
//! performance note. The sockets of the byte checks live in threads moved into the namespaces
//! with setns(2) (a network namespace is per thread), so no tool beyond iperf3 is needed.

mod common;

use common::endpoint::Endpoint;
use common::netns::Netns;
use common::router::Router;
use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";
const IPERF_PORT: &str = "5201";

/// Fails the test, naming the program, unless it is on PATH.
fn require_tool(name: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join(name).is_file());
    assert!(found, "this test needs `{name}` on PATH; install it");
}

/// Two endpoints up on one router, each able to reach the other.
fn pair() -> (Router, Endpoint, Endpoint) {
    let r = Router::start();
    let (a, b) = Endpoint::pair(&r, A, B);
    for (from, to) in [(&a, B), (&b, A)] {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !from
            .exec(&["ping", "-6", "-c", "1", "-W", "2", to])
            .status
            .success()
        {
            assert!(
                Instant::now() < deadline,
                "no ping to {to}:\n{}",
                from.log()
            );
        }
    }
    (r, a, b)
}

/// A byte stream nobody could produce by accident: position-dependent, not periodic in 64 KiB.
fn pattern(seed: u64, at: u64) -> u8 {
    let x = (at ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8
}

/// Sends `total` pattern bytes from a thread in `from_ns` to a listener in `to_ns` on `port`;
/// the receiver checks every byte. Returns the receiver's join handle (true = all good).
fn stream(
    from_ns: &Netns,
    to_ns: &Netns,
    to: Ipv6Addr,
    port: u16,
    total: u64,
    seed: u64,
) -> (
    std::thread::JoinHandle<Result<u64, String>>,
    std::thread::JoinHandle<()>,
) {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let to_name = to_ns.name.clone();
    let recv = std::thread::spawn(move || {
        enter_named(&to_name);
        let l = TcpListener::bind(SocketAddr::new(to.into(), port)).expect("bind");
        ready_tx.send(()).expect("ready");
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut buf = vec![0u8; 256 * 1024];
        let mut at = 0u64;
        loop {
            let n = s.read(&mut buf).map_err(|e| format!("read at {at}: {e}"))?;
            if n == 0 {
                break;
            }
            for (i, &b) in buf[..n].iter().enumerate() {
                if b != pattern(seed, at + i as u64) {
                    return Err(format!("byte {} differs", at + i as u64));
                }
            }
            at += n as u64;
        }
        Ok(at)
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("listener");
    let from_name = from_ns.name.clone();
    let send = std::thread::spawn(move || {
        enter_named(&from_name);
        let mut s = TcpStream::connect(SocketAddr::new(to.into(), port)).expect("connect");
        let mut at = 0u64;
        // Odd-sized writes, so segment boundaries fall everywhere.
        let mut buf = vec![0u8; 99_991];
        while at < total {
            let n = ((total - at) as usize).min(buf.len());
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = pattern(seed, at + i as u64);
            }
            s.write_all(&buf[..n]).expect("write");
            at += n as u64;
        }
        s.shutdown(std::net::Shutdown::Write).ok();
    });
    (recv, send)
}

fn enter_named(name: &str) {
    let f = std::fs::File::open(format!("/var/run/netns/{name}"))
        .unwrap_or_else(|e| panic!("open netns {name}: {e}"));
    // SAFETY: a valid namespace descriptor; setns changes only this thread's network namespace.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(r, 0, "setns {name}: {}", std::io::Error::last_os_error());
}

#[test]
fn bulk_tcp_both_ways_at_once_arrives_byte_for_byte() {
    common::require_root();
    let (_r, a, b) = pair();
    let total = 48 * 1024 * 1024;
    let (a_ip, b_ip): (Ipv6Addr, Ipv6Addr) = (A.parse().unwrap(), B.parse().unwrap());
    let (r1, s1) = stream(&a.ns, &b.ns, b_ip, 7001, total, 1);
    let (r2, s2) = stream(&b.ns, &a.ns, a_ip, 7002, total, 2);
    // Two flows the same way at once too: coalescing must keep flows apart.
    let (r3, s3) = stream(&a.ns, &b.ns, b_ip, 7003, total / 4, 3);
    for s in [s1, s2, s3] {
        s.join().expect("sender");
    }
    for (r, want) in [(r1, total), (r2, total), (r3, total / 4)] {
        let got = r.join().expect("receiver");
        assert_eq!(got, Ok(want), "A log:\n{}\nB log:\n{}", a.log(), b.log());
    }
}

#[test]
fn udp_datagrams_of_every_size_arrive_whole() {
    common::require_root();
    let (_r, a, b) = pair();
    let b_ip: Ipv6Addr = B.parse().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let b_name = b.ns.name.clone();
    let recv = std::thread::spawn(move || {
        enter_named(&b_name);
        let s = UdpSocket::bind(SocketAddr::new(b_ip.into(), 7100)).expect("bind");
        s.set_read_timeout(Some(Duration::from_secs(2))).ok();
        ready_tx.send(()).expect("ready");
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(n) = s.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        got
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("bound");
    let a_name = a.ns.name.clone();
    let sizes: Vec<usize> = (0..=1232).step_by(7).chain([1232]).collect();
    let sent = sizes.clone();
    std::thread::spawn(move || {
        enter_named(&a_name);
        let s = UdpSocket::bind("[::]:0").expect("bind");
        // The largest payload that fits the 1280-byte MTU without fragmenting: 1280 - 40 - 8.
        for (i, &n) in sent.iter().enumerate() {
            let d: Vec<u8> = (0..n).map(|j| pattern(i as u64, j as u64)).collect();
            s.send_to(&d, SocketAddr::new(b_ip.into(), 7100))
                .expect("send");
            // Paced: this checks integrity, not what a full queue drops.
            std::thread::sleep(Duration::from_micros(300));
        }
    })
    .join()
    .expect("sender");
    let got = recv.join().expect("receiver");
    let want: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| pattern(i as u64, j as u64)).collect())
        .collect();
    assert_eq!(got.len(), want.len(), "datagrams lost:\n{}", b.log());
    assert!(got == want, "a datagram arrived changed");
}

/// A process killed when the test ends, also on failure.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn iperf_bps(a: &Endpoint, b: &Endpoint, secs: u32) -> f64 {
    let server = Reaped(
        b.ns.command("iperf3")
            .args(["-s", "-1", "-B", B, "-p", IPERF_PORT])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("iperf3 -s"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = b.exec(&["ss", "-Hltn", &format!("sport = :{IPERF_PORT}")]);
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "iperf3 -s does not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = a.exec(&[
        "iperf3",
        "-c",
        B,
        "-p",
        IPERF_PORT,
        "-t",
        &secs.to_string(),
        "-J",
    ]);
    drop(server);
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = json.find("\"sum_received\"").expect("sum_received");
    let rest = &json[at..];
    let key = "\"bits_per_second\":";
    let rest = rest[rest.find(key).expect("bps") + key.len()..].trim_start();
    let end = rest.find([',', '\n', '}']).expect("end");
    rest[..end].trim().parse().expect("number")
}

/// `ENF_BENCH_RUNS` (default 3) iperf3 runs of `ENF_BENCH_SECS` (default 5) seconds each.
#[test]
fn overlay_throughput_over_repeated_runs() {
    common::require_root();
    require_tool("iperf3");
    require_tool("ss");
    let env = |k: &str, d: u32| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (runs, secs) = (env("ENF_BENCH_RUNS", 3).max(1), env("ENF_BENCH_SECS", 5));
    let (_r, a, b) = pair();
    let mut all: Vec<f64> = (0..runs).map(|_| iperf_bps(&a, &b, secs)).collect();
    for (i, bps) in all.iter().enumerate() {
        eprintln!("overlay run {}: {:.2} Gbit/s", i + 1, bps / 1e9);
    }
    all.sort_by(|x, y| x.total_cmp(y));
    assert!(all[0] > 0.0, "iperf3 reported nothing");
    eprintln!(
        "overlay A->B over {runs} runs of {secs} s: median {:.2}, min {:.2}, max {:.2} Gbit/s",
        all[all.len() / 2] / 1e9,
        all[0] / 1e9,
        all[all.len() - 1] / 1e9
    );
}
