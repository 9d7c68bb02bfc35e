//! Tests of credential loading: the ENF vectors, every key type, and each failure's one line.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::testcert::{self, KeyKind, Spec};
use super::*;

/// 2026-01-01, a "now" inside every test certificate's validity unless a test says otherwise.
const NOW: i64 = 1_767_225_600;

use crate::testdata::{fixture, vector};

fn config(cert: &Path, key: &Path, ca: &Path) -> Config {
    let mut cfg = Config::defaults(Path::new("/etc/enftun/enf0.conf"));
    cfg.identity.cert_file = Some(cert.to_path_buf());
    cfg.identity.key_file = Some(key.to_path_buf());
    cfg.remote.ca_cert_file = ca.to_path_buf();
    cfg
}

fn write(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_test_vector_gives_its_address() {
    let cfg = config(
        &vector("test.crt.pem"),
        &vector("test.key.pem"),
        &vector("enf.cacert.pem"),
    );
    let id = load_at(&cfg, NOW).expect("vectors load");
    assert_eq!(id.address.to_string(), "fd00:8f80:1::1234");
    assert_eq!(id.subject_cn, "fd008f80000100000000000000001234");
    assert_eq!(id.key_type, "EC P-256");
    assert_eq!(
        (id.not_before, id.not_after),
        (-62_167_219_200, 253_402_300_799)
    );
    assert_eq!(id.ca.len(), 1);
    assert!(id.chain.is_empty());
}

#[test]
fn the_ca_vectors_load_alone_and_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let both = [
        read(&vector("enf.cacert.pem")),
        read(&vector("router.crt.pem")),
    ]
    .concat();
    let both = write(dir.path(), "both.pem", &both, 0o644);
    for (path, count) in [
        (vector("enf.cacert.pem"), 1),
        (vector("router.crt.pem"), 1),
        (both, 2),
    ] {
        let certs = load_ca(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(certs.len(), count, "{}", path.display());
    }
}

#[test]
fn a_key_that_does_not_match_is_caught() {
    let cfg = config(
        &vector("test.crt.pem"),
        &vector("router.key.pem"),
        &vector("enf.cacert.pem"),
    );
    let err = load_at(&cfg, NOW).expect_err("router key with test certificate");
    let want = format!(
        "{}: private key does not match the certificate {}",
        vector("router.key.pem").display(),
        vector("test.crt.pem").display()
    );
    assert_eq!(err.to_string(), want);
}

#[test]
fn der_forms_load_like_pem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = CertificateDer::from_pem_slice(&read(&vector("test.crt.pem"))).expect("cert");
    let key = PrivateKeyDer::from_pem_slice(&read(&vector("test.key.pem"))).expect("key");
    let ca = CertificateDer::from_pem_slice(&read(&vector("enf.cacert.pem"))).expect("ca");
    let cert = write(dir.path(), "c.der", &cert, 0o644);
    let key = write(dir.path(), "k.der", key.secret_der(), 0o600);
    let ca = write(dir.path(), "ca.der", &ca, 0o644);
    let id = load_at(&config(&cert, &key, &ca), NOW).expect("DER loads");
    assert_eq!(id.address.to_string(), "fd00:8f80:1::1234");
    assert!(matches!(id.key, PrivateKeyDer::Sec1(_)));
    assert!(id.warnings.is_empty(), "{:?}", id.warnings);
}

#[test]
fn every_key_type_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = vector("enf.cacert.pem");
    for (kind, name) in [
        (KeyKind::P256, "EC P-256"),
        (KeyKind::P384, "EC P-384"),
        (KeyKind::Ed25519, "Ed25519"),
    ] {
        let built = testcert::build(&Spec {
            key: kind,
            version: 3,
            ..Spec::default()
        });
        let cert = write(
            dir.path(),
            "c.pem",
            testcert::pem("CERTIFICATE", &built.cert).as_bytes(),
            0o644,
        );
        let key = write(
            dir.path(),
            "k.pem",
            testcert::pem("PRIVATE KEY", &built.key).as_bytes(),
            0o600,
        );
        let id = load_at(&config(&cert, &key, &ca), NOW).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (id.key_type, id.address.to_string().as_str()),
            (name, "fd00:8f80:1::99")
        );
    }
    let id = load_at(
        &config(&fixture("rsa.crt.pem"), &fixture("rsa.key.pem"), &ca),
        NOW,
    )
    .expect("RSA");
    assert_eq!(
        (id.key_type, id.address.to_string().as_str()),
        ("RSA", "fd00:8f80:1::2")
    );
}

#[test]
fn a_chain_file_keeps_its_intermediates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = [
        read(&vector("test.crt.pem")),
        read(&vector("enf.cacert.pem")),
    ]
    .concat();
    let cert = write(dir.path(), "chain.pem", &chain, 0o644);
    let id = load_at(
        &config(&cert, &vector("test.key.pem"), &vector("enf.cacert.pem")),
        NOW,
    )
    .expect("chain");
    assert_eq!(id.chain.len(), 1);
}

