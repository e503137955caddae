//! What vdirsyncer's and pimsync's states have in common: per collection pairing, one record
//! per item with its href and etag on each of the tool's two sides at its last run.
//!
//! Both tools call their sides `a` and `b` as their configuration does; which of them is the
//! local vdir is not recorded. A filesystem side's hrefs are file names (vdirsyncer) or
//! `collection/file` (pimsync), a server's are absolute paths: [`CollectionStatus::local_side`]
//! tells them apart by that.
//!
//! Not here: matching a record to pimlink's collections and items, hashing (the binary and
//! core do that).

use std::path::{Path, PathBuf};

/// A state file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// SQLite refused the file, or it lacks the tool's tables.
    #[error("{path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: rusqlite::Error,
    },
    /// The content is not what the tool writes.
    #[error("{path}: {why}")]
    Malformed {
        /// The file (with `:LINE` where a line is at fault).
        path: String,
        /// What is wrong.
        why: String,
    },
}

/// The tool that wrote a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// vdirsyncer (Python; status `<pair>/<collection>.items`).
    Vdirsyncer,
    /// pimsync (Rust, vstorage; status `<pair>.status`).
    Pimsync,
}

impl Tool {
    /// The tool's name, as users type it (`--from vdirsyncer`).
    pub fn name(self) -> &'static str {
        match self {
            Tool::Vdirsyncer => "vdirsyncer",
            Tool::Pimsync => "pimsync",
        }
    }

    /// True if `recorded`, the etag this tool stored for a local file, still describes the
    /// file whose modification time (nanoseconds since the epoch) and inode are given: the file
    /// was not written since the tool's last run.
    ///
    /// vdirsyncer writes `f"{st_mtime_ns:.9f};{st_ino}"`: Python turns the nanoseconds into a
    /// double first, so the digits are those of the nearest double (older versions wrote the
    /// float seconds the same way). pimsync writes `"{mtime seconds};{inode}"`.
    pub fn local_etag_matches(self, recorded: &str, mtime_ns: i128, inode: u64) -> bool {
        let Some((time, ino)) = recorded.split_once(';') else {
            return false;
        };
        if ino.parse::<u64>().ok() != Some(inode) {
            return false;
        }
        match self {
            Tool::Vdirsyncer => {
                let Ok(recorded) = time.parse::<f64>() else {
                    return false;
                };
                // Both sides of the comparison are rounded as Python rounds: to the nearest
                // double.
                #[allow(clippy::cast_precision_loss)]
                let now = mtime_ns as f64;
                if recorded == now {
                    return true;
                }
                // Seconds (vdirsyncer before st_mtime_ns): equal to the microsecond.
                #[allow(clippy::cast_precision_loss)]
                let seconds = mtime_ns as f64 / 1e9;
                recorded < 1e12 && (recorded - seconds).abs() < 1e-6
            }
            Tool::Pimsync => time.parse::<i128>().ok() == Some(mtime_ns.div_euclid(1_000_000_000)),
        }
    }
}

/// What a tool recorded of one item on one of its sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Where the item was: a file name (vdirsyncer's filesystem), `collection/file`
    /// (pimsync's vdir) or a server path.
    pub href: String,
    /// Its etag then, as the storage gave it (quotes included for a server).
    pub etag: String,
}

impl Recorded {
    /// True if this is a server's href (an absolute path or URL) rather than a file's.
    pub fn is_remote(&self) -> bool {
        self.href.starts_with('/') || self.href.contains("://")
    }

    /// The last segment of the href: the file name of a local item.
    pub fn file_name(&self) -> &str {
        self.href.rsplit('/').next().unwrap_or(&self.href)
    }
}

/// One item both sides held at the tool's last run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemRecord {
    /// The tool's identity for the item: its UID (or a hash of it, for an item without one).
    pub ident: String,
    /// On the tool's side `a`.
    pub a: Recorded,
    /// On the tool's side `b`.
    pub b: Recorded,
}

/// A tool's side of a pair (`a` or `b` in its configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolSide {
    /// The first storage.
    A,
    /// The second storage.
    B,
}

impl ItemRecord {
    /// The record of `side`.
    pub fn side(&self, side: ToolSide) -> &Recorded {
        match side {
            ToolSide::A => &self.a,
            ToolSide::B => &self.b,
        }
    }
}

