//! The other tools' sync state (one module per tool): which item on the server is which local
//! file, and the flags or etags both sides had at that tool's last run.
//!
//! - [`mbsync`]: `.mbsyncstate` files (in each folder or a SyncState directory), `,U=` names;
//! - [`offlineimap`]: LocalStatus-sqlite, the plain-text LocalStatus, FolderValidity;
//! - [`dav`]: what the calendar/contact tools' states have in common ([`dav::CollectionStatus`],
//!   [`dav::ItemRecord`]) and the check whether a local file is still the one a tool recorded;
//! - [`vdirsyncer`]: `<status_path>/<pair>/<collection>.items` (sqlite, or JSON before 0.16);
//! - [`pimsync`]: `<status_path>/<pair>.status` (sqlite, one database per pair).

pub mod dav;
pub mod mbsync;
pub mod offlineimap;
pub mod pimsync;
pub mod vdirsyncer;
