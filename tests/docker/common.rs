//! Docker harness for the end-to-end suite: a network, enf/router on it, endpoints provisioned
//! by the router and started from the service images, all removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The options the existing README documents for every ENF container.
pub const ENF_OPTS: [&str; 5] = [
    "--cap-add=NET_ADMIN",
    "--device",
    "/dev/net/tun",
    "--sysctl",
    "net.ipv6.conf.all.disable_ipv6=0",
];

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker client must be installed")
}

pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails unless a Docker engine answers and the images exist (`make images`).
pub fn require_docker(images: &[&str]) {
    let info = docker(&["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        info.status.success(),
        "this test needs a running Docker engine (make test starts one): {}",
        String::from_utf8_lossy(&info.stderr)
    );
    for image in images {
        let out = docker(&["image", "inspect", image]);
        assert!(
            out.status.success(),
            "image {image} is missing: run `make images` first"
        );
    }
}

/// A Docker network with an enf-router on it, and the directory of its credentials.
pub struct Enf {
    pub net: String,
    pub dir: tempfile::TempDir,
    containers: Vec<String>,
}

impl Enf {
    pub fn new(tag: &str) -> Enf {
        require_docker(&["enf/base", "enf/router"]);
        let net = format!("enf-e2e-{tag}-{}", std::process::id());
        let _ = docker(&["network", "rm", &net]);
        docker_ok(&["network", "create", &net]);
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("router")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("ep")).expect("mkdir");
        let mut enf = Enf {
            net,
            dir,
            containers: Vec::new(),
        };
        enf.router_cmd(&["init", "/data/router", "--host", "router"]);
        enf.start_router();
        enf
    }

    fn mounts(&self) -> [String; 4] {
        [
            "-v".into(),
            format!("{}:/data/router", self.dir.path().join("router").display()),
            "-v".into(),
            format!("{}:/out", self.dir.path().join("ep").display()),
        ]
    }

    /// `enf-router ARGS` in a throwaway container on the router directory.
    pub fn router_cmd(&self, args: &[&str]) -> String {
        let mut full: Vec<String> = vec!["run".into(), "--rm".into()];
        full.extend(self.mounts());
        full.push("enf/router".into());
        full.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        docker_ok(&refs)
    }

    pub fn start_router(&mut self) {
        let name = format!("{}-router", self.net);
        let mount = format!("{}:/data/router", self.dir.path().join("router").display());
        let _ = docker(&["rm", "-f", &name]);
        docker_ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &self.net,
            "--network-alias",
            "router",
            "-v",
            &mount,
            "enf/router",
        ]);
        self.containers.push(name);
    }

    pub fn router_name(&self) -> String {
        format!("{}-router", self.net)
    }

    /// Provisions `address` and returns the host directory to mount at /data/enf0.
    pub fn credentials(&self, address: &str) -> PathBuf {
        let name = address.replace(':', "_");
        self.router_cmd(&[
            "add-endpoint",
            "/data/router",
            address,
            "--out",
            &format!("/out/{name}"),
            "--host",
            "router",
            "--port",
            "443",
        ]);
        self.dir.path().join("ep").join(name)
    }

    /// Starts `image` as endpoint `address` named `name`; `extra` goes before the image,
    /// `args` after it.
    pub fn endpoint(
        &mut self,
        name: &str,
        address: &str,
        image: &str,
        extra: &[&str],
        args: &[&str],
    ) -> String {
        let creds = self.credentials(address);
        let full_name = format!("{}-{name}", self.net);
        let mount = format!("{}:/data/enf0:ro", creds.display());
        let mut cmd: Vec<&str> = vec![
            "run",
            "-d",
            "--name",
            &full_name,
            "--network",
            &self.net,
            "-v",
            &mount,
        ];
        cmd.extend(ENF_OPTS);
        cmd.extend(extra);
        cmd.push(image);
        cmd.extend(args);
        let _ = docker(&["rm", "-f", &full_name]);
        docker_ok(&cmd);
        self.containers.push(full_name.clone());
        full_name
    }

    /// Waits until `enf-init status` says up inside `container`.
    pub fn wait_up(&self, container: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if docker(&["exec", container, "enf-init", "status"])
                .status
                .success()
            {
                return;
            }
            if Instant::now() > deadline {
                let logs = docker(&["logs", container]);
                panic!(
                    "{container} never came up:\n{}",
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `addr`:`port` accepts a TCP connection from inside `from`: the tunnel being
    /// up means the service is starting, not that it listens yet.
    pub fn wait_listening(&self, from: &str, addr: &str, port: u16, limit: Duration) {
        let deadline = Instant::now() + limit;
        let port = port.to_string();
        loop {
            let out = self.exec(from, &["nc", "-z", "-w", "1", addr, &port]);
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nothing listens on [{addr}]:{port} seen from {from}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn exec(&self, container: &str, argv: &[&str]) -> Output {
        let mut cmd = vec!["exec", container];
        cmd.extend(argv);
        docker(&cmd)
    }

    pub fn logs(&self, container: &str) -> String {
        let out = docker(&["logs", container]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

impl Drop for Enf {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-f", "-v", c]);
        }
        let _ = docker(&["network", "rm", &self.net]);
    }
}

/// The test client image (enf/base plus dig, ssh, nc, ping, curl), built once per test binary
/// (Docker's cache makes it quick; a new enf/base is picked up).
pub fn client_image() -> &'static str {
    const TAG: &str = "enf/test-client";
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dockerfile = root.join("tests/docker/client.Dockerfile");
        let ctx = root.join("tests/docker");
        docker_ok(&[
            "build",
            "-q",
            "-t",
            TAG,
            "-f",
            dockerfile.to_str().expect("utf-8"),
            ctx.to_str().expect("utf-8"),
        ]);
    });
    TAG
}
