//! `enf-init status [--json] [--status-file FILE]`: the tunnel's status for people or scripts.
//!
//! Prints on stdout (it is the command's answer, not enf-init's log) either a labelled summary or,
//! with `--json`, the document itself. Exit status: 0 only when the status is healthy (see
//! `Status::healthy`: ready, or reconnecting under `--on-tunnel-loss=reconnect`), else 1, so it
//! serves as Docker's HEALTHCHECK as it is. A
//! missing, unreadable or malformed file is one line on stderr and 1.
//! Does not talk to the running enf-init: the file is the whole interface.

use super::{now_unix, read, State, Status, STALE_AFTER_SECS};
use crate::identity::time;
use std::io::{self, Write};
use std::path::Path;

/// A certificate expiring sooner than this is marked: renewing takes someone's action.
pub const CERT_WARNING_SECS: i64 = 7 * 86_400;
const WARNING_MARK: &str = "[!]";

/// Runs the subcommand; returns the exit code.
pub fn command(json: bool, status_file: Option<&Path>) -> u8 {
    let (path, status) = match read(status_file) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("enf-init: error: status: {e}");
            return 1;
        }
    };
    let now = now_unix();
    let text = if json {
        status.to_json()
    } else {
        render(&status, &path, now)
    };
    let mut out = io::stdout().lock();
    // A closed stdout (`| head -c0`) must neither panic nor change the health answer.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    u8::from(!status.healthy(now))
}

/// The summary for people: one `label: value` line per fact, `-` for what is unknown.
pub fn render(s: &Status, path: &Path, now: u64) -> String {
    let unknown = || "-".to_string();
    let now_signed = to_signed(now);
    let lines: Vec<(&str, String)> = vec![
        ("state", s.state.as_str().to_string()),
        ("health", health(s, now)),
        ("address", s.address.map_or_else(unknown, |a| a.to_string())),
        (
            "interface",
            s.iface.as_deref().map_or_else(unknown, printable),
        ),
        (
            "server",
            s.server.as_deref().map_or_else(unknown, printable),
        ),
        (
            "connected since",
            s.connected_since.map_or_else(unknown, |t| {
                let t = to_signed(t);
                format!("{} ({})", time::format(t), since(now_signed, t))
            }),
        ),
        ("reconnects", s.reconnects.to_string()),
        (
            "last error",
            s.last_error.as_deref().map_or_else(unknown, printable),
        ),
        ("received", traffic(s.rx_packets, s.rx_bytes)),
        ("sent", traffic(s.tx_packets, s.tx_bytes)),
        ("drops", drops(s)),
        (
            "heartbeat RTT",
            s.heartbeat_rtt_ms.map_or_else(unknown, rtt),
        ),
        (
            "certificate",
            s.cert_not_after
                .map_or_else(unknown, |t| certificate(t, now_signed)),
        ),
        (
            "status file",
            format!(
                "{}, written {} by pid {}",
                printable(&path.display().to_string()),
                since(now_signed, to_signed(s.updated)),
                s.pid
            ),
        ),
    ];
    let mut out = String::new();
    for (label, value) in lines {
        out.push_str(&format!("{:<17}{value}\n", format!("{label}:")));
    }
    out
}

fn health(s: &Status, now: u64) -> String {
    let policy = s.on_tunnel_loss.as_str();
    if s.ready(now) {
        "healthy".into()
    } else if s.healthy(now) {
        format!(
            "healthy: the tunnel is {} and reconnecting (--on-tunnel-loss={policy})",
            s.state.as_str()
        )
    } else if !s.is_fresh(now) {
        format!(
            "unhealthy: the status was written {}, more than {STALE_AFTER_SECS}s from now \
             (is enf-init still running?)",
            since(to_signed(now), to_signed(s.updated))
        )
    } else if s.state != State::Up {
        format!(
            "unhealthy: the tunnel is {} (--on-tunnel-loss={policy})",
            s.state.as_str()
        )
    } else {
        "unhealthy: the tunnel is up but no heartbeat was answered within the last period".into()
    }
}

/// Loopback round trips are tens of microseconds: keep two digits below 10 ms.
fn rtt(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn traffic(packets: u64, bytes: u64) -> String {
    format!("{packets} packets, {bytes} bytes ({})", human_bytes(bytes))
}

fn drops(s: &Status) -> String {
    if s.drops.is_empty() {
        return "none".into();
    }
    let each: Vec<String> = s
        .drops
        .iter()
        .map(|(reason, n)| format!("{} {n}", printable(reason)))
        .collect();
    each.join(", ")
}

fn certificate(not_after: i64, now: i64) -> String {
    let left = not_after.saturating_sub(now);
    let date = time::format(not_after);
    if left <= 0 {
        format!("EXPIRED {date} ({}) {WARNING_MARK}", since(now, not_after))
    } else if left < CERT_WARNING_SECS {
        format!(
            "expires {date} (in {}) {WARNING_MARK} within 7 days: renew it",
            duration(left.unsigned_abs())
        )
    } else {
        format!("expires {date} (in {})", duration(left.unsigned_abs()))
    }
}

/// "3m 12s ago", or "in 5s" for a time after `now` (a stepped clock).
fn since(now: i64, then: i64) -> String {
    let d = now.saturating_sub(then);
    if d >= 0 {
        format!("{} ago", duration(d.unsigned_abs()))
    } else {
        format!("in {}", duration(d.unsigned_abs()))
    }
}

/// Two units at most: "42s", "3m 12s", "5h 4m", "12d 3h".
pub(crate) fn duration(secs: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 3_600;
    const DAY: u64 = 86_400;
    match secs {
        s if s < MINUTE => format!("{s}s"),
        s if s < HOUR => format!("{}m {}s", s / MINUTE, s % MINUTE),
        s if s < DAY => format!("{}h {}m", s / HOUR, s % HOUR / MINUTE),
        s => format!("{}d {}h", s / DAY, s % DAY / HOUR),
    }
}

pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Text from the file shown on a terminal: control characters escaped, so a hostile error
/// message cannot move the cursor or retitle the window.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn to_signed(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}
