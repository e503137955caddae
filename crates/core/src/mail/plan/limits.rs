//! The near side's limits (`max_size`, `max_messages`, `max_age`): which copies to hold back
//! and which items to expire there. Pure, like the rest of the planner.
//!
//! The rule is one set, computed the same way every run: the near side keeps the messages that
//! fit `max_size`, are among the `max_messages` newest of the collection and arrived within
//! `max_age`, plus every unread or flagged one. A message outside that set is not copied to the
//! near side (it is *held back*: the status records it with its far key only, marked expired
//! on the near side, so that later listings know it), or, if it is there and paired, expired
//! there: removed from the near side only. Because the set depends only on the messages
//! themselves, a second run finds nothing to do, and a message that re-enters the set (marked
//! unread, a raised limit) is copied again.
//!
//! "Newest" is by arrival in the folder ([`Arrivals`]): the far side's arrival date (IMAP
//! INTERNALDATE, a Maildir file's time), except for a message the pair uploaded from the near
//! side. An upload carries the original's date (so that mail readers sort it as before), which
//! says nothing about when it entered this folder: it ranks by the moment the pair first found
//! it on the near side, if that is later. A message someone put into the near folder is
//! therefore the newest there once uploaded, as it is under mbsync's ranking by UID, and the
//! run right after its upload keeps it whatever its rank.
//!
//! What is never done: anything to the far side; expiring an item the far side does not hold
//! (it would be lost); expiring an item whose flag change on the near side has not reached the
//! far side yet (the next run expires it, once the change is safe there).

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

pub use super::action::{HeldBack, LimitReason};
use super::action::{ItemAction, ItemPlan};
use crate::mail::flags::{Flag, Flags};
use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::status::{ItemId, StatusItem};
use crate::policy::SyncPolicy;
use crate::side::Side;

/// What the limits rank a collection's messages by (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Arrivals {
    /// The far side's arrival date of its items, by key. An item without one counts as
    /// newest, so that a missing date never removes anything.
    pub far: HashMap<ItemKey, SystemTime>,
    /// When the pair first found an item on the near side that the far side did not have, by
    /// near key: once uploaded, that is when it arrived on the far side.
    pub near: HashMap<ItemKey, SystemTime>,
    /// Far keys whose date was not known before this run: ranked for the first time.
    pub first_ranked: HashSet<ItemKey>,
}

impl Arrivals {
    /// The arrival of the item `far` on the far side, paired with `near` on the near side.
    fn of_pair(&self, far: &ItemKey, near: &ItemKey) -> Option<SystemTime> {
        let date = self.far.get(far).copied();
        match (date, self.near.get(near)) {
            (Some(date), Some(found)) => Some(date.max(*found)),
            (date, _) => date,
        }
    }

    /// True for an upload (found on the near side first) that no run has ranked on the far
    /// side yet: this is the run right after its upload.
    fn just_uploaded(&self, far: &ItemKey, near: &ItemKey) -> bool {
        self.near.contains_key(near) && self.first_ranked.contains(far)
    }
}

/// The decision for a row whose item was expired on `side` (by an earlier run, or by one that
/// was interrupted before it recorded the removal).
pub(super) fn decide_expired(
    row: &StatusItem,
    side: Side,
    now_a: Option<&ItemEntry>,
    now_b: Option<&ItemEntry>,
    policy: &SyncPolicy,
) -> Option<ItemAction> {
    let (near, far) = match side {
        Side::A => (now_a, now_b),
        Side::B => (now_b, now_a),
    };
    match (near, far) {
        (None, None) => Some(ItemAction::Forget { id: row.id }),
        // The far side deleted it while an expiry was unfinished: an ordinary deletion.
        (Some(entry), None) if policy.deletes_from(side.other()) => Some(ItemAction::Delete {
            id: row.id,
            side,
            key: entry.key.clone(),
            trash: policy.sides.get(side).trash.clone(),
            keep_row: false,
        }),
        // The expiry was interrupted: finish it (removing an item that is already gone is not
        // an error, and the row then forgets the key).
        (Some(entry), _) => Some(ItemAction::Expire {
            id: row.id,
            side,
            key: entry.key.clone(),
        }),
        (None, Some(far)) => match row.key(side) {
            Some(key) => Some(ItemAction::Expire {
                id: row.id,
                side,
                key: key.clone(),
            }),
            // Held back or expired: the row follows the far side's flags, since an incremental
            // listing starts from them and would otherwise not show a change reported to an
            // earlier run.
            None => (far.flags != row.flags).then(|| ItemAction::Flags {
                id: row.id,
                set_a: None,
                set_b: None,
                agreed: far.flags.clone(),
            }),
        },
    }
}

