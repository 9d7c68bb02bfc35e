//! The syscall side of the supervisor: signals in, processes out.
//!
//! Turns the signalfd, `waitpid` and the clock into `machine::Event`s and carries out the
//! `machine::Action`s: spawning hooks and the service, forwarding, sweeping, exiting.

use super::machine::{Action, Event, Machine, Policy, Status};
use super::{procs, spawn};
use crate::hooks::{self, Hook, Kind};
use crate::signals::{self, sys};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ChildStdout;
use std::time::{Duration, Instant};

const SIGNALS: Token = Token(0);
const CAPTURE: Token = Token(1);
const TUNNEL: Token = Token(2);
/// The HTTP listener; its connections take the tokens after it.
const HTTP: usize = 16;
/// How long the tunnel may take to say goodbye (close_notify) once everything else is gone.
const TUNNEL_CLOSE: Duration = Duration::from_millis(300);
/// The reaping safety net: a lost wake-up costs at most this long.
const TICK: Duration = Duration::from_secs(1);
/// What a sourced hook may export, at most; more is a broken hook, not an environment.
const CAPTURE_LIMIT_BYTES: usize = 1 << 20;

/// Everything the loop needs, prepared by `main`.
pub struct Setup {
    pub policy: Policy,
    pub hooks: Vec<Hook>,
    /// The service, or `None` under `--init-only`. Its `env` is replaced by the hooks' result.
    pub service: Option<spawn::Spec>,
    /// The environment hooks start with.
    pub env: Vec<(OsString, OsString)>,
    pub pid1: bool,
    /// The tunnel to run, `None` with `--no-tunnel`.
    pub tunnel: Option<TunnelSetup>,
    /// Where to serve the probes and metrics (`--http`).
    pub http: Option<std::net::SocketAddr>,
}

/// The tunnel's settings and its device. The supervisor keeps the device open for as long as it
/// runs, so the address, routes and the service's sockets outlive any tunnel thread.
pub struct TunnelSetup {
    pub settings: crate::tunnel::Settings,
    pub tun: crate::tunnel::tun::Tun,
}

/// The tunnel thread and how to reach it.
struct TunnelLink {
    setup: TunnelSetup,
    handle: Option<crate::tunnel::Handle>,
    events: std::sync::mpsc::Receiver<crate::tunnel::Event>,
    sender: std::sync::mpsc::Sender<crate::tunnel::Event>,
    waker: std::sync::Arc<mio::Waker>,
    /// After a crash: when to start the next thread, and the delay after the one after that.
    restart_at: Option<Instant>,
    restart_delay: Duration,
}

/// A crashing tunnel thread is restarted after this, doubling to `RESTART_DELAY_MAX`.
const RESTART_DELAY_FIRST: Duration = Duration::from_millis(100);
const RESTART_DELAY_MAX: Duration = Duration::from_secs(30);

/// The hook that is running now.
struct Step {
    pid: i32,
    name: String,
    capture: Option<(ChildStdout, Vec<u8>)>,
}

struct Driver {
    machine: Machine,
    poll: Poll,
    hooks: VecDeque<Hook>,
    service: Option<spawn::Spec>,
    env: Vec<(OsString, OsString)>,
    step: Option<Step>,
    queue: VecDeque<Event>,
    me: i32,
    pid1: bool,
    policy: Policy,
    killing: bool,
    exit: Option<u8>,
    tunnel: Option<TunnelLink>,
    http: Option<crate::http::Server>,
    /// Counters for the metrics.
    service_starts: u64,
    service_exit: Option<u8>,
    hooks_run: u64,
    tunnel_thread_restarts: u64,
}

