//! Maps failures to the documented exit statuses.

use pimlink_core::ErrorKind;
use pimlink_core::runner::Outcome;

use crate::cli::exit;
use crate::config::{ConfigError, Credentials, PasswordSource};

/// The exit status for an error that stopped a command or a pair.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if let Some(config) = error.downcast_ref::<ConfigError>() {
        // No OAuth2 token to be had is not a mistake in the file (issue 18).
        if config.kind() == crate::config::ConfigErrorKind::OAuth2 {
            return exit::UNAVAILABLE;
        }
        return exit::USAGE;
    }
    if error
        .downcast_ref::<pimlink::oauth2::OAuth2Error>()
        .is_some()
    {
        return exit::UNAVAILABLE;
    }
    if error.downcast_ref::<UsageError>().is_some() {
        return exit::USAGE;
    }
    if crate::next_step::is_untrusted_certificate(error) {
        return exit::UNAVAILABLE;
    }
    match error
        .downcast_ref::<pimlink_core::Error>()
        .map(|e| e.kind())
    {
        Some(ErrorKind::Busy) => exit::BUSY,
        Some(ErrorKind::Refused) => exit::REFUSED,
        Some(ErrorKind::Config | ErrorKind::InvalidName) => exit::USAGE,
        // The configuration is well-formed; the server would not open the storage with it.
        Some(ErrorKind::Auth) => exit::UNAVAILABLE,
        _ => exit::UNAVAILABLE,
    }
}

/// The exit status of a pair's run that ended as `outcome`: a refusal outranks a failure.
pub fn outcome_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Clean => exit::OK,
        Outcome::Partial => exit::PARTIAL,
        Outcome::Refused => exit::REFUSED,
        // Only the daemon asks for a stop, and a clean stop is a success.
        Outcome::Stopped => exit::OK,
    }
}

/// A command-line mistake found after parsing (an unknown pair name, say).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What to check when a server refused a storage's credentials, naming the keys that hold them.
pub fn credentials_hint(credentials: Option<&Credentials>) -> String {
    if let Some(PasswordSource::OAuth2(source)) = credentials.map(|c| &c.password) {
        return format!(
            "The access token was refused, also after a refresh. Check the user name; if it \
             is right, run `pimlink auth {}` again.",
            source.storage
        );
    }
    let source = match credentials.map(|c| &c.password) {
        Some(PasswordSource::Command(_)) => "password_cmd",
        Some(PasswordSource::Literal(_)) => "password",
        Some(PasswordSource::Keyring { .. }) => "the password in the keyring",
        Some(PasswordSource::OAuth2(_)) | None => "user, password or password_cmd",
    };
    format!("Check the user name and the password ({source}).")
}

/// True if `error` is a server's refusal of the credentials: such errors already name the
/// storage, its host and what to check.
pub fn is_refused_login(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<pimlink_core::Error>()
        .is_some_and(|e| e.kind() == ErrorKind::Auth)
}

/// `error` of storage `name`, saying so unless it already does (a refused login).
pub fn in_storage(error: anyhow::Error, name: &str) -> anyhow::Error {
    if is_refused_login(&error) {
        error
    } else {
        error.context(format!("storage {name}"))
    }
}

/// A refused login of storage `name` on `host`: which storage, the server's answer, and what
/// to check.
pub fn refused_login(
    name: &str,
    host: &str,
    error: &pimlink_core::Error,
    credentials: Option<&Credentials>,
) -> pimlink_core::Error {
    let text = error.to_string();
    let stop = if text.ends_with('.') { "" } else { "." };
    pimlink_core::Error::new(
        ErrorKind::Auth,
        format!(
            "storage {name:?} ({host}): {text}{stop} {}",
            credentials_hint(credentials)
        ),
    )
}
