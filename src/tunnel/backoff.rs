//! Reconnect back-off: exponential with full jitter, reset after a stable session (pure).
//!
//! Attempt n (counting from 0 since the last reset) waits a delay drawn uniformly from
//! `[0, min(cap, base * 2^n)]` ("full jitter", as in the AWS architecture note on back-off): many
//! endpoints cut off by the same router outage do not come back in lock step. The caller passes
//! the randomness, so tests are deterministic; `jitter_seed` and `xorshift` are a small
//! non-cryptographic source for it (the delay needs spread, not secrecy).
//!
//! Does not sleep, connect or log: the tunnel loop asks for a delay and arms its own timer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// First ceiling: a router restart on the same host is answered within a fraction of a second.
pub const BASE_DELAY: Duration = Duration::from_millis(100);
/// Largest ceiling: a lost network is retried at least twice a minute.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// A session that lived this long was a success: the next failure starts again from `base`.
/// Long enough that a server which accepts and then drops every session (a revoked registration,
/// a crashing router) keeps the back-off growing, short enough that a one-off drop after a
/// minute of service reconnects quickly.
pub const STABLE_SESSION: Duration = Duration::from_secs(60);

/// The back-off state of one tunnel, kept across its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    stable: Duration,
    /// Delays handed out since the last reset; also the exponent of the next ceiling.
    attempts: u32,
}

impl Backoff {
    /// A back-off whose ceiling starts at `base` and doubles up to `cap`; stable after
    /// `STABLE_SESSION`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            stable: STABLE_SESSION,
            attempts: 0,
        }
    }

    /// The same with another stability threshold (tests, or a config that wants one).
    pub fn with_stable_session(mut self, stable: Duration) -> Backoff {
        self.stable = stable;
        self
    }

    /// The delay before the next attempt, uniform in `[0, ceiling]`; `random` is any u64
    /// (from `xorshift`). Counts the attempt.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let ceiling = self.ceiling();
        self.attempts = self.attempts.saturating_add(1);
        // Nanosecond resolution; the modulo's bias is below 2^-30 for any ceiling under 30 s.
        let span = ceiling.as_nanos().min(u128::from(u64::MAX - 1)) as u64 + 1;
        Duration::from_nanos(random % span)
    }

    /// The ceiling the next delay is drawn under: `min(cap, base * 2^attempts)`.
    pub fn ceiling(&self) -> Duration {
        // 2^31 and beyond would overflow; by then any sane base has long reached the cap.
        let factor = 1u32.checked_shl(self.attempts.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.cap)
    }

    /// A session ended after living `lived`: a stable one resets the back-off.
    pub fn session_ended(&mut self, lived: Duration) {
        if lived >= self.stable {
            self.reset();
        }
    }

    /// Start again from `base` (e.g. the credentials changed: retry at once).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// Delays handed out since the last reset (consecutive failed or short-lived sessions).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(BASE_DELAY, MAX_DELAY)
    }
}

/// A seed for `xorshift` from the clock and the process id: different endpoints started by the
/// same orchestrator at the same second still differ in their nanoseconds and pids. Never 0.
pub fn jitter_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mixed = splitmix64(nanos ^ (u64::from(std::process::id()) << 32));
    if mixed == 0 {
        SEED_IF_ZERO
    } else {
        mixed
    }
}

/// One xorshift64 step (Marsaglia 2003): advances `state` and returns the new value. A zero
/// state would stay zero forever, so it is replaced by a fixed non-zero one.
pub fn xorshift(state: &mut u64) -> u64 {
    let mut x = if *state == 0 { SEED_IF_ZERO } else { *state };
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Any odd constant works; this is the golden ratio's, as splitmix64 uses.
const SEED_IF_ZERO: u64 = 0x9e37_79b9_7f4a_7c15;

/// Spreads a low-entropy input (nanoseconds, pid) over all 64 bits (Steele et al., splitmix64).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(SEED_IF_ZERO);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn ceilings_double_from_base_to_cap() {
        let mut b = Backoff::default();
        let expected = [
            100, 200, 400, 800, 1_600, 3_200, 6_400, 12_800, 25_600, 30_000, 30_000,
        ];
        for (n, want) in expected.iter().enumerate() {
            assert_eq!(b.ceiling(), ms(*want), "attempt {n}");
            assert_eq!(b.attempts(), n as u32);
            b.next_delay(0);
        }
        for _ in 0..100 {
            b.next_delay(u64::MAX);
        }
        assert_eq!(b.ceiling(), MAX_DELAY, "no overflow after many attempts");
    }

    #[test]
    fn delay_is_within_zero_and_ceiling() {
        // (random, attempts before, expected delay)
        let table: &[(u64, u32, Duration)] = &[
            (0, 0, Duration::ZERO),
            (100_000_000, 0, ms(100)), // exactly the ceiling is reachable
            (100_000_001, 0, Duration::ZERO),
            (150_000_000, 1, ms(150)),
            (200_000_001, 1, Duration::ZERO),
            (30_000_000_000, 20, ms(30_000)),
            (
                u64::MAX,
                20,
                Duration::from_nanos(u64::MAX % 30_000_000_001),
            ),
        ];
        for &(random, before, want) in table {
            let mut b = Backoff::default();
            for _ in 0..before {
                b.next_delay(0);
            }
            assert_eq!(b.next_delay(random), want, "random {random} after {before}");
        }
    }

    #[test]
    fn stable_session_resets_short_one_does_not() {
        let mut b = Backoff::default();
        for _ in 0..5 {
            b.next_delay(1);
        }
        b.session_ended(STABLE_SESSION - ms(1));
        assert_eq!(b.attempts(), 5);
        assert_eq!(b.ceiling(), ms(3_200));
        b.session_ended(STABLE_SESSION);
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.ceiling(), BASE_DELAY);

        let mut quick = Backoff::default().with_stable_session(ms(10));
        quick.next_delay(1);
        quick.session_ended(ms(10));
        assert_eq!(quick.attempts(), 0);
    }

    #[test]
    fn degenerate_settings_do_not_panic() {
        let mut huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert!(huge.next_delay(u64::MAX) <= Duration::MAX);
        let mut zero = Backoff::new(Duration::ZERO, ms(5));
        assert_eq!(zero.next_delay(12345), Duration::ZERO);
        let mut inverted = Backoff::new(ms(500), ms(100));
        assert!(inverted.next_delay(u64::MAX) <= ms(100));
    }

    #[test]
    fn xorshift_never_sticks_and_spreads() {
        let mut s = 0;
        let first = xorshift(&mut s);
        assert_ne!(first, 0);
        assert_ne!(xorshift(&mut s), first);
        assert_ne!(jitter_seed(), 0);
        // Delays from the generator cover the range: some in each quarter of 100 ms.
        let mut s = 42;
        let mut quarters = [0; 4];
        for _ in 0..1_000 {
            let d = Backoff::default().next_delay(xorshift(&mut s));
            quarters[(d.as_nanos() * 4 / 100_000_001) as usize] += 1;
        }
        assert!(quarters.iter().all(|&q| q > 150), "{quarters:?}");
    }
}
