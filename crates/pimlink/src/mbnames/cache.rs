//! Which folders each mail pair holds on its local side, as its last run left them:
//! `STATE_DIR/mbnames/PAIR`, one folder name per line (names hold no control characters, so
//! no line break). The mailbox list is built from these files, so a run of one pair (or the
//! daemon's run of a few folders) still lists every pair's folders without opening any other
//! pair's status, whose lock another process may hold.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use pimlink_core::CollectionName;

use crate::atomic_file as atomic;

fn file(state_dir: &Path, pair: &str) -> PathBuf {
    state_dir.join("mbnames").join(pair)
}

/// The local folders recorded for `pair` (none if it never ran since).
pub fn read(state_dir: &Path, pair: &str) -> io::Result<BTreeSet<CollectionName>> {
    let Some(content) = atomic::read(&file(state_dir, pair))? else {
        return Ok(BTreeSet::new());
    };
    Ok(String::from_utf8_lossy(&content)
        .lines()
        .filter_map(|line| CollectionName::new(line).ok())
        .collect())
}

/// Records what a run of `pair` saw (`folders`: local name, present afterwards). A run of
/// every folder (`whole`) replaces the record; a narrowed run changes only the folders it saw.
/// Written only when it changes.
pub fn record(
    state_dir: &Path,
    pair: &str,
    folders: &[(CollectionName, bool)],
    whole: bool,
) -> io::Result<()> {
    let old = read(state_dir, pair)?;
    let mut new = if whole { BTreeSet::new() } else { old.clone() };
    for (name, present) in folders {
        if *present {
            new.insert(name.clone());
        } else {
            new.remove(name);
        }
    }
    let path = file(state_dir, pair);
    if new == old && path.exists() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        // Owner only, as the rest of the state directory, whatever the umask.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let text: String = new.iter().map(|name| format!("{name}\n")).collect();
    atomic::replace(&path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<CollectionName> {
        list.iter()
            .map(|n| CollectionName::new(*n).unwrap())
            .collect()
    }

    fn seen(list: &[(&str, bool)]) -> Vec<(CollectionName, bool)> {
        list.iter()
            .map(|(n, p)| (CollectionName::new(*n).unwrap(), *p))
            .collect()
    }

    #[test]
    fn a_whole_run_replaces_a_narrowed_one_amends() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        assert!(read(state, "p").unwrap().is_empty());
        record(
            state,
            "p",
            &seen(&[("INBOX", true), ("A b", true), ("Old", false)]),
            true,
        )
        .unwrap();
        assert_eq!(read(state, "p").unwrap(), names(&["INBOX", "A b"]));
        record(state, "p", &seen(&[("New", true), ("A b", false)]), false).unwrap();
        assert_eq!(read(state, "p").unwrap(), names(&["INBOX", "New"]));
        record(state, "p", &seen(&[("Only", true)]), true).unwrap();
        assert_eq!(read(state, "p").unwrap(), names(&["Only"]));
        assert!(read(state, "other").unwrap().is_empty());
    }
}
