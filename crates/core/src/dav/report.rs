//! This wing's vocabulary for the floor's run types (`crate::run`): the [`Dav`] family, what
//! only a calendar/contact run reports about a collection ([`DavDetails`]), and the report
//! types spelled for it.
//!
//! Not here: the executor that fills them (`exec`).

use std::convert::Infallible;

use super::collections::CollectionPlan;
use super::meta::MetaAction;
use super::plan::{ItemAction, ItemCounts, ItemPlan};
use super::store::MetaProperty;
use crate::run::{Family, collection_outcome};
use crate::status::CollectionEntry;

/// The calendar/contact family (CalDAV, CardDAV, webcal, vdir): see [`Family`].
#[derive(Debug)]
pub struct Dav;

impl Family for Dav {
    type CollectionPlan = CollectionPlan;
    type ItemPlan = ItemPlan;
    type Action = ItemAction;
    /// Items never move between collections here (the executor has no moves).
    type Key = Infallible;
    type MetaProperty = MetaProperty;
    type MetaAction = MetaAction;
    type Counts = ItemCounts;
    type Details = DavDetails;

    fn journal(collection: &CollectionReport) -> CollectionEntry {
        CollectionEntry {
            name: collection.plan.name.clone(),
            outcome: collection_outcome(collection).to_owned(),
            changes: collection.done.to_string(),
            errors: collection.errors.iter().map(|e| format!("{e:#}")).collect(),
            refused: collection.refused.as_ref().map(ToString::to_string),
            held_back: 0,
            conflicts: collection.done.conflicts,
        }
    }
}

/// What happened in one calendar or address book.
pub type CollectionReport = crate::run::CollectionReport<Dav>;

/// What happened in one calendar/contact pair.
pub type PairReport = crate::run::PairReport<Dav>;

/// What only a calendar/contact run reports about a collection.
#[derive(Debug, Default)]
pub struct DavDetails {
    /// Metadata properties changed (in a dry run: to be changed).
    pub meta_changed: usize,
    /// Items left alone on purpose (no UID, a UID used twice), each with the reason.
    pub warnings: Vec<String>,
    /// Status rows taken over from another tool's state on this first sync (`dav/adopt.rs`).
    pub adopted: usize,
}
