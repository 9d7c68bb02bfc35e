//! enf-router command line (being written).
use std::ffi::OsString;

/// Runs `enf-router ARGS`; returns the exit code.
pub fn run(_args: &[OsString]) -> u8 {
    eprintln!("enf-router: error: not implemented yet");
    crate::exit::INTERNAL
}
