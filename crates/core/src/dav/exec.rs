//! The executor for calendar/contact pairs: lists both sides (incrementally where a sync token
//! allows), fetches what changed, plans with the pure planner and carries the plan out.
//!
//! Crash safety rests on UIDs rather than intents: a new item's href is derived from its UID,
//! so an item created by a run that died before recording it is found on the next run under
//! the same UID with the same content, and is only recorded. Every write is conditional on the
//! etag seen (or, for a create, on nothing being there), every side is flushed before its
//! writes are recorded, and a collection's sync token is stored only after every change it
//! reported was handled, so an interrupted run is simply done again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::dav::store::{
    ChangesSince, Collection, CollectionId, CollectionState, Href, ItemRef, ItemStore,
    MetaProperty, SyncToken,
};
use crate::dav::vobject::{content_hash, uid as item_uid};
use crate::error::{Error, ErrorKind, Result};
use crate::side::{PerSide, Side};
use crate::status::StatusStore;

use super::collections::{CollectionPlan, CollectionStep, Selection, plan_collections};
use super::meta::{MetaAction, plan_meta};
use super::model::{ItemPolicy, ItemVersion, RowChange, StatusRow};
use super::plan::{ItemAction, ItemCounts, plan_items};
use super::skip::{self, Observed};

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

/// What a run learnt of each side's state before reading the collection.
struct Probe {
    /// The states now, compared with those recorded.
    now: PerSide<Option<CollectionState>>,
    /// Where they came from, to decide what to record after a clean run.
    observed: PerSide<Observed>,
    /// Full listings taken to compute a digest, handed to the sync instead of listing again.
    listed: PerSide<Option<Vec<ItemRef>>>,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            now: PerSide::default(),
            observed: PerSide {
                a: Observed::Unknown,
                b: Observed::Unknown,
            },
            listed: PerSide::default(),
        }
    }
}

