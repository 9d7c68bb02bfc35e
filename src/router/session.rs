//! One endpoint's TLS session in the router: bytes in, packets out, queued frames back.
//!
//! The session does its own TLS and framing I/O and hands each received packet to the caller,
//! which routes it (sessions do not know each other). Reading follows rustls' mio example: read
//! TLS until the socket would block, process, then take all plaintext; writing hands rustls only
//! whole frames (see `outq`) and stops when the socket is full.

use crate::tls::framed::{Broken, Framed};
use mio::net::TcpStream;
use rustls::ServerConnection;
use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Instant;

pub use crate::tls::framed::Reading;

/// Per-session counters, logged when the session ends and on SIGUSR1.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub drops: BTreeMap<&'static str, u64>,
}

impl Stats {
    pub fn drop(&mut self, reason: &'static str) {
        *self.drops.entry(reason).or_default() += 1;
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rx {} packets {} bytes, tx {} packets {} bytes",
            self.rx_packets, self.rx_bytes, self.tx_packets, self.tx_bytes
        )?;
        for (reason, n) in &self.drops {
            write!(f, ", dropped {reason} {n}")?;
        }
        Ok(())
    }
}

/// How much one session may read before the router delivers and serves others.
const READ_BUDGET_BYTES: usize = 64 * 1024;

/// Why a session ends; the text goes into the session-end log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close(pub String);

impl From<Broken> for Close {
    fn from(b: Broken) -> Close {
        Close(b.0)
    }
}

pub struct Session {
    pub link: Framed<ServerConnection>,
    pub peer: SocketAddr,
    /// The endpoint's address and key, once the handshake has proven them.
    pub addr: Option<Ipv6Addr>,
    pub spki: Vec<u8>,
    pub stats: Stats,
    pub accepted: Instant,
    pub last_rx: Instant,
    /// Whether the socket is registered for WRITABLE too.
    pub wants_writable: bool,
}

impl Session {
    pub fn new(sock: TcpStream, tls: ServerConnection, peer: SocketAddr, now: Instant) -> Session {
        Session {
            link: Framed::new(sock, tls),
            peer,
            addr: None,
            spki: Vec::new(),
            stats: Stats::default(),
            accepted: now,
            last_rx: now,
            wants_writable: false,
        }
    }

    /// Reads what is available; calls `packet(stats, sender, packet)` for each whole packet.
    /// When the handshake completes here, `addr` and `spki` are set from the client certificate.
    pub fn read(
        &mut self,
        now: Instant,
        mut packet: impl FnMut(&mut Stats, Ipv6Addr, &[u8]),
    ) -> Result<Reading, Close> {
        let stats = &mut self.stats;
        let from = std::cell::Cell::new(self.addr);
        let mut received = false;
        // Packets can follow the handshake in the same read: the sender is known by then.
        let learn = |conn: &ServerConnection| {
            if from.get().is_none() && !conn.is_handshaking() {
                from.set(crate::tls::peer_address(conn));
            }
        };
        let result = self.link.read(READ_BUDGET_BYTES, learn, |p| {
            received = true;
            match from.get() {
                Some(addr) => {
                    stats.rx_packets += 1;
                    stats.rx_bytes += p.len() as u64;
                    packet(stats, addr, p);
                }
                None => stats.drop("before_identity"),
            }
        });
        if received || result.is_ok() {
            self.last_rx = now;
        }
        if self.addr.is_none() && !self.link.tls.is_handshaking() {
            self.establish()?;
        }
        Ok(result?)
    }

    /// The verifier accepted the client certificate; remember who this is.
    fn establish(&mut self) -> Result<(), Close> {
        let cert = self
            .link
            .tls
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| Close("no client certificate".into()))?;
        let parsed = crate::identity::x509::parse(cert)
            .map_err(|e| Close(format!("client certificate: {e}")))?;
        self.spki = parsed.spki.to_vec();
        self.addr = crate::tls::peer_address(&self.link.tls);
        match self.addr {
            Some(_) => Ok(()),
            None => Err(Close("client certificate names no address".into())),
        }
    }

    /// Queues a packet for this endpoint; a full queue drops it.
    pub fn send(&mut self, packet: &[u8]) {
        if self.link.out.push(packet) {
            self.stats.tx_packets += 1;
            self.stats.tx_bytes += packet.len() as u64;
        } else {
            self.stats.drop("receiver_queue_full");
        }
    }

    /// Moves queued frames into TLS and TLS onto the socket; `Ok(true)` when the socket is full.
    pub fn flush(&mut self) -> Result<bool, Close> {
        Ok(self.link.flush()?)
    }

    /// Bytes received that do not yet make a whole frame.
    pub fn partial_frame(&self) -> bool {
        self.link.decoder.pending() > 0
    }

    /// Starts a clean close (close_notify), best effort.
    pub fn close_notify(&mut self) {
        self.link.close();
    }
}
