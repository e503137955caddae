//! Rate limits of a migration: token buckets for bytes and messages per second (per account
//! and for the whole run) and a byte cap per UTC day (per account), as providers limit uploads
//! (Gmail about 2.5 GB a day, Office 365 per hour and per day).
//!
//! Pure: every call takes the time (`now`, on any monotonic clock; the UTC day number for the
//! cap), so the tests drive a fake clock. The caller sleeps for the wait a charge returns.
//!
//! A bucket charges after the fact: a copy is never split, so a burst of up to one second's
//! worth (or one big message) goes at once, and the wait that follows brings the average back
//! to the rate.

use std::time::Duration;

use crate::config::Rates;

/// One token bucket: `rate` units a second, holding at most one second's worth.
#[derive(Clone, Debug)]
struct Bucket {
    rate: f64,
    /// Tokens left; below zero after a charge larger than what was there (a debt).
    level: f64,
    last: Duration,
}

impl Bucket {
    fn new(rate: u64, now: Duration) -> Self {
        // Rates are at most a few GB/s: exact enough in an f64.
        #[allow(clippy::cast_precision_loss)]
        let rate = rate as f64;
        Self {
            rate,
            level: rate,
            last: now,
        }
    }

    /// Takes `amount` tokens at `now` and says how long to wait until the debt is paid.
    fn charge(&mut self, amount: u64, now: Duration) -> Duration {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.level = (self.level + elapsed * self.rate).min(self.rate);
        #[allow(clippy::cast_precision_loss)]
        let amount = amount as f64;
        self.level -= amount;
        if self.level >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.level / self.rate)
        }
    }
}

/// What a charge decided.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Charge {
    /// Sleep this long before the next copy.
    pub wait: Duration,
    /// The daily cap is reached: stop this account for today.
    pub daily_cap_reached: bool,
}

/// The limits of one account or of the whole run.
#[derive(Clone, Debug, Default)]
pub struct Throttle {
    bytes: Option<Bucket>,
    messages: Option<Bucket>,
    daily: Option<DailyCap>,
}

/// Bytes copied on one UTC day, against a cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailyCap {
    /// The cap.
    pub limit: u64,
    /// Days since 1970-01-01 (UTC) that `used` counts.
    pub day: u64,
    /// Bytes copied that day.
    pub used: u64,
}

impl DailyCap {
    /// True if the cap is reached on `day`.
    pub fn reached(&self, day: u64) -> bool {
        day == self.day && self.used >= self.limit
    }

    fn add(&mut self, bytes: u64, day: u64) {
        if day != self.day {
            self.day = day;
            self.used = 0;
        }
        self.used = self.used.saturating_add(bytes);
    }
}

impl Throttle {
    /// The limits `rates` set, starting at `now`; `used_today` is what earlier runs of the same
    /// UTC day copied (the cap holds across runs).
    pub fn new(rates: &Rates, now: Duration, used_today: Option<(u64, u64)>) -> Self {
        Self {
            bytes: rates.bytes_per_second.map(|r| Bucket::new(r, now)),
            messages: rates.messages_per_second.map(|r| Bucket::new(r, now)),
            daily: rates.daily_bytes.map(|limit| {
                let (day, used) = used_today.unwrap_or_default();
                DailyCap { limit, day, used }
            }),
        }
    }

    /// The daily cap's count, to be kept for the next run of the same day.
    pub fn daily(&self) -> Option<DailyCap> {
        self.daily
    }

    /// True if the daily cap is already reached on `day` (before copying anything).
    pub fn daily_cap_reached(&self, day: u64) -> bool {
        self.daily.is_some_and(|d| d.reached(day))
    }

    /// Counts one copied message of `bytes` at `now` on UTC `day`.
    pub fn charge(&mut self, bytes: u64, now: Duration, day: u64) -> Charge {
        let bytes_wait = self
            .bytes
            .as_mut()
            .map_or(Duration::ZERO, |b| b.charge(bytes, now));
        let messages_wait = self
            .messages
            .as_mut()
            .map_or(Duration::ZERO, |m| m.charge(1, now));
        let daily_cap_reached = self.daily.as_mut().is_some_and(|d| {
            d.add(bytes, day);
            d.reached(day)
        });
        Charge {
            wait: bytes_wait.max(messages_wait),
            daily_cap_reached,
        }
    }
}

