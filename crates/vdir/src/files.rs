//! File-system primitives: etags from `stat`, durable temp-file writes, directory fsync, and
//! the checks that keep every path inside the root.

use std::fs::{self, File, Metadata};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use pimlink_core::dav::store::{Etag, Href};
use pimlink_core::{Error, ErrorKind, Result};

/// The etag of a file: `<mtime ns>;<inode>;<size>`.
pub(crate) fn etag_of(meta: &Metadata) -> Etag {
    let nanos = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    Etag::new(format!("{nanos};{};{}", meta.ino(), meta.size()))
}

/// The modification time (ns since the epoch) and inode an etag of [`etag_of`] was made of:
/// what another tool's etag of the same file is compared with (pimlink's adoption of a vdir).
pub fn etag_stamp(etag: &Etag) -> Option<(i128, u64)> {
    let mut parts = etag.as_str().split(';');
    let nanos = parts.next()?.parse().ok()?;
    let inode = parts.next()?.parse().ok()?;
    Some((nanos, inode))
}

/// Makes the entries of directory `dir` durable (new names, renames, removals).
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|err| Error::io(format!("syncing directory {}", dir.display()), err))
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to a new hidden temp file in `dir` (owner only, see `pimlink_core::private`)
/// and fsyncs it. The caller renames or links it into place and removes it on failure.
pub(crate) fn write_temp(dir: &Path, data: &[u8]) -> Result<PathBuf> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!(".pimlink-{}-{n}.tmp", std::process::id()));
    let written = pimlink_core::private::file_options()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut file| {
            file.write_all(data)?;
            file.sync_all()
        });
    match written {
        Ok(()) => Ok(path),
        Err(err) => {
            let _ = fs::remove_file(&path);
            Err(Error::io(format!("writing {}", path.display()), err))
        }
    }
}

/// Checks that `href` names one visible file directly inside a collection with `extension`.
pub(crate) fn check_href(href: &Href, extension: &str) -> Result<()> {
    let name = href.as_str();
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.contains(['/', '\\', '\0']) {
        Some("it contains a path separator or NUL")
    } else if name.starts_with('.') {
        Some("it starts with '.' (hidden files are not items)")
    } else if !name.ends_with(extension) {
        Some("it does not end with the collection's file extension")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::new(
            ErrorKind::InvalidName,
            format!("invalid vdir item name {name:?}: {why}"),
        )),
        None => Ok(()),
    }
}

/// Refuses `path` if it is a symbolic link (the root is resolved once on open; links inside it
/// could point anywhere). A path that does not exist passes.
pub(crate) fn check_not_symlink(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(Error::new(
            ErrorKind::InvalidName,
            format!(
                "{} is a symbolic link; pimlink does not follow symbolic links inside a vdir, so \
                 that nothing outside the root is ever touched",
                path.display()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_gives_back_the_mtime_and_inode_it_was_made_of() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ics");
        fs::write(&path, "x").unwrap();
        let meta = fs::metadata(&path).unwrap();
        let nanos = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        assert_eq!(etag_stamp(&etag_of(&meta)), Some((nanos, meta.ino())));
        assert_eq!(etag_stamp(&Etag::new("\"server\"")), None);
    }
}
