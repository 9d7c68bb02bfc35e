//! What the tunnel does after a failed attempt or a lost session (pure): whether to say so, whether
//! the supervisor must hear that the tunnel went down, and how long to wait before the next try.
//!
//! The next address of the same attempt is tried at once; a new attempt waits a jittered,
//! growing back-off. Each distinct cause is logged once at warning level until the tunnel is up
//! again (a server that refuses us every 30 s must not fill the log), and "down" is reported once
//! per loss, not once per failed attempt.

use super::backoff::{xorshift, Backoff};
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Log the cause as a warning (first time since the tunnel was last up).
    pub warn: bool,
    /// The tunnel was up and is not any more: tell the supervisor.
    pub went_down: bool,
    /// How long to wait before the next connection attempt.
    pub wait: Duration,
}

pub struct Retry {
    backoff: Backoff,
    rng: u64,
    warned: HashSet<String>,
    up: bool,
}

impl Retry {
    pub fn new(backoff: Backoff, seed: u64) -> Retry {
        Retry {
            backoff,
            rng: seed.max(1),
            warned: HashSet::new(),
            up: false,
        }
    }

    /// A failure with cause `why`; `more_targets` when the attempt has addresses left to try.
    pub fn failed(&mut self, why: &str, more_targets: bool) -> Decision {
        let warn = self.warned.insert(why.to_string());
        let went_down = std::mem::replace(&mut self.up, false);
        let wait = match more_targets {
            true => Duration::ZERO,
            false => self.backoff.next_delay(xorshift(&mut self.rng)),
        };
        Decision {
            warn,
            went_down,
            wait,
        }
    }

    /// The tunnel is up (ready): causes may be warned about again next time.
    pub fn up(&mut self) {
        self.up = true;
        self.warned.clear();
    }

    /// A session ended after `lived`: a long one resets the back-off.
    pub fn session_ended(&mut self, lived: Duration) {
        self.backoff.session_ended(lived);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry() -> Retry {
        Retry::new(
            Backoff::new(Duration::from_millis(100), Duration::from_secs(30)),
            42,
        )
    }

    #[test]
    fn each_cause_is_warned_once_until_the_tunnel_is_up_again() {
        let mut r = retry();
        let warns: Vec<bool> = ["refused", "refused", "reset", "refused", "reset"]
            .iter()
            .map(|why| r.failed(why, false).warn)
            .collect();
        assert_eq!(warns, vec![true, false, true, false, false]);
        r.up();
        assert!(r.failed("refused", false).warn);
    }

    #[test]
    fn down_is_reported_once_per_loss_and_never_before_the_first_up() {
        let mut r = retry();
        assert!(!r.failed("no route", false).went_down);
        r.up();
        assert!(r.failed("lost", false).went_down);
        assert!(!r.failed("lost", false).went_down);
        assert!(!r.failed("refused", true).went_down);
    }

    #[test]
    fn the_next_address_is_tried_at_once_and_new_attempts_back_off_within_the_ceiling() {
        let mut r = retry();
        assert_eq!(r.failed("x", true).wait, Duration::ZERO);
        let mut ceiling = Duration::from_millis(100);
        for _ in 0..20 {
            let wait = r.failed("x", false).wait;
            assert!(
                wait <= ceiling.min(Duration::from_secs(30)),
                "{wait:?} > {ceiling:?}"
            );
            ceiling *= 2;
        }
        // After a stable session the back-off starts small again.
        r.session_ended(Duration::from_secs(3600));
        assert!(r.failed("x", false).wait <= Duration::from_millis(100));
    }
}
