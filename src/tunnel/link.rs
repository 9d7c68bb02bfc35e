//! One TLS session to the ENF, client side: bytes between the socket, rustls, the frame codec.
//!
//! Like the router's session (same rules, mirrored): read TLS until the socket would block,
//! decode every whole frame, hand packets to the caller; send by handing rustls only whole frames
//! (`proto::outq`), a few records a round, and only when what it already had is on the socket.

use crate::proto::frame::Decoder;
use crate::proto::outq::OutQueue;
use mio::net::TcpStream;
use rustls::ClientConnection;
use std::io::{self, Read, Write};

/// How much one turn of the loop reads from the session before it serves the tun again.
const READ_BUDGET_BYTES: usize = 256 * 1024;

pub struct Link {
    pub sock: TcpStream,
    pub tls: ClientConnection,
    pub decoder: Decoder,
    pub out: OutQueue,
}

/// Why the session cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Drained,
    More,
}

impl Link {
    pub fn new(sock: TcpStream, mut tls: ClientConnection) -> Link {
        // `flush` bounds what rustls holds itself; rustls' own limit would split a frame.
        tls.set_buffer_limit(None);
        Link {
            sock,
            tls,
            decoder: Decoder::default(),
            out: OutQueue::default(),
        }
    }

    /// Reads and processes what the server sent; `packet` gets each whole packet.
    pub fn read(&mut self, mut packet: impl FnMut(&[u8])) -> Result<Reading, Broken> {
        let mut budget = READ_BUDGET_BYTES;
        loop {
            if budget == 0 {
                return Ok(Reading::More);
            }
            match self.tls.read_tls(&mut self.sock) {
                Ok(0) => return Err(Broken("the server closed the connection".into())),
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    self.tls
                        .process_new_packets()
                        .map_err(|e| Broken(format!("TLS: {}", crate::tls::describe(&e))))?;
                    self.take_plaintext(&mut packet)?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Reading::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Broken(format!("read failed: {e}"))),
            }
        }
    }

    fn take_plaintext(&mut self, packet: &mut impl FnMut(&[u8])) -> Result<(), Broken> {
        loop {
            let n = match self.tls.reader().read(self.decoder.spare()) {
                Ok(0) => return Err(Broken("the server ended the session (close_notify)".into())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(Broken(format!("TLS read failed: {e}"))),
            };
            self.decoder.filled(n);
            while let Some(p) = self
                .decoder
                .next_packet()
                .map_err(|e| Broken(format!("malformed stream from the server: {e}")))?
            {
                packet(p);
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
            for _ in 0..4 {
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

    /// close_notify, then as much of it onto the socket as goes without waiting.
    pub fn close(&mut self) {
        self.tls.send_close_notify();
        let _ = self.flush();
    }
}
