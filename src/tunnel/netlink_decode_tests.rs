//! Tests of the reply decoder: hand-built kernel answers, malformed input, never a panic.
#![cfg(target_endian = "little")]

use super::super::tests::{cat, header, FD00, FD00_1};
use crate::tunnel::netlink::*;
use proptest::prelude::*;
use std::net::Ipv6Addr;
fn reply(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = ((NLMSG_HEADER_BYTES + payload.len()) as u32)
        .to_le_bytes()
        .to_vec();
    m.extend_from_slice(&kind.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&[0; 4]);
    m.extend_from_slice(payload);
    m.resize(align4(m.len()), 0);
    m
}

fn error_payload(errno: i32, echoed: &[u8], tlvs: &[u8]) -> Vec<u8> {
    cat(&[&(-errno).to_le_bytes(), echoed, tlvs])
}

#[test]
fn messages_in_one_datagram() {
    let buf = cat(&[&reply(20, 2, 5, &[1, 2, 3]), &reply(3, 2, 5, &[0; 4])]);
    let got: Vec<_> = messages(&buf).map(Result::unwrap).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].kind, got[0].seq, got[0].payload),
        (20, 5, &[1, 2, 3][..])
    );
    assert_eq!(got[1].kind, NLMSG_DONE);
}

#[test]
fn truncated_messages_are_errors() {
    let mut buf = reply(20, 0, 1, &[0; 8]);
    buf.truncate(20);
    let got: Vec<_> = messages(&buf).collect();
    assert_eq!(got, vec![Err(DecodeError::Truncated { at_byte: 0 })]);
    let short = [8u8, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(messages(&short).count(), 1);
    assert!(messages(&short).next().unwrap().is_err());
    let text = DecodeError::Truncated { at_byte: 24 }.to_string();
    assert_eq!(text, "truncated netlink message at byte 24");
}

#[test]
fn errors_acks_and_extended_messages() {
    let echoed = header(64, 24, 0x0505); // NETLINK_CAP_ACK: the request's header only
    let ack = reply(NLMSG_ERROR, 0x100, 7, &error_payload(0, &echoed, &[]));
    let m = messages(&ack).next().unwrap().unwrap();
    assert_eq!(error_code(&m), Ok((0, None)));

    let eexist = reply(NLMSG_ERROR, 0x100, 7, &error_payload(17, &echoed, &[]));
    let m = messages(&eexist).next().unwrap().unwrap();
    assert_eq!(error_code(&m), Ok((17, None)));

    let text = b"Nexthop device is not up\0";
    let tlv = cat(&[&[(4 + text.len()) as u8, 0, 1, 0], text]);
    let ext = reply(NLMSG_ERROR, 0x300, 7, &error_payload(22, &echoed, &tlv));
    let m = messages(&ext).next().unwrap().unwrap();
    assert_eq!(
        error_code(&m),
        Ok((22, Some("Nexthop device is not up".into())))
    );

    // Without CAP_ACK the whole request is echoed before the attributes.
    let request = set_link_up(7, 2, 1280);
    let full = reply(NLMSG_ERROR, 0x200, 7, &error_payload(1, &request, &tlv));
    let m = messages(&full).next().unwrap().unwrap();
    assert_eq!(
        error_code(&m),
        Ok((1, Some("Nexthop device is not up".into())))
    );

    let short = reply(NLMSG_ERROR, 0, 7, &[0xef]);
    let m = messages(&short).next().unwrap().unwrap();
    assert!(error_code(&m).is_err());
}

#[test]
fn addresses_from_a_dump() {
    let mut p = vec![10, 128, 0x02, 0, 3, 0, 0, 0];
    p.extend_from_slice(&[20, 0, 1, 0]);
    p.extend_from_slice(&FD00_1);
    p.extend_from_slice(&[8, 0, 8, 0, 0x42, 0, 0, 0]); // IFA_FLAGS: NODAD | TENTATIVE
    let a = parse_address(&p).unwrap();
    assert_eq!(a.index, 3);
    assert_eq!(a.prefix_len, 128);
    assert_eq!(a.address, Ipv6Addr::from(FD00_1));
    assert_eq!(a.flags, IFA_F_NODAD | IFA_F_TENTATIVE);

    // A point-to-point address with a peer: IFA_LOCAL is ours.
    let mut peer = vec![10, 64, 0x08, 0, 3, 0, 0, 0];
    peer.extend_from_slice(&[20, 0, 1, 0]);
    peer.extend_from_slice(&FD00);
    peer.extend_from_slice(&[20, 0, 2, 0]);
    peer.extend_from_slice(&FD00_1);
    let a = parse_address(&peer).unwrap();
    assert_eq!(a.address, Ipv6Addr::from(FD00_1));
    assert_eq!(
        a.flags, IFA_F_DADFAILED,
        "the header byte without IFA_FLAGS"
    );

    assert_eq!(parse_address(&[2, 32, 0, 0, 3, 0, 0, 0]), None, "IPv4");
    assert_eq!(
        parse_address(&[10, 128, 0, 0, 3, 0, 0, 0]),
        None,
        "no address"
    );
    assert_eq!(parse_address(&[10, 128]), None, "short");
}

#[test]
fn rules_read_back_as_written() {
    let rules = [
        Rule {
            priority: 32763,
            table: 2097,
            invert: true,
            fwmark: Some(363),
            ..Rule::default()
        },
        Rule {
            priority: 32762,
            table: RT_TABLE_MAIN,
            suppress_prefixlen: Some(0),
            ..Rule::default()
        },
        Rule {
            priority: 32761,
            table: RT_TABLE_MAIN,
            iifname: Some("eth0".into()),
            oifname: Some("abcdefghijklmno".into()),
            ..Rule::default()
        },
    ];
    for r in rules {
        let m = add_rule(1, &r);
        assert_eq!(parse_rule(&m[NLMSG_HEADER_BYTES..]), Some(r));
    }
}

#[test]
fn rules_we_do_not_model_are_not_ours() {
    // As the kernel dumps "not fwmark 363 lookup 2097": table byte 252, mask, protocol.
    let mut dumped = vec![10, 0, 0, 0, 252, 0, 0, 1, 2, 0, 0, 0];
    dumped.extend_from_slice(&[8, 0, 15, 0, 0x31, 0x08, 0, 0]);
    dumped.extend_from_slice(&[8, 0, 10, 0, 0x6b, 0x01, 0, 0]);
    dumped.extend_from_slice(&[8, 0, 16, 0, 0xff, 0xff, 0xff, 0xff]);
    dumped.extend_from_slice(&[5, 0, 21, 0, 3, 0, 0, 0]);
    dumped.extend_from_slice(&[8, 0, 6, 0, 0xfb, 0x7f, 0, 0]);
    let r = parse_rule(&dumped).unwrap();
    assert_eq!(
        (r.table, r.fwmark, r.invert, r.priority),
        (2097, Some(363), true, 32763)
    );

    let with = |extra: &[u8]| cat(&[&dumped, extra]);
    assert_eq!(
        parse_rule(&with(&[8, 0, 16, 0, 0xff, 0, 0, 0])),
        None,
        "fwmark mask"
    );
    assert_eq!(
        parse_rule(&with(&cat(&[&[20, 0, 2, 0], &FD00]))),
        None,
        "FRA_SRC"
    );
    let mut from = dumped.clone();
    from[2] = 64; // src_len: "from fd00::/64"
    assert_eq!(parse_rule(&from), None);
    let mut blackhole = dumped.clone();
    blackhole[7] = 6;
    assert_eq!(parse_rule(&blackhole), None);
    let mut ipv4 = dumped;
    ipv4[0] = 2;
    assert_eq!(parse_rule(&ipv4), None);
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for m in messages(&bytes).flatten() {
            let _ = error_code(&m);
            let _ = parse_address(m.payload);
            let _ = parse_rule(m.payload);
            let _ = parse_route_type(m.payload);
        }
        let _ = parse_address(&bytes);
        let _ = parse_rule(&bytes);
        prop_assert!(attrs(&bytes).count() <= bytes.len() / 4);
    }
}
