//! The status of calendar and contact pairs: collections paired by id with their sync tokens,
//! items paired by UID with each side's href, etag and content hash, and agreed metadata.
//! The tables are created by migration 2 in `schema.rs`; the mail tables are never touched here.

use rusqlite::{OptionalExtension, params};

use crate::dav::store::{CollectionId, CollectionState, Etag, Href, MetaProperty, SyncToken};
use crate::dav::vobject::ContentHash;
use crate::dav::{ItemVersion, KnownCollection, RowChange, StatusRow};
use crate::error::{Error, ErrorKind, Result};
use crate::side::Side;
use crate::status::StatusStore;
use crate::status::sql;

fn stored_id(id: String) -> Result<CollectionId> {
    CollectionId::new(id).map_err(|e| e.context("status database holds a bad collection id"))
}

impl StatusStore {
    /// Every calendar/contact collection pairing.
    pub fn dav_collections(&self) -> Result<Vec<KnownCollection>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, id_a, id_b FROM dav_collections ORDER BY name")
            .map_err(sql("listing collections"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .map_err(sql("listing collections"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, a, b) = row.map_err(sql("listing collections"))?;
            out.push(KnownCollection {
                id,
                name,
                a: stored_id(a)?,
                b: stored_id(b)?,
            });
        }
        Ok(out)
    }

    /// The pairing named `name`, if the status has it with exactly these ids.
    pub fn find_dav_collection(
        &self,
        name: &str,
        a: &CollectionId,
        b: &CollectionId,
    ) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT id FROM dav_collections WHERE name = ?1 AND id_a = ?2 AND id_b = ?3",
                params![name, a.as_str(), b.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("looking up a collection"))
    }

    /// The pairing named `name` of `a` with `b`, created if needed. A pairing of that name with
    /// other ids (the configuration now pairs different collections) is dropped first, items
    /// and tokens included: they describe other collections.
    pub fn dav_collection_id(
        &mut self,
        name: &str,
        a: &CollectionId,
        b: &CollectionId,
    ) -> Result<i64> {
        if let Some(id) = self.find_dav_collection(name, a, b)? {
            return Ok(id);
        }
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        tx.execute("DELETE FROM dav_collections WHERE name = ?1", [name])
            .map_err(sql("dropping a stale collection pairing"))?;
        tx.execute(
            "INSERT INTO dav_collections (name, id_a, id_b) VALUES (?1, ?2, ?3)",
            params![name, a.as_str(), b.as_str()],
        )
        .map_err(sql("recording a collection"))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(sql("committing"))?;
        Ok(id)
    }

    /// Drops a collection pairing with its items, tokens and metadata.
    pub fn forget_dav_collection(&mut self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM dav_collections WHERE id = ?1", [id])
            .map_err(sql("dropping a collection"))?;
        Ok(())
    }

    /// The sync token stored for `side` of a collection.
    pub fn dav_token(&self, collection: i64, side: Side) -> Result<Option<SyncToken>> {
        let query = match side {
            Side::A => "SELECT token_a FROM dav_collections WHERE id = ?1",
            Side::B => "SELECT token_b FROM dav_collections WHERE id = ?1",
        };
        let token: Option<String> = self
            .conn
            .query_row(query, [collection], |row| row.get(0))
            .map_err(sql("reading a sync token"))?;
        Ok(token.map(SyncToken::new))
    }

    /// Stores (or with `None` clears) the sync token of `side` of a collection.
    pub fn set_dav_token(
        &mut self,
        collection: i64,
        side: Side,
        token: Option<&SyncToken>,
    ) -> Result<()> {
        let query = match side {
            Side::A => "UPDATE dav_collections SET token_a = ?2 WHERE id = ?1",
            Side::B => "UPDATE dav_collections SET token_b = ?2 WHERE id = ?1",
        };
        self.conn
            .execute(query, params![collection, token.map(SyncToken::as_str)])
            .map_err(sql("writing a sync token"))?;
        Ok(())
    }

