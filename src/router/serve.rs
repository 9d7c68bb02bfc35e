//! `enf-router serve`: one mio loop that accepts endpoints, routes their packets, answers
//! heartbeats, and follows the registry on disk.
//!
//! Every socket is non-blocking and drained until it would block. A received packet goes to the
//! session that owns its destination (`route`); what cannot be delivered is dropped and counted,
//! so a slow or hostile peer costs nobody else anything. Timers run on a one-second tick.

use super::registry;
use super::route::{route, Verdict};
use super::session::{Close, Reading, Session};
use super::slots::Slots;
use crate::signals::{self, sys};
use mio::net::TcpListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Tokens below this are listeners and signals; sessions start here.
const FIRST_SESSION: usize = 1024;
const SIGNALS: Token = Token(1023);
/// The HTTP listener (`--http`); its connections take the tokens after it, below `SIGNALS`.
const HTTP: usize = 960;
const TICK: Duration = Duration::from_secs(1);
/// A peer must finish its TLS handshake within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many connections may be in their TLS handshake at once; more are closed at
/// once, so unauthenticated peers cannot pin the router's memory or descriptors.
pub const MAX_HANDSHAKING: usize = 1024;
/// A peer that stops in the middle of a frame for this long is cut off.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);

struct Router {
    poll: Poll,
    listeners: Vec<TcpListener>,
    config: Arc<rustls::ServerConfig>,
    sessions: Slots<Session>,
    routes: HashMap<Ipv6Addr, usize>,
    registered: Arc<super::check::Registered>,
    dir: PathBuf,
    registry_stamp: Option<SystemTime>,
    state_dirty: bool,
    /// Received packets waiting to be queued to their sessions: (session, start, len) in `scratch`.
    scratch: Vec<u8>,
    deliveries: Vec<(usize, usize, usize)>,
    /// Sessions whose read stopped at its budget: read again before waiting for events
    /// (edge-triggered readiness will not tell us twice).
    unread: Vec<usize>,
    /// Sessions not yet past their handshake, and connections turned away since the last tick.
    handshaking: usize,
    turned_away: u64,
    http: Option<crate::http::Server>,
    /// For the metrics: counters of ended sessions, and connection counts.
    ended: super::session::Stats,
    accepted: u64,
    closed: u64,
    turned_away_total: u64,
}

/// Serves DIR on `listen` until SIGTERM or SIGINT; returns the exit code.
pub fn run(dir: &Path, listen: &[SocketAddr], http: Option<SocketAddr>) -> u8 {
    match serve(dir, listen, http) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            crate::exit::OS_ERROR
        }
    }
}

fn serve(dir: &Path, listen: &[SocketAddr], http: Option<SocketAddr>) -> Result<(), String> {
    let mask = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1]
        .iter()
        .fold(0u64, |m, &s| m | 1 << (s - 1));
    sys::set_mask(mask).map_err(|e| format!("cannot block signals: {e}"))?;
    let sigfd = sys::signalfd(mask).map_err(|e| format!("cannot create a signalfd: {e}"))?;
    raise_open_file_limit();
    let registered = Arc::new(super::check::Registered::new(dir));
    registered.replace(registry::load(dir).map_err(|e| e.to_string())?);
    let config = super::check::server_config(dir, registered.clone())?;
    let poll = Poll::new().map_err(|e| format!("cannot create the event loop: {e}"))?;
    poll.registry()
        .register(
            &mut SourceFd(&sigfd.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )
        .map_err(|e| e.to_string())?;
    let mut listeners = Vec::new();
    for (i, addr) in listen.iter().enumerate() {
        let mut l =
            TcpListener::bind(*addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        poll.registry()
            .register(&mut l, Token(i), Interest::READABLE)
            .map_err(|e| e.to_string())?;
        log::info!("listening on {addr}");
        listeners.push(l);
    }
    let http = match http {
        Some(addr) => {
            let server = crate::http::Server::bind(addr, poll.registry(), HTTP)
                .map_err(|e| format!("cannot listen on {addr} (--http): {e}"))?;
            log::info!(
                "serving /metrics /livez /readyz on http://{}",
                server.local_addr()
            );
            Some(server)
        }
        None => None,
    };
    let mut r = Router {
        poll,
        listeners,
        config,
        sessions: Slots::default(),
        routes: HashMap::new(),
        registered,
        dir: dir.to_path_buf(),
        registry_stamp: registry_stamp(dir),
        state_dirty: true,
        scratch: Vec::new(),
        deliveries: Vec::new(),
        unread: Vec::new(),
        handshaking: 0,
        turned_away: 0,
        http,
        ended: Default::default(),
        accepted: 0,
        closed: 0,
        turned_away_total: 0,
    };
    r.write_state();
    let mut events = Events::with_capacity(1024);
    let mut next_tick = Instant::now() + TICK;
    loop {
        let timeout = match r.unread.is_empty() {
            true => next_tick.saturating_duration_since(Instant::now()),
            false => Duration::ZERO,
        };
        if let Err(e) = r.poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("event loop failed: {e}"));
            }
        }
        let now = Instant::now();
        for ev in events.iter() {
            match ev.token() {
                SIGNALS => {
                    while let Ok(Some(got)) = sys::read_signalfd(sigfd.as_raw_fd()) {
                        match got.signo {
                            libc::SIGTERM | libc::SIGINT => {
                                log::info!(
                                    "{}: closing {} sessions",
                                    signals::name(got.signo),
                                    r.sessions.len()
                                );
                                r.shutdown();
                                return Ok(());
                            }
                            libc::SIGHUP => r.reload(),
                            _ => r.log_stats(),
                        }
                    }
                }
                Token(i) if i < r.listeners.len() => r.accept(i, now),
                t if r.http.as_ref().is_some_and(|h| h.owns(t)) => r.serve_http(t, now),
                Token(t) if t >= FIRST_SESSION => {
                    let key = t - FIRST_SESSION;
                    if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                        r.readable(key, now);
                    }
                    if ev.is_writable() {
                        r.flush(key);
                    }
                }
                _ => {}
            }
        }
        for key in std::mem::take(&mut r.unread) {
            r.readable(key, now);
        }
        if now >= next_tick {
            if let Some(h) = r.http.as_mut() {
                h.expire(r.poll.registry(), now);
            }
            r.tick(now);
            next_tick = now + TICK;
        }
        if r.state_dirty {
            r.write_state();
        }
    }
}

