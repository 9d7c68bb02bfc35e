//! Signature checks with ring, over our own certificate reader instead of webpki.
//!
//! Two checks: a TLS handshake signature (CertificateVerify, ServerKeyExchange) against a
//! SubjectPublicKeyInfo, and a certificate's own signature against its issuer's
//! SubjectPublicKeyInfo. webpki cannot do either for the ENF's X.509 v1 certificates with a
//! notBefore in year 0000, which is why this exists. Pure: bytes in, a verdict out; no chain
//! building, dates or names here (`chain.rs` does those).

use std::fmt;
use std::sync::Arc;

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::{
    CertificateError, DigitallySignedStruct, OtherError, PeerMisbehaved, SignatureScheme,
};
use rustls_pki_types::{alg_id, CertificateDer};

use crate::identity::x509;

/// The handshake signature schemes we verify, preferred first (what the verifiers advertise).
pub const SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ED25519,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PKCS1_SHA512,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA256,
];

/// sha256/384/512WithRSAEncryption without the NULL parameters some encoders leave out
/// (`alg_id::RSA_PKCS1_*` carry the NULL, as RFC 4055 asks).
const RSA_PKCS1_SHA256_NO_NULL: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
];
const RSA_PKCS1_SHA384_NO_NULL: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c,
];
const RSA_PKCS1_SHA512_NO_NULL: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d,
];

/// Which TLS version a handshake signature belongs to: TLS 1.3 is stricter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

/// The public key types we verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa,
}

#[derive(Clone, PartialEq, Eq)]
pub enum Error {
    /// The SubjectPublicKeyInfo cannot be read.
    BadKey(x509::Error),
    /// A key algorithm other than EC P-256/P-384, Ed25519 or RSA.
    UnsupportedKey,
    /// A handshake signature scheme we do not verify.
    UnsupportedScheme(SignatureScheme),
    /// A certificate signature algorithm we do not verify.
    UnsupportedAlgorithm,
    /// The scheme or algorithm exists but cannot have been made with this type of key.
    WrongKeyType(KeyKind),
    /// RFC 8446 §4.2.3 forbids this scheme in TLS 1.3 (RSA PKCS#1 v1.5, legacy hashes).
    NotAllowedInTls13(SignatureScheme),
    /// The signature does not verify.
    BadSignature,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadKey(e) => write!(f, "unreadable public key: {e}"),
            Error::UnsupportedKey => write!(
                f,
                "unsupported public key type (expected EC P-256/P-384, Ed25519 or RSA)"
            ),
            Error::UnsupportedScheme(s) => write!(f, "unsupported signature scheme {s:?}"),
            Error::UnsupportedAlgorithm => write!(f, "unsupported certificate signature algorithm"),
            Error::WrongKeyType(k) => write!(f, "signature algorithm does not fit a {k:?} key"),
            Error::NotAllowedInTls13(s) => {
                write!(f, "signature scheme {s:?} not allowed in TLS 1.3")
            }
            Error::BadSignature => write!(f, "bad signature"),
        }
    }
}

impl std::error::Error for Error {}

/// Debug shows the message: rustls prints `CertificateError::Other` with `{:?}`, and that is
/// what ends up in a log line that formats the handshake error.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The key type of a whole DER SubjectPublicKeyInfo, and its key bits.
pub fn key_of(spki: &[u8]) -> Result<(KeyKind, &[u8]), Error> {
    let key = x509::public_key(spki).map_err(Error::BadKey)?;
    let kind = match key.algorithm {
        a if a == alg_id::ECDSA_P256.as_ref() => KeyKind::P256,
        a if a == alg_id::ECDSA_P384.as_ref() => KeyKind::P384,
        a if a == alg_id::ED25519.as_ref() => KeyKind::Ed25519,
        a if a == alg_id::RSA_ENCRYPTION.as_ref() => KeyKind::Rsa,
        _ => return Err(Error::UnsupportedKey),
    };
    Ok((kind, key.key))
}

