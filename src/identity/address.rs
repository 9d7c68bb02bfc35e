//! The endpoint's IPv6 address from its certificate's CN (PROTOCOL.md §3).
//!
//! Two forms: any standard IPv6 text form, or 32 hex digits without colons. Nothing is trimmed
//! or guessed (the reference silently truncates some malformed CNs; we refuse them). The
//! address must be one a device can carry: not `::`, not multicast.

use std::fmt;
use std::net::Ipv6Addr;

/// The CN, quoted in the message, is not an endpoint address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAnAddress {
    pub cn: String,
}

impl fmt::Display for NotAnAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CN {:?} is not an IPv6 unicast address (expected e.g. 2607:8f80::1 or 32 hex digits)",
            self.cn
        )
    }
}

impl std::error::Error for NotAnAddress {}

/// The address a certificate's first subject CN names.
pub fn address_from_cn(cn: &str) -> Result<Ipv6Addr, NotAnAddress> {
    let addr = if cn.len() == 32 && cn.bytes().all(|b| b.is_ascii_hexdigit()) {
        u128::from_str_radix(cn, 16).ok().map(Ipv6Addr::from)
    } else if cn.contains(':') {
        cn.parse::<Ipv6Addr>().ok()
    } else {
        None
    };
    match addr {
        Some(a) if !a.is_unspecified() && !a.is_multicast() => Ok(a),
        _ => Err(NotAnAddress { cn: cn.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cn_forms() {
        let table: &[(&str, Option<&str>)] = &[
            (
                "fd008f80000100000000000000001234",
                Some("fd00:8f80:1::1234"),
            ),
            (
                "FD008F80000100000000000000001234",
                Some("fd00:8f80:1::1234"),
            ),
            ("2607:8f80::deb:1", Some("2607:8f80::deb:1")),
            ("2607:8F80:0:0:0:0:DEB:1", Some("2607:8f80::deb:1")),
            ("::1", Some("::1")),
            ("::ffff:192.0.2.1", Some("::ffff:192.0.2.1")),
            ("::", None),
            ("ff02::1", None),
            ("ff02000000000000000000000000001", None),
            ("fd008f8000010000000000000000123", None),
            ("fd008f800001000000000000000012345", None),
            ("fd008f8000010000000000000000123g", None),
            ("+d008f80000100000000000000001234", None),
            (" fd00::1", None),
            ("fd00::1%eth0", None),
            ("fd00::1/64", None),
            ("router.enftun.example", None),
            ("192.0.2.1", None),
            ("", None),
        ];
        for (cn, want) in table {
            let got = address_from_cn(cn).ok().map(|a| a.to_string());
            assert_eq!(got.as_deref(), *want, "CN {cn:?}");
        }
    }

    #[test]
    fn message_quotes_the_cn() {
        let e = address_from_cn("router.enftun.example").unwrap_err();
        assert_eq!(
            e.to_string(),
            "CN \"router.enftun.example\" is not an IPv6 unicast address (expected e.g. 2607:8f80::1 or 32 hex digits)"
        );
    }
}
