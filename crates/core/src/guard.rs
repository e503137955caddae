//! Refusals: the safety checks that withhold a whole collection's plan, shared by both wings.
//!
//! - the empty-side rule (`on_empty`): a side that lists nothing although the status remembers
//!   items there is far more often a wiped directory or a broken server than a user who deleted
//!   everything, so the deletions it would spread are refused ([`empty_side`]);
//! - the small-empty exception to it ([`small_empty_lifts`]): a user does empty small
//!   collections (sends the only draft, deletes a list's last task, empties the trash), and
//!   refusing that would fail every later run. A wiped tree or a broken server empties every
//!   collection of a side at once, so a refusal is lifted when the side knew fewer than
//!   [`MaxDelete::FEW`] items there *and* still shows items in another collection of the pair
//!   this run;
//! - the share rule (`max_delete`): a side that still lists items but lost more of those the
//!   status knows than the pair allows in one run ([`too_many_deletions`]).
//!
//! Each wing counts "known" and "deletions" in its own model (mail status rows, DAV UIDs) and
//! asks these functions for the verdict, so that both families refuse alike and say so in the
//! same words. `--force` lifts both (the caller sets `on_empty = sync` and an unlimited
//! `max_delete`).
//!
//! Not here: the counting itself (mail/plan/items.rs, mail/plan/max_delete.rs, dav/plan.rs).

use std::fmt;

use crate::policy::MaxDelete;
use crate::side::{PerSide, Side};

/// Why a collection's plan was withheld.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `side` lists no items although the status knows `known` items there, and the plan would
    /// delete `deletions` items on the other side.
    EmptySide {
        /// The side that looks empty.
        side: Side,
        /// How many items the status remembers.
        known: usize,
        /// How many deletions the plan would have made.
        deletions: usize,
    },
    /// `side` no longer lists `deletions` of the `known` items the status remembers there
    /// (it still lists others), and removing them on the other side would delete more of the
    /// collection than the pair's `max_delete` allows in one run.
    TooManyDeletions {
        /// The side that lost the items.
        side: Side,
        /// How many items the status remembers on that side.
        known: usize,
        /// How many of them the plan would delete on the other side.
        deletions: usize,
        /// The pair's limit.
        limit: MaxDelete,
        /// The status rows (mail item ids, DAV row ids) whose deletion is withheld, sorted: moves between collections found after
        /// planning may replace some of them and lift the refusal.
        rows: Vec<i64>,
    },
}

/// The empty-side rule: `side` lists nothing, the status knows `known` items there and the plan
/// would delete `deletions` on the other side. (Whether `on_empty` allows it is the caller's
/// first question.)
pub fn empty_side(side: Side, known: usize, deletions: usize) -> Option<Refusal> {
    (known > 0 && deletions > 0).then_some(Refusal::EmptySide {
        side,
        known,
        deletions,
    })
}

/// The small-empty exception to the empty-side rule, for one run of one pair.
///
/// `refusals` are the pair's collections' refusals this run (`None` for a collection that was
/// not refused); `shows_items` says, per side, whether that side evidently works this run: it
/// listed at least one item in some collection of the pair (or reported one whose status
/// knows items there unchanged since a settled run, which a wiped tree or a broken server
/// cannot do). The answer has one entry per refusal: true where an [`Refusal::EmptySide`] is
/// to be lifted, and the collection synced as if it had never been refused.
///
/// Lifted only when all of these hold, each because the opposite is what an accident looks
/// like:
/// - fewer than [`MaxDelete::FEW`] items were known on the empty side (the floor below which
///   `max_delete` never refuses either): losing a big collection stays the user's decision;
/// - the empty side shows items elsewhere: a wipe or a server listing nothing empties every
///   collection, so several small collections empty on a side that shows nothing else all
///   stay refused;
/// - no collection of the pair is refused as empty on the same side with [`MaxDelete::FEW`]
///   or more known items: a side that lost a big collection whole this run may have lost the
///   small ones by the same accident.
pub fn small_empty_lifts(refusals: &[Option<&Refusal>], shows_items: PerSide<bool>) -> Vec<bool> {
    let small = |known: usize| known < MaxDelete::FEW;
    let lost_big = |side: Side| {
        refusals.iter().any(|refusal| {
            matches!(refusal, Some(Refusal::EmptySide { side: s, known, .. }) if *s == side && !small(*known))
        })
    };
    refusals
        .iter()
        .map(|refusal| match refusal {
            Some(Refusal::EmptySide { side, known, .. }) => {
                small(*known) && *shows_items.get(*side) && !lost_big(*side)
            }
            _ => false,
        })
        .collect()
}

