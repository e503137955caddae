//! The mail tables of the status database: collection pairings (`collections`), item
//! pairings (`mail_items`) and the batches of [`StatusChange`]s that write them, plus the
//! caches beside them (settled records, arrival dates and sizes, abandoned copies).
//!
//! Not here: opening, locking and migrating the database ([`crate::status`]).

mod abandoned;
mod awaited;
mod dates;
mod settled;

use rusqlite::{Connection, OptionalExtension, params};

pub use abandoned::AbandonedCopy;
pub use settled::Settled;
// Beside the mail tables' types, so that a mail module finds its status in one place.
pub use crate::status::StatusStore;

use crate::error::{Error, ErrorKind, Result};
use crate::mail::flags::Flags;
use crate::mail::item::ItemKey;
use crate::name::CollectionName;
use crate::side::Side;
use crate::status::sql;

/// The id of a collection pairing in the status.
pub type CollectionId = i64;

/// The id of an item pairing in the status.
pub type ItemId = i64;

/// A collection pairing as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCollection {
    /// Its id.
    pub id: CollectionId,
    /// The name on side A.
    pub name_a: CollectionName,
    /// The name on side B.
    pub name_b: CollectionName,
}

/// An item pairing as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusItem {
    /// Its id.
    pub id: ItemId,
    /// The key on side A (None only while a copy to A is pending without a reserved key).
    pub key_a: Option<ItemKey>,
    /// The key on side B (likewise).
    pub key_b: Option<ItemKey>,
    /// The flags both sides had when they last agreed.
    pub flags: Flags,
    /// `Some(side)` while a copy to `side` is in flight.
    pub pending: Option<Side>,
    /// `Some(side)` when the pair's limits removed the item from `side` (or are removing it:
    /// the key there is kept until the removal is durable), or held it back from there (it
    /// never had a key there). The other side keeps the item.
    pub expired: Option<Side>,
}

impl StatusItem {
    /// The key on `side`.
    pub fn key(&self, side: Side) -> Option<&ItemKey> {
        match side {
            Side::A => self.key_a.as_ref(),
            Side::B => self.key_b.as_ref(),
        }
    }
}

/// A change to the item records, applied in batches by [`StatusStore::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusChange {
    /// Records the intent to copy the item `source_key` on `to.other()` to `to`, under
    /// `reserved_key` if the destination handed one out. Returns the new row's id.
    BeginCopy {
        /// The collection.
        collection: CollectionId,
        /// The side the copy goes to.
        to: Side,
        /// The item's key on the source side.
        source_key: ItemKey,
        /// The key the destination promised to use, if any.
        reserved_key: Option<ItemKey>,
        /// The flags the copy is delivered with.
        flags: Flags,
    },
    /// The copy recorded by `BeginCopy` landed under `key`.
    FinishCopy {
        /// The row.
        id: ItemId,
        /// The side the copy went to.
        to: Side,
        /// The key it landed under.
        key: ItemKey,
    },
    /// Both sides now agree on `flags`; any pending mark is cleared.
    SetFlags {
        /// The row.
        id: ItemId,
        /// The agreed flags.
        flags: Flags,
    },
    /// The pairing is gone (deleted on both sides, or abandoned).
    Remove {
        /// The row.
        id: ItemId,
    },
    /// Forgets every key on `side` in a collection, before `SetKey` changes give the rows new
    /// ones (a storage renumbered its items; old and new keys may overlap).
    ClearKeys {
        /// The collection.
        collection: CollectionId,
        /// The side whose keys are void.
        side: Side,
    },
    /// Gives a row a new key on `side`.
    SetKey {
        /// The row.
        id: ItemId,
        /// The side.
        side: Side,
        /// The new key.
        key: ItemKey,
    },
    /// The item of row `id` is about to be removed from `side` by the pair's limits: from now
    /// on its absence there is an expiry, not a deletion.
    BeginExpire {
        /// The row.
        id: ItemId,
        /// The side it is removed from.
        side: Side,
    },
    /// The expiry of row `id` on `side` is durable: the key there is forgotten.
    FinishExpire {
        /// The row.
        id: ItemId,
        /// The side it was removed from.
        side: Side,
    },
    /// Records an item of `side.other()` that the pair's limits keep off `side` (held back):
    /// a row with only its key there, marked expired on `side`, so that later listings know
    /// the item and later runs neither take it for new mail nor copy it.
    HoldBack {
        /// The collection.
        collection: CollectionId,
        /// The side the item is kept off (the near side).
        side: Side,
        /// The item's key on the other side.
        key: ItemKey,
        /// Its flags there.
        flags: Flags,
    },
    /// Records that `key_a` and `key_b` hold the same item, which both sides already had.
    Pair {
        /// The collection.
        collection: CollectionId,
        /// The key on A.
        key_a: ItemKey,
        /// The key on B.
        key_b: ItemKey,
        /// The flags both have.
        flags: Flags,
    },
}

