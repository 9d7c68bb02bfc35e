//! PID 1: the supervisor.
pub mod machine;
