//! OfflineIMAP's state as an [`Adoption`] (issue 16): for each folder of a pair's Maildir side,
//! the messages OfflineIMAP paired (a file with `,U=<uid>,FMD5=<md5 of that folder>` whose
//! UID its status knows) and those deleted locally since its last run (a status row without
//! its file), with the flags both sides had then.
//!
//! Which account: the metadata directory may hold several (`Account-<name>`); the one whose
//! status pairs the most files of this tree is taken, and none if two pair equally many (a
//! guess could pair files with another account's UIDs). Which UIDVALIDITY: the one its remote
//! repository recorded for the folder (`FolderValidity`); a folder without one, or with
//! several repositories disagreeing, is left out and paired by content, as without adoption.
//!
//! Left out on purpose, so that the next sync treats them as OfflineIMAP's next run would:
//! files it never synced (copied to the server) and files whose `,U=` it has no status row for
//! (paired by content if the server has the message, else copied).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pimlink_core::mail::adopt::{AdoptedFolder, AdoptedItem, Adoption};
use pimlink_core::{CollectionName, ItemKey, Side};
use pimlink_foreign::state::offlineimap::{FolderPlace, FolderState, Metadata, read_folder};

use super::Found;
use crate::config::{MaildirConfig, PairConfig};

/// The tool's name in messages.
const TOOL: &str = "OfflineIMAP";

/// OfflineIMAP's state in `metadata` (default `~/.offlineimap`) for the Maildir side of `pair`.
/// Reads only local files: the Maildir tree and the state.
pub(super) fn find(
    pair: &PairConfig,
    server: Side,
    maildir: &MaildirConfig,
    metadata: Option<&Path>,
) -> Result<Option<Found>> {
    let metadata = match metadata {
        Some(path) => path.to_owned(),
        None => default_metadata()?,
    };
    if !metadata.is_dir() {
        return Ok(None);
    }
    let local = server.other();
    // OfflineIMAP's `sep` is the one character its folder names on disk separate levels by:
    // `flatten`'s, else `/` (nested directories).
    let sep = maildir.tree.flatten.unwrap_or('/');
    let (store, collections) = super::open_tree(maildir)?;
    let mut folders = Vec::new();
    for collection in collections.into_iter().filter(|c| c.selectable) {
        // The status sees both sides under the pair's name.
        let Some(name) = pair.names.translation.to_pair(local, &collection.name) else {
            continue;
        };
        folders.push(Folder {
            dir: store.collection_path(&collection.name)?,
            name,
        });
    }
    let (adoption, account) = adoption(&metadata, store.root(), sep, &folders)
        .with_context(|| format!("reading OfflineIMAP's state in {}", metadata.display()))?;
    let Some(account) = account else {
        return Ok(None);
    };
    let no_validity = account.without_validity.iter().map(|name| {
        format!(
            "folder {name}: OfflineIMAP recorded no UIDVALIDITY for it that can be told apart \
             (account {}); its messages are matched by content",
            account.name
        )
    });
    let no_files = account.without_files.iter().map(|name| {
        format!(
            "folder {name}: none of the files OfflineIMAP synced (account {}) is left in it; \
             its state is not taken over, so nothing is deleted on the server",
            account.name
        )
    });
    let left_out = no_validity.chain(no_files).collect();
    Ok(Some(Found {
        adoption,
        server,
        left_out,
    }))
}

/// `~/.offlineimap`, OfflineIMAP's default `metadata`.
pub fn default_metadata() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .context("HOME is not set: name OfflineIMAP's metadata directory")?;
    Ok(PathBuf::from(home).join(pimlink_foreign::state::offlineimap::DEFAULT_METADATA))
}

/// One folder of the pair.
#[derive(Clone, Debug)]
struct Folder {
    /// Its name in the pair (and so in the status, for both sides).
    name: CollectionName,
    /// Its directory (holding `cur/` and `new/`).
    dir: PathBuf,
}

