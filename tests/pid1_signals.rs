//! enf-init as PID 1: exit codes, signal forwarding, the child's signal state, the stop.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn exit_codes_round_trip_0_to_255() {
    // One namespace per code would take long; the service reports through its exit code only,
    // so a loop over codes in one test still exercises the whole path each time.
    for code in 0..=255 {
        let script = format!("exit {code}");
        let out = run_pid1(&["--no-tunnel", "--", "sh", "-c", &script]);
        assert_eq!(out.code, code, "code {code}: {}", out.stderr);
    }
}

#[test]
fn a_service_killed_by_signal_n_gives_128_plus_n() {
    // Every signal whose default action terminates the process.
    let ignored_or_stopping = [9, 17, 18, 19, 20, 21, 22, 23, 28];
    for sig in (1..=64).filter(|s| !ignored_or_stopping.contains(s)) {
        let script = format!("kill -{sig} $$; sleep 5");
        let out = run_pid1(&["--no-tunnel", "--", "sh", "-c", &script]);
        assert_eq!(out.code, 128 + sig, "signal {sig}: {}", out.stderr);
    }
    let out = run_pid1(&["--no-tunnel", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.code, 137);
}

#[test]
fn not_found_is_127_and_not_executable_is_126() {
    let out = run_pid1(&["--no-tunnel", "--", "/no/such/program"]);
    assert_eq!(out.code, 127);
    assert!(
        out.stderr
            .contains("enf-init: error: service /no/such/program: not found"),
        "{}",
        out.stderr
    );
    let out = run_pid1(&["--no-tunnel", "--", "/etc/passwd"]);
    assert_eq!(out.code, 126);
    assert!(
        out.stderr.contains("cannot be executed: Permission denied"),
        "{}",
        out.stderr
    );
    let out = run_pid1(&["--no-tunnel", "--", "no-such-command-on-path"]);
    assert_eq!(out.code, 127);
}

#[test]
fn the_service_starts_with_an_empty_mask_and_default_dispositions() {
    // grep is exec'd straight from enf-init, so its status shows what enf-init handed over.
    let out = run_pid1(&[
        "--no-tunnel",
        "--",
        "grep",
        "-E",
        "^Sig(Blk|Ign)",
        "/proc/self/status",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
}

/// Starts the signal-reporting service and waits until it is ready.
fn reporting_service(extra: &[&str], stop_with: i32) -> Pid1 {
    let script = helper("sigwait.py");
    let stop = stop_with.to_string();
    let mut args = vec!["--no-tunnel"];
    args.extend_from_slice(extra);
    args.extend(["--", "python3", script.to_str().expect("utf-8 path"), &stop]);
    let mut p = Pid1::start(&args, &[]);
    p.wait_line(|l| l == "ready", Duration::from_secs(10));
    p
}

#[test]
fn every_forwardable_signal_reaches_the_service_real_time_ones_included() {
    // Everything but the faults, SIGCHLD, the uncatchable and the stop signals (tested below).
    let never = [4, 5, 7, 8, 9, 11, 17, 19, 31, 2, 3, 15];
    let mut p = reporting_service(&[], 64);
    for sig in (1..=63).filter(|s| !never.contains(s)) {
        p.signal(sig);
        let got = p.wait_line(|_| true, Duration::from_secs(5));
        assert_eq!(got, sig.to_string(), "sent {sig}");
    }
    p.signal(64);
    let out = p.finish(Duration::from_secs(10));
    assert_eq!(out.stdout, "64\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn fault_signals_and_sigchld_are_not_forwarded() {
    let mut p = reporting_service(&[], 10);
    for sig in [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGTRAP,
        libc::SIGSYS,
        libc::SIGCHLD,
    ] {
        p.signal(sig);
    }
    p.signal(libc::SIGUSR1);
    // The first thing the service sees is SIGUSR1: nothing of the above got through before it.
    assert_eq!(p.wait_line(|_| true, Duration::from_secs(5)), "10");
    assert_eq!(p.finish(Duration::from_secs(10)).code, 0);
}

#[test]
fn each_stop_signal_is_passed_on_and_the_exit_is_immediate() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT] {
        let mut p = reporting_service(&[], sig);
        let asked = std::time::Instant::now();
        p.signal(sig);
        assert_eq!(
            p.wait_line(|_| true, Duration::from_secs(5)),
            sig.to_string()
        );
        let out = p.finish(Duration::from_secs(10));
        assert_eq!(out.code, 0, "{}", out.stderr);
        // Never sleep out the 8 s grace once everything is gone.
        assert!(
            asked.elapsed() < Duration::from_secs(4),
            "took {:?}",
            asked.elapsed()
        );
    }
}

#[test]
fn stop_signal_replaces_what_docker_sends() {
    let mut p = reporting_service(&["--stop-signal", "SIGQUIT"], libc::SIGQUIT);
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_line(|_| true, Duration::from_secs(5)), "3");
    assert_eq!(p.finish(Duration::from_secs(10)).code, 0);

    let mut p = reporting_service(&["--stop-signal", "RTMIN+3"], 37);
    p.signal(libc::SIGINT);
    assert_eq!(p.wait_line(|_| true, Duration::from_secs(5)), "37");
    assert_eq!(p.finish(Duration::from_secs(10)).code, 0);
}

#[test]
fn grace_period_kill_at_the_requested_time_and_no_later() {
    let mut p = Pid1::start(
        &[
            "--no-tunnel",
            "--stop-timeout",
            "1.5",
            "--",
            "sh",
            "-c",
            "trap '' TERM; echo ready; while :; do sleep 0.05; done",
        ],
        &[],
    );
    p.wait_line(|l| l == "ready", Duration::from_secs(10));
    let asked = std::time::Instant::now();
    p.signal(libc::SIGTERM);
    let out = p.finish(Duration::from_secs(10));
    let took = asked.elapsed();
    assert_eq!(out.code, 137, "{}", out.stderr);
    assert!(
        took >= Duration::from_millis(1500),
        "killed early: {took:?}"
    );
    // Generous upper bound for a loaded 2-core machine; the budget itself is what is checked.
    assert!(took < Duration::from_millis(2500), "killed late: {took:?}");
    assert!(
        out.stderr.contains("stop timeout of 1.5s reached"),
        "{}",
        out.stderr
    );
}
