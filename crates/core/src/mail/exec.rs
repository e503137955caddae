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

use crate::error::{Error, ErrorKind, Result};
use crate::mail::flags::{Flag, Flags};
use crate::mail::item::ItemEntry;
use crate::mail::item::{ItemData, ItemKey, NewItem};
use crate::name::CollectionName;
use std::collections::HashMap;

use crate::mail::fingerprint::Fingerprint;
use crate::mail::plan::late_copies;
use crate::mail::plan::limits::HeldBack;
use crate::mail::plan::moves;
use crate::mail::plan::pairing::{self, Candidate, ResetRefusal};
use crate::mail::plan::{
    CollectionPlan, CollectionStep, ItemAction, ItemPlan, PlanCounts, Refusal, create_or_skip,
    held_for_read_only, hold_unlisted, plan_collections, plan_removal,
};
use crate::mail::status::StatusItem;
use crate::mail::status::{AbandonedCopy, CollectionId, ItemId, StatusChange, StatusStore};
use crate::mail::store::MailStore;
use crate::mail::store::{Known, Listing};
use crate::policy::SyncPolicy;
use crate::side::{PerSide, Side};
use unchanged::{Check, Taken};

mod unchanged;

mod failing;
mod lanes;
mod limits;
mod read_ahead;

/// How many copies are made between two flushes: one flush serves them all, while an
/// interruption redoes at most this many.
const COPY_BATCH: usize = 256;

