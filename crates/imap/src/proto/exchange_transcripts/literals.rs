//! Literal kinds (LITERAL+, LITERAL-, synchronising), refused go-aheads, masked credentials.

use super::*;

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
    let mut s = greeted("IMAP4rev1", false);
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
    let mut s = greeted("IMAP4rev1", false);
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
