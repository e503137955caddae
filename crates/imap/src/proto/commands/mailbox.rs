//! Mailbox commands: LIST, LSUB, LIST-STATUS, STATUS, CREATE, DELETE, RENAME, SUBSCRIBE,
//! UNSUBSCRIBE, UNSELECT.

use std::fs::File;

use pimlink_core::Error;

use super::{Command, peer, require};
use crate::proto::completion::Completion;
use crate::proto::encode::{CommandText, mailbox_wire_name};
use crate::proto::response::{ListEntry, MailboxStatus, StatusKindOf, Untagged};
use crate::proto::session::{Needs, Session, Transition};

/// The STATUS items pimlink asks for, by STATUS and by LIST-STATUS alike.
fn status_items(session: &Session) -> &'static str {
    if session.has("CONDSTORE") {
        "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)"
    } else {
        "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"
    }
}

/// LIST or LSUB `reference` `pattern`.
#[derive(Debug)]
pub struct List {
    verb: &'static str,
    reference: String,
    pattern: String,
    entries: Vec<ListEntry>,
}

impl List {
    /// LIST `reference` `pattern` (e.g. `""`, `"*"`).
    pub fn new(reference: &str, pattern: &str) -> Self {
        Self::with_verb("LIST", reference, pattern)
    }

    /// LSUB: the subscribed mailboxes.
    pub fn subscribed(reference: &str, pattern: &str) -> Self {
        Self::with_verb("LSUB", reference, pattern)
    }

    fn with_verb(verb: &'static str, reference: &str, pattern: &str) -> Self {
        Self {
            verb,
            reference: reference.to_owned(),
            pattern: pattern.to_owned(),
            entries: Vec::new(),
        }
    }
}

impl Command for List {
    type Output = Vec<ListEntry>;

    fn what(&self) -> String {
        self.verb.into()
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        let utf8 = session.utf8();
        Ok(CommandText::new(self.verb)
            .string(&mailbox_wire_name(&self.reference, utf8))
            .string(&mailbox_wire_name(&self.pattern, utf8)))
    }

    fn collect(&mut self, untagged: Untagged, _: &mut [Option<File>]) -> Result<(), Error> {
        match untagged {
            Untagged::List(entry) if self.verb == "LIST" => self.entries.push(entry),
            Untagged::Lsub(entry) if self.verb == "LSUB" => self.entries.push(entry),
            _ => {}
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Self::Output, Error> {
        done.check(self.verb)?;
        Ok(self.entries)
    }
}

/// LIST with `RETURN (STATUS ...)` (RFC 5819): every mailbox with its counters in one round
/// trip, which is what makes an unchanged account cheap to resync.
#[derive(Debug)]
pub struct ListStatus {
    pattern: String,
    /// Other items than the counters, and the extension they need.
    items: Option<(&'static str, &'static str)>,
    entries: Vec<(ListEntry, Option<MailboxStatus>)>,
}

impl ListStatus {
    /// LIST "" `pattern` RETURN (STATUS ...).
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: pattern.to_owned(),
            items: None,
            entries: Vec::new(),
        }
    }

    /// LIST "" `pattern` RETURN (STATUS (MAILBOXID)) (RFC 8474 OBJECTID). MAILBOXID alone:
    /// Cyrus 3.6 garbles the id when MESSAGES is asked for with it.
    pub fn mailbox_ids(pattern: &str) -> Self {
        Self {
            items: Some(("(MAILBOXID)", "OBJECTID")),
            ..Self::new(pattern)
        }
    }
}

impl Command for ListStatus {
    type Output = Vec<(ListEntry, Option<MailboxStatus>)>;

