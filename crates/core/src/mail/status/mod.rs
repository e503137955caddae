//! The mail tables of the status database: collection pairings (`collections`), item
//! pairings (`mail_items`) and the batches of [`StatusChange`]s that write them, plus the
//! caches beside them (settled records, arrival dates and sizes, abandoned copies).
//!
//! Key types: [`StatusCollection`] (`collections.rs`), [`StatusItem`] and [`StatusChange`]
//! (`items.rs`), [`Settled`], [`AbandonedCopy`]; the ids [`CollectionId`] and [`ItemId`] are
//! here. This file holds only those ids, the re-exports and the unit tests of the two tables.
//!
//! Not here: opening, locking and migrating the database ([`crate::status`]).

mod abandoned;
mod awaited;
mod collections;
mod dates;
mod items;
mod renamed;
mod settled;

pub use abandoned::AbandonedCopy;
pub use settled::{KeptAtEnd, Settled};
// Beside the mail tables' types, so that a mail module finds its status in one place.
pub use crate::status::StatusStore;
pub use collections::StatusCollection;
pub use items::{StatusChange, StatusItem};

/// The id of a collection pairing in the status.
pub type CollectionId = i64;

/// The id of an item pairing in the status.
pub type ItemId = i64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::mail::flags::Flags;
    use crate::mail::item::ItemKey;
    use crate::name::CollectionName;
    use crate::side::Side;

    fn key(s: &str) -> ItemKey {
        ItemKey::new(s)
    }

    #[test]
    fn collection_states_are_written_together_and_only_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        store.set_collection_states(id, Some("a1"), None).unwrap();
        assert_eq!(store.conn.changes(), 1);
        assert_eq!(
            store.collection_state(id, Side::A).unwrap().as_deref(),
            Some("a1")
        );
        assert_eq!(store.collection_state(id, Side::B).unwrap(), None);
        // The same again writes nothing, so the commit needs no fsync.
        store.set_collection_states(id, Some("a1"), None).unwrap();
        assert_eq!(store.conn.changes(), 0);
        store
            .set_collection_states(id, Some("a1"), Some("b1"))
            .unwrap();
        assert_eq!(store.conn.changes(), 1);
        assert_eq!(
            store.collection_state(id, Side::B).unwrap().as_deref(),
            Some("b1")
        );
        store.set_collection_states(id, None, Some("b1")).unwrap();
        assert_eq!(store.collection_state(id, Side::A).unwrap(), None);
    }

    #[test]
    fn items_after_shows_changes_without_recording_them_and_refuses_as_apply_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        let pair = StatusChange::Pair {
            collection: id,
            key_a: key("a1"),
            key_b: key("b1"),
            flags: Flags::new(),
        };
        store.apply(&[pair]).unwrap();
        let before = store.items(id).unwrap();
        let row = before[0].id;
        let rekey = [
            StatusChange::ClearKeys {
                collection: id,
                side: Side::B,
            },
            StatusChange::SetKey {
                id: row,
                side: Side::B,
                key: key("b2"),
            },
        ];
        let after = store.items_after(id, &rekey).unwrap();
        assert_eq!(after[0].key_b, Some(key("b2")));
        assert_eq!(store.items(id).unwrap(), before, "nothing is recorded");
        // A change the SQL path refuses is refused here too.
        let missing = [StatusChange::SetKey {
            id: row + 1,
            side: Side::B,
            key: key("b3"),
        }];
        assert_eq!(
            store.items_after(id, &missing).unwrap_err().kind(),
            ErrorKind::State
        );
        assert_eq!(store.items(id).unwrap(), before);
    }

    #[test]
    fn a_forgotten_collection_takes_its_items_along() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let (old, kept) = (
            CollectionName::new("Old").unwrap(),
            CollectionName::new("Kept").unwrap(),
        );
        let id = store.collection_id(&old, &old).unwrap();
        let other = store.collection_id(&kept, &kept).unwrap();
        for collection in [id, other] {
            let pair = StatusChange::Pair {
                collection,
                key_a: key("a"),
                key_b: key("b"),
                flags: Flags::new(),
            };
            store.apply(&[pair]).unwrap();
        }
        store.forget_collection(id).unwrap();
        assert_eq!(store.find_collection(&old, &old).unwrap(), None);
        assert!(store.items(id).unwrap().is_empty());
        assert_eq!(store.items(other).unwrap().len(), 1);
    }

    #[test]
    fn copy_lifecycle_round_trips_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let coll;
        {
            let mut store = StatusStore::open(dir.path(), "p").unwrap();
            coll = store.collection_id(&inbox, &inbox).unwrap();
            assert_eq!(store.collection_id(&inbox, &inbox).unwrap(), coll);
            let flags = Flags::from_status_text("S");
            let ids = store
                .apply(&[
                    StatusChange::BeginCopy {
                        collection: coll,
                        to: Side::B,
                        source_key: key("1"),
                        reserved_key: None,
                        flags: flags.clone(),
                    },
                    StatusChange::BeginCopy {
                        collection: coll,
                        to: Side::A,
                        source_key: key("x"),
                        reserved_key: Some(key("r")),
                        flags: Flags::new(),
                    },
                ])
                .unwrap();
            assert_eq!(ids.len(), 2);
            let items = store.items(coll).unwrap();
            assert_eq!(items[0].pending, Some(Side::B));
            assert_eq!(items[0].key_b, None);
            assert_eq!(items[1].key_a, Some(key("r")));
            store
                .apply(&[StatusChange::FinishCopy {
                    id: ids[0],
                    to: Side::B,
                    key: key("b1"),
                }])
                .unwrap();
        }
        let store = StatusStore::open(dir.path(), "p").unwrap();
        let items = store.items(coll).unwrap();
        assert_eq!(items[0].key_b, Some(key("b1")));
        assert_eq!(items[0].pending, None);
        assert_eq!(items[0].flags, Flags::from_status_text("S"));
    }

    #[test]
    fn change_matching_no_row_rolls_back_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let coll = store.collection_id(&inbox, &inbox).unwrap();
        let err = store
            .apply(&[
                StatusChange::BeginCopy {
                    collection: coll,
                    to: Side::B,
                    source_key: key("1"),
                    reserved_key: None,
                    flags: Flags::new(),
                },
                StatusChange::Remove { id: 999 },
            ])
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State);
        assert!(store.items(coll).unwrap().is_empty());
    }
}
