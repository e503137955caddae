//! Status commits awaited instead of blocking the runtime.
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

use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::schema::sql;
use super::{CollectionId, ItemId, StatusChange, StatusStore, apply_in, set_states_in, settled};
use crate::error::{Error, ErrorKind, Result};
use crate::offthread;

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

/// Runs `job` with the connection `conn` on a new thread and awaits it; `conn` is back in place
/// when this returns. If no thread can be started, the job runs here. A job that panics
/// leaves no transaction open (dropping a rusqlite transaction rolls it back) and is reported
/// as an error.
async fn on_own_thread<T, F>(conn: &mut Connection, job: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
{
    // The connection is lent to the thread and a placeholder stands in meanwhile; the
    // placeholder has no tables, so a use of it by mistake fails instead of writing elsewhere.
    let placeholder = Connection::open_in_memory().map_err(sql("opening a placeholder"))?;
    let mut lent = std::mem::replace(conn, placeholder);
    // The job's panic is caught inside, so that the connection comes back either way.
    let returned = offthread::run("status-commit", move || {
        let result = catch_unwind(AssertUnwindSafe(|| job(&mut lent))).ok();
        (lent, result)
    })
    .await;
    match returned {
        Some((lent, result)) => {
            *conn = lent;
            result.unwrap_or_else(|| {
                Err(Error::new(
                    ErrorKind::State,
                    "writing the status failed unexpectedly; nothing of it was recorded".to_owned(),
                ))
            })
        }
        // Only if the thread died outside the job: the connection is gone with it.
        None => Err(Error::new(
            ErrorKind::State,
            "lost the connection to the status database while writing it".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
