//! Whether a collection can be left alone without listing it: unchanged on both sides since
//! its last complete sync.
//!
//! Listing a collection costs a read of every status row and of every item on both sides, even
//! when nothing changed, which is most runs. Each storage can instead tell cheaply, without
//! listing, something that changes whenever its items do: an IMAP folder's counters from
//! LIST-STATUS (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ), a Maildir folder's directory
//! mtimes. A run that leaves a collection settled (nothing done, nothing pending or held)
//! records those stamps as they were *before* it listed; the next run skips the collection
//! when both stamps are still the same.
//!
//! Stamps made of file times need care: a change made within the same clock tick as the last
//! recorded one leaves the mtime as it was. So a stamp whose newest time is not clearly older
//! than the moment it was taken is never trusted (the next run lists the collection and
//! records a stamp that is). On a local file system that keeps nanoseconds, "clearly older"
//! means older than the coarse clock the kernel stamps files with (see [`crate::clock`]).
//!
//! A run that changed a collection may record stamps too, when each side's stamp still
//! describes what the status now holds: a side the run changed gives a stamp taken after its
//! changes, together with the proof that nothing else changed it
//! ([`MailStore::stamp_after_own_changes`](crate::mail::store::MailStore::stamp_after_own_changes));
//! a side without one keeps its stamp from before the listing, which any change of that side,
//! the run's own included, makes unequal (the next run then lists the collection, as before).

use std::time::{Duration, SystemTime};

use crate::digest::sha256_hex;
use crate::mail::plan::{CollectionStep, PlanCounts};
use crate::mail::store::ChangeStamp;
use crate::policy::SyncPolicy;
use crate::side::{PerSide, Side};

/// How much older than the moment of taking a stamp its newest file time must be, when the
/// file system records times finer than seconds: more than the kernel's coarse clock tick that
/// file times are taken from (at most 10 ms), with room for file systems on other machines.
pub const FINE_MARGIN: Duration = Duration::from_secs(1);

/// The same for times in whole seconds (ext3, some network file systems; FAT rounds to 2 s).
pub const COARSE_MARGIN: Duration = Duration::from_secs(3);

// The record is a status type (mail/status/settled.rs reads and writes it); the planner
// only judges it.
pub use crate::mail::status::Settled;

/// Why a collection is listed after all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed {
    /// It is created, removed or skipped, not synced.
    NotSynced,
    /// No run left it settled (or the record was dropped).
    NoRecord,
    /// The pair has `max_age`: what the near side keeps changes with time alone.
    TimeLimits,
    /// The configuration that shapes its plan changed.
    ConfigChanged,
    /// The side cannot tell cheaply whether it changed.
    NoStamp(Side),
    /// The side changed.
    Changed(Side),
    /// The recorded stamp of the side was taken too soon after its last change to prove that
    /// nothing changed within the same clock tick.
    TooRecent(Side),
}

impl std::fmt::Display for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listed::NotSynced => write!(f, "not a plain sync"),
            Listed::NoRecord => write!(f, "no settled run recorded"),
            Listed::TimeLimits => write!(f, "max_age depends on the time"),
            Listed::ConfigChanged => write!(f, "the configuration changed"),
            Listed::NoStamp(side) => write!(f, "side {side} cannot tell"),
            Listed::Changed(side) => write!(f, "side {side} changed"),
            Listed::TooRecent(side) => {
                write!(f, "side {side} changed just before the last listing")
            }
        }
    }
}

/// Decides whether a collection is unchanged since its last settled run: `Ok(())` to leave it
/// alone without listing it, or why it is listed.
pub fn decide(
    step: &CollectionStep,
    policy: &SyncPolicy,
    fingerprint: &str,
    recorded: Option<&Settled>,
    now: &PerSide<Option<ChangeStamp>>,
) -> Result<(), Listed> {
    if *step != CollectionStep::Sync {
        return Err(Listed::NotSynced);
    }
    if policy.limits.max_age.is_some() {
        return Err(Listed::TimeLimits);
    }
    let Some(recorded) = recorded else {
        return Err(Listed::NoRecord);
    };
    if recorded.fingerprint != fingerprint {
        return Err(Listed::ConfigChanged);
    }
    for side in [Side::A, Side::B] {
        let Some(stamp) = now.get(side) else {
            return Err(Listed::NoStamp(side));
        };
        let before = recorded.stamps.get(side);
        // `local_times` is not kept in the status; equal tokens mean equal kinds of stamp.
        if stamp.token != before.token || stamp.newest != before.newest {
            return Err(Listed::Changed(side));
        }
        if !settled_before(stamp, recorded.taken_at) {
            return Err(Listed::TooRecent(side));
        }
    }
    Ok(())
}

