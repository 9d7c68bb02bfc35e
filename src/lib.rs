//! enf-init and enf-router as a library: both binaries are thin `main`s over these modules.
//!
//! Pure logic (command line, configuration, protocol, supervisor decisions) is kept apart from
//! the modules that make syscalls (`signals::sys`, `supervisor::driver`, `supervisor::spawn`).

pub mod allocator;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod exit;
pub mod hooks;
pub mod http;
pub mod identity;
pub mod logging;
pub mod proto;
pub mod router;
pub mod signals;
pub mod status;
pub mod supervisor;
#[cfg(test)]
pub(crate) mod testdata;
pub mod tls;
pub mod tunnel;

/// Every binary linking this library (enf-init, enf-router, the tests and the bench clients)
/// allocates through `allocator::Cache`: see there for why.
#[global_allocator]
static GLOBAL: allocator::Cache = allocator::Cache::new();
