//! The warning for a pair without state whose sides both hold items: the first sync, or a
//! state file that was lost. pimlink then matches items instead of copying them, which is
//! safe, but it cannot know what was deleted or unflagged since an earlier sync: that comes
//! back. A user who lost the state should hear this before the run, not find out later.

use std::path::PathBuf;

use anyhow::Result;
use pimlink_core::PerSide;
use pimlink_core::status::StatusStore;

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
    items: Items,
    told: bool,
}

impl NoStateNotice {
    /// A notice for `pair` if its freshly opened `status` records nothing; `None` otherwise.
    pub fn new(pair: &str, status: &StatusStore, items: Items) -> Result<Option<Self>> {
        if !status.knows_nothing()? {
            return Ok(None);
        }
        Ok(Some(Self {
            pair: pair.to_owned(),
            state_file: status.path().map(PathBuf::from).unwrap_or_default(),
            items,
            told: false,
        }))
    }

    /// Says so (on stderr, even with `-q`: it explains changes a user did not ask for) when
    /// the first collection with items on both sides is about to be matched.
    pub fn tell(&mut self, collection: &str, counts: PerSide<usize>) {
        if !self.told {
            self.told = true;
            eprintln!(
                "pimlink: {}: warning: {}",
                self.pair,
                self.message(collection, counts)
            );
        }
    }

    fn message(&self, collection: &str, counts: PerSide<usize>) -> String {
        let (what, how, also) = match self.items {
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
        let status = StatusStore::open(dir.path(), "p").unwrap();
        let notice = NoStateNotice::new("p", &status, Items::Mail)
            .unwrap()
            .unwrap();
        let message = notice.message("INBOX", PerSide { a: 3, b: 5 });
        assert!(message.contains(&dir.path().join("p.sqlite").display().to_string()));
        assert!(message.contains("INBOX: 3 on a, 5 on b"), "{message}");
        assert!(message.contains("Nothing is deleted"), "{message}");
        assert!(message.contains("come back"), "{message}");
    }
}
