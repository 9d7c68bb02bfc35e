//! Property tests for the back-off schedule: bounds, growth and reset.
//!
//! Whatever the settings and the random numbers, a delay is drawn under the ceiling
//! `min(cap, base * 2^attempts)` (full jitter: anywhere in `[0, ceiling]`), the ceiling doubles
//! until it reaches the cap and never shrinks on its own, and a session that lived for the
//! stability threshold starts the schedule again from `base`. `Retry` on top of it waits nothing
//! for the next address of an attempt and a bounded back-off for a new attempt.

use super::backoff::{xorshift, Backoff};
use super::retry::Retry;
use proptest::prelude::*;
use std::time::Duration;

/// Durations from nothing to far beyond any real setting (overflow of `base * 2^n` included).
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        (1u64..10_000).prop_map(Duration::from_millis),
        (0u64..=u64::MAX).prop_map(Duration::from_nanos),
        (0u64..=u64::MAX, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        Just(Duration::MAX),
    ]
}

/// The ceiling after `n` attempts, computed independently: doubling with saturation, for at most
/// 31 doublings (documented in `backoff.rs`: by then any real base has reached the cap).
fn expected_ceiling(base: Duration, cap: Duration, n: u32) -> Duration {
    let mut c = base;
    for _ in 0..n.min(MAX_DOUBLINGS) {
        if c >= cap {
            break;
        }
        c = c.checked_mul(2).unwrap_or(Duration::MAX);
    }
    c.min(cap)
}

const MAX_DOUBLINGS: u32 = 31;

/// One step of a session history: a failure (a delay is drawn) or a session that lived so long.
#[derive(Debug, Clone)]
enum Step {
    Fail(u64),
    Session(Duration),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => any::<u64>().prop_map(Step::Fail),
        1 => duration().prop_map(Step::Session),
    ];
    proptest::collection::vec(step, 0..80)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_delay_is_within_zero_and_the_ceiling_and_ceilings_grow_to_the_cap(
        base in duration(),
        cap in duration(),
        randoms in proptest::collection::vec(any::<u64>(), 1..70),
    ) {
        let mut b = Backoff::new(base, cap);
        let mut previous = Duration::ZERO;
        for (n, &r) in randoms.iter().enumerate() {
            let ceiling = b.ceiling();
            prop_assert_eq!(ceiling, expected_ceiling(base, cap, n as u32), "attempt {}", n);
            prop_assert!(ceiling <= cap);
            prop_assert!(ceiling >= previous, "the ceiling shrank: {:?} < {:?}", ceiling, previous);
            // Growth: doubling until the cap (saturating), never more.
            if n > 0 && n <= MAX_DOUBLINGS as usize {
                prop_assert!(ceiling == cap || ceiling == previous.saturating_mul(2));
            } else if n > 0 {
                prop_assert_eq!(ceiling, previous);
            }
            let delay = b.next_delay(r);
            prop_assert!(delay <= ceiling, "{:?} > {:?}", delay, ceiling);
            prop_assert_eq!(b.attempts(), n as u32 + 1);
            previous = ceiling;
        }
    }

    #[test]
    fn the_extremes_of_the_random_number_reach_both_ends_of_the_jitter(
        base in (1u64..1_000_000).prop_map(Duration::from_micros),
        factor in 1u32..64,
        attempts in 0u32..40,
    ) {
        let cap = base * factor;
        let mut b = Backoff::new(base, cap);
        for _ in 0..attempts {
            b.next_delay(0);
        }
        let ceiling = b.ceiling();
        let nanos = u64::try_from(ceiling.as_nanos()).expect("small");
        prop_assert_eq!(b.clone().next_delay(0), Duration::ZERO);
        prop_assert_eq!(b.clone().next_delay(nanos), ceiling);
        prop_assert_eq!(b.clone().next_delay(nanos + 1), Duration::ZERO);
        prop_assert_eq!(b.clone().next_delay(nanos / 2), Duration::from_nanos(nanos / 2));
    }

    #[test]
    fn a_healthy_session_resets_and_a_short_one_does_not(
        base in duration(),
        cap in duration(),
        stable in duration(),
        history in steps(),
    ) {
        let mut b = Backoff::new(base, cap).with_stable_session(stable);
        let mut failures_since_reset = 0u32;
        for step in history {
            match step {
                Step::Fail(r) => {
                    let ceiling = expected_ceiling(base, cap, failures_since_reset);
                    prop_assert_eq!(b.ceiling(), ceiling);
                    prop_assert!(b.next_delay(r) <= ceiling);
                    failures_since_reset += 1;
                }
                Step::Session(lived) => {
                    let before = b.clone();
                    b.session_ended(lived);
                    if lived >= stable {
                        failures_since_reset = 0;
                        prop_assert_eq!(b.attempts(), 0);
                        prop_assert_eq!(b.ceiling(), base.min(cap));
                    } else {
                        prop_assert_eq!(&b, &before, "a short session changed the schedule");
                    }
                }
            }
            prop_assert_eq!(b.attempts(), failures_since_reset);
        }
    }

    #[test]
    fn xorshift_never_returns_zero_and_never_sticks(seed in any::<u64>()) {
        let mut s = seed;
        let mut last = None;
        for _ in 0..100 {
            let x = xorshift(&mut s);
            prop_assert_ne!(x, 0);
            prop_assert_eq!(x, s);
            prop_assert_ne!(Some(x), last);
            last = Some(x);
        }
    }

    #[test]
    fn retry_waits_nothing_for_the_next_address_and_a_bounded_back_off_otherwise(
        base in (1u64..5_000).prop_map(Duration::from_millis),
        cap in (1u64..60_000).prop_map(Duration::from_millis),
        seed in any::<u64>(),
        history in proptest::collection::vec((any::<bool>(), 0u8..4, any::<bool>(), 0u64..200), 0..60),
    ) {
        let stable = Duration::from_secs(60);
        let mut r = Retry::new(Backoff::new(base, cap).with_stable_session(stable), seed);
        let mut backoffs_since_reset = 0u32;
        let mut up = false;
        let mut warned = std::collections::HashSet::new();
        for (more_targets, cause, then_up, lived_s) in history {
            let why = format!("cause {cause}");
            let d = r.failed(&why, more_targets);
            prop_assert_eq!(d.warn, warned.insert(why.clone()), "warn once per cause: {}", why);
            prop_assert_eq!(d.went_down, std::mem::replace(&mut up, false));
            if more_targets {
                prop_assert_eq!(d.wait, Duration::ZERO);
            } else {
                let ceiling = expected_ceiling(base, cap, backoffs_since_reset);
                prop_assert!(d.wait <= ceiling, "{:?} > {:?}", d.wait, ceiling);
                backoffs_since_reset += 1;
            }
            if then_up {
                r.up();
                up = true;
                warned.clear();
                let lived = Duration::from_secs(lived_s);
                r.session_ended(lived);
                if lived >= stable {
                    backoffs_since_reset = 0;
                }
            }
        }
    }
}
