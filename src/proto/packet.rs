//! Just enough of IPv6 and IPv4 headers to route and filter a packet (PROTOCOL.md §2, §5).
//!
//! A packet is checked once, on arrival: its version, and that its header's length agrees with
//! the frame's. Everything else (payload, extension headers) passes through untouched.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const IPV6_HEADER_BYTES: usize = 40;
const IPV4_MIN_HEADER_BYTES: usize = 20;

/// The addresses of a packet that looks like what its first nibble says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet {
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        next_header: u8,
    },
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
    },
}

/// Why a packet is dropped; also the name of its drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Drop {
    Empty,
    UnknownVersion,
    BadLength,
    Ipv4NotAllowed,
    NotOurAddress,
    SpoofedSource,
    UnknownDestination,
}

impl Drop {
    pub const ALL: [Drop; 7] = [
        Drop::Empty,
        Drop::UnknownVersion,
        Drop::BadLength,
        Drop::Ipv4NotAllowed,
        Drop::NotOurAddress,
        Drop::SpoofedSource,
        Drop::UnknownDestination,
    ];

    /// What is wrong with the packet, for a log line.
    pub fn describe(self) -> &'static str {
        match self {
            Drop::Empty => "an empty frame",
            Drop::UnknownVersion => "not an IP packet (the version is neither 4 nor 6)",
            Drop::BadLength => "its IP length disagrees with its frame's",
            Drop::Ipv4NotAllowed => "IPv4, which route.allow_ipv4 does not allow",
            Drop::NotOurAddress => "addressed to another endpoint",
            Drop::SpoofedSource => "its source is not this endpoint's address",
            Drop::UnknownDestination => "no session holds its destination",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Drop::Empty => "empty",
            Drop::UnknownVersion => "unknown_version",
            Drop::BadLength => "bad_length",
            Drop::Ipv4NotAllowed => "ipv4_not_allowed",
            Drop::NotOurAddress => "not_our_address",
            Drop::SpoofedSource => "spoofed_source",
            Drop::UnknownDestination => "unknown_destination",
        }
    }
}

fn v6(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

/// Reads the header; a packet whose header and frame lengths disagree is `BadLength`.
pub fn parse(p: &[u8]) -> Result<Packet, Drop> {
    match p.first().map(|b| b >> 4) {
        None => Err(Drop::Empty),
        Some(6) => {
            if p.len() < IPV6_HEADER_BYTES {
                return Err(Drop::BadLength);
            }
            let payload = u16::from_be_bytes([p[4], p[5]]) as usize;
            if IPV6_HEADER_BYTES + payload != p.len() {
                return Err(Drop::BadLength);
            }
            Ok(Packet::V6 {
                src: v6(&p[8..24]),
                dst: v6(&p[24..40]),
                next_header: p[6],
            })
        }
        Some(4) => {
            let ihl = (p[0] & 0x0f) as usize * 4;
            if p.len() < IPV4_MIN_HEADER_BYTES || ihl < IPV4_MIN_HEADER_BYTES || ihl > p.len() {
                return Err(Drop::BadLength);
            }
            if u16::from_be_bytes([p[2], p[3]]) as usize != p.len() {
                return Err(Drop::BadLength);
            }
            let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
            Ok(Packet::V4 { src, dst })
        }
        Some(_) => Err(Drop::UnknownVersion),
    }
}

/// Server to tun: only IPv6 for our address, IPv4 only when allowed.
pub fn ingress(p: &[u8], ours: Ipv6Addr, allow_ipv4: bool) -> Result<Packet, Drop> {
    match parse(p)? {
        Packet::V6 { dst, .. } if dst != ours => Err(Drop::NotOurAddress),
        Packet::V4 { .. } if !allow_ipv4 => Err(Drop::Ipv4NotAllowed),
        ok => Ok(ok),
    }
}

/// Tun to server: only IPv6 from our address (so MLD, neighbour discovery and link-local traffic
/// never leave), IPv4 only when allowed.
pub fn egress(p: &[u8], ours: Ipv6Addr, allow_ipv4: bool) -> Result<Packet, Drop> {
    match parse(p)? {
        Packet::V6 { src, .. } if src != ours => Err(Drop::SpoofedSource),
        Packet::V4 { .. } if !allow_ipv4 => Err(Drop::Ipv4NotAllowed),
        ok => Ok(ok),
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// An IPv6 packet with `payload` bytes of zeros.
    pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, payload: usize) -> Vec<u8> {
        let mut p = vec![0u8; IPV6_HEADER_BYTES + payload];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(payload as u16).to_be_bytes());
        p[6] = 17;
        p[7] = 64;
        p[8..24].copy_from_slice(&src.octets());
        p[24..40].copy_from_slice(&dst.octets());
        p
    }

    fn ipv4(len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        p
    }

    const A: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x8f80, 1, 0, 0, 0, 0, 0x1234);
    const B: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x8f80, 1, 0, 0, 0, 0, 0x5678);

    #[test]
    fn parse_checks_version_and_length() {
        assert_eq!(parse(&[]), Err(Drop::Empty));
        assert_eq!(parse(&[0x50; 40]), Err(Drop::UnknownVersion));
        assert_eq!(
            parse(&ipv6(A, B, 8)),
            Ok(Packet::V6 {
                src: A,
                dst: B,
                next_header: 17
            })
        );
        let mut wrong = ipv6(A, B, 8);
        wrong.push(0);
        assert_eq!(parse(&wrong), Err(Drop::BadLength));
        assert_eq!(parse(&ipv6(A, B, 0)[..39]), Err(Drop::BadLength));
        assert!(matches!(parse(&ipv4(28)), Ok(Packet::V4 { .. })));
        assert_eq!(parse(&ipv4(28)[..27]), Err(Drop::BadLength));
        assert_eq!(parse(&[0x41; 28]), Err(Drop::BadLength));
    }

    #[test]
    fn filters_follow_the_reference() {
        assert!(ingress(&ipv6(B, A, 0), A, false).is_ok());
        assert_eq!(ingress(&ipv6(A, B, 0), A, false), Err(Drop::NotOurAddress));
        assert_eq!(ingress(&ipv4(20), A, false), Err(Drop::Ipv4NotAllowed));
        assert!(ingress(&ipv4(20), A, true).is_ok());
        assert!(egress(&ipv6(A, B, 0), A, false).is_ok());
        let link_local: Ipv6Addr = "fe80::1".parse().expect("addr");
        assert_eq!(
            egress(&ipv6(link_local, B, 0), A, false),
            Err(Drop::SpoofedSource)
        );
        assert_eq!(egress(&ipv4(20), A, false), Err(Drop::Ipv4NotAllowed));
    }
}
