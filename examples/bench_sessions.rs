//! `scripts/bench`'s idle sessions: provisions N endpoints on a router directory (in process,
//! with the same functions as `enf-router add-endpoint`; once, kept for later runs), opens N
//! concurrent TLS sessions to the router, has each heartbeat answered so the router holds them
//! all, prints `open N`, and keeps them open until its standard input closes. `scripts/bench`
//! reads the router's RSS before and after to get the memory each idle session costs.
//!
//! Usage: bench_sessions ROUTER_DIR ENDPOINTS_DIR HOST PORT N

use enf_init::proto::{frame, heartbeat};
use enf_init::router::{provision, registry};
use enf_init::{config, identity, tls};
use rustls::{ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{Ipv6Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

type Session = StreamOwned<ClientConnection, TcpStream>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 5 {
        eprintln!("usage: bench_sessions ROUTER_DIR ENDPOINTS_DIR HOST PORT N");
        std::process::exit(2);
    }
    let (router_dir, eps) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let (host, port) = (&args[2], args[3].parse::<u16>().expect("port"));
    let n: u32 = args[4].parse().expect("N");
    raise_fd_limit();
    let remote = provision::Remote {
        hosts: vec![host.clone()],
        port,
        prefixes: Vec::new(),
    };
    let mut sessions = Vec::new();
    for i in 0..n {
        let addr = Ipv6Addr::new(0xfd00, 0x8f80, 5, 0, 0, 0, (i >> 16) as u16, i as u16 + 1);
        let dir = eps.join(format!("ep{i}"));
        if !dir.join(provision::CONF_FILE).exists() {
            let spki =
                provision::write_endpoint(&router_dir, &dir, addr, &remote).expect("provision");
            registry::register(&router_dir, addr, &spki).expect("register");
        }
        sessions.push(open(&dir, host, port));
    }
    // Every session answered once: the router has finished setting each of them up.
    for s in &mut sessions {
        answered(s);
    }
    println!("open {}", sessions.len());
    std::io::stdout().flush().expect("stdout");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

fn raise_fd_limit() {
    // SAFETY: plain struct in, plain struct out.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        l.rlim_cur = l.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
    }
}

fn open(dir: &Path, host: &str, port: u16) -> Session {
    let cfg = config::load_quiet(&dir.join(provision::CONF_FILE), &|_| None).expect("config");
    let id = identity::load_quiet(&cfg).expect("credentials");
    let sock = TcpStream::connect((host, port)).expect("connect to the router");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let conn = ClientConnection::new(
        tls::client_config(&id, None).expect("client config"),
        tls::server_name_for(host, None),
    )
    .expect("conn");
    let mut s = StreamOwned::new(conn, sock);
    let mut hb = Vec::new();
    frame::encode(&mut hb, &heartbeat::request(id.address));
    s.write_all(&hb).expect("heartbeat");
    s.flush().expect("flush");
    s
}

/// Reads until the heartbeat reply arrives.
fn answered(s: &mut Session) {
    let mut d = frame::Decoder::default();
    loop {
        let n = s.read(d.spare()).expect("heartbeat reply");
        assert!(n > 0, "the router closed a session");
        d.filled(n);
        if d.next_packet().expect("frames").is_some() {
            return;
        }
    }
}
