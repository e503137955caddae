//! Copies given up after an interrupted run (schema 3, `mail_abandoned_copies`).
//!
//! When a run is killed while an APPEND is in flight, the server may still store that message
//! after the next run has listed the folder and, not finding it, copied the item again. The
//! copy that was given up is recorded here before the new one is made, so that a later run can
//! recognise the late message as ours (see `plan::late_copies`) instead of taking it for new
//! mail and copying it back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::params;

use super::CollectionId;
use crate::error::Result;
use crate::mail::item::ItemKey;
use crate::side::Side;
use crate::status::{StatusStore, sql};

/// How long a record is kept: a server finishes a dead connection's APPEND within minutes.
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// A copy to `side` of the item `source_key` on the other side, given up after an interrupted
/// run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbandonedCopy {
    /// The record's id.
    pub id: i64,
    /// The side the copy went to.
    pub side: Side,
    /// The item's key on the other side.
    pub source_key: ItemKey,
    /// When the copy was given up (whole seconds).
    pub abandoned_at: SystemTime,
}

impl StatusStore {
    /// Records copies to `to` of the items `source_keys` as given up, before they are made
    /// again.
    pub fn record_abandoned_copies(
        &mut self,
        collection: CollectionId,
        to: Side,
        source_keys: &[ItemKey],
    ) -> Result<()> {
        if source_keys.is_empty() {
            return Ok(());
        }
        let now = unix_seconds(SystemTime::now());
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        for key in source_keys {
            tx.execute(
                "INSERT INTO mail_abandoned_copies (collection, side, source_key, abandoned_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![collection, to.as_str(), key.as_str(), now],
            )
            .map_err(sql("recording an abandoned copy"))?;
        }
        tx.commit().map_err(sql("committing"))
    }

    /// The abandoned copies of a collection that have not expired.
    pub fn abandoned_copies(&self, collection: CollectionId) -> Result<Vec<AbandonedCopy>> {
        let oldest = unix_seconds(SystemTime::now()) - KEEP.as_secs() as i64;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, side, source_key, abandoned_at FROM mail_abandoned_copies
                 WHERE collection = ?1 AND abandoned_at >= ?2 ORDER BY id",
            )
            .map_err(sql("listing abandoned copies"))?;
        let rows = stmt
            .query_map(params![collection, oldest], |row| {
                let side = match row.get::<_, String>(1)?.as_str() {
                    "a" => Side::A,
                    _ => Side::B,
                };
                let since_epoch = Duration::from_secs(row.get::<_, i64>(3)?.max(0).unsigned_abs());
                Ok(AbandonedCopy {
                    id: row.get(0)?,
                    side,
                    source_key: ItemKey::new(row.get::<_, String>(2)?),
                    abandoned_at: UNIX_EPOCH + since_epoch,
                })
            })
            .map_err(sql("listing abandoned copies"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("listing abandoned copies"))
    }

    /// Restarts the clock of the records `ids`: their late copies are still there (the side
    /// could not delete them), and must not be taken for new mail once a record expires.
    pub fn keep_abandoned_copies(&mut self, ids: &[i64]) -> Result<()> {
        let now = unix_seconds(SystemTime::now());
        for id in ids {
            self.conn
                .execute(
                    "UPDATE mail_abandoned_copies SET abandoned_at = ?2 WHERE id = ?1",
                    params![id, now],
                )
                .map_err(sql("keeping an abandoned copy"))?;
        }
        Ok(())
    }

    /// Drops the records `ids` (their late copies were removed) and every expired record.
    pub fn forget_abandoned_copies(&mut self, ids: &[i64]) -> Result<()> {
        let oldest = unix_seconds(SystemTime::now()) - KEEP.as_secs() as i64;
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        for id in ids {
            tx.execute("DELETE FROM mail_abandoned_copies WHERE id = ?1", [id])
                .map_err(sql("forgetting an abandoned copy"))?;
        }
        tx.execute(
            "DELETE FROM mail_abandoned_copies WHERE abandoned_at < ?1",
            [oldest],
        )
        .map_err(sql("expiring abandoned copies"))?;
        tx.commit().map_err(sql("committing"))
    }
}

fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::CollectionName;

    #[test]
    fn records_are_kept_per_collection_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut status = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let other = CollectionName::new("Other").unwrap();
        let id = status.collection_id(&inbox, &inbox).unwrap();
        let other_id = status.collection_id(&other, &other).unwrap();
        let keys = [ItemKey::new("k1"), ItemKey::new("k2")];
        status.record_abandoned_copies(id, Side::A, &keys).unwrap();
        status.record_abandoned_copies(id, Side::A, &[]).unwrap();
        let found = status.abandoned_copies(id).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].side, Side::A);
        assert_eq!(found[1].source_key, ItemKey::new("k2"));
        assert!(status.abandoned_copies(other_id).unwrap().is_empty());

        status.forget_abandoned_copies(&[found[0].id]).unwrap();
        let left = status.abandoned_copies(id).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].source_key, ItemKey::new("k2"));

        // Reopening keeps what was committed.
        drop(status);
        let status = StatusStore::open(dir.path(), "p").unwrap();
        assert_eq!(status.abandoned_copies(id).unwrap(), left);
    }
}
