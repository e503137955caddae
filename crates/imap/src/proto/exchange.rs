//! The command runner: a sans-IO state machine that writes one or more commands (pipelined, in
//! order) and reads until each has completed.
//!
//! It decides everything the protocol decides: the tag, each literal's kind (`{N+}` with
//! LITERAL+ or, up to 4096 bytes, LITERAL-; otherwise a synchronising `{N}` and a wait for the
//! server's `+`), the answer to a `+` (a SASL response, IDLE's start), when IDLE ends with
//! DONE, which command each untagged response belongs to (the earliest not yet completed),
//! the state transitions, and what is a protocol violation (fatal for the session). The
//! caller only moves bytes: it performs the [`Action`]s from [`Exchange::next_action`] and
//! feeds each response it reads to [`Exchange::feed`].
//!
//! ```text
//!   Writing --literal without LITERAL+--> GoAhead --`+`--> Writing --all written--> Reading
//!                                          `--tagged NO/BAD: the command ends, nothing more of it
//!   Reading --`+` for IDLE--> Idling --a change, or timed_out()--> DONE --> Reading --> Done
//! ```

use std::collections::VecDeque;
use std::fs::File;

use pimlink_core::{Error, ErrorKind};

use super::commands::{Command, Reply, peer};
use super::completion::Completion;
use super::encode::{LiteralData, Part};
use super::response::{ContinueData, Response, StatusKindOf, Untagged};
use super::session::{Session, Transition};

/// One response as read, with the spool files of its large literals (by index; a command
/// takes those it hands on).
#[derive(Debug)]
pub struct Incoming {
    /// The parsed response.
    pub response: Response,
    /// Its spooled literals.
    pub spooled: Vec<Option<File>>,
}

impl From<Response> for Incoming {
    fn from(response: Response) -> Self {
        Self {
            response,
            spooled: Vec::new(),
        }
    }
}

/// What the caller must do next.
#[derive(Debug)]
pub enum Action {
    /// Queue these bytes for the server.
    Write(Vec<u8>),
    /// Queue a literal's bytes (a file is streamed from its current position).
    WriteLiteral(LiteralData),
    /// A line for the wire log (`C: ...`), credentials already masked.
    Log(String),
    /// Send what is queued, read one response and [`Exchange::feed`] it.
    Read,
    /// IDLE runs: send what is queued, then read one response and feed it, or call
    /// [`Exchange::timed_out`] once the caller's deadline has passed.
    Idle,
    /// Every command has completed (or was refused before it was sent).
    Done,
}

/// What became of one command.
#[derive(Debug)]
pub enum Outcome<T> {
    /// It completed (or was refused before it was sent): its result.
    Done(Result<T, Error>),
    /// No answer came before the exchange failed: the server may or may not have acted.
    Unknown,
}

enum Stage {
    /// Not written yet.
    Waiting,
    /// Refused before anything of it was sent.
    Refused(Error),
    /// Written (or being written), not completed.
    Sent,
    /// Its tagged response came.
    Completed(Completion),
}

struct Entry<C> {
    command: C,
    tag: Option<String>,
    stage: Stage,
    /// The first error collecting its responses gave.
    error: Option<Error>,
}

/// The command being written: the rest of its parts, its wire-log line so far, and the
/// literal held back until the server's `+`.
struct Writing {
    index: usize,
    parts: VecDeque<Part>,
    log: String,
    held: Option<(LiteralData, bool)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Writing,
    GoAhead,
    Reading,
    Idling,
}

/// Commands of one kind in flight together: one, or a pipelined batch (STATUS of many
/// mailboxes, APPENDs of many messages).
pub struct Exchange<C: Command> {
    entries: Vec<Entry<C>>,
    next: usize,
    writing: Option<Writing>,
    phase: Phase,
    actions: VecDeque<Action>,
}

impl<C: Command> Exchange<C> {
    /// An exchange of `commands`, written in this order.
    pub fn new(commands: Vec<C>) -> Self {
        Self {
            entries: commands
                .into_iter()
                .map(|command| Entry {
                    command,
                    tag: None,
                    stage: Stage::Waiting,
                    error: None,
                })
                .collect(),
            next: 0,
            writing: None,
            phase: Phase::Writing,
            actions: VecDeque::new(),
        }
    }

