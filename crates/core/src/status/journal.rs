//! The run journal: how the pair's last runs ended and, per collection, when it last synced,
//! what changed and its last error, so that `pimlink status` can answer from the state store
//! alone, with no network. The runner writes it at the end of every real run
//! ([`StatusStore::record_run`]), and the binary when a pair could not be synced at all
//! ([`StatusStore::record_failure`]). [`JournalReader`] reads it without the pair's lock: a
//! run or the daemon may be working on the pair meanwhile (SQLite's WAL lets a reader see the
//! last committed state).

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{StatusStore, sql};
use crate::error::{Error, ErrorKind, Result};

/// Seconds since the Unix epoch: the journal's clock, for its writers and its readers.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs of a pair kept in the journal; older ones are dropped.
const KEPT_RUNS: i64 = 20;

/// One run of a pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEntry {
    /// When it ended, in seconds since the Unix epoch.
    pub finished_at: i64,
    /// `clean`, `partial`, `refused` or `failed` (nothing could be synced).
    pub outcome: String,
    /// Collections it looked at.
    pub collections: usize,
    /// Failures in them.
    pub errors: usize,
    /// What changed, in words.
    pub changes: String,
    /// Why a failed run failed.
    pub error: Option<String>,
}

/// The last run of one collection, as the runner records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionEntry {
    /// The pair's name for it.
    pub name: String,
    /// `clean`, `partial` or `refused`.
    pub outcome: String,
    /// What changed, in words.
    pub changes: String,
    /// Its failures in that run, each in words (the first is kept as its last error).
    pub errors: Vec<String>,
    /// Why a safety check withheld its changes.
    pub refused: Option<String>,
    /// Mail copies the pair's limits held back.
    pub held_back: usize,
    /// Calendar/contact conflicts left open.
    pub conflicts: usize,
}

/// A collection's line in the journal, as [`JournalReader`] reads it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionJournal {
    /// Its last run (`errors` holds at most its first error).
    pub last: CollectionEntry,
    /// When its last run ended.
    pub finished_at: i64,
    /// How many failures its last run had.
    pub error_count: usize,
    /// When it last synced without a failure or refusal.
    pub last_ok_at: Option<i64>,
    /// Its last failure, whenever it was, and when.
    pub last_error: Option<(String, i64)>,
}

impl StatusStore {
    /// Records a run that ended at `finished_at` (seconds since the epoch) and what it did in
    /// each collection, in one transaction.
    pub fn record_run(&mut self, run: &RunEntry, collections: &[CollectionEntry]) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(sql("recording the run in the journal"))?;
        insert_run(&tx, run)?;
        for c in collections {
            let ok = c.errors.is_empty() && c.refused.is_none();
            tx.execute(
                "INSERT INTO journal_collections (name, finished_at, outcome, changes, errors, \
                 last_ok_at, last_error, last_error_at, refused, held_back, conflicts) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
                 ON CONFLICT (name) DO UPDATE SET finished_at = ?2, outcome = ?3, changes = ?4, \
                 errors = ?5, last_ok_at = coalesce(?6, last_ok_at), \
                 last_error = coalesce(?7, last_error), \
                 last_error_at = coalesce(?8, last_error_at), refused = ?9, held_back = ?10, \
                 conflicts = ?11",
                params![
                    c.name,
                    run.finished_at,
                    c.outcome,
                    c.changes,
                    c.errors.len() as i64,
                    ok.then_some(run.finished_at),
                    c.errors.first(),
                    c.errors.first().map(|_| run.finished_at),
                    c.refused,
                    c.held_back as i64,
                    c.conflicts as i64,
                ],
            )
            .map_err(sql("recording a collection in the journal"))?;
        }
        tx.commit().map_err(sql("recording the run in the journal"))
    }

    /// Records a run that could not sync the pair at all (a storage that could not be opened
    /// or listed), with why.
    pub fn record_failure(&mut self, finished_at: i64, error: &str) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(sql("recording the failure in the journal"))?;
        insert_run(
            &tx,
            &RunEntry {
                finished_at,
                outcome: "failed".to_owned(),
                collections: 0,
                errors: 1,
                changes: "nothing".to_owned(),
                error: Some(error.to_owned()),
            },
        )?;
        tx.commit()
            .map_err(sql("recording the failure in the journal"))
    }
}

