//! What `netcfg::configure` installs for a plan, decided without touching the kernel: the mark
//! the tunnel socket needs, the routes, the policy rules for `default`, and how each reads in
//! an error message. Pure; `netcfg` sends the result.

use std::net::Ipv6Addr;

use super::netlink::{self, Route, Rule};
use super::{Error, Plan};
use crate::config::Prefix;

/// The reference's `route.fwmark`, used when `default` needs a mark and the config gives none.
pub const DEFAULT_FWMARK: u32 = 363;
/// Rule priorities, all just above `main` (32766) as wg-quick's would be, in evaluation order:
/// trusted interfaces first, then the main table for everything but default routes, then the
/// tunnel's table for every packet not carrying the tunnel socket's mark.
pub const PRIORITY_TRUSTED: u32 = 32761;
pub const PRIORITY_SUPPRESS_MAIN_DEFAULT: u32 = 32762;
pub const PRIORITY_TUNNEL_TABLE: u32 = 32763;

/// The mark the tunnel socket must carry: the configured one, else the reference's when a
/// `default` route could capture an IPv6 connection to the server, else none.
pub fn fwmark_for(plan: &Plan) -> u32 {
    match plan.fwmark {
        0 if has_default(plan) && plan.server_is_ipv6 => DEFAULT_FWMARK,
        mark => mark,
    }
}

pub(super) fn has_default(plan: &Plan) -> bool {
    plan.prefixes.contains(&Prefix::Default)
}

/// Policy routing is needed for `default` unless no mark is (then the server is IPv4, which no
/// IPv6 route can capture, and a plain default route in `main` does).
pub(super) fn policy_routing(plan: &Plan, fwmark: u32) -> bool {
    has_default(plan) && fwmark != 0
}

pub(super) fn check(plan: &Plan, fwmark: u32) -> Result<(), Error> {
    let reserved = [0, 253, netlink::RT_TABLE_MAIN, netlink::RT_TABLE_LOCAL];
    if policy_routing(plan, fwmark) && reserved.contains(&plan.table) {
        return Err(Error::Plan(format!(
            "route.table = {} cannot hold the tunnel's default route (0, 253, 254 and 255 are the \
             kernel's); use another table, e.g. 2097",
            plan.table
        )));
    }
    Ok(())
}

/// The routes for the plan's prefixes through interface `oif`. Multicast prefixes go to the
/// `local` table (as in the reference's setup script): it is consulted first and already sends
/// ff00::/8 to every device, so a route in `main` would never be reached.
pub fn routes(plan: &Plan, oif: u32, fwmark: u32) -> Vec<Route> {
    let route = |dst: Ipv6Addr, dst_len: u8, table: u32| Route {
        dst,
        dst_len,
        oif,
        table,
    };
    let mut out = Vec::new();
    for p in &plan.prefixes {
        out.push(match *p {
            Prefix::Default if policy_routing(plan, fwmark) => {
                route(Ipv6Addr::UNSPECIFIED, 0, plan.table)
            }
            Prefix::Default => route(Ipv6Addr::UNSPECIFIED, 0, netlink::RT_TABLE_MAIN),
            Prefix::Net { addr, len } if len >= 8 && addr.octets()[0] == 0xff => {
                route(addr, len, netlink::RT_TABLE_LOCAL)
            }
            Prefix::Net { addr, len } => route(addr, len, netlink::RT_TABLE_MAIN),
        });
    }
    out
}

/// wg-quick's two rules for `default`, plus the trusted interfaces. `oif`/`iif` rules send
/// sockets bound to a trusted interface, and traffic forwarded from one, to the main table. (The
/// reference instead moves trusted interfaces into a link group; that changes devices that are
/// not ours, and `suppress_prefixlength 0` already lets their non-default routes win.)
pub fn rules(plan: &Plan, fwmark: u32) -> Vec<Rule> {
    if !policy_routing(plan, fwmark) {
        return Vec::new();
    }
    let main = |priority| Rule {
        priority,
        table: netlink::RT_TABLE_MAIN,
        ..Rule::default()
    };
    let mut out = Vec::new();
    for name in &plan.trusted_interfaces {
        out.push(Rule {
            oifname: Some(name.clone()),
            ..main(PRIORITY_TRUSTED)
        });
        out.push(Rule {
            iifname: Some(name.clone()),
            ..main(PRIORITY_TRUSTED)
        });
    }
    out.push(Rule {
        suppress_prefixlen: Some(0),
        ..main(PRIORITY_SUPPRESS_MAIN_DEFAULT)
    });
    out.push(Rule {
        priority: PRIORITY_TUNNEL_TABLE,
        table: plan.table,
        invert: true,
        fwmark: Some(fwmark),
        ..Rule::default()
    });
    out
}

/// "fd00::/8", "default in table 2097": the words of the error message.
pub fn describe_route(r: &Route) -> String {
    let dst = match r.dst_len {
        0 => "default".to_string(),
        len => format!("{}/{len}", r.dst),
    };
    match r.table {
        netlink::RT_TABLE_MAIN => dst,
        netlink::RT_TABLE_LOCAL => format!("{dst} in table local"),
        t => format!("{dst} in table {t}"),
    }
}

/// The rule as `ip -6 rule` would print it.
pub fn describe_rule(r: &Rule) -> String {
    let mut s = format!("{}: ", r.priority);
    if r.invert {
        s.push_str("not ");
    }
    s.push_str("from all");
    if let Some(mark) = r.fwmark {
        s.push_str(&format!(" fwmark {mark:#x}"));
    }
    if let Some(name) = &r.iifname {
        s.push_str(&format!(" iif {name}"));
    }
    if let Some(name) = &r.oifname {
        s.push_str(&format!(" oif {name}"));
    }
    match r.table {
        netlink::RT_TABLE_MAIN => s.push_str(" lookup main"),
        t => s.push_str(&format!(" lookup {t}")),
    }
    if let Some(len) = r.suppress_prefixlen {
        s.push_str(&format!(" suppress_prefixlength {len}"));
    }
    s
}
