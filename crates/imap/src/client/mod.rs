//! The client API: one logged-in connection, pipelined commands, streamed bodies.
//!
//! Each method builds a command value ([`crate::proto::commands`]) and runs it: the sans-IO
//! [`Exchange`] decides what goes on the wire and what the responses mean, and the client
//! only moves bytes between it and the [`Transport`] (`wire.rs`). Methods that take several
//! items (`append_many`, `status_many`) put all commands on the wire before reading, so a
//! batch costs one round trip. Bodies larger than
//! [`FrameLimits::inline_literal`](crate::proto::frame::FrameLimits) are streamed into unlinked
//! spool files and handed over as [`Content::File`](pimlink_core::Content).
//!
//! - `connect.rs`: greeting, STARTTLS, login, COMPRESS, and CAPABILITY, ENABLE, ID, NOOP;
//! - `mailboxes.rs`: mailbox commands and SELECT;
//! - `messages.rs`: message commands, IDLE and LOGOUT;
//! - `watching.rs`: NOTIFY, reading what the server sends on its own, a NOOP that keeps it;
//! - `wire.rs`: running an exchange over the transport, framing and spooling what arrives.

use std::collections::VecDeque;
use std::fs::File;

use pimlink_core::{Error, ErrorKind};

use crate::options::ClientOptions;
use crate::proto::commands::Command;
use crate::proto::exchange::{Exchange, Incoming, Outcome};
use crate::proto::frame::Framer;
use crate::proto::session::{Session, State};
use crate::transport::Transport;

mod connect;
mod mailboxes;
mod messages;
mod watching;
mod wire;

pub use crate::proto::commands::{
    CopyUids, FetchRequest, FetchSummary, FetchedMessage, IdleOutcome, MultiAppend, QresyncParams,
    SelectOptions, SelectedMailbox, StoreMode, StoreOutcome,
};
pub(crate) use connect::random_nonce;
pub use messages::AppendItem;

/// A connected, logged-in IMAP client.
pub struct Client {
    options: ClientOptions,
    transport: Transport,
    framer: Framer,
    session: Session,
    /// Responses read while no command ran ([`Client::poll_closed`]), fed to the next one.
    backlog: VecDeque<Incoming>,
    spooled: Vec<File>,
    current_spool: Option<File>,
    read_buf: Vec<u8>,
}

impl Client {
    /// The server's capabilities as last reported.
    pub fn capabilities(&self) -> &[String] {
        self.session.capabilities()
    }

    /// True if the server offers `capability` and it is not disabled in the options.
    pub fn has(&self, capability: &str) -> bool {
        self.session.has(capability)
    }

    /// True if `ENABLE` turned `capability` on.
    pub fn is_enabled(&self, capability: &str) -> bool {
        self.session.is_enabled(capability)
    }

    /// True if the connection is compressed.
    pub fn is_compressed(&self) -> bool {
        self.transport.is_compressed()
    }

    /// True if the connection uses TLS.
    pub fn is_tls(&self) -> bool {
        self.transport.is_tls()
    }

    /// True when the connection can carry no more commands: it failed (EOF, timeout, a response
    /// that could not be read) or the server said BYE. A new connection is needed then.
    pub fn is_broken(&self) -> bool {
        self.session.is_broken()
    }

    /// The number of messages in the selected mailbox as the server last reported it
    /// (`EXISTS`, less the `EXPUNGE`s since): after [`Client::noop`] or [`Client::idle`] this
    /// shows mail that other connections added.
    pub fn exists(&self) -> u32 {
        self.session.exists()
    }

    /// The connection state.
    pub fn state(&self) -> &State {
        self.session.state()
    }

    /// How many LIST or LSUB responses could not be parsed since the last call (each was
    /// skipped with a warning): a folder list with any is incomplete, and a folder missing from
    /// it may exist.
    pub fn take_unreadable_folders(&mut self) -> usize {
        self.session.take_unreadable_folders()
    }

    /// Runs one command to its completion.
    async fn run<C: Command>(&mut self, command: C) -> Result<C::Output, Error> {
        let mut exchange = Exchange::one(command);
        self.drive(&mut exchange, None).await?;
        exchange.into_result(&self.session)
    }

    /// Runs several commands of one kind, pipelined: all are written before the first answer
    /// is read. Each gets its outcome; the error is why the exchange stopped early, if it did.
    async fn run_all<C: Command>(
        &mut self,
        commands: Vec<C>,
    ) -> (Vec<Outcome<C::Output>>, Option<Error>) {
        let mut exchange = Exchange::new(commands);
        let failure = self.drive(&mut exchange, None).await.err();
        (exchange.into_results(&self.session), failure)
    }

    /// [`Client::run_all`] when every command needs its answer: one result per command, in
    /// order, one that got no answer (`verb` names it) failing as a lost connection; the error
    /// is why the exchange stopped early.
    async fn run_all_answered<C: Command>(
        &mut self,
        commands: Vec<C>,
        verb: &str,
    ) -> Result<Vec<Result<C::Output, Error>>, Error> {
        let (outcomes, failure) = self.run_all(commands).await;
        if let Some(failure) = failure {
            return Err(failure);
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Outcome::Done(result) => result,
                Outcome::Unknown => Err(Error::new(
                    ErrorKind::Connection,
                    format!("{verb} got no answer"),
                )),
            })
            .collect())
    }
}
