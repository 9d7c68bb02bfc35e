//! The tunnel thread's loop: connect, handshake, carry packets, heartbeat, reconnect.
//!
//! One mio `Poll` watches the tun device, the TLS socket and a `Waker` for the supervisor's
//! commands. Credentials are read again at every connection attempt. Every failure ends the
//! session, is logged once with its cause, and leads to a back-off with full jitter; the device,
//! its address and routes stay as they are, so the service's sockets survive.

mod attempt;
mod datapath;

use attempt::stamps;
use datapath::{flush_gro, ingress};

use super::backoff::Backoff;
use super::heartbeat::{Action as Beat, Heartbeat};
use super::link::{Broken, Link, Reading, READ_BUDGET_BYTES};
use super::offload::{self, Coalescer};
use super::retry::Retry;
use super::{sock, tun::Tun, Command, Event, Settings};
use crate::proto::{frame, heartbeat, packet};
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
    /// One tun read: a virtio header and up to 64 KiB (kept, not zeroed per read).
    tun_buf: Box<[u8]>,
    /// Packets from the session joined into super-packets for the tun, written per read round.
    gro: Coalescer,
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
            tun_buf: vec![0; offload::READ_BUF_BYTES].into_boxed_slice(),
            gro: Coalescer::default(),
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
