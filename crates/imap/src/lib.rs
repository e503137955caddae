//! pimlink's IMAP client: a pipelining, streaming IMAP4rev1 client with the extensions that make
//! synchronisation fast (CONDSTORE, QRESYNC, UIDPLUS, MOVE, LITERAL+, LIST-STATUS, COMPRESS,
//! IDLE, UTF8=ACCEPT), built to survive hostile servers. Tested against Dovecot and Cyrus.
//! One [`Client`] is one connection; open several for parallel work (their futures are `Send`).
//!
//! Layers:
//! - [`proto`]: the sans-IO core: framing, parsing via `imap-codec`, each command as a typed
//!   value ([`proto::commands`]), and the [`proto::exchange::Exchange`] that runs them (tags,
//!   literal kinds and continuations, routing responses, state transitions). It never
//!   touches a socket, so it is tested with transcripts and fuzzed.
//! - [`transport`]: TCP, TLS (rustls), STARTTLS, tunnel commands, COMPRESS=DEFLATE, timeouts.
//!   Which certificates to trust ([`Trust`], [`CertFingerprint`]) and the rustls configuration
//!   come from pimlink-tls, shared with pimlink-dav.
//! - [`client::Client`]: the API the sync engine uses, configured by [`ClientOptions`]: each
//!   method builds a command and runs it; the client only moves bytes.
//!
//! Key types: [`Client`], [`ClientOptions`] (with its [`TlsMode`] and [`Trust`]), [`Secret`],
//! [`UidRanges`], [`FetchedMessage`].
//!
//! - [`sieve`]: a ManageSieve (RFC 5804) client on the same transport, for replicating Sieve
//!   scripts.
//! - [`watch`]: watching an account for a daemon (NOTIFY, or IDLE and polls; reconnecting
//!   with backoff).
//!
//! Not here: sync decisions and the `MailStore` implementation for IMAP (issue 4), and
//! configuration files (the binary turns them into [`ClientOptions`]).
//!
//! ```no_run
//! # async fn demo() -> pimlink_core::Result<()> {
//! use pimlink_imap::{Client, ClientOptions, FetchRequest, Secret, UidRanges};
//! let options = ClientOptions::new("imap.example.org", "me", Secret::new("pw"));
//! let mut client = Client::connect(options).await?;
//! let inbox = client.select("INBOX", Default::default()).await?;
//! let request = FetchRequest { flags: true, ..FetchRequest::default() };
//! client.fetch(&UidRanges::all(), &request, |message| { println!("{:?}", message.uid); Ok(()) }).await?;
//! client.logout().await?;
//! # let _ = inbox; Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod auth;
pub mod client;
mod options;
pub mod proto;
mod secret;
pub mod sieve;
pub mod store;
pub mod transport;
mod uidset;
pub mod utf7;
pub mod watch;

pub use client::{
    AppendItem, Client, FetchRequest, FetchSummary, FetchedMessage, IdleOutcome, MultiAppend,
    QresyncParams, SelectOptions, SelectedMailbox, StoreMode, StoreOutcome,
};
pub use options::{AuthMechanism, ClientOptions};
pub use proto::response::{ListEntry, MailboxStatus, NamespaceEntry};
pub use secret::Secret;
pub use store::{ImapSpelling, ImapStore, RefusedLogin};
pub use uidset::UidRanges;
// ClientOptions carries these; re-exported so that a user of this crate needs no other.
pub use pimlink_tls::{CertFingerprint, ClientCert, TlsMode, Trust};
