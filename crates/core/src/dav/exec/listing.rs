//! Reading one side of a collection: a full listing or the changes since a sync token, and
//! the items whose version the status does not know, fetched and keyed by UID.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::dav::store::{ChangesSince, CollectionId, Href, ItemRef, ItemStore, SyncToken};
use crate::dav::vobject::{content_hash, uid as item_uid};
use crate::error::{Error, ErrorKind, Result};
use crate::side::Side;

use super::super::collections::CollectionPlan;
use super::super::model::{ItemVersion, StatusRow};
use super::{BATCH, CollectionReport, ItemPair};

/// One side of a collection as the planner needs it.
#[derive(Default)]
pub(super) struct SideView {
    /// Every item now, by UID.
    pub(super) now: BTreeMap<String, ItemVersion>,
    /// The content of items fetched this run, by UID.
    pub(super) content: HashMap<String, String>,
    /// UIDs that must not be planned this run (a fetch failed, the UID is used twice).
    pub(super) excluded: BTreeSet<String>,
    /// The token to store after a clean run.
    pub(super) token: Option<SyncToken>,
}

/// A side's items as a storage listed them.
pub(super) enum Listing {
    /// Every item there is.
    Full {
        items: Vec<ItemRef>,
        token: Option<SyncToken>,
    },
    /// What changed since the stored token.
    Delta {
        changed: Vec<ItemRef>,
        deleted: Vec<Href>,
        token: SyncToken,
    },
}

impl Listing {
    fn from_changes(changes: crate::dav::store::Changes, delta: bool) -> Self {
        if delta {
            Listing::Delta {
                changed: changes.changed,
                deleted: changes.deleted,
                token: changes.new_token,
            }
        } else {
            Listing::Full {
                items: changes.changed,
                token: Some(changes.new_token),
            }
        }
    }
}

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    /// Takes `side`'s listing of a collection (full, or since a sync token), fetches every item
    /// whose version the status does not know, and returns the side by UID.
    pub(super) async fn view(
        &self,
        side: Side,
        plan: &CollectionPlan,
        rows: &[StatusRow],
        listing: Listing,
        report: &mut CollectionReport,
    ) -> Result<SideView> {
        let collection = plan.id(side);
        let by_href: HashMap<&Href, &StatusRow> =
            rows.iter().map(|row| (&row.side(side).href, row)).collect();
        let mut view = SideView::default();
        let mut to_fetch: Vec<Href> = Vec::new();
        // Which UID the status had at each href we fetch, so a failed fetch can exclude it.
        match listing {
            Listing::Full { items, token } => {
                view.token = token;
                for item in items {
                    match by_href.get(&item.href) {
                        Some(row) if row.side(side).etag == item.etag => {
                            view.now.insert(row.uid.clone(), row.side(side).clone());
                        }
                        _ => to_fetch.push(item.href),
                    }
                }
            }
            Listing::Delta {
                changed,
                deleted,
                token,
            } => {
                view.token = Some(token);
                for row in rows {
                    view.now.insert(row.uid.clone(), row.side(side).clone());
                }
                for href in &deleted {
                    if let Some(row) = by_href.get(href) {
                        view.now.remove(&row.uid);
                    }
                }
                for item in changed {
                    match by_href.get(&item.href) {
                        Some(row) if row.side(side).etag == item.etag => {}
                        Some(row) => {
                            view.now.remove(&row.uid);
                            to_fetch.push(item.href);
                        }
                        None => to_fetch.push(item.href),
                    }
                }
            }
        }

        let mut first_href: HashMap<String, Href> = view
            .now
            .iter()
            .map(|(uid, v)| (uid.clone(), v.href.clone()))
            .collect();
        for chunk in to_fetch.chunks(BATCH) {
            let fetched = on!(self, side, s => s.get_many(collection, chunk).await)
                .map_err(|e| e.context(format!("fetching items of {collection} on {side}")))?;
            for (href, why) in fetched.failed {
                if let Some(row) = by_href.get(&href) {
                    view.excluded.insert(row.uid.clone());
                }
                report.errors.push(Error::new(
                    ErrorKind::Peer,
                    format!("collection {}: item {href} on {side}: {why}", plan.name),
                ));
            }
            // Gone meanwhile: absent, as if the listing had not shown it.
            drop(fetched.missing);
            for item in fetched.items {
                let Some(uid) = item_uid(&item.data) else {
                    if let Some(row) = by_href.get(&item.href) {
                        view.excluded.insert(row.uid.clone());
                    }
                    report.details.warnings.push(format!(
                        "collection {}: item {} on {side} has no UID and is left alone (`pimlink \
                         repair` gives it one)",
                        plan.name, item.href
                    ));
                    continue;
                };
                if let Some(other) = first_href.get(&uid).filter(|h| **h != item.href) {
                    report.details.warnings.push(format!(
                        "collection {}: UID {uid:?} is used by two items on {side} ({other} and \
                         {}); both are left alone until one is removed or given another UID",
                        plan.name, item.href
                    ));
                    view.excluded.insert(uid);
                    continue;
                }
                first_href.insert(uid.clone(), item.href.clone());
                view.now.insert(
                    uid.clone(),
                    ItemVersion {
                        href: item.href,
                        etag: item.etag,
                        hash: content_hash(&item.data),
                    },
                );
                view.content.insert(uid, item.data);
            }
        }
        Ok(view)
    }

    /// Asks what changed since `token`, falling back to a full listing where the storage has no
    /// tokens or the server forgot this one.
    pub(super) async fn listing(
        &self,
        side: Side,
        collection: &CollectionId,
        token: Option<SyncToken>,
        supports_sync: bool,
    ) -> Result<Listing> {
        let context = |e: Error| e.context(format!("listing {collection} on {side}"));
        if supports_sync {
            let mut delta = token.is_some();
            let mut answer =
                on!(self, side, s => s.changes_since(collection, token.as_ref()).await);
            if matches!(answer, Ok(ChangesSince::TokenInvalid)) {
                tracing::info!(%collection, %side, "sync token no longer valid; listing everything");
                delta = false;
                answer = on!(self, side, s => s.changes_since(collection, None).await);
            }
            match answer {
                Ok(ChangesSince::Changes(changes)) => {
                    return Ok(Listing::from_changes(changes, delta));
                }
                Ok(ChangesSince::TokenInvalid) => {
                    return Err(context(Error::new(
                        ErrorKind::Peer,
                        "the server called a request without a sync token invalid",
                    )));
                }
                Err(e) if e.kind() == ErrorKind::Unsupported => {}
                Err(e) => return Err(context(e)),
            }
        }
        let items = on!(self, side, s => s.list_items(collection).await).map_err(context)?;
        Ok(Listing::Full { items, token: None })
    }
}
