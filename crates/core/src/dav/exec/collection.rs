//! One collection's sync in two steps: prepare (create or remove it as planned, learn whether
//! it changed since the last clean run, list and plan it), then carry out the plan in batches
//! and record its tokens and states only after a clean end. Between the two, `mod.rs` may hold
//! a refused collection back until the pair's other collections were listed.

use std::collections::BTreeSet;

use crate::dav::store::{Collection, CollectionState, ItemRef, ItemStore, SyncToken};
use crate::error::Result;
use crate::policy::OnEmpty;
use crate::side::{PerSide, Side};

use super::super::collections::{CollectionPlan, CollectionStep};
use super::super::model::{ItemPolicy, StatusRow};
use super::super::plan::{ItemAction, ItemPlan, plan_items};
use super::super::skip::{self, Observed};
use super::items::Run;
use super::listing::{Listing, SideView};
use super::{
    BATCH, CollectionReport, ConflictResolver, Dav, ItemPair, Observer, Prefetched, RunOptions,
};

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

/// What preparing a collection left to do.
pub(super) enum Prepared {
    /// Nothing more: removed, forgotten, skipped as planned, or not created in a dry run.
    Done,
    /// Unchanged on both sides since the last clean sync (its status id): not listed.
    Unchanged(i64),
    /// Listed and planned, to be carried out.
    Ready(Box<Ready>),
}

/// A collection listed and planned, not yet carried out: kept whole so that a refusal can
/// still be lifted once the pair's other collections were listed (`mod.rs`).
pub(super) struct Ready {
    id: i64,
    /// The sides a dry run leaves uncreated, though a real run creates the collection there.
    not_created: Vec<Side>,
    observed: PerSide<Observed>,
    views: PerSide<SideView>,
    rows: Vec<StatusRow>,
    /// True if some item was left out of the plan on both sides.
    excluded: bool,
    /// The plan.
    pub(super) items: ItemPlan,
    /// Whether each side listed at least one item here.
    pub(super) shows_items: PerSide<bool>,
}

