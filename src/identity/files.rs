//! Credential files as bytes: bounded reads, then certificates or a private key, PEM or DER.
//!
//! Each failure names the file and says what is wrong with it in the user's terms (missing,
//! unreadable, not PEM or DER, a key where a certificate should be). Certificates are checked
//! with `x509::parse` here, so a file that loads is a file every later step can read. It does
//! not check dates, addresses or whether a key matches: `mod.rs` does that.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{x509, Error};

/// Larger files are not credentials; refusing them keeps start-up bounded.
pub const MAX_CREDENTIAL_BYTES: u64 = 1024 * 1024;

/// A file's bytes and its permission bits.
pub fn read(path: &Path) -> Result<(Vec<u8>, u32), Error> {
    let fail = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Missing {
            path: path.to_path_buf(),
        },
        _ => Error::Unreadable {
            path: path.to_path_buf(),
            reason: crate::config::io_reason(&e),
        },
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    if !meta.is_file() {
        let reason = if meta.is_dir() {
            "is a directory"
        } else {
            "not a regular file"
        };
        return Err(Error::Unreadable {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        });
    }
    let mut bytes = Vec::new();
    file.take(MAX_CREDENTIAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > MAX_CREDENTIAL_BYTES {
        let reason = format!("larger than {MAX_CREDENTIAL_BYTES} bytes");
        return Err(Error::Unreadable {
            path: path.to_path_buf(),
            reason,
        });
    }
    Ok((bytes, meta.permissions().mode()))
}

/// Every certificate in a PEM file (at least one), or the one certificate of a DER file.
pub fn certificates(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let not_cert = |reason: String| Error::NotCertificate {
        path: path.to_path_buf(),
        reason,
    };
    let certs = match encoding(bytes) {
        Encoding::Der => vec![CertificateDer::from(bytes.to_vec())],
        Encoding::Neither => {
            return Err(Error::NotPemOrDer {
                path: path.to_path_buf(),
            })
        }
        Encoding::Pem => {
            let certs = CertificateDer::pem_slice_iter(bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad_pem(path, &e))?;
            if certs.is_empty() {
                return Err(not_cert(format!("no CERTIFICATE block{}", found(bytes))));
            }
            certs
        }
    };
    for (i, cert) in certs.iter().enumerate() {
        x509::parse(cert).map_err(|e| match certs.len() {
            1 => not_cert(e.to_string()),
            _ => not_cert(format!("certificate {}: {e}", i + 1)),
        })?;
    }
    Ok(certs)
}

/// The private key of a PEM file (its first key block) or of a DER file.
pub fn private_key(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    let not_key = |reason: String| Error::NotKey {
        path: path.to_path_buf(),
        reason,
    };
    match encoding(bytes) {
        Encoding::Neither => Err(Error::NotPemOrDer {
            path: path.to_path_buf(),
        }),
        Encoding::Der => PrivateKeyDer::try_from(bytes.to_vec()).map_err(|_| {
            not_key("DER data is not a PKCS#8, SEC1 or PKCS#1 private key".to_string())
        }),
        Encoding::Pem => {
            let labels = pem_labels(bytes);
            if labels.iter().any(|l| l.contains("ENCRYPTED"))
                || contains(bytes, b"Proc-Type: 4,ENCRYPTED")
            {
                return Err(not_key(
                    "encrypted; decrypt it first (openssl pkey -in KEY -out KEY)".to_string(),
                ));
            }
            PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
                pem::Error::NoItemsFound => {
                    not_key(format!("no PRIVATE KEY block{}", found(bytes)))
                }
                other => bad_pem(path, &other),
            })
        }
    }
}

enum Encoding {
    Pem,
    Der,
    Neither,
}

/// PEM if there is a BEGIN line anywhere (text may precede it); DER if it starts a SEQUENCE.
fn encoding(bytes: &[u8]) -> Encoding {
    if contains(bytes, b"-----BEGIN ") {
        Encoding::Pem
    } else if bytes.first() == Some(&0x30) {
        Encoding::Der
    } else {
        Encoding::Neither
    }
}

fn bad_pem(path: &Path, e: &pem::Error) -> Error {
    let reason = match e {
        pem::Error::MissingSectionEnd { .. } => "a block has no END line".to_string(),
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed".to_string(),
        pem::Error::Base64Decode(_) => "a block is not valid base64".to_string(),
        other => other.to_string(),
    };
    Error::BadPem {
        path: path.to_path_buf(),
        reason,
    }
}

/// " (found EC PRIVATE KEY)" or "", naming the blocks a PEM file does have.
fn found(bytes: &[u8]) -> String {
    let labels = pem_labels(bytes);
    if labels.is_empty() {
        String::new()
    } else {
        format!(" (found {})", labels.join(", "))
    }
}

/// The labels of the BEGIN lines, in order (at most a few, for a message).
fn pem_labels(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let label = line.strip_prefix(b"-----BEGIN ")?.strip_suffix(b"-----")?;
            Some(String::from_utf8_lossy(label).into_owned())
        })
        .take(8)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
