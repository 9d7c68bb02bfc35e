//! One endpoint's TLS session in the router: bytes in, packets out, queued frames back.
//!
//! The session does its own TLS and framing I/O and hands each received packet to the caller,
//! which routes it (sessions do not know each other). Reading follows rustls' mio example: read
//! TLS until the socket would block, process, then take all plaintext; writing hands rustls only
//! whole frames (see `outq`) and stops when the socket is full.

use crate::proto::frame::Decoder;
use crate::proto::outq::OutQueue;
use mio::net::TcpStream;
use rustls::ServerConnection;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Instant;

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

/// Whether a read stopped because the socket is empty or because its budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Drained,
    More,
}

/// Why a session ends; the text goes into the session-end log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close(pub String);

pub struct Session {
    pub sock: TcpStream,
    pub tls: ServerConnection,
    pub peer: SocketAddr,
    /// The endpoint's address and key, once the handshake has proven them.
    pub addr: Option<Ipv6Addr>,
    pub spki: Vec<u8>,
    pub decoder: Decoder,
    pub out: OutQueue,
    pub stats: Stats,
    pub accepted: Instant,
    pub last_rx: Instant,
    /// Whether the socket is registered for WRITABLE too.
    pub wants_writable: bool,
}

impl Session {
    pub fn new(
        sock: TcpStream,
        mut tls: ServerConnection,
        peer: SocketAddr,
        now: Instant,
    ) -> Session {
        // rustls would accept part of a write at its 64 KiB limit and put the rest of a frame in
        // the next record. `flush` bounds what it hands over itself (4 records a round, only when
        // everything before is on the socket), so rustls' own limit is lifted.
        tls.set_buffer_limit(None);
        Session {
            sock,
            tls,
            peer,
            addr: None,
            spki: Vec::new(),
            decoder: Decoder::default(),
            out: OutQueue::default(),
            stats: Stats::default(),
            accepted: now,
            last_rx: now,
            wants_writable: false,
        }
    }

    /// Reads everything available; calls `packet(stats, sender, packet)` for each whole packet.
    /// When the handshake completes here, `addr` and `spki` are set from the client certificate.
    pub fn read(
        &mut self,
        now: Instant,
        mut packet: impl FnMut(&mut Stats, Ipv6Addr, &[u8]),
    ) -> Result<Reading, Close> {
        let mut budget = READ_BUDGET_BYTES;
        loop {
            if budget == 0 {
                // A fast sender must not starve the others, nor fill the router between two
                // deliveries: stop here and come back on the next turn of the loop.
                return Ok(Reading::More);
            }
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Err(Close("peer closed the connection".into())),
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    self.last_rx = now;
                    self.tls
                        .process_new_packets()
                        .map_err(|e| Close(format!("TLS error: {}", crate::tls::describe(&e))))?;
                    if self.addr.is_none() && !self.tls.is_handshaking() {
                        self.establish()?;
                    }
                    if let Some(from) = self.addr {
                        self.take_plaintext(from, &mut packet)?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Reading::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Close(format!("read failed: {e}"))),
            }
        }
    }

    /// The verifier accepted the client certificate; remember who this is.
    fn establish(&mut self) -> Result<(), Close> {
        let cert = self
            .tls
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| Close("no client certificate".into()))?;
        let parsed = crate::identity::x509::parse(cert)
            .map_err(|e| Close(format!("client certificate: {e}")))?;
        self.spki = parsed.spki.to_vec();
        self.addr = crate::tls::peer_address(&self.tls);
        match self.addr {
            Some(_) => Ok(()),
            None => Err(Close("client certificate names no address".into())),
        }
    }

    fn take_plaintext(
        &mut self,
        from: Ipv6Addr,
        packet: &mut impl FnMut(&mut Stats, Ipv6Addr, &[u8]),
    ) -> Result<(), Close> {
        loop {
            let spare = self.decoder.spare();
            let n = match self.tls.reader().read(spare) {
                Ok(0) => return Err(Close("peer sent close_notify".into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(Close(format!("TLS read failed: {e}"))),
            };
            self.decoder.filled(n);
            while let Some(p) = self
                .decoder
                .next_packet()
                .map_err(|e| Close(format!("malformed stream: {e}")))?
            {
                self.stats.rx_packets += 1;
                self.stats.rx_bytes += p.len() as u64;
                packet(&mut self.stats, from, p);
            }
        }
    }

    /// Queues a packet for this endpoint; a full queue drops it.
    pub fn send(&mut self, packet: &[u8]) {
        if self.out.push(packet) {
            self.stats.tx_packets += 1;
            self.stats.tx_bytes += packet.len() as u64;
        } else {
            self.stats.drop("receiver_queue_full");
        }
    }

    /// Moves queued frames into TLS and TLS onto the socket until one of them is empty or the
    /// socket is full. Returns whether the socket must be watched for WRITABLE.
    pub fn flush(&mut self) -> Result<bool, Close> {
        loop {
            while self.tls.wants_write() {
                match self.tls.write_tls(&mut self.sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Close(format!("write failed: {e}"))),
                }
            }
            if self.out.is_empty() || self.tls.is_handshaking() {
                return Ok(false);
            }
            // A few records per round, then to the socket: rustls never holds much unsent.
            for _ in 0..4 {
                let batch = self.out.next_batch();
                if batch.is_empty() {
                    break;
                }
                let n = batch.len();
                self.tls
                    .writer()
                    .write_all(batch)
                    .map_err(|e| Close(format!("TLS write failed: {e}")))?;
                self.out.consume(n);
            }
        }
    }

    /// Bytes received that do not yet make a whole frame.
    pub fn partial_frame(&self) -> bool {
        self.decoder.pending() > 0
    }

    /// Starts a clean close (close_notify), best effort.
    pub fn close_notify(&mut self) {
        self.tls.send_close_notify();
        let _ = self.tls.write_tls(&mut self.sock);
    }
}
