//! The router's event loop (being written).
use std::net::SocketAddr;
use std::path::Path;

/// Serves DIR on `listen` until SIGTERM/SIGINT; returns the exit code.
pub fn run(_dir: &Path, _listen: &[SocketAddr]) -> u8 {
    eprintln!("enf-router: error: serve is not implemented yet");
    crate::exit::INTERNAL
}
