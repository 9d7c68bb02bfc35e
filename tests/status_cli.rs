//! `enf-init status`, run as Docker's HEALTHCHECK runs it: the real binary reading a file that the
//! library's writer made.
//!
//! Each run happens in a private mount namespace with fresh tmpfs on `/run` and `/dev/shm`, so the
//! default and fallback locations are the test's own (and a stray file on this host cannot make a
//! "missing" case pass). Needs root for that; fails loudly without it.

use enf_init::status::{self, LossPolicy, State, Status, FALLBACK_PATH, STALE_AFTER_SECS};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_enf-init");
const MISSING_HINT: &str = "(is enf-init running here, with its tunnel?)";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `enf-init status ARGS` in its own mount namespace; each `(file, dest)` of `place` is copied
/// to `dest` first, then `/run` is made read-only as under `docker run --read-only`.
fn run(args: &[&str], env: &[(&str, &str)], place: &[(&Path, &str)]) -> Run {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root for a private mount namespace (unshare --mount)"
    );
    let mut script = String::from(
        "set -e; mount -t tmpfs -o mode=0755 tmpfs /run; mount -t tmpfs -o mode=1777 tmpfs /dev/shm; ",
    );
    for (src, dest) in place {
        let dir = Path::new(dest).parent().unwrap().display().to_string();
        script += &format!("mkdir -p '{dir}'; cp '{}' '{dest}'; ", src.display());
    }
    script += "mount -o remount,ro /run; exec \"$@\"";
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        &script,
        "sh",
    ])
    .args([BIN, "status"])
    .args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ENF_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run unshare");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn up_now() -> Status {
    Status {
        state: State::Up,
        address: Some("fd00:8f80:1::1234".parse().unwrap()),
        iface: Some("enf0".into()),
        server: Some("192.0.2.1:443".into()),
        connected_since: Some(status::now_unix() - 90),
        rx_packets: 3,
        rx_bytes: 150,
        drops: [("bad-src".to_string(), 2)].into(),
        heartbeat_rtt_ms: Some(0.8),
        updated: status::now_unix(),
        pid: 1,
        data_plane: true,
        ever_up: true,
        on_tunnel_loss: LossPolicy::Unready,
        ..Status::default()
    }
}

/// A status file written by the library's writer, in a fresh directory.
fn written(s: &Status) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enf-init/status.json");
    assert_eq!(status::write(Some(&path), s).unwrap(), path);
    (dir, path.display().to_string())
}

#[test]
fn up_and_fresh_is_healthy() {
    let (_dir, path) = written(&up_now());
    let r = run(&["--status-file", &path], &[], &[]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{}", r.stdout);
    for want in [
        "state:           up\n",
        "health:          healthy\n",
        "address:         fd00:8f80:1::1234\n",
        "interface:       enf0\n",
        "server:          192.0.2.1:443\n",
        "UTC (1m 3",
        "received:        3 packets, 150 bytes (150 B)\n",
        "drops:           bad-src 2\n",
        "heartbeat RTT:   0.80 ms\n",
        &format!("status file:     {path}, written "),
    ] {
        assert!(
            r.stdout.contains(want),
            "{want:?} missing from\n{}",
            r.stdout
        );
    }
}

#[test]
fn stale_up_is_unhealthy() {
    let old = Status {
        updated: status::now_unix() - STALE_AFTER_SECS - 30,
        ..up_now()
    };
    let (_dir, path) = written(&old);
    let r = run(&["--status-file", &path], &[], &[]);
    assert_eq!((r.code, r.stderr.as_str()), (1, ""), "{}", r.stdout);
    assert!(r.stdout.contains("state:           up\n"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("health:          unhealthy: the status was written"),
        "{}",
        r.stdout
    );
}

#[test]
fn under_unready_every_state_but_up_is_unhealthy() {
    for state in State::ALL.into_iter().filter(|s| *s != State::Up) {
        let s = Status {
            state,
            last_error: Some("connect 192.0.2.1:443: connection refused".into()),
            ..up_now()
        };
        let (_dir, path) = written(&s);
        let r = run(&["--status-file", &path], &[], &[]);
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (1, ""),
            "{state:?}: {}",
            r.stdout
        );
        let want = format!(
            "health:          unhealthy: the tunnel is {} (--on-tunnel-loss=unready)\n",
            state.as_str()
        );
        assert!(r.stdout.contains(&want), "{}", r.stdout);
        assert!(r
            .stdout
            .contains("last error:      connect 192.0.2.1:443: connection refused"));
    }
}

/// Under the default policy a tunnel that was up and is reconnecting keeps the container
/// healthy (the service runs on; `--on-tunnel-loss=unready` is the choice to go red), but not
/// before it was ever up, and not once it stopped or failed.
#[test]
fn reconnecting_is_healthy_only_under_the_reconnect_policy_and_after_the_first_up() {
    for state in State::ALL {
        for ever_up in [false, true] {
            let s = Status {
                state,
                ever_up,
                data_plane: state == State::Up,
                on_tunnel_loss: LossPolicy::Reconnect,
                ..up_now()
            };
            let (_dir, path) = written(&s);
            let r = run(&["--status-file", &path], &[], &[]);
            let reconnecting =
                matches!(state, State::Down | State::Connecting | State::Handshaking);
            let healthy = state == State::Up || (ever_up && reconnecting);
            assert_eq!(
                r.code,
                i32::from(!healthy),
                "{state:?} {ever_up}: {}",
                r.stdout
            );
            if ever_up && reconnecting {
                let want = format!(
                    "health:          healthy: the tunnel is {} and reconnecting \
                     (--on-tunnel-loss=reconnect)\n",
                    state.as_str()
                );
                assert!(r.stdout.contains(&want), "{}", r.stdout);
            }
        }
    }
}

#[test]
fn missing_file_is_one_line_and_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("status.json").display().to_string();
    let r = run(&["--status-file", &path], &[], &[]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "");
    let want = format!(
        "enf-init: error: status: no status file at {path} or {FALLBACK_PATH} {MISSING_HINT}\n"
    );
    assert_eq!(r.stderr, want);
    let r = run(&[], &[], &[]);
    let want = format!(
        "enf-init: error: status: no status file at /run/enf-init/status.json or {FALLBACK_PATH} \
         {MISSING_HINT}\n"
    );
    assert_eq!((r.code, r.stderr), (1, want));
}

