//! The router's verifier in real handshakes: which endpoints it admits, and the reason it gives
//! for each refusal. The server is always the v1 router vector; each case runs over TLS 1.2
//! and 1.3.

use std::net::Ipv6Addr;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::*;
use crate::tls::{
    client_config_with_versions, peer_address, refusal_of, server_config,
    server_config_with_versions, Error, Refusal, Refused,
};

const OTHER: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 5);

struct Case {
    name: &'static str,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    registry: Registry,
    /// `Ok(address)` from `peer_address`, or what `refusal_of` must give.
    want: Result<Ipv6Addr, Refused>,
    /// A piece of the server's error message.
    message: &'static str,
}

fn refused(address: Option<Ipv6Addr>, refusal: Refusal) -> Result<Ipv6Addr, Refused> {
    Err(Refused { address, refusal })
}

fn cases() -> Vec<Case> {
    let test_spki = registry_with_test_vector().0[0].1.clone();
    let vector = |name, registry, want, message| Case {
        name,
        cert: vector_cert("test.crt.pem"),
        key: vector_key("test.key.pem"),
        registry,
        want,
        message,
    };
    let made = |name, m: Made, register: Option<Ipv6Addr>, want, message| Case {
        name,
        registry: Registry(register.map(|a| (a, m.spki())).into_iter().collect()),
        cert: m.cert.clone(),
        key: m.key_der(),
        want,
        message,
    };
    let other_key = p256();
    let other_spki = rcgen::PublicKeyData::subject_public_key_info(&other_key);

    let mut expired_p = params("fd00::5", &[]);
    expired_p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let mut future_p = params("fd00::5", &[]);
    future_p.not_before = rcgen::date_time_ymd(2999, 1, 1);
    let mut no_cn_p = params("x", &[]);
    no_cn_p.distinguished_name = rcgen::DistinguishedName::new();
    let ed25519 = || KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");

    vec![
        vector(
            "registered v1 vector",
            Registry(vec![(TEST_ADDRESS, test_spki.clone())]),
            Ok(TEST_ADDRESS),
            "",
        ),
        vector(
            "unregistered key",
            Registry(vec![(OTHER, other_spki.clone())]),
            refused(Some(TEST_ADDRESS), Refusal::UnknownKey),
            "invalid peer certificate: client fd00:8f80:1::1234 refused: unknown key: no endpoint is registered with it",
        ),
        vector(
            "address registered with another key",
            Registry(vec![(TEST_ADDRESS, other_spki)]),
            refused(Some(TEST_ADDRESS), Refusal::KeyMismatch),
            "client fd00:8f80:1::1234 refused: key differs from the one registered for the address",
        ),
        vector(
            "key registered for another address",
            Registry(vec![(OTHER, test_spki)]),
            refused(Some(TEST_ADDRESS), Refusal::NotRegistered),
            "client fd00:8f80:1::1234 refused: address not registered",
        ),
        made(
            "CN is not an address",
            self_signed(&params("router.example", &[]), p256()),
            Some(OTHER),
            refused(None, Refusal::BadCn(crate::identity::address_from_cn("router.example").expect_err("not an address").to_string())),
            "client refused: client certificate CN \"router.example\" is not an IPv6 unicast address",
        ),
        made(
            "no CN",
            self_signed(&no_cn_p, p256()),
            Some(OTHER),
            refused(None, Refusal::NoCn),
            "client refused: client certificate has no subject CN",
        ),
        made(
            "expired client certificate",
            self_signed(&expired_p, p256()),
            Some(OTHER),
            refused(Some(OTHER), Refusal::Expired { not_after: 978_307_200 }),
            "client fd00::5 refused: client certificate expired on 2001-01-01 00:00:00 UTC",
        ),
        made(
            "client certificate not yet valid",
            self_signed(&future_p, p256()),
            Some(OTHER),
            refused(Some(OTHER), Refusal::NotYetValid { not_before: 32_472_144_000 }),
            "client fd00::5 refused: client certificate is not valid before 2999-01-01 00:00:00 UTC",
        ),
        made("registered Ed25519 endpoint", self_signed(&params("fd00::5", &[]), ed25519()), Some(OTHER), Ok(OTHER), ""),
        made(
            "registered RSA endpoint",
            self_signed(&params("fd000000000000000000000000000005", &[]), KeyPair::from_pem(RSA_KEY_PEM).expect("RSA key")),
            Some(OTHER),
            Ok(OTHER),
            "",
        ),
    ]
}

