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
use crate::scheme::{Place, Scheme, TreeOptions, check_flatten};
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
    /// As given to [`Maildir::open_with`], for [`MailStore::another_handle`](pimlink_core::MailStore::another_handle).
    options: TreeOptions,
    scheme: Scheme,
    /// The resolved inbox directory, when it lives outside the layout's place.
    inbox: Option<PathBuf>,
    keys: KeyMaker,
    /// Where each message was at the last scan, per folder.
    indexes: HashMap<CollectionName, Index>,
    /// Folders whose index is what their last listing found plus this handle's own changes
    /// since (no rescan found a mail reader's change, no move between folders): only those can
    /// give a stamp after the run's changes (`stamp_after_own_changes`).
    listed: HashSet<CollectionName>,
    /// Folders this handle created with new `cur/` and `new/`: empty as far as the plan knows,
    /// until a scan shows what they hold.
    created_empty: HashSet<CollectionName>,
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
        Self::open_with(root, layout, TreeOptions::default())
    }

    /// Opens the tree at `root` like [`Maildir::open`], with the extra rules of a tree another
    /// tool wrote ([`TreeOptions`]). `flatten` and `inbox` need [`Layout::Verbatim`] (a
    /// [`ErrorKind::Config`] error otherwise). The inbox directory is not created here: it is
    /// created like any folder, when the engine creates INBOX.
    pub fn open_with(
        root: impl Into<PathBuf>,
        layout: Layout,
        options: TreeOptions,
    ) -> Result<Self> {
        if layout != Layout::Verbatim && (options.flatten.is_some() || options.inbox.is_some()) {
            return Err(Error::new(
                ErrorKind::Config,
                "flatten and inbox apply only to the verbatim layout".to_owned(),
            ));
        }
        if let Some(sep) = options.flatten {
            check_flatten(sep).map_err(|why| Error::new(ErrorKind::Config, why))?;
        }
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
        let mut scheme = Scheme::plain(layout);
        scheme.flatten = options.flatten;
        scheme.names = options.names;
        let inbox = match &options.inbox {
            Some(inbox) => {
                let inbox = resolve_inbox(inbox)?;
                // An inbox exactly where the layout puts it anyway is no inbox elsewhere.
                let usual = scheme.place(&CollectionName::new(CollectionName::INBOX)?)?;
                let same = inbox
                    .strip_prefix(&root)
                    .is_ok_and(|relative| usual == Place::Root(relative.to_path_buf()));
                (!same).then_some(inbox)
            }
            None => None,
        };
        scheme.inbox_elsewhere = inbox.is_some();
        Ok(Self {
            root,
            layout,
            options,
            scheme,
            inbox,
            keys: KeyMaker::new(),
            indexes: HashMap::new(),
            listed: HashSet::new(),
            created_empty: HashSet::new(),
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
        let (base, relative) = self.base_and_relative(name)?;
        let path = base.join(relative);
        // The scheme only produces plain relative paths; this guards that promise.
        if !path.starts_with(base) {
            return Err(Error::new(
                ErrorKind::InvalidName,
                format!("the folder {name:?} would lie outside the Maildir root"),
            ));
        }
        Ok(path)
    }

    /// The directory `name`'s path is relative to (the root, or the inbox that lives
    /// elsewhere), and that path.
    pub(crate) fn base_and_relative(&self, name: &CollectionName) -> Result<(&Path, PathBuf)> {
        Ok(match (self.scheme.place(name)?, &self.inbox) {
            (Place::Root(relative), _) => (&self.root, relative),
            (Place::Inbox(relative), Some(inbox)) => (inbox, relative),
            (Place::Inbox(_), None) => {
                return Err(Error::new(
                    ErrorKind::InvalidName,
                    format!("the folder {name:?} has no inbox directory to live in"),
                ));
            }
        })
    }

    /// Like [`Maildir::collection_path`], and also refuses a folder that is reached through a
    /// symbolic link inside the root (checked once per folder once it exists).
    fn collection_dir(&mut self, name: &CollectionName) -> Result<PathBuf> {
        let path = self.collection_path(name)?;
        if !self.checked.contains(name) {
            let (base, relative) = self.base_and_relative(name)?;
            check_no_symlinks(base, &relative)?;
            for sub in MAILDIR_SUBDIRS {
                check_no_symlinks(base, &relative.join(sub))?;
            }
            if path.is_dir() {
                self.checked.insert(name.clone());
            }
        }
        Ok(path)
    }

    /// Scans the folder's messages again and remembers where they are. What it finds beyond
    /// the listing's files and this handle's changes is not in the plan: the folder can give
    /// no stamp after this run's changes (the listing marks it again).
    fn rescan(&mut self, name: &CollectionName, dir: &Path) -> Result<&mut Index> {
        self.listed.remove(name);
        self.created_empty.remove(name);
        let index = items::scan(dir).map_err(|err| err.context(format!("folder {name}")))?;
        self.indexes.insert(name.clone(), index);
        self.index(name, dir)
    }

    /// The remembered locations of the folder's messages, scanning it if it was never scanned.
    fn index(&mut self, name: &CollectionName, dir: &Path) -> Result<&mut Index> {
        if !self.indexes.contains_key(name) {
            let created = self.created_empty.remove(name);
            let empty = self.rescan(name, dir)?.is_empty();
            // Still as created: what the plan expects (anything else came from elsewhere).
            if created && empty {
                self.listed.insert(name.clone());
            }
            return self.index(name, dir);
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

/// The inbox directory resolved like the root (symbolic links in its path resolved once); it
/// may not exist yet, but its parent must.
fn resolve_inbox(inbox: &Path) -> Result<PathBuf> {
    let context = || format!("resolving the inbox directory {}", inbox.display());
    match inbox.canonicalize() {
        Ok(resolved) => Ok(resolved),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let (Some(parent), Some(file_name)) = (inbox.parent(), inbox.file_name()) else {
                return Err(Error::io(context(), err));
            };
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            let parent = parent
                .canonicalize()
                .map_err(|err| Error::io(context(), err))?;
            Ok(parent.join(file_name))
        }
        Err(err) => Err(Error::io(context(), err)),
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
