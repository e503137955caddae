//! The status database's schema and its migrations.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A migration is appended, never
//! edited, so that every existing database can be brought forward step by step.

use rusqlite::Connection;

use crate::error::{Error, ErrorKind, Result};

/// The migrations, in order. Index `i` brings a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: collections paired by name, mail items paired by key with the flags last seen on both.
    "CREATE TABLE collections (
        id INTEGER PRIMARY KEY,
        name_a TEXT NOT NULL UNIQUE,
        name_b TEXT NOT NULL UNIQUE,
        -- Storage-specific state per side (UIDVALIDITY, HIGHESTMODSEQ, sync tokens).
        state_a TEXT,
        state_b TEXT
    );
    CREATE TABLE mail_items (
        id INTEGER PRIMARY KEY,
        collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        -- NULL only while a copy to that side is pending and the side chooses keys itself.
        key_a TEXT,
        key_b TEXT,
        -- The flags both sides had when they last agreed (Flags::to_status_text).
        flags TEXT NOT NULL,
        -- NULL when both sides hold the item; 'a' or 'b' while a copy to that side is in flight.
        pending TEXT CHECK (pending IN ('a', 'b')),
        UNIQUE (collection, key_a),
        UNIQUE (collection, key_b)
    );",
    // 2: calendar and contact collections (paired by id, with sync tokens per side) and their
    // items (paired by UID, with href, etag and normalised content hash per side), and the
    // collection metadata both sides last agreed on. The mail tables are not touched.
    "CREATE TABLE dav_collections (
        id INTEGER PRIMARY KEY,
        -- The pair's name for the collection (the id, or an alias from the configuration).
        name TEXT NOT NULL UNIQUE,
        id_a TEXT NOT NULL,
        id_b TEXT NOT NULL,
        -- RFC 6578 sync tokens, stored only after every change they reported was handled.
        token_a TEXT,
        token_b TEXT
    );
    CREATE TABLE dav_items (
        id INTEGER PRIMARY KEY,
        collection INTEGER NOT NULL REFERENCES dav_collections(id) ON DELETE CASCADE,
        uid TEXT NOT NULL,
        href_a TEXT NOT NULL,
        etag_a TEXT NOT NULL,
        hash_a TEXT NOT NULL,
        href_b TEXT NOT NULL,
        etag_b TEXT NOT NULL,
        hash_b TEXT NOT NULL,
        UNIQUE (collection, uid)
    );
    CREATE INDEX dav_items_href_a ON dav_items (collection, href_a);
    CREATE INDEX dav_items_href_b ON dav_items (collection, href_b);
    CREATE TABLE dav_meta (
        collection INTEGER NOT NULL REFERENCES dav_collections(id) ON DELETE CASCADE,
        property TEXT NOT NULL,
        -- NULL: both sides agreed the property is unset.
        value TEXT,
        PRIMARY KEY (collection, property)
    );",
    // 3: copies given up after an interrupted run, to a side that chooses its own keys (IMAP,
    // where the UID of an APPEND in flight is never learnt). The server may still finish the
    // old APPEND after the next run has listed the folder and copied again; the late message
    // is then recognised by the fingerprint of its source and removed, not taken for new mail.
    "CREATE TABLE mail_abandoned_copies (
        id INTEGER PRIMARY KEY,
        collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        -- The side the copy went to.
        side TEXT NOT NULL CHECK (side IN ('a', 'b')),
        -- The item's key on the other side.
        source_key TEXT NOT NULL,
        -- Unix seconds; old records expire (a late APPEND lands within minutes, not days).
        abandoned_at INTEGER NOT NULL
    );
    CREATE INDEX mail_abandoned_copies_collection ON mail_abandoned_copies (collection);",
    // 4: a mail item removed from one side by the pair's limits (max_messages, max_age) while
    // the other side keeps it. 'a' or 'b' names the side it was expired on; that side's key
    // stays set until the removal is durable, so an interrupted expiry is finished, never
    // mistaken for a deletion to propagate. And the arrival dates that max_messages/max_age
    // order by, per side and key, cached because they never change for a key and fetching them
    // every run would cost a command per folder that an unchanged folder otherwise does not need.
    "ALTER TABLE mail_items ADD COLUMN expired TEXT CHECK (expired IN ('a', 'b'));
    CREATE TABLE mail_dates (
        collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        side TEXT NOT NULL CHECK (side IN ('a', 'b')),
        key TEXT NOT NULL,
        -- Seconds since the Unix epoch.
        date INTEGER NOT NULL,
        PRIMARY KEY (collection, side, key)
    );",
    // 5: per side of a calendar/contact collection, the CollectionState (a server's getctag, or
    // a digest of a vdir's listing) it had when a clean sync last left both sides agreeing; a
    // later run that finds both unchanged skips the collection without reading its items.
    "ALTER TABLE dav_collections ADD COLUMN state_a TEXT;
    ALTER TABLE dav_collections ADD COLUMN state_b TEXT;",
    // 6: the stamps each side gave (without listing) before the last run that left a
    // collection settled, so that a later run seeing the same stamps skips the collection
    // without reading its rows or listing it (plan::unchanged). Dropped whenever a run leaves
    // the collection unsettled.
    "CREATE TABLE mail_settled (
        collection INTEGER PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
        token_a TEXT NOT NULL,
        -- The newest file time the stamp rests on, in nanoseconds since the Unix epoch; NULL for
        -- exact counters.
        newest_a INTEGER,
        token_b TEXT NOT NULL,
        newest_b INTEGER,
        -- When the stamps were taken, in nanoseconds since the Unix epoch.
        taken_at INTEGER NOT NULL,
        -- What shaped the plan (plan::unchanged::plan_fingerprint).
        fingerprint TEXT NOT NULL
    );",
    // 7: the sizes of mail items that max_size judges while the status knows them (held back or
    // expired on the near side), per side and key: an incremental listing gives no sizes for
    // known items, and a size never changes for a key.
    "CREATE TABLE mail_sizes (
        collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        side TEXT NOT NULL CHECK (side IN ('a', 'b')),
        key TEXT NOT NULL,
        -- Bytes.
        size INTEGER NOT NULL,
        PRIMARY KEY (collection, side, key)
    );",
    // 8: the run journal, for `pimlink status` (which reads it without the pair's lock, while a
    // run or the daemon works): the last runs of the pair (a few are kept), and per
    // collection its last run, its last success and its last error.
    "CREATE TABLE journal_runs (
        id INTEGER PRIMARY KEY,
        -- Seconds since the Unix epoch.
        finished_at INTEGER NOT NULL,
        -- clean | partial | refused | failed (the pair could not be synced at all)
        outcome TEXT NOT NULL,
        collections INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        -- What changed, in words (\"3 copied a->b, ...\").
        changes TEXT NOT NULL,
        -- For a failed run: why.
        error TEXT
    );
    CREATE TABLE journal_collections (
        -- The pair's name for the collection.
        name TEXT PRIMARY KEY,
        finished_at INTEGER NOT NULL,
        -- clean | partial | refused
        outcome TEXT NOT NULL,
        changes TEXT NOT NULL,
        errors INTEGER NOT NULL,
        last_ok_at INTEGER,
        last_error TEXT,
        last_error_at INTEGER,
        -- Why a safety check withheld its changes in the last run.
        refused TEXT,
        -- Mail: copies the limits held back in the last run. Calendars/contacts: 0.
        held_back INTEGER NOT NULL,
        -- Calendars/contacts: conflicts left open by the last run. Mail: 0.
        conflicts INTEGER NOT NULL
    );",
    // 9: which storage each side was when the status last recorded anything (status/storages.rs),
    // so that a side pointed at another storage is not taken for the one the rows describe.
    "CREATE TABLE side_storages (
        side TEXT PRIMARY KEY CHECK (side IN ('a', 'b')),
        -- The storage in words (kind, server and user, or a directory), never a secret.
        storage TEXT NOT NULL
    );",
];

