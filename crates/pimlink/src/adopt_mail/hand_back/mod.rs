//! Handing a tree back to the tool pimlink adopted it from (issue 16), so that a user can go
//! back: after each sync, the other tool's state in (or for) the pair's Maildir tree is
//! brought up to date with what pimlink transferred, and the files pimlink wrote are named as
//! that tool names its own. Run after pimlink, the other tool then has nothing to copy.
//!
//! One module per tool (`mbsync.rs`: `.mbsyncstate` and `,U=` names in a `SyncState *` tree;
//! `offlineimap.rs`: its LocalStatus databases and `,U=,FMD5=` names). Only folders whose
//! files changed since the tool's state was last written are handed back, so a sync that
//! changed nothing costs a few `stat` calls per folder.

mod mbsync;
mod offlineimap;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result};
use pimlink_core::own_writes;

use crate::config::{AdoptMode, Config, PairConfig};

/// After a (real) sync of `pair`: brings mbsync's or OfflineIMAP's state for the pair's
/// Maildir tree up to date, if either keeps one. A failure is a warning: the sync itself went
/// through, and only a later run of the other tool would be affected (it would copy some
/// messages once more).
pub fn after_sync(config: &Config, pair: &PairConfig) {
    if pair.adopt == AdoptMode::Never {
        return;
    }
    let Some((server, maildir)) = super::sides(config, pair) else {
        return;
    };
    if !maildir.path.is_dir() {
        return;
    }
    let warn = |tool: &str, error: anyhow::Error| {
        eprintln!(
            "pimlink: {}: warning: {tool}'s state for {} is not brought up to date \
             ({error:#}); a {tool} run now would copy the messages pimlink transferred once more",
            pair.name,
            maildir.path.display()
        );
    };
    match mbsync::hand_back(config, pair, server, maildir) {
        // A tree mbsync keeps is not also OfflineIMAP's (adoption looks for mbsync first too).
        Ok(true) => return,
        Ok(false) => {}
        Err(error) => return warn("mbsync", error),
    }
    if let Err(error) = offlineimap::hand_back(config, pair, server, maildir) {
        warn("OfflineIMAP", error);
    }
}

/// True if `state` (a tool's state for the folder at `dir`) is missing or older than a change
/// of the folder's files: a file arrived, left or was renamed in `cur/` or `new/` since (the
/// tools and the hand-back write the state after the files).
fn changed_since(dir: &Path, state: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let Some(written) = modified(state) else {
        return true;
    };
    ["cur", "new"]
        .iter()
        .filter_map(|sub| modified(&dir.join(sub)))
        .any(|changed| changed >= written)
}

/// The server key `uidvalidity:uid` as the IMAP store writes it.
fn parse_server_key(key: &str) -> Option<(u32, u32)> {
    let (validity, uid) = key.split_once(':')?;
    Some((validity.parse().ok()?, uid.parse().ok()?))
}

/// Replaces `dir/name` with `text` durably (`crate::atomic_file`: a private temporary file,
/// hidden, so that neither mbsync nor pimlink takes a leftover for a state file).
fn write_durably(dir: &Path, name: &str, text: &str) -> Result<()> {
    let target = dir.join(name);
    crate::atomic_file::replace(&target, text.as_bytes())
        .with_context(|| format!("replacing {}", target.display()))
}

/// A folder's message files as (`new` or `cur`, name), dot-files left out.
fn message_files(dir: &Path) -> Result<Vec<(&'static str, String)>> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let path = dir.join(sub);
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).with_context(|| format!("listing {}", path.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", path.display()))?;
            if let Some(name) = entry.file_name().to_str()
                && !name.starts_with('.')
            {
                files.push((sub, name.to_owned()));
            }
        }
    }
    Ok(files)
}

fn fsync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|handle| handle.sync_all())
        .with_context(|| format!("syncing the directory {}", dir.display()))
}

/// Each file (by its position) under the keys pimlink's status may know it by: its unique
/// part, and that part without the other tool's numbering (`bare`, the key a file had before
/// it was numbered). A key two files claim maps to neither.
fn index_by_key<'a>(
    keys: impl Iterator<Item = (&'a str, Option<String>)>,
) -> HashMap<String, usize> {
    let mut exact: HashMap<String, Option<usize>> = HashMap::new();
    let mut unnumbered: HashMap<String, Option<usize>> = HashMap::new();
    let claim = |claimed: &mut Option<usize>| *claimed = None;
    for (index, (unique, bare)) in keys.enumerate() {
        exact
            .entry(unique.to_owned())
            .and_modify(claim)
            .or_insert(Some(index));
        if let Some(bare) = bare.filter(|bare| bare != unique) {
            unnumbered
                .entry(bare)
                .and_modify(claim)
                .or_insert(Some(index));
        }
    }
    let mut out: HashMap<String, usize> = exact
        .into_iter()
        .filter_map(|(key, index)| Some((key, index?)))
        .collect();
    for (key, index) in unnumbered {
        if let Some(index) = index {
            out.entry(key).or_insert(index);
        }
    }
    out
}

/// Renames each `(from, to)` file name in `dir/sub`, then syncs the directories; the names
/// that were renamed. A file gone meanwhile (a mail reader renamed or removed it) is skipped:
/// it gets no record, and the next sync's hand-back numbers it under its new name.
fn rename_all(dir: &Path, renames: &[(&'static str, String, String)]) -> Result<HashSet<String>> {
    let mut done = HashSet::new();
    for (sub, from, to) in renames {
        let (from_path, to_path) = (dir.join(sub).join(from), dir.join(sub).join(to));
        // Announced, so that the daemon's watcher does not take the renames for a reader's.
        let events = [
            (from_path.as_path(), own_writes::Event::Leave),
            (to_path.as_path(), own_writes::Event::Arrive),
        ];
        match own_writes::during(&events, || std::fs::rename(&from_path, &to_path)) {
            Ok(()) => {
                done.insert(to.clone());
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err).with_context(|| format!("renaming {}", from_path.display()));
            }
        }
    }
    if !renames.is_empty() {
        for sub in ["cur", "new"] {
            fsync_dir(&dir.join(sub))?;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_changes_after_its_state_was_written() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let state = dir.path().join("state");
        assert!(changed_since(dir.path(), &state));
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&state, "x").unwrap();
        assert!(!changed_since(dir.path(), &state));
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("cur").join("n"), "m").unwrap();
        assert!(changed_since(dir.path(), &state));
    }

    #[test]
    fn server_keys() {
        assert_eq!(parse_server_key("17:42"), Some((17, 42)));
        assert_eq!(parse_server_key("x"), None);
    }
}
