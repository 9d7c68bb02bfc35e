//! enf-init as PID 1 and as a subreaper: reaping, sweeping, leaving strangers alone.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Counts zombies in the namespace, from the service's own view of /proc.
const COUNT_ZOMBIES: &str = "n=0; for f in /proc/[0-9]*/stat; do \
    read -r line < \"$f\" 2>/dev/null || continue; \
    case \"${line##*) }\" in Z*) n=$((n+1));; esac; done; echo zombies=$n";

#[test]
fn a_storm_of_100_orphans_leaves_no_zombie() {
    // Each `( sleep & )` orphans a sleep to PID 1; they all exit at about the same moment, so
    // their SIGCHLDs merge. The service counts zombies after they are gone.
    let script = format!(
        "i=0; while [ $i -lt 100 ]; do (sleep 0.3 &); i=$((i+1)); done; sleep 1.5; {COUNT_ZOMBIES}"
    );
    let out = run_pid1(&["--no-tunnel", "--", "sh", "-c", &script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "zombies=0");
}

#[test]
fn when_the_service_exits_the_rest_is_terminated_and_its_code_kept() {
    let out = run_pid1(&[
        "--no-tunnel",
        "--",
        "sh",
        "-c",
        "(sleep 60 &); (sleep 60 &); exit 42",
    ]);
    assert_eq!(out.code, 42, "{}", out.stderr);
    assert!(
        out.elapsed < Duration::from_secs(5),
        "stragglers were waited out: {:?}",
        out.elapsed
    );
}

#[test]
fn a_daemon_ignoring_sigterm_is_killed_at_the_stop_timeout() {
    // The service exits only once the daemon has armed its trap (it says so in a file).
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("armed");
    let script = format!(
        "(trap '' TERM; echo yes > {0}; while :; do sleep 0.05; done) & \
         while [ ! -s {0} ]; do sleep 0.01; done; exit 5",
        flag.display()
    );
    let out = run_pid1(&[
        "--no-tunnel",
        "--stop-timeout",
        "1",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.elapsed >= Duration::from_secs(1), "{:?}", out.elapsed);
    assert!(
        out.stderr.contains("stop timeout of 1.0s reached"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_services_own_workers_are_spared_from_the_first_sigterm() {
    // The service passes the stop on to its worker itself (as nginx or sshd do); enf-init must not
    // terminate the worker behind its back. The worker reports which signal it got from whom.
    let script = "trap 'kill -USR1 $w; wait $w; exit 0' TERM; \
        sh -c 'trap \"echo worker-usr1; exit 0\" USR1; trap \"echo worker-term; exit 0\" TERM; \
               echo ready; while :; do sleep 0.05; done' & w=$!; wait";
    let mut p = Pid1::start(&["--no-tunnel", "--", "sh", "-c", script], &[]);
    // "ready" comes from the worker once its traps are set (and the service's trap was set first).
    p.wait_line(|l| l == "ready", Duration::from_secs(10));
    p.signal(libc::SIGTERM);
    let out = p.finish(Duration::from_secs(10));
    assert_eq!(out.stdout.trim(), "worker-usr1", "{}", out.stderr);
    assert_eq!(out.code, 0);
}

#[test]
fn init_only_stays_up_until_stopped_and_exits_zero() {
    let p = Pid1::start(&["--no-tunnel", "--init-only"], &[]);
    std::thread::sleep(Duration::from_millis(300));
    p.signal(libc::SIGTERM);
    let out = p.finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("--init-only: no service started"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed >= Duration::from_millis(300));
}

#[test]
fn as_a_subreaper_it_reaps_orphans_and_leaves_other_processes_alone() {
    require_root();
    // A stranger: a sibling of enf-init that must survive enf-init's stop sweep.
    let mut stranger = Command::new("sleep").arg("30").spawn().expect("sleep");
    // The service orphans a sleep, checks that enf-init adopted it, then that it was reaped.
    let script = "(sleep 60 &); o=$( (sleep 0.4 >/dev/null & echo $!) ); sleep 0.1; \
        read -r l < /proc/$o/stat; set -- ${l##*) }; \
        [ \"$2\" = \"$PPID\" ] && echo adopted || echo not-adopted; \
        sleep 0.8; [ -e /proc/$o ] && echo orphan-left || echo orphan-reaped; exit 9";
    let out = Command::new(BIN)
        .args([
            "--no-tunnel",
            "--stop-timeout",
            "3",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env_remove("ENF_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("enf-init");
    let alive = stranger.try_wait().expect("try_wait").is_none();
    let _ = stranger.kill();
    let _ = stranger.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert!(
        stderr.contains("not PID 1: running as a child subreaper"),
        "{stderr}"
    );
    assert!(
        alive,
        "enf-init signalled a process that is not its descendant"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "adopted\norphan-reaped\n",
        "{stderr}"
    );
}

#[test]
fn a_thousand_zombies_at_once_are_all_reaped() {
    // 1,000 orphans blocked on one FIFO; closing its writer ends them all at the same moment, so
    // their SIGCHLDs merge into a handful: every one must still be reaped.
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    let script = format!(
        "mkfifo {f}; i=0; while [ $i -lt 1000 ]; do ( (read x < {f}) & ); i=$((i+1)); done; \
         exec 3>{f}; sleep 1; exec 3>&-; sleep 2; {COUNT_ZOMBIES}",
        f = fifo.display()
    );
    let out = run_pid1(&["--no-tunnel", "--", "sh", "-c", &script]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "zombies=0");
}

#[test]
fn a_storm_of_ten_thousand_signals_while_children_come_and_go_loses_nothing_that_matters() {
    // The service counts SIGUSR1 and SIGUSR2 it receives while it keeps forking short-lived
    // children; a sender hammers PID 1 with 10,000 mixed signals. Standard signals merge while
    // pending, so the count is at most what was sent; what must hold is that PID 1 stays
    // responsive, reaps every child, and the final SIGTERM still stops everything at once.
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready");
    let service = format!(
        "u=0; trap 'u=$((u+1))' USR1 USR2 HUP WINCH; trap 'echo received=$u; exit 0' TERM; \
         touch {ready}; while :; do (true) & sleep 0.01; done",
        ready = ready.display()
    );
    let p = Pid1::start(&["--no-tunnel", "--", "sh", "-c", &service], &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "service never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid1 = p.init_pid();
    // Signals the service traps (an untrapped one would end it: real-time forwarding has its
    // own test).
    let kinds = [libc::SIGUSR1, libc::SIGUSR2, libc::SIGHUP, libc::SIGWINCH];
    for i in 0..10_000usize {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid1, kinds[i % kinds.len()]) };
    }
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    p.signal(libc::SIGTERM);
    let out = p.finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "the stop took {:?}",
        asked.elapsed()
    );
    let received: u64 = out
        .stdout
        .trim()
        .strip_prefix("received=")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count: {:?}", out.stdout));
    assert!(received > 0 && received <= 10_000, "{received}");
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
