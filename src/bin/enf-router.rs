//! enf-router: a local ENF. See `enf_init::router`.
fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(enf_init::router::command::run(&args).into());
}