/// The account [`adoption`] took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Account {
    /// Its name (`Account-<name>`).
    name: String,
    /// Folders it had state for but no UIDVALIDITY could be told for.
    without_validity: Vec<CollectionName>,
    /// Folders it had messages for of which no file is left.
    without_files: Vec<CollectionName>,
}

/// Reads OfflineIMAP's state in `metadata` for `folders` of the Maildir tree at `root`, whose
/// folders OfflineIMAP separated with `sep`; with the account taken, `None` when no account
/// (or more than one equally) has state for these folders.
fn adoption(
    metadata: &Path,
    root: &Path,
    sep: char,
    folders: &[Folder],
) -> Result<(Adoption, Option<Account>), pimlink_foreign::state::offlineimap::Error> {
    let metadata = Metadata::new(metadata);
    let mut best: Option<AccountState> = None;
    let mut tied = false;
    for account in metadata.accounts()? {
        let state = read_account(&metadata, account, root, sep, folders)?;
        match &best {
            Some(most) if state.paired < most.paired => {}
            Some(most) if state.paired == most.paired => tied = true,
            _ => {
                tied = false;
                best = Some(state);
            }
        }
    }
    let mut adoption = Adoption {
        tool: TOOL.to_owned(),
        folders: Vec::new(),
    };
    let Some(AccountState {
        account,
        states,
        paired,
    }) = best.filter(|_| !tied)
    else {
        return Ok((adoption, None));
    };
    // State that pairs none of this tree's files is another tree's (or one emptied since):
    // taken over, its rows would be deletions to carry to the server.
    if paired == 0 {
        return Ok((adoption, None));
    }
    let mut taken = Account {
        name: account,
        without_validity: Vec::new(),
        without_files: Vec::new(),
    };
    for (index, state) in states {
        let folder = &folders[index];
        // Likewise per folder: pimlink's first-sync rules (nothing deleted) apply to it instead.
        if state.paired.is_empty() {
            if !state.deleted_locally.is_empty() {
                taken.without_files.push(folder.name.clone());
            }
            continue;
        }
        let Some(uid_validity) = state.uid_validity else {
            taken.without_validity.push(folder.name.clone());
            continue;
        };
        adoption.folders.push(AdoptedFolder {
            server_name: folder.name.clone(),
            local_name: folder.name.clone(),
            uid_validity,
            items: items(&state),
        });
    }
    Ok((adoption, Some(taken)))
}

/// One account's state for the pair's folders.
struct AccountState {
    account: String,
    /// (index into the folders, its state) for each folder the account has state for.
    states: Vec<(usize, FolderState)>,
    /// Files its status pairs, over all folders.
    paired: usize,
}

/// Reads `account`'s state for each of `folders` (those under `root`: an inbox elsewhere has
/// no name OfflineIMAP gave it).
fn read_account(
    metadata: &Metadata,
    account: String,
    root: &Path,
    sep: char,
    folders: &[Folder],
) -> Result<AccountState, pimlink_foreign::state::offlineimap::Error> {
    let mut states = Vec::new();
    let mut paired = 0;
    for (index, folder) in folders.iter().enumerate() {
        let Some(local_name) = folder
            .dir
            .strip_prefix(root)
            .ok()
            .and_then(|relative| relative.to_str())
        else {
            continue;
        };
        let place = FolderPlace {
            account: &account,
            local_name,
            sep,
            dir: &folder.dir,
        };
        if let Some(state) = read_folder(metadata, &place)? {
            paired += state.paired.len();
            states.push((index, state));
        }
    }
    Ok(AccountState {
        account,
        states,
        paired,
    })
}

