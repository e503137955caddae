//! Modified UTF-7 (RFC 3501 section 5.1.3): how folder names travel on the wire unless
//! UTF8=ACCEPT is enabled. The code lives in core, since the Maildir store spells folder names
//! the same way on disk for mbsync's trees (`names = "imap-utf-7"`).

pub use pimlink_core::utf7::{decode, encode};
