//! Does the server's certificate chain to one of our CAs? Pure: DER bytes and `now` in.
//!
//! Rules (PROTOCOL.md §1): the end-entity certificate either *is* one of the CA certificates
//! (byte-equal: the reference test router's self-signed v1 certificate is its clients' CA) or is
//! signed by one, possibly through intermediates the server sent (at most `MAX_INTERMEDIATES`).
//! "Signed by" = issuer Name byte-equal to the signer's subject and the signature verifies.
//! Every certificate on the path must be within its validity at `now` (year 0000 is fine).
//! X.509 v1 is tolerated everywhere; a v3 intermediate must say basicConstraints cA. The name is
//! checked only when one is configured. No revocation, key usage or policy checks.

use std::fmt;

use rustls::{CertificateError, OtherError};
use rustls_pki_types::CertificateDer;

use super::{ext, sigcheck};
use crate::identity::{time, x509};

/// Intermediates followed between the end entity and a CA, at most.
pub const MAX_INTERMEDIATES: usize = 6;
/// Certificates the server sent that we look at, at most: each step may try a signature with
/// every one whose name fits, so a server sending hundreds would cost hundreds of verifications.
pub const MAX_SENT: usize = 16;

/// Why the server's certificate was refused; one line, naming the certificate by its CN.
#[derive(Clone, PartialEq, Eq)]
pub enum Error {
    /// A certificate on the path cannot be read.
    BadEncoding {
        which: String,
        reason: String,
    },
    Expired {
        which: String,
        not_after: i64,
    },
    NotYetValid {
        which: String,
        not_before: i64,
    },
    /// No CA (or intermediate) has the issuer's name and a key that verifies the signature.
    UnknownIssuer {
        which: String,
        issuer: String,
    },
    /// A CA with the issuer's name exists but its key does not verify the signature.
    BadSignature {
        which: String,
        reason: String,
    },
    /// A v3 intermediate without basicConstraints cA.
    NotCa {
        which: String,
    },
    TooLong,
    /// A server name is configured and the certificate does not carry it.
    WrongName {
        wanted: String,
        presented: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadEncoding { which, reason } => write!(f, "{which} cannot be read: {reason}"),
            Error::Expired { which, not_after } => {
                write!(f, "{which} expired on {}", time::format(*not_after))
            }
            Error::NotYetValid { which, not_before } => {
                write!(
                    f,
                    "{which} is not valid before {}",
                    time::format(*not_before)
                )
            }
            Error::UnknownIssuer { which, issuer } => write!(
                f,
                "{which} is not signed by a configured CA (issuer {issuer})"
            ),
            Error::BadSignature { which, reason } => write!(
                f,
                "{which}: signature does not verify with the CA of that name ({reason})"
            ),
            Error::NotCa { which } => {
                write!(f, "{which} is used as an intermediate but is not a CA")
            }
            Error::TooLong => write!(
                f,
                "server certificate chain longer than {MAX_INTERMEDIATES} intermediates"
            ),
            Error::WrongName { wanted, presented } => write!(
                f,
                "server certificate is not valid for {wanted:?} (it names {presented})"
            ),
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

impl From<Error> for rustls::Error {
    fn from(e: Error) -> Self {
        // `Other` keeps our message (which certificate, which date, which issuer) in the log.
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(std::sync::Arc::new(
            e,
        ))))
    }
}

fn describe(role: &str, cert: &x509::Certificate<'_>) -> String {
    match &cert.subject_cn {
        Some(cn) => format!("{role} CN={cn}"),
        None => format!("{role} (no CN)"),
    }
}

fn parse<'a>(role: &str, der: &'a [u8]) -> Result<x509::Certificate<'a>, Error> {
    x509::parse(der).map_err(|e| Error::BadEncoding {
        which: role.to_string(),
        reason: e.to_string(),
    })
}

