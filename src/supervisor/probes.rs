//! enf-init's HTTP answers: `/livez`, `/readyz`, `/status` and `/metrics` (pure).
//!
//! The driver collects what it knows (`Facts`) and the tunnel's latest status document, and
//! this module turns them into responses. `/livez` is answered by the PID 1 loop itself, so an
//! answer proves the loop runs. `/readyz` is the data plane: the tunnel up and a heartbeat
//! answered within the last period and timeout, whatever `--on-tunnel-loss` says (that policy
//! shapes `enf-init status`, the HEALTHCHECK, and what happens to the service).

use crate::http::prom::{Exposition, Kind};
use crate::http::request::Request;
use crate::http::Response;
use crate::status::{LossPolicy, State, Status};
use std::time::Duration;

/// What the supervisor knows about itself.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// A tunnel is configured (false with `--no-tunnel`).
    pub tunnel: bool,
    /// The supervisor's phase (`Machine::phase_name`).
    pub phase: &'static str,
    pub service_pid: Option<i32>,
    pub service_starts: u64,
    /// The exit code of the service's last run, once it ended.
    pub service_exit: Option<u8>,
    pub hooks_run: u64,
    pub tunnel_thread_restarts: u64,
    /// How long the current outage has lasted (after start-up), if the tunnel is down.
    pub down_for: Option<Duration>,
    pub on_loss: LossPolicy,
    pub loss_grace: Duration,
}

/// The answer to `req`; `status` is the tunnel's latest document, `now` Unix seconds.
pub fn answer(req: &Request, facts: &Facts, status: Option<&Status>, now: u64) -> Response {
    let doc = document(facts, status);
    match req.path.as_str() {
        "/livez" => Response::text(200, format!("alive: {}\n", facts.phase)),
        "/readyz" => readyz(facts, &doc, now),
        "/status" => Response::json(200, doc.to_json()),
        "/metrics" => Response {
            status: 200,
            content_type: crate::http::prom::CONTENT_TYPE,
            body: metrics(facts, &doc, now),
        },
        "/" => Response::text(200, "enf-init: /livez /readyz /status /metrics\n"),
        p => Response::not_found(p),
    }
}

/// The document to report: the tunnel's, or one that says there is no tunnel (yet).
fn document(facts: &Facts, status: Option<&Status>) -> Status {
    match status {
        Some(s) => s.clone(),
        None => Status {
            state: if facts.tunnel {
                State::Starting
            } else {
                State::NoTunnel
            },
            on_tunnel_loss: facts.on_loss,
            updated: crate::status::now_unix(),
            pid: std::process::id(),
            ..Status::default()
        },
    }
}

fn readyz(facts: &Facts, doc: &Status, now: u64) -> Response {
    if !facts.tunnel {
        return Response::text(200, "ready: no tunnel (--no-tunnel)\n");
    }
    if doc.ready(now) {
        return Response::text(200, "ready: the tunnel is up and answering heartbeats\n");
    }
    let why = match doc.state {
        State::Up if !doc.is_fresh(now) => "the tunnel thread has not reported lately".to_string(),
        State::Up => "no heartbeat answered within the last period".to_string(),
        s => format!("the tunnel is {}", s.as_str()),
    };
    let error = doc
        .last_error
        .as_deref()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    Response::text(503, format!("not ready: {why}{error}\n"))
}

fn metrics(facts: &Facts, doc: &Status, now: u64) -> String {
    let mut e = Exposition::new();
    let version = env!("CARGO_PKG_VERSION");
    e.family(
        "enf_init_info",
        Kind::Gauge,
        "enf-init's version and tunnel-loss policy.",
    )
    .sample(
        "enf_init_info",
        &[
            ("version", version),
            ("on_tunnel_loss", facts.on_loss.as_str()),
        ],
        1u64,
    );
    e.family(
        "enf_init_phase",
        Kind::Gauge,
        "The supervisor's phase (1 for the current one).",
    );
    for phase in ["waiting", "starting", "running", "stopping"] {
        e.sample("enf_init_phase", &[("phase", phase)], facts.phase == phase);
    }
    service_metrics(&mut e, facts);
    if facts.tunnel {
        tunnel_metrics(&mut e, facts, doc, now);
    }
    crate::http::process::write(&mut e);
    e.finish()
}

