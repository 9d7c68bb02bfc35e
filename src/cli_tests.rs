//! Table tests for the command line and its environment variables.

use super::*;

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

fn run(list: &[&str], env: &[(&str, &str)]) -> Result<Invocation, UsageError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    parse(&args(list), &lookup)
}

fn opts(list: &[&str], env: &[(&str, &str)]) -> Options {
    match run(list, env) {
        Ok(Invocation::Run(o)) => *o,
        other => panic!("{list:?}: {other:?}"),
    }
}

#[test]
fn options_stop_at_the_first_word_and_at_double_dash() {
    let o = opts(&["--no-tunnel", "nginx", "-g", "daemon off;"], &[]);
    assert!(!o.tunnel);
    assert_eq!(o.command, args(&["nginx", "-g", "daemon off;"]));
    let o = opts(&["--no-tunnel", "--", "--weird-binary", "--no-tunnel"], &[]);
    assert_eq!(o.command, args(&["--weird-binary", "--no-tunnel"]));
    let o = opts(&["--", "status"], &[]);
    assert_eq!(o.command, args(&["status"]));
}

#[test]
fn every_option_in_both_spellings() {
    let o = opts(
        &[
            "-c",
            "/x.conf",
            "--hooks-dir=/h",
            "--ready-timeout",
            "2.5",
            "--stop-timeout=3",
            "--stop-signal",
            "QUIT",
            "--hook-timeout",
            "0",
            "--keep-net-admin",
            "--user",
            "app:app",
            "--status-file",
            "/s.json",
            "true",
        ],
        &[],
    );
    assert_eq!(o.config, Some(PathBuf::from("/x.conf")));
    assert_eq!(o.hooks_dir, PathBuf::from("/h"));
    assert_eq!(o.ready_timeout, Some(Duration::from_millis(2500)));
    assert_eq!(o.stop_timeout, Duration::from_secs(3));
    assert_eq!(o.stop_signal, Some(3));
    assert_eq!(o.hook_timeout, None);
    assert!(o.keep_net_admin);
    assert_eq!(o.user.as_deref(), Some("app:app"));
    assert_eq!(o.status_file, Some(PathBuf::from("/s.json")));
    assert_eq!(
        opts(&["-c/y.conf", "x"], &[]).config,
        Some(PathBuf::from("/y.conf"))
    );
}

#[test]
fn environment_sets_defaults_and_flags_win() {
    let env = [
        ("ENF_TUNNEL", "off"),
        ("ENF_STOP_TIMEOUT", "4"),
        ("ENF_STOP_SIGNAL", "SIGRTMIN+3"),
        ("ENF_HOOK_TIMEOUT", "7"),
        ("ENF_CONFIG", "/env.conf"),
        ("ENF_USER", "nobody"),
        ("ENF_KEEP_NET_ADMIN", "yes"),
    ];
    let o = opts(&["x"], &env);
    assert!(!o.tunnel && o.keep_net_admin);
    assert_eq!(o.stop_timeout, Duration::from_secs(4));
    assert_eq!(o.stop_signal, Some(37));
    assert_eq!(o.hook_timeout, Some(Duration::from_secs(7)));
    assert_eq!(o.config, Some(PathBuf::from("/env.conf")));
    let o = opts(&["--stop-timeout", "1", "-c", "/flag.conf", "x"], &env);
    assert_eq!(o.stop_timeout, Duration::from_secs(1));
    assert_eq!(o.config, Some(PathBuf::from("/flag.conf")));
    assert!(opts(&["--init-only"], &[("ENF_INIT_ONLY", "0")]).init_only);
    assert!(opts(&[], &[("ENF_INIT_ONLY", "true")]).init_only);
}

#[test]
fn probes_and_loss_policy() {
    let o = opts(
        &[
            "--http",
            "9363",
            "--on-tunnel-loss=stop",
            "--tunnel-loss-grace",
            "2.5",
            "x",
        ],
        &[],
    );
    assert_eq!(o.http, Some("127.0.0.1:9363".parse().unwrap()));
    assert_eq!(o.on_tunnel_loss, LossPolicy::Stop);
    assert_eq!(o.tunnel_loss_grace, Duration::from_millis(2500));
    for (given, want) in [
        (":80", "127.0.0.1:80"),
        ("0.0.0.0:9363", "0.0.0.0:9363"),
        ("[::]:9363", "[::]:9363"),
        ("[::1]:1", "[::1]:1"),
    ] {
        assert_eq!(
            opts(&["--http", given, "x"], &[]).http,
            Some(want.parse().unwrap())
        );
    }
    let env = [
        ("ENF_HTTP", "[::1]:9000"),
        ("ENF_ON_TUNNEL_LOSS", "Unready"),
        ("ENF_TUNNEL_LOSS_GRACE", "5"),
    ];
    let o = opts(&["x"], &env);
    assert_eq!(o.http, Some("[::1]:9000".parse().unwrap()));
    assert_eq!(o.on_tunnel_loss, LossPolicy::Unready);
    assert_eq!(o.tunnel_loss_grace, Duration::from_secs(5));
    let o = opts(&["--on-tunnel-loss", "reconnect", "x"], &env);
    assert_eq!(o.on_tunnel_loss, LossPolicy::Reconnect);
}

