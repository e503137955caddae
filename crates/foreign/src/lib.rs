//! What other sync tools left behind, read as plain data: their configuration files
//! ([`config`]: mbsync's `.mbsyncrc`, OfflineIMAP's `.offlineimaprc`, vdirsyncer's and pimsync's
//! configs) and their state ([`state`]: what each of them knows about the items it synced), so
//! that `pimlink import` can translate a setup and the first `pimlink sync` (or `pimlink adopt`)
//! can take over a local copy without downloading it again.
//!
//! Everything here is a pure function of the files' contents: no network, no writes, no
//! knowledge of pimlink's own configuration or status (the binary and core translate these
//! types into theirs). Malformed input is an error naming the file and line.

pub mod config;
pub mod state;
