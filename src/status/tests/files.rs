//! Health, the status file on disk (modes, fallback, freshest wins, errors) and the summary.

use super::sample;
use crate::status::command::{duration, human_bytes};
use crate::status::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[test]
fn readiness_needs_up_a_working_data_plane_and_freshness() {
    let now = 1_000_000;
    let table = [
        (State::Up, true, now, true),
        (State::Up, false, now, false),
        (State::Up, true, now - STALE_AFTER_SECS, true),
        (State::Up, true, now - STALE_AFTER_SECS - 1, false),
        (State::Up, true, now + STALE_AFTER_SECS + 1, false),
        (State::Up, true, 0, false),
        (State::Down, true, now, false),
        (State::Handshaking, true, now, false),
        (State::Stopped, true, now, false),
        (State::NoTunnel, true, now, false),
    ];
    for (state, data_plane, updated, want) in table {
        let s = Status {
            state,
            data_plane,
            updated,
            ..Status::default()
        };
        assert_eq!(
            s.ready(now),
            want,
            "{state:?} data plane {data_plane} updated {updated}"
        );
        for policy in [LossPolicy::Unready, LossPolicy::Stop] {
            let s = Status {
                on_tunnel_loss: policy,
                ever_up: true,
                ..s.clone()
            };
            assert_eq!(s.healthy(now), want, "{policy:?}: health is readiness");
        }
    }
    for st in State::ALL {
        assert_eq!(State::parse(st.as_str()), Some(st));
    }
    for p in LossPolicy::ALL {
        assert_eq!(LossPolicy::parse(p.as_str()), Some(p));
    }
}

#[test]
fn reconnect_policy_stays_healthy_while_reconnecting_after_the_first_up() {
    let now = 1_000_000;
    // (state, ever up, updated, healthy)
    let table = [
        (State::Down, true, now, true),
        (State::Connecting, true, now, true),
        (State::Handshaking, true, now, true),
        (State::Up, true, now, true),
        (State::Down, true, now - STALE_AFTER_SECS - 1, false),
        (State::Connecting, false, now, false),
        (State::Starting, true, now, false),
        (State::Stopped, true, now, false),
        (State::NoTunnel, true, now, false),
    ];
    for (state, ever_up, updated, want) in table {
        let s = Status {
            state,
            ever_up,
            updated,
            on_tunnel_loss: LossPolicy::Reconnect,
            ..Status::default()
        };
        assert_eq!(
            s.healthy(now),
            want,
            "{state:?} ever up {ever_up} updated {updated}"
        );
        assert!(!s.ready(now) || state == State::Up);
    }
    let reconnecting = Status {
        state: State::Down,
        ever_up: true,
        updated: now,
        ..Status::default()
    };
    let text = render(&reconnecting, Path::new("/s"), now);
    assert!(
        text.contains("healthy: the tunnel is down and reconnecting (--on-tunnel-loss=reconnect)"),
        "{text}"
    );
    let strict = Status {
        on_tunnel_loss: LossPolicy::Unready,
        ..reconnecting
    };
    let text = render(&strict, Path::new("/s"), now);
    assert!(
        text.contains("unhealthy: the tunnel is down (--on-tunnel-loss=unready)"),
        "{text}"
    );
}

#[test]
fn write_creates_dir_and_file_world_readable_and_leaves_no_temp() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("run/enf-init/status.json");
    let wrote = write_to(std::slice::from_ref(&path), &sample()).unwrap();
    assert_eq!(wrote, path);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(path.parent().unwrap()), 0o755);
    assert_eq!(mode(&path), 0o644);
    let mut again = sample();
    again.state = State::Stopped;
    write_to(std::slice::from_ref(&path), &again).unwrap();
    assert_eq!(
        read_from(std::slice::from_ref(&path)).unwrap(),
        (path.clone(), again)
    );
    let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(names.len(), 1, "only status.json is left: {names:?}");
}

#[test]
fn write_falls_back_and_read_finds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("not-a-dir");
    fs::write(&blocker, "").unwrap();
    // Like a read-only /run: the preferred directory cannot be made (even by root).
    let preferred = blocker.join("enf-init/status.json");
    let fallback = tmp.path().join("shm/enf-init/status.json");
    let paths = [preferred.clone(), fallback.clone()];
    assert_eq!(write_to(&paths, &sample()).unwrap(), fallback);
    assert_eq!(read_from(&paths).unwrap(), (fallback.clone(), sample()));

    let both = [preferred.clone(), blocker.join("x/status.json")];
    let err = write_to(&both, &sample()).unwrap_err().to_string();
    assert!(
        err.contains(&preferred.display().to_string()) && err.contains("; "),
        "{err}"
    );
}

