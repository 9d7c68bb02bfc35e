//! Tests of the DER certificate reader: the ENF vectors, built certificates, broken input.

use super::*;
use crate::identity::testcert::{self, KeyKind, Spec};
use proptest::prelude::*;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, ED25519};
use rustls_pki_types::alg_id;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/../shared/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let pem = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    CertificateDer::from_pem_slice(&pem)
        .expect("a certificate")
        .to_vec()
}

#[test]
fn reads_the_enf_vectors() {
    let table = [
        ("enf.cacert.pem", "XAPTUMROOT335817"),
        ("router.crt.pem", "router.enftun.example"),
        ("test.crt.pem", "fd008f80000100000000000000001234"),
    ];
    for (file, cn) in table {
        let der = vector(file);
        let c = parse(&der).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(c.version, 1, "{file}");
        assert_eq!(c.subject_cn.as_deref(), Some(cn), "{file}");
        assert_eq!(c.issuer_cn.as_deref(), Some(cn), "{file}");
        assert_eq!(c.issuer, c.subject, "{file} is self-signed");
        assert_eq!(c.not_before, -62_167_219_200, "{file}: 0000-01-01");
        assert_eq!(c.not_after, 253_402_300_799, "{file}: 9999-12-31 23:59:59");
        assert_eq!(c.extensions, None, "{file}");
        assert_eq!(
            c.signature_algorithm,
            alg_id::ECDSA_SHA256.as_ref(),
            "{file}"
        );
        let pk = public_key(c.spki).expect("spki");
        assert_eq!(pk.algorithm, alg_id::ECDSA_P256.as_ref(), "{file}");
        // The byte ranges are right if the self-signature verifies over them.
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, pk.key)
            .verify(c.tbs, c.signature)
            .unwrap_or_else(|_| panic!("{file}: signature"));
    }
}

#[test]
fn reads_built_certificates() {
    for (version, key) in [
        (1, KeyKind::P256),
        (2, KeyKind::P384),
        (3, KeyKind::Ed25519),
        (3, KeyKind::P256),
    ] {
        let spec = Spec {
            version,
            key,
            not_before: "700101000000Z",
            not_after: "20500101000000Z",
            ..Spec::default()
        };
        let built = testcert::build(&spec);
        let c = parse(&built.cert).unwrap_or_else(|e| panic!("v{version} {key:?}: {e}"));
        assert_eq!(c.version, version);
        assert_eq!(c.subject_cn.as_deref(), Some("fd00:8f80:1::99"));
        assert_eq!((c.not_before, c.not_after), (0, 2_524_608_000));
        assert_eq!(c.extensions.is_some(), version == 3);
        let pk = public_key(c.spki).expect("spki");
        let alg: &dyn ring::signature::VerificationAlgorithm = match key {
            KeyKind::P256 => &ECDSA_P256_SHA256_ASN1,
            KeyKind::P384 => &ECDSA_P384_SHA384_ASN1,
            KeyKind::Ed25519 => &ED25519,
        };
        UnparsedPublicKey::new(alg, pk.key)
            .verify(c.tbs, c.signature)
            .expect("signature");
    }
}

#[test]
fn names_without_a_cn_and_odd_string_types() {
    let c = testcert::build(&Spec {
        cn: None,
        ..Spec::default()
    });
    assert_eq!(parse(&c.cert).expect("cert").subject_cn, None);
    let attr = |tag: u8, v: &[u8]| {
        let a = testcert::tlv(
            0x30,
            &[
                testcert::tlv(0x06, &[0x55, 0x04, 0x03]),
                testcert::tlv(tag, v),
            ]
            .concat(),
        );
        testcert::tlv(0x30, &testcert::tlv(0x31, &a))
    };
    type Row<'a> = (u8, &'a [u8], Result<Option<&'a str>, &'a str>);
    let table: &[Row<'_>] = &[
        (0x13, b"fd00::1", Ok(Some("fd00::1"))),
        (0x16, b"fd00::1", Ok(Some("fd00::1"))),
        (0x14, b"caf\xe9", Ok(Some("caf\u{e9}"))),
        (0x1E, b"\x00f\x00d", Ok(Some("fd"))),
        (0x1C, b"\x00\x00\x00f", Ok(Some("f"))),
        (0x13, b"caf\xc3\xa9", Err("CN: badly encoded string")),
        (0x0C, b"\xff", Err("CN: badly encoded string")),
        (0x1E, b"\x00", Err("CN: badly encoded string")),
        (0x1E, b"\xd8\x00", Err("CN: badly encoded string")),
        (0x1C, b"\x00\x11\x00\x00", Err("CN: badly encoded string")),
        (0x02, b"\x01", Err("CN: not a string type")),
    ];
    for (tag, value, want) in table {
        let got = first_cn(&attr(*tag, value)).map_err(|e| e.to_string());
        let want = want.map(|o| o.map(String::from)).map_err(String::from);
        assert_eq!(got, want, "tag {tag:#x}");
    }
    let empty_rdn = testcert::tlv(0x30, &testcert::tlv(0x31, &[]));
    let want = Err("name: empty relative distinguished name".to_string());
    assert_eq!(first_cn(&empty_rdn).map_err(|e| e.to_string()), want);
}

