//! The supervisor's decisions, event by event.

use super::*;
use crate::status::LossPolicy;
use Action::*;

const SVC: i32 = 100;

fn policy() -> Policy {
    Policy {
        stop_timeout: Duration::from_secs(8),
        stop_signal: None,
        hook_timeout: None,
        wait_for_tunnel: false,
        ready_timeout: None,
        on_loss: LossPolicy::Reconnect,
        loss_grace: Duration::from_secs(30),
    }
}

/// A machine with the service running, and the clock it started at.
fn running(policy: Policy) -> (Machine, Instant) {
    let t0 = Instant::now();
    let (mut m, first) = Machine::new(policy, t0);
    assert_eq!(first, vec![StartNext]);
    assert_eq!(m.on(Event::Started { service: Some(SVC) }, t0), vec![]);
    (m, t0)
}

#[test]
fn forwards_every_forwardable_signal_and_nothing_else() {
    let (mut m, t0) = running(policy());
    for sig in 1..=64 {
        if crate::signals::is_stop(sig) {
            continue;
        }
        let want = if crate::signals::forwardable(sig) {
            vec![Forward { pid: SVC, sig }]
        } else {
            vec![Unforwarded { sig }]
        };
        assert_eq!(m.on(Event::Signal(sig), t0), want, "signal {sig}");
    }
}

#[test]
fn stop_signal_is_forwarded_or_replaced_then_others_are_asked_to_go() {
    let (mut m, t0) = running(policy());
    assert_eq!(
        m.on(Event::Signal(libc::SIGTERM), t0),
        vec![
            Forward {
                pid: SVC,
                sig: libc::SIGTERM
            },
            TerminateOthers { spare: Some(SVC) }
        ]
    );
    assert_eq!(m.deadline(), Some(t0 + Duration::from_secs(8)));

    let (mut m, t0) = running(Policy {
        stop_signal: Some(libc::SIGQUIT),
        ..policy()
    });
    assert_eq!(
        m.on(Event::Signal(libc::SIGINT), t0),
        vec![
            Forward {
                pid: SVC,
                sig: libc::SIGQUIT
            },
            TerminateOthers { spare: Some(SVC) }
        ]
    );
    // A second stop request during the stop is passed on again, mapped the same way.
    assert_eq!(
        m.on(Event::Signal(libc::SIGTERM), t0),
        vec![Forward {
            pid: SVC,
            sig: libc::SIGQUIT
        }]
    );
}

#[test]
fn exits_as_soon_as_nothing_is_left_with_the_services_status() {
    let (mut m, t0) = running(policy());
    m.on(Event::Signal(libc::SIGTERM), t0);
    let t1 = t0 + Duration::from_millis(30);
    let status = Status::Signaled(libc::SIGTERM);
    // What the service leaves behind (e.g. sshd's session processes) is asked to go now.
    assert_eq!(
        m.on(Event::Exited { pid: SVC, status }, t1),
        vec![ServiceExited { status }, TerminateOthers { spare: None }]
    );
    assert_eq!(
        m.on(
            Event::Exited {
                pid: 555,
                status: Status::Code(0)
            },
            t1
        ),
        vec![]
    );
    assert_eq!(m.on(Event::NoChildren, t1), vec![Exit(143)]);
    assert_eq!(m.on(Event::Tick, t1 + Duration::from_secs(60)), vec![]);
}

#[test]
fn kills_what_is_left_when_the_budget_runs_out_not_before() {
    let (mut m, t0) = running(Policy {
        stop_timeout: Duration::from_secs(2),
        ..policy()
    });
    m.on(Event::Signal(libc::SIGTERM), t0);
    assert_eq!(m.on(Event::Tick, t0 + Duration::from_millis(1999)), vec![]);
    assert_eq!(
        m.on(Event::Tick, t0 + Duration::from_secs(2)),
        vec![KillAll]
    );
    let status = Status::Signaled(libc::SIGKILL);
    m.on(
        Event::Exited { pid: SVC, status },
        t0 + Duration::from_secs(2),
    );
    assert_eq!(
        m.on(Event::NoChildren, t0 + Duration::from_secs(2)),
        vec![Exit(137)]
    );
}

