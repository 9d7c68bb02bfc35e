//! The tunnel thread's loop: connect, handshake, carry packets, heartbeat, reconnect.
//!
//! One mio `Poll` watches the tun device, the TLS socket and a `Waker` for the supervisor's
//! commands. Credentials are read again at every connection attempt. Every failure ends the
//! session, is logged once with its cause, and leads to a back-off with full jitter; the device,
//! its address and routes stay as they are, so the service's sockets survive.

use super::backoff::Backoff;
use super::heartbeat::{Action as Beat, Heartbeat};
use super::link::{Broken, Link, Reading, READ_BUDGET_BYTES};
use super::retry::Retry;
use super::{sock, tun::Tun, Command, Event, Settings};
use crate::proto::{heartbeat, packet};
use crate::status::State;
use crate::{config, identity, tls};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub const WAKE: Token = Token(0);
const TUN: Token = Token(1);
const SOCK: Token = Token(2);
/// Connect and handshake each get this long (the reference waits forever).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the status file is refreshed and the credentials are looked at.
const REFRESH: Duration = Duration::from_secs(2);
/// Stop reading the tun while this much waits for the TLS socket (back-pressure).
const HIGH_WATER_BYTES: usize = 256 * 1024;
/// A tun read buffer: one packet (the MTU is 1280; a little more for safety).
const PACKET_BUF_BYTES: usize = 2048;
/// How soon to look again at an address that is not usable yet.
const READY_RECHECK: Duration = Duration::from_millis(20);
/// Warn this long before the client certificate expires.
const EXPIRY_WARNING_SECS: i64 = 7 * 86_400;
/// How long the close_notify may take at shutdown.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

enum Phase {
    Waiting {
        until: Instant,
    },
    Connecting {
        sock: mio::net::TcpStream,
        server: SocketAddr,
        deadline: Instant,
    },
    Handshaking {
        link: Link,
        server: SocketAddr,
        deadline: Instant,
    },
    Up {
        link: Link,
        server: SocketAddr,
        since: Instant,
        beat: Heartbeat,
        ready: bool,
    },
}

pub struct Engine {
    settings: Settings,
    poll: Poll,
    tun: Tun,
    commands: Receiver<Command>,
    events: Sender<Event>,
    wake_supervisor: Arc<Waker>,
    phase: Phase,
    /// Addresses left to try in this attempt, and the credentials it uses.
    targets: VecDeque<SocketAddr>,
    attempt: Option<(
        Arc<rustls::ClientConfig>,
        identity::Identity,
        config::Config,
    )>,
    retry: Retry,
    pub stats: super::Stats,
    tun_ready: bool,
    last_refresh: Instant,
    cred_stamp: Option<Vec<SystemTime>>,

    expiry_warned: Option<i64>,
    address_check_warned: bool,
}

impl Engine {
    pub fn new(
        settings: Settings,
        tun: Tun,
        commands: Receiver<Command>,
        events: Sender<Event>,
        wake_supervisor: Arc<Waker>,
        poll: Poll,
    ) -> io::Result<Engine> {
        poll.registry()
            .register(&mut SourceFd(&tun.as_raw_fd()), TUN, Interest::READABLE)?;
        let now = Instant::now();
        Ok(Engine {
            settings,
            poll,
            tun,
            commands,
            events,
            wake_supervisor,
            phase: Phase::Waiting { until: now },
            targets: VecDeque::new(),
            attempt: None,
            retry: Retry::new(
                Backoff::new(Duration::from_millis(100), Duration::from_secs(30)),
                super::backoff::jitter_seed(),
            ),
            stats: super::Stats::default(),
            tun_ready: true,
            last_refresh: now,
            cred_stamp: None,

            expiry_warned: None,
            address_check_warned: false,
        })
    }

