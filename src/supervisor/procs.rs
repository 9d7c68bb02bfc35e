//! Which processes a sweep signals, from the process table (parsing and choice are pure).
//!
//! As PID 1 of a namespace every process there but us is fair game (including ones `docker exec`
//! put there, whose parent is outside). As a subreaper outside a namespace only our own
//! descendants are, never `kill(-1)`: as root that would signal the whole host. The service's own
//! tree is spared from the first SIGTERM so that it can shut its workers down its own way.

use std::collections::{HashMap, HashSet};
use std::io;

/// `(pid, ppid)` from one `/proc/PID/stat` line; the command name may hold spaces and parens.
pub fn parse_stat(line: &str) -> Option<(i32, i32)> {
    let pid = line.split(' ').next()?.parse().ok()?;
    let after_comm = &line[line.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    let _state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((pid, ppid))
}

/// `root` and every process below it.
pub fn subtree(table: &[(i32, i32)], root: i32) -> HashSet<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for &(pid, ppid) in table {
        children.entry(ppid).or_default().push(pid);
    }
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if seen.insert(p) {
            todo.extend(children.get(&p).into_iter().flatten().copied());
        }
    }
    seen
}

/// The processes a sweep signals: see the module header. Sorted, without `me`.
pub fn targets(table: &[(i32, i32)], me: i32, pid1: bool, spare: Option<i32>) -> Vec<i32> {
    let spared = spare.map(|s| subtree(table, s)).unwrap_or_default();
    let mine = subtree(table, me);
    let mut out: Vec<i32> = table
        .iter()
        .map(|&(pid, _)| pid)
        .filter(|p| *p != me && !spared.contains(p) && (pid1 || mine.contains(p)))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The current process table from `/proc`; processes that vanish while it is read are skipped.
/// A `/proc` of another PID namespace (PID 1 of a new namespace without its own /proc mount)
/// would hand us pids that mean other processes here: that is an error, not a table.
pub fn table() -> io::Result<Vec<(i32, i32)>> {
    let me = std::process::id().to_string();
    if std::fs::read_link("/proc/self")?.as_os_str() != me.as_str() {
        return Err(io::Error::other(
            "/proc belongs to another PID namespace (mount a /proc of its own)",
        ));
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            if let Some(row) = parse_stat(&stat) {
                out.push(row);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_hostile_command_names() {
        assert_eq!(parse_stat("42 (sleep) S 1 42 42 0"), Some((42, 1)));
        assert_eq!(parse_stat("7 (a) b) (c) R 3 7 7"), Some((7, 3)));
        assert_eq!(parse_stat("9 (two words) Z 8 1"), Some((9, 8)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x)"), None);
    }

    // 1 = us; 10 = service with worker 11 and its child 12; 20 = orphan daemon; 30 = exec'd from
    // outside (parent 0); in subreaper mode 500 is a stranger on the host.
    const TABLE: [(i32, i32); 6] = [(1, 0), (10, 1), (11, 10), (12, 11), (20, 1), (30, 0)];

    #[test]
    fn pid1_signals_everyone_but_itself_and_the_spared_tree() {
        assert_eq!(targets(&TABLE, 1, true, Some(10)), vec![20, 30]);
        assert_eq!(targets(&TABLE, 1, true, None), vec![10, 11, 12, 20, 30]);
    }

    #[test]
    fn a_subreaper_signals_only_its_descendants() {
        let table = [
            (500, 0),
            (100, 500),
            (101, 100),
            (102, 101),
            (103, 100),
            (600, 500),
        ];
        assert_eq!(targets(&table, 100, false, None), vec![101, 102, 103]);
        assert_eq!(targets(&table, 100, false, Some(101)), vec![103]);
    }

    #[test]
    fn subtree_survives_cycles() {
        let table = [(2, 3), (3, 2)];
        assert_eq!(subtree(&table, 2), HashSet::from([2, 3]));
    }
}