/// One side of a collection as the planner needs it.
#[derive(Default)]
struct SideView {
    /// Every item now, by UID.
    now: BTreeMap<String, ItemVersion>,
    /// The content of items fetched this run, by UID.
    content: HashMap<String, String>,
    /// UIDs that must not be planned this run (a fetch failed, the UID is used twice).
    excluded: BTreeSet<String>,
    /// The token to store after a clean run.
    token: Option<SyncToken>,
}

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    fn describe(&self, side: Side) -> String {
        on!(self, side, s => s.describe())
    }

    /// Syncs every collection `selection` picks and `only` accepts (by the pair's name for
    /// it). Fails as a whole only when a side cannot be listed or the status cannot be read;
    /// everything else is reported per collection.
    pub async fn sync(
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
        let mut report = PairReport::default();
        for plan in plans.into_iter().filter(|p| only(&p.name)) {
            observer.collection_planned(&plan);
            let mut collection = CollectionReport {
                plan,
                done: ItemCounts::default(),
                errors: Vec::new(),
                refused: None,
                details: DavDetails::default(),
            };
            let resolver = resolver
                .as_mut()
                .map(|r| &mut **r as &mut dyn ConflictResolver);
            if let Err(error) = self
                .sync_collection(&mut collection, &listed, options, observer, resolver)
                .await
            {
                let name = collection.plan.name.clone();
                collection
                    .errors
                    .push(error.context(format!("collection {name}")));
            }
            report.collections.push(collection);
        }
        Ok(report)
    }

    async fn sync_collection(
        &mut self,
        report: &mut CollectionReport,
        listed: &PerSide<Vec<Collection>>,
        options: RunOptions,
        observer: &mut dyn Observer<Dav>,
        mut resolver: Option<&mut dyn ConflictResolver>,
    ) -> Result<()> {
        let plan = report.plan.clone();
        let known = self
            .status
            .find_dav_collection(&plan.name, &plan.a, &plan.b)?;
        let mut supports_sync = PerSide {
            a: listed.a.iter().any(|c| c.id == plan.a && c.supports_sync),
            b: listed.b.iter().any(|c| c.id == plan.b && c.supports_sync),
        };
        let missing_on = match &plan.step {
            CollectionStep::Skip(_) => return Ok(()),
            CollectionStep::Forget => {
                if let (Some(id), false) = (known, options.dry_run) {
                    self.status.forget_dav_collection(id)?;
                }
                return Ok(());
            }
            CollectionStep::Delete(side) => {
                if !options.dry_run {
                    let id = plan.id(*side);
                    on!(self, *side, s => s.delete_collection(id).await)?;
                    if let Some(known) = known {
                        self.status.forget_dav_collection(known)?;
                    }
                }
                return Ok(());
            }
            CollectionStep::Sync => Vec::new(),
            CollectionStep::Create(side) => vec![*side],
            CollectionStep::CreateBoth => vec![Side::A, Side::B],
        };
        if !options.dry_run {
            for &side in &missing_on {
                let id = plan.id(side);
                let created = on!(self, side, s => s.create_collection(id).await)?;
                *supports_sync.get_mut(side) = created.supports_sync;
            }
        }
        let id = match (known, options.dry_run) {
            (Some(id), _) => Some(id),
            (None, true) => None,
            (None, false) => Some(
                self.status
                    .dav_collection_id(&plan.name, &plan.a, &plan.b)?,
            ),
        };
        let mut probe = self
            .probe(&plan, listed, &supports_sync, &missing_on)
            .await?;
        if let Some(known) = known {
            let recorded = PerSide {
                a: self.status.dav_state(known, Side::A)?,
                b: self.status.dav_state(known, Side::B)?,
            };
            if skip::unchanged(&plan.step, &recorded, &probe.now) {
                tracing::debug!(collection = %plan.name, "unchanged on both sides since the last clean sync");
                self.sync_meta(&plan, id, report, observer).await?;
                return Ok(());
            }
            // Only a clean end of this run may record states again: an interrupted or failed
            // run must leave none that a later run could mistake for agreement.
            if !options.dry_run && (recorded.a.is_some() || recorded.b.is_some()) {
                for side in [Side::A, Side::B] {
                    self.status.set_dav_state(known, side, None)?;
                }
            }
        }
        let rows = match id {
            Some(id) => self.status.dav_items(id)?,
            None => Vec::new(),
        };

        let mut views: PerSide<SideView> = PerSide::default();
        for side in [Side::A, Side::B] {
            if options.dry_run && missing_on.contains(&side) {
                continue; // It would be created empty.
            }
            let token = match id {
                Some(id) if *supports_sync.get(side) => self.status.dav_token(id, side)?,
                _ => None,
            };
            let listing = match probe.listed.get_mut(side).take() {
                Some(items) => Listing::Full { items, token: None },
                None => {
                    self.listing(side, plan.id(side), token, *supports_sync.get(side))
                        .await?
                }
            };
            *views.get_mut(side) = self.view(side, &plan, &rows, listing, report).await?;
        }

        // An item excluded on one side is left alone on both: planning it with half the
        // picture could delete or overwrite it.
        let excluded: BTreeSet<String> =
            views.a.excluded.union(&views.b.excluded).cloned().collect();
        let rows: Vec<StatusRow> = rows
            .into_iter()
            .filter(|r| !excluded.contains(&r.uid))
            .collect();
        for view in [&mut views.a, &mut views.b] {
            view.now.retain(|uid, _| !excluded.contains(uid));
        }

        if rows.is_empty() && !views.a.now.is_empty() && !views.b.now.is_empty() {
            let items = PerSide {
                a: views.a.now.len(),
                b: views.b.now.len(),
            };
            observer.matching_by_content(&plan, items);
        }
        let items = plan_items(&rows, &views.a.now, &views.b.now, &self.policy);
        observer.items_planned(&plan, &items);
        report.refused = items.refused.clone();
        let Some(id) = id.filter(|_| !options.dry_run) else {
            report.done = items.counts();
            self.sync_meta(&plan, None, report, observer).await?;
            return Ok(());
        };
        let mut run = Run {
            pair: self,
            id,
            plan: &plan,
            views: &mut views,
            report,
            observer,
            resolver: resolver
                .as_mut()
                .map(|r| &mut **r as &mut dyn ConflictResolver),
            pending: Vec::new(),
        };
        for batch in items.actions.chunks(BATCH) {
            run.execute(batch).await;
            run.flush_and_record().await?;
        }
        self.sync_meta(&plan, Some(id), report, observer).await?;

        // A token may be kept only when every change it reported was handled; otherwise the
        // next run must be shown those changes again.
        let clean = report.errors.is_empty() && report.refused.is_none() && excluded.is_empty();
        if clean {
            for side in [Side::A, Side::B] {
                if let Some(token) = &views.get(side).token {
                    self.status.set_dav_token(id, side, Some(token))?;
                }
            }
            self.record_states(id, &probe.observed, &items.actions)?;
        }
        Ok(())
    }

    /// Learns each side's [`CollectionState`] before the collection is read: the marker its
    /// listing carried, or, for a side without sync tokens (which is listed in full anyway), a
    /// digest of that listing, kept for the sync to use.
    async fn probe(
        &self,
        plan: &CollectionPlan,
        listed: &PerSide<Vec<Collection>>,
        supports_sync: &PerSide<bool>,
        missing_on: &[Side],
    ) -> Result<Probe> {
        let mut probe = Probe::default();
        for side in [Side::A, Side::B] {
            if missing_on.contains(&side) {
                // Created by this run: nothing to compare now, but a side that is listed in
                // full can still be recorded from the rows the run leaves.
                if !*supports_sync.get(side) {
                    *probe.observed.get_mut(side) = Observed::Listing;
                }
                continue;
            }
            let collection = plan.id(side);
            let marker = listed
                .get(side)
                .iter()
                .find(|c| c.id == *collection)
                .and_then(|c| c.state.as_ref());
            if let Some(marker) = marker {
                let state = skip::marker_state(marker);
                *probe.observed.get_mut(side) = Observed::Marker(state.clone());
                *probe.now.get_mut(side) = Some(state);
            } else if !*supports_sync.get(side) {
                let items = on!(self, side, s => s.list_items(collection).await)
                    .map_err(|e| e.context(format!("listing {collection} on {side}")))?;
                *probe.now.get_mut(side) = Some(skip::listing_state(
                    items.iter().map(|i| (&i.href, &i.etag)),
                ));
                *probe.observed.get_mut(side) = Observed::Listing;
                *probe.listed.get_mut(side) = Some(items);
            }
        }
        Ok(probe)
    }

    /// Records, after a clean run, the states the next run compares with (see `skip`).
    fn record_states(
        &mut self,
        id: i64,
        observed: &PerSide<Observed>,
        actions: &[ItemAction],
    ) -> Result<()> {
        let needs_rows = [Side::A, Side::B]
            .into_iter()
            .any(|side| *observed.get(side) == Observed::Listing);
        let rows = if needs_rows {
            self.status.dav_items(id)?
        } else {
            Vec::new()
        };
        for side in [Side::A, Side::B] {
            let state = skip::to_record(observed.get(side), skip::writes_to(actions, side), || {
                skip::listing_state(
                    rows.iter()
                        .map(|r| (&r.side(side).href, &r.side(side).etag)),
                )
            });
            self.status.set_dav_state(id, side, state.as_ref())?;
        }
        Ok(())
    }

    /// Takes `side`'s listing of a collection (full, or since a sync token), fetches every item
    /// whose version the status does not know, and returns the side by UID.
    async fn view(
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
    async fn listing(
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

    /// Syncs the configured metadata properties of a collection (`id` is `None` in a dry run).
    async fn sync_meta(
        &mut self,
        plan: &CollectionPlan,
        id: Option<i64>,
        report: &mut CollectionReport,
        observer: &mut dyn Observer<Dav>,
    ) -> Result<()> {
        for property in self.metadata.clone() {
            let mut values: PerSide<Option<String>> = PerSide::default();
            for side in [Side::A, Side::B] {
                let collection = plan.id(side);
                *values.get_mut(side) = match on!(self, side, s => s.get_meta(collection, property).await)
                {
                    Ok(value) => value,
                    // A collection that a dry run would create has nothing yet.
                    Err(e) if id.is_none() && e.kind() == ErrorKind::NotFound => None,
                    Err(e) => {
                        report.errors.push(e.context(format!(
                            "collection {}: reading {} on {side}",
                            plan.name,
                            property.name()
                        )));
                        return Ok(());
                    }
                };
            }
            let mut recorded = match id {
                Some(id) => self.status.dav_meta(id, property)?,
                None => None,
            };
            // A collection created by this run has only the defaults its server gave it (a
            // display name made from its path, say): the source's values win.
            if let (None, CollectionStep::Create(created)) = (&recorded, &plan.step) {
                recorded = Some(values.get(*created).clone());
            }
            let action = plan_meta(
                recorded.as_ref().map(|v| v.as_deref()),
                values.a.as_deref(),
                values.b.as_deref(),
                &self.policy,
            );
            if action != MetaAction::Nothing {
                observer.meta_planned(plan, property, &action);
            }
            let Some(id) = id else {
                report.details.meta_changed +=
                    usize::from(matches!(action, MetaAction::Set { .. }));
                continue;
            };
            match action {
                MetaAction::Nothing => {}
                MetaAction::Record(value) => {
                    self.status.set_dav_meta(id, property, value.as_deref())?
                }
                MetaAction::Set { on, value } => {
                    let collection = plan.id(on);
                    match on!(self, on, s => s.set_meta(collection, property, value.as_deref()).await)
                    {
                        Ok(()) => {
                            self.status.set_dav_meta(id, property, value.as_deref())?;
                            report.details.meta_changed += 1;
                        }
                        Err(e) => report.errors.push(e.context(format!(
                            "collection {}: setting {} on {on}",
                            plan.name,
                            property.name()
                        ))),
                    }
                }
                MetaAction::Conflict => report.errors.push(Error::new(
                    ErrorKind::Refused,
                    format!(
                        "collection {}: {} changed on both sides ({:?} on a, {:?} on b); set \
                         conflict_resolution to \"keep a\" or \"keep b\", or change one side",
                        plan.name,
                        property.name(),
                        values.a.as_deref().unwrap_or(""),
                        values.b.as_deref().unwrap_or("")
                    ),
                )),
            }
        }
        Ok(())
    }
}

/// A side's items as a storage listed them.
enum Listing {
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

/// One collection's execution.
struct Run<'r, 's, A, B> {
    pair: &'r mut ItemPair<'s, A, B>,
    id: i64,
    plan: &'r CollectionPlan,
    views: &'r mut PerSide<SideView>,
    report: &'r mut CollectionReport,
    observer: &'r mut dyn Observer<Dav>,
    resolver: Option<&'r mut dyn ConflictResolver>,
    /// Writes made but not yet flushed and recorded.
    pending: Vec<(ItemAction, RowChange)>,
}

impl<A: ItemStore, B: ItemStore> Run<'_, '_, A, B> {
    /// Carries out a batch: the writes concurrently (a DAV client keeps several requests in
    /// flight), conflicts one by one (a resolver may ask the user).
    async fn execute(&mut self, batch: &[ItemAction]) {
        let (conflicts, writes): (Vec<&ItemAction>, Vec<&ItemAction>) = batch
            .iter()
            .partition(|a| matches!(a, ItemAction::Conflict { .. }));
        let results = {
            let this = &*self;
            join_all(writes.iter().map(|action| this.write(action)).collect()).await
        };
        for (action, result) in writes.into_iter().zip(results) {
            self.finish(action, result);
        }
        for action in conflicts {
            let result = self.conflict(action.uid()).await;
            self.finish(action, result);
        }
    }

    /// Carries out one action other than a conflict; returns what to record.
    async fn write(&self, action: &ItemAction) -> Result<RowChange> {
        let uid = action.uid().to_owned();
        match action {
            ItemAction::Record { .. } => self.versions(&uid).map(|(a, b)| RowChange::Record {
                uid: uid.clone(),
                a,
                b,
            }),
            ItemAction::Forget { .. } => Ok(RowChange::Remove { uid: uid.clone() }),
            ItemAction::Copy { from, .. } => self.copy(&uid, *from).await,
            ItemAction::Update { from, .. } => self.update(&uid, *from).await,
            ItemAction::Delete { side, .. } => self.delete(&uid, *side).await,
            ItemAction::Conflict { .. } => Err(unresolved()),
        }
    }

    fn finish(&mut self, action: &ItemAction, result: Result<RowChange>) {
        match result {
            Ok(change) => self.pending.push((action.clone(), change)),
            Err(error) => {
                let name = &self.plan.name;
                self.report
                    .errors
                    .push(error.context(format!("collection {name}: {action}")));
            }
        }
    }

    /// Both sides' current versions of `uid`.
    fn versions(&self, uid: &str) -> Result<(ItemVersion, ItemVersion)> {
        let get = |side: Side| {
            self.views.get(side).now.get(uid).cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::State,
                    format!("item {uid} is not on side {side}"),
                )
            })
        };
        Ok((get(Side::A)?, get(Side::B)?))
    }

    /// The content of `uid` on `side`, fetched now if the listing did not need it.
    async fn content(&self, uid: &str, side: Side) -> Result<String> {
        if let Some(data) = self.views.get(side).content.get(uid) {
            return Ok(data.clone());
        }
        let version = self.views.get(side).now.get(uid).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::State,
                format!("item {uid} is not on side {side}"),
            )
        })?;
        let collection = self.plan.id(side);
        let hrefs = [version.href.clone()];
        let mut fetched = on!(self.pair, side, s => s.get_many(collection, &hrefs).await)?;
        if let Some((_, why)) = fetched.failed.pop() {
            return Err(Error::new(
                ErrorKind::Peer,
                format!("reading {} on {side}: {why}", version.href),
            ));
        }
        let item = fetched.items.pop().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("{} on {side} is gone", version.href),
            )
        })?;
        if item.etag != version.etag {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "{} on {side} changed while syncing; run again",
                    version.href
                ),
            ));
        }
        Ok(item.data)
    }

    async fn copy(&self, uid: &str, from: Side) -> Result<RowChange> {
        let data = self.content(uid, from).await?;
        let source = self.views.get(from).now.get(uid).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::State,
                format!("item {uid} is not on side {from}"),
            )
        })?;
        let to = from.other();
        let collection = self.plan.id(to);
        let created = on!(self.pair, to, s => s.create_item(collection, &data).await)?;
        let copy = ItemVersion {
            href: created.href,
            etag: created.etag,
            hash: source.hash.clone(),
        };
        Ok(row(uid, from, source, copy))
    }

    async fn update(&self, uid: &str, from: Side) -> Result<RowChange> {
        let data = self.content(uid, from).await?;
        let (a, b) = self.versions(uid)?;
        let (source, target) = match from {
            Side::A => (a, b),
            Side::B => (b, a),
        };
        let to = from.other();
        let collection = self.plan.id(to);
        let etag = on!(self.pair, to, s => s.update_item(collection, &target.href, &target.etag, &data).await)?;
        let written = ItemVersion {
            href: target.href,
            etag,
            hash: source.hash.clone(),
        };
        Ok(row(uid, from, source, written))
    }

    async fn delete(&self, uid: &str, side: Side) -> Result<RowChange> {
        let version = self.views.get(side).now.get(uid).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::State,
                format!("item {uid} is not on side {side}"),
            )
        })?;
        let collection = self.plan.id(side);
        match on!(self.pair, side, s => s.delete_item(collection, &version.href, &version.etag).await)
        {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {} // Already gone: the goal is reached.
            Err(e) => return Err(e),
        }
        Ok(RowChange::Remove {
            uid: uid.to_owned(),
        })
    }

    async fn conflict(&mut self, uid: &str) -> Result<RowChange> {
        if self.resolver.is_none() {
            return Err(unresolved());
        }
        let a = self.content(uid, Side::A).await?;
        let b = self.content(uid, Side::B).await?;
        let merged = match self.resolver.as_deref_mut() {
            Some(resolver) => resolver.resolve(&self.plan.name, uid, &a, &b)?,
            None => return Err(unresolved()),
        };
        let hash = content_hash(&merged);
        let (mut va, mut vb) = self.versions(uid)?;
        for (side, version) in [(Side::A, &mut va), (Side::B, &mut vb)] {
            if version.hash != hash {
                let collection = self.plan.id(side);
                version.etag = on!(self.pair, side, s => s.update_item(collection, &version.href, &version.etag, &merged).await)?;
                version.hash = hash.clone();
            }
        }
        Ok(RowChange::Record {
            uid: uid.to_owned(),
            a: va,
            b: vb,
        })
    }

    /// Makes both sides durable, then records every pending write in one transaction.
    async fn flush_and_record(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pair.a.flush().await?;
        self.pair.b.flush().await?;
        let changes: Vec<RowChange> = self.pending.iter().map(|(_, c)| c.clone()).collect();
        self.pair.status.apply_items(self.id, &changes)?;
        for (action, _) in std::mem::take(&mut self.pending) {
            self.report.done.record(&action);
            self.observer.action_done(self.plan, &action);
        }
        Ok(())
    }
}

