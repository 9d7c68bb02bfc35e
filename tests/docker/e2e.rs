//! The images end to end, with real Docker: the base image's tunnel, stop, health check,
//! failures, and each service answered by a real client from another ENF endpoint.
//! Run with `make test-docker` (needs a Docker engine and `make images`).

#[path = "common.rs"]
mod common;

use common::*;
use std::time::{Duration, Instant};

const A: &str = "fd00:8f80:1::a";
const B: &str = "fd00:8f80:1::b";

#[test]
fn init_only_comes_up_answers_ping_and_stops_well_within_dockers_grace() {
    let mut enf = Enf::new("base");
    let a = enf.endpoint("a", A, "enf/base", &[], &["--init-only"]);
    let client = client_image();
    let b = enf.endpoint("b", B, client, &[], &["sleep", "infinity"]);
    enf.wait_up(&a, Duration::from_secs(30));
    enf.wait_up(&b, Duration::from_secs(30));
    let ping = enf.exec(&b, &["ping", "-6", "-c", "2", "-W", "2", A]);
    assert!(
        ping.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        enf.logs(&b)
    );
    let t0 = Instant::now();
    docker_ok(&["stop", &a]);
    let took = t0.elapsed();
    eprintln!("docker stop enf/base --init-only: {took:?}");
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &a]).trim(),
        "0"
    );
    // The router image too: enf-init --no-tunnel as PID 1 passes the stop on to enf-router.
    let t0 = Instant::now();
    docker_ok(&["stop", &enf.router_name()]);
    eprintln!("docker stop enf/router: {:?}", t0.elapsed());
    assert!(t0.elapsed() < Duration::from_secs(5));
    let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &enf.router_name()]);
    assert_eq!(code.trim(), "0", "enf-router exits 0 on SIGTERM");
}

