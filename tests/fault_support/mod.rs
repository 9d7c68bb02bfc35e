//! Small helpers shared by the fault-injection suites (`tests/fault_*.rs`): editing an
//! endpoint's enf0.conf, short heartbeats, enf-init's resident memory, the status file's drop
//! counters, and the back-off delays enf-init logs. The namespaces, router and endpoints
//! themselves come from `tests/common`.
#![allow(dead_code)]

use crate::common::endpoint::Endpoint;
use std::time::{Duration, Instant};

/// Heartbeat period and timeout in milliseconds (PROTOCOL.md §4; remote.heartbeat_*).
pub fn heartbeat(ep: &Endpoint, period_ms: u32, timeout_ms: u32) {
    ep.edit_conf(&[
        (
            "heartbeat_period = 300000;",
            &format!("heartbeat_period = {period_ms};"),
        ),
        (
            "heartbeat_timeout = 10000;",
            &format!("heartbeat_timeout = {timeout_ms};"),
        ),
    ]);
}

/// VmRSS of `pid` in KiB.
pub fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// The `drops` object of `enf-init status --json`, as (reason, count) pairs.
pub fn drops(json: &str) -> Vec<(String, u64)> {
    let Some(at) = json.find("\"drops\":") else {
        return Vec::new();
    };
    let rest = &json[at + "\"drops\":".len()..];
    let (Some(open), Some(close)) = (rest.find('{'), rest.find('}')) else {
        return Vec::new();
    };
    rest[open + 1..close]
        .split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once(':')?;
            Some((
                k.trim().trim_matches('"').to_string(),
                v.trim().parse().ok()?,
            ))
        })
        .collect()
}

/// The count for `reason` in the status file's drops (0 when absent).
pub fn drop_count(json: &str, reason: &str) -> u64 {
    drops(json)
        .into_iter()
        .find(|(k, _)| k == reason)
        .map_or(0, |(_, n)| n)
}

/// The delays of "next attempt in N ms", in log order.
pub fn logged_delays(log: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|l| l.split("next attempt in ").nth(1))
        .filter_map(|rest| rest.trim_end_matches(" ms").trim().parse().ok())
        .collect()
}

/// The back-off ceiling of the attempt `n` (from 0) since the last reset: 100 ms doubling to
/// 30 s (src/tunnel/backoff.rs).
pub fn ceiling_ms(n: usize) -> u64 {
    (100u64 << n.min(20)).min(30_000)
}

/// How many lines of `log` contain `text`.
pub fn count_lines(log: &str, text: &str) -> usize {
    log.lines().filter(|l| l.contains(text)).count()
}

/// Polls `cond` every 20 ms until it holds; the time it took, or a failure naming `what`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

/// Fails the test, naming the program, unless it is on PATH.
pub fn require_tool(name: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join(name).is_file());
    assert!(found, "this test needs `{name}` on PATH; install it");
}

/// Whether enf-init's log shows a panic anywhere.
pub fn assert_no_panic(log: &str) {
    assert!(
        !log.contains("panicked") && !log.contains("internal error"),
        "{log}"
    );
}
