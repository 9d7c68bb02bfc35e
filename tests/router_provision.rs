//! `enf-router init | add-endpoint | list | remove-endpoint`, run as users run them: the real
//! binary on real files in temporary directories, and `enf-init config` proving that a written
//! endpoint directory works wherever it is. Needs no root and no network; `serve` is faked by a
//! copy of `sleep` named `enf-router`, so liveness and SIGHUP are real without a router.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use enf_init::identity::x509;
use enf_init::router::registry;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

const ROUTER: &str = env!("CARGO_BIN_EXE_enf-router");
const INIT: &str = env!("CARGO_BIN_EXE_enf-init");
const VECTOR_ADDRESS: &str = "fd00:8f80:1::1234";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_in(bin: &str, args: &[&str], cwd: &Path) -> Run {
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(cwd);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ENF_")) {
        cmd.env_remove(k);
    }
    let out = cmd.output().expect("run the binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn router(args: &[&str]) -> Run {
    run_in(ROUTER, args, Path::new("/"))
}

/// Runs `enf-router ARGS` and insists it succeeds.
fn ok(args: &[&str]) -> String {
    let r = router(args);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "enf-router {args:?}");
    r.stdout
}

/// Runs `enf-router ARGS`, insists on `code` and one error line containing `want`.
fn fails(args: &[&str], code: i32, want: &str) {
    let r = router(args);
    assert_eq!(r.code, code, "enf-router {args:?}: {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("enf-router: error: ") && r.stderr.contains(want),
        "{}",
        r.stderr
    );
}

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors")
        .join(name)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A new router directory in a fresh temporary directory.
fn router_dir(hosts: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("router");
    let mut args = vec!["init", s(&dir)];
    for h in hosts {
        args.extend(["--host", h]);
    }
    ok(&args);
    (tmp, dir)
}

/// The SHA-256 fingerprint of the key in a certificate file.
fn cert_key_fingerprint(path: &Path) -> String {
    let der = CertificateDer::from_pem_file(path).unwrap();
    registry::fingerprint(x509::parse(&der).unwrap().spki)
}

/// `list DIR` as (address, fingerprint, connected) rows, after checking the header.
fn list(dir: &Path) -> Vec<(String, String, String)> {
    let out = ok(&["list", s(dir)]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["ADDRESS", "KEY", "SHA-256", "FINGERPRINT", "CONNECTED"]
    );
    lines
        .map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [a, f, c] => (a.to_string(), f.to_string(), c.to_string()),
            _ => panic!("list line {l:?}"),
        })
        .collect()
}

#[test]
fn init_makes_a_private_directory_and_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deep/router");
    let out = ok(&["init", s(&dir)]);
    assert!(
        out.starts_with(&format!(
            "created {}: a CA and a server certificate for localhost, 127.0.0.1, ::1\n",
            dir.display()
        )),
        "{out}"
    );
    let ca_fp =
        registry::fingerprint(&CertificateDer::from_pem_file(dir.join("ca.crt.pem")).unwrap());
    assert!(
        out.contains(&format!("SHA-256 fingerprint {ca_fp}")),
        "{out}"
    );
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("endpoints")), 0o700);
    assert_eq!(mode(&dir.join("ca.key.pem")), 0o600);
    assert_eq!(mode(&dir.join("server.key.pem")), 0o600);
    for f in ["ca.crt.pem", "server.crt.pem", "hosts"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let before = std::fs::read(dir.join("ca.key.pem")).unwrap();
    fails(
        &["init", s(&dir), "--host", "x.example"],
        78,
        "already exists",
    );
    assert_eq!(std::fs::read(dir.join("ca.key.pem")).unwrap(), before);
    // An existing empty directory (a fresh Docker volume) is used, and made private.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).unwrap();
    ok(&["init", s(&empty)]);
    assert!(empty.join("ca.key.pem").is_file());
    assert_eq!(mode(&empty), 0o700);
}

