//! Getting a collection ready to be carried out: creating it where it is missing, letting a side
//! finish an interrupted run's copies before it is listed, listing both sides, recognising items
//! by content, and planning; and a collection's removal (confirmed against what it holds, then
//! emptied and forgotten). Nothing but a created collection and content pairings is written
//! here.

use super::{CollectionReport, Observer, Pair, Prepared, RunOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::mail::flags::Flags;
use crate::mail::item::ItemKey;
use crate::mail::plan::late_copies;
use crate::mail::plan::{
    CollectionPlan, CollectionStep, ItemAction, ItemPlan, create_or_skip, held_for_read_only,
    plan_removal,
};
use crate::mail::report::Mail;
use crate::mail::status::{AbandonedCopy, CollectionId, StatusItem};
use crate::mail::store::{Known, Listing, MailStore};
use crate::policy::SyncPolicy;
use crate::side::{PerSide, Side};
use std::collections::HashMap;

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Checks a planned removal of a collection deleted on the other side against what it
    /// holds on `side` now: it stays a removal only if every message there is paired (see
    /// [`crate::mail::plan::plan_removal`]); otherwise it is recreated on the other side (or
    /// skipped), as without `remove`.
    pub(super) async fn confirm_removal(&mut self, plan: &mut CollectionPlan) -> Result<()> {
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
    pub(super) async fn removal_items(
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
    pub(super) async fn prepare_removal(
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
            shows_items: PerSide::default(),
        }))
    }

    /// Removes the emptied collection on `side` and forgets it, once every deletion in it
    /// succeeded.
    pub(super) async fn finish_removal(
        &mut self,
        report: &CollectionReport,
        id: CollectionId,
        plan: &CollectionPlan,
        side: Side,
    ) -> Result<()> {
        if !report.errors.is_empty() {
            return Ok(());
        }
        match (side, self.dry_run()) {
            (_, true) => {}
            (Side::A, false) => self.a.delete_collection(&plan.name_a).await?,
            (Side::B, false) => self.b.delete_collection(&plan.name_b).await?,
        }
        self.status.forget_collection(id)?;
        Ok(())
    }

    /// Creates the collection where needed, lists both sides, recognises items by content where
    /// keys cannot be trusted, and plans. Nothing but a missing collection and content
    /// pairings is written here.
    pub(super) async fn prepare_collection(
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
        if let (Some(side), false) = (missing_on, self.dry_run()) {
            match side {
                Side::A => self.a.create_collection(&plan.name_a).await?,
                Side::B => self.b.create_collection(&plan.name_b).await?,
            }
        }
        let id = self.status.collection_id(&plan.name_a, &plan.name_b)?;
        let mut rows = self.status.items(id)?;
        let abandoned = self.status.abandoned_copies(id)?;
        let settled = self.settle_unconfirmed(&plan, &rows, &abandoned).await;

        // List both sides, telling each what the status knows so that it can list
        // incrementally. In a dry run a collection that would be created was not, and has no
        // items yet.
        let mut listings = PerSide::<Listing>::default();
        for side in [Side::A, Side::B] {
            if self.dry_run() && missing_on == Some(side) {
                continue;
            }
            let state = self.status.collection_state(id, side)?;
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

        // Where keys cannot be trusted or are unknown, recognise items by content.
        let changes = match self
            .identify_by_content(id, &plan, &rows, &listings, options.force)
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
        if !changes.is_empty() {
            self.status.apply(&changes)?;
            rows = self.status.items(id)?;
        }

        if !abandoned.is_empty() {
            let late = (&abandoned[..], settled);
            self.remove_late_copies(&plan, late, &rows, &mut listings, report)
                .await?;
        }

        let policy = self.policy.in_collection(&plan.name_a, &plan.name_b);
        let scope = keyword_scope(&plan, &listings, &policy);
        let items = self
            .plan_with_limits((id, &plan), &rows, &mut listings, (&policy, &scope))
            .await?;
        // A move or a trash copy keeps the flags the message has where it goes.
        let deleted_flags = deleted_flags_of(&listings, &items);
        let held = held_for_read_only(&rows, &listings.a.items, &listings.b.items, &policy);
        let shows_items = PerSide {
            a: !listings.a.items.is_empty(),
            b: !listings.b.items.is_empty(),
        };
        Ok(Some(Prepared {
            id: Some(id),
            items,
            states: PerSide {
                a: listings.a.state,
                b: listings.b.state,
            },
            deleted_flags,
            held,
            flagged: HashMap::new(),
            taken: None,
            shows_items,
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
    pub(super) async fn settle_unconfirmed(
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
}

/// The flags, as listed, of the items a plan deletes: a move or a trash copy keeps them.
pub(super) fn deleted_flags_of(
    listings: &PerSide<Listing>,
    items: &ItemPlan,
) -> HashMap<(Side, ItemKey), Flags> {
    let mut wanted: PerSide<std::collections::HashSet<&ItemKey>> = PerSide::default();
    for action in &items.actions {
        if let ItemAction::Delete { side, key, .. } | ItemAction::Discard { side, key, .. } = action
        {
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
