//! Facts about mail items that never change for a key, cached for the limits:
//!
//! - `mail_dates` (migration 4): the far side's arrival dates that `max_messages` and `max_age`
//!   order by, fetched from the storage once per item; and, for the near side, when the pair
//!   first found an item there that the far side did not have (see `plan::limits::Arrivals`).
//!   Losing a far date only costs a fetch; losing a near one lets an upload rank by its far
//!   date.
//! - `mail_sizes` (migration 7): the far side's sizes of items `max_size` judges while the
//!   status knows them (held back or expired on the near side), which an incremental listing
//!   does not give: asking for them every run would cost a command per folder. Losing one only
//!   costs a fetch.
//!
//! Keys that are gone from their side are forgotten.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::CollectionId;
use crate::error::Result;
use crate::mail::item::ItemKey;
use crate::side::Side;
use crate::status::{StatusStore, sql};

/// One of the per-key caches; the names are constants, never input.
#[derive(Clone, Copy)]
enum Cache {
    Dates,
    Sizes,
}

impl Cache {
    fn table(self) -> &'static str {
        match self {
            Cache::Dates => "mail_dates",
            Cache::Sizes => "mail_sizes",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Cache::Dates => "date",
            Cache::Sizes => "size",
        }
    }
}

impl StatusStore {
    /// The cached dates of `side` of a collection.
    pub fn item_dates(
        &self,
        collection: CollectionId,
        side: Side,
    ) -> Result<HashMap<ItemKey, SystemTime>> {
        let seconds = self.cached(Cache::Dates, collection, side)?;
        Ok(seconds
            .into_iter()
            .map(|(key, s)| {
                (
                    key,
                    SystemTime::UNIX_EPOCH + Duration::from_secs(s.max(0).unsigned_abs()),
                )
            })
            .collect())
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
        let new: Vec<(ItemKey, i64)> = new
            .iter()
            .map(|(key, date)| {
                let seconds = date
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                (key.clone(), seconds)
            })
            .collect();
        self.update_cached(Cache::Dates, collection, side, &new, present)
    }

    /// The cached sizes of `side` of a collection.
    pub fn item_sizes(
        &self,
        collection: CollectionId,
        side: Side,
    ) -> Result<HashMap<ItemKey, u64>> {
        let sizes = self.cached(Cache::Sizes, collection, side)?;
        Ok(sizes
            .into_iter()
            .map(|(key, size)| (key, size.max(0).unsigned_abs()))
            .collect())
    }

    /// Records `new` sizes and forgets those of keys not in `present`, in one transaction.
    pub fn update_item_sizes(
        &mut self,
        collection: CollectionId,
        side: Side,
        new: &[(ItemKey, u64)],
        present: &HashSet<&ItemKey>,
    ) -> Result<()> {
        let new: Vec<(ItemKey, i64)> = new
            .iter()
            .map(|(key, size)| (key.clone(), i64::try_from(*size).unwrap_or(i64::MAX)))
            .collect();
        self.update_cached(Cache::Sizes, collection, side, &new, present)
    }

    fn cached(
        &self,
        cache: Cache,
        collection: CollectionId,
        side: Side,
    ) -> Result<HashMap<ItemKey, i64>> {
        let query = format!(
            "SELECT key, {} FROM {} WHERE collection = ?1 AND side = ?2",
            cache.column(),
            cache.table()
        );
        let mut stmt = self
            .conn
            .prepare(&query)
            .map_err(sql("reading cached item facts"))?;
        let rows = stmt
            .query_map(params![collection, side.as_str()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(sql("reading cached item facts"))?;
        let mut out = HashMap::new();
        for row in rows {
            let (key, value) = row.map_err(sql("reading cached item facts"))?;
            out.insert(ItemKey::new(key), value);
        }
        Ok(out)
    }

    fn update_cached(
        &mut self,
        cache: Cache,
        collection: CollectionId,
        side: Side,
        new: &[(ItemKey, i64)],
        present: &HashSet<&ItemKey>,
    ) -> Result<()> {
        let stale: Vec<ItemKey> = self
            .cached(cache, collection, side)?
            .into_keys()
            .filter(|key| !present.contains(key))
            .collect();
        if new.is_empty() && stale.is_empty() {
            return Ok(());
        }
        let (table, column) = (cache.table(), cache.column());
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        for key in &stale {
            tx.execute(
                &format!("DELETE FROM {table} WHERE collection = ?1 AND side = ?2 AND key = ?3"),
                params![collection, side.as_str(), key.as_str()],
            )
            .map_err(sql("forgetting a cached item fact"))?;
        }
        for (key, value) in new {
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO {table} (collection, side, key, {column})
                     VALUES (?1, ?2, ?3, ?4)"
                ),
                params![collection, side.as_str(), key.as_str(), value],
            )
            .map_err(sql("recording a cached item fact"))?;
        }
        tx.commit().map_err(sql("committing cached item facts"))
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

    #[test]
    fn sizes_round_trip_apart_from_dates_and_gone_keys_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let coll = store.collection_id(&inbox, &inbox).unwrap();
        let (k1, k2) = (ItemKey::new("1"), ItemKey::new("2"));
        let present: HashSet<&ItemKey> = [&k1, &k2].into_iter().collect();
        store
            .update_item_sizes(
                coll,
                Side::A,
                &[(k1.clone(), 10), (k2.clone(), 3 << 40)],
                &present,
            )
            .unwrap();
        let sizes = store.item_sizes(coll, Side::A).unwrap();
        assert_eq!((sizes[&k1], sizes[&k2]), (10, 3 << 40));
        assert!(store.item_dates(coll, Side::A).unwrap().is_empty());
        let present: HashSet<&ItemKey> = [&k2].into_iter().collect();
        store
            .update_item_sizes(coll, Side::A, &[], &present)
            .unwrap();
        assert_eq!(store.item_sizes(coll, Side::A).unwrap().len(), 1);
    }
}