/// The schema version this build writes.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to [`CURRENT_VERSION`], refusing one written by a newer pimlink.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: u32 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql("reading the schema version"))?;
    if version > CURRENT_VERSION {
        return Err(Error::new(
            ErrorKind::State,
            format!(
                "the status database has schema version {version}, newer than this pimlink \
                 understands ({CURRENT_VERSION}); upgrade pimlink"
            ),
        ));
    }
    if version == CURRENT_VERSION {
        return Ok(());
    }
    // All the missing migrations in one transaction: all or none of them is applied, as with
    // one transaction each, and a new status (every first run, an adoption's too) waits for
    // the disk once instead of once per migration.
    let tx = conn
        .transaction()
        .map_err(sql("starting a schema migration"))?;
    for migration in MIGRATIONS.iter().skip(version as usize) {
        tx.execute_batch(migration)
            .map_err(sql("applying a schema migration"))?;
    }
    tx.pragma_update(None, "user_version", CURRENT_VERSION)
        .map_err(sql("recording the schema version"))?;
    tx.commit().map_err(sql("committing a schema migration"))
}

/// Wraps an SQLite error with what was being done.
pub(crate) fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> Error {
    move |e| Error::new(ErrorKind::State, format!("status database: {context}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn counted(conn: &mut Connection) -> Arc<AtomicU64> {
        let commits = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&commits);
        conn.commit_hook(Some(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            false
        }))
        .unwrap();
        commits
    }

    fn version(conn: &Connection) -> u32 {
        conn.query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_status_gets_every_migration_in_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("s.sqlite")).unwrap();
        let commits = counted(&mut conn);
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), CURRENT_VERSION);
        assert_eq!(commits.load(Ordering::Relaxed), 1);
        migrate(&mut conn).unwrap();
        assert_eq!(
            commits.load(Ordering::Relaxed),
            1,
            "nothing to do: no commit"
        );
    }

    #[test]
    fn an_older_status_gets_the_missing_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("s.sqlite")).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO collections (name_a, name_b) VALUES ('x', 'x')",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn), CURRENT_VERSION);
        let kept: i64 = conn
            .query_row("SELECT count(*) FROM collections", [], |row| row.get(0))
            .unwrap();
        assert_eq!(kept, 1);
    }
}