#[test]
fn service_exiting_on_its_own_sweeps_the_rest_and_keeps_its_code() {
    let (mut m, t0) = running(policy());
    let status = Status::Code(3);
    assert_eq!(
        m.on(Event::Exited { pid: SVC, status }, t0),
        vec![ServiceExited { status }, TerminateOthers { spare: None }]
    );
    // A straggler that ignores SIGTERM is killed at the deadline; the code stays the service's.
    assert_eq!(
        m.on(Event::Tick, t0 + Duration::from_secs(8)),
        vec![KillAll]
    );
    m.on(
        Event::Exited {
            pid: 7,
            status: Status::Signaled(9),
        },
        t0 + Duration::from_secs(8),
    );
    assert_eq!(
        m.on(Event::NoChildren, t0 + Duration::from_secs(8)),
        vec![Exit(3)]
    );
}

#[test]
fn orphans_are_reaped_without_effect_while_running() {
    let (mut m, t0) = running(policy());
    for pid in 200..300 {
        assert_eq!(
            m.on(
                Event::Exited {
                    pid,
                    status: Status::Code(0)
                },
                t0
            ),
            vec![]
        );
    }
    assert_eq!(m.service(), Some(SVC));
}

#[test]
fn hooks_run_one_after_another_then_the_service() {
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(policy(), t0);
    m.on(Event::StepStarted { pid: 10 }, t0);
    assert_eq!(
        m.on(
            Event::Exited {
                pid: 10,
                status: Status::Code(0)
            },
            t0
        ),
        vec![StartNext]
    );
    m.on(Event::StepStarted { pid: 11 }, t0);
    // An unrelated child (a daemon a hook left behind) does not end the step.
    assert_eq!(
        m.on(
            Event::Exited {
                pid: 99,
                status: Status::Code(1)
            },
            t0
        ),
        vec![]
    );
    assert_eq!(
        m.on(
            Event::Exited {
                pid: 11,
                status: Status::Code(0)
            },
            t0
        ),
        vec![StartNext]
    );
}

#[test]
fn a_failing_hook_ends_start_up_with_the_hook_code() {
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(policy(), t0);
    m.on(Event::StepStarted { pid: 10 }, t0);
    let status = Status::Code(2);
    assert_eq!(
        m.on(Event::Exited { pid: 10, status }, t0),
        vec![
            StepFailed { pid: 10, status },
            TerminateOthers { spare: None }
        ]
    );
    assert_eq!(
        m.on(Event::NoChildren, t0),
        vec![Exit(crate::exit::HOOK_FAILED)]
    );
}

#[test]
fn a_hook_that_outlives_its_timeout_is_killed() {
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(
        Policy {
            hook_timeout: Some(Duration::from_secs(5)),
            ..policy()
        },
        t0,
    );
    m.on(Event::StepStarted { pid: 10 }, t0);
    assert_eq!(m.deadline(), Some(t0 + Duration::from_secs(5)));
    assert_eq!(m.on(Event::Tick, t0 + Duration::from_secs(4)), vec![]);
    assert_eq!(
        m.on(Event::Tick, t0 + Duration::from_secs(5)),
        vec![StepTimedOut { pid: 10 }, TerminateOthers { spare: None }]
    );
    m.on(
        Event::Exited {
            pid: 10,
            status: Status::Signaled(9),
        },
        t0 + Duration::from_secs(5),
    );
    assert_eq!(
        m.on(Event::NoChildren, t0 + Duration::from_secs(5)),
        vec![Exit(crate::exit::HOOK_FAILED)]
    );
}

#[test]
fn a_stop_during_start_up_starts_nothing_and_exits_with_the_signal() {
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(policy(), t0);
    m.on(Event::StepStarted { pid: 10 }, t0);
    assert_eq!(
        m.on(Event::Signal(libc::SIGTERM), t0),
        vec![TerminateOthers { spare: None }]
    );
    // The hook ending now must not start the next step.
    assert_eq!(
        m.on(
            Event::Exited {
                pid: 10,
                status: Status::Code(0)
            },
            t0
        ),
        vec![]
    );
    assert_eq!(m.on(Event::NoChildren, t0), vec![Exit(143)]);
    // Non-stop signals before the service exists go nowhere.
    let (mut m, _) = Machine::new(policy(), t0);
    assert_eq!(
        m.on(Event::Signal(libc::SIGHUP), t0),
        vec![Unforwarded { sig: libc::SIGHUP }]
    );
}

#[test]
fn a_service_that_cannot_start_exits_with_the_start_code() {
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(policy(), t0);
    assert_eq!(
        m.on(Event::StartFailed { code: 127 }, t0),
        vec![TerminateOthers { spare: None }]
    );
    assert_eq!(m.on(Event::NoChildren, t0), vec![Exit(127)]);
}

