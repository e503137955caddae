//! Reading messages and their identifying headers, a batch per UID FETCH.

use std::collections::HashMap;
use std::time::SystemTime;

use pimlink_core::mail::fingerprint::{FETCH_FIELDS, Fingerprint};
use pimlink_core::{CollectionName, Error, ErrorKind, ItemData, ItemKey};

use super::keys::MessageKey;
use super::retry::Repeat;
use super::{ImapStore, chunks, copy_error};
use crate::client::{FetchRequest, FetchedMessage};
use crate::uidset::UidRanges;

/// One result slot per requested key.
type Slots<T> = Vec<Option<Result<T, Error>>>;

fn filled<T>(slots: &Slots<T>) -> usize {
    slots.iter().filter(|slot| slot.is_some()).count()
}

/// A pass of [`ImapStore::fetch_for_keys`] whose connection failed.
struct Lost {
    /// Why.
    error: Error,
    /// The key whose message was on its way, if the FETCH itself had started.
    in_flight: Option<usize>,
}

impl ImapStore {
    /// `UID FETCH (BODY.PEEK[] INTERNALDATE)` of the keys, bodies streamed (large ones arrive as
    /// spool files); one result per key, in order.
    pub(super) async fn read_messages(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<ItemData, Error>> {
        // Bodies read ahead after the planning need no command (nor a SELECT).
        let mut out: Vec<Option<Result<ItemData, Error>>> =
            match self.server_folder(collection).await {
                Ok(server) => keys
                    .iter()
                    .map(|key| self.take_prefetched(&server, key).map(Ok))
                    .collect(),
                Err(_) => keys.iter().map(|_| None).collect(),
            };
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            return out.into_iter().flatten().collect();
        }
        let wanted: Vec<ItemKey> = missing.iter().map(|&i| keys[i].clone()).collect();
        let fetched = self.fetch_bodies(collection, &wanted).await;
        for (index, result) in missing.into_iter().zip(fetched) {
            out[index] = Some(result);
        }
        out.into_iter()
            .map(|slot| slot.unwrap_or_else(|| Err(Error::new(ErrorKind::NotFound, "not read"))))
            .collect()
    }

