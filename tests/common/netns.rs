//! Network namespaces for tests: a namespace joined to ours by a veth pair in 198.18.0.0/16.
//!
//! Each `Netns` gets its own /30 (picked from the process id and a counter so parallel tests and
//! test binaries do not collide); it is deleted on drop, also when the test fails.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Netns {
    pub name: String,
    host_if: String,
    /// Our side of the veth pair, and the namespace's side.
    pub host_ip: String,
    pub ns_ip: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2) must be installed");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    pub fn new() -> Netns {
        super::require_root();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = (std::process::id() % 128) * 64 + n % 64;
        let name = format!("enft{id}");
        // 198.18.0.0/17 holds 8192 /30s (198.19/16 is Docker's; 198.18.128/17 is for links
        // between namespaces): the id picks one.
        let base = id * 4;
        let (b3, b4) = ((base >> 8) & 0xff, base & 0xff);
        let host_ip = format!("198.18.{b3}.{}", b4 + 1);
        let ns_ip = format!("198.18.{b3}.{}", b4 + 2);
        let host_if = format!("vh{id}");
        let ns_if = format!("vn{id}");
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
            host_ip,
            ns_ip,
        };
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &name]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", ns.host_ip),
            "dev",
            &host_if,
        ]);
        ip(&["link", "set", &host_if, "up"]);
        ns.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", ns.ns_ip),
            "dev",
            &ns_if,
        ]);
        ns.exec_ok(&["ip", "link", "set", &ns_if, "up"]);
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// A new namespace linked to this one (not to ours) by a veth pair, with IPv4 addresses in
    /// 198.18.128.0/17 and IPv6 underlay addresses in fdee::/16 on both ends. `host_ip` /
    /// `host_ip6` are this namespace's ends, `ns_ip` / `ns_ip6` the child's.
    pub fn child(&self) -> Netns {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = (std::process::id() % 128) * 64 + n % 64;
        let name = format!("enfc{id}");
        let base = 32768 + id * 4;
        let (b3, b4) = ((base >> 8) & 0xff, base & 0xff);
        let host_ip = format!("198.18.{b3}.{}", b4 + 1);
        let ns_ip = format!("198.18.{b3}.{}", b4 + 2);
        let (up_if, down_if) = (format!("cu{id}"), format!("cd{id}"));
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let child = Netns {
            name: name.clone(),
            host_if: String::new(),
            host_ip,
            ns_ip,
        };
        self.exec_ok(&[
            "ip", "link", "add", &up_if, "type", "veth", "peer", "name", &down_if,
        ]);
        self.exec_ok(&["ip", "link", "set", &down_if, "netns", &name]);
        self.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", child.host_ip),
            "dev",
            &up_if,
        ]);
        self.exec_ok(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("fdee:{id:x}::1/64"),
            "dev",
            &up_if,
            "nodad",
        ]);
        self.exec_ok(&["ip", "link", "set", &up_if, "up"]);
        child.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", child.ns_ip),
            "dev",
            &down_if,
        ]);
        child.exec_ok(&[
            "ip",
            "-6",
            "addr",
            "add",
            &format!("fdee:{id:x}::2/64"),
            "dev",
            &down_if,
            "nodad",
        ]);
        child.exec_ok(&["ip", "link", "set", &down_if, "up"]);
        child.exec_ok(&["ip", "link", "set", "lo", "up"]);
        child
    }

    /// The IPv6 underlay address of a child's parent end, and of the child (see `child`).
    pub fn ip6_pair(&self) -> Option<(String, String)> {
        let id = self.name.strip_prefix("enfc")?.parse::<u32>().ok()?;
        Some((format!("fdee:{id:x}::1"), format!("fdee:{id:x}::2")))
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    pub fn exec_ok(&self, argv: &[&str]) {
        let mut full = vec!["netns", "exec", &self.name];
        full.extend_from_slice(argv);
        ip(&full);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
