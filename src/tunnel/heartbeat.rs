//! Heartbeat timing of one TLS session (PROTOCOL.md §4, with our fix), pure: methods take `now`.
//!
//! - A request is due `period` after the last received frame; any received frame restarts the
//!   period.
//! - The tunnel is dead when nothing at all has arrived within `timeout` after a request was
//!   *due*. The reference starts the timeout when the request was *written*, which under
//!   back-pressure may be never; a send path blocked that long is a dead tunnel too.
//! - Readiness: a session is usable once its first heartbeat has been answered (DESIGN.md). So a
//!   session starts with a request due at once, not after `period`, and until the first reply
//!   the request is repeated every `timeout` even while other frames arrive: a router that lost
//!   the first request must not hold readiness back for a whole period (5 min by default).
//!
//! One `Heartbeat` per session: make it (or `new_session`) when the TLS handshake completes.
//! Does not build or recognise packets (`crate::proto::heartbeat` does) and does no I/O.

use std::time::{Duration, Instant};

/// Longer settings are clamped so that deadlines stay representable (`Instant + Duration`
/// panics on overflow); a century is "never" for a heartbeat.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3_600);

/// What the tunnel loop should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// Queue one heartbeat request (`proto::heartbeat::request`).
    SendRequest,
    /// Nothing arrived within `timeout` of a due request: close the session and reconnect.
    Dead,
}

/// Heartbeat timers of one session.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    period: Duration,
    timeout: Duration,
    last_rx: Instant,
    /// When `poll` next returns `SendRequest`.
    next_request: Instant,
    /// Due time of the latest request, while nothing at all has arrived since: the dead clock.
    unanswered: Option<Instant>,
    /// Due time of the latest request still waiting for its reply: the RTT clock.
    awaiting_reply: Option<Instant>,
    last_reply: Option<Instant>,
    last_rtt: Option<Duration>,
}

impl Heartbeat {
    /// The timers of a session that starts at `now`, with its first request due at once.
    pub fn new(period: Duration, timeout: Duration, now: Instant) -> Heartbeat {
        Heartbeat {
            period: period.min(LONGEST),
            timeout: timeout.min(LONGEST),
            last_rx: now,
            next_request: now,
            unanswered: None,
            awaiting_reply: None,
            last_reply: None,
            last_rtt: None,
        }
    }

    /// A new session on the same settings: not ready again until its first reply; the previous
    /// session's RTT is forgotten (it described another connection).
    pub fn new_session(&mut self, now: Instant) {
        *self = Heartbeat::new(self.period, self.timeout, now);
    }

    /// Any frame arrived (a packet or a heartbeat reply): the peer is alive.
    pub fn received(&mut self, now: Instant) {
        self.last_rx = now;
        self.unanswered = None;
        // Before the first reply the request keeps its own `timeout` rhythm (module comment).
        if self.answered() {
            self.next_request = later(now, self.period);
        }
    }

    /// A heartbeat reply arrived: as `received`, and it times the round trip from when the
    /// request was due (which includes any wait in our own send queue: what a packet sees).
    pub fn reply_received(&mut self, now: Instant) {
        if let Some(due) = self.awaiting_reply.take() {
            self.last_rtt = Some(now.saturating_duration_since(due));
        }
        self.last_reply = Some(now);
        self.received(now);
    }

    /// What to do at `now`. `SendRequest` is returned once per due request; `Dead` stays the
    /// answer until `new_session`.
    pub fn poll(&mut self, now: Instant) -> Action {
        if let Some(due) = self.unanswered {
            if now >= later(due, self.timeout) {
                return Action::Dead;
            }
        }
        if now < self.next_request {
            return Action::Nothing;
        }
        // Timed from when it was due, even if the loop gets here late or the write waits.
        let due = self.next_request;
        self.unanswered = self.unanswered.or(Some(due));
        self.awaiting_reply = Some(due);
        // Reached only if frames arrive but no reply (before readiness): ask again. After
        // readiness a received frame moves this to `period` later, and silence means `Dead` first.
        self.next_request = later(due, self.timeout);
        Action::SendRequest
    }

    /// When `poll` next has something to do: the loop's poll timeout.
    pub fn next_deadline(&self) -> Instant {
        match self.unanswered {
            Some(due) => self.next_request.min(later(due, self.timeout)),
            None => self.next_request,
        }
    }

    /// Whether this session's heartbeat has been answered at least once: the tunnel's readiness.
    pub fn answered(&self) -> bool {
        self.last_reply.is_some()
    }

    /// Round-trip time of the latest answered request of this session.
    pub fn last_rtt(&self) -> Option<Duration> {
        self.last_rtt
    }

    /// When the latest reply arrived (for "answered within the last period" probes).
    pub fn last_reply(&self) -> Option<Instant> {
        self.last_reply
    }

    /// When the latest frame of any kind arrived (the session start before the first).
    pub fn last_received(&self) -> Instant {
        self.last_rx
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// `t + d`, never panicking: `d` is at most `LONGEST`, which only an `Instant` within a century
/// of its end could overflow; then a day later is still far enough for a heartbeat.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    /// One step of a scripted session; times are milliseconds after the session start.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Rx(u64),
        Reply(u64),
        Poll(u64, Action),
        Deadline(u64),
        Rtt(Option<u64>),
        Ready(bool),
        NewSession(u64),
    }
    use Step::*;

