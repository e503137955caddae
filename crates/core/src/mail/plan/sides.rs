//! Decisions that depend on how each side may be written (policy `SideOptions`): expunge or
//! only mark `\Deleted`, move into a trash folder, and the removal of collections deleted on
//! the other side. Read-only sides need nothing here: the policy lets no change flow into them.
//!
//! The `\Deleted` model, per side S and the other side O:
//! - O lost a paired message: if S expunges, it is deleted on S (into S's trash, if any) and
//!   the row dropped; otherwise it is marked `\Deleted` on S and stays paired, until the user
//!   expunges it on S (then the row is forgotten) or clears the mark (then it is copied back to
//!   O: the user undeleted it).
//! - A paired message marked `\Deleted` (on either side: the flag is merged first) is removed on
//!   every side that expunges. If the other side keeps it (it does not expunge), the row stays,
//!   so that it is not mistaken for a new message there.

use crate::mail::flags::{Flag, Flags};
use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::status::StatusItem;
use crate::policy::SyncPolicy;
use crate::side::{PerSide, Side};

use super::action::{ItemAction, ItemPlan};

/// Flags each side should have, and what to record, after a per-flag three-way merge that only
/// lets changes through in the directions the policy allows.
pub(super) struct Merge {
    pub(super) a: Flags,
    pub(super) b: Flags,
    pub(super) agreed: Flags,
}

/// The delete action for `key` on `on`, through `on`'s trash folder if it has one.
fn delete(
    row: &StatusItem,
    on: Side,
    key: &ItemKey,
    keep_row: bool,
    policy: &SyncPolicy,
) -> ItemAction {
    // A replica's trash is its replica-only folder: what the master deleted is not kept.
    let trash = (!policy.mirrors())
        .then(|| policy.sides.get(on).trash.clone())
        .flatten();
    ItemAction::Delete {
        id: row.id,
        side: on,
        key: key.clone(),
        trash,
        keep_row,
    }
}

/// True for a new message marked `\Deleted` that a side of the pair would expunge as soon as it
/// is paired: it is not copied (mbsync does the same), and stays where it is, untouched, until
/// the user expunges it or clears the mark.
pub(super) fn deleted_anyway(entry: &ItemEntry, policy: &SyncPolicy) -> bool {
    // A replica holds what the master holds, marked messages too.
    !policy.mirrors()
        && entry.flags.contains(Flag::Trashed)
        && (policy.expunges_on(Side::A) || policy.expunges_on(Side::B))
}

/// A paired message that the side `gone` no longer has, while `present` is its copy on the
/// other side.
pub(super) fn gone_from(
    gone: Side,
    row: &StatusItem,
    present: &ItemEntry,
    policy: &SyncPolicy,
) -> Vec<ItemAction> {
    let on = gone.other();
    if gone == Side::B && policy.mirrors() {
        // Deleted on the replica: the master's copy goes there again.
        return vec![ItemAction::Copy {
            from: Side::A,
            key: present.key.clone(),
            flags: present.flags.clone(),
            replaces: Some(row.id),
            size: present.size,
        }];
    }
    if !policy.deletes_from(gone) {
        // A deletion that may not flow stays pending: the row is kept.
        return Vec::new();
    }
    if policy.sides.get(on).expunge {
        return vec![delete(row, on, &present.key, false, policy)];
    }
    let marked = present.flags.contains(Flag::Trashed);
    if marked {
        // Waiting for the user to expunge it on `on`.
        return Vec::new();
    }
    if row.flags.contains(Flag::Trashed) {
        // It was marked (by us or the user) and the mark is gone again: the user undeleted it,
        // so it is a message again that `gone` lacks.
        if policy.copies_new_from(on) {
            return vec![ItemAction::Copy {
                from: on,
                key: present.key.clone(),
                flags: present.flags.clone(),
                replaces: Some(row.id),
                size: present.size,
            }];
        }
        return Vec::new();
    }
    let flags = present.flags.clone().with(Flag::Trashed);
    let set = Some((present.key.clone(), flags.clone()));
    let (set_a, set_b) = match on {
        Side::A => (set, None),
        Side::B => (None, set),
    };
    vec![ItemAction::Flags {
        id: row.id,
        set_a,
        set_b,
        agreed: flags,
    }]
}

