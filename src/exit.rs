//! The exit codes of `enf-init`, stated once.
//!
//! The service's own status passes through unchanged (0..=255); a service killed by signal N
//! gives 128+N, as a shell reports it. The fixed codes below are for failures that happen before
//! the service runs, so a user can tell "my service failed" from "enf-init could not start it".
//! They follow sysexits(3) where a meaning fits. The README has the same table; keep both in step.

/// The command line is wrong (unknown option, bad value, no command).
pub const USAGE: u8 = 64;
/// A hook in the hooks directory failed or outlived `--hook-timeout`.
pub const HOOK_FAILED: u8 = 65;
/// The tunnel cannot be set up on this host: no tun device, no CAP_NET_ADMIN, IPv6 disabled.
pub const TUNNEL_UNAVAILABLE: u8 = 69;
/// A bug in enf-init itself (a panic caught at the top).
pub const INTERNAL: u8 = 70;
/// The operating system refused something enf-init needs (signal mask, fork, event loop).
pub const OS_ERROR: u8 = 71;
/// The tunnel was lost and stayed down past `--tunnel-loss-grace` under
/// `--on-tunnel-loss=stop`: the service was stopped (its own status is not used, so a service
/// that exits 0 on SIGTERM never turns a dead tunnel into success).
pub const TUNNEL_LOST: u8 = 76;
/// `--ready-timeout` ran out before IPv6 over the ENF was routable.
pub const READY_TIMEOUT: u8 = 75;
/// Credentials are missing, unreadable or invalid (certificate, key, CA).
pub const CREDENTIALS: u8 = 77;
/// The configuration file or an environment override is wrong.
pub const CONFIG: u8 = 78;
/// The service command exists but cannot be executed.
pub const NOT_EXECUTABLE: u8 = 126;
/// The service command was not found.
pub const NOT_FOUND: u8 = 127;

/// The status a shell would report for a process that died of signal `signo`.
pub fn for_signal(signo: i32) -> u8 {
    (128 + signo.clamp(0, 127)) as u8
}
