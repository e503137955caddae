//! The tokio half of ManageSieve: one connection over [`Transport`] (the same TCP and TLS code
//! as IMAP), driving [`proto`](super::proto). It only moves bytes; the protocol decisions are
//! in the sans-IO part.

use pimlink_core::{Error, ErrorKind, Secret};
use pimlink_tls::TlsMode;
use tracing::{debug, warn};

use super::proto::{
    self, Capabilities, Command, Limits, Reader, Reply, Response, ScriptEntry, StatusKind,
};
use crate::options::ClientOptions;
use crate::transport::Transport;

/// ManageSieve's registered port (RFC 5804 section 1.8).
pub const DEFAULT_PORT: u16 = 4190;

/// How to reach and log in to a ManageSieve server.
#[derive(Clone, Debug)]
pub struct SieveOptions {
    /// Host, port (`sieve_port`, 4190 by convention), trust, timeouts, the SASL
    /// authentication identity (`user`), `password` and `authzid` (the user to act as, when
    /// `user` is an administrator or Dovecot master user), as for IMAP. `tls`:
    /// [`TlsMode::None`] stays plain; either TLS mode means STARTTLS, because ManageSieve has
    /// no implicit-TLS port. `tunnel`, `compress` and `auth_mechanism` do not apply.
    pub connection: ClientOptions,
}

/// One logged-in ManageSieve connection.
pub struct SieveClient {
    transport: Transport,
    reader: Reader,
    capabilities: Capabilities,
}