/// True if a change after `taken_at` (a time of [`crate::clock::coarse_now`]) cannot have left
/// `stamp` as it is: its newest file time (if it has any) is older than `taken_at` by more than
/// the file system's time resolution, or for local times at all. A time after `taken_at` (a
/// clock that went back, a file server ahead) is never trusted.
pub fn settled_before(stamp: &ChangeStamp, taken_at: SystemTime) -> bool {
    let Some(newest) = stamp.newest else {
        return true;
    };
    let margin = if newest
        .duration_since(SystemTime::UNIX_EPOCH)
        .is_ok_and(|d| d.subsec_nanos() == 0)
    {
        COARSE_MARGIN
    } else if stamp.local_times {
        Duration::ZERO
    } else {
        FINE_MARGIN
    };
    newest
        .checked_add(margin)
        .is_some_and(|limit| limit < taken_at)
}

/// What a run did with a collection that was listed, for [`may_record`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Errors or a refusal: something may be left to do.
    pub failed: bool,
    /// What was done (in any side or the status) and held back by the limits.
    pub done: PlanCounts,
    /// Changes waiting for a read-only side, per side.
    pub held: PerSide<usize>,
    /// Late copies found.
    pub late_copies: usize,
    /// The status still has pending copies or records of abandoned ones in the collection.
    pub open_rows: bool,
}

/// True if stamps may be recorded: the run carried out every change it found, nothing is
/// waiting, and nothing is in flight, so the next run would plan nothing as long as the stamps
/// stay the same. Copies, flag changes and deletions leave the collection in such a state once
/// done (see [`needs_stamps_after`]); moves, renamed items, expiries and held-back copies are
/// rare and involve other collections or the limits, so such a run records nothing, as before.
pub fn may_record(outcome: &Outcome) -> bool {
    let done = &outcome.done;
    !outcome.failed
        && done.moves == 0
        && done.renamed == 0
        && done.expired == 0
        && done.held_back == 0
        && outcome.held == PerSide::default()
        && outcome.late_copies == 0
        && !outcome.open_rows
}

/// True if the run changed something, so that the stamps taken before the listing may no
/// longer describe a side: each side is then asked for a stamp taken after its changes (as is
/// a side that had none before, such as a folder the run created).
pub fn needs_stamps_after(outcome: &Outcome) -> bool {
    outcome.done != PlanCounts::default()
}

/// The moment recorded with the stamps: that of the stamps of file times, the earlier of two
/// (every stamp must be trusted from it on), or that of the stamps before the listing.
pub fn recorded_taken_at(
    before: SystemTime,
    sides: &PerSide<(ChangeStamp, SystemTime)>,
) -> SystemTime {
    [&sides.a, &sides.b]
        .into_iter()
        .filter(|(stamp, _)| stamp.newest.is_some())
        .map(|(_, at)| *at)
        .min()
        .unwrap_or(before)
}

