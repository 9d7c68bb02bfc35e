//! Does a private key belong to a certificate? Sign with one, verify with the other.
//!
//! No public-key derivation of our own: the key signs a fixed message through rustls' ring
//! signer, and ring verifies that signature against the certificate's public key, with the
//! algorithm matching the signer's scheme. That covers EC P-256/P-384, Ed25519 and RSA alike,
//! and a key of another type or curve simply fails to verify.

use std::fmt;

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use rustls::SignatureScheme;
use rustls_pki_types::PrivateKeyDer;

const MESSAGE: &[u8] = b"enf-init: does this key belong to this certificate?";

/// The schemes offered to the key, one per key type we support.
const SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ED25519,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PKCS1_SHA256,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The key is of a type or size rustls cannot sign with.
    Unsupported(String),
    /// The signature does not verify against the certificate's key.
    Mismatch,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported(why) => write!(f, "unsupported private key type ({why})"),
            Error::Mismatch => write!(f, "private key does not match the certificate"),
        }
    }
}

/// Checks `key` against the certificate's public key bits; returns the key type's name.
pub fn check(key: &PrivateKeyDer<'_>, public_key: &[u8]) -> Result<&'static str, Error> {
    let signing = rustls::crypto::ring::sign::any_supported_type(key)
        .map_err(|_| Error::Unsupported("not EC P-256/P-384, Ed25519 or RSA 2048+".to_string()))?;
    let signer = signing
        .choose_scheme(SCHEMES)
        .ok_or_else(|| Error::Unsupported(format!("{:?} key", signing.algorithm())))?;
    let (name, alg) = algorithm(signer.scheme())
        .ok_or_else(|| Error::Unsupported(format!("{:?}", signer.scheme())))?;
    let sig = signer
        .sign(MESSAGE)
        .map_err(|e| Error::Unsupported(e.to_string()))?;
    UnparsedPublicKey::new(alg, public_key)
        .verify(MESSAGE, &sig)
        .map(|()| name)
        .map_err(|_| Error::Mismatch)
}

/// The key type's name and ring's verifier for a scheme from `SCHEMES`.
fn algorithm(
    scheme: SignatureScheme,
) -> Option<(&'static str, &'static dyn VerificationAlgorithm)> {
    Some(match scheme {
        SignatureScheme::ECDSA_NISTP256_SHA256 => ("EC P-256", &signature::ECDSA_P256_SHA256_ASN1),
        SignatureScheme::ECDSA_NISTP384_SHA384 => ("EC P-384", &signature::ECDSA_P384_SHA384_ASN1),
        SignatureScheme::ED25519 => ("Ed25519", &signature::ED25519),
        SignatureScheme::RSA_PSS_SHA256 => ("RSA", &signature::RSA_PSS_2048_8192_SHA256),
        SignatureScheme::RSA_PKCS1_SHA256 => ("RSA", &signature::RSA_PKCS1_2048_8192_SHA256),
        _ => return None,
    })
}
