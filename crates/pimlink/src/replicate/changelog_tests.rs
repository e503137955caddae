use proptest::prelude::*;

use super::*;

fn names(work: &Work) -> Vec<(String, Option<Vec<String>>)> {
    work.users()
        .map(|(user, scope)| {
            let mailboxes = match scope {
                Scope::Whole => None,
                Scope::Mailboxes(m) => Some(m.iter().cloned().collect()),
            };
            (user.to_owned(), mailboxes)
        })
        .collect()
}

fn mailboxes(user: &str, of: &[&str]) -> (String, Option<Vec<String>>) {
    (
        user.to_owned(),
        Some(of.iter().map(|m| (*m).to_owned()).collect()),
    )
}

#[test]
fn an_empty_log_names_no_one() {
    for text in ["", "\n", "  \n\n# nothing\n", "\r\n"] {
        let (work, skipped) = parse(text.as_bytes());
        assert!(work.is_empty(), "{text:?}");
        assert!(skipped.is_empty(), "{text:?}");
    }
}

#[test]
fn users_and_mailboxes_with_spaces_and_repeats_merge() {
    let log = "USER bob\n\
               MAILBOX alice \"Sent Items\"\n\
               append alice inbox\n\
               MAILBOX alice \"Sent Items\" Archive/2024\n\
               carol\n\
               MAILBOX bob Drafts\n\
               \"dave smith\"   # a user with a space\n\
               MAILBOX \"erin o\" \"say \\\"hi\\\"\"";
    let (work, skipped) = parse(log.as_bytes());
    assert_eq!(skipped, []);
    assert_eq!(
        names(&work),
        [
            mailboxes("alice", &["Archive/2024", "INBOX", "Sent Items"]),
            ("bob".to_owned(), None),
            ("carol".to_owned(), None),
            ("dave smith".to_owned(), None),
            mailboxes("erin o", &["say \"hi\""]),
        ]
    );
}

#[test]
fn a_user_named_whole_absorbs_its_mailboxes_in_either_order() {
    let (first, _) = parse(b"MAILBOX a X\nUSER a\n");
    let (second, _) = parse(b"USER a\nMAILBOX a X\n");
    assert_eq!(names(&first), [("a".to_owned(), None)]);
    assert_eq!(first, second);
}

#[test]
fn an_unknown_keyword_replicates_its_user_whole() {
    let (work, skipped) = parse(b"RENAME alice Old New\nSEEN bob INBOX\n");
    assert_eq!(skipped, []);
    assert_eq!(
        names(&work),
        [("alice".to_owned(), None), ("bob".to_owned(), None)]
    );
}

#[test]
fn lines_that_name_no_one_are_skipped_and_the_rest_kept() {
    let log =
        b"USER \"open\nMAILBOX alice\nUSER a b\n\"q\" x\nUSER \"\"\nab\"c\n\xff\xfe\nUSER ok\n";
    let (work, skipped) = parse(log);
    assert_eq!(names(&work), [("ok".to_owned(), None)]);
    let lines: Vec<usize> = skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7], "{skipped:?}");
}

fn name() -> impl Strategy<Value = String> {
    // Printable names, spaces, quotes, backslashes and '#' included; no line ends.
    "[a-zA-Z0-9 \"\\\\#./_-]{1,12}"
}

proptest! {
    /// Whatever the names, writing each change as a line and reading the log back gives the
    /// same merged work as adding the changes one by one.
    #[test]
    fn written_lines_read_back_as_the_merged_changes(
        changes in proptest::collection::vec((name(), proptest::option::of(name())), 0..20),
    ) {
        let mut want = Work::default();
        let mut log = String::new();
        for (user, mailbox) in &changes {
            match mailbox {
                None => {
                    want.user(user);
                    log.push_str(&format!("USER {}\n", quote(user)));
                }
                Some(mailbox) => {
                    want.mailbox(user, mailbox);
                    log.push_str(&format!("MAILBOX {} {}\n", quote(user), quote(mailbox)));
                }
            }
        }
        let (work, skipped) = parse(log.as_bytes());
        prop_assert!(skipped.is_empty(), "{skipped:?}\n{log}");
        prop_assert_eq!(work, want);
    }

    /// Merging is order-free: any split of a log into two parts merges to the whole.
    #[test]
    fn merging_parts_equals_reading_the_whole(
        changes in proptest::collection::vec((name(), proptest::option::of(name())), 0..20),
        cut in 0usize..20,
    ) {
        let lines: Vec<String> = changes
            .iter()
            .map(|(user, mailbox)| match mailbox {
                None => format!("{}\n", quote(user)),
                Some(m) => format!("MAILBOX {} {}\n", quote(user), quote(m)),
            })
            .collect();
        let cut = cut.min(lines.len());
        let (whole, _) = parse(lines.concat().as_bytes());
        let (mut later, _) = parse(lines[cut..].concat().as_bytes());
        let (earlier, _) = parse(lines[..cut].concat().as_bytes());
        later.merge(earlier);
        prop_assert_eq!(later, whole);
    }

    /// No input makes the reader panic.
    #[test]
    fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse(&bytes);
    }
}
