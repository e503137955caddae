//! What tells the daemon that something changed: a watcher per storage (IMAP NOTIFY or IDLE
//! and polling, inotify on local trees, polling of CalDAV/CardDAV/webcal) sends [`Change`]s
//! on a channel; the daemon (`crate::daemon`) decides which pairs and collections to sync.
//!
//! Not here: syncing (the pair runner), deciding when to sync (the daemon's scheduler).
//!
//! # What the daemon expects of a watcher
//!
//! Each watcher is one async function per storage kind, in a module of its own here
//! (`watch/imap.rs`, `watch/local.rs`), of this shape:
//!
//! ```ignore
//! pub async fn watch(
//!     config: std::sync::Arc<crate::config::Config>,
//!     storage: String,
//!     tx: tokio::sync::mpsc::Sender<Change>,
//! ) -> anyhow::Result<()>
//! ```
//!
//! - The daemon spawns it (`tokio::spawn`, on the daemon's multi-thread runtime) once per
//!   watched storage before the first sync starts, and aborts its task on stop and on a
//!   reload (SIGHUP), then spawns it again with the new configuration: a watcher needs no
//!   stop signal of its own and must hold nothing that an abort at an `.await` would leave
//!   inconsistent.
//! - It sends [`Change`]s as it sees them, as precisely as it can; the daemon debounces and
//!   coalesces, so a burst of sends is fine. Send `Change::Everything` after anything that
//!   may have hidden a change (a reconnection, a queue overflow, a clock jump).
//! - It returns `Ok(())` when `tx` is closed (the daemon is gone). It returns `Err` only when
//!   the storage cannot be watched at all (the server lacks IDLE, inotify is unavailable);
//!   the daemon then logs the error once and polls that storage at its `poll_interval`
//!   instead. Transient failures (a dropped connection) are the watcher's own to retry, with
//!   capped backoff, sending `Change::Everything` once it is back.
//! - Plugging it in is one line in the daemon's `watchers.rs` (`spawn_watcher`), which picks
//!   the watcher for a storage's type; a storage with no watcher is polled.
//!
//! Layout: `imap` (NOTIFY, or IDLE plus polls, over crates/imap's watcher), `local` (inotify
//! on Maildir and vdir trees), `debounce` (bursts of events into one change; pure).

mod debounce;
pub mod imap;
pub mod local;

/// Something may have changed in a storage.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// One collection changed (a folder, a calendar or an address book), by the storage's own
    /// name for it: an IMAP folder by the engine's name (decoded from modified UTF-7, `/`
    /// between levels whatever the server's delimiter: "Lists/rust"), a Maildir folder name
    /// as the storage's layout names it ("INBOX", "Archive/2024"), a DAV or vdir collection id.
    Collection {
        /// The storage's name in the configuration (`[storage.NAME]`).
        storage: String,
        /// The collection's name in that storage.
        collection: String,
    },
    /// Collections were created, deleted or renamed in a storage: its list of collections
    /// must be read again.
    Collections {
        /// The storage's name in the configuration.
        storage: String,
    },
    /// Anything in the storage may have changed and the watcher cannot say what (a
    /// reconnection, an overflowed event queue, a clock jump after a suspend): check it whole.
    Everything {
        /// The storage's name in the configuration.
        storage: String,
    },
}

impl Change {
    /// The storage the change is in.
    pub fn storage(&self) -> &str {
        match self {
            Change::Collection { storage, .. }
            | Change::Collections { storage }
            | Change::Everything { storage } => storage,
        }
    }
}
