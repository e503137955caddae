//! CalDAV, CardDAV and webcal storages for pimlink.
//!
//! Key types:
//! - [`DavStore`]: a CalDAV or CardDAV account as a
//!   [`pimlink_core::dav::store::ItemStore`]: discovery, PROPFIND listings with etags,
//!   calendar-/addressbook-multiget, sync-collection (RFC 6578), conditional PUT/DELETE,
//!   MKCALENDAR / extended MKCOL, PROPPATCH of displayname, color and description.
//! - [`WebcalStore`]: a read-only iCalendar feed split into one item per UID.
//! - [`ClientOptions`] / [`Trust`] / [`Secret`]: where and how to connect; [`Trust`] and the
//!   rustls configuration come from pimlink-tls, shared with pimlink-imap.
//! - [`proto`]: the sans-IO layer (request builders and response parsers), usable and tested
//!   without a network; [`client`] is the only code that touches sockets.
//!
//! Not here: sync decisions (pimlink-core), configuration files and `password_cmd` (the
//! `pimlink` binary), obtaining OAuth2 tokens ([`bearer`] only sends them).
//!
//! Hrefs handed to the engine are canonical absolute paths (see [`proto::href`]); etags are
//! the server's strings, quotes included, sent back unchanged in `If-Match`.
//!
//! ```no_run
//! use pimlink_core::dav::store::{CollectionKind, ItemStore};
//! use pimlink_dav::{ClientOptions, DavStore, Secret};
//!
//! # async fn demo() -> pimlink_core::Result<()> {
//! let options = ClientOptions::new("https://dav.example/").credentials("me", Secret::new("pw"));
//! let store = DavStore::discover(&options, CollectionKind::Calendar).await?;
//! for collection in store.list_collections().await? {
//!     println!("{} {:?}", collection.id, collection.meta.displayname);
//! }
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

// OAuth2 Bearer tokens (issue 18).
pub mod bearer;
pub mod client;
pub mod discovery;
mod dns;
pub mod proto;
mod secret;
mod storage;
mod webcal;

pub use client::ClientOptions;
pub use dns::Dns;
pub use proto::stamp::ChangeStamp;
pub use secret::Secret;
pub use storage::DavStore;
pub use webcal::WebcalStore;
// ClientOptions carries these; re-exported so that a user of this crate needs no other.
pub use pimlink_tls::{CertFingerprint, ClientCert, Trust};