impl Ready {
    /// Plans again without the empty-side guard: the plan the collection would have had if it
    /// had never been refused (the share guard cannot refuse below its floor, which is where
    /// the small-empty exception applies).
    pub(super) fn lift_empty_side_refusal(&mut self, policy: &ItemPolicy) {
        let mut policy = policy.clone();
        policy.sync.on_empty = OnEmpty::Sync;
        self.items = plan_items(&self.rows, &self.views.a.now, &self.views.b.now, &policy);
    }
}

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    /// Creates or removes the collection as planned, learns whether it changed since the last
    /// clean run, and lists and plans it. Nothing of the plan is carried out here.
    pub(super) async fn prepare_collection(
        &mut self,
        report: &mut CollectionReport,
        listed: &PerSide<Vec<Collection>>,
        prefetched: &mut Prefetched,
        options: RunOptions,
        observer: &mut dyn Observer<Dav>,
    ) -> Result<Prepared> {
        let plan = report.plan.clone();
        let known = self
            .status
            .find_dav_collection(&plan.name, &plan.a, &plan.b)?;
        let mut supports_sync = PerSide {
            a: listed.a.iter().any(|c| c.id == plan.a && c.supports_sync),
            b: listed.b.iter().any(|c| c.id == plan.b && c.supports_sync),
        };
        let missing_on = match &plan.step {
            CollectionStep::Skip(_) => return Ok(Prepared::Done),
            CollectionStep::Forget => {
                if let Some(id) = known {
                    self.status.forget_dav_collection(id)?;
                }
                return Ok(Prepared::Done);
            }
            CollectionStep::Delete(side) => {
                if !options.dry_run {
                    let id = plan.id(*side);
                    on!(self, *side, s => s.delete_collection(id).await)?;
                }
                if let Some(known) = known {
                    self.status.forget_dav_collection(known)?;
                }
                return Ok(Prepared::Done);
            }
            CollectionStep::Sync => Vec::new(),
            CollectionStep::Create(side) => vec![*side],
            CollectionStep::CreateBoth => vec![Side::A, Side::B],
        };
        // The sides a dry run leaves as they are, though a real run creates the collection
        // there: nothing can be read from them.
        let not_created = if options.dry_run {
            missing_on.clone()
        } else {
            for &side in &missing_on {
                let id = plan.id(side);
                let created = on!(self, side, s => s.create_collection(id).await)?;
                *supports_sync.get_mut(side) = created.supports_sync;
            }
            Vec::new()
        };
        let id = match known {
            Some(id) => id,
            None => self
                .status
                .dav_collection_id(&plan.name, &plan.a, &plan.b)?,
        };
        // Another tool's knowledge of a collection both sides hold beats matching its items by
        // UID: it knows what changed and what was deleted since. Asked for a pairing that never
        // finished a sync, so that one interrupted before or during the adoption adopts again.
        let mut adopted_listing = PerSide::default();
        if self.adopter.is_some()
            && missing_on.is_empty()
            && self.status.dav_never_synced(id)?
            && self.status.dav_items(id)?.is_empty()
        {
            let adopted = self.adopt(&plan, id).await?;
            report.details.adopted = adopted.rows;
            if let Some((side, items)) = adopted.listed {
                *adopted_listing.get_mut(side) = Some(items);
            }
        }
        let mut probe = self
            .probe(
                &plan,
                known,
                listed,
                &supports_sync,
                &missing_on,
                adopted_listing,
            )
            .await?;
        if let Some(known) = known {
            let recorded = PerSide {
                a: self.status.dav_state(known, Side::A)?,
                b: self.status.dav_state(known, Side::B)?,
            };
            if skip::unchanged(&plan.step, &recorded, &probe.now) {
                tracing::debug!(collection = %plan.name, "unchanged on both sides since the last clean sync");
                self.sync_meta(&plan, id, &not_created, options, report, observer)
                    .await?;
                return Ok(Prepared::Unchanged(known));
            }
            // Only a clean end of this run may record states again: an interrupted or failed
            // run must leave none that a later run could mistake for agreement.
            if recorded.a.is_some() || recorded.b.is_some() {
                for side in [Side::A, Side::B] {
                    self.status.set_dav_state(known, side, None)?;
                }
            }
        }
        let mut rows = self.status.dav_items(id)?;

        let mut views: PerSide<SideView> = PerSide::default();
        for side in [Side::A, Side::B] {
            if not_created.contains(&side) {
                continue; // A real run would find it empty.
            }
            let token = if *supports_sync.get(side) {
                self.status.dav_token(id, side)?
            } else {
                None
            };
            let ahead = match token {
                None => prefetched.take(side, plan.id(side)),
                Some(_) => None,
            };
            let listing = match (probe.listed.get_mut(side).take(), ahead) {
                (Some(items), _) => Listing::Full { items, token: None },
                (None, Some(listing)) => listing?,
                (None, None) => {
                    self.listing(side, plan.id(side), token, *supports_sync.get(side))
                        .await?
                }
            };
            *views.get_mut(side) = self.view(side, &plan, &rows, listing, report).await?;
        }
        self.read_unread(&plan, &mut rows, &mut views).await?;
        let shows_items = PerSide {
            a: !views.a.now.is_empty(),
            b: !views.b.now.is_empty(),
        };

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
        Ok(Prepared::Ready(Box::new(Ready {
            id,
            not_created,
            observed: probe.observed,
            views,
            rows,
            excluded: !excluded.is_empty(),
            items,
            shows_items,
        })))
    }

    /// Carries out a prepared collection's plan in batches, syncs its metadata, and records
    /// its tokens and states after a clean end.
    pub(super) async fn carry_out(
        &mut self,
        report: &mut CollectionReport,
        ready: Ready,
        options: RunOptions,
        observer: &mut dyn Observer<Dav>,
        mut resolver: Option<&mut dyn ConflictResolver>,
    ) -> Result<()> {
        let plan = report.plan.clone();
        let Ready {
            id,
            not_created,
            observed,
            mut views,
            items,
            excluded,
            ..
        } = ready;
        observer.items_planned(&plan, &items);
        report.refused = items.refused.clone();
        let mut run = Run {
            pair: self,
            id,
            dry_run: options.dry_run,
            plan: &plan,
            views: &mut views,
            report,
            observer,
            resolver: resolver
                .as_mut()
                .map(|r| &mut **r as &mut dyn ConflictResolver),
            pending: Vec::new(),
        };
        // A stop (SIGTERM to the daemon) ends the writes between batches; each batch before it
        // is recorded, and the tokens are not kept, so the next run does the rest.
        let mut stopped = false;
        for batch in items.actions.chunks(BATCH) {
            stopped = run.observer.stop_requested();
            if stopped {
                break;
            }
            run.execute(batch).await;
            run.flush_and_record().await?;
        }
        self.sync_meta(&plan, id, &not_created, options, report, observer)
            .await?;

        // A token may be kept only when every change it reported was handled; otherwise the
        // next run must be shown those changes again.
        let clean = report.errors.is_empty() && report.refused.is_none() && !excluded && !stopped;
        if clean {
            for side in [Side::A, Side::B] {
                if let Some(token) = &views.get(side).token {
                    self.status.set_dav_token(id, side, Some(token))?;
                }
            }
            let tokens = PerSide {
                a: views.a.token.as_ref(),
                b: views.b.token.as_ref(),
            };
            self.record_states(id, &observed, &tokens, &items.actions)?;
        }
        Ok(())
    }

    /// Learns each side's [`CollectionState`] before the collection is read: the marker its
    /// listing carried, or, for a side without sync tokens (which is listed in full anyway), a
    /// digest of that listing, kept for the sync to use. A marker the storage does not trust
    /// with the token recorded for the collection (`known`) is kept only to be recorded, if
    /// this run's token earns it that trust.
    /// `taken` is a listing this run already took of a side (the adoption's), used instead of
    /// listing it again.
    async fn probe(
        &self,
        plan: &CollectionPlan,
        known: Option<i64>,
        listed: &PerSide<Vec<Collection>>,
        supports_sync: &PerSide<bool>,
        missing_on: &[Side],
        mut taken: PerSide<Option<Vec<ItemRef>>>,
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
            let token = match known {
                Some(known) if *supports_sync.get(side) => self.status.dav_token(known, side)?,
                _ => None,
            };
            let trusted = on!(self, side, s => s.trusts_state(token.as_ref()));
            // An untrusted marker of a side with sync tokens may still be recorded, if the
            // token this run gets earns it that trust; a side without tokens is listed instead.
            if let Some(marker) = marker.filter(|_| trusted || *supports_sync.get(side)) {
                let state = skip::marker_state(marker);
                if trusted {
                    *probe.now.get_mut(side) = Some(state.clone());
                }
                *probe.observed.get_mut(side) = Observed::Marker(state);
            } else if !*supports_sync.get(side) {
                let items = match taken.get_mut(side).take() {
                    Some(items) => items,
                    None => on!(self, side, s => s.list_items(collection).await)
                        .map_err(|e| e.context(format!("listing {collection} on {side}")))?,
                };
                *probe.now.get_mut(side) = Some(skip::listing_state(
                    items.iter().map(|i| (&i.href, &i.etag)),
                ));
                *probe.observed.get_mut(side) = Observed::Listing;
                *probe.listed.get_mut(side) = Some(items);
            }
            if !*supports_sync.get(side) && probe.listed.get(side).is_none() {
                // A full listing is what the sync takes of such a side anyway.
                *probe.listed.get_mut(side) = taken.get_mut(side).take();
            }
        }
        Ok(probe)
    }

    /// Records, after a clean run, the states the next run compares with (see `skip`): a
    /// marker only if its storage trusts it with the token this run records (`tokens`).
    fn record_states(
        &mut self,
        id: i64,
        observed: &PerSide<Observed>,
        tokens: &PerSide<Option<&SyncToken>>,
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
            let observed = match observed.get(side) {
                Observed::Marker(_) if !on!(self, side, s => s.trusts_state(*tokens.get(side))) => {
                    &Observed::Unknown
                }
                observed => observed,
            };
            let state = skip::to_record(observed, skip::writes_to(actions, side), || {
                skip::listing_state(
                    rows.iter()
                        .map(|r| (&r.side(side).href, &r.side(side).etag)),
                )
            });
            self.status.set_dav_state(id, side, state.as_ref())?;
        }
        Ok(())
    }
}