/// Days since 1970-01-01 in UTC for `unix_seconds`.
pub fn utc_day(unix_seconds: u64) -> u64 {
    unix_seconds / 86_400
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_millis((s * 1000.0) as u64)
    }

    fn rates(bytes: Option<u64>, messages: Option<u64>, daily: Option<u64>) -> Rates {
        Rates {
            bytes_per_second: bytes,
            messages_per_second: messages,
            daily_bytes: daily,
        }
    }

    #[test]
    fn bytes_per_second_hold_the_average_to_the_rate() {
        let mut t = Throttle::new(&rates(Some(1000), None, None), secs(0.0), None);
        // One second's worth goes at once...
        assert_eq!(t.charge(1000, secs(0.0), 0).wait, Duration::ZERO);
        // ...then every byte more is a debt paid by waiting.
        assert_eq!(t.charge(500, secs(0.0), 0).wait, secs(0.5));
        // After the wait the debt is paid, and the next copy waits for its own size only.
        assert_eq!(t.charge(250, secs(0.5), 0).wait, secs(0.25));
        // A caller that copies 100 KB with the waits it is told takes 100 s at 1000 B/s.
        let mut t = Throttle::new(&rates(Some(1000), None, None), secs(0.0), None);
        let mut now = Duration::ZERO;
        for _ in 0..100 {
            now += t.charge(1000, now, 0).wait;
        }
        assert_eq!(now, secs(99.0), "the first second's worth is the burst");
    }

    #[test]
    fn an_idle_bucket_fills_up_to_one_seconds_worth_only() {
        let mut t = Throttle::new(&rates(None, Some(10), None), secs(0.0), None);
        for _ in 0..10 {
            assert_eq!(t.charge(0, secs(0.0), 0).wait, Duration::ZERO);
        }
        assert_eq!(t.charge(0, secs(0.0), 0).wait, secs(0.1));
        // An hour idle does not allow an hour's burst.
        let later = secs(3600.0);
        for _ in 0..10 {
            assert_eq!(t.charge(0, later, 0).wait, Duration::ZERO);
        }
        assert_eq!(t.charge(0, later, 0).wait, secs(0.1));
    }

    #[test]
    fn the_slower_limit_wins() {
        let mut t = Throttle::new(&rates(Some(1000), Some(2), None), secs(0.0), None);
        t.charge(10, secs(0.0), 0);
        t.charge(10, secs(0.0), 0);
        // Two messages a second: the third waits half a second, though its bytes are free.
        assert_eq!(t.charge(10, secs(0.0), 0).wait, secs(0.5));
        let mut t = Throttle::new(&rates(Some(1000), Some(2), None), secs(0.0), None);
        assert_eq!(t.charge(3000, secs(0.0), 0).wait, secs(2.0));
    }

    #[test]
    fn the_daily_cap_stops_the_day_and_a_new_utc_day_resets_it() {
        let day = utc_day(1_765_000_000);
        let mut t = Throttle::new(&rates(None, None, Some(1000)), secs(0.0), None);
        assert!(!t.charge(600, secs(0.0), day).daily_cap_reached);
        assert!(t.charge(600, secs(1.0), day).daily_cap_reached);
        assert!(t.daily_cap_reached(day));
        assert_eq!(t.daily().map(|d| d.used), Some(1200));
        // The next UTC day starts from nothing.
        assert!(!t.daily_cap_reached(day + 1));
        assert!(!t.charge(600, secs(2.0), day + 1).daily_cap_reached);
        assert_eq!(t.daily().map(|d| (d.day, d.used)), Some((day + 1, 600)));
    }

    #[test]
    fn the_daily_count_carries_over_between_runs_of_the_same_day_only() {
        let day = 20_000;
        let t = Throttle::new(&rates(None, None, Some(1000)), secs(0.0), Some((day, 1000)));
        assert!(t.daily_cap_reached(day));
        assert!(!t.daily_cap_reached(day + 1));
        let t = Throttle::new(
            &rates(None, None, Some(1000)),
            secs(0.0),
            Some((day - 1, 5000)),
        );
        assert!(!t.daily_cap_reached(day));
    }

    #[test]
    fn unlimited_never_waits() {
        let mut t = Throttle::new(&Rates::default(), secs(0.0), None);
        assert_eq!(t.charge(u64::MAX, secs(0.0), 0), Charge::default());
    }

    #[test]
    fn utc_days_turn_at_midnight() {
        assert_eq!(utc_day(86_399), 0);
        assert_eq!(utc_day(86_400), 1);
    }
}
