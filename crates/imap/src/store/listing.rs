//! `list_items`: complete listings, and incremental ones from a known state.

use std::collections::{BTreeMap, HashMap};

use pimlink_core::mail::fingerprint::FETCH_FIELDS;
use pimlink_core::mail::keywords::KeywordSupport;
use pimlink_core::{CollectionName, Error, ErrorKind, Flags, ItemEntry, Known, Listing};
use tracing::{debug, warn};

use super::keys::MessageKey;
use super::own_changes::ListedAt;
use super::reading::fingerprint_of_fetched;
use super::state::ListState;
use super::{ImapStore, chunks};
use crate::client::{FetchRequest, QresyncParams, SelectOptions, SelectedMailbox};
use crate::uidset::UidRanges;

/// The most UID ranges sent as QRESYNC's known-uids: beyond that the command line would get
/// long, and leaving them out only makes the server report more VANISHED UIDs.
const MAX_KNOWN_RANGES: usize = 1000;

/// A folder's messages: UID -> (flags, size if known).
type Messages = BTreeMap<u32, (Flags, Option<u64>)>;

/// What keywords the folder accepts, from its PERMANENTFLAGS: `\\*` (or no PERMANENTFLAGS at
/// all, RFC 3501 7.1) means any; otherwise only the keywords listed, and new ones would be
/// kept only for the session, so they are not synced there.
fn keyword_support(permanent: &[String]) -> KeywordSupport {
    if permanent.is_empty() || permanent.iter().any(|f| f == "\\*") {
        return KeywordSupport::Any;
    }
    KeywordSupport::Limited {
        known: permanent
            .iter()
            .filter(|f| !f.starts_with('\\') && !f.eq_ignore_ascii_case("$Forwarded"))
            .cloned()
            .collect(),
        room: 0,
        why: "the server does not allow new keywords in this folder (no \\* in PERMANENTFLAGS)"
            .to_owned(),
    }
}