fn insert_run(conn: &Connection, run: &RunEntry) -> Result<()> {
    conn.execute(
        "INSERT INTO journal_runs (finished_at, outcome, collections, errors, changes, error) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            run.finished_at,
            run.outcome,
            run.collections as i64,
            run.errors as i64,
            run.changes,
            run.error,
        ],
    )
    .map_err(sql("recording the run in the journal"))?;
    conn.execute(
        "DELETE FROM journal_runs WHERE id <= (SELECT max(id) FROM journal_runs) - ?1",
        [KEPT_RUNS],
    )
    .map_err(sql("trimming the journal"))?;
    Ok(())
}

/// Reads a pair's journal without its lock.
#[derive(Debug)]
pub struct JournalReader {
    conn: Connection,
    /// False for a state file written before the journal existed (or by a run that has not
    /// finished its first migration): it reads as empty.
    has_journal: bool,
}

impl JournalReader {
    /// Opens the journal of `pair` in `dir` read-only; `None` if the pair has no state file
    /// (it never synced, or its state is elsewhere).
    pub fn open(dir: &Path, pair: &str) -> Result<Option<JournalReader>> {
        let path = dir.join(format!("{pair}.sqlite"));
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| {
            Error::new(
                ErrorKind::State,
                format!("{}: cannot open the state file to read it", path.display()),
            )
            .with_source(e)
        })?;
        // A run may hold a write transaction for a moment.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql("opening the journal"))?;
        let has_journal =
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'journal_runs'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map_err(|e| {
                Error::new(
                    ErrorKind::State,
                    format!("{}: not a readable state file", path.display()),
                )
                .with_source(e)
            })? > 0;
        Ok(Some(JournalReader { conn, has_journal }))
    }

    /// The last `n` runs, newest first.
    pub fn runs(&self, n: usize) -> Result<Vec<RunEntry>> {
        if !self.has_journal {
            return Ok(Vec::new());
        }
        let mut statement = self
            .conn
            .prepare(
                "SELECT finished_at, outcome, collections, errors, changes, error \
                 FROM journal_runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(sql("reading the journal"))?;
        let rows = statement
            .query_map([n as i64], |row| {
                Ok(RunEntry {
                    finished_at: row.get(0)?,
                    outcome: row.get(1)?,
                    collections: row.get::<_, i64>(2)? as usize,
                    errors: row.get::<_, i64>(3)? as usize,
                    changes: row.get(4)?,
                    error: row.get(5)?,
                })
            })
            .map_err(sql("reading the journal"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading the journal"))
    }

    /// When the pair last synced without any failure or refusal.
    pub fn last_clean(&self) -> Result<Option<i64>> {
        if !self.has_journal {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT max(finished_at) FROM journal_runs WHERE outcome = 'clean'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(sql("reading the journal"))
    }

    /// Every collection's line, by name.
    pub fn collections(&self) -> Result<Vec<CollectionJournal>> {
        if !self.has_journal {
            return Ok(Vec::new());
        }
        let mut statement = self
            .conn
            .prepare(
                "SELECT name, finished_at, outcome, changes, errors, last_ok_at, last_error, \
                 last_error_at, refused, held_back, conflicts \
                 FROM journal_collections ORDER BY name",
            )
            .map_err(sql("reading the journal"))?;
        let rows = statement
            .query_map([], |row| {
                let last_error: Option<String> = row.get(6)?;
                let last_error_at: Option<i64> = row.get(7)?;
                let errors = row.get::<_, i64>(4)? as usize;
                Ok(CollectionJournal {
                    last: CollectionEntry {
                        name: row.get(0)?,
                        outcome: row.get(2)?,
                        changes: row.get(3)?,
                        errors: if errors > 0 {
                            last_error.iter().cloned().collect()
                        } else {
                            Vec::new()
                        },
                        refused: row.get(8)?,
                        held_back: row.get::<_, i64>(9)? as usize,
                        conflicts: row.get::<_, i64>(10)? as usize,
                    },
                    finished_at: row.get(1)?,
                    error_count: errors,
                    last_ok_at: row.get(5)?,
                    last_error: last_error.zip(last_error_at),
                })
            })
            .map_err(sql("reading the journal"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(sql("reading the journal"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, errors: &[&str], refused: Option<&str>) -> CollectionEntry {
        CollectionEntry {
            name: name.to_owned(),
            outcome: if refused.is_some() {
                "refused"
            } else if errors.is_empty() {
                "clean"
            } else {
                "partial"
            }
            .to_owned(),
            changes: "1 copied a->b".to_owned(),
            errors: errors.iter().map(|e| e.to_string()).collect(),
            refused: refused.map(str::to_owned),
            held_back: 2,
            conflicts: 0,
        }
    }

    fn run(at: i64, outcome: &str) -> RunEntry {
        RunEntry {
            finished_at: at,
            outcome: outcome.to_owned(),
            collections: 2,
            errors: 0,
            changes: "nothing".to_owned(),
            error: None,
        }
    }

    #[test]
    fn a_collection_keeps_its_last_success_and_its_last_error_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut status = StatusStore::open(dir.path(), "p").unwrap();
        assert!(
            JournalReader::open(dir.path(), "p")
                .unwrap()
                .unwrap()
                .runs(5)
                .unwrap()
                .is_empty()
        );

        status
            .record_run(&run(100, "clean"), &[entry("INBOX", &[], None)])
            .unwrap();
        status
            .record_run(
                &run(200, "partial"),
                &[entry("INBOX", &["disk is full", "again"], None)],
            )
            .unwrap();
        status
            .record_run(
                &run(300, "refused"),
                &[entry("INBOX", &[], Some("emptied"))],
            )
            .unwrap();
        // Read while the pair is locked by a run: no lock is needed.
        let reader = JournalReader::open(dir.path(), "p").unwrap().unwrap();
        let inbox = &reader.collections().unwrap()[0];
        assert_eq!(inbox.finished_at, 300);
        assert_eq!(inbox.last.outcome, "refused");
        assert_eq!(inbox.last.refused.as_deref(), Some("emptied"));
        assert_eq!(inbox.last_ok_at, Some(100), "a refusal is no success");
        assert_eq!(inbox.last_error, Some(("disk is full".to_owned(), 200)));
        assert_eq!(inbox.error_count, 0, "the last run had no failure");
        assert_eq!(inbox.last.held_back, 2);
        let runs = reader.runs(10).unwrap();
        assert_eq!(
            runs.iter().map(|r| r.finished_at).collect::<Vec<_>>(),
            [300, 200, 100]
        );
        assert_eq!(reader.last_clean().unwrap(), Some(100));
    }

    #[test]
    fn a_failed_run_is_recorded_and_old_runs_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut status = StatusStore::open(dir.path(), "p").unwrap();
        for at in 0..30 {
            status.record_run(&run(at, "clean"), &[]).unwrap();
        }
        status
            .record_failure(99, "imap.example.org: connection refused")
            .unwrap();
        let reader = JournalReader::open(dir.path(), "p").unwrap().unwrap();
        let runs = reader.runs(100).unwrap();
        assert_eq!(runs.len(), KEPT_RUNS as usize);
        assert_eq!(runs[0].outcome, "failed");
        assert_eq!(
            runs[0].error.as_deref(),
            Some("imap.example.org: connection refused")
        );
        assert_eq!(reader.last_clean().unwrap(), Some(29));
    }

    #[test]
    fn a_pair_without_state_has_no_journal() {
        let dir = tempfile::tempdir().unwrap();
        assert!(JournalReader::open(dir.path(), "never").unwrap().is_none());
    }
}
