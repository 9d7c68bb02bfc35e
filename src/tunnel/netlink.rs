//! rtnetlink messages as bytes: the requests `netcfg` sends and the replies it reads (pure).
//!
//! Encodes nlmsghdr + ifinfomsg/ifaddrmsg/rtmsg/fib_rule_hdr + rtattrs (4-byte aligned, host
//! byte order as the kernel expects) and decodes replies: ACK/NLMSGERR, address and rule dumps.
//! It opens no socket and knows nothing of tunnels; `netcfg` decides what to send. Requests are
//! laid out as iproute2 lays out the same command, so an `strace` of `ip` cross-checks them.

use std::net::Ipv6Addr;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_GETRULE: u16 = 34;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_DUMP: u16 = 0x300;

pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_TENTATIVE: u32 = 0x40;
pub const RT_TABLE_MAIN: u32 = 254;
pub const RT_TABLE_LOCAL: u32 = 255;
pub const FIB_RULE_INVERT: u32 = 0x2;

const AF_INET6: u8 = 10;
const IFF_UP: u32 = 0x1;
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_TABLE: u16 = 15;
/// "Installed during boot": what `ip route add` uses unless told otherwise.
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;
/// The route type of an address the kernel delivers to itself.
pub const RTN_LOCAL: u8 = 2;
const FR_ACT_TO_TBL: u8 = 1;
const FRA_IIFNAME: u16 = 3;
const FRA_PRIORITY: u16 = 6;
const FRA_FWMARK: u16 = 10;
const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
const FRA_TABLE: u16 = 15;
const FRA_FWMASK: u16 = 16;
const FRA_OIFNAME: u16 = 17;
const FRA_PROTOCOL: u16 = 21;

pub const NLMSG_HEADER_BYTES: usize = 16;
const RTA_HEADER_BYTES: usize = 4;
/// The kernel ends its answer with an ACK, or says why not.
const ACKED: u16 = NLM_F_REQUEST | NLM_F_ACK;

/// Netlink's alignment: every header and attribute starts on a 4-byte boundary.
pub fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One request under construction: the header is patched with the length at the end.
struct Msg(Vec<u8>);

impl Msg {
    fn new(kind: u16, flags: u16, seq: u32, fixed: &[u8]) -> Msg {
        let mut b = Vec::with_capacity(64);
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&seq.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes()); // port id 0: the kernel
        b.extend_from_slice(fixed);
        b.resize(align4(b.len()), 0);
        Msg(b)
    }
    fn attr(mut self, kind: u16, data: &[u8]) -> Msg {
        let len = (RTA_HEADER_BYTES + data.len()) as u16;
        self.0.extend_from_slice(&len.to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        self.0.resize(align4(self.0.len()), 0);
        self
    }
    fn u32(self, kind: u16, v: u32) -> Msg {
        self.attr(kind, &v.to_ne_bytes())
    }
    /// A NUL-terminated string attribute (interface names).
    fn str(self, kind: u16, s: &str) -> Msg {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v)
    }
    fn done(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

/// Tables above 255 do not fit the header's byte: they go in an attribute, the byte says 0.
fn table_byte(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(0)
}

/// `ip link set dev INDEX mtu MTU up`.
pub fn set_link_up(seq: u32, index: u32, mtu_bytes: u32) -> Vec<u8> {
    let mut ifi = vec![0u8, 0]; // family AF_UNSPEC, padding
    ifi.extend_from_slice(&0u16.to_ne_bytes()); // device type: unchanged
    ifi.extend_from_slice(&index.to_ne_bytes());
    ifi.extend_from_slice(&IFF_UP.to_ne_bytes()); // flags
    ifi.extend_from_slice(&IFF_UP.to_ne_bytes()); // change mask: only IFF_UP
    Msg::new(RTM_NEWLINK, ACKED, seq, &ifi)
        .u32(IFLA_MTU, mtu_bytes)
        .done()
}

/// `ip -6 addr replace ADDR/LEN dev INDEX nodad`: replacing makes a second run succeed.
pub fn add_address(seq: u32, index: u32, addr: Ipv6Addr, prefix_len: u8) -> Vec<u8> {
    let mut ifa = vec![AF_INET6, prefix_len, IFA_F_NODAD as u8, RT_SCOPE_UNIVERSE];
    ifa.extend_from_slice(&index.to_ne_bytes());
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    Msg::new(RTM_NEWADDR, flags, seq, &ifa)
        .attr(IFA_LOCAL, &addr.octets())
        .attr(IFA_ADDRESS, &addr.octets())
        .done()
}

/// An IPv6 route through a device, as `ip -6 route replace DST/LEN dev OIF table TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: Ipv6Addr,
    pub dst_len: u8,
    pub oif: u32,
    pub table: u32,
}

