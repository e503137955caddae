//! [`Maildir`]: the `MailStore` implementation.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use pimlink_core::{
    ChangeStamp, CollectionInfo, CollectionName, Content, Error, ErrorKind, Flags, ItemData,
    ItemKey, Known, Listing, MailStore, NewItem, Result,
};

use crate::durable::{self, Strategy};
use crate::filename::{self, Info};
use crate::fsutil::{check_no_symlinks, ensure_dir, fsync_dir, is_maildir};
use crate::items::{self, Index, Location, Sub};
use crate::keywords::{self, KeywordMap};
use crate::layout::{Layout, MAILDIR_SUBDIRS};
use crate::lineend::CrlfToLf;
use crate::tree;
use crate::unique::KeyMaker;

/// A tree of maildirs under one root directory, in one [`Layout`].
///
/// The store remembers where each message file was at the last listing (mail readers rename
/// files at any time, so every operation that finds a file gone rescans its folder once) and
/// which directories changed since the last [`MailStore::flush`].
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

/// A delivery waiting for `flush`.
#[derive(Debug)]
struct Unplaced {
    collection: CollectionName,
    key: String,
    file: File,
    tmp: PathBuf,
    destination: PathBuf,
    dir: PathBuf,
    sub: Sub,
}

/// How many fsyncs run at once in `flush`; more stop helping on an ordinary disk.
const CONCURRENT_FSYNCS: usize = 16;

