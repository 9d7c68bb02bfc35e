//! The router's decision for one received packet (pure): answer, forward, or drop and why.

use crate::proto::{heartbeat, packet};
use std::collections::HashMap;
use std::net::Ipv6Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send this back to the sender (a heartbeat reply).
    Reply(Vec<u8>),
    /// Queue the packet to the session with this key.
    Forward(usize),
    Drop(&'static str),
}

/// `from` is the sender's proven address; `routes` maps addresses to live sessions.
pub fn route(p: &[u8], from: Ipv6Addr, routes: &HashMap<Ipv6Addr, usize>) -> Verdict {
    match packet::parse(p) {
        Err(d) => Verdict::Drop(d.name()),
        Ok(packet::Packet::V4 { .. }) => Verdict::Drop(packet::Drop::Ipv4NotAllowed.name()),
        Ok(packet::Packet::V6 { src, .. }) if src != from => {
            Verdict::Drop(packet::Drop::SpoofedSource.name())
        }
        Ok(packet::Packet::V6 { dst, .. }) => {
            if dst == heartbeat::ROUTER {
                return match heartbeat::answer(p) {
                    Some(reply) => Verdict::Reply(reply),
                    None => Verdict::Drop("to_router_not_echo"),
                };
            }
            match routes.get(&dst) {
                Some(&key) => Verdict::Forward(key),
                None => Verdict::Drop(packet::Drop::UnknownDestination.name()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::packet::tests::ipv6;

    const A: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xa);
    const B: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xb);
    const C: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0xc);

    #[test]
    fn every_verdict() {
        let routes = HashMap::from([(A, 1), (B, 2)]);
        assert_eq!(route(&ipv6(A, B, 10), A, &routes), Verdict::Forward(2));
        assert_eq!(
            route(&ipv6(C, B, 10), A, &routes),
            Verdict::Drop("spoofed_source")
        );
        assert_eq!(
            route(&ipv6(A, C, 10), A, &routes),
            Verdict::Drop("unknown_destination")
        );
        assert_eq!(route(&[], A, &routes), Verdict::Drop("empty"));
        assert_eq!(
            route(
                &[0x45, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                A,
                &routes
            ),
            Verdict::Drop("ipv4_not_allowed")
        );
        let hb = heartbeat::request(A);
        assert_eq!(
            route(&hb, A, &routes),
            Verdict::Reply(heartbeat::answer(&hb).expect("reply"))
        );
        assert_eq!(route(&hb, B, &routes), Verdict::Drop("spoofed_source"));
        assert_eq!(
            route(&ipv6(A, heartbeat::ROUTER, 8), A, &routes),
            Verdict::Drop("to_router_not_echo")
        );
    }
}
