//! Making delivered files durable and putting them in place: which of `fsync` per file or one
//! `syncfs` per folder a batch uses, and a move from `tmp/` that never replaces a file.
//!
//! Why `syncfs`: on ext4 and most journalling file systems every `fsync` of a new file ends
//! in a journal commit and a disk cache flush. Concurrent fsyncs share some commits, but an
//! initial download of 20,000 messages still paid for thousands of them. `syncfs(2)` writes
//! every dirty file of the file system and commits once; on Linux it reports writeback errors
//! (since 5.8) through the descriptor it is given, so a file's data is as durable after a
//! `syncfs` through that file's own descriptor as after its `fsync`. Its cost: it also writes
//! out other programs' dirty data on that file system, so a small batch, where that could
//! dominate, keeps one `fsync` per file.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use pimlink_core::{Error, ErrorKind, Result};

/// From this many new files in one folder on, a flush makes them durable with one `syncfs`
/// instead of one `fsync` each. Below it, waiting for other programs' dirty data could cost
/// more than the fsyncs (which run 16 at a time); an executor's copy batch holds up to 256.
pub(crate) const SYNCFS_MIN_FILES: usize = 32;

/// How a group of new files in one folder is made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// `fsync` each file (concurrently).
    FsyncEach,
    /// One `syncfs` through the descriptor of one of the files.
    SyncFs,
}

/// The strategy for `files` new files in one folder, where `syncfs_reports_errors` says
/// whether this system's `syncfs` reports writeback errors.
pub(crate) fn strategy(files: usize, syncfs_reports_errors: bool) -> Strategy {
    if syncfs_reports_errors && files >= SYNCFS_MIN_FILES {
        Strategy::SyncFs
    } else {
        Strategy::FsyncEach
    }
}

/// Whether `syncfs` can be trusted here: Linux from 5.8 on, where it returns writeback errors
/// (before, it always returned 0, so a failed write would go unnoticed). Asked once.
pub(crate) fn syncfs_reports_errors() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            let uname = rustix::system::uname();
            kernel_at_least(&uname.release().to_string_lossy(), (5, 8))
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    })
}

/// True if the kernel release string (`6.1.0-18-amd64`) is at least `major.minor`; false when
/// it cannot be read.
pub(crate) fn kernel_at_least(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut numbers = release.split(['.', '-', '+']).map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(have_major), Some(have_minor)) => (have_major, have_minor) >= (major, minor),
        _ => false,
    }
}

/// True if `file` lies on a file system whose `syncfs` writes and commits every dirty file as
/// each file's `fsync` would: the local ones of [`crate::fsutil::on_local_file_system`]. On
/// others (network and FUSE file systems, overlays), whose `syncfs` may do less, files keep
/// their fsyncs.
pub(crate) fn syncfs_is_thorough(file: &File) -> bool {
    crate::fsutil::on_local_file_system(file)
}

/// Writes out the file system holding `file` and commits its journal; errors include writeback
/// errors since `file` was opened.
pub(crate) fn syncfs(file: &File) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(file).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        file.sync_all()
    }
}

/// Set once `renameat2(RENAME_NOREPLACE)` was refused as unsupported (an old kernel, or a file
/// system such as some network ones): later moves go straight to link + unlink.
static NO_RENAME_NOREPLACE: AtomicBool = AtomicBool::new(false);

/// Moves the written file from `tmp/` to its place without ever replacing an existing file: a
/// rename that refuses an existing destination (one system call, and atomic), else `link` +
/// `unlink` (the Maildir spec's own method; `link` also refuses an existing name), else, on
/// file systems without hard links, a rename after checking that the destination is free.
/// An existing destination gives [`ErrorKind::Refused`], and the tmp file is removed.
pub(crate) fn place(tmp: &Path, destination: &Path) -> Result<()> {
    let context = || format!("moving {} to {}", tmp.display(), destination.display());
    if !NO_RENAME_NOREPLACE.load(Ordering::Relaxed) {
        match rename_noreplace(tmp, destination) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                let _ = std::fs::remove_file(tmp);
                return Err(Error::new(ErrorKind::Refused, context()));
            }
            Err(err) if unsupported(&err) => NO_RENAME_NOREPLACE.store(true, Ordering::Relaxed),
            Err(err) => return Err(Error::io(context(), err)),
        }
    }
    link_then_unlink(tmp, destination)
}

