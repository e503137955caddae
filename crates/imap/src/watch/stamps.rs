//! A folder's counters as a change stamp, and the memory of the last stamp seen per folder:
//! a poll reports only folders whose stamp moved, a repeated notification with the same stamp
//! is reported once, and [`Stamp::matches_listing_state`] tells the daemon whether a stamp is
//! exactly what a sync already listed.

use std::collections::{BTreeMap, BTreeSet};

use crate::proto::response::MailboxStatus;
use crate::store::state::ListState;

/// What STATUS (or a NOTIFY STATUS, or LIST-STATUS) said about a folder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// `UIDVALIDITY`.
    pub uid_validity: Option<u32>,
    /// `UIDNEXT`.
    pub uid_next: Option<u32>,
    /// `MESSAGES`.
    pub messages: Option<u32>,
    /// `HIGHESTMODSEQ` (CONDSTORE): the only counter that moves when only flags change.
    pub highest_modseq: Option<u64>,
}

impl From<&MailboxStatus> for Stamp {
    fn from(status: &MailboxStatus) -> Self {
        Self {
            uid_validity: status.uid_validity,
            uid_next: status.uid_next,
            messages: status.messages,
            highest_modseq: status.highest_modseq,
        }
    }
}

impl Stamp {
    /// True if the stamp says the folder is exactly as it was when a sync listed it, given the
    /// listing state the IMAP storage handed the engine (the status's collection state text):
    /// the same UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ. Without HIGHESTMODSEQ on either side
    /// (or any state that cannot be read) the answer is false, since flag changes and
    /// expunges would not show: only a stamp that proves nothing happened is "not news".
    pub fn matches_listing_state(&self, state: &str) -> bool {
        let Some(listed) = ListState::parse(state) else {
            return false;
        };
        self.uid_validity == Some(listed.uid_validity)
            && self.uid_next.is_some()
            && self.uid_next == listed.uid_next
            && self.highest_modseq.is_some()
            && self.highest_modseq == listed.highest_modseq
    }

    /// True if the stamp would show every change: a flag change moves only HIGHESTMODSEQ.
    fn is_complete(&self) -> bool {
        self.highest_modseq.is_some()
    }
}

/// What a poll found against the one before.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PollDiff {
    /// Folders whose stamp moved (or that are new), with the new stamp.
    pub changed: Vec<(String, Stamp)>,
    /// A folder appeared or disappeared.
    pub folders_changed: bool,
}

/// The last stamp seen per folder.
#[derive(Debug, Default)]
pub struct Stamps {
    known: BTreeMap<String, Stamp>,
    /// A poll has set the baseline.
    polled: bool,
}

impl Stamps {
    /// A notification of `stamp` for `folder`: true if it is news (a stamp without
    /// HIGHESTMODSEQ always is, because a flag change would leave it unchanged).
    pub fn note(&mut self, folder: &str, stamp: Stamp) -> bool {
        let old = self.known.insert(folder.to_owned(), stamp);
        !(stamp.is_complete() && old == Some(stamp))
    }

    /// A complete poll of the folders (those watched otherwise left out). The first poll only
    /// sets the baseline (the connection already reported everything as possibly changed).
    pub fn poll(&mut self, folders: Vec<(String, Stamp)>) -> PollDiff {
        let mut diff = PollDiff::default();
        let names: BTreeSet<&String> = folders.iter().map(|(name, _)| name).collect();
        let first = !self.polled;
        diff.folders_changed = !first
            && (self.known.len() != names.len() || self.known.keys().any(|k| !names.contains(k)));
        let mut known = BTreeMap::new();
        for (name, stamp) in folders {
            let old = self.known.get(&name);
            if !first && old != Some(&stamp) {
                diff.changed.push((name.clone(), stamp));
            }
            known.insert(name, stamp);
        }
        self.known = known;
        self.polled = true;
        diff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(validity: u32, next: u32, messages: u32, modseq: Option<u64>) -> Stamp {
        Stamp {
            uid_validity: Some(validity),
            uid_next: Some(next),
            messages: Some(messages),
            highest_modseq: modseq,
        }
    }

    #[test]
    fn the_first_poll_is_a_baseline_then_only_moved_stamps_are_reported() {
        let mut s = Stamps::default();
        let a = ("A".to_owned(), stamp(1, 5, 4, Some(10)));
        let b = ("B".to_owned(), stamp(2, 3, 2, Some(7)));
        assert_eq!(s.poll(vec![a.clone(), b.clone()]), PollDiff::default());
        assert_eq!(s.poll(vec![a.clone(), b.clone()]), PollDiff::default());
        // A flag change in B moves only HIGHESTMODSEQ.
        let b2 = ("B".to_owned(), stamp(2, 3, 2, Some(8)));
        let diff = s.poll(vec![a.clone(), b2.clone()]);
        assert_eq!(diff.changed, vec![b2.clone()]);
        assert!(!diff.folders_changed);
        // C created, A deleted.
        let c = ("C".to_owned(), stamp(3, 1, 0, Some(1)));
        let diff = s.poll(vec![b2.clone(), c.clone()]);
        assert_eq!(diff.changed, vec![c]);
        assert!(diff.folders_changed);
    }

    #[test]
    fn a_repeated_notification_is_news_once_unless_it_lacks_a_modseq() {
        let mut s = Stamps::default();
        let full = stamp(1, 5, 4, Some(10));
        assert!(s.note("A", full));
        assert!(!s.note("A", full));
        assert!(s.note("A", stamp(1, 5, 4, Some(11))));
        let partial = stamp(1, 5, 4, None);
        assert!(s.note("B", partial));
        assert!(s.note("B", partial), "a flag change would look the same");
    }

    #[test]
    fn a_stamp_matches_a_listing_state_only_when_it_proves_nothing_moved() {
        let st = "v1 uidvalidity=7 uidnext=12 highestmodseq=99";
        assert!(stamp(7, 12, 3, Some(99)).matches_listing_state(st));
        assert!(!stamp(7, 13, 3, Some(99)).matches_listing_state(st));
        assert!(!stamp(7, 12, 3, Some(100)).matches_listing_state(st));
        assert!(!stamp(8, 12, 3, Some(99)).matches_listing_state(st));
        assert!(!stamp(7, 12, 3, None).matches_listing_state(st));
        assert!(!stamp(7, 12, 3, Some(99)).matches_listing_state("v1 uidvalidity=7 uidnext=12"));
        assert!(!stamp(7, 12, 3, Some(99)).matches_listing_state("garbage"));
        assert!(!Stamp::default().matches_listing_state(st));
    }
}
