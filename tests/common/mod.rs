//! Shared harness for integration tests that run the real `enf-init` binary.
//!
//! `Pid1` runs it as PID 1 of a fresh PID and mount namespace (`unshare --pid --fork
//! --mount-proc --kill-child`), so nothing it starts can outlive a failed test. Tests that need
//! root fail loudly when they do not have it; they never pass by doing nothing.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_enf-init");

/// Fails the test unless we are root (namespaces, capabilities and users need it).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (unshare --pid, setuid, capabilities); run the suite as root"
    );
}

pub fn helper(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/helpers")
        .join(name)
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// `enf-init` running as PID 1 of its own namespaces.
pub struct Pid1 {
    child: Child,
    started: Instant,
}

impl Pid1 {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Pid1 {
        require_root();
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", BIN])
            .args(args)
            .env_remove("ENF_LOG")
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("unshare (util-linux) must be installed");
        Pid1 {
            child,
            started: Instant::now(),
        }
    }

    /// The host pid of the namespace's PID 1 (unshare's forked child), once it exists.
    pub fn init_pid(&self) -> i32 {
        let path = format!("/proc/{0}/task/{0}/children", self.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
            {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "enf-init never started under unshare"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `sig` to enf-init itself (util-linux unshare blocks signals while it waits).
    pub fn signal(&self, sig: i32) {
        let pid = self.init_pid();
        // SAFETY: kill has no memory-safety preconditions.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
    }

    /// Waits for the end (at most `limit`), collecting both streams.
    pub fn finish(mut self, limit: Duration) -> Outcome {
        let mut out = self.child.stdout.take().expect("stdout");
        let mut err = self.child.stderr.take().expect("stderr");
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let ereader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = ereader.join().unwrap_or_default();
                panic!("enf-init did not finish within {limit:?}; stderr:\n{stderr}");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = self.started.elapsed();
        Outcome {
            code: status.code().unwrap_or(-1),
            stdout: reader.join().unwrap_or_default(),
            stderr: ereader.join().unwrap_or_default(),
            elapsed,
        }
    }

    /// Reads stdout line by line until one satisfies `pred`; returns it (the rest stays unread).
    pub fn wait_line(&mut self, pred: impl Fn(&str) -> bool, limit: Duration) -> String {
        let out = self.child.stdout.as_mut().expect("stdout");
        let deadline = Instant::now() + limit;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            assert!(
                Instant::now() < deadline,
                "no matching line within {limit:?}"
            );
            match out.read(&mut byte) {
                Ok(0) => panic!(
                    "stdout closed before a matching line; got {:?}",
                    String::from_utf8_lossy(&line)
                ),
                Ok(_) if byte[0] == b'\n' => {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    if pred(&text) {
                        return text;
                    }
                    line.clear();
                }
                Ok(_) => line.push(byte[0]),
                Err(e) => panic!("reading stdout: {e}"),
            }
        }
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        // --kill-child makes the namespace go with unshare.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `enf-init ARGS` as PID 1 to the end.
pub fn run_pid1(args: &[&str]) -> Outcome {
    Pid1::start(args, &[]).finish(Duration::from_secs(30))
}

pub mod endpoint;
/// Polls `read` until its text contains `text`; returns that text, or fails naming `what`.
pub fn wait_for_text(what: &str, text: &str, limit: Duration, read: impl Fn() -> String) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let got = read();
        if got.contains(text) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never said {text:?}:\n{got}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub mod enf_client;
pub mod hostile;
pub mod netns;
pub mod router;

/// The children of every thread of `pid` (the service is enf-init's only direct child here).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let path = task.expect("task").path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}