/// The write buffer of a delivery: a large message takes one `write` per 64 KiB instead of
/// per 8 KiB (std's default); one delivery is written at a time, so it costs 64 KiB once.
const WRITE_BUFFER: usize = 64 * 1024;

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

    /// The info part for `flags` on a message whose info part was `old`: the system flags, the
    /// keyword letters (new letters are saved to the folder's keyword file first), and every
    /// letter of `old` that is not a mapped keyword letter.
    fn info_for(
        &mut self,
        name: &CollectionName,
        dir: &Path,
        old: &Info,
        flags: &Flags,
    ) -> Result<Info> {
        let mut map = self.keyword_map(name, dir)?;
        if map.clone().letters_for(flags).1 {
            // Another handle on this tree (the engine syncs folders concurrently) or the mail
            // server may have given out letters since this one read the file: extend the file
            // as it is now, so that no letter gets two meanings.
            let fresh = keywords::load(dir)?;
            self.keywords.insert(name.clone(), fresh);
            map = self.keyword_map(name, dir)?;
        }
        let before = map.clone();
        let (letters, changed, dropped) = map.letters_for(flags);
        let kept: String = old
            .other
            .chars()
            .filter(|c| !before.is_mapped(*c))
            .collect();
        if changed {
            let map = map.clone();
            if let Err(err) = keywords::save(dir, &map) {
                // The letters are not durable, so they must not be used.
                self.keywords.insert(name.clone(), before);
                return Err(err.context(format!("folder {name}")));
            }
        }
        if !dropped.is_empty() {
            tracing::warn!(
                "folder {name}: no Maildir keyword letter for {}; not stored here",
                dropped.join(", ")
            );
        }
        let mut info = old.with_flags(flags);
        info.other = kept;
        info.other.push_str(&letters);
        Ok(filename::parse_info(&info.letters()))
    }

    /// Where a message at `location` in `from` goes in `to`: the same name, except that its
    /// keyword letters are translated, since each folder's `dovecot-keywords` gives letters
    /// their own meaning.
    fn relettered(
        &mut self,
        from: &CollectionName,
        from_dir: &Path,
        to: &CollectionName,
        to_dir: &Path,
        key: &ItemKey,
        location: &Location,
    ) -> Result<Location> {
        let Some(info) = location.info() else {
            return Ok(location.clone());
        };
        let source_map = self.keyword_map(from, from_dir)?.clone();
        if !info.other.chars().any(|c| source_map.is_mapped(c)) {
            return Ok(location.clone());
        }
        let mut flags = info.flags.clone();
        let unmapped = source_map.read_letters(&info.other, &mut flags);
        let plain = Info {
            flags: info.flags.clone(),
            other: unmapped,
        };
        let target = self.info_for(to, to_dir, &plain, &flags)?;
        Ok(Location {
            sub: location.sub,
            file_name: filename::format(key.as_str(), Some(&target)),
        })
    }

    /// Moves `key` from `from` to `to` (see [`MailStore::move_item`]), with `flags` in the new
    /// name when given.
    fn move_as(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
        flags: Option<&Flags>,
    ) -> Result<ItemKey> {
        filename::check_existing_key(key.as_str())?;
        let from_dir = self.collection_dir(from)?;
        let to_dir = self.collection_dir(to)?;
        if !is_maildir(&to_dir) {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "cannot move into folder {to}: {} is not a maildir",
                    to_dir.display()
                ),
            ));
        }
        if let Some(existing) = self.index(to, &to_dir)?.get(key.as_str()).cloned() {
            // A move killed between its link and its unlink left one file under both names:
            // finish it. Any other message with that key is never overwritten.
            if let Some(location) = self.locate(from, &from_dir, key, false)?
                && same_file(&location.path(&from_dir), &existing.path(&to_dir))
            {
                let source = location.path(&from_dir);
                std::fs::remove_file(&source).map_err(|err| {
                    Error::io(
                        format!(
                            "removing {} to finish an interrupted move",
                            source.display()
                        ),
                        err,
                    )
                })?;
                if let Some(index) = self.indexes.get_mut(from) {
                    index.remove(key.as_str());
                }
                self.mark_dirty(&from_dir, location.sub);
                return Ok(key.clone());
            }
            return Err(exists(to, key.as_str()));
        }
        for fresh in [false, true] {
            let Some(location) = self.locate(from, &from_dir, key, fresh)? else {
                break;
            };
            let mut moved = self.relettered(from, &from_dir, to, &to_dir, key, &location)?;
            if let Some(flags) = flags {
                moved = self.with_flags(to, &to_dir, key, moved, flags)?;
            }
            let (source, target) = (location.path(&from_dir), moved.path(&to_dir));
            // A hard link refuses an existing name, which a rename would silently replace.
            match std::fs::hard_link(&source, &target) {
                Ok(()) => {
                    std::fs::remove_file(&source).map_err(|err| {
                        Error::io(
                            format!("removing {} after moving it", source.display()),
                            err,
                        )
                    })?;
                    if let Some(index) = self.indexes.get_mut(from) {
                        index.remove(key.as_str());
                    }
                    self.index(to, &to_dir)?
                        .insert(key.as_str().to_owned(), moved.clone());
                    self.mark_dirty(&from_dir, location.sub);
                    self.mark_dirty(&to_dir, moved.sub);
                    return Ok(key.clone());
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(exists(to, key.as_str()));
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound && !fresh => {}
                Err(err) => {
                    return Err(Error::io(
                        format!("moving {} to {}", source.display(), target.display()),
                        err,
                    ));
                }
            }
        }
        Err(not_found(from, key))
    }

    /// Where `location` (in folder `name`) goes when its flags become `flags`: as
    /// [`MailStore::set_flags`] names it.
    fn with_flags(
        &mut self,
        name: &CollectionName,
        dir: &Path,
        key: &ItemKey,
        location: Location,
        flags: &Flags,
    ) -> Result<Location> {
        let old_info = location.info();
        let new_info = self.info_for(name, dir, &old_info.clone().unwrap_or_default(), flags)?;
        if location.sub == Sub::New
            && new_info.is_empty()
            && old_info.as_ref().is_none_or(Info::is_empty)
        {
            return Ok(location);
        }
        Ok(Location {
            sub: Sub::Cur,
            file_name: filename::format(key.as_str(), Some(&new_info)),
        })
    }

    fn mark_dirty(&mut self, dir: &Path, sub: Sub) {
        self.dirty.insert(dir.join(sub.dir_name()));
    }
}

impl MailStore for Maildir {
    fn describe(&self) -> String {
        let layout = match self.layout {
            Layout::Verbatim => "verbatim",
            Layout::MaildirPlusPlus => "maildir++",
        };
        format!("maildir {} ({layout})", self.root.display())
    }

