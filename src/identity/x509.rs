//! A small X.509 certificate reader: the fields a verifier needs, straight from the DER bytes.
//!
//! Gives the signed bytes (tbsCertificate), version, issuer and subject (raw, and their first
//! CN), validity as Unix seconds, the SubjectPublicKeyInfo, the signature algorithm and the
//! signature. It tolerates what the ENF's own certificates are: X.509 v1 without extensions and a
//! notBefore in year 0000. It verifies nothing (no signature, chain or date check) and never
//! panics: every element is bounds-checked by `der.rs`.

use std::fmt;

use super::der::{self, Reader, Tlv};
use super::time;

/// OID 2.5.4.3, commonName.
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate<'a> {
    /// The whole DER tbsCertificate: the bytes the signature covers.
    pub tbs: &'a [u8],
    /// 1, 2 or 3.
    pub version: u8,
    pub serial: &'a [u8],
    /// The whole DER issuer Name (compare with a CA's `subject` to chain).
    pub issuer: &'a [u8],
    pub issuer_cn: Option<String>,
    /// The whole DER subject Name.
    pub subject: &'a [u8],
    pub subject_cn: Option<String>,
    /// Seconds since the Unix epoch (negative before 1970).
    pub not_before: i64,
    pub not_after: i64,
    /// The whole DER SubjectPublicKeyInfo; `public_key` splits it.
    pub spki: &'a [u8],
    /// The contents of the `[3]` extensions field (a DER SEQUENCE of Extension), v3 only.
    pub extensions: Option<&'a [u8]>,
    /// The contents of the signature AlgorithmIdentifier, in the form of
    /// `rustls_pki_types::alg_id` (e.g. `alg_id::ECDSA_SHA256`).
    pub signature_algorithm: &'a [u8],
    /// The signature bits.
    pub signature: &'a [u8],
}

/// A SubjectPublicKeyInfo split in two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey<'a> {
    /// The AlgorithmIdentifier contents, in the form of `rustls_pki_types::alg_id::ECDSA_P256`.
    pub algorithm: &'a [u8],
    /// The key bits, as ring's `UnparsedPublicKey` takes them.
    pub key: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The DER structure of `field` is broken.
    Der {
        field: &'static str,
        err: der::Error,
    },
    /// `field` is well-formed DER with a value X.509 does not allow.
    Invalid {
        field: &'static str,
        msg: &'static str,
    },
    /// A validity time cannot be read.
    Time {
        field: &'static str,
        err: time::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Der { field, err } => write!(f, "{field}: {err}"),
            Error::Invalid { field, msg } => write!(f, "{field}: {msg}"),
            Error::Time { field, err } => write!(f, "{field}: {err}"),
        }
    }
}

impl std::error::Error for Error {}

/// Reads one DER certificate (exactly one: trailing bytes are an error).
pub fn parse(der_bytes: &[u8]) -> Result<Certificate<'_>, Error> {
    let cert = der::single(der_bytes, der::SEQUENCE).map_err(at("certificate"))?;
    let mut outer = Reader::new(cert.contents);
    let tbs = outer.expect(der::SEQUENCE).map_err(at("tbsCertificate"))?;
    let outer_alg = outer
        .expect(der::SEQUENCE)
        .map_err(at("signatureAlgorithm"))?;
    let sig = outer
        .expect(der::BIT_STRING)
        .map_err(at("signatureValue"))?;
    outer.finish().map_err(at("certificate"))?;
    let signature = der::whole_bytes(sig.contents).map_err(at("signatureValue"))?;

    let mut r = Reader::new(tbs.contents);
    let version = read_version(&mut r)?;
    let serial = r.expect(der::INTEGER).map_err(at("serialNumber"))?.contents;
    if serial.is_empty() {
        return Err(invalid("serialNumber", "empty"));
    }
    let inner_alg = r.expect(der::SEQUENCE).map_err(at("signature"))?;
    if inner_alg.contents != outer_alg.contents {
        return Err(invalid("signature", "differs from signatureAlgorithm"));
    }
    let issuer = r.expect(der::SEQUENCE).map_err(at("issuer"))?;
    let issuer_cn = cn_of(issuer.raw, "issuer", "issuer CN")?;
    let (not_before, not_after) = read_validity(&mut r)?;
    let subject = r.expect(der::SEQUENCE).map_err(at("subject"))?;
    let subject_cn = cn_of(subject.raw, "subject", "subject CN")?;
    let spki = r
        .expect(der::SEQUENCE)
        .map_err(at("subjectPublicKeyInfo"))?;
    public_key(spki.raw)?;

    // issuerUniqueID [1] and subjectUniqueID [2] (v2 and v3), extensions [3] (v3 only).
    let issuer_uid = r.optional(0x81).map_err(at("issuerUniqueID"))?;
    let subject_uid = r.optional(0x82).map_err(at("subjectUniqueID"))?;
    if version < 2 && (issuer_uid.is_some() || subject_uid.is_some()) {
        return Err(invalid(
            "tbsCertificate",
            "unique identifiers in a v1 certificate",
        ));
    }
    let extensions = match r.optional(0xA3).map_err(at("extensions"))? {
        None => None,
        Some(_) if version < 3 => {
            return Err(invalid("extensions", "present in a v1 or v2 certificate"))
        }
        Some(ext) => Some(
            der::single(ext.contents, der::SEQUENCE)
                .map_err(at("extensions"))?
                .raw,
        ),
    };
    r.finish().map_err(at("tbsCertificate"))?;

    Ok(Certificate {
        tbs: tbs.raw,
        version,
        serial,
        issuer: issuer.raw,
        issuer_cn,
        subject: subject.raw,
        subject_cn,
        not_before,
        not_after,
        spki: spki.raw,
        extensions,
        signature_algorithm: outer_alg.contents,
        signature,
    })
}

