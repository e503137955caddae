use std::collections::BTreeSet;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn ms(n: u64) -> Tick {
    Duration::from_millis(n)
}

fn settings() -> Settings {
    Settings {
        debounce: ms(500),
        max_backoff: ms(20_000),
        first_backoff: ms(1_000),
        full_sync_interval: ms(3_600_000),
        parallel: 2,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn pairs_of(jobs: &[Job]) -> Vec<&str> {
    jobs.iter().map(|job| job.pair.as_str()).collect()
}

#[test]
fn every_pair_syncs_whole_at_start_within_the_parallel_bound() {
    let mut s = Scheduler::new(settings(), names(&["a", "b", "c"]), ms(0));
    let jobs = s.take_ready(ms(0));
    assert_eq!(pairs_of(&jobs), ["a", "b"]);
    assert!(jobs.iter().all(|job| job.scope == Scope::Whole));
    assert!(s.take_ready(ms(0)).is_empty(), "two run already");
    let mut rng = fastrand::Rng::with_seed(1);
    s.finished(jobs[0].clone(), Ended::Done, ms(10), &mut rng);
    assert_eq!(pairs_of(&s.take_ready(ms(10))), ["c"]);
}

#[test]
fn changes_are_debounced_and_coalesced_from_the_first_one() {
    let mut rng = fastrand::Rng::with_seed(1);
    let mut s = Scheduler::new(settings(), names(&["a"]), ms(0));
    let start = s.take_ready(ms(0)).remove(0);
    s.finished(start, Ended::Done, ms(5), &mut rng);
    s.changed("a", Scope::collection("INBOX"), ms(1_000));
    s.changed("a", Scope::collection("Sent"), ms(1_400));
    assert_eq!(s.next_wake(), Some(ms(1_500)));
    assert!(s.take_ready(ms(1_499)).is_empty());
    let jobs = s.take_ready(ms(1_500));
    let both = BTreeSet::from(["INBOX".to_owned(), "Sent".to_owned()]);
    assert_eq!(jobs[0].scope, Scope::Collections(both));
}

#[test]
fn a_change_during_a_sync_leads_to_one_more_sync_after_it() {
    let mut rng = fastrand::Rng::with_seed(1);
    let mut s = Scheduler::new(settings(), names(&["a"]), ms(0));
    let job = s.take_ready(ms(0)).remove(0);
    s.changed("a", Scope::collection("INBOX"), ms(100));
    assert!(s.take_ready(ms(700)).is_empty(), "never two at once");
    s.finished(job, Ended::Done, ms(800), &mut rng);
    let again = s.take_ready(ms(800));
    assert_eq!(again[0].scope, Scope::collection("INBOX"));
    s.finished(again[0].clone(), Ended::Done, ms(900), &mut rng);
    assert!(s.take_ready(ms(10_000)).is_empty(), "only one more");
}

#[test]
fn a_failing_pair_backs_off_alone_and_sync_all_overrides_the_backoff() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut s = Scheduler::new(settings(), names(&["bad", "good"]), ms(0));
    let jobs = s.take_ready(ms(0));
    s.finished(jobs[0].clone(), Ended::Failed, ms(10), &mut rng);
    s.finished(jobs[1].clone(), Ended::Done, ms(10), &mut rng);
    s.changed("good", Scope::Whole, ms(20));
    let next = s.take_ready(ms(520));
    assert_eq!(pairs_of(&next), ["good"], "bad waits for its backoff");
    let wake = s.next_wake().unwrap();
    assert!(wake >= ms(510) && wake <= ms(1_010), "{wake:?}");
    s.sync_all(ms(530));
    assert_eq!(pairs_of(&s.take_ready(ms(530))), ["bad"]);
}

#[test]
fn the_full_pass_comes_every_interval() {
    let mut rng = fastrand::Rng::with_seed(1);
    let mut s = Scheduler::new(settings(), names(&["a"]), ms(0));
    let job = s.take_ready(ms(0)).remove(0);
    s.finished(job, Ended::Done, ms(1), &mut rng);
    assert_eq!(s.next_wake(), Some(ms(3_600_000)));
    assert!(s.take_ready(ms(3_599_999)).is_empty());
    assert_eq!(s.take_ready(ms(3_600_000))[0].scope, Scope::Whole);
}

#[test]
fn a_reload_adds_and_forgets_pairs() {
    let mut rng = fastrand::Rng::with_seed(1);
    let mut s = Scheduler::new(settings(), names(&["a", "b"]), ms(0));
    let jobs = s.take_ready(ms(0));
    s.set_pairs(names(&["a", "c"]), ms(5));
    for job in jobs {
        s.finished(job, Ended::Done, ms(6), &mut rng);
    }
    assert_eq!(pairs_of(&s.take_ready(ms(6))), ["c"]);
    assert!(!s.busy("b"));
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let mut rng = fastrand::Rng::with_seed(3);
    let (first, cap) = (ms(1_000), ms(20_000));
    for failures in 1..40 {
        let wait = backoff(first, cap, failures, &mut rng);
        let full = (first * 2u32.pow((failures - 1).min(20))).min(cap);
        assert!(wait <= full && wait >= full / 2, "{failures}: {wait:?}");
    }
}

/// One step of a random history.
#[derive(Clone, Debug)]
enum Step {
    /// Time passes.
    Wait(u64),
    /// A change in pair `.0`, collection `.1` (none: the whole pair).
    Change(usize, Option<u8>),
    /// The oldest running sync ends, successfully or not.
    End(bool),
    /// SIGUSR1.
    SyncAll,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u64..3_000).prop_map(Step::Wait),
        4 => (0usize..3, proptest::option::of(0u8..4)).prop_map(|(p, c)| Step::Change(p, c)),
        3 => any::<bool>().prop_map(Step::End),
        1 => Just(Step::SyncAll),
    ]
}