pub fn add_route(seq: u32, r: &Route) -> Vec<u8> {
    let rtm = [
        AF_INET6,
        r.dst_len,
        0, // src_len
        0, // tos
        table_byte(r.table),
        RTPROT_BOOT,
        RT_SCOPE_UNIVERSE,
        RTN_UNICAST,
        0, // flags (u32)
        0,
        0,
        0,
    ];
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    let mut m = Msg::new(RTM_NEWROUTE, flags, seq, &rtm).attr(RTA_DST, &r.dst.octets());
    if r.table > 255 {
        m = m.u32(RTA_TABLE, r.table);
    }
    m.u32(RTA_OIF, r.oif).done()
}

/// An IPv6 policy rule that looks up a table: the selectors `netcfg` uses and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub priority: u32,
    pub table: u32,
    /// `not`: the rule applies to packets the selectors do NOT match.
    pub invert: bool,
    pub fwmark: Option<u32>,
    pub suppress_prefixlen: Option<u32>,
    pub iifname: Option<String>,
    pub oifname: Option<String>,
}

/// `ip -6 rule add ...`, exclusive: the kernel refuses an identical rule at the same priority.
pub fn add_rule(seq: u32, r: &Rule) -> Vec<u8> {
    let flags = if r.invert { FIB_RULE_INVERT } else { 0 };
    let mut frh = vec![AF_INET6, 0, 0, 0, table_byte(r.table), 0, 0, FR_ACT_TO_TBL];
    frh.extend_from_slice(&flags.to_ne_bytes());
    let change = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut m = Msg::new(RTM_NEWRULE, change, seq, &frh).u32(FRA_PRIORITY, r.priority);
    if let Some(mark) = r.fwmark {
        m = m.u32(FRA_FWMARK, mark);
    }
    if let Some(len) = r.suppress_prefixlen {
        m = m.u32(FRA_SUPPRESS_PREFIXLEN, len);
    }
    if let Some(name) = &r.iifname {
        m = m.str(FRA_IIFNAME, name);
    }
    if let Some(name) = &r.oifname {
        m = m.str(FRA_OIFNAME, name);
    }
    if r.table > 255 {
        m = m.u32(FRA_TABLE, r.table);
    }
    m.done()
}

/// `ip -6 route get DST`: the kernel answers with the route a packet to `dst` would take.
pub fn get_route(seq: u32, dst: Ipv6Addr) -> Vec<u8> {
    let rtm = [AF_INET6, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    Msg::new(RTM_GETROUTE, ACKED, seq, &rtm)
        .attr(RTA_DST, &dst.octets())
        .done()
}

/// Every IPv6 address of every interface (filtered by the reader: old kernels ignore filters).
pub fn dump_addresses(seq: u32) -> Vec<u8> {
    Msg::new(
        RTM_GETADDR,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        &[AF_INET6, 0, 0, 0, 0, 0, 0, 0],
    )
    .done()
}

/// Every IPv6 policy rule.
pub fn dump_rules(seq: u32) -> Vec<u8> {
    let frh = [AF_INET6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    Msg::new(RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, seq, &frh).done()
}

#[path = "netlink_decode.rs"]
mod decode;
pub use decode::*;

#[cfg(test)]
#[path = "netlink_tests.rs"]
mod tests;
