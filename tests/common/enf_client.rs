//! A blocking ENF endpoint for router tests, built on the same frame codec and TLS configuration
//! as enf-init's tunnel: connect with an endpoint directory, send and receive packets.

use enf_init::proto::{frame, heartbeat};
use enf_init::{config, identity, tls};
use rustls::{ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

pub struct EnfClient {
    pub stream: StreamOwned<ClientConnection, TcpStream>,
    decoder: frame::Decoder,
    pub addr: Ipv6Addr,
}

/// Loads an endpoint directory written by `enf-router add-endpoint --out`.
pub fn load_identity(dir: &Path) -> identity::Identity {
    let cfg = config::load(&dir.join("enf0.conf"), &|_| None).expect("endpoint config");
    identity::load(&cfg).expect("endpoint credentials")
}

impl EnfClient {
    pub fn connect(dir: &Path, server: SocketAddr) -> Result<EnfClient, String> {
        Self::connect_with(&load_identity(dir), server)
    }

    pub fn connect_with(id: &identity::Identity, server: SocketAddr) -> Result<EnfClient, String> {
        let cfg = tls::client_config(id, None).map_err(|e| e.to_string())?;
        let sock = TcpStream::connect_timeout(&server, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let name = tls::server_name_for(&server.ip().to_string(), None);
        let conn = ClientConnection::new(cfg, name).map_err(|e| e.to_string())?;
        let mut stream = StreamOwned::new(conn, sock);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| format!("handshake: {e}"))?;
        }
        Ok(EnfClient {
            stream,
            decoder: frame::Decoder::default(),
            addr: id.address,
        })
    }

    /// Raw bytes straight into the TLS stream (for malformed input).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    pub fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        let mut out = Vec::new();
        assert!(frame::encode(&mut out, packet));
        self.send_raw(&out)
    }

    /// The next packet; an error when the router closes or nothing comes within the timeout.
    pub fn recv(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(p) = self
                .decoder
                .next_packet()
                .map_err(|e| io::Error::other(e.to_string()))?
            {
                return Ok(p.to_vec());
            }
            let n = self.stream.read(self.decoder.spare())?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "router closed the session",
                ));
            }
            self.decoder.filled(n);
        }
    }

    /// Sends a heartbeat and waits for its reply (other packets are skipped).
    pub fn heartbeat(&mut self) -> io::Result<()> {
        self.send(&heartbeat::request(self.addr))?;
        loop {
            if heartbeat::is_reply(&self.recv()?, self.addr) {
                return Ok(());
            }
        }
    }
}

/// An IPv6/UDP-shaped packet from `src` to `dst` carrying `payload`.
pub fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}
