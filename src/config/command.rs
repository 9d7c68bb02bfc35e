//! `enf-init config [-c FILE] [KEY]` (placeholder).
use std::ffi::OsString;

/// Runs the `config` subcommand with the arguments after `config`; returns the exit code.
pub fn run(_args: &[OsString]) -> u8 {
    eprintln!("enf-init: error: config: not implemented yet");
    crate::exit::INTERNAL
}
