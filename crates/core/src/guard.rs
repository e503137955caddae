//! Refusals: the safety checks that withhold a whole collection's plan, shared by both wings.
//!
//! - the empty-side rule (`on_empty`): a side that lists nothing although the status remembers
//!   items there is far more often a wiped directory or a broken server than a user who deleted
//!   everything, so the deletions it would spread are refused ([`empty_side`]);
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
use crate::side::Side;

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