impl ImapStore {
    pub(super) async fn list_messages(
        &mut self,
        collection: &CollectionName,
        known: Known<'_>,
    ) -> Result<Listing, Error> {
        let server = self.server_folder(collection).await?;
        let state = known.state.and_then(ListState::parse);
        let parsed: Vec<Option<(MessageKey, &Flags)>> = known
            .items
            .iter()
            .map(|(key, flags)| MessageKey::parse(key).map(|k| (k, flags)))
            .collect();
        let keys_of_state = |validity: u32| {
            parsed
                .iter()
                .all(|p| p.is_some_and(|(k, _)| k.uid_validity == validity))
        };

        // Counters from the LIST equal to those of the last complete listing mean nothing was
        // added, expunged or re-flagged since (a flag change or, on QRESYNC servers, an expunge
        // raises HIGHESTMODSEQ; an expunge also lowers MESSAGES, new mail raises UIDNEXT): the
        // known items are the folder, and it need not even be selected.
        if let (Some(before), Some(now)) = (state.as_ref(), self.folder_counters(collection))
            && now.state.uid_validity == before.uid_validity
            // A folder listed with its MAILBOXID may have been replaced by one that reused its
            // UIDVALIDITY and counters: only a LIST that reports the same id proves otherwise.
            && (before.mailbox_id.is_none() || now.state.mailbox_id == before.mailbox_id)
            && now.state.uid_next == before.uid_next
            && now.state.highest_modseq == before.highest_modseq
            && before.any_keywords
            && before.highest_modseq.is_some()
            && before.uid_next.is_some()
            && keys_of_state(before.uid_validity)
        {
            let messages: BTreeMap<u32, Flags> = parsed
                .iter()
                .flatten()
                .map(|(k, flags)| (k.uid, (*flags).clone()))
                .collect();
            if messages.len() == parsed.len() && messages.len() == now.messages as usize {
                debug!("{server:?}: unchanged since the last listing, by its LIST counters");
                return Ok(self.unchanged_listing(server, before.clone(), messages));
            }
        }

        let client = self.client().await?;
        let qresync = match &state {
            Some(ListState {
                uid_validity,
                highest_modseq: Some(modseq),
                ..
            }) if client.has("QRESYNC") && keys_of_state(*uid_validity) => {
                let uids = UidRanges::from_uids(parsed.iter().flatten().map(|(k, _)| k.uid));
                Some(QresyncParams {
                    uid_validity: *uid_validity,
                    modseq: *modseq,
                    known_uids: (uids.ranges().len() <= MAX_KNOWN_RANGES).then_some(uids),
                })
            }
            _ => None,
        };
        let options = SelectOptions {
            read_only: false,
            condstore: true,
            qresync,
        };
        let mailbox = self.select(&server, options).await?;
        let validity = self.note_selected(&server, &mailbox)?;
        let keywords = keyword_support(&mailbox.permanent_flags);
        let now = ListState {
            uid_validity: validity,
            uid_next: mailbox.uid_next,
            highest_modseq: mailbox.highest_modseq,
            any_keywords: keywords == KeywordSupport::Any,
            mailbox_id: mailbox.mailbox_id.clone(),
        };
        // Another MAILBOXID under the same UIDVALIDITY is another folder that reused the old
        // one's UIDVALIDITY: its UIDs name other messages, exactly as after a new UIDVALIDITY.
        let replaced = state
            .as_ref()
            .is_some_and(|before| before.uid_validity == validity && !before.same_mailbox(&now));
        let keys_reset = replaced || !keys_of_state(validity);
        if replaced {
            warn!(
                "{server:?}: the folder's MAILBOXID changed under the same UIDVALIDITY \
                 {validity} (deleted and created again, or another folder renamed onto its \
                 name); listing everything and recognising messages by content"
            );
        } else if keys_reset {
            warn!(
                "{server:?}: the status knows keys of another UIDVALIDITY than the folder's \
                 {validity}; listing everything and recognising messages by content"
            );
        }

        let incremental = match state {
            Some(before) if !keys_reset && before.uid_validity == validity => {
                let base: Messages = parsed
                    .iter()
                    .flatten()
                    .map(|(k, flags)| (k.uid, ((*flags).clone(), None)))
                    .collect();
                self.apply_changes(&server, before, &mailbox, base).await?
            }
            _ => None,
        };
        let messages = match incremental {
            Some(messages) => messages,
            None => self.fetch_all(&server).await?,
        };

        let memory = self.memory.entry(server).or_default();
        memory.flags = messages
            .iter()
            .map(|(uid, (flags, _))| (*uid, flags.clone()))
            .collect();
        memory.listed_at = ListedAt::of(&now);
        memory.wrote = false;
        let items = messages
            .into_iter()
            .map(|(uid, (flags, size))| ItemEntry {
                key: MessageKey::new(validity, uid).item_key(),
                flags,
                size,
            })
            .collect();
        Ok(Listing {
            items,
            state: Some(now.to_string()),
            keys_reset,
            keywords,
        })
    }

    /// The listing of a folder known unchanged without selecting it; remembers its flags and
    /// UIDNEXT as a SELECT would, for the writes that may follow.
    fn unchanged_listing(
        &mut self,
        server: String,
        state: ListState,
        messages: BTreeMap<u32, Flags>,
    ) -> Listing {
        let memory = self.memory.entry(server).or_default();
        if memory.uid_validity != state.uid_validity {
            *memory = super::FolderMemory {
                uid_validity: state.uid_validity,
                ..super::FolderMemory::default()
            };
        }
        if memory.append_floor.is_none() {
            memory.append_floor = state.uid_next;
        }
        memory.flags = messages.clone().into_iter().collect();
        memory.listed_at = ListedAt::of(&state);
        memory.wrote = false;
        let items = messages
            .into_iter()
            .map(|(uid, flags)| ItemEntry {
                key: MessageKey::new(state.uid_validity, uid).item_key(),
                flags,
                size: None,
            })
            .collect();
        Listing {
            items,
            state: Some(state.to_string()),
            keys_reset: false,
            // Only a state recorded with any-keyword support lets a folder be skipped.
            keywords: KeywordSupport::Any,
        }
    }

