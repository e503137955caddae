//! The arrival dates of mail items, cached for the limits (`max_messages`, `max_age`): a key's
//! date never changes, so each is fetched from its storage once. Table `mail_dates`, created by
//! migration 4 in `schema.rs`. Losing the cache only costs a fetch.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::schema::sql;
use super::{CollectionId, StatusStore};
use crate::error::Result;
use crate::item::ItemKey;
use crate::side::Side;

impl StatusStore {
    /// The cached dates of `side` of a collection.
    pub fn item_dates(
        &self,
        collection: CollectionId,
        side: Side,
    ) -> Result<HashMap<ItemKey, SystemTime>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, date FROM mail_dates WHERE collection = ?1 AND side = ?2")
            .map_err(sql("reading item dates"))?;
        let rows = stmt
            .query_map(params![collection, side.as_str()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(sql("reading item dates"))?;
        let mut out = HashMap::new();
        for row in rows {
            let (key, seconds) = row.map_err(sql("reading item dates"))?;
            let date = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds.max(0).unsigned_abs());
            out.insert(ItemKey::new(key), date);
        }
        Ok(out)
    }

    /// Records `new` dates and forgets those of keys not in `present` (items gone), in one
    /// transaction.
    pub fn update_item_dates(
        &mut self,
        collection: CollectionId,
        side: Side,
        new: &[(ItemKey, SystemTime)],
        present: &HashSet<&ItemKey>,
    ) -> Result<()> {
        let stale: Vec<ItemKey> = self
            .item_dates(collection, side)?
            .into_keys()
            .filter(|key| !present.contains(key))
            .collect();
        if new.is_empty() && stale.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        for key in &stale {
            tx.execute(
                "DELETE FROM mail_dates WHERE collection = ?1 AND side = ?2 AND key = ?3",
                params![collection, side.as_str(), key.as_str()],
            )
            .map_err(sql("forgetting an item date"))?;
        }
        for (key, date) in new {
            let seconds = date
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            tx.execute(
                "INSERT OR REPLACE INTO mail_dates (collection, side, key, date)
                 VALUES (?1, ?2, ?3, ?4)",
                params![collection, side.as_str(), key.as_str(), seconds],
            )
            .map_err(sql("recording an item date"))?;
        }
        tx.commit().map_err(sql("committing item dates"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::CollectionName;

    #[test]
    fn dates_round_trip_and_gone_keys_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let coll = store.collection_id(&inbox, &inbox).unwrap();
        let (k1, k2) = (ItemKey::new("1"), ItemKey::new("2"));
        let day = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400);
        let present: HashSet<&ItemKey> = [&k1, &k2].into_iter().collect();
        store
            .update_item_dates(
                coll,
                Side::A,
                &[(k1.clone(), day), (k2.clone(), day)],
                &present,
            )
            .unwrap();
        assert_eq!(store.item_dates(coll, Side::A).unwrap().len(), 2);
        assert!(store.item_dates(coll, Side::B).unwrap().is_empty());
        let present: HashSet<&ItemKey> = [&k2].into_iter().collect();
        store
            .update_item_dates(coll, Side::A, &[], &present)
            .unwrap();
        let dates = store.item_dates(coll, Side::A).unwrap();
        assert_eq!(dates.len(), 1);
        assert_eq!(dates[&k2], day);
    }
}
