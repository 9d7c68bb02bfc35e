//! The probes' answers for each tunnel state and policy, and the metrics page's content.

use super::*;

const NOW: u64 = 1_800_000_000;

fn get(path: &str) -> Request {
    Request {
        head_only: false,
        path: path.into(),
    }
}

fn facts() -> Facts {
    Facts {
        tunnel: true,
        phase: "running",
        service_pid: Some(42),
        service_starts: 1,
        on_loss: LossPolicy::Unready,
        loss_grace: Duration::from_secs(30),
        ..Facts::default()
    }
}

fn up() -> Status {
    Status {
        state: State::Up,
        data_plane: true,
        ever_up: true,
        updated: NOW,
        rx_packets: 7,
        rx_bytes: 700,
        tx_packets: 9,
        tx_bytes: 900,
        drops: [("bad-src".to_string(), 2)].into(),
        heartbeat_rtt_ms: Some(0.25),
        last_rx: Some(NOW - 3),
        ..Status::default()
    }
}

#[test]
fn livez_answers_in_every_state() {
    for status in [None, Some(up())] {
        let r = answer(&get("/livez"), &facts(), status.as_ref(), NOW);
        assert_eq!((r.status, r.body.as_str()), (200, "alive: running\n"));
    }
}

#[test]
fn readyz_is_the_data_plane() {
    let r = answer(&get("/readyz"), &facts(), Some(&up()), NOW);
    assert_eq!(r.status, 200, "{}", r.body);
    let cases = [
        (
            Status {
                state: State::Down,
                last_error: Some("connection reset".into()),
                ..up()
            },
            "not ready: the tunnel is down (connection reset)\n",
        ),
        (
            Status {
                data_plane: false,
                ..up()
            },
            "not ready: no heartbeat answered within the last period\n",
        ),
        (
            Status {
                updated: NOW - 60,
                ..up()
            },
            "not ready: the tunnel thread has not reported lately\n",
        ),
    ];
    for (doc, want) in cases {
        for on_loss in LossPolicy::ALL {
            let doc = Status {
                on_tunnel_loss: on_loss,
                ..doc.clone()
            };
            let r = answer(&get("/readyz"), &facts(), Some(&doc), NOW);
            assert_eq!((r.status, r.body.as_str()), (503, want), "{on_loss:?}");
        }
    }
    let r = answer(&get("/readyz"), &facts(), None, NOW);
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, "not ready: the tunnel is starting\n")
    );
    let plain = Facts {
        tunnel: false,
        ..facts()
    };
    assert_eq!(answer(&get("/readyz"), &plain, None, NOW).status, 200);
}

#[test]
fn status_is_the_document() {
    let r = answer(&get("/status"), &facts(), Some(&up()), NOW);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(Status::from_json(r.body.as_bytes()), Ok(up()));
    let r = answer(&get("/status"), &Facts::default(), None, NOW);
    let doc = Status::from_json(r.body.as_bytes()).unwrap();
    assert_eq!(doc.state, State::NoTunnel);
    assert_eq!(answer(&get("/nope"), &facts(), None, NOW).status, 404);
}

#[test]
fn metrics_carry_the_counters() {
    let f = Facts {
        down_for: Some(Duration::from_millis(1500)),
        service_exit: Some(143),
        tunnel_thread_restarts: 1,
        ..facts()
    };
    let r = answer(&get("/metrics"), &f, Some(&up()), NOW);
    assert_eq!(r.content_type, crate::http::prom::CONTENT_TYPE);
    for line in [
        "enf_init_info{version=\"",
        "enf_init_phase{phase=\"running\"} 1\n",
        "enf_init_phase{phase=\"waiting\"} 0\n",
        "enf_service_running 1\n",
        "enf_service_starts_total 1\n",
        "enf_service_restarts_total 0\n",
        "enf_service_exit_code 143\n",
        "enf_tunnel_state{state=\"up\"} 1\n",
        "enf_tunnel_state{state=\"down\"} 0\n",
        "enf_tunnel_up 1\n",
        "enf_tunnel_ready 1\n",
        "enf_tunnel_healthy 1\n",
        "enf_tunnel_thread_restarts_total 1\n",
        "enf_tunnel_receive_packets_total 7\n",
        "enf_tunnel_receive_bytes_total 700\n",
        "enf_tunnel_transmit_packets_total 9\n",
        "enf_tunnel_transmit_bytes_total 900\n",
        "enf_tunnel_dropped_packets_total{reason=\"bad-src\"} 2\n",
        "enf_tunnel_heartbeat_rtt_seconds 0.00025\n",
        "enf_tunnel_last_receive_age_seconds 3\n",
        "enf_tunnel_down_seconds 1.5\n",
        "enf_tunnel_loss_grace_seconds 30\n",
        "# TYPE process_resident_memory_bytes gauge\n",
    ] {
        assert!(r.body.contains(line), "{line:?} missing from\n{}", r.body);
    }
    let plain = Facts {
        tunnel: false,
        ..facts()
    };
    let body = answer(&get("/metrics"), &plain, None, NOW).body;
    assert!(
        !body.contains("enf_tunnel_"),
        "no tunnel, no tunnel metrics:\n{body}"
    );
}
