//! Handing a tree back to mbsync: mbsync, run after pimlink, finds every message pimlink
//! transferred in its state and has nothing to do, instead of copying each of them once more in
//! both directions.
//!
//! mbsync (`SyncState *`) keeps `.mbsyncstate` in each folder, pairing a server UID with the
//! folder's own Maildir UID, which it writes into the file name as `,U=<n>` and counts in
//! `.uidvalidity`. After a sync, each folder of a tree mbsync keeps whose files changed since
//! its state was written gets:
//! 1. a `,U=` UID for each file pimlink wrote (counted in `.uidvalidity` first, so a crash never
//!    hands one UID out twice; pimlink itself still knows the renamed files, see
//!    `pimlink_maildir`'s `renamed.rs`);
//! 2. a state file rewritten from pimlink's status: one record per message both sides hold.
//!
//! Each write is durable before the next step, and the state file is replaced by rename: an
//! interrupted hand-back leaves mbsync's old state (which pimlink's next run replaces) or the
//! new one, never half of one. A folder is left alone while mbsync's own journal says it was
//! interrupted. State mbsync keeps in a `SyncState` directory (by default `~/.mbsync/`) is
//! handed back too, once mbsync has written some there for the tree's channel
//! (`mbsync_place.rs` finds the channel in mbsync's configuration).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use pimlink_core::Side;
use pimlink_core::mail::status::StatusItem;
use pimlink_core::runner::PairRun;
use pimlink_foreign::state::mbsync::{self as state, FolderState, Record};
use pimlink_maildir::Names;

use super::super::mbsync_place::{Place, box_name, locate};
use super::{changed_since, message_files, parse_server_key, rename_all, write_durably};
use crate::config::{Config, MaildirConfig, PairConfig};

