//! Transcripts through the command runner: what the client writes (`C:`) at each point where
//! it waits for the server (`S:`), with no socket. They pin the wire bytes of each command and
//! the protocol decisions of [`Exchange`]: literal kinds, continuations, pipelining, routing of
//! untagged responses, completions and state checks.

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

/// A logged-in session with these capabilities (space-separated).
fn session(caps: &str) -> Session {
    let mut session = Session::default();
    let caps = caps.split(' ').map(str::to_owned).collect();
    session
        .greeted(Greeting::PreAuth(Some(ResponseCode::Capability(caps))))
        .unwrap();
    session
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

#[test]
fn with_literal_plus_a_literal_goes_out_at_once() {
    let mut s = session("IMAP4rev1 LITERAL+");
    let (c, uid) = one(
        &mut s,
        Append::new("INBOX", message("hello")),
        &["p1 OK [APPENDUID 7 42] done"],
    );
    assert_eq!(
        c.lines,
        [
            "C: p1 APPEND \"INBOX\" () {5+}",
            "C: hello",
            "S: p1 OK [APPENDUID 7 42] done"
        ]
    );
    assert_eq!(uid.unwrap(), Some((7, 42)));
    assert_eq!(c.log, ["p1 APPEND \"INBOX\" () {5}<5 bytes>"]);
}

#[test]
fn literal_minus_covers_4096_bytes_and_larger_literals_wait_for_the_go_ahead() {
    let mut s = session("IMAP4rev1 LITERAL-");
    let small = "x".repeat(4096);
    let (c, _) = one(
        &mut s,
        Append::new("INBOX", message(&small)),
        &["p1 OK done"],
    );
    assert_eq!(
        c.lines,
        [
            "C: p1 APPEND \"INBOX\" () {4096+}",
            "C: <4096 bytes>",
            "S: p1 OK done"
        ]
    );
    let large = "x".repeat(4097);
    let (c, _) = one(
        &mut s,
        Append::new("INBOX", message(&large)),
        &["+ go ahead", "p2 OK done"],
    );
    assert_eq!(
        c.lines,
        [
            "C: p2 APPEND \"INBOX\" () {4097}",
            "S: + go ahead",
            "C: <4097 bytes>",
            "S: p2 OK done"
        ]
    );
    // The log line is split where the client waited.
    assert_eq!(c.log, ["p2 APPEND \"INBOX\" () ", "{4097}<4097 bytes>"]);
}

#[test]
fn without_literal_plus_each_literal_waits_for_the_servers_go_ahead() {
    // Also: a disabled LITERAL+ is not used, and a response before the "+" is kept.
    let mut s = Session::new("the server", vec!["LITERAL+".into()]);
    s.greeted(Greeting::PreAuth(Some(ResponseCode::Capability(vec![
        "IMAP4rev1".into(),
        "LITERAL+".into(),
        "MULTIAPPEND".into(),
    ]))))
    .unwrap();
    let (c, result) = one(
        &mut s,
        MultiAppendCommand::new("INBOX", vec![message("one"), message("two")]),
        &[
            "* 4 EXISTS",
            "+ go ahead",
            "+ go ahead",
            "p1 OK [APPENDUID 7 10:11] done",
        ],
    );
    assert_eq!(
        c.lines,
        [
            "C: p1 APPEND \"INBOX\" () {3}",
            "S: * 4 EXISTS",
            "S: + go ahead",
            "C: one () {3}",
            "S: + go ahead",
            "C: two",
            "S: p1 OK [APPENDUID 7 10:11] done"
        ]
    );
    assert_eq!(s.exists(), 4);
    match result.unwrap() {
        MultiAppend::Stored(Some((7, uids))) => {
            assert_eq!(uids.iter().collect::<Vec<_>>(), [10, 11]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_go_ahead_refused_ends_that_command_only_and_the_stream_stays_in_step() {
    let mut s = session("IMAP4rev1");
    let (c, results) = all(
        &mut s,
        vec![
            Append::new("INBOX", message("first")),
            Append::new("INBOX", message("second")),
        ],
        &[
            "p1 NO [TOOBIG] Message too large",
            "+ go ahead",
            "p2 OK [APPENDUID 7 5] done",
        ],
    );
    assert_eq!(
        c.lines,
        [
            "C: p1 APPEND \"INBOX\" () {5}",
            "S: p1 NO [TOOBIG] Message too large",
            "C: p2 APPEND \"INBOX\" () {6}",
            "S: + go ahead",
            "C: second",
            "S: p2 OK [APPENDUID 7 5] done"
        ]
    );
    let mut results = results.into_iter();
    match results.next() {
        Some(Outcome::Done(Err(err))) => {
            assert_eq!(err.kind(), ErrorKind::Peer);
            assert!(err.to_string().contains("Message too large"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        results.next(),
        Some(Outcome::Done(Ok(Some((7, 5)))))
    ));
    assert!(!s.is_broken());

    // An OK instead of the "+" cannot be: the server claims a command it has not seen.
    let (c, result) = one(
        &mut s,
        Append::new("INBOX", message("third")),
        &["p3 OK done"],
    );
    assert!(
        c.lines.last().unwrap().contains("before it was sent"),
        "{:?}",
        c.lines
    );
    assert!(result.is_err() && s.is_broken());
}

#[test]
fn a_refused_multiappend_stores_nothing_and_says_why() {
    let mut s = session("IMAP4rev1 MULTIAPPEND");
    let (_, result) = one(
        &mut s,
        MultiAppendCommand::new("INBOX", vec![message("one"), message("two")]),
        &["+ go ahead", "p1 NO [OVERQUOTA] Quota exceeded"],
    );
    match result.unwrap() {
        MultiAppend::Refused(err) => {
            assert!(err.to_string().contains("APPEND of 2 messages"), "{err}");
            assert!(err.to_string().contains("Quota exceeded"), "{err}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn credentials_never_reach_the_wire_log() {
    let mut s = Session::default();
    s.greeted(Greeting::Ok(None)).unwrap();
    let mut options = ClientOptions::new("h", "me", Secret::new("pa\"ss"));
    options.auth_mechanism = Some(AuthMechanism::Login);
    let login = LogIn::new(&s, &options).unwrap();
    let (c, listed) = one(
        &mut s,
        login,
        &["p1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in"],
    );
    assert_eq!(
        c.lines,
        [
            "C: p1 LOGIN \"me\" \"pa\\\"ss\"",
            "S: p1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in"
        ]
    );
    assert_eq!(c.log, ["p1 LOGIN \"me\" <redacted>"]);
    assert!(listed.unwrap());
    assert_eq!(s.state(), &State::Authenticated);
    assert!(s.has("IDLE"));

    // A password that needs a literal: masked as one.
    let mut s = Session::default();
    s.greeted(Greeting::Ok(None)).unwrap();
    let options = ClientOptions {
        password: Secret::new("line\r\nbreak"),
        ..options
    };
    let login = LogIn::new(&s, &options).unwrap();
    let (c, _) = one(
        &mut s,
        login,
        &["+ ready", "p1 NO [AUTHENTICATIONFAILED] wrong"],
    );
    assert_eq!(
        c.lines[..3],
        ["C: p1 LOGIN \"me\" {11}", "S: + ready", "C: line"]
    );
    assert_eq!(c.log, ["p1 LOGIN \"me\" ", "{11}<redacted>"]);
    assert_eq!(s.state(), &State::ExpectLogin);
}

#[test]
fn authenticate_answers_each_challenge() {
    // CRAM-MD5 (RFC 2195's example), no initial response.
    let mut s = Session::default();
    s.greeted(Greeting::Ok(Some(ResponseCode::Capability(vec![
        "IMAP4rev1".into(),
        "AUTH=CRAM-MD5".into(),
    ]))))
    .unwrap();
    let options = ClientOptions::new("h", "tim", Secret::new("tanstaaftanstaaf"));
    let login = LogIn::new(&s, &options).unwrap();
    let (c, listed) = one(
        &mut s,
        login,
        &[
            "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
            "p1 OK done",
        ],
    );
    assert_eq!(
        c.lines,
        [
            "C: p1 AUTHENTICATE CRAM-MD5",
            "S: + PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
            "C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
            "S: p1 OK done"
        ]
    );
    assert_eq!(c.log, ["p1 AUTHENTICATE CRAM-MD5", "<redacted>"]);
    assert!(!listed.unwrap(), "no capabilities came with the OK");
    assert_eq!(s.state(), &State::Authenticated);

    // PLAIN without SASL-IR: the initial response waits for the first "+".
    let mut s = Session::default();
    s.greeted(Greeting::Ok(None)).unwrap();
    let mut options = ClientOptions::new("h", "u", Secret::new("p"));
    options.auth_mechanism = Some(AuthMechanism::Plain);
    let login = LogIn::new(&s, &options).unwrap();
    let (c, _) = one(&mut s, login, &["+ ", "p1 OK done"]);
    assert_eq!(
        c.lines,
        [
            "C: p1 AUTHENTICATE PLAIN",
            "S: + ",
            "C: AHUAcA==",
            "S: p1 OK done"
        ]
    );

    // XOAUTH2 with SASL-IR: the token goes with the command; an error challenge gets the
    // empty reply that ends it, and the NO says why.
    let mut s2 = Session::default();
    s2.greeted(Greeting::Ok(Some(ResponseCode::Capability(vec![
        "IMAP4rev1".into(),
        "SASL-IR".into(),
    ]))))
    .unwrap();
    options.auth_mechanism = Some(AuthMechanism::XOAuth2);
    let login = LogIn::new(&s2, &options).unwrap();
    let (c, result) = one(
        &mut s2,
        login,
        &[
            "+ eyJzdGF0dXMiOiI0MDEifQ==",
            "p1 NO [AUTHENTICATIONFAILED] bad token",
        ],
    );
    assert!(c.lines[0].starts_with("C: p1 AUTHENTICATE XOAUTH2 "));
    assert_eq!(c.lines[2], "C: ");
    assert_eq!(c.log, ["p1 AUTHENTICATE XOAUTH2 <redacted>", "<redacted>"]);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("bad token"), "{err}");
    assert_eq!(s2.state(), &State::ExpectLogin);
}

#[test]
fn idle_ends_with_done_on_a_change_or_at_the_deadline() {
    let mut s = selected("IMAP4rev1 IDLE");
    let mut exchange = Exchange::one(Idle::default());
    // After the "+" the connection idles until the deadline; then DONE.
    let c = converse(&mut s, &mut exchange, &["+ idling"]);
    assert_eq!(
        c.lines,
        [
            "C: p1 IDLE",
            "S: + idling",
            "-- deadline",
            "C: DONE",
            "-- connection lost"
        ]
    );
    assert!(matches!(s.state(), State::Idling { .. }), "{:?}", s.state());

    let mut s = selected("IMAP4rev1 IDLE");
    let (c, outcome) = one(
        &mut s,
        Idle::default(),
        &[
            "+ idling",
            "* 4 EXISTS",
            "* 5 EXISTS",
            "p1 OK Idle completed",
        ],
    );
    assert_eq!(
        c.lines,
        [
            "C: p1 IDLE",
            "S: + idling",
            "S: * 4 EXISTS",
            "C: DONE",
            "S: * 5 EXISTS",
            "S: p1 OK Idle completed"
        ]
    );
    let outcome = outcome.unwrap();
    assert!(!outcome.timed_out);
    assert_eq!(outcome.exists, Some(5));
    // IDLE returns to the selected mailbox.
    assert!(matches!(s.state(), State::Selected { mailbox, .. } if mailbox == "INBOX"));

    let (c, outcome) = one(
        &mut s,
        Idle::default(),
        &[
            "+ idling",
            "* OK Still here",
            "<timeout>",
            "p2 OK Idle completed",
        ],
    );
    assert_eq!(
        c.lines,
        [
            "C: p2 IDLE",
            "S: + idling",
            "S: * OK Still here",
            "-- deadline",
            "C: DONE",
            "S: p2 OK Idle completed"
        ]
    );
    assert!(outcome.unwrap().timed_out);
}

#[test]
fn idle_counts_changes_before_its_go_ahead_and_sends_no_done_once_the_server_ended_it() {
    let mut s = selected("IMAP4rev1 IDLE");
    let (c, outcome) = one(
        &mut s,
        Idle::default(),
        &["* VANISHED 3", "+ idling", "p1 OK done"],
    );
    assert_eq!(
        c.lines,
        [
            "C: p1 IDLE",
            "S: * VANISHED 3",
            "S: + idling",
            "C: DONE",
            "S: p1 OK done"
        ]
    );
    assert_eq!(outcome.unwrap().vanished.iter().collect::<Vec<_>>(), [3]);

    let (c, outcome) = one(
        &mut s,
        Idle::default(),
        &["+ idling", "p2 BAD [CLIENTBUG] idle too long"],
    );
    assert_eq!(
        c.lines,
        [
            "C: p2 IDLE",
            "S: + idling",
            "S: p2 BAD [CLIENTBUG] idle too long"
        ]
    );
    assert!(outcome.is_err() && !s.is_broken());
    assert!(matches!(s.state(), State::Selected { .. }));

    // Refused before it started: an error, the connection goes on.
    let (_, outcome) = one(&mut s, Idle::default(), &["p3 NO not now"]);
    assert!(outcome.unwrap_err().to_string().contains("refused IDLE"));
    assert!(!s.is_broken());

    // A second "+" while idling is a protocol violation.
    let (c, _) = one(&mut s, Idle::default(), &["+ idling", "+ again"]);
    assert!(
        c.lines
            .last()
            .unwrap()
            .contains("unexpected continuation during IDLE")
    );
    assert!(s.is_broken());
}

#[test]
fn untagged_responses_go_to_the_earliest_command_still_running() {
    let mut s = session("IMAP4rev1 CONDSTORE");
    let (c, results) = all(
        &mut s,
        vec![Status::new("A"), Status::new("B"), Status::new("Nope")],
        &[
            "* STATUS A (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 3 UNSEEN 0 HIGHESTMODSEQ 4)",
            "* 9 EXISTS",
            "p1 OK done",
            "* STATUS B (MESSAGES 5)",
            "p3 NO [NONEXISTENT] no such mailbox",
            "p2 OK done",
        ],
    );
    assert_eq!(
        c.lines[..3],
        [
            "C: p1 STATUS \"A\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)",
            "C: p2 STATUS \"B\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)",
            "C: p3 STATUS \"Nope\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)"
        ]
    );
    assert_eq!(s.exists(), 9);
    let statuses: Vec<_> = results
        .into_iter()
        .map(|o| match o {
            Outcome::Done(r) => r.map(|s| (s.name, s.messages)).map_err(|e| e.kind()),
            Outcome::Unknown => panic!("unknown"),
        })
        .collect();
    assert_eq!(
        statuses,
        [
            Ok(("A".into(), Some(1))),
            Ok(("B".into(), Some(5))),
            Err(ErrorKind::NotFound)
        ]
    );
}

#[test]
fn a_fetch_collects_its_messages_among_exists_expunge_and_vanished() {
    let mut s = selected("IMAP4rev1 CONDSTORE QRESYNC");
    s.observe(&Untagged::Enabled(vec!["QRESYNC".into()]));
    let mut uids = Vec::new();
    let request = FetchRequest {
        flags: true,
        changed_since: Some(5),
        vanished: true,
        ..FetchRequest::default()
    };
    let (c, summary) = one(
        &mut s,
        Fetch::new(&UidRanges::all(), &request, |m: FetchedMessage| {
            uids.push((m.uid, m.flags.unwrap(), m.modseq));
            Ok(())
        }),
        &[
            "* VANISHED (EARLIER) 2:3",
            "* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (7))",
            "* 5 EXISTS",
            "* 2 EXPUNGE",
            "* 1 FETCH (FLAGS (\\Flagged))",
            "* VANISHED 9",
            "p1 OK done",
        ],
    );
    assert_eq!(
        c.lines[0],
        "C: p1 UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 5 VANISHED)"
    );
    let summary = summary.unwrap();
    assert_eq!(summary.fetched, 1);
    assert_eq!(summary.vanished.iter().collect::<Vec<_>>(), [2, 3, 9]);
    assert_eq!(uids, [(1, Flags::new().with(Flag::Seen), Some(7))]);
    assert_eq!(s.exists(), 4, "EXISTS, less one EXPUNGE");
}

#[test]
fn tagged_no_and_bad_with_and_without_codes() {
    let mut s = session("IMAP4rev1");
    let cases = [
        ("NO [TRYCREATE] Mailbox doesn't exist", ErrorKind::NotFound),
        ("NO Mailbox does not exist", ErrorKind::NotFound),
        ("NO [OVERQUOTA] Quota exceeded", ErrorKind::Peer),
        ("NO Permission denied", ErrorKind::Peer),
        ("BAD [CLIENTBUG] Unknown command", ErrorKind::Peer),
        ("BAD Error in IMAP command", ErrorKind::Peer),
    ];
    for (i, (answer, kind)) in cases.into_iter().enumerate() {
        let tag = format!("p{}", i + 1);
        let reply = format!("{tag} {answer}");
        let (_, result) = one(&mut s, MailboxOp::create("Sent"), &[&reply]);
        let err = result.unwrap_err();
        assert_eq!(err.kind(), kind, "{answer}: {err}");
        let text = err.to_string();
        assert!(text.contains("CREATE \"Sent\""), "{text}");
        if answer.starts_with("BAD") {
            assert!(text.starts_with("server did not accept"), "{text}");
        }
    }
    assert!(
        !s.is_broken(),
        "a NO or BAD ends the command, not the connection"
    );
}

#[test]
fn a_command_the_state_does_not_allow_is_refused_before_anything_is_sent() {
    let mut s = session("IMAP4rev1 UIDPLUS");
    let request = FetchRequest::default();
    let (c, result) = one(
        &mut s,
        Fetch::new(&UidRanges::all(), &request, |_| Ok(())),
        &[],
    );
    assert!(c.lines.is_empty(), "{:?}", c.lines);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("UID FETCH not sent"), "{err}");
    // No tag was used up.
    let (c, _) = one(&mut s, Simple::noop(), &["p1 OK done"]);
    assert_eq!(c.lines[0], "C: p1 NOOP");

    // A missing extension is refused the same way.
    let (c, result) = one(&mut s, Id::new(&[]), &[]);
    assert!(c.lines.is_empty() && result.is_err());

    // After BYE nothing but LOGOUT goes out, and the refusal is a lost connection.
    s.observe(&Untagged::Bye {
        code: None,
        text: "shutting down".into(),
    });
    let (c, result) = one(&mut s, Simple::noop(), &[]);
    assert!(c.lines.is_empty());
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Connection);
    let (c, _) = one(&mut s, Logout, &[]);
    assert_eq!(c.lines, ["C: p2 LOGOUT", "-- connection lost"]);
}

#[test]
fn unknown_tags_and_stray_continuations_are_fatal() {
    let mut s = session("IMAP4rev1");
    let (c, result) = one(&mut s, Simple::noop(), &["zz OK what"]);
    assert!(c.lines.last().unwrap().contains("never sent"));
    assert!(result.is_err() && s.is_broken());
    let later = s.allows(super::session::Needs::Any, "NOOP").unwrap_err();
    assert!(
        later.to_string().contains("never sent"),
        "the first error sticks"
    );

    let mut s = session("IMAP4rev1");
    let (c, _) = one(&mut s, Simple::noop(), &["+ what"]);
    assert!(c.lines.last().unwrap().contains("no command asked for"));
    assert!(s.is_broken());
}

#[test]
fn a_lost_connection_leaves_the_unanswered_commands_unknown() {
    let mut s = session("IMAP4rev1 LITERAL+ UIDPLUS");
    let (c, results) = all(
        &mut s,
        vec![
            Append::new("INBOX", message("a")),
            Append::new("INBOX", message("b")),
        ],
        &["p1 OK [APPENDUID 1 10] done"],
    );
    assert_eq!(
        c.lines.last().map(String::as_str),
        Some("-- connection lost")
    );
    assert!(matches!(results[0], Outcome::Done(Ok(Some((1, 10))))));
    assert!(matches!(results[1], Outcome::Unknown));
}

#[test]
fn select_reports_the_mailbox_and_leads_to_the_selected_state() {
    let mut s = session("IMAP4rev1 CONDSTORE QRESYNC ENABLE");
    s.observe(&Untagged::Enabled(vec!["QRESYNC".into()]));
    let options = SelectOptions {
        read_only: true,
        qresync: Some(QresyncParams {
            uid_validity: 9,
            modseq: 0,
            known_uids: Some(UidRanges::from_uids([1, 2, 3, 7])),
        }),
        ..SelectOptions::default()
    };
    let (c, selected) = one(
        &mut s,
        Select::new("Entwürfe", options),
        &[
            "* VANISHED (EARLIER) 1",
            "* OK [CLOSED] previous mailbox closed",
            "* 3 EXISTS",
            "* OK [UIDVALIDITY 9] ok",
            "* OK [HIGHESTMODSEQ 12] ok",
            "* VANISHED (EARLIER) 2",
            "* 1 FETCH (UID 3 FLAGS (\\Seen) MODSEQ (11))",
            "p1 OK [READ-ONLY] done",
        ],
    );
    assert_eq!(
        c.lines[0],
        "C: p1 EXAMINE \"Entw&APw-rfe\" (QRESYNC (9 1 1:3,7))"
    );
    let selected = selected.unwrap();
    assert!(selected.qresync_used && selected.read_only);
    assert_eq!(selected.vanished.iter().collect::<Vec<_>>(), [2]);
    assert_eq!(selected.changed.len(), 1);
    assert_eq!(
        (selected.uid_validity, selected.highest_modseq),
        (Some(9), Some(12))
    );
    assert_eq!(
        s.state(),
        &State::Selected {
            mailbox: "Entwürfe".into(),
            read_only: true
        }
    );

    // A SELECT that fails leaves no mailbox selected (RFC 3501 6.3.1).
    let (_, result) = one(
        &mut s,
        Select::new("Gone", SelectOptions::default()),
        &["p2 NO [NONEXISTENT] no such mailbox"],
    );
    assert_eq!(result.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(s.state(), &State::Authenticated);
}

#[test]
fn unselect_falls_back_to_a_failing_examine() {
    let mut s = selected("IMAP4rev1 UNSELECT");
    let (c, result) = one(&mut s, Unselect::default(), &["p1 OK done"]);
    assert_eq!(c.lines[0], "C: p1 UNSELECT");
    assert!(result.is_ok());
    assert_eq!(s.state(), &State::Authenticated);

    let mut s = selected("IMAP4rev1");
    let (c, result) = one(&mut s, Unselect::default(), &["p1 NO no such mailbox"]);
    assert_eq!(c.lines[0], "C: p1 EXAMINE \"pimlink-nonexistent-\u{7f}\"");
    assert!(result.is_ok());
    assert_eq!(s.state(), &State::Authenticated);
}

/// The text of every other command, as the client has always sent it.
#[test]
fn each_command_is_written_as_before() {
    fn text<C: Command>(session: &mut Session, command: C) -> String {
        let mut exchange = Exchange::one(command);
        let c = converse(session, &mut exchange, &[]);
        c.lines[0].trim_start_matches("C: ").to_owned()
    }
    let caps = "IMAP4rev1 LITERAL+ CONDSTORE QRESYNC UIDPLUS MOVE ID NAMESPACE LIST-STATUS ENABLE";
    let mut s = selected(caps);
    let flags = Flags::new().with(Flag::Seen).with(Flag::Passed);
    let set = UidRanges::from_uids([1, 2, 3, 7]);
    let request = FetchRequest {
        flags: true,
        internal_date: true,
        size: true,
        body: true,
        header_fields: vec!["MESSAGE-ID".into(), "DATE".into()],
        ..FetchRequest::default()
    };
    let enable = Enable::new(&s, &["QRESYNC", "UTF8=ACCEPT"]).unwrap();
    let rows: Vec<(String, &str)> = vec![
        (text(&mut s, Capability::default()), "p1 CAPABILITY"),
        (text(&mut s, Simple::noop()), "p2 NOOP"),
        (text(&mut s, Simple::compress()), "p3 COMPRESS DEFLATE"),
        (text(&mut s, enable), "p4 ENABLE QRESYNC"),
        (
            text(&mut s, Id::new(&[("name", "pim\"link"), ("version", "1")])),
            "p5 ID (\"name\" \"pim\\\"link\" \"version\" \"1\")",
        ),
        (text(&mut s, Id::new(&[])), "p6 ID NIL"),
        (text(&mut s, Namespace::default()), "p7 NAMESPACE"),
        (text(&mut s, List::new("", "*")), "p8 LIST \"\" \"*\""),
        (
            text(&mut s, List::subscribed("", "Entwürfe/*")),
            "p9 LSUB \"\" \"Entw&APw-rfe/*\"",
        ),
        (
            text(&mut s, ListStatus::new("*")),
            "p10 LIST \"\" \"*\" RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ))",
        ),
        (text(&mut s, MailboxOp::create("A/B")), "p11 CREATE \"A/B\""),
        (
            text(&mut s, MailboxOp::delete("inbox")),
            "p12 DELETE \"INBOX\"",
        ),
        (
            text(&mut s, MailboxOp::rename("A", "B")),
            "p13 RENAME \"A\" \"B\"",
        ),
        (
            text(&mut s, MailboxOp::subscribe("A")),
            "p14 SUBSCRIBE \"A\"",
        ),
        (
            text(&mut s, MailboxOp::unsubscribe("A")),
            "p15 UNSUBSCRIBE \"A\"",
        ),
        (
            text(
                &mut s,
                Select::new(
                    "INBOX",
                    SelectOptions {
                        condstore: true,
                        ..SelectOptions::default()
                    },
                ),
            ),
            "p16 SELECT \"INBOX\" (CONDSTORE)",
        ),
        (
            text(&mut s, Fetch::new(&set, &request, |_| Ok(()))),
            "p17 UID FETCH 1:3,7 (UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ BODY.PEEK[] \
             BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE)])",
        ),
        (
            text(
                &mut s,
                StoreFlags::new(&set, StoreMode::Add, &flags, Some(9)),
            ),
            "p18 UID STORE 1:3,7 (UNCHANGEDSINCE 9) +FLAGS ($Forwarded \\Seen)",
        ),
        (
            text(
                &mut s,
                StoreFlags::new(&set, StoreMode::Replace, &Flags::new(), None),
            ),
            "p19 UID STORE 1:3,7 FLAGS ()",
        ),
        (text(&mut s, Expunge::new(&set)), "p20 UID EXPUNGE 1:3,7"),
        (
            text(&mut s, CopyMove::copy(&set, "Archiv")),
            "p21 UID COPY 1:3,7 \"Archiv\"",
        ),
        (
            text(&mut s, CopyMove::moving(&set, "Trash")),
            "p22 UID MOVE 1:3,7 \"Trash\"",
        ),
        (text(&mut s, Logout), "p23 LOGOUT"),
    ];
    for (written, expected) in rows {
        assert_eq!(written, expected);
    }

    // Without CONDSTORE: no MODSEQ, no HIGHESTMODSEQ, and CHANGEDSINCE is refused.
    let mut s = selected("IMAP4rev1");
    assert_eq!(
        text(&mut s, Status::new("A")),
        "p1 STATUS \"A\" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"
    );
    let plain = FetchRequest {
        flags: true,
        ..FetchRequest::default()
    };
    assert_eq!(
        text(&mut s, Fetch::new(&UidRanges::all(), &plain, |_| Ok(()))),
        "p2 UID FETCH 1:* (UID FLAGS)"
    );
    let since = FetchRequest {
        changed_since: Some(3),
        ..FetchRequest::default()
    };
    let (_, refused) = one(
        &mut s,
        Fetch::new(&UidRanges::all(), &since, |_| Ok(())),
        &[],
    );
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::Unsupported);
    let (_, refused) = one(&mut s, CopyMove::moving(&set, "Trash"), &[]);
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::Unsupported);
}
