//! Tests for `router::registry`.

use super::*;

fn spki() -> Vec<u8> {
    use rcgen::PublicKeyData;
    rcgen::KeyPair::generate()
        .unwrap()
        .subject_public_key_info()
}

fn router_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(endpoints_dir(dir.path())).unwrap();
    dir
}

#[test]
fn file_names() {
    let a: Ipv6Addr = "fd00:8f80:1::1234".parse().unwrap();
    assert_eq!(file_name(a), "fd008f80000100000000000000001234.pem");
    assert_eq!(address_of(&file_name(a)), Some(a));
    for bad in [
        "FD008F80000100000000000000001234.pem",
        "fd008f8000010000000000000000123.pem",
        "fd008f80000100000000000000001234",
        "fd008f80000100000000000000001234.pem.bak",
        "+d008f80000100000000000000001234.pem",
        "fd00::1.pem",
    ] {
        assert_eq!(address_of(bad), None, "{bad}");
    }
}

#[test]
fn round_trip_replace_remove() {
    let dir = router_dir();
    let (a, b): (Ipv6Addr, Ipv6Addr) = ("fd00::1".parse().unwrap(), "2001:db8::2".parse().unwrap());
    let (k1, k2) = (spki(), spki());
    assert_eq!(register(dir.path(), a, &k1).unwrap(), None);
    assert_eq!(register(dir.path(), b, &k1).unwrap(), None);
    assert_eq!(register(dir.path(), a, &k2).unwrap(), Some(k1.clone()));
    let (map, warnings) = load_quiet(dir.path()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(map, HashMap::from([(a, k2), (b, k1)]));
    assert!(remove(dir.path(), a).unwrap());
    assert!(!remove(dir.path(), a).unwrap());
    assert_eq!(load(dir.path()).unwrap().len(), 1);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(endpoints_dir(dir.path()))
        .unwrap()
        .collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn malformed_files_are_skipped_with_one_warning_each() {
    let dir = router_dir();
    let good: Ipv6Addr = "fd00::1".parse().unwrap();
    register(dir.path(), good, &spki()).unwrap();
    let eps = endpoints_dir(dir.path());
    std::fs::write(eps.join("fd000000000000000000000000000002.pem"), "garbage").unwrap();
    let broken = pem("PUBLIC KEY", b"\x30\x03\x02\x01\x00");
    std::fs::write(eps.join("fd000000000000000000000000000003.pem"), broken).unwrap();
    std::fs::write(eps.join("README"), "hello").unwrap();
    std::fs::write(eps.join(".x.pem.1.0.tmp"), "in flight").unwrap();
    let (map, warnings) = load_quiet(dir.path()).unwrap();
    assert_eq!(map.keys().collect::<Vec<_>>(), vec![&good]);
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    for name in [
        "fd000000000000000000000000000002.pem",
        "fd000000000000000000000000000003.pem",
        "README",
    ] {
        let w = warnings.iter().find(|w| w.contains(name)).unwrap();
        assert!(w.ends_with("; skipped"), "{w}");
    }
}

#[test]
fn not_a_router_dir() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path()).unwrap_err();
    assert!(matches!(e, Error::NotARouterDir { .. }));
    assert!(e.to_string().ends_with(
        "is not an enf-router directory (no endpoints/; create one with `enf-router init DIR`)"
    ));
    assert!(register(dir.path(), Ipv6Addr::LOCALHOST, &spki()).is_err());
    assert!(remove(dir.path(), Ipv6Addr::LOCALHOST).is_err());
}

#[test]
fn fingerprint_format() {
    let fp = fingerprint(b"");
    assert_eq!(fp.len(), 32 * 3 - 1);
    assert!(fp.starts_with("E3:B0:C4:42:98:FC:1C:14:"), "{fp}");
    assert!(fp.ends_with(":78:52:B8:55"), "{fp}");
}

#[test]
fn base64_and_pem() {
    let table = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (input, want) in table {
        assert_eq!(base64(input.as_bytes()), want, "{input:?}");
    }
    let key = spki();
    let text = pem("PUBLIC KEY", &key);
    assert!(text.lines().all(|l| l.len() <= 64));
    assert_eq!(spki_from_pem(text.as_bytes()).unwrap(), key);
    let long = vec![0xa5u8; 200];
    let cert = pem("CERTIFICATE", &long);
    let back = rustls_pki_types::CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    assert_eq!(back.as_ref(), &long[..]);
}

#[test]
fn sessions_and_pid() {
    let text = "fd00::1\n\n  2001:db8::2 \nnot an address\n";
    let want: HashSet<Ipv6Addr> =
        ["fd00::1".parse().unwrap(), "2001:db8::2".parse().unwrap()].into();
    assert_eq!(parse_sessions(text), want);

    let dir = tempfile::tempdir().unwrap();
    let run = run_dir(dir.path());
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("sessions"), text).unwrap();
    // Our own pid is alive but not an enf-router: a recycled pid must not count.
    let me = std::process::id().to_string();
    for pid in ["0", "-1", "garbage", "", me.as_str()] {
        std::fs::write(run.join("pid"), pid).unwrap();
        assert_eq!(server_pid(dir.path()), None, "pid {pid:?}");
        assert!(connected(dir.path()).is_empty());
    }
}

#[test]
fn atomic_write_sets_the_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    write_atomic(&path, b"one", 0o600).unwrap();
    write_atomic(&path, b"two", 0o600).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
