//! The status store's files: the state directory, the database file and its companions
//! (`-wal`, `-shm`, `-journal`), and what an open makes of them when they are missing, empty,
//! damaged or on a full disk.
//!
//! A status that is gone is not harmless: the next run matches mail by content, deletes
//! nothing, and brings back whatever was deleted since the last sync. pimlink must never start
//! over *silently*, so a fresh database is only ever created where none exists, and it is
//! created under a temporary name and renamed into place once its schema is committed: a run
//! killed while creating it leaves no file behind that a later run could mistake for an empty
//! (0-byte) status. Any 0-byte, unreadable or damaged file is then someone else's doing, and an
//! error that names the file and says what to do.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, ErrorKind, Result};
use crate::private;

/// The companions SQLite keeps beside a database file, by suffix.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Below this many free bytes, an I/O error of the status store is reported as a full disk.
const NEARLY_FULL: u64 = 1 << 20;

/// How long a connection waits for another's write transaction before giving up: what
/// rusqlite's default busy timeout allowed.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How often a waiting connection tries again. SQLite's own busy handler backs off to 20-100 ms
/// between tries, so a folder's thread waiting on another's short commit (the lanes share the
/// status, `StatusStore::share`) slept long after the lock was free: 41 such sleeps, 0.25 s
/// summed, in one incremental run of the bench (bench/RESULTS.md, 2026-12-08 01:12).
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_micros(500);

/// SQLite's busy handler: try again every [`BUSY_RETRY`] until [`BUSY_WAIT`] has passed.
fn retry_soon(tries_so_far: i32) -> bool {
    let waited = BUSY_RETRY.saturating_mul(u32::try_from(tries_so_far).unwrap_or(u32::MAX));
    if waited >= BUSY_WAIT {
        return false;
    }
    std::thread::sleep(BUSY_RETRY);
    true
}

/// Creates the state directory (owner only) and any missing parent.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    private::dir_builder()
        .recursive(true)
        .create(dir)
        .map_err(|e| {
            disk_full_or(
                dir,
                Error::io(format!("creating state directory {}", dir.display()), e),
            )
        })
}

/// Whether the database at `path` exists; refuses one that cannot be a status (a 0-byte file,
/// a directory). Narrows the mode of an existing database and its companions to the owner's:
/// earlier versions created them with the umask, readable by everyone.
pub(crate) fn existing(path: &Path) -> Result<bool> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(unusable(
                path,
                &format!("it cannot be examined ({e})"),
                "check its owner and mode",
            ));
        }
    };
    if !meta.is_file() {
        return Err(unusable(path, "it is not a regular file", "move it away"));
    }
    if meta.len() == 0 {
        return Err(unusable(
            path,
            "it is empty (0 bytes), so what the last sync saw is lost: a crash of another \
             program, a full disk or a copy gone wrong may have truncated it",
            "restore it from a backup, or move it away",
        ));
    }
    for file in std::iter::once(path.to_owned()).chain(companions(path)) {
        narrow_mode(&file);
    }
    Ok(true)
}

/// Creates a new, migrated database at `path` through a temporary file (see the module
/// documentation). `init` configures and migrates it.
pub(crate) fn create(path: &Path, init: impl FnOnce(&mut Connection) -> Result<()>) -> Result<()> {
    let fresh = with_suffix(path, ".new");
    // Leftovers of a run killed while creating: nothing else uses these names.
    for leftover in std::iter::once(fresh.clone()).chain(companions(&fresh)) {
        let _ = std::fs::remove_file(leftover);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let in_dir = |error: Error| disk_full_or(dir, error);
    private::file_options()
        .write(true)
        .create_new(true)
        .open(&fresh)
        .map_err(|e| in_dir(Error::io(format!("creating {}", fresh.display()), e)))?;
    // SQLite creates the companions with the mode of the database file: 0600 too.
    let mut conn = open_existing(&fresh).map_err(in_dir)?;
    init(&mut conn).map_err(in_dir)?;
    // Closing the last connection checkpoints the WAL into the file and removes it.
    conn.close().map_err(|(_, e)| {
        in_dir(
            Error::new(
                ErrorKind::State,
                format!("closing the new status database {}", fresh.display()),
            )
            .with_source(e),
        )
    })?;
    let placed = std::fs::File::open(&fresh)
        .and_then(|file| file.sync_all())
        .and_then(|()| place(&fresh, path))
        .and_then(|()| std::fs::File::open(dir))
        .and_then(|dir| dir.sync_all());
    placed.map_err(|e| in_dir(Error::io(format!("creating {}", path.display()), e)))
}

/// Gives `fresh` the name `path`, never replacing a file there: a link fails if the name
/// exists. A file system without hard links gets a rename after a check; the pair's lock keeps
/// other pimlink runs away meanwhile.
fn place(fresh: &Path, path: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(fresh, path) {
        Ok(()) => std::fs::remove_file(fresh),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(_) if path.exists() => Err(std::io::ErrorKind::AlreadyExists.into()),
        Err(_) => std::fs::rename(fresh, path),
    }
}

/// A connection to the existing database at `path`, configured as every connection must be.
/// It never creates the file: a status that vanished is an error, not a fresh start.
pub(crate) fn open_existing(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| {
        unusable(
            path,
            &format!("it cannot be opened ({e})"),
            "check its owner and mode",
        )
    })?;
    conn.busy_handler(Some(retry_soon))
        .and_then(|()| conn.pragma_update(None, "journal_mode", "WAL"))
        .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
        .and_then(|()| conn.pragma_update(None, "foreign_keys", "ON"))
        .map_err(|e| opening_failed(path, e))?;
    Ok(conn)
}

