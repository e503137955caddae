//! One handle over the servers the suite runs against, so each case is written once.

use std::path::Path;
use std::time::Duration;

use pimlink_imap::{ClientOptions, Secret, TlsMode};
use pimlink_testkit::{Cyrus, CyrusBuilder, Dovecot, DovecotBuilder};

/// Which implementation a case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Dovecot,
    Cyrus,
}

/// What a case needs from the server; each flavor maps it to its own builder.
#[derive(Clone, Copy, Debug, Default)]
pub struct Setup {
    /// Implicit TLS port plus STARTTLS with a fresh CA.
    pub tls: bool,
    /// COMPRESS=DEFLATE (Dovecot needs a plugin; Cyrus always offers it).
    pub compress: bool,
    /// Dovecot only: the Maildir++ layout, whose hierarchy delimiter is `.` (the suite's
    /// default for Dovecot is one directory per folder with `/`, like the Cyrus harness).
    pub dot_delimiter: bool,
}

pub enum Server {
    Dovecot(Dovecot),
    Cyrus(Cyrus),
}

impl Server {
    /// Starts a server, or `None` when Cyrus is not unpacked and `PIMLINK_SKIP_CYRUS` says to
    /// skip it ([`Cyrus::skip_requested`]); without that, a missing Cyrus fails the test.
    pub fn start(flavor: Flavor, setup: Setup) -> Option<Server> {
        match flavor {
            Flavor::Dovecot => Some(Server::Dovecot(
                DovecotBuilder::new()
                    .tls(setup.tls)
                    .compress(setup.compress)
                    .layout(setup.dot_delimiter)
                    .start()
                    .unwrap(),
            )),
            Flavor::Cyrus => {
                if Cyrus::skip_requested() {
                    eprintln!("SKIPPED: Cyrus IMAP is not unpacked and PIMLINK_SKIP_CYRUS is set");
                    return None;
                }
                assert!(!setup.dot_delimiter, "the Cyrus harness always uses '/'");
                Some(Server::Cyrus(
                    CyrusBuilder::new()
                        .tls(setup.tls)
                        .start()
                        .unwrap_or_else(|e| panic!("{e}")),
                ))
            }
        }
    }

    pub fn flavor(&self) -> Flavor {
        match self {
            Server::Dovecot(_) => Flavor::Dovecot,
            Server::Cyrus(_) => Flavor::Cyrus,
        }
    }

    pub fn host(&self) -> &str {
        match self {
            Server::Dovecot(s) => s.host(),
            Server::Cyrus(s) => s.host(),
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Server::Dovecot(s) => s.port(),
            Server::Cyrus(s) => s.port(),
        }
    }

    pub fn tls_port(&self) -> Option<u16> {
        match self {
            Server::Dovecot(s) => s.tls_port(),
            Server::Cyrus(s) => s.tls_port(),
        }
    }

    pub fn ca_cert_pem(&self) -> Option<&Path> {
        match self {
            Server::Dovecot(s) => s.ca_cert_pem(),
            Server::Cyrus(s) => s.ca_cert_pem(),
        }
    }

    pub fn user(&self) -> &str {
        match self {
            Server::Dovecot(s) => s.user(),
            Server::Cyrus(s) => s.user(),
        }
    }

    pub fn password(&self) -> &str {
        match self {
            Server::Dovecot(s) => s.password(),
            Server::Cyrus(s) => s.password(),
        }
    }

    pub fn log(&self) -> String {
        match self {
            Server::Dovecot(s) => s.log(),
            Server::Cyrus(s) => s.log(),
        }
    }

    /// Puts a message into the first user's `folder` behind the client's back.
    pub fn deliver(&self, folder: &str, message: &[u8]) {
        match self {
            Server::Dovecot(s) => s.deliver(s.user(), folder, message),
            Server::Cyrus(s) => s.deliver(s.user(), folder, message),
        }
        .unwrap_or_else(|e| panic!("delivering to {folder}: {e}\n{}", self.log()));
    }

    /// How long IDLE may take to report a change made elsewhere. Dovecot notifies at once;
    /// Cyrus without `idled` polls every `imapidlepoll` seconds, 60 by default, which the
    /// harness does not change.
    pub fn idle_latency(&self) -> Duration {
        match self {
            Server::Dovecot(_) => Duration::from_secs(15),
            // The harness makes Cyrus poll every second (imapidlepoll: 1).
            Server::Cyrus(_) => Duration::from_secs(15),
        }
    }

    /// Plain-text client options for the first user.
    pub fn options(&self) -> ClientOptions {
        let mut o = ClientOptions::new(self.host(), self.user(), Secret::new(self.password()));
        o.port = Some(self.port());
        o.tls = TlsMode::None;
        o.read_timeout = Duration::from_secs(20);
        o
    }
}