/// A short text that changes whenever something that shapes a collection's plan changes: the
/// pair's policy for it (direction, operations, limits, per-side options) and the version of
/// pimlink (a newer planner may decide differently).
pub fn plan_fingerprint(policy: &SyncPolicy) -> String {
    let text = format!("{} {policy:?}", env!("CARGO_PKG_VERSION"));
    // A digest that is stable across builds and Rust versions, unlike std's hasher.
    format!("v2 {}", sha256_hex(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Direction;
    use proptest::prelude::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }

    fn files(token: &str, newest: SystemTime) -> ChangeStamp {
        ChangeStamp {
            token: token.to_owned(),
            newest: Some(newest),
            local_times: false,
        }
    }

    fn counters(token: &str) -> ChangeStamp {
        ChangeStamp {
            token: token.to_owned(),
            newest: None,
            local_times: false,
        }
    }

    fn recorded(a: ChangeStamp, b: ChangeStamp, taken_at: SystemTime) -> Settled {
        Settled {
            stamps: PerSide { a, b },
            taken_at,
            fingerprint: plan_fingerprint(&SyncPolicy::both_ways()),
        }
    }

    fn now(a: Option<ChangeStamp>, b: Option<ChangeStamp>) -> PerSide<Option<ChangeStamp>> {
        PerSide { a, b }
    }

    #[test]
    fn decisions() {
        let policy = SyncPolicy::both_ways();
        let fp = plan_fingerprint(&policy);
        let old = at(1_000, 123_456_789);
        let base = recorded(counters("c1"), files("m1", old), at(1_100, 0));
        let same = now(Some(counters("c1")), Some(files("m1", old)));
        let mut aged = policy.clone();
        aged.limits.max_age = Some(Duration::from_secs(86_400));
        let mut one_way = policy.clone();
        one_way.direction = Direction::AToB;
        let other_fp = plan_fingerprint(&one_way);
        let just_before = recorded(counters("c1"), files("m1", old), at(1_000, 500_000_000));
        let coarse = recorded(counters("c1"), files("m1", at(1_000, 0)), at(1_002, 0));
        let coarse_now = now(Some(counters("c1")), Some(files("m1", at(1_000, 0))));
        let future = recorded(counters("c1"), files("m1", old), at(900, 0));

        type Row<'a> = (
            &'a str,
            CollectionStep,
            &'a SyncPolicy,
            &'a str,
            Option<&'a Settled>,
            PerSide<Option<ChangeStamp>>,
            Result<(), Listed>,
        );
        let table: Vec<Row> = vec![
            (
                "unchanged",
                CollectionStep::Sync,
                &policy,
                &fp,
                Some(&base),
                same.clone(),
                Ok(()),
            ),
            (
                "created",
                CollectionStep::Create(Side::B),
                &policy,
                &fp,
                Some(&base),
                same.clone(),
                Err(Listed::NotSynced),
            ),
            (
                "removed",
                CollectionStep::Remove(Side::A),
                &policy,
                &fp,
                Some(&base),
                same.clone(),
                Err(Listed::NotSynced),
            ),
            (
                "never settled",
                CollectionStep::Sync,
                &policy,
                &fp,
                None,
                same.clone(),
                Err(Listed::NoRecord),
            ),
            (
                "max_age",
                CollectionStep::Sync,
                &aged,
                &fp,
                Some(&base),
                same.clone(),
                Err(Listed::TimeLimits),
            ),
            (
                "config changed",
                CollectionStep::Sync,
                &one_way,
                &other_fp,
                Some(&base),
                same.clone(),
                Err(Listed::ConfigChanged),
            ),
            (
                "server counters changed",
                CollectionStep::Sync,
                &policy,
                &fp,
                Some(&base),
                now(Some(counters("c2")), Some(files("m1", old))),
                Err(Listed::Changed(Side::A)),
            ),
            (
                "directory changed",
                CollectionStep::Sync,
                &policy,
                &fp,
                Some(&base),
                now(Some(counters("c1")), Some(files("m2", at(1_200, 1)))),
                Err(Listed::Changed(Side::B)),
            ),
            (
                "same token, other time",
                CollectionStep::Sync,
                &policy,
                &fp,
                Some(&base),
                now(Some(counters("c1")), Some(files("m1", at(1_200, 1)))),
                Err(Listed::Changed(Side::B)),
            ),
            (
                "side cannot tell",
                CollectionStep::Sync,
                &policy,
                &fp,
                Some(&base),
                now(None, Some(files("m1", old))),
                Err(Listed::NoStamp(Side::A)),
            ),
            (
                "changed within a second of the listing",
                CollectionStep::Sync,
                &policy,
                &fp,
                Some(&just_before),
                same.clone(),
                Err(Listed::TooRecent(Side::B)),
            ),
            (
                "whole seconds, two seconds before",
                CollectionStep::Sync,
                &policy,
                &fp,
                Some(&coarse),
                coarse_now.clone(),
                Err(Listed::TooRecent(Side::B)),
            ),
            (
                "change time after the listing (clock went back)",
                CollectionStep::Sync,
                &policy,
                &fp,
                Some(&future),
                same.clone(),
                Err(Listed::TooRecent(Side::B)),
            ),
        ];
        for (what, step, policy, fp, recorded, now, want) in table {
            assert_eq!(decide(&step, policy, fp, recorded, &now), want, "{what}");
        }
    }

    #[test]
    fn only_a_run_that_carried_out_everything_is_recorded() {
        let clean = Outcome::default();
        assert!(may_record(&clean));
        assert!(!needs_stamps_after(&clean));
        let mut copied = PlanCounts::default();
        copied.copies.a = 1;
        copied.deletions.b = 2;
        copied.flags = 3;
        let changed = Outcome {
            done: copied,
            ..Outcome::default()
        };
        assert!(may_record(&changed), "copies, flags, deletions");
        assert!(needs_stamps_after(&changed));
        let held_back = PlanCounts {
            held_back: 1,
            ..PlanCounts::default()
        };
        let moved = PlanCounts {
            moves: 1,
            ..PlanCounts::default()
        };
        let renamed = PlanCounts {
            renamed: 1,
            ..PlanCounts::default()
        };
        let expired = PlanCounts {
            expired: 1,
            ..PlanCounts::default()
        };
        let spoiled = [
            Outcome {
                failed: true,
                ..Outcome::default()
            },
            Outcome {
                done: held_back,
                ..Outcome::default()
            },
            Outcome {
                done: moved,
                ..Outcome::default()
            },
            Outcome {
                done: renamed,
                ..Outcome::default()
            },
            Outcome {
                done: expired,
                ..Outcome::default()
            },
            Outcome {
                held: PerSide { a: 0, b: 2 },
                ..Outcome::default()
            },
            Outcome {
                late_copies: 1,
                ..Outcome::default()
            },
            Outcome {
                open_rows: true,
                ..Outcome::default()
            },
        ];
        for outcome in spoiled {
            assert!(!may_record(&outcome), "{outcome:?}");
        }
    }

    #[test]
    fn local_times_need_only_be_older_than_the_coarse_clock() {
        let newest = at(1_000, 5_000_000);
        let local = ChangeStamp {
            local_times: true,
            ..files("m local", newest)
        };
        assert!(settled_before(&local, at(1_000, 5_000_001)));
        assert!(!settled_before(&local, newest), "the same tick");
        assert!(
            !settled_before(&local, at(999, 0)),
            "a clock that went back"
        );
        let remote = files("m", newest);
        assert!(!settled_before(&remote, at(1_000, 5_000_001)));
        let whole = ChangeStamp {
            local_times: true,
            ..files("m local", at(1_000, 0))
        };
        assert!(
            !settled_before(&whole, at(1_001, 0)),
            "whole seconds keep 3 s"
        );
        assert!(settled_before(&whole, at(1_003, 1)));
    }

    #[test]
    fn the_recorded_moment_is_the_earliest_of_file_time_stamps() {
        let before = at(100, 0);
        let counters_only = PerSide {
            a: (counters("c"), before),
            b: (counters("d"), before),
        };
        assert_eq!(recorded_taken_at(before, &counters_only), before);
        let after_run = PerSide {
            a: (counters("c"), before),
            b: (files("m", at(100, 5)), at(101, 0)),
        };
        assert_eq!(recorded_taken_at(before, &after_run), at(101, 0));
        let two_maildirs = PerSide {
            a: (files("n", at(99, 1)), before),
            b: (files("m", at(100, 5)), at(101, 0)),
        };
        assert_eq!(recorded_taken_at(before, &two_maildirs), before);
    }

    #[test]
    fn fingerprint_follows_the_policy() {
        let policy = SyncPolicy::both_ways();
        assert_eq!(plan_fingerprint(&policy), plan_fingerprint(&policy.clone()));
        let mut flags_off = policy.clone();
        flags_off.operations.flags = false;
        assert_ne!(plan_fingerprint(&policy), plan_fingerprint(&flags_off));
    }

    proptest! {
        /// Whatever the times, a stamp whose newest change is not older than the moment it was
        /// taken by the margin is never trusted, and a skip always means equal stamps.
        #[test]
        fn never_skips_on_a_recent_or_different_stamp(
            newest_ms in 0u64..10_000,
            taken_ms in 0u64..10_000,
            whole in any::<bool>(),
            same_token in any::<bool>(),
        ) {
            let newest = if whole {
                at(newest_ms / 1000, 0)
            } else {
                at(newest_ms / 1000, (newest_ms % 1000) as u32 * 1_000_000 + 1)
            };
            let taken = at(taken_ms / 1000, (taken_ms % 1000) as u32 * 1_000_000);
            let policy = SyncPolicy::both_ways();
            let fp = plan_fingerprint(&policy);
            let settled = recorded(counters("c"), files("m", newest), taken);
            let token = if same_token { "m" } else { "n" };
            let current = now(Some(counters("c")), Some(files(token, newest)));
            let skip = decide(&CollectionStep::Sync, &policy, &fp, Some(&settled), &current).is_ok();
            let margin = if whole { COARSE_MARGIN } else { FINE_MARGIN };
            if skip {
                prop_assert!(same_token);
                prop_assert!(newest + margin < taken);
            } else {
                prop_assert!(!same_token || newest + margin >= taken);
            }
        }
    }
}
