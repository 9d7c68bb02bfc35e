//! Reading rtnetlink replies (pure): the messages in one datagram, ACKs and errors with the
//! kernel's extended message, IPv6 addresses and policy rules from dumps.
//!
//! Malformed input yields `DecodeError` or `None`, never a panic: the bytes come from the kernel,
//! but a reader that cannot be crashed is cheaper than an argument that it never will be.

use super::*;

/// The error's echo of the request is its header only (NETLINK_CAP_ACK).
const NLM_F_CAPPED: u16 = 0x100;
/// The error carries attributes after the echoed request.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Attribute type bits; the top two are the nested/byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;
const IFADDRMSG_BYTES: usize = 8;
const RTMSG_BYTES: usize = 12;
const FIB_RULE_HDR_BYTES: usize = 12;
const NO_MASK: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A header or length runs past the end of what was received.
    Truncated { at_byte: usize },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Truncated { at_byte } => {
                write!(f, "truncated netlink message at byte {at_byte}")
            }
        }
    }
}

/// One netlink message of a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// The messages of one datagram, in order; a malformed one ends the iteration with an error.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Message<'_>, DecodeError>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= buf.len() {
            return None;
        }
        let rest = &buf[at..];
        let len = match rest.get(..4) {
            Some(b) => u32_at(b, 0) as usize,
            None => 0,
        };
        if len < NLMSG_HEADER_BYTES || len > rest.len() {
            let err = DecodeError::Truncated { at_byte: at };
            at = buf.len();
            return Some(Err(err));
        }
        let msg = Message {
            kind: u16_at(rest, 4),
            flags: u16_at(rest, 6),
            seq: u32_at(rest, 8),
            payload: &rest[NLMSG_HEADER_BYTES..len],
        };
        at += align4(len);
        Some(Ok(msg))
    })
}

/// An NLMSG_ERROR payload: 0 for an ACK, else the positive errno and the kernel's own words
/// (extended ACK), when it gave any.
pub fn error_code(msg: &Message) -> Result<(i32, Option<String>), DecodeError> {
    let p = msg.payload;
    if p.len() < 4 {
        return Err(DecodeError::Truncated { at_byte: 0 });
    }
    let errno = -(u32_at(p, 0) as i32);
    let mut text = None;
    let echoed = match msg.flags & NLM_F_CAPPED {
        0 => align4(u32_at(p, 4) as usize),
        _ => NLMSG_HEADER_BYTES,
    };
    let tlvs = p
        .get(4 + echoed..)
        .filter(|_| msg.flags & NLM_F_ACK_TLVS != 0);
    if let Some(tlvs) = tlvs {
        for (kind, data) in attrs(tlvs) {
            if kind == NLMSGERR_ATTR_MSG {
                let s = data.split(|&b| b == 0).next().unwrap_or(&[]);
                text = Some(String::from_utf8_lossy(s).into_owned());
            }
        }
    }
    Ok((errno, text.filter(|t| !t.is_empty())))
}

/// The attributes in `buf` as (type, data); stops at the first malformed one.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = buf.get(at..)?;
        if rest.len() < RTA_HEADER_BYTES {
            return None;
        }
        let len = u16_at(rest, 0) as usize;
        if len < RTA_HEADER_BYTES || len > rest.len() {
            return None;
        }
        at += align4(len);
        Some((
            u16_at(rest, 2) & NLA_TYPE_MASK,
            &rest[RTA_HEADER_BYTES..len],
        ))
    })
}

/// One IPv6 address from an RTM_NEWADDR reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressInfo {
    pub index: u32,
    pub prefix_len: u8,
    /// IFA_F_* flags: the 32-bit attribute when present, else the header's byte.
    pub flags: u32,
    pub address: Ipv6Addr,
}

/// The address in an RTM_NEWADDR payload; `None` for other families or a malformed one.
pub fn parse_address(payload: &[u8]) -> Option<AddressInfo> {
    if payload.len() < IFADDRMSG_BYTES || payload[0] != AF_INET6 {
        return None;
    }
    let (mut local, mut address, mut flags) = (None, None, u32::from(payload[2]));
    for (kind, data) in attrs(&payload[IFADDRMSG_BYTES..]) {
        match kind {
            IFA_LOCAL => local = ipv6(data),
            IFA_ADDRESS => address = ipv6(data),
            IFA_FLAGS if data.len() >= 4 => flags = u32_at(data, 0),
            _ => {}
        }
    }
    Some(AddressInfo {
        index: u32_at(payload, 4),
        prefix_len: payload[1],
        flags,
        // With a peer, IFA_LOCAL is ours and IFA_ADDRESS the peer's; otherwise only the latter.
        address: local.or(address)?,
    })
}

/// The type (RTN_*) of the route in an RTM_NEWROUTE payload, if it is an IPv6 one.
pub fn parse_route_type(payload: &[u8]) -> Option<u8> {
    (payload.len() >= RTMSG_BYTES && payload[0] == AF_INET6).then(|| payload[7])
}

/// The rule in an RTM_NEWRULE payload, if it is an IPv6 "lookup TABLE" rule whose selectors are
/// all ones `Rule` can express; any other rule is `None`, i.e. never mistaken for ours.
pub fn parse_rule(payload: &[u8]) -> Option<Rule> {
    let p = payload;
    if p.len() < FIB_RULE_HDR_BYTES || p[0] != AF_INET6 || p[1..4] != [0, 0, 0] {
        return None;
    }
    if p[7] != FR_ACT_TO_TBL {
        return None;
    }
    let mut rule = Rule {
        table: u32::from(p[4]),
        invert: u32_at(p, 8) & FIB_RULE_INVERT != 0,
        ..Rule::default()
    };
    for (kind, data) in attrs(&p[FIB_RULE_HDR_BYTES..]) {
        let word = || (data.len() >= 4).then(|| u32_at(data, 0));
        match kind {
            FRA_PRIORITY => rule.priority = word()?,
            FRA_TABLE => rule.table = word()?,
            FRA_FWMARK => rule.fwmark = Some(word()?),
            FRA_FWMASK if word()? == NO_MASK => {}
            FRA_SUPPRESS_PREFIXLEN => rule.suppress_prefixlen = Some(word()?),
            FRA_IIFNAME => rule.iifname = Some(c_string(data)),
            FRA_OIFNAME => rule.oifname = Some(c_string(data)),
            FRA_PROTOCOL => {}
            _ => return None,
        }
    }
    Some(rule)
}

fn c_string(data: &[u8]) -> String {
    let s = data.split(|&b| b == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(s).into_owned()
}

fn ipv6(data: &[u8]) -> Option<Ipv6Addr> {
    <[u8; 16]>::try_from(data).ok().map(Ipv6Addr::from)
}

/// Callers check the length first; `get` keeps a mistake from becoming a panic.
fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_ne_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

#[cfg(test)]
#[path = "netlink_decode_tests.rs"]
mod tests;