impl StatusStore {
    /// Every collection pairing.
    pub fn collections(&self) -> Result<Vec<StatusCollection>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name_a, name_b FROM collections ORDER BY id")
            .map_err(sql("listing collections"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(sql("listing collections"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, a, b) = row.map_err(sql("listing collections"))?;
            out.push(StatusCollection {
                id,
                name_a: stored_name(&a)?,
                name_b: stored_name(&b)?,
            });
        }
        Ok(out)
    }

    /// The pairing of `name_a` with `name_b`, if the status has it.
    pub fn find_collection(
        &self,
        name_a: &CollectionName,
        name_b: &CollectionName,
    ) -> Result<Option<CollectionId>> {
        self.conn
            .query_row(
                "SELECT id FROM collections WHERE name_a = ?1 AND name_b = ?2",
                params![name_a.as_str(), name_b.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("looking up a collection"))
    }

    /// The pairing of `name_a` with `name_b`, created if it does not exist yet.
    pub fn collection_id(
        &mut self,
        name_a: &CollectionName,
        name_b: &CollectionName,
    ) -> Result<CollectionId> {
        if let Some(id) = self.find_collection(name_a, name_b)? {
            return Ok(id);
        }
        self.conn
            .execute(
                "INSERT INTO collections (name_a, name_b) VALUES (?1, ?2)",
                params![name_a.as_str(), name_b.as_str()],
            )
            .map_err(sql("recording a collection"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Drops a collection pairing with its items (a collection removed on both sides).
    pub fn forget_collection(&mut self, id: CollectionId) -> Result<()> {
        self.conn
            .execute("DELETE FROM collections WHERE id = ?1", [id])
            .map_err(sql("dropping a collection"))?;
        Ok(())
    }

    /// The storage-specific state recorded for `side` of a collection.
    pub fn collection_state(&self, id: CollectionId, side: Side) -> Result<Option<String>> {
        let query = match side {
            Side::A => "SELECT state_a FROM collections WHERE id = ?1",
            Side::B => "SELECT state_b FROM collections WHERE id = ?1",
        };
        self.conn
            .query_row(query, [id], |row| row.get(0))
            .map_err(sql("reading collection state"))
    }

    /// Records the storage-specific state of `side` of a collection.
    pub fn set_collection_state(
        &mut self,
        id: CollectionId,
        side: Side,
        state: Option<&str>,
    ) -> Result<()> {
        let query = match side {
            Side::A => "UPDATE collections SET state_a = ?2 WHERE id = ?1",
            Side::B => "UPDATE collections SET state_b = ?2 WHERE id = ?1",
        };
        self.conn
            .execute(query, params![id, state])
            .map_err(sql("writing collection state"))?;
        Ok(())
    }

    /// Records the storage-specific state of both sides of a collection in one statement,
    /// and writes nothing (so costs no fsync) when both are what is recorded already, as after
    /// a run that found nothing changed.
    pub fn set_collection_states(
        &mut self,
        id: CollectionId,
        state_a: Option<&str>,
        state_b: Option<&str>,
    ) -> Result<()> {
        set_states_in(&self.conn, id, state_a, state_b)
    }

    /// [`Self::apply`] and [`Self::set_collection_states`] in one transaction: a
    /// collection's last changes and the listing states that may be kept only with them cost
    /// one commit. The collection's settled record (see `plan::unchanged`) goes in the same
    /// transaction: the run ends by dropping or rewriting it anyway (`exec::unchanged`), and a
    /// [`Self::forget_settled`] that finds no row commits nothing, so this saves that commit's
    /// fsync.
    pub fn apply_and_set_states(
        &mut self,
        changes: &[StatusChange],
        id: CollectionId,
        state_a: Option<&str>,
        state_b: Option<&str>,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        apply_in(&tx, changes)?;
        set_states_in(&tx, id, state_a, state_b)?;
        settled::forget_settled_in(&tx, id)?;
        tx.commit().map_err(sql("committing"))
    }

    /// Every item pairing of a collection.
    pub fn items(&self, collection: CollectionId) -> Result<Vec<StatusItem>> {
        items_in(&self.conn, collection)
    }

    /// Applies `changes` in one transaction and returns the ids of rows that `BeginCopy` changes
    /// created, in order. Either all changes are recorded or none.
    pub fn apply(&mut self, changes: &[StatusChange]) -> Result<Vec<ItemId>> {
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        let created = apply_in(&tx, changes)?;
        tx.commit().map_err(sql("committing"))?;
        Ok(created)
    }

    /// The item pairings of `collection` as they would be after `changes`, without recording
    /// them: applied in a transaction that is rolled back, through the same code as
    /// [`Self::apply`], so that the executor reasons about exactly what it would record (it
    /// records them later, with others, in one transaction). Fails where `apply` would.
    pub fn items_after(
        &mut self,
        collection: CollectionId,
        changes: &[StatusChange],
    ) -> Result<Vec<StatusItem>> {
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        apply_in(&tx, changes)?;
        // Dropped without a commit: rolled back.
        items_in(&tx, collection)
    }
}

/// Keeps both listing states of collection `id`; an unchanged row is not written, so that a
/// no-change run commits nothing.
fn set_states_in(
    conn: &rusqlite::Connection,
    id: CollectionId,
    state_a: Option<&str>,
    state_b: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE collections SET state_a = ?2, state_b = ?3 \
         WHERE id = ?1 AND (state_a IS NOT ?2 OR state_b IS NOT ?3)",
        params![id, state_a, state_b],
    )
    .map_err(sql("writing collection state"))?;
    Ok(())
}

fn apply_in(tx: &rusqlite::Transaction<'_>, changes: &[StatusChange]) -> Result<Vec<ItemId>> {
    {
        let mut created = Vec::new();
        for change in changes {
            let affected = match change {
                StatusChange::BeginCopy {
                    collection,
                    to,
                    source_key,
                    reserved_key,
                    flags,
                } => {
                    let (key_a, key_b) = match to {
                        Side::B => (Some(source_key), reserved_key.as_ref()),
                        Side::A => (reserved_key.as_ref(), Some(source_key)),
                    };
                    let n = tx
                        .execute(
                            "INSERT INTO mail_items (collection, key_a, key_b, flags, pending)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![
                                collection,
                                key_a.map(ItemKey::as_str),
                                key_b.map(ItemKey::as_str),
                                flags.to_status_text(),
                                to.as_str()
                            ],
                        )
                        .map_err(sql("recording a copy"))?;
                    created.push(tx.last_insert_rowid());
                    n
                }
                StatusChange::FinishCopy { id, to, key } => {
                    let query = match to {
                        Side::A => "UPDATE mail_items SET key_a = ?2, pending = NULL WHERE id = ?1",
                        Side::B => "UPDATE mail_items SET key_b = ?2, pending = NULL WHERE id = ?1",
                    };
                    tx.execute(query, params![id, key.as_str()])
                        .map_err(sql("recording a finished copy"))?
                }
                StatusChange::SetFlags { id, flags } => tx
                    .execute(
                        "UPDATE mail_items SET flags = ?2, pending = NULL WHERE id = ?1",
                        params![id, flags.to_status_text()],
                    )
                    .map_err(sql("recording flags"))?,
                StatusChange::Remove { id } => tx
                    .execute("DELETE FROM mail_items WHERE id = ?1", [id])
                    .map_err(sql("removing an item"))?,
                StatusChange::ClearKeys { collection, side } => {
                    let query = match side {
                        Side::A => "UPDATE mail_items SET key_a = NULL WHERE collection = ?1",
                        Side::B => "UPDATE mail_items SET key_b = NULL WHERE collection = ?1",
                    };
                    tx.execute(query, [collection])
                        .map_err(sql("clearing keys"))?;
                    continue; // Any number of rows is right.
                }
                StatusChange::SetKey { id, side, key } => {
                    let query = match side {
                        Side::A => "UPDATE mail_items SET key_a = ?2 WHERE id = ?1",
                        Side::B => "UPDATE mail_items SET key_b = ?2 WHERE id = ?1",
                    };
                    tx.execute(query, params![id, key.as_str()])
                        .map_err(sql("recording a new key"))?
                }
                StatusChange::BeginExpire { id, side } => tx
                    .execute(
                        "UPDATE mail_items SET expired = ?2 WHERE id = ?1 AND pending IS NULL",
                        params![id, side.as_str()],
                    )
                    .map_err(sql("recording an expiry"))?,
                StatusChange::FinishExpire { id, side } => {
                    let query = match side {
                        Side::A => {
                            "UPDATE mail_items SET key_a = NULL WHERE id = ?1 AND expired = 'a'"
                        }
                        Side::B => {
                            "UPDATE mail_items SET key_b = NULL WHERE id = ?1 AND expired = 'b'"
                        }
                    };
                    tx.execute(query, [id])
                        .map_err(sql("recording a finished expiry"))?
                }
                StatusChange::HoldBack {
                    collection,
                    side,
                    key,
                    flags,
                } => {
                    let query = match side {
                        Side::A => {
                            "INSERT INTO mail_items (collection, key_b, flags, expired)
                             VALUES (?1, ?2, ?3, 'a')"
                        }
                        Side::B => {
                            "INSERT INTO mail_items (collection, key_a, flags, expired)
                             VALUES (?1, ?2, ?3, 'b')"
                        }
                    };
                    tx.execute(
                        query,
                        params![collection, key.as_str(), flags.to_status_text()],
                    )
                    .map_err(sql("recording a held-back item"))?
                }
                StatusChange::Pair {
                    collection,
                    key_a,
                    key_b,
                    flags,
                } => tx
                    .execute(
                        "INSERT INTO mail_items (collection, key_a, key_b, flags, pending)
                         VALUES (?1, ?2, ?3, ?4, NULL)",
                        params![
                            collection,
                            key_a.as_str(),
                            key_b.as_str(),
                            flags.to_status_text()
                        ],
                    )
                    .map_err(sql("recording a pair"))?,
            };
            // A change that matches no row means the plan and the status disagree: stop before
            // recording anything that rests on a wrong picture.
            if affected != 1 {
                return Err(Error::new(
                    ErrorKind::State,
                    format!("status database: {change:?} matched {affected} rows, expected 1"),
                ));
            }
        }
        Ok(created)
    }
}

fn items_in(conn: &Connection, collection: CollectionId) -> Result<Vec<StatusItem>> {
    let mut stmt = conn
        .prepare(
            "SELECT id, key_a, key_b, flags, pending, expired FROM mail_items
             WHERE collection = ?1 ORDER BY id",
        )
        .map_err(sql("listing items"))?;
    let rows = stmt
        .query_map([collection], |row| {
            Ok(StatusItem {
                id: row.get(0)?,
                key_a: row.get::<_, Option<String>>(1)?.map(ItemKey::new),
                key_b: row.get::<_, Option<String>>(2)?.map(ItemKey::new),
                flags: Flags::from_status_text(&row.get::<_, String>(3)?),
                pending: stored_side(row.get::<_, Option<String>>(4)?.as_deref()),
                expired: stored_side(row.get::<_, Option<String>>(5)?.as_deref()),
            })
        })
        .map_err(sql("listing items"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(sql("listing items"))
}

/// A side as the CHECK constraints allow it in the status.
fn stored_side(text: Option<&str>) -> Option<Side> {
    match text {
        Some("a") => Some(Side::A),
        Some("b") => Some(Side::B),
        _ => None,
    }
}

fn stored_name(name: &str) -> Result<CollectionName> {
    CollectionName::new(name).map_err(|e| e.context("status database holds a bad collection name"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