/// `[0] EXPLICIT INTEGER DEFAULT v1`: absent means v1.
fn read_version(r: &mut Reader<'_>) -> Result<u8, Error> {
    let Some(explicit) = r.optional(0xA0).map_err(at("version"))? else {
        return Ok(1);
    };
    let v = der::single(explicit.contents, der::INTEGER).map_err(at("version"))?;
    match v.contents {
        [0] => Ok(1),
        [1] => Ok(2),
        [2] => Ok(3),
        _ => Err(invalid("version", "not 1, 2 or 3")),
    }
}

fn read_validity(r: &mut Reader<'_>) -> Result<(i64, i64), Error> {
    let validity = r.expect(der::SEQUENCE).map_err(at("validity"))?;
    let mut v = Reader::new(validity.contents);
    let not_before = read_time(&mut v, "notBefore")?;
    let not_after = read_time(&mut v, "notAfter")?;
    v.finish().map_err(at("validity"))?;
    Ok((not_before, not_after))
}

fn read_time(r: &mut Reader<'_>, field: &'static str) -> Result<i64, Error> {
    let t = r.any().map_err(at(field))?;
    let secs = match t.tag {
        der::UTC_TIME => time::utc_time(t.contents),
        der::GENERALIZED_TIME => time::generalized_time(t.contents),
        _ => return Err(invalid(field, "not a UTCTime or GeneralizedTime")),
    };
    secs.map_err(|err| Error::Time { field, err })
}

/// Splits a whole DER SubjectPublicKeyInfo into algorithm and key bits.
pub fn public_key(spki: &[u8]) -> Result<PublicKey<'_>, Error> {
    let field = "subjectPublicKeyInfo";
    let seq = der::single(spki, der::SEQUENCE).map_err(at(field))?;
    let mut r = Reader::new(seq.contents);
    let algorithm = r.expect(der::SEQUENCE).map_err(at(field))?;
    Reader::new(algorithm.contents)
        .expect(der::OID)
        .map_err(at(field))?;
    let bits = r.expect(der::BIT_STRING).map_err(at(field))?;
    r.finish().map_err(at(field))?;
    let key = der::whole_bytes(bits.contents).map_err(at(field))?;
    Ok(PublicKey {
        algorithm: algorithm.contents,
        key,
    })
}

/// The first commonName in a whole DER Name, decoded; every RDN is checked on the way.
// For verifiers that match names outside a certificate (the tunnel and router issues).
pub fn first_cn(name: &[u8]) -> Result<Option<String>, Error> {
    cn_of(name, "name", "CN")
}

/// `first_cn`, with the field names its errors use.
fn cn_of(
    name: &[u8],
    field: &'static str,
    cn_field: &'static str,
) -> Result<Option<String>, Error> {
    let name = der::single(name, der::SEQUENCE).map_err(at(field))?;
    let mut rdns = Reader::new(name.contents);
    let mut found = None;
    while !rdns.is_empty() {
        let rdn = rdns.expect(der::SET).map_err(at(field))?;
        let mut attrs = Reader::new(rdn.contents);
        if attrs.is_empty() {
            return Err(invalid(field, "empty relative distinguished name"));
        }
        while !attrs.is_empty() {
            let attr = attrs.expect(der::SEQUENCE).map_err(at(field))?;
            let mut a = Reader::new(attr.contents);
            let oid = a.expect(der::OID).map_err(at(field))?;
            let value = a.any().map_err(at(field))?;
            a.finish().map_err(at(field))?;
            if found.is_none() && oid.contents == OID_COMMON_NAME {
                found = Some(directory_string(value).map_err(|msg| invalid(cn_field, msg))?);
            }
        }
    }
    Ok(found)
}

/// The string types a CN may use, decoded to UTF-8.
fn directory_string(v: Tlv<'_>) -> Result<String, &'static str> {
    let bad = || "badly encoded string";
    match v.tag {
        // UTF8String; PrintableString, IA5String and NumericString are ASCII subsets.
        0x0C | 0x12 | 0x13 | 0x16 => {
            let s = std::str::from_utf8(v.contents).map_err(|_| bad())?;
            if v.tag != 0x0C && !s.is_ascii() {
                return Err(bad());
            }
            Ok(s.to_string())
        }
        // TeletexString: in practice Latin-1.
        0x14 => Ok(v.contents.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE.
        0x1E => {
            if v.contents.len() % 2 != 0 {
                return Err(bad());
            }
            let units = v
                .contents
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|_| bad())
        }
        // UniversalString: UTF-32BE.
        0x1C => {
            if v.contents.len() % 4 != 0 {
                return Err(bad());
            }
            v.contents
                .chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).ok_or_else(bad)
                })
                .collect()
        }
        _ => Err("not a string type"),
    }
}

fn at(field: &'static str) -> impl Fn(der::Error) -> Error {
    move |err| Error::Der { field, err }
}

fn invalid(field: &'static str, msg: &'static str) -> Error {
    Error::Invalid { field, msg }
}

#[cfg(test)]
#[path = "x509_tests.rs"]
mod tests;