/// Hands the folders back whose files changed since mbsync's state was written; false if
/// mbsync keeps no state for this tree.
pub(super) fn hand_back(
    config: &Config,
    pair: &PairConfig,
    server: Side,
    maildir: &MaildirConfig,
) -> Result<bool> {
    let (store, folders) = super::super::open_tree(maildir)?;
    let mut dirs = Vec::new();
    for folder in folders.iter().filter(|folder| folder.selectable) {
        dirs.push((folder.name.clone(), store.collection_path(&folder.name)?));
    }
    let paths: Vec<PathBuf> = dirs.iter().map(|(_, dir)| dir.clone()).collect();
    // Only a tree mbsync keeps state for is handed back; in a `SyncState` directory, only
    // once mbsync has written some there for this tree's channel.
    let place = match locate(&maildir.path, &paths) {
        Some(Place::Dir(dir)) if dir.files.is_empty() => return Ok(false),
        Some(place) => place,
        None => return Ok(false),
    };
    let run = PairRun::lock(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    let status = run.status();
    let local = server.other();
    let collections = status.collections()?;
    for (name, dir) in &dirs {
        let Some(collection) = collections.iter().find(|c| match local {
            Side::A => &c.name_a == name,
            Side::B => &c.name_b == name,
        }) else {
            continue;
        };
        let state_path = match &place {
            Place::InTree => dir.join(state::STATE_FILE),
            Place::Dir(state_dir) => {
                let server_name = match server {
                    Side::A => &collection.name_a,
                    Side::B => &collection.name_b,
                };
                state_dir.file_for(
                    &box_name(name, maildir.tree.names),
                    &box_name(server_name, Names::ImapUtf7),
                )
            }
        };
        if !changed_since(dir, &state_path) {
            continue;
        }
        let items = status.items(collection.id)?;
        let server_state = status.collection_state(collection.id, server)?;
        hand_back_folder(dir, &state_path, server, &items, server_state.as_deref())
            .with_context(|| format!("folder {name}"))?;
    }
    Ok(true)
}

/// Rewrites one folder's state from pimlink's `items`; `None` if the folder was left alone
/// (mbsync's journal), else how many files were numbered.
fn hand_back_folder(
    dir: &Path,
    state_path: &Path,
    server: Side,
    items: &[StatusItem],
    server_state: Option<&str>,
) -> Result<Option<usize>> {
    let mut journal = state_path.as_os_str().to_owned();
    journal.push(".journal");
    if Path::new(&journal).exists() {
        // mbsync replays its journal over the state file; a state written now would be
        // corrupted by that replay. mbsync's next run finishes its own work first.
        return Ok(None);
    }
    let old = match state_path.is_file() {
        true => Some(state::read_state(state_path)?),
        false => None,
    };
    let counter = state::read_uid_counter(dir)?;
    let (near_validity, mut max_uid) = counter.unwrap_or_else(|| (new_uid_validity(), 0));
    let files = message_files(dir)?;
    let near_uids: Vec<Option<u32>> = files
        .iter()
        .map(|(_, name)| state::near_uid(name))
        .collect();
    let by_key = super::index_by_key(files.iter().zip(&near_uids).map(|((_, name), near)| {
        let unique = unique_part(name);
        (unique, near.map(|_| without_near_uid(unique)))
    }));

    let mut far_validity = server_state.and_then(uid_validity_of_state);
    let mut records = Vec::new();
    let mut numbering: Vec<(usize, u32)> = Vec::new();
    let local = server.other();
    for item in items {
        if item.pending.is_some() || item.expired.is_some() {
            continue;
        }
        let (Some(server_key), Some(local_key)) = (item.key(server), item.key(local)) else {
            continue;
        };
        let Some((validity, far)) = parse_server_key(server_key.as_str()) else {
            continue;
        };
        far_validity.get_or_insert(validity);
        let Some(&index) = by_key.get(local_key.as_str()) else {
            // Gone locally since the sync: no record, as mbsync keeps none for it either.
            continue;
        };
        let near = match near_uids[index] {
            Some(near) => near,
            None => {
                max_uid += 1;
                numbering.push((index, max_uid));
                max_uid
            }
        };
        records.push(Record {
            far,
            near,
            flags: item.flags.maildir_letters(),
            ..Record::default()
        });
    }
    let Some(far_validity) = far_validity.or(old.as_ref().map(|old| old.far_uid_validity)) else {
        // Neither a message nor a listing says which server folder this is: nothing to hand.
        return Ok(None);
    };

    // 1. Count the UIDs before any file carries one.
    if !numbering.is_empty() || counter.is_none() {
        write_durably(
            dir,
            state::UIDVALIDITY_FILE,
            &state::render_uid_counter(near_validity, max_uid),
        )?;
    }
    // 2. Number the files pimlink wrote.
    let renames: Vec<(&'static str, String, String)> = numbering
        .iter()
        .map(|(index, uid)| {
            let (sub, name) = &files[*index];
            (*sub, name.clone(), with_near_uid(name, *uid))
        })
        .collect();
    let renamed: HashSet<u32> = rename_all(dir, &renames)?
        .iter()
        .filter_map(|name| state::near_uid(name))
        .collect();
    let numbered: HashSet<u32> = numbering.iter().map(|(_, uid)| *uid).collect();
    records.retain(|record| !numbered.contains(&record.near) || renamed.contains(&record.near));
    records.sort_by_key(|record| (record.far, record.near));

    // 3. The state, from what both sides now hold.
    let same_far = old
        .as_ref()
        .filter(|old| old.far_uid_validity == far_validity);
    let same_near = old
        .as_ref()
        .filter(|old| old.near_uid_validity == near_validity);
    let new_state = FolderState {
        far_uid_validity: far_validity,
        near_uid_validity: near_validity,
        max_pulled: records
            .iter()
            .map(|r| r.far)
            .chain(same_far.map(|old| old.max_pulled))
            .max()
            .unwrap_or(0),
        max_pushed: records
            .iter()
            .map(|r| r.near)
            .chain(same_near.map(|old| old.max_pushed))
            .max()
            .unwrap_or(0),
        records,
    };
    // The folder's mtimes moved for a reason that changed nothing mbsync records (a copied
    // tree, a reader's rename mbsync's state does not see): its state already says all this,
    // so it is left as it is, unwritten.
    if numbering.is_empty()
        && counter.is_some()
        && old.as_ref().is_some_and(|old| same_state(old, &new_state))
    {
        return Ok(Some(0));
    }
    let (state_dir, state_name) = match (state_path.parent(), state_path.file_name()) {
        (Some(parent), Some(name)) => (parent, name.to_string_lossy().into_owned()),
        _ => anyhow::bail!("{} names no file", state_path.display()),
    };
    write_durably(state_dir, &state_name, &state::render_state(&new_state))?;
    Ok(Some(renamed.len()))
}

/// True if two states say the same: the records compared as mbsync reads them, whatever their
/// order in the file or of their flag letters.
fn same_state(old: &FolderState, new: &FolderState) -> bool {
    let normal = |state: &FolderState| {
        let mut state = state.clone();
        for record in &mut state.records {
            let mut letters: Vec<char> = record.flags.chars().collect();
            letters.sort_unstable();
            letters.dedup();
            record.flags = letters.into_iter().collect();
        }
        state
            .records
            .sort_by_key(|record| (record.far, record.near));
        state
    };
    normal(old) == normal(new)
}

/// A file name's unique part (before `:2,`).
fn unique_part(name: &str) -> &str {
    name.split_once(":2,").map_or(name, |(unique, _)| unique)
}

/// `key` without its `,U=<digits>` field.
fn without_near_uid(key: &str) -> String {
    let Some(start) = key.find(",U=") else {
        return key.to_owned();
    };
    let rest = &key[start + 3..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    format!("{}{}", &key[..start], &rest[end..])
}

/// `name` with `,U=<uid>` appended to its unique part, as mbsync numbers a file.
fn with_near_uid(name: &str, uid: u32) -> String {
    match name.split_once(":2,") {
        Some((unique, info)) => format!("{unique},U={uid}:2,{info}"),
        None => format!("{name},U={uid}"),
    }
}

/// The UIDVALIDITY in the IMAP store's listing state (`v1 uidvalidity=N ...`).
fn uid_validity_of_state(text: &str) -> Option<u32> {
    text.split(' ')
        .find_map(|word| word.strip_prefix("uidvalidity="))
        .and_then(|value| value.parse().ok())
}

/// A UIDVALIDITY for a folder mbsync has not numbered yet: the time, as mbsync picks one.
fn new_uid_validity() -> u32 {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(1);
    u32::try_from(seconds).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::{Flag, Flags, ItemKey};

    fn item(id: i64, server: &str, local: &str, flags: Flags) -> StatusItem {
        StatusItem {
            id,
            key_a: Some(ItemKey::new(server)),
            key_b: Some(ItemKey::new(local)),
            flags,
            pending: None,
            expired: None,
        }
    }

    fn folder_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        for (sub, name) in files {
            std::fs::write(dir.path().join(sub).join(name), "m").unwrap();
        }
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = message_files(dir)
            .unwrap()
            .into_iter()
            .map(|(sub, name)| format!("{sub}/{name}"))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn names_gain_and_lose_a_near_uid() {
        assert_eq!(with_near_uid("k:2,S", 7), "k,U=7:2,S");
        assert_eq!(with_near_uid("k", 7), "k,U=7");
        assert_eq!(without_near_uid("k,U=7"), "k");
        assert_eq!(without_near_uid("k,S=10,U=7,W=12"), "k,S=10,W=12");
        assert_eq!(uid_validity_of_state("v1 uidvalidity=9 uidnext=3"), Some(9));
    }

    #[test]
    fn a_folder_is_numbered_and_its_state_written_from_the_status() {
        let dir = folder_with(&[("cur", "old,U=4:2,S"), ("cur", "mine:2,F"), ("new", "lone")]);
        std::fs::write(dir.path().join(".uidvalidity"), "55\n4\n").unwrap();
        let seen = Flags::new().with(Flag::Seen);
        let items = [
            item(1, "9:10", "old", seen.clone()),
            item(2, "9:11", "mine", Flags::new().with(Flag::Flagged)),
        ];
        let numbered = hand_back_folder(
            dir.path(),
            &dir.path().join(state::STATE_FILE),
            Side::A,
            &items,
            None,
        )
        .unwrap();
        assert_eq!(numbered, Some(1));
        assert_eq!(
            names(dir.path()),
            ["cur/mine,U=5:2,F", "cur/old,U=4:2,S", "new/lone"]
        );
        assert_eq!(state::read_uid_counter(dir.path()).unwrap(), Some((55, 5)));
        let written = state::read_state(&dir.path().join(state::STATE_FILE)).unwrap();
        assert_eq!(
            (written.far_uid_validity, written.near_uid_validity),
            (9, 55)
        );
        assert_eq!((written.max_pulled, written.max_pushed), (11, 5));
        let records: Vec<(u32, u32, &str)> = written
            .records
            .iter()
            .map(|r| (r.far, r.near, r.flags.as_str()))
            .collect();
        assert_eq!(records, [(10, 4, "S"), (11, 5, "F")]);
        // Written again from the same status: the same state, no second UID.
        assert_eq!(
            hand_back_folder(
                dir.path(),
                &dir.path().join(state::STATE_FILE),
                Side::A,
                &items,
                None
            )
            .unwrap(),
            Some(0)
        );
        assert_eq!(state::read_uid_counter(dir.path()).unwrap(), Some((55, 5)));
    }

    /// A folder whose directories are newer than its state (a copied tree) but whose state
    /// already says what pimlink would write is not written again: same inode, same text.
    #[test]
    fn a_state_that_already_matches_is_not_rewritten() {
        use std::os::unix::fs::MetadataExt;
        let dir = folder_with(&[("cur", "a,U=1:2,S"), ("cur", "b,U=2:2,FS")]);
        std::fs::write(dir.path().join(".uidvalidity"), "55\n2\n").unwrap();
        let state_path = dir.path().join(state::STATE_FILE);
        // As mbsync wrote it: its own record order and flag letters.
        let written = "FarUidValidity 9\nNearUidValidity 55\nMaxPulledUid 11\nMaxPushedUid 2\n\n\
                       11 2 FS\n10 1 S\n";
        std::fs::write(&state_path, written).unwrap();
        let inode = std::fs::metadata(&state_path).unwrap().ino();
        let seen = Flags::new().with(Flag::Seen);
        let items = [
            item(1, "9:10", "a,U=1", seen.clone()),
            item(2, "9:11", "b,U=2", seen.with(Flag::Flagged)),
        ];
        let numbered = hand_back_folder(dir.path(), &state_path, Side::A, &items, None).unwrap();
        assert_eq!(numbered, Some(0));
        assert_eq!(std::fs::metadata(&state_path).unwrap().ino(), inode);
        assert_eq!(std::fs::read_to_string(&state_path).unwrap(), written);
        // A flag pimlink changed makes it differ: written.
        let items = [item(1, "9:10", "a,U=1", Flags::new()), items[1].clone()];
        hand_back_folder(dir.path(), &state_path, Side::A, &items, None).unwrap();
        assert_ne!(std::fs::read_to_string(&state_path).unwrap(), written);
    }

    #[test]
    fn a_folder_with_mbsyncs_journal_is_left_to_mbsync() {
        let dir = folder_with(&[("cur", "mine:2,")]);
        std::fs::write(dir.path().join(".mbsyncstate.journal"), "3\n").unwrap();
        let items = [item(1, "9:10", "mine", Flags::new())];
        assert_eq!(
            hand_back_folder(
                dir.path(),
                &dir.path().join(state::STATE_FILE),
                Side::A,
                &items,
                None
            )
            .unwrap(),
            None
        );
        assert_eq!(names(dir.path()), ["cur/mine:2,"]);
        assert!(!dir.path().join(state::STATE_FILE).exists());
    }
}