/// True for a message the limits never remove: unread or flagged.
fn protected(flags: &Flags) -> bool {
    !flags.contains(Flag::Seen) || flags.contains(Flag::Flagged)
}

/// What one candidate for the near side is.
enum Kind {
    /// Paired and on both sides; `expirable` unless a change of it still has to reach the far
    /// side.
    Present {
        id: ItemId,
        key: ItemKey,
        expirable: bool,
    },
    /// A planned copy from the far side (the index of its action).
    Incoming { action: usize },
    /// Expired earlier; the far side still has it.
    Expired { id: ItemId, far: ItemEntry },
    /// On the near side only (not yet copied to the far side): never removed.
    Local,
}

struct Candidate {
    /// The arrival in the folder ([`Arrivals`]); `None` counts as newest.
    date: Option<SystemTime>,
    /// The far side's own date, for the order among equal arrivals (uploads found together).
    far_date: Option<SystemTime>,
    /// For a stable order among equal dates.
    key: ItemKey,
    /// Kept whatever the limits say: unread or flagged, or uploaded by the previous run.
    protected: bool,
    kind: Kind,
}

/// Applies the pair's limits to a planned collection: holds back copies to the near side that
/// the limits exclude, expires paired items there that they no longer keep, and copies again
/// expired (or held-back) items that they keep now. The ranking is by `arrivals`.
pub fn apply_limits(
    plan: &mut ItemPlan,
    status: &[StatusItem],
    a: &[ItemEntry],
    b: &[ItemEntry],
    arrivals: &Arrivals,
    policy: &SyncPolicy,
    now: SystemTime,
) {
    let limits = policy.limits;
    // Without limits, items expired earlier still come back: removing a limit is how a user
    // asks for everything again.
    let Some(near) = limits
        .near
        .or_else(|| status.iter().find_map(|row| row.expired))
    else {
        return;
    };
    let far = near.other();
    let (near_list, far_list) = match near {
        Side::A => (a, b),
        Side::B => (b, a),
    };
    let near_by_key: HashMap<&ItemKey, &ItemEntry> =
        near_list.iter().map(|e| (&e.key, e)).collect();
    let far_by_key: HashMap<&ItemKey, &ItemEntry> = far_list.iter().map(|e| (&e.key, e)).collect();
    let action_of_row: HashMap<ItemId, usize> = plan
        .actions
        .iter()
        .enumerate()
        .filter_map(|(index, action)| row_of(action).map(|id| (id, index)))
        .collect();

    let mut candidates = Vec::new();
    let mut paired_near: HashSet<&ItemKey> = HashSet::new();
    for row in status.iter().filter(|row| row.pending.is_none()) {
        let now_near = row.key(near).and_then(|k| near_by_key.get(k).copied());
        let now_far = row.key(far).and_then(|k| far_by_key.get(k).copied());
        if let Some(entry) = now_near {
            paired_near.insert(&entry.key);
        }
        match (row.expired, now_near, now_far) {
            (None, Some(n), Some(f)) => {
                let expirable = match action_of_row.get(&row.id).map(|i| &plan.actions[*i]) {
                    None => true,
                    Some(ItemAction::Flags { set_a, set_b, .. }) => match far {
                        Side::A => set_a.is_none(),
                        Side::B => set_b.is_none(),
                    },
                    Some(_) => false,
                };
                candidates.push(Candidate {
                    date: arrivals.of_pair(&f.key, &n.key),
                    far_date: arrivals.far.get(&f.key).copied(),
                    key: f.key.clone(),
                    protected: protected(&n.flags)
                        || protected(&f.flags)
                        || arrivals.just_uploaded(&f.key, &n.key),
                    kind: Kind::Present {
                        id: row.id,
                        key: n.key.clone(),
                        expirable,
                    },
                });
            }
            (Some(side), None, Some(f))
                if side == near
                    && row.key(near).is_none()
                    && too_big(f.size, limits.max_size).is_none() =>
            {
                candidates.push(Candidate {
                    date: arrivals.far.get(&f.key).copied(),
                    far_date: arrivals.far.get(&f.key).copied(),
                    key: f.key.clone(),
                    protected: protected(&f.flags),
                    kind: Kind::Expired {
                        id: row.id,
                        far: f.clone(),
                    },
                });
            }
            _ => {}
        }
    }
    let mut held_back = Vec::new();
    let mut dropped: Vec<(usize, Option<ItemAction>)> = Vec::new();
    for (index, action) in plan.actions.iter().enumerate() {
        let ItemAction::Copy {
            from,
            key,
            flags,
            replaces,
            size,
        } = action
        else {
            continue;
        };
        if *from == near {
            continue;
        }
        if let Some(reason) = too_big(*size, limits.max_size) {
            held_back.push(HeldBack {
                from: *from,
                key: key.clone(),
                flags: flags.clone(),
                reason,
            });
            dropped.push((index, replaces.map(|id| ItemAction::Forget { id })));
            continue;
        }
        candidates.push(Candidate {
            date: arrivals.far.get(key).copied(),
            far_date: arrivals.far.get(key).copied(),
            key: key.clone(),
            protected: protected(flags),
            kind: Kind::Incoming { action: index },
        });
    }
    for entry in near_list.iter().filter(|e| !paired_near.contains(&e.key)) {
        candidates.push(Candidate {
            date: None,
            far_date: None,
            key: entry.key.clone(),
            protected: true,
            kind: Kind::Local,
        });
    }

    // Newest first; an unknown date first of all.
    candidates.sort_by(|x, y| {
        newest_first(x.date, y.date)
            .then_with(|| newest_first(x.far_date, y.far_date))
            .then_with(|| y.key.cmp(&x.key))
    });
    let cutoff = limits.max_age.and_then(|age| now.checked_sub(age));
    let mut expire: Vec<(ItemId, ItemKey)> = Vec::new();
    for (rank, candidate) in candidates.into_iter().enumerate() {
        let too_old = matches!((cutoff, candidate.date), (Some(c), Some(d)) if d < c);
        let beyond = limits.max_messages.filter(|max| rank >= *max);
        let reason = if too_old {
            Some(LimitReason::TooOld)
        } else {
            beyond.map(|max| LimitReason::BeyondCount { max })
        };
        let keep = candidate.protected || reason.is_none();
        match candidate.kind {
            Kind::Incoming { action } if !keep => {
                if let (
                    ItemAction::Copy {
                        from,
                        key,
                        flags,
                        replaces,
                        ..
                    },
                    Some(reason),
                ) = (&plan.actions[action], reason)
                {
                    held_back.push(HeldBack {
                        from: *from,
                        key: key.clone(),
                        flags: flags.clone(),
                        reason,
                    });
                    dropped.push((action, replaces.map(|id| ItemAction::Forget { id })));
                }
            }
            Kind::Present {
                id,
                key,
                expirable: true,
            } if !keep => expire.push((id, key)),
            // An unknown date (the far side did not answer) is no reason to download again
            // what was expired: that would undo the expiry only to redo it next run.
            Kind::Expired { id, far: entry }
                if keep
                    && (candidate.protected
                        || candidate.date.is_some()
                        || !limits.needs_dates())
                    && policy.copies_new_from(far) =>
            {
                // The row is dropped first and the copy made as new mail, not as the retry of an
                // interrupted copy (which the executor would remember as abandoned). The row's
                // own action (a flag record) is moot.
                let forget = ItemAction::Forget { id };
                match action_of_row.get(&id) {
                    Some(index) => dropped.push((*index, Some(forget))),
                    None => plan.actions.push(forget),
                }
                plan.actions.push(ItemAction::Copy {
                    from: far,
                    key: entry.key.clone(),
                    flags: entry.flags.clone(),
                    replaces: None,
                    size: entry.size,
                });
            }
            _ => {}
        }
    }

    // An expired item's own flag change (on the near side only) is moot: it is replaced.
    for (id, key) in expire {
        let action = ItemAction::Expire {
            id,
            side: near,
            key,
        };
        match action_of_row.get(&id) {
            Some(index) => dropped.push((*index, Some(action))),
            None => plan.actions.push(action),
        }
    }
    // Replace or remove from the highest index down, so that the others stay valid.
    dropped.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
    for (index, replacement) in dropped {
        match replacement {
            Some(action) => plan.actions[index] = action,
            None => {
                plan.actions.remove(index);
            }
        }
    }
    held_back.sort_by(|x, y| x.key.cmp(&y.key));
    plan.held_back = held_back;
}

/// Orders dates newest first, an unknown one before all others.
fn newest_first(x: Option<SystemTime>, y: Option<SystemTime>) -> std::cmp::Ordering {
    match (x, y) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x),
    }
}

fn too_big(size: Option<u64>, max: Option<u64>) -> Option<LimitReason> {
    match (size, max) {
        (Some(size), Some(max)) if size > max => Some(LimitReason::TooBig { size, max }),
        _ => None,
    }
}

/// The status row an action concerns, if any.
fn row_of(action: &ItemAction) -> Option<ItemId> {
    match action {
        ItemAction::Flags { id, .. }
        | ItemAction::Delete { id, .. }
        | ItemAction::Forget { id }
        | ItemAction::Expire { id, .. } => Some(*id),
        ItemAction::Copy { replaces, .. } => *replaces,
        ItemAction::Discard { .. } => None,
    }
}
