//! Opening a connection (greeting, STARTTLS, login, COMPRESS) and the commands about the
//! connection itself: CAPABILITY, ENABLE, ID, NOOP.

use std::collections::VecDeque;
use std::time::SystemTime;

use pimlink_core::{Error, ErrorKind};
use pimlink_tls::TlsMode;
use tracing::{debug, trace, warn};

use super::Client;
use super::wire::escape_for_log;
use crate::options::ClientOptions;
use crate::proto::commands::{Capability, Enable, Id, LogIn, Simple};
use crate::proto::frame::Framer;
use crate::proto::response::parse_greeting;
use crate::proto::session::{Session, State};
use crate::transport::Transport;

impl Client {
    /// Connects, secures, greets, logs in (unless PREAUTH) and turns on compression, as the
    /// options say.
    pub async fn connect(options: ClientOptions) -> Result<Client, Error> {
        let transport = Transport::open(&options).await?;
        let framer = Framer::new(options.limits, random_nonce());
        let session = Session::new(transport.description(), options.disabled_extensions.clone());
        let mut client = Client {
            options,
            transport,
            framer,
            session,
            backlog: VecDeque::new(),
            spooled: Vec::new(),
            current_spool: None,
            read_buf: Vec::with_capacity(64 << 10),
        };
        let limit = client.options.connect_timeout;
        tokio::time::timeout(limit, client.greet_and_secure())
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Connection,
                    format!(
                        "{}: no greeting within {} s",
                        client.transport.description(),
                        limit.as_secs()
                    ),
                )
            })??;
        if *client.session.state() == State::ExpectLogin {
            client.authenticate().await?;
        }
        if client.options.compress && client.has("COMPRESS=DEFLATE") {
            client.start_compression().await?;
        }
        if client.has("UTF8=ACCEPT") {
            // RFC 6855: folder names then travel as UTF-8 both ways, which is what pimlink's
            // names are; modified UTF-7 stays the fallback for servers without it.
            client.enable(&["UTF8=ACCEPT"]).await?;
        }
        Ok(client)
    }

    async fn greet_and_secure(&mut self) -> Result<(), Error> {
        let frame = match self.next_frame_until(None).await? {
            Some((frame, _)) => frame,
            None => {
                return Err(Error::new(
                    ErrorKind::Connection,
                    "read ended without a deadline",
                ));
            }
        };
        trace!(target: "pimlink_imap::wire", "S: {}", escape_for_log(&frame.bytes));
        let greeting = parse_greeting(&frame.bytes).map_err(|e| {
            self.session
                .fail(Error::new(ErrorKind::Peer, e.to_string()))
        })?;
        let listed = self.session.greeted(greeting).map_err(|text| {
            Error::new(
                ErrorKind::Connection,
                format!(
                    "{} refused the connection: {text}",
                    self.transport.description()
                ),
            )
        })?;
        if !listed {
            self.refresh_capabilities().await?;
        }
        if self.options.tunnel.is_none() && self.options.tls == TlsMode::StartTls {
            if *self.session.state() != State::ExpectLogin {
                return Err(Error::new(
                    ErrorKind::Refused,
                    "server sent PREAUTH on a connection that must use STARTTLS first",
                ));
            }
            if !self.has("STARTTLS") {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("{} does not offer STARTTLS", self.transport.description()),
                ));
            }
            self.run(Simple::starttls()).await?;
            let injected = self.framer.take_unframed();
            if !injected.is_empty() {
                // Anything sent before the handshake is unauthenticated: it could be injected.
                warn!(
                    "discarding {} bytes the server sent before the TLS handshake",
                    injected.len()
                );
            }
            self.transport.start_tls(&self.options).await?;
            self.refresh_capabilities().await?;
        }
        Ok(())
    }

    async fn authenticate(&mut self) -> Result<(), Error> {
        let login = LogIn::new(&self.session, &self.options)?;
        let listed = self.run(login).await?;
        if !listed {
            // Capabilities may change with the login.
            self.refresh_capabilities().await?;
        }
        Ok(())
    }

    async fn start_compression(&mut self) -> Result<(), Error> {
        self.run(Simple::compress()).await?;
        // The server compresses everything after its OK; bytes already read are compressed.
        let pending = self.framer.take_unframed();
        self.transport.start_deflate();
        if !pending.is_empty() {
            let plain = self.transport.decompress_pending(&pending)?;
            self.framer.feed(&plain);
        }
        debug!("COMPRESS=DEFLATE active");
        Ok(())
    }

    /// Re-reads the capabilities (CAPABILITY).
    pub async fn refresh_capabilities(&mut self) -> Result<(), Error> {
        self.run(Capability::default()).await.map(drop)
    }

    /// ENABLE the given extensions (those not offered or disabled are skipped); returns what the
    /// server enabled.
    pub async fn enable(&mut self, extensions: &[&str]) -> Result<Vec<String>, Error> {
        match Enable::new(&self.session, extensions) {
            Some(enable) => self.run(enable).await,
            None => Ok(Vec::new()),
        }
    }

    /// ID (RFC 2971): sends our identification, returns the server's.
    pub async fn id(
        &mut self,
        ours: &[(&str, &str)],
    ) -> Result<Vec<(String, Option<String>)>, Error> {
        self.run(Id::new(ours)).await
    }

    /// NOOP: lets the server report changes.
    pub async fn noop(&mut self) -> Result<(), Error> {
        self.run(Simple::noop()).await
    }
}

/// A random number (RandomState is seeded by the OS): SASL nonces, the watcher's jitter.
pub(crate) fn random_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS; mixing the time in costs nothing.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}