#[test]
fn broken_certificates_give_errors() {
    let good = vector("test.crt.pem");
    let v1_ext = testcert::build(&Spec {
        extensions: true,
        ..Spec::default()
    })
    .cert;
    let patch = |from: &[u8], at: usize, byte: u8| {
        let mut v = from.to_vec();
        v[at] = byte;
        v
    };
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "certificate: SEQUENCE missing"),
        (
            "not a sequence",
            vec![0x02, 0x01, 0x00],
            "certificate: expected SEQUENCE, found INTEGER",
        ),
        (
            "trailing byte",
            [&good[..], &[0]].concat(),
            "certificate: unexpected data after the end",
        ),
        (
            "truncated",
            good[..good.len() - 1].to_vec(),
            "certificate: truncated DER",
        ),
        (
            "indefinite length",
            vec![0x30, 0x80, 0x00, 0x00],
            "certificate: bad DER length",
        ),
        (
            "long-form short length",
            vec![0x30, 0x81, 0x01, 0x00],
            "certificate: bad DER length",
        ),
        // test.crt.pem: version absent (v1), serial at 7, notBefore GeneralizedTime at 88.
        (
            "serial is not an integer",
            patch(&good, 7, 0x04),
            "serialNumber: expected INTEGER, found OCTET STRING",
        ),
        (
            "bad notBefore",
            patch(&good, 92, b'x'),
            "notBefore: time is not YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ",
        ),
        (
            "notBefore month 13",
            patch(&patch(&good, 94, b'1'), 95, b'3'),
            "notBefore: time has a field out of range",
        ),
        (
            "notBefore of wrong type",
            patch(&good, 88, 0x04),
            "notBefore: not a UTCTime or GeneralizedTime",
        ),
        (
            "high tag number",
            patch(&good, 88, 0x1f),
            "notBefore: unsupported DER tag",
        ),
        (
            "inner signature algorithm differs",
            patch(&good, 38, 0x03),
            "signature: differs from signatureAlgorithm",
        ),
        (
            "signature with unused bits",
            patch(&good, 272, 0x01),
            "signatureValue: bad DER length",
        ),
        (
            "extensions in v1",
            v1_ext,
            "extensions: present in a v1 or v2 certificate",
        ),
    ];
    for (what, der, want) in table {
        let got = parse(&der).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_string()), "{what}");
    }
}

#[test]
fn every_truncation_is_an_error() {
    for der in [
        vector("enf.cacert.pem"),
        testcert::build(&Spec {
            version: 3,
            ..Spec::default()
        })
        .cert,
    ] {
        for len in 0..der.len() {
            assert!(parse(&der[..len]).is_err(), "prefix of {len} bytes");
        }
    }
}

proptest! {
    #[test]
    fn never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse(&bytes);
        let _ = first_cn(&bytes);
        let _ = public_key(&bytes);
    }

    #[test]
    fn never_panics_on_mutated_certificates(at in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
        let mut der = vector("test.crt.pem");
        let at = at % der.len();
        der[at] = byte;
        der.truncate(der.len() - cut.min(der.len()) / 8);
        let _ = parse(&der);
    }
}