fn service_metrics(e: &mut Exposition, facts: &Facts) {
    e.single(
        "enf_service_running",
        Kind::Gauge,
        "1 while the service (the image's CMD) runs.",
        facts.service_pid.is_some(),
    );
    e.single(
        "enf_service_starts_total",
        Kind::Counter,
        "Times the service was started (enf-init never restarts it: it exits with it).",
        facts.service_starts,
    );
    e.single(
        "enf_service_restarts_total",
        Kind::Counter,
        "Times the service was started again after it ended (always 0: the container's restart policy restarts enf-init).",
        facts.service_starts.saturating_sub(1),
    );
    if let Some(code) = facts.service_exit {
        e.single(
            "enf_service_exit_code",
            Kind::Gauge,
            "The exit code of the service's last run (128+N for signal N).",
            u64::from(code),
        );
    }
    e.single(
        "enf_hooks_run_total",
        Kind::Counter,
        "Hooks from the hooks directory started so far.",
        facts.hooks_run,
    );
}

fn tunnel_metrics(e: &mut Exposition, facts: &Facts, doc: &Status, now: u64) {
    e.family(
        "enf_tunnel_state",
        Kind::Gauge,
        "The tunnel's state (1 for the current one).",
    );
    for st in State::ALL.into_iter().filter(|s| *s != State::NoTunnel) {
        e.sample(
            "enf_tunnel_state",
            &[("state", st.as_str())],
            doc.state == st,
        );
    }
    e.single(
        "enf_tunnel_up",
        Kind::Gauge,
        "1 while the session is up.",
        doc.state == State::Up,
    );
    e.single(
        "enf_tunnel_ready",
        Kind::Gauge,
        "1 while the data plane works: up and a heartbeat answered within the last period (what /readyz says).",
        doc.ready(now),
    );
    e.single(
        "enf_tunnel_healthy",
        Kind::Gauge,
        "What the HEALTHCHECK (enf-init status) says under the tunnel-loss policy.",
        doc.healthy(now),
    );
    e.single(
        "enf_tunnel_reconnects_total",
        Kind::Counter,
        "Sessions started after the first.",
        doc.reconnects,
    );
    e.single(
        "enf_tunnel_thread_restarts_total",
        Kind::Counter,
        "Times the tunnel thread died and was started again.",
        facts.tunnel_thread_restarts,
    );
    let pairs = [
        (
            "enf_tunnel_receive_packets_total",
            "Packets received from the ENF and written to the tun device.",
            doc.rx_packets,
        ),
        (
            "enf_tunnel_receive_bytes_total",
            "Bytes of those packets.",
            doc.rx_bytes,
        ),
        (
            "enf_tunnel_transmit_packets_total",
            "Packets read from the tun device and sent to the ENF.",
            doc.tx_packets,
        ),
        (
            "enf_tunnel_transmit_bytes_total",
            "Bytes of those packets.",
            doc.tx_bytes,
        ),
    ];
    for (name, help, v) in pairs {
        e.single(name, Kind::Counter, help, v);
    }
    e.family(
        "enf_tunnel_dropped_packets_total",
        Kind::Counter,
        "Packets dropped by the tunnel, by reason.",
    );
    for (reason, n) in &doc.drops {
        e.sample(
            "enf_tunnel_dropped_packets_total",
            &[("reason", reason)],
            *n,
        );
    }
    if let Some(ms) = doc.heartbeat_rtt_ms {
        e.single(
            "enf_tunnel_heartbeat_rtt_seconds",
            Kind::Gauge,
            "Round trip of the latest answered heartbeat.",
            ms / 1e3,
        );
    }
    if let Some(t) = doc.last_rx {
        e.single(
            "enf_tunnel_last_receive_age_seconds",
            Kind::Gauge,
            "Seconds since the latest frame from the ENF (whole seconds).",
            now.saturating_sub(t),
        );
    }
    if let Some(t) = doc.connected_since {
        e.single(
            "enf_tunnel_connected_since_seconds",
            Kind::Gauge,
            "When the current session started, Unix seconds.",
            t,
        );
    }
    e.single(
        "enf_tunnel_down_seconds",
        Kind::Gauge,
        "How long the tunnel has been down since it was last up after start-up (0 while up).",
        facts.down_for.unwrap_or_default().as_secs_f64(),
    );
    e.single(
        "enf_tunnel_loss_grace_seconds",
        Kind::Gauge,
        "Down time allowed before the service is stopped (--on-tunnel-loss=stop only).",
        facts.loss_grace.as_secs_f64(),
    );
    if let Some(t) = doc.cert_not_after {
        e.single(
            "enf_tunnel_certificate_expiry_timestamp_seconds",
            Kind::Gauge,
            "The client certificate's notAfter, Unix seconds.",
            t,
        );
    }
}

#[cfg(test)]
#[path = "probes_tests.rs"]
mod tests;
