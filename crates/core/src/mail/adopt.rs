//! Adoption (issue 16): what another sync tool (mbsync, OfflineIMAP) knew about a mail pair,
//! as a neutral [`Adoption`], and [`StatusStore::adopt`], which writes it into a pair's empty
//! status so that the next sync treats it as a previous pimlink run: every message that tool
//! paired is paired, with the flags both sides had at its last run, so that nothing is
//! downloaded again, no local file is renamed, and what changed on either side since then is
//! synced as a change (a flag set, a message deleted) rather than guessed by content.
//!
//! Key types: [`Adoption`], [`AdoptedFolder`], [`AdoptedItem`], [`ServerSpelling`] (how the
//! server's storage spells its keys and listing state, which core does not know),
//! [`AdoptSummary`]. Not here: reading the other tools' files (`pimlink-foreign`), deciding
//! when to adopt (the binary).
//!
//! What is left out of the status on purpose: messages the tool had on one side only (not yet
//! copied, or held back by its limits) — the next sync sees them as new on that side and copies
//! them, as the tool itself would have; and the server's UIDNEXT and HIGHESTMODSEQ, so that the
//! first listing is complete (flags only, no message body).

use std::collections::HashSet;

use rusqlite::params;

use crate::error::{Error, ErrorKind, Result};
use crate::mail::flags::Flags;
use crate::mail::item::ItemKey;
use crate::name::CollectionName;
use crate::side::Side;
use crate::status::{StatusStore, sql};

/// What another tool knew about a pair of mail storages: per folder, which server message
/// (UID) is which local message file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Adoption {
    /// The tool, for messages ("mbsync", "OfflineIMAP").
    pub tool: String,
    /// The folders it synced.
    pub folders: Vec<AdoptedFolder>,
}

/// One folder as the tool left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptedFolder {
    /// The folder's name in the status for the server side: the *pair's* name (the status sees
    /// both sides through the pair's name translation, `prefix_a`/`folder_map`), which is the
    /// server's own name when the pair translates nothing.
    pub server_name: CollectionName,
    /// The folder's name in the status for the local side: likewise the pair's name (the
    /// Maildir store's listed name translated with `NameTranslation::to_pair`).
    pub local_name: CollectionName,
    /// The server folder's UIDVALIDITY the tool last saw; the UIDs below belong to it. If the
    /// server has another one now, the next sync treats the keys as void and pairs by content
    /// (as after any UIDVALIDITY change), which transfers nothing either.
    pub uid_validity: u32,
    /// The messages the tool had on both sides.
    pub items: Vec<AdoptedItem>,
}

/// A message the tool had on both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptedItem {
    /// Its UID on the server.
    pub uid: u32,
    /// The local file's key as pimlink's Maildir store keys it (its unique name: everything
    /// before `:2,`). A key no file has any more means the message was deleted locally since
    /// the tool's last run, which the next sync carries to the server.
    pub local_key: ItemKey,
    /// The flags both sides had at the tool's last run.
    pub flags: Flags,
}

/// How the server side's storage spells what the status keeps of it. Implemented by the IMAP
/// storage (`pimlink_imap::ImapSpelling`); core does not know its key format.
pub trait ServerSpelling {
    /// The item key of message `uid` of a folder whose UIDVALIDITY is `uid_validity`.
    fn item_key(&self, uid_validity: u32, uid: u32) -> ItemKey;
    /// A listing state that names only the UIDVALIDITY (so that the next listing is complete,
    /// and checks the keys against the folder's UIDVALIDITY now).
    fn listing_state(&self, uid_validity: u32) -> String;
}

/// What [`StatusStore::adopt`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdoptSummary {
    /// Folders paired.
    pub folders: usize,
    /// Messages paired.
    pub items: usize,
    /// Messages left out because their key was already paired in the folder (a state file
    /// naming one message twice); the next sync pairs them by content.
    pub skipped: usize,
}

