//! Handing a tree back to OfflineIMAP: OfflineIMAP, run after pimlink, finds every message
//! pimlink transferred in its LocalStatus database and in the file's name, and has nothing to
//! do, instead of fetching and uploading each of them once more.
//!
//! OfflineIMAP believes a file is server message `uid` only when its name carries
//! `,U=<uid>,FMD5=<md5 of the folder's local name>` and its status database has a row for that
//! UID. For each folder whose files changed since its database was written: the files pimlink
//! wrote are renamed to carry that numbering (pimlink still knows them, see `pimlink_maildir`'s
//! `renamed.rs`), then the database's rows are replaced, in one transaction, by one row per
//! message both sides hold. A server folder whose UIDVALIDITY changed since OfflineIMAP saw it
//! gets the new one in `FolderValidity`, or OfflineIMAP would refuse the folder.
//!
//! Which account: of those with status databases for the tree's folders, the one whose status
//! names the most of the tree's files (as adoption picks it); none if none names any, or on a
//! tie, so that another tree's state in the same metadata directory is never written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pimlink_core::mail::status::StatusItem;
use pimlink_core::runner::PairRun;
use pimlink_core::{CollectionName, Side};
use pimlink_foreign::state::offlineimap::{
    FolderPlace, MessageName, Metadata, folder_md5, read_folder, status_file_name,
    write_status_sqlite,
};

use super::{changed_since, message_files, parse_server_key, rename_all};
use crate::config::{Config, MaildirConfig, PairConfig};

/// A folder of the tree as OfflineIMAP names it.
struct Folder {
    /// pimlink's name for it on the local side.
    name: CollectionName,
    /// Its directory.
    dir: PathBuf,
    /// Its directory under the tree's root, which OfflineIMAP hashes into `,FMD5=`.
    local_name: String,
    /// The name of its status and FolderValidity files.
    status_name: String,
}

