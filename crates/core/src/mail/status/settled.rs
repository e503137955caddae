//! The stamps of settled collections (schema 5, `mail_settled`; see `plan::unchanged`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, params};

use super::CollectionId;
use crate::error::Result;
use crate::mail::store::ChangeStamp;
use crate::side::PerSide;
use crate::status::{StatusStore, sql};

/// What the last settled run recorded of a collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    /// Each side's stamp, taken before that run listed the collection.
    pub stamps: PerSide<ChangeStamp>,
    /// When the stamps were taken (before either was asked for).
    pub taken_at: SystemTime,
    /// [`plan_fingerprint`](crate::mail::plan::unchanged::plan_fingerprint) of what shaped that run's plan.
    pub fingerprint: String,
}

/// What a run keeps of one collection at its end ([`StatusStore::record_run_end`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptAtEnd {
    /// The collection.
    pub collection: CollectionId,
    /// Its listing states, if no transaction of its changes recorded them.
    pub states: Option<PerSide<Option<String>>>,
    /// Its settled stamps, if the run left it settled.
    pub settled: Option<Settled>,
}

impl StatusStore {
    /// What the last settled run recorded of a collection, if any. A record this build cannot
    /// read (a time out of range) reads as none: the collection is then listed, which is safe.
    pub fn settled(&self, collection: CollectionId) -> Result<Option<Settled>> {
        let row = self
            .conn
            .query_row(
                "SELECT token_a, newest_a, token_b, newest_b, taken_at, fingerprint
                 FROM mail_settled WHERE collection = ?1",
                [collection],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(sql("reading a settled collection"))?;
        let Some((token_a, newest_a, token_b, newest_b, taken_at, fingerprint)) = row else {
            return Ok(None);
        };
        let stamp = |token: String, newest: Option<i64>| -> Option<ChangeStamp> {
            let newest = match newest {
                Some(ns) => Some(from_nanos(ns)?),
                None => None,
            };
            Some(ChangeStamp {
                token,
                newest,
                local_times: false,
            })
        };
        let (Some(a), Some(b), Some(taken_at)) = (
            stamp(token_a, newest_a),
            stamp(token_b, newest_b),
            from_nanos(taken_at),
        ) else {
            return Ok(None);
        };
        Ok(Some(Settled {
            stamps: PerSide { a, b },
            taken_at,
            fingerprint,
        }))
    }

    /// Records a collection as settled with `settled`'s stamps, replacing any earlier record.
    pub fn record_settled(&mut self, collection: CollectionId, settled: &Settled) -> Result<()> {
        record_settled_in(&self.conn, collection, settled)
    }

    /// What a run keeps of its carried-out collections at its end (`records`), in one
    /// transaction.
    pub fn record_run_end(&mut self, records: &[KeptAtEnd]) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        for record in records {
            if let Some(states) = &record.states {
                super::collections::set_states_in(
                    &tx,
                    record.collection,
                    states.a.as_deref(),
                    states.b.as_deref(),
                )?;
            }
            if let Some(settled) = &record.settled {
                record_settled_in(&tx, record.collection, settled)?;
            }
        }
        tx.commit().map_err(sql("committing"))
    }

    /// Drops the settled record of a collection (costs no write if there is none).
    pub fn forget_settled(&mut self, collection: CollectionId) -> Result<()> {
        // Looked for first: a DELETE takes the database's write lock even when it finds
        // nothing, and so waits (blocking the runtime) for another lane's commit in progress;
        // usually the collection's last transaction has dropped the record already.
        let recorded: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM mail_settled WHERE collection = ?1)",
                [collection],
                |row| row.get(0),
            )
            .map_err(sql("looking for a settled collection"))?;
        if !recorded {
            return Ok(());
        }
        forget_settled_in(&self.conn, collection)
    }

    /// True if the collection has a copy in flight or a record of an abandoned one: a later run
    /// may have work to do there even if neither side changes.
    pub fn has_open_rows(&self, collection: CollectionId) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM mail_items
                                WHERE collection = ?1 AND pending IS NOT NULL)
                     OR EXISTS (SELECT 1 FROM mail_abandoned_copies WHERE collection = ?1)",
                [collection],
                |row| row.get(0),
            )
            .map_err(sql("looking for pending copies"))
    }
}

