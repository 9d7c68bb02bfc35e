//! A tunnel client built the way the reference C client is: one packet, one TLS record, one
//! syscall. It reads the same `enf0.conf` and credentials as enf-init, opens and configures the
//! tun device the same way, connects to the router, then loops: wait for the tun or the socket;
//! on the tun, read ONE packet, frame it, encrypt it as one record and write that record with
//! one `write`, waiting until the socket took all of it before reading the next packet; on the
//! socket, read, decrypt, and write each packet to the tun. `scripts/bench` runs it on both
//! endpoints in place of enf-init to measure what batching buys (`one_record_per_packet_gbps`).
//!
//! It sends one heartbeat after the handshake (the router does not drop quiet sessions; see
//! PROTOCOL.md §4) and drops heartbeat replies; it never reconnects: a lost session ends it.
//!
//! Usage: one_record_client ENF0_CONF (as root, in the endpoint's network namespace)

use enf_init::proto::{frame, heartbeat, packet};
use enf_init::tunnel::{netcfg, tun};
use enf_init::{config, identity, tls};
use rustls::ClientConnection;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

fn main() {
    let Some(conf) = std::env::args().nth(1) else {
        eprintln!("usage: one_record_client ENF0_CONF");
        std::process::exit(2);
    };
    if let Err(e) = run(PathBuf::from(conf)) {
        eprintln!("one_record_client: {e}");
        std::process::exit(1);
    }
}

fn run(conf: PathBuf) -> Result<(), String> {
    let cfg = config::load(&conf, &|_| None).map_err(|e| e.to_string())?;
    let id = identity::load(&cfg).map_err(|e| e.to_string())?;
    let dev = tun::Tun::open(&cfg.tun.dev_node, &cfg.tun.dev).map_err(|e| e.to_string())?;
    // The C client's tun has no offload: the kernel segments before the device, one packet
    // per read.
    dev.without_offload()
        .map_err(|e| format!("turning the tun's offload off: {e}"))?;
    let plan = netcfg::Plan {
        ifname: dev.name().to_string(),
        address: id.address,
        mtu: 1280,
        prefixes: cfg.route.prefixes.clone(),
        fwmark: cfg.route.fwmark,
        table: cfg.route.table,
        server_is_ipv6: cfg
            .remote
            .hosts
            .iter()
            .any(|h| h.parse::<std::net::Ipv4Addr>().is_err()),
        trusted_interfaces: cfg.route.trusted_interfaces.clone(),
    };
    netcfg::configure(&plan).map_err(|e| e.to_string())?;

    let host = cfg.remote.hosts.first().ok_or("no remote.hosts")?;
    let mut sock = TcpStream::connect((host.as_str(), cfg.remote.port))
        .map_err(|e| format!("connecting to {host}: {e}"))?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let tls_cfg =
        tls::client_config(&id, cfg.remote.server_name.as_deref()).map_err(|e| e.to_string())?;
    let mut conn = ClientConnection::new(
        tls_cfg,
        tls::server_name_for(host, cfg.remote.server_name.as_deref()),
    )
    .map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock)
            .map_err(|e| format!("handshake: {e}"))?;
    }
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    println!("connected as {}", id.address);
    let _ = io::stdout().flush();

    let mut one = Vec::with_capacity(frame::HEADER_BYTES + frame::MAX_PACKET_BYTES);
    let allow4 = cfg.route.allow_ipv4;
    let mut rx = Rx {
        dec: frame::Decoder::default(),
        dev: &dev,
        ours: id.address,
        allow4,
    };
    frame::encode(&mut one, &heartbeat::request(id.address));
    send_record(&mut conn, &mut sock, &one, &mut rx)?;

    let mut pkt = vec![0u8; 2048];
    loop {
        let (tun_ready, sock_ready) = wait(&dev, &sock)?;
        if tun_ready {
            // ONE packet, then one record, then one write: the reference client's design.
            match dev.read(&mut pkt) {
                Ok(n) => {
                    if packet::egress(&pkt[..n], id.address, allow4).is_ok() {
                        one.clear();
                        frame::encode(&mut one, &pkt[..n]);
                        send_record(&mut conn, &mut sock, &one, &mut rx)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("tun read: {e}")),
            }
        }
        if sock_ready {
            receive(&mut conn, &mut sock, &mut rx)?;
        }
    }
}

/// Waits until the tun or the socket has something to read.
fn wait(dev: &tun::Tun, sock: &TcpStream) -> Result<(bool, bool), String> {
    let mut fds = [dev.as_raw_fd(), sock.as_raw_fd()].map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: two valid pollfd entries that outlive the call.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok((false, false));
        }
        return Err(format!("poll: {e}"));
    }
    let ready = libc::POLLIN | libc::POLLERR | libc::POLLHUP;
    Ok((fds[0].revents & ready != 0, fds[1].revents & ready != 0))
}

/// Encrypts `frame` as one record and writes it with one `write`; when the socket is full, waits
/// until it took the rest before returning (so the next packet is read only then).
fn send_record(
    conn: &mut ClientConnection,
    sock: &mut TcpStream,
    frame: &[u8],
    rx: &mut Rx,
) -> Result<(), String> {
    conn.writer()
        .write_all(frame)
        .map_err(|e| format!("encrypt: {e}"))?;
    while conn.wants_write() {
        match conn.write_tls(sock) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The other direction goes on while this one waits (as the C client's event
                // loop does): a client that stops reading while its writes are blocked
                // deadlocks with a router that applies back-pressure.
                let mut fds = [libc::pollfd {
                    fd: sock.as_raw_fd(),
                    events: libc::POLLOUT | libc::POLLIN,
                    revents: 0,
                }];
                // SAFETY: one valid pollfd that outlives the call.
                unsafe { libc::poll(fds.as_mut_ptr(), 1, -1) };
                if fds[0].revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0 {
                    receive(conn, sock, rx)?;
                }
            }
            Err(e) => return Err(format!("socket write: {e}")),
        }
    }
    Ok(())
}

/// The receiving side: where decrypted packets go.
struct Rx<'a> {
    dec: frame::Decoder,
    dev: &'a tun::Tun,
    ours: std::net::Ipv6Addr,
    allow4: bool,
}

/// Reads what the socket has, decrypts it, and writes each packet to the tun.
fn receive(conn: &mut ClientConnection, sock: &mut TcpStream, rx: &mut Rx) -> Result<(), String> {
    let (ours, allow4) = (rx.ours, rx.allow4);
    loop {
        match conn.read_tls(sock) {
            Ok(0) => return Err("the router closed the session".into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(format!("socket read: {e}")),
        }
        conn.process_new_packets()
            .map_err(|e| format!("TLS: {e}"))?;
        loop {
            match conn.reader().read(rx.dec.spare()) {
                Ok(0) => return Err("the router closed the session".into()),
                Ok(n) => rx.dec.filled(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("TLS read: {e}")),
            }
            while let Some(p) = rx.dec.next_packet().map_err(|e| e.to_string())? {
                if heartbeat::is_reply(p, ours) || packet::ingress(p, ours, allow4).is_err() {
                    continue;
                }
                match rx.dev.write(p) {
                    Ok(_) => {}
                    // The tun queue is full: the packet is lost, as a router would lose it.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("tun write: {e}")),
                }
            }
        }
        if conn.wants_write() {
            match conn.write_tls(sock) {
                // A full socket: what is left goes out with the next record.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(format!("socket write: {e}")),
            }
        }
    }
}