#[test]
fn init_only_stays_up_until_stopped_and_exits_zero() {
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(policy(), t0);
    m.on(Event::Started { service: None }, t0);
    assert_eq!(m.on(Event::NoChildren, t0), vec![]);
    assert_eq!(m.on(Event::Tick, t0 + Duration::from_secs(3600)), vec![]);
    assert_eq!(
        m.on(Event::Signal(libc::SIGUSR1), t0),
        vec![Unforwarded { sig: libc::SIGUSR1 }]
    );
    let acts = m.on(Event::Signal(libc::SIGTERM), t0);
    assert_eq!(
        acts,
        vec![
            Unforwarded { sig: libc::SIGTERM },
            TerminateOthers { spare: None }
        ]
    );
    assert_eq!(m.on(Event::NoChildren, t0), vec![Exit(0)]);
}

#[test]
fn statuses_map_to_shell_codes() {
    assert_eq!(Status::Code(0).exit_code(), 0);
    assert_eq!(Status::Code(255).exit_code(), 255);
    assert_eq!(Status::Signaled(9).exit_code(), 137);
    assert_eq!(Status::Signaled(64).exit_code(), 192);
    assert_eq!(Status::Signaled(15).to_string(), "signal SIGTERM");
}

fn tunnel_policy(ready_timeout: Option<Duration>) -> Policy {
    Policy {
        wait_for_tunnel: true,
        ready_timeout,
        ..policy()
    }
}

#[test]
fn nothing_starts_before_the_tunnel_is_up() {
    let t0 = Instant::now();
    let (mut m, first) = Machine::new(tunnel_policy(None), t0);
    assert_eq!(first, vec![]);
    assert_eq!(m.deadline(), None);
    assert_eq!(m.on(Event::Tick, t0 + Duration::from_secs(3600)), vec![]);
    assert_eq!(m.on(Event::TunnelDown, t0), vec![]);
    assert_eq!(m.on(Event::TunnelUp, t0), vec![StartNext]);
    // Later ups and downs do not restart anything: the service keeps running.
    m.on(Event::Started { service: Some(SVC) }, t0);
    assert_eq!(m.on(Event::TunnelDown, t0), vec![]);
    assert_eq!(m.on(Event::TunnelUp, t0), vec![]);
    assert_eq!(m.service(), Some(SVC));
}

#[test]
fn ready_timeout_ends_start_up_with_its_own_code() {
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(tunnel_policy(Some(Duration::from_secs(5))), t0);
    assert_eq!(m.deadline(), Some(t0 + Duration::from_secs(5)));
    assert_eq!(m.on(Event::Tick, t0 + Duration::from_secs(4)), vec![]);
    assert_eq!(
        m.on(Event::Tick, t0 + Duration::from_secs(5)),
        vec![ReadyTimedOut, TerminateOthers { spare: None }]
    );
    assert_eq!(m.on(Event::TunnelUp, t0 + Duration::from_secs(5)), vec![]);
    assert_eq!(
        m.on(Event::NoChildren, t0 + Duration::from_secs(5)),
        vec![Exit(crate::exit::READY_TIMEOUT)]
    );
}

#[test]
fn a_stop_while_waiting_for_the_tunnel_exits_promptly_with_the_signal() {
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(tunnel_policy(None), t0);
    assert_eq!(
        m.on(Event::Signal(libc::SIGTERM), t0),
        vec![TerminateOthers { spare: None }]
    );
    assert_eq!(m.on(Event::TunnelUp, t0), vec![]);
    assert_eq!(m.on(Event::NoChildren, t0), vec![Exit(143)]);
}

#[test]
fn tunnel_loss_under_reconnect_and_unready_changes_nothing() {
    for on_loss in [LossPolicy::Reconnect, LossPolicy::Unready] {
        let (mut m, t0) = running(Policy {
            on_loss,
            ..policy()
        });
        assert_eq!(m.on(Event::TunnelDown, t0), vec![]);
        assert_eq!(m.down_since(), Some(t0));
        assert_eq!(m.deadline(), None, "{on_loss:?}: no timer for an outage");
        assert_eq!(m.on(Event::Tick, t0 + Duration::from_secs(3600)), vec![]);
        assert_eq!(m.service(), Some(SVC));
        assert_eq!(m.on(Event::TunnelUp, t0), vec![]);
        assert_eq!(m.down_since(), None);
    }
}

