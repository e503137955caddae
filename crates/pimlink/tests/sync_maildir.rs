//! End-to-end: Maildir <-> Maildir through the `pimlink` binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::{World, assert_converged};
use std::fs;

#[test]
fn changes_on_both_sides_converge_and_a_second_run_does_nothing() {
    let world = World::new("");
    for i in 0..5 {
        world.deliver("a", "INBOX", &format!("a{i}"), "S");
    }
    world.deliver("a", "Lists/rust", "list1", "");
    world.deliver("b", "INBOX", "b0", "");
    world.deliver("b", "Entwürfe", "draft", "D");
    let first = world.sync_ok();
    let tree = assert_converged(&world);
    assert_eq!(tree["INBOX"].len(), 6);
    assert_eq!(tree["Lists/rust"]["list1"], [""]);
    assert_eq!(tree["Entwürfe"]["draft"], ["D"]);
    assert!(first.stdout().contains("copied"), "{first}");

    // Changes on both sides: flags on each (one flag each on the same message), a deletion on
    // each side, a new message on each side.
    let a_inbox = world.root("a").join("INBOX");
    let b_inbox = world.root("b").join("INBOX");
    rename_flags(&a_inbox, "a1", "FS");
    let b_copy_of_a1 = find_file(&b_inbox, "a1");
    let renamed = b_copy_of_a1.with_file_name(format!(
        "{}RS",
        b_copy_of_a1
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('S')
    ));
    fs::rename(&b_copy_of_a1, &renamed).unwrap();
    fs::remove_file(find_file(&a_inbox, "a2")).unwrap();
    fs::remove_file(find_file(&b_inbox, "a3")).unwrap();
    world.deliver("a", "INBOX", "new-on-a", "");
    world.deliver("b", "INBOX", "new-on-b", "F");

    world.sync_ok();
    let tree = assert_converged(&world);
    let inbox = &tree["INBOX"];
    assert_eq!(inbox["a1"], ["FRS"], "per-flag merge keeps both changes");
    assert!(
        !inbox.contains_key("a2") && !inbox.contains_key("a3"),
        "{inbox:?}"
    );
    assert_eq!(inbox["new-on-a"], [""]);
    assert_eq!(inbox["new-on-b"], ["F"]);

    // Idempotent: the next run changes nothing.
    let before = (world.messages("a"), world.messages("b"));
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    assert_eq!((world.messages("a"), world.messages("b")), before);
}

#[test]
fn dry_run_lists_every_action_and_changes_nothing() {
    let world = World::new("");
    world.deliver("a", "INBOX", "m1", "S");
    world.deliver("b", "Other", "m2", "");
    let before = (world.messages("a"), world.messages("b"));
    let run = world.run(&["sync", "--dry-run"]);
    assert_eq!(run.code(), 0, "{run}");
    let out = run.stdout();
    assert!(out.contains("collection INBOX: create on b"), "{out}");
    assert!(out.contains("collection Other: create on a"), "{out}");
    assert!(out.contains("INBOX: copy a->b u-m1 [S]"), "{out}");
    assert!(out.contains("Other: copy b->a u-m2 [-]"), "{out}");
    assert!(
        out.contains("would change: 1 copied a->b, 1 copied b->a"),
        "{out}"
    );
    assert_eq!((world.messages("a"), world.messages("b")), before);
    assert!(!world.root("b").join("INBOX").exists());
}

