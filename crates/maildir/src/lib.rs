//! Maildir storage for pimlink: a tree of maildirs on local disk, as one side of a sync pair.
//!
//! Key types: [`Maildir`] (implements [`pimlink_core::MailStore`]) and [`Layout`]. Not here:
//! the sync logic (pimlink-core), configuration (the `pimlink` binary), Dovecot's index files.
//!
//! # Layouts
//!
//! Folder names are the engine's [`pimlink_core::CollectionName`]s (`/` between levels), stored
//! on disk as raw UTF-8 unless [`TreeOptions::names`] asks for modified UTF-7. Any name a layout
//! accepts maps to exactly one directory and is listed back as the same name.
//!
//! - **`verbatim`** (mbsync's `SubFolders Verbatim`): folder `A/B` is the directory `root/A/B`
//!   holding `cur/ new/ tmp/`; `INBOX` is `root/INBOX`. A directory without `cur/` and `new/`
//!   that has maildirs below it is listed as a non-selectable parent; other directories (a
//!   `.notmuch` index) are not listed. Refused: a level named `cur`, `new` or `tmp` (it would
//!   collide with the parent maildir's own directories).
//! - **`maildir++`** (Dovecot, Courier): `INBOX` is the root itself (`root/cur` ...); folder
//!   `A/B` is `root/.A.B`, and subfolders get the customary empty `maildirfolder` file.
//!   Parents need no directory of their own: `A` is listed as non-selectable if only `.A.B`
//!   exists. Refused: any level containing `.` (that includes a level starting with `.`), since
//!   `.` separates levels; and a folder whose `.A.B` name exceeds 255 bytes. `INBOX/x` is
//!   `root/.INBOX.x`, as Dovecot stores it.
//!
//! Trees other tools wrote ([`TreeOptions`], see `scheme.rs`; [`Maildir::open_with`]):
//! - **`flatten`** (mbsync's `Flatten .`, OfflineIMAP's `sep`), verbatim only: folder `A/B` is
//!   the one directory `root/A.B`; a level containing the separator is refused naming the
//!   folder, and nested directories are not folders. `INBOX/x` is `root/INBOX.x`.
//! - **`names = imap-utf-7`** (mbsync 1.4, OfflineIMAP): each level is spelled in RFC 3501
//!   modified UTF-7 (`Entwürfe` is `Entw&APw-rfe`); a directory that is not valid modified UTF-7
//!   (raw UTF-8, a broken shift) is skipped with a warning.
//! - **`inbox`** (mbsync's `Inbox`), verbatim only: INBOX is that directory; without `flatten`
//!   `INBOX/x` is `<inbox>/x`, as mbsync keeps it, and the root's own `INBOX` directory is
//!   skipped.
//!
//! Both layouts also refuse a level longer than 255 bytes and a first level that equals
//! `INBOX` only up to case (`Inbox/x`): the engine treats INBOX case-insensitively, so such a
//! directory could not be addressed unambiguously. Core's `CollectionName` already refuses
//! empty, `.` and `..` levels and control characters; every path built here is checked again to
//! stay under the root. While listing, a directory whose name is not UTF-8, or that does not map
//! back to its own name (`root/inbox`, `root/.INBOX` in Maildir++), is skipped with a warning.
//!
//! **Symbolic links**: the root itself may be a symlink (it is resolved once on open). Inside
//! the root, symlinks are never followed: a symlinked folder is skipped with a warning when
//! listing and refused when addressed (creating, delivering, reading), and symlinks among the
//! message files are skipped with a warning; so nothing outside the root is ever read or
//! written.
//!
//! # Messages
//!
//! - An item's key is the unique part of its file name (everything before `:2,`); files in
//!   `new/` and `cur/` are both listed; dot-files and everything in `tmp/` are ignored. If one
//!   key appears twice, a warning names both files and the copy in `cur/` (then the first by
//!   file name) is used.
//! - A listing reports a message's size only when the file name carries Dovecot's `,S=<size>`
//!   (no `stat` per file, so that listing a large folder stays one `readdir` per directory).
//! - Flags are the info letters `D F P R S T`. Keywords are the letters `a`-`z` as Dovecot's
//!   `dovecot-keywords` file in each maildir maps them (see `keywords.rs`): read on every
//!   listing, and extended (written under `tmp/`, fsynced, renamed, directory fsynced) before a
//!   file name uses a new letter. A listing reports the mapped keywords plus the free letters,
//!   so the engine never plans more than 26; a keyword that still finds no letter is dropped
//!   here with a warning (the engine keeps it on the other side). Any other letter, and a letter
//!   the file does not map, is kept in the name when pimlink renames a file to change flags. A
//!   file pimlink does not understand is read as far as it can be and never rewritten. A message
//!   moved to another folder gets that folder's letters for its keywords. In the
//!   `verbatim` layout a folder level named `dovecot-keywords` is refused (it would collide with
//!   the parent's file).
//! - Delivered messages get LF line ends (IMAP's CRLF becomes LF; a lone CR stays), as Unix
//!   mail readers and mbsync expect.
//! - Delivery writes `tmp/<key>` and sets its mtime to the internal date. The message becomes
//!   visible in [`pimlink_core::MailStore::flush`], which runs on a thread of its own so that
//!   other folders' downloads go on meanwhile: the pending deliveries of a folder are made
//!   durable there with one `syncfs` when there are at least 32 of them (on Linux 5.8 and
//!   later, where `syncfs` reports write errors, and on local file systems: ext2/3/4, XFS,
//!   Btrfs, F2FS, tmpfs), else with an fsync each from up to 16 threads
//!   at once (concurrent fsyncs share the file system's journal commits); then each is renamed
//!   to `new/<key>` (no flags) or `cur/<key>:2,<flags>` with `RENAME_NOREPLACE`, or linked and
//!   its tmp name removed where the file system refuses that flag, so that an existing file is
//!   never replaced.
//!   Keys look like `<secs>.M<usec>P<pid>Q<n>R<random>.<host>`. A key that already exists is
//!   refused, at delivery or at the flush.
//! - A flag change renames the file into `cur/` with the new info part; an unflagged message in
//!   `new/` stays where it is, and a message that loses all flags in `cur/` keeps `:2,` (as
//!   Dovecot and mbsync do).
//! - Mail readers rename files at any time: the store remembers each file's name from the last
//!   listing and, if it has vanished, rescans the folder once before reporting `NotFound`.
//! - A listing never misses a message that a reader renames while it runs (which the engine
//!   would take for a deletion, and delete on the other side): `new/` is read before `cur/`,
//!   and an inotify watch on both, set up before reading them, names every file that arrived
//!   meanwhile; one that the listing lacks is looked up where it arrived (see `watch.rs`).
//!   Without inotify the folder is listed again until a listing finds nothing new.
//! - Durability: changed directories are fsynced in [`pimlink_core::MailStore::flush`], once
//!   per directory however many messages changed, after the deliveries are placed; new folders
//!   are fsynced when created.
//! - The daemon's watcher: each rename, link and removal in `new/` and `cur/` is announced to
//!   [`pimlink_core::own_writes`] first, so that the watcher does not take a sync's own writes
//!   for a reader's (a no-op unless a watcher watches the root).
//!
//! # Example
//!
//! ```no_run
//! use pimlink_core::{CollectionName, MailStore};
//! use pimlink_maildir::{Layout, Maildir};
//!
//! # async fn demo() -> pimlink_core::Result<()> {
//! let mut store = Maildir::open("/home/me/Mail", Layout::Verbatim)?;
//! let inbox = CollectionName::new("INBOX")?;
//! store.create_collection(&inbox).await?;
//! for entry in store.list_items(&inbox, Default::default()).await?.items {
//!     println!("{} {}", entry.key, entry.flags);
//! }
//! # Ok(())
//! # }
//! ```

mod durable;
mod filename;
mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
mod items;
mod keywords;
mod layout;
mod lineend;
mod remove;
mod renamed;
mod scheme;
mod stamp;
mod store;
mod tree;
mod unique;
mod watch;

pub use layout::Layout;
pub use scheme::{Names, TreeOptions, check_flatten};
pub use store::Maildir;
