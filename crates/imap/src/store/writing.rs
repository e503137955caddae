//! Deliveries (APPEND), and the flag changes and deletions queued until the flush.

use std::io::{Read, Seek, SeekFrom};

use pimlink_core::mail::fingerprint::{FETCH_FIELDS, Fingerprint};
use pimlink_core::{CollectionName, Content, Error, ErrorKind, Flag, Flags, ItemKey, NewItem};
use tracing::debug;

use super::keys::MessageKey;
use super::reading::fingerprint_of_fetched;
use super::retry::Repeat;
use super::{FlagOp, ImapStore, PendingFolder, copy_error, crlf};
use crate::client::{AppendItem, FetchRequest, StoreMode};
use crate::uidset::UidRanges;

/// The most APPENDs sent before their answers are read. It bounds what a server may still be
/// storing for a connection that died (a killed run): at about 15 ms of fsync per APPEND on
/// Dovecot, a window of 32 is half a second of late arrivals, which the next run waits out
/// ([`ImapStore::settle`](super::ImapStore)) before it lists a folder with unconfirmed copies;
/// a longer window gains nothing, since the server stores one message after another anyway.
pub(super) const APPEND_WINDOW: usize = 32;

impl ImapStore {
    pub(super) async fn append_message(
        &mut self,
        collection: &CollectionName,
        item: NewItem<'_>,
    ) -> Result<ItemKey, Error> {
        // Everything before the APPEND itself is safe to repeat after reconnecting.
        let mut failures = 0;
        let (server, uidplus) = loop {
            match self.append_target(collection).await {
                Ok(target) => break target,
                Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
            }
        };
        let mut content = item.data.content;
        // Without UIDPLUS the message must be recognisable afterwards, by content.
        let mut wanted = None;
        let mut floor = 1;
        if !uidplus {
            let fingerprint = fingerprint_of(&mut content)?.ok_or_else(|| {
                Error::new(
                    ErrorKind::Unsupported,
                    "the message has no Message-ID, Date, From or Subject, and the server \
                     cannot report the UID of an appended message (no UIDPLUS): it could not \
                     be recognised after the upload, so it is not uploaded",
                )
            })?;
            wanted = Some(fingerprint);
            floor = self
                .memory
                .get(&server)
                .and_then(|m| m.append_floor)
                .unwrap_or(1);
        }
        let content = crlf::content_to_crlf(content, self.options.spool_dir.as_deref())
            .map_err(|e| Error::io("converting line ends to CRLF", e))?;
        let append = AppendItem {
            content,
            flags: item.flags.clone(),
            internal_date: item.data.internal_date,
        };
        self.stats.appends += 1;
        let appended = match self.client().await {
            Ok(client) => client.append(&server, append).await,
            Err(error) => Err(error),
        };
        let appended = match appended {
            Ok(appended) => appended,
            Err(error) => return Err(self.unsafe_failure(error).await),
        };
        // A UIDPLUS the user disabled (as broken) is not trusted for APPENDUID either.
        let appended = appended.filter(|_| uidplus);
        let uid = match (appended, wanted) {
            (Some((validity, uid)), _) => {
                let known = self.memory.get(&server).map(|m| m.uid_validity);
                if known.is_some_and(|known| known != validity) {
                    return Err(Error::new(
                        ErrorKind::Refused,
                        format!(
                            "the server reports UIDVALIDITY {validity} for the appended message, \
                             but the folder was listed with {}: the folder was renumbered \
                             during the run",
                            known.unwrap_or_default()
                        ),
                    ));
                }
                let memory = self.memory.entry(server).or_default();
                memory.uid_validity = validity;
                memory.flags.insert(uid, item.flags.clone());
                memory.written = true;
                return Ok(MessageKey::new(validity, uid).item_key());
            }
            (None, Some(fingerprint)) => {
                // The APPEND succeeded; looking for it is a read, repeated after reconnecting.
                let mut failures = 0;
                loop {
                    let found = match self.ensure_selected(collection).await {
                        Ok(_) => self.find_appended(&server, floor, &fingerprint).await,
                        Err(error) => Err(error),
                    };
                    match found {
                        Ok(uid) => break uid,
                        Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
                    }
                }
            }
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::Peer,
                    "the server offers UIDPLUS but sent no APPENDUID",
                ));
            }
        };
        let validity = match self.selected.as_ref().filter(|s| s.server == server) {
            Some(selected) => selected.uid_validity,
            None => {
                return Err(Error::new(
                    ErrorKind::Connection,
                    "the folder was deselected while looking for an appended message",
                ));
            }
        };
        let memory = self.memory.entry(server).or_default();
        memory.append_floor = Some(uid.saturating_add(1));
        memory.flags.insert(uid, item.flags.clone());
        memory.written = true;
        Ok(MessageKey::new(validity, uid).item_key())
    }

    /// The server folder to append to and whether the server has UIDPLUS; without it, the
    /// folder is selected too (the appended message is looked for there).
    async fn append_target(
        &mut self,
        collection: &CollectionName,
    ) -> Result<(String, bool), Error> {
        let server = self.server_folder(collection).await?;
        let uidplus = self.client().await?.has("UIDPLUS");
        if !uidplus {
            self.ensure_selected(collection).await?;
        }
        self.live_client().await?;
        Ok((server, uidplus))
    }

    /// APPENDs a batch, pipelined when APPENDUID will name each message's UID; without UIDPLUS
    /// each message must be searched for right after its APPEND, so they go one by one.
    pub(super) async fn append_messages(
        &mut self,
        collection: &CollectionName,
        items: Vec<NewItem<'_>>,
    ) -> Vec<Result<ItemKey, Error>> {
        let mut failures = 0;
        let (uidplus, multiappend) = loop {
            let error = match self.live_client().await {
                Ok(client) => break (client.has("UIDPLUS"), client.has("MULTIAPPEND")),
                Err(error) => error,
            };
            if let Err(error) = self.after_failure(error, Repeat::Safe, &mut failures).await {
                return items.iter().map(|_| Err(copy_error(&error))).collect();
            }
        };
        if !uidplus || items.len() < 2 {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(self.append_message(collection, item).await);
            }
            return out;
        }
        if multiappend {
            return self.multiappend_messages(collection, items).await;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut items = items.into_iter();
        loop {
            let window: Vec<NewItem<'_>> = items.by_ref().take(APPEND_WINDOW).collect();
            if window.is_empty() {
                return out;
            }
            out.extend(self.append_window(collection, window).await);
        }
    }

    /// At most [`APPEND_WINDOW`] APPENDs, all sent before the first answer is read.
    async fn append_window(
        &mut self,
        collection: &CollectionName,
        items: Vec<NewItem<'_>>,
    ) -> Vec<Result<ItemKey, Error>> {
        let server = match self.append_folder(collection).await {
            Ok(server) => server,
            Err(error) => return items.iter().map(|_| Err(copy_error(&error))).collect(),
        };
        let (slots, batch) = self.prepare_appends(items);
        let appended = self.append_pipelined(&server, batch).await;
        fill_slots(slots, appended)
    }

    /// The server folder of `collection`, selected if possible. Dovecot opens (and syncs the
    /// index of) a mailbox for every APPEND to a folder that is not the selected one, but
    /// reuses the selected one: selecting the folder first makes an upload of many messages
    /// about as fast as mbsync's. A failed SELECT leaves the APPENDs to be sent without it.
    pub(super) async fn append_folder(
        &mut self,
        collection: &CollectionName,
    ) -> Result<String, Error> {
        match self.ensure_selected(collection).await {
            Ok((server, _)) => Ok(server),
            Err(error) => {
                debug!("SELECT before APPEND failed, appending without it: {error}");
                self.server_folder(collection).await
            }
        }
    }

    /// The messages with CRLF line ends, ready to send, and a slot per item: `None` where the
    /// result of the APPEND goes, the error for a message that failed the conversion (it is
    /// left out of the batch).
    pub(super) fn prepare_appends(
        &self,
        items: Vec<NewItem<'_>>,
    ) -> (Vec<Option<Result<ItemKey, Error>>>, Vec<AppendItem>) {
        let mut slots = Vec::with_capacity(items.len());
        let mut batch = Vec::with_capacity(items.len());
        for item in items {
            match crlf::content_to_crlf(item.data.content, self.options.spool_dir.as_deref()) {
                Ok(content) => {
                    slots.push(None);
                    batch.push(AppendItem {
                        content,
                        flags: item.flags.clone(),
                        internal_date: item.data.internal_date,
                    });
                }
                Err(e) => slots.push(Some(Err(Error::io("converting line ends to CRLF", e)))),
            }
        }
        (slots, batch)
    }

    /// One APPEND per message of `batch`, all sent before the first answer is read; a result
    /// per message, in order.
    pub(super) async fn append_pipelined(
        &mut self,
        server: &str,
        batch: Vec<AppendItem>,
    ) -> Vec<Result<ItemKey, Error>> {
        let flags: Vec<Flags> = batch.iter().map(|item| item.flags.clone()).collect();
        self.stats.appends += batch.len() as u64;
        let appended = match self.client().await {
            Ok(client) => client.append_many(server, batch).await,
            Err(error) => Err(error),
        };
        let mut appended = match appended {
            Ok(appended) => {
                if appended
                    .iter()
                    .any(|r| r.as_ref().is_err_and(|e| e.kind() == ErrorKind::Connection))
                {
                    // The batch's later APPENDs have unknown results; never repeated here.
                    self.drop_connection();
                }
                appended.into_iter()
            }
            Err(error) => {
                let error = self.unsafe_failure(error).await;
                return flags.iter().map(|_| Err(copy_error(&error))).collect();
            }
        };
        let known = self.memory.get(server).map(|m| m.uid_validity);
        flags
            .into_iter()
            .map(|item_flags| match appended.next() {
                Some(Ok(Some((validity, uid)))) => {
                    if known.is_some_and(|known| known != validity) {
                        return Err(renumbered(validity, known));
                    }
                    let memory = self.memory.entry(server.to_owned()).or_default();
                    memory.uid_validity = validity;
                    memory.flags.insert(uid, item_flags);
                    memory.written = true;
                    Ok(MessageKey::new(validity, uid).item_key())
                }
                Some(Ok(None)) => Err(Error::new(
                    ErrorKind::Peer,
                    "the server offers UIDPLUS but sent no APPENDUID",
                )),
                Some(Err(error)) => Err(error),
                None => Err(Error::new(ErrorKind::Peer, "APPEND produced no result")),
            })
            .collect()
    }

    /// The UID of the message just appended to the selected folder `server` without UIDPLUS:
    /// the highest UID at or above `floor` with that fingerprint. UIDs grow with every APPEND,
    /// so a message found is always above the previous one found.
    async fn find_appended(
        &mut self,
        server: &str,
        floor: u32,
        fingerprint: &Fingerprint,
    ) -> Result<u32, Error> {
        let request = FetchRequest {
            size: true,
            header_fields: FETCH_FIELDS
                .iter()
                .map(|f| f.to_ascii_uppercase())
                .collect(),
            ..FetchRequest::default()
        };
        let mut range = UidRanges::default();
        range.push_range(floor, u32::MAX);
        let client = self.client().await?;
        // Makes the server show this connection the message it just stored.
        client.noop().await?;
        self.stats.fetches += 1;
        let client = self.client().await?;
        let mut found = None;
        client
            .fetch(&range, &request, |message| {
                if message.uid < floor {
                    return Ok(()); // "n:*" includes the last message even below n.
                }
                let matches = fingerprint_of_fetched(&message)
                    .ok()
                    .flatten()
                    .is_some_and(|f| &f == fingerprint);
                if matches && found.is_none_or(|uid| message.uid > uid) {
                    found = Some(message.uid);
                }
                Ok(())
            })
            .await?;
        debug!("{server:?}: appended message found at UID {found:?} (searched from {floor})");
        found.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "the message was appended to {server:?}, but the server does not report UIDs \
                     (no UIDPLUS) and no message at or above UID {floor} matches it; the next \
                     run recognises it by content"
                ),
            )
        })
    }

    /// Checks `key` against `collection`'s UIDVALIDITY; returns the server folder and UID.
    async fn key_in_folder(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
    ) -> Result<(String, u32, u32), Error> {
        let parsed = MessageKey::parse_or_err(key)?;
        let server = self.server_folder(collection).await?;
        let validity = match self.memory.get(&server) {
            Some(memory) if memory.uid_validity != 0 => memory.uid_validity,
            _ => self.ensure_selected(collection).await?.1,
        };
        if parsed.uid_validity != validity {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "{key}: {collection} has UIDVALIDITY {validity} now; not touching a message \
                     by a key of another numbering"
                ),
            ));
        }
        Ok((server, validity, parsed.uid))
    }

    pub(super) async fn queue_flags(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
        flags: &Flags,
    ) -> Result<(), Error> {
        let (server, validity, uid) = self.key_in_folder(collection, key).await?;
        let memory = self.memory.entry(server.clone()).or_default();
        let before = memory.flags.insert(uid, flags.clone());
        memory.written = true;
        let pending = self.pending_folder(&server, validity);
        match before {
            None => pending.add_flags(FlagOp::Replace, flags.clone(), uid),
            Some(before) => {
                let (add, remove) = difference(&before, flags);
                if !add.is_empty() {
                    pending.add_flags(FlagOp::Add, add, uid);
                }
                if !remove.is_empty() {
                    pending.add_flags(FlagOp::Remove, remove, uid);
                }
            }
        }
        Ok(())
    }

    pub(super) async fn queue_delete(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
    ) -> Result<(), Error> {
        if !self.client().await?.has("UIDPLUS") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{} cannot delete messages: the server lacks UIDPLUS (UID EXPUNGE), and a \
                     plain EXPUNGE would also remove messages others marked \\Deleted",
                    self.describe_short()
                ),
            ));
        }
        let (server, validity, uid) = self.key_in_folder(collection, key).await?;
        self.pending_folder(&server, validity).deletions.push(uid);
        Ok(())
    }

    fn describe_short(&self) -> String {
        format!("imap {}@{}", self.options.user, self.options.host)
    }

    fn pending_folder(&mut self, server: &str, validity: u32) -> &mut PendingFolder {
        let pending = self.pending.entry(server.to_owned()).or_default();
        if pending.uid_validity != validity {
            // Only reachable after a renumbering mid-run; the old queue is void.
            *pending = PendingFolder {
                uid_validity: validity,
                ..PendingFolder::default()
            };
        }
        pending
    }

    /// Carries out the queued flag changes, then the deletions, folder by folder. The queue is
    /// emptied whatever happens: the engine records nothing of a batch whose flush failed, so
    /// the next run plans those changes again. A folder whose connection failed is done again
    /// from its start after reconnecting: every command of it is safe to repeat.
    pub(super) async fn flush_pending(&mut self) -> Result<(), Error> {
        let pending = std::mem::take(&mut self.pending);
        for (server, folder) in pending {
            if folder.flag_changes.is_empty() && folder.deletions.is_empty() {
                continue;
            }
            let mut failures = 0;
            loop {
                match self.flush_folder(&server, &folder).await {
                    Ok(()) => break,
                    Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
                }
            }
        }
        Ok(())
    }

    /// The queued changes of one server folder: flag stores, then `\Deleted` and UID EXPUNGE
    /// of exactly the UIDs to delete.
    pub(super) async fn flush_folder(
        &mut self,
        server: &str,
        folder: &PendingFolder,
    ) -> Result<(), Error> {
        let validity = match self.selected.as_ref().filter(|s| s.server == server) {
            Some(selected) => selected.uid_validity,
            None => {
                let options = crate::client::SelectOptions {
                    condstore: true,
                    ..Default::default()
                };
                // Not `select`: its own flush of the folder it leaves would recurse here; the
                // flush that called this carries out every folder's queue anyway.
                let mailbox = self.select_only(server, options).await?;
                self.note_selected(server, &mailbox)?
            }
        };
        if validity != folder.uid_validity {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "{server:?} was renumbered (UIDVALIDITY {} -> {validity}) before its \
                     changes were written; they are left for the next run",
                    folder.uid_validity
                ),
            ));
        }
        for ((op, _), (flags, uids)) in &folder.flag_changes {
            let mode = match op {
                FlagOp::Replace => StoreMode::Replace,
                FlagOp::Add => StoreMode::Add,
                FlagOp::Remove => StoreMode::Remove,
            };
            self.stats.stores += 1;
            let set = UidRanges::from_uids(uids.iter().copied());
            self.client().await?.store(&set, mode, flags, None).await?;
        }
        if !folder.deletions.is_empty() {
            let set = UidRanges::from_uids(folder.deletions.iter().copied());
            let deleted = Flags::new().with(Flag::Trashed);
            self.stats.stores += 1;
            self.client()
                .await?
                .store(&set, StoreMode::Add, &deleted, None)
                .await?;
            self.stats.expunges += 1;
            self.client().await?.uid_expunge(&set).await?;
            if let Some(memory) = self.memory.get_mut(server) {
                memory.written = true;
                for uid in &folder.deletions {
                    memory.flags.remove(uid);
                }
            }
        }
        Ok(())
    }
}

