//! Credentials: the one `Secret` type of pimlink-core, re-exported so that users of this crate
//! need not name core.

pub use pimlink_core::Secret;
