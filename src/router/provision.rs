//! Keys and certificates for the local ENF: the router's CA and server certificate, endpoint
//! credentials and their `enf0.conf`, and public keys read from files for registration.
//!
//! `init` makes DIR (0700): `ca.key.pem` (0600), `ca.crt.pem` (v3, basicConstraints CA, 10 years),
//! `server.key.pem` (0600), `server.crt.pem` (signed by the CA, 2 years, SANs = the hosts),
//! `endpoints/` (0700, see `registry`) and `hosts`: the `--host` values, one a line, which
//! `add-endpoint --out` puts in `enf0.conf` when it is given none. All keys are EC P-256.
//! `write_endpoint` fills OUTDIR with `enf0.key.pem` (0600, PKCS#8), `enf0.crt.pem` (self-signed,
//! CN = the canonical address, 10 years), `enf.cacert.pem` and `enf0.conf` whose paths are
//! relative, so OUTDIR works wherever it is mounted. Default route prefixes: `fc00::/7` (every
//! ULA) for a ULA address, else `default`. Every file is written atomically. It does not parse
//! command lines (`command`) or touch the registry (`registry`).

use std::fmt;
use std::net::Ipv6Addr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::registry::{self, io_error, write_atomic};
use crate::config::{Config, Prefix};
use crate::identity::{address_from_cn, x509};

pub const CA_KEY: &str = "ca.key.pem";
pub const CA_CERT: &str = "ca.crt.pem";
pub const SERVER_KEY: &str = "server.key.pem";
pub const SERVER_CERT: &str = "server.crt.pem";
pub const HOSTS: &str = "hosts";
/// Whether `dir` is a directory with nothing in it.
fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
}

/// The server certificate's names when `init` is given no `--host`.
pub const DEFAULT_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The files of an endpoint directory (OUTDIR), as `enf0.conf` names them.
pub const KEY_FILE: &str = "enf0.key.pem";
pub const CERT_FILE: &str = "enf0.crt.pem";
pub const CA_FILE: &str = "enf.cacert.pem";
pub const CONF_FILE: &str = "enf0.conf";

const DAY_SECS: u64 = 86_400;
const CA_DAYS: u64 = 3_652;
const SERVER_DAYS: u64 = 731;
const ENDPOINT_DAYS: u64 = 3_652;
/// Certificates start an hour back, so a peer whose clock lags a little accepts them at once.
const BACKDATE_SECS: u64 = 3_600;
/// Public keys and certificates are small; a larger file is not one.
const MAX_INPUT_BYTES: u64 = 64 * 1024;

