//! Listing the messages of one maildir (its `cur/` and `new/`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use pimlink_core::{Error, ErrorKind, ItemEntry, ItemKey, Result};

use crate::filename;
use crate::keywords::KeywordMap;
use crate::watch::{Arrival, Drained, Watch};
use pimlink_core::Flags;

/// Which of a maildir's message directories a file is in. The order matters: when one key is
/// found twice, the copy in `cur/` wins (a mail reader has already seen and possibly flagged it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Sub {
    /// `cur/`: messages a reader has seen, named `key:2,flags`.
    Cur,
    /// `new/`: freshly delivered messages, named `key`.
    New,
}

impl Sub {
    /// The directory's name.
    pub fn dir_name(self) -> &'static str {
        match self {
            Sub::Cur => "cur",
            Sub::New => "new",
        }
    }
}

/// Where a message's file is now.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Location {
    /// `cur/` or `new/`.
    pub sub: Sub,
    /// The full file name, info part included.
    pub file_name: String,
}

impl Location {
    /// The file's path inside the maildir `dir`.
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(self.sub.dir_name()).join(&self.file_name)
    }

    /// The info part of the file name (`None` if there is no `:2,`).
    pub fn info(&self) -> Option<filename::Info> {
        filename::parse(&self.file_name).info
    }

    /// The listing entry for the message with `key` stored here; `keywords` reads the
    /// keyword letters.
    pub fn entry(&self, key: &str, keywords: &KeywordMap) -> ItemEntry {
        let flags = match self.info() {
            Some(info) => {
                let mut flags = info.flags;
                keywords.read_letters(&info.other, &mut flags);
                flags
            }
            None => Flags::new(),
        };
        ItemEntry {
            key: ItemKey::new(key),
            flags,
            size: filename::size_hint(key),
        }
    }
}

/// Every message of the maildir `dir`, by key.
pub(crate) type Index = HashMap<String, Location>;

/// How many times a listing is repeated while files it could not place keep moving.
const MAX_LISTINGS: usize = 32;

/// Every message of the maildir `dir`, including any that a mail reader renamed while it was
/// being listed (see `watch.rs`): a message that existed throughout is never missing. Dot-files,
/// non-files and names that are not UTF-8 are skipped (with a warning where a user would want
/// to know); `tmp/` is never read.
pub(crate) fn scan(dir: &Path) -> Result<Index> {
    let Some(mut watch) = Watch::new(dir) else {
        // Without a watch, the best is to list again until a listing finds no message the
        // earlier ones missed: a file is missed only if it is renamed while its directory is
        // read, so to be missed by every listing it must be renamed during each.
        let mut index = scan_once(dir)?;
        for _ in 0..MAX_LISTINGS {
            let before = index.len();
            for (key, location) in scan_once(dir)? {
                index.entry(key).or_insert(location);
            }
            if index.len() == before {
                break;
            }
        }
        return Ok(index);
    };
    let mut index = scan_once(dir)?;
    for _ in 0..MAX_LISTINGS {
        if let Drained::Arrivals(arrivals) = watch.drain()
            && add_arrivals(dir, &mut index, arrivals)
        {
            return Ok(index);
        }
        index = scan_once(dir)?;
    }
    Err(Error::new(
        ErrorKind::Io,
        format!(
            "the messages in {} kept being renamed while they were listed ({MAX_LISTINGS} \
             times); the folder is left for the next run",
            dir.display()
        ),
    ))
}

/// Adds to `index` the messages that arrived during its listing under keys it lacks, at the
/// last name each arrived under. False if such a file was gone again before it could be looked
/// at: it moved on, and only a new listing (whose own arrivals are watched) can tell where.
fn add_arrivals(dir: &Path, index: &mut Index, arrivals: Vec<Arrival>) -> bool {
    let mut last: HashMap<String, Location> = HashMap::new();
    for (sub, file_name) in arrivals {
        let key = filename::parse(&file_name).key;
        if file_name.starts_with('.') || key.is_empty() || index.contains_key(key) {
            continue;
        }
        last.insert(key.to_owned(), Location { sub, file_name });
    }
    let mut complete = true;
    for (key, location) in last {
        match std::fs::symlink_metadata(location.path(dir)) {
            Ok(meta) if meta.is_file() => {
                index.insert(key, location);
            }
            // Not a message: the listing skips it as well.
            Ok(_) => {}
            Err(_) => complete = false,
        }
    }
    complete
}

