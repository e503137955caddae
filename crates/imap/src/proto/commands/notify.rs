//! NOTIFY (RFC 5465): which mailboxes and events the server reports on its own, without IDLE.
//! After `NOTIFY SET` the server sends untagged STATUS (a non-selected mailbox changed), LIST
//! (a mailbox was created, renamed, deleted or (un)subscribed) and, for the selected mailbox,
//! EXISTS/EXPUNGE/FETCH/VANISHED at any time; [`super::super::notify`] sorts them.

use std::fs::File;

use pimlink_core::Error;

use super::{Command, require};
use crate::proto::completion::Completion;
use crate::proto::encode::{CommandText, mailbox_wire_name};
use crate::proto::response::Untagged;
use crate::proto::session::{Needs, Session};

/// An event kind a filter asks for (RFC 5465 section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyEvent {
    /// A message was added.
    MessageNew,
    /// A message was expunged.
    MessageExpunge,
    /// A message's flags changed (needs `MessageNew` and `MessageExpunge` in the same group).
    FlagChange,
    /// A mailbox was created, deleted or renamed.
    MailboxName,
    /// A mailbox was subscribed or unsubscribed.
    SubscriptionChange,
}

impl NotifyEvent {
    fn word(self) -> &'static str {
        match self {
            NotifyEvent::MessageNew => "MessageNew",
            NotifyEvent::MessageExpunge => "MessageExpunge",
            NotifyEvent::FlagChange => "FlagChange",
            NotifyEvent::MailboxName => "MailboxName",
            NotifyEvent::SubscriptionChange => "SubscriptionChange",
        }
    }
}

/// Which mailboxes a group of events is about (RFC 5465 section 6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailboxFilter {
    /// The selected mailbox.
    Selected,
    /// Every mailbox in the user's personal namespaces.
    Personal,
    /// Every subscribed mailbox.
    Subscribed,
    /// These mailboxes and all below them (decoded names).
    Subtree(Vec<String>),
    /// Exactly these mailboxes (decoded names).
    Mailboxes(Vec<String>),
}

/// `NOTIFY SET [STATUS] (filter (events))...` or `NOTIFY NONE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    groups: Vec<(MailboxFilter, Vec<NotifyEvent>)>,
    status: bool,
}

impl Notify {
    /// `NOTIFY SET` for these groups. `status`: the server first sends STATUS of every
    /// mailbox the groups name (a baseline), before the tagged OK.
    pub fn set(groups: Vec<(MailboxFilter, Vec<NotifyEvent>)>, status: bool) -> Self {
        Self { groups, status }
    }

    /// `NOTIFY NONE`: the server stops reporting anything it would not report anyway.
    pub fn none() -> Self {
        Self {
            groups: Vec::new(),
            status: false,
        }
    }

    /// What a watcher of a whole account asks for: every change to a message or a mailbox
    /// name or subscription in the personal namespaces (nothing is selected).
    pub fn whole_account() -> Self {
        use NotifyEvent::*;
        Self::set(
            vec![(
                MailboxFilter::Personal,
                vec![
                    MessageNew,
                    MessageExpunge,
                    FlagChange,
                    MailboxName,
                    SubscriptionChange,
                ],
            )],
            false,
        )
    }
}

impl Command for Notify {
    type Output = ();

    fn what(&self) -> String {
        if self.groups.is_empty() {
            "NOTIFY NONE".into()
        } else {
            "NOTIFY SET".into()
        }
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(session, "NOTIFY", "server does not offer NOTIFY")?;
        if self.groups.is_empty() {
            return Ok(CommandText::new("NOTIFY").atom("NONE"));
        }
        let mut text = CommandText::new("NOTIFY").atom("SET");
        if self.status {
            text = text.atom("STATUS");
        }
        for (filter, events) in &self.groups {
            let filter = match filter {
                MailboxFilter::Selected => "selected".to_owned(),
                MailboxFilter::Personal => "personal".to_owned(),
                MailboxFilter::Subscribed => "subscribed".to_owned(),
                MailboxFilter::Subtree(names) => format!("subtree {}", names_list(names, session)),
                MailboxFilter::Mailboxes(names) => {
                    format!("mailboxes {}", names_list(names, session))
                }
            };
            let events = if events.is_empty() {
                "NONE".to_owned()
            } else {
                let words: Vec<_> = events.iter().map(|e| e.word()).collect();
                format!("({})", words.join(" "))
            };
            text = text.atom(format!("({filter} {events})"));
        }
        Ok(text)
    }

    fn finish(self, done: Completion, _: &Session) -> Result<(), Error> {
        done.check(&self.what()).map(drop)
    }
}

/// NOOP that keeps every untagged response it brings, so that a liveness check on a watching
/// connection does not swallow the notifications that arrive with it.
#[derive(Debug, Default)]
pub struct NoopKeeping {
    seen: Vec<Untagged>,
}

impl Command for NoopKeeping {
    type Output = Vec<Untagged>;

    fn what(&self) -> String {
        "NOOP".into()
    }

    fn needs(&self) -> Needs {
        Needs::Connected
    }

    fn encode(&mut self, _: &Session) -> Result<CommandText, Error> {
        Ok(CommandText::new("NOOP"))
    }

    fn collect(&mut self, untagged: Untagged, _: &mut [Option<File>]) -> Result<(), Error> {
        self.seen.push(untagged);
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Vec<Untagged>, Error> {
        done.check("NOOP")?;
        Ok(self.seen)
    }
}

/// `(name name ...)`, each name a quoted string. A name that would need a literal (CR, LF,
/// NUL) is left out: no server lets a mailbox be called that, and a literal inside the
/// parenthesised list would cost a round trip per name for nothing.
fn names_list(names: &[String], session: &Session) -> String {
    let quoted: Vec<String> = names
        .iter()
        .filter(|name| !name.contains(['\r', '\n', '\0']))
        .map(|name| {
            let wire = mailbox_wire_name(name, session.utf8());
            let mut out = String::from("\"");
            for ch in String::from_utf8_lossy(&wire).chars() {
                if ch == '"' || ch == '\\' {
                    out.push('\\');
                }
                out.push(ch);
            }
            out.push('"');
            out
        })
        .collect();
    format!("({})", quoted.join(" "))
}
