//! `impl MailStore for Maildir`: the operations the engine calls (folders, listing, read,
//! deliver, move, flags, delete, flush), each checking the key, finding the file (rescanning the
//! folder once if a mail reader renamed it) and recording the directories it changed.
//!
//! Key types: none of its own. Not here: the helpers it builds on, in `mod.rs` (paths, index),
//! `flags.rs` (names for flags and moves) and `deliveries.rs` (writing and the flush).

use std::fs::File;
use std::io;
use std::time::SystemTime;

use pimlink_core::own_writes::{self, Event};
use pimlink_core::{
    ChangeStamp, CollectionInfo, CollectionName, Content, Error, ErrorKind, Flags, ItemData,
    ItemKey, Known, Listing, MailStore, NewItem, Result,
};

use crate::filename::{self, Info};
use crate::fsutil::{ensure_dir, fsync_dir, is_maildir};
use crate::items::{self, Index, Location, Sub};
use crate::keywords;
use crate::layout::{Layout, MAILDIR_SUBDIRS};
use crate::scheme::Names;
use crate::stamp;
use crate::tree;

use super::deliveries::{Unplaced, flush_blocking, write_unsynced};
use super::{Maildir, exists, not_found};

impl MailStore for Maildir {
    fn describe(&self) -> String {
        let mut layout = match self.layout {
            Layout::Verbatim => "verbatim".to_owned(),
            Layout::MaildirPlusPlus => "maildir++".to_owned(),
        };
        if let Some(sep) = self.options.flatten {
            layout.push_str(&format!(", flattened with {sep:?}"));
        }
        if self.options.names == Names::ImapUtf7 {
            layout.push_str(", modified UTF-7 names");
        }
        if let Some(inbox) = &self.inbox {
            layout.push_str(&format!(", inbox {}", inbox.display()));
        }
        format!("maildir {} ({layout})", self.root.display())
    }

    fn concurrency(&self) -> Option<usize> {
        None
    }

    fn another_handle(&self) -> Result<Self> {
        Maildir::open_with(self.root.clone(), self.layout, self.options.clone())
    }

    async fn list_collections(&mut self) -> Result<Vec<CollectionInfo>> {
        tree::list_collections(&self.root, self.scheme, self.inbox.as_deref())
    }

    async fn create_collection(&mut self, name: &CollectionName) -> Result<()> {
        let dir = self.collection_dir(name)?;
        let (base, relative) = self.base_and_relative(name)?;
        let base = base.to_path_buf();
        // An inbox elsewhere is created like the root: its parent must exist.
        let base_created = ensure_dir(&base)?;
        let mut created = base_created;
        let mut level = base.clone();
        for component in relative.components() {
            level.push(component);
            created |= ensure_dir(&level)?;
        }
        // Whether cur/ and new/ are new: then the folder holds no message this handle missed.
        let mut empty = true;
        for sub in MAILDIR_SUBDIRS {
            let new_dir = ensure_dir(&dir.join(sub))?;
            created |= new_dir;
            empty &= new_dir || sub == "tmp";
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
                if path == base {
                    break;
                }
                match path.parent() {
                    Some(parent) => path = parent,
                    None => break,
                }
            }
        }
        if base_created && let Some(parent) = base.parent() {
            fsync_dir(parent)?;
        }
        self.checked.insert(name.clone());
        if empty {
            self.created_empty.insert(name.clone());
        }
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
        let (base, _) = self.base_and_relative(name)?;
        crate::remove::remove_folder(base, &dir)
            .map_err(|e| e.context(format!("removing folder {name}")))?;
        self.indexes.remove(name);
        self.listed.remove(name);
        self.created_empty.remove(name);
        self.checked.remove(name);
        Ok(())
    }

    async fn change_stamp(&mut self, collection: &CollectionName) -> Result<Option<ChangeStamp>> {
        let dir = self.collection_dir(collection)?;
        stamp::stamp(&dir)
            .map_err(|err| Error::io(format!("reading the times of folder {collection}"), err))
    }

    async fn stamp_after_own_changes(
        &mut self,
        collection: &CollectionName,
    ) -> Result<Option<(ChangeStamp, SystemTime)>> {
        let dir = self.collection_dir(collection)?;
        let pending = self.unplaced.iter().any(|u| &u.collection == collection)
            || self.dirty.iter().any(|d| d.parent() == Some(dir.as_path()));
        // A folder this handle created and has not scanned since is expected to be empty.
        let never_scanned = Index::new();
        let index = match self.indexes.get(collection) {
            Some(index) if self.listed.contains(collection) => index.clone(),
            None if self.created_empty.contains(collection) => never_scanned,
            _ => return Ok(None),
        };
        if pending {
            return Ok(None);
        }
        let at_dir = dir.clone();
        let after = pimlink_core::offthread::run("maildir-stamp", move || {
            stamp::after_own_changes(&at_dir)
        })
        .await;
        let Some(Some(after)) = after.transpose()? else {
            return Ok(None);
        };
        // A folder this handle created and never read keywords of expects no keyword file.
        let keywords = self.keywords.get(collection).cloned().unwrap_or_default();
        if !stamp::same_files(&index, &after.files) || keywords != after.keywords {
            tracing::debug!(
                "folder {collection} changed beside this run's own changes; no stamp after them"
            );
            return Ok(None);
        }
        Ok(Some((after.stamp, after.at)))
    }

    async fn list_items(
        &mut self,
        collection: &CollectionName,
        known: Known<'_>,
    ) -> Result<Listing> {
        // A directory listing is already as cheap as any incremental scheme could be.
        let dir = self.collection_dir(collection)?;
        // Read afresh: Dovecot or another run may have added letters since.
        let map =
            keywords::load(&dir).map_err(|err| err.context(format!("folder {collection}")))?;
        let index = self.rescan(collection, &dir)?;
        crate::renamed::keep_known_keys(index, known.items);
        let entries = items::entries(index, &map);
        self.listed.insert(collection.clone());
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
            let target = self.with_flags(collection, &dir, location.clone(), flags)?;
            if target == location {
                return Ok(());
            }
            let (from, to) = (location.path(&dir), target.path(&dir));
            let renamed =
                own_writes::during(&[(&from, Event::Leave), (&to, Event::Arrive)], || {
                    std::fs::rename(&from, &to)
                });
            match renamed {
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
            match own_writes::during(&[(&path, Event::Leave)], || std::fs::remove_file(&path)) {
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
