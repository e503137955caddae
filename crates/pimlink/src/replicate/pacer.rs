//! When rolling replication may start its next cycle, and when it restarts its connections
//! (pure: time is passed in as a [`Tick`] since the start, randomness as a seeded
//! [`fastrand::Rng`], so tests replay any history without waiting).
//!
//! - `-d DELAY`: a cycle starts at least `delay` after the previous one started, so that the
//!   changes of that time are batched into one cycle.
//! - A cycle that could not reach a server waits a backoff before the next attempt: from
//!   [`FIRST_BACKOFF`] doubling up to `max_backoff`, drawn from the upper half of that (so
//!   many replicas of one master do not reconnect in step), never above `max_backoff`
//!   (`sync_client`'s `sync_reconnect_maxwait`). A cycle that reached both resets it.
//! - `-t TIMEOUT`: the connections (the master's watchers) are restarted once they are this
//!   old, at the end of a cycle.

use std::time::Duration;

use crate::daemon::schedule::backoff;

/// Time since rolling replication started.
pub type Tick = Duration;

/// `sync_client`'s first reconnect wait.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(15);

/// The pacing settings, from the command line and `[replication.NAME]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    /// `-d`: the least time between two cycles' starts.
    pub delay: Duration,
    /// `-t`: restart the connections once they are this old.
    pub restart_after: Option<Duration>,
    /// The longest wait between two attempts to reach an unreachable server.
    pub max_backoff: Duration,
}

/// What the rolling loop has done so far, as far as timing goes.
#[derive(Debug)]
pub struct Pacer {
    pacing: Pacing,
    /// No cycle starts before this.
    not_before: Tick,
    /// Failed cycles in a row.
    failures: u32,
    /// When the connections were (re)made.
    connected: Tick,
}

impl Pacer {
    /// A pacer whose first cycle may start at once.
    pub fn new(pacing: Pacing) -> Self {
        Self {
            pacing,
            not_before: Duration::ZERO,
            failures: 0,
            connected: Duration::ZERO,
        }
    }

    /// The earliest start of the next cycle.
    pub fn not_before(&self) -> Tick {
        self.not_before
    }

    /// A cycle starts now: the next one waits at least `delay`.
    pub fn started(&mut self, now: Tick) {
        self.not_before = self.not_before.max(now + self.pacing.delay);
    }

    /// The cycle reached its servers: any backoff ends.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// The cycle could not reach a server: returns the wait before the next attempt (also
    /// kept as [`Pacer::not_before`]).
    pub fn failed(&mut self, now: Tick, rng: &mut fastrand::Rng) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let first = FIRST_BACKOFF.min(self.pacing.max_backoff);
        let wait = backoff(first, self.pacing.max_backoff, self.failures, rng);
        self.not_before = self.not_before.max(now + wait);
        wait
    }

    /// Failed cycles in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// True when the connections are older than `-t` allows.
    pub fn restart_due(&self, now: Tick) -> bool {
        self.pacing
            .restart_after
            .is_some_and(|after| now.saturating_sub(self.connected) >= after)
    }

    /// The connections were (re)made now.
    pub fn restarted(&mut self, now: Tick) {
        self.connected = now;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn pacing(max_backoff: Duration) -> Pacing {
        Pacing {
            delay: 2 * S,
            restart_after: Some(600 * S),
            max_backoff,
        }
    }

    #[test]
    fn cycles_start_at_least_delay_apart() {
        let mut pacer = Pacer::new(pacing(1200 * S));
        assert_eq!(pacer.not_before(), Duration::ZERO);
        pacer.started(10 * S);
        assert_eq!(pacer.not_before(), 12 * S);
        pacer.succeeded();
        pacer.started(12 * S);
        assert_eq!(pacer.not_before(), 14 * S);
    }

    #[test]
    fn backoff_doubles_from_15_seconds_to_the_cap_and_resets_on_success() {
        let mut pacer = Pacer::new(pacing(1200 * S));
        let mut rng = fastrand::Rng::with_seed(7);
        let mut ceilings = Vec::new();
        for _ in 0..10 {
            let wait = pacer.failed(Duration::ZERO, &mut rng);
            let ceiling = (15 * S * (1 << (pacer.failures() - 1))).min(1200 * S);
            assert!(
                wait <= ceiling && wait >= ceiling / 2,
                "{wait:?} {ceiling:?}"
            );
            ceilings.push(ceiling.as_secs());
        }
        assert_eq!(ceilings, [15, 30, 60, 120, 240, 480, 960, 1200, 1200, 1200]);
        pacer.succeeded();
        let wait = pacer.failed(100 * S, &mut rng);
        assert!(wait <= 15 * S, "{wait:?}");
        assert!(pacer.not_before() >= 100 * S + wait);
    }

    #[test]
    fn connections_restart_after_the_timeout_only() {
        let mut pacer = Pacer::new(pacing(S));
        assert!(!pacer.restart_due(599 * S));
        assert!(pacer.restart_due(600 * S));
        pacer.restarted(600 * S);
        assert!(!pacer.restart_due(1000 * S));
        let never = Pacer::new(Pacing {
            restart_after: None,
            ..pacing(S)
        });
        assert!(!never.restart_due(Duration::MAX));
    }

    proptest! {
        /// Whatever the cap (a small test cap too) and the history, no wait exceeds it.
        #[test]
        fn no_wait_exceeds_the_cap(
            cap_ms in 1u64..3_000_000,
            seed in any::<u64>(),
            history in proptest::collection::vec(any::<bool>(), 1..60),
        ) {
            let cap = Duration::from_millis(cap_ms);
            let mut pacer = Pacer::new(pacing(cap));
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut now = Duration::ZERO;
            for failed in history {
                pacer.started(now);
                if failed {
                    let wait = pacer.failed(now, &mut rng);
                    prop_assert!(wait <= cap, "{wait:?} > {cap:?}");
                    prop_assert!(pacer.not_before() <= now + wait.max(2 * S));
                } else {
                    pacer.succeeded();
                }
                now = pacer.not_before();
            }
        }
    }
}
