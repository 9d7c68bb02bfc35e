//! enf-router: a local ENF that provisions endpoints and routes packets between them.
//!
//! `command` parses the router's command line and runs the provisioning subcommands;
//! `registry` is the on-disk store of registered endpoints; `provision` makes CAs, certificates
//! and endpoint directories; `serve` is the TLS router itself (one mio loop).

pub mod check;
pub mod command;
pub mod metrics;
pub mod provision;
pub mod registry;
pub mod route;
pub mod serve;
pub mod session;
pub mod slots;
