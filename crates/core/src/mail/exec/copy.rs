//! Copies, in batches: each copy's intent is recorded (with the key the destination reserves),
//! the sources are read in one request per side and delivered in one `deliver_many`, and the
//! results are recorded once the sides are flushed (the order in `mod.rs`).

use super::CollectionRun;
use super::failing;
use crate::error::{Error, ErrorKind, Result};
use crate::mail::item::{ItemData, ItemKey, NewItem};
use crate::mail::plan::ItemAction;
use crate::mail::status::{ItemId, StatusChange};
use crate::mail::store::MailStore;
use crate::name::CollectionName;
use crate::side::{PerSide, Side};

/// How many copies are made between two flushes: one flush serves them all, while an
/// interruption redoes at most this many.
const COPY_BATCH: usize = 256;

/// The most bytes one batch of copies may hold (by the sizes the listings report), so that a
/// batch of big messages never sits in memory at once whatever the message sizes.
const COPY_BATCH_BYTES: u64 = 8 * 1024 * 1024;

/// What an item of unknown size counts as against [`COPY_BATCH_BYTES`].
const UNKNOWN_SIZE: u64 = 64 * 1024;

impl<A: MailStore, B: MailStore> CollectionRun<'_, '_, A, B> {
    pub(super) async fn copy(&mut self, batch: &[ItemAction]) -> Result<()> {
        let done = self.copy_unrecorded(batch).await?;
        self.flush_and_record_some(done, None).await?;
        Ok(())
    }

    /// Steps 1 and 2 of a batch of copies: the intents are recorded and the items delivered;
    /// returns the results to record once the sides are flushed (3 and 4).
    pub(super) async fn copy_unrecorded<'a>(
        &mut self,
        batch: &'a [ItemAction],
    ) -> Result<Vec<(&'a ItemAction, Option<StatusChange>)>> {
        // A side that reported a full disk in this run gets no more copies: each would be read
        // from the other side only to fail the same way. They are reported failed as they are.
        let mut batch: Vec<&'a ItemAction> = batch.iter().collect();
        batch.retain(|action| match self.full_disk_towards(action) {
            Some(error) => {
                self.failed(action, error);
                false
            }
            None => true,
        });

        // 1. Record every copy's intent, with the key the destination reserves for it.
        let mut intents = Vec::new();
        let mut reserved = Vec::new();
        for action in batch.iter().copied() {
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
        for (action, reserved_key) in batch.iter().copied().zip(&reserved) {
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
        if self.pair.dry_run() {
            // A dry run reads and delivers nothing, so no copy lands and no key is learnt:
            // each copy stays the pending row its intent recorded (with the reserved key, if
            // any), as after a run interrupted here, and counts as done.
            return Ok(batch.into_iter().map(|action| (action, None)).collect());
        }

        // 2. Read each source side's items in one batch, then deliver them one by one.
        let mut done = Vec::new();
        let mut pending: Vec<(&ItemAction, ItemId, Option<ItemKey>)> = Vec::new();
        for ((action, id), reserved_key) in batch.into_iter().zip(ids).zip(reserved) {
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
                        Some(StatusChange::FinishCopy {
                            id: *id,
                            to: from.other(),
                            key: new_key,
                        }),
                    )),
                    Err(error) => {
                        self.note_full_disk(from.other(), &error);
                        self.failed_sized(action, size, error);
                    }
                }
            }
        }
        Ok(done)
    }

    /// Keeps in mind that `side` is full if `error` says so: no later batch of copies goes
    /// there in this run (the batch in hand was read already, and is delivered as a whole).
    fn note_full_disk(&self, side: Side, error: &Error) {
        if let (true, Some(cause)) = (error.is_disk_full(), error.cause()) {
            self.full
                .borrow_mut()
                .get_mut(side)
                .get_or_insert_with(|| cause.to_string());
        }
    }

    /// The failure of a copy to a side that reported a full disk earlier in this run, if
    /// `action` is one: a full-disk error with the cause the side gave, so that the report
    /// counts it with the failures the full disk caused and groups them by that cause.
    fn full_disk_towards(&self, action: &ItemAction) -> Option<Error> {
        let ItemAction::Copy { from, .. } = action else {
            return None;
        };
        let to = from.other();
        let full = self.full.borrow();
        let cause = full.get(to).as_ref()?;
        let cause = std::io::Error::new(std::io::ErrorKind::StorageFull, cause.clone());
        Some(
            Error::new(
                ErrorKind::Io,
                format!("not tried: side {to} reported a full disk earlier in this run"),
            )
            .with_source(cause),
        )
    }

    /// Delivers what was read for `copies` (from side `from`) to `dest` on the other side in
    /// one `deliver_many`, which an IMAP side pipelines; one result per copy, in order.
    pub(super) async fn deliver_read(
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
}

/// Splits copies into batches of at most [`COPY_BATCH`] items and [`COPY_BATCH_BYTES`] bytes
/// (an item bigger than that goes alone).
pub(super) fn copy_batches(copies: &[ItemAction]) -> Vec<&[ItemAction]> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::flags::Flags;

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
