//! The mail executor: the only code that writes to the mail sides and the status.
//!
//! Order of every change, so that a process killed at any point loses and duplicates nothing:
//! 1. a copy is first recorded as a *pending* row (with the key the destination reserved, when
//!    it can reserve one);
//! 2. the side is changed;
//! 3. the side is flushed (files and directories fsynced, or the server acknowledged);
//! 4. only then does the status record the result.
//!
//! A run that dies between 1 and 4 leaves a pending row: the planner sees whether the item landed
//! and either confirms it or copies again. Flag changes and deletions need no intent: redoing
//! them is harmless, and the planner sees a half-done one as already agreed.
//!
//! A run ([`Pair::sync`], here) goes: plan the collections, prepare each (list, recognise by
//! content, plan its items), find moves across all of them, then carry each out. The files:
//! - `prepare.rs`: a collection made ready (`Prepared`): created where missing, interrupted
//!   copies settled, both sides listed and planned; removals of collections;
//! - `content.rs`: recognising messages by content (reset keys, messages known on no side);
//! - `late.rs`: removing late copies of interrupted uploads;
//! - `moves.rs`: messages moved between collections, moved on the other side too;
//! - `small_empty.rs`: the small-empty exception to the empty-side guard, over all of them;
//! - `run.rs` and `copy.rs`: carrying out one collection's plan (`CollectionRun`);
//! - `lanes.rs` (several collections at once), `limits.rs`, `read_ahead.rs`, `unchanged.rs`
//!   (skipping unchanged collections) and `failing.rs` (failures), each named after its job.
//!
//! Not here: deciding what to do (`mail::plan`, pure), the status tables' queries
//! (`mail::status`), the storages (`MailStore` implementations in other crates).

use crate::error::Result;
use crate::mail::flags::Flags;
use crate::mail::item::ItemKey;
use crate::name::CollectionName;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::mail::plan::{
    CollectionPlan, CollectionStep, ItemAction, ItemPlan, PlanCounts, hold_unlisted,
    plan_collections,
};
use crate::mail::status::{CollectionId, ItemId, StatusStore};
use crate::mail::store::MailStore;
use crate::policy::SyncPolicy;
use crate::side::{PerSide, Side};
use settling::Settling;
use unchanged::{Check, Taken};

mod unchanged;

mod content;
mod copy;
mod failing;
mod lanes;
mod late;
mod limits;
mod moves;
mod prepare;
mod read_ahead;
mod run;
mod settling;
mod small_empty;

// The run types are the floor's (run.rs), with mail's vocabulary (report.rs).
use super::report::Mail;
pub use super::report::{CollectionReport, LateCopyOutcome, MailDetails, PairReport};
pub use crate::run::{Observer, RunOptions};

