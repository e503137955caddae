//! The listing state the IMAP storage hands the engine to keep: what a folder looked like at the
//! last complete listing, so that the next one can ask only for changes.
//!
//! Text form: `v1 uidvalidity=N uidnext=M highestmodseq=K keywords=any mailboxid=ID` (all but
//! the first only when the server reported them). Anything else, including a future version, reads as "no state": the listing
//! is then complete, which is always safe.

use std::fmt;

use crate::proto::response::objectid::is_object_id;

/// A folder's counters at the last complete listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ListState {
    /// `UIDVALIDITY`.
    pub uid_validity: u32,
    /// `UIDNEXT`, if reported.
    pub uid_next: Option<u32>,
    /// `HIGHESTMODSEQ`, if the folder has mod-sequences (CONDSTORE).
    pub highest_modseq: Option<u64>,
    /// The folder took any keyword (PERMANENTFLAGS with `\\*`) when it was selected: a folder
    /// listed without a SELECT reports that again, so it may be skipped only with this set.
    pub any_keywords: bool,
    /// `MAILBOXID` (RFC 8474 OBJECTID), if the server reported it. A server may give a folder
    /// deleted and created again (or another folder renamed onto its name) the UIDVALIDITY the
    /// old one had (Cyrus takes it from the clock): only this tells the two apart.
    pub mailbox_id: Option<String>,
}

/// A folder's counters as LIST-STATUS or STATUS reported them at the start of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Counters {
    /// The listing state the folder would have now.
    pub state: ListState,
    /// `MESSAGES`.
    pub messages: u32,
}

impl ListState {
    /// Reads the text form; `None` for anything not written by [`ListState`]'s `Display`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut words = text.split(' ');
        if words.next()? != "v1" {
            return None;
        }
        let mut uid_validity = None;
        let mut state = ListState::default();
        for word in words {
            let (name, value) = word.split_once('=')?;
            match name {
                "uidvalidity" => uid_validity = Some(value.parse().ok()?),
                "uidnext" => state.uid_next = Some(value.parse().ok()?),
                "highestmodseq" => state.highest_modseq = Some(value.parse().ok()?),
                "keywords" if value == "any" => state.any_keywords = true,
                "mailboxid" if is_object_id(value) => state.mailbox_id = Some(value.to_owned()),
                _ => return None,
            }
        }
        state.uid_validity = uid_validity?;
        Some(state)
    }

    /// True if `other`, the folder now, may be the folder this state was made of: a MAILBOXID
    /// known on both sides must be the same (one known on one side only proves nothing).
    pub fn same_mailbox(&self, other: &ListState) -> bool {
        self.uid_validity == other.uid_validity
            && match (&self.mailbox_id, &other.mailbox_id) {
                (Some(before), Some(now)) => before == now,
                _ => true,
            }
    }
}

impl fmt::Display for ListState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1 uidvalidity={}", self.uid_validity)?;
        if let Some(next) = self.uid_next {
            write!(f, " uidnext={next}")?;
        }
        if let Some(modseq) = self.highest_modseq {
            write!(f, " highestmodseq={modseq}")?;
        }
        if self.any_keywords {
            write!(f, " keywords=any")?;
        }
        if let Some(id) = self.mailbox_id.as_deref().filter(|id| is_object_id(id)) {
            write!(f, " mailboxid={id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_unknown_text_is_no_state() {
        let full = ListState {
            uid_validity: 7,
            uid_next: Some(100),
            highest_modseq: Some(123_456_789_012),
            any_keywords: true,
            mailbox_id: Some("4qwx-n_0".to_owned()),
        };
        assert_eq!(
            full.to_string(),
            "v1 uidvalidity=7 uidnext=100 highestmodseq=123456789012 keywords=any \
             mailboxid=4qwx-n_0"
        );
        assert_eq!(ListState::parse(&full.to_string()), Some(full));
        let bare = ListState {
            uid_validity: 9,
            ..ListState::default()
        };
        assert_eq!(ListState::parse(&bare.to_string()), Some(bare));
        for bad in [
            "",
            "v2 uidvalidity=1",
            "v1",
            "v1 uidnext=3",
            "v1 uidvalidity=x",
            "v1 uidvalidity=1 color=red",
            "v1 uidvalidity=1 keywords=some",
            "v1 uidvalidity=1  uidnext=2",
            "v1 uidvalidity=1 mailboxid=",
            "v1 uidvalidity=1 mailboxid=a=b",
        ] {
            assert_eq!(ListState::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_different_mailbox_id_is_another_folder_even_with_the_same_uidvalidity() {
        let with = |id: Option<&str>| ListState {
            uid_validity: 7,
            mailbox_id: id.map(str::to_owned),
            ..ListState::default()
        };
        assert!(with(Some("a")).same_mailbox(&with(Some("a"))));
        assert!(!with(Some("a")).same_mailbox(&with(Some("b"))));
        // Known on one side only (a state written before, a STATUS without it): proves nothing.
        assert!(with(None).same_mailbox(&with(Some("b"))));
        assert!(with(Some("a")).same_mailbox(&with(None)));
        let other_validity = ListState {
            uid_validity: 8,
            ..with(Some("a"))
        };
        assert!(!with(Some("a")).same_mailbox(&other_validity));
    }
}
