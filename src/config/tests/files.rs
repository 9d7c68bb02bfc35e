//! Real files: the configurations shipped with the existing images and the reference client,
//! and the fixture with every syntax feature.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::{load_quiet, Origin, Prefix};
use super::{fixture, vector};

fn no_env(_: &str) -> Option<String> {
    None
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn enf36() -> Prefix {
    "2607:8f80:8000::/36".parse().expect("prefix")
}

#[test]
fn the_enf_services_file() {
    let path = vector("enf-services-enf0.conf");
    let cfg = load_quiet(&path, &no_env).expect("loads");
    assert_eq!(cfg.remote.hosts, s(&["23.147.128.112"]));
    assert_eq!(cfg.route.fwmark, 0);
    assert_eq!(cfg.route.prefixes, vec![enf36()]);
    assert_eq!(
        cfg.remote.ca_cert_file,
        Path::new("/etc/enftun/enf.cacert.pem")
    );
    assert_eq!(
        cfg.identity.cert_file.as_deref(),
        Some(Path::new("/data/enf0/enf0.crt.pem"))
    );
    assert_eq!(
        cfg.identity.key_file.as_deref(),
        Some(Path::new("/data/enf0/enf0.key.pem"))
    );
    assert_eq!((cfg.remote.port, cfg.tun.dev.as_str()), (443, "enf0"));
    assert_eq!(cfg.origin("route.fwmark"), Origin::File { line: 35 });
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn the_reference_test_file() {
    let path = vector("enftun-test.conf");
    let cfg = load_quiet(&path, &no_env).expect("loads");
    let dir = vector("");
    assert_eq!(cfg.remote.hosts, s(&["localhost"]));
    assert_eq!(cfg.remote.port, 4443);
    assert_eq!(cfg.remote.heartbeat_period, Duration::from_millis(15_000));
    assert_eq!(cfg.remote.heartbeat_timeout, Duration::from_millis(5_000));
    assert!(cfg.route.allow_ipv4);
    assert_eq!(cfg.route.prefixes, vec![enf36()]);
    assert_eq!(cfg.remote.ca_cert_file, dir.join("test/router.crt.pem"));
    assert_eq!(cfg.identity.cert_file, Some(dir.join("test/test.crt.pem")));
    assert_eq!(cfg.identity.key_file, Some(dir.join("test/test.key.pem")));
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn the_reference_example_files() {
    let path = vector("enftun-example-device.conf");
    let cfg = load_quiet(&path, &no_env).expect("loads");
    let file = path.display();
    let tail = "is not supported (hardware provisioning); identity.cert_file and identity.key_file are loaded as files";
    assert_eq!(
        cfg.warnings,
        vec![
            format!("{file}:101: identity.tpm {tail}"),
            format!("{file}:110: identity.xtt {tail}")
        ]
    );
    assert_eq!(cfg.identity.cert_file, Some(vector("enf0/enf0.crt.pem")));
    assert_eq!(cfg.route.prefixes, vec![Prefix::Default]);

    let cfg = load_quiet(&vector("enftun-example-server.conf"), &no_env).expect("loads");
    assert_eq!(cfg.route.prefixes, vec![enf36()]);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn the_every_feature_fixture() {
    let path = fixture("every-feature.conf");
    let cfg = load_quiet(&path, &no_env).expect("loads");
    let dir: PathBuf = fixture("");
    assert_eq!(cfg.version, "1.0");
    assert_eq!(cfg.tun.dev, "enf7");
    assert_eq!(cfg.tun.dev_node, Path::new("/dev/net/tun"));
    assert!(cfg.tun.ip_set);
    assert_eq!(cfg.tun.ip_path, "/sbin/ip");
    assert_eq!(
        cfg.remote.hosts,
        s(&["a.example", "192.0.2.1", "2001:db8::1"])
    );
    assert_eq!(cfg.remote.port, 4443);
    assert_eq!(cfg.remote.ca_cert_file, dir.join("certs/ca.pem"));
    assert_eq!(cfg.remote.heartbeat_period, Duration::from_millis(15_000));
    assert_eq!(cfg.remote.heartbeat_timeout, Duration::from_millis(5_000));
    assert_eq!(
        cfg.remote.server_name.as_deref(),
        Some("router.enftun.example")
    );
    assert_eq!((cfg.route.fwmark, cfg.route.table), (0, 100));
    assert_eq!(cfg.route.prefixes, vec![Prefix::Default, enf36()]);
    assert!(cfg.route.trusted_interfaces.is_empty());
    assert!(!cfg.route.allow_ipv4);
    assert_eq!(cfg.route.ra_period, Duration::from_millis(600_000));
    assert_eq!(
        cfg.identity.cert_file.as_deref(),
        Some(Path::new("/data/enf0/a \"quoted\" name.pem"))
    );
    assert_eq!(
        cfg.identity.key_file,
        Some(dir.join("tab\there\\back\rcr\x0cff\nnl.key"))
    );
    let file = path.display();
    assert_eq!(
        cfg.warnings,
        vec![
            format!("{file}:35: unknown key identity.extra, ignored"),
            format!("{file}:38: unknown key unknown_top, ignored")
        ]
    );
}

#[test]
fn a_missing_or_broken_file_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.conf");
    let broken = dir.path().join("broken.conf");
    std::fs::write(&broken, "remote = {\n  hosts = [ \"a\" \n}\n").expect("write");
    let table = [
        (
            missing.clone(),
            format!("cannot read config file {}: not found", missing.display()),
        ),
        (
            dir.path().to_path_buf(),
            format!(
                "cannot read config file {}: is a directory",
                dir.path().display()
            ),
        ),
        (
            broken.clone(),
            format!("{}:3:1: expected `,` or `]`, found `}}`", broken.display()),
        ),
    ];
    for (path, want) in table {
        assert_eq!(
            load_quiet(&path, &no_env)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(want)
        );
    }
}
