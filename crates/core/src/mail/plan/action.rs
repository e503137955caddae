//! The plan's vocabulary for the items of one mail collection: the actions ([`ItemAction`]), a
//! collection's [`ItemPlan`], what the limits hold back ([`HeldBack`]) and the counts a plan
//! is summarised by. The deciding modules (`items`, `sides`, `limits`, `max_delete`) all speak
//! it; it imports none of them, which keeps the planner free of import circles.

use crate::guard::Refusal;
use crate::mail::flags::{Flag, Flags};
use crate::mail::item::ItemKey;
use crate::mail::status::ItemId;
use crate::name::CollectionName;
use crate::side::Side;

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
    /// Remove the item `key` that only `side` has and the status does not know: a message
    /// found only on the replica of a mirror ([`crate::policy::Direction::Mirror`]).
    Discard {
        /// The side to remove it from.
        side: Side,
        /// Its key there.
        key: ItemKey,
        /// Move it into this collection of `side` instead (the replica-only folder).
        trash: Option<CollectionName>,
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

/// The plan for the items of one collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemPlan {
    /// What to do, in no particular order (the executor groups actions by kind). When
    /// `refused` is set, none of them may be carried out.
    pub actions: Vec<ItemAction>,
    /// Set when a safety check withheld every action.
    pub refused: Option<Refusal>,
    /// Copies the pair's limits hold back (not actions: nothing is done about them).
    pub held_back: Vec<HeldBack>,
}

/// Why a copy was held back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitReason {
    /// Bigger than `max_size`.
    TooBig {
        /// The message's size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Arrived before `max_age` ago.
    TooOld,
    /// Not among the `max_messages` newest.
    BeyondCount {
        /// The limit.
        max: usize,
    },
}

/// A copy to the near side that the limits hold back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldBack {
    /// The side that has the item (the far side).
    pub from: Side,
    /// Its key there.
    pub key: ItemKey,
    /// Its flags there, for the status row that remembers it.
    pub flags: Flags,
    /// Why.
    pub reason: LimitReason,
}

impl std::fmt::Display for HeldBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (from, key) = (self.from, &self.key);
        write!(f, "not copied {from}->{} {key}: ", from.other())?;
        match self.reason {
            LimitReason::TooBig { size, max } => {
                write!(f, "{size} bytes, bigger than max_size ({max} bytes)")
            }
            LimitReason::TooOld => f.write_str("older than max_age"),
            LimitReason::BeyondCount { max } => {
                write!(f, "not among the {max} newest (max_messages)")
            }
        }
    }
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
pub(crate) fn removes_on(action: &ItemAction, side: Side) -> bool {
    match action {
        // Not a discard: the guards weigh what the status knows, and only a replica, which
        // must hold nothing else, discards.
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
    /// Messages whose file or UID another program changed on one side (OfflineIMAP and mbsync
    /// rename the files they upload or fetch again), recognised there by content: the pairing
    /// took the new key; nothing was copied or deleted.
    pub renamed: usize,
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
        self.renamed += other.renamed;
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
            ItemAction::Delete { side, .. } | ItemAction::Discard { side, .. } => {
                *self.deletions.get_mut(*side) += 1
            }
            ItemAction::Expire { .. } => self.expired += 1,
            ItemAction::Forget { .. } => {}
        }
    }
}
