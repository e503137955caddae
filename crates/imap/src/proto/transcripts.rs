//! Replayed server output (RFC examples and Dovecot 2.3 captures) through framer and parser.

use super::frame::{FrameEvent, FrameLimits, Framer};
use super::response::*;
use crate::uidset::UidRanges;
use pimlink_core::{Flag, Flags};

/// Frames and parses a whole transcript, fed in `chunk`-byte pieces.
fn replay(input: &[u8], chunk: usize) -> Result<Vec<Response>, String> {
    let mut framer = Framer::new(
        FrameLimits {
            inline_literal: 16,
            ..FrameLimits::default()
        },
        42,
    );
    let mut out = Vec::new();
    for piece in input.chunks(chunk) {
        framer.feed(piece);
        loop {
            match framer.next_event().map_err(|e| e.to_string())? {
                None => break,
                Some(FrameEvent::Frame(frame)) => {
                    let r = parse_response(&frame.bytes, &|b| framer.marker_index(b))
                        .map_err(|e| e.to_string())?;
                    out.push(r);
                }
                Some(_) => {}
            }
        }
    }
    if framer.is_mid_response() {
        return Err("incomplete".into());
    }
    Ok(out)
}

fn untagged(r: &Response) -> &Untagged {
    match r {
        Response::Untagged(u) => u,
        other => panic!("not untagged: {other:?}"),
    }
}

