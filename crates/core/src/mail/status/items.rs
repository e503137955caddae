//! The item pairings (`mail_items` table) and the one way they change: a batch of
//! [`StatusChange`]s applied in one transaction by [`apply_in`], which [`StatusStore::apply`],
//! [`StatusStore::items_after`] (applied and rolled back), [`StatusStore::apply_and_set_states`]
//! and the off-thread commits of `awaited.rs` all go through. A change that matches no row
//! stops the batch.
//!
//! Key types: [`StatusItem`], [`StatusChange`]. Not here: the collection rows and their
//! listing states (`collections.rs`), the caches beside the items (`dates.rs`, `settled.rs`,
//! `abandoned.rs`).

use rusqlite::{Connection, params};

use crate::error::{Error, ErrorKind, Result};
use crate::mail::flags::Flags;
use crate::mail::item::ItemKey;
use crate::side::Side;
use crate::status::{StatusStore, sql};

use super::collections::set_states_in;
use super::settled;
use super::{CollectionId, ItemId};

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

pub(super) fn apply_in(
    tx: &rusqlite::Transaction<'_>,
    changes: &[StatusChange],
) -> Result<Vec<ItemId>> {
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
