//! What a pair is allowed to change: the user's choices, resolved from the configuration.

use crate::name::CollectionName;
use crate::side::{PerSide, Side};

/// Which way changes flow between the sides of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Changes on either side are copied to the other.
    #[default]
    Both,
    /// Only changes on A reach B; B is a mirror (its own changes are left alone, not undone).
    AToB,
    /// Only changes on B reach A.
    BToA,
    /// A is the master and B its replica, kept identical (`pimlink replicate`): A's changes
    /// reach B, and what changed on B alone is undone there: its flags are reset to A's, a
    /// message deleted there is copied again, and a message only B has is removed (moved into
    /// B's `trash` when it has one: the replica-only folder; what A deleted is removed from B
    /// without it, so that B keeps nothing A lacks).
    Mirror,
}

impl Direction {
    /// True if changes made on `from` may be applied to the other side.
    pub fn allows_from(self, from: Side) -> bool {
        match self {
            Direction::Both => true,
            Direction::AToB | Direction::Mirror => from == Side::A,
            Direction::BToA => from == Side::B,
        }
    }
}

/// Which kinds of change propagate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operations {
    /// New items are copied.
    pub new: bool,
    /// Flag changes are merged.
    pub flags: bool,
    /// Deletions are propagated.
    pub delete: bool,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            new: true,
            flags: true,
            delete: true,
        }
    }
}

/// What to do when a collection that had items is suddenly empty on one side while the other
/// still holds them: the classic way to lose everything (a wiped local tree, a server that
/// answered with an empty folder).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnEmpty {
    /// Do nothing in that collection and report it (the default).
    #[default]
    Refuse,
    /// Propagate the deletions.
    Sync,
}

/// The deletion-share guard (`max_delete`): a side that lost most of a collection since the last
/// run (a wiped or half-restored local tree, a server that lists a fraction of a folder) is far
/// more often an accident than a user's clean-up, and propagating it would empty the other side
/// too. The empty-side guard ([`OnEmpty`]) covers a side that lists nothing at all; this one the
/// side that still lists a few items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxDelete {
    /// The largest share, in percent of the items the status knows on a side, whose deletion
    /// one run may propagate from that side; 100 never refuses.
    percent: u8,
}

impl MaxDelete {
    /// Deletions of at most this many items are never refused for their share: in a folder of
    /// a handful of messages, deleting most of them is ordinary tidying, and refusing it would
    /// fail cron runs for nothing (a side emptied completely still meets the empty-side guard).
    pub const FEW: usize = 5;

    /// The default, `"50%"`.
    pub const DEFAULT: MaxDelete = MaxDelete { percent: 50 };

    /// `"100%"`: no limit (what `--force` sets for a run).
    pub const UNLIMITED: MaxDelete = MaxDelete { percent: 100 };

    /// The limit of `percent` % of a collection; `None` above 100.
    pub fn percent(percent: u8) -> Option<Self> {
        (percent <= 100).then_some(Self { percent })
    }

    /// The share in percent.
    pub fn as_percent(self) -> u8 {
        self.percent
    }

    /// True if deleting `deletions` of the `known` items of a collection is too much: more
    /// than [`MaxDelete::FEW`] items and more than the share.
    pub fn refuses(self, deletions: usize, known: usize) -> bool {
        // In u128, no count times 100 overflows.
        deletions > Self::FEW && deletions as u128 * 100 > u128::from(self.percent) * known as u128
    }
}

impl Default for MaxDelete {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl std::fmt::Display for MaxDelete {
    /// As written in the configuration: `50%`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%", self.percent)
    }
}

/// How one side of a pair may be written: mbsync's per-side `Expunge`, `Remove` and `Trash`,
/// OfflineIMAP's `readonly`. See `crate::mail::plan` (module `sides`) for what each one decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideOptions {
    /// Never write this side: no copies, flag changes, deletions or new collections. Changes it
    /// would need stay pending, as with a one-way pair.
    pub read_only: bool,
    /// Remove messages here (deleted on the other side, or marked `\Deleted` by the user).
    /// Without it a deletion from the other side only marks the message `\Deleted` here.
    pub expunge: bool,
    /// Before a message is removed here, move it into this collection of this side.
    pub trash: Option<CollectionName>,
    /// Remove a collection here that was deleted on the other side, if that loses nothing.
    pub remove: bool,
}

