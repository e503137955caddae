//! Reading one side's [`Snapshot`] through the storage the sync engine uses (an IMAP account
//! or a Maildir tree), asking only for what the level needs:
//!
//! | level | IMAP | Maildir |
//! |---|---|---|
//! | 1 | LIST, LSUB (special-use from LIST) | the folder tree |
//! | 2 | + STATUS (MESSAGES), pipelined | + a listing of each folder |
//! | 3 | + UID FETCH FLAGS and the fingerprint's header fields with RFC822.SIZE | + flags from file names, each file read for its fingerprint |
//! | 4 | + INTERNALDATE | + file times |
//! | 5 | + BODY.PEEK[], a batch at a time, each body hashed as it comes | + each file hashed |
//!
//! A Maildir tree has no subscriptions or special-use attributes: those are compared only
//! where both sides have them. Messages are read in batches, so that no folder is ever held
//! in memory beyond its flags and fingerprints; large bodies arrive as spooled files.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use pimlink_core::mail::item::Content;
use pimlink_core::{CollectionName, Error, ItemKey, Known, MailStore};

use super::hash::crlf_sha256;
use super::snapshot::{Folder, Identity, Level, Message, Snapshot};
use crate::storages::mail::MailSide;

/// Messages whose flags, fingerprints and dates are asked for at once.
const BATCH: usize = 500;
/// Messages whose bodies are read at once (level 5): few, since small bodies come in memory.
const BODY_BATCH: usize = 32;

/// The snapshot of `side` at `level`, of every folder or (with `only`) of those folders.
pub async fn read_snapshot(
    side: &mut MailSide,
    level: Level,
    only: Option<&BTreeSet<CollectionName>>,
) -> Result<Snapshot, Error> {
    let wanted = |name: &CollectionName| only.is_none_or(|only| only.contains(name));
    let mut snapshot = Snapshot::default();
    match side {
        MailSide::Imap(store) => {
            let details = store.account_details(level == Level::Counts).await?;
            let mut special_use = BTreeMap::new();
            for folder in details.folders.into_iter().filter(|f| wanted(&f.name)) {
                if let Some(attribute) = folder.special_use {
                    special_use.insert(folder.name.to_string(), attribute);
                }
                snapshot.folders.insert(
                    folder.name.to_string(),
                    Folder {
                        selectable: folder.selectable,
                        count: folder.messages,
                        messages: Vec::new(),
                    },
                );
            }
            snapshot.special_use = Some(special_use);
            snapshot.takes_special_use = details.metadata;
            snapshot.subscriptions = Some(
                details
                    .subscribed
                    .iter()
                    .filter(|name| wanted(name))
                    .map(ToString::to_string)
                    .collect(),
            );
        }
        MailSide::Maildir(_) => {
            for folder in side.list_collections().await? {
                if !wanted(&folder.name) {
                    continue;
                }
                let count = if level == Level::Counts && folder.selectable {
                    let listing = side.list_items(&folder.name, Known::default()).await?;
                    Some(u32::try_from(listing.items.len()).unwrap_or(u32::MAX))
                } else {
                    None
                };
                snapshot.folders.insert(
                    folder.name.to_string(),
                    Folder {
                        selectable: folder.selectable,
                        count,
                        messages: Vec::new(),
                    },
                );
            }
        }
    }
    if level.lists_messages() {
        for (name, folder) in &mut snapshot.folders {
            if folder.selectable {
                let name = CollectionName::new(name.as_str())?;
                folder.messages = read_messages(side, &name, level).await?;
            }
        }
    }
    Ok(snapshot)
}

/// Every message of `folder` with the attributes `level` compares.
async fn read_messages(
    side: &mut MailSide,
    folder: &CollectionName,
    level: Level,
) -> Result<Vec<Message>, Error> {
    let listing = side.list_items(folder, Known::default()).await?;
    let mut out = Vec::with_capacity(listing.items.len());
    for batch in listing.items.chunks(BATCH) {
        let keys: Vec<ItemKey> = batch.iter().map(|entry| entry.key.clone()).collect();
        let fingerprints = side.fingerprints(folder, &keys).await;
        let dates: Vec<Option<Result<Option<SystemTime>, Error>>> = if level >= Level::SizesDates {
            side.dates(folder, &keys)
                .await
                .into_iter()
                .map(Some)
                .collect()
        } else {
            keys.iter().map(|_| None).collect()
        };
        let hashes = if level >= Level::Content {
            hashes(side, folder, &keys).await
        } else {
            keys.iter().map(|_| None).collect()
        };
        for (((entry, fingerprint), date), sha256) in
            batch.iter().zip(fingerprints).zip(dates).zip(hashes)
        {
            let fingerprint = fingerprint.map_err(|e| in_folder(e, folder))?;
            let internal_date = date
                .transpose()
                .map_err(|e| in_folder(e, folder))?
                .flatten()
                .map(unix_seconds);
            out.push(Message {
                identity: Identity::new(fingerprint.as_ref()),
                flags: entry.flags.clone(),
                size: fingerprint
                    .as_ref()
                    .filter(|_| level >= Level::SizesDates)
                    .map(|f| f.size()),
                internal_date,
                sha256: sha256.transpose().map_err(|e| in_folder(e, folder))?,
            });
        }
    }
    Ok(out)
}

/// The SHA-256 of each message of `keys`, read [`BODY_BATCH`] at a time.
async fn hashes(
    side: &mut MailSide,
    folder: &CollectionName,
    keys: &[ItemKey],
) -> Vec<Option<Result<String, Error>>> {
    let mut out = Vec::with_capacity(keys.len());
    for batch in keys.chunks(BODY_BATCH) {
        for data in side.read_many(folder, batch).await {
            out.push(Some(data.and_then(|data| {
                match data.content {
                    Content::Bytes(bytes) => crlf_sha256(&bytes[..]),
                    Content::File(file) => crlf_sha256(file),
                }
                .map_err(|e| Error::io("reading a message to hash it", e))
            })));
        }
    }
    out
}

/// Whole seconds since the epoch (before it: negative), as IMAP keeps internal dates.
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            // 1.5 s before the epoch is second -2, as for a time after it rounded down.
            if before.subsec_nanos() > 0 {
                -whole - 1
            } else {
                -whole
            }
        }
    }
}

fn in_folder(error: Error, folder: &CollectionName) -> Error {
    error.context(format!("folder {folder}"))
}
