//! The supervisor's decisions as a pure state machine: `(event, now) -> actions`.
//!
//! It knows the phases of a container's life (start-up steps, the running service, the stop) and
//! which process matters in each, and nothing of syscalls: the driver in `mod.rs` turns signals,
//! reaped children and the clock into events, and carries out the actions it returns. The tunnel
//! is two more events: `TunnelUp` gates start-up, and a `TunnelDown` that lasts past
//! `--tunnel-loss-grace` stops everything under `--on-tunnel-loss=stop`.

use std::time::{Duration, Instant};

/// How a child ended, decoded from its wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Code(u8),
    Signaled(i32),
}

impl Status {
    /// The exit code a shell would report: the code, or 128+N for signal N.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Code(c) => c,
            Status::Signaled(s) => crate::exit::for_signal(s),
        }
    }

    pub fn success(self) -> bool {
        self == Status::Code(0)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Code(c) => write!(f, "exit code {c}"),
            Status::Signaled(s) => write!(f, "signal {}", crate::signals::name(*s)),
        }
    }
}

/// How often SIGKILL is repeated while something outlives the stop budget.
pub const KILL_REPEAT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A signal arrived for PID 1.
    Signal(i32),
    /// A start-up step (a hook) is running as `pid`, in its own process group.
    StepStarted { pid: i32 },
    /// Start-up is over: the service runs as `pid`, or `None` under `--init-only`.
    Started { service: Option<i32> },
    /// A step or the service could not be started; the driver has said why.
    StartFailed { code: u8 },
    /// `waitpid` reaped `pid`.
    Exited { pid: i32, status: Status },
    /// `waitpid` found no child at all.
    NoChildren,
    /// The clock moved (a timer may be due).
    Tick,
    /// The tunnel is ready: IPv6 over the ENF is routable.
    TunnelUp,
    /// The tunnel lost its session (it reconnects by itself).
    TunnelDown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start the next hook, or the service when no hook is left.
    StartNext,
    /// Pass `sig` on to `pid`.
    Forward { pid: i32, sig: i32 },
    /// A signal that nobody gets (no service yet, or not forwardable).
    Unforwarded { sig: i32 },
    /// Send SIGTERM to every process except the service's own tree (`spare`).
    TerminateOthers { spare: Option<i32> },
    /// Send SIGKILL to everything that is left.
    KillAll,
    /// The step `pid` failed; start-up ends.
    StepFailed { pid: i32, status: Status },
    /// The step `pid` outlived the hook timeout: kill its process group; start-up ends.
    StepTimedOut { pid: i32 },
    /// The service ended on its own or after a stop signal.
    ServiceExited { status: Status },
    /// `--ready-timeout` ran out before the tunnel was ready; start-up ends.
    ReadyTimedOut,
    /// The tunnel stayed down past the grace under `--on-tunnel-loss=stop`; everything stops.
    TunnelLost { down_for: Duration },
    /// Nothing is left: exit with this code.
    Exit(u8),
}

/// Settings that shape the decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub stop_timeout: Duration,
    pub stop_signal: Option<i32>,
    pub hook_timeout: Option<Duration>,
    /// Start nothing until `TunnelUp` (false with `--no-tunnel`).
    pub wait_for_tunnel: bool,
    /// With `wait_for_tunnel`: give up after this long.
    pub ready_timeout: Option<Duration>,
    /// What a tunnel lost after start-up means (only `Stop` changes a decision here; the others
    /// only change what the health checks say).
    pub on_loss: crate::status::LossPolicy,
    pub loss_grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the tunnel before anything starts, until the ready deadline if any.
    Waiting {
        ready_by: Option<Instant>,
    },
    Starting {
        step: Option<(i32, Option<Instant>)>,
    },
    Running {
        service: Option<i32>,
    },
    Stopping {
        service: Option<i32>,
        kill_at: Instant,
        code: Option<u8>,
    },
    Done,
}

#[derive(Debug, Clone)]
pub struct Machine {
    policy: Policy,
    phase: Phase,
    /// Since when the tunnel has been down, once start-up got past waiting for it.
    down_since: Option<Instant>,
}