/// The most bytes one batch of copies may hold (by the sizes the listings report), so that a
/// batch of big messages never sits in memory at once whatever the message sizes.
const COPY_BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// What an item of unknown size counts as against [`COPY_BATCH_BYTES`].
const UNKNOWN_SIZE: u64 = 64 * 1024;

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
    pub async fn sync(
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
            .moves(&mut collections, (&mut lanes, &lane_of), options, observer)
            .await
        {
            // Moves are an optimisation: without them the plans still delete and copy.
            if let Some((report, _)) = collections.first_mut() {
                report.errors.push(error.context("finding moved messages"));
            }
        }

        let collections = self
            .execute_on_lanes(&mut lanes, collections, &lane_of, options, observer)
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
                self.set_flags_while_selected(&report, &mut prepared, options)
                    .await;
                self.read_ahead(&report, &prepared, options).await;
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

    /// Carries out one planned collection (in a dry run: counts what it would do); a failure
    /// is kept in its report.
    async fn execute_one(
        &mut self,
        mut collection: CollectionReport,
        prepared: Option<Prepared>,
        options: RunOptions,
        observer: &mut dyn Observer<Mail>,
    ) -> CollectionReport {
        if let Some(mut prepared) = prepared {
            let settle = (prepared.id, prepared.taken.take(), prepared.held);
            lift_refusal_explained_by_moves(&mut prepared.items);
            observer.items_planned(&collection.plan, &prepared.items);
            if prepared.held != PerSide::default() {
                observer.held_back(&collection.plan, prepared.held);
            }
            collection.refused = prepared.items.refused.clone();
            if collection.refused.is_some() {
                // Withheld: nothing of this collection is done.
            } else if options.dry_run {
                let counts = prepared.items.counts();
                collection.done.add(&counts);
            } else {
                collection.done.held_back = prepared.items.held_back.len();
                if let Err(error) = self.execute(&mut collection, prepared, observer).await {
                    let name = collection.plan.name_a.clone();
                    collection
                        .errors
                        .push(error.context(format!("collection {name}")));
                }
            }
            self.settle(settle, &mut collection, options.dry_run);
        }
        collection
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
        options: RunOptions,
    ) {
        if options.dry_run || prepared.items.refused.is_some() || prepared.id.is_none() {
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

    /// Checks a planned removal of a collection deleted on the other side against what it
    /// holds on `side` now: it stays a removal only if every message there is paired (see
    /// [`crate::mail::plan::plan_removal`]); otherwise it is recreated on the other side (or
    /// skipped), as without `remove`.
    async fn confirm_removal(&mut self, plan: &mut CollectionPlan) -> Result<()> {
        let CollectionStep::Remove(side) = plan.step else {
            return Ok(());
        };
        if self.removal_items(plan, side).await?.is_none() {
            tracing::info!(
                "collection {}: deleted on side {} but holding unsynced messages on side \
                 {side}; kept",
                plan.name_a,
                side.other()
            );
            plan.step = create_or_skip(side.other(), true, &self.policy);
        }
        Ok(())
    }

    /// The deletions that empty a collection before its removal on `side`, or `None` if it
    /// holds anything that is not paired.
    async fn removal_items(
        &mut self,
        plan: &CollectionPlan,
        side: Side,
    ) -> Result<Option<(Option<CollectionId>, ItemPlan, Listing)>> {
        let id = self.status.find_collection(&plan.name_a, &plan.name_b)?;
        let rows = match id {
            Some(id) => self.status.items(id)?,
            None => Vec::new(),
        };
        let listing = match side {
            Side::A => self.a.list_items(&plan.name_a, Known::default()).await?,
            Side::B => self.b.list_items(&plan.name_b, Known::default()).await?,
        };
        let policy = self.policy.in_collection(&plan.name_a, &plan.name_b);
        Ok(plan_removal(&rows, side, &listing.items, &policy).map(|items| (id, items, listing)))
    }

    /// Plans a confirmed removal: the deletions of its paired messages on `side`.
    async fn prepare_removal(
        &mut self,
        plan: &CollectionPlan,
        side: Side,
    ) -> Result<Option<Prepared>> {
        let Some((id, items, listing)) = self.removal_items(plan, side).await? else {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "not removed on side {side}: messages arrived there since the plan was made; \
                     the next run decides again"
                ),
            ));
        };
        let mut listings = PerSide::<Listing>::default();
        *listings.get_mut(side) = listing;
        let deleted_flags = deleted_flags_of(&listings, &items);
        Ok(Some(Prepared {
            id,
            items,
            states: PerSide::default(),
            deleted_flags,
            held: PerSide::default(),
            flagged: HashMap::new(),
            taken: None,
        }))
    }

    /// Removes the emptied collection on `side` and forgets it, once every deletion in it
    /// succeeded.
    async fn finish_removal(
        &mut self,
        report: &CollectionReport,
        id: CollectionId,
        plan: &CollectionPlan,
        side: Side,
    ) -> Result<()> {
        if !report.errors.is_empty() {
            return Ok(());
        }
        match side {
            Side::A => self.a.delete_collection(&plan.name_a).await?,
            Side::B => self.b.delete_collection(&plan.name_b).await?,
        }
        self.status.forget_collection(id)?;
        Ok(())
    }

    /// Creates the collection where needed, lists both sides, recognises items by content where
    /// keys cannot be trusted, and plans. Nothing but a missing collection and content
    /// pairings is written here.
    async fn prepare_collection(
        &mut self,
        report: &mut CollectionReport,
        options: RunOptions,
        observer: &mut dyn Observer<Mail>,
    ) -> Result<Option<Prepared>> {
        let plan = report.plan.clone();
        let missing_on = match &plan.step {
            CollectionStep::Skip(_) => return Ok(None),
            CollectionStep::Sync => None,
            CollectionStep::Create(side) => Some(*side),
            CollectionStep::Remove(side) => return self.prepare_removal(&plan, *side).await,
        };
        if let (Some(side), false) = (missing_on, options.dry_run) {
            match side {
                Side::A => self.a.create_collection(&plan.name_a).await?,
                Side::B => self.b.create_collection(&plan.name_b).await?,
            }
        }
        let id = if options.dry_run {
            self.status.find_collection(&plan.name_a, &plan.name_b)?
        } else {
            Some(self.status.collection_id(&plan.name_a, &plan.name_b)?)
        };
        let mut rows = match id {
            Some(id) => self.status.items(id)?,
            None => Vec::new(),
        };

        let abandoned = match id {
            Some(id) => self.status.abandoned_copies(id)?,
            None => Vec::new(),
        };
        let settled = self.settle_unconfirmed(&plan, &rows, &abandoned).await;

        // List both sides, telling each what the status knows so that it can list
        // incrementally. In a dry run a collection that would be created has no items yet.
        let mut listings = PerSide::<Listing>::default();
        for side in [Side::A, Side::B] {
            if options.dry_run && missing_on == Some(side) {
                continue;
            }
            let state = match id {
                Some(id) => self.status.collection_state(id, side)?,
                None => None,
            };
            let known: Vec<(ItemKey, Flags)> = rows
                .iter()
                .filter(|row| row.pending != Some(side))
                .filter_map(|row| row.key(side).map(|key| (key.clone(), row.flags.clone())))
                .collect();
            let known = Known {
                state: state.as_deref(),
                items: &known,
            };
            *listings.get_mut(side) = match side {
                Side::A => self.a.list_items(&plan.name_a, known).await?,
                Side::B => self.b.list_items(&plan.name_b, known).await?,
            };
        }

        if rows.is_empty() && !listings.a.items.is_empty() && !listings.b.items.is_empty() {
            let items = PerSide {
                a: listings.a.items.len(),
                b: listings.b.items.len(),
            };
            observer.matching_by_content(&plan, items);
        }

        // Where keys cannot be trusted or are unknown, recognise items by content. (A dry run
        // of a collection the status does not know yet uses a placeholder id: nothing is
        // written.)
        let changes = match self
            .identify_by_content(id.unwrap_or(0), &plan, &rows, &listings, options.force)
            .await?
        {
            Ok(changes) => changes,
            Err(refusal) => {
                report.errors.push(Error::new(
                    ErrorKind::Refused,
                    format!("collection {}: {refusal}", plan.name_a),
                ));
                return Ok(None);
            }
        };
        if let (false, Some(id)) = (options.dry_run || changes.is_empty(), id) {
            self.status.apply(&changes)?;
            rows = self.status.items(id)?;
        } else {
            apply_in_memory(&mut rows, &changes);
        }

        if !abandoned.is_empty() {
            let late = (&abandoned[..], settled);
            self.remove_late_copies(&plan, late, &rows, &mut listings, report, options.dry_run)
                .await?;
        }

        let policy = self.policy.in_collection(&plan.name_a, &plan.name_b);
        let scope = keyword_scope(&plan, &listings, &policy);
        let items = self
            .plan_with_limits(
                (id, &plan),
                &rows,
                &mut listings,
                (&policy, &scope),
                options.dry_run,
            )
            .await?;
        // A move or a trash copy keeps the flags the message has where it goes.
        let deleted_flags = deleted_flags_of(&listings, &items);
        let held = held_for_read_only(&rows, &listings.a.items, &listings.b.items, &policy);
        Ok(Some(Prepared {
            id,
            items,
            states: PerSide {
                a: listings.a.state,
                b: listings.b.state,
            },
            deleted_flags,
            held,
            flagged: HashMap::new(),
            taken: None,
        }))
    }

    /// Before a side that an interrupted run may have been copying to is listed to confirm
    /// those copies (rows still pending towards it), lets it finish storing what that run had
    /// in flight ([`MailStore::settle`]): a copy that lands after the listing would be made
    /// again now and be there twice until the next run removes the late one. Waiting is best
    /// effort: if it fails, the late-copy check of the next run still removes such a copy. A
    /// side with records of given-up copies old enough to be forgotten (`abandoned`) waits
    /// too, since a record is only forgotten after such a wait. Returns the sides that settled
    /// (or had nothing to settle).
    async fn settle_unconfirmed(
        &mut self,
        plan: &CollectionPlan,
        rows: &[StatusItem],
        abandoned: &[AbandonedCopy],
    ) -> PerSide<bool> {
        let mut settled = PerSide { a: true, b: true };
        for side in [Side::A, Side::B] {
            let now = std::time::SystemTime::now();
            if !rows.iter().any(|row| row.pending == Some(side))
                && !abandoned
                    .iter()
                    .any(|record| record.side == side && late_copies::past_landing(record, now))
            {
                continue;
            }
            let result = match side {
                Side::A => self.a.settle(&plan.name_a).await,
                Side::B => self.b.settle(&plan.name_b).await,
            };
            if let Err(error) = result {
                *settled.get_mut(side) = false;
                tracing::warn!(
                    "collection {}: waiting for side {side} to finish earlier copies: {error}",
                    plan.name_a
                );
            }
        }
        settled
    }

    /// Carries out a prepared collection's plan, then keeps the listing state if every change
    /// was applied.
    async fn execute(
        &mut self,
        report: &mut CollectionReport,
        prepared: Prepared,
        observer: &mut dyn Observer<Mail>,
    ) -> Result<()> {
        let Some(id) = prepared.id else {
            return Ok(());
        };
        let plan = report.plan.clone();
        let mut run = CollectionRun {
            pair: self,
            id,
            plan: &plan,
            report,
            observer,
        };
        let removal = matches!(plan.step, CollectionStep::Remove(_));
        let states = (!removal).then_some(&prepared.states);
        let states_kept = run
            .execute(
                prepared.items.actions,
                &prepared.items.held_back,
                &prepared.deleted_flags,
                prepared.flagged,
                states,
            )
            .await?;
        if let CollectionStep::Remove(side) = plan.step {
            return self.finish_removal(report, id, &plan, side).await;
        }
        // The listing state may only be kept when every change it showed was applied: an
        // incremental listing next time would not show a change that is still pending.
        if !states_kept && report.errors.is_empty() && report.refused.is_none() {
            let states = &prepared.states;
            self.status
                .set_collection_states(id, states.a.as_deref(), states.b.as_deref())?;
        }
        Ok(())
    }

    /// Finds messages moved between collections on one side and moves them on the other side
    /// too, removing the delete and the copy the plans would otherwise make. In a dry run the
    /// moves are only reported.
    async fn moves(
        &mut self,
        collections: &mut [(CollectionReport, Option<Prepared>)],
        (lanes, lane_of): (&mut [lanes::Lane<A, B>], &[usize]),
        options: RunOptions,
        observer: &mut dyn Observer<Mail>,
    ) -> Result<()> {
        let can_move = PerSide {
            a: self.a.can_move(),
            b: self.b.can_move(),
        };
        // Candidates: deletions on a side that can move, copies towards such a side.
        let mut deletions: Vec<(usize, usize, Side, ItemKey)> = Vec::new();
        let mut copies: Vec<(usize, usize, Side, ItemKey)> = Vec::new();
        for (index, (_, prepared)) in collections.iter().enumerate() {
            // Refused plans count too: moves may explain why a side looks empty.
            let Some(prepared) = prepared.as_ref() else {
                continue;
            };
            // A row deleted on both sides (a message marked \Deleted), or whose other side keeps
            // the message, is no message that moved.
            let mut deletes_per_row: HashMap<ItemId, usize> = HashMap::new();
            for action in &prepared.items.actions {
                if let ItemAction::Delete { id, .. } = action {
                    *deletes_per_row.entry(*id).or_default() += 1;
                }
            }
            for (action_index, action) in prepared.items.actions.iter().enumerate() {
                match action {
                    ItemAction::Delete {
                        id,
                        side,
                        key,
                        keep_row: false,
                        ..
                    } if *can_move.get(*side) && deletes_per_row.get(id) == Some(&1) => {
                        deletions.push((index, action_index, *side, key.clone()));
                    }
                    ItemAction::Copy { from, key, .. } if *can_move.get(from.other()) => {
                        copies.push((index, action_index, *from, key.clone()));
                    }
                    _ => {}
                }
            }
        }
        let sides_with_both = [Side::A, Side::B].into_iter().filter(|side| {
            deletions.iter().any(|d| d.2 == *side) && copies.iter().any(|c| c.2 == side.other())
        });
        if sides_with_both.count() == 0 {
            return Ok(());
        }

        let vanished: Vec<moves::Vanished> = self
            .fingerprint_all(collections, &deletions, lanes, lane_of)
            .await
            .into_iter()
            .zip(&deletions)
            .map(
                |(fingerprint, (collection, action, on, _))| moves::Vanished {
                    collection: *collection,
                    action: *action,
                    on: *on,
                    fingerprint,
                },
            )
            .collect();
        let appeared: Vec<moves::Appeared> = self
            .fingerprint_all(collections, &copies, lanes, lane_of)
            .await
            .into_iter()
            .zip(&copies)
            .map(
                |(fingerprint, (collection, action, from, _))| moves::Appeared {
                    collection: *collection,
                    action: *action,
                    from: *from,
                    fingerprint,
                },
            )
            .collect();

        let mut done: Vec<(usize, usize)> = Vec::new();
        for (v, a) in moves::find_moves(&vanished, &appeared) {
            let (from_index, delete_index, side, key) = &deletions[v];
            let (to_index, copy_index, _, _) = &copies[a];
            let from_plan = collections[*from_index].0.plan.clone();
            let to_plan = collections[*to_index].0.plan.clone();
            observer.move_planned(&from_plan, &to_plan, *side, key);
            if !options.dry_run {
                let result = self
                    .move_one(
                        collections,
                        (*from_index, *delete_index),
                        (*to_index, *copy_index),
                        *side,
                    )
                    .await;
                if let Err(error) = result {
                    // The move may have happened (its answer lost with the connection), so the
                    // copy is left for the next run, which pairs a moved message by content
                    // or copies one that stayed: copying now could duplicate it. The delete
                    // stays: the message is gone from there on the other side.
                    collections[*from_index]
                        .0
                        .errors
                        .push(error.context(format!(
                            "moving {key} from {} to {} (the copy is left for the next run)",
                            from_plan.name_a, to_plan.name_a
                        )));
                    done.push((*to_index, *copy_index));
                    continue;
                }
            }
            collections[*to_index].0.done.moves += 1;
            done.push((*from_index, *delete_index));
            done.push((*to_index, *copy_index));
        }
        // Drop the replaced actions, highest index first so that the others stay valid.
        done.sort_unstable_by(|x, y| y.cmp(x));
        for (collection, action) in done {
            if let Some(prepared) = collections[collection].1.as_mut() {
                prepared.items.actions.remove(action);
            }
        }
        Ok(())
    }

    /// Fingerprints of the items named by `(collection, action, side, key)`, in order, read on
    /// `side` (the side that has each item), by the lane that listed the collection
    /// (`lane_of`).
    async fn fingerprint_all(
        &mut self,
        collections: &[(CollectionReport, Option<Prepared>)],
        items: &[(usize, usize, Side, ItemKey)],
        lanes: &mut [lanes::Lane<A, B>],
        lane_of: &[usize],
    ) -> Vec<Option<Fingerprint>> {
        let mut out = vec![None; items.len()];
        let mut groups: HashMap<(usize, Side), Vec<usize>> = HashMap::new();
        for (position, (collection, _, side, _)) in items.iter().enumerate() {
            groups
                .entry((*collection, *side))
                .or_default()
                .push(position);
        }
        for ((collection, side), positions) in groups {
            let plan = &collections[collection].0.plan;
            let keys: Vec<ItemKey> = positions.iter().map(|p| items[*p].3.clone()).collect();
            let lane = lane_of.get(collection).copied().unwrap_or(0);
            let fingerprints = self
                .fingerprints_on_lane(lanes, lane, plan, side, &keys)
                .await;
            for (position, fingerprint) in positions.into_iter().zip(fingerprints) {
                out[position] = fingerprint.ok().flatten();
            }
        }
        out
    }

    /// Moves one message on `side` from the collection of the delete action to that of the
    /// copy action, gives it the flags it has on the other side, and records the new pairing.
    async fn move_one(
        &mut self,
        collections: &[(CollectionReport, Option<Prepared>)],
        (from_index, delete_index): (usize, usize),
        (to_index, copy_index): (usize, usize),
        side: Side,
    ) -> Result<()> {
        let (from_report, Some(from)) = &collections[from_index] else {
            return Ok(());
        };
        let (to_report, Some(to)) = &collections[to_index] else {
            return Ok(());
        };
        let (
            ItemAction::Delete { id, key, .. },
            ItemAction::Copy {
                key: other_key,
                flags,
                ..
            },
        ) = (
            &from.items.actions[delete_index],
            &to.items.actions[copy_index],
        )
        else {
            return Ok(());
        };
        let Some(to_id) = to.id else {
            return Ok(());
        };
        let names = |plan: &CollectionPlan| match side {
            Side::A => plan.name_a.clone(),
            Side::B => plan.name_b.clone(),
        };
        let (from_name, to_name) = (names(&from_report.plan), names(&to_report.plan));
        let new_key = match side {
            Side::A => self.a.move_item(&from_name, key, &to_name).await?,
            Side::B => self.b.move_item(&from_name, key, &to_name).await?,
        };
        if from.deleted_flags.get(&(side, key.clone())) != Some(flags) {
            match side {
                Side::A => self.a.set_flags(&to_name, &new_key, flags).await?,
                Side::B => self.b.set_flags(&to_name, &new_key, flags).await?,
            }
        }
        match side {
            Side::A => self.a.flush().await?,
            Side::B => self.b.flush().await?,
        }
        let (key_a, key_b) = match side {
            Side::A => (new_key, other_key.clone()),
            Side::B => (other_key.clone(), new_key),
        };
        self.status.apply(&[
            StatusChange::Remove { id: *id },
            StatusChange::Pair {
                collection: to_id,
                key_a,
                key_b,
                flags: flags.clone(),
            },
        ])?;
        Ok(())
    }

    /// Decides, from content fingerprints, the status changes that re-pair a side whose keys
    /// were reset and that pair items unknown on both sides. Fingerprints are gathered only when
    /// there is something to match, since they cost a read per item.
    async fn identify_by_content(
        &mut self,
        id: CollectionId,
        plan: &CollectionPlan,
        rows: &[StatusItem],
        listings: &PerSide<Listing>,
        force: bool,
    ) -> Result<Result<Vec<StatusChange>, ResetRefusal>> {
        let mut changes = Vec::new();
        let mut rows = rows.to_vec();
        for side in [Side::A, Side::B] {
            if !listings.get(side).keys_reset || rows.is_empty() {
                continue;
            }
            let other = side.other();
            let present: std::collections::HashSet<&ItemKey> =
                listings.get(other).items.iter().map(|e| &e.key).collect();
            let counterpart_keys: Vec<ItemKey> = rows
                .iter()
                .filter_map(|row| row.key(other))
                .filter(|key| present.contains(key))
                .cloned()
                .collect();
            let counterparts = self
                .candidates(plan, other, &counterpart_keys, &listings.get(other).items)
                .await?;
            let all: Vec<ItemKey> = listings
                .get(side)
                .items
                .iter()
                .map(|e| e.key.clone())
                .collect();
            let now = self
                .candidates(plan, side, &all, &listings.get(side).items)
                .await?;
            match pairing::rekey_after_reset(id, &rows, side, &counterparts, &now, force) {
                Ok(rekeyed) => {
                    apply_in_memory(&mut rows, &rekeyed);
                    changes.extend(rekeyed);
                }
                Err(refusal) => return Ok(Err(refusal)),
            }
        }
        // Items the status does not know on each side, plus sources of copies whose
        // destination key was never learnt.
        let mut unknown = PerSide::<Vec<ItemKey>>::default();
        for side in [Side::A, Side::B] {
            let known: std::collections::HashSet<&ItemKey> =
                rows.iter().filter_map(|row| row.key(side)).collect();
            let unresolved: std::collections::HashSet<&ItemKey> = rows
                .iter()
                .filter(|row| row.pending == Some(side.other()) && row.key(side.other()).is_none())
                .filter_map(|row| row.key(side))
                .collect();
            *unknown.get_mut(side) = listings
                .get(side)
                .items
                .iter()
                .map(|e| &e.key)
                .filter(|key| !known.contains(key) || unresolved.contains(key))
                .cloned()
                .collect();
        }
        if !unknown.a.is_empty() && !unknown.b.is_empty() {
            let a = self
                .candidates(plan, Side::A, &unknown.a, &listings.a.items)
                .await?;
            let b = self
                .candidates(plan, Side::B, &unknown.b, &listings.b.items)
                .await?;
            changes.extend(pairing::pair_unknown(id, &rows, &a, &b));
        }
        Ok(Ok(changes))
    }

    /// Removes messages that an interrupted run's APPEND stored after a later run had given
    /// that copy up and made it again (`plan::late_copies`), and takes them out of `listings`
    /// so that they are not copied back as new mail; forgets the records that found nothing on
    /// a side that settled before it was listed. Costs nothing unless a copy was given up.
    async fn remove_late_copies(
        &mut self,
        plan: &CollectionPlan,
        (abandoned, settled): (&[AbandonedCopy], PerSide<bool>),
        rows: &[StatusItem],
        listings: &mut PerSide<Listing>,
        report: &mut CollectionReport,
        dry_run: bool,
    ) -> Result<()> {
        let mut unknown = PerSide::<Vec<Candidate>>::default();
        let mut sources = PerSide::<Vec<Candidate>>::default();
        for side in [Side::A, Side::B] {
            let source_side = side.other();
            let listed: std::collections::HashSet<&ItemKey> = listings
                .get(source_side)
                .items
                .iter()
                .map(|e| &e.key)
                .collect();
            let source_keys: Vec<ItemKey> = abandoned
                .iter()
                .filter(|record| record.side == side && listed.contains(&record.source_key))
                .map(|record| record.source_key.clone())
                .collect();
            if source_keys.is_empty() {
                continue;
            }
            let known: std::collections::HashSet<&ItemKey> =
                rows.iter().filter_map(|row| row.key(side)).collect();
            let unknown_keys: Vec<ItemKey> = listings
                .get(side)
                .items
                .iter()
                .map(|e| &e.key)
                .filter(|key| !known.contains(key))
                .cloned()
                .collect();
            *sources.get_mut(source_side) = self
                .candidates(
                    plan,
                    source_side,
                    &source_keys,
                    &listings.get(source_side).items,
                )
                .await?;
            if !unknown_keys.is_empty() {
                *unknown.get_mut(side) = self
                    .candidates(plan, side, &unknown_keys, &listings.get(side).items)
                    .await?;
            }
        }
        let now = std::time::SystemTime::now();
        let found = late_copies::find(abandoned, rows, &unknown, &sources, now);
        let (mut removed, mut kept) = (Vec::new(), Vec::new());
        for copy in &found.late {
            // Whatever happens, a late copy is not offered to the planner as new mail.
            listings
                .get_mut(copy.side)
                .items
                .retain(|entry| entry.key != copy.key);
            let mut outcome = LateCopyOutcome {
                side: copy.side,
                key: copy.key.clone(),
                removed: false,
            };
            if !dry_run {
                let result = match copy.side {
                    Side::A => self.a.delete(&plan.name_a, &copy.key).await,
                    Side::B => self.b.delete(&plan.name_b, &copy.key).await,
                };
                match result {
                    Ok(()) => {
                        outcome.removed = true;
                        removed.push(copy.abandoned);
                    }
                    // Left in place and reported; its record must outlive it.
                    Err(error) if error.kind() == ErrorKind::Unsupported => {
                        kept.push(copy.abandoned)
                    }
                    Err(error) => report.errors.push(error.context(format!(
                        "removing {}, a late duplicate of an interrupted upload, on {}",
                        copy.key, copy.side
                    ))),
                }
            }
            report.details.late_copies.push(outcome);
        }
        // Records past their landing window that found nothing on a side that finished storing
        // what earlier runs sent: no late copy is coming for them.
        let stale: Vec<i64> = found
            .stale
            .iter()
            .copied()
            .filter(|id| {
                abandoned
                    .iter()
                    .any(|record| record.id == *id && *settled.get(record.side))
            })
            .collect();
        if !dry_run && !stale.is_empty() {
            self.status.forget_abandoned_copies(&stale)?;
        }
        if !removed.is_empty() || !kept.is_empty() {
            // Durable before the records that would find them again are dropped.
            self.a.flush().await?;
            self.b.flush().await?;
            self.status.keep_abandoned_copies(&kept)?;
            self.status.forget_abandoned_copies(&removed)?;
        }
        Ok(())
    }

    /// Fingerprints of `keys` on `side`, with their flags from `listing`. An item that cannot
    /// be read gets no fingerprint and so matches nothing.
    async fn candidates(
        &mut self,
        plan: &CollectionPlan,
        side: Side,
        keys: &[ItemKey],
        listing: &[ItemEntry],
    ) -> Result<Vec<Candidate>> {
        let fingerprints = match side {
            Side::A => self.a.fingerprints(&plan.name_a, keys).await,
            Side::B => self.b.fingerprints(&plan.name_b, keys).await,
        };
        let flags: std::collections::HashMap<&ItemKey, &Flags> =
            listing.iter().map(|e| (&e.key, &e.flags)).collect();
        Ok(keys
            .iter()
            .zip(fingerprints)
            .map(|(key, fingerprint)| Candidate {
                key: key.clone(),
                fingerprint: fingerprint.ok().flatten(),
                flags: flags.get(key).map(|f| (*f).clone()).unwrap_or_default(),
            })
            .collect())
    }
}