/// Runs the supervisor until nothing is left; returns the exit code.
pub fn run(setup: Setup) -> io::Result<u8> {
    let poll = Poll::new()?;
    let sigfd: OwnedFd = sys::signalfd(signals::ALL)?;
    poll.registry().register(
        &mut SourceFd(&sigfd.as_raw_fd()),
        SIGNALS,
        Interest::READABLE,
    )?;
    let http = match setup.http {
        Some(addr) => {
            let server = crate::http::Server::bind(addr, poll.registry(), HTTP).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot listen on {addr} (--http): {e}"))
            })?;
            log::info!(
                "serving /livez /readyz /status /metrics on http://{}",
                server.local_addr()
            );
            Some(server)
        }
        None => None,
    };
    let (machine, first) = Machine::new(setup.policy, Instant::now());
    let tunnel = match setup.tunnel {
        Some(t) => {
            let waker = std::sync::Arc::new(mio::Waker::new(poll.registry(), TUNNEL)?);
            let (sender, events) = std::sync::mpsc::channel();
            let mut link = TunnelLink {
                setup: t,
                handle: None,
                events,
                sender,
                waker,
                restart_at: None,
                restart_delay: RESTART_DELAY_FIRST,
            };
            start_tunnel(&mut link)?;
            Some(link)
        }
        None => None,
    };
    let mut d = Driver {
        machine,
        poll,
        hooks: setup.hooks.into(),
        service: setup.service,
        env: setup.env,
        step: None,
        queue: VecDeque::new(),
        me: std::process::id() as i32,
        pid1: setup.pid1,
        policy: setup.policy,
        killing: false,
        exit: None,
        tunnel,
        http,
        service_starts: 0,
        service_exit: None,
        hooks_run: 0,
        tunnel_thread_restarts: 0,
    };
    d.act(first);
    d.settle();
    let mut events = Events::with_capacity(16);
    while d.exit.is_none() {
        let now = Instant::now();
        let restart_at = d.tunnel.as_ref().and_then(|t| t.restart_at);
        let timeout = [d.machine.deadline(), restart_at]
            .into_iter()
            .flatten()
            .map(|t| t.saturating_duration_since(now))
            .fold(TICK, Duration::min);
        if let Err(e) = d.poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        for ev in events.iter() {
            match ev.token() {
                SIGNALS => d.drain_signals(sigfd.as_raw_fd())?,
                CAPTURE => d.read_capture(),
                TUNNEL => d.tunnel_events(),
                t => d.serve_http(t),
            }
        }
        if let Some(h) = d.http.as_mut() {
            h.expire(d.poll.registry(), Instant::now());
        }
        d.restart_tunnel_if_due();
        d.queue.push_back(Event::Tick);
        d.process();
        d.settle();
    }
    // The tunnel closes last, after the service and its stragglers are gone.
    if let Some(mut t) = d.tunnel.take() {
        if let Some(h) = t.handle.take() {
            h.stop(TUNNEL_CLOSE);
        }
        crate::tunnel::write_stopped(&t.setup.settings);
    }
    Ok(d.exit.unwrap_or(crate::exit::INTERNAL))
}

fn start_tunnel(link: &mut TunnelLink) -> io::Result<()> {
    let tun = link.setup.tun.try_clone()?;
    let handle = crate::tunnel::spawn(
        link.setup.settings.clone(),
        tun,
        link.sender.clone(),
        link.waker.clone(),
    )?;
    link.handle = Some(handle);
    Ok(())
}

impl Driver {
    fn drain_signals(&mut self, fd: i32) -> io::Result<()> {
        while let Some(got) = sys::read_signalfd(fd)? {
            // SIGCHLD only says "reap"; settle() does that after every wake-up anyway.
            if got.signo != libc::SIGCHLD {
                log::debug!(
                    "received {} from pid {}",
                    signals::name(got.signo),
                    got.sender
                );
                self.queue.push_back(Event::Signal(got.signo));
            }
        }
        self.process();
        Ok(())
    }

