//! What `configure` decides to install (pure), and how its errors read. The kernel side is
//! tested in namespaces by `tests/tun_netcfg.rs`.

use super::*;

fn plan(prefixes: &[&str], fwmark: u32, server_is_ipv6: bool) -> Plan {
    Plan {
        ifname: "enf0".into(),
        address: "fd00:8f80:1::1234".parse().unwrap(),
        mtu: 1280,
        prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
        fwmark,
        table: 2097,
        server_is_ipv6,
        trusted_interfaces: Vec::new(),
    }
}

#[test]
fn the_mark_the_tunnel_socket_needs() {
    // (prefixes, route.fwmark, server over IPv6, mark)
    let table: &[(&[&str], u32, bool, u32)] = &[
        (&["default"], 363, false, 363),
        (&["default"], 42, true, 42),
        (&["default"], 0, false, 0),
        (&["default"], 0, true, DEFAULT_FWMARK),
        (&["fd00::/8"], 0, true, 0),
        (&["fd00::/8"], 7, false, 7),
        (&[], 0, true, 0),
    ];
    for &(prefixes, fwmark, v6, want) in table {
        let p = plan(prefixes, fwmark, v6);
        assert_eq!(
            fwmark_for(&p),
            want,
            "{prefixes:?} fwmark {fwmark} ipv6 {v6}"
        );
    }
}

#[test]
fn routes_for_prefixes() {
    let p = plan(&["fd00::/8", "2607:8f80:8000::/36", "ff0e::/16"], 0, true);
    let got: Vec<String> = routes(&p, 5, 0).iter().map(describe_route).collect();
    assert_eq!(
        got,
        [
            "fd00::/8",
            "2607:8f80:8000::/36",
            "ff0e::/16 in table local"
        ]
    );
    assert!(routes(&p, 5, 0).iter().all(|r| r.oif == 5));
}

#[test]
fn default_route_goes_to_the_table_only_with_a_mark() {
    let p = plan(&["default"], 363, false);
    let got: Vec<String> = routes(&p, 5, 363).iter().map(describe_route).collect();
    assert_eq!(got, ["default in table 2097"]);
    let p = plan(&["default"], 0, false);
    let got: Vec<String> = routes(&p, 5, 0).iter().map(describe_route).collect();
    assert_eq!(got, ["default"]);
}

#[test]
fn rules_for_default_as_ip_would_print_them() {
    let mut p = plan(&["default", "fd00::/8"], 363, false);
    p.trusted_interfaces = vec!["eth1".into()];
    let got: Vec<String> = rules(&p, 363).iter().map(describe_rule).collect();
    assert_eq!(
        got,
        [
            "32761: from all oif eth1 lookup main",
            "32761: from all iif eth1 lookup main",
            "32762: from all lookup main suppress_prefixlength 0",
            "32763: not from all fwmark 0x16b lookup 2097",
        ]
    );
}

#[test]
fn no_rules_without_default_or_without_a_mark() {
    let mut p = plan(&["fd00::/8"], 363, true);
    p.trusted_interfaces = vec!["eth1".into()];
    assert!(rules(&p, 363).is_empty());
    let p = plan(&["default"], 0, false);
    assert!(rules(&p, 0).is_empty());
}

#[test]
fn reserved_tables_are_refused_for_policy_routing() {
    for table in [0, 253, 254, 255] {
        let mut p = plan(&["default"], 363, false);
        p.table = table;
        let e = check(&p, 363).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("route.table = {table} cannot hold")),
            "{e}"
        );
        // Without policy routing the table is not used, so it does not matter.
        let mut p = plan(&["default"], 0, false);
        p.table = table;
        assert!(check(&p, 0).is_ok());
    }
}

#[test]
fn ipv6_disabled_reading() {
    let s = |v: &str| Some(v.to_string());
    let table = [
        ([None, None], true),
        ([s("0\n"), s("0\n")], false),
        ([s("1\n"), s("0\n")], true),
        ([s("0\n"), s("1\n")], true),
        ([s("0\n"), None], false),
    ];
    for (contents, want) in table {
        assert_eq!(disabled_from(contents.clone()), want, "{contents:?}");
    }
}

#[test]
fn error_messages_are_one_line_naming_the_request() {
    let refused = |what: &str, errno, detail: Option<&str>| Error::Refused {
        what: what.into(),
        errno,
        detail: detail.map(str::to_string),
    };
    let table = [
        (
            refused("adding route fd00::/8 via enf0", libc::EEXIST, None),
            "adding route fd00::/8 via enf0: File exists",
        ),
        (
            refused("bringing enf0 up with MTU 1280", libc::EPERM, None),
            "bringing enf0 up with MTU 1280: Operation not permitted; needs CAP_NET_ADMIN \
             (--cap-add=NET_ADMIN)",
        ),
        (
            refused("adding address fd00::1/128 to enf0", libc::EACCES, None),
            "adding address fd00::1/128 to enf0: Permission denied; IPv6 is disabled on the \
             device: run with --sysctl net.ipv6.conf.all.disable_ipv6=0",
        ),
        (
            refused(
                "adding route default via enf0",
                libc::EINVAL,
                Some("Bad prefix"),
            ),
            "adding route default via enf0: Invalid argument (Bad prefix)",
        ),
        (
            Error::NoInterface {
                ifname: "enf0".into(),
            },
            "finding interface enf0: no such device",
        ),
        (
            Error::Io {
                what: "opening a netlink socket".into(),
                source: io::Error::from_raw_os_error(libc::ENOBUFS),
            },
            "opening a netlink socket: No buffer space available",
        ),
    ];
    for (e, want) in table {
        assert_eq!(e.to_string(), want);
    }
}
