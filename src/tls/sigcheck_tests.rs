//! `sigcheck` against signatures rustls and rcgen make: every supported family, good and
//! corrupted, the TLS 1.3 restrictions, and arbitrary bytes (never a panic).

use proptest::prelude::*;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;
use crate::tls::tests::{ca_params, params, self_signed, signed, vector_cert, Made, RSA_KEY_PEM};

const MESSAGE: &[u8] = b"ClientHello || ServerHello || ...";

#[derive(Clone, Copy, Debug)]
enum Kind {
    P256,
    P384,
    Ed25519,
    Rsa,
}

/// A fresh key (the fixed one for RSA): its PKCS#8 DER and its SubjectPublicKeyInfo.
fn key(kind: Kind) -> (PrivateKeyDer<'static>, Vec<u8>) {
    let pair = match kind {
        Kind::P256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        Kind::P384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        Kind::Ed25519 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519),
        Kind::Rsa => rcgen::KeyPair::from_pem(RSA_KEY_PEM),
    }
    .expect("key");
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.serialize_der()));
    (der, rcgen::PublicKeyData::subject_public_key_info(&pair))
}

/// A signature over `MESSAGE` with `scheme`, as rustls' signer makes it in a handshake.
fn sign(key: &PrivateKeyDer<'static>, scheme: SignatureScheme) -> Vec<u8> {
    let signing = rustls::crypto::ring::sign::any_supported_type(key).expect("signing key");
    let signer = signing
        .choose_scheme(&[scheme])
        .expect("scheme fits the key");
    signer.sign(MESSAGE).expect("sign")
}

#[test]
fn handshake_signatures() {
    use SignatureScheme as S;
    use Version::{Tls12, Tls13};
    let table: &[(Kind, S, Version)] = &[
        (Kind::P256, S::ECDSA_NISTP256_SHA256, Tls12),
        (Kind::P256, S::ECDSA_NISTP256_SHA256, Tls13),
        (Kind::P384, S::ECDSA_NISTP384_SHA384, Tls12),
        (Kind::P384, S::ECDSA_NISTP384_SHA384, Tls13),
        (Kind::Ed25519, S::ED25519, Tls12),
        (Kind::Ed25519, S::ED25519, Tls13),
        (Kind::Rsa, S::RSA_PKCS1_SHA256, Tls12),
        (Kind::Rsa, S::RSA_PKCS1_SHA384, Tls12),
        (Kind::Rsa, S::RSA_PKCS1_SHA512, Tls12),
        (Kind::Rsa, S::RSA_PSS_SHA256, Tls12),
        (Kind::Rsa, S::RSA_PSS_SHA384, Tls13),
        (Kind::Rsa, S::RSA_PSS_SHA512, Tls13),
    ];
    for &(kind, scheme, version) in table {
        let (private, spki) = key(kind);
        let sig = sign(&private, scheme);
        let label = format!("{kind:?} {scheme:?} {version:?}");
        assert_eq!(
            verify_handshake(&spki, version, scheme, MESSAGE, &sig),
            Ok(()),
            "{label}"
        );

        let mut corrupted = sig.clone();
        let last = corrupted.len() - 1;
        corrupted[last] ^= 0x01;
        let got = verify_handshake(&spki, version, scheme, MESSAGE, &corrupted);
        assert_eq!(
            got,
            Err(Error::BadSignature),
            "{label}, corrupted signature"
        );
        let got = verify_handshake(&spki, version, scheme, b"another message", &sig);
        assert_eq!(got, Err(Error::BadSignature), "{label}, other message");
        let (_, other_spki) = key(kind);
        if !matches!(kind, Kind::Rsa) {
            let got = verify_handshake(&other_spki, version, scheme, MESSAGE, &sig);
            assert_eq!(got, Err(Error::BadSignature), "{label}, other key");
        }
    }
}