    fn what(&self) -> String {
        "LIST".into()
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(session, "LIST-STATUS", "server does not offer LIST-STATUS")?;
        let items = match self.items {
            Some((items, extension)) => {
                require(
                    session,
                    extension,
                    &format!("server does not offer {extension}"),
                )?;
                items
            }
            None => status_items(session),
        };
        Ok(CommandText::new("LIST")
            .string(b"")
            .string(&mailbox_wire_name(&self.pattern, session.utf8()))
            .atom(format!("RETURN (STATUS {items})")))
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
                    entry.1 = Some(status);
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

/// STATUS of one mailbox (MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, and HIGHESTMODSEQ with
/// CONDSTORE).
#[derive(Debug)]
pub struct Status {
    mailbox: String,
    status: Option<MailboxStatus>,
}

impl Status {
    /// STATUS `mailbox`.
    pub fn new(mailbox: &str) -> Self {
        Self {
            mailbox: mailbox.to_owned(),
            status: None,
        }
    }
}

impl Command for Status {
    type Output = MailboxStatus;

    fn what(&self) -> String {
        format!("STATUS {:?}", self.mailbox)
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        Ok(CommandText::new("STATUS")
            .mailbox(&self.mailbox, session.utf8())
            .atom(status_items(session)))
    }

    fn collect(&mut self, untagged: Untagged, _: &mut [Option<File>]) -> Result<(), Error> {
        if let Untagged::MailboxStatus(status) = untagged {
            self.status = Some(status);
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<MailboxStatus, Error> {
        done.check(&self.what())?;
        let mailbox = self.mailbox;
        self.status
            .ok_or_else(|| peer(format!("server answered STATUS {mailbox:?} without data")))
    }
}

/// CREATE, DELETE, RENAME, SUBSCRIBE or UNSUBSCRIBE of a mailbox.
#[derive(Debug)]
pub struct MailboxOp {
    verb: &'static str,
    mailbox: String,
    to: Option<String>,
}

impl MailboxOp {
    /// CREATE `mailbox`.
    pub fn create(mailbox: &str) -> Self {
        Self::new("CREATE", mailbox)
    }

    /// DELETE `mailbox`.
    pub fn delete(mailbox: &str) -> Self {
        Self::new("DELETE", mailbox)
    }

    /// RENAME `from` `to`.
    pub fn rename(from: &str, to: &str) -> Self {
        Self {
            to: Some(to.to_owned()),
            ..Self::new("RENAME", from)
        }
    }

    /// SUBSCRIBE `mailbox`.
    pub fn subscribe(mailbox: &str) -> Self {
        Self::new("SUBSCRIBE", mailbox)
    }

    /// UNSUBSCRIBE `mailbox`.
    pub fn unsubscribe(mailbox: &str) -> Self {
        Self::new("UNSUBSCRIBE", mailbox)
    }

    fn new(verb: &'static str, mailbox: &str) -> Self {
        Self {
            verb,
            mailbox: mailbox.to_owned(),
            to: None,
        }
    }
}

impl Command for MailboxOp {
    type Output = ();

    fn what(&self) -> String {
        format!("{} {:?}", self.verb, self.mailbox)
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        let utf8 = session.utf8();
        let cmd = CommandText::new(self.verb).mailbox(&self.mailbox, utf8);
        Ok(match &self.to {
            Some(to) => cmd.mailbox(to, utf8),
            None => cmd,
        })
    }

    fn finish(self, done: Completion, _: &Session) -> Result<(), Error> {
        done.check(&self.what()).map(drop)
    }
}

/// Leaves the selected mailbox without expunging: UNSELECT (RFC 3691), or where it is missing
/// a SELECT that must fail (a failed SELECT leaves no mailbox selected), never CLOSE, which
/// would expunge.
#[derive(Debug, Default)]
pub struct Unselect {
    fallback: bool,
}

impl Command for Unselect {
    type Output = ();

    fn what(&self) -> String {
        "UNSELECT".into()
    }

    fn needs(&self) -> Needs {
        Needs::Selected
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        self.fallback = !session.has("UNSELECT");
        Ok(if self.fallback {
            CommandText::new("EXAMINE").string(b"pimlink-nonexistent-\x7f")
        } else {
            CommandText::new("UNSELECT")
        })
    }

    fn leads_to(&self, done: &Completion) -> Option<Transition> {
        (self.fallback || done.kind == StatusKindOf::Ok).then_some(Transition::Deselected)
    }

    fn finish(self, done: Completion, _: &Session) -> Result<(), Error> {
        if self.fallback {
            // Failing was the point.
            return Ok(());
        }
        done.check("UNSELECT").map(drop)
    }
}
