//! WebDAV, CalDAV and CardDAV without I/O: request builders that produce a [`Request`] value
//! (method, path, headers, body) and parsers that turn a response body into typed answers. The
//! HTTP transport ([`crate::client`]) only carries these; everything here is tested in memory.

pub mod href;
pub mod multistatus;
pub mod request;
pub mod stamp;
pub mod xml;

use std::fmt;

/// The WebDAV namespace.
pub const DAV: &str = "DAV:";
/// The CalDAV namespace (RFC 4791).
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
/// The CardDAV namespace (RFC 6352).
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// Apple's namespace, home of `calendar-color`.
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";
/// CalendarServer's namespace, home of `getctag`.
pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";

/// A response the parsers could not make sense of. The transport adds which request it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtoError(String);

impl ProtoError {
    /// A new error with `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtoError {}

pub use request::{Depth, Precondition, Request};