/// Moves `key` from `from` into the trash collection `trash` of `store` (see
/// `CollectionRun::trash`).
async fn trash_one<S: MailStore>(
    store: &mut S,
    from: &CollectionName,
    key: &ItemKey,
    trash: &CollectionName,
    flags: Option<&Flags>,
) -> Result<()> {
    if !store.can_move() && !store.can_delete() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{} can neither move nor delete messages; not copied into the trash",
                store.describe()
            ),
        ));
    }
    store.create_collection(trash).await?;
    // The copy in the trash is a plain message again: a \Deleted mark there would let the next
    // expunge of the trash lose it.
    let kept = flags.map(|f| f.clone().without(Flag::Trashed));
    if store.can_move() {
        match (&kept, flags) {
            (Some(kept), Some(flags)) if kept != flags => {
                store.move_item_with_flags(from, key, trash, kept).await?;
            }
            _ => {
                store.move_item(from, key, trash).await?;
            }
        }
        return Ok(());
    }
    let data = store.read(from, key).await?;
    let item = NewItem {
        data,
        flags: &kept.unwrap_or_default(),
        reserved_key: store.reserve_key(),
    };
    store.deliver(trash, item).await?;
    // The copy must be durable before the original goes.
    store.flush().await?;
    store.delete(from, key).await
}

