//! The executor for calendar/contact pairs: lists both sides (incrementally where a sync token
//! allows), fetches what changed, plans with the pure planner and carries the plan out.
//!
//! Crash safety rests on UIDs rather than intents: a new item's href is derived from its UID,
//! so an item created by a run that died before recording it is found on the next run under
//! the same UID with the same content, and is only recorded. Every write is conditional on the
//! etag seen (or, for a create, on nothing being there), every side is flushed before its
//! writes are recorded, and a collection's sync token is stored only after every change it
//! reported was handled, so an interrupted run is simply done again.
//!
//! A dry run is the same run on a private copy of the status
//! ([`StatusStore::dry_run_copy`]): every status write a real run makes, it makes, through the
//! same code; it leaves out only the writes to the sides (and the reads of content that only
//! those writes need), recording empty hrefs and etags where a side would have answered.
//!
//! - `mod.rs`: [`ItemPair::sync`], the pair's entry point: lists both sides' collections,
//!   plans them, runs each (a dry run on the copy); a collection refused as empty on a side
//!   waits until the others were listed, for the small-empty exception
//!   ([`crate::guard::small_empty_lifts`]); [`ConflictResolver`].
//! - `collection.rs`: one collection: created or removed as planned, skipped when unchanged on
//!   both sides (`skip`), listed and planned (`Prepared`), then carried out in batches, tokens
//!   and states recorded after a clean end.
//! - `adopt.rs`: the local listing and the changed local files that taking over another
//!   tool's state needs (`dav/adopt.rs`), before a new collection pairing is listed.
//! - `unread.rs`: the versions adopted unread whose other side moved, read before planning.
//! - `prefetch.rs`: the full listings that collections never synced begin with, taken
//!   together before the first collection is prepared.
//! - `listing.rs`: one side of a collection, in full or since a sync token, with the items
//!   the status does not know fetched (`SideView`).
//! - `items.rs`: the item actions (copy, update, delete, conflicts through the resolver), the
//!   flush before they are recorded.
//! - `meta.rs`: display name, colour and description.
//! - `join.rs`: running a batch's requests together without an async runtime.
//!
//! Not here: the decisions (`plan.rs`, `collections.rs`, `meta.rs`, `skip.rs` one level up,
//! all pure), the dav tables' queries (`status.rs`), the database (`crate::status`), printing
//! (the binary's [`Observer`]).

use crate::dav::adopt::Adopter;
use crate::dav::store::{Collection, ItemStore, MetaProperty};
use crate::error::Result;
use crate::side::{PerSide, Side};
use crate::status::StatusStore;

use crate::guard::{self, Refusal};

use super::collections::{CollectionPlan, Selection, plan_collections};
use super::model::ItemPolicy;
use super::plan::ItemCounts;

/// How many hrefs are fetched per request, and how many writes are made between two flushes
/// (an interruption redoes at most this many, which costs nothing but time).
const BATCH: usize = 100;

// The run types are the floor's (run.rs), with this wing's vocabulary (report.rs).
use super::report::Dav;
pub use super::report::{CollectionReport, DavDetails, PairReport};
pub use crate::run::{Observer, RunOptions};

/// Merges the two versions of an item in conflict (`pimlink resolve-conflicts` runs the user's
/// command through this).
pub trait ConflictResolver {
    /// The merged item, given both versions' text. An error leaves the conflict as it is.
    fn resolve(&mut self, collection: &str, uid: &str, a: &str, b: &str) -> Result<String>;
}

/// The two sides of a calendar/contact pair and its status, borrowed for one run.
pub struct ItemPair<'s, A, B> {
    /// Side A.
    pub a: &'s A,
    /// Side B.
    pub b: &'s B,
    /// The pair's status.
    pub status: &'s mut StatusStore,
    /// What the pair may change.
    pub policy: ItemPolicy,
    /// Which metadata properties are synced (`metadata` in the configuration).
    pub metadata: Vec<MetaProperty>,
    /// Takes over another tool's state for a collection the status does not know yet
    /// (`dav/adopt.rs`); `None`: such collections are matched by UID.
    pub adopter: Option<&'s mut dyn Adopter>,
}

/// Calls the same method on side A or side B, whose types differ.
macro_rules! on {
    ($pair:expr, $side:expr, $s:ident => $call:expr) => {
        match $side {
            Side::A => {
                let $s = $pair.a;
                $call
            }
            Side::B => {
                let $s = $pair.b;
                $call
            }
        }
    };
}

