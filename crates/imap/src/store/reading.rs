//! Reading messages and their identifying headers, a batch per UID FETCH.

use std::collections::HashMap;

use pimlink_core::fingerprint::{FIELDS, Fingerprint};
use pimlink_core::{CollectionName, Error, ErrorKind, ItemData, ItemKey};

use super::keys::MessageKey;
use super::{ImapStore, chunks, copy_error};
use crate::client::{FetchRequest, FetchedMessage};

/// One result slot per requested key.
type Slots<T> = Vec<Option<Result<T, Error>>>;

impl ImapStore {
    /// `UID FETCH (BODY.PEEK[] INTERNALDATE)` of the keys, bodies streamed (large ones arrive as
    /// spool files); one result per key, in order.
    pub(super) async fn read_messages(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<ItemData, Error>> {
        let request = FetchRequest {
            body: true,
            internal_date: true,
            ..FetchRequest::default()
        };
        self.fetch_for_keys(collection, keys, &request, |message| {
            let Some(content) = message.body else {
                return Err(Error::new(
                    ErrorKind::Peer,
                    format!("the server sent UID {} without its body", message.uid),
                ));
            };
            Ok(ItemData {
                content,
                internal_date: message.internal_date,
            })
        })
        .await
    }

    /// `UID FETCH (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)])` of the keys.
    pub(super) async fn read_fingerprints(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<Fingerprint>, Error>> {
        let request = FetchRequest {
            header_fields: FIELDS.iter().map(|f| f.to_ascii_uppercase()).collect(),
            ..FetchRequest::default()
        };
        self.fetch_for_keys(collection, keys, &request, |message| {
            let header = message.header.unwrap_or_default();
            Fingerprint::of_message(&header[..])
                .map_err(|e| Error::io("reading a message header", e))
        })
        .await
    }

    /// Fetches `keys` in a few commands and turns each message into a result with `convert`.
    /// A key of another UIDVALIDITY, or one whose UID did not come back, gets its own error;
    /// the others are unaffected. A failed command fails the keys it carried.
    async fn fetch_for_keys<T>(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
        request: &FetchRequest,
        mut convert: impl FnMut(FetchedMessage) -> Result<T, Error>,
    ) -> Vec<Result<T, Error>> {
        let mut slots: Slots<T> = keys.iter().map(|_| None).collect();
        let validity = match self.ensure_selected(collection).await {
            Ok((_, validity)) => validity,
            Err(error) => {
                return keys.iter().map(|_| Err(copy_error(&error))).collect();
            }
        };
        let mut by_uid: HashMap<u32, Vec<usize>> = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            match MessageKey::parse_or_err(key) {
                Ok(parsed) if parsed.uid_validity == validity => {
                    by_uid.entry(parsed.uid).or_default().push(index);
                }
                Ok(_) => {
                    slots[index] = Some(Err(Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "{key}: {collection} now has UIDVALIDITY {validity}; the key is void"
                        ),
                    )));
                }
                Err(error) => slots[index] = Some(Err(error)),
            }
        }
        let uids: Vec<u32> = by_uid.keys().copied().collect();
        let mut connection_lost = None;
        for set in chunks(&uids) {
            self.stats.fetches += 1;
            let result = match self.client().await {
                Ok(client) => {
                    client
                        .fetch(&set, request, |message| {
                            if let Some((&first, others)) = by_uid
                                .get(&message.uid)
                                .and_then(|indexes| indexes.split_first())
                            {
                                let uid = message.uid;
                                slots[first] = Some(convert(message));
                                for &other in others {
                                    slots[other] = Some(Err(Error::new(
                                        ErrorKind::InvalidName,
                                        format!("UID {uid} was asked for twice"),
                                    )));
                                }
                            }
                            Ok(())
                        })
                        .await
                }
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                for uid in set.iter() {
                    for &index in by_uid.get(&uid).into_iter().flatten() {
                        if slots[index].is_none() {
                            slots[index] = Some(Err(copy_error(&error)));
                        }
                    }
                }
                if error.kind() == ErrorKind::Connection {
                    connection_lost = Some(error);
                    break;
                }
            }
        }
        slots
            .into_iter()
            .zip(keys)
            .map(|(slot, key)| {
                slot.unwrap_or_else(|| match &connection_lost {
                    // Not asked for before the connection dropped: unknown, not gone.
                    Some(error) => Err(copy_error(error)),
                    None => Err(Error::new(
                        ErrorKind::NotFound,
                        format!("{key} is not in {collection} (any more)"),
                    )),
                })
            })
            .collect()
    }
}
