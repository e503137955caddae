//! The modes of the files and directories pimlink creates: the owner's only.
//!
//! Mail, calendars, contacts and the status (folder names, message keys) are private. Creating
//! them with the process umask alone gives 0644 files and 0755 directories on most systems,
//! which every local user can read. So every storage and the status store create files 0600
//! and directories 0700 (mbsync's choice; vdirsyncer's temp-file writes are 0600 too), whatever
//! the umask or the mode of the storage root: inheriting the root's mode, as Dovecot does,
//! would copy the 0755 of a `mkdir ~/Mail`. A stricter umask still applies (the kernel masks
//! the mode). Existing files and directories are left as they are, except the status store's
//! own files (see `status::files`).

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// The mode of every file pimlink creates.
pub const FILE_MODE: u32 = 0o600;

/// The mode of every directory pimlink creates.
pub const DIR_MODE: u32 = 0o700;

/// Options for creating a file readable and writable by its owner only; the caller adds
/// `write`, `create`, `truncate` or `create_new` as it needs.
pub fn file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// A builder for directories that only their owner can enter (`recursive` applies the mode to
/// every level it creates, and to none that exists).
pub fn dir_builder() -> DirBuilder {
    let mut builder = DirBuilder::new();
    builder.mode(DIR_MODE);
    builder
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_and_directories_are_the_owners_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        file_options()
            .write(true)
            .create_new(true)
            .open(&file)
            .unwrap();
        let nested = dir.path().join("a/b");
        dir_builder().recursive(true).create(&nested).unwrap();
        let mode =
            |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        // No access for group or others, whatever the umask of the test process.
        for path in [file, nested, dir.path().join("a")] {
            assert_eq!(mode(&path) & 0o077, 0, "{}", path.display());
        }
    }
}