mod adopt;
mod collection;
use collection::{Prepared, Ready};
mod items;
mod join;
mod listing;
mod meta;
mod prefetch;
use prefetch::Prefetched;
mod unread;

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    fn describe(&self, side: Side) -> String {
        on!(self, side, s => s.describe())
    }

    /// Syncs every collection `selection` picks and `only` accepts (by the pair's name for
    /// it). Fails as a whole only when a side cannot be listed or the status cannot be read;
    /// everything else is reported per collection.
    ///
    /// A dry run makes every status write a real run makes, through the same code, on a
    /// private copy of the status dropped at the end ([`StatusStore::dry_run_copy`]); only the
    /// writes to the sides are left out (see `items.rs` for what it records in their place).
    pub async fn sync(
        &mut self,
        selection: &Selection<'_>,
        only: &dyn Fn(&str) -> bool,
        options: RunOptions,
        observer: &mut dyn Observer<Dav>,
        resolver: Option<&mut dyn ConflictResolver>,
    ) -> Result<PairReport> {
        if !options.dry_run {
            return self
                .sync_all(selection, only, options, observer, resolver)
                .await;
        }
        let mut copy = self.status.dry_run_copy()?;
        ItemPair {
            a: self.a,
            b: self.b,
            status: &mut copy,
            policy: self.policy.clone(),
            metadata: self.metadata.clone(),
            adopter: self.adopter.as_mut().map(|a| &mut **a as &mut dyn Adopter),
        }
        .sync_all(selection, only, options, observer, resolver)
        .await
    }

    /// [`Self::sync`] on whichever status `self` holds (the pair's, or a dry run's copy).
    async fn sync_all(
        &mut self,
        selection: &Selection<'_>,
        only: &dyn Fn(&str) -> bool,
        options: RunOptions,
        observer: &mut dyn Observer<Dav>,
        mut resolver: Option<&mut dyn ConflictResolver>,
    ) -> Result<PairReport> {
        let mut listed: PerSide<Vec<Collection>> = PerSide::default();
        for side in [Side::A, Side::B] {
            *listed.get_mut(side) =
                on!(self, side, s => s.list_collections().await).map_err(|e| {
                    e.context(format!("listing collections of {}", self.describe(side)))
                })?;
        }
        let ids = |list: &[Collection]| list.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        let known = self.status.dav_collections()?;
        let plans = plan_collections(
            &ids(&listed.a),
            &ids(&listed.b),
            &known,
            selection,
            &self.policy,
        );
        let mut prefetched = {
            let chosen: Vec<&CollectionPlan> = plans.iter().filter(|p| only(&p.name)).collect();
            self.prefetch(&chosen, &listed).await?
        };
        let mut report = PairReport::default();
        // Collections refused as empty on a side, which the small-empty exception may still
        // lift: carried out only once every other collection was listed (`guard`).
        let mut held: Vec<(usize, Box<Ready>)> = Vec::new();
        let mut shows_items = PerSide::<bool>::default();
        let mut unchanged = Vec::new();
        for plan in plans.into_iter().filter(|p| only(&p.name)) {
            if observer.stop_requested() {
                // The collections not yet started are left for the next run.
                break;
            }
            observer.collection_planned(&plan);
            let mut collection = CollectionReport {
                plan,
                done: ItemCounts::default(),
                errors: Vec::new(),
                refused: None,
                details: DavDetails::default(),
            };
            let result = match self
                .prepare_collection(&mut collection, &listed, &mut prefetched, options, observer)
                .await
            {
                Ok(Prepared::Ready(ready)) => {
                    shows_items.a |= ready.shows_items.a;
                    shows_items.b |= ready.shows_items.b;
                    if matches!(ready.items.refused, Some(Refusal::EmptySide { .. })) {
                        held.push((report.collections.len(), ready));
                        Ok(())
                    } else {
                        let resolver = resolver
                            .as_mut()
                            .map(|r| &mut **r as &mut dyn ConflictResolver);
                        self.carry_out(&mut collection, *ready, options, observer, resolver)
                            .await
                    }
                }
                Ok(Prepared::Unchanged(id)) => {
                    unchanged.push(id);
                    Ok(())
                }
                Ok(Prepared::Done) => Ok(()),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                collection
                    .errors
                    .push(error.context(format!("collection {}", collection.plan.name)));
            }
            report.collections.push(collection);
        }
        if !held.is_empty() {
            if !(shows_items.a && shows_items.b) && self.any_known_items(&unchanged) {
                // Each side reported such a collection unchanged since a clean sync that left
                // items on it: it still holds them, which a wiped side could not say.
                shows_items = PerSide { a: true, b: true };
            }
            let refusals: Vec<Option<&Refusal>> = report
                .collections
                .iter()
                .map(|c| c.refused.as_ref())
                .chain(held.iter().map(|(_, ready)| ready.items.refused.as_ref()))
                .collect();
            let lifts = guard::small_empty_lifts(&refusals, shows_items);
            let lifts = lifts[report.collections.len()..].to_vec();
            for ((index, mut ready), lift) in held.into_iter().zip(lifts) {
                if lift {
                    ready.lift_empty_side_refusal(&self.policy);
                }
                let collection = &mut report.collections[index];
                let resolver = resolver
                    .as_mut()
                    .map(|r| &mut **r as &mut dyn ConflictResolver);
                if let Err(error) = self
                    .carry_out(collection, *ready, options, observer, resolver)
                    .await
                {
                    let name = collection.plan.name.clone();
                    collection
                        .errors
                        .push(error.context(format!("collection {name}")));
                }
            }
        }
        Ok(report)
    }

    /// True if the status knows items in one of these collections (each is the same on both
    /// sides: a row is an item both sides held). A status that cannot be read says no.
    fn any_known_items(&self, collections: &[i64]) -> bool {
        collections
            .iter()
            .any(|&id| self.status.dav_items(id).is_ok_and(|rows| !rows.is_empty()))
    }
}