impl SieveClient {
    /// Connects, reads the greeting, runs STARTTLS unless `tls` is none (refusing a server
    /// that does not offer it) and logs in with AUTHENTICATE PLAIN.
    pub async fn connect(options: &SieveOptions) -> Result<Self, Error> {
        let mut connection = options.connection.clone();
        let secure = connection.tls != TlsMode::None;
        connection.tls = if secure {
            TlsMode::StartTls
        } else {
            TlsMode::None
        };
        connection.tunnel = None;
        // effective_port() would pick IMAP's 143 for a missing port: ManageSieve's is 4190.
        connection.port = Some(connection.port.unwrap_or(DEFAULT_PORT));
        let transport = Transport::open(&connection).await?;
        let mut client = SieveClient {
            transport,
            reader: Reader::new(Limits::default()),
            capabilities: Capabilities::default(),
        };
        let greeting = client.response().await?;
        client.capabilities = Capabilities::from_response(&greeting)?;
        if secure {
            if !client.capabilities.has("STARTTLS") {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{} does not offer STARTTLS on its ManageSieve port",
                        client.transport.description()
                    ),
                ));
            }
            client.run(Command::StartTls).await?;
            let injected = client.reader.take_buffered();
            if !injected.is_empty() {
                warn!(
                    "discarding {} bytes the ManageSieve server sent before the TLS handshake",
                    injected.len()
                );
            }
            client.transport.start_tls(&connection).await?;
            // RFC 5804 section 2.2: the server sends its capabilities again after the handshake.
            let again = client.response().await?;
            client.capabilities = Capabilities::from_response(&again)?;
        }
        client
            .authenticate(
                &connection.user,
                &connection.password,
                connection.authzid.as_deref(),
            )
            .await?;
        Ok(client)
    }

    /// What the server offered (after STARTTLS, if any).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    async fn authenticate(
        &mut self,
        user: &str,
        password: &Secret,
        authzid: Option<&str>,
    ) -> Result<(), Error> {
        if !self.capabilities.sasl().iter().any(|m| m == "PLAIN") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{} offers no SASL PLAIN on its ManageSieve port (it offers {:?})",
                    self.transport.description(),
                    self.capabilities.sasl()
                ),
            ));
        }
        let initial = crate::auth::plain(authzid, user, password.expose());
        let command = Command::Authenticate {
            mechanism: "PLAIN",
            initial: Some(&initial),
        };
        self.send(&command)?;
        self.transport.flush().await?;
        let response = loop {
            match self.reply(true).await? {
                Reply::Done(response) => break response,
                Reply::Challenge(_) => {
                    // PLAIN has nothing more to say; RFC 5804 section 2.1: `"*"` cancels.
                    self.transport.queue(b"\"*\"\r\n");
                    self.transport.flush().await?;
                }
            }
        };
        let who = match authzid {
            Some(target) => format!("{user} acting as {target}"),
            None => user.to_string(),
        };
        match response.status.kind {
            StatusKind::Ok => {
                debug!("ManageSieve: logged in as {who}");
                Ok(())
            }
            _ => Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "{} refused the ManageSieve login of {who}: {}",
                    self.transport.description(),
                    response.status.text.as_deref().unwrap_or("no reason given")
                ),
            )),
        }
    }

    /// LISTSCRIPTS: every script and which one is active.
    pub async fn list_scripts(&mut self) -> Result<Vec<ScriptEntry>, Error> {
        let response = self.run(Command::ListScripts).await?;
        proto::scripts(&response)
    }

    /// GETSCRIPT: a script's bytes.
    pub async fn get_script(&mut self, name: &str) -> Result<Vec<u8>, Error> {
        let response = self.run(Command::GetScript(name)).await?;
        proto::script(&response)
    }

    /// PUTSCRIPT: stores (creates or replaces) a script; the server checks that it compiles.
    pub async fn put_script(&mut self, name: &str, script: &[u8]) -> Result<(), Error> {
        self.run(Command::PutScript(name, script)).await.map(drop)
    }

    /// DELETESCRIPT: the server refuses to delete the active script.
    pub async fn delete_script(&mut self, name: &str) -> Result<(), Error> {
        self.run(Command::DeleteScript(name)).await.map(drop)
    }

    /// SETACTIVE: makes `name` the active script, or deactivates all with `None`.
    pub async fn set_active(&mut self, name: Option<&str>) -> Result<(), Error> {
        self.run(Command::SetActive(name.unwrap_or("")))
            .await
            .map(drop)
    }

    /// LOGOUT, then closes.
    pub async fn logout(mut self) -> Result<(), Error> {
        self.run(Command::Logout).await.map(drop)
    }

    fn send(&mut self, command: &Command<'_>) -> Result<(), Error> {
        let bytes = command.encode()?;
        self.transport.queue(&bytes);
        Ok(())
    }

    /// Sends a command and waits for its response; NO and BYE become errors.
    async fn run(&mut self, command: Command<'_>) -> Result<Response, Error> {
        self.send(&command)?;
        self.transport.flush().await?;
        let response = self.response().await?;
        match response.status.kind {
            StatusKind::Ok => Ok(response),
            kind => {
                let code = response.status.code_name();
                let error_kind = match (kind, code.as_deref()) {
                    (StatusKind::Bye, _) => ErrorKind::Connection,
                    (_, Some("NONEXISTENT")) => ErrorKind::NotFound,
                    _ => ErrorKind::Unsupported,
                };
                let verb = command.verb();
                Err(Error::new(
                    error_kind,
                    format!(
                        "{} refused {verb}{}: {}",
                        self.transport.description(),
                        code.map(|c| format!(" ({c})")).unwrap_or_default(),
                        response.status.text.as_deref().unwrap_or("no reason given")
                    ),
                ))
            }
        }
    }

    async fn response(&mut self) -> Result<Response, Error> {
        match self.reply(false).await? {
            Reply::Done(response) => Ok(response),
            // reply(false) never yields a challenge.
            Reply::Challenge(_) => Err(Error::new(ErrorKind::Peer, "unexpected SASL challenge")),
        }
    }

    async fn reply(&mut self, challenge: bool) -> Result<Reply, Error> {
        let mut chunk = Vec::new();
        loop {
            if let Some(reply) = self.reader.next(challenge)? {
                return Ok(reply);
            }
            chunk.clear();
            if self.transport.read(&mut chunk).await? == 0 {
                return Err(Error::new(
                    ErrorKind::Connection,
                    format!(
                        "{} closed the ManageSieve connection",
                        self.transport.description()
                    ),
                ));
            }
            self.reader.feed(&chunk);
        }
    }
}
