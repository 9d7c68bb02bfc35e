//! The JSON reader and escaper, and the status document: exact text, errors, round trips.

use super::sample;
use crate::status::json::{self, Value};
use crate::status::{LossPolicy, State, Status};
use proptest::prelude::*;
use std::net::Ipv6Addr;

#[test]
fn document_text_is_stable() {
    let want = r#"{
  "state": "up",
  "address": "fd00:8f80:1::1234",
  "iface": "enf0",
  "server": "192.0.2.1:443",
  "connected_since": 1700000000,
  "reconnects": 2,
  "last_error": "handshake: \"bad\" cert\n",
  "rx_packets": 10,
  "rx_bytes": 1500,
  "tx_packets": 12,
  "tx_bytes": 18446744073709551615,
  "drops": {"bad-src": 3, "too-long": 1},
  "heartbeat_rtt_ms": 12.25,
  "heartbeat_answered": 1700000090,
  "last_rx": 1700000095,
  "cert_not_after": -62167219200,
  "data_plane": true,
  "ever_up": true,
  "on_tunnel_loss": "stop",
  "updated": 1700000100,
  "pid": 1
}
"#;
    assert_eq!(sample().to_json(), want);
    assert_eq!(Status::from_json(want.as_bytes()), Ok(sample()));
    let empty = Status::default().to_json();
    assert!(empty.contains("\"address\": null") && empty.contains("\"drops\": {}"));
    assert_eq!(Status::from_json(empty.as_bytes()), Ok(Status::default()));
}