/// The share rule: the plan would delete `rows` (sorted) on the other side of the `known`
/// items the status remembers on `side`.
pub fn too_many_deletions(
    side: Side,
    known: usize,
    rows: Vec<i64>,
    limit: MaxDelete,
) -> Option<Refusal> {
    limit
        .refuses(rows.len(), known)
        .then_some(Refusal::TooManyDeletions {
            side,
            known,
            deletions: rows.len(),
            limit,
            rows,
        })
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::EmptySide {
                side,
                known,
                deletions,
            } => write!(
                f,
                "side {side} is empty although {known} items were synced there before; refusing \
                 to delete {deletions} items on side {} (if the deletion is intended, run again \
                 with --force or set on_empty = \"sync\" for the pair)",
                side.other()
            ),
            Refusal::TooManyDeletions {
                side,
                known,
                deletions,
                limit,
                ..
            } => write!(
                f,
                "side {side} no longer has {deletions} of the {known} items synced there \
                 before; refusing to delete them on side {}, more than max_delete = \"{limit}\" \
                 of the collection (if the deletions are intended, run again with --force, or \
                 raise max_delete for the pair)",
                side.other()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty(side: Side, known: usize) -> Refusal {
        Refusal::EmptySide {
            side,
            known,
            deletions: known,
        }
    }

    const A_SHOWS: PerSide<bool> = PerSide { a: true, b: false };

    #[test]
    fn a_small_empty_collection_on_a_side_that_shows_items_is_lifted() {
        for known in 1..MaxDelete::FEW {
            let refusal = empty(Side::A, known);
            assert_eq!(
                small_empty_lifts(&[None, Some(&refusal)], A_SHOWS),
                [false, true]
            );
        }
        let on_b = empty(Side::B, 1);
        let both = PerSide { a: true, b: true };
        assert_eq!(small_empty_lifts(&[Some(&on_b)], both), [true]);
    }

    #[test]
    fn known_at_or_above_the_floor_stays_refused() {
        for known in [MaxDelete::FEW, MaxDelete::FEW + 1, 1000] {
            let refusal = empty(Side::A, known);
            assert_eq!(small_empty_lifts(&[Some(&refusal)], A_SHOWS), [false]);
        }
    }

    #[test]
    fn a_side_that_shows_nothing_anywhere_stays_refused() {
        let refusal = empty(Side::A, 1);
        let none = PerSide { a: false, b: false };
        assert_eq!(
            small_empty_lifts(&[None, Some(&refusal)], none),
            [false, false]
        );
        // Only the other side shows items: that says nothing of this one.
        let b_shows = PerSide { a: false, b: true };
        assert_eq!(small_empty_lifts(&[Some(&refusal)], b_shows), [false]);
    }

    #[test]
    fn several_small_collections_empty_on_a_side_that_shows_nothing_else_are_a_wipe() {
        let refusals = [empty(Side::A, 1), empty(Side::A, 3), empty(Side::A, 4)];
        let refusals: Vec<_> = refusals.iter().map(Some).collect();
        let b_shows = PerSide { a: false, b: true };
        assert_eq!(small_empty_lifts(&refusals, b_shows), [false, false, false]);
    }

    #[test]
    fn a_big_collection_lost_whole_on_the_side_keeps_the_small_ones_refused() {
        let (small, big) = (empty(Side::A, 1), empty(Side::A, MaxDelete::FEW));
        assert_eq!(
            small_empty_lifts(&[Some(&small), Some(&big)], A_SHOWS),
            [false, false]
        );
        // On the other side it says nothing of this one.
        let big_on_b = empty(Side::B, 50);
        let both = PerSide { a: true, b: true };
        assert_eq!(
            small_empty_lifts(&[Some(&small), Some(&big_on_b)], both),
            [true, false]
        );
    }

    #[test]
    fn other_refusals_are_never_lifted() {
        let share = Refusal::TooManyDeletions {
            side: Side::A,
            known: 2,
            deletions: 1,
            limit: MaxDelete::DEFAULT,
            rows: vec![1],
        };
        assert_eq!(small_empty_lifts(&[Some(&share)], A_SHOWS), [false]);
    }
}
