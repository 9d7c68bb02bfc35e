//! Log lines on stderr: `PROGRAM: LEVEL: message`, level from ENF_LOG or RUST_LOG.
//!
//! No timestamps: Docker and journald add their own. stdout is never used; it is the service's.

use std::io::Write;

/// Installs the logger for `program` (`enf-init`, `enf-router`).
pub fn init(program: &'static str) {
    let filter = std::env::var("ENF_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    env_logger::Builder::new()
        .parse_filters(&filter)
        .target(env_logger::Target::Stderr)
        .format(move |buf, record| {
            let level = record.level().as_str().to_ascii_lowercase();
            writeln!(buf, "{program}: {level}: {}", record.args())
        })
        .init();
}
