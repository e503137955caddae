//! UID FETCH: flags, dates, sizes, headers and bodies of messages, each handed on as soon as it
//! has arrived.

use std::collections::BTreeSet;
use std::fs::File;
use std::time::SystemTime;

use pimlink_core::{Content, Error, ErrorKind, Flags};
use tracing::warn;

use super::{Command, add_ranges, peer};
use crate::proto::completion::Completion;
use crate::proto::encode::CommandText;
use crate::proto::response::{BodyRef, FetchData, Untagged};
use crate::proto::session::{Needs, Session};
use crate::uidset::UidRanges;

/// What to fetch per message.
#[derive(Clone, Debug, Default)]
pub struct FetchRequest {
    /// `FLAGS`
    pub flags: bool,
    /// `INTERNALDATE`
    pub internal_date: bool,
    /// `RFC822.SIZE`
    pub size: bool,
    /// `BODY.PEEK[]`
    pub body: bool,
    /// `BODY.PEEK[HEADER.FIELDS (...)]` with these field names.
    pub header_fields: Vec<String>,
    /// `(CHANGEDSINCE n)`: only messages whose modseq is greater (CONDSTORE).
    pub changed_since: Option<u64>,
    /// With `changed_since`: also report expunged UIDs as VANISHED (QRESYNC).
    pub vanished: bool,
}

/// One message from a FETCH.
#[derive(Debug)]
pub struct FetchedMessage {
    /// Sequence number at the time of the response.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// Flags, if asked for.
    pub flags: Option<Flags>,
    /// INTERNALDATE, if asked for.
    pub internal_date: Option<SystemTime>,
    /// RFC822.SIZE, if asked for.
    pub size: Option<u32>,
    /// MODSEQ, if CONDSTORE is in use.
    pub modseq: Option<u64>,
    /// The whole message, if asked for: bytes or an unlinked spool file positioned at 0.
    pub body: Option<Content>,
    /// The requested header fields.
    pub header: Option<Vec<u8>>,
}

/// The result of a FETCH besides the messages themselves.
#[derive(Debug, Default)]
pub struct FetchSummary {
    /// How many messages were handed to the sink.
    pub fetched: u64,
    /// UIDs the server reported as VANISHED.
    pub vanished: UidRanges,
    /// UIDs that were asked for explicitly but neither came back nor were reported VANISHED.
    /// They may have been expunged meanwhile, or the server lost them: the caller must not
    /// treat them as deleted without checking (e.g. with a full UID scan).
    pub missing: UidRanges,
}

/// UID FETCH of a UID set; each message goes to `sink` as soon as it has arrived.
pub struct Fetch<S> {
    uids: UidRanges,
    request: FetchRequest,
    sink: S,
    summary: FetchSummary,
    seen: BTreeSet<u32>,
}

impl<S: FnMut(FetchedMessage) -> Result<(), Error>> Fetch<S> {
    /// UID FETCH of `uids` ([`UidRanges::all`] for every message).
    pub fn new(uids: &UidRanges, request: &FetchRequest, sink: S) -> Self {
        Self {
            uids: uids.clone(),
            request: request.clone(),
            sink,
            summary: FetchSummary::default(),
            seen: BTreeSet::new(),
        }
    }
}

impl<S: FnMut(FetchedMessage) -> Result<(), Error>> Command for Fetch<S> {
    type Output = FetchSummary;

    fn what(&self) -> String {
        "UID FETCH".into()
    }

    fn needs(&self) -> Needs {
        Needs::Selected
    }

    fn encode(&mut self, session: &Session) -> Result<CommandText, Error> {
        let request = &self.request;
        let condstore = session.has("CONDSTORE");
        let mut items = vec!["UID".to_owned()];
        for (wanted, item) in [
            (request.flags, "FLAGS"),
            (request.internal_date, "INTERNALDATE"),
            (request.size, "RFC822.SIZE"),
            (condstore, "MODSEQ"),
            (request.body, "BODY.PEEK[]"),
        ] {
            if wanted {
                items.push(item.to_owned());
            }
        }
        if !request.header_fields.is_empty() {
            items.push(format!(
                "BODY.PEEK[HEADER.FIELDS ({})]",
                request.header_fields.join(" ")
            ));
        }
        let cmd = CommandText::new("UID FETCH")
            .atom(self.uids.to_string())
            .atom(format!("({})", items.join(" ")));
        let Some(since) = request.changed_since else {
            return Ok(cmd);
        };
        if !condstore {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "CHANGEDSINCE needs CONDSTORE, which the server does not offer (or it is disabled)",
            ));
        }
        Ok(if request.vanished && session.is_enabled("QRESYNC") {
            cmd.atom(format!("(CHANGEDSINCE {since} VANISHED)"))
        } else {
            cmd.atom(format!("(CHANGEDSINCE {since})"))
        })
    }

    fn collect(&mut self, untagged: Untagged, spooled: &mut [Option<File>]) -> Result<(), Error> {
        match untagged {
            Untagged::Fetch(data) => {
                if let Some(message) = to_message(data, spooled)? {
                    self.seen.insert(message.uid);
                    self.summary.fetched += 1;
                    (self.sink)(message)?;
                }
            }
            Untagged::Vanished { uids, .. } => add_ranges(&mut self.summary.vanished, &uids),
            _ => {}
        }
        Ok(())
    }

    fn finish(self, done: Completion, _: &Session) -> Result<FetchSummary, Error> {
        done.check("UID FETCH")?;
        let mut summary = self.summary;
        // Only an explicit set without "*" and without CHANGEDSINCE promises every UID back.
        let explicit = self.request.changed_since.is_none()
            && !self
                .uids
                .ranges()
                .iter()
                .any(|&(a, b)| a == u32::MAX || b == u32::MAX);
        if explicit {
            summary.missing = UidRanges::from_uids(
                self.uids
                    .iter()
                    .filter(|u| !self.seen.contains(u) && !summary.vanished.contains(*u)),
            );
            if !summary.missing.is_empty() {
                warn!("UID FETCH returned no data for UIDs {}", summary.missing);
            }
        }
        Ok(summary)
    }
}

/// Turns a FETCH response into a message; `None` for unsolicited flag updates without a UID.
/// Bodies spooled to files are taken out of `spooled`; a header arrives in memory (the client
/// reads a spooled one back before it hands the response on).
pub(crate) fn to_message(
    data: FetchData,
    spooled: &mut [Option<File>],
) -> Result<Option<FetchedMessage>, Error> {
    let Some(uid) = data.uid else {
        if data.body.is_some() || data.header.is_some() {
            return Err(peer(format!(
                "server sent message data for sequence number {} without its UID",
                data.seq
            )));
        }
        return Ok(None);
    };
    let missing = |i: u32| peer(format!("spooled body {i} of UID {uid} is missing"));
    let body = match data.body {
        None | Some(BodyRef::Nil) => None,
        Some(BodyRef::Inline(bytes)) => Some(Content::Bytes(bytes)),
        Some(BodyRef::Spooled(i)) => Some(Content::File(
            spooled
                .get_mut(i as usize)
                .and_then(Option::take)
                .ok_or_else(|| missing(i))?,
        )),
    };
    let header = match data.header {
        None | Some(BodyRef::Nil) => None,
        Some(BodyRef::Inline(bytes)) => Some(bytes),
        Some(BodyRef::Spooled(i)) => return Err(missing(i)),
    };
    Ok(Some(FetchedMessage {
        seq: data.seq,
        uid,
        flags: data.flags,
        internal_date: data.internal_date,
        size: data.size,
        modseq: data.modseq,
        body,
        header,
    }))
}
