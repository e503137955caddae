//! Transcripts through the command runner: what the client writes (`C:`) at each point where
//! it waits for the server (`S:`), with no socket. They pin the wire bytes of each command and
//! the protocol decisions of [`Exchange`]: literal kinds, continuations, pipelining, routing of
//! untagged responses, completions and state checks.

mod continuations;
mod literals;
mod notify;
mod responses;
mod wire_text;

use std::collections::VecDeque;
use std::io::Read;

use pimlink_core::{ErrorKind, Flag, Flags};

use super::commands::*;
use super::encode::{AppendMessage, LiteralData};
use super::exchange::{Action, Exchange, Outcome};
use super::response::{Greeting, ResponseCode, Untagged, parse_response};
use super::session::{Session, State, Transition};
use crate::options::{AuthMechanism, ClientOptions};
use crate::secret::Secret;
use crate::uidset::UidRanges;

/// What a conversation showed: the transcript and the wire log.
struct Conversation {
    lines: Vec<String>,
    log: Vec<String>,
}

/// Runs `exchange` against a server that answers each read with the next of `server` (one
/// response each; `<timeout>` lets the IDLE deadline pass). When the script runs out, the
/// connection is lost (or, during IDLE, the deadline passes).
fn converse<C: Command>(
    session: &mut Session,
    exchange: &mut Exchange<C>,
    server: &[&str],
) -> Conversation {
    let mut script: VecDeque<&str> = server.iter().copied().collect();
    let mut lines = Vec::new();
    let mut log = Vec::new();
    let mut written = Vec::new();
    loop {
        let action = exchange.next_action(session);
        if matches!(action, Action::Read | Action::Idle | Action::Done) {
            client_lines(&mut written, &mut lines);
        }
        match action {
            Action::Write(bytes) => written.extend(bytes),
            Action::WriteLiteral(LiteralData::Bytes(bytes)) => written.extend(bytes),
            Action::WriteLiteral(LiteralData::File(mut file, _)) => {
                file.read_to_end(&mut written).unwrap();
            }
            Action::Log(line) => log.push(line),
            Action::Done => break,
            Action::Read | Action::Idle => {
                let idle = matches!(action, Action::Idle);
                match script.pop_front() {
                    Some("<timeout>") if idle => {
                        lines.push("-- deadline".into());
                        exchange.timed_out();
                    }
                    None if idle => {
                        lines.push("-- deadline".into());
                        exchange.timed_out();
                    }
                    None => {
                        lines.push("-- connection lost".into());
                        break;
                    }
                    Some(line) => {
                        lines.push(format!("S: {line}"));
                        let response =
                            parse_response(format!("{line}\r\n").as_bytes(), &|_| None).unwrap();
                        if let Err(err) = exchange.feed(session, response.into()) {
                            lines.push(format!("-- fatal: {err}"));
                            break;
                        }
                    }
                }
            }
        }
    }
    Conversation { lines, log }
}

/// The client's bytes since the last read, one `C:` line per CRLF-terminated line (long ones
/// shortened to their length).
fn client_lines(written: &mut Vec<u8>, lines: &mut Vec<String>) {
    let text = String::from_utf8_lossy(written).into_owned();
    written.clear();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let (line, after) = rest.split_once("\r\n").unwrap_or((rest, ""));
        lines.push(if line.len() > 200 {
            format!("C: <{} bytes>", line.len())
        } else {
            format!("C: {line}")
        });
        if !rest.contains("\r\n") {
            lines.push("-- (no CRLF yet)".into());
        }
        rest = after;
    }
}

/// A session greeted with these capabilities (space-separated): logged in by PREAUTH, or
/// expecting a login.
fn greeted(caps: &str, preauth: bool) -> Session {
    let mut session = Session::default();
    let code = Some(ResponseCode::Capability(
        caps.split(' ').map(str::to_owned).collect(),
    ));
    let greeting = if preauth {
        Greeting::PreAuth(code)
    } else {
        Greeting::Ok(code)
    };
    session.greeted(greeting).unwrap();
    session
}

/// A logged-in session with these capabilities.
fn session(caps: &str) -> Session {
    greeted(caps, true)
}

/// [`session`] with `INBOX` selected.
fn selected(caps: &str) -> Session {
    let mut session = session(caps);
    session.apply(Transition::Selected {
        mailbox: "INBOX".into(),
        read_only: false,
        exists: 3,
    });
    session
}

fn message(text: &str) -> AppendMessage {
    AppendMessage {
        flags: Flags::new(),
        internal_date: None,
        data: LiteralData::Bytes(text.as_bytes().to_vec()),
    }
}

fn one<C: Command>(
    session: &mut Session,
    command: C,
    server: &[&str],
) -> (Conversation, Result<C::Output, pimlink_core::Error>) {
    let mut exchange = Exchange::one(command);
    let conversation = converse(session, &mut exchange, server);
    (conversation, exchange.into_result(session))
}

fn all<C: Command>(
    session: &mut Session,
    commands: Vec<C>,
    server: &[&str],
) -> (Conversation, Vec<Outcome<C::Output>>) {
    let mut exchange = Exchange::new(commands);
    let conversation = converse(session, &mut exchange, server);
    (conversation, exchange.into_results(session))
}