/// Splits copies into batches of at most [`COPY_BATCH`] items and [`COPY_BATCH_BYTES`] bytes
/// (an item bigger than that goes alone).
fn copy_batches(copies: &[ItemAction]) -> Vec<&[ItemAction]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, action) in copies.iter().enumerate() {
        let size = match action {
            ItemAction::Copy { size, .. } => size.unwrap_or(UNKNOWN_SIZE),
            _ => 0,
        };
        let count = index - start;
        if count > 0 && (count >= COPY_BATCH || bytes + size > COPY_BATCH_BYTES) {
            batches.push(&copies[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += size;
    }
    if start < copies.len() {
        batches.push(&copies[start..]);
    }
    batches
}

/// Applies status changes to rows in memory: for later matching within the same run, and for a
/// dry run, which records nothing. New rows get negative ids, which no stored row has.
fn apply_in_memory(rows: &mut Vec<StatusItem>, changes: &[StatusChange]) {
    let find = |rows: &mut Vec<StatusItem>, id: ItemId| rows.iter_mut().position(|r| r.id == id);
    for change in changes {
        match change {
            StatusChange::BeginCopy {
                to,
                source_key,
                reserved_key,
                flags,
                ..
            } => {
                let (key_a, key_b) = match to {
                    Side::B => (Some(source_key.clone()), reserved_key.clone()),
                    Side::A => (reserved_key.clone(), Some(source_key.clone())),
                };
                let id = -(rows.len() as ItemId) - 1;
                rows.push(StatusItem {
                    id,
                    key_a,
                    key_b,
                    flags: flags.clone(),
                    pending: Some(*to),
                    expired: None,
                });
            }
            StatusChange::HoldBack {
                side, key, flags, ..
            } => {
                let id = -(rows.len() as ItemId) - 1;
                let (key_a, key_b) = match side {
                    Side::A => (None, Some(key.clone())),
                    Side::B => (Some(key.clone()), None),
                };
                rows.push(StatusItem {
                    id,
                    key_a,
                    key_b,
                    flags: flags.clone(),
                    pending: None,
                    expired: Some(*side),
                });
            }
            StatusChange::Pair {
                key_a,
                key_b,
                flags,
                ..
            } => {
                let id = -(rows.len() as ItemId) - 1;
                rows.push(StatusItem {
                    id,
                    key_a: Some(key_a.clone()),
                    key_b: Some(key_b.clone()),
                    flags: flags.clone(),
                    pending: None,
                    expired: None,
                });
            }
            StatusChange::FinishCopy { id, to, key } => {
                if let Some(i) = find(rows, *id) {
                    match to {
                        Side::A => rows[i].key_a = Some(key.clone()),
                        Side::B => rows[i].key_b = Some(key.clone()),
                    }
                    rows[i].pending = None;
                }
            }
            StatusChange::SetFlags { id, flags } => {
                if let Some(i) = find(rows, *id) {
                    rows[i].flags = flags.clone();
                    rows[i].pending = None;
                }
            }
            StatusChange::Remove { id } => rows.retain(|row| row.id != *id),
            StatusChange::ClearKeys { side, .. } => {
                for row in rows.iter_mut() {
                    match side {
                        Side::A => row.key_a = None,
                        Side::B => row.key_b = None,
                    }
                }
            }
            StatusChange::BeginExpire { id, side } => {
                if let Some(i) = find(rows, *id) {
                    rows[i].expired = Some(*side);
                }
            }
            StatusChange::FinishExpire { id, side } => {
                if let Some(i) = find(rows, *id) {
                    match side {
                        Side::A => rows[i].key_a = None,
                        Side::B => rows[i].key_b = None,
                    }
                }
            }
            StatusChange::SetKey { id, side, key } => {
                if let Some(i) = find(rows, *id) {
                    match side {
                        Side::A => rows[i].key_a = Some(key.clone()),
                        Side::B => rows[i].key_b = Some(key.clone()),
                    }
                }
            }
        }
    }
}

/// The flags, as listed, of the items a plan deletes: a move or a trash copy keeps them.
fn deleted_flags_of(
    listings: &PerSide<Listing>,
    items: &ItemPlan,
) -> HashMap<(Side, ItemKey), Flags> {
    let mut wanted: PerSide<std::collections::HashSet<&ItemKey>> = PerSide::default();
    for action in &items.actions {
        if let ItemAction::Delete { side, key, .. } = action {
            wanted.get_mut(*side).insert(key);
        }
    }
    let mut out = HashMap::new();
    for side in [Side::A, Side::B] {
        for entry in &listings.get(side).items {
            if wanted.get(side).contains(&entry.key) {
                out.insert((side, entry.key.clone()), entry.flags.clone());
            }
        }
    }
    // A message the plan marks \Deleted before removing it has that mark when it goes.
    for action in &items.actions {
        if let ItemAction::Flags { set_a, set_b, .. } = action {
            for (side, set) in [(Side::A, set_a), (Side::B, set_b)] {
                if let Some((key, flags)) = set
                    && let Some(known) = out.get_mut(&(side, key.clone()))
                {
                    *known = flags.clone();
                }
            }
        }
    }
    out
}

/// Lifts a refusal once moves have replaced the deletions it withheld: a folder whose
/// messages were all (or mostly) moved elsewhere was emptied on purpose. Otherwise the refusal
/// stands, with the count of deletions still planned.
fn lift_refusal_explained_by_moves(items: &mut ItemPlan) {
    items.refused = match items.refused.take() {
        Some(Refusal::EmptySide { side, known, .. }) => {
            let deletions = crate::mail::plan::removals_on(&items.actions, side.other());
            (deletions > 0).then_some(Refusal::EmptySide {
                side,
                known,
                deletions,
            })
        }
        Some(Refusal::TooManyDeletions {
            side,
            known,
            limit,
            rows,
            ..
        }) => {
            let deletions =
                crate::mail::plan::max_delete::still_withheld(&items.actions, side.other(), &rows);
            limit
                .refuses(deletions, known)
                .then_some(Refusal::TooManyDeletions {
                    side,
                    known,
                    deletions,
                    limit,
                    rows,
                })
        }
        None => None,
    };
}

/// A collection planned and ready to be carried out.
struct Prepared {
    /// Its status id (None only in a dry run of a collection the status does not know).
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
}

/// Sets a flag change's flags on the sides that need them: A first, B only if A succeeded.
async fn set_flags_on<A: MailStore, B: MailStore>(
    pair: &mut Pair<'_, A, B>,
    plan: &CollectionPlan,
    set_a: &Option<(ItemKey, Flags)>,
    set_b: &Option<(ItemKey, Flags)>,
) -> Result<()> {
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
}

impl<A: MailStore, B: MailStore> CollectionRun<'_, '_, A, B> {
    /// Returns whether the listing `states` were recorded (with the collection's last
    /// changes, in their transaction).
    async fn execute(
        &mut self,
        actions: Vec<ItemAction>,
        held_back: &[HeldBack],
        deleted_flags: &HashMap<(Side, ItemKey), Flags>,
        flagged: HashMap<ItemId, Result<()>>,
        states: Option<&PerSide<Option<String>>>,
    ) -> Result<bool> {
        let mut forgets = Vec::new();
        let mut flags = Vec::new();
        let mut copies = Vec::new();
        let mut deletes = Vec::new();
        let mut expires = Vec::new();
        for action in actions {
            match action {
                ItemAction::Forget { .. } => forgets.push(action),
                ItemAction::Flags { .. } => flags.push(action),
                ItemAction::Copy { .. } => copies.push(action),
                ItemAction::Delete { .. } => deletes.push(action),
                ItemAction::Expire { .. } => expires.push(action),
            }
        }
        let copies = failing::retries_last(copies);
        self.forget(&forgets, held_back)?;
        // Flag changes and deletions need no intent, so one flush and one transaction at the
        // end serve both (each flush and commit is an fsync); the copies' flushes on the way
        // only make them durable sooner.
        let done = self.set_flags(&flags, flagged).await;
        // The last batch is recorded with the flag changes and deletions, in one transaction.
        let mut last_copies = Vec::new();
        if let Some((last, earlier)) = copy_batches(&copies).split_last() {
            for batch in earlier {
                self.copy(batch).await?;
            }
            last_copies = self.copy_unrecorded(last).await?;
        }
        let mut done: Vec<(&ItemAction, Option<StatusChange>)> = done
            .into_iter()
            .chain(last_copies)
            .map(|(action, change)| (action, Some(change)))
            .collect();
        done.extend(self.delete(&deletes, deleted_flags).await);
        let states = states.filter(|_| expires.is_empty());
        let states_kept = self.flush_and_record_some(done, states).await?;
        self.expire(&expires).await?;
        Ok(states_kept)
    }

    /// Removes items from the near side that the limits no longer keep. The row is marked
    /// first, so that a run killed after the removal sees an unfinished expiry, never a
    /// deletion to carry to the far side.
    async fn expire(&mut self, actions: &[ItemAction]) -> Result<()> {
        if actions.is_empty() {
            return Ok(());
        }
        let marks: Vec<StatusChange> = actions
            .iter()
            .filter_map(|action| match action {
                ItemAction::Expire { id, side, .. } => Some(StatusChange::BeginExpire {
                    id: *id,
                    side: *side,
                }),
                _ => None,
            })
            .collect();
        self.pair.status.apply(&marks)?;
        let mut done = Vec::new();
        for action in actions {
            let ItemAction::Expire { id, side, key } = action else {
                continue;
            };
            let result = match side {
                Side::A => self.pair.a.delete(&self.plan.name_a, key).await,
                Side::B => self.pair.b.delete(&self.plan.name_b, key).await,
            };
            match result {
                Ok(()) => done.push((
                    action,
                    StatusChange::FinishExpire {
                        id: *id,
                        side: *side,
                    },
                )),
                Err(error) => self.failed(action, error),
            }
        }
        self.flush_and_record(done).await
    }

    /// Drops the rows of items gone from both sides, and records the copies the limits hold
    /// back (after the drops: a held-back copy may replace a stale pending row of its item).
    fn forget(&mut self, actions: &[ItemAction], held_back: &[HeldBack]) -> Result<()> {
        let mut changes: Vec<StatusChange> = actions
            .iter()
            .filter_map(|action| match action {
                ItemAction::Forget { id } => Some(StatusChange::Remove { id: *id }),
                _ => None,
            })
            .collect();
        changes.extend(held_back.iter().map(|held| StatusChange::HoldBack {
            collection: self.id,
            side: held.from.other(),
            key: held.key.clone(),
            flags: held.flags.clone(),
        }));
        self.pair.status.apply(&changes)?;
        for action in actions {
            self.observer.action_done(self.plan, action);
        }
        Ok(())
    }

    /// Sets flags on the sides; returns the changes to record once the sides are flushed.
    async fn set_flags<'a>(
        &mut self,
        actions: &'a [ItemAction],
        mut flagged: HashMap<ItemId, Result<()>>,
    ) -> Vec<(&'a ItemAction, StatusChange)> {
        let mut done = Vec::new();
        for action in actions {
            let ItemAction::Flags {
                id,
                set_a,
                set_b,
                agreed,
            } = action
            else {
                continue;
            };
            let result = match flagged.remove(id) {
                Some(result) => result,
                None => set_flags_on(self.pair, self.plan, set_a, set_b).await,
            };
            match result {
                Ok(()) => done.push((
                    action,
                    StatusChange::SetFlags {
                        id: *id,
                        flags: agreed.clone(),
                    },
                )),
                Err(error) => self.failed(action, error),
            }
        }
        done
    }

    async fn copy(&mut self, batch: &[ItemAction]) -> Result<()> {
        let done = self.copy_unrecorded(batch).await?;
        self.flush_and_record(done).await
    }

    /// Steps 1 and 2 of a batch of copies: the intents are recorded and the items delivered;
    /// returns the results to record once the sides are flushed (3 and 4).
    async fn copy_unrecorded<'a>(
        &mut self,
        batch: &'a [ItemAction],
    ) -> Result<Vec<(&'a ItemAction, StatusChange)>> {
        // 1. Record every copy's intent, with the key the destination reserves for it.
        let mut intents = Vec::new();
        let mut reserved = Vec::new();
        for action in batch {
            let ItemAction::Copy {
                from,
                key,
                flags,
                replaces,
                ..
            } = action
            else {
                continue;
            };
            if let Some(id) = replaces {
                intents.push(StatusChange::Remove { id: *id });
            }
            let reserved_key = match from.other() {
                Side::A => self.pair.a.reserve_key(),
                Side::B => self.pair.b.reserve_key(),
            };
            reserved.push(reserved_key.clone());
            intents.push(StatusChange::BeginCopy {
                collection: self.id,
                to: from.other(),
                source_key: key.clone(),
                reserved_key,
                flags: flags.clone(),
            });
        }
        // A stale copy to a side that picks its own keys may still land (the server finishing
        // an APPEND of the interrupted run): remember it before copying again, so that a late
        // arrival is recognised as ours (plan::late_copies).
        let mut abandoned = PerSide::<Vec<ItemKey>>::default();
        for (action, reserved_key) in batch.iter().zip(&reserved) {
            if let ItemAction::Copy {
                from,
                key,
                replaces: Some(_),
                ..
            } = action
                && reserved_key.is_none()
            {
                abandoned.get_mut(from.other()).push(key.clone());
            }
        }
        for side in [Side::A, Side::B] {
            self.pair
                .status
                .record_abandoned_copies(self.id, side, abandoned.get(side))?;
        }
        let ids = self.pair.status.apply_awaited(intents).await?;

        // 2. Read each source side's items in one batch, then deliver them one by one.
        let mut done = Vec::new();
        let mut pending: Vec<(&ItemAction, ItemId, Option<ItemKey>)> = Vec::new();
        for ((action, id), reserved_key) in batch.iter().zip(ids).zip(reserved) {
            pending.push((action, id, reserved_key));
        }
        for from in [Side::A, Side::B] {
            let of_side: Vec<&(&ItemAction, ItemId, Option<ItemKey>)> = pending
                .iter()
                .filter(|(action, _, _)| matches!(action, ItemAction::Copy { from: f, .. } if *f == from))
                .collect();
            if of_side.is_empty() {
                continue;
            }
            let keys: Vec<ItemKey> = of_side
                .iter()
                .filter_map(|(action, _, _)| match action {
                    ItemAction::Copy { key, .. } => Some(key.clone()),
                    _ => None,
                })
                .collect();
            let (source_name, dest_name) = match from {
                Side::A => (&self.plan.name_a, &self.plan.name_b),
                Side::B => (&self.plan.name_b, &self.plan.name_a),
            };
            let read = match from {
                Side::A => self.pair.a.read_many(source_name, &keys).await,
                Side::B => self.pair.b.read_many(source_name, &keys).await,
            };
            let delivered = self.deliver_read(from, dest_name, &of_side, read).await;
            for ((action, id, _), (result, size)) in of_side.into_iter().zip(delivered) {
                match result {
                    Ok(new_key) => done.push((
                        *action,
                        StatusChange::FinishCopy {
                            id: *id,
                            to: from.other(),
                            key: new_key,
                        },
                    )),
                    Err(error) => self.failed_sized(action, size, error),
                }
            }
        }
        Ok(done)
    }

    /// Delivers what was read for `copies` (from side `from`) to `dest` on the other side in
    /// one `deliver_many`, which an IMAP side pipelines; one result per copy, in order.
    async fn deliver_read(
        &mut self,
        from: Side,
        dest: &CollectionName,
        copies: &[&(&ItemAction, ItemId, Option<ItemKey>)],
        read: Vec<Result<ItemData>>,
    ) -> Vec<(Result<ItemKey>, Option<u64>)> {
        let mut results: Vec<Option<Result<ItemKey>>> = Vec::with_capacity(copies.len());
        let mut sizes = Vec::with_capacity(copies.len());
        let mut items = Vec::with_capacity(copies.len());
        let mut read = read.into_iter();
        for (action, _, reserved_key) in copies {
            let listed = match action {
                ItemAction::Copy { size, .. } => *size,
                _ => None,
            };
            match (action, read.next()) {
                (ItemAction::Copy { flags, .. }, Some(Ok(data))) => {
                    sizes.push(listed.or_else(|| failing::content_size(&data.content)));
                    results.push(None);
                    items.push(NewItem {
                        data,
                        flags,
                        reserved_key: reserved_key.clone(),
                    });
                }
                (_, Some(Err(error))) => {
                    sizes.push(listed);
                    results.push(Some(Err(error)));
                }
                _ => {
                    sizes.push(listed);
                    results.push(Some(Err(Error::new(ErrorKind::NotFound, "not read"))));
                }
            }
        }
        // A copy that failed before goes alone, so that it cannot fail a batch again.
        let retry: Vec<bool> = copies
            .iter()
            .zip(&results)
            .filter(|(_, slot)| slot.is_none())
            .map(|((action, _, _), _)| failing::is_retry(action))
            .collect();
        let mut items = items.into_iter();
        let mut delivered = Vec::with_capacity(retry.len());
        for group in failing::delivery_groups(&retry) {
            let group: Vec<NewItem> = items.by_ref().take(group.len()).collect();
            delivered.extend(match from {
                Side::A => self.pair.b.deliver_many(dest, group).await,
                Side::B => self.pair.a.deliver_many(dest, group).await,
            });
        }
        let mut delivered = delivered.into_iter();
        results
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| {
                    delivered
                        .next()
                        .unwrap_or_else(|| Err(Error::new(ErrorKind::Io, "not delivered")))
                })
            })
            .zip(sizes)
            .collect()
    }

    /// Deletes on the sides (through the trash where the side has one); returns the changes to
    /// record once the sides are flushed.
    async fn delete<'a>(
        &mut self,
        actions: &'a [ItemAction],
        deleted_flags: &HashMap<(Side, ItemKey), Flags>,
    ) -> Vec<(&'a ItemAction, Option<StatusChange>)> {
        let mut done: Vec<(&ItemAction, Option<ItemId>)> = Vec::new();
        let mut failed_rows = std::collections::HashSet::new();
        for action in actions {
            let ItemAction::Delete {
                id,
                side,
                key,
                trash,
                keep_row,
            } = action
            else {
                continue;
            };
            let result = match trash {
                Some(trash) => {
                    let flags = deleted_flags.get(&(*side, key.clone()));
                    self.trash(*side, key, trash, flags).await
                }
                None => match side {
                    Side::A => self.pair.a.delete(&self.plan.name_a, key).await,
                    Side::B => self.pair.b.delete(&self.plan.name_b, key).await,
                },
            };
            match result {
                Ok(()) => done.push((action, (!keep_row).then_some(*id))),
                Err(error) => {
                    failed_rows.insert(*id);
                    self.failed(action, error);
                }
            }
        }
        // A row deleted on both sides is dropped once, and only if both deletions succeeded:
        // otherwise the side that still has the message would see it as new next time.
        let mut dropped = std::collections::HashSet::new();
        done.into_iter()
            .map(|(action, drop)| {
                let change = drop
                    .filter(|id| !failed_rows.contains(id) && dropped.insert(*id))
                    .map(|id| StatusChange::Remove { id });
                (action, change)
            })
            .collect()
    }

    /// Moves `key` on `side` into that side's trash collection (created if missing) instead of
    /// deleting it: a move where the storage can, else a copy with the flags it had and then
    /// a delete. A run killed between the copy and the delete trashes it again next time: a
    /// duplicate in the trash, never a loss.
    async fn trash(
        &mut self,
        side: Side,
        key: &ItemKey,
        trash: &CollectionName,
        flags: Option<&Flags>,
    ) -> Result<()> {
        let name = match side {
            Side::A => &self.plan.name_a,
            Side::B => &self.plan.name_b,
        };
        let context = |e: Error| e.context(format!("moving {key} into {trash}"));
        match side {
            Side::A => trash_one(&mut *self.pair.a, name, key, trash, flags).await,
            Side::B => trash_one(&mut *self.pair.b, name, key, trash, flags).await,
        }
        .map_err(context)
    }

    /// Makes both sides durable, then records `done` in one transaction.
    async fn flush_and_record(&mut self, done: Vec<(&ItemAction, StatusChange)>) -> Result<()> {
        let done = done
            .into_iter()
            .map(|(action, change)| (action, Some(change)))
            .collect();
        self.flush_and_record_some(done, None).await?;
        Ok(())
    }

    /// Like [`Self::flush_and_record`], for actions of which some change no status. For the
    /// collection's last changes, `states` are the listing states to keep with them: recorded
    /// in the same transaction (one commit, so one fsync fewer per collection) when there is
    /// something to record and nothing failed. Returns whether they were.
    async fn flush_and_record_some(
        &mut self,
        done: Vec<(&ItemAction, Option<StatusChange>)>,
        states: Option<&PerSide<Option<String>>>,
    ) -> Result<bool> {
        if done.is_empty() {
            return Ok(false);
        }
        self.pair.a.flush().await?;
        self.pair.b.flush().await?;
        let changes: Vec<StatusChange> = done.iter().filter_map(|(_, c)| c.clone()).collect();
        let states =
            states.filter(|_| self.report.errors.is_empty() && self.report.refused.is_none());
        match states {
            Some(states) => {
                self.pair
                    .status
                    .apply_and_set_states_awaited(
                        changes,
                        self.id,
                        states.a.clone(),
                        states.b.clone(),
                    )
                    .await?
            }
            None => {
                self.pair.status.apply_awaited(changes).await?;
            }
        }
        for (action, _) in done {
            self.report.done.record(action);
            self.observer.action_done(self.plan, action);
        }
        Ok(states.is_some())
    }

    fn failed(&mut self, action: &ItemAction, error: Error) {
        let size = match action {
            ItemAction::Copy { size, .. } => *size,
            _ => None,
        };
        self.failed_sized(action, size, error);
    }

    /// [`Self::failed`] for an action on an item of `size` bytes, if known.
    fn failed_sized(&mut self, action: &ItemAction, size: Option<u64>, error: Error) {
        self.observer.action_failed(self.plan, action, &error);
        self.report
            .errors
            .push(error.context(failing::failure_context(self.plan, action, size)));
    }
}

