//! Decisions for the items of one collection.

use std::collections::HashMap;

use crate::mail::flags::{Flag, Flags};
use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::keywords::KeywordScope;
use crate::mail::status::{ItemId, StatusItem};
use crate::name::CollectionName;
use crate::policy::{MaxDelete, OnEmpty, SyncPolicy};
use crate::side::{PerSide, Side};

use super::sides;

/// One thing to do for one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemAction {
    /// Copy the item `key` on `from` to the other side with `flags`. `replaces` is a pending row
    /// of an earlier, interrupted copy whose item never landed: it is dropped when the new copy
    /// is recorded.
    Copy {
        /// The side that has the item.
        from: Side,
        /// Its key there.
        key: ItemKey,
        /// The flags to deliver it with.
        flags: Flags,
        /// A stale pending row to drop.
        replaces: Option<ItemId>,
        /// The item's size as the source listed it, if known: copies are batched by bytes too.
        size: Option<u64>,
    },
    /// Bring the flags of a paired item into agreement: set `set_a`/`set_b` where given, then
    /// record `agreed` (which also confirms an interrupted copy that did land).
    Flags {
        /// The row.
        id: ItemId,
        /// New flags for the item on A.
        set_a: Option<(ItemKey, Flags)>,
        /// New flags for the item on B.
        set_b: Option<(ItemKey, Flags)>,
        /// What the status records afterwards.
        agreed: Flags,
    },
    /// Delete the item `key` on `side`, then drop the row (unless `keep_row`).
    Delete {
        /// The row.
        id: ItemId,
        /// The side to delete on.
        side: Side,
        /// The item's key there.
        key: ItemKey,
        /// Move the item into this collection of `side` instead of removing it (the side's
        /// trash folder).
        trash: Option<CollectionName>,
        /// Keep the row: the other side still holds the item, marked `\Deleted`, on a side that
        /// does not expunge. When several deletions of one row are planned, the row is dropped
        /// only if all of them succeed.
        keep_row: bool,
    },
    /// Drop a row whose item is gone from both sides.
    Forget {
        /// The row.
        id: ItemId,
    },
    /// Remove the item `key` from `side` because the pair's limits (`max_messages`, `max_age`)
    /// no longer keep it there; the other side keeps it and the row remembers the expiry, so
    /// that it is neither copied back nor taken for a deletion.
    Expire {
        /// The row.
        id: ItemId,
        /// The (near) side to remove it from.
        side: Side,
        /// The item's key there.
        key: ItemKey,
    },
}

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
        /// The rows whose deletion is withheld, sorted: moves between collections found after
        /// planning may replace some of them and lift the refusal.
        rows: Vec<ItemId>,
    },
}

/// The plan for the items of one collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemPlan {
    /// What to do, in no particular order (the executor groups actions by kind). When
    /// `refused` is set, none of them may be carried out.
    pub actions: Vec<ItemAction>,
    /// Set when a safety check withheld every action.
    pub refused: Option<Refusal>,
    /// Copies the pair's limits hold back (not actions: nothing is done about them).
    pub held_back: Vec<super::limits::HeldBack>,
}

/// Plans one collection: `status` as recorded, `a` and `b` as listed now; both sides hold
/// every keyword.
pub fn plan_items(
    status: &[StatusItem],
    a: &[ItemEntry],
    b: &[ItemEntry],
    policy: &SyncPolicy,
) -> ItemPlan {
    plan_items_scoped(status, a, b, policy, &KeywordScope::all())
}