    fn tunnel_events(&mut self) {
        let Some(link) = self.tunnel.as_mut() else {
            return;
        };
        let events: Vec<_> = link.events.try_iter().collect();
        for ev in events {
            match ev {
                crate::tunnel::Event::Up => self.queue.push_back(Event::TunnelUp),
                crate::tunnel::Event::Down(_) => {
                    self.warn_if_stopping_on_loss();
                    self.queue.push_back(Event::TunnelDown);
                }
                crate::tunnel::Event::Crashed(why) => {
                    log::error!("{why}; starting the tunnel again (the service keeps running)");
                    self.tunnel_thread_restarts += 1;
                    self.warn_if_stopping_on_loss();
                    self.queue.push_back(Event::TunnelDown);
                    if let Some(link) = self.tunnel.as_mut() {
                        // A thread that crashes again at once must not be respawned in a tight
                        // loop.
                        link.handle = None;
                        link.restart_at = Some(Instant::now() + link.restart_delay);
                        link.restart_delay = (link.restart_delay * 2).min(RESTART_DELAY_MAX);
                    }
                }
            }
            // One at a time, so the machine's view (`down_since`) is current for the next.
            self.process();
        }
    }

    /// Under `--on-tunnel-loss=stop`, says once per outage what will happen.
    fn warn_if_stopping_on_loss(&self) {
        let counting = matches!(self.machine.phase_name(), "starting" | "running");
        if self.policy.on_loss == crate::status::LossPolicy::Stop
            && counting
            && self.machine.down_since().is_none()
        {
            log::warn!(
                "the tunnel is down: the service will be stopped unless it is back within {:.1}s (--on-tunnel-loss=stop)",
                self.policy.loss_grace.as_secs_f64()
            );
        }
    }

    /// Answers an HTTP client (the probes and metrics).
    fn serve_http(&mut self, token: Token) {
        let Some(server) = self.http.as_mut() else {
            return;
        };
        if !server.owns(token) {
            return;
        }
        let facts = super::probes::Facts {
            tunnel: self.tunnel.is_some(),
            phase: self.machine.phase_name(),
            service_pid: self.machine.service(),
            service_starts: self.service_starts,
            service_exit: self.service_exit,
            hooks_run: self.hooks_run,
            tunnel_thread_restarts: self.tunnel_thread_restarts,
            down_for: self.machine.down_since().map(|t| t.elapsed()),
            on_loss: self.policy.on_loss,
            loss_grace: self.policy.loss_grace,
        };
        let status = self.tunnel.as_ref().and_then(|t| {
            t.setup
                .settings
                .published
                .lock()
                .ok()
                .and_then(|s| s.clone())
        });
        let now = crate::status::now_unix();
        server.ready(token, self.poll.registry(), Instant::now(), &mut |req| {
            super::probes::answer(req, &facts, status.as_ref(), now)
        });
    }

    fn restart_tunnel_if_due(&mut self) {
        let Some(link) = self.tunnel.as_mut() else {
            return;
        };
        if link.restart_at.is_some_and(|t| Instant::now() >= t) {
            link.restart_at = None;
            if let Err(e) = start_tunnel(link) {
                log::error!("cannot start the tunnel again: {e}");
                link.restart_at = Some(Instant::now() + link.restart_delay);
            }
        }
    }

    /// Reaps until nothing more has exited, feeding each exit to the machine.
    fn settle(&mut self) {
        loop {
            let mut reaped = false;
            loop {
                let mut raw = 0;
                // SAFETY: waitpid writes one int status into `raw`.
                let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
                if pid > 0 {
                    reaped = true;
                    let status = if libc::WIFSIGNALED(raw) {
                        Status::Signaled(libc::WTERMSIG(raw))
                    } else {
                        Status::Code(libc::WEXITSTATUS(raw) as u8)
                    };
                    self.exited(pid, status);
                    continue;
                }
                let err = io::Error::last_os_error();
                if pid < 0 && err.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                if pid < 0 && err.raw_os_error() == Some(libc::ECHILD) {
                    self.queue.push_back(Event::NoChildren);
                }
                break;
            }
            self.process();
            if !reaped || self.exit.is_some() {
                return;
            }
        }
    }

