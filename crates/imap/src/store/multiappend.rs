//! Uploads in MULTIAPPEND batches (RFC 3502): several messages in one APPEND command, which
//! the server stores in one transaction. Dovecot stores pipelined single APPENDs one after
//! another, each its own transaction (its uidlist and index updated and the new/ directory
//! synced for every message); in one transaction that work is done once per batch. What it
//! saves is mostly fsyncs: with a busy disk (2-core machine at load 7-8) 1,000 small messages
//! took Dovecot 5-6 s instead of 13-14 s; with a quiet one it saves much less (server time of
//! the bench's 2,000-message upload 5.0 s instead of 5.8 s).
//!
//! Used when the server offers MULTIAPPEND and UIDPLUS: the APPENDUID of a MULTIAPPEND is a
//! UID set that names every message's UID ([`uids_in_order`]), so each upload gets its key as
//! with single APPENDs. Batches are bounded ([`batch_lengths`]) by count and bytes, so that
//! memory stays small whatever the messages' sizes (a message above the byte bound goes
//! alone, as a single APPEND), and so that what a server may still be storing for a killed run
//! stays short: a batch lands all at once when the server commits it, and the next run's
//! [`settle`](super::settle) must see that happen before it lists the folder. One batch is in
//! flight at a time.
//!
//! A batch is atomic: the server stores all of it or, if it refuses it (NO or BAD), none of
//! it. A refused batch is sent again as single APPENDs, so that a message the server will
//! not take fails alone instead of taking its batch with it. A batch whose answer was lost (the
//! connection failed) is never sent again: as for a single APPEND, the engine's pending copies
//! are confirmed by content in the next run.

use std::io::{Seek, SeekFrom};

use pimlink_core::{CollectionName, Content, Error, ErrorKind, Flags, ItemKey, NewItem};
use tracing::debug;

use super::keys::MessageKey;
use super::writing::{fill_slots, renumbered};
use super::{ImapStore, copy_error};
use crate::client::{AppendItem, MultiAppend};
use crate::uidset::UidRanges;

/// The most messages in one MULTIAPPEND. Dovecot writes and fsyncs each message as it arrives
/// and makes them visible together when the command ends; for a client that died, that is
/// what it may still be storing, unseen. 32 small messages took it 0.13-0.15 s on a 2-core
/// machine at load 7-8, a fraction of the quiet time [`settle`](super::settle) waits for on
/// such a server; a larger batch gains little (the work saved is per command, already 32
/// times less).
pub(super) const BATCH_MESSAGES: usize = 32;

/// The most bytes in one MULTIAPPEND (a single larger message goes alone). Bounds the copy of a
/// batch kept for sending it again message by message, and the server's work per batch.
pub(super) const BATCH_BYTES: u64 = 1 << 20;

impl ImapStore {
    /// Appends `items` (at least two; the server has MULTIAPPEND and UIDPLUS) in MULTIAPPEND
    /// batches; one result per item, in order.
    pub(super) async fn multiappend_messages(
        &mut self,
        collection: &CollectionName,
        items: Vec<NewItem<'_>>,
    ) -> Vec<Result<ItemKey, Error>> {
        let (slots, prepared) = self.prepare_appends(items);
        let sizes: Vec<u64> = prepared.iter().map(content_len).collect();
        let mut prepared = prepared.into_iter();
        let mut results = Vec::with_capacity(sizes.len());
        for length in batch_lengths(&sizes) {
            let batch: Vec<AppendItem> = prepared.by_ref().take(length).collect();
            // Per batch: a batch whose connection failed leaves the next one to reconnect and
            // select again.
            let server = match self.append_folder(collection).await {
                Ok(server) => server,
                Err(error) => {
                    results.extend(batch.iter().map(|_| Err(copy_error(&error))));
                    continue;
                }
            };
            if batch.len() < 2 {
                results.extend(self.append_pipelined(&server, batch).await);
            } else {
                results.extend(self.multiappend_batch(&server, batch).await);
            }
        }
        fill_slots(slots, results)
    }