impl PendingFolder {
    fn add_flags(&mut self, op: FlagOp, flags: Flags, uid: u32) {
        let entry = self
            .flag_changes
            .entry((op, flags.to_status_text()))
            .or_insert_with(|| (flags, Vec::new()));
        entry.1.push(uid);
    }
}

/// The results in order: each slot's own (a message that was not sent) or the next of
/// `results` (those of the messages sent, in order).
pub(super) fn fill_slots(
    slots: Vec<Option<Result<ItemKey, Error>>>,
    results: Vec<Result<ItemKey, Error>>,
) -> Vec<Result<ItemKey, Error>> {
    let mut results = results.into_iter();
    slots
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| {
                results.next().unwrap_or_else(|| {
                    Err(Error::new(ErrorKind::Peer, "APPEND produced no result"))
                })
            })
        })
        .collect()
}

/// The error for an APPEND answered with another UIDVALIDITY than the folder was listed with.
pub(super) fn renumbered(validity: u32, known: Option<u32>) -> Error {
    Error::new(
        ErrorKind::Refused,
        format!(
            "the server reports UIDVALIDITY {validity} for an appended message, but the folder \
             was listed with {}: it was renumbered during the run",
            known.unwrap_or_default()
        ),
    )
}

/// The flags to add and to remove to get from `before` to `after`.
fn difference(before: &Flags, after: &Flags) -> (Flags, Flags) {
    let mut add = Flags::new();
    let mut remove = Flags::new();
    for flag in Flag::ALL {
        match (before.contains(flag), after.contains(flag)) {
            (false, true) => add.set(flag, true),
            (true, false) => remove.set(flag, true),
            _ => {}
        }
    }
    for keyword in after.keywords() {
        if !before.keywords().any(|k| k == keyword) {
            add.set_keyword(keyword, true);
        }
    }
    for keyword in before.keywords() {
        if !after.keywords().any(|k| k == keyword) {
            remove.set_keyword(keyword, true);
        }
    }
    (add, remove)
}

