//! enf-init: PID 1 for a containerised service on the Xaptum ENF.
//!
//! `main` is the table of contents: parse the command line, then either a subcommand or the init
//! itself, as a list of named steps. Every exit code comes from `exit.rs`.

use enf_init::cli::{self, Invocation, Options};
use enf_init::supervisor::{self, caps, machine::Policy, spawn, user};
use enf_init::{config, exit, hooks, identity, logging, signals, tunnel};
use std::ffi::OsString;

fn main() {
    // Before anything else, and so before any thread exists: every signal is blocked in every
    // thread, and the supervisor receives them through a signalfd.
    let blocked = signals::sys::set_mask(signals::ALL);
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let env = |k: &str| std::env::var(k).ok();
    let code = match cli::parse(&args, &env) {
        Err(e) => {
            eprintln!("enf-init: error: {e}");
            exit::USAGE
        }
        Ok(Invocation::Help) => {
            print!("{}", cli::HELP);
            0
        }
        Ok(Invocation::Version) => {
            println!("enf-init {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Invocation::Config(rest)) => config::command::run(&rest),
        Ok(Invocation::Doctor(rest)) => enf_init::doctor::run(&rest),
        Ok(Invocation::Status { json, status_file }) => {
            enf_init::status::command(json, status_file.as_deref())
        }
        Ok(Invocation::Run(opts)) => match blocked {
            Err(e) => {
                eprintln!("enf-init: error: cannot block signals: {e}");
                exit::OS_ERROR
            }
            // PID 1 must never die of a bug with its children still running unsupervised.
            Ok(_) => std::panic::catch_unwind(|| init(*opts)).unwrap_or_else(|_| {
                eprintln!("enf-init: error: internal error (a bug in enf-init; please report it)");
                exit::INTERNAL
            }),
        },
    };
    std::process::exit(code.into());
}

/// The init: everything from the options to the service's exit code.
fn init(opts: Options) -> u8 {
    logging::init("enf-init");
    let pid1 = std::process::id() == 1;
    if !pid1 {
        become_subreaper();
    }
    let creds = match opts.user.as_deref().map(user::resolve).transpose() {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return exit::USAGE;
        }
    };
    let drop_net_admin = !opts.keep_net_admin;
    if drop_net_admin && !caps::can_drop(caps::CAP_NET_ADMIN) {
        log::error!(
            "cannot keep CAP_NET_ADMIN from the service without CAP_SETPCAP: \
             add --cap-add=SETPCAP, or pass --keep-net-admin to let the service have it"
        );
        return exit::TUNNEL_UNAVAILABLE;
    }
    let tunnel = match opts.tunnel.then(|| bring_up(&opts)).transpose() {
        Ok(t) => t,
        Err(code) => return code,
    };
    // Hooks and the service learn where they are on the ENF.
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    if let Some(t) = &tunnel {
        env.push(("ENF_ADDRESS".into(), t.settings.address.to_string().into()));
        env.push(("ENF_IFACE".into(), t.tun.name().into()));
    }
    let hooks = match hooks::list(&opts.hooks_dir) {
        Ok(h) => h,
        Err(e) => {
            log::error!(
                "cannot read the hooks directory {}: {e}",
                opts.hooks_dir.display()
            );
            return exit::HOOK_FAILED;
        }
    };
    let service = (!opts.init_only).then(|| spawn::Spec {
        argv: opts.command.clone(),
        foreground: spawn::owns_terminal(),
        drop_net_admin,
        env: service_env(&creds),
        creds: creds.clone(),
        capture_stdout: false,
    });
    let setup = supervisor::Setup {
        policy: Policy {
            stop_timeout: opts.stop_timeout,
            stop_signal: opts.stop_signal,
            hook_timeout: opts.hook_timeout,
            wait_for_tunnel: tunnel.is_some(),
            ready_timeout: opts.ready_timeout,
            on_loss: opts.on_tunnel_loss,
            loss_grace: opts.tunnel_loss_grace,
        },
        hooks,
        service,
        env,
        pid1,
        tunnel,
        http: opts.http,
    };
    match supervisor::run(setup) {
        Ok(code) => code,
        Err(e) => {
            log::error!("supervisor loop failed: {e}");
            exit::OS_ERROR
        }
    }
}

/// Before the tunnel thread starts: configuration, credentials, the device and its address and
/// routes. Each failure is one line and its exit code.
fn bring_up(opts: &Options) -> Result<supervisor::TunnelSetup, u8> {
    let env = |k: &str| std::env::var(k).ok();
    let path = config::locate(opts.config.as_deref(), &env);
    let cfg = config::load(&path, &env).map_err(|e| {
        log::error!("{e}");
        exit::CONFIG
    })?;
    let id = identity::load(&cfg).map_err(|e| {
        log::error!("{e}");
        exit::CREDENTIALS
    })?;
    if let Some(ip_file) = &cfg.identity.ip_file {
        if let Err(e) = std::fs::write(ip_file, format!("{}\n", id.address)) {
            log::warn!(
                "{}: cannot write the address (identity.ip_file): {e}",
                ip_file.display()
            );
        }
    }
    if tunnel::netcfg::ipv6_disabled() {
        log::error!(
            "IPv6 is disabled in this container: run it with --sysctl net.ipv6.conf.all.disable_ipv6=0"
        );
        return Err(exit::TUNNEL_UNAVAILABLE);
    }
    if let Some(why) = enf_init::doctor::wrong_tun_device(&cfg.tun.dev_node) {
        log::error!("{why}");
        return Err(exit::TUNNEL_UNAVAILABLE);
    }
    let tun = tunnel::tun::Tun::open(&cfg.tun.dev_node, &cfg.tun.dev).map_err(|e| {
        log::error!("{e}");
        exit::TUNNEL_UNAVAILABLE
    })?;
    // A host name may resolve to IPv6: only an IPv4 literal is surely not captured by `default`.
    let server_is_ipv6 = cfg
        .remote
        .hosts
        .iter()
        .any(|h| h.parse::<std::net::Ipv4Addr>().is_err());
    let plan = tunnel::netcfg::Plan {
        ifname: tun.name().to_string(),
        address: id.address,
        mtu: 1280,
        prefixes: cfg.route.prefixes.clone(),
        fwmark: cfg.route.fwmark,
        table: cfg.route.table,
        server_is_ipv6,
        trusted_interfaces: cfg.route.trusted_interfaces.clone(),
    };
    let applied = if cfg.tun.ip_set {
        tunnel::netcfg::configure(&plan).map_err(|e| {
            log::error!("{e}");
            exit::TUNNEL_UNAVAILABLE
        })?
    } else {
        tunnel::netcfg::Applied {
            fwmark: cfg.route.fwmark,
        }
    };
    let settings = tunnel::Settings {
        config: path,
        env: std::env::vars()
            .filter(|(k, _)| k.starts_with("ENF_"))
            .collect(),
        address: id.address,
        allow_ipv4: cfg.route.allow_ipv4,
        fwmark: applied.fwmark,
        check_address: cfg.tun.ip_set,
        iface: tun.name().to_string(),
        status_file: opts.status_file.clone(),
        on_loss: opts.on_tunnel_loss,
        heartbeat_window: cfg.remote.heartbeat_period + cfg.remote.heartbeat_timeout,
        published: Default::default(),
    };
    Ok(supervisor::TunnelSetup { settings, tun })
}

/// Extra variables for the service (HOME of `--user`); the hooks' environment is added later.
fn service_env(creds: &Option<user::Creds>) -> Vec<(OsString, OsString)> {
    creds
        .iter()
        .map(|c| ("HOME".into(), c.home.clone().into_os_string()))
        .collect()
}

/// Not PID 1 (`docker run --init`, a test): adopt orphans below us, and say so once.
fn become_subreaper() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        log::info!(
            "not PID 1: running as a child subreaper; only our own descendants are signalled"
        );
    } else {
        log::warn!(
            "not PID 1 and cannot become a subreaper: orphans of the service will not be reaped"
        );
    }
}
