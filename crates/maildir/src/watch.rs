//! The names that arrive in a maildir's `new/` and `cur/` while it is being listed, so that a
//! listing never misses a message that a mail reader renamed meanwhile.
//!
//! Mail readers rename message files at any moment: from `new/` to `cur/` when a message is
//! seen, within `cur/` when its flags change, back to `new/` (mutt, for a message marked new
//! again). `readdir` promises nothing for an entry added or removed while the directory is
//! being read: a file renamed during the listing of its directory may be returned under
//! neither name (on ext4 the new name's hash may lie behind the reading position and the old
//! one ahead of it), and a file moved between `new/` and `cur/` between the two listings is in
//! neither. A listing that missed a message would make the engine delete it on the other side.
//!
//! Reading `new/` before `cur/` catches the common move (seen mail, new -> cur); the rest
//! needs to know what changed. An inotify watch on both directories, set up before the first
//! `readdir`, reports every name that arrived (`IN_CREATE`, `IN_MOVED_TO`). The kernel queues
//! the event of a rename before it releases the directory lock that `getdents` also takes, so
//! once the last `readdir` of a listing has returned, the queue holds every rename that could
//! have hidden a file from it: a file that existed throughout the listing either was listed or
//! has an arrival among the events, and its last arrival name is where to look (see
//! `items::scan`). Nothing here depends on timing.
//!
//! Without inotify (another system, or the per-user limit of watches reached) this is `None`,
//! and the listing falls back to listing twice.

use std::path::Path;

use crate::items::Sub;

/// A file name that appeared (created, linked or renamed into place) in `new/` or `cur/`.
pub(crate) type Arrival = (Sub, String);

/// What the watch saw since it was last drained.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    /// The names that arrived, in the order they did.
    Arrivals(Vec<Arrival>),
    /// Events were lost (the queue overflowed, a directory was replaced or could not be read):
    /// the directories must be listed again.
    Lost,
}

/// An inotify watch on a maildir's `new/` and `cur/`.
#[derive(Debug)]
pub(crate) struct Watch {
    #[cfg(target_os = "linux")]
    fd: rustix::fd::OwnedFd,
    #[cfg(target_os = "linux")]
    watches: [(i32, Sub); 2],
}

#[cfg(target_os = "linux")]
impl Watch {
    /// Starts watching the maildir `dir`; `None` if inotify is not available.
    pub(crate) fn new(dir: &Path) -> Option<Watch> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)
            .map_err(|err| tracing::debug!("no inotify for listing {}: {err}", dir.display()))
            .ok()?;
        // A watched directory being removed or replaced also shows (IN_IGNORED): then
        // nothing more would be reported, so the listing starts over.
        let flags = WatchFlags::CREATE
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR
            | WatchFlags::DONT_FOLLOW;
        let mut watches = [(0, Sub::New), (0, Sub::Cur)];
        for (wd, sub) in &mut watches {
            *wd = inotify::add_watch(&fd, dir.join(sub.dir_name()), flags)
                .map_err(|err| tracing::debug!("no inotify for listing {}: {err}", dir.display()))
                .ok()?;
        }
        Some(Watch { fd, watches })
    }

    /// Everything queued since the last call, without waiting.
    pub(crate) fn drain(&mut self) -> Drained {
        use rustix::fs::inotify::{ReadFlags, Reader};
        use std::mem::MaybeUninit;
        let mut buffer = [MaybeUninit::<u8>::uninit(); 16 * 1024];
        let mut reader = Reader::new(&self.fd, &mut buffer);
        let mut arrivals = Vec::new();
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(rustix::io::Errno::AGAIN) => return Drained::Arrivals(arrivals),
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return Drained::Lost,
            };
            let events = event.events();
            if events.intersects(
                ReadFlags::QUEUE_OVERFLOW
                    | ReadFlags::IGNORED
                    | ReadFlags::DELETE_SELF
                    | ReadFlags::MOVE_SELF
                    | ReadFlags::UNMOUNT,
            ) {
                return Drained::Lost;
            }
            if events.contains(ReadFlags::ISDIR) {
                continue;
            }
            let Some(sub) = self
                .watches
                .iter()
                .find(|(wd, _)| *wd == event.wd())
                .map(|(_, sub)| *sub)
            else {
                continue;
            };
            // Names that are not UTF-8 are skipped by the listing too.
            if let Some(name) = event.file_name().and_then(|name| name.to_str().ok()) {
                arrivals.push((sub, name.to_owned()));
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Watch {
    /// No inotify here.
    pub(crate) fn new(_dir: &Path) -> Option<Watch> {
        None
    }

    /// Never called: there is no watch.
    pub(crate) fn drain(&mut self) -> Drained {
        Drained::Lost
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reports_names_that_arrive_in_new_and_cur_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir(d.join(sub)).unwrap();
        }
        fs::write(d.join("tmp/k"), "x").unwrap();
        let mut watch = Watch::new(d).unwrap();
        assert_eq!(watch.drain(), Drained::Arrivals(Vec::new()));
        fs::rename(d.join("tmp/k"), d.join("new/k")).unwrap();
        fs::rename(d.join("new/k"), d.join("cur/k:2,S")).unwrap();
        fs::rename(d.join("cur/k:2,S"), d.join("cur/k:2,FS")).unwrap();
        fs::create_dir(d.join("cur/adir")).unwrap();
        fs::write(d.join("tmp/other"), "x").unwrap();
        let arrivals = vec![
            (Sub::New, "k".to_owned()),
            (Sub::Cur, "k:2,S".to_owned()),
            (Sub::Cur, "k:2,FS".to_owned()),
        ];
        assert_eq!(watch.drain(), Drained::Arrivals(arrivals));
        assert_eq!(watch.drain(), Drained::Arrivals(Vec::new()));
        // A watched directory that goes away means events may be missing.
        fs::remove_dir(d.join("new")).unwrap();
        assert_eq!(watch.drain(), Drained::Lost);
    }
}
