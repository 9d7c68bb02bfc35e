//! A route prefix of `route.prefixes`: `default` or an IPv6 `ADDR/LEN`.
//!
//! Parsing and printing only; installing routes is the tunnel's job. Host bits set below the
//! length are an error (the kernel refuses such a route), and the message suggests the fix.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// Everything except the tunnel's own traffic (policy routing by fwmark, `route.table`).
    Default,
    /// One IPv6 network.
    Net { addr: Ipv6Addr, len: u8 },
}

impl Prefix {
    /// A network prefix, with the host bits cleared.
    pub fn net(addr: Ipv6Addr, len: u8) -> Prefix {
        let len = len.min(128);
        Prefix::Net {
            addr: Ipv6Addr::from(u128::from(addr) & mask(len)),
            len,
        }
    }
}

fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l => u128::MAX << (128 - u32::from(l.min(128))),
    }
}

impl FromStr for Prefix {
    type Err = String;

    /// The error is the message without the entry's name: "\"x\" is not a prefix ...".
    fn from_str(s: &str) -> Result<Prefix, String> {
        if s == "default" {
            return Ok(Prefix::Default);
        }
        let bad = || format!("\"{s}\" is not a prefix (expected default or IPv6 ADDR/LEN)");
        let (addr, len) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| bad())?;
        let digits_only =
            !len.is_empty() && len.len() <= 3 && len.bytes().all(|b| b.is_ascii_digit());
        let len: u8 = match len.parse() {
            Ok(l) if digits_only && l <= 128 => l,
            _ => return Err(format!("\"{s}\": prefix length must be 0 to 128")),
        };
        let net = Prefix::net(addr, len);
        if let Prefix::Net { addr: clean, .. } = net {
            if clean != addr {
                return Err(format!(
                    "\"{s}\" has host bits set; did you mean \"{net}\"?"
                ));
            }
        }
        Ok(net)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::Default => write!(f, "default"),
            Prefix::Net { addr, len } => write!(f, "{addr}/{len}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let table: &[(&str, Result<&str, &str>)] = &[
            ("default", Ok("default")),
            ("2607:8f80:8000::/36", Ok("2607:8f80:8000::/36")),
            ("::/0", Ok("::/0")),
            ("fd00::1/128", Ok("fd00::1/128")),
            ("2607:8F80:8000:0::/36", Ok("2607:8f80:8000::/36")),
            ("2607:8f80:8000::1/36", Err("\"2607:8f80:8000::1/36\" has host bits set; did you mean \"2607:8f80:8000::/36\"?")),
            ("fd00::/129", Err("\"fd00::/129\": prefix length must be 0 to 128")),
            ("fd00::/+1", Err("\"fd00::/+1\": prefix length must be 0 to 128")),
            ("fd00::", Err("\"fd00::\" is not a prefix (expected default or IPv6 ADDR/LEN)")),
            ("10.0.0.0/8", Err("\"10.0.0.0/8\" is not a prefix (expected default or IPv6 ADDR/LEN)")),
            ("Default", Err("\"Default\" is not a prefix (expected default or IPv6 ADDR/LEN)")),
            ("", Err("\"\" is not a prefix (expected default or IPv6 ADDR/LEN)")),
        ];
        for (input, want) in table {
            let got = input.parse::<Prefix>().map(|p| p.to_string());
            assert_eq!(
                got.as_deref().map_err(String::as_str),
                *want,
                "input {input:?}"
            );
        }
    }
}
