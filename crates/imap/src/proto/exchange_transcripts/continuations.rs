//! Continuations: SASL challenges and IDLE.

use super::*;

#[test]
fn authenticate_answers_each_challenge() {
    // CRAM-MD5 (RFC 2195's example), no initial response.
    let mut s = greeted("IMAP4rev1 AUTH=CRAM-MD5", false);
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
    let mut s = greeted("IMAP4rev1", false);
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
    let mut s2 = greeted("IMAP4rev1 SASL-IR", false);
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
