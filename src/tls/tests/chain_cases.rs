//! `chain::verify_server` without a handshake: path limits, cycles, and bytes that are not
//! certificates (never a panic).

use proptest::prelude::*;
use rustls_pki_types::CertificateDer;

use super::*;
use crate::tls::chain::{verify_server, Error, MAX_INTERMEDIATES};

const NOW: i64 = 1_750_000_000;

/// A root and `n` intermediates below it, each signed by the one before; and a leaf below the last.
fn ladder(n: usize) -> (Made, Vec<Made>, Made) {
    let root_p = ca_params("Root");
    let root = self_signed(&root_p, p256());
    let mut above = (root_p, None::<usize>);
    let mut inters: Vec<Made> = Vec::new();
    for i in 0..n {
        let p = ca_params(&format!("Intermediate {i}"));
        let m = match above.1 {
            None => signed(&p, p256(), &above.0, &root),
            Some(j) => signed(&p, p256(), &above.0, &inters[j]),
        };
        inters.push(m);
        above = (p, Some(i));
    }
    let leaf_p = params("leaf.example", &["leaf.example"]);
    let leaf = match above.1 {
        None => signed(&leaf_p, p256(), &above.0, &root),
        Some(j) => signed(&leaf_p, p256(), &above.0, &inters[j]),
    };
    (root, inters, leaf)
}

fn ders(ms: &[Made]) -> Vec<CertificateDer<'static>> {
    ms.iter().map(|m| m.cert.clone()).collect()
}

#[test]
fn path_length() {
    for (n, ok) in [
        (0, true),
        (1, true),
        (MAX_INTERMEDIATES, true),
        (MAX_INTERMEDIATES + 1, false),
    ] {
        let (root, inters, leaf) = ladder(n);
        // Intermediates in reverse order: the verifier must find them by name, not position.
        let mut sent = ders(&inters);
        sent.reverse();
        let got = verify_server(&leaf.cert, &sent, &ders(&[root]), NOW, Some("leaf.example"));
        if ok {
            assert_eq!(got, Ok(()), "{n} intermediates");
        } else {
            assert_eq!(got, Err(Error::TooLong), "{n} intermediates");
        }
    }
}

#[test]
fn an_intermediate_is_used_once() {
    // A self-signed intermediate signs itself: without the "used once" rule this would loop.
    let loop_p = ca_params("Loop");
    let looped = self_signed(&loop_p, p256());
    let leaf = signed(&params("leaf.example", &[]), p256(), &loop_p, &looped);
    let root = self_signed(&ca_params("Root"), p256());
    let got = verify_server(&leaf.cert, &ders(&[looped]), &ders(&[root]), NOW, None);
    assert_eq!(
        got,
        Err(Error::UnknownIssuer {
            which: "intermediate certificate CN=Loop".to_string(),
            issuer: "CN=Loop".to_string(),
        })
    );
}

#[test]
fn renewed_ca_next_to_an_expired_one() {
    let key = p256();
    let key_pem = key.serialize_pem();
    let mut old_p = ca_params("Root");
    old_p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let old = self_signed(&old_p, key);
    let renewed = self_signed(
        &ca_params("Root"),
        KeyPair::from_pem(&key_pem).expect("key"),
    );
    let leaf = signed(&params("leaf.example", &[]), p256(), &old_p, &old);
    let anchors = ders(&[old, renewed]);
    assert_eq!(verify_server(&leaf.cert, &[], &anchors, NOW, None), Ok(()));
    assert!(matches!(
        verify_server(&leaf.cert, &[], &anchors[..1], NOW, None),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn year_zero_vectors_at_the_edges_of_time() {
    let router = vector_cert("router.crt.pem");
    let anchors = [router.clone()];
    for now in [i64::MIN, -62_167_219_200, 0, NOW, 253_402_300_799, i64::MAX] {
        let got = verify_server(&router, &[], &anchors, now, None);
        let inside = (-62_167_219_200..=253_402_300_799).contains(&now);
        assert_eq!(got.is_ok(), inside, "now = {now}: {got:?}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let router = vector_cert("router.crt.pem");
        let junk = CertificateDer::from(bytes.clone());
        prop_assert!(verify_server(&bytes, &[], std::slice::from_ref(&router), NOW, None).is_err());
        let _ = verify_server(&bytes, std::slice::from_ref(&junk), std::slice::from_ref(&junk), NOW, Some("x"));
    }

    #[test]
    fn corrupted_vector_never_panics(at in 0usize..400, xor in 1u8..=255) {
        let router = vector_cert("router.crt.pem");
        let mut bad = router.to_vec();
        let i = at % bad.len();
        bad[i] ^= xor;
        // Against the genuine anchor: refused (a flipped byte is no longer the CA itself, and
        // its signature cannot verify). As its own anchor it may pass; it must not panic.
        prop_assert!(verify_server(&bad, &[], &[router], NOW, None).is_err());
        let _ = verify_server(&bad, &[], &[CertificateDer::from(bad.clone())], NOW, Some("router.enftun.example"));
    }
}
