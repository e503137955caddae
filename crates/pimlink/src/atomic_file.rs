//! Replacing a small file so that a reader (or a crash) sees the old or the new content, never
//! a mix: a temporary file in the same directory, written and fsynced, renamed over the old
//! one, then the directory fsynced so that the rename itself survives a crash.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::Path;

/// Replaces `path` with `content`, readable by its owner only (0600: the folder names of a
/// mailbox are private). A symbolic link is followed and its target replaced, so that a link
/// (a dotfile manager's) stays a link.
pub fn replace(path: &Path, content: &[u8]) -> io::Result<()> {
    let resolved = match fs::canonicalize(path) {
        Ok(target) => target,
        Err(err) if err.kind() == io::ErrorKind::NotFound => path.to_owned(),
        Err(err) => return Err(err),
    };
    let path = resolved.as_path();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // tempfile creates it 0600, and in `dir` so that the rename stays on one file system.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(content)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// The content of `path`, `None` if there is no such file.
pub fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(content) => Ok(Some(content)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    #[test]
    fn a_new_file_is_private_and_a_link_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("list");
        replace(&file, b"one").unwrap();
        assert_eq!(read(&file).unwrap().as_deref(), Some(&b"one"[..]));
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let link = dir.path().join("link");
        symlink(&file, &link).unwrap();
        replace(&link, b"two").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(read(&file).unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(read(&dir.path().join("none")).unwrap(), None);
    }
}