/// [`plan_items`] where `keywords` says which keywords each side can hold: only keywords both
/// hold are merged and copied; any other keyword is left as it is on each side (see
/// [`crate::mail::keywords`]).
pub fn plan_items_scoped(
    status: &[StatusItem],
    a: &[ItemEntry],
    b: &[ItemEntry],
    policy: &SyncPolicy,
    keywords: &KeywordScope,
) -> ItemPlan {
    let a_by_key: HashMap<&ItemKey, &ItemEntry> = a.iter().map(|e| (&e.key, e)).collect();
    let b_by_key: HashMap<&ItemKey, &ItemEntry> = b.iter().map(|e| (&e.key, e)).collect();
    let mut known_a = std::collections::HashSet::new();
    let mut known_b = std::collections::HashSet::new();
    let mut actions = Vec::new();

    for row in status {
        let now_a = row.key_a.as_ref().and_then(|k| a_by_key.get(k).copied());
        let now_b = row.key_b.as_ref().and_then(|k| b_by_key.get(k).copied());
        if let Some(k) = &row.key_a {
            known_a.insert(k);
        }
        if let Some(k) = &row.key_b {
            known_b.insert(k);
        }
        if let Some(side) = row.expired {
            actions.extend(super::limits::decide_expired(
                row, side, now_a, now_b, policy,
            ));
        } else {
            actions.extend(decide_known(row, now_a, now_b, policy, keywords));
        }
    }
    for (side, entries, known) in [(Side::A, a, &known_a), (Side::B, b, &known_b)] {
        if !policy.copies_new_from(side) {
            continue;
        }
        for entry in entries
            .iter()
            .filter(|e| !known.contains(&e.key) && !sides::deleted_anyway(e, policy))
        {
            actions.push(ItemAction::Copy {
                from: side,
                key: entry.key.clone(),
                flags: keywords.fit(side.other(), &entry.flags),
                replaces: None,
                size: entry.size,
            });
        }
    }

    // A refused plan keeps its actions: the executor runs none of them, but moves between
    // collections found later may explain the deletions and lift the refusal.
    let refused = empty_side_refusal(status, a, b, &actions, policy)
        .or_else(|| super::max_delete::refusal(status, a, b, &actions, policy));
    ItemPlan {
        actions,
        refused,
        held_back: Vec::new(),
    }
}

/// The decision for an item the status knows.
fn decide_known(
    row: &StatusItem,
    now_a: Option<&ItemEntry>,
    now_b: Option<&ItemEntry>,
    policy: &SyncPolicy,
    keywords: &KeywordScope,
) -> Vec<ItemAction> {
    if let Some(to) = row.pending {
        // A copy to `to` was recorded but not confirmed: it landed if the reserved key is there.
        let landed = match to {
            Side::A => now_a.is_some(),
            Side::B => now_b.is_some(),
        };
        if !landed {
            let source = match to {
                Side::A => now_b,
                Side::B => now_a,
            };
            return vec![match source {
                Some(entry) if policy.copies_new_from(to.other()) => ItemAction::Copy {
                    from: to.other(),
                    key: entry.key.clone(),
                    flags: keywords.fit(to, &entry.flags),
                    replaces: Some(row.id),
                    size: entry.size,
                },
                _ => ItemAction::Forget { id: row.id },
            }];
        }
    }
    match (now_a, now_b) {
        (Some(a), Some(b)) => {
            let merge = merge_flags(&row.flags, &a.flags, &b.flags, policy, keywords);
            sides::both_present(row, PerSide { a, b }, merge, policy)
        }
        (Some(a), None) => sides::gone_from(Side::B, row, a, policy),
        (None, Some(b)) => sides::gone_from(Side::A, row, b, policy),
        (None, None) => vec![ItemAction::Forget { id: row.id }],
    }
}

/// Flags each side should have, and what to record, after a per-flag three-way merge that only
/// lets changes through in the directions the policy allows.
pub(super) struct Merge {
    pub(super) a: Flags,
    pub(super) b: Flags,
    pub(super) agreed: Flags,
}

