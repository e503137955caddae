//! What the scenarios found, pinned as small deterministic tests: each fails today and is
//! ignored with the reason, until the change that fixes it lands.

use super::dav::{Dav, DavOp};
use super::mail::{Mail, MailOp};
use super::*;

/// Runs `check` and turns its failure into a panic (for plain tests).
fn pinned(check: Result<(), TestCaseError>) {
    if let Err(error) = check {
        panic!("{error}");
    }
}

/// A run succeeds and the run after it changes nothing.
fn assert_settles_in_one_run(mail: &Mail) {
    let run = mail.run(&["-v", "sync"]);
    assert_eq!(run.code(), 0, "{run}");
    let again = mail.run(&["-v", "sync"]);
    assert!(
        again.code() == 0 && again.stdout().contains("changed: nothing"),
        "the run after:\n{again}\n--- the run\n{run}"
    );
}

/// An item changed differently on both sides, with no `conflict_resolution`: the dry run
/// counts the conflict as a change ("would change: 1 conflict", exit 0), the real run reports
/// it as an error ("changed: nothing, 1 errors", exit 1, the conflict on stderr).
#[test]
#[ignore = "dry run diverges: an unresolved calendar conflict is a planned change (exit 0) in a \
            dry run and an error (exit 1) in the real run; fixed by the executor split (issue 13)"]
fn an_unresolved_conflict_is_reported_alike_by_a_dry_run_and_the_real_run() {
    let mut dav = Dav::new("");
    dav.write("a", "c1", "e", "first");
    dav.write("b", "c1", "e", "first on b");
    pinned(dry_then_real(&|args| dav.run(args), &|| dav.snapshot(), &[]).map(|_| ()));
}

/// A calendar pair that syncs `metadata`, a collection whose items are unchanged since the
/// last clean sync, and a display name set on a: the dry run sets it on b ("set displayname
/// on b to ...") and records it in the status, as the real run would. (The executor's
/// shortcut for unchanged collections, `items/exec.rs` `skip::unchanged`, calls `sync_meta`
/// with the collection's id also in a dry run.)
#[test]
#[ignore = "dry run diverges: a dry run writes the metadata of an unchanged calendar collection \
            to the other side and the status; fixed by the executor split (issue 13)"]
fn a_dry_run_leaves_the_metadata_of_an_unchanged_collection_alone() {
    let mut dav = Dav::new("metadata = [\"displayname\", \"color\"]\n");
    dav.write("a", "c1", "e", "first");
    for _ in 0..2 {
        let run = dav.run(&["sync"]);
        assert_eq!(run.code(), 0, "{run}");
    }
    dav.apply(&DavOp::SetMeta {
        side: false,
        collection: 0,
        color: false,
        value: 1,
    });
    pinned(dry_then_real(&|args| dav.run(args), &|| dav.snapshot(), &[]).map(|_| ()));
}

/// Not a dry-run divergence, but found by the same scenarios (so the run after a refused one
/// is not held to change nothing there): folder F is deleted on b, and a message of INBOX is
/// moved into F on a. The run recreates F on b, refuses to delete F's old message on a (side b
/// "is empty although 1 items were synced there before"; exit 5) and makes the move on b too.
/// The next run finds F on b no longer empty and deletes that message on a without --force.
#[test]
#[ignore = "engine: a deletion refused because a side looked empty is made by the next run \
            once a move filled the collection; a question for the lead (issue 13 report)"]
fn a_deletion_refused_for_an_emptied_folder_stays_refused_after_a_move_into_it() {
    let mut mail = Mail::new("");
    mail.write("a", "F", 1, "");
    mail.write("a", "INBOX", 2, "");
    mail.world.sync_ok();
    mail.apply(&MailOp::RemoveFolder {
        side: true,
        folder: 1,
    });
    let on_a = mail.files("a");
    let inbox = on_a
        .iter()
        .position(|path| path.to_string_lossy().contains("/INBOX/"))
        .unwrap();
    mail.apply(&MailOp::Move {
        side: false,
        pick: inbox,
        folder: 1,
    });
    let refused = mail.run(&["-v", "sync"]);
    assert_eq!(refused.code(), 5, "{refused}");
    let again = mail.run(&["-v", "sync"]);
    assert_eq!(again.code(), 5, "the refusal stands:\n{again}");
    assert!(
        mail.world.messages("a")["F"].contains_key("m1"),
        "m1 was deleted on a:\n{again}"
    );
}

/// Not a dry-run divergence, but found by the same scenarios (so they interrupt copies only
/// after the other changes): a run is killed while copying a message from b to a, before the
/// copy landed; then the user marks the message \Deleted on b. The next run resumes the copy
/// (with the T flag) and the run after it expunges the message on both sides: the sides settle
/// one run late, and the copy was for nothing (a new message marked \Deleted is not copied).
#[test]
#[ignore = "engine: a resumed copy of a message since marked \\Deleted is made and expunged by \
            the next run; a question for the lead (issue 13 report)"]
fn a_resumed_copy_of_a_message_since_marked_deleted_is_not_made() {
    let mut mail = Mail::new("");
    mail.write("b", "INBOX", 1, "S");
    mail.world.sync_ok();
    mail.apply(&MailOp::Interrupt {
        pick: 0,
        to: false,
        forget_key: false,
        landed: false,
    });
    assert!(mail.files("a").is_empty(), "the copy has not landed");
    mail.apply(&MailOp::Flags {
        side: true,
        pick: 0,
        flags: 5,
    });
    assert_settles_in_one_run(&mail);
}

/// Not a dry-run divergence, but found by the same scenarios (so they sync flags where the
/// pair must settle): a pair whose `operations` are "new" and "delete" (no flags), a message
/// synced, then marked \Deleted on a. The run expunges it on a and says "delete on a ... (kept
/// on b, marked deleted)", but b's copy is not marked (flags do not flow), and the next run
/// takes it for a deletion to make on b: with nothing else in the folder it refuses ("side a is
/// empty although 1 items were synced there before", exit 5, every run from then on); in a
/// fuller folder it deletes it on b.
#[test]
#[ignore = "engine: without flag sync, a message expunged on one side leaves a pair whose next \
            run refuses (or makes) its deletion on the other; a question for the lead (issue 13 \
            report)"]
fn a_message_expunged_on_one_side_without_flag_sync_leaves_the_pair_settled() {
    let mut mail = Mail::new("operations = [\"new\", \"delete\"]\n");
    mail.write("a", "INBOX", 1, "");
    mail.world.sync_ok();
    mail.apply(&MailOp::Flags {
        side: false,
        pick: 0,
        flags: 5,
    });
    assert_settles_in_one_run(&mail);
}
