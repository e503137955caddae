//! Walking a Maildir root to find its folders.

use std::collections::BTreeMap;
use std::fs::DirEntry;
use std::path::Path;

use pimlink_core::{CollectionInfo, CollectionName, Error, Result};

use crate::fsutil::is_maildir;
use crate::layout::{Layout, MAILDIR_SUBDIRS};

/// Every folder under `root`, sorted by name, with non-selectable parents included.
pub(crate) fn list_collections(root: &Path, layout: Layout) -> Result<Vec<CollectionInfo>> {
    let mut found = BTreeMap::new();
    match layout {
        Layout::Verbatim => {
            walk_verbatim(root, root, &mut found)?;
        }
        Layout::MaildirPlusPlus => scan_maildirplusplus(root, &mut found)?,
    }
    add_missing_parents(&mut found);
    Ok(found
        .into_iter()
        .map(|(name, selectable)| CollectionInfo { name, selectable })
        .collect())
}

/// Descends into `dir` and records every maildir below it, and every directory that has one
/// below it (as a non-selectable parent). Returns true if anything was recorded.
fn walk_verbatim(
    root: &Path,
    dir: &Path,
    found: &mut BTreeMap<CollectionName, bool>,
) -> Result<bool> {
    let mut any = false;
    for entry in read_dir_sorted(dir)? {
        let file_name = entry.file_name();
        if MAILDIR_SUBDIRS.iter().any(|sub| file_name == *sub) {
            continue;
        }
        let path = entry.path();
        if !is_directory_to_walk(&entry, &path) {
            continue;
        }
        let selectable = is_maildir(&path);
        let below = walk_verbatim(root, &path, found)?;
        if !selectable && !below {
            // Any other directory (a `.notmuch` index, a backup) is not mail.
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        match Layout::Verbatim.name_of(relative) {
            Ok(name) => {
                found.insert(name, selectable);
                any = true;
            }
            Err(why) => skip(&path, &why),
        }
    }
    Ok(any)
}

/// Records the root (INBOX) if it is a maildir, and every `.A.B` maildir in it.
fn scan_maildirplusplus(root: &Path, found: &mut BTreeMap<CollectionName, bool>) -> Result<()> {
    if is_maildir(root) {
        found.insert(CollectionName::new(CollectionName::INBOX)?, true);
    }
    for entry in read_dir_sorted(root)? {
        let file_name = entry.file_name();
        let is_folder = file_name
            .as_encoded_bytes()
            .first()
            .is_some_and(|b| *b == b'.');
        if !is_folder {
            continue;
        }
        let path = entry.path();
        if !is_directory_to_walk(&entry, &path) || !is_maildir(&path) {
            continue;
        }
        match Layout::MaildirPlusPlus.name_of(Path::new(&file_name)) {
            Ok(name) => {
                found.insert(name, true);
            }
            Err(why) => skip(&path, &why),
        }
    }
    Ok(())
}

/// True for a real directory. Symlinked directories are never followed (the target could be
/// outside the root, or an ancestor); they are reported so that the user knows why a folder is
/// missing.
fn is_directory_to_walk(entry: &DirEntry, path: &Path) -> bool {
    match entry.file_type() {
        Ok(kind) if kind.is_dir() => true,
        Ok(kind) if kind.is_symlink() => {
            if std::fs::metadata(path).is_ok_and(|meta| meta.is_dir()) {
                tracing::warn!(
                    path = %path.display(),
                    "skipping a symbolic link to a directory: pimlink does not follow symbolic \
                     links inside a Maildir root"
                );
            }
            false
        }
        Ok(_) => false,
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "skipping an entry whose type cannot be read");
            false
        }
    }
}

/// Adds every missing proper prefix of a found name as a non-selectable parent: in Maildir++
/// `.A.B` can exist without `.A`, and the engine expects to see `A`.
fn add_missing_parents(found: &mut BTreeMap<CollectionName, bool>) {
    let mut parents = Vec::new();
    for name in found.keys() {
        let text = name.as_str();
        for (index, _) in text.match_indices('/') {
            // Every prefix of a valid name that ends before a '/' is itself a valid name.
            if let Ok(parent) = CollectionName::new(&text[..index]) {
                parents.push(parent);
            }
        }
    }
    for parent in parents {
        found.entry(parent).or_insert(false);
    }
}

fn skip(path: &Path, why: &str) {
    tracing::warn!(path = %path.display(), "skipping a Maildir folder that pimlink cannot address: {why}");
}

/// The entries of `dir`, sorted by name so that listings (and which warning comes first) do not
/// depend on directory order.
fn read_dir_sorted(dir: &Path) -> Result<Vec<DirEntry>> {
    let context = || format!("listing folders in {}", dir.display());
    let mut entries = std::fs::read_dir(dir)
        .map_err(|err| Error::io(context(), err))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|err| Error::io(context(), err))?;
    entries.sort_by_key(DirEntry::file_name);
    Ok(entries)
}