/// Hands the folders back whose files changed since OfflineIMAP's status was written, if
/// OfflineIMAP keeps state for this tree.
pub(super) fn hand_back(
    config: &Config,
    pair: &PairConfig,
    server: Side,
    maildir: &MaildirConfig,
) -> Result<()> {
    let Ok(metadata_dir) = super::super::offlineimap::default_metadata() else {
        return Ok(());
    };
    if !metadata_dir.is_dir() {
        return Ok(());
    }
    let metadata = Metadata::new(&metadata_dir);
    let accounts = metadata.accounts()?;
    if accounts.is_empty() {
        return Ok(());
    }
    let sep = maildir.tree.flatten.unwrap_or('/');
    let (store, collections) = super::super::open_tree(maildir)?;
    let mut folders = Vec::new();
    for collection in collections.into_iter().filter(|c| c.selectable) {
        let dir = store.collection_path(&collection.name)?;
        // An inbox outside the root has no name OfflineIMAP gave it.
        let Some(local_name) = dir
            .strip_prefix(store.root())
            .ok()
            .and_then(|relative| relative.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        let status_name = local_name.replace(sep, ".");
        folders.push(Folder {
            name: collection.name,
            dir,
            local_name,
            status_name,
        });
    }
    let database = |account: &str, folder: &Folder| {
        metadata_dir
            .join(format!("Account-{account}"))
            .join("LocalStatus-sqlite")
            .join(status_file_name(&folder.status_name))
    };
    let candidates: Vec<&String> = accounts
        .iter()
        .filter(|account| folders.iter().any(|f| database(account, f).is_file()))
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let run = PairRun::lock(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    let status = run.status();
    let local = server.other();
    let collections = status.collections()?;
    let collection_of = |folder: &Folder| {
        collections.iter().find(|c| match local {
            Side::A => c.name_a == folder.name,
            Side::B => c.name_b == folder.name,
        })
    };
    // Cheap first: a sync that changed no synced folder's files has nothing to hand back.
    let stale_for = |account: &str| -> Vec<&Folder> {
        folders
            .iter()
            .filter(|folder| collection_of(folder).is_some())
            .filter(|folder| changed_since(&folder.dir, &database(account, folder)))
            .collect()
    };
    if candidates
        .iter()
        .all(|account| stale_for(account).is_empty())
    {
        return Ok(());
    }
    // An account is this tree's only if its status names some of the tree's files (a
    // `,U=` it knows with this folder's `,FMD5=`), as for adoption: another tree's state in
    // the same metadata directory is never written.
    let Some(account) = keeper(&metadata, &candidates, &folders, sep)? else {
        return Ok(());
    };
    let stale = stale_for(&account);
    for folder in stale {
        let Some(collection) = collection_of(folder) else {
            continue;
        };
        let items = status.items(collection.id)?;
        let db = database(&account, folder);
        hand_back_folder(folder, &db, server, &items)
            .with_context(|| format!("folder {}", folder.name))?;
        if let Some(validity) = items
            .iter()
            .find_map(|item| parse_server_key(item.key(server)?.as_str()))
            .map(|(validity, _)| validity)
        {
            update_validity(&metadata, &metadata_dir, &folder.status_name, validity)?;
        }
    }
    Ok(())
}

/// Of the accounts with state for the tree's folders, the one whose status names the most of
/// its files; `None` if none names any, or on a tie (the files cannot tell which account
/// synced the tree).
fn keeper(
    metadata: &Metadata,
    accounts: &[&String],
    folders: &[Folder],
    sep: char,
) -> Result<Option<String>> {
    let mut best: Option<(usize, String)> = None;
    let mut tied = false;
    for account in accounts {
        let mut paired = 0;
        for folder in folders {
            let place = FolderPlace {
                account,
                local_name: &folder.local_name,
                sep,
                dir: &folder.dir,
            };
            if let Some(state) = read_folder(metadata, &place)? {
                paired += state.paired.len();
            }
        }
        match &best {
            Some((most, _)) if paired < *most => {}
            Some((most, _)) if paired == *most => tied = true,
            _ => {
                tied = false;
                best = Some((paired, (*account).clone()));
            }
        }
    }
    Ok(best
        .filter(|(paired, _)| !tied && *paired > 0)
        .map(|(_, account)| account))
}

/// Numbers the files pimlink wrote and replaces the folder's status rows.
fn hand_back_folder(folder: &Folder, db: &Path, server: Side, items: &[StatusItem]) -> Result<()> {
    let md5 = folder_md5(&folder.local_name);
    let files = message_files(&folder.dir)?;
    let by_key = super::index_by_key(files.iter().map(|(_, name)| {
        let unique = MessageName::parse(name).unique;
        (unique, Some(without_numbering(unique)))
    }));
    let local = server.other();
    // Each row with the name its file is to be renamed to, if it must be numbered first.
    let mut rows: Vec<((u32, String), Option<String>)> = Vec::new();
    let mut renames: Vec<(&'static str, String, String)> = Vec::new();
    for item in items {
        if item.pending.is_some() || item.expired.is_some() {
            continue;
        }
        let (Some(server_key), Some(local_key)) = (item.key(server), item.key(local)) else {
            continue;
        };
        let Some((_, uid)) = parse_server_key(server_key.as_str()) else {
            continue;
        };
        let Some(&index) = by_key.get(local_key.as_str()) else {
            continue;
        };
        let (sub, name) = &files[index];
        let renamed = (MessageName::parse(name).uid_in(&md5) != Some(uid)).then(|| {
            let renamed = numbered_name(name, uid, &md5);
            renames.push((sub, name.clone(), renamed.clone()));
            renamed
        });
        rows.push(((uid, item.flags.maildir_letters()), renamed));
    }
    // A file that vanished before its rename gets no row.
    let done = rename_all(&folder.dir, &renames)?;
    let rows: Vec<(u32, String)> = rows
        .into_iter()
        .filter(|(_, renamed)| renamed.as_ref().is_none_or(|to| done.contains(to)))
        .map(|(row, _)| row)
        .collect();
    if let Some(parent) = db.parent() {
        pimlink_core::private::dir_builder()
            .recursive(true)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    write_status_sqlite(db, &rows)?;
    Ok(())
}

/// Records `validity` as the server folder's UIDVALIDITY wherever OfflineIMAP recorded
/// another one (a Maildir repository's constant 42 is left alone).
fn update_validity(
    metadata: &Metadata,
    metadata_dir: &Path,
    status_name: &str,
    validity: u32,
) -> Result<()> {
    const MAILDIR_VALIDITY: u32 = 42;
    for repository in metadata.repositories()? {
        match metadata.folder_validity(&repository, status_name)? {
            Some(known) if known != MAILDIR_VALIDITY && known != validity => {
                let dir = metadata_dir
                    .join(format!("Repository-{repository}"))
                    .join("FolderValidity");
                super::write_durably(
                    &dir,
                    &status_file_name(status_name),
                    &format!("{validity}\n"),
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A unique part without its `,U=` and `,FMD5=` fields.
fn without_numbering(unique: &str) -> String {
    let mut parts = unique.split(',');
    let mut out = parts.next().unwrap_or("").to_owned();
    for part in parts {
        if part.starts_with("U=") || part.starts_with("FMD5=") {
            continue;
        }
        out.push(',');
        out.push_str(part);
    }
    out
}

/// `name` numbered as OfflineIMAP numbers its files: any old `,U=`/`,FMD5=` replaced by
/// `,U=<uid>,FMD5=<md5>` at the end of the unique part, the info part kept.
fn numbered_name(name: &str, uid: u32, md5: &str) -> String {
    let (unique, info) = match name.split_once(":2,") {
        Some((unique, info)) => (unique, Some(info)),
        None => (name, None),
    };
    let mut out = format!("{},U={uid},FMD5={md5}", without_numbering(unique));
    if let Some(info) = info {
        out.push_str(":2,");
        out.push_str(info);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_numbered_as_offlineimap_numbers_them() {
        let md5 = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            numbered_name("k.host:2,S", 7, md5),
            format!("k.host,U=7,FMD5={md5}:2,S")
        );
        assert_eq!(
            numbered_name("k.host,U=3,FMD5=ffff,S=10", 7, md5),
            format!("k.host,S=10,U=7,FMD5={md5}")
        );
        assert_eq!(without_numbering("k,U=1,FMD5=ab,W=3"), "k,W=3");
    }

    #[test]
    fn a_numbered_file_is_found_under_its_old_key() {
        let files = [
            ("cur", "a,U=1,FMD5=x:2,S".to_owned()),
            ("new", "b".to_owned()),
        ];
        let index = super::super::index_by_key(files.iter().map(|(_, name)| {
            let unique = MessageName::parse(name).unique;
            (unique, Some(without_numbering(unique)))
        }));
        assert_eq!(index.get("a"), Some(&0));
        assert_eq!(index.get("a,U=1,FMD5=x"), Some(&0));
        assert_eq!(index.get("b"), Some(&1));
    }
}
