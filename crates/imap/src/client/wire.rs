//! Moving bytes: performing an exchange's actions on the transport, and turning what the
//! server sends into framed, parsed responses (large literals spooled to unlinked files).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use pimlink_core::{Error, ErrorKind};
use tracing::{trace, warn};

use super::Client;
use crate::proto::commands::Command;
use crate::proto::encode::LiteralData;
use crate::proto::escape::escape_text;
use crate::proto::exchange::{Action, Exchange, Incoming};
use crate::proto::frame::{Frame, FrameEvent};
use crate::proto::response::{BodyRef, Response, Untagged, parse_response_names};

/// A MULTIAPPEND carries many literals: the write buffer is sent whenever it holds more than
/// this, instead of growing to hold all of them.
const FLUSH_AT: usize = 1 << 20;

impl Client {
    /// Performs `exchange`'s actions until it is done. `idle` is how long IDLE may wait for a
    /// change. An error here leaves the stream out of step: it is fatal for the session.
    pub(super) async fn drive<C: Command>(
        &mut self,
        exchange: &mut Exchange<C>,
        idle: Option<Duration>,
    ) -> Result<(), Error> {
        let mut deadline = None;
        loop {
            let step = match exchange.next_action(&mut self.session) {
                Action::Done => return Ok(()),
                Action::Write(bytes) => {
                    self.transport.queue(&bytes);
                    Ok(())
                }
                Action::WriteLiteral(data) => self.write_literal(data).await,
                Action::Log(line) => {
                    trace!(target: "pimlink_imap::wire", "C: {line}");
                    Ok(())
                }
                Action::Read => match self.flush_and_read(None).await {
                    Ok(Some(incoming)) => exchange.feed(&mut self.session, incoming),
                    Ok(None) => Err(Error::new(
                        ErrorKind::Connection,
                        "read ended without a deadline",
                    )),
                    Err(error) => Err(error),
                },
                Action::Idle => {
                    let deadline =
                        *deadline.get_or_insert_with(|| Instant::now() + idle.unwrap_or_default());
                    if Instant::now() >= deadline {
                        exchange.timed_out();
                        Ok(())
                    } else {
                        match self.flush_and_read(Some(deadline)).await {
                            Ok(Some(incoming)) => exchange.feed(&mut self.session, incoming),
                            Ok(None) => {
                                exchange.timed_out();
                                Ok(())
                            }
                            Err(error) => Err(error),
                        }
                    }
                }
            };
            step.map_err(|error| self.session.fail(error))?;
        }
    }