/// A paired message present on both sides, after the flag merge.
pub(super) fn both_present(
    row: &StatusItem,
    now: PerSide<&ItemEntry>,
    merge: Merge,
    policy: &SyncPolicy,
) -> Vec<ItemAction> {
    let merged = PerSide {
        a: merge.a,
        b: merge.b,
    };
    // A replica keeps a marked message as long as the master does: only the master's
    // expunge removes it.
    let expunged = |side: Side| {
        merged.get(side).contains(Flag::Trashed) && policy.expunges_on(side) && !policy.mirrors()
    };
    let expunge = PerSide {
        a: expunged(Side::A),
        b: expunged(Side::B),
    };
    let mut actions = Vec::new();
    if expunge.a && expunge.b {
        for side in [Side::A, Side::B] {
            actions.push(delete(row, side, &now.get(side).key, false, policy));
        }
        return actions;
    }
    // The side that expunges gets the merged flags (the \Deleted mark) first too: the status
    // records them before the delete, and a run killed in between must find them there, not
    // mistake the missing mark for a user who cleared it.
    let set = |side: Side| -> Option<(ItemKey, Flags)> {
        let (entry, flags) = (now.get(side), merged.get(side));
        (*flags != entry.flags).then(|| (entry.key.clone(), flags.clone()))
    };
    let (set_a, set_b) = (set(Side::A), set(Side::B));
    let status_changes = merge.agreed != row.flags || row.pending.is_some();
    if set_a.is_some() || set_b.is_some() || status_changes {
        actions.push(ItemAction::Flags {
            id: row.id,
            set_a,
            set_b,
            agreed: merge.agreed,
        });
    }
    for side in [Side::A, Side::B] {
        if *expunge.get(side) {
            // The other side keeps it, marked: the row stays.
            actions.push(delete(row, side, &now.get(side).key, true, policy));
        }
    }
    actions
}

/// True if `action` changes something on `side`.
pub(super) fn writes(action: &ItemAction, side: Side) -> bool {
    match action {
        ItemAction::Copy { from, .. } => *from != side,
        ItemAction::Flags { set_a, set_b, .. } => match side {
            Side::A => set_a.is_some(),
            Side::B => set_b.is_some(),
        },
        ItemAction::Delete { side: on, .. }
        | ItemAction::Expire { side: on, .. }
        | ItemAction::Discard { side: on, .. } => *on == side,
        ItemAction::Forget { .. } => false,
    }
}

/// Confirms the removal of a collection on `on` that the other side deleted: every message it
/// holds on `on` must be paired (so the other side had it and deleted it with the folder);
/// then they are deleted (through `on`'s trash, if any) before the collection is removed.
/// `None` if it holds anything unsynced or half-copied: then it is kept and recreated instead.
pub fn plan_removal(
    status: &[StatusItem],
    on: Side,
    listing: &[ItemEntry],
    policy: &SyncPolicy,
) -> Option<ItemPlan> {
    let paired: std::collections::HashMap<&ItemKey, &StatusItem> = status
        .iter()
        .filter(|row| row.pending.is_none() && row.key(on.other()).is_some())
        .filter_map(|row| row.key(on).map(|key| (key, row)))
        .collect();
    let mut actions = Vec::with_capacity(listing.len());
    for entry in listing {
        let row = paired.get(&entry.key)?;
        actions.push(delete(row, on, &entry.key, false, policy));
    }
    Some(ItemPlan {
        actions,
        ..ItemPlan::default()
    })
}
