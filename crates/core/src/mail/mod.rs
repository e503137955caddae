//! Mail sync: the wing for pairs of [`MailStore`]s (IMAP, Maildir).
//!
//! - [`item`], [`flags`], [`keywords`]: the message model (keys, contents, flags and the
//!   keyword map), validated at the boundary;
//! - [`fingerprint`]: how a message is recognised by content; [`nametrans`]: folder names
//!   translated between the sides;
//! - [`store::MailStore`]: what a mail storage must offer the engine;
//! - [`plan`]: the pure planner ([`plan::plan_collections`], [`plan::plan_items`],
//!   [`plan::pairing`]); [`exec::Pair::sync`] carries a plan out (the only code that writes to
//!   the sides and the status).
//!
//! - [`adopt`]: another tool's knowledge (mbsync, OfflineIMAP) written into an empty status.
//!
//! Not here: anything calendar or contact ([`crate::dav`]), the database itself
//! ([`crate::status`]), storages (pimlink-imap, pimlink-maildir).

pub mod adopt;
pub mod exec;
pub mod fingerprint;
pub mod flags;
pub mod item;
pub mod keywords;
pub mod nametrans;
pub mod plan;
pub mod report;
pub mod status;
pub mod store;

pub use report::Mail;
pub use store::MailStore;
