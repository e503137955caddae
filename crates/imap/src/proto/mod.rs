//! The sans-IO protocol core: no sockets, clocks or files here (a literal to upload and the
//! spool file of one that arrived are passed through as handles, never read or written).
//!
//! - [`frame`] splits server output into complete responses under size caps and hands large
//!   literals out in chunks;
//! - [`response`] parses a frame (with `imap-codec`) into owned, typed responses;
//! - [`encode`] writes command text (quoting, literals, credentials marked for masking);
//! - [`escape`] shows server bytes in messages without letting them reach a terminal raw;
//! - [`commands`] describes each command as data: its text, the states it may be sent in,
//!   the responses it collects, the transition it leads to and how its result is built;
//! - [`exchange`] runs commands: tags, pipelining, the kind of each literal and the wait for
//!   the server's `+`, SASL and IDLE continuations, routing responses to their command;
//! - [`notify`] sorts what the server sends while no command runs (after NOTIFY);
//! - [`session`] holds the connection state and every transition, the capabilities, and the
//!   first fatal error; [`completion`] says what a tagged OK, NO or BAD means.

pub mod commands;
pub mod completion;
pub mod encode;
pub mod escape;
pub mod exchange;
pub mod frame;
pub mod notify;
pub mod response;
pub mod session;

#[cfg(test)]
mod exchange_transcripts;
#[cfg(test)]
mod transcripts;