#[test]
fn handshake_signature_refusals() {
    use SignatureScheme as S;
    use Version::{Tls12, Tls13};
    let (p256, p256_spki) = key(Kind::P256);
    let (rsa, rsa_spki) = key(Kind::Rsa);
    let p256_sig = sign(&p256, S::ECDSA_NISTP256_SHA256);
    let rsa_sig = sign(&rsa, S::RSA_PKCS1_SHA256);
    type Row<'a> = (&'a [u8], Version, S, &'a [u8], Error);
    let table: &[Row<'_>] = &[
        // RFC 8446 §4.2.3: no PKCS#1 v1.5 in TLS 1.3, even when the signature is good.
        (
            &rsa_spki,
            Tls13,
            S::RSA_PKCS1_SHA256,
            &rsa_sig,
            Error::NotAllowedInTls13(S::RSA_PKCS1_SHA256),
        ),
        (
            &p256_spki,
            Tls12,
            S::ED25519,
            &p256_sig,
            Error::WrongKeyType(KeyKind::P256),
        ),
        (
            &p256_spki,
            Tls12,
            S::RSA_PSS_SHA256,
            &p256_sig,
            Error::WrongKeyType(KeyKind::P256),
        ),
        (
            &rsa_spki,
            Tls12,
            S::ECDSA_NISTP256_SHA256,
            &rsa_sig,
            Error::WrongKeyType(KeyKind::Rsa),
        ),
        // TLS 1.3 binds the curve to the scheme; TLS 1.2 only the hash.
        (
            &p256_spki,
            Tls13,
            S::ECDSA_NISTP384_SHA384,
            &p256_sig,
            Error::WrongKeyType(KeyKind::P256),
        ),
        (
            &p256_spki,
            Tls12,
            S::ECDSA_NISTP384_SHA384,
            &p256_sig,
            Error::BadSignature,
        ),
        (
            &p256_spki,
            Tls12,
            S::ECDSA_SHA1_Legacy,
            &p256_sig,
            Error::UnsupportedScheme(S::ECDSA_SHA1_Legacy),
        ),
        (
            &p256_spki,
            Tls12,
            S::ECDSA_NISTP521_SHA512,
            &p256_sig,
            Error::UnsupportedScheme(S::ECDSA_NISTP521_SHA512),
        ),
        (
            b"\x30\x00",
            Tls12,
            S::ECDSA_NISTP256_SHA256,
            &p256_sig,
            Error::BadKey(x509::public_key(b"\x30\x00").expect_err("empty")),
        ),
    ];
    for (spki, version, scheme, sig, want) in table {
        let got = verify_handshake(spki, *version, *scheme, MESSAGE, sig);
        assert_eq!(got.as_ref(), Err(want), "{scheme:?} {version:?}");
    }
}

fn made(kind: Kind, cn: &str) -> (Made, rcgen::CertificateParams) {
    let p = ca_params(cn);
    let pair = match kind {
        Kind::P256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        Kind::P384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        Kind::Ed25519 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519),
        Kind::Rsa => rcgen::KeyPair::from_pem(RSA_KEY_PEM),
    }
    .expect("key");
    (self_signed(&p, pair), p)
}

#[test]
fn certificate_signatures() {
    let rsa_with = |alg| {
        let p = params("RSA CA", &[]);
        let pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(RSA_KEY_PEM, alg).expect("key");
        (self_signed(&p, pair), p)
    };
    let issuers = [
        made(Kind::P256, "P-256 CA"),
        made(Kind::P384, "P-384 CA"),
        made(Kind::Ed25519, "Ed25519 CA"),
        rsa_with(&rcgen::PKCS_RSA_SHA256),
        rsa_with(&rcgen::PKCS_RSA_SHA384),
        rsa_with(&rcgen::PKCS_RSA_SHA512),
    ];
    let stranger = made(Kind::P256, "Stranger").0;
    let stranger_spki = stranger.spki();
    for (issuer, issuer_p) in &issuers {
        for subject_kind in [Kind::P256, Kind::Ed25519] {
            let leaf = signed(
                &params("leaf", &[]),
                made(subject_kind, "x").0.key,
                issuer_p,
                issuer,
            );
            let cert = x509::parse(&leaf.cert).expect("leaf");
            let label = format!("{:?} under {:?}", subject_kind, issuer_p.distinguished_name);
            assert_eq!(verify_certificate(&cert, &issuer.spki()), Ok(()), "{label}");
            let got = verify_certificate(&cert, &stranger_spki);
            assert!(got.is_err(), "{label}: a stranger's key verified it");

            let mut bad = leaf.cert.to_vec();
            let last = bad.len() - 1;
            bad[last] ^= 0x01;
            let bad = x509::parse(&bad).expect("still a certificate");
            assert_eq!(
                verify_certificate(&bad, &issuer.spki()),
                Err(Error::BadSignature),
                "{label}"
            );
        }
    }
}

#[test]
fn vectors_are_self_signed() {
    let test = vector_cert("test.crt.pem");
    let router = vector_cert("router.crt.pem");
    let (test, router) = (
        x509::parse(&test).expect("t"),
        x509::parse(&router).expect("r"),
    );
    assert_eq!(verify_certificate(&test, test.spki), Ok(()));
    assert_eq!(verify_certificate(&router, router.spki), Ok(()));
    assert_eq!(
        verify_certificate(&router, test.spki),
        Err(Error::BadSignature)
    );
    let enf = vector_cert("enf.cacert.pem");
    let enf = x509::parse(&enf).expect("enf");
    assert_eq!(verify_certificate(&enf, enf.spki), Ok(()));
}

proptest! {
    #[test]
    fn arbitrary_keys_and_signatures(spki in proptest::collection::vec(any::<u8>(), 0..200),
                                     sig in proptest::collection::vec(any::<u8>(), 0..200)) {
        for scheme in SCHEMES {
            prop_assert!(verify_handshake(&spki, Version::Tls13, *scheme, MESSAGE, &sig).is_err());
        }
    }
}