/// The two sides of a pair and its status, borrowed for one run.
pub struct Pair<'s, A, B> {
    /// Side A.
    pub a: &'s mut A,
    /// Side B.
    pub b: &'s mut B,
    /// The pair's status.
    pub status: &'s mut StatusStore,
    /// What the pair may change.
    pub policy: SyncPolicy,
}

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Syncs every collection that `selected` accepts. Fails as a whole only when a side cannot
    /// be listed or the status cannot be read; everything else is reported per collection.
    ///
    /// Every collection is planned before any is changed, so that a message moved between
    /// collections on one side is found and moved on the other side too.
    ///
    /// A dry run ([`RunOptions::dry_run`]) works on a copy of the status
    /// ([`StatusStore::dry_run_copy`], dropped at the end) and makes there every status write
    /// that a real run makes, through the same code; only the sides are left alone (they are
    /// listed and read as in a real run, never changed). So what a dry run shows is what a
    /// real run would do, by construction. A status that already is such a copy is used as is.
    pub async fn sync(
        &mut self,
        selected: impl Fn(&CollectionName) -> bool,
        options: RunOptions,
        observer: &mut dyn Observer<Mail>,
    ) -> Result<PairReport> {
        if options.dry_run && !self.status.is_dry_run_copy() {
            let mut copy = self.status.dry_run_copy()?;
            let mut dry = Pair {
                a: &mut *self.a,
                b: &mut *self.b,
                status: &mut copy,
                policy: self.policy.clone(),
            };
            return dry.sync_collections(selected, options, observer).await;
        }
        self.sync_collections(selected, options, observer).await
    }

    /// True in a dry run: the status is a dry run's copy (see [`Self::sync`]), and the sides
    /// are not to be changed. Asked of the status, not of the options, so that no path can
    /// change a side while it records in a copy, or the other way round.
    fn dry_run(&self) -> bool {
        self.status.is_dry_run_copy()
    }

    /// [`Self::sync`] on the status this pair holds.
    async fn sync_collections(
        &mut self,
        selected: impl Fn(&CollectionName) -> bool,
        options: RunOptions,
        observer: &mut dyn Observer<Mail>,
    ) -> Result<PairReport> {
        let on_a = self
            .a
            .list_collections()
            .await
            .map_err(|e| failing::listing_error(e, &self.a.describe()))?;
        let on_b = self
            .b
            .list_collections()
            .await
            .map_err(|e| failing::listing_error(e, &self.b.describe()))?;
        let known = self.status.collections()?;
        let mut plans = plan_collections(&on_a, &on_b, &known, selected, &self.policy);
        let incomplete = PerSide {
            a: self.a.collections_incomplete(),
            b: self.b.collections_incomplete(),
        };
        hold_unlisted(&mut plans, &known, incomplete);
        for plan in &mut plans {
            if let Err(error) = self.confirm_removal(plan).await {
                // Keep the collection and its items: removing is never a fallback.
                plan.step = CollectionStep::Skip(format!("deciding whether to remove it: {error}"));
            }
        }
        let mut lanes = self.open_lanes(&plans);
        let (mut collections, lane_of) = self
            .prepare_on_lanes(&mut lanes, plans, options, observer)
            .await;

        if let Err(error) = self
            .moves(&mut collections, (&mut lanes, &lane_of), observer)
            .await
        {
            // Moves are an optimisation: without them the plans still delete and copy.
            if let Some((report, _)) = collections.first_mut() {
                report.errors.push(error.context("finding moved messages"));
            }
        }

        self.lift_small_empty(&mut collections);

        let full = FullSides::default();
        let collections = self
            .execute_on_lanes(&mut lanes, (collections, &lane_of), &full, observer)
            .await;
        self.close_handles(&mut lanes).await;
        Ok(PairReport { collections })
    }

    /// Lists and plans one collection; a failure is kept in its report.
    async fn prepare_one(
        &mut self,
        plan: CollectionPlan,
        options: RunOptions,
        observer: &mut dyn Observer<Mail>,
    ) -> (CollectionReport, Option<Prepared>) {
        observer.collection_planned(&plan);
        let mut report = CollectionReport {
            plan,
            done: PlanCounts::default(),
            errors: Vec::new(),
            refused: None,
            details: MailDetails::default(),
        };
        let taken = match self.unchanged_check(&report.plan).await {
            Check::Unchanged => {
                report.details.unchanged = true;
                return (report, None);
            }
            Check::Listed(taken) => taken,
        };
        let prepared = match self
            .prepare_collection(&mut report, options, observer)
            .await
        {
            Ok(Some(mut prepared)) => {
                self.set_flags_while_selected(&report, &mut prepared).await;
                self.read_ahead(&report, &prepared).await;
                Some(prepared)
            }
            Ok(None) => None,
            Err(error) => {
                let name = report.plan.name_a.clone();
                report
                    .errors
                    .push(error.context(format!("collection {name}")));
                None
            }
        };
        let prepared = prepared.map(|prepared| Prepared { taken, ..prepared });
        (report, prepared)
    }

    /// Carries out one planned collection (in a dry run: records in the status's copy what it
    /// would do, changing no side); a failure is kept in its report. Returns what is left to
    /// record of it at the end of the run.
    async fn execute_one(
        &mut self,
        mut collection: CollectionReport,
        prepared: Option<Prepared>,
        full: &FullSides,
        observer: &mut dyn Observer<Mail>,
    ) -> (CollectionReport, Option<Settling>) {
        let mut settling = None;
        if let Some(mut prepared) = prepared {
            let id = prepared.id;
            let mut states = None;
            let settle = (prepared.id, prepared.taken.take(), prepared.held);
            moves::lift_refusal_explained_by_moves(&mut prepared.items);
            observer.items_planned(&collection.plan, &prepared.items);
            if prepared.held != PerSide::default() {
                observer.held_back(&collection.plan, prepared.held);
            }
            collection.refused = prepared.items.refused.clone();
            if collection.refused.is_some() {
                // Withheld: nothing of this collection is done.
            } else {
                collection.done.held_back = prepared.items.held_back.len();
                let run = self.execute(&mut collection, prepared, full, observer);
                match run.await {
                    Ok(kept) => states = kept,
                    Err(error) => {
                        let name = collection.plan.name_a.clone();
                        collection
                            .errors
                            .push(error.context(format!("collection {name}")));
                    }
                }
            }
            // A collection stopped partway is not settled: its stamps would make the next run
            // skip it as unchanged and never copy the rest.
            let settled = match observer.stop_requested() {
                false => self.settle(settle, &mut collection).await,
                true => None,
            };
            settling = id.map(|collection| Settling {
                collection,
                states,
                settled,
            });
        }
        (collection, settling)
    }

    /// Makes a prepared collection's flag changes on the sides at once, while the collection
    /// is still the one each side just listed (an IMAP store still has the folder selected and
    /// sends its flag stores before it selects another): waiting until every collection is
    /// planned would cost a second SELECT per changed folder. Flag changes take no part in
    /// moves, so planning the other collections first would not change them. Nothing is
    /// recorded here: the results join the collection's last transaction, after its flush.
    /// A withheld plan, or a dry run, changes nothing.
    async fn set_flags_while_selected(
        &mut self,
        report: &CollectionReport,
        prepared: &mut Prepared,
    ) {
        if self.dry_run() || prepared.items.refused.is_some() || prepared.id.is_none() {
            return;
        }
        for action in &prepared.items.actions {
            if let ItemAction::Flags {
                id, set_a, set_b, ..
            } = action
            {
                let result = set_flags_on(self, &report.plan, set_a, set_b).await;
                prepared.flagged.insert(*id, result);
            }
        }
    }
}

