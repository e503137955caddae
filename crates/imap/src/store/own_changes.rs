//! A folder's stamp after this run's own writes ([`MailStore::stamp_after_own_changes`]), so
//! that the run after one that uploaded, re-flagged or deleted messages skips the folder
//! instead of listing it again: the run after a first migration or an initial upload would
//! otherwise list every folder it wrote to on both sides.
//!
//! The stamp is STATUS's counters, in the spelling of the stamp LIST-STATUS gives before a
//! listing. It may be recorded only if the folder held exactly what this handle listed plus
//! what it wrote since, which `flags` of the folder's memory describes in full. The proof,
//! read from a view of the folder at least as recent as the counters, so that any change
//! before them shows:
//! - MESSAGES equals the messages the handle knows: nobody else expunged one without also
//!   adding one, and
//! - `UID FETCH 1:* (FLAGS) (CHANGEDSINCE <HIGHESTMODSEQ of the listing>)` reports only
//!   messages the handle knows, with the flags it expects: every message added or re-flagged
//!   since the listing is one of this handle's writes, ending as it left it.
//!
//! A change after STATUS either shows in that FETCH (and refuses the stamp) or does not, and
//! then raises the counters the next run compares. Anything unexpected gives no stamp: the
//! next run lists the folder, as it did before.
//!
//! [`MailStore::stamp_after_own_changes`]: pimlink_core::MailStore::stamp_after_own_changes

use std::time::SystemTime;

use pimlink_core::{ChangeStamp, CollectionName, Error};
use tracing::debug;

use super::ImapStore;
use super::folders::stamp_of;
use super::state::{Counters, ListState};
use crate::client::FetchRequest;
use crate::uidset::UidRanges;

impl ImapStore {
    pub(super) async fn stamp_after_own(
        &mut self,
        collection: &CollectionName,
    ) -> Result<Option<(ChangeStamp, SystemTime)>, Error> {
        let server = self.server_folder(collection).await?;
        // A folder this handle did not write keeps the stamp from before its listing.
        let wrote = self
            .memory
            .get(&server)
            .is_some_and(|m| m.written && m.listed_modseq.is_some());
        let queued = self
            .pending
            .get(&server)
            .is_some_and(|p| !p.flag_changes.is_empty() || !p.deletions.is_empty());
        if !wrote || queued {
            return Ok(None);
        }
        // Only in the selection its writes left: selecting it again would cost a run that
        // changes many folders a SELECT each, more than the next run saves by skipping them.
        let Some(validity) = self
            .selected
            .as_ref()
            .filter(|s| s.server == server)
            .map(|s| s.uid_validity)
        else {
            debug!("{server:?}: no longer selected; no stamp after this run's changes");
            return Ok(None);
        };
        if self
            .client
            .as_ref()
            .is_none_or(crate::client::Client::is_broken)
        {
            return Ok(None);
        }
        let at = pimlink_core::clock::coarse_now();
        let Some(listed_modseq) = self.memory.get(&server).and_then(|m| m.listed_modseq) else {
            return Ok(None);
        };
        // Dovecot answers STATUS of the selected folder from the connection's view, which only
        // a command that may report changes brings up to date; the second NOOP brings the view
        // the FETCH reads up to at least the moment of STATUS, on servers that answer STATUS
        // from the folder itself.
        let client = self.client().await?;
        client.noop().await?;
        let status = client.status(&server).await?;
        client.noop().await?;
        let counters = Counters {
            state: ListState {
                uid_validity: status.uid_validity.unwrap_or_default(),
                uid_next: status.uid_next,
                highest_modseq: status.highest_modseq,
                any_keywords: false,
            },
            messages: status.messages.unwrap_or_default(),
        };
        let (Some(stamp), Some(messages)) = (stamp_of(counters), status.messages) else {
            return Ok(None);
        };
        let Some(memory) = self.memory.get(&server) else {
            return Ok(None);
        };
        if status.uid_validity != Some(validity) || messages as usize != memory.flags.len() {
            debug!(
                "{server:?}: {messages} messages where this run expects {}; no stamp after its \
                 changes",
                memory.flags.len()
            );
            return Ok(None);
        }
        let request = FetchRequest {
            flags: true,
            changed_since: Some(listed_modseq),
            ..FetchRequest::default()
        };
        self.stats.fetches += 1;
        let mut changed = Vec::new();
        self.client()
            .await?
            .fetch(&UidRanges::all(), &request, |message| {
                changed.push((message.uid, message.flags));
                Ok(())
            })
            .await?;
        let expected = self.memory.get(&server).map(|m| &m.flags);
        let foreign = changed
            .iter()
            .find(|(uid, flags)| expected.and_then(|e| e.get(uid)) != flags.as_ref());
        if let Some((uid, _)) = foreign {
            debug!("{server:?}: UID {uid} changed beside this run; no stamp after its changes");
            return Ok(None);
        }
        Ok(Some((stamp, at)))
    }
}
