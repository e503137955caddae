//! The engines of pimlink: a shared floor and two wings, one per family of storages.
//!
//! The floor (imports no wing):
//! - [`error`], [`name::CollectionName`], [`side`], [`secret`], [`private`], [`offthread`],
//!   [`own_writes`] (the daemon's watcher tells pimlink's own file events from a user's),
//!   [`policy::SyncPolicy`]: what every part speaks;
//! - [`status::StatusStore`]: the per-pair SQLite database (open, lock, schema, migrations),
//!   and nothing of what its rows mean;
//! - [`guard::Refusal`]: the safety checks both wings apply (`on_empty`, `max_delete`);
//! - [`digest::sha256_hex`];
//! - [`run`]: [`run::RunOptions`], the one [`run::Observer`] trait, [`run::CollectionReport`]
//!   and [`run::PairReport`], generic over a [`run::Family`].
//!
//! The wings (never import each other):
//! - [`mail`]: messages ([`ItemKey`], [`Flags`], [`mail::fingerprint::Fingerprint`]), the
//!   [`MailStore`] trait (Maildir, IMAP), its status tables, the pure planner
//!   ([`mail::plan`]) and the executor ([`mail::exec::Pair::sync`]);
//! - [`dav`]: calendars and contacts: the [`dav::store::ItemStore`] trait (CalDAV, CardDAV,
//!   webcal, vdir), iCalendar/vCard helpers, its status tables, planner and executor
//!   ([`dav::ItemPair::sync`]).
//!
//! The runner (may import both wings; no wing imports it):
//! - [`runner`]: the one entry point that runs a pair of either family
//!   ([`runner::PairRun::lock`], [`runner::PairRun::sync`], [`runner::list`]): the lock, the
//!   no-state notice, collection selection, dry run, `--force` once, the outcome. The binary's
//!   commands, and later the daemon and `replicate`, call it and never branch on the family.
//!
//! The rules (docs/ARCHITECTURE.md, "Layout of core") are checked by `tests/layout.rs`.
//!
//! Not here: any protocol, file format or configuration file. Storages live in their own crates
//! and depend on this one; this crate depends on none of them.

pub mod clock;
pub mod dav;
pub mod digest;
pub mod error;
pub mod guard;
pub mod mail;
pub mod name;
pub mod offthread;
pub mod own_writes;
pub mod policy;
pub mod private;
pub mod run;
pub mod runner;
pub mod secret;
pub mod side;
pub mod status;
pub mod utf7;

pub use error::{Error, ErrorKind, Result};
pub use mail::flags::{Flag, Flags};
pub use mail::item::{Content, ItemData, ItemEntry, ItemKey, NewItem};
pub use mail::store::{ChangeStamp, CollectionInfo, Known, Listing, MailStore};
pub use name::CollectionName;
pub use secret::Secret;
pub use side::{PerSide, Side};