    /// The folder now, from what the status knew plus what the server reported as changed, or
    /// `None` when a complete listing is needed.
    async fn apply_changes(
        &mut self,
        server: &str,
        before: ListState,
        mailbox: &SelectedMailbox,
        mut messages: Messages,
    ) -> Result<Option<Messages>, Error> {
        let exists = mailbox.exists as usize;
        if mailbox.qresync_used && mailbox.highest_modseq.is_some() {
            messages.retain(|uid, _| !mailbox.vanished.contains(*uid));
            // With known-uids the server reports changes of those UIDs only, so new mail is
            // asked for by UID range: flags, size and the identifying headers in one FETCH.
            // UIDs at or above the old UIDNEXT that the status knows are this pair's own
            // uploads of the last run: the SELECT reported their flags like any known UID's.
            let mut arrived = 0;
            if let (Some(floor), Some(next)) = (before.uid_next, mailbox.uid_next)
                && next > floor
            {
                arrived = self.fetch_new(server, floor, next, &mut messages).await?;
            }
            let mut new = Vec::new();
            for changed in &mailbox.changed {
                let Some(flags) = &changed.flags else {
                    continue;
                };
                let entry = messages.entry(changed.uid).or_insert_with(|| {
                    new.push(changed.uid);
                    (Flags::new(), None)
                });
                entry.0 = flags.clone();
            }
            if messages.len() != exists {
                warn!(
                    "{server:?}: {} messages after applying QRESYNC changes, but the server \
                     holds {exists}; listing everything",
                    messages.len()
                );
                return Ok(None);
            }
            if !new.is_empty() {
                self.fetch_sizes(&new, &mut messages).await?;
            }
            debug!(
                "{server:?}: incremental listing, {} changed, {} new",
                mailbox.changed.len(),
                arrived + new.len()
            );
            return Ok(Some(messages));
        }
        let unchanged = before.highest_modseq.is_some()
            && mailbox.highest_modseq == before.highest_modseq
            && mailbox.uid_next.is_some()
            && mailbox.uid_next == before.uid_next
            && messages.len() == exists;
        if unchanged {
            debug!("{server:?}: unchanged since the last listing");
            return Ok(Some(messages));
        }
        Ok(None)
    }

    /// `UID FETCH floor:* (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (...)])`, leaving out
    /// the UIDs `messages` already holds: the messages that arrived since UIDNEXT was `floor`
    /// (it is `next` now), added to `messages`; their fingerprints are kept, since the engine
    /// asks for exactly those when it looks for moved messages. Returns how many arrived.
    async fn fetch_new(
        &mut self,
        server: &str,
        floor: u32,
        next: u32,
        messages: &mut Messages,
    ) -> Result<usize, Error> {
        let request = FetchRequest {
            flags: true,
            size: true,
            header_fields: FETCH_FIELDS
                .iter()
                .map(|f| f.to_ascii_uppercase())
                .collect(),
            ..FetchRequest::default()
        };
        let known: Vec<u32> = messages.range(floor..).map(|(uid, _)| *uid).collect();
        let Some(range) = unknown_from(floor, next, &known) else {
            return Ok(0);
        };
        self.stats.fetches += 1;
        let client = self.client().await?;
        let mut fingerprints = HashMap::new();
        let mut arrived = 0;
        client
            .fetch(&range, &request, |message| {
                // `n:*` also names the highest UID when it is below n.
                if message.uid < floor || known.binary_search(&message.uid).is_ok() {
                    return Ok(());
                }
                if let Ok(fingerprint) = fingerprint_of_fetched(&message) {
                    fingerprints.insert(message.uid, fingerprint);
                }
                let Some(flags) = message.flags else {
                    return Err(Error::new(
                        ErrorKind::Peer,
                        format!("the server listed UID {} without its flags", message.uid),
                    ));
                };
                messages.insert(message.uid, (flags, message.size.map(u64::from)));
                arrived += 1;
                Ok(())
            })
            .await?;
        if let Some(memory) = self.memory.get_mut(server) {
            memory.fingerprints.extend(fingerprints);
        }
        Ok(arrived)
    }