    fn exited(&mut self, pid: i32, status: Status) {
        if self.step.as_ref().is_some_and(|s| s.pid == pid) {
            // The hook is gone: whatever it wrote is in the pipe now.
            self.read_capture();
        } else if Some(pid) != self.machine.service() {
            log::debug!("reaped pid {pid} ({status})");
        }
        self.queue.push_back(Event::Exited { pid, status });
    }

    fn process(&mut self) {
        while let Some(ev) = self.queue.pop_front() {
            let actions = self.machine.on(ev, Instant::now());
            self.act(actions);
        }
    }

    fn act(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::StartNext => self.start_next(),
                Action::Forward { pid, sig } => {
                    log::debug!(
                        "passing {} on to the service (pid {pid})",
                        signals::name(sig)
                    );
                    let _ = sys::kill(pid, sig);
                }
                Action::Unforwarded { sig } => {
                    log::debug!(
                        "{} not passed on: no service to receive it",
                        signals::name(sig)
                    )
                }
                Action::TerminateOthers { spare } => {
                    // A hook's whole process group too: a child it is forking right now is not in
                    // /proc yet, but a group signal reaches it (fork restarts for it).
                    if let Some(step) = &self.step {
                        let _ = sys::kill(-step.pid, libc::SIGTERM);
                    }
                    self.sweep(libc::SIGTERM, spare);
                }
                Action::KillAll => {
                    if !self.killing {
                        log::warn!(
                            "stop timeout of {:.1}s reached: killing what is left",
                            self.policy.stop_timeout.as_secs_f64()
                        );
                        self.killing = true;
                    }
                    if self.pid1 {
                        let _ = sys::kill(-1, libc::SIGKILL);
                    } else {
                        self.sweep(libc::SIGKILL, None);
                    }
                }
                Action::StepFailed { status, .. } => {
                    let name = self.step.take().map(|s| s.name).unwrap_or_default();
                    log::error!("hook {name} failed with {status}; not starting the service");
                }
                Action::StepTimedOut { pid } => {
                    let name = self.step.take().map(|s| s.name).unwrap_or_default();
                    let secs = self.policy.hook_timeout.unwrap_or_default().as_secs_f64();
                    log::error!("hook {name} still running after {secs:.1}s (--hook-timeout): killed; not starting the service");
                    let _ = sys::kill(-pid, libc::SIGKILL);
                }
                Action::ReadyTimedOut => {
                    log::error!(
                        "the tunnel was not ready within --ready-timeout; starting nothing"
                    );
                }
                Action::TunnelLost { down_for } => {
                    log::error!(
                        "the tunnel has been down for {:.1}s (--on-tunnel-loss=stop, --tunnel-loss-grace {:.1}s): stopping the service; exit code {}",
                        down_for.as_secs_f64(),
                        self.policy.loss_grace.as_secs_f64(),
                        crate::exit::TUNNEL_LOST
                    );
                }
                Action::ServiceExited { status } => {
                    self.service_exit = Some(status.exit_code());
                    log::info!("service exited with {status}");
                    spawn::reclaim_terminal();
                }
                Action::Exit(code) => self.exit = Some(code),
            }
        }
    }

    fn sweep(&self, sig: i32, spare: Option<i32>) {
        // Nobody left to signal: spare the walk over /proc (the common end of a clean exit).
        if !has_children() {
            return;
        }
        let table = match procs::table() {
            Ok(t) => t,
            Err(e) => {
                log::warn!("cannot read /proc to signal the remaining processes: {e}");
                return;
            }
        };
        for pid in procs::targets(&table, self.me, self.pid1, spare) {
            log::debug!("sending {} to pid {pid}", signals::name(sig));
            let _ = sys::kill(pid, sig);
        }
    }

    /// Starts the next hook, or the service when none is left.
    fn start_next(&mut self) {
        if let Some(prev) = self.step.take() {
            if let Some((_, out)) = prev.capture {
                self.env = hooks::apply_env0(&self.env, &out);
            }
        }
        while let Some(hook) = self.hooks.pop_front() {
            let spec = match &hook.kind {
                Kind::Ignored(why) => {
                    log::info!("ignoring {}: {why}", hook.path.display());
                    continue;
                }
                Kind::Run => spawn::Spec {
                    argv: vec![hook.path.clone().into()],
                    ..self.hook_spec()
                },
                Kind::Source => spawn::Spec {
                    argv: vec![
                        "/bin/sh".into(),
                        "-c".into(),
                        hooks::SOURCE_SCRIPT.into(),
                        "sh".into(),
                        hook.path.clone().into(),
                    ],
                    capture_stdout: true,
                    ..self.hook_spec()
                },
            };
            let verb = if hook.kind == Kind::Source {
                "sourcing"
            } else {
                "running"
            };
            log::info!("{verb} {}", hook.path.display());
            self.hooks_run += 1;
            match spawn::spawn(&spec) {
                Ok((pid, stdout)) => {
                    let capture = stdout
                        .and_then(|out| self.watch(out).ok())
                        .map(|o| (o, Vec::new()));
                    self.step = Some(Step {
                        pid,
                        name: hook.name.clone(),
                        capture,
                    });
                    self.queue.push_back(Event::StepStarted { pid });
                }
                Err(e) => {
                    log::error!("hook {} {e}; not starting the service", hook.name);
                    self.queue.push_back(Event::StartFailed {
                        code: crate::exit::HOOK_FAILED,
                    });
                }
            }
            return;
        }
        let Some(mut spec) = self.service.take() else {
            log::info!("--init-only: no service started; waiting for a stop signal");
            self.queue.push_back(Event::Started { service: None });
            return;
        };
        // The service's own variables (HOME of --user) win over what the hooks left.
        let own = std::mem::take(&mut spec.env);
        spec.env = std::mem::take(&mut self.env);
        spec.env.retain(|(k, _)| !own.iter().any(|(o, _)| o == k));
        spec.env.extend(own);
        let shown = spec
            .argv
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        match spawn::spawn(&spec) {
            Ok((pid, _)) => {
                log::debug!("service {shown} started as pid {pid}");
                self.service_starts += 1;
                self.queue.push_back(Event::Started { service: Some(pid) });
            }
            Err(e) => {
                log::error!("service {shown}: {e}");
                self.queue.push_back(Event::StartFailed {
                    code: e.exit_code(),
                });
            }
        }
    }

    fn hook_spec(&self) -> spawn::Spec {
        spawn::Spec {
            env: self.env.clone(),
            ..Default::default()
        }
    }

    fn watch(&self, out: ChildStdout) -> io::Result<ChildStdout> {
        // SAFETY: fcntl on an fd we own, setting only O_NONBLOCK.
        unsafe {
            let flags = libc::fcntl(out.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(out.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        self.poll.registry().register(
            &mut SourceFd(&out.as_raw_fd()),
            CAPTURE,
            Interest::READABLE,
        )?;
        Ok(out)
    }

    /// Reads what the sourced hook has written so far (until it would block).
    fn read_capture(&mut self) {
        let Some(Step {
            capture: Some((out, buf)),
            name,
            ..
        }) = self.step.as_mut()
        else {
            return;
        };
        let mut chunk = [0u8; 8192];
        loop {
            match out.read(&mut chunk) {
                Ok(0) => {
                    let _ = self
                        .poll
                        .registry()
                        .deregister(&mut SourceFd(&out.as_raw_fd()));
                    return;
                }
                Ok(n) if buf.len() + n <= CAPTURE_LIMIT_BYTES => buf.extend_from_slice(&chunk[..n]),
                Ok(_) => {
                    log::warn!("hook {name} exported more than {CAPTURE_LIMIT_BYTES} bytes of environment; the rest is ignored");
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }
}

/// Whether any child (running or a zombie not yet reaped) exists; it reaps nothing.
fn has_children() -> bool {
    // SAFETY: siginfo_t is plain old data; waitid writes at most one into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: P_ALL with WNOWAIT only reports; `info` is a valid siginfo_t.
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    !(rc < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}
