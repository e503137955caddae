//! Carrying out one collection's plan ([`CollectionRun`]): the actions grouped by kind (forgets,
//! flag changes, copies, deletions, expiries), each side flushed before the status records what
//! was done, failures kept per item in the collection's report. The copies themselves are in
//! `copy.rs`.

use super::copy::copy_batches;
use super::failing;
use super::{CollectionReport, CollectionRun, FullSides, Observer, Pair, Prepared, set_flags_on};
use crate::error::{Error, ErrorKind, Result};
use crate::mail::flags::{Flag, Flags};
use crate::mail::item::{ItemKey, NewItem};
use crate::mail::plan::limits::HeldBack;
use crate::mail::plan::{CollectionStep, ItemAction};
use crate::mail::report::Mail;
use crate::mail::status::{ItemId, StatusChange};
use crate::mail::store::MailStore;
use crate::name::CollectionName;
use crate::side::{PerSide, Side};
use std::collections::HashMap;

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Carries out a prepared collection's plan; returns the listing states to keep at the end
    /// of the run (see `settling.rs`) if every change was applied and no transaction of the
    /// collection's changes recorded them already.
    pub(super) async fn execute(
        &mut self,
        report: &mut CollectionReport,
        prepared: Prepared,
        full: &FullSides,
        observer: &mut dyn Observer<Mail>,
    ) -> Result<Option<PerSide<Option<String>>>> {
        let Some(id) = prepared.id else {
            return Ok(None);
        };
        let plan = report.plan.clone();
        let mut run = CollectionRun {
            pair: self,
            id,
            plan: &plan,
            report,
            observer,
            full,
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
        // Stopped partway (or maybe so: asked after the last check) keeps no listing state.
        let stopped = run.observer.stop_requested();
        if let CollectionStep::Remove(side) = plan.step {
            self.finish_removal(report, id, &plan, side).await?;
            return Ok(None);
        }
        // The listing state may only be kept when every change it showed was applied: an
        // incremental listing next time would not show a change that is still pending.
        let keep = !states_kept && !stopped && report.errors.is_empty() && report.refused.is_none();
        Ok(keep.then_some(prepared.states))
    }
}

impl<A: MailStore, B: MailStore> CollectionRun<'_, '_, A, B> {
    /// Returns whether the listing `states` were recorded (with the collection's last
    /// changes, in their transaction).
    pub(super) async fn execute(
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
                ItemAction::Delete { .. } | ItemAction::Discard { .. } => deletes.push(action),
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
        // A stop (SIGTERM to the daemon) ends the copies between batches: each batch before
        // it is recorded, and the listing states are not kept, so the next run copies the rest.
        let mut stopped = self.observer.stop_requested();
        if let Some((last, earlier)) = copy_batches(&copies).split_last() {
            for batch in earlier {
                if stopped {
                    break;
                }
                self.copy(batch).await?;
                stopped = self.observer.stop_requested();
            }
            if !stopped {
                last_copies = self.copy_unrecorded(last).await?;
            }
        }
        let mut done: Vec<(&ItemAction, Option<StatusChange>)> = done
            .into_iter()
            .map(|(action, change)| (action, Some(change)))
            .chain(last_copies)
            .collect();
        done.extend(self.delete(&deletes, deleted_flags).await);
        let states = states.filter(|_| expires.is_empty() && !stopped);
        let states_kept = self.flush_and_record_some(done, states).await?;
        if !stopped {
            self.expire(&expires).await?;
        }
        Ok(states_kept)
    }

    /// Removes items from the near side that the limits no longer keep. The row is marked
    /// first, so that a run killed after the removal sees an unfinished expiry, never a
    /// deletion to carry to the far side.
    pub(super) async fn expire(&mut self, actions: &[ItemAction]) -> Result<()> {
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
            let result = self.delete_on(*side, key).await;
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
    pub(super) fn forget(&mut self, actions: &[ItemAction], held_back: &[HeldBack]) -> Result<()> {
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
        if !self.pair.dry_run() {
            for action in actions {
                self.observer.action_done(self.plan, action);
            }
        }
        Ok(())
    }

    /// Sets flags on the sides; returns the changes to record once the sides are flushed.
    pub(super) async fn set_flags<'a>(
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

    /// Deletes on the sides (through the trash where the side has one); returns the changes to
    /// record once the sides are flushed.
    pub(super) async fn delete<'a>(
        &mut self,
        actions: &'a [ItemAction],
        deleted_flags: &HashMap<(Side, ItemKey), Flags>,
    ) -> Vec<(&'a ItemAction, Option<StatusChange>)> {
        let mut done: Vec<(&ItemAction, Option<ItemId>)> = Vec::new();
        let mut failed_rows = std::collections::HashSet::new();
        for action in actions {
            // A discarded item has no row: nothing to record once it is gone.
            let (row, side, key, trash) = match action {
                ItemAction::Delete {
                    id,
                    side,
                    key,
                    trash,
                    keep_row,
                } => ((!keep_row).then_some(*id), side, key, trash),
                ItemAction::Discard { side, key, trash } => (None, side, key, trash),
                _ => continue,
            };
            let result = match trash {
                Some(trash) => {
                    let flags = deleted_flags.get(&(*side, key.clone()));
                    self.trash(*side, key, trash, flags).await
                }
                None => self.delete_on(*side, key).await,
            };
            match result {
                Ok(()) => done.push((action, row)),
                Err(error) => {
                    if let ItemAction::Delete { id, .. } = action {
                        failed_rows.insert(*id);
                    }
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
    pub(super) async fn trash(
        &mut self,
        side: Side,
        key: &ItemKey,
        trash: &CollectionName,
        flags: Option<&Flags>,
    ) -> Result<()> {
        if self.pair.dry_run() {
            return Ok(());
        }
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

    /// Deletes `key` on `side` (a dry run deletes nothing).
    async fn delete_on(&mut self, side: Side, key: &ItemKey) -> Result<()> {
        if self.pair.dry_run() {
            return Ok(());
        }
        match side {
            Side::A => self.pair.a.delete(&self.plan.name_a, key).await,
            Side::B => self.pair.b.delete(&self.plan.name_b, key).await,
        }
    }

    /// Makes both sides durable, then records `done` in one transaction.
    pub(super) async fn flush_and_record(
        &mut self,
        done: Vec<(&ItemAction, StatusChange)>,
    ) -> Result<()> {
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
    ///
    /// A dry run flushes no side (it changed none) and tells the observer of no action (none
    /// was carried out: the plan was shown as a whole), but records and counts like a real run.
    pub(super) async fn flush_and_record_some(
        &mut self,
        done: Vec<(&ItemAction, Option<StatusChange>)>,
        states: Option<&PerSide<Option<String>>>,
    ) -> Result<bool> {
        if done.is_empty() {
            return Ok(false);
        }
        let dry_run = self.pair.dry_run();
        if !dry_run {
            self.pair.a.flush().await?;
            self.pair.b.flush().await?;
        }
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
            if !dry_run {
                self.observer.action_done(self.plan, action);
            }
        }
        Ok(states.is_some())
    }

    pub(super) fn failed(&mut self, action: &ItemAction, error: Error) {
        let size = match action {
            ItemAction::Copy { size, .. } => *size,
            _ => None,
        };
        self.failed_sized(action, size, error);
    }

    /// [`Self::failed`] for an action on an item of `size` bytes, if known.
    pub(super) fn failed_sized(&mut self, action: &ItemAction, size: Option<u64>, error: Error) {
        self.observer.action_failed(self.plan, action, &error);
        self.report
            .errors
            .push(error.context(failing::failure_context(self.plan, action, size)));
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
