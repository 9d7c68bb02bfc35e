//! The endpoint's credentials: client certificate and key, the CA, and the address they give.
//!
//! `load` reads the files named by the configuration (PEM or DER), checks them as start-up must
//! (certificate readable, CN an IPv6 address, within its validity, key of a supported type and
//! matching the certificate, CA file holding certificates) and returns them ready for TLS. Each
//! failure is one line naming the file and the problem. It does not verify chains or signatures:
//! the tunnel's verifiers do, on top of `x509.rs`.

mod address;
pub mod der;
mod files;
mod keymatch;
pub mod time;
pub mod x509;

use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use address::{address_from_cn, NotAnAddress};

use crate::config::Config;

/// Loaded and checked credentials.
#[derive(Debug)]
pub struct Identity {
    /// From the certificate's first subject CN.
    pub address: Ipv6Addr,
    /// The client certificate (the first one in its file).
    pub cert: CertificateDer<'static>,
    /// Any further certificates in the certificate file (intermediates), in file order.
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The trust anchors for the server (v1 certificates included).
    pub ca: Vec<CertificateDer<'static>>,
    /// The client certificate's validity, in seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    pub subject_cn: String,
    /// "EC P-256", "EC P-384", "Ed25519" or "RSA".
    pub key_type: &'static str,
    /// One line each (a key readable by others); `load` also logs them.
    pub warnings: Vec<String>,
}

/// A credential failure: one line naming the file and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    NotSet {
        key: &'static str,
        var: &'static str,
    },
    Missing {
        path: PathBuf,
    },
    Unreadable {
        path: PathBuf,
        reason: String,
    },
    NotPemOrDer {
        path: PathBuf,
    },
    BadPem {
        path: PathBuf,
        reason: String,
    },
    NotCertificate {
        path: PathBuf,
        reason: String,
    },
    NotKey {
        path: PathBuf,
        reason: String,
    },
    WrongKeyType {
        path: PathBuf,
        reason: String,
    },
    KeyMismatch {
        key: PathBuf,
        cert: PathBuf,
    },
    NoCn {
        path: PathBuf,
    },
    CnNotAddress {
        path: PathBuf,
        cn: NotAnAddress,
    },
    Expired {
        path: PathBuf,
        not_after: i64,
    },
    NotYetValid {
        path: PathBuf,
        not_before: i64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotSet { key, var } => write!(
                f,
                "{key} is not set (set it in the config file or with {var})"
            ),
            Error::Missing { path } => write!(f, "{}: no such file", path.display()),
            Error::Unreadable { path, reason } => {
                write!(f, "{}: cannot read: {reason}", path.display())
            }
            Error::NotPemOrDer { path } => write!(f, "{}: neither PEM nor DER", path.display()),
            Error::BadPem { path, reason } => write!(f, "{}: bad PEM: {reason}", path.display()),
            Error::NotCertificate { path, reason } => {
                write!(f, "{}: not a certificate: {reason}", path.display())
            }
            Error::NotKey { path, reason } => {
                write!(f, "{}: not a private key: {reason}", path.display())
            }
            Error::WrongKeyType { path, reason } => write!(f, "{}: {reason}", path.display()),
            Error::KeyMismatch { key, cert } => {
                write!(
                    f,
                    "{}: private key does not match the certificate {}",
                    key.display(),
                    cert.display()
                )
            }
            Error::NoCn { path } => write!(f, "{}: certificate has no subject CN", path.display()),
            Error::CnNotAddress { path, cn } => write!(f, "{}: {cn}", path.display()),
            Error::Expired { path, not_after } => {
                write!(
                    f,
                    "{}: certificate expired on {}",
                    path.display(),
                    time::format(*not_after)
                )
            }
            Error::NotYetValid { path, not_before } => {
                write!(
                    f,
                    "{}: certificate is not valid before {}",
                    path.display(),
                    time::format(*not_before)
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// Loads and checks the credentials `cfg` names, and logs the warnings.
// The start-up path calls it; the supervisor work wires it into main.rs.
pub fn load(cfg: &Config) -> Result<Identity, Error> {
    let identity = load_quiet(cfg)?;
    for warning in &identity.warnings {
        log::warn!("{warning}");
    }
    Ok(identity)
}

/// `load` without logging, checked against the current time.
pub fn load_quiet(cfg: &Config) -> Result<Identity, Error> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    load_at(cfg, now)
}

/// `load_quiet` at time `now` (seconds since the Unix epoch).
pub fn load_at(cfg: &Config, now: i64) -> Result<Identity, Error> {
    let cert_path = cfg.identity.cert_file.as_deref().ok_or(Error::NotSet {
        key: "identity.cert_file",
        var: "ENF_CERT",
    })?;
    let key_path = cfg.identity.key_file.as_deref().ok_or(Error::NotSet {
        key: "identity.key_file",
        var: "ENF_KEY",
    })?;

    let (bytes, _) = files::read(cert_path)?;
    let mut certs = files::certificates(cert_path, &bytes)?.into_iter();
    let cert = certs.next().ok_or_else(|| Error::NotCertificate {
        path: cert_path.to_path_buf(),
        reason: "no certificate".to_string(),
    })?;
    let chain: Vec<_> = certs.collect();
    let not_cert = |e: x509::Error| Error::NotCertificate {
        path: cert_path.to_path_buf(),
        reason: e.to_string(),
    };
    let parsed = x509::parse(&cert).map_err(not_cert)?;
    let cn = parsed.subject_cn.clone().ok_or_else(|| Error::NoCn {
        path: cert_path.to_path_buf(),
    })?;
    let address = address_from_cn(&cn).map_err(|e| Error::CnNotAddress {
        path: cert_path.to_path_buf(),
        cn: e,
    })?;
    check_validity(cert_path, parsed.not_before, parsed.not_after, now)?;

    let mut warnings = Vec::new();
    let (bytes, mode) = files::read(key_path)?;
    if mode & 0o077 != 0 {
        warnings.push(format!(
            "{}: private key is readable by group or others (mode {:04o}); chmod 600 it",
            key_path.display(),
            mode & 0o7777
        ));
    }
    let key = files::private_key(key_path, &bytes)?;
    let public = x509::public_key(parsed.spki).map_err(not_cert)?;
    let key_type = keymatch::check(&key, public.key).map_err(|e| match e {
        keymatch::Error::Mismatch => Error::KeyMismatch {
            key: key_path.to_path_buf(),
            cert: cert_path.to_path_buf(),
        },
        other => Error::WrongKeyType {
            path: key_path.to_path_buf(),
            reason: other.to_string(),
        },
    })?;

    let ca = load_ca(&cfg.remote.ca_cert_file)?;
    let (not_before, not_after) = (parsed.not_before, parsed.not_after);
    Ok(Identity {
        address,
        cert,
        chain,
        key,
        ca,
        not_before,
        not_after,
        subject_cn: cn,
        key_type,
        warnings,
    })
}

/// The certificates of a CA file: one or more, PEM or DER, v1 included.
pub fn load_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let (bytes, _) = files::read(path)?;
    files::certificates(path, &bytes)
}

/// Whether `now` lies within the validity period, as an error naming the date if not.
pub fn check_validity(path: &Path, not_before: i64, not_after: i64, now: i64) -> Result<(), Error> {
    if now < not_before {
        Err(Error::NotYetValid {
            path: path.to_path_buf(),
            not_before,
        })
    } else if now > not_after {
        Err(Error::Expired {
            path: path.to_path_buf(),
            not_after,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod testcert;
#[cfg(test)]
mod tests;
