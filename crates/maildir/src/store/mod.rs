//! [`Maildir`]: the Maildir tree one side of a pair syncs with, and what a handle remembers
//! between calls: where each message file was at the last listing (per folder [`Index`]), each
//! folder's keyword letters, directories that still need an fsync, deliveries waiting for the
//! flush.
//!
//! Key types: [`Maildir`]. Here: opening the root, folder paths (and the symlink check), the
//! index and its rescan when a file has vanished. Not here: the `MailStore` impl
//! (`mail_store.rs`), file names for new flags and moves between folders (`flags.rs`), writing
//! and flushing deliveries (`deliveries.rs`), folder listing (`tree.rs`), message listing
//! (`items.rs`).

mod deliveries;
mod flags;
mod mail_store;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use pimlink_core::{CollectionName, Error, ErrorKind, ItemKey, Result};

use crate::fsutil::{check_no_symlinks, fsync_dir};
use crate::items::{self, Index, Location, Sub};
use crate::keywords::{self, KeywordMap};
use crate::layout::{Layout, MAILDIR_SUBDIRS};
use crate::unique::KeyMaker;

use deliveries::Unplaced;

/// A tree of maildirs under one root directory, in one [`Layout`].
///
/// The store remembers where each message file was at the last listing (mail readers rename
/// files at any time, so every operation that finds a file gone rescans its folder once) and
/// which directories changed since the last [`MailStore::flush`](pimlink_core::MailStore::flush).
#[derive(Debug)]
pub struct Maildir {
    root: PathBuf,
    layout: Layout,
    keys: KeyMaker,
    /// Where each message was at the last scan, per folder.
    indexes: HashMap<CollectionName, Index>,
    /// Folders whose directories were checked to contain no symbolic link.
    checked: HashSet<CollectionName>,
    /// Directories whose entries changed and still need an fsync.
    dirty: BTreeSet<PathBuf>,
    /// Each folder's keyword letters, as last read or extended.
    keywords: HashMap<CollectionName, KeywordMap>,
    /// Delivered messages written to tmp/ but not yet fsynced and linked into place: `flush`
    /// makes them durable together, since concurrent fsyncs share the file system's journal
    /// commits (an order of magnitude faster than one fsync after another).
    unplaced: Vec<Unplaced>,
    /// tmp/ directories this handle found or created: checked once, not once per delivery.
    tmp_ready: HashSet<PathBuf>,
}

impl Maildir {
    /// Opens the Maildir tree at `root`.
    ///
    /// If `root` does not exist it is created, but only if its parent directory exists: a
    /// mistyped path or an unmounted disk then fails loudly instead of silently starting an
    /// empty tree somewhere else. `root` itself may be a symbolic link; it is resolved once,
    /// here, and everything below is addressed from the resolved path.
    pub fn open(root: impl Into<PathBuf>, layout: Layout) -> Result<Self> {
        let root = root.into();
        match std::fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("the Maildir root {} is not a directory", root.display()),
                ));
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => create_root(&root)?,
            Err(err) => {
                return Err(Error::io(
                    format!("opening the Maildir root {}", root.display()),
                    err,
                ));
            }
        }
        let root = root.canonicalize().map_err(|err| {
            Error::io(
                format!("resolving the Maildir root {}", root.display()),
                err,
            )
        })?;
        Ok(Self {
            root,
            layout,
            keys: KeyMaker::new(),
            indexes: HashMap::new(),
            checked: HashSet::new(),
            dirty: BTreeSet::new(),
            keywords: HashMap::new(),
            unplaced: Vec::new(),
            tmp_ready: HashSet::new(),
        })
    }

    /// The resolved root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The directory that holds (or would hold) `name`, without touching the disk; an
    /// [`ErrorKind::InvalidName`] error says why this layout cannot hold the name.
    pub fn collection_path(&self, name: &CollectionName) -> Result<PathBuf> {
        let path = self.root.join(self.layout.relative_dir(name)?);
        // The layout only produces plain relative paths; this guards that promise.
        if !path.starts_with(&self.root) {
            return Err(Error::new(
                ErrorKind::InvalidName,
                format!("the folder {name:?} would lie outside the Maildir root"),
            ));
        }
        Ok(path)
    }

    /// Like [`Maildir::collection_path`], and also refuses a folder that is reached through a
    /// symbolic link inside the root (checked once per folder once it exists).
    fn collection_dir(&mut self, name: &CollectionName) -> Result<PathBuf> {
        let path = self.collection_path(name)?;
        if !self.checked.contains(name) {
            let relative = path.strip_prefix(&self.root).unwrap_or(Path::new(""));
            check_no_symlinks(&self.root, relative)?;
            for sub in MAILDIR_SUBDIRS {
                check_no_symlinks(&self.root, &relative.join(sub))?;
            }
            if path.is_dir() {
                self.checked.insert(name.clone());
            }
        }
        Ok(path)
    }

    /// Scans the folder's messages again and remembers where they are.
    fn rescan(&mut self, name: &CollectionName, dir: &Path) -> Result<&mut Index> {
        let index = items::scan(dir).map_err(|err| err.context(format!("folder {name}")))?;
        self.indexes.insert(name.clone(), index);
        self.index(name, dir)
    }

    /// The remembered locations of the folder's messages, scanning it if it was never scanned.
    fn index(&mut self, name: &CollectionName, dir: &Path) -> Result<&mut Index> {
        if !self.indexes.contains_key(name) {
            return self.rescan(name, dir);
        }
        self.indexes
            .get_mut(name)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("folder {name} vanished")))
    }

    /// Where the message `key` is: from the last scan, or from a fresh one if `fresh`.
    fn locate(
        &mut self,
        name: &CollectionName,
        dir: &Path,
        key: &ItemKey,
        fresh: bool,
    ) -> Result<Option<Location>> {
        let index = if fresh {
            self.rescan(name, dir)?
        } else {
            self.index(name, dir)?
        };
        Ok(index.get(key.as_str()).cloned())
    }

    /// The folder's keyword mapping, read if this run has not read it yet.
    fn keyword_map(&mut self, name: &CollectionName, dir: &Path) -> Result<&mut KeywordMap> {
        if !self.keywords.contains_key(name) {
            let map = keywords::load(dir)?;
            self.keywords.insert(name.clone(), map);
        }
        self.keywords
            .get_mut(name)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("folder {name} vanished")))
    }

    fn mark_dirty(&mut self, dir: &Path, sub: Sub) {
        self.dirty.insert(dir.join(sub.dir_name()));
    }
}

/// Creates a missing root whose parent exists, and makes the new entry durable.
fn create_root(root: &Path) -> Result<()> {
    let parent = root
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "the Maildir root {} does not exist, and neither does its parent {}; create \
                 the parent first (pimlink creates only the last level, so that a mistyped \
                 path fails)",
                root.display(),
                parent.display()
            ),
        ));
    }
    pimlink_core::private::dir_builder()
        .create(root)
        .map_err(|err| Error::io(format!("creating the Maildir root {}", root.display()), err))?;
    fsync_dir(parent)
}

fn not_found(collection: &CollectionName, key: &ItemKey) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("message {key} is no longer in folder {collection}"),
    )
}

fn exists(collection: &CollectionName, key: &str) -> Error {
    Error::new(
        ErrorKind::Refused,
        format!(
            "a message with key {key} already exists in folder {collection}; refusing to \
             overwrite it"
        ),
    )
}
