//! The router's handling of one session's decrypted byte stream.
//!
//! `router::session::Session::read` and `router::serve` do this behind TLS and a socket, so it
//! is composed here from the same pub pieces they call, in the same order (`tls::framed` takes
//! plaintext into `proto::frame::Decoder`; the session counts the packet or drops it as
//! `before_identity`; `serve` routes it with `router::route::route` and queues a forward or a
//! heartbeat reply, or counts the drop by its reason in `session::Stats`).
//!
//! Input: a flag byte (bit 0: the handshake has proven the sender's address; bit 1: the sender
//! is B instead of A), then `k` read lengths and the stream as in `frame_decoder`. Checks: no
//! panic; every packet gets exactly one outcome and the drop counters add up; a drop reason is
//! one of the known names; what is forwarded is exactly a well-formed IPv6 packet from the
//! session's own address to the routed session that owns its destination; a reply goes back to
//! the sender only for an echo request to fe80::1 and is its echo reply; and the outcome does
//! not depend on how the stream was cut into reads.

#![no_main]

use enf_init::proto::frame::Decoder;
use enf_init::proto::heartbeat;
use enf_init::proto::packet::{self, Packet};
use enf_init::router::route::{route, Verdict};
use enf_init::router::session::Stats;
use enf_init_fuzz::{icmpv6_sum, pieces, reads_and_stream};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::net::Ipv6Addr;

const A: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x8f80, 0x8f80, 0, 0, 0, 0, 0xa);
const B: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x8f80, 0x8f80, 0, 0, 0, 0, 0xb);
const C: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x8f80, 0x8f80, 0, 0, 0, 0, 0xc);

/// Every name a drop counter may have: the packet filter's and the router's own.
fn known_reason(r: &str) -> bool {
    packet::Drop::ALL.iter().any(|d| d.name() == r)
        || matches!(r, "to_router_not_echo" | "before_identity")
}

/// What the router did with one session's stream.
#[derive(Debug, Default, PartialEq)]
struct Outcome {
    /// (session key, packet) in the order they were queued.
    deliveries: Vec<(usize, Vec<u8>)>,
    rx_packets: u64,
    rx_bytes: u64,
    drops: Vec<(&'static str, u64)>,
    /// The stream broke (an oversize frame): the session is closed.
    closed: bool,
}

fn session(pieces: &[&[u8]], from: Option<Ipv6Addr>, me: usize) -> Outcome {
    let routes = HashMap::from([(A, 0), (B, 1), (C, 2)]);
    let mut decoder = Decoder::default();
    let mut stats = Stats::default();
    let mut deliveries = Vec::new();
    let mut closed = false;
    'read: for piece in pieces {
        let mut fed = 0;
        loop {
            fed += decoder.feed(&piece[fed..]);
            loop {
                let p = match decoder.next_packet() {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(_) => {
                        closed = true;
                        break 'read;
                    }
                };
                // session.rs: count, or drop before the identity is known.
                let Some(from) = from else {
                    stats.drop("before_identity");
                    continue;
                };
                stats.rx_packets += 1;
                stats.rx_bytes += p.len() as u64;
                // serve.rs `readable`.
                match route(p, from, &routes) {
                    Verdict::Forward(to) => deliveries.push((to, p.to_vec())),
                    Verdict::Reply(reply) => deliveries.push((me, reply)),
                    Verdict::Drop(reason) => stats.drop(reason),
                }
            }
            if fed == piece.len() {
                break;
            }
        }
    }
    Outcome {
        deliveries,
        rx_packets: stats.rx_packets,
        rx_bytes: stats.rx_bytes,
        drops: stats.drops.into_iter().collect(),
        closed,
    }
}

fn check(out: &Outcome, from: Option<Ipv6Addr>, me: usize) {
    for (reason, n) in &out.drops {
        assert!(known_reason(reason), "unknown drop reason {reason}");
        assert!(*n > 0);
    }
    let dropped: u64 = out.drops.iter().map(|(_, n)| n).sum();
    let Some(from) = from else {
        assert!(out.deliveries.is_empty() && out.rx_packets == 0 && out.rx_bytes == 0);
        assert!(out.drops.iter().all(|(r, _)| *r == "before_identity"));
        return;
    };
    assert_eq!(
        out.rx_packets,
        dropped + out.deliveries.len() as u64,
        "one outcome per packet"
    );
    let names = [A, B, C];
    for (to, p) in &out.deliveries {
        let parsed = packet::parse(p);
        let Ok(Packet::V6 { src, dst, .. }) = parsed else {
            panic!("delivered a packet that is not well-formed IPv6: {parsed:?}");
        };
        assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])) + 40, p.len());
        if src == heartbeat::ROUTER {
            // A heartbeat reply: to the sender, as the echo reply to its request.
            assert_eq!(*to, me);
            assert_eq!(dst, from);
            assert_eq!((p[6], p[40], p[41]), (58, 129, 0));
            assert_eq!(icmpv6_sum(src.octets(), dst.octets(), &p[40..]), 0);
        } else {
            // A forward: exactly from the session's own address, to the session that owns the
            // destination (never to fe80::1, which the router answers itself).
            assert_eq!(src, from, "forwarded a packet with another source");
            assert_ne!(dst, heartbeat::ROUTER);
            assert_eq!(names.get(*to), Some(&dst), "forwarded to the wrong session");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (from, me) = match (flags & 1 == 1, flags & 2 == 2) {
        (false, _) => (None, usize::MAX),
        (true, false) => (Some(A), 0),
        (true, true) => (Some(B), 1),
    };
    let (reads, stream) = reads_and_stream(rest);
    let whole = session(&[stream], from, me);
    check(&whole, from, me);
    let chunked = session(&pieces(stream, &reads), from, me);
    assert_eq!(chunked, whole, "the outcome depends on the reads {reads:?}");
});