    fn concurrency(&self) -> Option<usize> {
        None
    }

    fn another_handle(&self) -> Result<Self> {
        Maildir::open(self.root.clone(), self.layout)
    }

    async fn list_collections(&mut self) -> Result<Vec<CollectionInfo>> {
        tree::list_collections(&self.root, self.layout)
    }

    async fn create_collection(&mut self, name: &CollectionName) -> Result<()> {
        let dir = self.collection_dir(name)?;
        let relative = dir.strip_prefix(&self.root).unwrap_or(Path::new(""));
        let mut created = false;
        let mut level = self.root.clone();
        for component in relative.components() {
            level.push(component);
            created |= ensure_dir(&level)?;
        }
        for sub in MAILDIR_SUBDIRS {
            created |= ensure_dir(&dir.join(sub))?;
        }
        if self.layout == Layout::MaildirPlusPlus && !name.is_inbox() {
            // Courier and Dovecot mark Maildir++ subfolders with this empty file; some delivery
            // agents (maildrop) rely on it.
            let marker = dir.join("maildirfolder");
            pimlink_core::private::file_options()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&marker)
                .map_err(|err| Error::io(format!("creating {}", marker.display()), err))?;
        }
        if created {
            // New directory entries are durable only once their parents are synced: the folder
            // itself (cur/new/tmp) and every level up to the root.
            let mut path = dir.as_path();
            loop {
                fsync_dir(path)?;
                if path == self.root {
                    break;
                }
                match path.parent() {
                    Some(parent) => path = parent,
                    None => break,
                }
            }
        }
        self.checked.insert(name.clone());
        Ok(())
    }

    async fn delete_collection(&mut self, name: &CollectionName) -> Result<()> {
        if name.is_inbox() {
            return Err(Error::new(
                ErrorKind::Refused,
                "INBOX is never removed".to_owned(),
            ));
        }
        let dir = self.collection_dir(name)?;
        // Whatever is pending in it must be on disk before its directories go.
        self.flush().await?;
        crate::remove::remove_folder(&self.root, &dir)
            .map_err(|e| e.context(format!("removing folder {name}")))?;
        self.indexes.remove(name);
        self.checked.remove(name);
        Ok(())
    }

    async fn change_stamp(&mut self, collection: &CollectionName) -> Result<Option<ChangeStamp>> {
        let dir = self.collection_dir(collection)?;
        crate::stamp::stamp(&dir)
            .map_err(|err| Error::io(format!("reading the times of folder {collection}"), err))
    }

    async fn list_items(
        &mut self,
        collection: &CollectionName,
        _known: Known<'_>,
    ) -> Result<Listing> {
        // A directory listing is already as cheap as any incremental scheme could be.
        let dir = self.collection_dir(collection)?;
        // Read afresh: Dovecot or another run may have added letters since.
        let map =
            keywords::load(&dir).map_err(|err| err.context(format!("folder {collection}")))?;
        let entries = items::entries(self.rescan(collection, &dir)?, &map);
        let mut listing = Listing::complete(entries);
        listing.keywords = map.support();
        self.keywords.insert(collection.clone(), map);
        Ok(listing)
    }

    fn reserve_key(&mut self) -> Option<ItemKey> {
        Some(ItemKey::new(self.keys.next_key()))
    }

    async fn read(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<ItemData> {
        filename::check_existing_key(key.as_str())?;
        let dir = self.collection_dir(collection)?;
        for fresh in [false, true] {
            let Some(location) = self.locate(collection, &dir, key, fresh)? else {
                break;
            };
            let path = location.path(&dir);
            match File::open(&path) {
                Ok(file) => {
                    let internal_date = file.metadata().and_then(|meta| meta.modified()).ok();
                    return Ok(ItemData {
                        content: Content::File(file),
                        internal_date,
                    });
                }
                // A mail reader renamed it (a flag change) since the last scan: look again.
                Err(err) if err.kind() == io::ErrorKind::NotFound && !fresh => {}
                Err(err) => return Err(Error::io(format!("reading {}", path.display()), err)),
            }
        }
        Err(not_found(collection, key))
    }

    async fn deliver(&mut self, collection: &CollectionName, item: NewItem<'_>) -> Result<ItemKey> {
        let dir = self.collection_dir(collection)?;
        if !is_maildir(&dir) {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "cannot deliver into folder {collection}: {} is not a maildir",
                    dir.display()
                ),
            ));
        }
        let key = match item.reserved_key {
            Some(key) => key.as_str().to_owned(),
            None => self.keys.next_key(),
        };
        filename::check_new_key(&key)?;
        if self.index(collection, &dir)?.contains_key(&key) {
            return Err(exists(collection, &key));
        }
        let info = self.info_for(collection, &dir, &Info::default(), item.flags)?;
        let location = if info.is_empty() {
            Location {
                sub: Sub::New,
                file_name: key.clone(),
            }
        } else {
            Location {
                sub: Sub::Cur,
                file_name: filename::format(&key, Some(&info)),
            }
        };

        let tmp_dir = dir.join("tmp");
        if !self.tmp_ready.contains(&tmp_dir) {
            ensure_dir(&tmp_dir)?;
            self.tmp_ready.insert(tmp_dir.clone());
        }
        let tmp = tmp_dir.join(&key);
        let file = match write_unsynced(&tmp, item.data) {
            Ok(file) => file,
            Err(err) => {
                // Best effort: a leftover in tmp/ is harmless, readers ignore tmp/.
                let _ = std::fs::remove_file(&tmp);
                // Perhaps tmp/ went away: the next delivery checks it again.
                self.tmp_ready.remove(&tmp_dir);
                return Err(err);
            }
        };
        // Reserve the key now, so that a second delivery of it fails before the flush too.
        self.index(collection, &dir)?
            .insert(key.clone(), location.clone());
        self.unplaced.push(Unplaced {
            collection: collection.clone(),
            key: key.clone(),
            file,
            tmp,
            destination: location.path(&dir),
            dir,
            sub: location.sub,
        });
        Ok(ItemKey::new(key))
    }

    fn can_move(&self) -> bool {
        true
    }

    /// Renames the file into the other folder's `new/` or `cur/` under the same name, so the
    /// key, the flags and the file's identity (inode) stay as they are.
    async fn move_item(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
    ) -> Result<ItemKey> {
        self.move_as(from, key, to, None)
    }

    /// The move and the new flags are one link under the new name.
    async fn move_item_with_flags(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
        flags: &Flags,
    ) -> Result<ItemKey> {
        self.move_as(from, key, to, Some(flags))?;
        // A move finished from an earlier interrupted one kept the name it had.
        self.set_flags(to, key, flags).await?;
        Ok(key.clone())
    }

    async fn set_flags(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
        flags: &Flags,
    ) -> Result<()> {
        filename::check_existing_key(key.as_str())?;
        let dir = self.collection_dir(collection)?;
        for fresh in [false, true] {
            let Some(location) = self.locate(collection, &dir, key, fresh)? else {
                break;
            };
            // An unflagged message in new/ stays there as it is: moving it to cur/ would tell
            // mail readers it has been seen by a reader. Anything with flags, or that was
            // already in cur/, goes to cur/ with an info part (`key:2,` when empty, as
            // Dovecot and mbsync write it).
            let target = self.with_flags(collection, &dir, key, location.clone(), flags)?;
            if target == location {
                return Ok(());
            }
            let (from, to) = (location.path(&dir), target.path(&dir));
            match std::fs::rename(&from, &to) {
                Ok(()) => {
                    self.index(collection, &dir)?
                        .insert(key.as_str().to_owned(), target.clone());
                    self.mark_dirty(&dir, location.sub);
                    self.mark_dirty(&dir, target.sub);
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound && !fresh => {}
                Err(err) => {
                    return Err(Error::io(
                        format!("renaming {} to {}", from.display(), to.display()),
                        err,
                    ));
                }
            }
        }
        Err(not_found(collection, key))
    }

    async fn delete(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<()> {
        filename::check_existing_key(key.as_str())?;
        let dir = self.collection_dir(collection)?;
        for fresh in [false, true] {
            let Some(location) = self.locate(collection, &dir, key, fresh)? else {
                return Ok(());
            };
            let path = location.path(&dir);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    self.index(collection, &dir)?.remove(key.as_str());
                    self.mark_dirty(&dir, location.sub);
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound && !fresh => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    self.index(collection, &dir)?.remove(key.as_str());
                    return Ok(());
                }
                Err(err) => {
                    return Err(Error::io(format!("deleting {}", path.display()), err));
                }
            }
        }
        Ok(())
    }

    /// Runs on a thread of its own (see `pimlink_core::offthread`), so that other folders' downloads go on
    /// while this handle waits for the disk.
    async fn flush(&mut self) -> Result<()> {
        let unplaced = std::mem::take(&mut self.unplaced);
        let dirty = std::mem::take(&mut self.dirty);
        if unplaced.is_empty() && dirty.is_empty() {
            return Ok(());
        }
        let dirs = dirty.clone();
        let outcome =
            pimlink_core::offthread::run("maildir-flush", move || flush_blocking(unplaced, dirty))
                .await;
        let Some(outcome) = outcome else {
            // The directories changed before this flush still need their fsync.
            self.dirty = dirs;
            return Err(Error::new(
                ErrorKind::Io,
                "the thread flushing the Maildir failed; nothing of this batch is recorded"
                    .to_owned(),
            ));
        };
        for (collection, key) in &outcome.failed {
            if let Some(index) = self.indexes.get_mut(collection) {
                index.remove(key);
            }
        }
        // Keep what is not synced yet, so that a later flush tries again.
        self.dirty.extend(outcome.unsynced_dirs);
        match (outcome.dir_error, outcome.placing_error) {
            (Some(err), _) | (None, Some(err)) => Err(err),
            (None, None) => Ok(()),
        }
    }
}

