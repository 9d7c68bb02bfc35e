//! The two certificate extensions our verifiers look at: subjectAltName and basicConstraints.
//!
//! Reads them from the `extensions` bytes `identity::x509` hands out (v3 certificates only; a v1
//! certificate has none, and that is fine) with the DER reader in `identity::der`, and matches a
//! configured server name against a certificate (SAN dNSName/iPAddress, else the subject CN).
//! Every other extension is ignored, critical or not: the ENF's certificates are v1 and carry
//! none, and the checks that matter to us are the CA role of intermediates and the name.

use std::fmt;
use std::net::IpAddr;

use crate::identity::der::{self, Reader};
use crate::identity::x509;

/// OID 2.5.29.17, subjectAltName.
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// OID 2.5.29.19, basicConstraints.
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const BOOLEAN: u8 = 0x01;
/// GeneralName `[2] IA5String` and `[7] OCTET STRING`, implicitly tagged.
const SAN_DNS: u8 = 0x82;
const SAN_IP: u8 = 0x87;

/// What the extensions say, for our purposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// subjectAltName dNSName entries, as written.
    pub dns_names: Vec<String>,
    /// subjectAltName iPAddress entries.
    pub ips: Vec<IpAddr>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// Whether basicConstraints is present at all.
    pub has_basic_constraints: bool,
}

/// A broken extension, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub field: &'static str,
    pub reason: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for Error {}

fn bad(field: &'static str) -> impl Fn(der::Error) -> Error {
    move |e| Error {
        field,
        reason: e.to_string(),
    }
}

/// Reads the extensions of `cert` (none for v1 and v2).
pub fn read(cert: &x509::Certificate<'_>) -> Result<Extensions, Error> {
    let mut out = Extensions::default();
    let Some(all) = cert.extensions else {
        return Ok(out);
    };
    let seq = der::single(all, der::SEQUENCE).map_err(bad("extensions"))?;
    let mut r = Reader::new(seq.contents);
    while !r.is_empty() {
        let ext = r.expect(der::SEQUENCE).map_err(bad("extension"))?;
        let mut e = Reader::new(ext.contents);
        let oid = e.expect(der::OID).map_err(bad("extension"))?;
        e.optional(BOOLEAN).map_err(bad("extension"))?;
        let value = e.expect(der::OCTET_STRING).map_err(bad("extension"))?;
        e.finish().map_err(bad("extension"))?;
        if oid.contents == OID_SUBJECT_ALT_NAME {
            read_san(value.contents, &mut out)?;
        } else if oid.contents == OID_BASIC_CONSTRAINTS {
            out.has_basic_constraints = true;
            out.is_ca = read_basic_constraints(value.contents)?;
        }
    }
    Ok(out)
}

fn read_san(value: &[u8], out: &mut Extensions) -> Result<(), Error> {
    let field = "subjectAltName";
    let names = der::single(value, der::SEQUENCE).map_err(bad(field))?;
    let mut r = Reader::new(names.contents);
    while !r.is_empty() {
        let name = r.any().map_err(bad(field))?;
        match name.tag {
            SAN_DNS => {
                let s = std::str::from_utf8(name.contents)
                    .ok()
                    .filter(|s| s.is_ascii())
                    .ok_or_else(|| Error {
                        field,
                        reason: "dNSName is not ASCII".to_string(),
                    })?;
                out.dns_names.push(s.to_string());
            }
            SAN_IP => {
                let ip = match name.contents.len() {
                    4 => <[u8; 4]>::try_from(name.contents).ok().map(IpAddr::from),
                    16 => <[u8; 16]>::try_from(name.contents).ok().map(IpAddr::from),
                    _ => None,
                };
                out.ips.push(ip.ok_or_else(|| Error {
                    field,
                    reason: "iPAddress is neither 4 nor 16 bytes".to_string(),
                })?);
            }
            _ => {}
        }
    }
    Ok(())
}

/// `SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }`.
fn read_basic_constraints(value: &[u8]) -> Result<bool, Error> {
    let field = "basicConstraints";
    let seq = der::single(value, der::SEQUENCE).map_err(bad(field))?;
    let mut r = Reader::new(seq.contents);
    let ca = match r.optional(BOOLEAN).map_err(bad(field))? {
        None => false,
        Some(b) => match b.contents {
            [0x00] => false,
            [0xff] => true,
            _ => {
                return Err(Error {
                    field,
                    reason: "cA is not a DER BOOLEAN".to_string(),
                })
            }
        },
    };
    r.optional(der::INTEGER).map_err(bad(field))?;
    r.finish().map_err(bad(field))?;
    Ok(ca)
}

/// Whether `cert` names `wanted`: its SAN dNSName/iPAddress entries if it has any, else its
/// subject CN (RFC 6125 §6.4.4). DNS names compare case-insensitively, a trailing dot ignored,
/// a `*.` wildcard standing for exactly one leftmost label.
pub fn names_host(cert: &x509::Certificate<'_>, ext: &Extensions, wanted: &str) -> bool {
    let wanted_ip = wanted.parse::<IpAddr>().ok();
    if !ext.dns_names.is_empty() || !ext.ips.is_empty() {
        return match wanted_ip {
            Some(ip) => ext.ips.contains(&ip),
            None => ext.dns_names.iter().any(|d| dns_matches(d, wanted)),
        };
    }
    match (&cert.subject_cn, wanted_ip) {
        (Some(cn), Some(ip)) => cn.parse::<IpAddr>().is_ok_and(|c| c == ip),
        (Some(cn), None) => dns_matches(cn, wanted),
        (None, _) => false,
    }
}

fn dns_matches(presented: &str, wanted: &str) -> bool {
    let p = presented.strip_suffix('.').unwrap_or(presented);
    let w = wanted.strip_suffix('.').unwrap_or(wanted);
    if p.is_empty() || w.is_empty() {
        return false;
    }
    if p.eq_ignore_ascii_case(w) {
        return true;
    }
    match (p.strip_prefix("*."), w.split_once('.')) {
        (Some(p_rest), Some((label, w_rest))) => {
            !label.is_empty() && p_rest.contains('.') && p_rest.eq_ignore_ascii_case(w_rest)
        }
        _ => false,
    }
}

/// The names `cert` presents, for an error message.
pub fn presented(cert: &x509::Certificate<'_>, ext: &Extensions) -> String {
    let mut all: Vec<String> = ext.dns_names.clone();
    all.extend(ext.ips.iter().map(IpAddr::to_string));
    if all.is_empty() {
        if let Some(cn) = &cert.subject_cn {
            all.push(format!("CN={cn}"));
        }
    }
    if all.is_empty() {
        "no names".to_string()
    } else {
        all.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_matching() {
        let table: &[(&str, &str, bool)] = &[
            ("router.example", "router.example", true),
            ("Router.Example", "router.example", true),
            ("router.example.", "router.example", true),
            ("router.example", "router.example.", true),
            ("router.example", "other.example", false),
            ("*.enf.example", "a.enf.example", true),
            ("*.enf.example", "A.ENF.example", true),
            ("*.enf.example", "enf.example", false),
            ("*.enf.example", "a.b.enf.example", false),
            // No wildcard over a single label ("*.com").
            ("*.example", "a.example", false),
            ("*.", "a.", false),
            ("*", "a", false),
            ("a.*.example", "a.b.example", false),
            ("", "", false),
        ];
        for (p, w, want) in table {
            assert_eq!(dns_matches(p, w), *want, "{p:?} vs {w:?}");
        }
    }
}
