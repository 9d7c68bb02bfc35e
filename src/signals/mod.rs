//! Signal numbers as plain integers: names, classification, masks.
//!
//! nix's `Signal` has no real-time signals and libc's sigset helpers refuse 32..=34 on musl, so
//! enf-init handles every signal as a raw number 1..=64 and every mask as the kernel's own 64-bit
//! word. Real-time names follow the kernel (and Docker's STOPSIGNAL): `RTMIN` = 34, `RTMAX` = 64,
//! independent of which libc reserves which of them. The syscalls live in `sys.rs`.

pub mod sys;

/// Highest signal number on Linux.
pub const MAX: i32 = 64;
/// First real-time signal as the kernel (and Docker) number it.
pub const RTMIN: i32 = 34;

/// A set of signals in the kernel's layout: bit `n - 1` is signal `n`.
pub type Mask = u64;

/// Every signal, 1..=64 (the kernel ignores KILL and STOP in a blocked mask).
pub const ALL: Mask = u64::MAX;

const NAMES: [(&str, i32); 31] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// Parses `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+3`, `SIGRTMAX-2`, `RTMIN`.
pub fn parse(text: &str) -> Option<i32> {
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Ok(n) = name.parse::<i32>() {
        return (1..=MAX).contains(&n).then_some(n);
    }
    if name == "POLL" || name == "IOT" || name == "CLD" {
        return Some(match name {
            "POLL" => 29,
            "IOT" => 6,
            _ => 17,
        });
    }
    if let Some(&(_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Some(n);
    }
    let offset = |rest: &str, sign: char| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.strip_prefix(sign)?;
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
    };
    let n = if let Some(rest) = name.strip_prefix("RTMIN") {
        RTMIN + offset(rest, '+')?
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        MAX - offset(rest, '-')?
    } else {
        return None;
    };
    (RTMIN..=MAX).contains(&n).then_some(n)
}

/// `SIGTERM`, `SIGRTMIN+3`, `SIGRTMAX`; 32 and 33 (real-time, below the kernel's RTMIN naming)
/// as `SIG32`, `SIG33`.
pub fn name(sig: i32) -> String {
    match NAMES.iter().find(|(_, n)| *n == sig) {
        Some((name, _)) => format!("SIG{name}"),
        None if sig == MAX => "SIGRTMAX".to_string(),
        None if sig == RTMIN => "SIGRTMIN".to_string(),
        None if (RTMIN..MAX).contains(&sig) => format!("SIGRTMIN+{}", sig - RTMIN),
        None => format!("SIG{sig}"),
    }
}

/// Signals that only make sense for the process that caused them (a fault in enf-init itself)
/// or that enf-init consumes: never passed on to the service.
pub fn forwardable(sig: i32) -> bool {
    !matches!(
        sig,
        libc::SIGCHLD
            | libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGFPE
            | libc::SIGILL
            | libc::SIGTRAP
            | libc::SIGSYS
            | libc::SIGKILL
            | libc::SIGSTOP
    ) && (1..=MAX).contains(&sig)
}

/// The signals with which Docker, Kubernetes and a terminal ask a container to stop.
pub fn is_stop(sig: i32) -> bool {
    matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT)
}

/// The mask bit of one signal.
#[cfg(test)]
pub fn bit(sig: i32) -> Mask {
    if (1..=MAX).contains(&sig) {
        1 << (sig - 1)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let cases = [
            ("TERM", Some(15)),
            ("SIGTERM", Some(15)),
            ("sigquit", Some(3)),
            ("15", Some(15)),
            ("64", Some(64)),
            ("65", None),
            ("0", None),
            ("RTMIN", Some(34)),
            ("SIGRTMIN+3", Some(37)),
            ("RTMAX", Some(64)),
            ("RTMAX-2", Some(62)),
            ("RTMIN+31", None),
            ("RTMIN+30", Some(64)),
            ("RTMIN-1", None),
            ("RTMIN+", None),
            ("IOT", Some(6)),
            ("POLL", Some(29)),
            ("BOGUS", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), want, "{text}");
        }
    }

    #[test]
    fn names_round_trip_through_parse() {
        for sig in 1..=MAX {
            let n = name(sig);
            if sig == 32 || sig == 33 {
                assert_eq!(n, format!("SIG{sig}"));
                continue;
            }
            assert_eq!(parse(&n), Some(sig), "{n}");
        }
    }

    #[test]
    fn faults_and_chld_are_not_forwarded_everything_else_is() {
        let kept: Vec<i32> = (1..=MAX).filter(|&s| !forwardable(s)).collect();
        assert_eq!(kept, vec![4, 5, 7, 8, 9, 11, 17, 19, 31]);
        assert!(forwardable(libc::SIGRTMIN()) && forwardable(32) && forwardable(64));
    }

    #[test]
    fn bits_follow_the_kernel_layout() {
        assert_eq!(bit(1), 1);
        assert_eq!(bit(64), 1 << 63);
        assert_eq!(bit(0), 0);
        assert_eq!(bit(65), 0);
    }
}
