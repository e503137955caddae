//! The per-pair lock that keeps two pimlink processes off the same pair.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// An exclusive lock on a pair, held for as long as this value lives.
///
/// It is an advisory `flock` on a file beside the status database: the kernel releases it when
/// the process dies, even by SIGKILL, so a crashed run never leaves a stale lock behind. The
/// file holds the owner's pid so that the refusal can say who is busy.
#[derive(Debug)]
pub struct PairLock {
    file: File,
    path: PathBuf,
}

impl PairLock {
    /// Takes the lock for `pair` at `path`, or fails at once with [`ErrorKind::Busy`].
    pub fn acquire(path: &Path, pair: &str) -> Result<PairLock> {
        let mut file = crate::private::file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(format!("opening lock file {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut owner = String::new();
                // The pid is only for the message; an unreadable one still means busy.
                let _ = file.read_to_string(&mut owner);
                let owner = owner.trim();
                let who = if owner.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {owner})")
                };
                return Err(Error::new(
                    ErrorKind::Busy,
                    format!("pair {pair} is busy{who}: another pimlink is syncing it"),
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}", path.display()), e));
            }
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .map_err(|e| Error::io(format!("writing lock file {}", path.display()), e))?;
        Ok(PairLock {
            file,
            path: path.to_owned(),
        })
    }

    /// Where the lock file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PairLock {
    fn drop(&mut self) {
        // Unlocking explicitly matters only within one process (tests); the kernel does it on exit.
        let _ = self.file.unlock();
    }
}
