//! Commands on messages of the selected mailbox: UID STORE, UID EXPUNGE, UID COPY, UID MOVE.

use std::fs::File;

use pimlink_core::{Error, ErrorKind, Flags};

use super::{Command, add_ranges, peer, require};
use crate::proto::completion::Completion;
use crate::proto::encode::{CommandText, flag_list};
use crate::proto::response::{FetchData, ResponseCode, Untagged};
use crate::proto::session::{Needs, Session};
use crate::uidset::UidRanges;

/// How UID STORE changes flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
}

/// The result of UID STORE.
#[derive(Debug, Default)]
pub struct StoreOutcome {
    /// UIDs that failed the UNCHANGEDSINCE test (not changed).
    pub modified: UidRanges,
    /// The flags (and modseq) the server reported afterwards, per UID.
    pub updated: Vec<(u32, Flags, Option<u64>)>,
}

/// UID STORE: changes the flags of a UID set, optionally only where the modseq is not newer
/// (`UNCHANGEDSINCE`, CONDSTORE).
#[derive(Debug)]
pub struct StoreFlags {
    uids: UidRanges,
    mode: StoreMode,
    flags: Flags,
    unchanged_since: Option<u64>,
    outcome: StoreOutcome,
}

impl StoreFlags {
    /// UID STORE `uids` `mode` `flags`.
    pub fn new(
        uids: &UidRanges,
        mode: StoreMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Self {
        Self {
            uids: uids.clone(),
            mode,
            flags: flags.clone(),
            unchanged_since,
            outcome: StoreOutcome::default(),
        }
    }
}

impl Command for StoreFlags {
    type Output = StoreOutcome;

    fn what(&self) -> String {
        "UID STORE".into()
    }

    fn needs(&self) -> Needs {
        Needs::Selected
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        let mut cmd = CommandText::new("UID STORE").atom(self.uids.to_string());
        if let Some(modseq) = self.unchanged_since {
            require(
                session,
                "CONDSTORE",
                "UNCHANGEDSINCE needs CONDSTORE, which the server does not offer (or it is disabled)",
            )?;
            cmd = cmd.atom(format!("(UNCHANGEDSINCE {modseq})"));
        }
        let item = match self.mode {
            StoreMode::Add => "+FLAGS",
            StoreMode::Remove => "-FLAGS",
            StoreMode::Replace => "FLAGS",
        };
        Ok(cmd.atom(item).atom(flag_list(&self.flags)))
    }

    fn collect(&mut self, untagged: Untagged, _: &mut [Option<File>]) -> Result<(), Error> {
        if let Untagged::Fetch(FetchData {
            uid: Some(uid),
            flags: Some(flags),
            modseq,
            ..
        }) = untagged
        {
            self.outcome.updated.push((uid, flags, modseq));
        }
        Ok(())
    }

    fn finish(mut self, done: Completion, _: &Session) -> Result<StoreOutcome, Error> {
        let done = done.check("UID STORE")?;
        if let Some(ResponseCode::Modified(set)) = done.code {
            self.outcome.modified = set;
        }
        Ok(self.outcome)
    }
}

/// UID EXPUNGE (UIDPLUS): removes only these messages, if marked `\Deleted`; the result is
/// what the server reported VANISHED.
#[derive(Debug)]
pub struct Expunge {
    uids: UidRanges,
    vanished: UidRanges,
}

impl Expunge {
    /// UID EXPUNGE `uids`.
    pub fn new(uids: &UidRanges) -> Self {
        Self {
            uids: uids.clone(),
            vanished: UidRanges::default(),
        }
    }
}

impl Command for Expunge {
    type Output = UidRanges;

    fn what(&self) -> String {
        "UID EXPUNGE".into()
    }

    fn needs(&self) -> Needs {
        Needs::Selected
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        require(
            session,
            "UIDPLUS",
            "UID EXPUNGE needs UIDPLUS, which the server does not offer",
        )?;
        Ok(CommandText::new("UID EXPUNGE").atom(self.uids.to_string()))
    }

    fn collect(&mut self, untagged: Untagged, _: &mut [Option<File>]) -> Result<(), Error> {
        if let Untagged::Vanished { uids, .. } = untagged {
            add_ranges(&mut self.vanished, &uids);
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<UidRanges, Error> {
        done.check("UID EXPUNGE")?;
        Ok(self.vanished)
    }
}

/// The UIDs of copied or moved messages (COPYUID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyUids {
    /// UIDVALIDITY of the target mailbox.
    pub uid_validity: u32,
    /// (source UID, target UID) pairs.
    pub pairs: Vec<(u32, u32)>,
}

/// UID COPY or UID MOVE (RFC 6851) to another mailbox; the result is COPYUID when the server
/// has UIDPLUS.
#[derive(Debug)]
pub struct CopyMove {
    verb: &'static str,
    uids: UidRanges,
    target: String,
    copy_uid: Option<ResponseCode>,
}

impl CopyMove {
    /// UID COPY `uids` `target`.
    pub fn copy(uids: &UidRanges, target: &str) -> Self {
        Self::new("UID COPY", uids, target)
    }

    /// UID MOVE `uids` `target`.
    pub fn moving(uids: &UidRanges, target: &str) -> Self {
        Self::new("UID MOVE", uids, target)
    }

    fn new(verb: &'static str, uids: &UidRanges, target: &str) -> Self {
        Self {
            verb,
            uids: uids.clone(),
            target: target.to_owned(),
            copy_uid: None,
        }
    }
}

impl Command for CopyMove {
    type Output = Option<CopyUids>;

    fn what(&self) -> String {
        format!("{} to {:?}", self.verb, self.target)
    }

    fn needs(&self) -> Needs {
        Needs::Selected
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        if self.verb == "UID MOVE" && !session.has("MOVE") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "server does not offer MOVE",
            ));
        }
        Ok(CommandText::new(self.verb)
            .atom(self.uids.to_string())
            .mailbox(&self.target, session.utf8()))
    }

    fn collect(&mut self, untagged: Untagged, _: &mut [Option<File>]) -> Result<(), Error> {
        // MOVE reports COPYUID in an untagged OK before the expunges.
        if let Untagged::Status {
            code: Some(code @ ResponseCode::CopyUid { .. }),
            ..
        } = untagged
        {
            self.copy_uid = Some(code);
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<Option<CopyUids>, Error> {
        let done = done.check(&self.what())?;
        let code = match done.code {
            Some(code @ ResponseCode::CopyUid { .. }) => Some(code),
            _ => self.copy_uid,
        };
        let Some(ResponseCode::CopyUid {
            uid_validity,
            source,
            destination,
        }) = code
        else {
            return Ok(None);
        };
        if source.len() != destination.len() {
            return Err(peer(format!(
                "server sent COPYUID with {} source and {} target UIDs",
                source.len(),
                destination.len()
            )));
        }
        Ok(Some(CopyUids {
            uid_validity,
            pairs: source.iter().zip(destination.iter()).collect(),
        }))
    }
}
