//! The tunnel's verifier in real handshakes: which server certificates it accepts, and why not.
//! The client is always the registered test vector; each case runs over TLS 1.2 and 1.3.

use std::sync::Arc;

use rustls::ProtocolVersion;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::*;
use crate::tls::{
    client_config, client_config_with_versions, peer_address, server_config_with_versions,
};

/// A server presenting `chain` with `key`; the client trusts `ca` and maybe names the server.
struct Case {
    name: &'static str,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: Vec<CertificateDer<'static>>,
    server_name: Option<&'static str>,
    /// `Err` holds a piece of the client's error message.
    want: Result<(), &'static str>,
}

fn case(name: &'static str, server: &Made, ca: &[&Made], want: Result<(), &'static str>) -> Case {
    Case {
        name,
        chain: vec![server.cert.clone()],
        key: server.key_der(),
        ca: ca.iter().map(|m| m.cert.clone()).collect(),
        server_name: None,
        want,
    }
}

fn cases() -> Vec<Case> {
    let router = || {
        (
            vec![vector_cert("router.crt.pem")],
            vector_key("router.key.pem"),
        )
    };
    let vector_case = |name, ca: &str, server_name, want| Case {
        name,
        chain: router().0,
        key: router().1,
        ca: vec![vector_cert(ca)],
        server_name,
        want,
    };

    let root_p = ca_params("Test Root");
    let root = self_signed(&root_p, p256());
    let leaf_p = params("router.example", &["router.example", "192.0.2.7"]);
    let leaf = signed(&leaf_p, p256(), &root_p, &root);
    let inter_p = ca_params("Test Intermediate");
    let inter = signed(&inter_p, p256(), &root_p, &root);
    let via_inter = signed(&leaf_p, p256(), &inter_p, &inter);
    let not_ca_p = params("Not A CA", &[]);
    let not_ca = signed(&not_ca_p, p256(), &root_p, &root);
    let via_not_ca = signed(&leaf_p, p256(), &not_ca_p, &not_ca);
    // Same name as the root, another key: the error must say the signature fails.
    let impostor = self_signed(&root_p, p256());

    let mut expired_p = params("expired.example", &[]);
    expired_p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let expired = self_signed(&expired_p, p256());
    let mut future_p = params("future.example", &[]);
    future_p.not_before = rcgen::date_time_ymd(2999, 1, 1);
    let future = self_signed(&future_p, p256());
    let mut old_root_p = ca_params("Old Root");
    old_root_p.not_after = rcgen::date_time_ymd(2002, 2, 2);
    let old_root = self_signed(&old_root_p, p256());
    let under_old_root = signed(&leaf_p, p256(), &old_root_p, &old_root);

    let p384_root_p = ca_params("P-384 Root");
    let p384_root = self_signed(
        &p384_root_p,
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key"),
    );
    let under_p384 = signed(&leaf_p, p256(), &p384_root_p, &p384_root);
    let ed25519 = self_signed(
        &leaf_p,
        KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key"),
    );
    let rsa = self_signed(&leaf_p, KeyPair::from_pem(RSA_KEY_PEM).expect("RSA key"));

    let named = |mut c: Case, n| {
        c.server_name = Some(n);
        c
    };
    let with_chain = |mut c: Case, extra: &Made| {
        c.chain.push(extra.cert.clone());
        c
    };
    vec![
        vector_case("v1 vectors, server cert is the CA", "router.crt.pem", None, Ok(())),
        vector_case(
            "wrong CA (the real ENF root)",
            "enf.cacert.pem",
            None,
            Err("server certificate CN=router.enftun.example is not signed by a configured CA (issuer CN=router.enftun.example)"),
        ),
        vector_case("v1 CN names the server", "router.crt.pem", Some("router.enftun.example"), Ok(())),
        vector_case(
            "v1 CN names another server",
            "router.crt.pem",
            Some("other.example"),
            Err("server certificate is not valid for \"other.example\" (it names CN=router.enftun.example)"),
        ),
        case("CA-signed v3 leaf", &leaf, &[&root], Ok(())),
        named(case("SAN names the server", &leaf, &[&root], Ok(())), "router.example"),
        named(case("SAN IP names the server", &leaf, &[&root], Ok(())), "192.0.2.7"),
        named(
            case("SAN names another server", &leaf, &[&root], Err("is not valid for \"other.example\" (it names router.example, 192.0.2.7)")),
            "other.example",
        ),
        with_chain(case("through an intermediate", &via_inter, &[&root], Ok(())), &inter),
        case(
            "intermediate not sent",
            &via_inter,
            &[&root],
            Err("server certificate CN=router.example is not signed by a configured CA (issuer CN=Test Intermediate)"),
        ),
        with_chain(
            case("v3 intermediate without cA", &via_not_ca, &[&root], Err("intermediate certificate CN=Not A CA is used as an intermediate but is not a CA")),
            &not_ca,
        ),
        case("CA with the issuer's name, other key", &leaf, &[&impostor], Err("signature does not verify with the CA of that name (bad signature)")),
        case("expired server certificate", &expired, &[&expired], Err("server certificate CN=expired.example expired on 2001-01-01 00:00:00 UTC")),
        case("server certificate not yet valid", &future, &[&future], Err("server certificate CN=future.example is not valid before 2999-01-01 00:00:00 UTC")),
        case("expired CA", &under_old_root, &[&old_root], Err("CA certificate CN=Old Root expired on 2002-02-02 00:00:00 UTC")),
        case("P-384 CA, P-256 leaf", &under_p384, &[&p384_root], Ok(())),
        case("Ed25519 server", &ed25519, &[&ed25519], Ok(())),
        case("RSA server", &rsa, &[&rsa], Ok(())),
    ]
}

