//! The engine of pimlink: what an item and a collection are, the interface every storage
//! implements, the status store that remembers what the last sync saw, the pure planner that
//! turns status plus both sides' listings into a plan of actions, and the executor that carries a
//! plan out.
//!
//! Key types:
//! - [`CollectionName`], [`ItemKey`], [`Flags`]: the item model, validated at the boundary.
//! - [`store::MailStore`]: what a mail storage (Maildir, IMAP) must offer the engine;
//!   [`item_store`]: the same for calendar and contact storages (CalDAV, CardDAV, vdir).
//! - [`status::StatusStore`]: what the last sync saw, per pair, in SQLite.
//! - [`plan`]: pure decisions ([`plan::plan_collections`], [`plan::plan_items`],
//!   [`plan::pairing`]); [`exec::Pair::sync`] carries them out.
//! - [`fingerprint::Fingerprint`]: how a message is recognised by content.
//!
//! Not here: any protocol, file format or configuration file. Storages live in their own crates
//! and depend on this one; this crate depends on none of them.

pub mod dav;
pub mod digest;
pub mod error;
pub mod guard;
pub mod mail;
pub mod name;
pub mod offthread;
pub mod policy;
pub mod private;
pub mod run;
pub mod secret;
pub mod side;
pub mod status;

pub use error::{Error, ErrorKind, Result};
pub use mail::flags::{Flag, Flags};
pub use mail::item::{Content, ItemData, ItemEntry, ItemKey, NewItem};
pub use mail::store::{ChangeStamp, CollectionInfo, Known, Listing, MailStore};
pub use name::CollectionName;
pub use secret::Secret;
pub use side::{PerSide, Side};
