//! enf-router's HTTP answers: `/metrics` in Prometheus text format, `/livez`, `/readyz` (pure).
//!
//! Counters are totals over the router's life: the live sessions' counters plus those of every
//! session that has ended, so a reconnecting endpoint never makes a counter go backwards.

use super::session::Stats;
use crate::http::prom::{Exposition, Kind};
use crate::http::request::Request;
use crate::http::Response;

/// What the loop knows, gathered at the moment of the scrape.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    /// Sessions past their handshake (one per routed address).
    pub sessions: u64,
    pub handshaking: u64,
    pub registered: u64,
    pub accepted: u64,
    pub closed: u64,
    pub turned_away: u64,
    /// Every session's counters, ended ones included.
    pub traffic: Stats,
}

pub fn answer(req: &Request, t: &Totals) -> Response {
    match req.path.as_str() {
        "/livez" | "/readyz" => Response::text(200, "ok\n"),
        "/metrics" => Response {
            status: 200,
            content_type: crate::http::prom::CONTENT_TYPE,
            body: render(t),
        },
        "/" => Response::text(200, "enf-router: /livez /readyz /metrics\n"),
        p => Response::not_found(p),
    }
}

fn render(t: &Totals) -> String {
    let mut e = Exposition::new();
    e.family("enf_router_info", Kind::Gauge, "enf-router's version.")
        .sample(
            "enf_router_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1u64,
        );
    let gauges = [
        (
            "enf_router_sessions",
            "Endpoints connected and past their handshake.",
            t.sessions,
        ),
        (
            "enf_router_handshaking",
            "Connections in their TLS handshake.",
            t.handshaking,
        ),
        (
            "enf_router_registered_endpoints",
            "Endpoints in the registry.",
            t.registered,
        ),
    ];
    for (name, help, v) in gauges {
        e.single(name, Kind::Gauge, help, v);
    }
    let counters = [
        (
            "enf_router_connections_accepted_total",
            "TCP connections accepted.",
            t.accepted,
        ),
        (
            "enf_router_sessions_closed_total",
            "Connections closed, before or after the handshake.",
            t.closed,
        ),
        (
            "enf_router_connections_turned_away_total",
            "Connections closed at once because too many handshakes were in progress.",
            t.turned_away,
        ),
        (
            "enf_router_receive_packets_total",
            "Packets received from endpoints.",
            t.traffic.rx_packets,
        ),
        (
            "enf_router_receive_bytes_total",
            "Bytes of those packets.",
            t.traffic.rx_bytes,
        ),
        (
            "enf_router_transmit_packets_total",
            "Packets queued to endpoints.",
            t.traffic.tx_packets,
        ),
        (
            "enf_router_transmit_bytes_total",
            "Bytes of those packets.",
            t.traffic.tx_bytes,
        ),
    ];
    for (name, help, v) in counters {
        e.single(name, Kind::Counter, help, v);
    }
    e.family(
        "enf_router_dropped_packets_total",
        Kind::Counter,
        "Packets dropped, by reason.",
    );
    for (reason, n) in &t.traffic.drops {
        e.sample(
            "enf_router_dropped_packets_total",
            &[("reason", reason)],
            *n,
        );
    }
    crate::http::process::write(&mut e);
    e.finish()
}

/// Adds `s` into `total`.
pub fn accumulate(total: &mut Stats, s: &Stats) {
    total.rx_packets += s.rx_packets;
    total.rx_bytes += s.rx_bytes;
    total.tx_packets += s.tx_packets;
    total.tx_bytes += s.tx_bytes;
    for (reason, n) in &s.drops {
        *total.drops.entry(reason).or_default() += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_totals_with_drops_by_reason() {
        let mut traffic = Stats::default();
        let mut live = Stats {
            rx_packets: 3,
            rx_bytes: 300,
            tx_packets: 4,
            tx_bytes: 400,
            ..Stats::default()
        };
        live.drop("spoofed-source");
        accumulate(&mut traffic, &live);
        accumulate(&mut traffic, &live);
        let t = Totals {
            sessions: 2,
            handshaking: 1,
            registered: 5,
            accepted: 9,
            closed: 6,
            turned_away: 0,
            traffic,
        };
        let req = Request {
            head_only: false,
            path: "/metrics".into(),
        };
        let body = answer(&req, &t).body;
        for line in [
            "enf_router_sessions 2\n",
            "enf_router_handshaking 1\n",
            "enf_router_registered_endpoints 5\n",
            "enf_router_connections_accepted_total 9\n",
            "enf_router_sessions_closed_total 6\n",
            "enf_router_receive_packets_total 6\n",
            "enf_router_receive_bytes_total 600\n",
            "enf_router_transmit_packets_total 8\n",
            "enf_router_transmit_bytes_total 800\n",
            "enf_router_dropped_packets_total{reason=\"spoofed-source\"} 2\n",
        ] {
            assert!(body.contains(line), "{line:?} missing from\n{body}");
        }
        let live = Request {
            head_only: false,
            path: "/livez".into(),
        };
        assert_eq!(answer(&live, &t).status, 200);
    }
}
