//! mbsync's state as an [`Adoption`]: for each folder of the pair's Maildir, its state file
//! (`.mbsyncstate` in the folder for `SyncState *`, or the channel's file in a `SyncState`
//! directory), checked against the folder's `.uidvalidity`, and each paired message's local
//! file found by the `,U=<n>` mbsync wrote into its name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pimlink_core::mail::adopt::{AdoptedFolder, AdoptedItem, Adoption};
use pimlink_core::{CollectionName, ItemKey, Side};
use pimlink_foreign::state::mbsync::{self as state, ChannelStateFile, FolderState};
use pimlink_maildir::Names;

use super::Found;
use crate::config::{MaildirConfig, PairConfig};

/// mbsync's state for the Maildir side of `pair`; `sync_state` is a `SyncState` directory
/// (else each folder's own `.mbsyncstate` is read).
pub(super) fn find(
    pair: &PairConfig,
    server: Side,
    maildir: &MaildirConfig,
    sync_state: Option<&Path>,
) -> Result<Option<Found>> {
    let (store, folders) = super::open_tree(maildir)?;
    let channel_files = match sync_state {
        Some(dir) => Some(state::channel_state_files(dir)?),
        None => {
            let mut dirs = Vec::new();
            for folder in folders.iter().filter(|folder| folder.selectable) {
                dirs.push(store.collection_path(&folder.name)?);
            }
            match super::mbsync_place::locate(&maildir.path, &dirs) {
                Some(super::mbsync_place::Place::Dir(place)) => Some(place.files),
                _ => None,
            }
        }
    };
    let local = server.other();
    let mut found = Found {
        adoption: Adoption {
            tool: "mbsync".to_owned(),
            folders: Vec::new(),
        },
        server,
        left_out: Vec::new(),
    };
    for folder in folders.iter().filter(|folder| folder.selectable) {
        let dir = store.collection_path(&folder.name)?;
        let state_path = match &channel_files {
            None => Some(dir.join(state::STATE_FILE)),
            Some(files) => channel_file(files, &folder.name, maildir.tree.names)?,
        };
        let Some(state_path) = state_path.filter(|path| path.is_file()) else {
            continue;
        };
        let Some(name) = pair.names.translation.to_pair(local, &folder.name) else {
            continue;
        };
        match adopted_folder(&dir, &state_path, name) {
            Ok(adopted) => found.adoption.folders.push(adopted),
            Err(why) => found.left_out.push(format!(
                "folder {}: mbsync's state is left out ({why:#}); its messages are matched by \
                 content",
                folder.name
            )),
        }
    }
    Ok(Some(found))
}

/// The channel state file of local folder `name` in a `SyncState` directory: the one whose
/// near box is `name` as mbsync spells it. Several channels naming the same box are refused
/// (which far account they belong to cannot be told from here).
fn channel_file(
    files: &[ChannelStateFile],
    name: &CollectionName,
    names: Names,
) -> Result<Option<PathBuf>> {
    let spelled = super::mbsync_place::box_name(name, names);
    let matching: Vec<&ChannelStateFile> = files
        .iter()
        .filter(|file| file.near_box == spelled)
        .collect();
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.path.clone())),
        several => anyhow::bail!(
            "several mbsync channels keep state for the folder {name} ({}); name one with \
             `pimlink adopt --from mbsync FILE`'s directory holding only its files",
            several
                .iter()
                .map(|file| file.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One folder's adoption: its state read and checked, each paired message's file found.
fn adopted_folder(dir: &Path, state_path: &Path, name: CollectionName) -> Result<AdoptedFolder> {
    let state = state::read_state(state_path)?;
    let near_validity = state::read_uidvalidity(dir)?;
    if near_validity != state.near_uid_validity {
        anyhow::bail!(
            "the folder's .uidvalidity ({near_validity}) is not the one mbsync's state names \
             ({}): its files were renumbered since mbsync's last run",
            state.near_uid_validity
        );
    }
    let files = files_by_near_uid(dir)?;
    Ok(AdoptedFolder {
        server_name: name.clone(),
        local_name: name,
        uid_validity: state.far_uid_validity,
        items: items(&state, &files),
    })
}

/// The paired records as adopted items. A record whose file is gone was deleted locally since
/// mbsync's last run: its placeholder key names no file, so the next sync deletes the message
/// on the server, as mbsync would have.
fn items(state: &FolderState, files: &HashMap<u32, Option<String>>) -> Vec<AdoptedItem> {
    state
        .records
        .iter()
        .filter(|record| record.is_paired())
        .filter_map(|record| {
            let local_key = match files.get(&record.near) {
                Some(Some(key)) => key.clone(),
                // Two files claim the UID: leave the message to content matching.
                Some(None) => return None,
                None => format!("mbsync-gone,U={}", record.near),
            };
            Some(AdoptedItem {
                uid: record.far,
                local_key: ItemKey::new(local_key),
                flags: super::flags(&record.flags),
            })
        })
        .collect()
}

/// Each `,U=` UID of the folder's files with the file's key (its name before `:2,`), or
/// `None` where two files carry the same UID.
fn files_by_near_uid(dir: &Path) -> Result<HashMap<u32, Option<String>>> {
    let mut out: HashMap<u32, Option<String>> = HashMap::new();
    for sub in ["cur", "new"] {
        let path = dir.join(sub);
        let entries =
            std::fs::read_dir(&path).with_context(|| format!("listing {}", path.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", path.display()))?;
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            let Some(uid) = state::near_uid(&file_name) else {
                continue;
            };
            let key = file_name
                .split_once(":2,")
                .map_or(file_name.as_str(), |(key, _)| key)
                .to_owned();
            out.entry(uid)
                .and_modify(|existing| *existing = None)
                .or_insert(Some(key));
        }
    }
    Ok(out)
}
