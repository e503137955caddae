//! Telling a service manager how the daemon is: `--ready-fd N` (s6, pimsync's `-r`) and
//! systemd's `NOTIFY_SOCKET` (`READY=1`, `STATUS=...`, `WATCHDOG=1`, `STOPPING=1`).
//!
//! A hand-written datagram: the protocol is one `send` of `KEY=VALUE` lines to a Unix socket
//! (`sd_notify(3)`), smaller than a dependency.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use super::ready_fd::ReadyFd;

/// Where readiness and status go.
pub struct Notifier {
    ready_fd: Option<ReadyFd>,
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From `--ready-fd` and the environment systemd sets (`NOTIFY_SOCKET`, `WATCHDOG_USEC`,
    /// `WATCHDOG_PID`). A socket that cannot be used is reported and ignored.
    pub fn new(ready_fd: Option<ReadyFd>) -> Self {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let address = socket_address(path.as_encoded_bytes());
            let socket = UnixDatagram::unbound();
            match (address, socket) {
                (Ok(address), Ok(socket)) => Some((socket, address)),
                (Err(error), _) | (_, Err(error)) => {
                    tracing::warn!("NOTIFY_SOCKET {path:?} cannot be used: {error}");
                    None
                }
            }
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .is_none_or(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0 && for_us && socket.is_some())
            .map(|usec| Duration::from_micros(usec) / 2);
        Self {
            ready_fd,
            socket,
            watchdog,
        }
    }

    /// How often to send `WATCHDOG=1` (half of `WATCHDOG_USEC`), if systemd asks for it.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// The daemon is ready: `READY=1` to the fd (once) and the socket.
    pub fn ready(&mut self, status: &str) {
        if let Some(fd) = self.ready_fd.take() {
            let number = fd.number();
            if let Err(error) = fd.ready() {
                tracing::warn!("could not write to --ready-fd {number}: {error}");
            }
        }
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// A status line for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    /// The watchdog's keep-alive.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// The daemon is stopping.
    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping at a safe point");
    }

    /// Reloading the configuration, then ready again.
    pub fn reloading(&self) {
        self.send("RELOADING=1\nSTATUS=reloading the configuration");
    }

    fn send(&self, message: &str) {
        if let Some((socket, address)) = &self.socket
            && let Err(error) = socket.send_to_addr(message.as_bytes(), address)
        {
            tracing::debug!("NOTIFY_SOCKET: {error}");
        }
    }
}

/// A path, or an abstract socket name after `@`.
fn socket_address(path: &[u8]) -> std::io::Result<SocketAddr> {
    match path.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None => SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path)),
    }
}

use std::os::unix::ffi::OsStrExt;
