//! Mail status commits awaited instead of blocking the runtime (the thread itself is the
//! floor's `status::on_own_thread`).
//!
//! Why: the engine runs on one thread, and lanes (`exec/lanes.rs`) interleave at their awaits.
//! A commit waits for the disk (the WAL's fsync, `synchronous = FULL`); made on the runtime's
//! thread it stops every other lane's listing, round trips and writes until the disk answers,
//! so a run with many changed collections paid its commits one after another. Made on a
//! thread of its own and awaited, the other lanes go on meanwhile, and the commits of several
//! lanes can share one flush of the file system's journal. The transaction is the same, on the
//! same connection, so what is durable when the call returns does not change.
//!
//! Another lane's connection that wants to write while such a commit holds the database waits
//! in SQLite's busy handler (5 s by default) as it would for any writer.

use super::collections::set_states_in;
use super::items::apply_in;
use super::{CollectionId, ItemId, StatusChange, settled};
use crate::error::Result;
use crate::status::{StatusStore, on_own_thread, sql};

impl StatusStore {
    /// [`StatusStore::apply`], committed on a thread of its own.
    pub async fn apply_awaited(&mut self, changes: Vec<StatusChange>) -> Result<Vec<ItemId>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        on_own_thread(&mut self.conn, move |conn| {
            let tx = conn.transaction().map_err(sql("starting a transaction"))?;
            let created = apply_in(&tx, &changes)?;
            tx.commit().map_err(sql("committing"))?;
            Ok(created)
        })
        .await
    }

    /// [`StatusStore::apply_and_set_states`], committed on a thread of its own.
    pub async fn apply_and_set_states_awaited(
        &mut self,
        changes: Vec<StatusChange>,
        id: CollectionId,
        state_a: Option<String>,
        state_b: Option<String>,
    ) -> Result<()> {
        on_own_thread(&mut self.conn, move |conn| {
            let tx = conn.transaction().map_err(sql("starting a transaction"))?;
            apply_in(&tx, &changes)?;
            set_states_in(&tx, id, state_a.as_deref(), state_b.as_deref())?;
            settled::forget_settled_in(&tx, id)?;
            tx.commit().map_err(sql("committing"))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::mail::flags::Flags;
    use crate::mail::item::ItemKey;
    use crate::name::CollectionName;
    use crate::side::Side;

    fn pair(collection: CollectionId, key: &str) -> StatusChange {
        StatusChange::Pair {
            collection,
            key_a: ItemKey::new(key),
            key_b: ItemKey::new(key),
            flags: Flags::new(),
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn awaited_writes_commit_and_give_the_connection_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        runtime().block_on(async {
            let created = store
                .apply_awaited(vec![StatusChange::BeginCopy {
                    collection: id,
                    to: Side::B,
                    source_key: ItemKey::new("1"),
                    reserved_key: Some(ItemKey::new("r")),
                    flags: Flags::new(),
                }])
                .await
                .unwrap();
            assert_eq!(created.len(), 1);
            store
                .apply_and_set_states_awaited(vec![pair(id, "2")], id, Some("sa".to_owned()), None)
                .await
                .unwrap();
        });
        // Committed: another connection sees it, and this store's connection is the real one.
        let other = store.share().unwrap();
        assert_eq!(other.items(id).unwrap().len(), 2);
        assert_eq!(store.items(id).unwrap().len(), 2);
        assert_eq!(
            store.collection_state(id, Side::A).unwrap().as_deref(),
            Some("sa")
        );
    }

    #[test]
    fn a_failed_awaited_write_records_nothing_and_keeps_the_store_usable() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        let id = store.collection_id(&inbox, &inbox).unwrap();
        let runtime = runtime();
        // The second change names a collection that does not exist: the transaction fails
        // as a whole.
        let result = runtime.block_on(store.apply_awaited(vec![pair(id, "1"), pair(id + 99, "2")]));
        assert!(result.is_err());
        assert!(store.items(id).unwrap().is_empty());
        // A panicking job is an error, and the connection survives it.
        let result: Result<()> = runtime.block_on(on_own_thread(&mut store.conn, |_| {
            panic!("a job that panics")
        }));
        assert_eq!(result.unwrap_err().kind(), ErrorKind::State);
        runtime
            .block_on(store.apply_awaited(vec![pair(id, "3")]))
            .unwrap();
        assert_eq!(store.items(id).unwrap().len(), 1);
    }
}
