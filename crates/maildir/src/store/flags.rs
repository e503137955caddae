//! What a message file is named when its flags change or it moves to another folder, and the
//! move itself: the info part for a set of flags (keyword letters from the folder's
//! `dovecot-keywords`, extended and saved first when a new letter is needed), letters
//! translated between folders, and a move as a hard link plus unlink that never replaces a
//! file and finishes one interrupted between the two.
//!
//! Key types: none of its own; `impl Maildir` helpers used by `mail_store.rs`. Not here: the
//! rename of a flag change itself (`MailStore::set_flags` in `mail_store.rs`), the letter
//! mapping file (`keywords.rs`), the file name syntax (`filename.rs`).

use std::io;
use std::path::Path;

use pimlink_core::own_writes::{self, Event};
use pimlink_core::{CollectionName, Error, ErrorKind, Flags, ItemKey, Result};

use crate::filename::{self, Info};
use crate::fsutil::is_maildir;
use crate::items::{Location, Sub};
use crate::keywords;

use super::{Maildir, exists, not_found};

impl Maildir {
    /// The info part for `flags` on a message whose info part was `old`: the system flags, the
    /// keyword letters (new letters are saved to the folder's keyword file first), and every
    /// letter of `old` that is not a mapped keyword letter.
    pub(super) fn info_for(
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
    pub(super) fn relettered(
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

    /// Moves `key` from `from` to `to` (see [`MailStore::move_item`](pimlink_core::MailStore::move_item)), with `flags` in the new
    /// name when given.
    pub(super) fn move_as(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
        flags: Option<&Flags>,
    ) -> Result<ItemKey> {
        filename::check_existing_key(key.as_str())?;
        let from_dir = self.collection_dir(from)?;
        let to_dir = self.collection_dir(to)?;
        // A move belongs to two folders' plans; neither gives a stamp after it this run.
        self.listed.remove(from);
        self.listed.remove(to);
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
                own_writes::during(&[(&source, Event::Leave)], || std::fs::remove_file(&source))
                    .map_err(|err| {
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
                moved = self.with_flags(to, &to_dir, moved, flags)?;
            }
            let (source, target) = (location.path(&from_dir), moved.path(&to_dir));
            // A hard link refuses an existing name, which a rename would silently replace.
            match own_writes::during(&[(&target, Event::Arrive)], || {
                std::fs::hard_link(&source, &target)
            }) {
                Ok(()) => {
                    own_writes::during(&[(&source, Event::Leave)], || {
                        std::fs::remove_file(&source)
                    })
                    .map_err(|err| {
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
    /// [`MailStore::set_flags`](pimlink_core::MailStore::set_flags) names it.
    pub(super) fn with_flags(
        &mut self,
        name: &CollectionName,
        dir: &Path,
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
        // The file's own unique part, not `key`: a file mbsync renamed (`,U=` added, see
        // `renamed.rs`) keeps the name mbsync knows it by.
        let unique = filename::parse(&location.file_name).key;
        Ok(Location {
            sub: Sub::Cur,
            file_name: filename::format(unique, Some(&new_info)),
        })
    }
}

/// True if `a` and `b` name the same file (one inode reached by two hard links).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}
