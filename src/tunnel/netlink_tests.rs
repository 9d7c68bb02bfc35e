//! Byte-for-byte tests of the netlink requests (the decoder's are in `netlink_decode_tests`).
//!
//! Expected bytes are written out by hand (little-endian hosts: netlink is in host order). The
//! link, address and route bodies were cross-checked against what `ip` 6.x sends for the same
//! command (`strace -e trace=sendmsg -xx ip ...`); they differ only in `ip`'s EXCL where we
//! ask for REPLACE, and in rule attribute order (ours: priority first).
#![cfg(target_endian = "little")]

use super::*;

pub(super) const FD00_1: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub(super) const FD00: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// nlmsghdr bytes: length, type, flags, sequence 7, port 0.
pub(super) fn header(len: u8, kind: u8, flags: u16) -> Vec<u8> {
    let f = flags.to_le_bytes();
    vec![len, 0, 0, 0, kind, 0, f[0], f[1], 7, 0, 0, 0, 0, 0, 0, 0]
}

pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
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
