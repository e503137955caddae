//! The pure decisions for the items of one calendar or address book: vdirsyncer's algorithm.
//!
//! Items are matched across sides by UID. A side *changed* an item when the status has no row
//! for it, or when its version (href, etag) moved **and** its normalised content hash differs
//! from the one recorded: a server that rewrote DTSTAMP or PRODID moved the etag but changed
//! nothing, which only refreshes the status. Then, per UID:
//!
//! | status | A | B | decision |
//! |---|---|---|---|
//! | – | present | – | copy A→B |
//! | – | present | present | same hash: record; else conflict |
//! | row | unchanged | unchanged | nothing (or record a moved etag) |
//! | row | changed | unchanged | update B from A |
//! | row | changed | changed | same hash: record; else conflict |
//! | row | unchanged | gone | delete on A |
//! | row | changed | gone | copy A→B again (a change beats a deletion) |
//! | row | gone | gone | forget the row |
//!
//! (and the mirror images). A one-way pair lets changes flow only from its source, and in a
//! conflict the source wins, since the other side is a mirror. The empty-side guard withholds
//! every action of a collection when a side that had items lists none and the plan would
//! delete on the other side; the deletion-share guard (`max_delete`) when a side that still
//! lists some items lost more of them than the pair lets one run delete on the other side.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::guard::{self, Refusal};
use crate::policy::{Direction, OnEmpty};
use crate::side::{PerSide, Side};

use super::model::{ConflictPolicy, ItemPolicy, ItemVersion, RowId, StatusRow};

/// One thing to do for one item, named by its UID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemAction {
    /// Create the item on the other side of `from`, where it is absent.
    Copy {
        /// The item's UID.
        uid: String,
        /// The side whose version is copied.
        from: Side,
    },
    /// Replace the other side's version with `from`'s (conditional on the other side's etag).
    Update {
        /// The item's UID.
        uid: String,
        /// The side whose version wins.
        from: Side,
    },
    /// Delete the item on `side` (conditional on its etag), then drop its row.
    Delete {
        /// The item's UID.
        uid: String,
        /// The side it is deleted on.
        side: Side,
    },
    /// Both sides hold the same content: record their current versions.
    Record {
        /// The item's UID.
        uid: String,
    },
    /// The item is gone from both sides: drop its row.
    Forget {
        /// The item's UID.
        uid: String,
    },
    /// Both sides changed the item differently and the policy does not pick a winner.
    Conflict {
        /// The item's UID.
        uid: String,
    },
}

impl ItemAction {
    /// The UID the action is about.
    pub fn uid(&self) -> &str {
        match self {
            ItemAction::Copy { uid, .. }
            | ItemAction::Update { uid, .. }
            | ItemAction::Delete { uid, .. }
            | ItemAction::Record { uid }
            | ItemAction::Forget { uid }
            | ItemAction::Conflict { uid } => uid,
        }
    }
}

impl fmt::Display for ItemAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemAction::Copy { uid, from } => write!(f, "copy {from}->{} {uid}", from.other()),
            ItemAction::Update { uid, from } => {
                write!(f, "update {from}->{} {uid}", from.other())
            }
            ItemAction::Delete { uid, side } => write!(f, "delete on {side} {uid}"),
            ItemAction::Record { uid } => write!(f, "record {uid} (same content on both sides)"),
            ItemAction::Forget { uid } => write!(f, "forget {uid} (gone from both sides)"),
            ItemAction::Conflict { uid } => write!(f, "conflict {uid}"),
        }
    }
}

/// The plan for the items of one collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemPlan {
    /// What to do, in UID order.
    pub actions: Vec<ItemAction>,
    /// Set when the empty-side guard withheld every action.
    pub refused: Option<Refusal>,
}

/// How many actions of each visible kind a plan holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItemCounts {
    /// Items created *on* each side.
    pub created: PerSide<usize>,
    /// Items updated *on* each side.
    pub updated: PerSide<usize>,
    /// Items deleted *on* each side.
    pub deleted: PerSide<usize>,
    /// Conflicts left for the user.
    pub conflicts: usize,
}

