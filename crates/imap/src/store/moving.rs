//! Moving a message between folders of the account (UID MOVE, or UID COPY + UID EXPUNGE), so
//! that a message a mail reader moved locally is moved on the server too, not uploaded again.

use pimlink_core::{CollectionName, Error, ErrorKind, Flag, Flags, ItemKey};

use super::ImapStore;
use super::keys::MessageKey;
use super::retry::Repeat;
use crate::client::StoreMode;
use crate::uidset::UidRanges;

impl ImapStore {
    /// True when a move can report where the message went: COPYUID needs UIDPLUS, which also
    /// gives the UID EXPUNGE a server without MOVE needs.
    pub(super) fn moves_supported(&self) -> bool {
        // Asked between operations, perhaps while a failed connection waits to be reopened.
        self.uidplus == Some(true)
    }

    pub(super) async fn move_message(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
    ) -> Result<ItemKey, Error> {
        let parsed = MessageKey::parse_or_err(key)?;
        let mut failures = 0;
        let (from_server, validity, to_server) = loop {
            let target = match self.ensure_selected(from).await {
                Ok((from_server, validity)) => match self.server_folder(to).await {
                    Ok(to_server) => self
                        .live_client()
                        .await
                        .map(|_| (from_server, validity, to_server)),
                    Err(error) => Err(error),
                },
                Err(error) => Err(error),
            };
            match target {
                Ok(target) => break target,
                Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
            }
        };
        if parsed.uid_validity != validity {
            return Err(Error::new(
                ErrorKind::Refused,
                format!("{key}: {from} has UIDVALIDITY {validity} now; not moving by a stale key"),
            ));
        }
        let set = UidRanges::single(parsed.uid);
        // A MOVE whose answer was lost may have happened: it is not repeated.
        let copied = match self.move_once(&set, &to_server).await {
            Ok(copied) => copied,
            Err(error) => return Err(self.unsafe_failure(error).await),
        };
        let target = copied
            .and_then(|c| {
                let uid = c.pairs.iter().find(|(source, _)| *source == parsed.uid)?.1;
                Some(MessageKey::new(c.uid_validity, uid))
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Peer,
                    format!(
                        "moved {key} from {from} to {to}, but the server did not say its new UID \
                         (COPYUID); the next run recognises it by content"
                    ),
                )
            })?;
        let flags = self.memory.get_mut(&from_server).and_then(|m| {
            m.written = true;
            m.flags.remove(&parsed.uid)
        });
        if let Some(memory) = self.memory.get_mut(&to_server)
            && memory.uid_validity == target.uid_validity
        {
            // A message moved in whose flags are unknown leaves `flags` short of the folder.
            memory.written = true;
            if let Some(flags) = flags {
                memory.flags.insert(target.uid, flags);
            }
        }
        Ok(target.item_key())
    }

    /// UID MOVE, or UID COPY + `\Deleted` + UID EXPUNGE, of `set` in the selected folder.
    async fn move_once(
        &mut self,
        set: &UidRanges,
        to_server: &str,
    ) -> Result<Option<crate::client::CopyUids>, Error> {
        let client = self.client().await?;
        if client.has("MOVE") {
            return client.uid_move(set, to_server).await;
        }
        let copied = client.uid_copy(set, to_server).await?;
        if copied.is_some() {
            let deleted = Flags::new().with(Flag::Trashed);
            client.store(set, StoreMode::Add, &deleted, None).await?;
            client.uid_expunge(set).await?;
        }
        Ok(copied)
    }
}
