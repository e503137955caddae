//! The sans-IO protocol core: no sockets, clocks or files here.
//!
//! - [`frame`] splits server output into complete responses under size caps and hands large
//!   literals out in chunks;
//! - [`response`] parses a frame (with `imap-codec`) into owned, typed responses;
//! - [`command`] encodes commands (quoting, literals, credentials marked for masking);
//! - [`escape`] shows server bytes in messages without letting them reach a terminal raw;
//! - [`session`] assigns tags, tracks commands in flight and the connection state, and keeps the
//!   first fatal error.

pub mod command;
pub mod escape;
pub mod frame;
pub mod response;
pub mod session;

#[cfg(test)]
mod transcripts;
