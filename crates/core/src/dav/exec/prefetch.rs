//! The first listings of a pair's collections, taken together: a collection never synced has
//! no sync token, so its first sync lists it in full (for adoption or matching by UID), and a
//! server answers several such listings at once faster than one after the other (Radicale 3:
//! its listing of 1,000 items is most of a first sync's time per collection).
//!
//! Only collections that will certainly be listed so are asked for: both sides hold them, the
//! side offers sync-collection, and no run ever recorded a token or state for them (so none
//! can be skipped as unchanged). Each listing is then taken by its collection's sync instead
//! of asking again; an error is reported there, as if it had come then.

use std::collections::HashMap;

use crate::dav::store::{Collection, CollectionId, ItemStore};
use crate::error::Result;
use crate::side::{PerSide, Side};

use super::super::collections::{CollectionPlan, CollectionStep};
use super::ItemPair;
use super::join::join_all;
use super::listing::Listing;

/// Listings taken ahead, by side and collection.
#[derive(Default)]
pub(super) struct Prefetched(HashMap<(Side, CollectionId), Result<Listing>>);

impl Prefetched {
    /// The listing taken ahead of `collection` on `side`, if any (once).
    pub(super) fn take(
        &mut self,
        side: Side,
        collection: &CollectionId,
    ) -> Option<Result<Listing>> {
        self.0.remove(&(side, collection.clone()))
    }
}

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    /// Lists together every side of `plans` whose sync will begin with a full listing from
    /// the server. Fewer than two such listings gain nothing and are left to the sync.
    pub(super) async fn prefetch(
        &self,
        plans: &[&CollectionPlan],
        listed: &PerSide<Vec<Collection>>,
    ) -> Result<Prefetched> {
        let mut wanted: Vec<(Side, CollectionId)> = Vec::new();
        for plan in plans {
            if plan.step != CollectionStep::Sync {
                continue;
            }
            if let Some(id) = self
                .status
                .find_dav_collection(&plan.name, &plan.a, &plan.b)?
                && !self.status.dav_never_synced(id)?
            {
                continue;
            }
            for side in [Side::A, Side::B] {
                let id = plan.id(side);
                if listed
                    .get(side)
                    .iter()
                    .any(|c| c.id == *id && c.supports_sync)
                {
                    wanted.push((side, id.clone()));
                }
            }
        }
        if wanted.len() < 2 {
            return Ok(Prefetched::default());
        }
        let listings = join_all(
            wanted
                .iter()
                .map(|(side, id)| self.listing(*side, id, None, true))
                .collect(),
        )
        .await;
        Ok(Prefetched(wanted.into_iter().zip(listings).collect()))
    }
}
