//! The change log on disk, with `sync_client`'s discipline: the log is renamed to
//! `<log>-run`, read, replicated, and only then removed; a `<log>-run` left by a crash is
//! replayed first. Whatever the writers append after the rename goes to a new `<log>`, read
//! next time, so no line is lost and none is read twice.
//!
//! Writers append one line at a time under an exclusive `flock` of the log, re-opening it
//! by name once they hold the lock (`flock LOG sh -c 'echo "USER alice" >> LOG'`): after the
//! rename, the reader takes the same lock on `<log>-run`, so a writer that opened the old
//! file finishes its line before the reader reads, and a writer that locks after the reader
//! writes into the new `<log>`.
//!
//! Not here: the lines' format (`changelog.rs`).

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::changelog::{self, Skipped, Work};

/// A change log and its `-run` file.
#[derive(Clone, Debug)]
pub struct ChangeLog {
    path: PathBuf,
    run: PathBuf,
}

/// A log taken for processing: what it names, until [`Taken::done`] removes it.
#[derive(Debug)]
pub struct Taken {
    /// The users and mailboxes it names.
    pub work: Work,
    /// Lines that named no one.
    pub skipped: Vec<Skipped>,
    /// True when it was a `-run` file left by an earlier run that stopped before the end.
    pub replayed: bool,
    run: PathBuf,
}

impl ChangeLog {
    /// The log at `path`; its run file is `path` with `-run` appended.
    pub fn new(path: &Path) -> Self {
        let mut run = path.as_os_str().to_owned();
        run.push("-run");
        Self {
            path: path.to_owned(),
            run: PathBuf::from(run),
        }
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next batch to process: a leftover run file first, else the log renamed to the run
    /// file. `None` when there is neither (nothing changed).
    pub fn take(&self) -> Result<Option<Taken>> {
        let replayed = exists(&self.run)?;
        if !replayed {
            match fs::rename(&self.path, &self.run) {
                Ok(()) => sync_dir(&self.run)?,
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!(
                            "renaming change log {} to {}",
                            self.path.display(),
                            self.run.display()
                        )
                    });
                }
            }
        }
        let bytes = read_locked(&self.run)
            .with_context(|| format!("reading change log {}", self.run.display()))?;
        let (work, skipped) = changelog::parse(&bytes);
        Ok(Some(Taken {
            work,
            skipped,
            replayed,
            run: self.run.clone(),
        }))
    }
}

impl Taken {
    /// Everything it names was replicated: removes the run file, durably (a crash before
    /// this replays it, which replicates again what is already identical).
    pub fn done(self) -> Result<()> {
        match fs::remove_file(&self.run) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("removing change log {}", self.run.display()));
            }
        }
        sync_dir(&self.run)
    }
}

/// Reads a log of names given on the command line (`-f FILE` without `-r`): it is not
/// renamed or removed.
pub fn read_names(path: &Path) -> Result<(Work, Vec<Skipped>)> {
    let bytes = read_locked(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(changelog::parse(&bytes))
}

/// The file's bytes, read under an exclusive lock: a writer that opened it before a rename
/// finishes its line first.
fn read_locked(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::options().read(true).write(true).open(path)?;
    file.lock()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    // Closing the file releases the lock.
    Ok(bytes)
}

fn exists(path: &Path) -> Result<bool> {
    path.try_exists()
        .with_context(|| format!("looking for {}", path.display()))
}

/// Makes a rename or removal in `path`'s directory durable.
fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(taken: &Taken) -> Vec<&str> {
        taken.work.users().map(|(user, _)| user).collect()
    }

    #[test]
    fn the_log_is_renamed_read_and_removed_and_later_lines_go_to_a_new_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = ChangeLog::new(&path);
        assert!(log.take().unwrap().is_none(), "no log yet");

        fs::write(
            &path,
            "USER alice\nMAILBOX \"bob b\" \"Sent Items\"\nUSER alice\n",
        )
        .unwrap();
        let taken = log.take().unwrap().unwrap();
        assert!(!taken.replayed);
        assert_eq!(users(&taken), ["alice", "bob b"]);
        assert!(!path.exists(), "renamed away");
        assert!(dir.path().join("log-run").exists());
        // A writer appending now starts a new log.
        fs::write(&path, "USER carol\n").unwrap();
        taken.done().unwrap();
        assert!(!dir.path().join("log-run").exists());

        let next = log.take().unwrap().unwrap();
        assert_eq!(users(&next), ["carol"]);
        next.done().unwrap();
        assert!(log.take().unwrap().is_none());
    }

    #[test]
    fn a_leftover_run_file_is_replayed_before_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(dir.path().join("log-run"), "USER crashed\n").unwrap();
        fs::write(&path, "USER later\n").unwrap();
        let log = ChangeLog::new(&path);

        let first = log.take().unwrap().unwrap();
        assert!(first.replayed);
        assert_eq!(users(&first), ["crashed"]);
        assert!(path.exists(), "the log waits for the next cycle");
        // Not done (a crash): the same run file comes back.
        drop(first);
        let again = log.take().unwrap().unwrap();
        assert_eq!(users(&again), ["crashed"]);
        again.done().unwrap();

        let second = log.take().unwrap().unwrap();
        assert!(!second.replayed);
        assert_eq!(users(&second), ["later"]);
    }

    #[test]
    fn an_empty_log_is_taken_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "").unwrap();
        let log = ChangeLog::new(&path);
        let taken = log.take().unwrap().unwrap();
        assert!(taken.work.is_empty() && taken.skipped.is_empty());
        taken.done().unwrap();
        assert!(log.take().unwrap().is_none());
    }

    #[test]
    fn names_given_with_f_are_read_and_left_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("names");
        fs::write(&path, "alice\n\"bob b\"\n").unwrap();
        let (work, skipped) = read_names(&path).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(work.users().count(), 2);
        assert!(path.exists());
        assert!(read_names(&dir.path().join("missing")).is_err());
    }

    /// A writer holding the lock (mid-line) delays the reader until its line is complete.
    #[test]
    fn the_reader_waits_for_a_writer_that_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "").unwrap();
        let mut writer = File::options().append(true).open(&path).unwrap();
        writer.lock().unwrap();
        io::Write::write_all(&mut writer, b"USER half").unwrap();
        let log = ChangeLog::new(&path);
        let reader = std::thread::spawn(move || log.take().unwrap().unwrap());
        // The reader renames, then blocks on the lock; the writer's file is now the run file.
        let run = dir.path().join("log-run");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !run.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the reader never renamed"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        io::Write::write_all(&mut writer, b"way\n").unwrap();
        writer.unlock().unwrap();
        let taken = reader.join().unwrap();
        assert_eq!(users(&taken), ["halfway"]);
    }
}