#[test]
fn escaping() {
    let table = [
        ("plain", r#""plain""#),
        ("q\"b\\s/", r#""q\"b\\s/""#),
        ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
        ("\u{0}\u{1f}\u{7f}", r#""\u0000\u001f\u007f""#),
        ("é😀\u{2028}", "\"é😀\u{2028}\""),
    ];
    for (raw, want) in table {
        let mut out = String::new();
        json::push_string(&mut out, raw);
        assert_eq!(out, want);
        assert_eq!(json::parse(out.as_bytes()), Ok(Value::String(raw.into())));
    }
}

#[test]
fn reader_accepts_json() {
    let table: &[(&str, Value)] = &[
        (" null ", Value::Null),
        (
            "[true,false]",
            Value::Array(vec![Value::Bool(true), Value::Bool(false)]),
        ),
        ("-0.5e+3", Value::Number("-0.5e+3".into())),
        (r#""\u00e9\ud83d\ude00\/""#, Value::String("é😀/".into())),
        (
            r#"{"a":{},"a":[]}"#,
            Value::Object(vec![
                ("a".into(), Value::Object(vec![])),
                ("a".into(), Value::Array(vec![])),
            ]),
        ),
    ];
    for (text, want) in table {
        assert_eq!(json::parse(text.as_bytes()).as_ref(), Ok(want), "{text}");
    }
}

#[test]
fn reader_refuses_malformed_input() {
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let table: &[&[u8]] = &[
        b"",
        b" ",
        b"{",
        b"{\"a\"",
        b"{\"a\":",
        b"{\"a\":1",
        b"{\"a\":1,}",
        b"[1,]",
        b"01",
        b"1.",
        b"-",
        b"1e",
        b".5",
        b"+1",
        b"tru",
        b"nul",
        b"\"abc",
        b"\"\\x\"",
        b"\"\\u12\"",
        b"\"\\ud800\"",
        b"\"\\ud800\\u0041\"",
        b"\"\\udc00\"",
        b"\"a\nb\"",
        b"\"\xff\"",
        b"{} {}",
        b"{a:1}",
        b"NaN",
        b"\xef\xbb\xbf{}",
        deep.as_bytes(),
    ];
    for text in table {
        assert!(
            json::parse(text).is_err(),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn document_errors_name_the_problem() {
    let full = sample().to_json();
    let table: &[(&str, &str)] = &[
        ("[]", "not a JSON object"),
        (r#"{"updated": 1}"#, "no \"state\""),
        (r#"{"state": "up"}"#, "no \"updated\""),
        (
            r#"{"state": "sideways", "updated": 1}"#,
            "unknown state \"sideways\"",
        ),
        (r#"{"state": 1, "updated": 1}"#, "\"state\" is not a string"),
        (
            r#"{"state": "up", "updated": -1}"#,
            "\"updated\" is not a non-negative integer",
        ),
        (
            r#"{"state": "up", "updated": 1.5}"#,
            "\"updated\" is not a non-negative integer",
        ),
        (
            r#"{"state": "up", "updated": 18446744073709551616}"#,
            "\"updated\" is too large",
        ),
        (
            r#"{"state": "up", "updated": 1, "pid": 4294967296}"#,
            "\"pid\" is out of range",
        ),
        (
            r#"{"state": "up", "updated": 1, "address": "10.0.0.1"}"#,
            "not an IPv6 address",
        ),
        (
            r#"{"state": "up", "updated": 1, "drops": {"x": "1"}}"#,
            "\"drops.x\" is not",
        ),
        (
            r#"{"state": "up", "updated": 1, "drops": []}"#,
            "\"drops\" is not an object",
        ),
        (
            r#"{"state": "up", "updated": 1, "heartbeat_rtt_ms": 1e999}"#,
            "out of range",
        ),
        (
            r#"{"state": "up", "updated": 1, "cert_not_after": 1e3}"#,
            "not an integer",
        ),
    ];
    for (text, want) in table {
        let err = Status::from_json(text.as_bytes()).expect_err(text);
        assert!(err.contains(want), "{text}: {err}");
    }
    // Every truncation of a real document is an error, never a panic and never a success.
    for end in 0..full.trim_end().len() {
        assert!(
            Status::from_json(&full.as_bytes()[..end]).is_err(),
            "prefix {end}"
        );
    }
}

#[test]
fn unknown_keys_are_ignored() {
    let text = r#"{"future": {"nested": [1, {"x": null}]}, "state": "down", "updated": 7,
                   "also": "new"}"#;
    let s = Status::from_json(text.as_bytes()).unwrap();
    assert_eq!((s.state, s.updated), (State::Down, 7));
}

fn any_text() -> impl Strategy<Value = String> {
    // Printable, quotes, backslashes, every control character, and beyond the BMP.
    prop::collection::vec(
        prop_oneof![
            Just('"'),
            Just('\\'),
            Just('/'),
            (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
            Just('\u{7f}'),
            any::<char>(),
        ],
        0..40,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

proptest! {
    #[test]
    fn round_trip(
        state in prop::sample::select(State::ALL.to_vec()),
        address in any::<Option<u128>>(),
        iface in prop::option::of(any_text()),
        server in prop::option::of(any_text()),
        last_error in prop::option::of(any_text()),
        drops in prop::collection::btree_map(any_text(), any::<u64>(), 0..5),
        counters in any::<[u64; 6]>(),
        rtt in prop::option::of(any::<f64>().prop_filter("finite", |f| f.is_finite())),
        cert in any::<Option<i64>>(),
        times in any::<[Option<u64>; 3]>(),
        pid in any::<u32>(),
        flags in any::<[bool; 2]>(),
        policy in prop::sample::select(LossPolicy::ALL.to_vec()),
    ) {
        let s = Status {
            state,
            address: address.map(Ipv6Addr::from),
            iface, server, last_error, drops,
            connected_since: times[0], heartbeat_answered: times[1], last_rx: times[2],
            reconnects: counters[0],
            rx_packets: counters[1], rx_bytes: counters[2],
            tx_packets: counters[3], tx_bytes: counters[4],
            heartbeat_rtt_ms: rtt,
            cert_not_after: cert,
            updated: counters[5],
            pid,
            data_plane: flags[0],
            ever_up: flags[1],
            on_tunnel_loss: policy,
        };
        prop_assert_eq!(Status::from_json(s.to_json().as_bytes()), Ok(s));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Status::from_json(&bytes);
    }

    #[test]
    fn mangled_documents_never_panic(cut in 0usize..600, byte in any::<u8>(), at in 0usize..600) {
        let mut doc = sample().to_json().into_bytes();
        let at = at % doc.len();
        doc[at] = byte;
        doc.truncate(cut.min(doc.len()));
        let _ = Status::from_json(&doc);
    }
}
