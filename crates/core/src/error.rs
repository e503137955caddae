//! The error type shared by the engine and the storages.

use std::fmt;

/// What went wrong, sorted by cause so that callers can decide what to do (retry, skip the
/// item, stop the pair, report a configuration problem).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A name (collection, item key) that the storage cannot hold or that would escape its root.
    InvalidName,
    /// The item or collection is not there (any more): a mail reader may have moved it.
    NotFound,
    /// The peer (a server, a file on disk written by another program) sent something malformed.
    Peer,
    /// A local I/O failure (disk full, permissions, ...).
    Io,
    /// The state store is unusable (corrupt, from a newer pimlink, locked by another process).
    State,
    /// Another pimlink process is working on the same pair.
    Busy,
    /// The storage cannot do what was asked (a read-only side, a missing extension).
    Unsupported,
    /// A safety check refused to act (for example a side that suddenly looks empty).
    Refused,
    /// The connection to a server failed or was cut; retrying later may help.
    Connection,
    /// The configuration asks for something impossible.
    Config,
    /// The server refused the credentials (a wrong user name or password, an expired token):
    /// trying again does not help until they are changed.
    Auth,
}

/// An error with its kind, a human message naming what was wrong, and an optional cause.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An I/O error with a message naming what was being done, e.g. `"reading /x/cur/1:2,S"`.
    pub fn io(context: impl Into<String>, err: std::io::Error) -> Self {
        let kind = if err.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Self::new(kind, context).with_source(err)
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Prefixes the message with more context, e.g. the collection being synced.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The underlying cause, if one was attached (an I/O error, an SQLite error): callers that
    /// report many failures group them by it. Not [`std::error::Error::source`], since the cause
    /// is already part of this error's `Display`.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// True if the cause is a full disk or an exhausted quota (`ENOSPC`, `EDQUOT`, SQLite's
    /// "database or disk is full").
    pub fn is_disk_full(&self) -> bool {
        let Some(cause) = self.cause() else {
            return false;
        };
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            );
        }
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            == Some(rusqlite::ErrorCode::DiskFull)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The cause is already part of Display; exposing it again would make anyhow print it twice.
        None
    }
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.to_string() == other.to_string()
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
