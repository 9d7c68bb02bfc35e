//! The tun device's network configuration over rtnetlink, without the `ip` binary: MTU and up,
//! the address (/128, no duplicate address detection), routes for `route.prefixes` and, for
//! `default`, policy rules that keep the tunnel's own connection out of the tunnel.
//!
//! `configure` is idempotent (addresses and routes are replaced, rules added only when missing),
//! so a reconnect or a restarted tunnel thread simply runs it again. It never removes anything:
//! the device, and with it its address and routes, goes away when the last tun fd closes.
//! What to install is decided in `netplan` (pure, re-exported here); messages are built in
//! `netlink`; the socket is `netsock`. It touches no firewall: the reference's iptables
//! rules and IPv4 blackhole are not reproduced.

use std::fmt;
use std::io;
use std::net::Ipv6Addr;

use super::netlink::{self, Rule, IFA_F_DADFAILED, IFA_F_TENTATIVE, RTM_NEWADDR};
use crate::config::Prefix;

#[path = "netsock.rs"]
mod netsock;
use netsock::{Failure, Socket};
#[path = "netplan.rs"]
mod netplan;
pub use netplan::*;

const IPV6_FIX: &str = "run with --sysctl net.ipv6.conf.all.disable_ipv6=0";
const DISABLE_IPV6_FILES: [&str; 2] = [
    "/proc/sys/net/ipv6/conf/all/disable_ipv6",
    "/proc/sys/net/ipv6/conf/default/disable_ipv6",
];

/// What to configure on the device; built by the tunnel from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub ifname: String,
    pub address: Ipv6Addr,
    pub mtu: u32,
    pub prefixes: Vec<Prefix>,
    /// `route.fwmark`; 0 = none.
    pub fwmark: u32,
    /// `route.table`, for `default`.
    pub table: u32,
    /// Whether the server may be reached over IPv6 (an IPv6 route could then capture it).
    pub server_is_ipv6: bool,
    pub trusted_interfaces: Vec<String>,
}

/// What `configure` settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The SO_MARK the tunnel's socket must carry; 0 = none.
    pub fwmark: u32,
}

#[derive(Debug)]
pub enum Error {
    /// No interface of that name in this network namespace.
    NoInterface {
        ifname: String,
    },
    /// The plan cannot work (e.g. a table the kernel reserves).
    Plan(String),
    /// The netlink socket failed; `what` names the request.
    Io {
        what: String,
        source: io::Error,
    },
    /// The kernel refused `what` with this errno (and, on newer kernels, its own words).
    Refused {
        what: String,
        errno: i32,
        detail: Option<String>,
    },
    Malformed {
        what: String,
        detail: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoInterface { ifname } => {
                write!(f, "finding interface {ifname}: no such device")
            }
            Error::Plan(why) => write!(f, "{why}"),
            Error::Io { what, source } => write!(f, "{what}: {}", plain(source)),
            Error::Refused {
                what,
                errno,
                detail,
            } => {
                let desc = plain(&io::Error::from_raw_os_error(*errno));
                write!(f, "{what}: {desc}")?;
                if let Some(d) = detail {
                    write!(f, " ({d})")?;
                }
                // The kernel's own words, when given, already say that IPv6 is disabled.
                match (*errno, detail) {
                    (libc::EPERM, _) => write!(f, "; needs CAP_NET_ADMIN (--cap-add=NET_ADMIN)"),
                    (libc::EACCES, Some(_)) => write!(f, "; {IPV6_FIX}"),
                    (libc::EACCES, None) => {
                        write!(f, "; IPv6 is disabled on the device: {IPV6_FIX}")
                    }
                    _ => Ok(()),
                }
            }
            Error::Malformed { what, detail } => write!(f, "{what}: {detail}"),
        }
    }
}

impl std::error::Error for Error {}

