//! The kernel's inotify behind [`Inotify`]: one descriptor per watched storage, read through
//! tokio so that waiting for events costs nothing.
//!
//! rustix's inotify rather than the `notify` crate: the watcher must choose per directory what
//! to watch (never `tmp/`, only directory events above the items), see `IN_Q_OVERFLOW` and a
//! refused watch as such, and tell the name of each event for pimlink's own writes; `notify`'s
//! recursive mode watches every directory alike (`tmp/` included, so each delivery would wake
//! it) and runs a thread of its own. rustix is already a dependency (pimlink-maildir lists
//! with it).

use std::io;
use std::mem::MaybeUninit;
use std::path::Path;

use rustix::fd::OwnedFd;
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, Reader, WatchFlags};
use tokio::io::unix::AsyncFd;

use super::tree::{self, RawEvent, Role, Wd, What};

/// An inotify instance.
pub(crate) struct Kernel {
    fd: AsyncFd<OwnedFd>,
    buffer: Vec<MaybeUninit<u8>>,
}

impl Kernel {
    /// A new instance; fails where inotify is not available (or the limit of instances is
    /// reached).
    pub(crate) fn new() -> io::Result<Kernel> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        // tokio 1.54 deprecates `new` for `register`, which is unsafe (the workspace forbids
        // unsafe code). What `register` asks the caller to promise holds here by
        // construction: the AsyncFd owns the OwnedFd, so the descriptor stays open and the
        // same for as long as it is registered.
        #[allow(deprecated)]
        let fd = AsyncFd::new(fd)?;
        Ok(Kernel {
            fd,
            buffer: vec![MaybeUninit::uninit(); 64 * 1024],
        })
    }
}

impl tree::Inotify for Kernel {
    fn add(&mut self, dir: &Path, role: &Role) -> io::Result<Wd> {
        // Every watched directory reports its own end; directories are never followed
        // through a symbolic link (nothing outside the root is watched).
        let mut flags = WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR
            | WatchFlags::DONT_FOLLOW;
        if matches!(
            role,
            Role::Items {
                edited_in_place: true,
                ..
            }
        ) {
            flags |= WatchFlags::CLOSE_WRITE;
        }
        Ok(inotify::add_watch(self.fd.get_ref(), dir, flags)?)
    }

    fn remove(&mut self, wd: Wd) {
        let _ = inotify::remove_watch(self.fd.get_ref(), wd);
    }

    async fn next_batch(&mut self) -> io::Result<Vec<RawEvent>> {
        loop {
            let mut ready = self.fd.readable().await?;
            let mut reader = Reader::new(self.fd.get_ref(), &mut self.buffer);
            let mut batch = Vec::new();
            loop {
                match reader.next() {
                    Ok(event) => batch.extend(reduce(
                        event.wd(),
                        event.events(),
                        event.file_name().map(|name| name.to_bytes()),
                    )),
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            ready.clear_ready();
            if !batch.is_empty() {
                return Ok(batch);
            }
        }
    }
}

/// The event the watcher needs from what the kernel reported, if any.
fn reduce(wd: Wd, flags: ReadFlags, name: Option<&[u8]>) -> Option<RawEvent> {
    use std::os::unix::ffi::OsStrExt;
    let what = if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
        What::Overflow
    } else if flags.intersects(
        ReadFlags::IGNORED | ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF | ReadFlags::UNMOUNT,
    ) {
        What::Gone
    } else if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
        What::Arrive
    } else if flags.intersects(ReadFlags::DELETE | ReadFlags::MOVED_FROM) {
        What::Leave
    } else if flags.contains(ReadFlags::CLOSE_WRITE) {
        What::Written
    } else {
        return None;
    };
    Some(RawEvent {
        wd,
        what,
        is_dir: flags.contains(ReadFlags::ISDIR),
        name: name
            .filter(|name| !name.is_empty())
            .map(|name| std::ffi::OsStr::from_bytes(name).to_owned()),
    })
}
