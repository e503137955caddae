//! Listing and creating folders, and the folder bookkeeping every other command relies on:
//! which server folder an engine name is, and selecting it.

use pimlink_core::{ChangeStamp, CollectionInfo, CollectionName, Error, ErrorKind};
use tracing::{debug, warn};

use super::names::{canonical_name, server_name, server_name_prefixes};
use super::state::{Counters, ListState};
use super::{Folder, FolderMemory, ImapStore, Selected};
use crate::client::{SelectOptions, SelectedMailbox};
use crate::proto::response::{ListEntry, MailboxStatus};

impl ImapStore {
    /// LIST "" "*" as the engine's collections; remembers each folder's server name and, with
    /// CONDSTORE, its counters now (see [`ImapStore::folder_counters`]).
    pub(super) async fn list_folders(&mut self) -> Result<Vec<CollectionInfo>, Error> {
        // Only what this listing leaves out counts.
        self.client().await?.take_unreadable_folders();
        let entries = self.list_with_counters().await?;
        let subscribed: Option<std::collections::HashSet<String>> = if self.subscribed_only {
            let client = self.client().await?;
            Some(
                client
                    .lsub("", "*")
                    .await?
                    .into_iter()
                    .map(|e| e.name)
                    .collect(),
            )
        } else {
            None
        };
        // Each line left out was reported (with the server's bytes) by the client.
        self.folders_incomplete = self.client().await?.take_unreadable_folders() > 0;
        self.folders.clear();
        let mut out = Vec::with_capacity(entries.len());
        for (entry, status) in entries {
            if self.delimiter.is_none() || entry.name.eq_ignore_ascii_case("INBOX") {
                self.delimiter = Some(entry.delimiter);
            }
            if let Some(subscribed) = &subscribed
                && !entry.name.eq_ignore_ascii_case("INBOX")
                && !subscribed.contains(&entry.name)
            {
                debug!(
                    "{}: not subscribed, skipped: {:?}",
                    self.describe_quiet(),
                    entry.name
                );
                continue;
            }
            let name = match canonical_name(&entry.name, entry.delimiter) {
                Ok(name) => name,
                Err(why) => {
                    warn!(
                        "{}: skipping folder {:?}: {why}",
                        self.describe_quiet(),
                        entry.name
                    );
                    continue;
                }
            };
            if let Some(existing) = self.folders.get(&name) {
                warn!(
                    "{}: skipping folder {:?}: it has the same name as {:?}",
                    self.describe_quiet(),
                    entry.name,
                    existing.server
                );
                continue;
            }
            let selectable = entry.selectable();
            let counters = status
                .filter(|_| selectable)
                .and_then(|status| counters_of(&status));
            self.folders.insert(
                name.clone(),
                Folder {
                    server: entry.name,
                    selectable,
                    counters,
                },
            );
            out.push(CollectionInfo { name, selectable });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The folders, each with its STATUS when the server can tell every folder's HIGHESTMODSEQ
    /// cheaply: in the LIST itself (LIST-STATUS), else by STATUS commands pipelined after it.
    /// Without CONDSTORE the counters could not prove a folder unchanged, so none are asked.
    async fn list_with_counters(
        &mut self,
    ) -> Result<Vec<(ListEntry, Option<MailboxStatus>)>, Error> {
        let client = self.client().await?;
        if !client.has("CONDSTORE") {
            let entries = client.list("", "*").await?;
            return Ok(entries.into_iter().map(|e| (e, None)).collect());
        }
        if client.has("LIST-STATUS") {
            return client.list_status("*").await;
        }
        let entries = client.list("", "*").await?;
        let selectable: Vec<&str> = entries
            .iter()
            .filter(|e| e.selectable())
            .map(|e| e.name.as_str())
            .collect();
        let mut statuses = client.status_many(&selectable).await?.into_iter();
        Ok(entries
            .into_iter()
            .map(|entry| {
                let status = if entry.selectable() {
                    statuses.next().and_then(Result::ok)
                } else {
                    None
                };
                (entry, status)
            })
            .collect())
    }

    /// The counters the last LIST showed for `name`, taken: they describe the folder before
    /// this run changed anything, so they may serve one listing only.
    pub(super) fn folder_counters(&mut self, name: &CollectionName) -> Option<Counters> {
        self.folders.get_mut(name)?.counters.take()
    }

    /// The folder's counters from the run's first LIST as a change stamp (see
    /// `pimlink_core::mail::plan::unchanged`), without taking them: `None` without CONDSTORE (a
    /// flag change would not show) or before a LIST. UIDNEXT grows with every new message,
    /// MESSAGES falls with every expunge that no new message offsets, HIGHESTMODSEQ grows with
    /// every flag change, and a new UIDVALIDITY voids everything.
    pub(super) fn counters_stamp(&self, name: &CollectionName) -> Option<ChangeStamp> {
        let counters = self.folders.get(name)?.counters.as_ref()?;
        let state = &counters.state;
        Some(super::own_changes::counters_stamp(
            state.uid_validity,
            state.uid_next?,
            counters.messages,
            state.highest_modseq?,
        ))
    }

    pub(super) fn describe_quiet(&self) -> String {
        format!("imap {}@{}", self.options.user, self.options.host)
    }

    /// The server's hierarchy delimiter (`LIST "" ""` if no LIST told it yet).
    async fn delimiter(&mut self) -> Result<Option<char>, Error> {
        if let Some(delimiter) = self.delimiter {
            return Ok(delimiter);
        }
        let entries = self.client().await?.list("", "").await?;
        let delimiter = entries.first().and_then(|e| e.delimiter);
        self.delimiter = Some(delimiter);
        Ok(delimiter)
    }

    /// The server name of an engine folder: as listed, else built with the delimiter.
    pub(super) async fn server_folder(&mut self, name: &CollectionName) -> Result<String, Error> {
        if let Some(folder) = self.folders.get(name) {
            return Ok(folder.server.clone());
        }
        let delimiter = self.delimiter().await?;
        server_name(name, delimiter)
    }

    /// CREATE `name`. An existing folder is not an error. Parents are left to the server
    /// (RFC 3501 asks it to create them, and a Maildir++ server keeps them as mere
    /// `\NonExistent` levels, mirroring a local parent directory); only if the CREATE fails are
    /// the missing parents created first and the CREATE tried again.
    pub(super) async fn create_folder(&mut self, name: &CollectionName) -> Result<(), Error> {
        if name.is_inbox() || self.folders.get(name).is_some_and(|f| f.selectable) {
            return Ok(());
        }
        let delimiter = self.delimiter().await?;
        let mut prefixes = server_name_prefixes(name, delimiter)?;
        let Some((_, server)) = prefixes.pop() else {
            return Ok(());
        };
        let first = match self.create_one(&server).await? {
            Ok(()) => Ok(()),
            Err(error) => {
                for (parent, parent_server) in prefixes {
                    if parent.is_inbox() || self.folders.contains_key(&parent) {
                        continue;
                    }
                    if let Err(error) = self.create_one(&parent_server).await? {
                        debug!("CREATE {parent_server:?} (a parent) failed: {error}");
                    }
                }
                match self.create_one(&server).await? {
                    Ok(()) => Ok(()),
                    Err(_) => Err(error),
                }
            }
        };
        first.map_err(|e| e.context(format!("creating folder {name}")))?;
        let client = self.client().await?;
        match client.subscribe(&server).await {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::Connection => return Err(error),
            Err(error) => warn!(
                "{}: could not subscribe to {server:?}: {error}",
                self.describe_quiet()
            ),
        }
        self.folders.insert(
            name.clone(),
            Folder {
                server,
                selectable: true,
                counters: None,
            },
        );
        Ok(())
    }

    /// CREATE one server folder: `Ok(Err(_))` if the server refused and the folder does not
    /// exist as a selectable one now; `Err(_)` if the connection failed.
    async fn create_one(&mut self, server: &str) -> Result<Result<(), Error>, Error> {
        let client = self.client().await?;
        match client.create(server).await {
            Ok(()) => Ok(Ok(())),
            Err(error) if error.kind() == ErrorKind::Connection => Err(error),
            Err(error) => {
                // It may exist already (another client, a race).
                let listed = client.list("", server).await?;
                if listed.iter().any(|e| e.name == server && e.selectable()) {
                    Ok(Ok(()))
                } else {
                    Ok(Err(error))
                }
            }
        }
    }

    /// DELETE `name` if it holds no message (a pair's `remove`). The server would delete the
    /// messages with the folder, so the count is checked first (STATUS, after leaving the
    /// folder); a message that arrives between the STATUS and the DELETE is the one window
    /// left, as narrow as one round trip. A folder that is not listed is already gone.
    pub(super) async fn delete_folder(&mut self, name: &CollectionName) -> Result<(), Error> {
        if name.is_inbox() {
            return Err(Error::new(ErrorKind::Refused, "INBOX is never removed"));
        }
        let Some(folder) = self.folders.get(name).filter(|f| f.selectable).cloned() else {
            return Ok(());
        };
        self.flush_pending().await?;
        if self.selected.take().is_some() {
            self.client().await?.unselect().await?;
        }
        let client = self.client().await?;
        let status = client.status(&folder.server).await?;
        match status.messages {
            Some(0) => {}
            count => {
                return Err(Error::new(
                    ErrorKind::Refused,
                    format!(
                        "folder {name} still holds {} messages on the server; kept",
                        count.map_or("some".to_owned(), |n| n.to_string())
                    ),
                ));
            }
        }
        client.delete(&folder.server).await?;
        self.folders.remove(name);
        self.memory.remove(&folder.server);
        self.pending.remove(&folder.server);
        Ok(())
    }

    /// Selects `name` (read-write, with CONDSTORE when offered) unless it already is; returns
    /// its server name and UIDVALIDITY.
    pub(super) async fn ensure_selected(
        &mut self,
        name: &CollectionName,
    ) -> Result<(String, u32), Error> {
        let server = self.server_folder(name).await?;
        // A selection belongs to its connection: one that broke (perhaps under an operation
        // that shrugged the failure off, like a read-ahead) has none left.
        if self
            .client
            .as_ref()
            .is_none_or(crate::client::Client::is_broken)
        {
            self.drop_connection();
        }
        if let Some(selected) = self.selected.as_ref().filter(|s| s.server == server) {
            return Ok((server, selected.uid_validity));
        }
        let options = SelectOptions {
            condstore: true,
            ..SelectOptions::default()
        };
        let mailbox = self.select(&server, options).await?;
        let validity = self.note_selected(&server, &mailbox)?;
        Ok((server, validity))
    }

    /// SELECT, counted, forgetting the previous selection first (a failed SELECT leaves none).
    pub(super) async fn select(
        &mut self,
        server: &str,
        options: SelectOptions,
    ) -> Result<SelectedMailbox, Error> {
        self.flush_before_leaving(server).await;
        self.select_only(server, options).await
    }

    /// [`Self::select`] without sending the queued changes of the folder it leaves.
    pub(super) async fn select_only(
        &mut self,
        server: &str,
        options: SelectOptions,
    ) -> Result<SelectedMailbox, Error> {
        self.selected = None;
        self.stats.selects += 1;
        let options = SelectOptions {
            read_only: options.read_only || self.examine_only,
            ..options
        };
        let client = self.client().await?;
        client.select(server, options).await
    }

    /// Sends the queued flag changes and deletions of the selected folder before the
    /// connection selects `next`, another one: in the selection they were made for, instead
    /// of selecting the folder again at the flush. If that fails they stay queued, and the
    /// flush carries them out (selecting the folder again) or reports the error; every one of
    /// those commands is safe to repeat. The engine records them only after its flush, which
    /// finds nothing left to send.
    async fn flush_before_leaving(&mut self, next: &str) {
        let Some(current) = self.selected.as_ref().map(|s| s.server.clone()) else {
            return;
        };
        if current == next {
            return;
        }
        let Some(folder) = self.pending.remove(&current) else {
            return;
        };
        if folder.flag_changes.is_empty() && folder.deletions.is_empty() {
            return;
        }
        if let Err(error) = self.flush_folder(&current, &folder).await {
            debug!("{current:?}: its changes wait for the flush: {error}");
            self.pending.insert(current, folder);
            self.forget_broken_connection(&error);
        }
    }

    /// Records a successful SELECT; returns the folder's UIDVALIDITY.
    pub(super) fn note_selected(
        &mut self,
        server: &str,
        mailbox: &SelectedMailbox,
    ) -> Result<u32, Error> {
        let validity = mailbox.uid_validity.ok_or_else(|| {
            Error::new(
                ErrorKind::Peer,
                format!("the server sent no UIDVALIDITY when selecting {server:?}"),
            )
        })?;
        let memory = self.memory.entry(server.to_owned()).or_default();
        if memory.uid_validity != validity {
            *memory = FolderMemory {
                uid_validity: validity,
                ..FolderMemory::default()
            };
        }
        // A stale floor only makes the search for an appended message longer, never wrong.
        if memory.append_floor.is_none() {
            memory.append_floor = mailbox.uid_next;
        }
        self.selected = Some(Selected {
            server: server.to_owned(),
            uid_validity: validity,
        });
        Ok(validity)
    }
}

/// A folder's STATUS as the listing state it would have, if it reports everything that can
/// prove it unchanged (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, MESSAGES).
fn counters_of(status: &MailboxStatus) -> Option<Counters> {
    Some(Counters {
        state: ListState {
            uid_validity: status.uid_validity?,
            uid_next: Some(status.uid_next?),
            highest_modseq: Some(status.highest_modseq?),
            any_keywords: false,
            mailbox_id: status.mailbox_id.clone(),
        },
        messages: status.messages?,
    })
}
