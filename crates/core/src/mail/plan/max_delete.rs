//! The deletion-share guard of a mail collection (`max_delete`, see [`MaxDelete`]).
//!
//! What it weighs, per side S: the messages S held at the last sync (status rows with a key on
//! S that is not a pending copy) and, of those S no longer lists, how many the plan would
//! remove on the other side (a delete, or a `\Deleted` mark on a side that does not expunge).
//! Not weighed: messages a user marked `\Deleted` while keeping them (S still lists them),
//! expiries by the limits (not removals), and deletions that moves between collections
//! replace (the executor lifts the refusal again, see [`still_withheld`]). A side that lists
//! nothing at all is the empty-side guard's (`on_empty`), so that `on_empty = "sync"` keeps
//! its meaning.

use std::collections::HashSet;

use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::status::{ItemId, StatusItem};
use crate::policy::SyncPolicy;
use crate::side::Side;

use super::action::{ItemAction, removes_on};
use crate::guard::{self, Refusal};

/// The refusal of a plan that would propagate more deletions from one side than the pair's
/// `max_delete` allows, if it would.
pub(crate) fn refusal(
    status: &[StatusItem],
    a: &[ItemEntry],
    b: &[ItemEntry],
    actions: &[ItemAction],
    policy: &SyncPolicy,
) -> Option<Refusal> {
    for (side, listing) in [(Side::A, a), (Side::B, b)] {
        if listing.is_empty() {
            continue;
        }
        let listed: HashSet<&ItemKey> = listing.iter().map(|entry| &entry.key).collect();
        let mut known = 0;
        let mut lost = HashSet::new();
        for row in status.iter().filter(|row| row.pending != Some(side)) {
            let Some(key) = row.key(side) else {
                continue;
            };
            known += 1;
            if !listed.contains(key) {
                lost.insert(row.id);
            }
        }
        let mut rows: Vec<ItemId> = actions
            .iter()
            .filter(|action| removes_on(action, side.other()))
            .filter_map(|action| action_row(action).filter(|id| lost.contains(id)))
            .collect();
        rows.sort_unstable();
        rows.dedup();
        if let Some(refusal) = guard::too_many_deletions(side, known, rows, policy.max_delete) {
            return Some(refusal);
        }
    }
    None
}

/// How many of the deletions a refusal withheld (`rows`, sorted) `actions` still make on
/// `on`, once moves between collections replaced some of them.
pub(crate) fn still_withheld(actions: &[ItemAction], on: Side, rows: &[ItemId]) -> usize {
    let mut left: Vec<ItemId> = actions
        .iter()
        .filter(|action| removes_on(action, on))
        .filter_map(|action| action_row(action).filter(|id| rows.binary_search(id).is_ok()))
        .collect();
    left.sort_unstable();
    left.dedup();
    left.len()
}

