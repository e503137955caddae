//! APPEND of one message, and MULTIAPPEND (RFC 3502) of several in one command.

use pimlink_core::Error;

use super::{Command, require};
use crate::proto::completion::Completion;
use crate::proto::encode::{AppendMessage, CommandText, append};
use crate::proto::response::ResponseCode;
use crate::proto::session::{Needs, Session};
use crate::uidset::UidRanges;

/// APPEND of one message; the result is (UIDVALIDITY, UID) when the server has UIDPLUS.
#[derive(Debug)]
pub struct Append {
    mailbox: String,
    message: Option<AppendMessage>,
}

impl Append {
    /// APPEND `message` to `mailbox`.
    pub fn new(mailbox: &str, message: AppendMessage) -> Self {
        Self {
            mailbox: mailbox.to_owned(),
            message: Some(message),
        }
    }
}

impl Command for Append {
    type Output = Option<(u32, u32)>;

    fn what(&self) -> String {
        format!("APPEND to {:?}", self.mailbox)
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        let messages = self.message.take().into_iter().collect();
        Ok(append(&self.mailbox, session.utf8(), messages))
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Self::Output, Error> {
        let done = done.check(&self.what())?;
        Ok(match done.code {
            Some(ResponseCode::AppendUid { uid_validity, uids }) => {
                uids.iter().next().map(|uid| (uid_validity, uid))
            }
            _ => None,
        })
    }
}

/// What became of a MULTIAPPEND.
#[derive(Debug)]
pub enum MultiAppend {
    /// The server stored every message. With UIDPLUS: its APPENDUID code, the UIDVALIDITY and
    /// the UIDs as the server wrote them (one per message, in the order sent; check it).
    Stored(Option<(u32, UidRanges)>),
    /// The server refused the command (NO or BAD): none of the messages was stored.
    Refused(Error),
}

/// APPEND of several messages in one command (MULTIAPPEND), which the server stores in one
/// transaction: all of them or none.
#[derive(Debug)]
pub struct MultiAppendCommand {
    mailbox: String,
    count: usize,
    messages: Vec<AppendMessage>,
}

impl MultiAppendCommand {
    /// APPEND `messages` to `mailbox` in one command.
    pub fn new(mailbox: &str, messages: Vec<AppendMessage>) -> Self {
        Self {
            mailbox: mailbox.to_owned(),
            count: messages.len(),
            messages,
        }
    }
}

impl Command for MultiAppendCommand {
    type Output = MultiAppend;

    fn what(&self) -> String {
        format!("APPEND of {} messages to {:?}", self.count, self.mailbox)
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(session, "MULTIAPPEND", "server does not offer MULTIAPPEND")?;
        let messages = std::mem::take(&mut self.messages);
        Ok(append(&self.mailbox, session.utf8(), messages))
    }

    fn finish(self, done: Completion, _: &Session) -> Result<MultiAppend, Error> {
        Ok(match done.check(&self.what()) {
            Ok(done) => MultiAppend::Stored(match done.code {
                Some(ResponseCode::AppendUid { uid_validity, uids }) => Some((uid_validity, uids)),
                _ => None,
            }),
            Err(error) => MultiAppend::Refused(error),
        })
    }
}
