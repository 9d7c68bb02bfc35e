//! Environment overrides and the default file lookup.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::super::env::{apply, locate_with};
use super::super::{Config, Origin, Prefix};

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

#[test]
fn every_override_applies_and_is_recorded() {
    let mut cfg = Config::defaults(Path::new("/etc/enftun/enf0.conf"));
    let env = env_of(&[
        ("ENF_HOSTS", " a.example, 192.0.2.1 ,2001:db8::1"),
        ("ENF_PORT", "4443"),
        ("ENF_CA_CERT", "ca.pem"),
        ("ENF_CERT", "/abs/c.pem"),
        ("ENF_KEY", "keys/k.pem"),
        ("ENF_PREFIXES", "default 2607:8f80:8000::/36"),
    ]);
    apply(&mut cfg, &env, Some(Path::new("/work"))).expect("overrides apply");
    assert_eq!(
        cfg.remote.hosts,
        vec!["a.example", "192.0.2.1", "2001:db8::1"]
    );
    assert_eq!(cfg.remote.port, 4443);
    // Relative to the current directory, not to the config file.
    assert_eq!(cfg.remote.ca_cert_file, Path::new("/work/ca.pem"));
    assert_eq!(
        cfg.identity.cert_file.as_deref(),
        Some(Path::new("/abs/c.pem"))
    );
    assert_eq!(
        cfg.identity.key_file.as_deref(),
        Some(Path::new("/work/keys/k.pem"))
    );
    let enf36: Prefix = "2607:8f80:8000::/36".parse().expect("prefix");
    assert_eq!(cfg.route.prefixes, vec![Prefix::Default, enf36]);
    let origins: Vec<(&str, Origin)> = cfg.origins.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        origins,
        vec![
            ("identity.cert_file", Origin::Env("ENF_CERT")),
            ("identity.key_file", Origin::Env("ENF_KEY")),
            ("remote.ca_cert_file", Origin::Env("ENF_CA_CERT")),
            ("remote.hosts", Origin::Env("ENF_HOSTS")),
            ("remote.port", Origin::Env("ENF_PORT")),
            ("route.prefixes", Origin::Env("ENF_PREFIXES")),
        ]
    );
}

#[test]
fn empty_variables_count_as_unset() {
    let mut cfg = Config::defaults(Path::new("/etc/enftun/enf0.conf"));
    let env = env_of(&[("ENF_HOSTS", ""), ("ENF_PORT", "  "), ("ENF_CERT", "")]);
    apply(&mut cfg, &env, None).expect("nothing to apply");
    assert!(cfg.same_settings(&Config::defaults(Path::new("/x"))));
    assert!(cfg.origins.is_empty());
}

#[test]
fn bad_overrides_name_the_variable() {
    let table: &[(&str, &str, &str)] = &[
        ("ENF_PORT", "https", "ENF_PORT=\"https\": \"https\" is not a port number (1 to 65535)"),
        ("ENF_PORT", "70000", "ENF_PORT=\"70000\": \"70000\" is not a port number (1 to 65535)"),
        ("ENF_HOSTS", ",,", "ENF_HOSTS=\",,\": no entries"),
        (
            "ENF_PREFIXES",
            "default,10.0.0.0/8",
            "ENF_PREFIXES=\"default,10.0.0.0/8\": \"10.0.0.0/8\" is not a prefix (expected default or IPv6 ADDR/LEN)",
        ),
    ];
    for (var, value, want) in table {
        let mut cfg = Config::defaults(Path::new("/etc/enftun/enf0.conf"));
        let env = env_of(&[(var, value)]);
        let got = apply(&mut cfg, &env, None).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{var}={value}");
    }
}

#[test]
fn the_file_is_found_in_the_documented_order() {
    let data = |p: &Path| p == Path::new("/data/enf0/enf0.conf");
    let none = |_: &Path| false;
    let cli = Path::new("/cli.conf");
    type Row<'a> = (
        Option<&'a Path>,
        Vec<(&'a str, &'a str)>,
        &'a dyn Fn(&Path) -> bool,
        &'a str,
    );
    let table: Vec<Row<'_>> = vec![
        (
            Some(cli),
            vec![("ENF_CONFIG", "/env.conf")],
            &data,
            "/cli.conf",
        ),
        (None, vec![("ENF_CONFIG", "/env.conf")], &data, "/env.conf"),
        (
            None,
            vec![("ENF_CONFIG", "")],
            &data,
            "/data/enf0/enf0.conf",
        ),
        (None, vec![], &data, "/data/enf0/enf0.conf"),
        (None, vec![], &none, "/etc/enftun/enf0.conf"),
    ];
    for (cli, vars, exists, want) in table {
        let env = env_of(&vars);
        assert_eq!(
            locate_with(cli, &env, exists),
            PathBuf::from(want),
            "{cli:?} {vars:?}"
        );
    }
}