/// One listing of `new/` and then `cur/` (in this order, so that a message a reader moves
/// from `new/` to `cur/` meanwhile is in the second if it was not in the first).
pub(crate) fn scan_once(dir: &Path) -> Result<Index> {
    let mut index = Index::new();
    for sub in [Sub::New, Sub::Cur] {
        let sub_dir = dir.join(sub.dir_name());
        let context = || format!("listing messages in {}", sub_dir.display());
        let entries = std::fs::read_dir(&sub_dir).map_err(|err| {
            let kind = err.kind();
            let error = Error::io(context(), err);
            if kind == std::io::ErrorKind::NotFound {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "{} is not a maildir (it has no {}/)",
                        dir.display(),
                        sub.dir_name()
                    ),
                )
            } else {
                error
            }
        })?;
        for entry in entries {
            let entry = entry.map_err(|err| Error::io(context(), err))?;
            let os_name = entry.file_name();
            let Some(file_name) = os_name.to_str() else {
                tracing::warn!(
                    path = %entry.path().display(),
                    "skipping a message file whose name is not valid UTF-8"
                );
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(kind) if kind.is_file() => {}
                // Renamed since the directory was read (where the type needs a stat): its new
                // name is among the watch's arrivals.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Ok(kind) if kind.is_symlink() => {
                    tracing::warn!(
                        path = %entry.path().display(),
                        "skipping a symbolic link among messages: pimlink reads only regular \
                         files, so that a link cannot leak a file from outside the Maildir"
                    );
                    continue;
                }
                Ok(_) => continue,
                Err(err) => return Err(Error::io(context(), err)),
            }
            let key = filename::parse(file_name).key;
            if key.is_empty() {
                tracing::warn!(path = %entry.path().display(), "skipping a message file with an empty unique name");
                continue;
            }
            insert(
                &mut index,
                dir,
                key,
                Location {
                    sub,
                    file_name: file_name.to_owned(),
                },
            );
        }
    }
    Ok(index)
}

/// Records `location` for `key`; if the key is already there, keeps the smaller location (cur/
/// before new/, then by file name) so that the choice does not depend on directory order.
fn insert(index: &mut Index, dir: &Path, key: &str, location: Location) {
    match index.entry(key.to_owned()) {
        Entry::Vacant(slot) => {
            slot.insert(location);
        }
        Entry::Occupied(mut slot) => {
            let (kept, dropped) = if location < *slot.get() {
                (location, slot.get().clone())
            } else {
                (slot.get().clone(), location)
            };
            // Seen under two names because a reader renamed it between the two readdirs: one
            // message, nothing to warn about.
            let renamed = |location: &Location| {
                std::fs::symlink_metadata(location.path(dir))
                    .is_err_and(|err| err.kind() == std::io::ErrorKind::NotFound)
            };
            if renamed(&dropped) || renamed(&kept) {
                let alive = if renamed(&kept) { dropped } else { kept };
                slot.insert(alive);
                return;
            }
            tracing::warn!(
                key,
                kept = %kept.path(dir).display(),
                ignored = %dropped.path(dir).display(),
                "the same Maildir message key appears twice; using one copy and ignoring the other"
            );
            slot.insert(kept);
        }
    }
}

/// The index as listing entries, sorted by key.
pub(crate) fn entries(index: &Index, keywords: &KeywordMap) -> Vec<ItemEntry> {
    let mut entries: Vec<ItemEntry> = index
        .iter()
        .map(|(key, location)| location.entry(key, keywords))
        .collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::Flag;
    use std::fs;

    fn maildir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        dir
    }

    #[test]
    fn lists_cur_and_new_and_ignores_tmp_and_dotfiles() {
        let dir = maildir();
        let d = dir.path();
        fs::write(d.join("new/1.a.host"), "x").unwrap();
        fs::write(d.join("cur/2.b.host,S=5:2,RSa"), "hello").unwrap();
        fs::write(d.join("cur/.hidden:2,S"), "x").unwrap();
        fs::write(d.join("tmp/3.c.host"), "x").unwrap();
        fs::create_dir(d.join("cur/adir")).unwrap();
        let index = scan(d).unwrap();
        let entries = entries(&index, &KeywordMap::parse("0 x\n"));
        let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["1.a.host", "2.b.host,S=5"]);
        assert!(entries[0].flags.is_empty());
        let mut expected = Flags::new().with(Flag::Replied).with(Flag::Seen);
        expected.set_keyword("x", true);
        assert_eq!(entries[1].flags, expected);
        assert_eq!(entries[1].size, Some(5));
    }

    #[test]
    fn duplicate_keys_pick_one_deterministically() {
        let dir = maildir();
        let d = dir.path();
        fs::write(d.join("new/k"), "x").unwrap();
        fs::write(d.join("cur/k:2,S"), "x").unwrap();
        fs::write(d.join("cur/k:2,F"), "x").unwrap();
        let index = scan(d).unwrap();
        assert_eq!(index.len(), 1);
        assert_eq!(
            index["k"],
            Location {
                sub: Sub::Cur,
                file_name: "k:2,F".into()
            }
        );
    }

    #[test]
    fn a_directory_without_cur_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let err = scan(dir.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("not a maildir"), "{err}");
    }

    #[test]
    fn non_utf8_names_are_skipped() {
        use std::os::unix::ffi::OsStrExt;
        let dir = maildir();
        let bad = std::ffi::OsStr::from_bytes(b"bad\xff:2,S");
        fs::write(dir.path().join("cur").join(bad), "x").unwrap();
        fs::write(dir.path().join("cur/good:2,S"), "x").unwrap();
        let index = scan(dir.path()).unwrap();
        assert_eq!(index.keys().collect::<Vec<_>>(), ["good"]);
    }
}
