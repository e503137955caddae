//! The warning for a pair without state whose sides both hold items: the first sync, or a
//! state file that was lost. pimlink then matches items instead of copying them, which is
//! safe, but it cannot know what was deleted or unflagged since an earlier sync: that comes
//! back. A user who lost the state should hear this before the run, not find out later.

use std::path::{Path, PathBuf};

use pimlink_core::PerSide;

/// What a pair syncs, for the wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Items {
    /// Mail: matched by content (headers).
    Mail,
    /// Calendars and contacts: matched by UID.
    Dav,
}

/// Tells once per pair, if the pair's status knew nothing when it was opened.
#[derive(Debug)]
pub struct NoStateNotice {
    pair: String,
    state_file: PathBuf,
    told: bool,
}

impl NoStateNotice {
    /// A notice for `pair`, whose status (`state_file`) recorded nothing when the run began
    /// (`pimlink_core::runner::PairRun::without_state`).
    pub fn new(pair: &str, state_file: &Path) -> Self {
        Self {
            pair: pair.to_owned(),
            state_file: state_file.to_owned(),
            told: false,
        }
    }

    /// Says so (on stderr, even with `-q`: it explains changes a user did not ask for) when
    /// the first collection with items on both sides is about to be matched.
    pub fn tell(&mut self, collection: &str, counts: PerSide<usize>, items: Items) {
        if !self.told {
            self.told = true;
            eprintln!(
                "pimlink: {}: warning: {}",
                self.pair,
                self.message(collection, counts, items)
            );
        }
    }

    fn message(&self, collection: &str, counts: PerSide<usize>, items: Items) -> String {
        let (what, how, also) = match items {
            Items::Mail => (
                "mail",
                "messages are matched by content (Message-ID, Date, From, Subject)",
                "messages deleted on one side since an earlier sync come back from the other \
                 side, and flags removed on one side since then are set again",
            ),
            Items::Dav => (
                "items",
                "items are matched by UID",
                "items deleted on one side since an earlier sync come back from the other \
                 side, and items that differ between the sides are conflicts",
            ),
        };
        format!(
            "the pair has no state (its first sync, or the state file {} was lost or removed), \
             and both sides already hold {what} ({collection}: {} on a, {} on b, perhaps more \
             elsewhere): {how}. Nothing is deleted, but {also}",
            self.state_file.display(),
            counts.a,
            counts.b
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_state_file_and_what_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let run = pimlink_core::runner::PairRun::lock(dir.path(), "p").unwrap();
        let notice = NoStateNotice::new("p", run.without_state().unwrap());
        let message = notice.message("INBOX", PerSide { a: 3, b: 5 }, Items::Mail);
        assert!(message.contains(&dir.path().join("p.sqlite").display().to_string()));
        assert!(message.contains("INBOX: 3 on a, 5 on b"), "{message}");
        assert!(message.contains("Nothing is deleted"), "{message}");
        assert!(message.contains("come back"), "{message}");
    }
}
