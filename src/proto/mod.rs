//! The ENF tunnel protocol, pure: frames, packet checks, heartbeats (PROTOCOL.md §2, §4, §5).
//!
//! Shared by the tunnel in `enf-init` and by `enf-router`. No I/O here: callers hand in bytes and
//! get back packets, verdicts and bytes to write.

pub mod frame;
pub mod heartbeat;
pub mod outq;
pub mod packet;

#[cfg(test)]
mod props_tests;