#[test]
fn the_health_check_turns_healthy_with_the_tunnel() {
    let mut enf = Enf::new("health");
    let a = enf.endpoint(
        "a",
        A,
        "enf/base",
        &["--health-interval", "1s", "--health-start-period", "1s"],
        &["--init-only"],
    );
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let state = docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", &a]);
        if state.trim() == "healthy" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never healthy ({}):\n{}",
            state.trim(),
            enf.logs(&a)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls `docker inspect` until the container's health is `want`.
fn wait_health(enf: &Enf, container: &str, want: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let state = docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", container]);
        if state.trim() == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never {want} ({}):\n{}",
            state.trim(),
            enf.logs(container)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn under_unready_the_health_check_follows_the_router_and_the_container_keeps_running() {
    let mut enf = Enf::new("unready");
    let a = enf.endpoint(
        "a",
        A,
        "enf/base",
        &[
            "--health-interval",
            "1s",
            "--health-start-period",
            "1s",
            "--health-retries",
            "1",
            "-e",
            "ENF_ON_TUNNEL_LOSS=unready",
        ],
        &["--init-only"],
    );
    wait_health(&enf, &a, "healthy", Duration::from_secs(40));
    docker_ok(&["stop", &enf.router_name()]);
    wait_health(&enf, &a, "unhealthy", Duration::from_secs(30));
    docker_ok(&["start", &enf.router_name()]);
    wait_health(&enf, &a, "healthy", Duration::from_secs(60));
    let running = docker_ok(&["inspect", "-f", "{{.State.Running}} {{.RestartCount}}", &a]);
    assert_eq!(running.trim(), "true 0");
}

#[test]
fn the_tunnel_comes_back_after_the_router_container_restarts() {
    let mut enf = Enf::new("restart");
    let a = enf.endpoint("a", A, "enf/base", &[], &["--init-only"]);
    let b = enf.endpoint("b", B, client_image(), &[], &["sleep", "infinity"]);
    enf.wait_up(&b, Duration::from_secs(30));
    enf.wait_up(&a, Duration::from_secs(30));
    docker_ok(&["restart", &enf.router_name()]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !enf
        .exec(&b, &["ping", "-6", "-c", "1", "-W", "1", A])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "overlay never came back:\n{}",
            enf.logs(&b)
        );
    }
    let running = docker_ok(&["inspect", "-f", "{{.State.Running}} {{.RestartCount}}", &b]);
    assert_eq!(
        running.trim(),
        "true 0",
        "the service container must keep running"
    );
}

#[test]
fn without_net_admin_or_the_device_it_fails_with_one_clear_line() {
    let enf = Enf::new("privs");
    let creds = enf.credentials(A);
    let mount = format!("{}:/data/enf0:ro", creds.display());
    let ipv6_on = ["--sysctl", "net.ipv6.conf.all.disable_ipv6=0"];
    let both = ["--device", "/dev/net/tun", "--cap-add=NET_ADMIN"];
    for (opts, want) in [
        (
            vec!["--device", "/dev/net/tun", ipv6_on[0], ipv6_on[1]],
            "--cap-add=NET_ADMIN",
        ),
        (
            vec!["--cap-add=NET_ADMIN", ipv6_on[0], ipv6_on[1]],
            "--device /dev/net/tun",
        ),
        (
            [&both[..], &["--sysctl", "net.ipv6.conf.all.disable_ipv6=1"]].concat(),
            "--sysctl net.ipv6.conf.all.disable_ipv6=0",
        ),
    ] {
        let mut cmd = vec!["run", "--rm", "--network", &enf.net, "-v", &mount];
        cmd.extend(opts.iter().copied());
        cmd.extend(["enf/base", "--init-only"]);
        let out = docker(&cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(69), "{stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains(want), "{stderr}");
    }
}

#[test]
fn enf_init_can_be_copied_into_any_image() {
    require_docker(&["enf/base"]);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM debian:bookworm-slim\nCOPY --from=enf/base /usr/local/bin/enf-init /usr/local/bin/enf-init\nENTRYPOINT [\"enf-init\", \"--no-tunnel\"]\n",
    )
    .expect("Dockerfile");
    let tag = format!("enf-e2e-copy-{}", std::process::id());
    docker_ok(&[
        "build",
        "-q",
        "-t",
        &tag,
        dir.path().to_str().expect("utf-8"),
    ]);
    let out = docker(&["run", "--rm", &tag, "sh", "-c", "echo ppid $PPID; exit 7"]);
    let _ = docker(&["rmi", "-f", &tag]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ppid 1\n",
        "the service runs under enf-init as PID 1"
    );
}

/// Text of a command run in a container; fails the test with its output when it fails.
fn exec_ok(enf: &Enf, container: &str, argv: &[&str]) -> String {
    let out = enf.exec(container, argv);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{argv:?} in {container}:\n{text}\n--- logs:\n{}",
        enf.logs(container)
    );
    text
}

#[test]
fn dns_answers_aaaa_and_the_apt_mirror_serves_apt_get_with_a_cache() {
    let mut enf = Enf::new("svc");
    let hosts = enf.dir.path().join("dns");
    std::fs::create_dir_all(&hosts).expect("mkdir");
    std::fs::write(hosts.join("hosts"), format!("{A} mirror\n{B} dns\n")).expect("hosts");
    let dns_mount = format!("{}:/data/dns:ro", hosts.display());
    let mirror = enf.endpoint("mirror", A, "enf/apt-mirror", &[], &[]);
    let dns = enf.endpoint(
        "dns",
        B,
        "enf/dns",
        &["-v", &dns_mount, "-e", "DOMAIN=enf.internal"],
        &[],
    );
    let client = client_image();
    let dev = enf.endpoint(
        "device",
        "fd00:8f80:1::c",
        client,
        &[
            "-e",
            &format!("ENF_DNS={B}"),
            "-e",
            "ENF_DNS_SEARCH=enf.internal",
        ],
        &["sleep", "infinity"],
    );
    for c in [&mirror, &dns, &dev] {
        enf.wait_up(c, Duration::from_secs(40));
    }
    // The mirror's HTTP server starts after its tunnel; dig retries on its own.
    enf.wait_listening(&dev, A, 80, Duration::from_secs(20));
    // dig AAAA through the ENF DNS server.
    let answer = exec_ok(
        &enf,
        &dev,
        &[
            "dig",
            "+short",
            "AAAA",
            "mirror.enf.internal",
            &format!("@{B}"),
        ],
    );
    assert_eq!(answer.trim(), A, "{answer}");
    // apt-get through the mirror, the mirror found by name through the ENF DNS (resolv.conf hook).
    exec_ok(&enf, &dev, &["sh", "-c", "echo 'deb http://mirror/debian bookworm main' > /etc/apt/sources.list && rm -f /etc/apt/sources.list.d/*"]);
    exec_ok(&enf, &dev, &["apt-get", "update"]);
    exec_ok(
        &enf,
        &dev,
        &["sh", "-c", "cd /tmp && apt-get download hello"],
    );
    let url = exec_ok(
        &enf,
        &dev,
        &[
            "sh",
            "-c",
            "apt-get download --print-uris hello | cut -d\"'\" -f2",
        ],
    );
    let head = exec_ok(&enf, &dev, &["curl", "-sI", url.trim()]);
    assert!(
        head.contains("X-Cache-Status: HIT"),
        "the second fetch must come from the cache:\n{head}"
    );
    for c in [&mirror, &dns] {
        let t0 = Instant::now();
        docker_ok(&["stop", c]);
        eprintln!("docker stop {c}: {:?}", t0.elapsed());
        assert!(t0.elapsed() < Duration::from_secs(8));
    }
}

#[test]
fn ssh_jump_host_and_demo_server_answer_real_clients() {
    let mut enf = Enf::new("ssh");
    let dev = enf.endpoint(
        "device",
        "fd00:8f80:1::c",
        client_image(),
        &[],
        &["sleep", "infinity"],
    );
    enf.wait_up(&dev, Duration::from_secs(40));
    // The admin's key, made on the device; its public half goes to both SSH endpoints.
    exec_ok(
        &enf,
        &dev,
        &[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            "/root/.ssh/id_ed25519",
        ],
    );
    let public = exec_ok(&enf, &dev, &["cat", "/root/.ssh/id_ed25519.pub"]);
    exec_ok(&enf, &dev, &["sh", "-c", "printf 'Host *\\n  StrictHostKeyChecking accept-new\\n  BatchMode yes\\n  LogLevel ERROR\\n' > /root/.ssh/config"]);
    let keys = enf.dir.path().join("keys");
    std::fs::create_dir_all(&keys).expect("mkdir");
    std::fs::write(keys.join("admin.pub"), public).expect("key");
    let keys_mount = format!("{}:/data/keys:ro", keys.display());
    let jump = enf.endpoint(
        "jump",
        A,
        "enf/ssh",
        &["-v", &keys_mount, "-e", "USER=admin"],
        &[],
    );
    let inner = enf.endpoint(
        "inner",
        B,
        "enf/ssh",
        &["-v", &keys_mount, "-e", "USER=admin"],
        &[],
    );
    let demo = enf.endpoint(
        "demo",
        "fd00:8f80:1::7",
        "enf/demo-server",
        &["-e", "DEMO_SERVERS=7000=Hello from {address} on the ENF"],
        &[],
    );
    for c in [&jump, &inner, &demo] {
        enf.wait_up(c, Duration::from_secs(40));
    }
    for (addr, port) in [(A, 22), (B, 22), ("fd00:8f80:1::7", 7000)] {
        enf.wait_listening(&dev, addr, port, Duration::from_secs(20));
    }
    // Key login, then through the jump host to the second endpoint.
    let me = exec_ok(&enf, &dev, &["ssh", &format!("admin@{A}"), "id -un"]);
    assert_eq!(me.trim(), "admin");
    let there = exec_ok(
        &enf,
        &dev,
        &[
            "ssh",
            "-J",
            &format!("admin@[{A}]"),
            &format!("admin@{B}"),
            "cat /proc/sys/kernel/hostname",
        ],
    );
    assert_eq!(
        there.trim(),
        docker_ok(&["inspect", "-f", "{{.Config.Hostname}}", &inner]).trim()
    );
    // No key, no login.
    let refused = enf.exec(
        &dev,
        &[
            "ssh",
            "-i",
            "/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            &format!("admin@{A}"),
            "true",
        ],
    );
    assert!(
        !refused.status.success(),
        "a login without the key must fail"
    );
    // The demo server's text, with nc.
    let text = exec_ok(&enf, &dev, &["nc", "-w", "3", "fd00:8f80:1::7", "7000"]);
    assert_eq!(text.trim(), "Hello from fd00:8f80:1::7 on the ENF");
    // docker stop of the jump host with a jump session open: well within Docker's 10 s.
    let mut session = std::process::Command::new("docker")
        .args([
            "exec",
            &dev,
            "ssh",
            "-J",
            &format!("admin@[{A}]"),
            &format!("admin@{B}"),
            "sleep 60",
        ])
        .spawn()
        .expect("docker exec");
    std::thread::sleep(Duration::from_secs(2));
    for c in [&jump, &demo] {
        let t0 = Instant::now();
        docker_ok(&["stop", c]);
        eprintln!("docker stop {c}: {:?}", t0.elapsed());
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{c} took {:?} to stop",
            t0.elapsed()
        );
    }
    let _ = session.kill();
    let _ = session.wait();
}