    /// Runs until the supervisor says stop.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        loop {
            let now = Instant::now();
            let timeout = self.next_deadline(now).saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            let mut sock_event = false;
            for ev in events.iter() {
                match ev.token() {
                    WAKE => {
                        // Stop, or the supervisor is gone: either way the tunnel ends here.
                        if let Ok(Command::Stop) | Err(TryRecvError::Disconnected) =
                            self.commands.try_recv()
                        {
                            self.shutdown();
                            return Ok(());
                        }
                    }
                    TUN => self.tun_ready = true,
                    SOCK => sock_event = true,
                    _ => {}
                }
            }
            let now = Instant::now();
            self.step(now, sock_event);
            if now.duration_since(self.last_refresh) >= REFRESH {
                self.last_refresh = now;
                self.refresh(now);
            }
        }
    }

    fn next_deadline(&self, now: Instant) -> Instant {
        let refresh = self.last_refresh + REFRESH;
        let phase = match &self.phase {
            Phase::Waiting { until } => *until,
            Phase::Connecting { deadline, .. } | Phase::Handshaking { deadline, .. } => *deadline,
            Phase::Up { beat, .. } => beat.next_deadline(),
        };
        // The first reply came but the address is not usable yet (the kernel adds its local
        // route a moment after the address): look again shortly.
        if let Phase::Up {
            beat, ready: false, ..
        } = &self.phase
        {
            if beat.answered() {
                return (now + READY_RECHECK).min(refresh);
            }
        }
        // Packets wait in the tun and the send queue has room: no sleeping.
        let busy = matches!(&self.phase, Phase::Up { link, .. } if self.tun_ready && link.out.len() < HIGH_WATER_BYTES);
        if busy {
            return now;
        }
        phase.min(refresh)
    }

    /// Advances the current phase as far as it goes now.
    fn step(&mut self, now: Instant, sock_event: bool) {
        let phase = std::mem::replace(&mut self.phase, Phase::Waiting { until: now });
        self.phase = match phase {
            Phase::Waiting { until } if now >= until => self.next_target(now),
            Phase::Connecting {
                sock,
                server,
                deadline,
            } => {
                if sock_event || now >= deadline {
                    match sock::finish_connect(&sock) {
                        Ok(()) => self.start_handshake(sock, server, now),
                        Err(e) if now >= deadline || e.kind() != io::ErrorKind::NotConnected => {
                            let why = if now >= deadline {
                                "no answer within 10 s".to_string()
                            } else {
                                e.to_string()
                            };
                            self.failed(&format!("cannot connect to {server}: {why}"), now)
                        }
                        Err(_) => Phase::Connecting {
                            sock,
                            server,
                            deadline,
                        },
                    }
                } else {
                    Phase::Connecting {
                        sock,
                        server,
                        deadline,
                    }
                }
            }
            Phase::Handshaking {
                mut link,
                server,
                deadline,
            } => match self.handshake_io(&mut link) {
                Err(Broken(why)) => {
                    let _ = self.poll.registry().deregister(&mut link.sock);
                    self.failed(&format!("{server}: TLS handshake failed: {why}"), now)
                }
                Ok(()) if !link.tls.is_handshaking() => self.established(link, server, now),
                Ok(()) if now >= deadline => {
                    let _ = self.poll.registry().deregister(&mut link.sock);
                    self.failed(&format!("{server}: no TLS handshake within 10 s"), now)
                }
                Ok(()) => Phase::Handshaking {
                    link,
                    server,
                    deadline,
                },
            },
            Phase::Up {
                mut link,
                server,
                since,
                mut beat,
                ready,
            } => match self.pump(&mut link, &mut beat, now) {
                Ok(()) => {
                    let ready = ready || self.check_ready(&beat);
                    Phase::Up {
                        link,
                        server,
                        since,
                        beat,
                        ready,
                    }
                }
                Err(Broken(why)) => {
                    let _ = self.poll.registry().deregister(&mut link.sock);
                    self.retry.session_ended(now.duration_since(since));
                    self.stats.connected_since = None;
                    self.failed(&format!("session with {server} lost: {why}"), now)
                }
            },
            other => other,
        };
    }

    /// Picks the next address to try; a new attempt re-reads configuration and credentials.
    fn next_target(&mut self, now: Instant) -> Phase {
        if self.targets.is_empty() {
            match self.prepare_attempt() {
                Ok(()) => {}
                Err(why) => return self.failed(&why, now),
            }
        }
        let Some(server) = self.targets.pop_front() else {
            return self.failed("no address to connect to", now);
        };
        self.set_state(State::Connecting);
        match sock::connect(server, self.settings.fwmark) {
            Ok(mut s) => match self.poll.registry().register(
                &mut s,
                SOCK,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                Ok(()) => Phase::Connecting {
                    sock: s,
                    server,
                    deadline: now + CONNECT_TIMEOUT,
                },
                Err(e) => self.failed(&format!("cannot watch the socket: {e}"), now),
            },
            Err(e) => self.failed(&format!("cannot connect to {server}: {e}"), now),
        }
    }

    fn prepare_attempt(&mut self) -> Result<(), String> {
        let env = |k: &str| {
            self.settings
                .env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let cfg = config::load_quiet(&self.settings.config, &env).map_err(|e| e.to_string())?;
        let id = identity::load_quiet(&cfg).map_err(|e| e.to_string())?;
        if id.address != self.settings.address {
            // The device, routes, filters and the service all run on the old address.
            return Err(format!(
                "the certificate now names {}, but this tunnel runs as {}: restart enf-init to change address",
                id.address, self.settings.address
            ));
        }
        let tls = tls::client_config(&id, cfg.remote.server_name.as_deref())
            .map_err(|e| e.to_string())?;
        self.cred_stamp = stamps(&cfg);
        self.stats.cert_not_after = Some(id.not_after);
        self.warn_if_expiring(&cfg, id.not_after);
        let mut targets = VecDeque::new();
        for host in &cfg.remote.hosts {
            match (host.as_str(), cfg.remote.port).to_socket_addrs() {
                Ok(addrs) => targets.extend(addrs),
                Err(e) => log::warn!("cannot resolve {host}: {e}"),
            }
        }
        if targets.is_empty() {
            return Err(format!(
                "none of remote.hosts ({}) resolves",
                cfg.remote.hosts.join(", ")
            ));
        }
        self.targets = targets;
        self.attempt = Some((tls, id, cfg));
        Ok(())
    }

    /// Says once (per certificate) when the client certificate expires within a week.
    fn warn_if_expiring(&mut self, cfg: &config::Config, not_after: i64) {
        let left = not_after.saturating_sub(crate::status::now_unix() as i64);
        if left < EXPIRY_WARNING_SECS && self.expiry_warned != Some(not_after) {
            self.expiry_warned = Some(not_after);
            let file = cfg
                .identity
                .cert_file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            log::warn!(
                "{file}: client certificate expires on {} (in {} days); renew it",
                identity::time::format(not_after),
                left / 86_400
            );
        }
    }

    fn start_handshake(
        &mut self,
        sock: mio::net::TcpStream,
        server: SocketAddr,
        now: Instant,
    ) -> Phase {
        let Some((tls_cfg, _, cfg)) = &self.attempt else {
            return self.failed("internal: no credentials for this attempt", now);
        };
        let name =
            tls::server_name_for(&server.ip().to_string(), cfg.remote.server_name.as_deref());
        match rustls::ClientConnection::new(tls_cfg.clone(), name) {
            Ok(conn) => {
                self.set_state(State::Handshaking);
                let mut link = Link::new(sock, conn);
                match self.handshake_io(&mut link) {
                    Ok(()) => Phase::Handshaking {
                        link,
                        server,
                        deadline: now + HANDSHAKE_TIMEOUT,
                    },
                    Err(Broken(why)) => {
                        self.failed(&format!("{server}: TLS handshake failed: {why}"), now)
                    }
                }
            }
            Err(e) => self.failed(&format!("TLS: {e}"), now),
        }
    }

    fn handshake_io(&mut self, link: &mut Link) -> Result<(), Broken> {
        link.flush()?;
        // Packets may follow the server's last handshake message in the same read: keep them.
        let (ours, allow_v4) = (self.settings.address, self.settings.allow_ipv4);
        let (tun, stats) = (&self.tun, &mut self.stats);
        link.read(READ_BUDGET_BYTES, |_, p| {
            ingress(tun, stats, ours, allow_v4, p);
        })?;
        link.flush()?;
        Ok(())
    }

    fn established(&mut self, link: Link, server: SocketAddr, now: Instant) -> Phase {
        let (period, timeout) = match &self.attempt {
            Some((_, _, cfg)) => (cfg.remote.heartbeat_period, cfg.remote.heartbeat_timeout),
            None => (Duration::from_secs(300), Duration::from_secs(10)),
        };
        log::info!("TLS session with {server} up; waiting for the first heartbeat reply");
        self.targets.clear();
        self.stats.server = Some(server.to_string());
        self.stats.connected_since = Some(SystemTime::now());
        self.tun_ready = true;
        Phase::Up {
            link,
            server,
            since: now,
            beat: Heartbeat::new(period, timeout, now),
            ready: false,
        }
    }

    /// Moves packets both ways and runs the heartbeat; an error ends the session.
    fn pump(&mut self, link: &mut Link, beat: &mut Heartbeat, now: Instant) -> Result<(), Broken> {
        let ours = self.settings.address;
        let allow_v4 = self.settings.allow_ipv4;
        let (tun, stats) = (&self.tun, &mut self.stats);
        let mut got_any = false;
        let mut replied = false;
        let reading = link.read(READ_BUDGET_BYTES, |_, p| {
            got_any = true;
            replied |= ingress(tun, stats, ours, allow_v4, p);
        })?;
        if got_any {
            beat.received(now);
            self.stats.last_rx = Some(SystemTime::now());
        }
        if replied {
            beat.reply_received(now);
            self.stats.heartbeat_answered = Some(SystemTime::now());
            self.stats.heartbeat_rtt = beat.last_rtt();
        }
        match beat.poll(now) {
            Beat::SendRequest => {
                if !link.out.push(&heartbeat::request(ours)) {
                    log::debug!("heartbeat request not queued: send path full");
                }
            }
            Beat::Dead => {
                return Err(Broken(format!(
                    "no heartbeat reply within {} ms (remote.heartbeat_timeout)",
                    beat.timeout().as_millis()
                )))
            }
            Beat::Nothing => {}
        }
        self.read_tun(link);
        let blocked = link.flush()?;
        // The socket took everything: the tun may have more waiting behind the high-water mark.
        if !blocked && self.tun_ready {
            self.read_tun(link);
            link.flush()?;
        }
        if reading == Reading::More {
            // More is waiting on the socket; edge-triggered readiness will not say so again.
            self.poll
                .registry()
                .reregister(
                    &mut link.sock,
                    SOCK,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .ok();
        }
        Ok(())
    }

    /// Reads packets from the tun into the send queue until it would block or the queue is full.
    fn read_tun(&mut self, link: &mut Link) {
        let mut buf = [0u8; PACKET_BUF_BYTES];
        while self.tun_ready && link.out.len() < HIGH_WATER_BYTES {
            match self.tun.read(&mut buf) {
                Ok(n) => {
                    let p = &buf[..n];
                    match packet::egress(p, self.settings.address, self.settings.allow_ipv4) {
                        Ok(_) if link.out.push(p) => {
                            self.stats.tx_packets += 1;
                            self.stats.tx_bytes += n as u64;
                        }
                        Ok(_) => self.stats.drop("send_queue_full"),
                        // Neighbour discovery, MLD and router solicitations from the kernel never
                        // leave: they are not from our address. Not worth a counter each.
                        Err(packet::Drop::SpoofedSource) => self.stats.drop("not_from_our_address"),
                        Err(d) => self.stats.drop(d.name()),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.tun_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("reading {}: {e}", self.tun.name());
                    self.tun_ready = false;
                }
            }
        }
    }

    /// Ready = first heartbeat answered and the address usable on the device.
    fn check_ready(&mut self, beat: &Heartbeat) -> bool {
        if !beat.answered() {
            return false;
        }
        // With tun.ip_set = false the address is someone else's business (as in the reference).
        if self.settings.check_address {
            match super::netcfg::address_usable(self.tun.name(), self.settings.address) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(e) => {
                    if !self.address_check_warned {
                        self.address_check_warned = true;
                        log::warn!("cannot check the address on {}: {e}", self.tun.name());
                    }
                    return false;
                }
            }
        }
        self.log_up();
        self.set_state(State::Up);
        self.retry.up();
        self.send(Event::Up);
        true
    }

    fn log_up(&self) {
        if let Some(rtt) = self.stats.heartbeat_rtt {
            log::info!(
                "tunnel up: {} on {}, heartbeat {:.1} ms",
                self.settings.address,
                self.tun.name(),
                rtt.as_secs_f64() * 1e3
            );
        }
    }

    /// Logs a failure, tells the supervisor once, and waits before the next address or attempt.
    fn failed(&mut self, why: &str, now: Instant) -> Phase {
        let d = self.retry.failed(why, !self.targets.is_empty());
        if d.warn {
            log::warn!("{why}");
        } else {
            log::debug!("{why}");
        }
        self.stats.last_error = Some(why.to_string());
        if d.went_down {
            self.stats.reconnects += 1;
            self.send(Event::Down(why.to_string()));
        }
        self.set_state(State::Down);
        log::debug!("next attempt in {} ms", d.wait.as_millis());
        Phase::Waiting {
            until: now + d.wait,
        }
    }

    fn send(&self, ev: Event) {
        if self.events.send(ev).is_ok() {
            let _ = self.wake_supervisor.wake();
        }
    }

    fn set_state(&mut self, state: State) {
        if self.stats.state != state {
            self.stats.state = state;
            self.write_status();
        }
    }

    /// Every few seconds: the status file, and a reconnect when the credentials changed on disk.
    fn refresh(&mut self, now: Instant) {
        self.write_status();
        if let (Phase::Up { .. }, Some((_, _, cfg))) = (&self.phase, &self.attempt) {
            if stamps(cfg) != self.cred_stamp {
                log::info!("credentials changed on disk: reconnecting with the new ones");
                let phase = std::mem::replace(&mut self.phase, Phase::Waiting { until: now });
                if let Phase::Up {
                    mut link, since, ..
                } = phase
                {
                    link.close();
                    let _ = self.poll.registry().deregister(&mut link.sock);
                    self.retry.session_ended(now.duration_since(since));
                }
                self.targets.clear();
                self.stats.connected_since = None;
                self.phase = self.failed("credentials changed on disk", now);
            }
        }
    }

    fn write_status(&self) {
        if let Err(e) = super::write_status(&self.settings, &self.stats) {
            log::debug!("status file not written: {e}");
        }
    }

    fn shutdown(&mut self) {
        let phase = std::mem::replace(
            &mut self.phase,
            Phase::Waiting {
                until: Instant::now(),
            },
        );
        if let Phase::Up { mut link, .. } | Phase::Handshaking { mut link, .. } = phase {
            link.close();
            let deadline = Instant::now() + CLOSE_GRACE;
            while link.tls.wants_write() && Instant::now() < deadline {
                if link.flush().is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// One packet from the server: a heartbeat reply (returns true), or through the ingress filter
/// to the tun.
fn ingress(
    tun: &Tun,
    stats: &mut super::Stats,
    ours: std::net::Ipv6Addr,
    allow_v4: bool,
    p: &[u8],
) -> bool {
    if heartbeat::is_reply(p, ours) {
        return true;
    }
    match packet::ingress(p, ours, allow_v4) {
        Ok(_) => match tun.write(p) {
            Ok(_) => {
                stats.rx_packets += 1;
                stats.rx_bytes += p.len() as u64;
            }
            Err(_) => stats.drop("tun_write_failed"),
        },
        Err(d) => stats.drop(d.name()),
    }
    false
}

/// Modification times of the credential files, to notice a replacement.
fn stamps(cfg: &config::Config) -> Option<Vec<SystemTime>> {
    let files = [
        Some(&cfg.remote.ca_cert_file),
        cfg.identity.cert_file.as_ref(),
        cfg.identity.key_file.as_ref(),
    ];
    files
        .iter()
        .flatten()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}
