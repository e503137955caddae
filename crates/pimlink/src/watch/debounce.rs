//! Turning a burst of file events into one [`Change`]: pure, the time is passed in.
//!
//! A mail reader that marks 500 messages read renames 500 files; a `notmuch new` or an editor
//! writes several files in a row. Each burst on one collection becomes one `Change`, sent once
//! the burst has been quiet for `quiet` (`[daemon] debounce`), or at the latest `max_wait`
//! after its first event, so that a constant stream of events still syncs.
//!
//! `Change::Everything` covers every other change of its storage: pending ones are dropped
//! when it arrives, and later ones are absorbed while it waits (it is sent after them, so the
//! sync it starts sees them).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::Change;

/// The bursts not sent yet.
#[derive(Debug)]
pub(crate) struct Debouncer {
    quiet: Duration,
    max_wait: Duration,
    pending: HashMap<Change, Burst>,
}

#[derive(Clone, Copy, Debug)]
struct Burst {
    first: Instant,
    last: Instant,
}

impl Burst {
    fn due_at(self, quiet: Duration, max_wait: Duration) -> Instant {
        (self.last + quiet).min(self.first + max_wait)
    }
}

impl Debouncer {
    /// Sends a burst once it was quiet for `quiet`, or `max_wait` after it began.
    pub(crate) fn new(quiet: Duration, max_wait: Duration) -> Debouncer {
        Debouncer {
            quiet,
            max_wait: max_wait.max(quiet),
            pending: HashMap::new(),
        }
    }

    /// Notes that `change` happened at `now`.
    pub(crate) fn push(&mut self, change: Change, now: Instant) {
        let everything = |storage: &str| Change::Everything {
            storage: storage.to_owned(),
        };
        if !matches!(change, Change::Everything { .. })
            && self.pending.contains_key(&everything(change.storage()))
        {
            return;
        }
        // An Everything that replaces waiting changes is owed as early as the oldest of them.
        let mut first = now;
        if let Change::Everything { storage } = &change {
            self.pending.retain(|pending, burst| {
                let replaced = pending.storage() == storage && pending != &change;
                if replaced {
                    first = first.min(burst.first);
                }
                !replaced
            });
        }
        let burst = self
            .pending
            .entry(change)
            .or_insert(Burst { first, last: now });
        burst.first = burst.first.min(first);
        burst.last = now;
    }

    /// Removes and returns the changes due at `now`, in the order they are due.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Change> {
        let (quiet, max_wait) = (self.quiet, self.max_wait);
        let mut due: Vec<(Instant, Change)> = self
            .pending
            .iter()
            .filter(|(_, burst)| burst.due_at(quiet, max_wait) <= now)
            .map(|(change, burst)| (burst.due_at(quiet, max_wait), change.clone()))
            .collect();
        due.sort_by_key(|(at, _)| *at);
        for (_, change) in &due {
            self.pending.remove(change);
        }
        due.into_iter().map(|(_, change)| change).collect()
    }

    /// When the next change falls due, if any is pending.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.pending
            .values()
            .map(|burst| burst.due_at(self.quiet, self.max_wait))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const QUIET: Duration = Duration::from_millis(500);
    const MAX_WAIT: Duration = Duration::from_secs(5);

    fn inbox() -> Change {
        Change::Collection {
            storage: "local".into(),
            collection: "INBOX".into(),
        }
    }

    fn everything() -> Change {
        Change::Everything {
            storage: "local".into(),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_burst_becomes_one_change_once_quiet() {
        let t0 = Instant::now();
        let mut debouncer = Debouncer::new(QUIET, MAX_WAIT);
        for i in 0..10 {
            debouncer.push(inbox(), t0 + ms(i * 100));
        }
        assert_eq!(debouncer.next_due(), Some(t0 + ms(900) + QUIET));
        assert!(debouncer.due(t0 + ms(1399)).is_empty());
        assert_eq!(debouncer.due(t0 + ms(1400)), vec![inbox()]);
        assert!(debouncer.due(t0 + ms(10_000)).is_empty());
        assert_eq!(debouncer.next_due(), None);
    }

    #[test]
    fn a_constant_stream_is_sent_at_the_latest_after_max_wait() {
        let t0 = Instant::now();
        let mut debouncer = Debouncer::new(QUIET, MAX_WAIT);
        let mut sent = Vec::new();
        for i in 0..200 {
            let now = t0 + ms(i * 100);
            debouncer.push(inbox(), now);
            sent.extend(debouncer.due(now).into_iter().map(|_| now));
        }
        assert_eq!(sent.first(), Some(&(t0 + MAX_WAIT)));
        assert!(sent.len() >= 3, "{sent:?}");
    }

    #[test]
    fn everything_replaces_and_absorbs_the_storages_other_changes() {
        let t0 = Instant::now();
        let mut debouncer = Debouncer::new(QUIET, MAX_WAIT);
        let other = Change::Collection {
            storage: "other".into(),
            collection: "INBOX".into(),
        };
        debouncer.push(inbox(), t0);
        debouncer.push(other.clone(), t0);
        debouncer.push(everything(), t0 + ms(100));
        debouncer.push(
            Change::Collections {
                storage: "local".into(),
            },
            t0 + ms(200),
        );
        let mut due = debouncer.due(t0 + ms(10_000));
        due.sort_by_key(|change| format!("{change:?}"));
        // Sorted by their debug form: Collection before Everything.
        assert_eq!(due, vec![other, everything()]);
    }

    proptest! {
        /// Every change pushed is sent (or covered by an Everything sent no earlier than it),
        /// never before its burst went quiet or reached max_wait, and never later than that.
        #[test]
        fn every_change_is_sent_in_time(events in proptest::collection::vec((0..4u8, 0..800u64), 1..80)) {
            let t0 = Instant::now();
            let mut debouncer = Debouncer::new(QUIET, MAX_WAIT);
            let change = |n: u8| match n {
                0 => everything(),
                1 => Change::Collections { storage: "local".into() },
                n => Change::Collection { storage: "local".into(), collection: format!("F{n}") },
            };
            let mut now = t0;
            let mut owed: Vec<(Change, Instant)> = Vec::new();
            let check = |debouncer: &mut Debouncer, now: Instant, owed: &mut Vec<(Change, Instant)>| {
                for sent in debouncer.due(now) {
                    owed.retain(|(change, _)| !(change == &sent || sent == everything()));
                }
                for (_, at) in owed.iter() {
                    // Nothing is owed longer than max_wait plus the quiet time.
                    assert!(now <= *at + MAX_WAIT + QUIET);
                }
            };
            for (n, gap) in events {
                // Step through time in small increments, as the watcher's timer would.
                let until = now + ms(gap);
                while now < until {
                    now = (now + ms(50)).min(until);
                    check(&mut debouncer, now, &mut owed);
                }
                debouncer.push(change(n), now);
                owed.push((change(n), now));
            }
            while let Some(next) = debouncer.next_due() {
                now = now.max(next);
                check(&mut debouncer, now, &mut owed);
            }
            prop_assert!(owed.is_empty(), "never sent: {owed:?}");
        }
    }
}
