//! Each IMAP command as data: one type per command says what it is called in messages, the
//! states it may be sent in, its text, which untagged responses it collects, how it answers a
//! `+`, the state transition it leads to, and how its result is built from what it collected
//! and its tagged completion. [`Exchange`](super::exchange::Exchange) runs them; the client
//! only moves bytes.
//!
//! Adding a command (NOTIFY, ESEARCH, OBJECTID) is one type implementing [`Command`], its
//! response in [`response`](super::response) if imap-codec has a new one, and a client method
//! that runs it.

use std::fs::File;

use pimlink_core::{Error, ErrorKind};

use super::completion::Completion;
use super::encode::CommandText;
use super::response::{ContinueData, Untagged};
use super::session::{Needs, Session, Transition};
use crate::uidset::UidRanges;

mod append;
mod connection;
mod fetch;
mod idle;
mod mailbox;
mod message;
mod metadata;
mod notify;
mod select;

pub use append::{Append, MultiAppend, MultiAppendCommand};
pub use connection::{Capability, Enable, Id, LogIn, Logout, Namespace};
pub use fetch::{Fetch, FetchRequest, FetchSummary, FetchedMessage};
pub use idle::{Idle, IdleOutcome};
pub use mailbox::{List, ListStatus, MailboxOp, Status, Unselect};
pub use message::{CopyMove, CopyUids, Expunge, StoreFlags, StoreMode, StoreOutcome};
pub use metadata::SetSpecialUse;
pub use notify::{MailboxFilter, NoopKeeping, Notify, NotifyEvent};
pub use select::{QresyncParams, Select, SelectOptions, SelectedMailbox};

/// One IMAP command as data.
pub trait Command {
    /// What the caller gets.
    type Output;

    /// The command as messages name it (`UID FETCH`, `SELECT "INBOX"`).
    fn what(&self) -> String;

    /// The states it may be sent in; anything else is refused before it is sent.
    fn needs(&self) -> Needs;

    /// Its text, built just before it is written. May refuse (an extension the server lacks)
    /// before anything is sent. Data that goes into the text (an APPEND's message) is moved
    /// out of `self`.
    fn encode(&mut self, session: &Session) -> Result<CommandText, Error>;

    /// An untagged response that arrived while it ran (the earliest command not completed
    /// gets each one), with the spool files of the response's large literals, by index. An
    /// error does not stop the reading, since the stream must stay in step; the first one
    /// becomes the command's result.
    fn collect(&mut self, untagged: Untagged, spooled: &mut [Option<File>]) -> Result<(), Error> {
        let _ = (untagged, spooled);
        Ok(())
    }

    /// The server asks for more (`+`) outside a literal: what to answer. Only AUTHENTICATE and
    /// IDLE expect this; for any other command it is a protocol violation.
    fn continued(&mut self, data: &ContinueData) -> Result<Reply, Error> {
        let _ = data;
        Err(peer(
            "server sent a continuation request no command asked for",
        ))
    }

    /// IDLE: true once a response came that ends the wait.
    fn woken(&self) -> bool {
        false
    }

    /// IDLE: the caller's deadline passed without a response that ends the wait.
    fn timed_out(&mut self) {}

    /// The state its completion leads to, if it changes the state.
    fn leads_to(&self, done: &Completion) -> Option<Transition> {
        let _ = done;
        None
    }

    /// Its result, from what it collected and its completion.
    fn finish(self, done: Completion, session: &Session) -> Result<Self::Output, Error>;
}

/// The answer to a `+` ([`Command::continued`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send this line (a SASL response, masked in the wire log).
    Line(Vec<u8>),
    /// IDLE has started: wait for a response that wakes it or the deadline, then DONE.
    Idle,
}

/// A command without arguments or data of interest that succeeds or fails: NOOP, STARTTLS,
/// `COMPRESS DEFLATE`.
#[derive(Debug)]
pub struct Simple {
    text: &'static str,
    needs: Needs,
}

impl Simple {
    /// NOOP: lets the server report changes.
    pub fn noop() -> Self {
        Self {
            text: "NOOP",
            needs: Needs::Connected,
        }
    }

    /// STARTTLS (RFC 3501 6.2.1).
    pub fn starttls() -> Self {
        Self {
            text: "STARTTLS",
            needs: Needs::NotAuthenticated,
        }
    }

    /// `COMPRESS DEFLATE` (RFC 4978).
    pub fn compress() -> Self {
        Self {
            text: "COMPRESS DEFLATE",
            needs: Needs::Authenticated,
        }
    }
}

impl Command for Simple {
    type Output = ();

    fn what(&self) -> String {
        self.text.split(' ').next().unwrap_or(self.text).to_owned()
    }

    fn needs(&self) -> Needs {
        self.needs
    }

    fn encode(&mut self, _: &Session) -> Result<CommandText, Error> {
        let mut words = self.text.split(' ');
        let mut cmd = CommandText::new(words.next().unwrap_or(self.text));
        for word in words {
            cmd = cmd.atom(word);
        }
        Ok(cmd)
    }

    fn finish(self, done: Completion, _: &Session) -> Result<(), Error> {
        done.check(&self.what()).map(drop)
    }
}

/// A protocol violation by the server.
pub(crate) fn peer(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Peer, message)
}

/// Refuses a command whose extension the server lacks (or that is disabled).
pub(crate) fn require(session: &Session, capability: &str, message: &str) -> Result<(), Error> {
    if session.has(capability) {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::Unsupported, message))
    }
}

/// Adds the UIDs of `from` to `to`, ranges as written.
pub(crate) fn add_ranges(to: &mut UidRanges, from: &UidRanges) {
    for (a, b) in from.ranges() {
        to.push_range(*a, *b);
    }
}
