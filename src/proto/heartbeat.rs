//! Heartbeats: an ICMPv6 echo to the ENF router at fe80::1 and its reply (PROTOCOL.md §4).
//!
//! The request is byte-for-byte what the reference client sends (48 bytes, hop limit 255,
//! identifier/sequence "ENFT"); the router answers any echo request to fe80::1 with the reply
//! the client expects. Building and recognising them is pure; timing lives with the session.

use super::packet::IPV6_HEADER_BYTES;
use std::net::Ipv6Addr;

/// The ENF router's address on every tunnel.
pub const ROUTER: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
/// Identifier and sequence bytes of the reference client's heartbeat: "ENFT".
pub const ID_SEQ: [u8; 4] = *b"ENFT";
const ICMPV6: u8 = 58;
const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
const ICMP_HEADER_BYTES: usize = 8;

/// The heartbeat request from `ours`.
pub fn request(ours: Ipv6Addr) -> Vec<u8> {
    echo(ours, ROUTER, ECHO_REQUEST, &ID_SEQ, &[])
}

/// Whether `p` is the reply to our heartbeat (to `ours`, from anyone, with our id/seq).
pub fn is_reply(p: &[u8], ours: Ipv6Addr) -> bool {
    icmp(p).is_some_and(|(_, dst, t, rest)| {
        t == ECHO_REPLY && dst == ours && rest.starts_with(&ID_SEQ)
    })
}

/// For the router: the reply to an echo request addressed to fe80::1, if `p` is one.
pub fn answer(p: &[u8]) -> Option<Vec<u8>> {
    let (src, dst, t, rest) = icmp(p)?;
    (t == ECHO_REQUEST && dst == ROUTER)
        .then(|| echo(ROUTER, src, ECHO_REPLY, &rest[..4], &rest[4..]))
}

/// `(src, dst, icmp type, bytes after type/code/checksum)` of a well-formed ICMPv6 packet.
fn icmp(p: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, u8, &[u8])> {
    if p.len() < IPV6_HEADER_BYTES + ICMP_HEADER_BYTES || p[0] >> 4 != 6 || p[6] != ICMPV6 {
        return None;
    }
    if u16::from_be_bytes([p[4], p[5]]) as usize != p.len() - IPV6_HEADER_BYTES || p[41] != 0 {
        return None;
    }
    let addr = |r: std::ops::Range<usize>| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&p[r]);
        Ipv6Addr::from(a)
    };
    Some((addr(8..24), addr(24..40), p[40], &p[44..]))
}

fn echo(src: Ipv6Addr, dst: Ipv6Addr, kind: u8, id_seq: &[u8], data: &[u8]) -> Vec<u8> {
    let icmp_len = ICMP_HEADER_BYTES + data.len();
    let mut p = Vec::with_capacity(IPV6_HEADER_BYTES + icmp_len);
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(icmp_len as u16).to_be_bytes());
    p.extend_from_slice(&[ICMPV6, 255]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[kind, 0, 0, 0]);
    p.extend_from_slice(id_seq);
    p.extend_from_slice(data);
    let sum = checksum(src, dst, &p[IPV6_HEADER_BYTES..]);
    p[42..44].copy_from_slice(&sum.to_be_bytes());
    p
}

/// The ICMPv6 checksum over the pseudo-header and the message (checksum field zero).
fn checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = pair[0] as u32;
            let lo = pair.get(1).copied().unwrap_or(0) as u32;
            sum += (hi << 8) | lo;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, ICMPV6]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x8f80, 1, 0, 0, 0, 0, 0x1234);

    #[test]
    fn the_request_is_the_reference_clients_48_bytes() {
        let r = request(A);
        assert_eq!(r.len(), 48);
        assert_eq!(&r[..8], &[0x60, 0, 0, 0, 0, 8, 58, 255]);
        assert_eq!(&r[24..40], &ROUTER.octets());
        assert_eq!(&r[40..42], &[128, 0]);
        assert_eq!(&r[44..48], b"ENFT");
        // A correct checksum makes the sum over pseudo-header and message come out as zero.
        assert_eq!(checksum(A, ROUTER, &r[40..]), 0);
    }

    #[test]
    fn the_router_answers_and_the_client_recognises_it() {
        let reply = answer(&request(A)).expect("an echo request to fe80::1");
        assert!(is_reply(&reply, A));
        assert_eq!(checksum(ROUTER, A, &reply[40..]), 0);
        assert!(!is_reply(&reply, Ipv6Addr::LOCALHOST));
        assert!(!is_reply(&request(A), A));
        assert_eq!(answer(&reply), None);
        assert_eq!(answer(&[0x60; 47]), None);
    }

    #[test]
    fn a_ping_with_payload_is_echoed_whole() {
        let ping = echo(A, ROUTER, ECHO_REQUEST, &[0, 7, 0, 1], b"payload!");
        let pong = answer(&ping).expect("reply");
        assert_eq!(
            &pong[44..],
            &[0, 7, 0, 1, b'p', b'a', b'y', b'l', b'o', b'a', b'd', b'!']
        );
        assert_eq!(checksum(ROUTER, A, &pong[40..]), 0);
    }
}
