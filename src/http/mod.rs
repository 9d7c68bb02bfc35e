//! A small HTTP/1.1 server for probes and metrics, run on an existing mio loop (no threads, no
//! async runtime).
//!
//! The owner registers the server under a range of tokens, hands it the events for those
//! tokens, and answers each request through a handler that maps a path to a `Response`. Every
//! response closes its connection. Connections are bounded (`MAX_CONNECTIONS`; more are
//! closed at once) and a client has `IDLE_TIMEOUT` to send its request and take the answer, so
//! a slow or hostile client costs a few KiB and never blocks the loop it shares.

pub mod process;
pub mod prom;
pub mod request;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Connections served at once; probes come one at a time, scrapers a few.
pub const MAX_CONNECTIONS: usize = 16;
/// A connection that has not finished within this is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: String) -> Response {
        Response {
            status,
            content_type: "application/json",
            body,
        }
    }

    pub fn not_found(path: &str) -> Response {
        Response::text(404, format!("no such path: {path}\n"))
    }

    /// The bytes on the wire: status line, headers, and the body unless `head_only`.
    pub fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if self.status == 405 {
            out.push_str("Allow: GET, HEAD\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !head_only {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

struct Conn {
    sock: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    since: Instant,
}

/// The listener and its connections.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    /// The listener's token; connection `i` is `base + 1 + i`.
    base: usize,
    conns: Vec<Option<Conn>>,
}

impl Server {
    /// Listens on `addr`, registered under tokens `base..=base + MAX_CONNECTIONS`.
    pub fn bind(addr: SocketAddr, registry: &Registry, base: usize) -> io::Result<Server> {
        let mut listener = TcpListener::bind(addr)?;
        registry.register(&mut listener, Token(base), Interest::READABLE)?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            addr,
            base,
            conns: (0..MAX_CONNECTIONS).map(|_| None).collect(),
        })
    }

    /// Where it listens (the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether `token` is one of ours.
    pub fn owns(&self, token: Token) -> bool {
        (self.base..=self.base + MAX_CONNECTIONS).contains(&token.0)
    }

    /// Handles readiness of one of our tokens; `handler` answers each complete request.
    pub fn ready(
        &mut self,
        token: Token,
        registry: &Registry,
        now: Instant,
        handler: &mut dyn FnMut(&request::Request) -> Response,
    ) {
        if token.0 == self.base {
            self.accept(registry, now);
            return;
        }
        let i = token.0 - self.base - 1;
        if self.progress(i, handler).unwrap_or(true) {
            self.close(i, registry);
        }
    }

    /// Closes connections older than `IDLE_TIMEOUT`; call it every second or so.
    pub fn expire(&mut self, registry: &Registry, now: Instant) {
        for i in 0..self.conns.len() {
            if self.conns[i]
                .as_ref()
                .is_some_and(|c| now.duration_since(c.since) > IDLE_TIMEOUT)
            {
                self.close(i, registry);
            }
        }
    }

    fn accept(&mut self, registry: &Registry, now: Instant) {
        loop {
            let (mut sock, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: the loop must go on; the next accept may work.
                    log::debug!("http: accept failed: {e}");
                    return;
                }
            };
            // A full house turns the newcomer away (dropping it closes it).
            let Some(i) = self.conns.iter().position(Option::is_none) else {
                continue;
            };
            let token = Token(self.base + 1 + i);
            if registry
                .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                continue;
            }
            self.conns[i] = Some(Conn {
                sock,
                input: Vec::new(),
                output: Vec::new(),
                written: 0,
                since: now,
            });
            // Registering a socket that is already readable reports it at once (epoll checks
            // readiness on add), so a request that came with the connection is not missed.
        }
    }

    /// Reads, answers and writes as far as possible; `Ok(true)` when the connection is finished.
    fn progress(
        &mut self,
        i: usize,
        handler: &mut dyn FnMut(&request::Request) -> Response,
    ) -> io::Result<bool> {
        let Some(c) = self.conns.get_mut(i).and_then(Option::as_mut) else {
            return Ok(false);
        };
        if c.output.is_empty() {
            let mut chunk = [0u8; 2048];
            loop {
                match c.sock.read(&mut chunk) {
                    Ok(0) => return Ok(true),
                    Ok(n) => {
                        c.input.extend_from_slice(&chunk[..n]);
                        if c.input.len() > request::MAX_HEAD {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            c.output = match request::parse(&c.input) {
                Ok(None) => return Ok(false),
                Ok(Some(req)) => handler(&req).encode(req.head_only),
                Err(e) => Response::text(e.status(), format!("{e:?}\n")).encode(false),
            };
        }
        while c.written < c.output.len() {
            match c.sock.write(&c.output[c.written..]) {
                Ok(0) => return Ok(true),
                Ok(n) => c.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let _ = c.sock.shutdown(std::net::Shutdown::Write);
        Ok(true)
    }

    fn close(&mut self, i: usize, registry: &Registry) {
        if let Some(mut c) = self.conns.get_mut(i).and_then(Option::take) {
            let _ = registry.deregister(&mut c.sock);
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