/// Runs `futures` concurrently on the current task and returns their outputs in order. (The
/// engine depends on no async runtime; the storages' own clients bound how many requests are
/// really in flight.)
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    // Every slot was filled before poll_fn returned Ready.
    outputs.into_iter().flatten().collect()
}

fn unresolved() -> Error {
    Error::new(
        ErrorKind::Refused,
        "changed differently on both sides; set conflict_resolution (\"keep a\", \"keep b\" \
         or a command for `pimlink resolve-conflicts`), or edit one side",
    )
}

/// The row recording `source` on `from` and `copy` on the other side.
fn row(uid: &str, from: Side, source: ItemVersion, copy: ItemVersion) -> RowChange {
    let (a, b) = match from {
        Side::A => (source, copy),
        Side::B => (copy, source),
    };
    RowChange::Record {
        uid: uid.to_owned(),
        a,
        b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn join_all_runs_futures_together_and_keeps_their_order() {
        // Each future waits at a barrier that opens only when all three are there: run one
        // after the other they would wait forever. The first then finishes last, so the order
        // of the results is that of the futures, not of their completion.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(3));
        let futures: Vec<_> = [30u8, 10, 20]
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                let barrier = barrier.clone();
                async move {
                    barrier.wait().await;
                    if index == 0 {
                        for _ in 0..3 {
                            tokio::task::yield_now().await;
                        }
                    }
                    value
                }
            })
            .collect();
        // Not a speed limit: only turns a deadlock (futures run one by one) into a failure.
        let joined = tokio::time::timeout(std::time::Duration::from_secs(60), join_all(futures))
            .await
            .expect("join_all polls its futures together");
        assert_eq!(joined, [30, 10, 20]);
        assert!(
            join_all(Vec::<std::future::Ready<u8>>::new())
                .await
                .is_empty()
        );
    }
}
