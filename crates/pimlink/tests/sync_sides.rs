//! End-to-end: the per-side options of a mail pair (`read_only`, `expunge`, `trash`, `remove`)
//! through the `pimlink` binary, between a private Dovecot (side a) and a Maildir (side b),
//! with changes on both sides between runs, a second run proving idempotence, and `--dry-run`
//! showing the actions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{
    client_verbs, dovecot_options, message, sync_logging_wire, user_tree, write_imap_maildir_config,
};
use common::{Run, Tree, World, block_on, find_file, set_local_flags, uid_of};
use std::fs;
use std::path::{Path, PathBuf};

use pimlink_core::{Flag, Flags};
use pimlink_imap::{Client, StoreMode, UidRanges};
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// A world: side a is the server's user (with `a_keys` in its storage table), side b a
/// verbatim Maildir (with `b_keys`), paired with `pair_keys`.
fn world(server: &Dovecot, a_keys: &str, b_keys: &str, pair_keys: &str) -> World {
    let world = World::new("");
    write_imap_maildir_config(&world, server, a_keys, b_keys, pair_keys);
    world
}

/// Changes the flags of message `id` in `folder` on the server as another client would, and
/// expunges it afterwards if `expunge`.
fn server_store(server: &Dovecot, folder: &str, id: &str, mode: StoreMode, flags: Flags) {
    server_store_then(server, folder, id, mode, flags, false);
}

fn server_delete(server: &Dovecot, folder: &str, id: &str) {
    let deleted = Flags::new().with(Flag::Trashed);
    server_store_then(server, folder, id, StoreMode::Add, deleted, true);
}

fn server_store_then(
    server: &Dovecot,
    folder: &str,
    id: &str,
    mode: StoreMode,
    flags: Flags,
    expunge: bool,
) {
    block_on(async {
        let mut client = Client::connect(dovecot_options(server, server.user(), server.password()))
            .await
            .unwrap();
        client.select(folder, Default::default()).await.unwrap();
        let uid = uid_of(&mut client, id).await;
        let uid = UidRanges::single(uid);
        client.store(&uid, mode, &flags, None).await.unwrap();
        if expunge {
            client.uid_expunge(&uid).await.unwrap();
        }
        client.logout().await.unwrap();
    })
}

/// Every path below `root` with its length: what "never written" is checked against.
fn snapshot(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.push((entry.path(), if meta.is_dir() { 0 } else { meta.len() }));
        }
    }
    out.sort();
    out
}

