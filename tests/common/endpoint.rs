//! An `enf-init` endpoint in its own network namespace, linked to the router's namespace, with
//! credentials provisioned by the router under test.

use super::netns::Netns;
use super::router::Router;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_enf-init");

pub struct Endpoint {
    pub ns: Netns,
    pub dir: PathBuf,
    pub address: String,
    pub status: PathBuf,
    pub child: Option<Child>,
    log: PathBuf,
    out: PathBuf,
}

impl Endpoint {
    /// Provisions `address` on `router` and prepares a namespace for it (not started yet).
    pub fn new(router: &Router, address: &str) -> Endpoint {
        let ns = router.ns.child();
        let dir = router.endpoint_via(address, &ns.host_ip);
        let tag = address.replace(':', "_");
        Endpoint {
            status: router.path(&format!("status-{tag}.json")),
            log: router.path(&format!("enf-init-{tag}.log")),
            out: router.path(&format!("enf-init-{tag}.out")),
            ns,
            dir,
            address: address.to_string(),
            child: None,
        }
    }

    /// Replaces each `from` with `to` in this endpoint's enf0.conf; each must be there.
    pub fn edit_conf(&self, edits: &[(&str, &str)]) {
        let conf = self.dir.join("enf0.conf");
        let mut text = std::fs::read_to_string(&conf).expect("read enf0.conf");
        for (from, to) in edits {
            assert!(text.contains(from), "enf0.conf has no {from:?}:\n{text}");
            text = text.replace(from, to);
        }
        std::fs::write(&conf, text).expect("write enf0.conf");
    }

    /// Two endpoints on `router`, started with the defaults (`--init-only`), both tunnels up.
    pub fn pair(router: &Router, a: &str, b: &str) -> (Endpoint, Endpoint) {
        let (mut ea, mut eb) = (Endpoint::new(router, a), Endpoint::new(router, b));
        ea.start(&[], &[]);
        eb.start(&[], &[]);
        ea.wait_log("tunnel up", Duration::from_secs(15));
        eb.wait_log("tunnel up", Duration::from_secs(15));
        (ea, eb)
    }

    /// Starts `enf-init [args] -- service...` (or `--init-only` when `service` is empty).
    pub fn start(&mut self, args: &[&str], service: &[&str]) {
        let conf = self.dir.join("enf0.conf");
        let hooks = self.dir.join("no-hooks");
        // PID 1 of its own PID namespace (as in a container), so that nothing it starts can
        // outlive the test, and no hooks from the machine's /entrypoint.d.
        let mut cmd = self.ns.command("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", BIN])
            .args(["-c", conf.to_str().expect("utf-8")])
            .args(["--status-file", self.status.to_str().expect("utf-8")])
            .args(["--hooks-dir", hooks.to_str().expect("utf-8")])
            .args(args);
        if service.is_empty() {
            cmd.arg("--init-only");
        } else {
            cmd.arg("--").args(service);
        }
        let log = std::fs::File::create(&self.log).expect("log");
        let out = std::fs::File::create(&self.out).expect("out");
        cmd.env("ENF_LOG", "debug")
            .env_remove("ENF_TUNNEL")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log);
        self.child = Some(cmd.spawn().expect("ip netns exec enf-init"));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn wait_log(&self, text: &str, limit: Duration) -> String {
        super::wait_for_text("enf-init's log", text, limit, || self.log())
    }

    pub fn wait_stdout(&self, text: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.stdout();
            if out.contains(text) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "service never printed {text:?}; stdout:\n{out}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `enf-init status [--json]` against this endpoint's status file: (exit code, stdout).
    pub fn status(&self, json: bool) -> (i32, String) {
        let mut cmd = Command::new(BIN);
        cmd.args([
            "status",
            "--status-file",
            self.status.to_str().expect("utf-8"),
        ]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("enf-init status");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Whether enf-init (and so its namespace) is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .expect("started")
            .try_wait()
            .expect("wait")
            .is_none()
    }

    /// Waits for the process to end; its exit code.
    pub fn wait(&mut self, limit: Duration) -> i32 {
        let mut child = self.child.take().expect("started");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return st.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("enf-init did not end within {limit:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The host pid of enf-init itself: PID 1 of its namespace, the child of `unshare` (which
    /// is what `ip netns exec` became).
    pub fn init_pid(&self) -> u32 {
        let outer = self.child.as_ref().expect("started").id();
        let path = format!("/proc/{outer}/task/{outer}/children");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(p) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
            {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "enf-init never started under unshare"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Signals enf-init itself (unshare would not pass it on).
    pub fn signal(&self, sig: i32) {
        let pid = self.init_pid() as i32;
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, sig) };
    }

    /// Runs a command inside this endpoint's namespace (e.g. ping over the overlay).
    pub fn exec(&self, argv: &[&str]) -> std::process::Output {
        self.ns
            .command(argv[0])
            .args(&argv[1..])
            .output()
            .expect("exec in namespace")
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
