//! A hostile ENF server for fault tests: it finishes the TLS handshake with a certificate the
//! endpoint trusts (the router's own, from its state directory), then misbehaves in a chosen way.
//!
//! It listens inside a test's network namespace (its thread joins the namespace with `setns`, so
//! the endpoint reaches it where it expects the router) and gives each accepted connection the
//! next `Behaviour` of its plan (the last one repeats). It records when each connection arrived
//! and the packets the endpoint sent, so a test can measure the back-off and see the data path.
//! Client certificates are accepted without a registry: the endpoint is not under test here.

use enf_init::proto::{frame, heartbeat};
use enf_init::tls::{ClientCheck, Refusal};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the server does with one connection.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Accepts the TCP connection and never speaks TLS.
    SilentTcp,
    /// Finishes the handshake, then sends nothing at all (no heartbeat replies).
    SilentTls,
    /// Finishes the handshake, sends a frame header that promises 48 bytes, then nothing.
    HeaderThenStall,
    /// Finishes the handshake, sends a frame header with length 65535.
    Oversize,
    /// Finishes the handshake, sends half a frame, then closes the TCP connection (no
    /// close_notify).
    CloseMidFrame,
    /// Behaves like a router for heartbeats; after the first reply sends each frame of `once`
    /// (raw bytes, length prefix included), and after every reply each frame of `every`.
    Answer {
        once: Vec<Vec<u8>>,
        every: Vec<Vec<u8>>,
    },
}

/// What happened on the server side.
#[derive(Debug, Default)]
pub struct Record {
    /// When each connection was accepted.
    pub accepted: Vec<Instant>,
    /// Packets the endpoint sent, other than heartbeat requests.
    pub received: Vec<Vec<u8>>,
    /// Heartbeat requests answered.
    pub heartbeats: u64,
}

pub struct Hostile {
    stop: Arc<AtomicBool>,
    pub record: Arc<Mutex<Record>>,
    thread: Option<JoinHandle<()>>,
}

/// Admits every client certificate.
#[derive(Debug)]
struct AnyClient;

impl ClientCheck for AnyClient {
    fn check(&self, _address: Ipv6Addr, _spki: &[u8]) -> Result<(), Refusal> {
        Ok(())
    }
}

/// A rustls server configuration presenting `cert`/`key` (PEM files) to any client.
pub fn server_config(cert: &Path, key: &Path) -> Arc<ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .unwrap_or_else(|e| panic!("{}: {e}", cert.display()));
    let key =
        PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| panic!("{}: {e}", key.display()));
    enf_init::tls::server_config(chain, key, Arc::new(AnyClient)).expect("server config")
}

