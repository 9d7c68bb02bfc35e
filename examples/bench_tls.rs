//! `scripts/bench`'s TLS-stream baseline: RUNS runs of STREAMS parallel rustls streams on
//! loopback (16 KiB writes, MIB MiB each), an endpoint's identity against the router's server
//! certificate. One JSON line per run: Gbit/s, bytes, seconds, and the CPU seconds of the
//! sending and receiving threads, so `scripts/bench` can put CPU per GB beside the tunnel's.
//!
//! Usage: bench_tls ROUTER_DIR ENDPOINT_DIR [STREAMS [MIB [RUNS]]]

#[path = "bench_support/tls_stream.rs"]
mod tls_stream;

use enf_init::{config, identity};
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: bench_tls ROUTER_DIR ENDPOINT_DIR [STREAMS [MIB [RUNS]]]");
        std::process::exit(2);
    }
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|s| s.parse().expect("a number"))
            .unwrap_or(default)
    };
    let (streams, mib, runs) = (number(2, 1), number(3, 512), number(4, 5));
    let router_dir = PathBuf::from(&args[0]);
    let cfg = config::load(&PathBuf::from(&args[1]).join("enf0.conf"), &|_| None)
        .expect("endpoint config");
    let id = identity::load(&cfg).expect("endpoint credentials");
    for _ in 0..runs {
        let o = tls_stream::run(&id, &router_dir, streams, mib * 1024 * 1024);
        println!(
            "{{\"gbps\": {:.4}, \"bytes\": {}, \"secs\": {:.6}, \"tx_cpu\": {:.6}, \"rx_cpu\": {:.6}}}",
            o.gbps(),
            o.bytes,
            o.took.as_secs_f64(),
            o.tx_cpu,
            o.rx_cpu
        );
    }
}
