//! Test fixtures for `tls`: the ENF vectors, rcgen-made certificates, a registry stand-in, and
//! an in-memory handshake that pumps bytes between a `ClientConnection` and a
//! `ServerConnection` until both are done or one fails.

mod chain_cases;
mod client_side;
mod server_side;

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair};
use rustls::{ClientConnection, ServerConnection, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::server::{ClientCheck, Refusal};

pub const VERSIONS: [&SupportedProtocolVersion; 2] =
    [&rustls::version::TLS12, &rustls::version::TLS13];

/// The address of `vectors/test.crt.pem`.
pub const TEST_ADDRESS: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x8f80, 1, 0, 0, 0, 0, 0x1234);

/// A fixed RSA-2048 key (ring cannot generate RSA keys).
pub const RSA_KEY_PEM: &str = include_str!("../testdata/rsa2048.pk8.pem");

pub fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors")
        .join(name)
}

pub fn vector_cert(name: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(vector(name)).expect("vector certificate")
}

pub fn vector_key(name: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(vector(name)).expect("vector key")
}

/// A certificate and its key, from rcgen.
pub struct Made {
    pub cert: CertificateDer<'static>,
    pub key: KeyPair,
}

impl Made {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    pub fn spki(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(&self.key)
    }
}

pub fn p256() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key")
}

/// v3 parameters with subject CN `cn`, SAN DNS names `sans`, valid 1975..4096 (rcgen's default).
pub fn params(cn: &str, sans: &[&str]) -> CertificateParams {
    let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p
}

pub fn ca_params(cn: &str) -> CertificateParams {
    let mut p = params(cn, &[]);
    p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p
}

pub fn self_signed(p: &CertificateParams, key: KeyPair) -> Made {
    let cert = p.self_signed(&key).expect("self-signed").der().clone();
    Made { cert, key }
}

pub fn signed(
    p: &CertificateParams,
    key: KeyPair,
    by_params: &CertificateParams,
    by: &Made,
) -> Made {
    let issuer = Issuer::from_params(by_params, &by.key);
    let cert = p.signed_by(&key, &issuer).expect("signed").der().clone();
    Made { cert, key }
}

/// A client identity as `identity::load` would make it (the address is not used by `tls`).
pub fn identity(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    ca: Vec<CertificateDer<'static>>,
) -> crate::identity::Identity {
    crate::identity::Identity {
        address: TEST_ADDRESS,
        cert,
        chain: Vec::new(),
        key,
        ca,
        not_before: 0,
        not_after: i64::MAX,
        subject_cn: String::new(),
        key_type: "test",
        warnings: Vec::new(),
    }
}

/// The test vector identity loaded the way enf-init loads it, with `ca` as the CA file.
pub fn vector_identity(ca: &str) -> crate::identity::Identity {
    let mut cfg = crate::config::Config::defaults(&vector("enf0.conf"));
    cfg.identity.cert_file = Some(vector("test.crt.pem"));
    cfg.identity.key_file = Some(vector("test.key.pem"));
    cfg.remote.ca_cert_file = vector(ca);
    crate::identity::load_at(&cfg, 1_750_000_000).expect("vector identity")
}

/// A registry stand-in: addresses and their keys.
#[derive(Debug, Default)]
pub struct Registry(pub Vec<(Ipv6Addr, Vec<u8>)>);

impl ClientCheck for Registry {
    fn check(&self, address: Ipv6Addr, spki: &[u8]) -> Result<(), Refusal> {
        match self.0.iter().find(|(a, _)| *a == address) {
            Some((_, key)) if key == spki => Ok(()),
            Some(_) => Err(Refusal::KeyMismatch),
            None if self.0.iter().any(|(_, k)| k == spki) => Err(Refusal::NotRegistered),
            None => Err(Refusal::UnknownKey),
        }
    }
}

/// The registry holding the test vector's key for its address.
pub fn registry_with_test_vector() -> Arc<Registry> {
    let cert = vector_cert("test.crt.pem");
    let spki = crate::identity::x509::parse(&cert)
        .expect("vector")
        .spki
        .to_vec();
    Arc::new(Registry(vec![(TEST_ADDRESS, spki)]))
}

/// What a handshake ended with, on each side.
pub struct Outcome {
    pub client: Result<(), rustls::Error>,
    pub server: Result<(), rustls::Error>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.client.is_ok() && self.server.is_ok()
    }

    /// Both sides' errors, for messages and substring checks.
    pub fn errors(&self) -> String {
        format!("client: {:?} / server: {:?}", self.client, self.server)
    }
}

/// Moves everything `from` wants to write into `to`; records `to`'s first error.
fn transfer(
    from: &mut dyn FnMut(&mut Vec<u8>) -> bool,
    to_read: &mut dyn FnMut(&mut &[u8]) -> Result<(), rustls::Error>,
    to_err: &mut Result<(), rustls::Error>,
) -> bool {
    let mut buf = Vec::new();
    while from(&mut buf) {}
    if buf.is_empty() {
        return false;
    }
    let mut rest = &buf[..];
    while !rest.is_empty() && to_err.is_ok() {
        if let Err(e) = to_read(&mut rest) {
            *to_err = Err(e);
        }
    }
    true
}

/// Runs the handshake in memory (and lets post-handshake messages and alerts arrive).
pub fn handshake(client: &mut ClientConnection, server: &mut ServerConnection) -> Outcome {
    let mut out = Outcome {
        client: Ok(()),
        server: Ok(()),
    };
    for _ in 0..64 {
        let c2s = transfer(
            &mut |buf| client.wants_write() && client.write_tls(buf).expect("write") > 0,
            &mut |rest| {
                server.read_tls(rest).expect("read");
                server.process_new_packets().map(drop)
            },
            &mut out.server,
        );
        let s2c = transfer(
            &mut |buf| server.wants_write() && server.write_tls(buf).expect("write") > 0,
            &mut |rest| {
                client.read_tls(rest).expect("read");
                client.process_new_packets().map(drop)
            },
            &mut out.client,
        );
        if !c2s && !s2c {
            break;
        }
    }
    if out.ok() && (client.is_handshaking() || server.is_handshaking()) {
        out.client = Err(rustls::Error::General("handshake did not finish".into()));
    }
    out
}

/// A client and a server connection after the in-memory handshake.
pub fn connect(
    client_cfg: Arc<rustls::ClientConfig>,
    server_cfg: Arc<rustls::ServerConfig>,
    name: rustls_pki_types::ServerName<'static>,
) -> (ClientConnection, ServerConnection, Outcome) {
    let mut client = ClientConnection::new(client_cfg, name).expect("client connection");
    let mut server = ServerConnection::new(server_cfg).expect("server connection");
    let outcome = handshake(&mut client, &mut server);
    (client, server, outcome)
}
