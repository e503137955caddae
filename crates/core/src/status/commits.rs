//! Counting the status's write transactions ([`StatusStore::commits`](super::StatusStore::commits)),
//! so that a test can hold the executor to its number of waits for the disk (each commit of
//! a changed page is a WAL fsync with `synchronous = FULL`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

use super::schema::sql;
use crate::error::Result;

/// One counter, shared by a store and its shares.
#[derive(Clone, Debug, Default)]
pub(super) struct Commits(Arc<AtomicU64>);

impl Commits {
    /// Counts every write transaction `conn` commits from now on.
    pub(super) fn count_on(&self, conn: &mut Connection) -> Result<()> {
        let counter = Arc::clone(&self.0);
        conn.commit_hook(Some(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            // false: let the commit go on.
            false
        }))
        .map_err(sql("counting the status's commits"))
    }

    pub(super) fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
