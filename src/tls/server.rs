//! The router's side: a rustls `ServerConfig` that admits endpoints by their registered keys.
//!
//! Client authentication is mandatory. Our `ClientVerifier` reads the client's certificate with
//! `identity::x509` (v1 and year 0000 fine), takes the address from its first subject CN, checks
//! its dates and asks the caller's `ClientCheck` (the registry) whether that key may use that
//! address. There is no CA for clients: endpoint certificates are self-signed, and the
//! registration *is* the trust. Each refusal is a distinct, readable rustls error (`Refused`).
//! The server certificate goes out through a resolver on `CertifiedKey::new` (rustls'
//! `with_single_cert` refuses a v1 certificate); our own key/certificate match is a
//! sign-and-verify through `sigcheck`. No I/O and no registry here.

use std::fmt;
use std::net::Ipv6Addr;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, ServerConfig,
    ServerConnection, SignatureScheme, SupportedProtocolVersion,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use super::sigcheck::{self, Version};
use super::{chain, unix_secs, Error, ALL_VERSIONS};
use crate::identity::{address_from_cn, time, x509};

/// Decides whether the key `spki` (a whole DER SubjectPublicKeyInfo) may use `address`.
pub trait ClientCheck: Send + Sync + fmt::Debug {
    fn check(&self, address: Ipv6Addr, spki: &[u8]) -> Result<(), Refusal>;
}

/// Why a client certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No endpoint is registered with this key (and none with this address).
    UnknownKey,
    /// The address is not registered (the key may be registered for another address).
    NotRegistered,
    /// The address is registered with a different key.
    KeyMismatch,
    /// The certificate has no subject CN.
    NoCn,
    /// The first subject CN is not an address (the message quotes it).
    BadCn(String),
    Expired {
        not_after: i64,
    },
    NotYetValid {
        not_before: i64,
    },
    /// The certificate cannot be read.
    BadEncoding(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownKey => write!(f, "unknown key: no endpoint is registered with it"),
            Refusal::NotRegistered => write!(f, "address not registered"),
            Refusal::KeyMismatch => {
                write!(f, "key differs from the one registered for the address")
            }
            Refusal::NoCn => write!(f, "client certificate has no subject CN"),
            Refusal::BadCn(why) => write!(f, "client certificate {why}"),
            Refusal::Expired { not_after } => {
                write!(
                    f,
                    "client certificate expired on {}",
                    time::format(*not_after)
                )
            }
            Refusal::NotYetValid { not_before } => write!(
                f,
                "client certificate is not valid before {}",
                time::format(*not_before)
            ),
            Refusal::BadEncoding(why) => write!(f, "client certificate cannot be read: {why}"),
        }
    }
}

/// A refusal and the address it concerns (none when the CN gives none): the error a failed
/// handshake carries, inside `CertificateError::Other`. `refusal_of` gets it back.
#[derive(Clone, PartialEq, Eq)]
pub struct Refused {
    pub address: Option<Ipv6Addr>,
    pub refusal: Refusal,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address {
            Some(a) => write!(f, "client {a} refused: {}", self.refusal),
            None => write!(f, "client refused: {}", self.refusal),
        }
    }
}

impl std::error::Error for Refused {}

/// Debug shows the message: rustls prints `CertificateError::Other` with `{:?}`, and that is
/// what ends up in a log line that formats the handshake error.
impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<Refused> for rustls::Error {
    fn from(r: Refused) -> Self {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(r))))
    }
}

/// The refusal behind a failed server handshake, if our verifier refused the client.
pub fn refusal_of(err: &rustls::Error) -> Option<&Refused> {
    match err {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            other.0.downcast_ref::<Refused>()
        }
        _ => None,
    }
}

/// A server configuration for TLS 1.2 and 1.3 presenting `chain` (end entity first).
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    clients: Arc<dyn ClientCheck>,
) -> Result<Arc<ServerConfig>, Error> {
    server_config_with_versions(chain, key, clients, ALL_VERSIONS)
}

/// `server_config` limited to `versions` (tests pin one version).
pub fn server_config_with_versions(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    clients: Arc<dyn ClientCheck>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, Error> {
    let first = chain.first().ok_or(Error::NoCertificate)?;
    let cert = x509::parse(first).map_err(|e| Error::BadCertificate(e.to_string()))?;
    let key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| Error::Key(e.to_string()))?;
    check_key(key.as_ref(), cert.spki)?;
    let certified = Arc::new(CertifiedKey::new(chain, key));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .map_err(Error::Rustls)?
            .with_client_cert_verifier(Arc::new(ClientVerifier { clients }))
            .with_cert_resolver(Arc::new(ServerCert(certified)));
    Ok(Arc::new(config))
}

/// Whether `key` belongs to the certificate with `spki`: it signs, the certificate verifies.
fn check_key(key: &dyn SigningKey, spki: &[u8]) -> Result<(), Error> {
    const MESSAGE: &[u8] = b"enf-router: does this key belong to this certificate?";
    let signer = key
        .choose_scheme(sigcheck::SCHEMES)
        .ok_or_else(|| Error::Key(format!("{:?} key", key.algorithm())))?;
    let sig = signer
        .sign(MESSAGE)
        .map_err(|e| Error::Key(e.to_string()))?;
    sigcheck::verify_handshake(spki, Version::Tls12, signer.scheme(), MESSAGE, &sig)
        .map_err(|_| Error::KeyMismatch)
}

/// The endpoint address of a connection's client, from its certificate (after the handshake).
pub fn peer_address(conn: &ServerConnection) -> Option<Ipv6Addr> {
    let cert = x509::parse(conn.peer_certificates()?.first()?).ok()?;
    address_from_cn(cert.subject_cn.as_deref()?).ok()
}

/// Admits a client whose certificate's key is registered for the address in its CN.
#[derive(Debug)]
struct ClientVerifier {
    clients: Arc<dyn ClientCheck>,
}

impl ClientVerifier {
    fn decide(&self, end_entity: &[u8], now: i64) -> Result<(), Refused> {
        let refused = |address, refusal| Refused { address, refusal };
        let cert = x509::parse(end_entity)
            .map_err(|e| refused(None, Refusal::BadEncoding(e.to_string())))?;
        let cn = cert
            .subject_cn
            .as_deref()
            .ok_or_else(|| refused(None, Refusal::NoCn))?;
        let address =
            address_from_cn(cn).map_err(|e| refused(None, Refusal::BadCn(e.to_string())))?;
        chain::check_dates("client certificate", &cert, now).map_err(|e| {
            let refusal = match e {
                chain::Error::NotYetValid { not_before, .. } => Refusal::NotYetValid { not_before },
                chain::Error::Expired { not_after, .. } => Refusal::Expired { not_after },
                other => Refusal::BadEncoding(other.to_string()),
            };
            refused(Some(address), refusal)
        })?;
        self.clients
            .check(address, cert.spki)
            .map_err(|r| refused(Some(address), r))
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No hints: endpoint certificates are self-signed; the registry is the authority.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.decide(end_entity, unix_secs(now)) {
            Ok(()) => Ok(ClientCertVerified::assertion()),
            Err(refused) => {
                // The caller logs the handshake error (it knows the peer's socket address).
                log::debug!("{refused}");
                Err(refused.into())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        sigcheck::verify_dss(cert, Version::Tls12, message, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        sigcheck::verify_dss(cert, Version::Tls13, message, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        sigcheck::SCHEMES.to_vec()
    }
}

/// Always presents the one server certificate (SNI or not).
#[derive(Debug)]
struct ServerCert(Arc<CertifiedKey>);

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}
