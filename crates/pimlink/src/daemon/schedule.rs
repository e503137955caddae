//! The daemon's scheduler: which pair to sync next, which of its collections, and when. Pure:
//! no I/O and no clock; the time is passed in as [`Tick`] (time since the daemon started) and
//! the jitter comes from a seeded [`fastrand::Rng`], so that tests replay any history.
//!
//! Rules, each tested below:
//! - A change makes its pair due one `debounce` after the first change of a burst; changes of
//!   the same pair meanwhile join that sync (coalescing), and a burst never postpones it
//!   (so a steady trickle cannot starve a pair).
//! - A pair runs at most once at a time; a change that arrives while it runs makes one more
//!   sync after it (the running one may have listed before the change).
//! - A failed sync is retried after a capped exponential backoff with jitter, for that pair
//!   alone; its pending work is kept. A success resets the backoff.
//! - Every `full_sync_interval` each pair gets a whole sync (the safety net for a missed
//!   event); [`Scheduler::sync_all`] (SIGUSR1) asks for one now, backoff or not.
//! - At most `parallel` pairs run at once.
//!
//! Not here: what a change means for a pair (`route.rs`), running syncs (`mod.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A point in time: the time since the daemon started.
pub type Tick = Duration;

/// The scheduler's settings (`[daemon]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// How long to wait after a change for more changes before syncing.
    pub debounce: Duration,
    /// The longest wait before retrying a failing pair.
    pub max_backoff: Duration,
    /// The first wait after a failure; it doubles with each failure in a row.
    pub first_backoff: Duration,
    /// How often every pair is synced whole.
    pub full_sync_interval: Duration,
    /// How many pairs may sync at once.
    pub parallel: usize,
}

/// What part of a pair to sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// These collections only, by the pair's names for them.
    Collections(BTreeSet<String>),
    /// The whole pair (its list of collections included).
    Whole,
}

impl Scope {
    /// One collection.
    pub fn collection(name: &str) -> Self {
        Scope::Collections(BTreeSet::from([name.to_owned()]))
    }

    /// Both scopes together.
    fn join(self, other: Scope) -> Scope {
        match (self, other) {
            (Scope::Collections(mut a), Scope::Collections(b)) => {
                a.extend(b);
                Scope::Collections(a)
            }
            _ => Scope::Whole,
        }
    }

    /// True if syncing `self` covers `other`.
    #[cfg(test)]
    pub fn covers(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::Whole, _) => true,
            (Scope::Collections(_), Scope::Whole) => false,
            (Scope::Collections(a), Scope::Collections(b)) => b.is_subset(a),
        }
    }
}

/// A sync to start now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The pair's name.
    pub pair: String,
    /// What of it.
    pub scope: Scope,
}

/// How a sync ended, as far as the scheduler cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It ran (items may have failed; the next change or full pass retries them).
    Done,
    /// The pair could not be synced (a server down, a refused login, a busy lock): back off.
    Failed,
}

#[derive(Debug, Default)]
struct PairState {
    /// Work waiting, and when it becomes due.
    pending: Option<(Scope, Tick)>,
    /// Set while a sync of the pair runs.
    running: bool,
    /// Failures in a row.
    failures: u32,
    /// No sync starts before this (backoff), except one asked by [`Scheduler::sync_all`].
    not_before: Tick,
}

/// The scheduler's state: every pair's pending work, whether it runs, its backoff.
#[derive(Debug)]
pub struct Scheduler {
    settings: Settings,
    pairs: BTreeMap<String, PairState>,
    /// When the next full pass is due.
    next_full: Tick,
}

impl Scheduler {
    /// A scheduler for `pairs`, each due for a whole sync at `now` (the daemon's first sync).
    pub fn new(settings: Settings, pairs: impl IntoIterator<Item = String>, now: Tick) -> Self {
        let mut scheduler = Self {
            next_full: now + settings.full_sync_interval,
            settings,
            pairs: BTreeMap::new(),
        };
        scheduler.set_pairs(pairs, now);
        scheduler
    }

    /// Replaces the settings (a reload); pending work and backoffs are kept.
    pub fn set_settings(&mut self, settings: Settings, now: Tick) {
        self.next_full = self.next_full.min(now + settings.full_sync_interval);
        self.settings = settings;
    }

    /// The pairs to serve from now on (a reload): new ones are due whole at `now`, gone ones
    /// are forgotten (a sync of one that still runs ends unnoticed).
    pub fn set_pairs(&mut self, pairs: impl IntoIterator<Item = String>, now: Tick) {
        let wanted: BTreeSet<String> = pairs.into_iter().collect();
        self.pairs.retain(|name, _| wanted.contains(name));
        for name in wanted {
            self.pairs.entry(name).or_insert_with(|| PairState {
                pending: Some((Scope::Whole, now)),
                ..PairState::default()
            });
        }
    }

