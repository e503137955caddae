//! vdir storage for pimlink: calendars and address books on local disk, laid out exactly as
//! vdirsyncer and pimsync write them, so that khal, khard and friends read the same tree.
//!
//! Key type: [`Vdir`], which implements [`pimlink_core::dav::store::ItemStore`].
//!
//! Not here: sync logic (pimlink-core), network storages (pimlink-dav), configuration (the
//! `pimlink` binary), and any interpretation of iCalendar/vCard beyond finding an item's UID.
//!
//! # Layout
//!
//! - Each collection is one directory directly below the root; its
//!   [`CollectionId`](pimlink_core::dav::store::CollectionId) is the directory name. Hidden
//!   directories (`.git`, `.pimlink`) and directories whose names are not UTF-8 are not listed.
//! - Each item is one file `<name><extension>` (`.ics` or `.vcf` by default). A new item's name
//!   is its UID when the UID consists of safe characters, otherwise a SHA-256 of the UID (see
//!   [`pimlink_core::dav::vobject::item_file_name`]). Hidden files, files with another
//!   extension and anything that is not a regular file are ignored.
//! - Metadata lives in the collection directory in the files `displayname`, `color` and
//!   `description`, holding the bare value (surrounding whitespace is ignored when reading);
//!   setting `None` removes the file.
//!
//! # Items and versions
//!
//! An item's [`Href`](pimlink_core::dav::store::Href) is its file name; its
//! [`Etag`](pimlink_core::dav::store::Etag) is `<mtime in ns>;<inode>;<size>`, read with one
//! `stat`. Every write goes to a new inode (temp file + rename), so a pimlink write always
//! changes the etag; an editor that rewrites a file in place changes at least the mtime.
//!
//! # Safety
//!
//! - Writes go to a hidden temp file in the same directory, are fsynced, then renamed over the
//!   target (update) or hard-linked to it (create, so an existing file is never replaced). The
//!   directory is fsynced in [`ItemStore::flush`](pimlink_core::dav::store::ItemStore::flush),
//!   once per changed directory.
//! - Each rename, link and removal of an item or metadata file is announced to
//!   [`pimlink_core::own_writes`] first, so that the daemon's watcher does not take a sync's
//!   own writes for the user's (a no-op unless a watcher watches the root).
//! - Updates and deletes compare the file's current etag with the expected one first and refuse
//!   with [`ErrorKind::Refused`](pimlink_core::ErrorKind::Refused) if it moved. (Between that
//!   check and the rename another program could still write; a local file system offers no
//!   compare-and-swap. The window is a few microseconds.)
//! - Hrefs and collection ids are single path segments; symbolic links inside the root are
//!   never followed, so nothing outside the root is read or written.
//! - Content is stored byte for byte as given; invalid iCalendar is synced as it is.
//!
//! # Example
//!
//! ```no_run
//! use pimlink_core::dav::store::{CollectionId, CollectionKind, ItemStore};
//! use pimlink_vdir::Vdir;
//!
//! # async fn demo() -> pimlink_core::Result<()> {
//! let store = Vdir::open("/home/me/.calendars", CollectionKind::Calendar)?;
//! let work = CollectionId::new("work")?;
//! store.create_collection(&work).await?;
//! let created = store.create_item(&work, "BEGIN:VCALENDAR\r\n...").await?;
//! store.flush().await?;
//! println!("{} {}", created.href, created.etag);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod files;
mod store;

pub use files::etag_stamp;
pub use store::Vdir;