/// What a flush did, for the handle to update its index and its list of dirty directories.
struct Flushed {
    /// Deliveries that failed: their keys are free again.
    failed: Vec<(CollectionName, String)>,
    /// Directories still to fsync after a failure.
    unsynced_dirs: BTreeSet<PathBuf>,
    /// The first delivery that failed.
    placing_error: Option<Error>,
    /// The directory fsync that failed.
    dir_error: Option<Error>,
}

/// The blocking part of a flush: makes every pending delivery durable and moves it into new/
/// or cur/, then fsyncs every changed directory (`dirty` and those the deliveries changed).
/// A delivery that fails is removed from tmp/ and reported; the engine then records none of the
/// batch and finds out next run which ones landed.
fn flush_blocking(unplaced: Vec<Unplaced>, mut dirty: BTreeSet<PathBuf>) -> Flushed {
    let mut flushed = Flushed {
        failed: Vec::new(),
        unsynced_dirs: BTreeSet::new(),
        placing_error: None,
        dir_error: None,
    };
    let synced = sync_deliveries(&unplaced);
    for (delivery, synced) in unplaced.into_iter().zip(synced) {
        let result = synced.and_then(|()| {
            durable::place(&delivery.tmp, &delivery.destination).map_err(|err| {
                if err.kind() == ErrorKind::Refused {
                    exists(&delivery.collection, &delivery.key)
                } else {
                    err
                }
            })
        });
        match result {
            Ok(()) => {
                dirty.insert(delivery.dir.join(delivery.sub.dir_name()));
            }
            Err(err) => {
                let _ = std::fs::remove_file(&delivery.tmp);
                flushed.failed.push((delivery.collection, delivery.key));
                flushed.placing_error.get_or_insert(err);
            }
        }
    }
    let mut pending = dirty.into_iter();
    while let Some(dir) = pending.next() {
        if let Err(err) = fsync_dir(&dir) {
            flushed.unsynced_dirs.insert(dir);
            flushed.unsynced_dirs.extend(pending);
            flushed.dir_error = Some(err);
            break;
        }
    }
    flushed
}

