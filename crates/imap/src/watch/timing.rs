//! The watcher's timing decisions as pure values (time is passed in, randomness too), so
//! they are unit-tested without waiting: how long to wait before reconnecting, how long an
//! IDLE or a quiet NOTIFY wait may last, and whether the wall clock jumped against the
//! monotonic one (a suspend and resume).

use std::time::{Duration, Instant, SystemTime};

/// RFC 2177: a server may drop a client idle for 30 minutes; IDLE is re-issued well before.
pub const IDLE_LIMIT: Duration = Duration::from_secs(25 * 60);

/// How far the wall clock may drift from the monotonic clock between two looks before it
/// counts as a jump. NTP slews by far less; a suspend of the machine is usually far more.
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(10);

/// How often the clocks are compared: a resume is noticed within this.
pub const CLOCK_TICK: Duration = Duration::from_secs(5);

/// Capped exponential backoff with jitter between reconnection attempts.
///
/// After a connection that worked dies, the first attempt is at once (a failed send, a
/// restart of the server: the next connection usually works). Each attempt that fails
/// doubles the wait, from `base` up to `cap`; the wait is drawn from its upper half, so that
/// many clients of one server do not reconnect in step, and never exceeds `cap`.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff starting at `base`, never waiting longer than `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base: base.min(cap),
            cap,
            failures: 0,
        }
    }

    /// A connection worked: the next failure reconnects at once.
    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// An attempt failed (or a working connection died): how long to wait before the next
    /// one. `random` is any random number; it only sets the jitter.
    pub fn failed(&mut self, random: u64) -> Duration {
        let failures = self.failures;
        self.failures = self.failures.saturating_add(1);
        if failures == 0 {
            return Duration::ZERO;
        }
        let doubled = self
            .base
            .checked_mul(1u32.checked_shl(failures - 1).unwrap_or(u32::MAX))
            .unwrap_or(self.cap);
        let ceiling = doubled.min(self.cap);
        let half = ceiling / 2;
        // A fraction of the lower half, in thousandths: [half, ceiling].
        let fraction = u32::try_from(random % 1001).unwrap_or(0);
        half + (ceiling - half) * fraction / 1000
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Compares the wall clock with the monotonic clock. On Linux the monotonic clock stops
/// while the machine sleeps and the wall clock does not, so a resume shows as the wall clock
/// running ahead; setting the clock shows the same way. Either means every connection may be
/// dead and changes may have been missed.
#[derive(Clone, Copy, Debug)]
pub struct ClockWatch {
    wall: SystemTime,
    mono: Instant,
}

impl ClockWatch {
    /// Starts comparing from these readings.
    pub fn new(wall: SystemTime, mono: Instant) -> Self {
        Self { wall, mono }
    }

    /// True if, since the last look, the two clocks moved apart by more than `tolerance`.
    /// The readings become the reference for the next look either way.
    pub fn jumped(&mut self, wall: SystemTime, mono: Instant, tolerance: Duration) -> bool {
        let mono_passed = mono.saturating_duration_since(self.mono);
        let jumped = match wall.duration_since(self.wall) {
            Ok(wall_passed) => wall_passed.abs_diff(mono_passed) > tolerance,
            // The wall clock went back.
            Err(back) => back.duration() + mono_passed > tolerance,
        };
        self.wall = wall;
        self.mono = mono;
        jumped
    }
}

/// When a watching connection must next act, measured from its last sign of life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quiet {
    /// Silence after which the connection is checked (NOOP, or IDLE's DONE).
    pub keepalive: Duration,
}

impl Quiet {
    /// How long an IDLE started now may last: until the keepalive check, never past the
    /// IDLE limit, and never past `other` (the next poll of the connection that also polls).
    pub fn idle_for(&self, now: Instant, other: Option<Instant>) -> Duration {
        let mut wait = self.keepalive.min(IDLE_LIMIT);
        if let Some(other) = other {
            wait = wait.min(other.saturating_duration_since(now));
        }
        wait
    }

    /// When a NOTIFY wait that last heard from the server at `heard` must check the
    /// connection.
    pub fn check_at(&self, heard: Instant) -> Instant {
        heard + self.keepalive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_reconnects_at_once_then_doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        // The highest jitter draws the full ceiling.
        let top = 1000;
        let waits: Vec<u128> = (0..8).map(|_| b.failed(top).as_millis()).collect();
        assert_eq!(waits, [0, 100, 200, 400, 800, 1000, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(top), Duration::ZERO);
        assert_eq!(b.failed(top), Duration::from_millis(100));
    }

    #[test]
    fn backoff_never_exceeds_the_cap_and_never_halves_below_half() {
        let cap = Duration::from_secs(20 * 60);
        let mut b = Backoff::new(Duration::from_secs(1), cap);
        b.failed(0);
        let mut ceiling = Duration::from_secs(1);
        for i in 0..200u64 {
            let random = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let wait = b.failed(random);
            assert!(wait <= cap, "{wait:?} above the cap");
            assert!(
                wait >= ceiling.min(cap) / 2,
                "{wait:?} below half of {ceiling:?}"
            );
            ceiling = ceiling.saturating_mul(2);
        }
        // Thousands of failures overflow nothing.
        for _ in 0..100_000 {
            assert!(b.failed(u64::MAX) <= cap);
        }
    }

    #[test]
    fn a_base_above_the_cap_is_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(60), Duration::from_secs(5));
        b.failed(0);
        assert!(b.failed(1000) <= Duration::from_secs(5));
    }

    #[test]
    fn clock_watch_sees_a_suspend_and_a_clock_set_back_but_not_steady_time() {
        let mono = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut watch = ClockWatch::new(wall, mono);
        let tol = CLOCK_TOLERANCE;
        // Both clocks advance together (a little drift is fine).
        let s = Duration::from_secs;
        assert!(!watch.jumped(wall + s(5), mono + s(5), tol));
        assert!(!watch.jumped(wall + s(11), mono + s(10), tol));
        // Suspended for an hour: the wall clock ran on, the monotonic clock did not.
        assert!(watch.jumped(wall + s(3611), mono + s(15), tol));
        // The next look compares from there.
        assert!(!watch.jumped(wall + s(3616), mono + s(20), tol));
        // Set back a minute.
        assert!(watch.jumped(wall + s(3560), mono + s(25), tol));
    }

    #[test]
    fn idle_ends_at_keepalive_the_idle_limit_or_the_next_poll() {
        let now = Instant::now();
        let q = Quiet {
            keepalive: Duration::from_secs(300),
        };
        assert_eq!(q.idle_for(now, None), Duration::from_secs(300));
        assert_eq!(
            q.idle_for(now, Some(now + Duration::from_secs(60))),
            Duration::from_secs(60)
        );
        assert_eq!(q.idle_for(now, Some(now)), Duration::ZERO);
        let long = Quiet {
            keepalive: Duration::from_secs(3600),
        };
        assert_eq!(long.idle_for(now, None), IDLE_LIMIT);
        assert_eq!(q.check_at(now), now + Duration::from_secs(300));
    }
}
