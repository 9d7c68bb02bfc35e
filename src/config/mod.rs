//! enftun-compatible configuration (placeholder until the configuration work lands).
pub mod command;
