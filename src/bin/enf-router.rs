//! enf-router: a local ENF. The work is in `enf_init::router`.
fn main() {
    enf_init::logging::init("enf-router");
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(enf_init::router::command::run(&args).into());
}
