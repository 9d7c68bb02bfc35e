//! The tunnel's side: a rustls `ClientConfig` that talks to the ENF as the reference client does.
//!
//! The server certificate is checked by our `ServerVerifier` (`chain.rs` rules: chain to the
//! configured CA, dates, v1 tolerated, no name check unless one is configured); handshake
//! signatures by `sigcheck`. The client certificate is presented by a resolver built on
//! `CertifiedKey::new`, because rustls' own `with_client_auth_cert` refuses a v1 certificate.
//! No SNI unless a server name is configured (the reference sends none). No I/O here.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::sigcheck::{self, Version};
use super::{chain, unix_secs, Error, ALL_VERSIONS};
use crate::identity::{x509, Identity};

/// A client configuration for TLS 1.2 and 1.3 with `identity`'s certificate and CA.
pub fn client_config(
    identity: &Identity,
    server_name: Option<&str>,
) -> Result<Arc<ClientConfig>, Error> {
    client_config_with_versions(identity, server_name, ALL_VERSIONS)
}

/// `client_config` limited to `versions` (tests pin one version).
pub fn client_config_with_versions(
    identity: &Identity,
    server_name: Option<&str>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<Arc<ClientConfig>, Error> {
    if identity.ca.is_empty() {
        return Err(Error::NoCa);
    }
    for (i, ca) in identity.ca.iter().enumerate() {
        x509::parse(ca).map_err(|e| Error::BadCa {
            index: i + 1,
            reason: e.to_string(),
        })?;
    }
    // `identity::load` has checked that the key matches the certificate.
    let key = rustls::crypto::ring::sign::any_supported_type(&identity.key)
        .map_err(|e| Error::Key(e.to_string()))?;
    let certs = std::iter::once(identity.cert.clone())
        .chain(identity.chain.iter().cloned())
        .collect();
    let verifier = Arc::new(ServerVerifier {
        anchors: identity.ca.clone(),
        server_name: server_name.map(str::to_string),
    });
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .map_err(Error::Rustls)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(ClientCert(Arc::new(CertifiedKey::new(
                certs, key,
            )))));
    config.enable_sni = server_name.is_some();
    Ok(Arc::new(config))
}

/// A `ServerName` rustls accepts for connecting to `host`: the configured name, else `host`
/// itself (an IP literal, brackets allowed, or a DNS name), else a placeholder. Our verifier
/// ignores it unless a name is configured, and no SNI goes out unless one is.
pub fn server_name_for(host: &str, configured: Option<&str>) -> ServerName<'static> {
    let parse = |s: &str| {
        let s = s
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(s);
        ServerName::try_from(s.to_string()).ok()
    };
    configured
        .and_then(parse)
        .or_else(|| parse(host))
        .unwrap_or(ServerName::IpAddress(
            IpAddr::V6(Ipv6Addr::UNSPECIFIED).into(),
        ))
}

/// Verifies the server's certificate against the configured CA certificates.
#[derive(Debug)]
struct ServerVerifier {
    anchors: Vec<CertificateDer<'static>>,
    /// `remote.server_name`; rustls' own `server_name` argument is ignored.
    server_name: Option<String>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        chain::verify_server(
            end_entity,
            intermediates,
            &self.anchors,
            unix_secs(now),
            self.server_name.as_deref(),
        )?;
        Ok(ServerCertVerified::assertion())
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

/// Always offers the one client certificate: the ENF asks for it without CA hints.
#[derive(Debug)]
struct ClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}
