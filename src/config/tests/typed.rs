//! The typed layer: defaults, each wrong type or value with its exact error, warnings.

use std::path::Path;
use std::time::Duration;

use super::super::{Config, Origin, Prefix};
use super::typed;

#[test]
fn an_empty_file_gives_the_defaults() {
    let cfg = typed("").expect("empty file");
    assert!(cfg.same_settings(&Config::defaults(Path::new("/x"))));
    assert_eq!(cfg.tun.dev, "enf0");
    assert_eq!(cfg.remote.hosts, vec!["23.147.128.112".to_string()]);
    assert_eq!(cfg.remote.port, 443);
    assert_eq!(
        cfg.remote.ca_cert_file,
        Path::new("/etc/enftun/enf.cacert.pem")
    );
    assert_eq!(cfg.remote.heartbeat_period, Duration::from_secs(300));
    assert_eq!(cfg.remote.heartbeat_timeout, Duration::from_secs(10));
    assert_eq!((cfg.route.fwmark, cfg.route.table), (363, 2097));
    assert_eq!(cfg.route.prefixes, vec![Prefix::Default]);
    assert_eq!(cfg.route.ra_period, Duration::from_secs(600));
    assert_eq!(cfg.identity.cert_file, None);
    assert!(cfg.origins.is_empty() && cfg.warnings.is_empty());
}

#[test]
fn wrong_types_and_values_name_file_line_and_key() {
    let table: &[(&str, &str)] = &[
        ("remote = { port = 443; }", "1: remote.port: expected a string, found an integer"),
        ("remote = { port = \"https\"; }", "1: remote.port: \"https\" is not a port number (1 to 65535)"),
        ("remote = { port = \"0\"; }", "1: remote.port: \"0\" is not a port number (1 to 65535)"),
        ("remote = { port = \"+443\"; }", "1: remote.port: \"+443\" is not a port number (1 to 65535)"),
        ("remote = { hosts = \"a\"; }", "1: remote.hosts: expected an array of strings, found a string"),
        ("remote = { hosts = [ ]; }", "1: remote.hosts: needs at least one host"),
        ("remote = { hosts = [ 1 ]; }", "1: remote.hosts[0]: expected a string, found an integer"),
        ("remote = { hosts = [ \"a b\" ]; }", "1: remote.hosts[0]: \"a b\" is not a host name or address"),
        ("remote = {\n heartbeat_period = 0; }", "2: remote.heartbeat_period: 0 is out of range (1 to 9223372036854775807)"),
        ("remote = { heartbeat_timeout = 1.5; }", "1: remote.heartbeat_timeout: expected an integer, found a float"),
        ("remote = { ca_cert_file = [ \"a\" ]; }", "1: remote.ca_cert_file: expected a string, found an array"),
        ("remote = { server_name = \"\"; }", "1: remote.server_name: \"\" is not a host name or address"),
        (
            "route = {\n prefixes = [ \"default\",\n \"10.0.0.0/8\" ]; }",
            "3: route.prefixes[1]: \"10.0.0.0/8\" is not a prefix (expected default or IPv6 ADDR/LEN)",
        ),
        ("route = { prefixes = ( \"fd00::1/8\" ); }", "1: route.prefixes[0]: \"fd00::1/8\" has host bits set; did you mean \"fd00::/8\"?"),
        ("route = { fwmark = -1; }", "1: route.fwmark: -1 is out of range (0 to 4294967295)"),
        ("route = { fwmark = 4294967296L; }", "1: route.fwmark: 4294967296 is out of range (0 to 4294967295)"),
        ("route = { table = \"5\"; }", "1: route.table: expected an integer, found a string"),
        ("route = { allow_ipv4 = 1; }", "1: route.allow_ipv4: expected true or false, found an integer"),
        ("route = { allow_ipv4 = \"true\"; }", "1: route.allow_ipv4: expected true or false, found a string"),
        ("route = { ra_period = { }; }", "1: route.ra_period: expected an integer, found a group"),
        (
            "route = { trusted_interfaces = [ \"eth0\", \"a b\" ]; }",
            "1: route.trusted_interfaces[1]: \"a b\" is not an interface name (1 to 15 characters, no '/', ':' or spaces)",
        ),
        ("tun = \"x\";", "1: tun: expected a group, found a string"),
        ("tun = { dev = \"a/b\"; }", "1: tun.dev: \"a/b\" is not an interface name (1 to 15 characters, no '/', ':' or spaces)"),
        (
            "tun = { dev = \"sixteen-chars-xx\"; }",
            "1: tun.dev: \"sixteen-chars-xx\" is not an interface name (1 to 15 characters, no '/', ':' or spaces)",
        ),
        ("tun = { ip_set = \"yes\"; }", "1: tun.ip_set: expected true or false, found a string"),
        ("identity = { cert_file = \"\"; }", "1: identity.cert_file: must not be empty"),
        ("identity = { key_file = 5; }", "1: identity.key_file: expected a string, found an integer"),
        ("version = 1;", "1: version: expected a string, found an integer"),
    ];
    for (text, want) in table {
        assert_eq!(
            typed(text).map(|_| ()),
            Err(format!("/etc/enftun/enf0.conf:{want}")),
            "{text:?}"
        );
    }
}

#[test]
fn unknown_keys_and_hardware_groups_warn() {
    let text = "colour = \"blue\";\nroute = { ipv6_network = \"x\"; }\nidentity = {\n  xtt = { };\n  tpm : { device = \"/dev/tpm0\" }\n}";
    let cfg = typed(text).expect("warnings only");
    assert_eq!(
        cfg.warnings,
        vec![
            "/etc/enftun/enf0.conf:1: unknown key colour, ignored".to_string(),
            "/etc/enftun/enf0.conf:2: unknown key route.ipv6_network, ignored".to_string(),
            "/etc/enftun/enf0.conf:4: identity.xtt is not supported (hardware provisioning); identity.cert_file and identity.key_file are loaded as files".to_string(),
            "/etc/enftun/enf0.conf:5: identity.tpm is not supported (hardware provisioning); identity.cert_file and identity.key_file are loaded as files".to_string(),
        ]
    );
}

#[test]
fn relative_paths_resolve_against_the_file() {
    let text = "identity = { cert_file = \"c.pem\"; key_file = \"../k/k.pem\"; ip_file = \"/run/ip\"; }\nremote = { ca_cert_file = \"ca/ca.pem\"; }";
    let cfg = typed(text).expect("paths");
    assert_eq!(
        cfg.identity.cert_file.as_deref(),
        Some(Path::new("/etc/enftun/c.pem"))
    );
    assert_eq!(
        cfg.identity.key_file.as_deref(),
        Some(Path::new("/etc/enftun/../k/k.pem"))
    );
    assert_eq!(cfg.identity.ip_file.as_deref(), Some(Path::new("/run/ip")));
    assert_eq!(cfg.remote.ca_cert_file, Path::new("/etc/enftun/ca/ca.pem"));
    assert_eq!(cfg.origin("identity.cert_file"), Origin::File { line: 1 });
    assert_eq!(cfg.origin("remote.ca_cert_file"), Origin::File { line: 2 });
    assert_eq!(cfg.origin("remote.port"), Origin::Default);
}
