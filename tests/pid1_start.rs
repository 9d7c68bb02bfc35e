//! enf-init's start-up: hooks, --user, capabilities, and a terminal as `docker run -it` gives one.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

fn write_hook(dir: &Path, name: &str, body: &str, mode: u32) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write hook");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn hooks_run_in_version_order_and_envsh_exports_reach_later_hooks_and_the_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write_hook(
        d,
        "10-first.sh",
        "echo 10-first >&2; echo \"$ENF_SEEN\" > /dev/null",
        0o755,
    );
    write_hook(d, "9-early.sh", "echo 9-early >&2", 0o755);
    write_hook(
        d,
        "20-env.envsh",
        "echo sourcing-says-hi; export FROM_HOOK=\"a b\"; unset DROP_ME",
        0o644,
    );
    write_hook(
        d,
        "30-uses.sh",
        "echo \"30-uses FROM_HOOK=$FROM_HOOK\" >&2",
        0o755,
    );
    write_hook(d, "40-not-exec.sh", "echo must-not-run >&2", 0o644);
    std::fs::write(d.join("README"), "not a hook").expect("readme");
    let dir_arg = d.to_str().expect("utf-8");
    let p = Pid1::start(
        &[
            "--no-tunnel",
            "--hooks-dir",
            dir_arg,
            "--",
            "sh",
            "-c",
            "echo \"svc FROM_HOOK=$FROM_HOOK DROP_ME=${DROP_ME-unset}\"",
        ],
        &[("DROP_ME", "x")],
    );
    let out = p.finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "svc FROM_HOOK=a b DROP_ME=unset\n");
    let order: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| {
            [
                "9-early",
                "10-first",
                "30-uses",
                "sourcing-says-hi",
                "must-not-run",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .collect();
    assert_eq!(
        order,
        vec![
            "9-early",
            "10-first",
            "sourcing-says-hi",
            "30-uses FROM_HOOK=a b"
        ],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("40-not-exec.sh: not executable"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("README: not *.sh or *.envsh"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_hook_stops_start_up_naming_the_hook() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_hook(dir.path(), "10-bad.sh", "exit 3", 0o755);
    let d = dir.path().to_str().expect("utf-8");
    let out = run_pid1(&[
        "--no-tunnel",
        "--hooks-dir",
        d,
        "--",
        "sh",
        "-c",
        "echo service-ran",
    ]);
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("hook 10-bad.sh failed with exit code 3; not starting the service"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_hook_that_outlives_hook_timeout_is_killed_and_start_up_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The hook's child must die with it: the whole process group is killed.
    write_hook(dir.path(), "10-hang.sh", "sleep 60 & sleep 60", 0o755);
    let d = dir.path().to_str().expect("utf-8");
    let out = run_pid1(&[
        "--no-tunnel",
        "--hook-timeout",
        "0.5",
        "--hooks-dir",
        d,
        "--",
        "true",
    ]);
    assert_eq!(out.code, 65, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("hook 10-hang.sh still running after 0.5s (--hook-timeout): killed"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn sigterm_during_hooks_exits_promptly_without_starting_the_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_hook(
        dir.path(),
        "10-slow.sh",
        "echo hook-started; sleep 30",
        0o755,
    );
    let d = dir.path().to_str().expect("utf-8");
    let mut p = Pid1::start(
        &[
            "--no-tunnel",
            "--hooks-dir",
            d,
            "--",
            "sh",
            "-c",
            "echo service-ran",
        ],
        &[],
    );
    p.wait_line(|l| l == "hook-started", Duration::from_secs(10));
    p.signal(libc::SIGTERM);
    let out = p.finish(Duration::from_secs(10));
    assert_eq!(out.code, 143, "{}", out.stderr);
    assert!(!out.stdout.contains("service-ran"));
    assert!(
        out.elapsed < Duration::from_secs(5),
        "{:?} {}",
        out.elapsed,
        out.stderr
    );
}

/// Capability sets of the service, as hex words.
fn caps_of_service(extra: &[&str]) -> String {
    let mut args = vec!["--no-tunnel"];
    args.extend_from_slice(extra);
    args.extend(["--", "grep", "^Cap", "/proc/self/status"]);
    let out = run_pid1(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout
}

fn has_net_admin(caps: &str, set: &str) -> bool {
    let line = caps.lines().find(|l| l.starts_with(set)).expect(set);
    let word = u64::from_str_radix(line.split_whitespace().nth(1).expect("hex"), 16).expect("hex");
    word & (1 << 12) != 0
}

#[test]
fn the_service_does_not_keep_cap_net_admin_unless_asked() {
    let caps = caps_of_service(&[]);
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(
            !has_net_admin(&caps, set),
            "{set} still has CAP_NET_ADMIN:\n{caps}"
        );
    }
    // Other capabilities stay: ping needs NET_RAW (13), sshd needs SETUID (7).
    let eff = caps
        .lines()
        .find(|l| l.starts_with("CapEff"))
        .expect("CapEff");
    let word = u64::from_str_radix(eff.split_whitespace().nth(1).expect("hex"), 16).expect("hex");
    assert!(word & (1 << 13) != 0 && word & (1 << 7) != 0, "{caps}");
    let kept = caps_of_service(&["--keep-net-admin"]);
    assert!(
        has_net_admin(&kept, "CapEff") && has_net_admin(&kept, "CapBnd"),
        "{kept}"
    );
}

#[test]
fn user_runs_the_service_with_that_identity_and_home() {
    let out = run_pid1(&[
        "--no-tunnel",
        "--user",
        "nobody",
        "--",
        "sh",
        "-c",
        "echo $(id -u):$(id -g):$(id -G):$HOME",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let want = format!("65534:65534:{}:/nonexistent\n", groups_of("nobody"));
    assert_eq!(out.stdout, want);
    let out = run_pid1(&[
        "--no-tunnel",
        "--user",
        "4321:daemon",
        "--",
        "sh",
        "-c",
        "echo $(id -u):$(id -g):$(id -G):$HOME",
    ]);
    assert_eq!(out.stdout, "4321:1:1:/\n", "{}", out.stderr);
    let out = run_pid1(&["--no-tunnel", "--user", "no-such-user", "--", "true"]);
    assert_eq!(out.code, 64);
    assert!(
        out.stderr
            .contains("--user: no user \"no-such-user\" in /etc/passwd"),
        "{}",
        out.stderr
    );
}

fn groups_of(user: &str) -> String {
    let out = std::process::Command::new("id")
        .args(["-G", user])
        .output()
        .expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn with_a_terminal_ctrl_c_reaches_the_service_not_enf_init() {
    require_root();
    // The service reports whether it is the terminal's foreground process group, then waits for
    // Ctrl-C. enf-init runs at debug level so that a SIGINT reaching it would show in its log.
    let script = "set -- $(cut -d' ' -f5,8 /proc/$$/stat); \
        [ \"$1\" = \"$2\" ] && echo foreground || echo background; \
        trap 'echo got-ctrl-c; exit 7' INT; echo ready; while :; do sleep 0.05; done";
    let out = std::process::Command::new("python3")
        .arg(helper("pty_run.py"))
        .args([
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            BIN,
            "--no-tunnel",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env("ENF_LOG", "debug")
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("foreground"), "{text}");
    assert!(!text.contains("background"), "{text}");
    assert!(text.contains("got-ctrl-c"), "{text}");
    assert!(
        !text.contains("received SIGINT"),
        "enf-init saw the Ctrl-C itself:\n{text}"
    );
    assert!(text.trim_end().ends_with("EXIT 7"), "{text}");
}