/// Makes the files of `deliveries` durable, one result each, in order: per folder, one
/// `syncfs` for a large group (see `durable.rs`), else an fsync per file from up to
/// [`CONCURRENT_FSYNCS`] threads.
fn sync_deliveries(deliveries: &[Unplaced]) -> Vec<Result<()>> {
    let mut groups: BTreeMap<&Path, Vec<usize>> = BTreeMap::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        groups.entry(&delivery.dir).or_default().push(index);
    }
    let mut results: Vec<Option<Result<()>>> = deliveries.iter().map(|_| None).collect();
    let mut one_by_one = Vec::new();
    for members in groups.into_values() {
        let trusted = members.len() >= durable::SYNCFS_MIN_FILES
            && durable::syncfs_reports_errors()
            && durable::syncfs_is_thorough(&deliveries[members[0]].file);
        match durable::strategy(members.len(), trusted) {
            Strategy::SyncFs => {
                // Through the descriptor of the group's first file: it was opened before any
                // of the group's data was written, so a writeback error of any of them since
                // is reported here (syncfs checks the file system's error sequence against
                // the one the descriptor saw when it was opened).
                let outcome = durable::syncfs(&deliveries[members[0]].file);
                for &index in &members {
                    results[index] = Some(outcome.as_ref().map(|_| ()).map_err(|err| {
                        Error::io(
                            format!("writing {}", deliveries[index].tmp.display()),
                            io::Error::new(err.kind(), err.to_string()),
                        )
                    }));
                }
            }
            Strategy::FsyncEach => one_by_one.extend(members),
        }
    }
    let chosen: Vec<&Unplaced> = one_by_one.iter().map(|&index| &deliveries[index]).collect();
    for (index, result) in one_by_one.into_iter().zip(sync_all_concurrently(&chosen)) {
        results[index] = Some(result);
    }
    results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(Error::new(ErrorKind::Io, "not synced"))))
        .collect()
}