#[test]
fn written_endpoint_works_with_enf_init_wherever_it_is() {
    let (tmp, dir) = router_dir(&["router.test", "::1"]);
    let out = tmp.path().join("a/b/enf0");
    let said = ok(&[
        "add-endpoint",
        s(&dir),
        "fd00::42",
        "--out",
        s(&out),
        "--port",
        "4443",
    ]);
    let fp = cert_key_fingerprint(&out.join("enf0.crt.pem"));
    assert!(
        said.contains(&format!("registered fd00::42 (key SHA-256 {fp})")),
        "{said}"
    );
    assert_eq!(mode(&out.join("enf0.key.pem")), 0o600);
    assert_eq!(
        std::fs::read(out.join("enf.cacert.pem")).unwrap(),
        std::fs::read(dir.join("ca.crt.pem")).unwrap()
    );
    let conf = std::fs::read_to_string(out.join("enf0.conf")).unwrap();
    for line in [
        "hosts = [ \"router.test\", \"::1\" ];",
        "port = \"4443\";",
        "ca_cert_file = \"enf.cacert.pem\";",
        "cert_file = \"enf0.crt.pem\";",
        "key_file = \"enf0.key.pem\";",
        "prefixes = [ \"fc00::/7\" ];",
        "fwmark = 0;",
    ] {
        assert!(conf.contains(line), "{line} not in\n{conf}");
    }
    assert!(!conf.contains(s(tmp.path())), "absolute path in\n{conf}");

    // Moved elsewhere (as when mounted at /data/enf0) and read from another directory.
    let moved = tmp.path().join("mounted/enf0");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&out, &moved).unwrap();
    let conf_path = moved.join("enf0.conf");
    for key in ["identity.address", "remote.port", "remote.ca_cert_file"] {
        let r = run_in(INIT, &["config", "-c", s(&conf_path), key], &dir);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{key}");
        let want = match key {
            "identity.address" => "fd00::42".to_string(),
            "remote.port" => "4443".to_string(),
            _ => moved.join("enf.cacert.pem").display().to_string(),
        };
        assert_eq!(r.stdout.trim_end(), want, "{key}");
    }
    assert_eq!(list(&dir), [("fd00::42".into(), fp, "no".into())]);
}

#[test]
fn out_defaults_come_from_init() {
    let (tmp, dir) = router_dir(&[]);
    let out = tmp.path().join("e");
    ok(&["add-endpoint", s(&dir), "2001:db8::7", "--out", s(&out)]);
    let conf = std::fs::read_to_string(out.join("enf0.conf")).unwrap();
    for line in [
        "hosts = [ \"localhost\", \"127.0.0.1\", \"::1\" ];",
        "port = \"443\";",
        "prefixes = [ \"default\" ];",
    ] {
        assert!(conf.contains(line), "{line} not in\n{conf}");
    }
}

#[test]
fn public_key_from_a_pem_key_or_a_certificate() {
    let (tmp, dir) = router_dir(&[]);
    // The reference v1 certificate, its address in the 32-hex-digit CN form.
    let said = ok(&[
        "add-endpoint",
        s(&dir),
        "fd008f80000100000000000000001234",
        "--public-key",
        s(&vector("test.crt.pem")),
    ]);
    let vector_fp = cert_key_fingerprint(&vector("test.crt.pem"));
    assert_eq!(
        said,
        format!("registered {VECTOR_ADDRESS} (key SHA-256 {vector_fp})\n")
    );

    // A PUBLIC KEY PEM, here of a key made by --out for another address.
    let made = tmp.path().join("made");
    ok(&["add-endpoint", s(&dir), "fd00::1", "--out", s(&made)]);
    let der = CertificateDer::from_pem_file(made.join("enf0.crt.pem")).unwrap();
    let spki = x509::parse(&der).unwrap().spki.to_vec();
    let key_file = tmp.path().join("key.pub");
    std::fs::write(&key_file, registry::pem("PUBLIC KEY", &spki)).unwrap();
    ok(&[
        "add-endpoint",
        s(&dir),
        "fd00::2",
        "--public-key",
        s(&key_file),
    ]);
    // --public-key writes nothing but the registry entry.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 3);

    let fp = registry::fingerprint(&spki);
    let rows = list(&dir);
    let want = [
        ("fd00::1", &fp),
        ("fd00::2", &fp),
        (VECTOR_ADDRESS, &vector_fp),
    ];
    let got: Vec<_> = rows.iter().map(|(a, f, _)| (a.as_str(), f)).collect();
    assert_eq!(got, want);
    assert!(rows.iter().all(|(_, _, c)| c == "no"));

    fails(
        &[
            "add-endpoint",
            s(&dir),
            "fd00::9",
            "--public-key",
            s(&vector("test.crt.pem")),
        ],
        77,
        "certificate is for fd00:8f80:1::1234",
    );
    fails(
        &[
            "add-endpoint",
            s(&dir),
            "fd00::9",
            "--public-key",
            s(&vector("test.key.pem")),
        ],
        77,
        "neither a PUBLIC KEY nor a CERTIFICATE",
    );
}

