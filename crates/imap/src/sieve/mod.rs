//! ManageSieve (RFC 5804): reading and writing a user's Sieve scripts on the server, for
//! replicating them next to the mail (issue 15).
//!
//! - [`proto`]: sans-IO: [`proto::Command`] encodes to bytes (names quoted or as literals,
//!   scripts as non-synchronising literals); [`proto::Reader`] frames the server's bytes into
//!   lines (literals included, every size capped) and lines into responses, and reads
//!   capabilities, script lists and scripts out of them.
//! - [`SieveClient`]: one logged-in connection over [`crate::transport::Transport`], the same
//!   TCP and rustls code as IMAP: greeting, STARTTLS (what came before the handshake is
//!   dropped), AUTHENTICATE PLAIN with an optional authorization identity (an admin or Dovecot
//!   master user acting as a user), LISTSCRIPTS, GETSCRIPT, PUTSCRIPT, DELETESCRIPT,
//!   SETACTIVE, LOGOUT.
//!
//! Hand-written rather than the `managesieve` crate (0.1.1, 2021): that one parses `&str` on
//! nom 6, its AUTHENTICATE takes no mechanism or data, and RENAMESCRIPT takes one name.
//!
//! Not here: deciding what to copy (pimlink's `replicate::sieve`), other SASL mechanisms,
//! RENAMESCRIPT, HAVESPACE, CHECKSCRIPT (not needed to replicate).

mod client;
pub mod proto;

pub use client::{DEFAULT_PORT, SieveClient, SieveOptions};
pub use proto::{Capabilities, ScriptEntry};