/// A collection planned and ready to be carried out.
struct Prepared {
    /// Its status id (None only for a removal of a collection the status does not know).
    id: Option<CollectionId>,
    /// What to do.
    items: ItemPlan,
    /// The listing state of each side, kept if every change is applied.
    states: PerSide<Option<String>>,
    /// The flags of items the plan deletes, so that a move can keep them.
    deleted_flags: HashMap<(Side, ItemKey), Flags>,
    /// Changes waiting on read-only sides, for the report.
    held: PerSide<usize>,
    /// Flag changes already made on the sides while the collection was still selected there
    /// (see [`Pair::set_flags_while_selected`]), by row: recorded with the rest of the
    /// collection, after its flush.
    flagged: HashMap<ItemId, Result<()>>,
    /// The stamps taken before the listing, recorded if the run leaves the collection settled.
    taken: Option<Taken>,
    /// Whether each side listed at least one item here (see `small_empty.rs`).
    shows_items: PerSide<bool>,
}

/// Sets a flag change's flags on the sides that need them: A first, B only if A succeeded. A
/// dry run sets none.
async fn set_flags_on<A: MailStore, B: MailStore>(
    pair: &mut Pair<'_, A, B>,
    plan: &CollectionPlan,
    set_a: &Option<(ItemKey, Flags)>,
    set_b: &Option<(ItemKey, Flags)>,
) -> Result<()> {
    if pair.dry_run() {
        return Ok(());
    }
    if let Some((key, flags)) = set_a {
        pair.a.set_flags(&plan.name_a, key, flags).await?;
    }
    if let Some((key, flags)) = set_b {
        pair.b.set_flags(&plan.name_b, key, flags).await?;
    }
    Ok(())
}

/// One collection's execution: groups the plan's actions by kind and carries them out in
/// batches.
struct CollectionRun<'r, 's, A, B> {
    pair: &'r mut Pair<'s, A, B>,
    id: CollectionId,
    plan: &'r CollectionPlan,
    report: &'r mut CollectionReport,
    observer: &'r mut dyn Observer<Mail>,
    full: &'r FullSides,
}

/// The sides that reported a full disk in this run, with the cause each gave: copies to such a
/// side are not tried any more (`copy.rs`). One per run, shared by its lanes (which interleave
/// on one thread, never holding the borrow across an await).
type FullSides = RefCell<PerSide<Option<String>>>;
