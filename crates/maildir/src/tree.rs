//! Walking a Maildir root to find its folders.

use std::collections::BTreeMap;
use std::fs::DirEntry;
use std::path::{Path, PathBuf};

use pimlink_core::{CollectionInfo, CollectionName, Error, Result};

use crate::fsutil::is_maildir;
use crate::layout::{Layout, MAILDIR_SUBDIRS};
use crate::scheme::{Place, Scheme};

/// Every folder of the tree, sorted by name, with non-selectable parents included. `inbox` is
/// the inbox's own directory when it lives outside the layout's place.
pub(crate) fn list_collections(
    root: &Path,
    scheme: Scheme,
    inbox: Option<&Path>,
) -> Result<Vec<CollectionInfo>> {
    let mut found = BTreeMap::new();
    let walk = Walk {
        scheme,
        skip: inbox,
    };
    match (scheme.layout, scheme.flatten) {
        (Layout::Verbatim, None) => {
            walk.verbatim(root, root, Place::Root, &mut found)?;
        }
        (Layout::Verbatim, Some(_)) => walk.flat(root, &mut found, |file_name| {
            Place::Root(PathBuf::from(file_name))
        })?,
        (Layout::MaildirPlusPlus, _) => {
            if is_maildir(root) {
                found.insert(CollectionName::new(CollectionName::INBOX)?, true);
            }
            walk.flat(root, &mut found, |file_name| {
                Place::Root(PathBuf::from(file_name))
            })?;
        }
    }
    if let Some(inbox) = inbox {
        if is_maildir(inbox) {
            found.insert(CollectionName::new(CollectionName::INBOX)?, true);
        }
        if scheme.flatten.is_none() && inbox.is_dir() {
            // mbsync keeps INBOX's subfolders inside it; the root is skipped in case it lies
            // below the inbox.
            let walk = Walk {
                scheme,
                skip: Some(root),
            };
            walk.verbatim(inbox, inbox, Place::Inbox, &mut found)?;
        }
    }
    add_missing_parents(&mut found);
    Ok(found
        .into_iter()
        .map(|(name, selectable)| CollectionInfo { name, selectable })
        .collect())
}

/// One walk over a directory tree: the rule that names what it finds, and a directory that
/// belongs to the other base (the inbox under the root, or the root under the inbox).
struct Walk<'p> {
    scheme: Scheme,
    skip: Option<&'p Path>,
}

impl Walk<'_> {
    /// Descends into `dir` and records every maildir below it, and every directory that has
    /// one below it (as a non-selectable parent). Returns true if anything was recorded.
    fn verbatim(
        &self,
        base: &Path,
        dir: &Path,
        place: fn(PathBuf) -> Place,
        found: &mut BTreeMap<CollectionName, bool>,
    ) -> Result<bool> {
        let mut any = false;
        for entry in read_dir_sorted(dir)? {
            let file_name = entry.file_name();
            if MAILDIR_SUBDIRS.iter().any(|sub| file_name == *sub) {
                continue;
            }
            let path = entry.path();
            if self.skip == Some(path.as_path()) || !is_directory_to_walk(&entry, &path) {
                continue;
            }
            let selectable = is_maildir(&path);
            let below = self.verbatim(base, &path, place, found)?;
            if !selectable && !below {
                // Any other directory (a `.notmuch` index, a backup) is not mail.
                continue;
            }
            match self.scheme.name_of(&place(below_base(&path, base))) {
                Ok(name) => {
                    found.insert(name, selectable);
                    any = true;
                }
                Err(why) => skip(&path, &why),
            }
        }
        Ok(any)
    }

    /// Records every maildir directly in `root` whose name marks a folder (Maildir++'s
    /// `.A.B`, a flattened `A.B`).
    fn flat(
        &self,
        root: &Path,
        found: &mut BTreeMap<CollectionName, bool>,
        place: impl Fn(&std::ffi::OsStr) -> Place,
    ) -> Result<()> {
        for entry in read_dir_sorted(root)? {
            let file_name = entry.file_name();
            let dotted = file_name
                .as_encoded_bytes()
                .first()
                .is_some_and(|b| *b == b'.');
            let is_folder = match self.scheme.layout {
                Layout::MaildirPlusPlus => dotted,
                Layout::Verbatim => !MAILDIR_SUBDIRS.iter().any(|sub| file_name == *sub),
            };
            if !is_folder {
                continue;
            }
            let path = entry.path();
            if self.skip == Some(path.as_path())
                || !is_directory_to_walk(&entry, &path)
                || !is_maildir(&path)
            {
                continue;
            }
            match self.scheme.name_of(&place(&file_name)) {
                Ok(name) => {
                    found.insert(name, true);
                }
                Err(why) => skip(&path, &why),
            }
        }
        Ok(())
    }
}

fn below_base(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base).unwrap_or(path).to_path_buf()
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