/// Records a collection as settled, replacing any earlier record, inside whatever transaction
/// `conn` is in.
fn record_settled_in(
    conn: &rusqlite::Connection,
    collection: CollectionId,
    settled: &Settled,
) -> Result<()> {
    let (Some(newest_a), Some(newest_b), Some(taken_at)) = (
        optional_nanos(settled.stamps.a.newest),
        optional_nanos(settled.stamps.b.newest),
        to_nanos(settled.taken_at),
    ) else {
        // A time this schema cannot hold: no record, so the collection is listed next time.
        return forget_settled_in(conn, collection);
    };
    conn.execute(
        "INSERT INTO mail_settled
             (collection, token_a, newest_a, token_b, newest_b, taken_at, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (collection) DO UPDATE SET
             token_a = ?2, newest_a = ?3, token_b = ?4, newest_b = ?5, taken_at = ?6,
             fingerprint = ?7",
        params![
            collection,
            settled.stamps.a.token,
            newest_a,
            settled.stamps.b.token,
            newest_b,
            taken_at,
            settled.fingerprint
        ],
    )
    .map_err(sql("recording a settled collection"))?;
    Ok(())
}

/// Drops the settled record of a collection, inside whatever transaction `conn` is in. Deleting
/// no row writes no page, so a commit that only did this costs no fsync.
pub(super) fn forget_settled_in(
    conn: &rusqlite::Connection,
    collection: CollectionId,
) -> Result<()> {
    conn.execute(
        "DELETE FROM mail_settled WHERE collection = ?1",
        [collection],
    )
    .map_err(sql("dropping a settled collection"))?;
    Ok(())
}

fn to_nanos(time: SystemTime) -> Option<i64> {
    i64::try_from(time.duration_since(UNIX_EPOCH).ok()?.as_nanos()).ok()
}

/// `Some(None)` for no time, `None` for a time that does not fit.
fn optional_nanos(time: Option<SystemTime>) -> Option<Option<i64>> {
    match time {
        None => Some(None),
        Some(time) => to_nanos(time).map(Some),
    }
}

fn from_nanos(nanos: i64) -> Option<SystemTime> {
    let nanos = u64::try_from(nanos).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::flags::Flags;
    use crate::mail::item::ItemKey;
    use crate::mail::status::StatusChange;
    use crate::name::CollectionName;
    use crate::side::Side;

    fn settled(token: &str) -> Settled {
        Settled {
            stamps: PerSide {
                a: ChangeStamp {
                    token: format!("{token}-a"),
                    newest: None,
                    local_times: false,
                },
                b: ChangeStamp {
                    token: format!("{token}-b"),
                    newest: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)),
                    local_times: false,
                },
            },
            taken_at: UNIX_EPOCH + Duration::new(1_700_000_005, 1),
            fingerprint: "v1 00".to_owned(),
        }
    }

    #[test]
    fn records_round_trip_are_replaced_and_go_with_their_collection() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        assert_eq!(store.settled(id).unwrap(), None);
        store.record_settled(id, &settled("one")).unwrap();
        assert_eq!(store.settled(id).unwrap(), Some(settled("one")));
        store.record_settled(id, &settled("two")).unwrap();
        assert_eq!(store.settled(id).unwrap(), Some(settled("two")));
        store.forget_settled(id).unwrap();
        assert_eq!(store.settled(id).unwrap(), None);
        store.record_settled(id, &settled("three")).unwrap();
        store.forget_collection(id).unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        assert_eq!(store.settled(id).unwrap(), None);
    }

    #[test]
    fn a_collections_last_changes_drop_its_settled_record_in_their_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let work = CollectionName::new("Work").unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        let other = store.collection_id(&work, &work).unwrap();
        store.record_settled(id, &settled("one")).unwrap();
        store.record_settled(other, &settled("two")).unwrap();
        let pair = StatusChange::Pair {
            collection: id,
            key_a: ItemKey::new("1"),
            key_b: ItemKey::new("x"),
            flags: Flags::new(),
        };
        store
            .apply_and_set_states(&[pair], id, Some("sa"), Some("sb"))
            .unwrap();
        assert_eq!(store.settled(id).unwrap(), None);
        assert_eq!(store.settled(other).unwrap(), Some(settled("two")));
        assert_eq!(
            store.collection_state(id, Side::A).unwrap().as_deref(),
            Some("sa")
        );
        // What the run does afterwards deletes nothing and so writes nothing to the log: no
        // commit, no fsync.
        let wal = dir.path().join("p.sqlite-wal");
        let before = std::fs::metadata(&wal).unwrap().len();
        store.forget_settled(id).unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), before);
        store.forget_settled(other).unwrap();
        assert!(std::fs::metadata(&wal).unwrap().len() > before);
    }

    #[test]
    fn forgetting_a_record_that_is_not_there_takes_no_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        // Another lane's connection in the middle of a write (its commit on a thread of its
        // own): a writer here would have to wait for it; with no wait allowed, it fails.
        let mut other = store.share().unwrap();
        let tx = other
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        store.conn.busy_timeout(std::time::Duration::ZERO).unwrap();
        store.forget_settled(id).unwrap();
        tx.commit().unwrap();
        store.record_settled(id, &settled("one")).unwrap();
        store.forget_settled(id).unwrap();
        assert_eq!(store.settled(id).unwrap(), None);
    }

    #[test]
    fn pending_copies_and_abandoned_ones_are_open_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        assert!(!store.has_open_rows(id).unwrap());
        store
            .apply(&[StatusChange::Pair {
                collection: id,
                key_a: ItemKey::new("1"),
                key_b: ItemKey::new("x"),
                flags: Flags::new(),
            }])
            .unwrap();
        assert!(!store.has_open_rows(id).unwrap());
        let created = store
            .apply(&[StatusChange::BeginCopy {
                collection: id,
                to: Side::A,
                source_key: ItemKey::new("y"),
                reserved_key: None,
                flags: Flags::new(),
            }])
            .unwrap();
        assert!(store.has_open_rows(id).unwrap());
        store
            .apply(&[StatusChange::Remove { id: created[0] }])
            .unwrap();
        assert!(!store.has_open_rows(id).unwrap());
        store
            .record_abandoned_copies(id, Side::A, &[ItemKey::new("y")])
            .unwrap();
        assert!(store.has_open_rows(id).unwrap());
    }
}