    /// One MULTIAPPEND of `batch` to the server folder `server`; a result per message.
    async fn multiappend_batch(
        &mut self,
        server: &str,
        mut batch: Vec<AppendItem>,
    ) -> Vec<Result<ItemKey, Error>> {
        let count = batch.len();
        let flags: Vec<Flags> = batch.iter().map(|item| item.flags.clone()).collect();
        let (sent, rewind) = match copies_to_send(&mut batch) {
            Ok(copies) => copies,
            Err(error) => {
                debug!("{server:?}: cannot keep a copy of a batch ({error}); APPENDs one by one");
                return self.append_pipelined(server, batch).await;
            }
        };
        self.stats.appends += count as u64;
        self.stats.multiappends += 1;
        let outcome = match self.client().await {
            Ok(client) => client.multiappend(server, sent).await,
            Err(error) => Err(error),
        };
        let uids = match outcome {
            Ok(MultiAppend::Stored(Some(uids))) => uids,
            Ok(MultiAppend::Stored(None)) => {
                let error = Error::new(
                    ErrorKind::Peer,
                    "the server offers UIDPLUS but sent no APPENDUID for a MULTIAPPEND",
                );
                return flags.iter().map(|_| Err(copy_error(&error))).collect();
            }
            Ok(MultiAppend::Refused(error)) => {
                // Nothing of the batch was stored: each message on its own shows which one
                // the server will not take.
                debug!("{server:?}: {error}; sending the {count} messages one by one");
                if let Err(error) = rewind_all(&mut batch, &rewind) {
                    return flags.iter().map(|_| Err(copy_error(&error))).collect();
                }
                return self.append_pipelined(server, batch).await;
            }
            Err(error) => {
                let error = self.unsafe_failure(error).await;
                return flags.iter().map(|_| Err(copy_error(&error))).collect();
            }
        };
        let (validity, set) = uids;
        let known = self.memory.get(server).map(|m| m.uid_validity);
        let keys = if known.is_some_and(|known| known != validity) {
            Err(renumbered(validity, known))
        } else {
            uids_in_order(count, &set)
        };
        let uids = match keys {
            Ok(uids) => uids,
            Err(error) => return flags.iter().map(|_| Err(copy_error(&error))).collect(),
        };
        let memory = self.memory.entry(server.to_owned()).or_default();
        memory.uid_validity = validity;
        memory.written = true;
        uids.into_iter()
            .zip(flags)
            .map(|(uid, flags)| {
                memory.flags.insert(uid, flags);
                Ok(MessageKey::new(validity, uid).item_key())
            })
            .collect()
    }
}

/// The UIDs of a MULTIAPPEND's `count` messages, in the order they were sent, from the uid-set
/// of its APPENDUID. RFC 4315 (section 3) gives the UIDs in the order the messages were
/// transmitted; a server assigns UIDs in ascending order, and a range `a:b` stands for the
/// UIDs between a and b whichever is written first, so the set must read as strictly rising
/// UIDs, exactly one per message. Anything else (too few or too many UIDs, a UID twice, UIDs
/// out of order) is refused rather than guessed at: a wrong key would pair a message with
/// another one. The messages are stored then; the engine's pending copies find them by content
/// in the next run.
pub(super) fn uids_in_order(count: usize, set: &UidRanges) -> Result<Vec<u32>, Error> {
    let refuse = |why: &str| {
        Error::new(
            ErrorKind::Peer,
            format!(
                "the server stored {count} messages in one APPEND but answered APPENDUID with \
                 the UIDs {set} ({why}): which message got which UID is unknown, so none is \
                 recorded; the next run recognises them by content"
            ),
        )
    };
    if set.len() != count as u64 {
        return Err(refuse(&format!("{} UIDs", set.len())));
    }
    let mut uids = Vec::with_capacity(count);
    for &(a, b) in set.ranges() {
        for uid in a.min(b)..=a.max(b) {
            if uids.last().is_some_and(|&last| uid <= last) {
                return Err(refuse("not in ascending order"));
            }
            uids.push(uid);
        }
    }
    Ok(uids)
}

/// How many of the messages of `sizes` (bytes) go in each batch, in order: at most
/// [`BATCH_MESSAGES`] and [`BATCH_BYTES`] per batch, a larger message alone.
pub(super) fn batch_lengths(sizes: &[u64]) -> Vec<usize> {
    let mut lengths = Vec::new();
    let (mut count, mut bytes) = (0usize, 0u64);
    for &size in sizes {
        if count > 0 && (count == BATCH_MESSAGES || bytes.saturating_add(size) > BATCH_BYTES) {
            lengths.push(count);
            (count, bytes) = (0, 0);
        }
        count += 1;
        bytes = bytes.saturating_add(size);
    }
    if count > 0 {
        lengths.push(count);
    }
    lengths
}

