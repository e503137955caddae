//! Messages moved between collections on one side: found by content across every planned
//! collection (`plan::moves`) and moved on the other side too, in place of the delete and the
//! copy the plans would make. Messages renamed within a collection on one side (by another
//! program) are found the same way first, and only re-keyed in the status.

use super::lanes;
use super::{CollectionReport, Observer, Pair, Prepared};
use crate::error::Result;
use crate::mail::fingerprint::Fingerprint;
use crate::mail::item::ItemKey;
use crate::mail::plan::moves;
use crate::mail::plan::{CollectionPlan, ItemAction, ItemPlan, Refusal};
use crate::mail::report::Mail;
use crate::mail::status::{ItemId, StatusChange};
use crate::mail::store::MailStore;
use crate::side::{PerSide, Side};
use std::collections::{HashMap, HashSet};

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Finds messages moved between collections on one side and moves them on the other side
    /// too, removing the delete and the copy the plans would otherwise make.
    pub(super) async fn moves(
        &mut self,
        collections: &mut [(CollectionReport, Option<Prepared>)],
        (lanes, lane_of): (&mut [lanes::Lane<A, B>], &[usize]),
        observer: &mut dyn Observer<Mail>,
    ) -> Result<()> {
        let can_move = PerSide {
            a: self.a.can_move(),
            b: self.b.can_move(),
        };
        // Candidates: every deletion and copy (renames); moves take those on a side that can
        // move.
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
                    } if deletes_per_row.get(id) == Some(&1) => {
                        deletions.push((index, action_index, *side, key.clone()));
                    }
                    // A resumed copy (`replaces` its pending row) has a row in this
                    // collection already: it did not appear here, and pairing it as a move
                    // would give the collection a second row for its key.
                    ItemAction::Copy {
                        from,
                        key,
                        replaces: None,
                        ..
                    } => {
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
        let renames = moves::find_renames(&vanished, &appeared);
        for &(v, a) in &renames {
            let (collection, delete_index, held, held_key) = &deletions[v];
            let (_, copy_index, renamed_on, new_key) = &copies[a];
            let Some(prepared) = collections[*collection].1.as_mut() else {
                continue;
            };
            let (ItemAction::Delete { id, .. }, ItemAction::Copy { flags, .. }) = (
                &prepared.items.actions[*delete_index],
                &prepared.items.actions[*copy_index],
            ) else {
                continue;
            };
            let (id, flags) = (*id, flags.clone());
            // The renamed file's flags win, as they would for the delete and the identical new
            // message the rename looks like: the other side's copy takes them in this run (a
            // flag change in place of the delete) and the row records them.
            let set = (prepared.deleted_flags.get(&(*held, held_key.clone())) != Some(&flags))
                .then(|| (held_key.clone(), flags.clone()));
            let (set_a, set_b) = match held {
                Side::A => (set, None),
                Side::B => (None, set),
            };
            let change = StatusChange::SetKey {
                id,
                side: *renamed_on,
                key: new_key.clone(),
            };
            tracing::debug!("{renamed_on}: {new_key} is the message the pair knew as another key");
            if let Err(error) = self.status.apply(&[change]) {
                collections[*collection].0.errors.push(error);
                continue;
            }
            prepared.items.actions[*delete_index] = ItemAction::Flags {
                id,
                set_a,
                set_b,
                agreed: flags,
            };
            collections[*collection].0.done.renamed += 1;
            done.push((*collection, *copy_index));
        }
        let (renamed_v, renamed_a): (HashSet<usize>, HashSet<usize>) = renames.into_iter().unzip();
        // Moves among the rest, on sides that can move.
        let movable_v: Vec<usize> = (0..vanished.len())
            .filter(|v| !renamed_v.contains(v) && *can_move.get(deletions[*v].2))
            .collect();
        let movable_a: Vec<usize> = (0..appeared.len())
            .filter(|a| !renamed_a.contains(a) && *can_move.get(copies[*a].2.other()))
            .collect();
        let found = moves::find_moves(
            &movable_v
                .iter()
                .map(|&v| vanished[v].clone())
                .collect::<Vec<_>>(),
            &movable_a
                .iter()
                .map(|&a| appeared[a].clone())
                .collect::<Vec<_>>(),
        );
        for (v, a) in found.into_iter().map(|(v, a)| (movable_v[v], movable_a[a])) {
            let (from_index, delete_index, side, key) = &deletions[v];
            let (to_index, copy_index, _, _) = &copies[a];
            let from_plan = collections[*from_index].0.plan.clone();
            let to_plan = collections[*to_index].0.plan.clone();
            observer.move_planned(&from_plan, &to_plan, *side, key);
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
                // copy is left for the next run, which pairs a moved message by content or
                // copies one that stayed: copying now could duplicate it. The delete stays:
                // the message is gone from there on the other side.
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
    pub(super) async fn fingerprint_all(
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
    /// A dry run moves nothing and so learns no new key: it records the message as on its way
    /// to `side` (a pending row without a key there, as a copy to a side that reserves none).
    pub(super) async fn move_one(
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
        if self.dry_run() {
            self.status.apply(&[
                StatusChange::Remove { id: *id },
                StatusChange::BeginCopy {
                    collection: to_id,
                    to: side,
                    source_key: other_key.clone(),
                    reserved_key: None,
                    flags: flags.clone(),
                },
            ])?;
            return Ok(());
        }
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
}

/// Lifts a refusal once moves have replaced the deletions it withheld: a folder whose
/// messages were all (or mostly) moved elsewhere was emptied on purpose. Otherwise the refusal
/// stands, with the count of deletions still planned.
pub(super) fn lift_refusal_explained_by_moves(items: &mut ItemPlan) {
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