    /// An exchange of one command.
    pub fn one(command: C) -> Self {
        Self::new(vec![command])
    }

    /// The next thing to do.
    pub fn next_action(&mut self, session: &mut Session) -> Action {
        loop {
            if let Some(action) = self.actions.pop_front() {
                return action;
            }
            match self.phase {
                Phase::Writing => self.write_step(session),
                Phase::GoAhead => return Action::Read,
                Phase::Idling => return Action::Idle,
                Phase::Reading if self.entries.iter().all(Entry::is_final) => return Action::Done,
                Phase::Reading => return Action::Read,
            }
        }
    }

    /// Takes one response the caller read. An error is a protocol violation, recorded in the
    /// session as fatal: the connection can carry nothing more.
    pub fn feed(&mut self, session: &mut Session, incoming: Incoming) -> Result<(), Error> {
        let Incoming {
            response,
            mut spooled,
        } = incoming;
        match response {
            Response::Continue(data) => self.continued(session, &data),
            Response::Tagged {
                tag,
                kind,
                code,
                text,
            } => self.completed(session, &tag, Completion { kind, code, text }),
            Response::Untagged(untagged) => {
                self.untagged(session, untagged, &mut spooled);
                Ok(())
            }
        }
    }

    /// The caller's IDLE deadline passed: IDLE ends with DONE.
    pub fn timed_out(&mut self) {
        if self.phase != Phase::Idling {
            return;
        }
        if let Some(entry) = self.entries.iter_mut().find(|e| e.is_pending()) {
            entry.command.timed_out();
        }
        self.end_idle();
    }

    /// Each command's result, in the order given.
    pub fn into_results(self, session: &Session) -> Vec<Outcome<C::Output>> {
        self.entries
            .into_iter()
            .map(|entry| match entry.stage {
                Stage::Refused(error) => Outcome::Done(Err(error)),
                Stage::Completed(done) => Outcome::Done(match entry.error {
                    Some(error) => Err(error),
                    None => entry.command.finish(done, session),
                }),
                Stage::Waiting | Stage::Sent => Outcome::Unknown,
            })
            .collect()
    }

    /// The result of the first command, once the exchange is done.
    pub fn into_result(self, session: &Session) -> Result<C::Output, Error> {
        match self.into_results(session).into_iter().next() {
            Some(Outcome::Done(result)) => result,
            _ => Err(Error::new(
                ErrorKind::Connection,
                "the connection ended before the command completed",
            )),
        }
    }

    fn write_step(&mut self, session: &mut Session) {
        if let Some(writing) = &mut self.writing {
            match writing.parts.pop_front() {
                Some(Part::Text(text)) => {
                    writing.log.push_str(&String::from_utf8_lossy(&text));
                    self.actions.push_back(Action::Write(text));
                }
                Some(Part::SecretText(text)) => {
                    writing.log.push_str("<redacted>");
                    self.actions.push_back(Action::Write(text));
                }
                Some(Part::Literal { data, secret }) => {
                    let len = data.len();
                    let non_sync = session.non_synchronizing(len);
                    let plus = if non_sync { "+" } else { "" };
                    let announce = format!("{{{len}{plus}}}\r\n").into_bytes();
                    self.actions.push_back(Action::Write(announce));
                    if non_sync {
                        log_literal(&mut writing.log, len, secret);
                        self.actions.push_back(Action::WriteLiteral(data));
                    } else {
                        let line = std::mem::take(&mut writing.log);
                        self.actions.push_back(Action::Log(line));
                        writing.held = Some((data, secret));
                        self.phase = Phase::GoAhead;
                    }
                }
                None => {
                    let line = std::mem::take(&mut writing.log);
                    self.actions.push_back(Action::Log(line));
                    self.actions.push_back(Action::Write(b"\r\n".to_vec()));
                    self.writing = None;
                }
            }
            return;
        }
        let Some(entry) = self.entries.get_mut(self.next) else {
            self.phase = Phase::Reading;
            return;
        };
        let index = self.next;
        self.next += 1;
        let what = entry.command.what();
        let text = session
            .allows(entry.command.needs(), &what)
            .and_then(|()| entry.command.encode(session));
        match text {
            Err(error) => entry.stage = Stage::Refused(error),
            Ok(text) => {
                // The tag is taken only now, so that a refused command uses none.
                let tag = session.next_tag();
                self.actions
                    .push_back(Action::Write(format!("{tag} ").into_bytes()));
                self.writing = Some(Writing {
                    index,
                    parts: text.into_parts().into(),
                    log: format!("{tag} "),
                    held: None,
                });
                entry.tag = Some(tag);
                entry.stage = Stage::Sent;
            }
        }
    }

