//! The endpoint address from a certificate: `address_from_cn`, and the X.509 reader under it.
//!
//! Input: any bytes, tried both as a CN (when UTF-8) and as a DER certificate. An accepted CN
//! must name a unicast address (not `::`, not multicast), be one of the two documented forms, and
//! round-trip: the address's text form and its 32-hex-digit form (either case) give the same
//! address. A certificate that parses must have a SubjectPublicKeyInfo that splits, a subject CN
//! that `first_cn` reads the same from the raw subject, and signed bytes inside the input; its CN,
//! if it names an address, follows the same rules.

#![no_main]

use enf_init::identity::{address_from_cn, time, x509};
use libfuzzer_sys::fuzz_target;
use std::net::Ipv6Addr;

fn check_cn(cn: &str) {
    let got = address_from_cn(cn);
    let hex_form = cn.len() == 32 && cn.bytes().all(|b| b.is_ascii_hexdigit());
    // Independently: what the documented rules accept.
    let expected = if hex_form {
        u128::from_str_radix(cn, 16).ok().map(Ipv6Addr::from)
    } else if cn.contains(':') {
        cn.parse::<Ipv6Addr>().ok()
    } else {
        None
    }
    .filter(|a| !a.is_unspecified() && !a.is_multicast());
    assert_eq!(got.as_ref().ok(), expected.as_ref(), "CN {cn:?}");
    match got {
        Ok(a) => {
            assert!(!a.is_unspecified() && !a.is_multicast());
            let n = u128::from(a);
            assert_eq!(address_from_cn(&a.to_string()), Ok(a));
            assert_eq!(address_from_cn(&format!("{n:032x}")), Ok(a));
            assert_eq!(address_from_cn(&format!("{n:032X}")), Ok(a));
            // Nothing is trimmed: surrounding text makes it something else.
            assert!(address_from_cn(&format!(" {cn}")).is_err());
            assert!(address_from_cn(&format!("{cn}/64")).is_err());
        }
        Err(e) => {
            assert_eq!(e.cn, cn, "the error quotes the CN");
            assert!(e.to_string().contains(&format!("{cn:?}")));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cn) = std::str::from_utf8(data) {
        check_cn(cn);
    }
    if let Ok(cert) = x509::parse(data) {
        let within = |s: &[u8]| {
            let (start, end) = (s.as_ptr() as usize, s.as_ptr() as usize + s.len());
            let (lo, hi) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
            lo <= start && end <= hi
        };
        assert!(within(cert.tbs) && within(cert.subject) && within(cert.issuer));
        assert!(within(cert.spki) && within(cert.signature) && within(cert.serial));
        assert!((1..=3).contains(&cert.version));
        assert!(!cert.serial.is_empty());
        assert!(
            x509::public_key(cert.spki).is_ok(),
            "a parsed certificate's key splits"
        );
        assert_eq!(
            x509::first_cn(cert.subject).ok(),
            Some(cert.subject_cn.clone())
        );
        assert_eq!(
            x509::first_cn(cert.issuer).ok(),
            Some(cert.issuer_cn.clone())
        );
        // Dates print (the doctor and the logs show them) whatever year the certificate says.
        assert!(!time::format(cert.not_before).is_empty());
        assert!(!time::format(cert.not_after).is_empty());
        if cert.extensions.is_some() {
            assert_eq!(cert.version, 3, "extensions only in v3");
        }
        if let Some(cn) = &cert.subject_cn {
            check_cn(cn);
        }
    }
});