/// A message's size as the batch bound counts it; a file whose size cannot be read counts as
/// large, so that it goes alone (and fails there, if reading it fails).
fn content_len(item: &AppendItem) -> u64 {
    match &item.content {
        Content::Bytes(bytes) => bytes.len() as u64,
        Content::File(file) => file.metadata().map_or(u64::MAX, |m| m.len()),
    }
}

/// What to send of `batch`, keeping the batch to send again if the server refuses it: message
/// bytes are copied (a batch is at most [`BATCH_BYTES`]), a file is shared, and its starting
/// position (returned) lets it be rewound.
fn copies_to_send(batch: &mut [AppendItem]) -> std::io::Result<(Vec<AppendItem>, Vec<u64>)> {
    let mut sent = Vec::with_capacity(batch.len());
    let mut starts = Vec::with_capacity(batch.len());
    for item in batch.iter_mut() {
        let (content, start) = match &mut item.content {
            Content::Bytes(bytes) => (Content::Bytes(bytes.clone()), 0),
            Content::File(file) => (Content::File(file.try_clone()?), file.stream_position()?),
        };
        starts.push(start);
        sent.push(AppendItem {
            content,
            flags: item.flags.clone(),
            internal_date: item.internal_date,
        });
    }
    Ok((sent, starts))
}

/// Rewinds the files of `batch` to where [`copies_to_send`] found them.
fn rewind_all(batch: &mut [AppendItem], starts: &[u64]) -> Result<(), Error> {
    for (item, &start) in batch.iter_mut().zip(starts) {
        if let Content::File(file) = &mut item.content {
            file.seek(SeekFrom::Start(start))
                .map_err(|e| Error::io("rewinding a message to upload", e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> UidRanges {
        let mut set = UidRanges::default();
        for element in text.split(',') {
            let (a, b) = element.split_once(':').unwrap_or((element, element));
            set.push_range(a.parse().unwrap(), b.parse().unwrap());
        }
        set
    }

    #[test]
    fn the_uid_set_of_appenduid_names_each_message_in_the_order_sent() {
        let table: [(usize, &str, Option<Vec<u32>>); 10] = [
            (3, "7:9", Some(vec![7, 8, 9])),
            // A range is the UIDs between its ends, whichever comes first (RFC 4315 uid-range).
            (3, "9:7", Some(vec![7, 8, 9])),
            (4, "5,8:9,12", Some(vec![5, 8, 9, 12])),
            (1, "42", Some(vec![42])),
            // Too few or too many UIDs for the messages sent.
            (3, "7:8", None),
            (2, "7:9", None),
            (2, "1:100000", None),
            // Out of order, or a UID twice: no mapping can be trusted.
            (2, "9,5", None),
            (3, "5:6,6", None),
            (4, "8:9,1:2", None),
        ];
        for (count, text, expected) in table {
            let got = uids_in_order(count, &set(text));
            match expected {
                Some(uids) => assert_eq!(got.unwrap(), uids, "{count} messages, {text}"),
                None => {
                    let error = got.unwrap_err();
                    assert_eq!(error.kind(), ErrorKind::Peer, "{count} messages, {text}");
                    assert!(error.to_string().contains(text), "{error}");
                }
            }
        }
    }

    #[test]
    fn batches_are_bounded_by_count_and_bytes_and_a_large_message_goes_alone() {
        let small = vec![4_000u64; 70];
        assert_eq!(batch_lengths(&small), [32, 32, 6]);
        let quarter = BATCH_BYTES / 4;
        assert_eq!(batch_lengths(&[quarter; 9]), [4, 4, 1]);
        let big = BATCH_BYTES * 3;
        assert_eq!(
            batch_lengths(&[100, 100, big, 100, big, big, 100]),
            [2, 1, 1, 1, 1, 1]
        );
        assert_eq!(batch_lengths(&[u64::MAX, 1, 1]), [1, 2]);
        assert!(batch_lengths(&[]).is_empty());
        // Every message is in exactly one batch, in order.
        let mixed: Vec<u64> = (0..500).map(|i| (i * 7919 % 600_000) as u64).collect();
        let lengths = batch_lengths(&mixed);
        assert_eq!(lengths.iter().sum::<usize>(), mixed.len());
        let mut start = 0;
        for length in lengths {
            let batch = &mixed[start..start + length];
            assert!(batch.len() <= BATCH_MESSAGES);
            assert!(batch.len() == 1 || batch.iter().sum::<u64>() <= BATCH_BYTES);
            start += length;
        }
    }
}