    /// `UID FETCH (BODY.PEEK[] INTERNALDATE)` of the keys.
    async fn fetch_bodies(
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

    /// `UID FETCH (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT X-TUID)])` of
    /// the keys.
    pub(super) async fn read_fingerprints(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<Fingerprint>, Error>> {
        // New mail had its headers fetched with the listing; only the rest costs a FETCH.
        let server = match self.server_folder(collection).await {
            Ok(server) => server,
            Err(error) => return keys.iter().map(|_| Err(copy_error(&error))).collect(),
        };
        let mut out: Vec<Option<Result<Option<Fingerprint>, Error>>> = keys
            .iter()
            .map(|key| self.cached_fingerprint(&server, key).map(Ok))
            .collect();
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| out[i].is_none()).collect();
        if !missing.is_empty() {
            let request = FetchRequest {
                size: true,
                header_fields: FETCH_FIELDS
                    .iter()
                    .map(|f| f.to_ascii_uppercase())
                    .collect(),
                ..FetchRequest::default()
            };
            let wanted: Vec<ItemKey> = missing.iter().map(|&i| keys[i].clone()).collect();
            let fetched = self
                .fetch_for_keys(collection, &wanted, &request, |message| {
                    fingerprint_of_fetched(&message)
                })
                .await;
            for (index, result) in missing.into_iter().zip(fetched) {
                out[index] = Some(result);
            }
        }
        out.into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| Err(Error::new(ErrorKind::NotFound, "no fingerprint")))
            })
            .collect()
    }

    /// The fingerprint the listing fetched for `key`, if it did and the key is of the
    /// folder's current UIDVALIDITY.
    fn cached_fingerprint(&self, server: &str, key: &ItemKey) -> Option<Option<Fingerprint>> {
        let memory = self.memory.get(server)?;
        let parsed = MessageKey::parse(key)?;
        if parsed.uid_validity != memory.uid_validity {
            return None;
        }
        memory.fingerprints.get(&parsed.uid).cloned()
    }

    /// `UID FETCH (INTERNALDATE)` of the keys: what `max_age` and `max_messages` order by.
    pub(super) async fn read_dates(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<SystemTime>, Error>> {
        let request = FetchRequest {
            internal_date: true,
            ..FetchRequest::default()
        };
        self.fetch_for_keys(collection, keys, &request, |message| {
            Ok(message.internal_date)
        })
        .await
    }

    /// `UID FETCH (RFC822.SIZE)` of the keys, for `max_size` where a listing did not carry the
    /// size (an incremental listing knows only the flags of messages it had seen before).
    pub(super) async fn read_sizes(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<u64>, Error>> {
        let request = FetchRequest {
            size: true,
            ..FetchRequest::default()
        };
        self.fetch_for_keys(collection, keys, &request, |message| {
            Ok(message.size.map(u64::from))
        })
        .await
    }

    /// Fetches `keys` in a few commands and turns each message into a result with `convert`.
    /// A key of another UIDVALIDITY, or one whose UID did not come back, gets its own error;
    /// the others are unaffected. A failed command fails the keys it carried; when the
    /// connection failed, the keys not received yet are asked for again after reconnecting.
    ///
    /// One message must not hold up the others: a message that can never get through (larger
    /// than what the connection carries before it drops) would fail every retry of the whole
    /// command, and the messages after it with it. So the message that was on its way when
    /// the connection failed is set aside and fetched alone at the end, with what is left of
    /// its own retries, and a retry that received something starts the count afresh: only
    /// failures in a row without any progress give up.
    async fn fetch_for_keys<T>(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
        request: &FetchRequest,
        mut convert: impl FnMut(FetchedMessage) -> Result<T, Error>,
    ) -> Vec<Result<T, Error>> {
        let mut slots: Slots<T> = keys.iter().map(|_| None).collect();
        let mut aside = vec![false; keys.len()];
        let mut failures = 0;
        loop {
            let wanted: Vec<bool> = aside.iter().map(|set_aside| !set_aside).collect();
            let before = filled(&slots);
            let Some(lost) = self
                .fetch_into_slots(collection, keys, &wanted, request, &mut convert, &mut slots)
                .await
            else {
                break;
            };
            if filled(&slots) > before {
                failures = 0;
            }
            if let Some(index) = lost.in_flight {
                aside[index] = true;
            }
            if let Err(error) = self
                .after_failure(lost.error, Repeat::Safe, &mut failures)
                .await
            {
                // Not received: unknown, not gone.
                for slot in slots.iter_mut().filter(|slot| slot.is_none()) {
                    *slot = Some(Err(copy_error(&error)));
                }
                break;
            }
        }
        for index in (0..keys.len()).filter(|&i| aside[i]) {
            let mut wanted = vec![false; keys.len()];
            wanted[index] = true;
            // Its first failure was in the batch.
            let mut failures = 1;
            while let Some(lost) = self
                .fetch_into_slots(collection, keys, &wanted, request, &mut convert, &mut slots)
                .await
            {
                if let Err(error) = self
                    .after_failure(lost.error, Repeat::Safe, &mut failures)
                    .await
                {
                    let uid = MessageKey::parse(&keys[index]).map_or(0, |key| key.uid);
                    slots[index] =
                        Some(Err(error.context(format!("UID {uid} could not be fetched"))));
                    break;
                }
            }
        }
        slots
            .into_iter()
            .zip(keys)
            .map(|(slot, key)| {
                slot.unwrap_or_else(|| {
                    Err(Error::new(
                        ErrorKind::NotFound,
                        format!("{key} is not in {collection} (any more)"),
                    ))
                })
            })
            .collect()
    }

    /// One pass of [`Self::fetch_for_keys`] over the `wanted` keys whose slot is still empty.
    /// Returns what was lost if the connection failed; the keys not received then keep empty
    /// slots.
    async fn fetch_into_slots<T>(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
        wanted: &[bool],
        request: &FetchRequest,
        convert: &mut impl FnMut(FetchedMessage) -> Result<T, Error>,
        slots: &mut Slots<T>,
    ) -> Option<Lost> {
        let wanted_and_empty =
            |slots: &Slots<T>, index: usize| wanted[index] && slots[index].is_none();
        if !(0..keys.len()).any(|index| wanted_and_empty(slots, index)) {
            return None;
        }
        let validity = match self.ensure_selected(collection).await {
            Ok((_, validity)) => validity,
            Err(error) if error.kind() == ErrorKind::Connection => {
                return Some(Lost {
                    error,
                    in_flight: None,
                });
            }
            Err(error) => {
                for index in 0..keys.len() {
                    if wanted_and_empty(slots, index) {
                        slots[index] = Some(Err(copy_error(&error)));
                    }
                }
                return None;
            }
        };
        let mut by_uid: HashMap<u32, Vec<usize>> = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            if !wanted_and_empty(slots, index) {
                continue;
            }
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
        for set in chunks(&uids) {
            self.stats.fetches += 1;
            let client = match self.client().await {
                Ok(client) => client,
                Err(error) if error.kind() == ErrorKind::Connection => {
                    return Some(Lost {
                        error,
                        in_flight: None,
                    });
                }
                Err(error) => {
                    fail_empty(slots, &set, &by_uid, &error);
                    continue;
                }
            };
            let result = client
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
                .await;
            if let Err(error) = result {
                if error.kind() == ErrorKind::Connection {
                    // Servers answer in UID order: the first UID not received was on its way.
                    let in_flight = set
                        .iter()
                        .flat_map(|uid| by_uid.get(&uid).into_iter().flatten())
                        .copied()
                        .find(|&index| slots[index].is_none());
                    return Some(Lost { error, in_flight });
                }
                fail_empty(slots, &set, &by_uid, &error);
            }
        }
        None
    }
}

/// Gives the keys of `set` that got nothing the error of their command.
fn fail_empty<T>(
    slots: &mut Slots<T>,
    set: &UidRanges,
    by_uid: &HashMap<u32, Vec<usize>>,
    error: &Error,
) {
    for uid in set.iter() {
        for &index in by_uid.get(&uid).into_iter().flatten() {
            if slots[index].is_none() {
                slots[index] = Some(Err(copy_error(error)));
            }
        }
    }
}

/// The fingerprint of a message fetched with `RFC822.SIZE` and the fingerprint's header fields.
/// A server that leaves the size out gives no fingerprint: one without the size could be taken
/// for a near-identical message.
pub(super) fn fingerprint_of_fetched(
    message: &FetchedMessage,
) -> Result<Option<Fingerprint>, Error> {
    let Some(size) = message.size else {
        return Err(Error::new(
            ErrorKind::Peer,
            format!(
                "the server sent UID {} without its RFC822.SIZE",
                message.uid
            ),
        ));
    };
    let header = message.header.as_deref().unwrap_or_default();
    Fingerprint::of_header(header, u64::from(size))
        .map_err(|e| Error::io("reading a message header", e))
}
