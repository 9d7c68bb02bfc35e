//! Unit tests of the status module: `document` covers the JSON reader, writer and document
//! mapping (with property tests); `files` covers health, the files on disk and the summary.

mod document;
mod files;

use super::{State, Status};

/// A document with every field set, including values at the edges of their types.
fn sample() -> Status {
    Status {
        state: State::Up,
        address: Some("fd00:8f80:1::1234".parse().unwrap()),
        iface: Some("enf0".into()),
        server: Some("192.0.2.1:443".into()),
        connected_since: Some(1_700_000_000),
        reconnects: 2,
        last_error: Some("handshake: \"bad\" cert\n".into()),
        rx_packets: 10,
        rx_bytes: 1_500,
        tx_packets: 12,
        tx_bytes: u64::MAX,
        drops: [("bad-src".to_string(), 3), ("too-long".to_string(), 1)].into(),
        heartbeat_rtt_ms: Some(12.25),
        heartbeat_answered: Some(1_700_000_090),
        last_rx: Some(1_700_000_095),
        cert_not_after: Some(-62_167_219_200),
        data_plane: true,
        ever_up: true,
        on_tunnel_loss: super::LossPolicy::Stop,
        updated: 1_700_000_100,
        pid: 1,
    }
}
