//! enf-init: PID 1 for a containerised service on the Xaptum ENF.
mod cli;
mod config;
mod exit;
mod identity;
mod signals;
mod supervisor;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().map(|a| a == "config").unwrap_or(false) {
        std::process::exit(config::command::run(&args[1..]).into());
    }
}
