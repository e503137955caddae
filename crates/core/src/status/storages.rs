//! Which storage each side of a pair was when the status recorded what it knows.
//!
//! Every row of the status describes items of one particular storage: keys (UIDs under a
//! UIDVALIDITY, Maildir file names), stamps that let a run skip a collection, pairings. A
//! side pointed at another storage (a new server, an empty directory) would have those rows
//! taken for its own: its missing items read as deleted there, or its collections as
//! unchanged. So the status keeps each side's storage in words, and when one differs it forgets
//! everything it knew of the pair (the run journal stays) in the same transaction that records
//! the new storages: the next run is a first run, which matches items by content, never
//! deletes, and copies what one side lacks.

use rusqlite::{OptionalExtension, params};

use super::{StatusStore, sql};
use crate::error::Result;
use crate::side::{PerSide, Side};

/// A side whose storage is not the one the status recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageChange {
    /// The side.
    pub side: Side,
    /// The storage the status knew.
    pub was: String,
    /// The storage it is now.
    pub now: String,
}

/// Tables that are not knowledge of the pair's items: the run journal (what earlier runs did,
/// still true) and this module's own.
fn kept(table: &str) -> bool {
    table.starts_with("journal_") || table == "side_storages" || table.starts_with("sqlite_")
}

impl StatusStore {
    /// The sides whose storage differs from the one recorded. A side with none recorded (a new
    /// status, or one written before storages were recorded) has not changed.
    pub fn storage_changes(&self, now: &PerSide<String>) -> Result<Vec<StorageChange>> {
        let mut changes = Vec::new();
        for side in [Side::A, Side::B] {
            let was: Option<String> = self
                .conn
                .query_row(
                    "SELECT storage FROM side_storages WHERE side = ?1",
                    [side_text(side)],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql("reading the storages of the sides"))?;
            if let Some(was) = was
                && was != *now.get(side)
            {
                changes.push(StorageChange {
                    side,
                    was,
                    now: now.get(side).clone(),
                });
            }
        }
        Ok(changes)
    }

    /// Records `now` as the sides' storages; if one of them is not the recorded one, first
    /// forgets everything the status knew of the pair's collections and items, in the same
    /// transaction (a run killed here finds either the old status or a fresh one for the new
    /// storages). Returns the changed sides.
    pub fn note_storages(&mut self, now: &PerSide<String>) -> Result<Vec<StorageChange>> {
        let changes = self.storage_changes(now)?;
        let recorded: i64 = self
            .conn
            .query_row("SELECT count(*) FROM side_storages", [], |row| row.get(0))
            .map_err(sql("reading the storages of the sides"))?;
        if changes.is_empty() && recorded == 2 {
            return Ok(changes);
        }
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting to record the storages of the sides"))?;
        if !changes.is_empty() {
            // Newest tables first: those that refer to others were added after them.
            let tables: Vec<String> = tx
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid DESC")
                .and_then(|mut statement| {
                    statement
                        .query_map([], |row| row.get(0))?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(sql("listing the status tables"))?;
            for table in tables.iter().filter(|t| !kept(t)) {
                // The names come from the database's own schema, not from outside.
                tx.execute(&format!("DELETE FROM \"{table}\""), [])
                    .map_err(sql("forgetting the status of a changed storage"))?;
            }
        }
        for side in [Side::A, Side::B] {
            tx.execute(
                "INSERT INTO side_storages (side, storage) VALUES (?1, ?2) \
                 ON CONFLICT (side) DO UPDATE SET storage = excluded.storage",
                params![side_text(side), now.get(side)],
            )
            .map_err(sql("recording the storages of the sides"))?;
        }
        tx.commit()
            .map_err(sql("committing the storages of the sides"))?;
        Ok(changes)
    }
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::A => "a",
        Side::B => "b",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::CollectionName;

    fn storages(a: &str, b: &str) -> PerSide<String> {
        PerSide {
            a: a.to_owned(),
            b: b.to_owned(),
        }
    }

    fn rows(store: &StatusStore, table: &str) -> i64 {
        store
            .conn
            .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                r.get(0)
            })
            .unwrap()
    }

    #[test]
    fn a_side_pointed_elsewhere_makes_the_status_forget_the_pair_but_not_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let first = storages("imap://u@h:1", "maildir:/m");
        assert_eq!(store.note_storages(&first).unwrap(), []);
        let inbox = CollectionName::new("INBOX").unwrap();
        store.collection_id(&inbox, &inbox).unwrap();
        store.record_failure(1, "once").unwrap();

        // The same storages: nothing forgotten.
        assert_eq!(store.note_storages(&first).unwrap(), []);
        assert!(!store.knows_nothing().unwrap());

        let moved = storages("imap://u@h:1", "maildir:/new");
        let changes = store.note_storages(&moved).unwrap();
        assert_eq!(
            changes,
            [StorageChange {
                side: Side::B,
                was: "maildir:/m".into(),
                now: "maildir:/new".into()
            }]
        );
        assert!(store.knows_nothing().unwrap());
        let tables: Vec<String> = store
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for table in tables.iter().filter(|t| !kept(t)) {
            assert_eq!(rows(&store, table), 0, "{table} kept rows");
        }
        assert_eq!(rows(&store, "journal_runs"), 1);
        // Recorded: the next run with the new storage changes nothing.
        assert_eq!(store.note_storages(&moved).unwrap(), []);
    }

    #[test]
    fn a_status_without_recorded_storages_keeps_what_it_knows() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = StatusStore::open(dir.path(), "p").unwrap();
        let inbox = CollectionName::new("INBOX").unwrap();
        store.collection_id(&inbox, &inbox).unwrap();
        let now = storages("a", "b");
        assert_eq!(store.storage_changes(&now).unwrap(), []);
        assert_eq!(store.note_storages(&now).unwrap(), []);
        assert!(!store.knows_nothing().unwrap());
        assert_eq!(rows(&store, "side_storages"), 2);
    }
}