#[test]
fn server_certificates() {
    let client_identity = |ca: Vec<CertificateDer<'static>>| {
        let mut id = vector_identity("router.crt.pem");
        id.ca = ca;
        id
    };
    for c in cases() {
        for version in VERSIONS {
            let label = format!("{} over {:?}", c.name, version.version);
            let client_cfg = client_config_with_versions(
                &client_identity(c.ca.clone()),
                c.server_name,
                &[version],
            )
            .expect("client config");
            let server_cfg = server_config_with_versions(
                c.chain.clone(),
                c.key.clone_key(),
                registry_with_test_vector(),
                &[version],
            )
            .expect("server config");
            let name = crate::tls::server_name_for("router.example", c.server_name);
            let (client, server, out) = connect(client_cfg, server_cfg, name);
            match c.want {
                Ok(()) => {
                    assert!(out.ok(), "{label}: {}", out.errors());
                    assert_eq!(client.protocol_version(), Some(version.version), "{label}");
                    assert_eq!(peer_address(&server), Some(TEST_ADDRESS), "{label}");
                    // SNI only when a DNS name is configured (an IP never goes in SNI).
                    let sni = c
                        .server_name
                        .filter(|n| n.parse::<std::net::IpAddr>().is_err());
                    assert_eq!(server.server_name(), sni, "{label}");
                }
                Err(want) => {
                    let got = crate::tls::describe(out.client.as_ref().expect_err(&label));
                    assert!(got.contains(want), "{label}: {got:?} lacks {want:?}");
                    // The server learns of it through an alert.
                    let server_err = out.server.as_ref().expect_err(&label);
                    assert!(
                        matches!(server_err, rustls::Error::AlertReceived(_)),
                        "{label}: {server_err:?}"
                    );
                }
            }
        }
    }
}

/// Presents a certificate with a key that is not its own (rustls' builders would refuse it).
#[derive(Debug)]
struct Mismatched(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Mismatched {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[test]
fn handshake_signatures_are_checked() {
    // The server shows the router certificate but signs with the test key: only the handshake
    // signature check can catch it.
    let wrong_key =
        rustls::crypto::ring::sign::any_supported_type(&vector_key("test.key.pem")).expect("key");
    let certified = rustls::sign::CertifiedKey::new(vec![vector_cert("router.crt.pem")], wrong_key);
    for version in VERSIONS {
        let server_cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Mismatched(Arc::new(certified.clone()))));
        let client_cfg =
            client_config_with_versions(&vector_identity("router.crt.pem"), None, &[version])
                .expect("client");
        let name = crate::tls::server_name_for("::1", None);
        let (_, _, out) = connect(client_cfg, Arc::new(server_cfg), name);
        assert!(
            matches!(
                out.client,
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::BadSignature
                ))
            ),
            "{:?}: {}",
            version.version,
            out.errors()
        );
    }
}

#[test]
fn both_versions_by_default() {
    for version in [ProtocolVersion::TLSv1_2, ProtocolVersion::TLSv1_3] {
        let client_cfg =
            crate::tls::client_config(&vector_identity("router.crt.pem"), None).expect("client");
        let pinned = VERSIONS
            .into_iter()
            .find(|v| v.version == version)
            .expect("version");
        let server_cfg = server_config_with_versions(
            vec![vector_cert("router.crt.pem")],
            vector_key("router.key.pem"),
            registry_with_test_vector(),
            &[pinned],
        )
        .expect("server");
        let name = crate::tls::server_name_for("192.0.2.1", None);
        let (client, _, out) = connect(client_cfg, server_cfg, name);
        assert!(out.ok(), "{version:?}: {}", out.errors());
        assert_eq!(client.protocol_version(), Some(version));
    }
}

#[test]
fn client_config_errors() {
    let none = identity(
        vector_cert("test.crt.pem"),
        vector_key("test.key.pem"),
        vec![],
    );
    let garbage = identity(
        vector_cert("test.crt.pem"),
        vector_key("test.key.pem"),
        vec![
            vector_cert("router.crt.pem"),
            CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01]),
        ],
    );
    let table: &[(&crate::identity::Identity, &str)] = &[
        (&none, "no CA certificate to verify the server with"),
        (&garbage, "CA certificate 2 cannot be read: "),
    ];
    for (id, want) in table {
        let got = client_config(id, None).expect_err(want).to_string();
        assert!(got.starts_with(want), "{got:?}");
    }
}

#[test]
fn server_names_for_rustls() {
    let table: &[(&str, Option<&str>, &str)] = &[
        ("23.147.128.112", None, "23.147.128.112"),
        ("2607:8f80::1", None, "2607:8f80::1"),
        ("[2607:8f80::1]", None, "2607:8f80::1"),
        ("enf.example.net", None, "enf.example.net"),
        ("enf.example.net", Some("router.example"), "router.example"),
        ("23.147.128.112", Some("192.0.2.1"), "192.0.2.1"),
        ("not a host!", None, "::"),
        ("not a host!", Some("bad name!"), "::"),
        ("enf.example.net", Some("bad name!"), "enf.example.net"),
    ];
    for (host, configured, want) in table {
        let got = crate::tls::server_name_for(host, *configured);
        assert_eq!(got.to_str(), *want, "{host:?} {configured:?}");
    }
}
