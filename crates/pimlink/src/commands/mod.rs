//! One module per command.

pub mod adopt;
// OAuth2 (issue 18).
pub mod auth;
pub mod check;
pub mod discover;
pub mod import;
pub mod init;
pub mod list;
pub mod patterns;
pub mod repair;
pub mod resolve;
pub mod status;
pub mod sync;

use anyhow::Result;

use crate::config::{Config, PairConfig};
use crate::failure::UsageError;

/// The pairs named on the command line, or every pair when none is named.
pub fn select_pairs<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c PairConfig>> {
    if names.is_empty() {
        if config.pairs.is_empty() {
            return Err(UsageError(format!(
                "{}: no [pair.NAME] is configured",
                config.path.display()
            ))
            .into());
        }
        return Ok(config.pairs.values().collect());
    }
    names
        .iter()
        .map(|name| {
            config
                .pairs
                .get(name)
                .ok_or_else(|| unknown(config, "pair", name, config.pairs.keys()))
        })
        .collect()
}

/// The error for a `kind` (pair, replication) named on the command line that `config` does
/// not have, listing the `known` ones.
pub fn unknown<'k>(
    config: &Config,
    kind: &str,
    name: &str,
    known: impl Iterator<Item = &'k String>,
) -> anyhow::Error {
    let known: Vec<&str> = known.map(String::as_str).collect();
    UsageError(format!(
        "no {kind} named {name:?} in {} (configured: {})",
        config.path.display(),
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    ))
    .into()
}

/// A runtime for one command: pimlink drives its storages from one thread, so a
/// current-thread runtime is all it needs.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