impl StatusStore {
    /// True if the status has any mail folder pairing (a pimlink run, or an adoption, happened).
    pub fn has_mail_state(&self) -> Result<bool> {
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM collections)", [], |row| {
                row.get(0)
            })
            .map_err(sql("looking for mail state"))
    }

    /// Writes `adoption` into this pair's status, `server` being the side that holds the
    /// server's folders, in one transaction (all or nothing). Refuses ([`ErrorKind::Refused`])
    /// a status that already has mail state unless `replace`, which first forgets all of it.
    /// Two folders with the same name on one side are an [`ErrorKind::Peer`] error (the state
    /// files contradict each other).
    pub fn adopt(
        &mut self,
        adoption: &Adoption,
        server: Side,
        spelling: &dyn ServerSpelling,
        replace: bool,
    ) -> Result<AdoptSummary> {
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        let existing: bool = tx
            .query_row("SELECT EXISTS (SELECT 1 FROM collections)", [], |row| {
                row.get(0)
            })
            .map_err(sql("looking for mail state"))?;
        if existing && !replace {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "the pair already has pimlink state; adopting {}'s state would replace it",
                    adoption.tool
                ),
            ));
        }
        // The caches hang off the collections (ON DELETE CASCADE); listed anyway, so that a
        // table added later without the cascade cannot keep stale rows.
        for table in [
            "mail_items",
            "mail_settled",
            "mail_dates",
            "mail_sizes",
            "mail_abandoned_copies",
            "collections",
        ] {
            tx.execute(&format!("DELETE FROM {table}"), [])
                .map_err(sql("forgetting the previous mail state"))?;
        }
        let mut summary = AdoptSummary::default();
        let (mut names_server, mut names_local) = (HashSet::new(), HashSet::new());
        for folder in &adoption.folders {
            if !names_server.insert(&folder.server_name) || !names_local.insert(&folder.local_name)
            {
                return Err(Error::new(
                    ErrorKind::Peer,
                    format!(
                        "{}'s state names the folder {} twice",
                        adoption.tool, folder.server_name
                    ),
                ));
            }
            let state = spelling.listing_state(folder.uid_validity);
            let (name_a, name_b, state_a, state_b) = match server {
                Side::A => (&folder.server_name, &folder.local_name, Some(&state), None),
                Side::B => (&folder.local_name, &folder.server_name, None, Some(&state)),
            };
            tx.execute(
                "INSERT INTO collections (name_a, name_b, state_a, state_b) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![name_a.as_str(), name_b.as_str(), state_a, state_b],
            )
            .map_err(sql("recording an adopted folder"))?;
            let collection = tx.last_insert_rowid();
            summary.folders += 1;
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO mail_items (collection, key_a, key_b, flags) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql("recording adopted messages"))?;
            for item in &folder.items {
                let server_key = spelling.item_key(folder.uid_validity, item.uid);
                let (key_a, key_b) = match server {
                    Side::A => (&server_key, &item.local_key),
                    Side::B => (&item.local_key, &server_key),
                };
                let written = insert
                    .execute(params![
                        collection,
                        key_a.as_str(),
                        key_b.as_str(),
                        item.flags.to_status_text()
                    ])
                    .map_err(sql("recording an adopted message"))?;
                if written == 1 {
                    summary.items += 1;
                } else {
                    summary.skipped += 1;
                }
            }
        }
        tx.commit().map_err(sql("committing the adoption"))?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::flags::Flag;

    struct Spelling;

    impl ServerSpelling for Spelling {
        fn item_key(&self, uid_validity: u32, uid: u32) -> ItemKey {
            ItemKey::new(format!("{uid_validity}:{uid}"))
        }
        fn listing_state(&self, uid_validity: u32) -> String {
            format!("v1 uidvalidity={uid_validity}")
        }
    }

    fn name(text: &str) -> CollectionName {
        CollectionName::new(text).unwrap()
    }

    fn item(uid: u32, key: &str, flags: Flags) -> AdoptedItem {
        AdoptedItem {
            uid,
            local_key: ItemKey::new(key),
            flags,
        }
    }

    fn adoption() -> Adoption {
        Adoption {
            tool: "mbsync".to_owned(),
            folders: vec![
                AdoptedFolder {
                    server_name: name("INBOX"),
                    local_name: name("INBOX"),
                    uid_validity: 7,
                    items: vec![
                        item(1, "100.a,U=1", Flags::new().with(Flag::Seen)),
                        item(2, "101.b,U=2", Flags::new()),
                        // The same local file twice: the second is left for content pairing.
                        item(3, "101.b,U=2", Flags::new()),
                    ],
                },
                AdoptedFolder {
                    server_name: name("Entwürfe"),
                    local_name: name("Drafts"),
                    uid_validity: 9,
                    items: vec![item(5, "102.c,U=1", Flags::new().with(Flag::Draft))],
                },
            ],
        }
    }

    #[test]
    fn adoption_writes_rows_a_previous_run_would_have_left() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        assert!(!store.has_mail_state().unwrap());
        let summary = store.adopt(&adoption(), Side::A, &Spelling, false).unwrap();
        assert_eq!(
            summary,
            AdoptSummary {
                folders: 2,
                items: 3,
                skipped: 1
            }
        );
        assert!(store.has_mail_state().unwrap());
        let inbox = store
            .find_collection(&name("INBOX"), &name("INBOX"))
            .unwrap()
            .unwrap();
        assert_eq!(
            store.collection_state(inbox, Side::A).unwrap().as_deref(),
            Some("v1 uidvalidity=7")
        );
        assert_eq!(store.collection_state(inbox, Side::B).unwrap(), None);
        let items = store.items(inbox).unwrap();
        let rows: Vec<_> = items
            .iter()
            .map(|i| {
                (
                    i.key_a.clone().unwrap(),
                    i.key_b.clone().unwrap(),
                    i.flags.clone(),
                    i.pending,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (
                    ItemKey::new("7:1"),
                    ItemKey::new("100.a,U=1"),
                    Flags::new().with(Flag::Seen),
                    None
                ),
                (
                    ItemKey::new("7:2"),
                    ItemKey::new("101.b,U=2"),
                    Flags::new(),
                    None
                ),
            ]
        );
        // The server on side B: names and keys swap sides.
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        store.adopt(&adoption(), Side::B, &Spelling, false).unwrap();
        let drafts = store
            .find_collection(&name("Drafts"), &name("Entwürfe"))
            .unwrap()
            .unwrap();
        assert_eq!(
            store.collection_state(drafts, Side::B).unwrap().as_deref(),
            Some("v1 uidvalidity=9")
        );
        let items = store.items(drafts).unwrap();
        assert_eq!(items[0].key_a, Some(ItemKey::new("102.c,U=1")));
        assert_eq!(items[0].key_b, Some(ItemKey::new("9:5")));
    }

    #[test]
    fn existing_state_is_kept_unless_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        store.collection_id(&name("Old"), &name("Old")).unwrap();
        let err = store
            .adopt(&adoption(), Side::A, &Spelling, false)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Refused);
        assert_eq!(store.collections().unwrap().len(), 1, "nothing written");
        store.adopt(&adoption(), Side::A, &Spelling, true).unwrap();
        let names: Vec<_> = store
            .collections()
            .unwrap()
            .into_iter()
            .map(|c| c.name_a.as_str().to_owned())
            .collect();
        assert_eq!(names, ["INBOX", "Entwürfe"]);
        assert_eq!(
            store.find_collection(&name("Old"), &name("Old")).unwrap(),
            None
        );
    }

    #[test]
    fn a_folder_named_twice_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let mut twice = adoption();
        let mut copy = twice.folders[0].clone();
        copy.local_name = name("Other");
        twice.folders.push(copy);
        let err = store.adopt(&twice, Side::A, &Spelling, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Peer);
        assert!(err.to_string().contains("INBOX"), "{err}");
        assert!(!store.has_mail_state().unwrap());
    }
}