/// Whether `cert` is within its validity at `now` (seconds since the Unix epoch).
pub fn check_dates(which: &str, cert: &x509::Certificate<'_>, now: i64) -> Result<(), Error> {
    if now < cert.not_before {
        Err(Error::NotYetValid {
            which: which.to_string(),
            not_before: cert.not_before,
        })
    } else if now > cert.not_after {
        Err(Error::Expired {
            which: which.to_string(),
            not_after: cert.not_after,
        })
    } else {
        Ok(())
    }
}

/// Verifies the server's certificate path to one of `anchors`, and its name if `name` is set.
pub fn verify_server(
    end_entity: &[u8],
    intermediates: &[CertificateDer<'_>],
    anchors: &[CertificateDer<'_>],
    now: i64,
    name: Option<&str>,
) -> Result<(), Error> {
    let ee = parse("server certificate", end_entity)?;
    let ee_which = describe("server certificate", &ee);
    check_dates(&ee_which, &ee, now)?;
    if let Some(wanted) = name {
        let which = ee_which.clone();
        let exts = ext::read(&ee).map_err(|e| Error::BadEncoding {
            which,
            reason: e.to_string(),
        })?;
        if !ext::names_host(&ee, &exts, wanted) {
            return Err(Error::WrongName {
                wanted: wanted.to_string(),
                presented: ext::presented(&ee, &exts),
            });
        }
    }
    if anchors.iter().any(|a| a.as_ref() == end_entity) {
        return Ok(());
    }

    let intermediates = &intermediates[..intermediates.len().min(MAX_SENT)];
    let mut used = vec![false; intermediates.len()];
    let (mut current, mut which) = (ee, ee_which);
    for _ in 0..=MAX_INTERMEDIATES {
        // A valid CA that signed `current` ends the path. A CA that signed it but is out of its
        // dates, or one with the right name whose key does not verify, is remembered so the
        // error says so rather than "unknown issuer" (a CA file may hold an old and a renewed CA).
        let mut anchor_err = None;
        for anchor in anchors {
            let ca = parse("CA certificate", anchor)?;
            if ca.subject != current.issuer {
                continue;
            }
            match sigcheck::verify_certificate(&current, ca.spki) {
                Ok(()) => match check_dates(&describe("CA certificate", &ca), &ca, now) {
                    Ok(()) => return Ok(()),
                    Err(e) => anchor_err = Some(e),
                },
                Err(e) if anchor_err.is_none() => {
                    anchor_err = Some(Error::BadSignature {
                        which: which.clone(),
                        reason: e.to_string(),
                    })
                }
                Err(_) => {}
            }
        }
        let next = intermediates.iter().enumerate().find_map(|(i, der)| {
            let cert = x509::parse(der).ok()?;
            let signed = !used[i]
                && cert.subject == current.issuer
                && sigcheck::verify_certificate(&current, cert.spki).is_ok();
            signed.then_some((i, cert))
        });
        let Some((i, issuer)) = next else {
            return Err(match anchor_err {
                Some(e) => e,
                None => Error::UnknownIssuer {
                    issuer: current
                        .issuer_cn
                        .as_ref()
                        .map_or_else(|| "without a CN".to_string(), |cn| format!("CN={cn}")),
                    which,
                },
            });
        };
        used[i] = true;
        let issuer_which = describe("intermediate certificate", &issuer);
        check_dates(&issuer_which, &issuer, now)?;
        check_can_issue(&issuer_which, &issuer)?;
        (current, which) = (issuer, issuer_which);
    }
    Err(Error::TooLong)
}

/// v1/v2 intermediates cannot say whether they are CAs and are taken on trust (the ENF is all
/// v1); a v3 one must assert basicConstraints cA, or any CA-signed leaf could issue.
fn check_can_issue(which: &str, cert: &x509::Certificate<'_>) -> Result<(), Error> {
    if cert.version < 3 {
        return Ok(());
    }
    let exts = ext::read(cert).map_err(|e| Error::BadEncoding {
        which: which.to_string(),
        reason: e.to_string(),
    })?;
    if exts.is_ca {
        Ok(())
    } else {
        Err(Error::NotCa {
            which: which.to_string(),
        })
    }
}
