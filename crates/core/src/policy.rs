//! What a pair is allowed to change: the user's choices, resolved from the configuration.

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
}

impl Direction {
    /// True if changes made on `from` may be applied to the other side.
    pub fn allows_from(self, from: Side) -> bool {
        match self {
            Direction::Both => true,
            Direction::AToB => from == Side::A,
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

/// The resolved policy of one pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SyncPolicy {
    /// Which way changes flow.
    pub direction: Direction,
    /// Which changes flow.
    pub operations: Operations,
    /// On which sides a collection that exists only on the other side is created.
    pub create: PerSide<bool>,
    /// The empty-side guard.
    pub on_empty: OnEmpty,
    /// True if keywords are left alone on both sides (the pair's `keywords = false`, as
    /// mbsync does); system flags are synced either way.
    pub ignore_keywords: bool,
}

impl SyncPolicy {
    /// A policy that changes both sides freely and creates collections on both: the default.
    pub fn both_ways() -> Self {
        Self {
            create: PerSide { a: true, b: true },
            ..Self::default()
        }
    }

    /// True if new items found on `from` are copied to the other side.
    pub fn copies_new_from(&self, from: Side) -> bool {
        self.operations.new && self.direction.allows_from(from)
    }

    /// True if flag changes made on `from` are applied to the other side.
    pub fn merges_flags_from(&self, from: Side) -> bool {
        self.operations.flags && self.direction.allows_from(from)
    }

    /// True if deletions made on `from` are applied to the other side.
    pub fn deletes_from(&self, from: Side) -> bool {
        self.operations.delete && self.direction.allows_from(from)
    }

    /// True if a collection found only on the other side may be created on `on`.
    pub fn creates_on(&self, on: Side) -> bool {
        *self.create.get(on) && self.direction.allows_from(on.other())
    }
}