#[derive(Debug)]
pub enum Error {
    /// `init` never overwrites.
    Exists { dir: PathBuf },
    /// A file or directory could not be read or written.
    Fs(registry::Error),
    /// rcgen refused to make a key or certificate.
    Generate(String),
    /// A `--public-key` file is not a usable public key or certificate.
    Input { path: PathBuf, reason: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Exists { dir } => write!(
                f,
                "{} already exists and is not empty; init never overwrites a directory",
                dir.display()
            ),
            Error::Fs(e) => write!(f, "{e}"),
            Error::Generate(why) => write!(f, "cannot generate a key or certificate: {why}"),
            Error::Input { path, reason } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

impl From<registry::Error> for Error {
    fn from(e: registry::Error) -> Error {
        Error::Fs(e)
    }
}

impl From<rcgen::Error> for Error {
    fn from(e: rcgen::Error) -> Error {
        Error::Generate(e.to_string())
    }
}

/// Creates DIR with a new CA and a server certificate for `hosts` (`DEFAULT_HOSTS` if empty);
/// returns the CA certificate (DER).
pub fn init(dir: &Path, hosts: &[String]) -> Result<Vec<u8>, Error> {
    let hosts: Vec<String> = match hosts {
        [] => DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect(),
        given => given.to_vec(),
    };
    // Everything is generated before DIR exists, so a failure here leaves nothing behind.
    let ca_key = new_key()?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = name("enf-router local CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut ca, CA_DAYS);
    let ca_cert = ca.self_signed(&ca_key)?;

    let server_key = new_key()?;
    let mut server = CertificateParams::new(hosts.clone())?;
    server.distinguished_name = name(hosts.first().map_or("enf-router", String::as_str));
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    set_validity(&mut server, SERVER_DAYS);
    let server_cert = server.signed_by(&server_key, &Issuer::from_params(&ca, &ca_key))?;

    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error("create", parent))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        // An empty directory is fine (a fresh Docker volume mounted there): nothing is overwritten.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && is_empty_dir(dir) => {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_error("chmod", dir))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists {
                dir: dir.to_path_buf(),
            })
        }
        other => other.map_err(io_error("create", dir))?,
    }
    let files = [
        (CA_KEY, ca_key.serialize_pem(), 0o600),
        (CA_CERT, ca_cert.pem(), 0o644),
        (SERVER_KEY, server_key.serialize_pem(), 0o600),
        (SERVER_CERT, server_cert.pem(), 0o644),
        (HOSTS, hosts.join("\n") + "\n", 0o644),
    ];
    let written = (|| {
        private_dir(dir)?;
        private_dir(&registry::endpoints_dir(dir))?;
        for (file, text, mode) in &files {
            write_atomic(&dir.join(file), text.as_bytes(), *mode)?;
        }
        Ok(())
    })();
    if written.is_err() {
        // DIR is ours (we just created it): a half-made router directory helps nobody.
        let _ = std::fs::remove_dir_all(dir);
    }
    written.map(|()| ca_cert.der().to_vec())
}

/// Creates `path` if needed and makes it 0700 whatever the umask.
fn private_dir(path: &Path) -> Result<(), registry::Error> {
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map_err(io_error("create", path)),
    }?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(io_error("set the mode of", path))
}

/// The hosts `init` was given (its defaults if the file is missing).
pub fn hosts(dir: &Path) -> Result<Vec<String>, Error> {
    let path = dir.join(HOSTS);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(DEFAULT_HOSTS.iter().map(|h| h.to_string()).collect())
        }
        Err(e) => Err(io_error("read", &path)(e).into()),
    }
}

/// A new endpoint identity: key (PKCS#8 PEM), self-signed certificate (PEM) and SPKI (DER).
pub struct Endpoint {
    pub key_pem: String,
    pub cert_pem: String,
    pub spki: Vec<u8>,
}

/// A key pair and a self-signed certificate whose CN is `addr` in canonical text.
pub fn endpoint(addr: Ipv6Addr) -> Result<Endpoint, Error> {
    let key = new_key()?;
    let mut params = CertificateParams::default();
    // The CN alone, as the ENF's own endpoint certificates have it.
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, addr.to_string());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    set_validity(&mut params, ENDPOINT_DAYS);
    let cert = params.self_signed(&key)?;
    Ok(Endpoint {
        key_pem: key.serialize_pem(),
        cert_pem: cert.pem(),
        spki: key.subject_public_key_info(),
    })
}

/// Where the endpoint's tunnel goes: the `remote` and `route` parts of its `enf0.conf`.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    pub hosts: Vec<String>,
    pub port: u16,
    pub prefixes: Vec<Prefix>,
}

/// The routes an endpoint gets when none are given: every ULA for a ULA address (where local
/// overlays live), else `default`.
pub fn default_prefixes(addr: Ipv6Addr) -> Vec<Prefix> {
    if addr.segments()[0] & 0xfe00 == 0xfc00 {
        vec![Prefix::net(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7)]
    } else {
        vec![Prefix::Default]
    }
}

/// The endpoint's configuration, file paths relative to the file's own directory.
pub fn endpoint_config(conf_path: &Path, remote: &Remote) -> Config {
    let mut cfg = Config::defaults(conf_path);
    cfg.remote.hosts = remote.hosts.clone();
    cfg.remote.port = remote.port;
    cfg.remote.ca_cert_file = PathBuf::from(CA_FILE);
    cfg.route.prefixes = remote.prefixes.clone();
    cfg.route.fwmark = 0;
    cfg.identity.cert_file = Some(PathBuf::from(CERT_FILE));
    cfg.identity.key_file = Some(PathBuf::from(KEY_FILE));
    cfg
}