#[test]
fn validity_and_cn_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = vector("enf.cacert.pem");
    let p = |name: &str| dir.path().join(name).display().to_string();
    let table: &[(&str, Spec<'_>, String)] = &[
        (
            "expired",
            Spec { not_before: "000101000000Z", not_after: "010101000000Z", ..Spec::default() },
            format!("{}: certificate expired on 2001-01-01 00:00:00 UTC", p("expired.pem")),
        ),
        (
            "future",
            Spec { not_before: "20900101000000Z", ..Spec::default() },
            format!("{}: certificate is not valid before 2090-01-01 00:00:00 UTC", p("future.pem")),
        ),
        (
            "name",
            Spec { cn: Some("router.enftun.example"), ..Spec::default() },
            format!(
                "{}: CN \"router.enftun.example\" is not an IPv6 unicast address (expected e.g. 2607:8f80::1 or 32 hex digits)",
                p("name.pem")
            ),
        ),
        ("nocn", Spec { cn: None, ..Spec::default() }, format!("{}: certificate has no subject CN", p("nocn.pem"))),
    ];
    for (name, spec, want) in table {
        let built = testcert::build(spec);
        let cert = write(
            dir.path(),
            &format!("{name}.pem"),
            testcert::pem("CERTIFICATE", &built.cert).as_bytes(),
            0o644,
        );
        let key = write(
            dir.path(),
            "k.pem",
            testcert::pem("PRIVATE KEY", &built.key).as_bytes(),
            0o600,
        );
        let got = load_at(&config(&cert, &key, &ca), NOW)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want.clone()), "{name}");
    }
    // The validity bounds are inclusive.
    let path = Path::new("c.pem");
    assert!(check_validity(path, 10, 20, 10).is_ok() && check_validity(path, 10, 20, 20).is_ok());
    assert!(check_validity(path, 10, 20, 9).is_err() && check_validity(path, 10, 20, 21).is_err());
}

#[test]
fn each_file_problem_is_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (cert, key, ca) = (
        vector("test.crt.pem"),
        vector("test.key.pem"),
        vector("enf.cacert.pem"),
    );
    let key_pem = read(&key);
    let cert_pem = String::from_utf8(read(&cert)).expect("PEM is text");
    let text = write(d, "text.pem", b"hello\n", 0o644);
    let truncated = write(
        d,
        "trunc.pem",
        cert_pem
            .replace("-----END CERTIFICATE-----\n", "")
            .as_bytes(),
        0o644,
    );
    let base64 = write(
        d,
        "b64.pem",
        cert_pem.replacen("MII", "M*I", 1).as_bytes(),
        0o644,
    );
    let enc = write(
        d,
        "enc.pem",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        0o600,
    );
    let der_junk = write(d, "junk.der", &[0x30, 0x01], 0o600);
    // A PKCS#8 structure with an algorithm nobody supports (OID 1.2.3).
    let odd = write(
        d,
        "odd.der",
        &[
            0x30, 0x0b, 0x02, 0x01, 0x00, 0x30, 0x03, 0x06, 0x01, 0x2a, 0x04, 0x01, 0x00,
        ],
        0o600,
    );
    let key_as_cert = write(d, "key-as-cert.pem", &key_pem, 0o600);
    let missing = d.join("missing.pem");
    let s = |p: &Path| p.display().to_string();
    let table: Vec<(&str, Config, String)> = vec![
        ("missing cert", config(&missing, &key, &ca), format!("{}: no such file", s(&missing))),
        ("directory", config(d, &key, &ca), format!("{}: cannot read: is a directory", s(d))),
        ("text", config(&text, &key, &ca), format!("{}: neither PEM nor DER", s(&text))),
        ("key as cert", config(&key_as_cert, &key, &ca), format!("{}: not a certificate: no CERTIFICATE block (found EC PRIVATE KEY)", s(&key_as_cert))),
        ("cert as key", config(&cert, &cert, &ca), format!("{}: not a private key: no PRIVATE KEY block (found CERTIFICATE)", s(&cert))),
        ("no END", config(&truncated, &key, &ca), format!("{}: bad PEM: a block has no END line", s(&truncated))),
        ("bad base64", config(&base64, &key, &ca), format!("{}: bad PEM: a block is not valid base64", s(&base64))),
        ("encrypted", config(&cert, &enc, &ca), format!("{}: not a private key: encrypted; decrypt it first (openssl pkey -in KEY -out KEY)", s(&enc))),
        ("DER junk cert", config(&der_junk, &key, &ca), format!("{}: not a certificate: certificate: truncated DER", s(&der_junk))),
        ("DER junk key", config(&cert, &der_junk, &ca), format!("{}: not a private key: DER data is not a PKCS#8, SEC1 or PKCS#1 private key", s(&der_junk))),
        ("odd key", config(&cert, &odd, &ca), format!("{}: unsupported private key type (not EC P-256/P-384, Ed25519 or RSA 2048+)", s(&odd))),
        ("missing CA", config(&cert, &key, &missing), format!("{}: no such file", s(&missing))),
        ("key as CA", config(&cert, &key, &key_as_cert), format!("{}: not a certificate: no CERTIFICATE block (found EC PRIVATE KEY)", s(&key_as_cert))),
    ];
    for (what, cfg, want) in table {
        let got = load_at(&cfg, NOW).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(got, Err(want), "{what}");
    }
    let mut unset = config(&cert, &key, &ca);
    unset.identity.cert_file = None;
    let want = "identity.cert_file is not set (set it in the config file or with ENF_CERT)";
    assert_eq!(
        load_at(&unset, NOW).map(|_| ()).map_err(|e| e.to_string()),
        Err(want.to_string())
    );
}

// An unreadable key (permission denied) is tested in tests/config_cli.rs, as an unprivileged
// user: root reads any file whatever its mode.

#[test]
fn a_key_readable_by_others_is_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = read(&vector("test.key.pem"));
    for (mode, warned) in [(0o600, false), (0o400, false), (0o640, true), (0o604, true)] {
        let key = write(dir.path(), "k.pem", &pem, mode);
        let cfg = config(&vector("test.crt.pem"), &key, &vector("enf.cacert.pem"));
        let id = load_at(&cfg, NOW).expect("loads");
        let want: Vec<String> = match warned {
            true => vec![format!(
                "{}: private key is readable by group or others (mode {mode:04o}); chmod 600 it",
                key.display()
            )],
            false => vec![],
        };
        assert_eq!(id.warnings, want, "mode {mode:o}");
    }
}
