//! Test-only: builds signed certificates with chosen version, CN, validity and key type.
//!
//! Just enough of a DER writer to make the cases the vectors do not cover (expired, not yet
//! valid, v3 with extensions, Ed25519 and P-384 keys, odd CNs). Keys come from ring's generators;
//! nothing here is used outside tests.

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};

#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    P256,
    P384,
    Ed25519,
}

pub struct Spec<'a> {
    pub version: u8,
    pub cn: Option<&'a str>,
    /// 13 characters make a UTCTime, 15 a GeneralizedTime.
    pub not_before: &'a str,
    pub not_after: &'a str,
    pub key: KeyKind,
    /// Extensions even below v3 (an invalid certificate, for the reader's tests).
    pub extensions: bool,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            version: 1,
            cn: Some("fd00:8f80:1::99"),
            not_before: "00000101000000Z",
            not_after: "99991231235959Z",
            key: KeyKind::P256,
            extensions: false,
        }
    }
}

pub struct Built {
    pub cert: Vec<u8>,
    /// PKCS#8 DER.
    pub key: Vec<u8>,
}

pub fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

fn name(cn: Option<&str>) -> Vec<u8> {
    let org = seq(&[tlv(0x06, &[0x55, 0x04, 0x0a]), tlv(0x0c, b"enf-init tests")]);
    let mut rdns = vec![tlv(0x31, &org)];
    if let Some(cn) = cn {
        let attr = seq(&[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0c, cn.as_bytes())]);
        rdns.push(tlv(0x31, &attr));
    }
    seq(&rdns)
}

fn time(t: &str) -> Vec<u8> {
    tlv(if t.len() == 13 { 0x17 } else { 0x18 }, t.as_bytes())
}

/// A self-signed certificate and its key, as `spec` says.
pub fn build(spec: &Spec<'_>) -> Built {
    let rng = SystemRandom::new();
    let (key, public, sig_oid, spki_alg) = match spec.key {
        KeyKind::P256 | KeyKind::P384 => {
            let (alg, curve, sig_oid) = match spec.key {
                KeyKind::P256 => (
                    &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                    OID_P256,
                    OID_ECDSA_SHA256,
                ),
                _ => (
                    &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                    OID_P384,
                    OID_ECDSA_SHA384,
                ),
            };
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate EC key");
            let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).expect("EC key");
            let spki_alg = seq(&[tlv(0x06, OID_EC_PUBLIC_KEY), tlv(0x06, curve)]);
            (
                pkcs8.as_ref().to_vec(),
                pair.public_key().as_ref().to_vec(),
                sig_oid,
                spki_alg,
            )
        }
        KeyKind::Ed25519 => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate Ed25519 key");
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("Ed25519 key");
            let spki_alg = seq(&[tlv(0x06, OID_ED25519)]);
            (
                pkcs8.as_ref().to_vec(),
                pair.public_key().as_ref().to_vec(),
                OID_ED25519,
                spki_alg,
            )
        }
    };
    let sig_alg = seq(&[tlv(0x06, sig_oid)]);
    let spki = seq(&[spki_alg, tlv(0x03, &[&[0u8][..], &public].concat())]);
    let mut tbs_parts = Vec::new();
    if spec.version > 1 {
        tbs_parts.push(tlv(0xA0, &tlv(0x02, &[spec.version - 1])));
    }
    tbs_parts.extend([tlv(0x02, &[0x01, 0x23]), sig_alg.clone(), name(spec.cn)]);
    tbs_parts.push(seq(&[time(spec.not_before), time(spec.not_after)]));
    tbs_parts.extend([name(spec.cn), spki]);
    if spec.version == 3 || spec.extensions {
        // basicConstraints, critical, CA:FALSE.
        let ext = seq(&[
            tlv(0x06, &[0x55, 0x1d, 0x13]),
            tlv(0x01, &[0xff]),
            tlv(0x04, &seq(&[])),
        ]);
        tbs_parts.push(tlv(0xA3, &seq(&[ext])));
    }
    let tbs = seq(&tbs_parts);
    let sig = match spec.key {
        KeyKind::Ed25519 => Ed25519KeyPair::from_pkcs8(&key)
            .expect("key")
            .sign(&tbs)
            .as_ref()
            .to_vec(),
        KeyKind::P256 | KeyKind::P384 => {
            let alg = match spec.key {
                KeyKind::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                _ => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            };
            let pair = EcdsaKeyPair::from_pkcs8(alg, &key, &rng).expect("key");
            pair.sign(&rng, &tbs).expect("sign").as_ref().to_vec()
        }
    };
    let cert = seq(&[tbs, sig_alg, tlv(0x03, &[&[0u8][..], &sig].concat())]);
    Built { cert, key }
}

/// `der` as a PEM block with `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                b64.push('=');
            }
        }
    }
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap_or(""))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
