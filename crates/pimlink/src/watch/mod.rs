//! What tells the daemon that something changed: a watcher per storage (IMAP NOTIFY or IDLE
//! and polling, inotify on local trees, polling of CalDAV/CardDAV/webcal) sends [`Change`]s
//! on a channel; the daemon (`crate::daemon`) decides which pairs and collections to sync.
//!
//! Not here: syncing (the pair runner), deciding when to sync (the daemon's scheduler).
//!
//! Layout: `local` (inotify on Maildir and vdir trees), `debounce` (bursts of events into one
//! change; pure).

mod debounce;
pub mod local;

/// Something may have changed in a storage.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// One collection changed (a folder, a calendar or an address book), by the storage's own
    /// name for it: an IMAP mailbox name (decoded from modified UTF-7), a Maildir folder name
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
