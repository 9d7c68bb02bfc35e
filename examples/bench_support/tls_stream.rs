//! The TLS-stream baseline shared by `router_forwarding` and `bench_tls`: one (or several
//! parallel) rustls streams on loopback carrying bulk bytes in 16 KiB writes, with the same TLS
//! configuration as the tunnel (an endpoint's identity against the router's server certificate).
//! It is the most one TLS hop can carry here; each thread's CPU time is measured too, so CPU per
//! GB can be set against the tunnel's.

use enf_init::{identity, tls};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{Ipv6Addr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The size of each application write, as the baseline asks.
pub const WRITE_BYTES: usize = 16 * 1024;

/// One run: bytes delivered, wall time (first byte read to last), and the CPU seconds of the
/// sending and receiving threads (summed over streams).
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub bytes: usize,
    pub took: Duration,
    pub tx_cpu: f64,
    pub rx_cpu: f64,
}

impl Outcome {
    pub fn gbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.took.as_secs_f64() / 1e9
    }
}

/// Accepts any client certificate: the baseline measures the stream, not the registry.
#[derive(Debug)]
struct AnyClient;

impl tls::ClientCheck for AnyClient {
    fn check(&self, _: Ipv6Addr, _: &[u8]) -> Result<(), tls::Refusal> {
        Ok(())
    }
}

/// The router's own server configuration, from a directory made by `enf-router init`.
pub fn server_config(router_dir: &Path) -> Arc<ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    let chain =
        vec![
            rustls_pki_types::CertificateDer::from_pem_file(router_dir.join("server.crt.pem"))
                .expect("server.crt.pem"),
        ];
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(router_dir.join("server.key.pem"))
        .expect("server.key.pem");
    tls::server_config(chain, key, Arc::new(AnyClient)).expect("server config")
}

/// A connected, handshaken client stream.
pub fn connect(cfg: Arc<ClientConfig>, port: u16) -> StreamOwned<ClientConnection, TcpStream> {
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_nodelay(true).expect("nodelay");
    let conn = ClientConnection::new(cfg, tls::server_name_for("127.0.0.1", None)).expect("conn");
    let mut st = StreamOwned::new(conn, sock);
    while st.conn.is_handshaking() {
        st.conn.complete_io(&mut st.sock).expect("handshake");
    }
    st
}

/// The calling thread's CPU time (user + system), in seconds.
pub fn thread_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct we pass and nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// `streams` parallel TLS streams, each carrying `per_stream` bytes from `id` to a server with
/// the router's certificate, on loopback.
pub fn run(
    id: &identity::Identity,
    router_dir: &Path,
    streams: usize,
    per_stream: usize,
) -> Outcome {
    let server_cfg = server_config(router_dir);
    let client_cfg = tls::client_config(id, None).expect("client config");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let readers: Vec<_> = (0..streams)
            .map(|_| {
                let (sock, _) = listener.accept().expect("accept");
                let cfg = server_cfg.clone();
                std::thread::spawn(move || receive(cfg, sock, per_stream))
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().expect("reader"))
            .collect::<Vec<_>>()
    });
    let writers: Vec<_> = (0..streams)
        .map(|_| {
            let c = connect(client_cfg.clone(), port);
            std::thread::spawn(move || send(c, per_stream))
        })
        .collect();
    // The client streams stay open until the server has read everything: closing one with the
    // server's session tickets unread would reset the connection under the reader.
    let sent: Vec<_> = writers
        .into_iter()
        .map(|w| w.join().expect("writer"))
        .collect();
    let got = server.join().expect("server");
    let tx_cpu = sent.iter().map(|s| s.0).sum();
    Outcome {
        bytes: got.iter().map(|g| g.0).sum(),
        took: got.iter().map(|g| g.1).max().unwrap_or_default(),
        tx_cpu,
        rx_cpu: got.iter().map(|g| g.2).sum(),
    }
}

type Client = StreamOwned<ClientConnection, TcpStream>;

fn send(mut c: Client, total: usize) -> (f64, Client) {
    let cpu = thread_cpu();
    let chunk = vec![0x5au8; WRITE_BYTES];
    let mut sent = 0;
    while sent < total {
        c.write_all(&chunk).expect("write");
        sent += chunk.len();
    }
    c.flush().expect("flush");
    (thread_cpu() - cpu, c)
}

fn receive(cfg: Arc<ServerConfig>, sock: TcpStream, total: usize) -> (usize, Duration, f64) {
    let mut st = StreamOwned::new(ServerConnection::new(cfg).expect("conn"), sock);
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    // The clock starts at the first byte, after the handshake, as iperf3's does.
    let first = st.read(&mut buf).expect("read");
    got += first;
    let (start, cpu) = (Instant::now(), thread_cpu());
    while got < total {
        let n = st.read(&mut buf).expect("read");
        assert!(n > 0, "stream ended early");
        got += n;
    }
    (got - first, start.elapsed(), thread_cpu() - cpu)
}
