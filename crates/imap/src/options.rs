//! What a connection needs to know: server, security, credentials, limits.

use std::path::PathBuf;
use std::time::Duration;

use pimlink_tls::{TlsMode, Trust};

use crate::proto::frame::FrameLimits;
use crate::secret::Secret;

/// A SASL mechanism (or LOGIN) to force instead of letting the client choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMechanism {
    /// The LOGIN command.
    Login,
    /// AUTHENTICATE PLAIN (with SASL-IR when offered).
    Plain,
    /// AUTHENTICATE CRAM-MD5.
    CramMd5,
    /// AUTHENTICATE XOAUTH2; the password is the OAuth2 access token.
    XOAuth2,
    /// AUTHENTICATE OAUTHBEARER (RFC 7628); the password is the access token.
    OAuthBearer,
}

impl std::fmt::Display for AuthMechanism {
    /// The command as the server sees it (`LOGIN`, `AUTHENTICATE PLAIN`), for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AuthMechanism::Login => "LOGIN",
            AuthMechanism::Plain => "AUTHENTICATE PLAIN",
            AuthMechanism::CramMd5 => "AUTHENTICATE CRAM-MD5",
            AuthMechanism::XOAuth2 => "AUTHENTICATE XOAUTH2",
            AuthMechanism::OAuthBearer => "AUTHENTICATE OAUTHBEARER",
        })
    }
}

/// Everything needed to open and log in a connection.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Server host name (also the TLS server name).
    pub host: String,
    /// Port; 993 for implicit TLS, 143 otherwise, unless set.
    pub port: Option<u16>,
    /// How to secure the connection.
    pub tls: TlsMode,
    /// Which server certificates to accept (system roots, an extra CA file or a pinned
    /// certificate) and the client certificate to present.
    pub trust: Trust,
    /// A command whose stdin/stdout carries IMAP instead of a socket (`sh -c` runs it).
    pub tunnel: Option<String>,
    /// Login name.
    pub user: String,
    /// Password or OAuth2 token.
    pub password: Secret,
    /// Force this mechanism instead of choosing from the server's offer.
    pub auth_mechanism: Option<AuthMechanism>,
    /// Act as this user with `user`'s credentials (SASL PLAIN's authorization identity, RFC
    /// 4616): how a Cyrus admin or a Dovecot master user opens another user's mailbox. Only
    /// PLAIN carries it, so setting it forces PLAIN.
    pub authzid: Option<String>,
    /// Limit for TCP connect plus TLS handshake plus greeting.
    pub connect_timeout: Duration,
    /// Limit for waiting for any server output while a response is expected.
    pub read_timeout: Duration,
    /// Use COMPRESS=DEFLATE when the server offers it.
    pub compress: bool,
    /// Capabilities to ignore even if offered (e.g. `QRESYNC`, `CONDSTORE`, `LITERAL+`), for
    /// servers whose implementation is broken.
    pub disabled_extensions: Vec<String>,
    /// Where large message bodies are spooled (default: the system temp directory).
    pub spool_dir: Option<PathBuf>,
    /// Size caps for server responses.
    pub limits: FrameLimits,
}

impl ClientOptions {
    /// Options with safe defaults: implicit TLS, 30 s connect and 120 s read timeouts,
    /// compression on.
    pub fn new(host: impl Into<String>, user: impl Into<String>, password: Secret) -> Self {
        Self {
            host: host.into(),
            port: None,
            tls: TlsMode::Implicit,
            trust: Trust::default(),
            tunnel: None,
            user: user.into(),
            password,
            auth_mechanism: None,
            authzid: None,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            compress: true,
            disabled_extensions: Vec::new(),
            spool_dir: None,
            limits: FrameLimits::default(),
        }
    }

    /// The port to connect to.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Implicit => 993,
            _ => 143,
        })
    }
}
