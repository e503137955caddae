//! The status store: what the last sync saw on both sides of a pair.
//!
//! One SQLite database per pair, in WAL mode with `synchronous = FULL`, so that a committed
//! record survives a crash or power loss. The executor records a change only after the side has
//! made it durable, and records an intent (a *pending* row) before every copy, which is how an
//! interrupted run is resumed without losing or duplicating an item.
//!
//! This module is only the database, shared by both wings: creating and opening it (`files.rs`,
//! owner-only modes), the pair's lock (`lock.rs`), the schema of every table and its
//! migrations (`schema.rs`), and commits on a thread of their own (`offthread.rs`).
//!
//! Not here: what the rows mean. Each wing queries its own tables in `impl StatusStore` blocks
//! of its own: mail in `mail/status/` (`mail_items`, `collections`, settled records, dates,
//! abandoned copies), calendars and contacts in `dav/status.rs` (`dav_*`). This module imports
//! neither wing.

mod files;
mod lock;
mod offthread;
mod schema;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use lock::PairLock;
pub(crate) use offthread::on_own_thread;
pub(crate) use schema::sql;

use crate::error::{Error, ErrorKind, Result};

/// The status of one pair, locked for this process.
#[derive(Debug)]
pub struct StatusStore {
    // pub(crate): the wings keep their tables' queries in `impl StatusStore` blocks of their
    // own (mail/status/, dav/status.rs).
    pub(crate) conn: Connection,
    // Held for its Drop; the lock must outlive every write through `conn`. Shared by the
    // connections of one run (see `StatusStore::share`).
    _lock: std::sync::Arc<PairLock>,
}

impl StatusStore {
    /// Opens the status of `pair` in `dir`, taking the pair's lock first. The directory and
    /// the database are created (owner only) if they do not exist; a database file that exists
    /// but is empty, damaged or unreadable is an [`ErrorKind::State`] error naming it, never a
    /// fresh start (see `files.rs`).
    pub fn open(dir: &Path, pair: &str) -> Result<StatusStore> {
        files::create_dir(dir)?;
        let lock_path = dir.join(format!("{pair}.lock"));
        let lock = PairLock::acquire(&lock_path, pair).map_err(|e| match e.kind() {
            ErrorKind::Busy => e,
            _ => files::disk_full_or(dir, e),
        })?;
        files::narrow_mode(&lock_path);
        let path = dir.join(format!("{pair}.sqlite"));
        if !files::existing(&path)? {
            files::create(&path, |conn| {
                schema::migrate(conn).map_err(|e| e.context(path.display()))
            })?;
        }
        let mut conn = files::open_existing(&path)?;
        schema::migrate(&mut conn)
            .map_err(|e| files::disk_full_or(dir, e.context(path.display())))?;
        Ok(StatusStore {
            conn,
            _lock: std::sync::Arc::new(lock),
        })
    }

    /// True if the status records no collection of either kind: the pair never synced, or its
    /// state was lost. A run then matches items by content (see `files.rs` for what that
    /// implies), which the caller should tell the user about.
    pub fn knows_nothing(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM collections) \
                 AND NOT EXISTS (SELECT 1 FROM dav_collections)",
                [],
                |row| row.get(0),
            )
            .map_err(sql("reading the collections"))
    }

    /// The database file.
    pub fn path(&self) -> Option<&Path> {
        self.conn.path().map(Path::new)
    }

    /// Another connection to the same status under the same lock, for collections synced
    /// concurrently: each writes its changes in transactions of its own, as one connection
    /// would. SQLite (in WAL mode) serialises the writes; every transaction begins and commits
    /// within one call, so a writer waits (in SQLite's busy handler) at most for another's
    /// commit, which may be running on a thread of its own (`offthread.rs`).
    pub fn share(&self) -> Result<StatusStore> {
        let path = self.conn.path().map(PathBuf::from).ok_or_else(|| {
            Error::new(ErrorKind::State, "the status database has no file to share")
        })?;
        Ok(StatusStore {
            conn: files::open_existing(&path)?,
            _lock: self._lock.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_of_a_pair_is_busy_with_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _first = StatusStore::open(dir.path(), "work").unwrap();
        let err = StatusStore::open(dir.path(), "work").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Busy);
        let message = err.to_string();
        assert!(message.contains("pair work is busy"), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        // Another pair is independent.
        StatusStore::open(dir.path(), "other").unwrap();
    }

    #[test]
    fn lock_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        drop(StatusStore::open(dir.path(), "p").unwrap());
        StatusStore::open(dir.path(), "p").unwrap();
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(StatusStore::open(dir.path(), "p").unwrap());
        let conn = Connection::open(dir.path().join("p.sqlite")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = StatusStore::open(dir.path(), "p").unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }
}