/// The fingerprint of a message about to be uploaded (read to its end, for its size); a file
/// is rewound afterwards.
fn fingerprint_of(content: &mut Content) -> Result<Option<Fingerprint>, Error> {
    let read = |reader: &mut dyn Read| Fingerprint::of_message(reader);
    let result = match content {
        Content::Bytes(bytes) => read(&mut &bytes[..]),
        Content::File(file) => {
            let start = file
                .stream_position()
                .map_err(|e| Error::io("reading a message to upload", e))?;
            let result = read(file);
            file.seek(SeekFrom::Start(start))
                .map_err(|e| Error::io("rewinding a message to upload", e))?;
            result
        }
    };
    result.map_err(|e| Error::io("reading a message's header", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_adds_and_removes_only_what_changed() {
        let mut before = Flags::new().with(Flag::Seen).with(Flag::Flagged);
        before.set_keyword("$Junk", true);
        let mut after = Flags::new().with(Flag::Seen).with(Flag::Replied);
        after.set_keyword("$Work", true);
        let (add, remove) = difference(&before, &after);
        assert_eq!(add.to_status_text(), "R $Work");
        assert_eq!(remove.to_status_text(), "F $Junk");
        let (add, remove) = difference(&after, &after);
        assert!(add.is_empty() && remove.is_empty());
    }
}
