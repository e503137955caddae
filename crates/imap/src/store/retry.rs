//! When the IMAP store tries an operation again after its connection failed, and how long it
//! waits first: pure decisions, so that the schedule and what counts as safe are tested here
//! and the store only carries them out.
//!
//! Only [`ErrorKind::Connection`] failures (EOF, reset, timeouts, a server that cannot be
//! reached, and a NO that says the server is busy or throttling: `proto::completion::
//! ServerBusy`, waited out for at least the time it suggests) are retried: any other NO, a
//! bad login or a malformed response would fail the same way again. And only operations whose repetition cannot change the outcome are retried:
//! reads and listings, CREATE of a folder (an existing one is not an error), flag stores
//! (`+FLAGS`/`-FLAGS`/`FLAGS` set the same flags twice) and `UID EXPUNGE` of known UIDs. An
//! APPEND or a MOVE whose answer was lost may have happened: doing it again could duplicate the
//! message, so it fails and the engine's pending copy (confirmed next run by content) or its
//! pairing by content settles it.

use std::time::Duration;

use pimlink_core::ErrorKind;

/// Whether an operation may be repeated when its outcome is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Doing it twice is the same as doing it once (reads, listings, flag stores, UID EXPUNGE).
    Safe,
    /// It may have happened although no answer came (APPEND, MOVE, COPY).
    Unsafe,
}

/// How often and how patiently a failed operation is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries of one operation after its first failure.
    pub retries: u32,
    /// The wait before the second retry; the first retry is immediate (a connection that
    /// idled out or a one-off reset is the common case) and each later wait doubles.
    pub first_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Four retries after 0, 0.5, 1 and 2 s: a server that is back within a few seconds is
    /// reached, a run against one that is down fails within seconds instead of minutes.
    fn default() -> Self {
        Self {
            retries: 4,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// What to do after an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Reconnect and try again after this wait.
    Retry(Duration),
    /// Report the failure.
    GiveUp,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first).
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        if retry <= 1 {
            return Duration::ZERO;
        }
        let doublings = (retry - 2).min(31);
        self.first_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }

    /// The least wait before trying again after `error`: a busy server's suggestion (capped
    /// at `max_delay`), or `first_delay` when it named none, since trying again at once would
    /// only be refused again; nothing for other failures.
    pub(crate) fn busy_wait(&self, error: &pimlink_core::Error) -> Duration {
        error
            .cause()
            .and_then(|cause| cause.downcast_ref::<crate::proto::completion::ServerBusy>())
            .map_or(Duration::ZERO, |busy| {
                busy.suggested
                    .unwrap_or(self.first_delay)
                    .min(self.max_delay)
            })
    }

    /// The decision after an attempt failed with `kind`, `failures` failures into the
    /// operation (1 after the first). `unreachable` means reconnecting failed earlier in the
    /// run and no connection has worked since: then an operation gets no retries, so that a
    /// server that is down costs each later collection one attempt, not a whole schedule.
    pub(crate) fn decide(
        &self,
        kind: ErrorKind,
        repeat: Repeat,
        failures: u32,
        unreachable: bool,
    ) -> Decision {
        let retries = if unreachable { 0 } else { self.retries };
        if kind != ErrorKind::Connection || repeat == Repeat::Unsafe || failures > retries {
            return Decision::GiveUp;
        }
        Decision::Retry(self.delay(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_starts_at_once_doubles_and_is_capped() {
        let policy = RetryPolicy {
            retries: 10,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(3),
        };
        let delays: Vec<u128> = (1..=6).map(|n| policy.delay(n).as_millis()).collect();
        assert_eq!(delays, [0, 500, 1000, 2000, 3000, 3000]);
        assert_eq!(policy.delay(0), Duration::ZERO);
        assert_eq!(
            policy.delay(u32::MAX),
            Duration::from_secs(3),
            "no overflow"
        );
        let default = RetryPolicy::default();
        let total: Duration = (1..=default.retries).map(|n| default.delay(n)).sum();
        assert_eq!(total, Duration::from_millis(3500));
    }

    #[test]
    fn a_busy_server_is_given_its_suggested_wait_capped_and_never_none() {
        use crate::proto::completion::ServerBusy;
        let policy = RetryPolicy::default();
        let busy = |suggested: Option<Duration>| {
            pimlink_core::Error::new(ErrorKind::Connection, "UID FETCH failed")
                .with_source(ServerBusy { suggested })
        };
        let ms = Duration::from_millis;
        assert_eq!(policy.busy_wait(&busy(Some(ms(1200)))), ms(1200));
        assert_eq!(policy.busy_wait(&busy(None)), policy.first_delay);
        assert_eq!(
            policy.busy_wait(&busy(Some(Duration::from_secs(3600)))),
            policy.max_delay
        );
        let reset = pimlink_core::Error::new(ErrorKind::Connection, "reset");
        assert_eq!(policy.busy_wait(&reset), Duration::ZERO);
    }

    #[test]
    fn only_connection_failures_of_safe_operations_are_retried_a_bounded_number_of_times() {
        use Decision::{GiveUp, Retry};
        use ErrorKind::{Config, Connection, NotFound, Peer, Refused};
        use Repeat::{Safe, Unsafe};
        let policy = RetryPolicy::default();
        let ms = Duration::from_millis;
        let table = [
            // (error, repeat, failures so far, unreachable) -> decision
            ((Connection, Safe, 1, false), Retry(ms(0))),
            ((Connection, Safe, 2, false), Retry(ms(500))),
            ((Connection, Safe, 4, false), Retry(ms(2000))),
            ((Connection, Safe, 5, false), GiveUp),
            ((Connection, Unsafe, 1, false), GiveUp),
            ((Connection, Safe, 1, true), GiveUp),
            ((Peer, Safe, 1, false), GiveUp),
            ((Config, Safe, 1, false), GiveUp),
            ((NotFound, Safe, 1, false), GiveUp),
            ((Refused, Safe, 1, false), GiveUp),
        ];
        for ((kind, repeat, failures, unreachable), expected) in table {
            assert_eq!(
                policy.decide(kind, repeat, failures, unreachable),
                expected,
                "{kind:?} {repeat:?} after {failures} failures, unreachable {unreachable}"
            );
        }
    }
}
