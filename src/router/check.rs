//! The router's trust: which key may use which address (the registry, shared with the TLS
//! verifier), and the server configuration built from DIR.

use super::{provision, registry};
use crate::tls::{self, ClientCheck, Refusal};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// The registered endpoints, replaced whole on reload. The verifier runs inside rustls on the
/// router's one thread; the lock only satisfies `Sync`. A key that is not (or differently) known
/// is looked up once more on disk before it is refused, so an endpoint registered a moment ago
/// connects at once rather than after the next reload.
#[derive(Debug, Default)]
pub struct Registered {
    map: RwLock<HashMap<Ipv6Addr, Vec<u8>>>,
    dir: Option<PathBuf>,
}

impl Registered {
    pub fn new(dir: &Path) -> Registered {
        Registered {
            map: RwLock::default(),
            dir: Some(dir.to_path_buf()),
        }
    }

    /// The key registered on disk for `address` right now, if any.
    fn on_disk(&self, address: Ipv6Addr) -> Option<Vec<u8>> {
        let dir = self.dir.as_ref()?;
        let path = registry::endpoints_dir(dir).join(registry::file_name(address));
        registry::spki_from_pem(&std::fs::read(path).ok()?).ok()
    }

    /// How many endpoints are registered (as last loaded).
    pub fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn replace(&self, map: HashMap<Ipv6Addr, Vec<u8>>) {
        if let Ok(mut m) = self.map.write() {
            *m = map;
        }
    }
}

impl ClientCheck for Registered {
    fn check(&self, address: Ipv6Addr, spki: &[u8]) -> Result<(), Refusal> {
        let refusal = {
            let map = self.map.read().map_err(|_| Refusal::NotRegistered)?;
            match map.get(&address) {
                Some(key) if key.as_slice() == spki => return Ok(()),
                Some(_) => Refusal::KeyMismatch,
                None if map.values().any(|k| k.as_slice() == spki) => Refusal::NotRegistered,
                None => Refusal::UnknownKey,
            }
        };
        // Only on a miss: the disk may already know what the next reload will bring.
        // A key on disk that differs is a mismatch, whatever the last load knew: an address
        // registered a moment ago must not be reported as unregistered.
        match self.on_disk(address) {
            Some(fresh) if fresh.as_slice() == spki => {
                if let Ok(mut m) = self.map.write() {
                    m.insert(address, fresh);
                }
                Ok(())
            }
            Some(_) => Err(Refusal::KeyMismatch),
            None => Err(refusal),
        }
    }
}

/// The TLS server configuration from `DIR/server.crt.pem` and `DIR/server.key.pem`.
pub fn server_config(
    dir: &Path,
    clients: Arc<Registered>,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let cert_path = dir.join(provision::SERVER_CERT);
    let key_path = dir.join(provision::SERVER_KEY);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    tls::server_config(chain, key, clients).map_err(|e| format!("{}: {e}", cert_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_for_its_case() {
        let (a, b, c): (Ipv6Addr, Ipv6Addr, Ipv6Addr) = (
            "fd00::a".parse().unwrap(),
            "fd00::b".parse().unwrap(),
            "fd00::c".parse().unwrap(),
        );
        let r = Registered::default();
        r.replace(HashMap::from([(a, vec![1]), (b, vec![2])]));
        assert_eq!(r.check(a, &[1]), Ok(()));
        assert_eq!(r.check(a, &[2]), Err(Refusal::KeyMismatch));
        assert_eq!(r.check(c, &[2]), Err(Refusal::NotRegistered));
        assert_eq!(r.check(c, &[3]), Err(Refusal::UnknownKey));
    }

    /// An address registered on disk since the last load: its own key gets in at once, another
    /// registered key is a mismatch (not "not registered", which the last load alone would say).
    #[test]
    fn a_fresh_registration_is_read_from_disk() {
        use rcgen::PublicKeyData;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(registry::endpoints_dir(dir.path())).unwrap();
        let (c, d): (Ipv6Addr, Ipv6Addr) = ("fd00::c".parse().unwrap(), "fd00::d".parse().unwrap());
        let (key_c, key_d) = (
            rcgen::KeyPair::generate().unwrap(),
            rcgen::KeyPair::generate().unwrap(),
        );
        let path = registry::endpoints_dir(dir.path()).join(registry::file_name(c));
        std::fs::write(path, key_c.public_key_pem()).unwrap();
        let r = Registered::new(dir.path());
        r.replace(HashMap::from([(d, key_d.subject_public_key_info())]));
        assert_eq!(
            r.check(c, &key_d.subject_public_key_info()),
            Err(Refusal::KeyMismatch)
        );
        assert_eq!(r.check(c, &key_c.subject_public_key_info()), Ok(()));
        assert_eq!(r.len(), 2);
    }
}
