//! Decisions for the items of one collection.

use std::collections::HashMap;

use crate::mail::flags::{Flag, Flags};
use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::keywords::KeywordScope;
use crate::mail::status::StatusItem;
use crate::policy::{OnEmpty, SyncPolicy};
use crate::side::{PerSide, Side};

use super::action::{ItemAction, ItemPlan, removals_on};
use super::sides::{self, Merge};
use crate::guard::{self, Refusal};

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
    if policy.mirrors() {
        // Only the replica has it: the master wins.
        let trash = &policy.sides.b.trash;
        actions.extend(b.iter().filter(|e| !known_b.contains(&e.key)).map(|entry| {
            ItemAction::Discard {
                side: Side::B,
                key: entry.key.clone(),
                trash: trash.clone(),
            }
        }));
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
    let mirror = policy.mirrors();
    let decide = |was: bool, on_a: bool, on_b: bool| -> (bool, bool, bool) {
        if mirror {
            // The replica gets the master's value, whoever changed it.
            return (on_a, on_a, on_a);
        }
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
        if let Some(refusal) = guard::empty_side(side, known, deletions) {
            return Some(refusal);
        }
    }
    None
}

/// How many changes each read-only side would receive if it were writable: they wait (the
/// status keeps the old value, so they are not forgotten), and the user is told how many.
pub fn held_for_read_only(
    status: &[StatusItem],
    a: &[ItemEntry],
    b: &[ItemEntry],
    policy: &SyncPolicy,
) -> PerSide<usize> {
    let mut held = PerSide::default();
    for side in [Side::A, Side::B] {
        if !policy.sides.get(side).read_only {
            continue;
        }
        let mut writable = policy.clone();
        writable.sides.get_mut(side).read_only = false;
        let plan = plan_items(status, a, b, &writable);
        *held.get_mut(side) = plan
            .actions
            .iter()
            .filter(|action| sides::writes(action, side))
            .count();
    }
    held
}
