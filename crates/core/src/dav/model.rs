//! The values the calendar/contact planner works on: versions of items, status rows, and the
//! pair's policy.

use crate::dav::store::{Etag, Href};
use crate::dav::vobject::ContentHash;
use crate::policy::SyncPolicy;

/// The id of an item row in the status.
pub type RowId = i64;

/// One version of an item on one side: where it is, its etag, and the hash of its normalised
/// content (see [`crate::dav::vobject::content_hash`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemVersion {
    /// Where the item lives.
    pub href: Href,
    /// Its version marker.
    pub etag: Etag,
    /// The hash of its content, ignoring what servers rewrite on their own.
    pub hash: ContentHash,
}

impl ItemVersion {
    /// True if `self` is the same stored version as `other` (same place, same etag): the item
    /// was not touched at all.
    pub fn same_version(&self, other: &ItemVersion) -> bool {
        self.href == other.href && self.etag == other.etag
    }
}

/// What the status remembers of one item: its UID and the version each side had when both
/// last agreed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    /// The row's id.
    pub id: RowId,
    /// The item's UID, the identity that pairs it across sides.
    pub uid: String,
    /// The version on side A at the last agreement.
    pub a: ItemVersion,
    /// The version on side B at the last agreement.
    pub b: ItemVersion,
}

impl StatusRow {
    /// The version on `side`.
    pub fn side(&self, side: crate::side::Side) -> &ItemVersion {
        match side {
            crate::side::Side::A => &self.a,
            crate::side::Side::B => &self.b,
        }
    }
}

/// What to do when an item changed differently on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// Change nothing and report the conflict (the default, as vdirsyncer's).
    #[default]
    Report,
    /// Side A's version wins (`conflict_resolution = "keep a"`).
    KeepA,
    /// Side B's version wins (`conflict_resolution = "keep b"`).
    KeepB,
    /// An external command merges both versions (`conflict_resolution = ["cmd", ...]`); it runs
    /// only in `pimlink resolve-conflicts`, a plain sync reports such conflicts.
    Command(Vec<String>),
}

/// What to do when a collection that was synced before is gone from one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnDelete {
    /// Leave the other side's collection alone and report it (the default).
    #[default]
    Skip,
    /// Delete the collection on the other side too.
    Delete,
}

/// The resolved policy of a calendar/contact pair.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ItemPolicy {
    /// Direction, operations (`new`, `delete`; updates follow the direction), collection
    /// creation and the empty-side guard, shared with mail pairs.
    pub sync: SyncPolicy,
    /// Conflict resolution.
    pub conflict: ConflictPolicy,
    /// Collection deletion.
    pub on_delete: OnDelete,
}

/// A change to the item rows of one collection, applied in batches by
/// [`StatusStore::apply_items`](crate::status::StatusStore::apply_items).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowChange {
    /// Both sides now hold the item `uid` in these versions (inserts or replaces the row).
    Record {
        /// The item's UID.
        uid: String,
        /// The version on A.
        a: ItemVersion,
        /// The version on B.
        b: ItemVersion,
    },
    /// The item is gone from both sides (or was deleted on purpose): drop its row.
    Remove {
        /// The item's UID.
        uid: String,
    },
}