/// The error for an SQLite failure while opening the database at `path`.
pub(crate) fn opening_failed(path: &Path, e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match e.sqlite_error_code() {
        Some(NotADatabase | DatabaseCorrupt) => unusable(
            path,
            &format!("it is damaged ({e})"),
            "restore it from a backup, or move it away",
        ),
        _ => disk_full_or(
            path.parent().unwrap_or(Path::new(".")),
            Error::new(
                ErrorKind::State,
                format!("opening status database {}", path.display()),
            )
            .with_source(e),
        ),
    }
}

/// A status file pimlink will not use, and why; `remedy` starts what the user can do about it.
fn unusable(path: &Path, why: &str, remedy: &str) -> Error {
    Error::new(
        ErrorKind::State,
        format!(
            "the state file {} cannot be used: {why}. pimlink does not start over on its own: \
             without it the next sync matches mail and items by content, deletes nothing, and \
             brings back whatever was deleted since the last sync. To go on, {remedy} (with its \
             -wal and -shm files, if any); a sync without it then starts afresh",
            path.display()
        ),
    )
}

/// `error`, or, when the file system holding `dir` is (nearly) full, an error saying so.
pub(crate) fn disk_full_or(dir: &Path, error: Error) -> Error {
    match free_bytes(dir) {
        Some(free) if free < NEARLY_FULL => Error::new(
            ErrorKind::State,
            format!(
                "the disk holding the state directory {} is full ({} KiB free); free some \
                 space and run again",
                dir.display(),
                free / 1024
            ),
        )
        .with_source(error),
        _ => error,
    }
}

/// Bytes an unprivileged writer may still use on the file system holding `dir` (or its nearest
/// existing ancestor); 0 when no inode is left.
fn free_bytes(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let stat = rustix::fs::statvfs(existing).ok()?;
    // File systems without an inode count (btrfs) report 0 files.
    if stat.f_files > 0 && stat.f_favail == 0 {
        return Some(0);
    }
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Takes group and other permissions off an existing status file (best effort: a file owned by
/// someone else stays as it is, and the open that follows says what is wrong, if anything).
pub(crate) fn narrow_mode(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        let narrowed = meta.permissions().mode() & 0o7700;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(narrowed));
    }
}

fn companions(path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    COMPANIONS
        .iter()
        .map(move |suffix| with_suffix(path, suffix))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::CollectionName;
    use crate::status::StatusStore;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_busy_status_is_retried_often_until_the_old_timeout_has_passed() {
        let tries = BUSY_WAIT.as_micros() / BUSY_RETRY.as_micros();
        let last = i32::try_from(tries).unwrap() - 1;
        assert!(retry_soon(0));
        assert!(retry_soon(last));
        assert!(!retry_soon(last + 1));
        assert!(!retry_soon(i32::MAX));
    }

    fn refusal(dir: &Path) -> String {
        let err = StatusStore::open(dir, "p").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State, "{err}");
        let message = err.to_string();
        let file = dir.join("p.sqlite");
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(
            message.contains("does not start over on its own"),
            "{message}"
        );
        message
    }

    #[test]
    fn an_empty_state_file_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.sqlite"), b"").unwrap();
        let message = refusal(dir.path());
        assert!(message.contains("empty (0 bytes)"), "{message}");
        // Still empty: nothing was written into it.
        assert_eq!(
            std::fs::metadata(dir.path().join("p.sqlite"))
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn a_damaged_or_unusable_state_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.sqlite"), b"not a database, just text\n").unwrap();
        assert!(refusal(dir.path()).contains("damaged"));
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(other.path().join("p.sqlite")).unwrap();
        assert!(refusal(other.path()).contains("not a regular file"));
    }

    #[test]
    fn a_new_status_is_owner_only_and_knows_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/deeper");
        let mut store = StatusStore::open(&state, "p").unwrap();
        assert!(store.knows_nothing().unwrap());
        let inbox = CollectionName::new("INBOX").unwrap();
        store.collection_id(&inbox, &inbox).unwrap();
        assert!(!store.knows_nothing().unwrap());
        for path in [state.clone(), dir.path().join("state")] {
            assert_eq!(mode(&path), 0o700, "{}", path.display());
        }
        for name in ["p.sqlite", "p.sqlite-wal", "p.sqlite-shm", "p.lock"] {
            assert_eq!(mode(&state.join(name)), 0o600, "{name}");
        }
        let names: Vec<String> = std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains(".new")), "{names:?}");
    }

    #[test]
    fn a_run_killed_while_creating_the_status_leaves_nothing_that_counts() {
        let dir = tempfile::tempdir().unwrap();
        // What a kill between creating the temporary file and renaming it leaves.
        std::fs::write(dir.path().join("p.sqlite.new"), b"").unwrap();
        std::fs::write(dir.path().join("p.sqlite.new-wal"), b"junk").unwrap();
        let store = StatusStore::open(dir.path(), "p").unwrap();
        assert!(store.knows_nothing().unwrap());
        assert!(!dir.path().join("p.sqlite.new").exists());
        assert!(!dir.path().join("p.sqlite.new-wal").exists());
    }

    #[test]
    fn an_existing_status_readable_by_others_is_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        drop(StatusStore::open(dir.path(), "p").unwrap());
        for name in ["p.sqlite", "p.lock"] {
            let path = dir.path().join(name);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let _store = StatusStore::open(dir.path(), "p").unwrap();
        assert_eq!(mode(&dir.path().join("p.sqlite")), 0o600);
        assert_eq!(mode(&dir.path().join("p.lock")), 0o600);
    }
}