/// Everything a tool recorded of one collection pairing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionStatus {
    /// Who wrote it.
    pub tool: Tool,
    /// The file it was read from.
    pub file: PathBuf,
    /// The tool's pair name.
    pub pair: String,
    /// The tool's name for the collection (`None`: a vdirsyncer pair without collections).
    pub collection: Option<String>,
    /// One record per item.
    pub items: Vec<ItemRecord>,
}

impl CollectionStatus {
    /// The tool's side whose hrefs are files rather than server paths, if exactly one is.
    pub fn local_side(&self) -> Option<ToolSide> {
        let remote = |side: ToolSide| self.items.iter().all(|i| i.side(side).is_remote());
        let local = |side: ToolSide| self.items.iter().all(|i| !i.side(side).is_remote());
        match (
            local(ToolSide::A) && remote(ToolSide::B),
            local(ToolSide::B) && remote(ToolSide::A),
        ) {
            _ if self.items.is_empty() => None,
            (true, false) => Some(ToolSide::A),
            (false, true) => Some(ToolSide::B),
            _ => None,
        }
    }
}

/// Opens a tool's SQLite file read-only (a tool running meanwhile is not disturbed, and
/// nothing is written back).
pub(crate) fn open_sqlite(path: &Path) -> Result<rusqlite::Connection, StateError> {
    rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StateError::Sqlite {
        path: path.to_owned(),
        source,
    })
}

/// True if the file starts as every SQLite database does.
pub(crate) fn is_sqlite(path: &Path) -> Result<bool, StateError> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|source| StateError::Io {
        path: path.to_owned(),
        source,
    })?;
    let n = file.read(&mut head).map_err(|source| StateError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(n == 16 && &head == b"SQLite format 3\0")
}

/// The entries of a directory, sorted by name; a missing directory has none.
pub(crate) fn entries(dir: &Path) -> Result<Vec<PathBuf>, StateError> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StateError::Io {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| StateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vdirsyncer_etags_compare_as_python_rounds_them() {
        // 1733600000123456789 ns is not a double; Python prints the nearest one.
        let ns: i128 = 1_733_600_000_123_456_789;
        #[allow(clippy::cast_precision_loss)]
        let printed = format!("{:.9};4242", ns as f64);
        assert!(printed.starts_with("1733600000123456768."), "{printed}");
        assert!(Tool::Vdirsyncer.local_etag_matches(&printed, ns, 4242));
        assert!(!Tool::Vdirsyncer.local_etag_matches(&printed, ns, 4243));
        assert!(!Tool::Vdirsyncer.local_etag_matches(&printed, ns + 1_000, 4242));
        // Older vdirsyncer: float seconds.
        assert!(Tool::Vdirsyncer.local_etag_matches("1733600000.123457;4242", ns, 4242));
        assert!(!Tool::Vdirsyncer.local_etag_matches("1733600001.123457;4242", ns, 4242));
        assert!(!Tool::Vdirsyncer.local_etag_matches("garbage", ns, 4242));
    }

    #[test]
    fn pimsync_etags_are_whole_seconds() {
        let ns: i128 = 1_733_600_000_999_999_999;
        assert!(Tool::Pimsync.local_etag_matches("1733600000;7", ns, 7));
        assert!(!Tool::Pimsync.local_etag_matches("1733600001;7", ns, 7));
        assert!(!Tool::Pimsync.local_etag_matches("1733600000;8", ns, 7));
    }

    #[test]
    fn the_local_side_is_the_one_with_file_hrefs() {
        let record = |a: &str, b: &str| ItemRecord {
            ident: "u".into(),
            a: Recorded {
                href: a.into(),
                etag: "1".into(),
            },
            b: Recorded {
                href: b.into(),
                etag: "2".into(),
            },
        };
        let mut status = CollectionStatus {
            tool: Tool::Vdirsyncer,
            file: PathBuf::from("x"),
            pair: "p".into(),
            collection: None,
            items: vec![record("u.ics", "/dav/cal/u.ics")],
        };
        assert_eq!(status.local_side(), Some(ToolSide::A));
        status.items = vec![record("/dav/cal/u.ics", "cal/u.ics")];
        assert_eq!(status.local_side(), Some(ToolSide::B));
        assert_eq!(status.items[0].b.file_name(), "u.ics");
        status.items = vec![record("a.ics", "b.ics")];
        assert_eq!(status.local_side(), None);
        status.items.clear();
        assert_eq!(status.local_side(), None);
    }
}