    async fn flush_and_read(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Incoming>, Error> {
        self.transport.flush().await?;
        match self.backlog.pop_front() {
            Some(incoming) => Ok(Some(incoming)),
            None => self.read_wire_until(deadline).await,
        }
    }

    async fn write_literal(&mut self, data: LiteralData) -> Result<(), Error> {
        match data {
            LiteralData::Bytes(bytes) => {
                self.transport.queue(&bytes);
                if self.transport.queued() > FLUSH_AT {
                    self.transport.flush().await?;
                }
            }
            LiteralData::File(mut file, len) => {
                let mut remaining = len;
                let mut chunk = vec![0u8; 256 << 10];
                while remaining > 0 {
                    let want = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(chunk.len());
                    let n = file
                        .read(&mut chunk[..want])
                        .map_err(|e| Error::io("reading a message to upload", e))?;
                    if n == 0 {
                        // The file shrank after its length was announced: the command cannot be
                        // completed, and the stream is out of step.
                        return Err(Error::new(
                            ErrorKind::Io,
                            "a message file shrank while it was being uploaded",
                        ));
                    }
                    self.transport.queue(&chunk[..n]);
                    remaining -= n as u64;
                    if self.transport.queued() > FLUSH_AT {
                        self.transport.flush().await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// True if the server has closed the connection (or said BYE) since the last command,
    /// found out without waiting: whatever already arrived is read (and kept for the next
    /// command). Worth asking before a command that must not be sent twice, because a
    /// connection that died while idle would otherwise swallow it with an unknown outcome.
    pub async fn poll_closed(&mut self) -> bool {
        if self.is_broken() {
            return true;
        }
        if !self.backlog.is_empty() {
            return false;
        }
        match self.read_wire_until(Some(Instant::now())).await {
            Ok(None) => false,
            Ok(Some(incoming)) => {
                let bye = if let Response::Untagged(untagged @ Untagged::Bye { .. }) =
                    &incoming.response
                {
                    self.session.observe(untagged);
                    true
                } else {
                    false
                };
                self.backlog.push_back(incoming);
                bye
            }
            Err(_) => true,
        }
    }

    /// Reads one response; `Ok(None)` if `deadline` passed first (the partial response, if
    /// any, stays in the framer).
    pub(super) async fn read_wire_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Incoming>, Error> {
        self.session.check()?;
        let Some((frame, files)) = self
            .next_frame_until(deadline)
            .await
            .map_err(|e| self.session.fail(e))?
        else {
            return Ok(None);
        };
        trace!(target: "pimlink_imap::wire", "S: {}", escape_for_log(&frame.bytes));
        let framer = &self.framer;
        let response = parse_response_names(
            &frame.bytes,
            &|b| framer.marker_index(b),
            self.session.utf8(),
        )
        .map_err(|e| {
            self.session
                .fail(Error::new(ErrorKind::Peer, e.to_string()))
        })?;
        let mut incoming = Incoming {
            response,
            spooled: files.into_iter().map(Some).collect(),
        };
        read_spooled_header(&mut incoming);
        Ok(Some(incoming))
    }

    /// The next complete frame, with the spool files of its large literals.
    pub(super) async fn next_frame_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<(Frame, Vec<File>)>, Error> {
        loop {
            let event = self
                .framer
                .next_event()
                .map_err(|e| Error::new(ErrorKind::Peer, e.to_string()))?;
            match event {
                Some(FrameEvent::Frame(frame)) => {
                    let files = std::mem::take(&mut self.spooled);
                    if files.len() != frame.spooled as usize {
                        return Err(Error::new(ErrorKind::Io, "spool bookkeeping went wrong"));
                    }
                    return Ok(Some((frame, files)));
                }
                Some(FrameEvent::LiteralStart { len, .. }) => {
                    trace!(target: "pimlink_imap::wire", "S: <literal of {len} bytes spooled to disk>");
                    let file = match &self.options.spool_dir {
                        Some(dir) => tempfile::tempfile_in(dir),
                        None => tempfile::tempfile(),
                    }
                    .map_err(|e| Error::io("creating a spool file for a large message", e))?;
                    self.current_spool = Some(file);
                }
                Some(FrameEvent::LiteralChunk(bytes)) => {
                    if let Some(file) = &mut self.current_spool {
                        file.write_all(&bytes)
                            .map_err(|e| Error::io("writing a spool file", e))?;
                    }
                }
                Some(FrameEvent::LiteralEnd) => {
                    if let Some(mut file) = self.current_spool.take() {
                        file.seek(SeekFrom::Start(0))
                            .map_err(|e| Error::io("rewinding a spool file", e))?;
                        self.spooled.push(file);
                    }
                }
                None => {
                    self.read_buf.clear();
                    let n = match deadline {
                        None => self.transport.read(&mut self.read_buf).await?,
                        Some(deadline) => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            match self
                                .transport
                                .read_with_limit(&mut self.read_buf, left)
                                .await?
                            {
                                Some(n) => n,
                                None => return Ok(None),
                            }
                        }
                    };
                    if n == 0 {
                        return Err(self.closed_error());
                    }
                    self.framer.feed(&self.read_buf);
                }
            }
        }
    }

    fn closed_error(&self) -> Error {
        let mut message = if self.framer.is_mid_response() {
            format!(
                "{} closed the connection in the middle of a response",
                self.transport.description()
            )
        } else {
            format!("{} closed the connection", self.transport.description())
        };
        if let Some(bye) = self.session.bye() {
            message.push_str(&format!(" (BYE {})", escape_text(bye)));
        }
        Error::new(ErrorKind::Connection, message)
    }
}

/// Reads a header section that was large enough to be spooled back into memory, where
/// [`FetchedMessage::header`](crate::FetchedMessage) keeps it. If that fails, the header stays
/// a spooled reference without its file, which the command reports as missing.
fn read_spooled_header(incoming: &mut Incoming) {
    let Response::Untagged(Untagged::Fetch(data)) = &mut incoming.response else {
        return;
    };
    let Some(BodyRef::Spooled(index)) = data.header else {
        return;
    };
    let Some(mut file) = incoming
        .spooled
        .get_mut(index as usize)
        .and_then(Option::take)
    else {
        return;
    };
    let mut bytes = Vec::new();
    match file.read_to_end(&mut bytes) {
        Ok(_) => data.header = Some(BodyRef::Inline(bytes)),
        Err(e) => warn!("reading a spooled header failed: {e}"),
    }
}

pub(super) fn escape_for_log(bytes: &[u8]) -> String {
    let cut = bytes.len().min(300);
    let mut text = String::from_utf8_lossy(&bytes[..cut])
        .replace('\r', "\\r")
        .replace('\n', "\\n");
    if bytes.len() > cut {
        text.push_str(&format!("...({} bytes)", bytes.len()));
    }
    text
}
