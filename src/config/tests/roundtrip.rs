//! parse(print(config)) == config, for any configuration the typed layer can hold.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::super::print::print;
use super::super::{Config, IdentityFiles, Prefix, Remote, Route, Tun};
use super::{typed, FILE};

/// Any text at all: quotes, backslashes, control characters, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,20}",
        "[\"\\\\\\n\\t\\r\\x0c\\x01\\x7f é€]{0,12}"
    ]
}

fn path() -> impl Strategy<Value = PathBuf> {
    text().prop_map(|t| PathBuf::from(format!("/{t}")))
}

fn host() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.:_-]{1,30}"
}

fn interface() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,15}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

fn millis() -> impl Strategy<Value = Duration> {
    (1..=i64::MAX as u64).prop_map(Duration::from_millis)
}

fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        Just(Prefix::Default),
        (any::<u128>(), 0u8..=128).prop_map(|(a, l)| Prefix::net(Ipv6Addr::from(a), l))
    ]
}

fn config() -> impl Strategy<Value = Config> {
    let tun = (interface(), path(), any::<bool>(), text()).prop_map(
        |(dev, dev_node, ip_set, ip_path)| Tun {
            dev,
            dev_node,
            ip_set,
            ip_path,
        },
    );
    let remote = (
        proptest::collection::vec(host(), 1..4),
        1u16..,
        path(),
        millis(),
        millis(),
        proptest::option::of(host()),
    )
        .prop_map(
            |(hosts, port, ca_cert_file, heartbeat_period, heartbeat_timeout, server_name)| {
                Remote {
                    hosts,
                    port,
                    ca_cert_file,
                    heartbeat_period,
                    heartbeat_timeout,
                    server_name,
                }
            },
        );
    let route = (
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(prefix(), 0..4),
        proptest::collection::vec(interface(), 0..3),
        any::<bool>(),
        millis(),
    )
        .prop_map(
            |(fwmark, table, prefixes, trusted_interfaces, allow_ipv4, ra_period)| Route {
                fwmark,
                table,
                prefixes,
                trusted_interfaces,
                allow_ipv4,
                ra_period,
            },
        );
    let identity = (
        proptest::option::of(path()),
        proptest::option::of(path()),
        proptest::option::of(path()),
    )
        .prop_map(|(cert_file, key_file, ip_file)| IdentityFiles {
            cert_file,
            key_file,
            ip_file,
        });
    (text(), tun, remote, route, identity).prop_map(|(version, tun, remote, route, identity)| {
        Config {
            version,
            tun,
            remote,
            route,
            identity,
            ..Config::defaults(Path::new(FILE))
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_of_print_is_the_config(cfg in config()) {
        let text = print(&cfg);
        let back = typed(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert!(back.same_settings(&cfg), "{:#?}\n!=\n{:#?}\n{}", back, cfg, text);
        prop_assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    }
}

#[test]
fn print_of_the_defaults() {
    let text = print(&Config::defaults(Path::new(FILE)));
    let want = "\
# enftun configuration, written by enf-init.
version = \"1.0\";

tun : {
  dev = \"enf0\";
  dev_node = \"/dev/net/tun\";
  ip_set = true;
  ip_path = \"/bin/ip\";
};

remote : {
  hosts = [ \"23.147.128.112\" ];
  port = \"443\";
  ca_cert_file = \"/etc/enftun/enf.cacert.pem\";
  heartbeat_period = 300000;
  heartbeat_timeout = 10000;
};

route : {
  fwmark = 363;
  table = 2097;
  prefixes = [ \"default\" ];
  trusted_interfaces = [ ];
  allow_ipv4 = false;
  ra_period = 600000;
};

identity : {
};
";
    assert_eq!(text, want);
}
