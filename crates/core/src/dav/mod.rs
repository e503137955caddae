//! Calendar and contact sync: the wing for pairs of [`ItemStore`](store::ItemStore)s
//! (CalDAV, CardDAV, webcal, vdir), built like the mail wing but on vdirsyncer's algorithm.
//!
//! - [`store`]: the [`ItemStore`](store::ItemStore) trait every such storage implements;
//!   [`vobject`]: the iCalendar/vCard helpers the engine and the storages share.
//! - [`model`]: item versions (href, etag, content hash), status rows keyed by UID, the pair's
//!   [`ItemPolicy`] (conflict resolution, `on_delete`, plus the shared [`SyncPolicy`]).
//! - [`plan_items`]: the pure per-UID decision table (see the `plan` module docs);
//!   [`plan_collections`]: which collections are synced, created or deleted; [`plan_meta`]:
//!   the three-way merge of display name, colour and description; `skip`: whether a
//!   collection unchanged on both sides since its last clean sync can be left alone.
//! - [`adopt`]: taking over vdirsyncer's or pimsync's state on a pair's first sync (the
//!   [`Adopter`](adopt::Adopter) the binary implements finds it).
//! - [`ItemPair::sync`]: the executor (`exec/`: the pair, one collection, listing a side,
//!   the item writes, metadata), the only code that writes, with per-action errors and sync
//!   tokens stored only after a clean collection; a dry run makes the same status writes on a
//!   copy of the status and none to the sides; [`report`]: the [`Dav`] family for the floor's
//!   run types ([`Observer`], [`PairReport`], ...).
//!
//! The status lives in the same per-pair SQLite database as the mail status, in its own tables,
//! queried in `status.rs` (see [`StatusStore::dav_items`](crate::status::StatusStore::dav_items)).
//!
//! Not here: the database itself ([`crate::status`]), refusals ([`crate::guard`]), anything of
//! mail ([`crate::mail`], never imported), storages (pimlink-dav, pimlink-vdir), running a
//! conflict command (the binary implements [`ConflictResolver`]), configuration.
//!
//! [`SyncPolicy`]: crate::policy::SyncPolicy

pub mod adopt;
mod collections;
mod exec;
mod meta;
pub mod model;
mod plan;
pub mod report;
mod skip;
mod status;
pub mod store;
pub mod vobject;

pub use crate::run::{Observer, RunOptions};
pub use collections::{
    CollectionPlan, CollectionStep, ExplicitCollection, KnownCollection, Selection,
    plan_collections,
};
pub use exec::{ConflictResolver, ItemPair};
pub use meta::{MetaAction, plan_meta};
pub use model::{ConflictPolicy, ItemPolicy, ItemVersion, OnDelete, RowChange, RowId, StatusRow};
pub use plan::{ItemAction, ItemCounts, ItemPlan, decide, plan_items};
pub use report::{CollectionReport, Dav, DavDetails, PairReport};

#[cfg(test)]
mod tests;
