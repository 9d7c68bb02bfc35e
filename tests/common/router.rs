//! An `enf-router` serving in its own network namespace, with endpoint directories provisioned
//! by the real `enf-router init` / `add-endpoint`.

use super::netns::Netns;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ROUTER_BIN: &str = env!("CARGO_BIN_EXE_enf-router");
pub const PORT: u16 = 4443;

pub fn router_cmd(args: &[&str]) -> std::process::Output {
    Command::new(ROUTER_BIN)
        .args(args)
        .output()
        .expect("run enf-router")
}

pub fn router_ok(args: &[&str]) -> String {
    let out = router_cmd(args);
    assert!(
        out.status.success(),
        "enf-router {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub struct Router {
    pub ns: Netns,
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Router {
    /// A fresh router directory and a serving router in a new namespace.
    pub fn start() -> Router {
        let ns = Netns::new();
        let dir = tempfile::tempdir().expect("tempdir");
        let rdir = dir.path().join("router");
        router_ok(&["init", rdir.to_str().expect("utf-8"), "--host", &ns.ns_ip]);
        let addr: SocketAddr = format!("{}:{PORT}", ns.ns_ip).parse().expect("addr");
        let log = dir.path().join("router.log");
        let mut r = Router {
            ns,
            dir,
            child: None,
            addr,
            log,
        };
        r.serve();
        r
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("router")
    }

    /// (Re)starts `serve` and waits until it accepts connections.
    pub fn serve(&mut self) {
        self.serve_with(&[]);
    }

    /// (Re)starts `serve` with extra arguments (e.g. `--http`).
    pub fn serve_with(&mut self, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = self
            .ns
            .command(ROUTER_BIN)
            .args([
                "serve",
                self.dir().to_str().expect("utf-8"),
                "--listen",
                // Every address in the namespace: endpoints also come in over child links.
                &format!("[::]:{PORT}"),
            ])
            .args(extra)
            .env("ENF_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ip netns exec enf-router serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "router never listened:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Provisions an endpoint with `--out` and returns its directory.
    pub fn endpoint(&self, address: &str) -> PathBuf {
        self.endpoint_via(address, &self.addr.ip().to_string())
    }

    /// Provisions an endpoint that reaches the router at `host`.
    pub fn endpoint_via(&self, address: &str, host: &str) -> PathBuf {
        let out = self
            .dir
            .path()
            .join(format!("ep-{}", address.replace(':', "_")));
        let host = host.to_string();
        let port = PORT.to_string();
        router_ok(&[
            "add-endpoint",
            self.dir().to_str().expect("utf-8"),
            address,
            "--out",
            out.to_str().expect("utf-8"),
            "--host",
            &host,
            "--port",
            &port,
        ]);
        out
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `text`.
    pub fn wait_log(&self, text: &str, limit: Duration) -> String {
        super::wait_for_text("the router's log", text, limit, || self.log())
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.child.as_ref().expect("serving").id() as i32;
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, sig) };
    }

    /// Stops `serve` with SIGTERM; returns its exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: as above.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
