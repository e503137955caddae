//! Message commands of the selected mailbox, APPEND, IDLE and LOGOUT.

use std::time::{Duration, SystemTime};

use pimlink_core::{Content, Error, ErrorKind, Flags};

use super::{Client, CopyUids, FetchRequest, FetchSummary, FetchedMessage, IdleOutcome};
use super::{MultiAppend, StoreMode, StoreOutcome};
use crate::proto::commands::{
    Append, CopyMove, Expunge, Fetch, Idle, Logout, MultiAppendCommand, StoreFlags,
};
use crate::proto::encode::{AppendMessage, LiteralData};
use crate::proto::exchange::{Exchange, Outcome};
use crate::uidset::UidRanges;

/// A message to APPEND.
#[derive(Debug)]
pub struct AppendItem {
    /// The message (CRLF line ends, as IMAP requires).
    pub content: Content,
    /// Its flags.
    pub flags: Flags,
    /// Its internal date.
    pub internal_date: Option<SystemTime>,
}

impl Client {
    /// UID FETCH of `uids` (use [`UidRanges::all`] for every message). Each message is passed to
    /// `sink` as soon as it has arrived; large bodies arrive as spool files.
    pub async fn fetch(
        &mut self,
        uids: &UidRanges,
        request: &FetchRequest,
        sink: impl FnMut(FetchedMessage) -> Result<(), Error>,
    ) -> Result<FetchSummary, Error> {
        self.run(Fetch::new(uids, request, sink)).await
    }

    /// UID STORE: changes the flags of `uids`. With `unchanged_since`, messages whose modseq is
    /// newer are left alone and reported in [`StoreOutcome::modified`].
    pub async fn store(
        &mut self,
        uids: &UidRanges,
        mode: StoreMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<StoreOutcome, Error> {
        self.run(StoreFlags::new(uids, mode, flags, unchanged_since))
            .await
    }

    /// Several UID STOREs without UNCHANGEDSINCE, pipelined: all go out before the first answer
    /// is read, so they cost one round trip. The caller keeps their UID sets disjoint, so the
    /// order the server carries them out in cannot matter (RFC 9051 5.5). The error is the
    /// first store's that failed or got no answer.
    pub async fn store_many(
        &mut self,
        stores: &[(UidRanges, StoreMode, Flags)],
    ) -> Result<Vec<StoreOutcome>, Error> {
        let commands = stores
            .iter()
            .map(|(uids, mode, flags)| StoreFlags::new(uids, *mode, flags, None))
            .collect();
        self.run_all_answered(commands, "UID STORE")
            .await?
            .into_iter()
            .collect()
    }

    /// APPEND one message; returns (UIDVALIDITY, UID) when the server has UIDPLUS.
    pub async fn append(
        &mut self,
        mailbox: &str,
        item: AppendItem,
    ) -> Result<Option<(u32, u32)>, Error> {
        let mut results = self.append_many(mailbox, vec![item]).await?;
        results
            .pop()
            .unwrap_or_else(|| Err(Error::new(ErrorKind::Io, "APPEND produced no result")))
    }

    /// APPENDs several messages, pipelined: with LITERAL+ all of them go out before the first
    /// reply is read. Each message gets its own result (one APPEND per message rather than one
    /// MULTIAPPEND, so that a failure affects only that message and each UID is known). If the
    /// connection fails, the APPENDs answered before keep their results, and the others fail
    /// (their outcome is unknown).
    pub async fn append_many(
        &mut self,
        mailbox: &str,
        items: Vec<AppendItem>,
    ) -> Result<Vec<Result<Option<(u32, u32)>, Error>>, Error> {
        let commands = items
            .into_iter()
            .map(|item| Ok(Append::new(mailbox, append_message(item)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let (outcomes, failure) = self.run_all(commands).await;
        let mut results = Vec::with_capacity(outcomes.len());
        let mut lost: Option<Error> = None;
        let mut failure = failure;
        for outcome in outcomes {
            match (outcome, &lost) {
                (_, Some(error)) => results.push(Err(Error::new(error.kind(), error.to_string()))),
                (Outcome::Done(result), None) => results.push(result),
                (Outcome::Unknown, None) => {
                    let error = failure.take().unwrap_or_else(|| {
                        Error::new(ErrorKind::Connection, "APPEND got no answer")
                    });
                    if results.is_empty() {
                        return Err(error);
                    }
                    results.push(Err(Error::new(error.kind(), error.to_string())));
                    lost = Some(error);
                }
            }
        }
        Ok(results)
    }

    /// APPENDs several messages in one command (MULTIAPPEND, RFC 3502), which the server
    /// stores together in one transaction: all of them or, if it refuses any, none. With
    /// LITERAL+ the whole command goes out without waiting; otherwise each message waits for
    /// the server's `+`. `Err` means the outcome is unknown (the connection failed).
    pub async fn multiappend(
        &mut self,
        mailbox: &str,
        items: Vec<AppendItem>,
    ) -> Result<MultiAppend, Error> {
        if !self.has("MULTIAPPEND") {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "server does not offer MULTIAPPEND",
            ));
        }
        let messages = items
            .into_iter()
            .map(append_message)
            .collect::<Result<Vec<_>, Error>>()?;
        self.run(MultiAppendCommand::new(mailbox, messages)).await
    }

    /// UID EXPUNGE (UIDPLUS): removes only these messages, if marked `\Deleted`.
    pub async fn uid_expunge(&mut self, uids: &UidRanges) -> Result<UidRanges, Error> {
        self.run(Expunge::new(uids)).await
    }

    /// UID COPY to another mailbox; COPYUID when the server has UIDPLUS.
    pub async fn uid_copy(
        &mut self,
        uids: &UidRanges,
        target: &str,
    ) -> Result<Option<CopyUids>, Error> {
        self.run(CopyMove::copy(uids, target)).await
    }

    /// UID MOVE to another mailbox (RFC 6851); `Unsupported` without MOVE.
    pub async fn uid_move(
        &mut self,
        uids: &UidRanges,
        target: &str,
    ) -> Result<Option<CopyUids>, Error> {
        self.run(CopyMove::moving(uids, target)).await
    }

    /// IDLE until the server reports a change to the selected mailbox or `timeout` passes,
    /// then DONE.
    pub async fn idle(&mut self, timeout: Duration) -> Result<IdleOutcome, Error> {
        let mut exchange = Exchange::one(Idle::default());
        self.drive(&mut exchange, Some(timeout)).await?;
        exchange.into_result(&self.session)
    }

    /// LOGOUT and close.
    pub async fn logout(mut self) -> Result<(), Error> {
        match self.run(Logout).await {
            // Some servers close right after BYE without the tagged OK; that is a clean logout.
            Err(e) if e.kind() == ErrorKind::Connection && self.session.bye().is_some() => Ok(()),
            result => result,
        }
    }
}

/// A message to APPEND as the encoder takes it.
fn append_message(item: AppendItem) -> Result<AppendMessage, Error> {
    let data = match item.content {
        Content::Bytes(bytes) => LiteralData::Bytes(bytes),
        Content::File(file) => {
            let len = file
                .metadata()
                .map_err(|e| Error::io("reading a message's size", e))?
                .len();
            LiteralData::File(file, len)
        }
    };
    Ok(AppendMessage {
        flags: item.flags,
        internal_date: item.internal_date,
        data,
    })
}