fn ids(tree: &Tree, folder: &str) -> Vec<String> {
    tree.get(folder)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn assert_idempotent(world: &World, server: &Dovecot) {
    let before = (server_tree(server), world.messages("b"));
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    assert_eq!((server_tree(server), world.messages("b")), before);
}

fn dry_run(world: &World) -> Run {
    let run = world.run(&["sync", "--dry-run"]);
    assert_eq!(run.code(), 0, "{run}");
    run
}

#[test]
fn a_read_only_maildir_is_never_written_and_its_changes_wait() {
    let server = DovecotBuilder::new().start().unwrap();
    for id in ["s0", "s1"] {
        server
            .deliver(server.user(), "INBOX", &message(id))
            .unwrap();
    }
    server
        .deliver(server.user(), "Only.Server", &message("o1"))
        .unwrap();
    let world = world(&server, "", "read_only = true", "");
    world.deliver("b", "INBOX", "l0", "S");
    world.deliver("b", "INBOX", "l1", "");
    let local = world.root("b");
    let untouched = snapshot(&local);

    let run = world.sync_ok();
    assert_eq!(snapshot(&local), untouched, "{run}");
    let tree = server_tree(&server);
    assert_eq!(ids(&tree, "INBOX"), ["l0", "l1", "s0", "s1"], "{run}");
    assert_eq!(tree["INBOX"]["l0"], ["S"]);
    assert!(
        !local.join("Only").exists(),
        "no folder created on a read-only side"
    );

    // Changes on both sides: the server deletes and flags the local messages and gets new
    // mail; locally a flag changes and a message arrives.
    server_delete(&server, "INBOX", "l0");
    server_store(
        &server,
        "INBOX",
        "l1",
        StoreMode::Add,
        Flags::new().with(Flag::Flagged),
    );
    server
        .deliver(server.user(), "INBOX", &message("s2"))
        .unwrap();
    set_local_flags(&local.join("INBOX"), "l1", "S");
    world.deliver("b", "INBOX", "l2", "");
    let untouched = snapshot(&local);

    let dry = dry_run(&world);
    for write in ["->b", "flags on b", "delete on b", "create on b"] {
        assert!(!dry.stdout().contains(write), "{dry}");
    }
    assert!(dry.stdout().contains("copy b->a"), "{dry}");
    // Waiting: the deletion of l0, the flag on l1, new s2 (s0 and s1 too, never copied).
    assert!(
        dry.stdout()
            .contains("INBOX: 5 changes wait for side b, which is read-only"),
        "{dry}"
    );
    let run = world.sync_ok();
    assert_eq!(snapshot(&local), untouched, "{run}");
    let tree = server_tree(&server);
    // l0 is not uploaded again (its deletion waits), l1 gets the local \Seen, l2 arrives.
    assert_eq!(ids(&tree, "INBOX"), ["l1", "l2", "s0", "s1", "s2"], "{run}");
    assert_eq!(tree["INBOX"]["l1"], ["FS"]);
    assert_idempotent(&world, &server);
    assert_eq!(snapshot(&local), untouched);
}

#[test]
fn without_expunge_a_deletion_marks_the_message_and_keeps_it_paired() {
    let server = DovecotBuilder::new().start().unwrap();
    for id in ["s0", "s1", "s2", "s3"] {
        server
            .deliver(server.user(), "INBOX", &message(id))
            .unwrap();
    }
    // The Maildir keeps deleted messages (marked T) for the mail reader to purge; the server
    // expunges.
    let world = world(&server, "", "", "expunge = [\"a\"]");
    world.sync_ok();
    let inbox = world.root("b").join("INBOX");

    // Deleted on the server: marked on the Maildir. Marked \Deleted locally: expunged on the
    // server, kept marked locally.
    server_delete(&server, "INBOX", "s1");
    set_local_flags(&inbox, "s2", "ST");
    let dry = dry_run(&world);
    assert!(dry.stdout().contains("-> [T]"), "{dry}");
    assert!(
        dry.stdout().contains("(kept on b, marked deleted)"),
        "{dry}"
    );
    let run = world.sync_ok();
    let local = world.messages("b");
    assert_eq!(local["INBOX"]["s1"], ["T"], "{run}");
    assert_eq!(local["INBOX"]["s2"], ["ST"]);
    assert_eq!(ids(&server_tree(&server), "INBOX"), ["s0", "s3"], "{run}");
    assert_idempotent(&world, &server);

    // The mail reader purges s1; the user undeletes s2: it goes back to the server. A new
    // local message marked T is not uploaded just to be expunged there.
    fs::remove_file(find_file(&inbox, "s1")).unwrap();
    set_local_flags(&inbox, "s2", "S");
    world.deliver("b", "INBOX", "l-trashed", "T");
    let run = world.sync_ok();
    let server_inbox = server_tree(&server)["INBOX"].clone();
    assert_eq!(
        server_inbox.keys().collect::<Vec<_>>(),
        ["s0", "s2", "s3"],
        "{run}"
    );
    assert_eq!(server_inbox["s2"], ["S"]);
    let local = world.messages("b");
    assert_eq!(ids(&local, "INBOX"), ["l-trashed", "s0", "s2", "s3"]);
    assert_idempotent(&world, &server);

    // Marked \Deleted on the server (not expunged there by the client): the server expunges
    // it, the Maildir gets the mark.
    server_store(
        &server,
        "INBOX",
        "s3",
        StoreMode::Add,
        Flags::new().with(Flag::Trashed),
    );
    let run = world.sync_ok();
    assert_eq!(ids(&server_tree(&server), "INBOX"), ["s0", "s2"], "{run}");
    assert_eq!(world.messages("b")["INBOX"]["s3"], ["T"], "kept, marked");
}

#[test]
fn deletions_go_into_each_sides_trash_folder() {
    let server = DovecotBuilder::new().start().unwrap();
    for id in ["s0", "s1", "s2", "s3"] {
        server
            .deliver(server.user(), "INBOX", &message(id))
            .unwrap();
    }
    let world = world(
        &server,
        "trash = \"Trash\"",
        "trash = \"Deleted\"",
        "collections = [\"*\", \"!Trash\", \"!Deleted\"]",
    );
    world.sync_ok();
    let inbox = world.root("b").join("INBOX");

    // Deleted locally: moved into the server's Trash. Deleted on the server: moved into the
    // local Deleted folder. Marked \Deleted locally: into both trash folders.
    fs::remove_file(find_file(&inbox, "s1")).unwrap();
    server_delete(&server, "INBOX", "s2");
    set_local_flags(&inbox, "s3", "FT");
    let dry = dry_run(&world);
    assert!(dry.stdout().contains("delete on a"), "{dry}");
    assert!(dry.stdout().contains("(into Trash)"), "{dry}");
    assert!(dry.stdout().contains("(into Deleted)"), "{dry}");
    let run = world.sync_ok();
    let tree = server_tree(&server);
    assert_eq!(ids(&tree, "INBOX"), ["s0"], "{run}");
    assert_eq!(ids(&tree, "Trash"), ["s1", "s3"], "{run}");
    assert_eq!(tree["Trash"]["s3"], [""], "as it was on the server");
    let local = world.messages("b");
    assert_eq!(ids(&local, "INBOX"), ["s0"]);
    assert_eq!(ids(&local, "Deleted"), ["s2", "s3"], "{run}");
    assert_eq!(local["Deleted"]["s3"], ["F"], "no T mark in the trash");
    assert!(
        !local.contains_key("Trash"),
        "the trash is not synced: {local:?}"
    );
    assert!(!tree.contains_key("Deleted"), "{tree:?}");
    assert_idempotent(&world, &server);
}

#[test]
fn a_deleted_folder_is_removed_on_the_other_side_only_when_nothing_is_lost() {
    let server = DovecotBuilder::new().start().unwrap();
    for (folder, id) in [
        ("INBOX", "i0"),
        ("Old", "o0"),
        ("Old", "o1"),
        ("Empty", "e0"),
    ] {
        server.deliver(server.user(), folder, &message(id)).unwrap();
    }
    let world = world(
        &server,
        "trash = \"Trash\"",
        "",
        "collections = [\"*\", \"!Trash\"]\nremove = [\"a\", \"b\"]",
    );
    let local = world.root("b");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(local.join("Busy").join(sub)).unwrap();
    }
    world.sync_ok();
    assert!(server_tree(&server).contains_key("Busy"));

    // Locally, Old is deleted: removed on the server (its messages go into the server's
    // Trash). On the server, Busy is deleted while a new local message waits in it: it is
    // recreated and gets the message. Empty is emptied locally and deleted on the server:
    // removed locally.
    fs::remove_dir_all(local.join("Old")).unwrap();
    server
        .doveadm(&["mailbox", "delete", "-u", server.user(), "Busy"])
        .unwrap();
    world.deliver("b", "Busy", "b-new", "");
    fs::remove_file(find_file(&local.join("Empty"), "e0")).unwrap();
    server
        .doveadm(&["mailbox", "delete", "-u", server.user(), "Empty"])
        .unwrap();
    let dry = dry_run(&world);
    assert!(
        dry.stdout().contains("collection Old: remove on a"),
        "{dry}"
    );
    assert!(
        dry.stdout().contains("collection Empty: remove on b"),
        "{dry}"
    );
    assert!(
        dry.stdout().contains("collection Busy: create on a"),
        "{dry}"
    );
    let run = world.sync_ok();
    assert!(run.stdout().contains("Old: removed on side a"), "{run}");
    assert!(run.stdout().contains("Empty: removed on side b"), "{run}");
    let tree = server_tree(&server);
    assert!(!tree.contains_key("Old"), "{run}\n{tree:?}");
    assert_eq!(ids(&tree, "Trash"), ["o0", "o1"], "nothing lost: {run}");
    assert_eq!(ids(&tree, "Busy"), ["b-new"], "{run}");
    assert!(!local.join("Empty").exists(), "{run}");
    assert!(!local.join("Old").exists());
    assert_eq!(ids(&world.messages("b"), "Busy"), ["b-new"]);
    assert_eq!(ids(&tree, "INBOX"), ["i0"]);
    assert_idempotent(&world, &server);

    // A folder deleted on the server whose synced messages are still here, next to a new
    // one: kept, recreated on the server (a new UIDVALIDITY there) and filled again.
    server
        .deliver(server.user(), "Mixed", &message("m0"))
        .unwrap();
    world.sync_ok();
    server
        .doveadm(&["mailbox", "delete", "-u", server.user(), "Mixed"])
        .unwrap();
    world.deliver("b", "Mixed", "m-new", "");
    let run = world.sync_ok();
    assert_eq!(ids(&world.messages("b"), "Mixed"), ["m-new", "m0"], "{run}");
    assert_eq!(
        ids(&server_tree(&server), "Mixed"),
        ["m-new", "m0"],
        "{run}"
    );
    assert_idempotent(&world, &server);
}