/// Verifies a handshake signature made with `scheme` over `message` by the key in `spki`.
pub fn verify_handshake(
    spki: &[u8],
    version: Version,
    scheme: SignatureScheme,
    message: &[u8],
    sig: &[u8],
) -> Result<(), Error> {
    use SignatureScheme as S;
    if version == Version::Tls13
        && matches!(
            scheme,
            S::RSA_PKCS1_SHA256 | S::RSA_PKCS1_SHA384 | S::RSA_PKCS1_SHA512
        )
    {
        return Err(Error::NotAllowedInTls13(scheme));
    }
    if !SCHEMES.contains(&scheme) {
        return Err(Error::UnsupportedScheme(scheme));
    }
    let (kind, key) = key_of(spki)?;
    let tls12 = version == Version::Tls12;
    let alg: &'static dyn VerificationAlgorithm = match (scheme, kind) {
        (S::ECDSA_NISTP256_SHA256, KeyKind::P256) => &signature::ECDSA_P256_SHA256_ASN1,
        (S::ECDSA_NISTP384_SHA384, KeyKind::P384) => &signature::ECDSA_P384_SHA384_ASN1,
        // TLS 1.2 schemes name only the hash (RFC 5246 §7.4.1.4.1); TLS 1.3 binds the curve.
        (S::ECDSA_NISTP256_SHA256, KeyKind::P384) if tls12 => &signature::ECDSA_P384_SHA256_ASN1,
        (S::ECDSA_NISTP384_SHA384, KeyKind::P256) if tls12 => &signature::ECDSA_P256_SHA384_ASN1,
        (S::ED25519, KeyKind::Ed25519) => &signature::ED25519,
        (S::RSA_PKCS1_SHA256, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (S::RSA_PKCS1_SHA384, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (S::RSA_PKCS1_SHA512, KeyKind::Rsa) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (S::RSA_PSS_SHA256, KeyKind::Rsa) => &signature::RSA_PSS_2048_8192_SHA256,
        (S::RSA_PSS_SHA384, KeyKind::Rsa) => &signature::RSA_PSS_2048_8192_SHA384,
        (S::RSA_PSS_SHA512, KeyKind::Rsa) => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return Err(Error::WrongKeyType(kind)),
    };
    UnparsedPublicKey::new(alg, key)
        .verify(message, sig)
        .map_err(|_| Error::BadSignature)
}

/// Verifies that the key in `issuer_spki` signed `cert`.
pub fn verify_certificate(cert: &x509::Certificate<'_>, issuer_spki: &[u8]) -> Result<(), Error> {
    let (kind, key) = key_of(issuer_spki)?;
    let alg = cert_algorithm(cert.signature_algorithm, kind)?;
    UnparsedPublicKey::new(alg, key)
        .verify(cert.tbs, cert.signature)
        .map_err(|_| Error::BadSignature)
}

/// ring's verifier for a certificate signatureAlgorithm made with a `kind` key.
fn cert_algorithm(
    algorithm: &[u8],
    kind: KeyKind,
) -> Result<&'static dyn VerificationAlgorithm, Error> {
    let is = |id: &[u8]| algorithm == id;
    let ecdsa256 = is(alg_id::ECDSA_SHA256.as_ref());
    let ecdsa384 = is(alg_id::ECDSA_SHA384.as_ref());
    let ed25519 = is(alg_id::ED25519.as_ref());
    let rsa256 = is(alg_id::RSA_PKCS1_SHA256.as_ref()) || is(RSA_PKCS1_SHA256_NO_NULL);
    let rsa384 = is(alg_id::RSA_PKCS1_SHA384.as_ref()) || is(RSA_PKCS1_SHA384_NO_NULL);
    let rsa512 = is(alg_id::RSA_PKCS1_SHA512.as_ref()) || is(RSA_PKCS1_SHA512_NO_NULL);
    if !(ecdsa256 || ecdsa384 || ed25519 || rsa256 || rsa384 || rsa512) {
        return Err(Error::UnsupportedAlgorithm);
    }
    Ok(match kind {
        KeyKind::P256 if ecdsa256 => &signature::ECDSA_P256_SHA256_ASN1,
        KeyKind::P256 if ecdsa384 => &signature::ECDSA_P256_SHA384_ASN1,
        KeyKind::P384 if ecdsa256 => &signature::ECDSA_P384_SHA256_ASN1,
        KeyKind::P384 if ecdsa384 => &signature::ECDSA_P384_SHA384_ASN1,
        KeyKind::Ed25519 if ed25519 => &signature::ED25519,
        KeyKind::Rsa if rsa256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        KeyKind::Rsa if rsa384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        KeyKind::Rsa if rsa512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return Err(Error::WrongKeyType(kind)),
    })
}

/// The rustls-facing check: `dss` over `message` by the key of the DER certificate `cert`.
pub fn verify_dss(
    cert: &CertificateDer<'_>,
    version: Version,
    message: &[u8],
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let parsed = x509::parse(cert)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    verify_handshake(parsed.spki, version, dss.scheme, message, dss.signature())
        .map(|()| HandshakeSignatureValid::assertion())
        .map_err(rustls::Error::from)
}

impl From<Error> for rustls::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::BadSignature => {
                rustls::Error::InvalidCertificate(CertificateError::BadSignature)
            }
            Error::NotAllowedInTls13(_) => {
                PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into()
            }
            other => rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
                Arc::new(other),
            ))),
        }
    }
}

#[cfg(test)]
#[path = "sigcheck_tests.rs"]
mod tests;
