//! What can go wrong getting a token, sorted by what the user does next.

/// Why no token could be had.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OAuth2ErrorKind {
    /// No refresh token stored yet, or the provider refused it (revoked, expired): run
    /// `pimlink auth STORAGE`.
    NeedsAuth,
    /// The endpoint could not be reached or answered something that is not OAuth2.
    Transport,
    /// The provider refused the request for another reason (a wrong client id, say).
    Refused,
    /// The user said no, or did not answer in time.
    Denied,
    /// The token could not be kept (the keyring and the state directory both failed).
    Storage,
    /// `client_secret_cmd` failed.
    Config,
}

/// An OAuth2 failure, with a message that names the storage and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OAuth2Error {
    kind: OAuth2ErrorKind,
    message: String,
}

impl OAuth2Error {
    pub(crate) fn new(kind: OAuth2ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> OAuth2ErrorKind {
        self.kind
    }

    /// The same error with `context` in front of its message.
    pub(crate) fn context(self, context: impl std::fmt::Display) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
            ..self
        }
    }
}
