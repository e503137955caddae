//! A folder's change stamp (see `pimlink_core::mail::plan::unchanged`): the modification times of
//! `cur/` and `new/` and of the keyword file.
//!
//! Every change the engine cares about touches one of them: a delivery links a file into
//! `new/` or `cur/`, a flag change or a move from `new/` renames a file in `cur/`, a deletion
//! unlinks one, and a changed keyword file (its letters give keyword flags their names) is
//! replaced by a rename or written in place. Rewriting a message file in place changes no
//! directory, but nothing in a Maildir does that and the engine never reads contents of
//! unchanged messages anyway.
//!
//! After a run changed a folder, [`after_own_changes`] takes the stamp again and lists the
//! folder's file names, so that the store can check they are what it listed plus its own
//! changes: only then does the new stamp describe what the status holds.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pimlink_core::{ChangeStamp, Result};

use crate::items::{self, Index};
use crate::keywords::{self, KeywordMap};

/// How long [`after_own_changes`] waits for the clock to pass the folder's newest time: a
/// scheduler tick is 1-10 ms; a longer wait means a mail reader keeps changing the folder.
const TICK_WAIT: Duration = Duration::from_millis(50);

/// The stamp of the maildir at `dir`, or `None` if it has no `cur/` or `new/` (not a folder
/// that can be skipped) or a time before 1970 (nothing to compare safely).
pub(crate) fn stamp(dir: &Path) -> io::Result<Option<ChangeStamp>> {
    let mut token = String::from("v1");
    let mut newest: Option<SystemTime> = None;
    for sub in ["cur", "new"] {
        let meta = match std::fs::metadata(dir.join(sub)) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let modified = meta.modified()?;
        let Some(text) = time_text(modified) else {
            return Ok(None);
        };
        token.push_str(&format!(" {sub}={text}"));
        newest = newest.max(Some(modified));
    }
    match std::fs::metadata(dir.join(keywords::FILE_NAME)) {
        Ok(meta) => {
            let modified = meta.modified()?;
            let Some(text) = time_text(modified) else {
                return Ok(None);
            };
            token.push_str(&format!(" keywords={text}:{}", meta.len()));
            newest = newest.max(Some(modified));
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => token.push_str(" keywords=none"),
        Err(err) => return Err(err),
    }
    let local_times = local_times(dir);
    if local_times {
        token.push_str(" local");
    }
    Ok(Some(ChangeStamp {
        token,
        newest,
        local_times,
    }))
}

/// True if `dir` lies on a local file system, whose times come from this machine's clock.
fn local_times(dir: &Path) -> bool {
    std::fs::File::open(dir).is_ok_and(|handle| crate::fsutil::on_local_file_system(&handle))
}

/// What [`after_own_changes`] found in a folder.
pub(crate) struct After {
    /// The stamp, taken once the coarse clock had passed its newest time.
    pub(crate) stamp: ChangeStamp,
    /// The coarse clock just before the stamp was taken: any later change shows in the stamp.
    pub(crate) at: SystemTime,
    /// The folder's message files, listed after the stamp was taken.
    pub(crate) files: Index,
    /// Its keyword letters, read after the stamp was taken.
    pub(crate) keywords: KeywordMap,
}

/// The stamp of the maildir at `dir` at a moment any later change will show in (the coarse
/// clock has passed its newest time, see `pimlink_core::clock`), and what the folder holds
/// from then on. `None` if the stamp cannot serve so: no local file times, or the folder kept
/// changing for [`TICK_WAIT`]. Blocks (for a clock tick at most, usually not at all): run it
/// off the runtime's thread.
pub(crate) fn after_own_changes(dir: &Path) -> Result<Option<After>> {
    let context =
        |err| pimlink_core::Error::io(format!("reading the times of {}", dir.display()), err);
    let deadline = Instant::now() + TICK_WAIT;
    let (stamp, at) = loop {
        let at = pimlink_core::clock::coarse_now();
        let Some(stamp) = stamp(dir).map_err(context)? else {
            return Ok(None);
        };
        if !stamp.local_times {
            return Ok(None);
        }
        if stamp.newest.is_some_and(|newest| newest < at) {
            break (stamp, at);
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    // Listed after the stamp: a change before it shows here, one after it in the stamp.
    let files = items::scan_once(dir)?;
    let keywords = keywords::load(dir)?;
    Ok(Some(After {
        stamp,
        at,
        files,
        keywords,
    }))
}

/// True if two listings hold the same files (by name and subdirectory; keys aside, which the
/// store may have mapped to names another tool gave).
pub(crate) fn same_files(a: &Index, b: &Index) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a: Vec<_> = a.values().collect();
    let mut b: Vec<_> = b.values().collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

fn time_text(time: SystemTime) -> Option<String> {
    let since = time.duration_since(UNIX_EPOCH).ok()?;
    Some(format!("{}.{:09}", since.as_secs(), since.subsec_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Duration;

    fn set_mtime(path: &Path, time: SystemTime) {
        fs::File::open(path).unwrap().set_modified(time).unwrap();
    }

    #[test]
    fn every_kind_of_change_changes_the_stamp() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(stamp(dir).unwrap(), None);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir(dir.join(sub)).unwrap();
        }
        let old = UNIX_EPOCH + Duration::new(1_600_000_000, 5);
        let reset = || {
            for sub in ["cur", "new"] {
                set_mtime(&dir.join(sub), old);
            }
        };
        reset();
        let first = stamp(dir).unwrap().unwrap();
        assert_eq!(first.newest, Some(old));
        assert_eq!(stamp(dir).unwrap().unwrap(), first);

        fs::write(dir.join("new/1"), "x").unwrap();
        assert_ne!(stamp(dir).unwrap().unwrap(), first, "delivery");
        reset();
        assert_eq!(stamp(dir).unwrap().unwrap(), first);

        fs::rename(dir.join("new/1"), dir.join("cur/1:2,")).unwrap();
        set_mtime(&dir.join("new"), old);
        assert_ne!(stamp(dir).unwrap().unwrap(), first, "move to cur");
        reset();
        fs::rename(dir.join("cur/1:2,"), dir.join("cur/1:2,S")).unwrap();
        assert_ne!(stamp(dir).unwrap().unwrap(), first, "flag change");
        reset();
        fs::remove_file(dir.join("cur/1:2,S")).unwrap();
        assert_ne!(stamp(dir).unwrap().unwrap(), first, "deletion");
        reset();
        assert_eq!(stamp(dir).unwrap().unwrap(), first);

        fs::write(dir.join(keywords::FILE_NAME), "0 $Label1\n").unwrap();
        let with_keywords = stamp(dir).unwrap().unwrap();
        assert_ne!(with_keywords, first, "keyword file");
        assert!(with_keywords.newest > Some(old));
    }
}