/// The status row an action is about.
fn action_row(action: &ItemAction) -> Option<ItemId> {
    match action {
        ItemAction::Delete { id, .. } | ItemAction::Flags { id, .. } => Some(*id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::mail::flags::{Flag, Flags};
    use crate::mail::plan::tests::{entry, row};
    use crate::mail::plan::{plan_items, removals_on};
    use crate::name::CollectionName;
    use crate::policy::{MaxDelete, OnEmpty, SideOptions};

    /// Ten paired messages; side B still lists those in `kept` (with `flags`).
    fn ten_rows() -> Vec<StatusItem> {
        (0..10)
            .map(|i| row(i, &format!("a{i}"), &format!("b{i}"), "S", None))
            .collect()
    }

    fn listing(side: &str, kept: impl Iterator<Item = i64>, flags: &str) -> Vec<ItemEntry> {
        kept.map(|i| entry(&format!("{side}{i}"), flags)).collect()
    }

    fn refused(plan: &crate::mail::plan::ItemPlan) -> Option<(Side, usize, usize)> {
        match &plan.refused {
            Some(Refusal::TooManyDeletions {
                side,
                known,
                deletions,
                ..
            }) => Some((*side, *known, *deletions)),
            _ => None,
        }
    }

    #[test]
    fn the_rule_allows_a_few_and_up_to_the_share() {
        let half = MaxDelete::DEFAULT;
        // Small collections: deleting 1 of 2, or 5 of 5 still listing others, is tidying.
        assert!(!half.refuses(1, 2));
        assert!(!half.refuses(5, 6));
        // More than five and more than half.
        assert!(half.refuses(6, 10));
        assert!(half.refuses(9, 10));
        // Exactly half is not more than half.
        assert!(!half.refuses(6, 12));
        assert!(half.refuses(7, 12));
        assert!(!MaxDelete::UNLIMITED.refuses(1000, 1000));
        let none = MaxDelete::percent(0).unwrap();
        assert!(!none.refuses(5, 1000));
        assert!(none.refuses(6, 1000));
        assert_eq!(MaxDelete::percent(101), None);
        assert_eq!(MaxDelete::DEFAULT.to_string(), "50%");
    }

    proptest! {
        /// The rule is exactly "more than FEW and more than the share", and deleting more of
        /// the same collection is never more acceptable.
        #[test]
        fn the_rule_is_the_documented_one_and_monotone(
            percent in 0u8..=100,
            known in 0usize..10_000,
            deletions in 0usize..10_000,
        ) {
            let limit = MaxDelete::percent(percent).unwrap();
            let over_share = deletions * 100 > usize::from(percent) * known;
            prop_assert_eq!(
                limit.refuses(deletions, known),
                deletions > MaxDelete::FEW && over_share
            );
            if limit.refuses(deletions, known) {
                prop_assert!(limit.refuses(deletions + 1, known));
            }
            if deletions <= known {
                prop_assert!(!MaxDelete::UNLIMITED.refuses(deletions, known));
            }
        }
    }

    #[test]
    fn a_side_wiped_to_one_message_is_refused_and_forced_through() {
        let rows = ten_rows();
        let a = listing("a", 0..10, "S");
        let b = listing("b", 9..10, "S");
        let policy = SyncPolicy::both_ways();
        let plan = plan_items(&rows, &a, &b, &policy);
        assert_eq!(refused(&plan), Some((Side::B, 10, 9)));
        assert_eq!(removals_on(&plan.actions, Side::A), 9, "kept for moves");
        let message = plan.refused.as_ref().unwrap().to_string();
        for part in [
            "side b",
            "9 of the 10",
            "side a",
            "max_delete = \"50%\"",
            "--force",
        ] {
            assert!(message.contains(part), "{part:?} missing: {message}");
        }
        let forced = SyncPolicy {
            max_delete: MaxDelete::UNLIMITED,
            ..SyncPolicy::both_ways()
        };
        let plan = plan_items(&rows, &a, &b, &forced);
        assert_eq!(plan.refused, None);
        assert_eq!(removals_on(&plan.actions, Side::A), 9);
        // Half of the collection is allowed.
        let b = listing("b", 5..10, "S");
        assert_eq!(plan_items(&rows, &a, &b, &policy).refused, None);
    }

    #[test]
    fn an_empty_side_is_left_to_on_empty() {
        let rows = ten_rows();
        let a = listing("a", 0..10, "S");
        let plan = plan_items(&rows, &a, &[], &SyncPolicy::both_ways());
        assert!(matches!(plan.refused, Some(Refusal::EmptySide { .. })));
        let sync = SyncPolicy {
            on_empty: OnEmpty::Sync,
            ..SyncPolicy::both_ways()
        };
        assert_eq!(plan_items(&rows, &a, &[], &sync).refused, None);
    }

    #[test]
    fn marks_and_trash_count_expunged_marked_messages_do_not() {
        let rows = ten_rows();
        let a = listing("a", 0..10, "S");
        // B does not expunge: the deletions arrive on B as \Deleted marks; A lost them here.
        let keeps = SyncPolicy {
            sides: crate::side::PerSide {
                a: SideOptions::default(),
                b: SideOptions {
                    expunge: false,
                    ..SideOptions::default()
                },
            },
            ..SyncPolicy::both_ways()
        };
        let plan = plan_items(
            &rows,
            &listing("a", 0..2, "S"),
            &listing("b", 0..10, "S"),
            &keeps,
        );
        assert_eq!(refused(&plan), Some((Side::A, 10, 8)));
        // Into A's trash is a deletion all the same.
        let trash = SyncPolicy {
            sides: crate::side::PerSide {
                a: SideOptions {
                    trash: Some(CollectionName::new("Trash").unwrap()),
                    ..SideOptions::default()
                },
                b: SideOptions::default(),
            },
            ..SyncPolicy::both_ways()
        };
        let plan = plan_items(&rows, &a, &listing("b", 0..1, "S"), &trash);
        assert_eq!(refused(&plan), Some((Side::B, 10, 9)));
        // The user marked eight messages \Deleted on B and both sides expunge them: B still
        // lists them, so nothing was lost, and the purge goes ahead.
        let marked: Vec<ItemEntry> = (0..10)
            .map(|i| entry(&format!("b{i}"), if i < 8 { "ST" } else { "S" }))
            .collect();
        let plan = plan_items(&rows, &a, &marked, &SyncPolicy::both_ways());
        assert_eq!(plan.refused, None);
        assert_eq!(removals_on(&plan.actions, Side::A), 8);
    }

    #[test]
    fn expiries_are_not_deletions() {
        // Side B is the near side; the limits expired eight messages there earlier (their B
        // keys are forgotten) and B lists the other two.
        let mut rows = ten_rows();
        for row in rows.iter_mut().take(8) {
            row.expired = Some(Side::B);
            row.key_b = None;
        }
        let plan = plan_items(
            &rows,
            &listing("a", 0..10, "S"),
            &listing("b", 8..10, "S"),
            &SyncPolicy::both_ways(),
        );
        assert_eq!(plan.refused, None);
        assert_eq!(removals_on(&plan.actions, Side::A), 0);
    }

    #[test]
    fn moves_that_replace_deletions_lift_the_refusal() {
        let rows = ten_rows();
        let plan = plan_items(
            &rows,
            &listing("a", 0..10, "S"),
            &listing("b", 9..10, "S"),
            &SyncPolicy::both_ways(),
        );
        let Some(Refusal::TooManyDeletions { rows: withheld, .. }) = plan.refused.clone() else {
            panic!("refused: {:?}", plan.refused);
        };
        assert_eq!(still_withheld(&plan.actions, Side::A, &withheld), 9);
        // Moves replaced seven of the deletes: two are left, few enough.
        let mut actions = plan.actions.clone();
        let mut replaced = 0;
        actions.retain(|action| {
            let delete = matches!(action, ItemAction::Delete { .. });
            if delete && replaced < 7 {
                replaced += 1;
                return false;
            }
            true
        });
        let left = still_withheld(&actions, Side::A, &withheld);
        assert_eq!(left, 2);
        assert!(!MaxDelete::DEFAULT.refuses(left, 10));
        // A flag change on a row that was not withheld is not counted.
        let unrelated = ItemAction::Flags {
            id: 99,
            set_a: Some((ItemKey::new("x"), Flags::new().with(Flag::Trashed))),
            set_b: None,
            agreed: Flags::new(),
        };
        assert_eq!(still_withheld(&[unrelated], Side::A, &withheld), 0);
    }
}
