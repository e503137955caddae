//! A folder's change stamp (see `pimlink_core::mail::plan::unchanged`): the modification times of
//! `cur/` and `new/` and of the keyword file.
//!
//! Every change the engine cares about touches one of them: a delivery links a file into
//! `new/` or `cur/`, a flag change or a move from `new/` renames a file in `cur/`, a deletion
//! unlinks one, and a changed keyword file (its letters give keyword flags their names) is
//! replaced by a rename or written in place. Rewriting a message file in place changes no
//! directory, but nothing in a Maildir does that and the engine never reads contents of
//! unchanged messages anyway.

use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use pimlink_core::ChangeStamp;

use crate::keywords;

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
    Ok(Some(ChangeStamp { token, newest }))
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