#[test]
fn client_certificates() {
    for c in cases() {
        let registry = Arc::new(Registry(c.registry.0.clone()));
        for version in VERSIONS {
            let label = format!("{} over {:?}", c.name, version.version);
            let id = identity(
                c.cert.clone(),
                c.key.clone_key(),
                vec![vector_cert("router.crt.pem")],
            );
            let client_cfg = client_config_with_versions(&id, None, &[version]).expect("client");
            let server_cfg = server_config_with_versions(
                vec![vector_cert("router.crt.pem")],
                vector_key("router.key.pem"),
                registry.clone(),
                &[version],
            )
            .expect("server");
            let name = crate::tls::server_name_for("::1", None);
            let (_, server, out) = connect(client_cfg, server_cfg, name);
            match &c.want {
                Ok(address) => {
                    assert!(out.ok(), "{label}: {}", out.errors());
                    assert_eq!(peer_address(&server), Some(*address), "{label}");
                }
                Err(want) => {
                    let err = out.server.as_ref().expect_err(&label);
                    assert_eq!(refusal_of(err), Some(want), "{label}");
                    let message = crate::tls::describe(err);
                    assert!(message.contains(c.message), "{label}: {message}");
                    // rustls' own Display still shows the reason, inside its wrapping.
                    assert!(
                        err.to_string().contains(&want.to_string()),
                        "{label}: {err}"
                    );
                    assert!(
                        matches!(out.client, Err(rustls::Error::AlertReceived(_))),
                        "{label}: {}",
                        out.errors()
                    );
                    assert_eq!(peer_address(&server), None, "{label}: refused, so no peer");
                }
            }
        }
    }
}

#[test]
fn client_handshake_signature_is_checked() {
    // The client shows the registered test certificate but signs with another key.
    let other = p256();
    let key = PrivateKeyDer::Pkcs8(other.serialize_der().into());
    for version in VERSIONS {
        let id = identity(
            vector_cert("test.crt.pem"),
            key.clone_key(),
            vec![vector_cert("router.crt.pem")],
        );
        let client_cfg = client_config_with_versions(&id, None, &[version]).expect("client");
        let server_cfg = server_config_with_versions(
            vec![vector_cert("router.crt.pem")],
            vector_key("router.key.pem"),
            registry_with_test_vector(),
            &[version],
        )
        .expect("server");
        let (_, server, out) = connect(
            client_cfg,
            server_cfg,
            crate::tls::server_name_for("::1", None),
        );
        assert!(
            matches!(
                out.server,
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::BadSignature
                ))
            ),
            "{:?}: {}",
            version.version,
            out.errors()
        );
        assert_eq!(peer_address(&server), None);
    }
}

#[test]
fn server_config_errors() {
    let registry = || registry_with_test_vector() as Arc<dyn crate::tls::ClientCheck>;
    let router = vector_cert("router.crt.pem");
    let garbage = CertificateDer::from(b"not a certificate".to_vec());
    let table: Vec<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, Error)> = vec![
        (vec![], vector_key("router.key.pem"), Error::NoCertificate),
        (
            vec![router.clone()],
            vector_key("test.key.pem"),
            Error::KeyMismatch,
        ),
        (
            vec![garbage],
            vector_key("router.key.pem"),
            Error::BadCertificate("certificate: expected SEQUENCE, found tag 0x6e".to_string()),
        ),
    ];
    for (chain, key, want) in table {
        let got = server_config(chain, key, registry()).expect_err("must fail");
        assert_eq!(got, want);
    }
    assert_eq!(
        Error::KeyMismatch.to_string(),
        "private key does not match the certificate"
    );
}

#[test]
fn refusal_of_other_errors() {
    let table = [
        rustls::Error::General("x".into()),
        rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature),
        crate::tls::chain::Error::TooLong.into(),
    ];
    for err in table {
        assert_eq!(refusal_of(&err), None, "{err}");
    }
}
