//! Versions the status holds without knowing their content (adopted unread, see
//! [`crate::dav::adopt::UNREAD`]): before a collection is planned, each one whose other side
//! was fetched this run (its etag moved) is read, so that the plan compares real contents.
//! Otherwise a server that moved an etag without changing the content would rewrite a local
//! file that never changed. The few items that moved are read; the thousands that did not,
//! never.

use std::collections::HashMap;

use crate::dav::adopt::UNREAD;
use crate::dav::store::{Href, ItemStore};
use crate::dav::vobject::content_hash;
use crate::error::Result;
use crate::side::{PerSide, Side};

use super::super::collections::CollectionPlan;
use super::super::model::StatusRow;
use super::listing::SideView;
use super::{BATCH, ItemPair};

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    /// Reads, on each side, the unread versions still there whose item was fetched on the
    /// other side, and puts their hash into `rows` (both sides: the row's versions held the
    /// same content) and into the side's view. One that cannot be read keeps its unknown hash,
    /// which the plan takes for different from any content.
    pub(super) async fn read_unread(
        &self,
        plan: &CollectionPlan,
        rows: &mut [StatusRow],
        views: &mut PerSide<SideView>,
    ) -> Result<()> {
        for side in [Side::A, Side::B] {
            let fetched_there = &views.get(side.other()).content;
            let wanted: HashMap<Href, usize> = rows
                .iter()
                .enumerate()
                .filter(|(_, row)| {
                    let version = row.side(side);
                    version.hash.as_str() == UNREAD
                        && fetched_there.contains_key(&row.uid)
                        && views
                            .get(side)
                            .now
                            .get(&row.uid)
                            .is_some_and(|now| now.same_version(version))
                })
                .map(|(index, row)| (row.side(side).href.clone(), index))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let hrefs: Vec<Href> = wanted.keys().cloned().collect();
            let collection = plan.id(side);
            for chunk in hrefs.chunks(BATCH) {
                let fetched = on!(self, side, s => s.get_many(collection, chunk).await)?;
                for item in fetched.items {
                    let Some(&index) = wanted.get(&item.href) else {
                        continue;
                    };
                    let row = &mut rows[index];
                    if item.etag != row.side(side).etag {
                        continue; // Changed since it was listed: the next run sees it.
                    }
                    let hash = content_hash(&item.data);
                    row.a.hash = hash.clone();
                    row.b.hash = hash.clone();
                    if let Some(now) = views.get_mut(side).now.get_mut(&row.uid) {
                        now.hash = hash;
                    }
                }
            }
        }
        Ok(())
    }
}
