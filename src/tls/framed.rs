//! A TLS byte stream carrying ENF frames, for either side (the tunnel's client session and the
//! router's server sessions run the same I/O).
//!
//! Reading: one socket read of up to 64 KiB into a per-thread buffer (rustls alone reads 4 KiB
//! per syscall), handed to rustls a slice at a time, each processed at once; whole frames are
//! parsed straight out of rustls' plaintext (the decoder only keeps a frame that spans records),
//! until the socket would block or a budget runs out, so one fast peer cannot starve others.
//! Sending hands rustls only whole frames (`proto::outq`), a few 16 KiB records a
//! round and only once what it had before is on the socket, so no frame is ever split across
//! records and rustls never holds much unsent.

use crate::proto::frame::{self, Decoder};
use crate::proto::outq::OutQueue;
use mio::net::TcpStream;
use rustls::ConnectionCommon;
use std::cell::RefCell;
use std::io::{self, BufRead, Read, Write};
use std::ops::DerefMut;

/// What one socket read may take: four full TLS records.
const RX_BYTES: usize = 64 * 1024;

thread_local! {
    /// The receive buffer, one per thread: the router's sessions share the router's thread and
    /// read one after another, so 1,000 idle sessions do not hold 1,000 buffers.
    static RX: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

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

    /// Reads up to about `budget` bytes of TLS. `progress(conn)` is called after each batch of
    /// records is processed (the handshake may have finished: the peer is known), then
    /// `packet(p)` for each whole packet.
    pub fn read(
        &mut self,
        budget: usize,
        mut progress: impl FnMut(&C),
        mut packet: impl FnMut(&[u8]),
    ) -> Result<Reading, Broken> {
        RX.with(|rx| match rx.try_borrow_mut() {
            Ok(mut buf) => self.read_into(&mut buf, budget, &mut progress, &mut packet),
            // Only if a callback read another session: correct, with a buffer of its own.
            Err(_) => self.read_into(&mut Vec::new(), budget, &mut progress, &mut packet),
        })
    }

    fn read_into(
        &mut self,
        buf: &mut Vec<u8>,
        budget: usize,
        progress: &mut impl FnMut(&C),
        packet: &mut impl FnMut(&[u8]),
    ) -> Result<Reading, Broken> {
        if buf.len() < RX_BYTES {
            *buf = vec![0; RX_BYTES];
        }
        let mut left = budget;
        loop {
            if left == 0 {
                return Ok(Reading::More);
            }
            let n = match (&self.sock).read(buf) {
                Ok(0) => return Err(Broken("the peer closed the connection".into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Reading::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Broken(format!("read failed: {e}"))),
            };
            left = left.saturating_sub(n);
            // rustls takes at most a few KiB per call and holds little plaintext: process and
            // take what each slice gave before handing it the next.
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                self.tls
                    .read_tls(&mut rest)
                    .map_err(|e| Broken(format!("TLS: {e}")))?;
                self.tls
                    .process_new_packets()
                    .map_err(|e| Broken(format!("TLS: {}", super::describe(&e))))?;
                progress(&self.tls);
                self.take_plaintext(packet)?;
            }
        }
    }

    /// Every whole packet of the plaintext rustls holds. Frames are parsed where rustls keeps
    /// them; only a frame split across records goes through the decoder's buffer.
    fn take_plaintext(&mut self, packet: &mut impl FnMut(&[u8])) -> Result<(), Broken> {
        let malformed = |e: frame::Error| Broken(format!("malformed stream: {e}"));
        loop {
            let mut reader = self.tls.reader();
            let chunk = match reader.fill_buf() {
                Ok([]) => return Err(Broken("the peer ended the session (close_notify)".into())),
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(Broken(format!("TLS read failed: {e}"))),
            };
            let used = self.decoder.take(chunk, &mut *packet).map_err(malformed)?;
            reader.consume(used);
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