#[test]
fn a_read_only_server_side_of_a_pair_is_never_written() {
    let server = DovecotBuilder::new().start().unwrap();
    for id in ["s0", "s1"] {
        server
            .deliver(server.user(), "INBOX", &message(id))
            .unwrap();
    }
    let world = world(&server, "", "", "read_only = [\"a\"]");
    world.deliver("b", "Local", "l0", "");
    world.sync_ok();
    let untouched = server_tree(&server);
    assert_eq!(ids(&untouched, "INBOX"), ["s0", "s1"]);
    assert!(
        !untouched.contains_key("Local"),
        "no folder created: {untouched:?}"
    );
    assert_eq!(ids(&world.messages("b"), "INBOX"), ["s0", "s1"]);

    // Locally a message is flagged, one deleted, one marked \Deleted; the server flags one.
    let inbox = world.root("b").join("INBOX");
    set_local_flags(&inbox, "s0", "FT");
    fs::remove_file(find_file(&inbox, "s1")).unwrap();
    server_store(
        &server,
        "INBOX",
        "s1",
        StoreMode::Add,
        Flags::new().with(Flag::Seen),
    );
    let dry = dry_run(&world);
    assert!(
        dry.stdout()
            .contains("changes wait for side a, which is read-only"),
        "{dry}"
    );
    let run = sync_logging_wire(&world);
    // A side the pair never writes is only ever EXAMINEd, so that the server changes nothing
    // either (SELECT would clear \Recent).
    let verbs = client_verbs(&run);
    assert!(verbs.iter().any(|v| v == "EXAMINE"), "{verbs:?}");
    assert!(!verbs.iter().any(|v| v == "SELECT"), "{verbs:?}");
    let tree = server_tree(&server);
    assert_eq!(tree["INBOX"]["s0"], [""], "{run}");
    assert_eq!(tree["INBOX"]["s1"], ["S"], "{run}");
    assert_eq!(ids(&tree, "INBOX"), ["s0", "s1"]);
    // The local \Deleted message is expunged locally (the Maildir expunges); the deletion of s1
    // waits, so s1 is not downloaded again.
    assert_eq!(
        ids(&world.messages("b"), "INBOX"),
        Vec::<String>::new(),
        "{run}"
    );
    assert_idempotent(&world, &server);
}

