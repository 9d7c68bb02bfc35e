//! Router forwarding throughput, next to its baseline in the same run.
//!
//! Two endpoints on loopback: A sends 1280-byte IPv6 packets to B through `enf-router` (A's
//! frames packed 12 to a 16 KiB TLS write, as the tunnel sends them); B counts what arrives. The
//! baseline is one rustls stream on loopback carrying the same bytes in 16 KiB writes, with the
//! same TLS configuration: the most one TLS hop can carry here. Each figure is the median of
//! several runs with min and max; the ratio is what to quote (machines here are shared).
//!
//! Run: `make bench-router` (release build; needs the `enf-router` binary beside this example).

// The CPU figures of the shared module are for `bench_tls`; this example prints Gbit/s only.
#[allow(dead_code)]
#[path = "bench_support/tls_stream.rs"]
mod tls_stream;

use enf_init::proto::frame;
use enf_init::{config, identity, tls};
use std::io::{Read, Write};
use std::net::{Ipv6Addr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PACKET_BYTES: usize = 1280;
const PACKETS_PER_WRITE: usize = 12;
const TOTAL_BYTES: usize = 512 * 1024 * 1024;
const RUNS: usize = 5;

fn main() {
    let router_bin = std::env::current_exe()
        .expect("exe")
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("enf-router");
    assert!(
        router_bin.exists(),
        "build enf-router first: cargo build --release"
    );
    let work = std::env::temp_dir().join(format!("enf-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let dir = work.join("router");
    let port = 24000 + (std::process::id() % 1000) as u16;
    let run = |args: &[&str]| {
        let out = Command::new(&router_bin)
            .args(args)
            .output()
            .expect("enf-router");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["init", s(&dir), "--host", "127.0.0.1"]);
    let (a, b) = ("fd00:8f80:1::a", "fd00:8f80:1::b");
    for (addr, out) in [(a, work.join("a")), (b, work.join("b"))] {
        run(&[
            "add-endpoint",
            s(&dir),
            addr,
            "--out",
            s(&out),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ]);
    }
    let mut router = Command::new(&router_bin)
        .args(["serve", s(&dir), "--listen", &format!("127.0.0.1:{port}")])
        .env("ENF_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let ida = load(&work.join("a"));
    let idb = load(&work.join("b"));

    let mut forwarded = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..RUNS {
        baseline.push(tls_stream::run(&ida, &dir, 1, TOTAL_BYTES).gbps());
        forwarded.push(through_router(&ida, &idb, port));
    }
    let _ = router.kill();
    let _ = router.wait();
    let _ = std::fs::remove_dir_all(&work);

    let (f, bl) = (stats(&mut forwarded), stats(&mut baseline));
    println!(
        "{:<52} {:>8} {:>8} {:>8}",
        "Gbit/s (512 MiB each, 5 runs)", "median", "min", "max"
    );
    println!(
        "{:<52} {:>8.2} {:>8.2} {:>8.2}",
        "A -> enf-router -> B, 1280-byte packets", f.0, f.1, f.2
    );
    println!(
        "{:<52} {:>8.2} {:>8.2} {:>8.2}",
        "baseline: one TLS stream on loopback, 16 KiB writes", bl.0, bl.1, bl.2
    );
    println!("ratio forwarded / baseline (medians): {:.2}", f.0 / bl.0);
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn load(dir: &Path) -> identity::Identity {
    let cfg = config::load(&dir.join("enf0.conf"), &|_| None).expect("config");
    identity::load(&cfg).expect("identity")
}

fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn gbits(bytes: usize, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e9
}

fn connect(
    id: &identity::Identity,
    port: u16,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    tls_stream::connect(tls::client_config(id, None).expect("client config"), port)
}

/// One write of `PACKETS_PER_WRITE` framed packets from `src` to `dst`.
fn batch(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut p = vec![0u8; PACKET_BYTES];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((PACKET_BYTES - 40) as u16).to_be_bytes());
    p[6] = 17;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    let mut out = Vec::new();
    for _ in 0..PACKETS_PER_WRITE {
        frame::encode(&mut out, &p);
    }
    out
}

fn through_router(a: &identity::Identity, b: &identity::Identity, port: u16) -> f64 {
    let mut rx = connect(b, port);
    let mut tx = connect(a, port);
    std::thread::sleep(Duration::from_millis(100));
    let write = batch(a.address, b.address);
    let packets = TOTAL_BYTES / PACKET_BYTES;
    // The router drops what B cannot take in time (as a router should), so B reads until the
    // stream goes quiet and the figure is what was delivered, with the loss reported.
    rx.sock
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let reader = std::thread::spawn(move || {
        let mut d = frame::Decoder::default();
        let (mut got, mut bytes) = (0usize, 0usize);
        let start = Instant::now();
        let mut last = start;
        while got < packets {
            let n = match rx.read(d.spare()) {
                Ok(n) if n > 0 => n,
                _ => break,
            };
            d.filled(n);
            while let Some(p) = d.next_packet().expect("frames") {
                got += 1;
                bytes += p.len();
            }
            last = Instant::now();
        }
        (got, bytes, last - start)
    });
    for _ in 0..packets.div_ceil(PACKETS_PER_WRITE) {
        tx.write_all(&write).expect("A writes");
    }
    tx.flush().expect("flush");
    let (got, bytes, took) = reader.join().expect("reader");
    if got < packets {
        eprintln!(
            "  (router dropped {:.1} % of the packets: B could not keep up)",
            100.0 * (packets - got) as f64 / packets as f64
        );
    }
    gbits(bytes, took)
}