    const PERIOD_MS: u64 = 1_000;
    const TIMEOUT_MS: u64 = 300;

    #[test]
    fn scripted_sessions() {
        #[rustfmt::skip]
        let table: &[(&str, &[Step])] = &[
            ("a new session asks at once and is ready at the first reply", &[
                Deadline(0), Ready(false), Poll(0, SendRequest), Poll(0, Nothing),
                Deadline(300), Reply(40), Rtt(Some(40)), Ready(true), Deadline(1_040),
                Poll(1_039, Nothing), Poll(1_040, SendRequest),
            ]),
            ("any received frame restarts the period", &[
                Poll(0, SendRequest), Reply(10), Rx(500), Poll(1_010, Nothing), Deadline(1_500),
                Poll(1_500, SendRequest), Reply(1_520), Rtt(Some(20)),
            ]),
            ("dead when nothing arrives within timeout of the due request", &[
                Poll(0, SendRequest), Reply(10), Poll(1_010, SendRequest), Deadline(1_310),
                Poll(1_309, Nothing), Poll(1_310, Dead), Poll(5_000, Dead),
            ]),
            ("the timeout runs from when the request was due, not when the loop got to it", &[
                Poll(0, SendRequest), Reply(10), Poll(1_200, SendRequest), Deadline(1_310),
                Poll(1_310, Dead),
            ]),
            ("any frame after the request keeps the session; the reply still times the RTT", &[
                Poll(0, SendRequest), Reply(10), Poll(1_010, SendRequest), Rx(1_200),
                Poll(1_310, Nothing), Deadline(2_200), Reply(1_400), Rtt(Some(390)),
                Deadline(2_400),
            ]),
            ("before the first reply the request repeats every timeout while data flows", &[
                Poll(0, SendRequest), Rx(100), Ready(false), Poll(299, Nothing), Deadline(300),
                Poll(300, SendRequest), Rx(350), Poll(600, SendRequest), Reply(620),
                Rtt(Some(20)), Ready(true), Deadline(1_620),
            ]),
            ("never answered and silent: dead after timeout", &[
                Poll(0, SendRequest), Poll(299, Nothing), Poll(300, Dead),
            ]),
            ("a reply nobody asked for marks the session answered, with no RTT", &[
                Reply(5), Ready(true), Rtt(None), Deadline(1_005), Poll(1_005, SendRequest),
            ]),
            ("a new session forgets readiness and RTT and asks at once", &[
                Poll(0, SendRequest), Reply(30), Poll(1_030, SendRequest), Poll(1_330, Dead),
                NewSession(2_000), Ready(false), Rtt(None), Deadline(2_000),
                Poll(2_000, SendRequest), Reply(2_010), Rtt(Some(10)),
            ]),
        ];
        for (name, steps) in table {
            let t0 = Instant::now();
            let at = |ms: u64| t0 + Duration::from_millis(ms);
            let period = Duration::from_millis(PERIOD_MS);
            let timeout = Duration::from_millis(TIMEOUT_MS);
            let mut hb = Heartbeat::new(period, timeout, t0);
            for (i, step) in steps.iter().enumerate() {
                let ctx = format!("{name}: step {i} {step:?}");
                match *step {
                    Rx(ms) => hb.received(at(ms)),
                    Reply(ms) => hb.reply_received(at(ms)),
                    Poll(ms, want) => assert_eq!(hb.poll(at(ms)), want, "{ctx}"),
                    Deadline(ms) => assert_eq!(hb.next_deadline(), at(ms), "{ctx}"),
                    Rtt(want) => {
                        assert_eq!(hb.last_rtt(), want.map(Duration::from_millis), "{ctx}")
                    }
                    Ready(want) => assert_eq!(hb.answered(), want, "{ctx}"),
                    NewSession(ms) => hb.new_session(at(ms)),
                }
            }
        }
    }

    #[test]
    fn last_received_and_reply_are_reported() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(Duration::from_secs(1), Duration::from_secs(1), t0);
        assert_eq!(hb.last_received(), t0);
        assert_eq!(hb.last_reply(), None);
        hb.received(t0 + Duration::from_millis(7));
        hb.reply_received(t0 + Duration::from_millis(9));
        assert_eq!(hb.last_received(), t0 + Duration::from_millis(9));
        assert_eq!(hb.last_reply(), Some(t0 + Duration::from_millis(9)));
    }

    #[test]
    fn extreme_settings_do_not_panic() {
        let t0 = Instant::now();
        for (period, timeout) in [
            (Duration::MAX, Duration::MAX),
            (Duration::ZERO, Duration::ZERO),
            (Duration::ZERO, Duration::MAX),
        ] {
            let mut hb = Heartbeat::new(period, timeout, t0);
            assert_eq!(hb.poll(t0), SendRequest);
            let _ = hb.next_deadline();
            hb.reply_received(t0);
            let _ = hb.poll(t0 + Duration::from_secs(1));
            let _ = hb.next_deadline();
            assert!(hb.period() <= LONGEST && hb.timeout() <= LONGEST);
        }
        // A clock that goes backwards for the caller (a reply "before" its request).
        let mut hb = Heartbeat::new(Duration::from_secs(1), Duration::from_secs(1), t0);
        hb.poll(t0 + Duration::from_secs(1));
        hb.reply_received(t0);
        assert_eq!(hb.last_rtt(), Some(Duration::ZERO));
    }
}
