//! The status store: what the last sync saw on both sides of a pair.
//!
//! One SQLite database per pair, in WAL mode with `synchronous = FULL`, so that a committed
//! record survives a crash or power loss. The executor records a change only after the side has
//! made it durable, and records an intent (a *pending* row) before every copy, which is how an
//! interrupted run is resumed without losing or duplicating an item.
//!
//! This module is only the database, shared by both wings: creating and opening it (`files.rs`,
//! owner-only modes), the pair's lock (`lock.rs`), the schema of every table and its
//! migrations (`schema.rs`), commits on a thread of their own (`offthread.rs`), and the run
//! journal (`journal.rs`: how the last runs ended, for `pimlink status`, readable without the
//! lock), and which storage each side was (`storages.rs`: a side pointed elsewhere makes the
//! status forget what it knew).
//!
//! A dry run works on [`StatusStore::dry_run_copy`]: the same writes as a real run, through
//! the same code, land in a private copy that is dropped at the end, so that what a dry run
//! shows cannot drift from what a real run records.
//!
//! Not here: what the rows mean. Each wing queries its own tables in `impl StatusStore` blocks
//! of its own: mail in `mail/status/` (`mail_items`, `collections`, settled records, dates,
//! abandoned copies), calendars and contacts in `dav/status.rs` (`dav_*`). This module imports
//! neither wing.

mod commits;
mod files;
mod journal;
mod lock;
mod offthread;
mod schema;
mod storages;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;

pub use journal::{CollectionEntry, CollectionJournal, JournalReader, RunEntry, unix_now};
pub use lock::PairLock;
pub(crate) use offthread::on_own_thread;
pub(crate) use schema::sql;
pub use storages::StorageChange;

use crate::error::{Error, ErrorKind, Result};

/// The status of one pair, locked for this process.
#[derive(Debug)]
pub struct StatusStore {
    // pub(crate): the wings keep their tables' queries in `impl StatusStore` blocks of their
    // own (mail/status/, dav/status.rs).
    pub(crate) conn: Connection,
    // Held for its Drop; the lock must outlive every write through `conn`. Shared by the
    // connections of one run (see `StatusStore::share`).
    _lock: Arc<PairLock>,
    // The database file, where `share` opens another connection.
    path: PathBuf,
    // For a dry run's copy: its private directory, removed when the last connection to the
    // copy is dropped.
    copy_dir: Option<Arc<tempfile::TempDir>>,
    // Write transactions committed through this connection and its shares.
    commits: commits::Commits,
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
        let commits = commits::Commits::default();
        commits.count_on(&mut conn)?;
        Ok(StatusStore {
            conn,
            _lock: Arc::new(lock),
            path,
            copy_dir: None,
            commits,
        })
    }

    /// A private copy of this status, under the same lock, for a dry run: it takes every write
    /// a real run would make, through the same code, and the status itself is never touched.
    /// The copy is a database file like the original (in an owner-only directory under the
    /// system's temp dir, so that [`Self::share`] works for lanes and writers wait for each
    /// other as they do on the original); it is removed when its last connection is dropped.
    pub fn dry_run_copy(&self) -> Result<StatusStore> {
        let dir = tempfile::Builder::new()
            .prefix("pimlink-dry-run.")
            .tempdir()
            .map_err(|e| {
                Error::new(
                    ErrorKind::State,
                    format!("cannot create a directory for the dry run's copy of the status: {e}"),
                )
            })?;
        let path = dir.path().join("status.sqlite");
        files::create(&path, |copy| {
            rusqlite::backup::Backup::new(&self.conn, copy)
                .and_then(|backup| backup.run_to_completion(1024, std::time::Duration::ZERO, None))
                .map_err(sql("copying the status for a dry run"))
        })?;
        let mut conn = files::open_existing(&path)?;
        let commits = commits::Commits::default();
        commits.count_on(&mut conn)?;
        let copy = StatusStore {
            conn,
            _lock: self._lock.clone(),
            path,
            copy_dir: Some(Arc::new(dir)),
            commits,
        };
        copy.skip_syncs()?;
        Ok(copy)
    }

    /// A copy is thrown away at the end of the run: waiting for the disk would only slow the
    /// dry run down.
    fn skip_syncs(&self) -> Result<()> {
        if self.copy_dir.is_some() {
            self.conn
                .pragma_update(None, "synchronous", "OFF")
                .map_err(sql("setting up the dry run's copy of the status"))?;
        }
        Ok(())
    }

    /// How many write transactions were committed through this store's connection and those
    /// [`Self::share`] opened, since it was opened: each is one WAL fsync when it changed a
    /// page. For tests and measurements of how often a run waits for the disk.
    pub fn commits(&self) -> u64 {
        self.commits.count()
    }

    /// True for a copy made by [`Self::dry_run_copy`].
    pub fn is_dry_run_copy(&self) -> bool {
        self.copy_dir.is_some()
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

    /// The database file (a dry run's copy has no file of its own worth naming).
    pub fn path(&self) -> Option<&Path> {
        self.copy_dir.is_none().then_some(self.path.as_path())
    }

    /// Another connection to the same status under the same lock, for collections synced
    /// concurrently: each writes its changes in transactions of its own, as one connection
    /// would. SQLite (in WAL mode) serialises the writes; every transaction begins and commits
    /// within one call, so a writer waits (in SQLite's busy handler) at most for another's
    /// commit, which may be running on a thread of its own (`offthread.rs`).
    pub fn share(&self) -> Result<StatusStore> {
        let mut conn = files::open_existing(&self.path)?;
        self.commits.count_on(&mut conn)?;
        let shared = StatusStore {
            conn,
            _lock: self._lock.clone(),
            path: self.path.clone(),
            copy_dir: self.copy_dir.clone(),
            commits: self.commits.clone(),
        };
        shared.skip_syncs()?;
        Ok(shared)
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

    fn count(store: &StatusStore) -> i64 {
        store
            .conn
            .query_row("SELECT count(*) FROM collections", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_dry_run_copy_takes_writes_the_original_never_sees_and_vanishes_after_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = StatusStore::open(dir.path(), "p").unwrap();
        store
            .conn
            .execute(
                "INSERT INTO collections (name_a, name_b) VALUES ('INBOX', 'INBOX')",
                [],
            )
            .unwrap();
        let copy = store.dry_run_copy().unwrap();
        assert!(copy.is_dry_run_copy() && !store.is_dry_run_copy());
        assert_eq!(copy.path(), None);
        assert_eq!(
            count(&copy),
            1,
            "the copy starts with what the status holds"
        );
        copy.conn
            .execute(
                "INSERT INTO collections (name_a, name_b) VALUES ('x', 'x')",
                [],
            )
            .unwrap();
        let lane = copy.share().unwrap();
        assert_eq!(
            count(&lane),
            2,
            "a shared connection sees the copy's writes"
        );
        assert_eq!(count(&store), 1, "the status itself is untouched");
        let copy_file = copy.path.clone();
        assert!(copy_file.exists());
        drop(copy);
        assert!(copy_file.exists(), "kept while a shared connection is open");
        drop(lane);
        assert!(!copy_file.exists(), "removed with its last connection");
        // The lock is still the original's: another open is busy while it lives.
        assert_eq!(
            StatusStore::open(dir.path(), "p").unwrap_err().kind(),
            ErrorKind::Busy
        );
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
