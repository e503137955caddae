//! The collection pairings (`collections` table): which name on A is paired with which on B,
//! and each side's storage-specific listing state (UIDVALIDITY and the like), written only
//! when it changed so that a run that found nothing costs no commit.
//!
//! Key types: [`StatusCollection`]. Not here: the item rows of a pairing (`items.rs`), its
//! settled record (`settled.rs`).

use rusqlite::{OptionalExtension, params};

use crate::error::Result;
use crate::name::CollectionName;
use crate::side::Side;
use crate::status::{StatusStore, sql};

use super::CollectionId;

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
}

/// Keeps both listing states of collection `id`; an unchanged row is not written, so that a
/// no-change run commits nothing.
pub(super) fn set_states_in(
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

fn stored_name(name: &str) -> Result<CollectionName> {
    CollectionName::new(name).map_err(|e| e.context("status database holds a bad collection name"))
}
