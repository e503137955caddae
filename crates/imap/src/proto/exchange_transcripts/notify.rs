//! NOTIFY (RFC 5465): the command's text and answers, and what the server sends afterwards
//! while no command runs, sorted into notices (malformed responses included).

use super::super::notify::{Notice, notice, unsolicited};
use super::super::response::{MailboxStatus, Response};
use super::*;

fn parse(line: &str) -> Response {
    parse_response(format!("{line}\r\n").as_bytes(), &|_| None).unwrap()
}

#[test]
fn notify_set_asks_for_every_change_in_the_personal_namespaces() {
    let mut s = session("IMAP4rev1 NOTIFY");
    let (c, result) = one(&mut s, Notify::whole_account(), &["p1 OK NOTIFY completed"]);
    assert_eq!(
        c.lines,
        [
            "C: p1 NOTIFY SET (personal (MessageNew MessageExpunge FlagChange MailboxName \
             SubscriptionChange))",
            "S: p1 OK NOTIFY completed"
        ]
    );
    result.unwrap();

    let (c, result) = one(&mut s, Notify::none(), &["p2 OK done"]);
    assert_eq!(c.lines, ["C: p2 NOTIFY NONE", "S: p2 OK done"]);
    result.unwrap();
}

#[test]
fn notify_set_quotes_mailbox_names_in_modified_utf7() {
    let mut s = session("IMAP4rev1 NOTIFY");
    let notify = Notify::set(
        vec![
            (
                MailboxFilter::Selected,
                vec![NotifyEvent::MessageNew, NotifyEvent::MessageExpunge],
            ),
            (
                MailboxFilter::Mailboxes(vec![
                    "Entwürfe".into(),
                    "a\"b".into(),
                    "bad\r\nname".into(),
                ]),
                vec![NotifyEvent::MessageNew],
            ),
            (MailboxFilter::Subscribed, vec![]),
        ],
        true,
    );
    let (c, result) = one(&mut s, notify, &["p1 OK done"]);
    assert_eq!(
        c.lines[0],
        "C: p1 NOTIFY SET STATUS (selected (MessageNew MessageExpunge)) \
         (mailboxes (\"Entw&APw-rfe\" \"a\\\"b\") (MessageNew)) (subscribed NONE)"
    );
    result.unwrap();
}

#[test]
fn notify_is_refused_before_sending_without_the_capability() {
    let mut s = session("IMAP4rev1 IDLE");
    let (c, result) = one(&mut s, Notify::whole_account(), &[]);
    assert!(c.lines.is_empty(), "nothing was sent: {:?}", c.lines);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn notify_refused_by_the_server_is_an_error_naming_it() {
    let mut s = session("IMAP4rev1 NOTIFY");
    let (_, result) = one(
        &mut s,
        Notify::whole_account(),
        &["p1 NO [BADEVENT (MessageNew MessageExpunge)] not supported"],
    );
    let err = result.unwrap_err();
    assert!(err.to_string().contains("NOTIFY SET failed"), "{err}");
    assert!(err.to_string().contains("BADEVENT"), "{err}");
}

/// What Dovecot 2.3 sends after `NOTIFY SET (personal (...))`, one response each.
#[test]
fn unsolicited_responses_become_notices() {
    let mut s = session("IMAP4rev1 NOTIFY CONDSTORE");
    let cases: &[(&str, Notice)] = &[
        (
            "* STATUS Archive (MESSAGES 3 UIDNEXT 9 UIDVALIDITY 17 HIGHESTMODSEQ 40)",
            Notice::Mailbox(MailboxStatus {
                name: "Archive".into(),
                messages: Some(3),
                uid_next: Some(9),
                uid_validity: Some(17),
                unseen: None,
                highest_modseq: Some(40),
                mailbox_id: None,
            }),
        ),
        ("* LIST () \".\" Projects", Notice::Mailboxes),
        ("* LIST (\\NonExistent) \".\" Old", Notice::Mailboxes),
        ("* LIST (\\Subscribed) \".\" Lists", Notice::Mailboxes),
        (
            "* LIST () \".\" New (\"OLDNAME\" (\"Old\"))",
            Notice::Mailboxes,
        ),
        ("* 4 EXISTS", Notice::Selected),
        ("* 2 EXPUNGE", Notice::Selected),
        ("* 1 FETCH (UID 7 FLAGS (\\Seen))", Notice::Selected),
        ("* OK Still here", Notice::Nothing),
        ("* 1 RECENT", Notice::Nothing),
        (
            "* OK [NOTIFICATIONOVERFLOW] too many changes",
            Notice::Overflow,
        ),
        ("* BYE shutting down", Notice::Closing),
    ];
    for (line, want) in cases {
        let got = unsolicited(&mut s, parse(line)).unwrap();
        assert_eq!(&got, want, "{line}");
    }
    assert!(s.is_broken(), "BYE leaves the connection unusable");
}

#[test]
fn a_malformed_folder_response_is_a_notice_not_a_panic() {
    let mut s = session("IMAP4rev1 NOTIFY");
    // A STATUS whose counters cannot be read names no mailbox for sure: check everything.
    let got = unsolicited(&mut s, parse("* STATUS Archive (MESSAGES x)")).unwrap();
    assert_eq!(got, Notice::Overflow);
    // A LIST that cannot be read still says the list changed.
    let got = unsolicited(&mut s, parse("* LIST (\\Noselect \"\" \"a\0b\"")).unwrap();
    assert_eq!(got, Notice::Mailboxes);
    assert!(!s.is_broken());
    // Anything else unreadable fails to parse at all: the client closes the connection.
    assert!(parse_response(b"* 12 FROBNICATE (x\r\n", &|_| None).is_err());
}

#[test]
fn a_completion_or_continuation_with_no_command_running_is_fatal() {
    let mut s = session("IMAP4rev1 NOTIFY");
    let err = unsolicited(&mut s, parse("p9 OK stray")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Peer);
    assert!(err.to_string().contains("none was running"), "{err}");
    assert!(s.is_broken());

    let mut s = session("IMAP4rev1 NOTIFY");
    let err = unsolicited(&mut s, parse("+ more")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Peer);
    assert!(s.is_broken());
}

#[test]
fn a_noop_keeps_the_notifications_that_arrive_with_it() {
    let mut s = session("IMAP4rev1 NOTIFY");
    let (c, result) = one(
        &mut s,
        NoopKeeping::default(),
        &[
            "* STATUS INBOX (MESSAGES 2 UIDNEXT 5 UIDVALIDITY 1)",
            "* OK Still here",
            "p1 OK NOOP completed",
        ],
    );
    assert_eq!(c.lines[0], "C: p1 NOOP");
    let notices: Vec<Notice> = result.unwrap().iter().map(notice).collect();
    assert!(matches!(&notices[0], Notice::Mailbox(m) if m.name == "INBOX"));
    assert_eq!(notices[1], Notice::Nothing);
}