impl Hostile {
    /// Listens on `[::]:port` inside network namespace `netns` with `config`, serving `plan`.
    pub fn start(
        netns: &str,
        port: u16,
        config: Arc<ServerConfig>,
        plan: Vec<Behaviour>,
    ) -> Hostile {
        assert!(!plan.is_empty(), "a plan needs at least one behaviour");
        let stop = Arc::new(AtomicBool::new(false));
        let record = Arc::new(Mutex::new(Record::default()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let netns_path = format!("/var/run/netns/{netns}");
        let (s, r) = (stop.clone(), record.clone());
        let thread = std::thread::spawn(move || {
            // Only this thread moves: what it creates (the listener) lives in that namespace.
            let ns =
                std::fs::File::open(&netns_path).unwrap_or_else(|e| panic!("{netns_path}: {e}"));
            // SAFETY: setns on a valid namespace fd affects only the calling thread.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let addr: SocketAddr = format!("[::]:{port}").parse().expect("addr");
            let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
            listener.set_nonblocking(true).expect("nonblocking");
            ready_tx.send(()).expect("ready");
            let mut n = 0usize;
            let mut conns = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        r.lock().expect("record").accepted.push(Instant::now());
                        let behaviour = plan[n.min(plan.len() - 1)].clone();
                        n += 1;
                        let (cfg, s, r) = (config.clone(), s.clone(), r.clone());
                        conns.push(std::thread::spawn(move || {
                            serve(sock, cfg, behaviour, &s, &r)
                        }));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
            for c in conns {
                let _ = c.join();
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the hostile server never listened");
        Hostile {
            stop,
            record,
            thread: Some(thread),
        }
    }

    /// Connection arrival times so far.
    pub fn accepted(&self) -> Vec<Instant> {
        self.record.lock().expect("record").accepted.clone()
    }

    /// Waits until `n` connections have arrived; their arrival times.
    pub fn wait_accepted(&self, n: usize, limit: Duration) -> Vec<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.accepted();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} connections to the hostile server within {limit:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the endpoint has sent a packet that `pred` accepts.
    pub fn wait_received(&self, pred: impl Fn(&[u8]) -> bool, limit: Duration) -> Vec<u8> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(p) = self
                .record
                .lock()
                .expect("record")
                .received
                .iter()
                .find(|p| pred(p))
            {
                return p.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the endpoint sent no matching packet within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

/// One connection: handshake, then `behaviour`, until the peer goes or the server stops.
fn serve(
    sock: TcpStream,
    config: Arc<ServerConfig>,
    behaviour: Behaviour,
    stop: &AtomicBool,
    record: &Mutex<Record>,
) {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(Duration::from_millis(100)));
    if let Behaviour::SilentTcp = behaviour {
        let mut sock = sock;
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::SeqCst) {
            match sock.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if timed_out(&e) => {}
                Err(_) => return,
            }
        }
        return;
    }
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(conn, sock);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tls.conn.is_handshaking() {
        match tls.conn.complete_io(&mut tls.sock) {
            Ok(_) => {}
            Err(e)
                if timed_out(&e) && Instant::now() < deadline && !stop.load(Ordering::SeqCst) => {}
            // A refused or broken handshake is the endpoint's business (and its log's).
            Err(_) => return,
        }
    }
    let header = |len: u16| len.to_be_bytes().to_vec();
    match behaviour {
        Behaviour::SilentTcp => {}
        Behaviour::SilentTls => linger(&mut tls, stop),
        Behaviour::HeaderThenStall => {
            let _ = send(&mut tls, &header(48));
            linger(&mut tls, stop)
        }
        Behaviour::Oversize => {
            let _ = send(&mut tls, &header(0xffff));
            linger(&mut tls, stop)
        }
        Behaviour::CloseMidFrame => {
            let mut half = header(48);
            half.extend_from_slice(&[0x60; 20]);
            let _ = send(&mut tls, &half);
            // No close_notify: a FIN, then whatever the endpoint still sends is read until it
            // closes too (closing with unread data would send a reset instead).
            let _ = tls.sock.shutdown(std::net::Shutdown::Write);
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::SeqCst) {
                match tls.sock.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if timed_out(&e) => {}
                    Err(_) => return,
                }
            }
        }
        Behaviour::Answer { once, every } => answer(&mut tls, once, every, stop, record),
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn send(tls: &mut Tls, bytes: &[u8]) -> std::io::Result<()> {
    tls.write_all(bytes)?;
    tls.flush()
}

/// Keeps the connection open, reading and discarding, until the peer closes it.
fn linger(tls: &mut Tls, stop: &AtomicBool) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if timed_out(&e) => {}
            Err(_) => return,
        }
    }
}

/// Answers heartbeats, each reply followed by `every` (and the first also by `once`). Records
/// everything else the endpoint sends.
fn answer(
    tls: &mut Tls,
    once: Vec<Vec<u8>>,
    every: Vec<Vec<u8>>,
    stop: &AtomicBool,
    record: &Mutex<Record>,
) {
    let mut decoder = frame::Decoder::default();
    let mut pending = Some(once);
    while !stop.load(Ordering::SeqCst) {
        loop {
            let packet = match decoder.next_packet() {
                Ok(Some(p)) => p.to_vec(),
                Ok(None) => break,
                Err(_) => return,
            };
            match heartbeat::answer(&packet) {
                Some(reply) => {
                    let mut out = Vec::new();
                    frame::encode(&mut out, &reply);
                    if send(tls, &out).is_err() {
                        return;
                    }
                    record.lock().expect("record").heartbeats += 1;
                    let first = pending.take().unwrap_or_default();
                    for f in first.iter().chain(&every) {
                        if send(tls, f).is_err() {
                            return;
                        }
                    }
                }
                None => record.lock().expect("record").received.push(packet),
            }
        }
        match tls.read(decoder.spare()) {
            Ok(0) => return,
            Ok(n) => decoder.filled(n),
            Err(e) if timed_out(&e) => {}
            Err(_) => return,
        }
    }
}

/// `| len | packet |` for one packet.
pub fn framed(packet: &[u8]) -> Vec<u8> {
    let mut out = (packet.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(packet);
    out
}

/// An ICMPv6 echo request from `src` to `dst` with a correct checksum (the kernel answers it).
pub fn echo_request(src: Ipv6Addr, dst: Ipv6Addr, id: u16, data: &[u8]) -> Vec<u8> {
    let icmp_len = 8 + data.len();
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(icmp_len as u16).to_be_bytes());
    p.extend_from_slice(&[58, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[128, 0, 0, 0]);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0, 1]);
    p.extend_from_slice(data);
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            sum += (u32::from(pair[0]) << 8) | u32::from(pair.get(1).copied().unwrap_or(0));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(icmp_len as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(&p[40..]);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let sum = !(sum as u16);
    p[42..44].copy_from_slice(&sum.to_be_bytes());
    p
}

/// Whether `p` is an ICMPv6 echo reply with identifier `id`.
pub fn is_echo_reply(p: &[u8], id: u16) -> bool {
    p.len() >= 48 && p[0] >> 4 == 6 && p[6] == 58 && p[40] == 129 && p[44..46] == id.to_be_bytes()
}
