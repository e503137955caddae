//! SELECT and EXAMINE, with CONDSTORE or a QRESYNC quick resync (RFC 7162).

use std::fs::File;

use pimlink_core::Error;

use super::fetch::{FetchedMessage, to_message};
use super::{Command, add_ranges};
use crate::proto::completion::Completion;
use crate::proto::encode::CommandText;
use crate::proto::response::{ResponseCode, StatusKindOf, Untagged};
use crate::proto::session::{Needs, Session, Transition};
use crate::uidset::UidRanges;

/// How SELECT should resynchronise.
#[derive(Clone, Debug, Default)]
pub struct SelectOptions {
    /// EXAMINE instead of SELECT.
    pub read_only: bool,
    /// Ask for CONDSTORE (`HIGHESTMODSEQ`) if the server offers it.
    pub condstore: bool,
    /// Quick resync (RFC 7162) from a known state, if the server offers QRESYNC.
    pub qresync: Option<QresyncParams>,
}

/// What the client knew about a mailbox at the last sync.
#[derive(Clone, Debug)]
pub struct QresyncParams {
    /// UIDVALIDITY then.
    pub uid_validity: u32,
    /// HIGHESTMODSEQ then.
    pub modseq: u64,
    /// The UIDs the client knows (lets the server send a precise VANISHED list).
    pub known_uids: Option<UidRanges>,
}

/// The state of a freshly selected mailbox, plus what QRESYNC reported.
#[derive(Debug, Default)]
pub struct SelectedMailbox {
    /// The mailbox name.
    pub name: String,
    /// `UIDVALIDITY`.
    pub uid_validity: Option<u32>,
    /// `UIDNEXT`.
    pub uid_next: Option<u32>,
    /// `EXISTS`.
    pub exists: u32,
    /// `HIGHESTMODSEQ`, if the mailbox has mod-sequences.
    pub highest_modseq: Option<u64>,
    /// Selected read-only.
    pub read_only: bool,
    /// Flags that can be stored permanently.
    pub permanent_flags: Vec<String>,
    /// True if the QRESYNC parameters were sent (the server then reports changes below, unless
    /// the UIDVALIDITY differs).
    pub qresync_used: bool,
    /// UIDs expunged since the given modseq (QRESYNC).
    pub vanished: UidRanges,
    /// Messages changed since the given modseq (QRESYNC), with UID, FLAGS and MODSEQ.
    pub changed: Vec<FetchedMessage>,
    /// `MAILBOXID` (RFC 8474 OBJECTID), if the server reported it.
    pub mailbox_id: Option<String>,
}

/// SELECT or EXAMINE of a mailbox. QRESYNC parameters are sent only once QRESYNC is enabled
/// (the caller ENABLEs it first), CONDSTORE only if the server offers it.
#[derive(Debug)]
pub struct Select {
    options: SelectOptions,
    selected: SelectedMailbox,
}

impl Select {
    /// SELECT (or EXAMINE, with `options.read_only`) `mailbox`.
    pub fn new(mailbox: &str, options: SelectOptions) -> Self {
        let selected = SelectedMailbox {
            name: mailbox.to_owned(),
            read_only: options.read_only,
            ..SelectedMailbox::default()
        };
        Self { options, selected }
    }

    fn verb(&self) -> &'static str {
        if self.options.read_only {
            "EXAMINE"
        } else {
            "SELECT"
        }
    }

    fn read_only(&self, done: &Completion) -> bool {
        self.selected.read_only || matches!(done.code, Some(ResponseCode::ReadOnly))
    }
}

impl Command for Select {
    type Output = SelectedMailbox;

    fn what(&self) -> String {
        format!("{} {:?}", self.verb(), self.selected.name)
    }

    fn needs(&self) -> Needs {
        Needs::Authenticated
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        let cmd = CommandText::new(self.verb()).mailbox(&self.selected.name, session.utf8());
        let qresync = self
            .options
            .qresync
            .as_ref()
            .filter(|_| session.has("QRESYNC") && session.is_enabled("QRESYNC"));
        Ok(if let Some(q) = qresync {
            let mut params = format!("(QRESYNC ({} {}", q.uid_validity, q.modseq.max(1));
            if let Some(known) = q.known_uids.as_ref().filter(|k| !k.is_empty()) {
                params.push_str(&format!(" {known}"));
            }
            params.push_str("))");
            self.selected.qresync_used = true;
            cmd.atom(params)
        } else if self.options.condstore && session.has("CONDSTORE") {
            cmd.atom("(CONDSTORE)")
        } else {
            cmd
        })
    }

    fn collect(&mut self, untagged: Untagged, spooled: &mut [Option<File>]) -> Result<(), Error> {
        let selected = &mut self.selected;
        match untagged {
            Untagged::Exists(n) => selected.exists = n,
            Untagged::Status {
                code: Some(code), ..
            } => match code {
                ResponseCode::UidValidity(v) => selected.uid_validity = Some(v),
                ResponseCode::UidNext(v) => selected.uid_next = Some(v),
                ResponseCode::HighestModSeq(v) => selected.highest_modseq = Some(v),
                ResponseCode::NoModSeq => selected.highest_modseq = None,
                ResponseCode::PermanentFlags(f) => selected.permanent_flags = f,
                ResponseCode::MailboxId(id) => selected.mailbox_id = Some(id),
                ResponseCode::Closed => {
                    // Everything before CLOSED belonged to the previous mailbox.
                    selected.vanished = UidRanges::default();
                    selected.changed.clear();
                    selected.mailbox_id = None;
                }
                _ => {}
            },
            Untagged::Vanished { uids, .. } => add_ranges(&mut selected.vanished, &uids),
            Untagged::Fetch(data) => {
                if let Some(message) = to_message(data, spooled)? {
                    selected.changed.push(message);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn leads_to(&self, done: &Completion) -> Option<Transition> {
        Some(if done.kind == StatusKindOf::Ok {
            Transition::Selected {
                mailbox: self.selected.name.clone(),
                read_only: self.read_only(done),
                exists: self.selected.exists,
            }
        } else {
            Transition::Deselected
        })
    }

    fn finish(mut self, done: Completion, session: &Session) -> Result<SelectedMailbox, Error> {
        let done = done.check(&self.what())?;
        if !session.has("CONDSTORE") {
            // Cyrus reports HIGHESTMODSEQ on every SELECT; with CONDSTORE disabled (because
            // it is broken on this server) the engine must not build on it.
            self.selected.highest_modseq = None;
        }
        self.selected.read_only = self.read_only(&done);
        Ok(self.selected)
    }
}
