//! Byte-for-byte tests of the netlink requests and the reply decoder.
//!
//! Expected bytes are written out by hand (little-endian hosts: netlink is in host order). The
//! link, address and route bodies were cross-checked against what `ip` 6.x sends for the same
//! command (`strace -e trace=sendmsg -xx ip ...`); they differ only in `ip`'s EXCL where we
//! ask for REPLACE, and in rule attribute order (ours: priority first).
#![cfg(target_endian = "little")]

use super::*;
use proptest::prelude::*;

const FD00_1: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const FD00: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// nlmsghdr bytes: length, type, flags, sequence 7, port 0.
fn header(len: u8, kind: u8, flags: u16) -> Vec<u8> {
    let f = flags.to_le_bytes();
    vec![len, 0, 0, 0, kind, 0, f[0], f[1], 7, 0, 0, 0, 0, 0, 0, 0]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn link_up_with_mtu() {
    let want = cat(&[
        &header(40, 16, 0x0005),
        &[0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0], // ifinfomsg: index 2, IFF_UP/IFF_UP
        &[8, 0, 4, 0, 0x00, 0x05, 0, 0],                   // IFLA_MTU 1280
    ]);
    assert_eq!(set_link_up(7, 2, 1280), want);
}

#[test]
fn address_128_nodad_replace() {
    let want = cat(&[
        &header(64, 20, 0x0505),
        &[10, 128, 0x02, 0, 2, 0, 0, 0], // AF_INET6, /128, IFA_F_NODAD, universe, index 2
        &[20, 0, 2, 0],
        &FD00_1, // IFA_LOCAL
        &[20, 0, 1, 0],
        &FD00_1, // IFA_ADDRESS
    ]);
    assert_eq!(add_address(7, 2, "fd00::1".parse().unwrap(), 128), want);
}

#[test]
fn route_in_main_table() {
    let r = Route {
        dst: "fd00::".parse().unwrap(),
        dst_len: 8,
        oif: 2,
        table: RT_TABLE_MAIN,
    };
    let want = cat(&[
        &header(56, 24, 0x0505),
        &[10, 8, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0], // rtmsg: main, boot, universe, unicast
        &[20, 0, 1, 0],
        &FD00,                     // RTA_DST
        &[8, 0, 4, 0, 2, 0, 0, 0], // RTA_OIF
    ]);
    assert_eq!(add_route(7, &r), want);
}

#[test]
fn default_route_in_a_table_above_255() {
    let r = Route {
        dst: Ipv6Addr::UNSPECIFIED,
        dst_len: 0,
        oif: 2,
        table: 2097,
    };
    let want = cat(&[
        &header(64, 24, 0x0505),
        &[10, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0], // table byte 0: the attribute says which
        &[20, 0, 1, 0],
        &[0; 16],
        &[8, 0, 15, 0, 0x31, 0x08, 0, 0], // RTA_TABLE 2097
        &[8, 0, 4, 0, 2, 0, 0, 0],
    ]);
    assert_eq!(add_route(7, &r), want);
}

#[test]
fn rule_not_fwmark_lookup_table() {
    let r = Rule {
        priority: 32763,
        table: 2097,
        invert: true,
        fwmark: Some(363),
        ..Rule::default()
    };
    let want = cat(&[
        &header(52, 32, 0x0605),
        &[10, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0], // to-table, FIB_RULE_INVERT
        &[8, 0, 6, 0, 0xfb, 0x7f, 0, 0],        // FRA_PRIORITY 32763
        &[8, 0, 10, 0, 0x6b, 0x01, 0, 0],       // FRA_FWMARK 363
        &[8, 0, 15, 0, 0x31, 0x08, 0, 0],       // FRA_TABLE 2097
    ]);
    assert_eq!(add_rule(7, &r), want);
}

#[test]
fn rule_main_suppress_prefixlength_0() {
    let r = Rule {
        priority: 32762,
        table: RT_TABLE_MAIN,
        suppress_prefixlen: Some(0),
        ..Rule::default()
    };
    let want = cat(&[
        &header(44, 32, 0x0605),
        &[10, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0],
        &[8, 0, 6, 0, 0xfa, 0x7f, 0, 0],
        &[8, 0, 14, 0, 0, 0, 0, 0], // FRA_SUPPRESS_PREFIXLEN 0
    ]);
    assert_eq!(add_rule(7, &r), want);
}

#[test]
fn interface_names_are_nul_terminated_and_padded() {
    let r = Rule {
        priority: 100,
        table: RT_TABLE_MAIN,
        oifname: Some("eth0".into()),
        iifname: Some("a".into()),
        ..Rule::default()
    };
    let want = cat(&[
        &header(56, 32, 0x0605),
        &[10, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0],
        &[8, 0, 6, 0, 100, 0, 0, 0],
        &[6, 0, 3, 0, b'a', 0, 0, 0], // FRA_IIFNAME: length 6, padded to 8
        &[9, 0, 17, 0, b'e', b't', b'h', b'0', 0, 0, 0, 0], // FRA_OIFNAME: 9, padded to 12
    ]);
    assert_eq!(add_rule(7, &r), want);
    let fifteen = Rule {
        oifname: Some("abcdefghijklmno".into()),
        ..Rule::default()
    };
    let m = add_rule(7, &fifteen);
    assert_eq!(&m[36..40], &[20, 0, 17, 0], "15 bytes + NUL: no padding");
    assert_eq!(m.len(), 56);
}

#[test]
fn route_lookup_and_its_answer() {
    let want = cat(&[
        &header(48, 26, 0x0005),
        &[10, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[20, 0, 1, 0],
        &FD00_1,
    ]);
    assert_eq!(get_route(7, "fd00::1".parse().unwrap()), want);
    // "local fd00::1 dev lo table local": RTN_LOCAL; the /128 prefix route before it: unicast.
    assert_eq!(
        parse_route_type(&[10, 128, 0, 0, 255, 2, 0, 2, 0, 0, 0, 0]),
        Some(RTN_LOCAL)
    );
    assert_eq!(
        parse_route_type(&[10, 128, 0, 0, 254, 2, 0, 1, 0, 0, 0, 0]),
        Some(1)
    );
    assert_eq!(
        parse_route_type(&[2, 32, 0, 0, 255, 2, 0, 2, 0, 0, 0, 0]),
        None
    );
    assert_eq!(parse_route_type(&[10, 128, 0]), None);
}

#[test]
fn dump_requests() {
    let addr = cat(&[&header(24, 22, 0x0301), &[10, 0, 0, 0, 0, 0, 0, 0]]);
    assert_eq!(dump_addresses(7), addr);
    let rules = cat(&[
        &header(28, 34, 0x0301),
        &[10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    assert_eq!(dump_rules(7), rules);
}

#[test]
fn alignment() {
    let table = [(0, 0), (1, 4), (4, 4), (5, 8), (9, 12), (16, 16)];
    for (n, want) in table {
        assert_eq!(align4(n), want, "align4({n})");
    }
}

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