fn merge_flags(
    base: &Flags,
    a: &Flags,
    b: &Flags,
    policy: &SyncPolicy,
    scope: &KeywordScope,
) -> Merge {
    let from_a = policy.merges_flags_from(Side::A);
    let from_b = policy.merges_flags_from(Side::B);
    let mut merge = Merge {
        a: a.clone(),
        b: b.clone(),
        agreed: base.clone(),
    };
    let decide = |was: bool, on_a: bool, on_b: bool| -> (bool, bool, bool) {
        match (on_a != was, on_b != was) {
            (true, true) => (on_a, on_b, on_a),
            (true, false) if from_a => (on_a, on_a, on_a),
            (false, true) if from_b => (on_b, on_b, on_b),
            // A change that may not flow stays where it is, and the status keeps the old value
            // so the change is still seen as one if the policy later allows it.
            _ => (on_a, on_b, was),
        }
    };
    for flag in Flag::ALL {
        let (va, vb, agreed) = decide(base.contains(flag), a.contains(flag), b.contains(flag));
        merge.a.set(flag, va);
        merge.b.set(flag, vb);
        merge.agreed.set(flag, agreed);
    }
    let keywords: std::collections::BTreeSet<&str> = base
        .keywords()
        .chain(a.keywords())
        .chain(b.keywords())
        .collect();
    for keyword in keywords {
        let has = |f: &Flags| f.keywords().any(|k| k == keyword);
        // A keyword one side cannot store is not a change on that side: leave both as they are
        // and keep the status's value.
        let (va, vb, agreed) = if scope.shared(keyword) {
            decide(has(base), has(a), has(b))
        } else {
            (has(a), has(b), has(base))
        };
        merge.a.set_keyword(keyword, va);
        merge.b.set_keyword(keyword, vb);
        merge.agreed.set_keyword(keyword, agreed);
    }
    merge
}

/// The empty-side guard: a side that lists nothing although the status remembers items there is
/// far more often a wiped directory or a broken server than a user who deleted everything.
pub(crate) fn empty_side_refusal(
    status: &[StatusItem],
    a: &[ItemEntry],
    b: &[ItemEntry],
    actions: &[ItemAction],
    policy: &SyncPolicy,
) -> Option<Refusal> {
    if policy.on_empty == OnEmpty::Sync {
        return None;
    }
    for (side, listing) in [(Side::A, a), (Side::B, b)] {
        if !listing.is_empty() {
            continue;
        }
        let known = status
            .iter()
            .filter(|row| row.pending != Some(side) && row.key(side).is_some())
            .count();
        let deletions = removals_on(actions, side.other());
        if known > 0 && deletions > 0 {
            return Some(Refusal::EmptySide {
                side,
                known,
                deletions,
            });
        }
    }
    None
}

/// How many messages `actions` delete on `side`, or mark `\\Deleted` there (on a side that does
/// not expunge, that is how a deletion arrives): what the empty-side guard weighs.
pub(crate) fn removals_on(actions: &[ItemAction], side: Side) -> usize {
    actions
        .iter()
        .filter(|action| removes_on(action, side))
        .count()
}

/// True if `action` deletes a message on `side` or marks it `\Deleted` there.
pub(super) fn removes_on(action: &ItemAction, side: Side) -> bool {
    match action {
        ItemAction::Delete { side: s, .. } => *s == side,
        ItemAction::Flags { set_a, set_b, .. } => {
            let set = match side {
                Side::A => set_a,
                Side::B => set_b,
            };
            set.as_ref()
                .is_some_and(|(_, flags)| flags.contains(Flag::Trashed))
        }
        _ => false,
    }
}

/// How many actions of each kind a plan holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanCounts {
    /// Copies *from* each side.
    pub copies: crate::side::PerSide<usize>,
    /// Flag changes applied to either side.
    pub flags: usize,
    /// Deletions *on* each side.
    pub deletions: crate::side::PerSide<usize>,
    /// Messages moved into this collection on one side because they were moved on the other.
    pub moves: usize,
    /// Items removed from the near side by the pair's limits.
    pub expired: usize,
    /// Copies the pair's limits held back.
    pub held_back: usize,
}

impl PlanCounts {
    /// Adds another count to this one.
    pub fn add(&mut self, other: &PlanCounts) {
        self.copies.a += other.copies.a;
        self.copies.b += other.copies.b;
        self.flags += other.flags;
        self.deletions.a += other.deletions.a;
        self.deletions.b += other.deletions.b;
        self.moves += other.moves;
        self.expired += other.expired;
        self.held_back += other.held_back;
    }

    /// Counts one more action.
    pub fn record(&mut self, action: &ItemAction) {
        match action {
            ItemAction::Copy { from, .. } => *self.copies.get_mut(*from) += 1,
            ItemAction::Flags { set_a, set_b, .. } => {
                self.flags += usize::from(set_a.is_some()) + usize::from(set_b.is_some())
            }
            ItemAction::Delete { side, .. } => *self.deletions.get_mut(*side) += 1,
            ItemAction::Expire { .. } => self.expired += 1,
            ItemAction::Forget { .. } => {}
        }
    }
}