#[test]
fn defaults() {
    let o = opts(&["x"], &[]);
    assert!(o.tunnel && !o.init_only && !o.keep_net_admin);
    assert_eq!(o.stop_timeout, Duration::from_secs(8));
    assert_eq!(o.hooks_dir, PathBuf::from("/entrypoint.d"));
    assert_eq!(
        (o.ready_timeout, o.hook_timeout, o.stop_signal),
        (None, None, None)
    );
    assert_eq!(o.http, None);
    assert_eq!(o.on_tunnel_loss, LossPolicy::Reconnect);
    assert_eq!(o.tunnel_loss_grace, Duration::from_secs(30));
}

#[test]
fn subcommands_only_as_first_argument() {
    assert_eq!(
        run(&["config", "-c", "f", "remote.port"], &[]),
        Ok(Invocation::Config(args(&["-c", "f", "remote.port"])))
    );
    assert_eq!(
        run(&["status", "--json"], &[("ENF_STATUS_FILE", "/e")]),
        Ok(Invocation::Status {
            json: true,
            status_file: Some(PathBuf::from("/e"))
        })
    );
    assert_eq!(
        run(&["status", "--status-file=/f"], &[]),
        Ok(Invocation::Status {
            json: false,
            status_file: Some(PathBuf::from("/f"))
        })
    );
    assert_eq!(
        run(&["doctor", "-c", "f"], &[]),
        Ok(Invocation::Doctor(args(&["-c", "f"])))
    );
    assert_eq!(run(&["-h"], &[]), Ok(Invocation::Help));
    assert_eq!(run(&["--version", "x"], &[]), Ok(Invocation::Version));
}

/// Arguments, environment, and the message they must give.
type UsageCase<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn usage_errors_say_what_is_wrong() {
    let cases: &[UsageCase] = &[
        (
            &[],
            &[],
            "no command to run: give the service's command (the image's CMD) or --init-only",
        ),
        (
            &["--init-only", "x"],
            &[],
            "--init-only starts no service, but a command was given",
        ),
        (&["--bogus", "x"], &[], "unknown option --bogus"),
        (&["--stop-timeout"], &[], "--stop-timeout needs a value"),
        (
            &["--stop-timeout", "soon", "x"],
            &[],
            "--stop-timeout soon: expected a number of seconds, e.g. 8 or 0.5",
        ),
        (
            &["--stop-timeout=-1", "x"],
            &[],
            "--stop-timeout -1: expected a number of seconds, e.g. 8 or 0.5",
        ),
        (
            &["--stop-timeout", "1e19", "x"],
            &[],
            "--stop-timeout 1e19: expected a number of seconds, e.g. 8 or 0.5",
        ),
        (
            &["--stop-signal", "NOPE", "x"],
            &[],
            "--stop-signal NOPE: not a signal (e.g. TERM, SIGQUIT, 15, RTMIN+3)",
        ),
        (
            &["--user", ":g", "x"],
            &[],
            "--user :g: expected USER or USER:GROUP",
        ),
        (&["--no-tunnel=1", "x"], &[], "--no-tunnel takes no value"),
        (
            &["x"],
            &[("ENF_TUNNEL", "maybe")],
            "ENF_TUNNEL=maybe: expected on/off, true/false, yes/no or 1/0",
        ),
        (
            &["--http", "localhost:80", "x"],
            &[],
            "--http localhost:80: expected PORT or ADDR:PORT (e.g. 9363, 0.0.0.0:9363, [::]:9363)",
        ),
        (
            &["--on-tunnel-loss", "panic", "x"],
            &[],
            "--on-tunnel-loss panic: expected reconnect, unready or stop",
        ),
        (
            &["x"],
            &[("ENF_TUNNEL_LOSS_GRACE", "never")],
            "ENF_TUNNEL_LOSS_GRACE never: expected a number of seconds, e.g. 8 or 0.5",
        ),
        (
            &["status", "extra"],
            &[],
            "status: unexpected argument extra",
        ),
    ];
    for (list, env, want) in cases {
        assert_eq!(
            run(list, env),
            Err(UsageError(want.to_string())),
            "{list:?}"
        );
    }
}