    /// The [`CollectionState`] recorded for `side` of a collection after its last clean sync.
    pub fn dav_state(&self, collection: i64, side: Side) -> Result<Option<CollectionState>> {
        let query = match side {
            Side::A => "SELECT state_a FROM dav_collections WHERE id = ?1",
            Side::B => "SELECT state_b FROM dav_collections WHERE id = ?1",
        };
        let state: Option<String> = self
            .conn
            .query_row(query, [collection], |row| row.get(0))
            .map_err(sql("reading a collection state"))?;
        Ok(state.map(CollectionState::new))
    }

    /// Records (or with `None` clears) the [`CollectionState`] of `side` of a collection.
    pub fn set_dav_state(
        &mut self,
        collection: i64,
        side: Side,
        state: Option<&CollectionState>,
    ) -> Result<()> {
        let query = match side {
            Side::A => "UPDATE dav_collections SET state_a = ?2 WHERE id = ?1",
            Side::B => "UPDATE dav_collections SET state_b = ?2 WHERE id = ?1",
        };
        self.conn
            .execute(
                query,
                params![collection, state.map(CollectionState::as_str)],
            )
            .map_err(sql("writing a collection state"))?;
        Ok(())
    }

    /// True if no sync of the collection pairing `collection` ever ended cleanly: no sync token
    /// and no collection state recorded on either side.
    pub fn dav_never_synced(&self, collection: i64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT token_a IS NULL AND token_b IS NULL AND state_a IS NULL \
                 AND state_b IS NULL FROM dav_collections WHERE id = ?1",
                [collection],
                |row| row.get(0),
            )
            .map_err(sql("reading a collection pairing"))
    }

    /// Every item row of a collection, in UID order.
    pub fn dav_items(&self, collection: i64) -> Result<Vec<StatusRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, uid, href_a, etag_a, hash_a, href_b, etag_b, hash_b FROM dav_items
                 WHERE collection = ?1 ORDER BY uid",
            )
            .map_err(sql("listing items"))?;
        let version = |row: &rusqlite::Row<'_>, at: usize| -> rusqlite::Result<ItemVersion> {
            Ok(ItemVersion {
                href: Href::new(row.get::<_, String>(at)?),
                etag: Etag::new(row.get::<_, String>(at + 1)?),
                hash: ContentHash::from_hex(row.get::<_, String>(at + 2)?),
            })
        };
        let rows = stmt
            .query_map([collection], |row| {
                Ok(StatusRow {
                    id: row.get(0)?,
                    uid: row.get(1)?,
                    a: version(row, 2)?,
                    b: version(row, 5)?,
                })
            })
            .map_err(sql("listing items"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("listing items"))
    }

    /// Applies `changes` to the items of `collection` in one transaction: all or none.
    pub fn apply_items(&mut self, collection: i64, changes: &[RowChange]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        for change in changes {
            match change {
                RowChange::Record { uid, a, b } => {
                    tx.execute(
                        "INSERT INTO dav_items
                           (collection, uid, href_a, etag_a, hash_a, href_b, etag_b, hash_b)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (collection, uid) DO UPDATE SET
                           href_a = ?3, etag_a = ?4, hash_a = ?5,
                           href_b = ?6, etag_b = ?7, hash_b = ?8",
                        params![
                            collection,
                            uid,
                            a.href.as_str(),
                            a.etag.as_str(),
                            a.hash.as_str(),
                            b.href.as_str(),
                            b.etag.as_str(),
                            b.hash.as_str()
                        ],
                    )
                    .map_err(sql("recording an item"))?;
                }
                RowChange::Remove { uid } => {
                    let n = tx
                        .execute(
                            "DELETE FROM dav_items WHERE collection = ?1 AND uid = ?2",
                            params![collection, uid],
                        )
                        .map_err(sql("removing an item"))?;
                    // Removing a row the status does not have means the plan and the status
                    // disagree: stop before recording anything that rests on a wrong picture.
                    if n != 1 {
                        return Err(Error::new(
                            ErrorKind::State,
                            format!("status database: no item {uid:?} to remove"),
                        ));
                    }
                }
            }
        }
        tx.commit().map_err(sql("committing"))
    }

    /// The value of a metadata property both sides last agreed on: `None` if never recorded,
    /// `Some(None)` if they agreed it is unset.
    pub fn dav_meta(
        &self,
        collection: i64,
        property: MetaProperty,
    ) -> Result<Option<Option<String>>> {
        self.conn
            .query_row(
                "SELECT value FROM dav_meta WHERE collection = ?1 AND property = ?2",
                params![collection, property.name()],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading metadata"))
    }

    /// Records the agreed value of a metadata property.
    pub fn set_dav_meta(
        &mut self,
        collection: i64,
        property: MetaProperty,
        value: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO dav_meta (collection, property, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (collection, property) DO UPDATE SET value = ?3",
                params![collection, property.name(), value],
            )
            .map_err(sql("writing metadata"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(href: &str, etag: &str, hash: &str) -> ItemVersion {
        ItemVersion {
            href: Href::new(href),
            etag: Etag::new(etag),
            hash: ContentHash::from_hex(hash),
        }
    }

    #[test]
    fn items_tokens_and_meta_round_trip_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let work = CollectionId::new("work").unwrap();
        let coll;
        {
            let mut store = StatusStore::open(dir.path(), "p").unwrap();
            coll = store.dav_collection_id("work", &work, &work).unwrap();
            assert_eq!(store.dav_collection_id("work", &work, &work).unwrap(), coll);
            store
                .apply_items(
                    coll,
                    &[
                        RowChange::Record {
                            uid: "u1".into(),
                            a: version("/a/u1.ics", "\"1\"", "h1"),
                            b: version("u1.ics", "1;2;3", "h1"),
                        },
                        RowChange::Record {
                            uid: "u2".into(),
                            a: version("/a/u2.ics", "\"1\"", "h2"),
                            b: version("u2.ics", "1;2;3", "h2"),
                        },
                    ],
                )
                .unwrap();
            // Recording again replaces the row.
            store
                .apply_items(
                    coll,
                    &[RowChange::Record {
                        uid: "u1".into(),
                        a: version("/a/u1.ics", "\"2\"", "h1b"),
                        b: version("u1.ics", "4;5;6", "h1b"),
                    }],
                )
                .unwrap();
            store
                .set_dav_token(coll, Side::A, Some(&SyncToken::new("tok")))
                .unwrap();
            store
                .set_dav_meta(coll, MetaProperty::Color, Some("#ff0000"))
                .unwrap();
            store
                .set_dav_meta(coll, MetaProperty::DisplayName, None)
                .unwrap();
        }
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let rows = store.dav_items(coll).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].uid, "u1");
        assert_eq!(rows[0].a.etag.as_str(), "\"2\"");
        assert_eq!(rows[0].b.hash.as_str(), "h1b");
        assert_eq!(
            store.dav_token(coll, Side::A).unwrap(),
            Some(SyncToken::new("tok"))
        );
        assert_eq!(store.dav_token(coll, Side::B).unwrap(), None);
        assert_eq!(
            store.dav_meta(coll, MetaProperty::Color).unwrap(),
            Some(Some("#ff0000".into()))
        );
        assert_eq!(
            store.dav_meta(coll, MetaProperty::DisplayName).unwrap(),
            Some(None)
        );
        assert_eq!(
            store.dav_meta(coll, MetaProperty::Description).unwrap(),
            None
        );

        // A remove of an unknown row rolls the whole batch back.
        let err = store
            .apply_items(
                coll,
                &[
                    RowChange::Remove { uid: "u1".into() },
                    RowChange::Remove { uid: "nope".into() },
                ],
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State);
        assert_eq!(store.dav_items(coll).unwrap().len(), 2);

        // Re-pairing the name with other ids drops the old items.
        let other = CollectionId::new("other").unwrap();
        let new = store.dav_collection_id("work", &work, &other).unwrap();
        assert!(store.dav_items(new).unwrap().is_empty());
        assert_eq!(store.dav_collections().unwrap().len(), 1);
        // Mail tables are untouched by all this.
        assert!(store.collections().unwrap().is_empty());
    }
}
