//! [`TlsMode`]: how a connection that can start in plain text is secured.

/// How an IMAP connection is encrypted (`tls`). An HTTP URL says this itself
/// (`https://`), so only IMAP has the setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// `implicit`: TLS from the first byte (port 993). The default.
    #[default]
    Implicit,
    /// `starttls`: plain connection upgraded with STARTTLS before login (port 143); failure
    /// to upgrade is an error, never a fallback to plain text.
    StartTls,
    /// `none`: no encryption; only when configured explicitly (loopback, tunnels, tests).
    None,
}
