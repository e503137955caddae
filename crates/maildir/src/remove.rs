//! Removing an empty folder (a pair's `remove`: the folder was deleted on the other side).
//!
//! Only empty directories are removed (`remove_dir`, never a recursive delete), so a message
//! that arrived after the engine looked makes the removal fail instead of vanishing with it.
//! Sub-folders (verbatim layout) and files other tools keep in the folder stay; the folder then
//! is no maildir any more and lists as a mere parent.

use std::io;
use std::path::Path;

use pimlink_core::{Error, ErrorKind, Result};

use crate::fsutil::{fsync_dir, is_real_dir};

/// The marker file Maildir++ folders carry; pimlink creates it, so it removes it too.
const MARKER: &str = "maildirfolder";

/// Removes the maildir `dir` (under `root`) if it holds no messages; a missing one is fine.
pub(crate) fn remove_folder(root: &Path, dir: &Path) -> Result<()> {
    if dir == root || !dir.starts_with(root) {
        return Err(Error::new(
            ErrorKind::InvalidName,
            format!("{} is the Maildir root, never removed", dir.display()),
        ));
    }
    if !is_real_dir(dir) {
        return Ok(());
    }
    // tmp/ first, by looking only: a half-written delivery there must stop the removal before
    // cur/ and new/ are gone.
    let tmp = dir.join("tmp");
    match std::fs::read_dir(&tmp) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(not_empty(&tmp));
            }
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::io(format!("reading {}", tmp.display()), err)),
    }
    for sub in ["new", "cur", "tmp"] {
        let path = dir.join(sub);
        match std::fs::remove_dir(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) if err.kind() == io::ErrorKind::DirectoryNotEmpty => {
                return Err(not_empty(&path));
            }
            Err(err) => return Err(Error::io(format!("removing {}", path.display()), err)),
        }
    }
    let marker = dir.join(MARKER);
    match std::fs::remove_file(&marker) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(Error::io(format!("removing {}", marker.display()), err)),
    }
    fsync_dir(dir)?;
    match std::fs::remove_dir(dir) {
        Ok(()) => {
            if let Some(parent) = dir.parent() {
                fsync_dir(parent)?;
            }
        }
        // Sub-folders or other tools' files: the directory stays as a parent.
        Err(err) if err.kind() == io::ErrorKind::DirectoryNotEmpty => {}
        Err(err) => return Err(Error::io(format!("removing {}", dir.display()), err)),
    }
    Ok(())
}

fn not_empty(path: &Path) -> Error {
    Error::new(
        ErrorKind::Refused,
        format!(
            "{} is not empty (something arrived since the sync looked); the folder is kept",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildir(dir: &Path) {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
    }

    #[test]
    fn removes_an_empty_folder_but_keeps_children_and_messages() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let empty = root.join("Empty");
        maildir(&empty);
        std::fs::write(empty.join(MARKER), b"").unwrap();
        remove_folder(root, &empty).unwrap();
        assert!(!empty.exists());
        remove_folder(root, &empty).unwrap(); // already gone: fine

        let parent = root.join("Parent");
        maildir(&parent);
        maildir(&parent.join("Child"));
        remove_folder(root, &parent).unwrap();
        assert!(!parent.join("cur").exists());
        assert!(parent.join("Child/cur").is_dir(), "sub-folders stay");

        let full = root.join("Full");
        maildir(&full);
        std::fs::write(full.join("cur/1.x:2,S"), b"m").unwrap();
        let error = remove_folder(root, &full).unwrap_err();
        assert!(error.to_string().contains("not empty"), "{error}");
        assert!(full.join("cur/1.x:2,S").is_file());

        let half = root.join("Half");
        maildir(&half);
        std::fs::write(half.join("tmp/1.x"), b"m").unwrap();
        assert!(remove_folder(root, &half).is_err());
        assert!(
            half.join("cur").is_dir(),
            "nothing removed before tmp/ was checked"
        );

        assert!(remove_folder(root, root).is_err(), "never the root");
    }
}
