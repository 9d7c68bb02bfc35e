//! The ENF tunnel: a dedicated thread running one mio loop that carries packets between the tun
//! device and the TLS session, keeps the session alive with heartbeats and reconnects with
//! back-off. The supervisor learns of state changes through a channel and a wake-up.
//!
//! Pure pieces: `backoff`, `heartbeat` (and `crate::proto`); I/O: `tun`, `netcfg`, the loop.

pub mod backoff;
pub mod heartbeat;
pub mod netcfg;
pub mod netlink;
pub mod sock;
pub mod tun;
