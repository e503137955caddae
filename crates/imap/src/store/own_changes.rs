//! The folder's change stamp after this run's own writes ([`MailStore::stamp_after_own_changes`]
//! (pimlink_core::MailStore::stamp_after_own_changes)), so that the run after one that STOREd,
//! APPENDed or EXPUNGEd can skip the folder like any unchanged one.
//!
//! The counters after the writes are worth recording only if every change they count since
//! the listing is one of the run's own: otherwise another client's change (a mail reader
//! setting a flag while the sync ran) would be hidden in them and the next run would skip it.
//! So the folder is opened again read-only (EXAMINE, which changes nothing and reports
//! UIDVALIDITY, UIDNEXT, EXISTS and HIGHESTMODSEQ of one consistent view), then
//! `UID FETCH 1:* (FLAGS) (CHANGEDSINCE m)` with `m` the listing's HIGHESTMODSEQ asks for every
//! message changed or added since, in that same view. The proof ([`prove`]) holds when:
//! - every message reported has exactly the flags the run expects of it (those it listed, set
//!   by STORE or sent with APPEND: the store's memory of the folder); a message the run does
//!   not know (someone else's delivery) or other flags (someone else's STORE) void it;
//! - EXISTS is the number of messages the run expects (another client's expunge lowers it;
//!   one offset by a delivery shows as an unknown message above);
//! - UIDNEXT is what the run's own APPENDs made it (a message delivered and expunged by
//!   someone else meanwhile raises it).
//!
//! A change after the EXAMINE raises HIGHESTMODSEQ (or UIDNEXT, or lowers MESSAGES) past the
//! recorded counters, so the next run lists the folder. A folder this run did not write keeps
//! its stamp from before the listing (`None` here): nothing of the run's is in it.

use std::collections::HashMap;
use std::time::SystemTime;

use pimlink_core::{ChangeStamp, CollectionName, Error, ErrorKind, Flags};
use tracing::debug;

use super::ImapStore;
use super::state::ListState;
use crate::client::{FetchRequest, SelectOptions};
use crate::uidset::UidRanges;

/// HIGHESTMODSEQ and UIDNEXT of the view a folder's listing was made in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ListedAt {
    pub highest_modseq: u64,
    pub uid_next: u32,
}

impl ListedAt {
    /// The counters of a listing state, if it has both.
    pub(super) fn of(state: &ListState) -> Option<Self> {
        Some(Self {
            highest_modseq: state.highest_modseq?,
            uid_next: state.uid_next?,
        })
    }
}

/// A folder's counters as a change stamp: the token is the one [`ImapStore::change_stamp`]
/// (pimlink_core::MailStore::change_stamp) gives from LIST-STATUS, so that they compare equal.
pub(super) fn counters_stamp(
    uid_validity: u32,
    uid_next: u32,
    messages: u32,
    highest_modseq: u64,
) -> ChangeStamp {
    ChangeStamp {
        token: format!(
            "v1 uidvalidity={uid_validity} uidnext={uid_next} messages={messages} \
             highestmodseq={highest_modseq}"
        ),
        newest: None,
        local_times: false,
    }
}

/// What the server showed after the run's writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Now {
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: u32,
}

/// Why the counters after the writes may hold another client's change.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NotOwn {
    /// The folder was renumbered.
    Renumbered,
    /// A message the run does not know changed or arrived.
    Unknown(u32),
    /// A message has other flags than the run gave or left it.
    Flags(u32),
    /// EXISTS differs from the messages the run expects.
    Count { expected: usize, now: u32 },
    /// UIDNEXT differs from the run's own APPENDs'.
    UidNext { expected: u32, now: u32 },
}

/// Checks that the folder `now` holds what the run expects (`expected`: UID -> flags, of
/// UIDVALIDITY `uid_validity`, listed at `listed`) and that every message `changed` since the
/// listing's HIGHESTMODSEQ (UID, flags) is the run's own doing.
pub(super) fn prove(
    uid_validity: u32,
    listed: ListedAt,
    expected: &HashMap<u32, Flags>,
    now: Now,
    changed: &[(u32, Flags)],
) -> Result<(), NotOwn> {
    if now.uid_validity != uid_validity {
        return Err(NotOwn::Renumbered);
    }
    for (uid, flags) in changed {
        match expected.get(uid) {
            None => return Err(NotOwn::Unknown(*uid)),
            Some(want) if want != flags => return Err(NotOwn::Flags(*uid)),
            Some(_) => {}
        }
    }
    if now.messages as usize != expected.len() {
        return Err(NotOwn::Count {
            expected: expected.len(),
            now: now.messages,
        });
    }
    let next = expected
        .keys()
        .max()
        .map_or(listed.uid_next, |uid| listed.uid_next.max(uid + 1));
    if now.uid_next != next {
        return Err(NotOwn::UidNext {
            expected: next,
            now: now.uid_next,
        });
    }
    Ok(())
}