/// Which keywords each side can hold in this collection; keywords that cannot be synced are
/// reported (once per collection and side), never dropped on the side that has them.
fn keyword_scope(
    plan: &CollectionPlan,
    listings: &PerSide<Listing>,
    policy: &SyncPolicy,
) -> crate::mail::keywords::KeywordScope {
    use crate::mail::keywords::{KeywordScope, keywords_of, resolve};
    if policy.ignore_keywords {
        return KeywordScope::none();
    }
    let on_a = keywords_of(listings.a.items.iter().map(|e| &e.flags));
    let on_b = keywords_of(listings.b.items.iter().map(|e| &e.flags));
    let (scope, unsyncable) = resolve(
        PerSide {
            a: &listings.a.keywords,
            b: &listings.b.keywords,
        },
        PerSide { a: &on_a, b: &on_b },
    );
    for note in unsyncable {
        let name = match note.side {
            Side::A => &plan.name_a,
            Side::B => &plan.name_b,
        };
        tracing::warn!(
            "collection {name}: keywords {} are not synced to side {} ({}); they are kept \
             where they are",
            note.keywords.join(", "),
            note.side,
            note.why
        );
    }
    scope
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::item::ItemKey;

    fn copy(size: Option<u64>) -> ItemAction {
        ItemAction::Copy {
            from: Side::A,
            key: ItemKey::new("k"),
            flags: Flags::new(),
            replaces: None,
            size,
        }
    }

    #[test]
    fn copy_batches_are_bounded_by_count_and_bytes() {
        let small: Vec<ItemAction> = (0..600).map(|_| copy(Some(1000))).collect();
        let sizes: Vec<usize> = copy_batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [256, 256, 88]);

        let big: Vec<ItemAction> = (0..5).map(|_| copy(Some(5 * 1024 * 1024))).collect();
        let sizes: Vec<usize> = copy_batches(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [1, 1, 1, 1, 1], "each alone: two would exceed 8 MiB");

        let huge = [copy(Some(u64::MAX / 2)), copy(None), copy(None)];
        let sizes: Vec<usize> = copy_batches(&huge).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [1, 2]);
        assert!(copy_batches(&[]).is_empty());
    }
}