impl Router {
    fn accept(&mut self, i: usize, now: Instant) {
        loop {
            let (mut sock, peer) = match self.listeners[i].accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: keep serving the sessions we have.
                    log::warn!("accept failed: {e}");
                    return;
                }
            };
            if self.handshaking >= MAX_HANDSHAKING {
                self.turned_away += 1;
                self.turned_away_total += 1;
                drop(sock);
                continue;
            }
            let _ = sock.set_nodelay(true);
            // An IPv4 peer on the dual-stack socket reads as 1.2.3.4, not [::ffff:1.2.3.4].
            let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
            let tls = match rustls::ServerConnection::new(self.config.clone()) {
                Ok(t) => t,
                Err(e) => {
                    log::warn!("{peer}: cannot start TLS: {e}");
                    continue;
                }
            };
            let key = self.sessions.vacant_key();
            if let Err(e) = self.poll.registry().register(
                &mut sock,
                Token(FIRST_SESSION + key),
                Interest::READABLE,
            ) {
                log::warn!("{peer}: cannot watch the connection: {e}");
                continue;
            }
            self.sessions.insert(Session::new(sock, tls, peer, now));
            self.handshaking += 1;
            self.accepted += 1;
        }
    }

    fn readable(&mut self, key: usize, now: Instant) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let was_up = s.addr.is_some();
        let routes = &self.routes;
        let (scratch, deliveries) = (&mut self.scratch, &mut self.deliveries);
        let result = s.read(now, |stats, from, p| match route(p, from, routes) {
            Verdict::Forward(to) => {
                deliveries.push((to, scratch.len(), p.len()));
                scratch.extend_from_slice(p);
            }
            Verdict::Reply(reply) => {
                deliveries.push((key, scratch.len(), reply.len()));
                scratch.extend_from_slice(&reply);
            }
            Verdict::Drop(reason) => stats.drop(reason),
        });
        if !was_up {
            if let Some(addr) = s.addr {
                self.established(key, addr);
            }
        }
        self.deliver();
        match result {
            Ok(reading) => {
                if reading == Reading::More && !self.unread.contains(&key) {
                    self.unread.push(key);
                }
                self.flush(key)
            }
            Err(Close(why)) => self.close(key, &why),
        }
    }

    fn established(&mut self, key: usize, addr: Ipv6Addr) {
        self.handshaking = self.handshaking.saturating_sub(1);
        if let Some(old) = self.routes.insert(addr, key) {
            if old != key {
                let peer = self
                    .sessions
                    .get(key)
                    .map(|s| s.peer.to_string())
                    .unwrap_or_default();
                // The route already points at the new session, so `close` leaves it alone.
                self.close(old, &format!("replaced by a new session from {peer}"));
            }
        }
        if let Some(s) = self.sessions.get(key) {
            log::info!("session start {addr} from {}", s.peer);
        }
        self.state_dirty = true;
    }

    /// Queues what the last read produced, then flushes every session that got something.
    fn deliver(&mut self) {
        let mut touched = Vec::new();
        for &(to, start, len) in &self.deliveries {
            if let Some(dst) = self.sessions.get_mut(to) {
                dst.send(&self.scratch[start..start + len]);
                if touched.last() != Some(&to) {
                    touched.push(to);
                }
            }
        }
        self.deliveries.clear();
        self.scratch.clear();
        touched.sort_unstable();
        touched.dedup();
        for to in touched {
            self.flush(to);
        }
    }

    fn flush(&mut self, key: usize) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        match s.flush() {
            Ok(want) if want != s.wants_writable => {
                s.wants_writable = want;
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                let _ = self.poll.registry().reregister(
                    &mut s.link.sock,
                    Token(FIRST_SESSION + key),
                    interest,
                );
            }
            Ok(_) => {}
            Err(Close(why)) => self.close(key, &why),
        }
    }

    fn close(&mut self, key: usize, why: &str) {
        let Some(mut s) = self.sessions.remove(key) else {
            return;
        };
        s.close_notify();
        let _ = self.poll.registry().deregister(&mut s.link.sock);
        self.closed += 1;
        super::metrics::accumulate(&mut self.ended, &s.stats);
        match s.addr {
            Some(addr) => {
                if self.routes.get(&addr) == Some(&key) {
                    self.routes.remove(&addr);
                }
                self.state_dirty = true;
                log::info!("session end {addr} from {}: {why}; {}", s.peer, s.stats);
            }
            None => {
                self.handshaking = self.handshaking.saturating_sub(1);
                log::info!(
                    "connection from {} refused or dropped before the handshake: {why}",
                    s.peer
                );
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        if self.turned_away > 0 {
            log::warn!(
                "{} connections turned away: {MAX_HANDSHAKING} handshakes already in progress",
                std::mem::take(&mut self.turned_away)
            );
        }
        let mut late = Vec::new();
        for (key, s) in self.sessions.iter() {
            if s.addr.is_none() && now.duration_since(s.accepted) > HANDSHAKE_TIMEOUT {
                late.push((key, "no TLS handshake within 10 s"));
            } else if s.partial_frame() && now.duration_since(s.last_rx) > STALL_TIMEOUT {
                late.push((key, "stalled in the middle of a frame for 10 s"));
            }
        }
        for (key, why) in late {
            self.close(key, why);
        }
        let stamp = registry_stamp(&self.dir);
        if stamp != self.registry_stamp {
            self.registry_stamp = stamp;
            self.reload();
        }
    }

    /// Re-reads the registry; sessions whose key is no longer registered are closed.
    fn reload(&mut self) {
        let map = match registry::load(&self.dir) {
            Ok(m) => m,
            Err(e) => {
                log::warn!("registry not reloaded: {e}");
                return;
            }
        };
        let revoked: Vec<usize> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.addr.is_some_and(|a| map.get(&a) != Some(&s.spki)))
            .map(|(k, _)| k)
            .collect();
        log::info!("registry reloaded: {} endpoints", map.len());
        self.registered.replace(map);
        for key in revoked {
            self.close(key, "registration removed or its key replaced");
        }
    }

    /// Answers an HTTP client (`--http`): the metrics are gathered now.
    fn serve_http(&mut self, token: Token, now: Instant) {
        let mut traffic = self.ended.clone();
        for (_, s) in self.sessions.iter() {
            super::metrics::accumulate(&mut traffic, &s.stats);
        }
        let totals = super::metrics::Totals {
            sessions: self.routes.len() as u64,
            handshaking: self.handshaking as u64,
            registered: self.registered.len() as u64,
            accepted: self.accepted,
            closed: self.closed,
            turned_away: self.turned_away_total,
            traffic,
        };
        if let Some(h) = self.http.as_mut() {
            h.ready(token, self.poll.registry(), now, &mut |req| {
                super::metrics::answer(req, &totals)
            });
        }
    }

    fn log_stats(&self) {
        log::info!(
            "{} sessions, {} routed addresses",
            self.sessions.len(),
            self.routes.len()
        );
        for (_, s) in self.sessions.iter() {
            let who = s
                .addr
                .map(|a| a.to_string())
                .unwrap_or_else(|| "(handshaking)".into());
            log::info!("session {who} from {}: {}", s.peer, s.stats);
        }
    }

    fn shutdown(&mut self) {
        let keys: Vec<usize> = self.sessions.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.close(key, "router shutting down");
        }
        let _ = std::fs::remove_file(registry::run_dir(&self.dir).join("pid"));
        let _ = std::fs::remove_file(registry::run_dir(&self.dir).join("sessions"));
    }

    /// `DIR/run/pid` and `DIR/run/sessions`, for `enf-router list`.
    fn write_state(&mut self) {
        let run = registry::run_dir(&self.dir);
        let mut addrs: Vec<String> = self.routes.keys().map(|a| a.to_string()).collect();
        addrs.sort();
        let sessions = addrs.iter().map(|a| format!("{a}\n")).collect::<String>();
        let result = std::fs::create_dir_all(&run)
            .map_err(|e| e.to_string())
            .and_then(|_| {
                let pid = format!("{}\n", std::process::id());
                registry::write_atomic(&run.join("pid"), pid.as_bytes(), 0o644)
                    .map_err(|e| e.to_string())
            })
            .and_then(|_| {
                registry::write_atomic(&run.join("sessions"), sessions.as_bytes(), 0o644)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            log::warn!("cannot write {}: {e}", run.display());
        }
        self.state_dirty = false;
    }
}

fn registry_stamp(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(registry::endpoints_dir(dir))
        .and_then(|m| m.modified())
        .ok()
}

/// 1,000 sessions need more than the usual 1,024 descriptors' headroom: take the hard limit.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                log::warn!(
                    "cannot raise the open-file limit: {}",
                    io::Error::last_os_error()
                );
            }
        }
    }
}