/// Makes a new identity for `addr` and writes OUTDIR (and its parents); returns the SPKI to
/// register. DIR is checked first, so a wrong DIR writes nothing.
pub fn write_endpoint(
    dir: &Path,
    outdir: &Path,
    addr: Ipv6Addr,
    remote: &Remote,
) -> Result<Vec<u8>, Error> {
    if !registry::endpoints_dir(dir).is_dir() {
        return Err(registry::Error::NotARouterDir {
            dir: dir.to_path_buf(),
        }
        .into());
    }
    let ca_path = dir.join(CA_CERT);
    let ca = std::fs::read(&ca_path).map_err(io_error("read", &ca_path))?;
    let ep = endpoint(addr)?;
    std::fs::create_dir_all(outdir).map_err(io_error("create", outdir))?;
    let conf = endpoint_config(&outdir.join(CONF_FILE), remote);
    let files = [
        (KEY_FILE, ep.key_pem.into_bytes(), 0o600),
        (CERT_FILE, ep.cert_pem.into_bytes(), 0o644),
        (CA_FILE, ca, 0o644),
        (
            CONF_FILE,
            crate::config::print::print(&conf).into_bytes(),
            0o644,
        ),
    ];
    for (file, bytes, mode) in &files {
        write_atomic(&outdir.join(file), bytes, *mode)?;
    }
    Ok(ep.spki)
}

/// The SPKI (DER) of a public key or certificate file, PEM or DER. A certificate must name
/// `addr` in its CN, since the router accepts it only for that address.
pub fn read_public_key(path: &Path, addr: Ipv6Addr) -> Result<Vec<u8>, Error> {
    let bad = |reason: String| Error::Input {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(crate::config::io_reason(&e)))?;
    if !meta.is_file() || meta.len() > MAX_INPUT_BYTES {
        return Err(bad("not a public key or certificate file".to_string()));
    }
    let bytes = std::fs::read(path).map_err(|e| bad(crate::config::io_reason(&e)))?;
    let has = |label: &[u8]| bytes.windows(label.len()).any(|w| w == label);
    let cert = if has(b"-----BEGIN PUBLIC KEY-----") {
        return registry::spki_from_pem(&bytes).map_err(bad);
    } else if has(b"-----BEGIN CERTIFICATE-----") {
        CertificateDer::from_pem_slice(&bytes)
            .map_err(|e| bad(format!("bad CERTIFICATE block ({e})")))?
            .as_ref()
            .to_vec()
    } else if bytes.first() == Some(&0x30) && x509::public_key(&bytes).is_ok() {
        return Ok(bytes);
    } else if bytes.first() == Some(&0x30) {
        bytes
    } else {
        return Err(bad(
            "neither a PUBLIC KEY nor a CERTIFICATE (PEM or DER)".to_string()
        ));
    };
    let parsed = x509::parse(&cert).map_err(|e| bad(format!("not a certificate: {e}")))?;
    let cn = parsed.subject_cn.as_deref().unwrap_or("");
    match address_from_cn(cn) {
        Ok(a) if a == addr => {}
        Ok(a) => {
            return Err(bad(format!(
                "certificate is for {a} (CN {cn:?}), not {addr}"
            )))
        }
        Err(e) => return Err(bad(e.to_string())),
    }
    x509::public_key(parsed.spki).map_err(|e| bad(e.to_string()))?;
    Ok(parsed.spki.to_vec())
}

fn new_key() -> Result<KeyPair, Error> {
    Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?)
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "enf-router");
    dn.push(DnType::CommonName, cn);
    dn
}

fn set_validity(params: &mut CertificateParams, days: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(Duration::from_secs(BACKDATE_SECS));
    params.not_after = epoch + now + Duration::from_secs(days * DAY_SECS);
}

#[cfg(test)]
#[path = "provision_tests.rs"]
mod tests;
