//! TLS for the ENF tunnel on both sides: rustls 0.23 configurations with the ring provider.
//!
//! Stock rustls/webpki cannot take the ENF's X.509 v1 certificates (notBefore in year 0000, no
//! extensions) as end entities, always checks a server name, and checks our own key against
//! our certificate through webpki. So the pieces that touch certificates are ours: the server
//! certificate verifier (`client.rs`, path rules in `chain.rs`), the client certificate verifier
//! that asks the router's registry (`server.rs`), certificate resolvers built on
//! `CertifiedKey::new`, and handshake signature checks with ring (`sigcheck.rs`).
//! Everything else (record layer, key exchange, cipher suites) is rustls. No I/O here: callers
//! drive `ClientConnection`/`ServerConnection` over their own sockets.

pub mod chain;
pub mod client;
pub mod ext;
pub mod framed;
pub mod server;
pub mod sigcheck;

use std::fmt;

pub use client::{client_config, client_config_with_versions, server_name_for};
pub use server::{
    peer_address, refusal_of, server_config, server_config_with_versions, ClientCheck, Refusal,
    Refused,
};

/// Why a TLS configuration could not be built; one line.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// No CA certificate to verify the server with.
    NoCa,
    /// CA certificate number `index` (from 1, in file order) cannot be read.
    BadCa { index: usize, reason: String },
    /// Our own certificate chain is empty.
    NoCertificate,
    /// Our own certificate cannot be read.
    BadCertificate(String),
    /// rustls cannot sign with the private key.
    Key(String),
    /// The private key does not belong to the certificate.
    KeyMismatch,
    /// rustls refused the configuration.
    Rustls(rustls::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoCa => write!(f, "no CA certificate to verify the server with"),
            Error::BadCa { index, reason } => {
                write!(f, "CA certificate {index} cannot be read: {reason}")
            }
            Error::NoCertificate => write!(f, "no certificate to present"),
            Error::BadCertificate(reason) => write!(f, "certificate cannot be read: {reason}"),
            Error::Key(reason) => write!(f, "unusable private key: {reason}"),
            Error::KeyMismatch => write!(f, "private key does not match the certificate"),
            Error::Rustls(e) => write!(f, "TLS configuration refused: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// A handshake error as one readable line: our verifiers' refusals (carried inside
/// `CertificateError::Other`, which rustls itself prints with `{:?}`) without the wrapping.
pub fn describe(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            format!("invalid peer certificate: {}", other.0)
        }
        other => other.to_string(),
    }
}

/// Both protocol versions, 1.3 preferred.
pub const ALL_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Seconds since the Unix epoch as our certificate reader counts them.
fn unix_secs(now: rustls_pki_types::UnixTime) -> i64 {
    i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
