//! Bodies of planned copies read while the folder is still selected.
//!
//! The engine plans every collection before it carries any out (moves are found across
//! collections), so by the time it copies a folder's messages the connection has selected
//! other folders, and reading the bodies would cost that folder a second SELECT. Right after
//! planning a folder, the engine names the messages it will copy from it
//! ([`MailStore::read_ahead`](pimlink_core::MailStore::read_ahead)); if the folder is still
//! selected, their bodies are read now, within a byte budget, and
//! [`ImapStore::read_messages`](super::ImapStore) hands them out without a command. Only planned
//! copies are read: never a message the limits hold back or one the status already knows. A
//! body the engine never asks for (the copy turned out to be a move) is only a wasted read of
//! at most [`PER_FOLDER_BYTES`]. UIDs are never reused within a UIDVALIDITY, so a body read now
//! is the message's body for good; a changed UIDVALIDITY resets the folder's memory, bodies
//! included.

use pimlink_core::{CollectionName, ItemData, ItemKey};
use tracing::debug;

use super::keys::MessageKey;
use super::{ImapStore, chunks};
use crate::client::FetchRequest;

/// The most bytes (by RFC822.SIZE) of one folder's new mail read with its listing.
pub(super) const PER_FOLDER_BYTES: u64 = 1024 * 1024;

/// The most bytes of read-ahead bodies the store holds at once, over all folders.
pub(super) const TOTAL_BYTES: u64 = 4 * 1024 * 1024;

impl ImapStore {
    /// Reads ahead the bodies of `items` (keys with the sizes the listing gave) of
    /// `collection`, if it is the folder the connection has selected: otherwise reading them
    /// later costs the same.
    pub(super) async fn read_ahead_bodies(
        &mut self,
        collection: &CollectionName,
        items: &[(ItemKey, Option<u64>)],
    ) {
        let Ok(server) = self.server_folder(collection).await else {
            return;
        };
        let Some(selected) = self.selected.as_ref().filter(|s| s.server == server) else {
            return;
        };
        let validity = selected.uid_validity;
        let mut wanted: Vec<(u32, Option<u64>)> = items
            .iter()
            .filter_map(|(key, size)| {
                MessageKey::parse(key)
                    .filter(|k| k.uid_validity == validity)
                    .map(|k| (k.uid, *size))
            })
            .collect();
        wanted.sort_unstable();
        wanted.dedup_by_key(|(uid, _)| *uid);
        self.prefetch_bodies(&server, &wanted).await;
    }

    /// Reads the bodies of `new` ((UID, size), ascending), as many as the budgets allow, from
    /// the selected folder `server`. Failing costs nothing but the read-ahead: the engine's
    /// read selects and fetches them as before.
    async fn prefetch_bodies(&mut self, server: &str, new: &[(u32, Option<u64>)]) {
        let mut budget = PER_FOLDER_BYTES.min(TOTAL_BYTES.saturating_sub(self.prefetched_bytes));
        let mut wanted = Vec::new();
        for &(uid, size) in new {
            let Some(size) = size.filter(|&size| size <= budget) else {
                break;
            };
            budget -= size;
            wanted.push((uid, size));
        }
        if wanted.is_empty() {
            return;
        }
        let request = FetchRequest {
            body: true,
            internal_date: true,
            ..FetchRequest::default()
        };
        let uids: Vec<u32> = wanted.iter().map(|(uid, _)| *uid).collect();
        let mut bodies = Vec::new();
        for set in chunks(&uids) {
            self.stats.fetches += 1;
            let client = match self.client().await {
                Ok(client) => client,
                Err(error) => {
                    debug!("{server:?}: reading new mail ahead failed: {error}");
                    self.forget_broken_connection(&error);
                    return;
                }
            };
            let result = client
                .fetch(&set, &request, |message| {
                    if let Some(content) = message.body
                        && uids.binary_search(&message.uid).is_ok()
                    {
                        let data = ItemData {
                            content,
                            internal_date: message.internal_date,
                        };
                        bodies.push((message.uid, data));
                    }
                    Ok(())
                })
                .await;
            if let Err(error) = result {
                debug!("{server:?}: reading new mail ahead failed: {error}");
                self.forget_broken_connection(&error);
                return;
            }
        }
        let Some(memory) = self.memory.get_mut(server) else {
            return;
        };
        for (uid, data) in bodies {
            if let Ok(index) = wanted.binary_search_by_key(&uid, |(uid, _)| *uid) {
                self.prefetched_bytes += wanted[index].1;
                memory.bodies.insert(uid, (data, wanted[index].1));
            }
        }
        debug!(
            "{server:?}: read {} messages ahead ({} bytes held)",
            memory.bodies.len(),
            self.prefetched_bytes
        );
    }

    /// The body read ahead for `key` in folder `server`, taken (each is handed out once).
    pub(super) fn take_prefetched(&mut self, server: &str, key: &ItemKey) -> Option<ItemData> {
        let memory = self.memory.get_mut(server)?;
        let parsed = MessageKey::parse(key)?;
        if parsed.uid_validity != memory.uid_validity {
            return None;
        }
        let (data, size) = memory.bodies.remove(&parsed.uid)?;
        self.prefetched_bytes = self.prefetched_bytes.saturating_sub(size);
        Some(data)
    }
}