impl ImapStore {
    /// The stamp of `collection` after this run's writes, if they are all that changed it
    /// since the listing (see the module docs); `None` for a folder the run did not write.
    pub(super) async fn stamp_after_writes(
        &mut self,
        collection: &CollectionName,
    ) -> Result<Option<(ChangeStamp, SystemTime)>, Error> {
        let server = self.server_folder(collection).await?;
        let Some(memory) = self.memory.get(&server) else {
            return Ok(None);
        };
        let (uid_validity, Some(listed)) = (memory.uid_validity, memory.listed_at) else {
            return Ok(None);
        };
        if !memory.wrote || self.pending.contains_key(&server) {
            return Ok(None);
        }
        let taken_at = pimlink_core::clock::coarse_now();
        let options = SelectOptions {
            read_only: true,
            condstore: true,
            qresync: None,
        };
        let mailbox = self.select(&server, options).await?;
        // Opened read-only: a later write of the run must SELECT it again.
        self.selected = None;
        let (Some(mailbox_validity), Some(uid_next), Some(highest_modseq)) = (
            mailbox.uid_validity,
            mailbox.uid_next,
            mailbox.highest_modseq,
        ) else {
            return Ok(None);
        };
        let request = FetchRequest {
            flags: true,
            changed_since: Some(listed.highest_modseq),
            ..FetchRequest::default()
        };
        self.stats.fetches += 1;
        let mut changed = Vec::new();
        self.client()
            .await?
            .fetch(&UidRanges::all(), &request, |message| {
                let flags = message.flags.ok_or_else(|| {
                    Error::new(
                        ErrorKind::Peer,
                        format!("the server listed UID {} without its flags", message.uid),
                    )
                })?;
                changed.push((message.uid, flags));
                Ok(())
            })
            .await?;
        let now = Now {
            uid_validity: mailbox_validity,
            uid_next,
            messages: mailbox.exists,
        };
        let expected = self.memory.get(&server).map(|m| &m.flags);
        let proof = match expected {
            Some(expected) => prove(uid_validity, listed, expected, now, &changed),
            None => return Ok(None),
        };
        match proof {
            Ok(()) => {
                debug!(
                    "{server:?}: {} changes since the listing, all the run's own",
                    changed.len()
                );
                let stamp =
                    counters_stamp(mailbox_validity, uid_next, mailbox.exists, highest_modseq);
                Ok(Some((stamp, taken_at)))
            }
            Err(why) => {
                debug!("{server:?}: changed by someone else during the run: {why:?}");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::Flag;

    fn flags(list: &[Flag]) -> Flags {
        list.iter().fold(Flags::new(), |f, flag| f.with(*flag))
    }

    /// Listed: UIDs 1..=3 (UIDNEXT 4); the run flagged 2, appended 4 (seen), expunged 3.
    fn expected() -> HashMap<u32, Flags> {
        HashMap::from([
            (1, Flags::new()),
            (2, flags(&[Flag::Flagged])),
            (4, flags(&[Flag::Seen])),
        ])
    }

    const LISTED: ListedAt = ListedAt {
        highest_modseq: 10,
        uid_next: 4,
    };
    const NOW: Now = Now {
        uid_validity: 7,
        uid_next: 5,
        messages: 3,
    };

    #[test]
    fn the_runs_own_changes_prove_the_counters() {
        let own = [(2, flags(&[Flag::Flagged])), (4, flags(&[Flag::Seen]))];
        assert_eq!(prove(7, LISTED, &expected(), NOW, &own), Ok(()));
        // Nothing written since the listing: the listing's UIDNEXT.
        let listed: HashMap<u32, Flags> = HashMap::from([(1, Flags::new())]);
        let now = Now {
            uid_next: 4,
            messages: 1,
            ..NOW
        };
        assert_eq!(prove(7, LISTED, &listed, now, &[]), Ok(()));
    }

    #[test]
    fn someone_elses_change_voids_the_proof() {
        let own = vec![(2, flags(&[Flag::Flagged])), (4, flags(&[Flag::Seen]))];
        let with = |extra: (u32, Flags)| {
            let mut changed = own.clone();
            changed.push(extra);
            changed
        };
        // A flag set on a message the run left alone, or on one it flagged too.
        assert_eq!(
            prove(
                7,
                LISTED,
                &expected(),
                NOW,
                &with((1, flags(&[Flag::Seen])))
            ),
            Err(NotOwn::Flags(1))
        );
        let both = vec![(2, flags(&[Flag::Flagged, Flag::Seen]))];
        assert_eq!(
            prove(7, LISTED, &expected(), NOW, &both),
            Err(NotOwn::Flags(2))
        );
        // A delivery.
        assert_eq!(
            prove(7, LISTED, &expected(), NOW, &with((5, Flags::new()))),
            Err(NotOwn::Unknown(5))
        );
        // An expunge, and a delivery expunged again.
        let fewer = Now { messages: 2, ..NOW };
        assert!(matches!(
            prove(7, LISTED, &expected(), fewer, &own),
            Err(NotOwn::Count { .. })
        ));
        let later = Now { uid_next: 6, ..NOW };
        assert!(matches!(
            prove(7, LISTED, &expected(), later, &own),
            Err(NotOwn::UidNext { .. })
        ));
        let renumbered = Now {
            uid_validity: 8,
            ..NOW
        };
        assert_eq!(
            prove(7, LISTED, &expected(), renumbered, &own),
            Err(NotOwn::Renumbered)
        );
    }
}