#[test]
fn registering_again_replaces_the_key() {
    let (tmp, dir) = router_dir(&[]);
    let out = tmp.path().join("e");
    ok(&["add-endpoint", s(&dir), "fd00::5", "--out", s(&out)]);
    let first = cert_key_fingerprint(&out.join("enf0.crt.pem"));
    let said = ok(&["add-endpoint", s(&dir), "fd00:0::5", "--out", s(&out)]);
    let second = cert_key_fingerprint(&out.join("enf0.crt.pem"));
    assert_ne!(first, second);
    assert!(
        said.contains(&format!(
            "replaced the key of fd00::5 (now SHA-256 {second})"
        )),
        "{said}"
    );
    assert_eq!(list(&dir), [("fd00::5".into(), second, "no".into())]);
    let said = ok(&[
        "add-endpoint",
        s(&dir),
        "fd00::5",
        "--public-key",
        s(&out.join("enf0.crt.pem")),
    ]);
    assert_eq!(said, "fd00::5 was already registered with this key\n");
}

#[test]
fn remove_endpoint_and_unknown_addresses() {
    let (_tmp, dir) = router_dir(&[]);
    ok(&[
        "add-endpoint",
        s(&dir),
        VECTOR_ADDRESS,
        "--public-key",
        s(&vector("test.crt.pem")),
    ]);
    assert_eq!(
        ok(&[
            "remove-endpoint",
            s(&dir),
            "fd008f80000100000000000000001234"
        ]),
        format!("removed {VECTOR_ADDRESS}\n")
    );
    assert!(list(&dir).is_empty());
    fails(
        &["remove-endpoint", s(&dir), VECTOR_ADDRESS],
        64,
        &format!("{VECTOR_ADDRESS} is not registered in {}", dir.display()),
    );
}

/// A stand-in for `serve`: `sleep` under the name `enf-router`, so its comm matches.
fn fake_server(tmp: &Path) -> std::process::Child {
    let bin = tmp.join("bin/enf-router");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy("/bin/sleep", &bin).unwrap();
    Command::new(&bin).arg("60").spawn().unwrap()
}

#[test]
fn list_shows_live_sessions_and_removal_signals_the_server() {
    let (tmp, dir) = router_dir(&[]);
    for a in ["fd00::1", "fd00::2"] {
        ok(&[
            "add-endpoint",
            s(&dir),
            a,
            "--out",
            s(&tmp.path().join(a.replace(':', "_"))),
        ]);
    }
    let mut server = fake_server(tmp.path());
    let run = dir.join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("pid"), format!("{}\n", server.id())).unwrap();
    std::fs::write(run.join("sessions"), "fd00::2\n").unwrap();
    let connected: Vec<_> = list(&dir).into_iter().map(|(a, _, c)| (a, c)).collect();
    assert_eq!(
        connected,
        [
            ("fd00::1".into(), "no".into()),
            ("fd00::2".into(), "yes".into())
        ]
    );

    let said = ok(&["remove-endpoint", s(&dir), "fd00::2"]);
    let pid = server.id();
    assert_eq!(said, format!("removed fd00::2\nsent SIGHUP to enf-router serve (pid {pid}) to close its live session\n"));
    let status = server.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGHUP));

    // The server is gone: nothing counts as connected any more, whatever `sessions` says.
    std::fs::write(run.join("sessions"), "fd00::1\n").unwrap();
    assert_eq!(
        list(&dir),
        [(
            "fd00::1".into(),
            cert_key_fingerprint(&tmp.path().join("fd00__1/enf0.crt.pem")),
            "no".into()
        )]
    );
}

#[test]
fn errors_are_one_line_with_their_code() {
    let tmp = tempfile::tempdir().unwrap();
    let nowhere = tmp.path().join("nowhere");
    fails(&[], 64, "no command given");
    fails(&["init"], 64, "init takes DIR (got 0 arguments)");
    fails(
        &["add-endpoint", s(&nowhere), "fd00::1"],
        64,
        "needs --out OUTDIR or --public-key FILE",
    );
    fails(&["list", s(&nowhere)], 78, "is not an enf-router directory");
    fails(
        &["remove-endpoint", s(&nowhere), "fd00::1"],
        78,
        "is not an enf-router directory",
    );
    let out = tmp.path().join("out");
    fails(
        &["add-endpoint", s(&nowhere), "fd00::1", "--out", s(&out)],
        78,
        "is not an enf-router directory",
    );
    assert!(!out.exists());
    let help = router(&["--help"]);
    assert_eq!(help.code, 0);
    assert!(
        help.stdout
            .starts_with("usage: enf-router COMMAND DIR [ARG]..."),
        "{}",
        help.stdout
    );
}
