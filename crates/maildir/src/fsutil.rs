//! Small file-system helpers: directory fsync, refusing symlinks inside the root, and whether
//! a file lies on a local file system.

use std::fs::File;
use std::io;
use std::path::Path;

use pimlink_core::{Error, ErrorKind, Result};

/// Makes the entries of directory `dir` durable (new names, renames, removals).
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|err| Error::io(format!("syncing directory {}", dir.display()), err))
}

/// The local file systems (`statfs` magic numbers) pimlink relies on for two things: `syncfs`
/// writes and commits every dirty file as each file's `fsync` would (`durable.rs`), and file
/// times come from this machine's kernel clock, in nanoseconds where the file system keeps them
/// (`stamp.rs`): ext2/3/4, XFS, Btrfs, F2FS, tmpfs.
const LOCAL_FILE_SYSTEMS: [u32; 5] = [
    0xEF53,      // ext2, ext3, ext4
    0x5846_5342, // XFS
    0x9123_683E, // Btrfs
    0xF2F5_2010, // F2FS
    0x0102_1994, // tmpfs
];

/// True if `file` (or directory) lies on a file system of [`LOCAL_FILE_SYSTEMS`].
pub(crate) fn on_local_file_system(file: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        // The magic numbers are 32 bits; `f_type` is a signed long on most targets.
        #[allow(clippy::unnecessary_cast)]
        rustix::fs::fstatfs(file)
            .is_ok_and(|stat| LOCAL_FILE_SYSTEMS.contains(&(stat.f_type as u32)))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        false
    }
}

/// Checks that no existing directory on the way from `root` (exclusive) down to `root/relative`
/// (inclusive) is a symbolic link, nor anything else than a directory. Levels that do not exist
/// yet are fine: the walk stops at the first one.
///
/// Why: the root itself is resolved once when the store opens, but a symlink *inside* the tree
/// could point anywhere, and following it would read or write mail outside the root.
pub(crate) fn check_no_symlinks(root: &Path, relative: &Path) -> Result<()> {
    let mut path = root.to_path_buf();
    for component in relative.components() {
        path.push(component);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::new(
                    ErrorKind::InvalidName,
                    format!(
                        "{} is a symbolic link; pimlink does not follow symbolic links inside a \
                         Maildir root, so that nothing outside the root is ever touched",
                        path.display()
                    ),
                ));
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("{} exists but is not a directory", path.display()),
                ));
            }
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => {
                return Err(Error::io(format!("examining {}", path.display()), err));
            }
        }
    }
    Ok(())
}

/// True if `path` is a real directory (not a symlink to one).
pub(crate) fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir())
}

/// True if `dir` holds `cur/` and `new/` as real directories: what makes a directory a maildir.
/// `tmp/` is not required because delivery creates it when missing (some tools prune empty
/// directories).
pub(crate) fn is_maildir(dir: &Path) -> bool {
    is_real_dir(&dir.join("cur")) && is_real_dir(&dir.join("new"))
}

/// Creates directory `path` (owner only, see `pimlink_core::private`) unless it exists as a real
/// directory. Returns true if it was created.
pub(crate) fn ensure_dir(path: &Path) -> Result<bool> {
    match pimlink_core::private::dir_builder().create(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            if is_real_dir(path) {
                Ok(false)
            } else {
                Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "{} exists but is not a directory (or is a symbolic link)",
                        path.display()
                    ),
                ))
            }
        }
        Err(err) => Err(Error::io(
            format!("creating directory {}", path.display()),
            err,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_inside_the_root_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("evil")).unwrap();
        let err = check_no_symlinks(root.path(), Path::new("evil/sub")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName);
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // Missing levels are fine, real directories are fine.
        check_no_symlinks(root.path(), Path::new("new/deeper")).unwrap();
        std::fs::create_dir(root.path().join("real")).unwrap();
        check_no_symlinks(root.path(), Path::new("real/x")).unwrap();
    }

    #[test]
    fn maildir_needs_cur_and_new() {
        let root = tempfile::tempdir().unwrap();
        assert!(!is_maildir(root.path()));
        std::fs::create_dir(root.path().join("cur")).unwrap();
        assert!(!is_maildir(root.path()));
        std::fs::create_dir(root.path().join("new")).unwrap();
        assert!(is_maildir(root.path()));
    }
}