#[test]
fn tunnel_loss_under_stop_ends_the_service_after_the_grace_with_its_own_code() {
    let grace = Duration::from_secs(5);
    let (mut m, t0) = running(Policy {
        on_loss: LossPolicy::Stop,
        loss_grace: grace,
        ..policy()
    });
    assert_eq!(m.on(Event::TunnelDown, t0), vec![]);
    // A second Down (another failed attempt) does not restart the clock.
    assert_eq!(m.on(Event::TunnelDown, t0 + Duration::from_secs(2)), vec![]);
    assert_eq!(m.deadline(), Some(t0 + grace));
    assert_eq!(m.on(Event::Tick, t0 + Duration::from_secs(4)), vec![]);
    let at = t0 + grace;
    assert_eq!(
        m.on(Event::Tick, at),
        vec![
            TunnelLost { down_for: grace },
            Forward {
                pid: SVC,
                sig: libc::SIGTERM
            },
            TerminateOthers { spare: Some(SVC) }
        ]
    );
    // The service exits 0 on SIGTERM: the exit code still says the tunnel was lost.
    assert_eq!(
        m.on(
            Event::Exited {
                pid: SVC,
                status: Status::Code(0)
            },
            at
        ),
        vec![
            ServiceExited {
                status: Status::Code(0)
            },
            TerminateOthers { spare: None }
        ]
    );
    assert_eq!(
        m.on(Event::NoChildren, at),
        vec![Exit(crate::exit::TUNNEL_LOST)]
    );
}

#[test]
fn tunnel_back_within_the_grace_cancels_the_stop() {
    let (mut m, t0) = running(Policy {
        on_loss: LossPolicy::Stop,
        loss_grace: Duration::from_secs(5),
        stop_signal: Some(libc::SIGQUIT),
        ..policy()
    });
    m.on(Event::TunnelDown, t0);
    assert_eq!(m.on(Event::TunnelUp, t0 + Duration::from_secs(4)), vec![]);
    assert_eq!(m.deadline(), None);
    assert_eq!(m.on(Event::Tick, t0 + Duration::from_secs(60)), vec![]);
    // A new outage starts a new grace, and the stop uses --stop-signal.
    let t1 = t0 + Duration::from_secs(100);
    m.on(Event::TunnelDown, t1);
    let acts = m.on(Event::Tick, t1 + Duration::from_secs(5));
    assert_eq!(
        acts[..2],
        [
            TunnelLost {
                down_for: Duration::from_secs(5)
            },
            Forward {
                pid: SVC,
                sig: libc::SIGQUIT
            }
        ]
    );
}

#[test]
fn tunnel_loss_under_stop_during_hooks_and_init_only() {
    let grace = Duration::from_secs(1);
    let stop = Policy {
        on_loss: LossPolicy::Stop,
        loss_grace: grace,
        wait_for_tunnel: true,
        ..policy()
    };
    // Down while still waiting for the first Up: that is --ready-timeout's business.
    let t0 = Instant::now();
    let (mut m, _) = Machine::new(stop, t0);
    assert_eq!(m.on(Event::TunnelDown, t0), vec![]);
    assert_eq!(m.on(Event::Tick, t0 + Duration::from_secs(60)), vec![]);
    // Up, a hook runs, the tunnel goes: the hook is stopped and nothing else starts.
    assert_eq!(m.on(Event::TunnelUp, t0), vec![StartNext]);
    assert_eq!(m.on(Event::StepStarted { pid: 7 }, t0), vec![]);
    m.on(Event::TunnelDown, t0);
    assert_eq!(
        m.on(Event::Tick, t0 + grace),
        vec![
            TunnelLost { down_for: grace },
            TerminateOthers { spare: None }
        ]
    );
    // --init-only: no service, the same exit code.
    let (mut m, _) = Machine::new(stop, t0);
    m.on(Event::TunnelUp, t0);
    m.on(Event::Started { service: None }, t0);
    m.on(Event::TunnelDown, t0);
    let acts = m.on(Event::Tick, t0 + grace);
    assert_eq!(
        acts,
        vec![
            TunnelLost { down_for: grace },
            TerminateOthers { spare: None }
        ]
    );
    assert_eq!(
        m.on(Event::NoChildren, t0 + grace),
        vec![Exit(crate::exit::TUNNEL_LOST)]
    );
}