impl ItemCounts {
    /// Counts one more action.
    pub fn record(&mut self, action: &ItemAction) {
        match action {
            ItemAction::Copy { from, .. } => *self.created.get_mut(from.other()) += 1,
            ItemAction::Update { from, .. } => *self.updated.get_mut(from.other()) += 1,
            ItemAction::Delete { side, .. } => *self.deleted.get_mut(*side) += 1,
            ItemAction::Conflict { .. } => self.conflicts += 1,
            ItemAction::Record { .. } | ItemAction::Forget { .. } => {}
        }
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &ItemCounts) {
        for side in [Side::A, Side::B] {
            *self.created.get_mut(side) += other.created.get(side);
            *self.updated.get_mut(side) += other.updated.get(side);
            *self.deleted.get_mut(side) += other.deleted.get(side);
        }
        self.conflicts += other.conflicts;
    }
}

impl fmt::Display for ItemCounts {
    /// `"2 created on b, 1 updated on a, 1 conflict"` or `"nothing"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (what, counts) in [
            ("created", &self.created),
            ("updated", &self.updated),
            ("deleted", &self.deleted),
        ] {
            for side in [Side::A, Side::B] {
                let n = *counts.get(side);
                if n > 0 {
                    parts.push(format!("{n} {what} on {side}"));
                }
            }
        }
        match self.conflicts {
            0 => {}
            1 => parts.push("1 conflict".to_owned()),
            n => parts.push(format!("{n} conflicts")),
        }
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

impl ItemPlan {
    /// How many actions of each kind the plan holds.
    pub fn counts(&self) -> ItemCounts {
        let mut counts = ItemCounts::default();
        for action in &self.actions {
            counts.record(action);
        }
        counts
    }
}

/// Plans one collection: `status` as recorded, `a` and `b` the items on each side now, by UID.
pub fn plan_items(
    status: &[StatusRow],
    a: &BTreeMap<String, ItemVersion>,
    b: &BTreeMap<String, ItemVersion>,
    policy: &ItemPolicy,
) -> ItemPlan {
    let rows: BTreeMap<&str, &StatusRow> = status.iter().map(|r| (r.uid.as_str(), r)).collect();
    let uids: BTreeSet<&str> = rows
        .keys()
        .copied()
        .chain(a.keys().map(String::as_str))
        .chain(b.keys().map(String::as_str))
        .collect();
    let mut actions: Vec<ItemAction> = uids
        .into_iter()
        .filter_map(|uid| decide(uid, rows.get(uid).copied(), a.get(uid), b.get(uid), policy))
        .collect();
    let refused = empty_side_refusal(status, a, b, &actions, policy)
        .or_else(|| share_refusal(status, a, b, &actions, policy));
    if refused.is_some() {
        actions.clear();
    }
    ItemPlan { actions, refused }
}

/// The decision for one UID; `None` when nothing is to be done.
pub fn decide(
    uid: &str,
    row: Option<&StatusRow>,
    a: Option<&ItemVersion>,
    b: Option<&ItemVersion>,
    policy: &ItemPolicy,
) -> Option<ItemAction> {
    let uid = uid.to_owned();
    let changed = |side: Side, now: &ItemVersion| match row {
        None => true,
        Some(row) => !now.same_version(row.side(side)) && now.hash != row.side(side).hash,
    };
    let moved =
        |side: Side, now: &ItemVersion| row.is_some_and(|r| !now.same_version(r.side(side)));
    let sync = &policy.sync;
    match (row, a, b) {
        (_, None, None) => row.map(|_| ItemAction::Forget { uid }),
        (None, Some(_), None) => sync
            .copies_new_from(Side::A)
            .then_some(ItemAction::Copy { uid, from: Side::A }),
        (None, None, Some(_)) => sync
            .copies_new_from(Side::B)
            .then_some(ItemAction::Copy { uid, from: Side::B }),
        (Some(_), Some(now), None) | (Some(_), None, Some(now)) => {
            let present = if a.is_some() { Side::A } else { Side::B };
            if changed(present, now) {
                // A change beats a deletion: the item comes back on the side that deleted it.
                sync.copies_new_from(present)
                    .then_some(ItemAction::Copy { uid, from: present })
            } else {
                sync.deletes_from(present.other())
                    .then_some(ItemAction::Delete { uid, side: present })
            }
        }
        (_, Some(va), Some(vb)) => {
            let (ca, cb) = (changed(Side::A, va), changed(Side::B, vb));
            if va.hash == vb.hash {
                // Same content: at most the status needs the new versions.
                return (row.is_none() || moved(Side::A, va) || moved(Side::B, vb))
                    .then_some(ItemAction::Record { uid });
            }
            match (ca, cb) {
                (false, false) => None,
                (true, false) => sync
                    .direction
                    .allows_from(Side::A)
                    .then_some(ItemAction::Update { uid, from: Side::A }),
                (false, true) => sync
                    .direction
                    .allows_from(Side::B)
                    .then_some(ItemAction::Update { uid, from: Side::B }),
                (true, true) => Some(conflict(uid, policy)),
            }
        }
    }
}

