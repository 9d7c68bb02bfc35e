//! A TLS byte stream carrying ENF frames, for either side (the tunnel's client session and the
//! router's server sessions run the same I/O).
//!
//! Reading follows rustls' mio example: read TLS until the socket would block (or a budget runs
//! out, so one fast peer cannot starve others), process, take all plaintext straight into the
//! frame decoder. Sending hands rustls only whole frames (`proto::outq`), a few 16 KiB records a
//! round and only once what it had before is on the socket, so no frame is ever split across
//! records and rustls never holds much unsent.

use crate::proto::frame::Decoder;
use crate::proto::outq::OutQueue;
use mio::net::TcpStream;
use rustls::ConnectionCommon;
use std::io::{self, Read, Write};
use std::ops::DerefMut;

/// Records handed to rustls per round before they go to the socket.
const RECORDS_PER_ROUND: usize = 4;

/// Why the session cannot go on; the text is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken(pub String);

/// Whether a read stopped because the socket is empty or because its budget ran out (then the
/// caller must come back: edge-triggered readiness will not say so again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Drained,
    More,
}

pub struct Framed<C> {
    pub sock: TcpStream,
    pub tls: C,
    pub decoder: Decoder,
    pub out: OutQueue,
}

impl<C, D> Framed<C>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
{
    pub fn new(sock: TcpStream, mut tls: C) -> Framed<C> {
        // rustls would accept part of a write at its 64 KiB limit and put the rest of a frame in
        // the next record; `flush` bounds what it hands over itself.
        tls.set_buffer_limit(None);
        Framed {
            sock,
            tls,
            decoder: Decoder::default(),
            out: OutQueue::default(),
        }
    }

    /// Reads up to about `budget` bytes of TLS; `packet(conn, p)` gets each whole packet.
    pub fn read(
        &mut self,
        budget: usize,
        mut packet: impl FnMut(&C, &[u8]),
    ) -> Result<Reading, Broken> {
        let mut left = budget;
        loop {
            if left == 0 {
                return Ok(Reading::More);
            }
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Err(Broken("the peer closed the connection".into())),
                Ok(n) => {
                    left = left.saturating_sub(n);
                    self.tls
                        .process_new_packets()
                        .map_err(|e| Broken(format!("TLS: {}", super::describe(&e))))?;
                    self.take_plaintext(&mut packet)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Reading::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Broken(format!("read failed: {e}"))),
            }
        }
    }

    fn take_plaintext(&mut self, packet: &mut impl FnMut(&C, &[u8])) -> Result<(), Broken> {
        loop {
            let n = match self.tls.reader().read(self.decoder.spare()) {
                Ok(0) => return Err(Broken("the peer ended the session (close_notify)".into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(Broken(format!("TLS read failed: {e}"))),
            };
            self.decoder.filled(n);
            while let Some(p) = self
                .decoder
                .next_packet()
                .map_err(|e| Broken(format!("malformed stream: {e}")))?
            {
                packet(&self.tls, p);
            }
        }
    }

    /// Sends what is queued as far as the socket takes it; `Ok(true)` when the socket is full.
    pub fn flush(&mut self) -> Result<bool, Broken> {
        loop {
            while self.tls.wants_write() {
                match self.tls.write_tls(&mut self.sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Broken(format!("write failed: {e}"))),
                }
            }
            if self.out.is_empty() || self.tls.is_handshaking() {
                return Ok(false);
            }
            for _ in 0..RECORDS_PER_ROUND {
                let batch = self.out.next_batch();
                if batch.is_empty() {
                    break;
                }
                let n = batch.len();
                self.tls
                    .writer()
                    .write_all(batch)
                    .map_err(|e| Broken(format!("TLS write failed: {e}")))?;
                self.out.consume(n);
            }
        }
    }

    /// close_notify, and as much of it onto the socket as goes without waiting. Frames still
    /// queued are dropped first: nothing may follow the alert.
    pub fn close(&mut self) {
        self.out = OutQueue::default();
        self.tls.send_close_notify();
        let _ = self.flush();
    }
}