    /// RFC822.SIZE of some messages (new ones found incrementally), for batching and size
    /// limits. A message that vanished meanwhile just keeps an unknown size.
    async fn fetch_sizes(&mut self, uids: &[u32], messages: &mut Messages) -> Result<(), Error> {
        let request = FetchRequest {
            size: true,
            ..FetchRequest::default()
        };
        for set in chunks(uids) {
            self.stats.fetches += 1;
            let client = self.client().await?;
            client
                .fetch(&set, &request, |message| {
                    if let (Some(entry), Some(size)) =
                        (messages.get_mut(&message.uid), message.size)
                    {
                        entry.1 = Some(u64::from(size));
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    /// UID FETCH 1:* (FLAGS RFC822.SIZE).
    async fn fetch_all(&mut self, server: &str) -> Result<Messages, Error> {
        let request = FetchRequest {
            flags: true,
            size: true,
            ..FetchRequest::default()
        };
        self.stats.fetches += 1;
        self.stats.full_listings += 1;
        let client = self.client().await?;
        let mut messages = Messages::new();
        let mut without_flags = HashMap::new();
        client
            .fetch(&UidRanges::all(), &request, |message| {
                match message.flags {
                    Some(flags) => {
                        messages.insert(message.uid, (flags, message.size.map(u64::from)));
                    }
                    None => {
                        without_flags.insert(message.uid, ());
                    }
                }
                Ok(())
            })
            .await?;
        if let Some(uid) = without_flags.keys().find(|uid| !messages.contains_key(uid)) {
            return Err(Error::new(
                ErrorKind::Peer,
                format!("{server:?}: the server listed UID {uid} without its flags"),
            ));
        }
        Ok(messages)
    }
}

/// The UIDs from `floor` on that are not among `known` (ascending, all at or above `floor`),
/// as ranges ending in `*`, or `None` if every UID below `next` (the folder's UIDNEXT) is
/// known: nothing arrived that the status does not know.
fn unknown_from(floor: u32, next: u32, known: &[u32]) -> Option<UidRanges> {
    let mut range = UidRanges::default();
    let mut from = floor;
    for &uid in known {
        if uid > from {
            range.push_range(from, uid - 1);
        }
        from = from.max(uid.saturating_add(1));
    }
    if from >= next && range.ranges().is_empty() {
        return None;
    }
    range.push_range(from, u32::MAX);
    Some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_mail_is_asked_for_without_the_uids_the_status_knows() {
        let ranges = |floor, next, known: &[u32]| {
            unknown_from(floor, next, known).map(|r| r.ranges().to_vec())
        };
        assert_eq!(ranges(10, 15, &[]), Some(vec![(10, u32::MAX)]));
        // The last run's uploads were 10..=14; nothing else arrived.
        assert_eq!(ranges(10, 15, &[10, 11, 12, 13, 14]), None);
        // Mail arrived after them, and between them.
        assert_eq!(
            ranges(10, 18, &[10, 11, 12, 13, 14]),
            Some(vec![(15, u32::MAX)])
        );
        assert_eq!(
            ranges(10, 18, &[11, 12, 15]),
            Some(vec![(10, 10), (13, 14), (16, u32::MAX)])
        );
    }

    #[test]
    fn permanentflags_decide_which_keywords_a_folder_takes() {
        let flags = |list: &[&str]| list.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>();
        assert_eq!(keyword_support(&[]), KeywordSupport::Any);
        assert_eq!(
            keyword_support(&flags(&["\\Seen", "$Junk", "\\*"])),
            KeywordSupport::Any
        );
        let KeywordSupport::Limited { known, room, why } =
            keyword_support(&flags(&["\\Seen", "\\Deleted", "$Forwarded", "$Junk"]))
        else {
            panic!("limited expected");
        };
        assert_eq!(known.into_iter().collect::<Vec<_>>(), ["$Junk"]);
        assert_eq!(room, 0);
        assert!(why.contains("PERMANENTFLAGS"), "{why}");
    }
}
