//! Reading what the adoption of another tool's state needs (`dav/adopt.rs`): the local items
//! the tool recorded, read from the local storage. Nothing is asked of the server.

use std::collections::{HashMap, HashSet};

use crate::dav::adopt::{LocalItem, rows};
use crate::dav::store::{Href, ItemStore};
use crate::error::Result;
use crate::side::Side;

use super::super::collections::CollectionPlan;
use super::{BATCH, ItemPair};

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    /// Asks the adopter for another tool's state of `plan` and, if there is one, records the
    /// rows it gives in collection `id`, which has none yet. Returns how many were recorded.
    pub(super) async fn adopt(&mut self, plan: &CollectionPlan, id: i64) -> Result<usize> {
        let Some(adopter) = self.adopter.as_mut() else {
            return Ok(0);
        };
        let Some(foreign) = adopter.find(plan)? else {
            return Ok(0);
        };
        let local = foreign.local;
        let local_id = plan.id(local);
        let wanted: HashSet<&Href> = foreign.items.iter().map(|i| &i.local_href).collect();
        let listed = on!(self, local, s => s.list_items(local_id).await)?;
        let hrefs: Vec<Href> = listed
            .into_iter()
            .filter(|r| wanted.contains(&r.href))
            .map(|r| r.href)
            .collect();
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
        let changes = rows(&foreign, &files);
        self.status.apply_items(id, &changes)?;
        tracing::info!(collection = %plan.name, source = %foreign.source, rows = changes.len(), "adopted another tool's state");
        Ok(changes.len())
    }
}
