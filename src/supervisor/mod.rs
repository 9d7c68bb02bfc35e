//! PID 1: the supervisor's event loop, carrying out what `machine` decides.
//!
//! One mio loop on the main thread waits on a signalfd (every signal is blocked in every thread,
//! so signals arrive only here), the pipe of a sourced hook, and a timer that is the machine's
//! next deadline or a one-second tick. After every wake-up it reaps with `waitpid(-1, WNOHANG)`
//! until nothing more has exited, so merged SIGCHLDs never leave a zombie behind.

pub mod caps;
pub mod machine;
pub mod probes;
pub mod procs;
pub mod spawn;
pub mod user;

mod driver;

pub use driver::{run, Setup, TunnelSetup};
