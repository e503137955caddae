//! CalDAV, CardDAV and webcal storages for pimlink (in progress).

#![deny(missing_docs)]

pub mod proto;
