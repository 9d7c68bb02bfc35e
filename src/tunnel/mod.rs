//! The ENF tunnel: a dedicated thread running one mio loop that carries packets between the tun
//! device and the TLS session, keeps the session alive with heartbeats and reconnects with
//! back-off. The supervisor learns of state changes through a channel and a wake-up.
//!
//! Pure pieces: `backoff`, `heartbeat` (and `crate::proto`); I/O: `tun`, `netcfg`, the loop.

pub mod backoff;
pub mod engine;
pub mod heartbeat;
pub mod link;
pub mod netcfg;
pub mod netlink;
pub mod offload;
pub mod retry;
pub mod sock;
pub mod tun;

#[cfg(test)]
mod backoff_props_tests;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The latest status document, shared with the supervisor's HTTP probes; replaced whenever the
/// status file is written (every state change and every couple of seconds).
pub type Published = Arc<Mutex<Option<crate::status::Status>>>;

/// What the tunnel thread needs; credentials are not here because they are re-read at every
/// connection attempt from `config` (with `env`, the `ENF_*` overrides).
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: PathBuf,
    pub env: Vec<(String, String)>,
    pub address: Ipv6Addr,
    pub allow_ipv4: bool,
    /// The mark the tunnel's socket carries (0 = none), as `netcfg::configure` decided.
    pub fwmark: u32,
    /// Whether readiness waits for the address to be usable (false with `tun.ip_set = false`).
    pub check_address: bool,
    pub iface: String,
    pub status_file: Option<PathBuf>,
    /// Recorded in the status document: health depends on it.
    pub on_loss: crate::status::LossPolicy,
    /// Heartbeat period plus timeout: a reply older than this means the data plane is in doubt.
    pub heartbeat_window: Duration,
    pub published: Published,
}

/// From the supervisor to the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Stop,
}

/// From the tunnel to the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// IPv6 over the ENF is routable: session up, address usable, first heartbeat answered.
    Up,
    /// The session is gone (it reconnects on its own); the reason, once per loss.
    Down(String),
    /// The tunnel thread died (a panic or a fatal loop error); the supervisor starts another.
    Crashed(String),
}

/// Counters and state for the status file.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub state: crate::status::State,
    pub server: Option<String>,
    pub connected_since: Option<SystemTime>,
    pub reconnects: u64,
    pub last_error: Option<String>,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub drops: BTreeMap<&'static str, u64>,
    pub heartbeat_rtt: Option<Duration>,
    pub heartbeat_answered: Option<SystemTime>,
    pub last_rx: Option<SystemTime>,
    pub cert_not_after: Option<i64>,
}

impl Stats {
    pub fn drop(&mut self, reason: &'static str) {
        *self.drops.entry(reason).or_default() += 1;
    }

    /// How many packets were dropped for `reason` so far.
    pub fn dropped(&self, reason: &str) -> u64 {
        self.drops.get(reason).copied().unwrap_or(0)
    }
}

/// Whether the `n`th drop of a kind deserves a log line: the 1st, 10th, 100th, ... A peer that
/// sends garbage is named at once, and one that keeps doing it cannot flood the log.
pub fn worth_logging(n: u64) -> bool {
    let mut m = n;
    while m >= 10 && m % 10 == 0 {
        m /= 10;
    }
    m == 1
}

/// The running tunnel thread.
pub struct Handle {
    commands: Sender<Command>,
    waker: Arc<mio::Waker>,
    done: Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts the tunnel thread on `tun`. Its events arrive on `events`, each followed by a wake of
/// the supervisor's loop.
pub fn spawn(
    settings: Settings,
    tun: tun::Tun,
    events: Sender<Event>,
    wake_supervisor: Arc<mio::Waker>,
) -> std::io::Result<Handle> {
    let poll = mio::Poll::new()?;
    let waker = Arc::new(mio::Waker::new(poll.registry(), engine::WAKE)?);
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    let crash_events = events.clone();
    let crash_wake = wake_supervisor.clone();
    let thread = std::thread::Builder::new()
        .name("enf-tunnel".into())
        .spawn(move || {
            // A panic here must not take the service down: report it, the supervisor restarts us.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                engine::Engine::new(settings, tun, cmd_rx, events, wake_supervisor, poll)?.run()
            }));
            let crash = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!("tunnel loop failed: {e}")),
                Err(panic) => Some(format!(
                    "tunnel thread panicked: {}",
                    panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default()
                )),
            };
            if let Some(why) = crash {
                if crash_events.send(Event::Crashed(why)).is_ok() {
                    let _ = crash_wake.wake();
                }
            }
            let _ = done_tx.send(());
        })?;
    Ok(Handle {
        commands: cmd_tx,
        waker,
        done,
        thread: Some(thread),
    })
}

impl Handle {
    /// Asks the thread to close the session (close_notify) and waits at most `within`.
    pub fn stop(mut self, within: Duration) {
        if self.commands.send(Command::Stop).is_ok() {
            let _ = self.waker.wake();
        }
        if self.done.recv_timeout(within).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// Writes the status file from the tunnel's counters, and publishes the same document to the
/// supervisor.
pub fn write_status(settings: &Settings, stats: &Stats) -> std::io::Result<PathBuf> {
    let doc = status_document(settings, stats, SystemTime::now());
    if let Ok(mut slot) = settings.published.lock() {
        *slot = Some(doc.clone());
    }
    crate::status::write(settings.status_file.as_deref(), &doc)
}

/// The status document for `stats` at `now`.
pub fn status_document(
    settings: &Settings,
    stats: &Stats,
    now: SystemTime,
) -> crate::status::Status {
    let answered_recently = stats.heartbeat_answered.is_some_and(|t| {
        now.duration_since(t)
            .map_or(true, |age| age <= settings.heartbeat_window)
    });
    let unix = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .ok()
    };
    crate::status::Status {
        state: stats.state,
        address: Some(settings.address),
        iface: Some(settings.iface.clone()),
        server: stats.server.clone(),
        connected_since: stats.connected_since.and_then(unix),
        reconnects: stats.reconnects,
        last_error: stats.last_error.clone(),
        rx_packets: stats.rx_packets,
        rx_bytes: stats.rx_bytes,
        tx_packets: stats.tx_packets,
        tx_bytes: stats.tx_bytes,
        drops: stats
            .drops
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        heartbeat_rtt_ms: stats.heartbeat_rtt.map(|d| d.as_secs_f64() * 1e3),
        heartbeat_answered: stats.heartbeat_answered.and_then(unix),
        last_rx: stats.last_rx.and_then(unix),
        cert_not_after: stats.cert_not_after,
        data_plane: stats.state == crate::status::State::Up && answered_recently,
        ever_up: stats.heartbeat_answered.is_some(),
        on_tunnel_loss: settings.on_loss,
        updated: unix(now).unwrap_or(0),
        pid: std::process::id(),
    }
}

/// The last word in the status file: the tunnel is stopped (never a stale `up`).
pub fn write_stopped(settings: &Settings) {
    let stats = Stats {
        state: crate::status::State::Stopped,
        ..Stats::default()
    };
    let _ = write_status(settings, &stats);
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn drops_are_logged_at_1_10_100_and_counted_always() {
        let logged: Vec<u64> = (1..=2000).filter(|&n| worth_logging(n)).collect();
        assert_eq!(logged, [1, 10, 100, 1000]);
        let mut s = Stats::default();
        assert_eq!(s.dropped("empty"), 0);
        s.drop("empty");
        s.drop("empty");
        s.drop("bad_length");
        assert_eq!((s.dropped("empty"), s.dropped("bad_length")), (2, 1));
    }
}
