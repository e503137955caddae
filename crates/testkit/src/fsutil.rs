//! Small file-system helpers shared by the server harnesses.

use std::fs;
use std::io;
use std::path::Path;

/// Server config syntaxes and unix socket paths are only safe with short, plain paths.
pub(crate) fn check_path(root: &Path) -> io::Result<()> {
    let text = root.to_string_lossy();
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c));
    // Unix socket paths are limited to 107 bytes; Dovecot's longest is about 30 below base_dir.
    if !plain || text.len() > 70 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "temp dir {text:?} is unsuitable for a test server (needs a short path without spaces \
                 or special characters); set TMPDIR=/tmp"
            ),
        ));
    }
    Ok(())
}

/// `chown -R` without following symlinks.
pub(crate) fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