#[test]
fn malformed_file_is_one_line_and_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("status.json");
    let shown = path.display().to_string();
    let cases: &[(&[u8], &str)] = &[
        (
            b"{\"state\": \"up\", \"updated\": 17",
            "(the file ends at byte 29)",
        ),
        (b"", "expected a value (the file ends at byte 0)"),
        (b"{\"state\": \"up\"}", "no \"updated\""),
        (b"\x00\xff garbage", "expected a value at byte 0"),
    ];
    for (bytes, reason) in cases {
        std::fs::write(&path, bytes).unwrap();
        for json in [false, true] {
            let args: &[&str] = if json { &["--json"] } else { &[] };
            let r = run(&[args, &["--status-file", &shown]].concat(), &[], &[]);
            assert_eq!((r.code, r.stdout.as_str()), (1, ""), "{reason}");
            let prefix = format!("enf-init: error: status: {shown}: not a status file: ");
            assert!(r.stderr.starts_with(&prefix), "{}", r.stderr);
            assert!(r.stderr.ends_with(&format!("{reason}\n")), "{}", r.stderr);
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        }
    }
}

#[test]
fn json_round_trips_and_keeps_the_exit_rule() {
    let mut s = up_now();
    s.last_error = Some("quote \" backslash \\ newline \n tab \t bell \u{7} é 😀".into());
    s.cert_not_after = Some(-62_167_219_200);
    let (_dir, path) = written(&s);
    let r = run(&["--json", "--status-file", &path], &[], &[]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(Status::from_json(r.stdout.as_bytes()), Ok(s.clone()));
    assert_eq!(r.stdout, s.to_json());

    let down = Status {
        state: State::Down,
        ..s
    };
    let (_dir2, path2) = written(&down);
    let r = run(&["--json"], &[("ENF_STATUS_FILE", &path2)], &[]);
    assert_eq!(r.code, 1);
    assert_eq!(Status::from_json(r.stdout.as_bytes()), Ok(down));
}

#[test]
fn read_only_run_falls_back_to_dev_shm() {
    // As `docker run --read-only`: nothing under /run, the writer fell back to /dev/shm.
    let (_dir, src) = written(&up_now());
    let r = run(&[], &[], &[(Path::new(&src), FALLBACK_PATH)]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!("status file:     {FALLBACK_PATH}, ")),
        "{}",
        r.stdout
    );
    // With both, the more recently written one is the truth (the writer may have moved).
    let older_down = Status {
        state: State::Down,
        updated: status::now_unix() - 10,
        ..up_now()
    };
    let (_dir2, src2) = written(&older_down);
    let both = [
        (Path::new(&src2), "/run/enf-init/status.json"),
        (Path::new(&src), FALLBACK_PATH),
    ];
    let r = run(&[], &[], &both);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = run(&["--json"], &[], &[both[0]]);
    assert_eq!(r.code, 1);
    assert_eq!(Status::from_json(r.stdout.as_bytes()), Ok(older_down));
}