#[test]
fn read_takes_the_freshest_and_reports_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    let missing = tmp.path().join("none.json");
    let stale = Status {
        updated: 10,
        ..sample()
    };
    write_to(std::slice::from_ref(&a), &stale).unwrap();
    write_to(std::slice::from_ref(&b), &sample()).unwrap();
    assert_eq!(read_from(&[a.clone(), b.clone()]).unwrap().0, b);
    assert_eq!(read_from(&[b.clone(), a.clone()]).unwrap().0, b);

    let err = read_from(&[missing.clone(), tmp.path().join("n2")]).unwrap_err();
    assert!(
        matches!(err, Error::Missing(ref p) if p.len() == 2),
        "{err}"
    );
    assert!(err.to_string().contains(" or "), "{err}");

    fs::write(&a, "{\"state\": \"up\", \"upd").unwrap();
    let err = read_from(&[a.clone(), missing.clone()]).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
    // A good file elsewhere wins over a broken one.
    assert_eq!(read_from(&[a.clone(), b.clone()]).unwrap().0, b);

    let err = read_from(&[tmp.path().to_path_buf()]).unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "a directory: {err}");

    fs::write(&a, vec![b' '; 2 * 1024 * 1024]).unwrap();
    let err = read_from(std::slice::from_ref(&a)).unwrap_err().to_string();
    assert!(err.contains("larger than"), "{err}");
}

#[test]
fn locations_in_order() {
    let fallback = PathBuf::from(FALLBACK_PATH);
    assert_eq!(
        locations(None),
        [PathBuf::from(DEFAULT_PATH), fallback.clone()]
    );
    assert_eq!(
        locations(Some(Path::new("/x/s.json"))),
        [PathBuf::from("/x/s.json"), fallback.clone()]
    );
    assert_eq!(locations(Some(&fallback)), [fallback]);
}

#[test]
fn render_for_people() {
    let now = 1_700_000_102;
    let mut s = sample();
    s.cert_not_after = Some(now as i64 + 3 * 86_400);
    s.last_error = Some("bad\u{1b}[2Jthing".into());
    let text = render(&s, Path::new("/run/enf-init/status.json"), now);
    for want in [
        "state:           up\n",
        "health:          healthy\n",
        "address:         fd00:8f80:1::1234\n",
        "interface:       enf0\n",
        "server:          192.0.2.1:443\n",
        "connected since: 2023-11-14 22:13:20 UTC (1m 42s ago)\n",
        "reconnects:      2\n",
        "last error:      bad\\u{1b}[2Jthing\n",
        "received:        10 packets, 1500 bytes (1.5 KiB)\n",
        "drops:           bad-src 3, too-long 1\n",
        "heartbeat RTT:   12.2 ms\n",
        "(in 3d 0h) [!] within 7 days",
        "status file:     /run/enf-init/status.json, written 2s ago by pid 1\n",
    ] {
        assert!(text.contains(want), "{want:?} missing from\n{text}");
    }
    let stale = render(&s, Path::new("/s"), now + 60);
    assert!(
        stale.contains("unhealthy: the status was written 1m 2s ago"),
        "{stale}"
    );
    let blank = render(&Status::default(), Path::new("/s"), 0);
    assert!(blank.contains("address:         -\n") && blank.contains("drops:           none"));
    assert!(
        blank.contains("unhealthy: the tunnel is starting (--on-tunnel-loss=reconnect)"),
        "{blank}"
    );
    s.cert_not_after = Some(now as i64 - 90);
    assert!(render(&s, Path::new("/s"), now)
        .contains("EXPIRED 2023-11-14 22:13:32 UTC (1m 30s ago) [!]"));
    s.cert_not_after = Some(now as i64 + 8 * 86_400);
    let far = render(&s, Path::new("/s"), now);
    assert!(far.contains("(in 8d 0h)\n"), "{far}");
    for extreme in [i64::MIN, i64::MAX] {
        s.cert_not_after = Some(extreme);
        s.connected_since = Some(u64::MAX);
        let _ = render(&s, Path::new("/s"), u64::MAX);
    }
}

#[test]
fn units() {
    let table = [
        (0, "0s"),
        (59, "59s"),
        (60, "1m 0s"),
        (3_661, "1h 1m"),
        (90_000, "1d 1h"),
    ];
    for (secs, want) in table {
        assert_eq!(duration(secs), want);
    }
    let table = [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1_572_864, "1.5 MiB"),
    ];
    for (bytes, want) in table {
        assert_eq!(human_bytes(bytes), want);
    }
    assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
}