    fn continued(&mut self, session: &mut Session, data: &ContinueData) -> Result<(), Error> {
        if self.phase == Phase::GoAhead
            && let Some(writing) = &mut self.writing
            && let Some((data, secret)) = writing.held.take()
        {
            log_literal(&mut writing.log, data.len(), secret);
            self.actions.push_back(Action::WriteLiteral(data));
            self.phase = Phase::Writing;
            return Ok(());
        }
        if self.phase == Phase::Idling {
            return Err(session.fail(peer("unexpected continuation during IDLE")));
        }
        // A `+` outside a literal is for the command written last (AUTHENTICATE, IDLE).
        let Some(entry) = self.entries[..self.next]
            .iter_mut()
            .rev()
            .find(|e| e.is_pending())
        else {
            return Err(session.fail(peer(
                "server sent a continuation request no command asked for",
            )));
        };
        match entry.command.continued(data) {
            Err(error) => Err(session.fail(error)),
            Ok(Reply::Line(mut line)) => {
                self.actions.push_back(Action::Log("<redacted>".into()));
                line.extend_from_slice(b"\r\n");
                self.actions.push_back(Action::Write(line));
                Ok(())
            }
            Ok(Reply::Idle) => {
                session.apply(Transition::IdleStarted);
                if entry.command.woken() {
                    self.end_idle();
                } else {
                    self.phase = Phase::Idling;
                }
                Ok(())
            }
        }
    }

    fn completed(
        &mut self,
        session: &mut Session,
        tag: &str,
        done: Completion,
    ) -> Result<(), Error> {
        let Some(index) = self.entries[..self.next]
            .iter()
            .position(|e| e.is_pending() && e.tag.as_deref() == Some(tag))
        else {
            return Err(session.fail(peer(format!(
                "server completed command {tag:?}, which was never sent"
            ))));
        };
        let entry = &mut self.entries[index];
        if self.writing.as_ref().is_some_and(|w| w.index == index) {
            // The server answered instead of asking for the rest (a synchronising literal).
            if done.kind == StatusKindOf::Ok {
                let message = format!(
                    "server completed {} before it was sent: {}",
                    entry.command.what(),
                    done.describe()
                );
                return Err(session.fail(peer(message)));
            }
            // A refusal: the server is done with the command and nothing more of it goes
            // out, so the stream is still in step.
            self.writing = None;
            self.phase = Phase::Writing;
        }
        session.observe_completion(&done);
        if let Some(transition) = entry.command.leads_to(&done) {
            session.apply(transition);
        }
        entry.stage = Stage::Completed(done);
        if self.phase == Phase::Idling {
            // The server ended IDLE itself: no DONE.
            self.phase = Phase::Reading;
        }
        Ok(())
    }

    fn untagged(
        &mut self,
        session: &mut Session,
        untagged: Untagged,
        spooled: &mut [Option<File>],
    ) {
        session.observe(&untagged);
        let Some(entry) = self.entries[..self.next]
            .iter_mut()
            .find(|e| e.is_pending())
        else {
            return;
        };
        if let Err(error) = entry.command.collect(untagged, spooled) {
            entry.error.get_or_insert(error);
        }
        if self.phase == Phase::Idling && entry.command.woken() {
            self.end_idle();
        }
    }

    fn end_idle(&mut self) {
        self.actions.push_back(Action::Log("DONE".into()));
        self.actions.push_back(Action::Write(b"DONE\r\n".to_vec()));
        self.phase = Phase::Reading;
    }
}

impl<C> Entry<C> {
    fn is_pending(&self) -> bool {
        matches!(self.stage, Stage::Sent)
    }

    fn is_final(&self) -> bool {
        matches!(self.stage, Stage::Refused(_) | Stage::Completed(_))
    }
}

fn log_literal(log: &mut String, len: u64, secret: bool) {
    if secret {
        log.push_str(&format!("{{{len}}}<redacted>"));
    } else {
        log.push_str(&format!("{{{len}}}<{len} bytes>"));
    }
}