/// fsyncs the files of `deliveries` from up to [`CONCURRENT_FSYNCS`] threads; one result each,
/// in order.
fn sync_all_concurrently(deliveries: &[&Unplaced]) -> Vec<Result<()>> {
    if deliveries.is_empty() {
        return Vec::new();
    }
    let threads = CONCURRENT_FSYNCS.min(deliveries.len()).max(1);
    let chunk = deliveries.len().div_ceil(threads);
    let sync = |delivery: &&Unplaced| {
        delivery
            .file
            .sync_all()
            .map_err(|err| Error::io(format!("writing {}", delivery.tmp.display()), err))
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = deliveries
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(sync).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .zip(deliveries.chunks(chunk))
            .flat_map(|(worker, part)| {
                worker.join().unwrap_or_else(|_| {
                    part.iter()
                        .map(|d| {
                            Err(Error::new(
                                ErrorKind::Io,
                                format!("fsync of {} failed", d.tmp.display()),
                            ))
                        })
                        .collect()
                })
            })
            .collect()
    })
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

/// Writes a message to `path` with LF line ends and stamps its mtime; the fsync is left to
/// `flush`. Large messages are streamed, never held in memory.
fn write_unsynced(path: &Path, data: ItemData) -> Result<File> {
    let context = || format!("writing {}", path.display());
    // tmp/<key> may be left over from an interrupted delivery of the same reserved key: tmp/ is
    // scratch space, so it is simply overwritten.
    let file = pimlink_core::private::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|err| Error::io(context(), err))?;
    // Buffered, so that the line-end conversion does not turn into one write per chunk.
    let mut writer = CrlfToLf::new(io::BufWriter::with_capacity(WRITE_BUFFER, file));
    match data.content {
        Content::Bytes(bytes) => writer.write_all(&bytes),
        Content::File(mut source) => io::copy(&mut source, &mut writer).map(|_| ()),
    }
    .map_err(|err| Error::io(context(), err))?;
    let file = writer
        .finish()
        .and_then(|buffered| {
            buffered
                .into_inner()
                .map_err(io::IntoInnerError::into_error)
        })
        .map_err(|err| Error::io(context(), err))?;
    if let Some(date) = data.internal_date {
        file.set_modified(date)
            .map_err(|err| Error::io(format!("setting the mtime of {}", path.display()), err))?;
    }
    Ok(file)
}

/// True if `a` and `b` name the same file (one inode reached by two hard links).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
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