impl Default for SideOptions {
    /// Writable, expunging, no trash, collections are recreated rather than removed: how a pair
    /// behaves without these keys.
    fn default() -> Self {
        Self {
            read_only: false,
            expunge: true,
            trash: None,
            remove: false,
        }
    }
}

/// The resolved policy of one pair.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SyncPolicy {
    /// Which way changes flow.
    pub direction: Direction,
    /// Which changes flow.
    pub operations: Operations,
    /// On which sides a collection that exists only on the other side is created.
    pub create: PerSide<bool>,
    /// The empty-side guard.
    pub on_empty: OnEmpty,
    /// The deletion-share guard.
    pub max_delete: MaxDelete,
    /// True if keywords are left alone on both sides (the pair's `keywords = false`, as
    /// mbsync does); system flags are synced either way.
    pub ignore_keywords: bool,
    /// What the near side keeps (`max_size`, `max_messages`, `max_age`).
    pub limits: Limits,
    /// How each side may be written.
    pub sides: PerSide<SideOptions>,
}

impl SyncPolicy {
    /// A policy that changes both sides freely and creates collections on both: the default.
    pub fn both_ways() -> Self {
        Self {
            create: PerSide { a: true, b: true },
            ..Self::default()
        }
    }

    /// True if changes made on `from` may be written to the other side: the direction lets
    /// them flow and the other side is not read-only.
    pub fn flows_from(&self, from: Side) -> bool {
        self.direction.allows_from(from) && !self.sides.get(from.other()).read_only
    }

    /// True if new items found on `from` are copied to the other side.
    pub fn copies_new_from(&self, from: Side) -> bool {
        self.operations.new && self.flows_from(from)
    }

    /// True if flag changes made on `from` are applied to the other side.
    pub fn merges_flags_from(&self, from: Side) -> bool {
        self.operations.flags && self.flows_from(from)
    }

    /// True if deletions made on `from` are applied to the other side.
    pub fn deletes_from(&self, from: Side) -> bool {
        self.operations.delete && self.flows_from(from)
    }

    /// True if B is A's replica ([`Direction::Mirror`]).
    pub fn mirrors(&self) -> bool {
        self.direction == Direction::Mirror
    }

    /// True if a collection found only on the other side may be created on `on`.
    pub fn creates_on(&self, on: Side) -> bool {
        *self.create.get(on) && self.flows_from(on.other())
    }

    /// True if messages marked `\Deleted` on `on` are removed there: the side expunges, the
    /// pair may write it, and deletions are an operation of the pair.
    pub fn expunges_on(&self, on: Side) -> bool {
        let side = self.sides.get(on);
        side.expunge && !side.read_only && self.deletes_from(on.other())
    }

    /// True if a collection deleted on the other side may be removed on `on`.
    pub fn removes_collections_on(&self, on: Side) -> bool {
        self.sides.get(on).remove && self.expunges_on(on)
    }

    /// The policy for one collection (named `name_a`/`name_b` on the sides): a side's trash
    /// folder is not used inside the trash folder itself, where removing is final.
    pub fn in_collection(&self, name_a: &CollectionName, name_b: &CollectionName) -> SyncPolicy {
        let mut policy = self.clone();
        for (side, name) in [(Side::A, name_a), (Side::B, name_b)] {
            let options = policy.sides.get_mut(side);
            if options.trash.as_ref() == Some(name) {
                options.trash = None;
            }
        }
        policy
    }
}

/// What the near side keeps: mbsync's `MaxSize`/`MaxMessages` and OfflineIMAP's
/// `maxsize`/`maxage`. Limits only ever hold copies back from the near side or remove copies
/// there; the far side is never changed because of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limits {
    /// The side that keeps only what the limits allow (the local side, usually a Maildir).
    pub near: Option<Side>,
    /// Messages bigger than this many bytes are not copied to the near side.
    pub max_size: Option<u64>,
    /// The near side keeps only the newest this many messages of each collection.
    pub max_messages: Option<usize>,
    /// The near side keeps only messages that arrived less than this long ago.
    pub max_age: Option<std::time::Duration>,
}

impl Limits {
    /// True if any limit is set (and a near side named).
    pub fn active(&self) -> bool {
        self.near.is_some()
            && (self.max_size.is_some() || self.max_messages.is_some() || self.max_age.is_some())
    }

    /// True if the limits need the arrival dates of the far side's messages.
    pub fn needs_dates(&self) -> bool {
        self.near.is_some() && (self.max_messages.is_some() || self.max_age.is_some())
    }
}
