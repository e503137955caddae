//! Reading what the adoption of another tool's state needs (`dav/adopt.rs`): the local listing,
//! and only the local files changed since the tool's run. Nothing is asked of the server.

use std::collections::HashMap;

use crate::dav::adopt::{LocalItem, rows, to_read};
use crate::dav::store::{Href, ItemRef, ItemStore};
use crate::error::Result;
use crate::side::Side;

use super::super::collections::CollectionPlan;
use super::{BATCH, ItemPair};

/// What an adoption did.
pub(super) struct Adopted {
    /// How many rows it recorded.
    pub(super) rows: usize,
    /// The side it listed and that listing, which the run reuses instead of listing again.
    pub(super) listed: Option<(Side, Vec<ItemRef>)>,
}

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    /// Asks the adopter for another tool's state of `plan` and, if there is one, records the
    /// rows it gives in collection `id`, which has none yet, in one transaction.
    pub(super) async fn adopt(&mut self, plan: &CollectionPlan, id: i64) -> Result<Adopted> {
        let none = Adopted {
            rows: 0,
            listed: None,
        };
        let Some(adopter) = self.adopter.as_mut() else {
            return Ok(none);
        };
        let Some(foreign) = adopter.find(plan)? else {
            return Ok(none);
        };
        let local = foreign.local;
        let local_id = plan.id(local);
        let listing = on!(self, local, s => s.list_items(local_id).await)?;
        let listed: HashMap<Href, _> = listing
            .iter()
            .map(|r| (r.href.clone(), r.etag.clone()))
            .collect();
        // The files the tool's etag still describes are trusted unread: at 7,000 items,
        // reading and hashing them was a third of the first sync.
        let hrefs: Vec<Href> = to_read(&foreign, &listed).into_iter().cloned().collect();
        let mut files = HashMap::new();
        for chunk in hrefs.chunks(BATCH) {
            let fetched = on!(self, local, s => s.get_many(local_id, chunk).await)?;
            for item in fetched.items {
                files.insert(
                    item.href,
                    LocalItem {
                        etag: item.etag,
                        data: item.data,
                    },
                );
            }
        }
        let changes = rows(&foreign, &listed, &files);
        self.status.apply_items(id, &changes)?;
        tracing::info!(collection = %plan.name, source = %foreign.source, rows = changes.len(), read = hrefs.len(), "adopted another tool's state");
        Ok(Adopted {
            rows: changes.len(),
            listed: Some((local, listing)),
        })
    }
}