/// The folder's paired messages, and those deleted locally under a key no file has (so that
/// the next sync deletes them on the server, as OfflineIMAP's next run would).
fn items(state: &FolderState) -> Vec<AdoptedItem> {
    let paired = state.paired.iter().map(|paired| AdoptedItem {
        uid: paired.uid,
        local_key: ItemKey::new(paired.unique.clone()),
        flags: super::flags(&paired.synced_flags),
    });
    let deleted = state
        .deleted_locally
        .iter()
        .map(|(uid, synced_flags)| AdoptedItem {
            uid: *uid,
            local_key: ItemKey::new(gone_key(*uid)),
            flags: super::flags(synced_flags),
        });
    paired.chain(deleted).collect()
}

/// A key for a file deleted since OfflineIMAP's last run. A Maildir file name cannot hold a
/// `/`, so no file can ever have it.
fn gone_key(uid: u32) -> String {
    format!("offlineimap/deleted/U={uid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_files_get_keys_no_file_can_have() {
        assert!(gone_key(7).contains('/'));
        assert_ne!(gone_key(7), gone_key(8));
    }

    /// A tree with INBOX and Sent, OfflineIMAP's (plain-text) state for both with UIDs 1 and
    /// 2 each, and in INBOX the files of the UIDs in `inbox_files`.
    fn world(inbox_files: &[u32]) -> (tempfile::TempDir, Vec<Folder>) {
        use std::fs;
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("meta");
        let status = meta.join("Account-main/LocalStatus");
        let validity = meta.join("Repository-remote/FolderValidity");
        fs::create_dir_all(&status).unwrap();
        fs::create_dir_all(&validity).unwrap();
        let mut folders = Vec::new();
        for name in ["INBOX", "Sent"] {
            fs::write(
                status.join(name),
                "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2\n1|S|0|\n2||0|\n",
            )
            .unwrap();
            fs::write(validity.join(name), "9\n").unwrap();
            let folder = dir.path().join("mail").join(name);
            for sub in ["cur", "new", "tmp"] {
                fs::create_dir_all(folder.join(sub)).unwrap();
            }
            folders.push(Folder {
                name: CollectionName::new(name).unwrap(),
                dir: folder,
            });
        }
        let md5 = pimlink_foreign::state::offlineimap::folder_md5("INBOX");
        for uid in inbox_files {
            let file = format!("1_{uid}.1.h,U={uid},FMD5={md5}:2,S");
            fs::write(folders[0].dir.join("cur").join(file), "Subject: x\n\nx\n").unwrap();
        }
        (dir, folders)
    }

    #[test]
    fn state_that_pairs_no_file_is_not_taken_over() {
        // Another tree's state (or this one emptied): its rows would be deletions.
        let (dir, folders) = world(&[]);
        let root = dir.path().join("mail");
        let (adopted, account) = adoption(&dir.path().join("meta"), &root, '/', &folders).unwrap();
        assert!(
            adopted.folders.is_empty() && account.is_none(),
            "{adopted:?}"
        );

        // One file left in INBOX: INBOX is adopted (one deletion since), Sent is not.
        let (dir, folders) = world(&[1]);
        let root = dir.path().join("mail");
        let (adopted, account) = adoption(&dir.path().join("meta"), &root, '/', &folders).unwrap();
        let account = account.unwrap();
        assert_eq!(
            account.without_files,
            [CollectionName::new("Sent").unwrap()]
        );
        assert_eq!(adopted.folders.len(), 1);
        let inbox = &adopted.folders[0];
        assert_eq!(
            (inbox.local_name.as_str(), inbox.uid_validity),
            ("INBOX", 9)
        );
        let keys: Vec<(u32, &str)> = inbox
            .items
            .iter()
            .map(|i| (i.uid, i.local_key.as_str()))
            .collect();
        let md5 = pimlink_foreign::state::offlineimap::folder_md5("INBOX");
        assert_eq!(
            keys,
            [
                (1, format!("1_1.1.h,U=1,FMD5={md5}").as_str()),
                (2, gone_key(2).as_str())
            ]
        );
    }

    #[test]
    fn flags_keep_the_system_letters() {
        assert_eq!(super::super::flags("FSa").maildir_letters(), "FS");
    }
}