/// The OS's words for an error, without Rust's " (os error N)" suffix.
fn plain(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Brings the device up with its address and routes; safe to run again at any time.
pub fn configure(plan: &Plan) -> Result<Applied, Error> {
    let fwmark = fwmark_for(plan);
    check(plan, fwmark)?;
    let index = interface_index(&plan.ifname)?;
    let mut nl = open()?;
    let name = &plan.ifname;
    let what = format!("bringing {name} up with MTU {}", plan.mtu);
    run(&mut nl, &what, |seq| {
        netlink::set_link_up(seq, index, plan.mtu)
    })?;
    let what = format!("adding address {}/128 to {name}", plan.address);
    run(&mut nl, &what, |seq| {
        netlink::add_address(seq, index, plan.address, 128)
    })?;
    for route in routes(plan, index, fwmark) {
        let what = format!("adding route {} via {name}", describe_route(&route));
        run(&mut nl, &what, |seq| netlink::add_route(seq, &route))?;
    }
    let wanted = rules(plan, fwmark);
    if !wanted.is_empty() {
        let present = current_rules(&mut nl)?;
        for rule in wanted.iter().filter(|r| !present.contains(r)) {
            let what = format!("adding rule \"{}\"", describe_rule(rule));
            match nl.request(|seq| netlink::add_rule(seq, rule)) {
                // Added by someone else since the dump: what we wanted is there.
                Err(Failure::Refused(libc::EEXIST, _)) => {}
                other => named(&what, other)?,
            }
        }
    }
    Ok(Applied { fwmark })
}

/// Whether `address` is on `ifname` and usable now: not tentative, not failed DAD, and
/// delivered locally (see `delivered_locally`). For the readiness check; poll it.
pub fn address_usable(ifname: &str, address: Ipv6Addr) -> Result<bool, Error> {
    let index = interface_index(ifname)?;
    let mut nl = open()?;
    let mut usable = false;
    let what = format!("listing the addresses of {ifname}");
    let result = nl.dump(netlink::dump_addresses, |m| {
        let found = (m.kind == RTM_NEWADDR)
            .then(|| netlink::parse_address(m.payload))
            .flatten();
        if let Some(a) = found.filter(|a| a.index == index && a.address == address) {
            usable = a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0;
        }
    });
    named(&what, result)?;
    Ok(usable && delivered_locally(&mut nl, address)?)
}

/// Whether the kernel delivers packets to `address` to itself yet. The address alone does not
/// say: even without DAD, its `local` route is installed by a work item a moment after the
/// address is added, and until then a packet to it is forwarded (or dropped), not received.
fn delivered_locally(nl: &mut Socket, address: Ipv6Addr) -> Result<bool, Error> {
    let mut local = false;
    let result = nl.dump(
        |seq| netlink::get_route(seq, address),
        |m| {
            if m.kind == netlink::RTM_NEWROUTE {
                local = netlink::parse_route_type(m.payload) == Some(netlink::RTN_LOCAL);
            }
        },
    );
    match result {
        // No route at all (ENETUNREACH and the like): certainly not delivered locally yet.
        Err(Failure::Refused(..)) => Ok(false),
        other => named(&format!("looking up the route to {address}"), other).map(|()| local),
    }
}

/// Whether IPv6 is off in this network namespace (or absent from the kernel altogether).
/// `default` matters too: the tun device is new and takes its settings from it.
pub fn ipv6_disabled() -> bool {
    disabled_from(DISABLE_IPV6_FILES.map(|p| std::fs::read_to_string(p).ok()))
}

fn disabled_from(contents: [Option<String>; 2]) -> bool {
    match &contents[0] {
        None => true,
        Some(_) => contents.iter().flatten().any(|s| s.trim() != "0"),
    }
}

fn current_rules(nl: &mut Socket) -> Result<Vec<Rule>, Error> {
    let mut present = Vec::new();
    let result = nl.dump(netlink::dump_rules, |m| {
        if m.kind == netlink::RTM_NEWRULE {
            present.extend(netlink::parse_rule(m.payload));
        }
    });
    named("listing the IPv6 policy rules", result)?;
    Ok(present)
}

fn run(nl: &mut Socket, what: &str, build: impl FnOnce(u32) -> Vec<u8>) -> Result<(), Error> {
    named(what, nl.request(build))
}

fn named(what: &str, result: Result<(), Failure>) -> Result<(), Error> {
    result.map_err(|f| match f {
        Failure::Io(source) => Error::Io {
            what: what.to_string(),
            source,
        },
        Failure::Refused(errno, detail) => Error::Refused {
            what: what.to_string(),
            errno,
            detail,
        },
        Failure::Malformed(e) => Error::Malformed {
            what: what.to_string(),
            detail: e.to_string(),
        },
    })
}

fn open() -> Result<Socket, Error> {
    Socket::open().map_err(|source| Error::Io {
        what: "opening a netlink socket".to_string(),
        source,
    })
}

/// The interface's index in this thread's network namespace.
fn interface_index(ifname: &str) -> Result<u32, Error> {
    let missing = || Error::NoInterface {
        ifname: ifname.to_string(),
    };
    let c = std::ffi::CString::new(ifname).map_err(|_| missing())?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(missing()),
        index => Ok(index),
    }
}

#[cfg(test)]
#[path = "netcfg_tests.rs"]
mod tests;
