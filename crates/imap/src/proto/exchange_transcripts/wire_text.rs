//! The text of each command, byte for byte as the client sent it before commands were data.

use super::*;

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