#[test]
fn dovecot_qresync_select() {
    let input = b"* OK [CLOSED] Previous mailbox closed.\r\n\
* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n\
* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted.\r\n\
* 3 EXISTS\r\n\
* 0 RECENT\r\n\
* OK [UIDVALIDITY 1700000000] UIDs valid\r\n\
* OK [UIDNEXT 8] Predicted next UID\r\n\
* OK [HIGHESTMODSEQ 12] Highest\r\n\
* VANISHED (EARLIER) 2:3,5\r\n\
* 2 FETCH (UID 6 FLAGS (\\Seen $Forwarded custom) MODSEQ (11))\r\n\
p4 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n";
    for chunk in [1, 7, input.len()] {
        let rs = replay(input, chunk).unwrap();
        assert_eq!(rs.len(), 11);
        assert_eq!(
            untagged(&rs[0]),
            &Untagged::Status {
                kind: StatusKindOf::Ok,
                code: Some(ResponseCode::Closed),
                text: "Previous mailbox closed.".into()
            }
        );
        assert_eq!(untagged(&rs[3]), &Untagged::Exists(3));
        assert!(matches!(
            untagged(&rs[5]),
            Untagged::Status {
                code: Some(ResponseCode::UidValidity(1_700_000_000)),
                ..
            }
        ));
        assert!(matches!(
            untagged(&rs[7]),
            Untagged::Status {
                code: Some(ResponseCode::HighestModSeq(12)),
                ..
            }
        ));
        match untagged(&rs[8]) {
            Untagged::Vanished { earlier, uids } => {
                assert!(earlier);
                assert_eq!(uids.iter().collect::<Vec<_>>(), vec![2, 3, 5]);
            }
            other => panic!("{other:?}"),
        }
        match untagged(&rs[9]) {
            Untagged::Fetch(f) => {
                assert_eq!((f.seq, f.uid, f.modseq), (2, Some(6), Some(11)));
                let mut expected = Flags::new().with(Flag::Seen).with(Flag::Passed);
                expected.set_keyword("custom", true);
                assert_eq!(f.flags.as_ref(), Some(&expected));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            rs[10],
            Response::Tagged {
                tag: "p4".into(),
                kind: StatusKindOf::Ok,
                code: Some(ResponseCode::ReadWrite),
                text: "Select completed (0.001 + 0.000 secs).".into()
            }
        );
    }
}

#[test]
fn fetch_with_small_and_spooled_bodies() {
    let input = b"* 1 FETCH (UID 4 RFC822.SIZE 5 INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" BODY[] {6}\r\nHi\r\n\r\n)\r\n\
* 2 FETCH (UID 5 BODY[HEADER.FIELDS (MESSAGE-ID)] {21}\r\nMessage-ID: <a@b>\r\n\r\n BODY[] {20}\r\n01234567890123456789)\r\n";
    let rs = replay(input, 3).unwrap();
    match untagged(&rs[0]) {
        Untagged::Fetch(f) => {
            assert_eq!(f.body, Some(BodyRef::Inline(b"Hi\r\n\r\n".to_vec())));
            assert_eq!(f.size, Some(5));
            let secs = f
                .internal_date
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            assert_eq!(secs, 837_596_665);
        }
        other => panic!("{other:?}"),
    }
    match untagged(&rs[1]) {
        Untagged::Fetch(f) => {
            // Both literals exceed the 16-byte inline cap: spooled in order.
            assert_eq!(f.header, Some(BodyRef::Spooled(0)));
            assert_eq!(f.body, Some(BodyRef::Spooled(1)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn uidplus_codes_and_mailbox_data() {
    let input = "p1 OK [APPENDUID 38505 3955] APPEND completed\r\n\
p2 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n\
* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent &AMk-l&AOk-ments\"\r\n\
* LIST (\\Noselect \\HasChildren) \".\" Archive\r\n\
* STATUS INBOX (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 1 HIGHESTMODSEQ 7011231777)\r\n\
* ENABLED QRESYNC\r\n\
* ID (\"name\" \"Dovecot\" \"version\" NIL)\r\n\
* NAMESPACE ((\"\" \"/\")) NIL ((\"shared/\" \"/\"))\r\n\
p3 OK [MODIFIED 7,9] Conditional STORE failed\r\n\
p4 NO [TRYCREATE] Mailbox doesn't exist: Nope\r\n\
+ Ready for literal data\r\n\
* BYE Logging out\r\n";
    let rs = replay(input.as_bytes(), 5).unwrap();
    assert!(
        matches!(&rs[0], Response::Tagged { code: Some(ResponseCode::AppendUid { uid_validity: 38505, uids }), .. } if uids.iter().collect::<Vec<_>>() == vec![3955])
    );
    match &rs[1] {
        Response::Tagged {
            code:
                Some(ResponseCode::CopyUid {
                    uid_validity,
                    source,
                    destination,
                }),
            ..
        } => {
            assert_eq!(*uid_validity, 38505);
            assert_eq!(
                source.iter().zip(destination.iter()).collect::<Vec<_>>(),
                vec![(304, 3956), (319, 3957), (320, 3958)]
            );
        }
        other => panic!("{other:?}"),
    }
    match untagged(&rs[2]) {
        Untagged::List(e) => {
            assert_eq!(e.name, "Sent Éléments");
            assert_eq!(e.wire_name, b"Sent &AMk-l&AOk-ments");
            assert_eq!(e.delimiter, Some('/'));
            assert_eq!(e.special_use(), Some("\\Sent"));
            assert!(e.selectable());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(untagged(&rs[3]), Untagged::List(e) if !e.selectable() && e.delimiter == Some('.'))
    );
    assert_eq!(
        untagged(&rs[4]),
        &Untagged::MailboxStatus(MailboxStatus {
            name: "INBOX".into(),
            messages: Some(231),
            uid_next: Some(44292),
            uid_validity: Some(1),
            unseen: None,
            highest_modseq: Some(7_011_231_777),
            mailbox_id: None,
        })
    );
    assert_eq!(untagged(&rs[5]), &Untagged::Enabled(vec!["QRESYNC".into()]));
    assert_eq!(
        untagged(&rs[6]),
        &Untagged::Id(vec![
            ("name".into(), Some("Dovecot".into())),
            ("version".into(), None)
        ])
    );
    match untagged(&rs[7]) {
        Untagged::Namespace([personal, other, shared]) => {
            assert_eq!(
                personal,
                &vec![NamespaceEntry {
                    prefix: String::new(),
                    delimiter: Some('/')
                }]
            );
            assert!(other.is_empty());
            assert_eq!(shared[0].prefix, "shared/");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&rs[8], Response::Tagged { code: Some(ResponseCode::Modified(set)), .. } if *set == { let mut s = UidRanges::default(); s.push_range(7, 7); s.push_range(9, 9); s })
    );
    assert!(matches!(
        &rs[9],
        Response::Tagged {
            kind: StatusKindOf::No,
            code: Some(ResponseCode::TryCreate),
            ..
        }
    ));
    assert!(matches!(&rs[10], Response::Continue(_)));
    assert!(matches!(untagged(&rs[11]), Untagged::Bye { .. }));
}

#[test]
fn greetings() {
    assert!(
        matches!(parse_greeting(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] Dovecot ready.\r\n"), Ok(Greeting::Ok(Some(ResponseCode::Capability(caps)))) if caps.contains(&"SASL-IR".to_string()))
    );
    assert!(matches!(
        parse_greeting(b"* PREAUTH [CAPABILITY IMAP4rev1] Logged in as u\r\n"),
        Ok(Greeting::PreAuth(_))
    ));
    assert!(
        matches!(parse_greeting(b"* BYE Too many connections\r\n"), Ok(Greeting::Bye(t)) if t == "Too many connections")
    );
    assert!(parse_greeting(b"HTTP/1.1 400 Bad Request\r\n").is_err());
}

/// (A malformed folder line is left out instead: see
/// `an_unparsable_folder_line_is_left_out_and_other_responses_still_fail`.)
#[test]
fn malformed_responses_are_errors_not_panics() {
    for bad in [
        &b"garbage\r\n"[..],
        b"* 1 FETCH (UID)\r\n",
        b"* 1 FETCH (BODY[] {3}\r\nabcdef)\r\n",
        b"p1 MAYBE done\r\n",
        b"* 0 FETCH (UID 1)\r\n",
        b"* VANISHED (EARLIER) 0\r\n",
        b"* OK [APPENDUID 0 1] x\r\n\x00",
    ] {
        assert!(
            replay(bad, 2).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // A spool marker forged by the server does not match a real one.
    let framer = Framer::new(FrameLimits::default(), 42);
    let forged = b"* 1 FETCH (UID 1 BODY[] {31}\r\npimlink-spool-000000000000002a-)\r\n";
    let r = parse_response(forged, &|b| framer.marker_index(b)).unwrap();
    assert!(
        matches!(untagged(&r), Untagged::Fetch(f) if matches!(f.body, Some(BodyRef::Inline(_))))
    );
}

#[test]
fn utf8_accept_names_are_taken_as_sent() {
    let lines: [&[u8]; 3] = [
        "* LIST () \"/\" \"Entwürfe/R&-D\"\r\n".as_bytes(),
        b"* LIST () \"/\" \"R&-D\"\r\n",
        "* STATUS \"Café &AOk-\" (MESSAGES 1)\r\n".as_bytes(),
    ];
    let names = |utf8: bool| -> Vec<String> {
        lines
            .iter()
            .map(
                |line| match parse_response_names(line, &|_| None, utf8).unwrap() {
                    Response::Untagged(Untagged::List(e)) => e.name,
                    Response::Untagged(Untagged::MailboxStatus(s)) => s.name,
                    other => panic!("{other:?}"),
                },
            )
            .collect()
    };
    // UTF8=ACCEPT enabled: '&' is an ordinary character, nothing is decoded.
    assert_eq!(names(true), ["Entwürfe/R&-D", "R&-D", "Café &AOk-"]);
    // Not enabled: ASCII names are modified UTF-7; stray UTF-8 is kept as sent.
    assert_eq!(names(false), ["Entwürfe/R&-D", "R&D", "Café &AOk-"]);
}

/// Cyrus with its default namespace (no `altnamespace`, no `unixhierarchysep`): personal
/// folders live under `INBOX.` with `.` as delimiter. The client passes names through as
/// the server spells them; mapping `INBOX.` away is the store's job.
#[test]
fn cyrus_default_namespace() {
    let input = "* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))\r\n\
* LIST (\\HasChildren) \".\" INBOX\r\n\
* LIST (\\HasNoChildren) \".\" INBOX.Sent\r\n\
* LIST (\\HasNoChildren) \".\" \"INBOX.Entw&APw-rfe\"\r\n\
a2 NO Mailbox does not exist\r\n";
    let rs = replay(input.as_bytes(), 7).unwrap();
    match untagged(&rs[0]) {
        Untagged::Namespace([personal, other, shared]) => {
            assert_eq!(personal[0].prefix, "INBOX.");
            assert_eq!(personal[0].delimiter, Some('.'));
            assert_eq!(other[0].prefix, "user.");
            assert_eq!(shared[0].prefix, "");
        }
        other => panic!("{other:?}"),
    }
    let names: Vec<(&str, Option<char>)> = rs[1..4]
        .iter()
        .map(|r| match untagged(r) {
            Untagged::List(e) => (e.name.as_str(), e.delimiter),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            ("INBOX", Some('.')),
            ("INBOX.Sent", Some('.')),
            ("INBOX.Entwürfe", Some('.'))
        ]
    );
    assert!(matches!(&rs[4], Response::Tagged { code: None, .. }));
}

#[test]
fn appenduid_of_a_multiappend_carries_a_uid_set_in_the_order_written() {
    // Dovecot 2.3.19 answering a MULTIAPPEND of 8 and one of 4; then malformed sets, which
    // stay unknown codes (and so give no UIDs at all).
    let input =
        b"p7 OK [APPENDUID 1795810126 1:8] Append completed (0.057 + 0.000 + 0.056 secs).\r\n\
p8 OK [APPENDUID 38505 3955:3956,3960,3958] Append completed\r\n\
p9 OK [APPENDUID 38505 0:2] x\r\n\
p10 OK [APPENDUID 38505 2:*] x\r\n\
p11 OK [APPENDUID 0 2:3] x\r\n\
p12 OK [APPENDUID 38505 2,,3] x\r\n";
    let rs = replay(input, 4).unwrap();
    let code = |r: &Response| match r {
        Response::Tagged { code, .. } => code.clone(),
        other => panic!("{other:?}"),
    };
    match code(&rs[0]) {
        Some(ResponseCode::AppendUid { uid_validity, uids }) => {
            assert_eq!(uid_validity, 1_795_810_126);
            assert_eq!(uids.iter().collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
        }
        other => panic!("{other:?}"),
    }
    match code(&rs[1]) {
        Some(ResponseCode::AppendUid { uid_validity, uids }) => {
            assert_eq!(uid_validity, 38505);
            assert_eq!(uids.ranges(), [(3955, 3956), (3960, 3960), (3958, 3958)]);
        }
        other => panic!("{other:?}"),
    }
    for r in &rs[2..] {
        assert!(
            matches!(code(r), Some(ResponseCode::Other(text)) if text.starts_with("APPENDUID")),
            "{r:?}"
        );
    }
}

/// Response codes reach error messages as the server wrote them, never as Rust debug output.
#[test]
fn response_codes_print_as_the_server_wrote_them() {
    let table: [(&[u8], &str); 8] = [
        (
            b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
            "AUTHENTICATIONFAILED",
        ),
        (
            b"a1 NO [BADCHARSET (UTF-8)] charset\r\n",
            "BADCHARSET (UTF-8)",
        ),
        (b"a1 NO [OVERQUOTA] full\r\n", "OVERQUOTA"),
        (b"a1 NO [TRYCREATE] no mailbox\r\n", "TRYCREATE"),
        (b"a1 OK [UIDVALIDITY 7] ok\r\n", "UIDVALIDITY 7"),
        (b"a1 OK [APPENDUID 7 3:5] ok\r\n", "APPENDUID 7 3:5"),
        (
            b"a1 OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n",
            "PERMANENTFLAGS (\\Seen \\*)",
        ),
        (
            b"a1 OK [MAILBOXID (4qwx-n_0)] ok\r\n",
            "MAILBOXID (4qwx-n_0)",
        ),
    ];
    for (wire, expected) in table {
        let responses = replay(wire, wire.len()).unwrap();
        let Response::Tagged {
            code: Some(code), ..
        } = &responses[0]
        else {
            panic!("{}", String::from_utf8_lossy(wire));
        };
        assert_eq!(code.to_string(), expected);
    }
}

/// A folder line that cannot be parsed (a NUL in a folder name's literal, an unknown item in
/// a STATUS line) stands for that folder alone; anything else unparsable still fails.
#[test]
fn an_unparsable_folder_line_is_left_out_and_other_responses_still_fail() {
    let input = b"* LIST (\\HasNoChildren) \".\" INBOX\r\n\
        * LIST (\\HasNoChildren) \".\" {5}\r\nab\0cd\r\n\
        * lsub () \".\" {3}\r\na\0b\r\n\
        * STATUS Other (MESSAGES x)\r\n\
        * LIST (\\Noselect) \"/\r\n\
        * LIST (\\HasNoChildren) \".\" Other\r\n";
    for chunk in [1, 7, input.len()] {
        let responses = replay(input, chunk).unwrap();
        let kinds: Vec<String> = responses
            .iter()
            .map(|r| match untagged(r) {
                Untagged::List(entry) => format!("list {}", entry.name),
                Untagged::Unreadable { verb, excerpt } => format!("{verb}: {excerpt}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "list INBOX",
                "LIST: * LIST (\\\\HasNoChildren) \".\" {5}\\r\\nab\\x00cd\\r\\n",
                "LSUB: * lsub () \".\" {3}\\r\\na\\x00b\\r\\n",
                "STATUS: * STATUS Other (MESSAGES x)\\r\\n",
                "LIST: * LIST (\\\\Noselect) \"/\\r\\n",
                "list Other",
            ],
            "chunk {chunk}"
        );
    }
    for bad in [
        &b"* 1 FETCH (UID {3}\r\na\0b)\r\n"[..],
        b"* LISTX () \".\" a\0\r\n",
        b"a1 OK [x\r\n",
    ] {
        let error = replay(bad, bad.len()).unwrap_err();
        assert!(error.contains("cannot be parsed"), "{error}");
        assert!(!error.contains('\0'), "escaped: {error}");
    }
}

#[test]
fn cyrus_list_status_with_mailbox_ids() {
    let input = b"* LIST (\\HasNoChildren) \"/\" Work\r\n\
        * STATUS Work (UIDVALIDITY 1796687105 MAILBOXID (4qwxnc0w4x5ov99liuct8n71))\r\n\
        * STATUS Other (MESSAGES 1)\r\n";
    let rs = replay(input, 7).unwrap();
    let ids: Vec<_> = rs[1..]
        .iter()
        .map(|r| match untagged(r) {
            Untagged::MailboxStatus(s) => (s.name.clone(), s.uid_validity, s.mailbox_id.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ids,
        [
            (
                "Work".to_owned(),
                Some(1_796_687_105),
                Some("4qwxnc0w4x5ov99liuct8n71".to_owned())
            ),
            ("Other".to_owned(), None, None),
        ]
    );
}

#[test]
fn cyrus_select_reports_the_mailbox_id_and_a_malformed_one_is_an_unknown_code() {
    let input = b"* OK [UIDVALIDITY 1796687105] Ok\r\n\
        * OK [MAILBOXID (4qwxnc0w4x5ov99liuct8n71)] Ok\r\n\
        * OK [MAILBOXID (a b)] Ok\r\n";
    let rs = replay(input, 5).unwrap();
    let codes: Vec<_> = rs
        .iter()
        .map(|r| match untagged(r) {
            Untagged::Status { code, .. } => code.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        [
            Some(ResponseCode::UidValidity(1_796_687_105)),
            Some(ResponseCode::MailboxId(
                "4qwxnc0w4x5ov99liuct8n71".to_owned()
            )),
            Some(ResponseCode::Other("MAILBOXID (a b)".to_owned())),
        ]
    );
}
