//! Moving a message between folders of the account (UID MOVE, or UID COPY + UID EXPUNGE), so
//! that a message a mail reader moved locally is moved on the server too, not uploaded again.

use pimlink_core::{CollectionName, Error, ErrorKind, Flag, Flags, ItemKey};

use super::ImapStore;
use super::keys::MessageKey;
use crate::client::StoreMode;
use crate::uidset::UidRanges;

impl ImapStore {
    /// True when a move can report where the message went: COPYUID needs UIDPLUS, which also
    /// gives the UID EXPUNGE a server without MOVE needs.
    pub(super) fn moves_supported(&self) -> bool {
        self.client.as_ref().is_some_and(|c| c.has("UIDPLUS"))
    }

    pub(super) async fn move_message(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
    ) -> Result<ItemKey, Error> {
        let parsed = MessageKey::parse_or_err(key)?;
        let (from_server, validity) = self.ensure_selected(from).await?;
        if parsed.uid_validity != validity {
            return Err(Error::new(
                ErrorKind::Refused,
                format!("{key}: {from} has UIDVALIDITY {validity} now; not moving by a stale key"),
            ));
        }
        let to_server = self.server_folder(to).await?;
        let set = UidRanges::single(parsed.uid);
        let client = self.client().await?;
        let copied = if client.has("MOVE") {
            client.uid_move(&set, &to_server).await?
        } else {
            let copied = client.uid_copy(&set, &to_server).await?;
            if copied.is_some() {
                let deleted = Flags::new().with(Flag::Trashed);
                client.store(&set, StoreMode::Add, &deleted, None).await?;
                client.uid_expunge(&set).await?;
            }
            copied
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
        let flags = self
            .memory
            .get_mut(&from_server)
            .and_then(|m| m.flags.remove(&parsed.uid));
        if let Some(memory) = self.memory.get_mut(&to_server)
            && memory.uid_validity == target.uid_validity
            && let Some(flags) = flags
        {
            memory.flags.insert(target.uid, flags);
        }
        Ok(target.item_key())
    }
}