impl Machine {
    /// A machine at the start of start-up: it starts the first step at once, or when the
    /// tunnel is up.
    pub fn new(policy: Policy, now: Instant) -> (Machine, Vec<Action>) {
        if policy.wait_for_tunnel {
            let ready_by = policy.ready_timeout.map(|t| now + t);
            let phase = Phase::Waiting { ready_by };
            let m = Machine {
                policy,
                phase,
                down_since: None,
            };
            (m, vec![])
        } else {
            let phase = Phase::Starting { step: None };
            let m = Machine {
                policy,
                phase,
                down_since: None,
            };
            (m, vec![Action::StartNext])
        }
    }

    /// The next instant at which `Tick` must be delivered, if any.
    pub fn deadline(&self) -> Option<Instant> {
        let phase = self.phase_deadline();
        match (phase, self.loss_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the tunnel's outage ends the service, if it is counting.
    fn loss_deadline(&self) -> Option<Instant> {
        let counting = self.policy.on_loss == crate::status::LossPolicy::Stop
            && matches!(self.phase, Phase::Starting { .. } | Phase::Running { .. });
        self.down_since
            .filter(|_| counting)
            .map(|t| t + self.policy.loss_grace)
    }

    /// Since when the tunnel has been down after start-up began, if it is.
    pub fn down_since(&self) -> Option<Instant> {
        self.down_since
    }

    fn phase_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Waiting { ready_by } => ready_by,
            Phase::Starting {
                step: Some((_, deadline)),
            } => deadline,
            Phase::Stopping { kill_at, .. } => Some(kill_at),
            _ => None,
        }
    }

