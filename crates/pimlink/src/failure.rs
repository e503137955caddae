//! Maps failures to the documented exit statuses.

use pimlink_core::ErrorKind;

use crate::cli::exit;
use crate::config::ConfigError;

/// The exit status for an error that stopped a command or a pair.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<ConfigError>().is_some() {
        return exit::USAGE;
    }
    if error.downcast_ref::<UsageError>().is_some() {
        return exit::USAGE;
    }
    match error
        .downcast_ref::<pimlink_core::Error>()
        .map(|e| e.kind())
    {
        Some(ErrorKind::Busy) => exit::BUSY,
        Some(ErrorKind::Refused) => exit::REFUSED,
        Some(ErrorKind::Config | ErrorKind::InvalidName) => exit::USAGE,
        _ => exit::UNAVAILABLE,
    }
}

/// A command-line mistake found after parsing (an unknown pair name, say).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
