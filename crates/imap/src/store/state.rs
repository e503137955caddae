//! The listing state the IMAP storage hands the engine to keep: what a folder looked like at the
//! last complete listing, so that the next one can ask only for changes.
//!
//! Text form: `v1 uidvalidity=N uidnext=M highestmodseq=K` (the last two only when the server
//! reported them). Anything else, including a future version, reads as "no state": the listing
//! is then complete, which is always safe.

use std::fmt;

/// A folder's counters at the last complete listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
}

/// A folder's counters as LIST-STATUS or STATUS reported them at the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
                _ => return None,
            }
        }
        state.uid_validity = uid_validity?;
        Some(state)
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
        };
        assert_eq!(
            full.to_string(),
            "v1 uidvalidity=7 uidnext=100 highestmodseq=123456789012 keywords=any"
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
        ] {
            assert_eq!(ListState::parse(bad), None, "{bad:?}");
        }
    }
}
