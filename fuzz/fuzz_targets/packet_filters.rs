//! The packet filters: `parse`, `ingress`, `egress`, and the heartbeat's `answer`/`is_reply`.
//!
//! Input: 16 bytes of "our" address, one flag byte (bit 0: IPv4 allowed), then the packet. A
//! packet judged OK must really be what the verdict says, read back from its bytes here
//! independently: version, header length equal to the frame's, source and destination; each
//! drop reason must be the true one; and a heartbeat answer must be a checksummed echo reply to
//! the sender carrying the request's identifier, sequence and data.

#![no_main]

use enf_init::proto::heartbeat;
use enf_init::proto::packet::{egress, ingress, parse, Drop, Packet, IPV6_HEADER_BYTES};
use enf_init_fuzz::icmpv6_sum;
use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, Ipv6Addr};

fn v6_at(p: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&p[at..at + 16]);
    Ipv6Addr::from(a)
}

/// What `parse` must have said, from the bytes.
fn check_parse(p: &[u8], got: Result<Packet, Drop>) {
    match got {
        Ok(Packet::V6 {
            src,
            dst,
            next_header,
        }) => {
            assert_eq!(p[0] >> 4, 6);
            assert!(p.len() >= IPV6_HEADER_BYTES);
            assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])) + 40, p.len());
            assert_eq!(src, v6_at(p, 8));
            assert_eq!(dst, v6_at(p, 24));
            assert_eq!(next_header, p[6]);
        }
        Ok(Packet::V4 { src, dst }) => {
            assert_eq!(p[0] >> 4, 4);
            let ihl = usize::from(p[0] & 0x0f) * 4;
            assert!(p.len() >= 20 && ihl >= 20 && ihl <= p.len());
            assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
            assert_eq!(src, Ipv4Addr::new(p[12], p[13], p[14], p[15]));
            assert_eq!(dst, Ipv4Addr::new(p[16], p[17], p[18], p[19]));
        }
        Err(Drop::Empty) => assert!(p.is_empty()),
        Err(Drop::UnknownVersion) => assert!(!matches!(p[0] >> 4, 4 | 6)),
        Err(Drop::BadLength) => {
            assert!(matches!(p[0] >> 4, 4 | 6));
            let v6_ok = p[0] >> 4 == 6
                && p.len() >= 40
                && usize::from(u16::from_be_bytes([p[4], p[5]])) + 40 == p.len();
            assert!(!v6_ok, "a well-formed IPv6 packet called bad_length");
        }
        Err(other) => panic!("parse never says {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    let ours = v6_at(data, 0);
    let allow_ipv4 = data[16] & 1 == 1;
    let p = &data[17..];

    let parsed = parse(p);
    check_parse(p, parsed);

    let inn = ingress(p, ours, allow_ipv4);
    match (parsed, inn) {
        (Err(e), got) => assert_eq!(got, Err(e), "ingress keeps parse's reason"),
        (Ok(pk @ Packet::V6 { dst, .. }), got) if dst == ours => assert_eq!(got, Ok(pk)),
        (Ok(Packet::V6 { .. }), got) => assert_eq!(got, Err(Drop::NotOurAddress)),
        (Ok(pk @ Packet::V4 { .. }), got) if allow_ipv4 => assert_eq!(got, Ok(pk)),
        (Ok(Packet::V4 { .. }), got) => assert_eq!(got, Err(Drop::Ipv4NotAllowed)),
    }
    let out = egress(p, ours, allow_ipv4);
    match (parsed, out) {
        (Err(e), got) => assert_eq!(got, Err(e), "egress keeps parse's reason"),
        (Ok(pk @ Packet::V6 { src, .. }), got) if src == ours => assert_eq!(got, Ok(pk)),
        (Ok(Packet::V6 { .. }), got) => assert_eq!(got, Err(Drop::SpoofedSource)),
        (Ok(pk @ Packet::V4 { .. }), got) if allow_ipv4 => assert_eq!(got, Ok(pk)),
        (Ok(Packet::V4 { .. }), got) => assert_eq!(got, Err(Drop::Ipv4NotAllowed)),
    }
    // Every reason has a distinct counter name.
    if let Err(d) = parsed.and(inn).and(out) {
        assert_eq!(Drop::ALL.iter().filter(|x| x.name() == d.name()).count(), 1);
    }

    // The router's heartbeat answer: only for a well-formed echo request to fe80::1.
    if let Some(reply) = heartbeat::answer(p) {
        let Ok(Packet::V6 {
            src,
            dst,
            next_header: 58,
        }) = parsed
        else {
            panic!("answered something that is not ICMPv6: {parsed:?}");
        };
        assert_eq!(dst, heartbeat::ROUTER);
        assert_eq!(
            (p[40], p[41]),
            (128, 0),
            "answered something that is not an echo request"
        );
        assert_eq!(
            parse(&reply),
            Ok(Packet::V6 {
                src: heartbeat::ROUTER,
                dst: src,
                next_header: 58
            })
        );
        assert_eq!(reply.len(), p.len());
        assert_eq!((reply[40], reply[41]), (129, 0));
        assert_eq!(
            &reply[44..],
            &p[44..],
            "identifier, sequence and data echoed"
        );
        assert_eq!(
            icmpv6_sum(heartbeat::ROUTER.octets(), src.octets(), &reply[40..]),
            0
        );
        assert_eq!(
            heartbeat::is_reply(&reply, src),
            reply[44..].starts_with(&heartbeat::ID_SEQ)
        );
        assert_eq!(
            heartbeat::answer(&reply),
            None,
            "a reply is not answered again"
        );
    }
    // The client's recognition: a reply to us with our identifier, and nothing else.
    if heartbeat::is_reply(p, ours) {
        assert!(matches!(parsed, Ok(Packet::V6 { dst, next_header: 58, .. }) if dst == ours));
        assert_eq!((p[40], p[41]), (129, 0));
        assert_eq!(&p[44..48], &heartbeat::ID_SEQ);
    }
    // Our own request is always a valid one that the router answers.
    let req = heartbeat::request(ours);
    assert_eq!(egress(&req, ours, false).map(|_| ()), Ok(()));
    assert!(heartbeat::answer(&req).is_some());
});
