//! IDLE (RFC 2177): wait for the server to report a change, then DONE.

use std::fs::File;

use pimlink_core::Error;

use super::fetch::{FetchedMessage, to_message};
use super::{Command, Reply, add_ranges, peer, require};
use crate::proto::completion::Completion;
use crate::proto::encode::CommandText;
use crate::proto::response::{ContinueData, Untagged};
use crate::proto::session::{Needs, Session, Transition};
use crate::uidset::UidRanges;

/// What IDLE saw.
#[derive(Debug, Default)]
pub struct IdleOutcome {
    /// True if nothing happened before the timeout.
    pub timed_out: bool,
    /// The last EXISTS count reported.
    pub exists: Option<u32>,
    /// Sequence numbers expunged.
    pub expunged: Vec<u32>,
    /// UIDs expunged (QRESYNC).
    pub vanished: UidRanges,
    /// Flag changes (FETCH responses).
    pub fetched: Vec<FetchedMessage>,
}

/// IDLE until a change to the mailbox is reported (EXISTS, EXPUNGE, VANISHED, FETCH) or the
/// caller's deadline passes. Changes reported before the server's `+` count too.
#[derive(Debug, Default)]
pub struct Idle {
    outcome: IdleOutcome,
    started: bool,
    woken: bool,
}

impl Command for Idle {
    type Output = IdleOutcome;

    fn what(&self) -> String {
        "IDLE".into()
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(session, "IDLE", "server does not offer IDLE")?;
        Ok(CommandText::new("IDLE"))
    }

    fn collect(&mut self, untagged: Untagged, spooled: &mut [Option<File>]) -> Result<(), Error> {
        let outcome = &mut self.outcome;
        match untagged {
            Untagged::Exists(n) => outcome.exists = Some(n),
            Untagged::Expunge(n) => outcome.expunged.push(n),
            Untagged::Vanished { uids, .. } => add_ranges(&mut outcome.vanished, &uids),
            Untagged::Fetch(data) => {
                // Wakes even when the message is unusable (no UID).
                self.woken = true;
                if let Some(message) = to_message(data, spooled)? {
                    outcome.fetched.push(message);
                }
                return Ok(());
            }
            _ => return Ok(()),
        }
        self.woken = true;
        Ok(())
    }

    fn continued(&mut self, _: &ContinueData) -> Result<Reply, Error> {
        if self.started {
            return Err(peer("unexpected continuation during IDLE"));
        }
        self.started = true;
        Ok(Reply::Idle)
    }

    fn woken(&self) -> bool {
        self.woken
    }

    fn timed_out(&mut self) {
        self.outcome.timed_out = true;
    }

    fn leads_to(&self, _: &Completion) -> Option<Transition> {
        Some(Transition::IdleEnded)
    }

    fn finish(self, done: Completion, _: &Session) -> Result<IdleOutcome, Error> {
        if !self.started {
            return Err(peer(format!("server refused IDLE: {}", done.describe())));
        }
        done.check("IDLE")?;
        Ok(self.outcome)
    }
}