/// A change not yet known to be synced: (pair, scope, its place in the history).
type Open = (String, Scope, u64);

proptest! {
    /// Runs a random history of changes and sync ends, then lets every sync succeed: every
    /// change is covered by a sync that started after it and succeeded, no pair ever runs
    /// twice at once, at most `parallel` run, and no pair waits longer than the cap after a
    /// failure.
    #[test]
    fn every_change_is_eventually_synced(steps in proptest::collection::vec(step(), 0..80), seed: u64) {
        let pairs = names(&["p0", "p1", "p2"]);
        // No full pass in this history: it would sync everything and hide a lost change.
        let settings = Settings { full_sync_interval: Duration::from_secs(1 << 40), ..settings() };
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut s = Scheduler::new(settings.clone(), pairs.clone(), ms(0));
        let mut now = ms(0);
        // Events are numbered in the order they happen: a sync covers the changes before its start.
        let mut seq = 1u64;
        let mut open: Vec<Open> = pairs.iter().map(|p| (p.clone(), Scope::Whole, 0)).collect();
        let mut running: Vec<(Job, u64)> = Vec::new();

        let start = |s: &mut Scheduler, running: &mut Vec<(Job, u64)>, seq: &mut u64, now: Tick| -> Result<(), TestCaseError> {
            for job in s.take_ready(now) {
                prop_assert!(running.iter().all(|(r, _)| r.pair != job.pair), "two syncs of {}", job.pair);
                *seq += 1;
                running.push((job, *seq));
            }
            prop_assert!(running.len() <= settings.parallel);
            Ok(())
        };
        let end = |s: &mut Scheduler, running: &mut Vec<(Job, u64)>, open: &mut Vec<Open>, ok: bool, now: Tick, rng: &mut fastrand::Rng| -> Result<(), TestCaseError> {
            if running.is_empty() { return Ok(()); }
            let (job, started) = running.remove(0);
            let pair = job.pair.clone();
            if ok {
                open.retain(|(p, scope, at)| !(p == &job.pair && *at < started && job.scope.covers(scope)));
                s.finished(job, Ended::Done, now, rng);
            } else {
                s.finished(job, Ended::Failed, now, rng);
                let wait = s.pairs[&pair].not_before - now;
                prop_assert!(wait <= settings.max_backoff, "backoff {:?}", wait);
            }
            Ok(())
        };

        for step in steps {
            match step {
                Step::Wait(n) => now += ms(n),
                Step::Change(p, c) => {
                    let scope = c.map_or(Scope::Whole, |c| Scope::collection(&format!("c{c}")));
                    s.changed(&pairs[p], scope.clone(), now);
                    seq += 1;
                    open.push((pairs[p].clone(), scope, seq));
                }
                Step::End(ok) => end(&mut s, &mut running, &mut open, ok, now, &mut rng)?,
                Step::SyncAll => {
                    s.sync_all(now);
                }
            }
            start(&mut s, &mut running, &mut seq, now)?;
        }
        // From here on every sync succeeds; the scheduler must drain all open changes.
        for _ in 0..100 {
            while !running.is_empty() {
                end(&mut s, &mut running, &mut open, true, now, &mut rng)?;
                start(&mut s, &mut running, &mut seq, now)?;
            }
            if open.is_empty() { break; }
            let wake = s.next_wake();
            prop_assert!(wake.is_some());
            now = now.max(wake.unwrap_or(now));
            start(&mut s, &mut running, &mut seq, now)?;
        }
        prop_assert!(open.is_empty(), "never synced: {:?}", open);
        prop_assert!(now < settings.full_sync_interval, "only the full pass synced them");
    }
}