#[test]
fn killed_runs_with_trash_and_deleted_marks_lose_and_duplicate_nothing() {
    // Maildir a (expunges, trash "Trash") <-> Maildir b (keeps deleted messages marked).
    let world = World::new("collections = [\"*\", \"!Trash\"]\nexpunge = [\"a\"]");
    let config = fs::read_to_string(world.config()).unwrap().replacen(
        "layout = \"verbatim\"\n",
        "layout = \"verbatim\"\ntrash = \"Trash\"\n",
        1,
    );
    fs::write(world.config(), config).unwrap();
    for i in 0..200 {
        world.deliver("a", "INBOX", &format!("m{i:03}"), "");
    }
    world.sync_ok();
    // On b: m000..m099 deleted, m100..m149 marked \Deleted. On a: m150..m169 deleted.
    let b_inbox = world.root("b").join("INBOX");
    for i in 0..150 {
        let id = format!("m{i:03}");
        if i < 100 {
            fs::remove_file(find_file(&b_inbox, &id)).unwrap();
        } else {
            set_local_flags(&b_inbox, &id, "T");
        }
    }
    let a_inbox = world.root("a").join("INBOX");
    for i in 150..170 {
        fs::remove_file(find_file(&a_inbox, &format!("m{i:03}"))).unwrap();
    }
    // One batch of changes: the first kill is sure to interrupt it, later ones need not.
    let kills = common::sync_with_kills(&world, 6);
    assert!(
        kills >= 1,
        "the kills should interrupt the sync, got {kills}"
    );
    world.sync_ok();
    let a = world.messages("a");
    let b = world.messages("b");
    let expect_ids = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("m{i:03}")).collect()
    };
    assert_eq!(ids(&a, "INBOX"), expect_ids(170..200), "{kills} kills");
    assert_eq!(ids(&a, "Trash"), expect_ids(0..150), "{kills} kills");
    for i in 0..150 {
        let id = format!("m{i:03}");
        assert_eq!(
            a["Trash"][&id],
            [""],
            "{id}: no \\Deleted mark in the trash"
        );
    }
    for (folder, messages) in a.iter().chain(&b) {
        for (id, copies) in messages {
            assert_eq!(
                copies.len(),
                1,
                "{folder}: {id} {copies:?} after {kills} kills"
            );
        }
    }
    assert_eq!(ids(&b, "INBOX"), expect_ids(100..200), "{kills} kills");
    for i in 100..200 {
        let want = if i < 170 { "T" } else { "" };
        assert_eq!(b["INBOX"][&format!("m{i:03}")], [want], "m{i:03}");
    }
    assert!(!b.contains_key("Trash"));
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn a_server_that_cannot_delete_gets_no_trash_copies() {
    // No UIDPLUS: pimlink cannot delete there (a plain EXPUNGE would also remove what other
    // clients marked), so a deletion fails with an error; the trash must not receive a copy
    // each run meanwhile.
    let server = DovecotBuilder::new()
        .capabilities("IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UNSELECT NAMESPACE")
        .start()
        .unwrap();
    for id in ["s0", "s1"] {
        server
            .deliver(server.user(), "INBOX", &message(id))
            .unwrap();
    }
    let world = world(
        &server,
        "trash = \"Trash\"",
        "",
        "collections = [\"INBOX\"]",
    );
    world.sync_ok();
    let inbox = world.root("b").join("INBOX");
    fs::remove_file(find_file(&inbox, "s1")).unwrap();
    for _ in 0..2 {
        let run = world.run(&["sync"]);
        assert_eq!(run.code(), 1, "{run}");
        assert!(run.stderr().contains("not copied into the trash"), "{run}");
        let tree = server_tree(&server);
        assert_eq!(ids(&tree, "INBOX"), ["s0", "s1"], "{run}");
        assert!(!tree.contains_key("Trash"), "{run}");
    }
}

/// Every message of the test user on the server.
fn server_tree(server: &Dovecot) -> Tree {
    user_tree(server, server.user(), server.password())
}
