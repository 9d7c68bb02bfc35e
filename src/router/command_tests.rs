//! Tests for `router::command`.

use super::*;

fn args(line: &str) -> Vec<OsString> {
    line.split_whitespace().map(OsString::from).collect()
}

fn add(key: KeySource, hosts: &[&str], port: u16, prefixes: &[&str]) -> Command {
    Command::AddEndpoint(AddEndpoint {
        dir: "D".into(),
        address: "fd00:8f80:1::1234".parse().unwrap(),
        key,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        port,
        prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
    })
}

#[test]
fn parses() {
    let out = || KeySource::Out("O".into());
    let table: Vec<(&str, Command)> = vec![
        ("--help", Command::Help),
        ("help", Command::Help),
        ("init D -h", Command::Help),
        ("init D", Command::Init { dir: "D".into(), hosts: vec![] }),
        ("init --host a.example D --host=::1 --host 10.0.0.1", Command::Init {
            dir: "D".into(),
            hosts: vec!["a.example".into(), "::1".into(), "10.0.0.1".into()],
        }),
        ("add-endpoint D fd00:8f80:1::1234 --out O", add(out(), &[], 443, &[])),
        ("add-endpoint --out=O D fd008f80000100000000000000001234", add(out(), &[], 443, &[])),
        ("add-endpoint D FD00:8F80:1:0::1234 --public-key K", add(KeySource::PublicKey("K".into()), &[], 443, &[])),
        ("add-endpoint D fd00:8f80:1::1234 --out O --host h --host ::1 --port 4443 --prefix fd00::/8 --prefix default",
            add(out(), &["h", "::1"], 4443, &["fd00::/8", "default"])),
        ("list D", Command::List { dir: "D".into() }),
        ("remove-endpoint D fd00::1", Command::Remove { dir: "D".into(), address: "fd00::1".parse().unwrap() }),
        ("serve D", Command::Serve { dir: "D".into(), listen: vec![DEFAULT_LISTEN], http: None }),
        ("serve D --listen 127.0.0.1:4443 --listen [::1]:4443", Command::Serve {
            dir: "D".into(),
            listen: vec!["127.0.0.1:4443".parse().unwrap(), "[::1]:4443".parse().unwrap()],
            http: None,
        }),
        ("serve D --http 9364", Command::Serve {
            dir: "D".into(),
            listen: vec![DEFAULT_LISTEN],
            http: Some("127.0.0.1:9364".parse().unwrap()),
        }),
        ("serve D --http [::]:9364", Command::Serve {
            dir: "D".into(),
            listen: vec![DEFAULT_LISTEN],
            http: Some("[::]:9364".parse().unwrap()),
        }),
    ];
    for (line, want) in table {
        assert_eq!(parse(&args(line)), Ok(want), "{line}");
    }
    // `--` makes an option-like word a positional.
    let dashed = parse(&args("list -- --odd")).unwrap();
    assert_eq!(
        dashed,
        Command::List {
            dir: "--odd".into()
        }
    );
}

#[test]
fn refuses() {
    let table: &[(&str, &str)] = &[
        ("", "no command given"),
        ("frobnicate D", "unknown command \"frobnicate\" (expected init, add-endpoint, list, remove-endpoint or serve)"),
        ("init", "init takes DIR (got 0 arguments)"),
        ("init D E", "init takes DIR (got 2 arguments)"),
        ("init D --host", "init: --host needs a value"),
        ("init D --host a,b", "--host \"a,b\" is not a host name or IP address"),
        ("init D --host -x", "--host \"-x\" is not a host name or IP address"),
        ("init D -x", "init: unknown option -x"),
        ("init D --port 1", "init: unknown option --port"),
        ("list D --listen [::]:1", "list: unknown option --listen"),
        ("add-endpoint D fd00::1", "add-endpoint needs --out OUTDIR or --public-key FILE"),
        ("add-endpoint D fd00::1 --out O --public-key K", "add-endpoint: give --out or --public-key, not both"),
        ("add-endpoint D fd00::1 --out O --out P", "add-endpoint: --out may be given only once"),
        ("add-endpoint D fd00::1 --public-key K --port 1", "add-endpoint: --host, --port and --prefix go into enf0.conf and need --out"),
        ("add-endpoint D fd00::1 --out O --port 0", "--port \"0\" is not a port number (1 to 65535)"),
        ("add-endpoint D fd00::1 --out O --port +1", "--port \"+1\" is not a port number (1 to 65535)"),
        ("add-endpoint D fd00::1 --out O --prefix fd00::1/8", "--prefix \"fd00::1/8\" has host bits set; did you mean \"fd00::/8\"?"),
        ("add-endpoint D fd00::1/64 --out O", "ADDRESS \"fd00::1/64\" is not an IPv6 unicast address (e.g. fd00::1 or 32 hex digits)"),
        ("add-endpoint D 10.0.0.1 --out O", "ADDRESS \"10.0.0.1\" is not an IPv6 unicast address (e.g. fd00::1 or 32 hex digits)"),
        ("add-endpoint D fe80::1 --out O", "ADDRESS fe80::1 is loopback or link-local; an endpoint needs a routable address"),
        ("add-endpoint D ::1 --out O", "ADDRESS ::1 is loopback or link-local; an endpoint needs a routable address"),
        ("add-endpoint D --out O", "add-endpoint takes DIR ADDRESS (got 1 argument)"),
        ("remove-endpoint D ff02::1", "ADDRESS \"ff02::1\" is not an IPv6 unicast address (e.g. fd00::1 or 32 hex digits)"),
        ("serve D --listen 443", "--listen \"443\" is not ADDR:PORT (e.g. [::]:443 or 0.0.0.0:4443)"),
    ];
    for (line, want) in table {
        assert_eq!(parse(&args(line)), Err(want.to_string()), "{line}");
    }
}

#[test]
fn non_utf8_paths_survive() {
    use std::os::unix::ffi::OsStringExt;
    let odd = OsString::from_vec(b"dir-\xff".to_vec());
    let mut flag = OsString::from("--out=");
    flag.push(&odd);
    let a = [
        OsString::from("add-endpoint"),
        odd.clone(),
        "fd00::1".into(),
        flag,
    ];
    let Ok(Command::AddEndpoint(add)) = parse(&a) else {
        panic!("{:?}", parse(&a))
    };
    assert_eq!(
        (add.dir.as_os_str(), add.key),
        (odd.as_os_str(), KeySource::Out(odd.clone().into()))
    );
}

#[test]
fn exit_codes() {
    let usage = Error::Usage("x".into());
    assert_eq!(
        (usage.code(), usage.to_string().as_str()),
        (64, "x (see enf-router --help)")
    );
    let input = Error::Provision(provision::Error::Input {
        path: "f".into(),
        reason: "r".into(),
    });
    assert_eq!(input.code(), exit::CREDENTIALS);
    let exists = Error::Provision(provision::Error::Exists { dir: "d".into() });
    assert_eq!(exists.code(), exit::CONFIG);
    let dir = Error::Registry(registry::Error::NotARouterDir { dir: "d".into() });
    assert_eq!(dir.code(), exit::CONFIG);
}
