//! RFC 8474 (OBJECTID): every mailbox with its MAILBOXID, the identity a RENAME keeps, in one
//! LIST-STATUS round trip.

use std::fs::File;

use pimlink_core::Error;

use super::{Command, require};
use crate::proto::completion::Completion;
use crate::proto::encode::{CommandText, mailbox_wire_name};
use crate::proto::response::{ListEntry, Untagged};
use crate::proto::session::{Needs, Session};

/// `LIST "" pattern RETURN (STATUS (MAILBOXID))`: each mailbox with its MAILBOXID (`None`
/// for one the server gave none, such as a `\Noselect` parent).
#[derive(Debug)]
pub struct MailboxIds {
    pattern: String,
    entries: Vec<(ListEntry, Option<String>)>,
}

impl MailboxIds {
    /// Every mailbox matching `pattern` (`*`: all).
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: pattern.to_owned(),
            entries: Vec::new(),
        }
    }
}

impl Command for MailboxIds {
    type Output = Vec<(ListEntry, Option<String>)>;

    fn what(&self) -> String {
        "LIST (MAILBOXID)".into()
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(session, "OBJECTID", "server does not offer OBJECTID")?;
        require(session, "LIST-STATUS", "server does not offer LIST-STATUS")?;
        // MAILBOXID alone: Cyrus 3.6 garbles the id when MESSAGES is asked for with it.
        Ok(CommandText::new("LIST")
            .string(b"")
            .string(&mailbox_wire_name(&self.pattern, session.utf8()))
            .atom("RETURN (STATUS (MAILBOXID))"))
    }

    fn collect(&mut self, untagged: Untagged, _: &mut [Option<File>]) -> Result<(), Error> {
        match untagged {
            Untagged::List(entry) => self.entries.push((entry, None)),
            Untagged::MailboxStatus(status) => {
                if let Some(entry) = self
                    .entries
                    .iter_mut()
                    .rev()
                    .find(|(e, _)| e.name == status.name)
                {
                    entry.1 = status.mailbox_id;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Self::Output, Error> {
        done.check("LIST")?;
        Ok(self.entries)
    }
}
