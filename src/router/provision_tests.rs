//! Tests for `router::provision`.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors")
        .join(name)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn init_makes_a_private_ca_and_a_server_certificate_it_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("parent/router");
    let ca_der = init(&dir, &[]).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&registry::endpoints_dir(&dir)), 0o700);
    assert_eq!(mode(&dir.join(CA_KEY)), 0o600);
    assert_eq!(mode(&dir.join(SERVER_KEY)), 0o600);
    assert_eq!(hosts(&dir).unwrap(), DEFAULT_HOSTS);

    let ca = x509::parse(&ca_der).unwrap();
    assert_eq!(ca.version, 3);
    // basicConstraints (2.5.29.19), critical, cA TRUE.
    assert!(contains(
        ca.extensions.unwrap(),
        &[0x06, 0x03, 0x55, 0x1d, 0x13]
    ));
    let server_pem = std::fs::read(dir.join(SERVER_CERT)).unwrap();
    let server_der = CertificateDer::from_pem_slice(&server_pem).unwrap();
    let server = x509::parse(&server_der).unwrap();
    assert_eq!(server.issuer, ca.subject);
    assert_eq!(server.subject_cn.as_deref(), Some("localhost"));
    let sans = server.extensions.unwrap();
    assert!(contains(sans, b"localhost") && contains(sans, &[127, 0, 0, 1]));
    let ca_key = x509::public_key(ca.spki).unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, ca_key.key)
        .verify(server.tbs, server.signature)
        .unwrap();
    let years = (server.not_after - server.not_before) / (365 * 86_400);
    assert_eq!(years, 2);

    let again = init(&dir, &["example.org".to_string()]).unwrap_err();
    assert!(matches!(again, Error::Exists { .. }), "{again}");
    assert!(again
        .to_string()
        .ends_with("already exists and is not empty; init never overwrites a directory"));
    assert_eq!(std::fs::read(dir.join(SERVER_CERT)).unwrap(), server_pem);
}

#[test]
fn written_endpoint_loads_as_enf_init_loads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("router");
    init(&dir, &["router.test".to_string(), "::1".to_string()]).unwrap();
    let addr: Ipv6Addr = "fd00:8f80:1::42".parse().unwrap();
    let remote = Remote {
        hosts: hosts(&dir).unwrap(),
        port: 4443,
        prefixes: default_prefixes(addr),
    };
    let out = tmp.path().join("a/b/enf0");
    let spki = write_endpoint(&dir, &out, addr, &remote).unwrap();
    assert_eq!(mode(&out.join(KEY_FILE)), 0o600);
    let text = std::fs::read_to_string(out.join(CONF_FILE)).unwrap();
    assert!(
        text.contains("ca_cert_file = \"enf.cacert.pem\";"),
        "{text}"
    );
    assert!(text.contains("key_file = \"enf0.key.pem\";"), "{text}");
    assert!(text.contains("fwmark = 0;"), "{text}");

    let cfg = crate::config::load_quiet(&out.join(CONF_FILE), &|_| None).unwrap();
    assert_eq!(cfg.remote.hosts, ["router.test", "::1"]);
    assert_eq!(cfg.remote.port, 4443);
    assert_eq!(cfg.remote.ca_cert_file, out.join(CA_FILE));
    assert_eq!(
        cfg.route
            .prefixes
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        ["fc00::/7"]
    );
    let id = crate::identity::load_quiet(&cfg).unwrap();
    assert_eq!(id.address, addr);
    assert_eq!(id.subject_cn, "fd00:8f80:1::42");
    assert!(id.warnings.is_empty(), "{:?}", id.warnings);
    let cert = x509::parse(&id.cert).unwrap();
    assert_eq!(cert.spki, &spki[..]);
    assert_eq!(id.ca.len(), 1);

    let not_router = tmp.path().join("nothing");
    let e = write_endpoint(&not_router, &tmp.path().join("x"), addr, &remote).unwrap_err();
    assert!(
        e.to_string().contains("is not an enf-router directory"),
        "{e}"
    );
    assert!(!tmp.path().join("x").exists());
}

#[test]
fn public_key_files() {
    let tmp = tempfile::tempdir().unwrap();
    let vector_addr: Ipv6Addr = "fd00:8f80:1::1234".parse().unwrap();
    let cert_pem = std::fs::read(vector("test.crt.pem")).unwrap();
    let cert_der = CertificateDer::from_pem_slice(&cert_pem).unwrap();
    let want = x509::parse(&cert_der).unwrap().spki.to_vec();
    assert_eq!(
        read_public_key(&vector("test.crt.pem"), vector_addr).unwrap(),
        want
    );

    let write = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let der = write("cert.der", cert_der.as_ref());
    assert_eq!(read_public_key(&der, vector_addr).unwrap(), want);
    let spki_pem = write("key.pub", registry::pem("PUBLIC KEY", &want).as_bytes());
    let other: Ipv6Addr = "fd00::9".parse().unwrap();
    assert_eq!(read_public_key(&spki_pem, other).unwrap(), want);
    let spki_der = write("key.der", &want);
    assert_eq!(read_public_key(&spki_der, other).unwrap(), want);

    let table: &[(PathBuf, &str)] = &[
        (vector("test.crt.pem"), "certificate is for fd00:8f80:1::1234 (CN \"fd008f80000100000000000000001234\"), not fd00::9"),
        (vector("router.crt.pem"), "CN \"router.enftun.example\" is not an IPv6 unicast address"),
        (vector("test.key.pem"), "neither a PUBLIC KEY nor a CERTIFICATE (PEM or DER)"),
        (write("empty", b""), "neither a PUBLIC KEY nor a CERTIFICATE (PEM or DER)"),
        (write("junk.der", &[0x30, 0x03, 1, 2, 3]), "not a certificate: "),
        (tmp.path().join("missing"), "not found"),
        (tmp.path().to_path_buf(), "not a public key or certificate file"),
    ];
    for (path, want) in table {
        let e = read_public_key(path, other).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: {want}", path.display())), "{e}");
    }
}

#[test]
fn prefixes_by_address() {
    let show = |a: &str| default_prefixes(a.parse().unwrap())[0].to_string();
    assert_eq!(show("fd00:8f80:1::1234"), "fc00::/7");
    assert_eq!(show("fc12::1"), "fc00::/7");
    assert_eq!(show("2607:8f80:8000::1"), "default");
    assert_eq!(show("fe00::1"), "default");
}
