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

use anyhow::Context;
use pimlink_core::mail::adopt::{AdoptedFolder, AdoptedItem, Adoption};
use pimlink_core::{CollectionName, Flag, Flags, ItemKey, MailStore, Side};
use pimlink_foreign::state::offlineimap::{FolderPlace, FolderState, Metadata, read_folder};
use pimlink_maildir::Maildir;

use crate::config::{Config, MaildirLayout, PairConfig, StorageKind};

/// The tool's name in messages.
pub const TOOL: &str = "OfflineIMAP";

/// What OfflineIMAP knew about a pair, ready for `StatusStore::adopt`.
#[derive(Debug)]
pub struct PairAdoption {
    /// The adoption (no folders if OfflineIMAP has no state for the tree).
    pub adoption: Adoption,
    /// What was found beside it.
    pub found: Found,
    /// The pair's server side.
    pub server: Side,
    /// The Maildir tree's root.
    pub tree: PathBuf,
}

/// Reads OfflineIMAP's state in `metadata` for the Maildir side of `pair` (an imap and a
/// maildir storage). Reads only local files: the Maildir tree and the state.
pub async fn read_pair(
    config: &Config,
    pair: &PairConfig,
    metadata: &Path,
) -> anyhow::Result<PairAdoption> {
    let kind = |name: &str| config.storages.get(name).map(|storage| &storage.kind);
    let (server, maildir) = match (kind(&pair.a), kind(&pair.b)) {
        (Some(StorageKind::Imap(_)), Some(StorageKind::Maildir(maildir))) => (Side::A, maildir),
        (Some(StorageKind::Maildir(maildir)), Some(StorageKind::Imap(_))) => (Side::B, maildir),
        _ => anyhow::bail!(crate::failure::UsageError(
            "adopting OfflineIMAP's state needs a pair of an imap and a maildir storage".into()
        )),
    };
    let local = server.other();
    // OfflineIMAP's `sep` is the one character its folder names on disk separate levels by:
    // `flatten`'s, else `/` (nested directories).
    let sep = maildir.tree.flatten.unwrap_or('/');
    let layout = match maildir.layout {
        MaildirLayout::Verbatim => pimlink_maildir::Layout::Verbatim,
        MaildirLayout::MaildirPlusPlus => pimlink_maildir::Layout::MaildirPlusPlus,
    };
    let mut store = Maildir::open_with(maildir.path.clone(), layout, maildir.tree.clone())?;
    let translation = &pair.names.translation;
    let mut folders = Vec::new();
    for collection in store.list_collections().await? {
        let Some(server_name) = translation
            .to_pair(local, &collection.name)
            .and_then(|name| translation.to_side(server, &name))
            .filter(|_| collection.selectable)
        else {
            continue;
        };
        folders.push(Folder {
            dir: store.collection_path(&collection.name)?,
            server_name,
            local_name: collection.name,
        });
    }
    let (adoption, found) = adoption(metadata, store.root(), sep, &folders)
        .with_context(|| format!("reading OfflineIMAP's state in {}", metadata.display()))?;
    Ok(PairAdoption {
        adoption,
        found,
        server,
        tree: store.root().to_owned(),
    })
}

/// `~/.offlineimap`, OfflineIMAP's default `metadata`.
pub fn default_metadata() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .context("HOME is not set: name OfflineIMAP's metadata directory")?;
    Ok(PathBuf::from(home).join(pimlink_foreign::state::offlineimap::DEFAULT_METADATA))
}

/// One folder of the pair, as both sides name it and where the Maildir keeps it.
#[derive(Clone, Debug)]
pub struct Folder {
    /// Its name on the server side of the pair.
    pub server_name: CollectionName,
    /// Its name on the Maildir side, as pimlink lists it.
    pub local_name: CollectionName,
    /// Its directory (holding `cur/` and `new/`).
    pub dir: PathBuf,
}

/// What [`adoption`] found, beside the adoption itself, for the output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// The OfflineIMAP account taken, if any.
    pub account: Option<String>,
    /// Folders OfflineIMAP had state for but no UIDVALIDITY could be told for.
    pub without_validity: Vec<CollectionName>,
}

/// Reads OfflineIMAP's state in `metadata` for `folders` of the Maildir tree at `root`, whose
/// folders OfflineIMAP separated with `sep`. An empty adoption when no account has state for
/// these folders.
pub fn adoption(
    metadata: &Path,
    root: &Path,
    sep: char,
    folders: &[Folder],
) -> Result<(Adoption, Found), pimlink_foreign::state::offlineimap::Error> {
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
    let mut found = Found::default();
    let Some(AccountState {
        account,
        states,
        paired,
    }) = best.filter(|_| !tied)
    else {
        return Ok((adoption, found));
    };
    if paired == 0
        && states
            .iter()
            .all(|(_, state)| state.deleted_locally.is_empty())
    {
        return Ok((adoption, found));
    }
    found.account = Some(account);
    for (index, state) in states {
        let folder = &folders[index];
        let Some(uid_validity) = state.uid_validity else {
            found.without_validity.push(folder.local_name.clone());
            continue;
        };
        adoption.folders.push(AdoptedFolder {
            server_name: folder.server_name.clone(),
            local_name: folder.local_name.clone(),
            uid_validity,
            items: items(&state),
        });
    }
    Ok((adoption, found))
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
        flags: flags(&paired.synced_flags),
    });
    let deleted = state
        .deleted_locally
        .iter()
        .map(|(uid, synced_flags)| AdoptedItem {
            uid: *uid,
            local_key: ItemKey::new(gone_key(*uid)),
            flags: flags(synced_flags),
        });
    paired.chain(deleted).collect()
}

/// A key for a file deleted since OfflineIMAP's last run. A Maildir file name cannot hold a
/// `/`, so no file can ever have it.
fn gone_key(uid: u32) -> String {
    format!("offlineimap/deleted/U={uid}")
}

/// Flags from Maildir letters; keywords (a-z, whose meaning only `dovecot-keywords` knows) are
/// left to the next sync's listing.
fn flags(letters: &str) -> Flags {
    letters
        .chars()
        .filter_map(Flag::from_maildir_letter)
        .fold(Flags::default(), Flags::with)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_files_get_keys_no_file_can_have() {
        assert!(gone_key(7).contains('/'));
        assert_ne!(gone_key(7), gone_key(8));
    }

    #[test]
    fn flags_keep_the_system_letters() {
        let f = flags("FSa");
        assert_eq!(f.maildir_letters(), "FS");
    }
}