/// The action for a true conflict: a one-way pair's source wins; otherwise the policy decides.
fn conflict(uid: String, policy: &ItemPolicy) -> ItemAction {
    match (policy.sync.direction, &policy.conflict) {
        (Direction::AToB | Direction::Mirror, _) | (Direction::Both, ConflictPolicy::KeepA) => {
            ItemAction::Update { uid, from: Side::A }
        }
        (Direction::BToA, _) | (Direction::Both, ConflictPolicy::KeepB) => {
            ItemAction::Update { uid, from: Side::B }
        }
        (Direction::Both, ConflictPolicy::Report | ConflictPolicy::Command(_)) => {
            ItemAction::Conflict { uid }
        }
    }
}

/// The empty-side guard: a side that lists nothing although the status remembers items there
/// is far more often a wiped directory or a confused server than a user who deleted a whole
/// calendar.
fn empty_side_refusal(
    status: &[StatusRow],
    a: &BTreeMap<String, ItemVersion>,
    b: &BTreeMap<String, ItemVersion>,
    actions: &[ItemAction],
    policy: &ItemPolicy,
) -> Option<Refusal> {
    if policy.sync.on_empty == OnEmpty::Sync || status.is_empty() {
        return None;
    }
    for (side, now) in [(Side::A, a), (Side::B, b)] {
        if !now.is_empty() {
            continue;
        }
        let deletions = deletions_on(actions, side.other()).count();
        if let Some(refusal) = guard::empty_side(side, status.len(), deletions) {
            return Some(refusal);
        }
    }
    None
}

/// The deletion-share guard: a side that still lists items but lost more of those the status
/// knows than `max_delete` allows (an empty side is the empty-side guard's). Every row is an
/// item both sides held, and a delete on one side is planned only for an item the other side
/// lost, so the deletions on the other side are exactly the losses that would spread.
fn share_refusal(
    status: &[StatusRow],
    a: &BTreeMap<String, ItemVersion>,
    b: &BTreeMap<String, ItemVersion>,
    actions: &[ItemAction],
    policy: &ItemPolicy,
) -> Option<Refusal> {
    let ids: BTreeMap<&str, RowId> = status
        .iter()
        .map(|row| (row.uid.as_str(), row.id))
        .collect();
    for (side, now) in [(Side::A, a), (Side::B, b)] {
        if now.is_empty() {
            continue;
        }
        let mut rows: Vec<RowId> = deletions_on(actions, side.other())
            .filter_map(|action| ids.get(action.uid()).copied())
            .collect();
        rows.sort_unstable();
        if let Some(refusal) =
            guard::too_many_deletions(side, status.len(), rows, policy.sync.max_delete)
        {
            return Some(refusal);
        }
    }
    None
}

/// The deletions `actions` make on `side`.
fn deletions_on(actions: &[ItemAction], side: Side) -> impl Iterator<Item = &ItemAction> {
    actions
        .iter()
        .filter(move |action| matches!(action, ItemAction::Delete { side: s, .. } if *s == side))
}