/// True for the errors with which a kernel or file system refuses `RENAME_NOREPLACE` itself.
fn unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(code) if code == rustix::io::Errno::INVAL.raw_os_error()
            || code == rustix::io::Errno::NOSYS.raw_os_error()
            || code == rustix::io::Errno::OPNOTSUPP.raw_os_error()
    ) || err.kind() == io::ErrorKind::Unsupported
}

#[cfg(target_os = "linux")]
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn rename_noreplace(_from: &Path, _to: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The fallback of [`place`]: `link` refuses an existing destination; file systems without
/// hard links get a rename after a check that the destination is free.
pub(crate) fn link_then_unlink(tmp: &Path, destination: &Path) -> Result<()> {
    let context = || format!("moving {} to {}", tmp.display(), destination.display());
    match std::fs::hard_link(tmp, destination) {
        Ok(()) => {
            if let Err(err) = std::fs::remove_file(tmp) {
                tracing::warn!(path = %tmp.display(), error = %err, "could not remove a delivered message's temporary file");
            }
            Ok(())
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(tmp);
            Err(Error::new(ErrorKind::Refused, context()))
        }
        Err(_) => {
            if std::fs::symlink_metadata(destination).is_ok() {
                let _ = std::fs::remove_file(tmp);
                return Err(Error::new(ErrorKind::Refused, context()));
            }
            std::fs::rename(tmp, destination).map_err(|err| Error::io(context(), err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncfs_only_for_big_groups_and_only_where_it_reports_errors() {
        let table = [
            (0, true, Strategy::FsyncEach),
            (1, true, Strategy::FsyncEach),
            (SYNCFS_MIN_FILES - 1, true, Strategy::FsyncEach),
            (SYNCFS_MIN_FILES, true, Strategy::SyncFs),
            (256, true, Strategy::SyncFs),
            (SYNCFS_MIN_FILES, false, Strategy::FsyncEach),
            (256, false, Strategy::FsyncEach),
        ];
        for (files, trusted, expected) in table {
            assert_eq!(
                strategy(files, trusted),
                expected,
                "{files} files, {trusted}"
            );
        }
    }

    #[test]
    fn kernel_releases_are_compared_by_major_and_minor() {
        for (release, expected) in [
            ("5.8.0", true),
            ("5.7.19", false),
            ("6.18.44-fc-v657", true),
            ("6.1.0-18-amd64", true),
            ("5.10+deb11", true),
            ("4.19.0-6-amd64", false),
            ("5", false),
            ("", false),
            ("garbage", false),
            ("5.07", false),
            ("5.08", true),
        ] {
            assert_eq!(kernel_at_least(release, (5, 8)), expected, "{release}");
        }
    }

    #[test]
    fn place_moves_and_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, dest) = (dir.path().join("tmp-file"), dir.path().join("dest"));
        std::fs::write(&tmp, "new").unwrap();
        place(&tmp, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        assert!(!tmp.exists(), "the tmp name is gone after the move");

        std::fs::write(&tmp, "second").unwrap();
        let err = place(&tmp, &dest).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Refused);
        assert_eq!(
            std::fs::read_to_string(&dest).unwrap(),
            "new",
            "kept as it was"
        );
        assert!(!tmp.exists(), "the refused tmp file is removed");
    }

    #[test]
    fn the_link_fallback_never_replaces_either() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, dest) = (dir.path().join("tmp-file"), dir.path().join("dest"));
        std::fs::write(&tmp, "new").unwrap();
        link_then_unlink(&tmp, &dest).unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
        assert!(!tmp.exists());
        std::fs::write(&tmp, "second").unwrap();
        let err = link_then_unlink(&tmp, &dest).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Refused);
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn rename_noreplace_works_on_the_test_file_system() {
        // If this fails, the file system under TMPDIR refuses RENAME_NOREPLACE and every
        // delivery there takes the link + unlink fallback.
        let dir = tempfile::tempdir().unwrap();
        let (tmp, dest) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&tmp, "x").unwrap();
        rename_noreplace(&tmp, &dest).unwrap();
        std::fs::write(&tmp, "y").unwrap();
        let err = rename_noreplace(&tmp, &dest).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_system_outside_the_list_is_not_trusted_with_syncfs() {
        // procfs is no file system to deliver mail to, but it is always there and not listed.
        let file = File::open("/proc/self/status").unwrap();
        assert!(!syncfs_is_thorough(&file));
    }

    #[test]
    fn syncfs_succeeds_on_a_written_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = File::create(dir.path().join("f")).unwrap();
        io::Write::write_all(&mut file, b"data").unwrap();
        syncfs(&file).unwrap();
    }
}
