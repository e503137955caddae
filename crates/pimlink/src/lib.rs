//! The part of the `pimlink` program that other code may call: the configuration file's parser
//! ([`config`]), so that the fuzz targets in `fuzz/` (outside the workspace) can feed it
//! arbitrary text. Everything else (commands, output, the storages' wiring) stays private to
//! the binary in `main.rs`; this is not a library API with stability promises.

pub mod config;
// OAuth2 (issue 18): the config's token source resolves through it.
pub mod oauth2;