    /// The phase's name, for probes and metrics.
    pub fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Waiting { .. } => "waiting",
            Phase::Starting { .. } => "starting",
            Phase::Running { .. } => "running",
            Phase::Stopping { .. } => "stopping",
            Phase::Done => "done",
        }
    }

    /// The service's pid while it runs.
    pub fn service(&self) -> Option<i32> {
        match self.phase {
            Phase::Running { service } | Phase::Stopping { service, .. } => service,
            _ => None,
        }
    }

    pub fn on(&mut self, event: Event, now: Instant) -> Vec<Action> {
        match (self.phase, event) {
            (Phase::Done, _) => vec![],

            // The tunnel after start-up: an outage is timed; under `stop` it may end everything.
            (Phase::Starting { .. } | Phase::Running { .. }, Event::TunnelDown) => {
                self.down_since.get_or_insert(now);
                vec![]
            }
            (Phase::Starting { .. } | Phase::Running { .. }, Event::TunnelUp) => {
                self.down_since = None;
                vec![]
            }
            (Phase::Starting { .. } | Phase::Running { .. }, Event::Tick)
                if self.loss_deadline().is_some_and(|d| now >= d) =>
            {
                let down_for = now.saturating_duration_since(self.down_since.unwrap_or(now));
                let mut acts = vec![Action::TunnelLost { down_for }];
                let service = self.service();
                if let Some(pid) = service {
                    acts.extend(self.forward(Some(pid), libc::SIGTERM));
                }
                acts.extend(self.stop(now, service, Some(crate::exit::TUNNEL_LOST)));
                acts
            }

            // Waiting for the tunnel: nothing runs yet.
            (Phase::Waiting { .. }, Event::TunnelUp) => {
                self.phase = Phase::Starting { step: None };
                vec![Action::StartNext]
            }
            (Phase::Waiting { ready_by: Some(d) }, Event::Tick) if now >= d => {
                let mut acts = vec![Action::ReadyTimedOut];
                acts.extend(self.stop(now, None, Some(crate::exit::READY_TIMEOUT)));
                acts
            }
            (Phase::Waiting { .. }, Event::Signal(sig)) if crate::signals::is_stop(sig) => {
                self.stop(now, None, Some(crate::exit::for_signal(sig)))
            }

            // Start-up: one step at a time.
            (Phase::Starting { .. }, Event::StepStarted { pid }) => {
                let deadline = self.policy.hook_timeout.map(|t| now + t);
                self.phase = Phase::Starting {
                    step: Some((pid, deadline)),
                };
                vec![]
            }
            (Phase::Starting { .. }, Event::Started { service }) => {
                self.phase = Phase::Running { service };
                vec![]
            }
            (Phase::Starting { .. }, Event::StartFailed { code }) => {
                self.stop(now, None, Some(code))
            }
            (Phase::Starting { step: Some((p, _)) }, Event::Exited { pid, status }) if p == pid => {
                if status.success() {
                    self.phase = Phase::Starting { step: None };
                    vec![Action::StartNext]
                } else {
                    let mut acts = vec![Action::StepFailed { pid, status }];
                    acts.extend(self.stop(now, None, Some(crate::exit::HOOK_FAILED)));
                    acts
                }
            }
            (
                Phase::Starting {
                    step: Some((pid, Some(d))),
                },
                Event::Tick,
            ) if now >= d => {
                let mut acts = vec![Action::StepTimedOut { pid }];
                acts.extend(self.stop(now, None, Some(crate::exit::HOOK_FAILED)));
                acts
            }
            (Phase::Starting { .. }, Event::Signal(sig)) if crate::signals::is_stop(sig) => {
                self.stop(now, None, Some(crate::exit::for_signal(sig)))
            }

            // The service runs.
            (Phase::Running { service }, Event::Signal(sig)) if crate::signals::is_stop(sig) => {
                let mut acts = self.forward(service, sig);
                acts.extend(self.stop(now, service, service.is_none().then_some(0)));
                acts
            }
            (Phase::Running { service: Some(s) }, Event::Exited { pid, status }) if s == pid => {
                let mut acts = vec![Action::ServiceExited { status }];
                acts.extend(self.stop(now, None, Some(status.exit_code())));
                acts
            }

            // The stop: wait for everything to go, kill what outlives the budget.
            (
                Phase::Stopping {
                    service: Some(s),
                    kill_at,
                    code,
                },
                Event::Exited { pid, status },
            ) if s == pid => {
                let code = code.or(Some(status.exit_code()));
                self.phase = Phase::Stopping {
                    service: None,
                    kill_at,
                    code,
                };
                // What the service left behind (workers it did not stop, sessions it handed
                // off) was spared so far; now it gets its SIGTERM instead of waiting for SIGKILL.
                vec![
                    Action::ServiceExited { status },
                    Action::TerminateOthers { spare: None },
                ]
            }
            (
                Phase::Stopping {
                    service: None,
                    code,
                    ..
                },
                Event::NoChildren,
            ) => {
                self.phase = Phase::Done;
                vec![Action::Exit(code.unwrap_or(crate::exit::INTERNAL))]
            }
            (
                Phase::Stopping {
                    service,
                    kill_at,
                    code,
                },
                Event::Tick,
            ) if now >= kill_at => {
                // Again every so often (a fork may have escaped the last one), but never in a
                // loop: a process that takes long to die must not make PID 1 spin.
                let kill_at = now + KILL_REPEAT;
                self.phase = Phase::Stopping {
                    service,
                    kill_at,
                    code,
                };
                vec![Action::KillAll]
            }

            // Signals that are not a stop reach the service whenever there is one.
            (_, Event::Signal(sig)) => self.forward(self.service(), sig),
            _ => vec![],
        }
    }

    fn forward(&self, service: Option<i32>, sig: i32) -> Vec<Action> {
        // A stop is passed on as the signal the user chose for it, whatever that is.
        let (sig, chosen) = match self.policy.stop_signal {
            Some(s) if crate::signals::is_stop(sig) => (s, true),
            _ => (sig, false),
        };
        match service {
            Some(pid) if chosen || crate::signals::forwardable(sig) => {
                vec![Action::Forward { pid, sig }]
            }
            _ => vec![Action::Unforwarded { sig }],
        }
    }

    /// Begins the stop: one budget from now, everyone but the service asked to go.
    fn stop(&mut self, now: Instant, service: Option<i32>, code: Option<u8>) -> Vec<Action> {
        let kill_at = now + self.policy.stop_timeout;
        self.phase = Phase::Stopping {
            service,
            kill_at,
            code,
        };
        vec![Action::TerminateOthers { spare: service }]
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
