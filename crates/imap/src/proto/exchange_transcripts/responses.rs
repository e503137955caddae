//! Where responses go: pipelined commands, untagged data, completions, state checks.

use super::*;

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
    let later = s
        .allows(crate::proto::session::Needs::Any, "NOOP")
        .unwrap_err();
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
