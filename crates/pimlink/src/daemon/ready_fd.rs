//! `--ready-fd N`: the descriptor a supervisor (s6, pimsync's `-r`, bench/live) hands over,
//! on which the daemon writes `READY=1\n` once and then closes it, so that a reader waiting for
//! end of file returns.

use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;

/// The ready descriptor, owned.
pub struct ReadyFd {
    fd: i32,
    /// `None` for 0, 1 and 2, which stay open (written through /proc, never closed).
    file: Option<File>,
}

impl ReadyFd {
    /// Takes descriptor `fd`. Call it first thing in `main`, before anything opens a file:
    /// only then is an open `fd` the one the parent passed, and not one of pimlink's own.
    /// `None` if `fd` is not open.
    #[allow(unsafe_code)]
    pub fn take(fd: i32) -> Option<ReadyFd> {
        if fd < 0 || !std::path::Path::new(&format!("/proc/self/fd/{fd}")).exists() {
            return None;
        }
        if fd <= 2 {
            return Some(ReadyFd { fd, file: None });
        }
        // SAFETY: `fd` is open (checked just above) and, since nothing in this process has
        // opened a file yet, it is the descriptor the parent passed for this purpose alone:
        // no other part of pimlink knows its number, so this `File` is its only owner.
        let file = unsafe { File::from_raw_fd(fd) };
        Some(ReadyFd {
            fd,
            file: Some(file),
        })
    }

    /// Writes `READY=1\n` and closes the descriptor (0, 1 and 2 stay open).
    pub fn ready(self) -> std::io::Result<()> {
        match self.file {
            Some(mut file) => file.write_all(b"READY=1\n"),
            None => std::fs::OpenOptions::new()
                .write(true)
                .open(format!("/proc/self/fd/{}", self.fd))
                .and_then(|mut file| file.write_all(b"READY=1\n")),
        }
    }

    /// The number, for messages.
    pub fn number(&self) -> i32 {
        self.fd
    }
}
