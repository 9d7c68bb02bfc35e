//! The tunnel's status file and `enf-init status`, which reads it (Docker's HEALTHCHECK).
//!
//! The tunnel writes the document (`doc.rs`, JSON by hand: `json.rs`) on every state change and
//! every `REFRESH_SECS`, atomically: a temporary file in the same directory, then `rename`, so a
//! reader sees the old document or the new one, never half of one. No fsync: the file lives on
//! tmpfs and describes a running process; after a crash it is stale by definition.
//!
//! Location: `--status-file`/`ENF_STATUS_FILE`, default `DEFAULT_PATH`; where that cannot be
//! created or written (`docker run --read-only`), `FALLBACK_PATH`. Readers look in the same order
//! and take the most recently updated document they find.
//!
//! Readiness (`Status::ready`): state `up`, a heartbeat answered within the last period and
//! timeout (`data_plane`), and `updated` within `STALE_AFTER_SECS` of now. The freshness rule is
//! what makes a stale `up` left by a process that died without writing `stopped` (SIGKILL, OOM)
//! report unhealthy. Health (`Status::healthy`, the HEALTHCHECK) is readiness, except that under
//! `--on-tunnel-loss=reconnect` a tunnel that was ready once and is reconnecting stays healthy:
//! the loss policy, not the probe, decides whether an outage is the container's fault.
//!
//! Does not decide states or count traffic: the tunnel fills `Status`, this module stores it.

mod command;
mod doc;
mod file;
mod json;
#[cfg(test)]
mod tests;

pub use command::{command, render};
pub use file::{read, read_from, write, write_to, Error};

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the status file goes unless `--status-file` says otherwise.
pub const DEFAULT_PATH: &str = "/run/enf-init/status.json";
/// Where it goes when the preferred place cannot be written (`/run` read-only).
pub const FALLBACK_PATH: &str = "/dev/shm/enf-init/status.json";
/// How often the tunnel rewrites the file while nothing changes.
pub const REFRESH_SECS: u64 = 5;
/// A document older than this (three missed refreshes) no longer describes a live process.
pub const STALE_AFTER_SECS: u64 = 3 * REFRESH_SECS;

/// The tunnel's state, as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// enf-init is reading its configuration and setting up the device.
    #[default]
    Starting,
    /// Resolving and connecting TCP (or waiting out the back-off before it).
    Connecting,
    /// TCP is up; the TLS handshake or the first heartbeat is pending.
    Handshaking,
    /// Ready: the session's first heartbeat was answered; IPv6 over the ENF is routable.
    Up,
    /// The session was lost; reconnecting (`last_error` says why).
    Down,
    /// enf-init has stopped the tunnel (it is exiting).
    Stopped,
    /// enf-init runs as a plain init (`--no-tunnel`): there is no tunnel to be healthy.
    NoTunnel,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Starting,
        State::Connecting,
        State::Handshaking,
        State::Up,
        State::Down,
        State::Stopped,
        State::NoTunnel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Connecting => "connecting",
            State::Handshaking => "handshaking",
            State::Up => "up",
            State::Down => "down",
            State::Stopped => "stopped",
            State::NoTunnel => "no-tunnel",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// What enf-init does when the tunnel is lost after it was up (`--on-tunnel-loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LossPolicy {
    /// Keep reconnecting; the container stays healthy while it does.
    #[default]
    Reconnect,
    /// Keep reconnecting, and report unhealthy until the tunnel is back.
    Unready,
    /// Like `Unready`; after `--tunnel-loss-grace` down, stop the service and exit
    /// `exit::TUNNEL_LOST`.
    Stop,
}

impl LossPolicy {
    pub const ALL: [LossPolicy; 3] = [LossPolicy::Reconnect, LossPolicy::Unready, LossPolicy::Stop];

    pub fn as_str(self) -> &'static str {
        match self {
            LossPolicy::Reconnect => "reconnect",
            LossPolicy::Unready => "unready",
            LossPolicy::Stop => "stop",
        }
    }

    pub fn parse(s: &str) -> Option<LossPolicy> {
        LossPolicy::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Everything the status file says. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    pub state: State,
    pub address: Option<Ipv6Addr>,
    pub iface: Option<String>,
    /// `host:port` of the server of the current (or last) session.
    pub server: Option<String>,
    pub connected_since: Option<u64>,
    /// Sessions started after the first.
    pub reconnects: u64,
    pub last_error: Option<String>,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Dropped packets by reason (the filters' reason names).
    pub drops: BTreeMap<String, u64>,
    pub heartbeat_rtt_ms: Option<f64>,
    /// When the latest heartbeat reply arrived: "answered within the last period" probes.
    pub heartbeat_answered: Option<u64>,
    /// When the latest frame of any kind arrived from the server ("time since last packet").
    pub last_rx: Option<u64>,
    /// The client certificate's notAfter (may be before 1970 or far after 2038).
    pub cert_not_after: Option<i64>,
    /// The writer's judgement of the data plane: up, and a heartbeat answered within the last
    /// period and timeout (not just "has an address").
    pub data_plane: bool,
    /// A heartbeat was answered at least once since enf-init started.
    pub ever_up: bool,
    pub on_tunnel_loss: LossPolicy,
    /// When this document was written: the freshness clock. The writer stamps it (`now_unix`).
    pub updated: u64,
    pub pid: u32,
}

impl Status {
    /// The JSON document, ending with a newline.
    pub fn to_json(&self) -> String {
        doc::to_json(self)
    }

    /// Reads a document; unknown keys are ignored, anything malformed is an error.
    pub fn from_json(input: &[u8]) -> Result<Status, String> {
        doc::from_json(input)
    }

    /// Written within `STALE_AFTER_SECS` of `now`, either way: a clock stepped back makes a
    /// document look from the future, which is as untrustworthy as an old one.
    pub fn is_fresh(&self, now: u64) -> bool {
        self.updated.abs_diff(now) <= STALE_AFTER_SECS
    }

    /// What `/readyz` answers: the data plane works and the writer is alive.
    pub fn ready(&self, now: u64) -> bool {
        self.state == State::Up && self.data_plane && self.is_fresh(now)
    }

    /// What the HEALTHCHECK answers: ready, or (with `--on-tunnel-loss=reconnect`) reconnecting
    /// after having been ready.
    pub fn healthy(&self, now: u64) -> bool {
        self.ready(now) || (self.is_fresh(now) && self.reconnecting_is_healthy())
    }

    fn reconnecting_is_healthy(&self) -> bool {
        let reconnecting = matches!(
            self.state,
            State::Up | State::Down | State::Connecting | State::Handshaking
        );
        self.on_tunnel_loss == LossPolicy::Reconnect && self.ever_up && reconnecting
    }
}

/// Now in Unix seconds (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where the file is written and looked for, in order.
pub fn locations(preferred: Option<&Path>) -> Vec<PathBuf> {
    let first = preferred.map_or_else(|| PathBuf::from(DEFAULT_PATH), Path::to_path_buf);
    let fallback = PathBuf::from(FALLBACK_PATH);
    if first == fallback {
        vec![first]
    } else {
        vec![first, fallback]
    }
}