    /// A pair must sync again from scratch (its configuration changed): whole, at `now`.
    pub fn restart(&mut self, pair: &str, now: Tick) {
        if let Some(state) = self.pairs.get_mut(pair) {
            state.failures = 0;
            state.not_before = now;
            add(state, Scope::Whole, now);
        }
    }

    /// Something in `scope` of `pair` changed at `now`.
    pub fn changed(&mut self, pair: &str, scope: Scope, now: Tick) {
        let due = now + self.settings.debounce;
        if let Some(state) = self.pairs.get_mut(pair) {
            add(state, scope, due);
        }
    }

    /// Every pair, whole, now, whatever its backoff (SIGUSR1).
    pub fn sync_all(&mut self, now: Tick) {
        for state in self.pairs.values_mut() {
            state.not_before = now;
            add(state, Scope::Whole, now);
        }
    }

    /// The sync of `pair` that [`Scheduler::take_ready`] handed out ended at `now`.
    /// On failure, `job`'s scope waits again, after the pair's next backoff.
    pub fn finished(&mut self, job: Job, ended: Ended, now: Tick, rng: &mut fastrand::Rng) {
        let first = self.settings.first_backoff;
        let cap = self.settings.max_backoff;
        let Some(state) = self.pairs.get_mut(&job.pair) else {
            return;
        };
        state.running = false;
        match ended {
            Ended::Done => state.failures = 0,
            Ended::Failed => {
                state.failures = state.failures.saturating_add(1);
                let wait = backoff(first, cap, state.failures, rng);
                state.not_before = now + wait;
                add(state, job.scope, now);
            }
        }
    }

    /// The syncs to start at `now`, each marked running until [`Scheduler::finished`]: due
    /// pairs not running and not backing off, at most `parallel` running in all, in name
    /// order. Starts the full pass when it is due.
    pub fn take_ready(&mut self, now: Tick) -> Vec<Job> {
        if now >= self.next_full {
            self.next_full = now + self.settings.full_sync_interval;
            for state in self.pairs.values_mut() {
                add(state, Scope::Whole, now);
            }
        }
        let mut room = self.settings.parallel.max(1).saturating_sub(self.running());
        let mut jobs = Vec::new();
        for (name, state) in &mut self.pairs {
            if room == 0 {
                break;
            }
            let ready = !state.running
                && state.not_before <= now
                && state.pending.as_ref().is_some_and(|(_, due)| *due <= now);
            if !ready {
                continue;
            }
            if let Some((scope, _)) = state.pending.take() {
                state.running = true;
                room -= 1;
                jobs.push(Job {
                    pair: name.clone(),
                    scope,
                });
            }
        }
        jobs
    }

    /// When [`Scheduler::take_ready`] next has something to hand out, assuming nothing
    /// else happens (a running sync's end is such a happening); `None` only with no pairs.
    pub fn next_wake(&self) -> Option<Tick> {
        let pending = self
            .pairs
            .values()
            .filter(|state| !state.running)
            .filter_map(|state| {
                let (_, due) = state.pending.as_ref()?;
                Some((*due).max(state.not_before))
            })
            .min();
        match pending {
            Some(at) => Some(at.min(self.next_full)),
            None if self.pairs.is_empty() => None,
            None => Some(self.next_full),
        }
    }

    /// How many syncs run.
    pub fn running(&self) -> usize {
        self.pairs.values().filter(|state| state.running).count()
    }

    /// True if `pair` has work waiting or running.
    pub fn busy(&self, pair: &str) -> bool {
        self.pairs
            .get(pair)
            .is_some_and(|state| state.running || state.pending.is_some())
    }
}

/// Adds `scope` to a pair's pending work; it is due at `due` unless it already was sooner.
fn add(state: &mut PairState, scope: Scope, due: Tick) {
    state.pending = Some(match state.pending.take() {
        Some((pending, was_due)) => (pending.join(scope), was_due.min(due)),
        None => (scope, due),
    });
}

/// The wait after the `failures`th failure in a row: `first` doubled each time, at most
/// `cap`, then drawn uniformly from its upper half so that pairs failing together spread out.
pub(crate) fn backoff(
    first: Duration,
    cap: Duration,
    failures: u32,
    rng: &mut fastrand::Rng,
) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    let full = first.saturating_mul(1u32 << doublings.min(31)).min(cap);
    let half = full / 2;
    let spread = u64::try_from((full - half).as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(rng.u64(0..=spread))
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