#[test]
fn emptied_side_is_refused_until_forced() {
    let world = World::new("");
    for i in 0..4 {
        world.deliver("a", "INBOX", &format!("m{i}"), "");
    }
    world.sync_ok();
    // The local tree's INBOX is wiped (a bad script, a failed mount).
    fs::remove_dir_all(world.root("b").join("INBOX")).unwrap();
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 5, "{run}");
    assert!(
        run.stderr().contains("side b is empty although 4 items"),
        "{run}"
    );
    assert_eq!(
        world.messages("a")["INBOX"].len(),
        4,
        "nothing deleted on a"
    );

    // The user meant it.
    let run = world.run(&["sync", "--force", "p/INBOX"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(world.messages("a")["INBOX"].is_empty());
}

/// A side that lost most of a folder but still lists a message is refused as well (issue 12),
/// unless the pair's `max_delete` allows it.
#[test]
fn a_side_wiped_to_one_message_is_refused_unless_max_delete_allows_it() {
    for (keys, code) in [("", 5), ("max_delete = \"100%\"\n", 0)] {
        let world = World::new(keys);
        for i in 0..10 {
            world.deliver("a", "INBOX", &format!("m{i}"), "");
        }
        world.sync_ok();
        for i in 0..9 {
            fs::remove_file(find_file(&world.root("b").join("INBOX"), &format!("m{i}"))).unwrap();
        }
        let run = world.run(&["sync"]);
        assert_eq!(run.code(), code, "{keys}: {run}");
        let left = if code == 0 { 1 } else { 10 };
        assert_eq!(world.messages("a")["INBOX"].len(), left, "{keys}: {run}");
    }
}

#[test]
fn one_way_pair_mirrors_without_pushing_back() {
    let world = World::new("direction = \"a-to-b\"\n");
    world.deliver("a", "INBOX", "m1", "");
    world.deliver("b", "INBOX", "local-only", "");
    world.sync_ok();
    assert!(world.messages("b")["INBOX"].contains_key("m1"));
    assert!(!world.messages("a")["INBOX"].contains_key("local-only"));
    // A flag set on b does not reach a, and is not undone on b.
    rename_flags(&world.root("b").join("INBOX"), "m1", "F");
    world.sync_ok();
    assert_eq!(world.messages("a")["INBOX"]["m1"], [""]);
    assert_eq!(world.messages("b")["INBOX"]["m1"], ["F"]);
}

#[test]
fn collection_filter_and_single_collection_target() {
    let world = World::new("collections = [\"*\", \"!Junk\"]\n");
    world.deliver("a", "INBOX", "m1", "");
    world.deliver("a", "Junk", "spam", "");
    world.deliver("a", "Work", "w1", "");
    let run = world.run(&["sync", "p/Work"]);
    assert_eq!(run.code(), 0, "{run}");
    let b = world.messages("b");
    assert!(b.contains_key("Work") && !b.contains_key("INBOX"), "{b:?}");
    world.sync_ok();
    let b = world.messages("b");
    assert!(b.contains_key("INBOX") && !b.contains_key("Junk"), "{b:?}");
}

#[test]
fn inbox_target_is_case_insensitive_and_bad_names_are_usage_errors() {
    let world = World::new("");
    world.deliver("a", "INBOX", "m1", "");
    world.deliver("a", "Other", "o1", "");
    let run = world.run(&["sync", "p/inbox"]);
    assert_eq!(run.code(), 0, "{run}");
    let b = world.messages("b");
    assert!(b.contains_key("INBOX") && !b.contains_key("Other"), "{b:?}");
    for bad in ["p/", "p/../x", "p/a//b"] {
        let run = world.run(&["sync", bad]);
        assert_eq!(run.code(), 2, "{bad}: {run}");
        assert!(
            run.stderr().contains("invalid collection name"),
            "{bad}: {run}"
        );
    }
}

#[test]
fn unknown_pair_is_a_usage_error() {
    let world = World::new("");
    let run = world.run(&["sync", "nope"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("no pair named \"nope\""), "{run}");
    assert!(run.stderr().contains("configured: p"), "{run}");
}

#[test]
fn help_documents_exit_statuses() {
    let world = World::new("");
    let run = world.run(&["--help"]);
    assert_eq!(run.code(), 0);
    assert!(run.stdout().contains("4  a pair is busy"), "{run}");
}

/// Renames the message `id` in `maildir` to carry exactly `flags`, as a mail reader would.
pub fn rename_flags(maildir: &std::path::Path, id: &str, flags: &str) {
    let file = find_file(maildir, id);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let unique = name.split(":2,").next().unwrap();
    fs::rename(
        &file,
        maildir.join("cur").join(format!("{unique}:2,{flags}")),
    )
    .unwrap();
}

/// The file holding message `id` (by Message-ID) in `maildir`.
pub fn find_file(maildir: &std::path::Path, id: &str) -> std::path::PathBuf {
    for sub in ["cur", "new"] {
        for entry in fs::read_dir(maildir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if fs::read_to_string(&path)
                .unwrap()
                .contains(&format!("Message-ID: <{id}@test>"))
            {
                return path;
            }
        }
    }
    panic!("message {id} not found in {}", maildir.display());
}

/// Both sides already hold the same mail and there is no status: a lost state file, or a move
/// from mbsync/OfflineIMAP with an existing local tree. Nothing may be duplicated, and flags set
/// on either side end up on both.
#[test]
fn lost_status_pairs_existing_mail_by_content_instead_of_duplicating() {
    let world = World::new("");
    for i in 0..20 {
        world.deliver("a", "INBOX", &format!("m{i}"), "");
    }
    world.sync_ok();
    rename_flags(&world.root("a").join("INBOX"), "m3", "S");
    rename_flags(&world.root("b").join("INBOX"), "m4", "F");
    world.deliver("a", "INBOX", "only-a", "");
    world.deliver("b", "INBOX", "only-b", "");
    std::fs::remove_dir_all(world.state_dir()).unwrap();

    let dry = world.run(&["sync", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{dry}");
    assert!(
        dry.stdout()
            .contains("would change: 1 copied a->b, 1 copied b->a, 2 flag changes"),
        "{dry}"
    );
    world.sync_ok();
    let tree = assert_converged(&world);
    let inbox = &tree["INBOX"];
    assert_eq!(inbox.len(), 22);
    assert_eq!(inbox["m3"], ["S"]);
    assert_eq!(inbox["m4"], ["F"]);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// Moves a message file from one folder to another, as a mail reader does.
fn move_message(maildir_root: &std::path::Path, from: &str, to: &str, id: &str) {
    let file = find_file(&maildir_root.join(from), id);
    let sub = file.parent().unwrap().file_name().unwrap().to_owned();
    let target = maildir_root
        .join(to)
        .join(sub)
        .join(file.file_name().unwrap());
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir_root.join(to).join(sub)).unwrap();
    }
    std::fs::rename(&file, target).unwrap();
}

fn inode(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

/// A message moved between folders on one side is moved on the other side too (the same file,
/// not a deletion and a new copy), with the flags it has where it was moved to.
#[test]
fn messages_moved_between_folders_are_moved_not_recopied() {
    let world = World::new("");
    for i in 0..5 {
        world.deliver("a", "INBOX", &format!("m{i}"), "");
    }
    world.deliver("a", "Archive", "old", "S");
    world.sync_ok();
    let a = world.root("a");
    let before = inode(&find_file(&a.join("INBOX"), "m1"));

    // On b, m1 is moved to Archive and flagged there, and m2 is moved to a new folder.
    move_message(&world.root("b"), "INBOX", "Archive", "m1");
    rename_flags(&world.root("b").join("Archive"), "m1", "F");
    common::deliver(&world.root("b").join("Lists"), "list-mail", "");
    move_message(&world.root("b"), "INBOX", "Lists", "m2");

    let dry = world.run(&["sync", "--dry-run"]);
    assert!(
        dry.stdout().contains("move on a u-m1: INBOX -> Archive"),
        "{dry}"
    );
    let run = world.sync_ok();
    assert!(run.stdout().contains("Archive: 1 moved"), "{run}");
    let tree = assert_converged(&world);
    assert!(!tree["INBOX"].contains_key("m1") && !tree["INBOX"].contains_key("m2"));
    assert_eq!(tree["Archive"]["m1"], ["F"]);
    assert_eq!(tree["Lists"]["m2"], [""]);
    assert_eq!(
        inode(&find_file(&a.join("Archive"), "m1")),
        before,
        "moved, not copied"
    );
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// Moving every message out of a folder empties it on purpose: the empty-side guard must not
/// stop the moves, and nothing may be duplicated.
#[test]
fn emptying_a_folder_by_moving_everything_is_not_a_mass_deletion() {
    let world = World::new("");
    for i in 0..4 {
        world.deliver("a", "INBOX", &format!("m{i}"), "");
    }
    world.sync_ok();
    for i in 0..4 {
        move_message(&world.root("b"), "INBOX", "Archive", &format!("m{i}"));
    }
    let run = world.sync_ok();
    assert!(run.stdout().contains("4 moved"), "{run}");
    let tree = assert_converged(&world);
    assert!(tree["INBOX"].is_empty());
    assert_eq!(tree["Archive"].len(), 4);

    // Moving most of a folder is no mass deletion either (issue 12): eight of ten messages
    // leave Archive for Lists on b, while Archive still lists two.
    for i in 4..10 {
        world.deliver("a", "Archive", &format!("m{i}"), "");
    }
    world.sync_ok();
    for i in 0..8 {
        move_message(&world.root("b"), "Archive", "Lists", &format!("m{i}"));
    }
    let run = world.sync_ok();
    assert!(run.stdout().contains("8 moved"), "{run}");
    let tree = assert_converged(&world);
    assert_eq!((tree["Archive"].len(), tree["Lists"].len()), (2, 8));

    // Folders emptied by deletion are still refused: Lists held 5 or more, and the small
    // Archive emptied beside it is no user's lone deletion (see the next test).
    for folder in ["Archive", "Lists"] {
        empty_folder(&world.root("b").join(folder));
    }
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 5, "{run}");
}

fn empty_folder(maildir: &std::path::Path) {
    for sub in ["cur", "new"] {
        for entry in fs::read_dir(maildir.join(sub)).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
    }
}

/// Sending your only draft empties Drafts on purpose (issue 12, smallempty): a folder of fewer
/// than 5 messages emptied on a side that still shows mail in another folder is synced, not
/// refused on every later run. A side on which every folder is empty at once is a wipe, small
/// folders or not, and stays refused.
#[test]
fn sending_the_only_draft_is_synced_but_a_wiped_side_is_refused() {
    let world = World::new("collections = [\"*\"]\n");
    for i in 0..6 {
        world.deliver("a", "INBOX", &format!("m{i}"), "");
    }
    world.deliver("a", "Drafts", "draft", "D");
    world.sync_ok();
    // Once the copies are older than a clock tick, a quiet run leaves INBOX settled: from now
    // on it is skipped as unchanged, not listed, and still shows that side a holds mail.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    world.sync_ok();

    fs::remove_file(find_file(&world.root("a").join("Drafts"), "draft")).unwrap();
    let dry = world.run(&["sync", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{dry}");
    assert!(dry.stdout().contains("Drafts: delete"), "{dry}");
    assert_eq!(world.messages("b")["Drafts"].len(), 1, "{dry}");
    let run = world.run(&["-vv", "sync"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stdout()
            .contains("p: INBOX: unchanged since the last sync"),
        "{run}"
    );
    let tree = assert_converged(&world);
    assert!(tree["Drafts"].is_empty(), "{run}");
    assert_eq!(tree["INBOX"].len(), 6);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");

    // Every folder of a empties at once, each under 5 messages: a wipe.
    let world = World::new("collections = [\"*\"]\n");
    for i in 0..3 {
        world.deliver("a", "INBOX", &format!("m{i}"), "");
    }
    world.deliver("a", "Drafts", "draft", "D");
    world.sync_ok();
    for folder in ["INBOX", "Drafts"] {
        empty_folder(&world.root("a").join(folder));
    }
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 5, "{run}");
    let b = world.messages("b");
    assert_eq!((b["INBOX"].len(), b["Drafts"].len()), (3, 1), "{run}");
}
