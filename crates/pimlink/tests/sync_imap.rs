//! End-to-end: IMAP <-> Maildir and IMAP <-> IMAP through the `pimlink` binary, against a
//! private Dovecot. The server side is inspected with pimlink's own IMAP client, the Maildir
//! side by reading the files.
//!
//! One file for IMAP pairs end to end: the cases share the Dovecot worlds and the inspection
//! helpers at its top; the later ones (from `selects_in`) check what a run costs on the wire
//! (SELECTs, APPENDs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{
    client_verbs, dovecot_options, message, sync_logging_wire, user_tree, write_imap_maildir_config,
};
use common::status::status_sql;
use common::{Tree, World, block_on, find_file, set_local_flags, sync_with_kills, uid_of};
use std::fs;
use std::time::{Duration, Instant};

use pimlink_core::{Flag, Flags};
use pimlink_imap::{Client, StoreMode, UidRanges};
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// Dovecot without UIDPLUS, CONDSTORE and QRESYNC.
const MINIMAL: &str = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UNSELECT NAMESPACE";

fn imap_storage(name: &str, server: &Dovecot, user: &str, password: &str) -> String {
    format!(
        "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
         user = \"{user}\"\npassword = \"{password}\"\n\n",
        server.host(),
        server.port()
    )
}

/// A world whose side a is the server's first user and side b a verbatim Maildir.
fn imap_maildir_world(server: &Dovecot, extra_pair_keys: &str) -> World {
    let world = World::new("");
    write_imap_maildir_config(&world, server, "", "", extra_pair_keys);
    world
}

/// Changes flags of the message `id` in `folder` on the server, as another mail client would.
fn server_flags(
    server: &Dovecot,
    user: &str,
    folder: &str,
    id: &str,
    mode: StoreMode,
    flags: Flags,
) {
    block_on(async {
        let mut client = Client::connect(dovecot_options(server, user, password_of(server, user)))
            .await
            .unwrap();
        client.select(folder, Default::default()).await.unwrap();
        let uid = uid_of(&mut client, id).await;
        client
            .store(&UidRanges::single(uid), mode, &flags, None)
            .await
            .unwrap();
        if flags.contains(Flag::Trashed) && mode == StoreMode::Add {
            client.uid_expunge(&UidRanges::single(uid)).await.unwrap();
        }
        client.logout().await.unwrap();
    })
}

fn password_of<'s>(server: &'s Dovecot, user: &str) -> &'s str {
    if user == server.user() {
        server.password()
    } else {
        "secret-bob"
    }
}

/// Asserts every message is there once per side and both sides agree; returns the tree.
fn assert_same(server: &Tree, local: &Tree) -> Tree {
    for (side, tree) in [("server", server), ("local", local)] {
        for (folder, messages) in tree {
            for (id, copies) in messages {
                assert_eq!(
                    copies.len(),
                    1,
                    "{side} {folder}: {id} has copies {copies:?}"
                );
            }
        }
    }
    assert_eq!(server, local, "server and Maildir differ");
    server.clone()
}

/// A local tree wiped to one message of a folder (issue 12) must not spread to the server: the
/// run is refused with exit status 5 and a message saying what and how to go ahead, nothing is
/// deleted, and `--force` on that folder then deletes.
#[test]
fn a_maildir_wiped_to_one_message_deletes_nothing_on_the_server_until_forced() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..10 {
        server
            .deliver(&user, "INBOX", &message(&format!("m{i}")))
            .unwrap();
    }
    let world = imap_maildir_world(&server, "");
    world.sync_ok();
    let inbox = world.root("b").join("INBOX");
    for i in 0..9 {
        fs::remove_file(find_file(&inbox, &format!("m{i}"))).unwrap();
    }
    let on_server = || user_tree(&server, &user, server.password())["INBOX"].len();

    let refused = world.run(&["sync"]);
    assert_eq!(refused.code(), 5, "{refused}");
    for part in [
        "pimlink: p: collection INBOX: side b no longer has 9 of the 10 items",
        "refusing to delete them on side a",
        "max_delete = \"50%\"",
        "pimlink sync --force p/INBOX",
    ] {
        assert!(
            refused.stderr().contains(part),
            "{part:?} missing: {refused}"
        );
    }
    assert_eq!(on_server(), 10, "nothing deleted: {refused}");

    let forced = world.run(&["sync", "--force", "p/INBOX"]);
    assert_eq!(forced.code(), 0, "{forced}");
    assert_eq!(on_server(), 1, "{forced}");
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn imap_and_maildir_converge_with_changes_on_both_sides() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..5 {
        server
            .deliver(&user, "INBOX", &message(&format!("s{i}")))
            .unwrap();
    }
    server
        .deliver(&user, "Lists.rust", &message("list1"))
        .unwrap();
    server_flags(
        &server,
        &user,
        "INBOX",
        "s1",
        StoreMode::Add,
        Flags::new().with(Flag::Seen),
    );
    let world = imap_maildir_world(&server, "");
    world.deliver("b", "INBOX", "l0", "");
    world.deliver("b", "Entwürfe", "draft", "D");
    world.deliver("b", "Ünïcode/Ordner", "u1", "FS");

    let first = world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"].len(), 6, "{first}");
    assert_eq!(tree["INBOX"]["s1"], ["S"]);
    assert_eq!(tree["Lists/rust"]["list1"], [""]);
    assert_eq!(tree["Entwürfe"]["draft"], ["D"]);
    assert_eq!(tree["Ünïcode/Ordner"]["u1"], ["FS"]);

    // Changes on both sides: one flag each on s1, a flag on each side's own message, a
    // deletion on each side, new mail on each side, a new folder on each side.
    let inbox = world.root("b").join("INBOX");
    set_local_flags(&inbox, "s1", "FS");
    server_flags(
        &server,
        &user,
        "INBOX",
        "s1",
        StoreMode::Add,
        Flags::new().with(Flag::Replied),
    );
    server_flags(
        &server,
        &user,
        "INBOX",
        "l0",
        StoreMode::Add,
        Flags::new().with(Flag::Passed),
    );
    set_local_flags(&inbox, "s2", "S");
    fs::remove_file(find_file(&inbox, "s3")).unwrap();
    server_flags(
        &server,
        &user,
        "INBOX",
        "s4",
        StoreMode::Add,
        Flags::new().with(Flag::Trashed),
    );
    server
        .deliver(&user, "INBOX", &message("new-on-server"))
        .unwrap();
    world.deliver("b", "INBOX", "new-local", "F");
    server.deliver(&user, "Server.Neu", &message("sn")).unwrap();
    world.deliver("b", "Local/Sub", "ls", "");

    world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    let inbox_tree = &tree["INBOX"];
    assert_eq!(
        inbox_tree["s1"],
        ["FRS"],
        "per-flag merge keeps both changes"
    );
    assert_eq!(inbox_tree["l0"], ["P"]);
    assert_eq!(inbox_tree["s2"], ["S"]);
    assert!(
        !inbox_tree.contains_key("s3") && !inbox_tree.contains_key("s4"),
        "{inbox_tree:?}"
    );
    assert_eq!(inbox_tree["new-on-server"], [""]);
    assert_eq!(inbox_tree["new-local"], ["F"]);
    assert_eq!(tree["Server/Neu"]["sn"], [""]);
    assert_eq!(tree["Local/Sub"]["ls"], [""]);

    // Idempotent.
    let before = (
        user_tree(&server, &user, server.password()),
        world.messages("b"),
    );
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    assert_eq!(
        (
            user_tree(&server, &user, server.password()),
            world.messages("b")
        ),
        before
    );

    // Downloaded files hold the server's bytes, with LF line ends as in any Unix Maildir.
    let file = fs::read(find_file(&world.root("b").join("Lists/rust"), "list1")).unwrap();
    let expected = String::from_utf8(message("list1"))
        .unwrap()
        .replace("\r\n", "\n");
    assert_eq!(file, expected.into_bytes());
}

#[test]
fn a_recreated_server_folder_is_recognised_by_content() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..4 {
        server
            .deliver(&user, "Box", &message(&format!("m{i}")))
            .unwrap();
    }
    let world = imap_maildir_world(&server, "");
    world.sync_ok();

    // The folder is deleted and recreated with the same messages: a new UIDVALIDITY, new UIDs.
    // Meanwhile a message is flagged locally.
    server
        .doveadm(&["mailbox", "delete", "-u", &user, "Box"])
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    for i in 0..4 {
        server
            .deliver(&user, "Box", &message(&format!("m{i}")))
            .unwrap();
    }
    set_local_flags(&world.root("b").join("Box"), "m1", "F");
    let run = world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["Box"].len(), 4, "no duplicates, nothing lost: {run}");
    assert_eq!(
        tree["Box"]["m1"],
        ["F"],
        "the local change reached the new copy"
    );
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn a_server_without_uidplus_condstore_or_qresync_syncs_too() {
    let server = DovecotBuilder::new().capabilities(MINIMAL).start().unwrap();
    let user = server.user().to_owned();
    for i in 0..3 {
        server
            .deliver(&user, "INBOX", &message(&format!("s{i}")))
            .unwrap();
    }
    let world = imap_maildir_world(&server, "");
    for i in 0..3 {
        world.deliver("b", "INBOX", &format!("l{i}"), "S");
    }
    world.deliver("b", "Archiv", "a0", "");
    world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"].len(), 6);
    assert_eq!(tree["INBOX"]["l1"], ["S"]);

    server_flags(
        &server,
        &user,
        "INBOX",
        "s0",
        StoreMode::Add,
        Flags::new().with(Flag::Flagged),
    );
    set_local_flags(&world.root("b").join("INBOX"), "s1", "S");
    world.deliver("b", "INBOX", "l-new", "");
    world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"]["s0"], ["F"]);
    assert_eq!(tree["INBOX"]["s1"], ["S"]);
    assert_eq!(tree["INBOX"]["l-new"], [""]);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn killed_initial_download_resumes_with_every_message_once() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    let inbox: Vec<Vec<u8>> = (0..400).map(|i| message(&format!("m{i}"))).collect();
    server
        .deliver_many(&user, "INBOX", inbox.iter().map(Vec::as_slice))
        .unwrap();
    let other: Vec<Vec<u8>> = (0..100).map(|i| message(&format!("o{i}"))).collect();
    server
        .deliver_many(&user, "Other", other.iter().map(Vec::as_slice))
        .unwrap();
    let world = imap_maildir_world(&server, "");
    world.deliver("b", "INBOX", "local", "S");
    // Three batches of changes (INBOX's 401 copies make two), each printing more than a
    // killed run may, over two connections: a killed run records at most two of them.
    let kills = sync_with_kills(&world, 8);
    assert!(
        kills >= 2,
        "the kills should interrupt the sync several times, got {kills}"
    );
    world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"].len(), 401);
    assert_eq!(tree["Other"].len(), 100);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// Kills pimlink during an upload of local mail (and a download) to a server with or without
/// UIDPLUS, then checks a clean run leaves every message exactly once on both sides.
fn killed_upload_resumes(caps: Option<&str>) {
    let mut builder = DovecotBuilder::new();
    if let Some(caps) = caps {
        builder = builder.capabilities(caps);
    }
    let server = builder.start().unwrap();
    let user = server.user().to_owned();
    let remote: Vec<Vec<u8>> = (0..100).map(|i| message(&format!("r{i}"))).collect();
    server
        .deliver_many(&user, "INBOX", remote.iter().map(Vec::as_slice))
        .unwrap();
    let world = imap_maildir_world(&server, "");
    for i in 0..200 {
        let flags = ["", "S", "FS"][i % 3];
        world.deliver("b", "INBOX", &format!("l{i}"), flags);
        if i % 4 == 0 {
            world.deliver("b", "Sent", &format!("s{i}"), "S");
        }
    }
    // Three batches (INBOX's 300 copies make two), over two connections: see above.
    let kills = sync_with_kills(&world, 8);
    assert!(
        kills >= 2,
        "the kills should interrupt the sync, got {kills}"
    );
    world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"].len(), 300);
    assert_eq!(tree["INBOX"]["l2"], ["FS"]);
    assert_eq!(tree["Sent"].len(), 50);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn killed_upload_resumes_with_every_message_once() {
    killed_upload_resumes(None);
}

#[test]
fn killed_upload_without_uidplus_resumes_with_every_message_once() {
    killed_upload_resumes(Some(MINIMAL));
}

/// A run killed while an APPEND was in flight leaves a pending row without the server's UID.
/// The next run does not find the message and uploads it again; then the server finishes the
/// old APPEND (Dovecot completes a dead connection's command whose literal it had received).
/// That late message must not come back to the Maildir as new mail. The kill tests meet this
/// race only by chance; here each step is made to happen. Without UIDPLUS and with it.
fn a_late_append_of_an_interrupted_run_is_removed_not_duplicated(caps: Option<&str>) {
    let mut builder = DovecotBuilder::new();
    if let Some(caps) = caps {
        builder = builder.capabilities(caps);
    }
    let server = builder.start().unwrap();
    let user = server.user().to_owned();
    let world = imap_maildir_world(&server, "");
    world.deliver("b", "INBOX", "m1", "");
    world.sync_ok();

    // As if a run had recorded its intent to upload m2 and was killed during the APPEND.
    world.deliver("b", "INBOX", "m2", "S");
    status_sql(
        &world,
        "INSERT INTO mail_items (collection, key_a, key_b, flags, pending) \
         SELECT id, NULL, 'u-m2', 'S', 'a' FROM collections WHERE name_a = 'INBOX'",
    );
    let resumed = world.sync_ok();
    assert!(resumed.stdout().contains("1 copied b->a"), "{resumed}");
    assert_eq!(
        status_sql(&world, "SELECT count(*) FROM mail_abandoned_copies"),
        "1",
        "the given-up upload is recorded before the new one"
    );

    // The server now stores the interrupted run's APPEND; the user also gets new mail.
    let local_m2 = fs::read(find_file(&world.root("b").join("INBOX"), "m2")).unwrap();
    server.deliver(&user, "INBOX", &local_m2).unwrap();
    server.deliver(&user, "INBOX", &message("new")).unwrap();

    let dry = world.run(&["sync", "--dry-run"]);
    assert!(dry.stdout().contains("would remove"), "{dry}");
    let cleaned = world.sync_ok();
    assert!(cleaned.stdout().contains("late duplicate"), "{cleaned}");
    let server_now = user_tree(&server, &user, server.password());
    let local = world.messages("b");
    assert_eq!(local["INBOX"].len(), 3, "{local:?}");
    assert_eq!(
        local["INBOX"]["m2"],
        ["S"],
        "never copied back to the Maildir"
    );
    if caps.is_none() {
        assert_same(&server_now, &local);
        assert_eq!(
            status_sql(&world, "SELECT count(*) FROM mail_abandoned_copies"),
            "0"
        );
    } else {
        // Without UID EXPUNGE the late copy cannot be deleted alone: it stays on the server,
        // reported, and its record stays so that it is never taken for new mail.
        assert!(
            cleaned
                .stdout()
                .contains("left (this side cannot delete it)"),
            "{cleaned}"
        );
        assert_eq!(server_now["INBOX"]["m2"].len(), 2, "{server_now:?}");
        assert_eq!(
            status_sql(&world, "SELECT count(*) FROM mail_abandoned_copies"),
            "1"
        );
    }
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    assert_eq!(world.messages("b"), local);
}

/// Two interrupted runs in a row, both killed during the APPEND of m2: the first attempt was
/// given up by the second run, and both attempts then arrive. Neither UID is known, and two
/// identical unknown messages defeat content pairing; without care the next run would upload
/// m2 a third time. It must confirm one and remove the other.
#[test]
fn two_interrupted_uploads_of_one_message_leave_it_once() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    let world = imap_maildir_world(&server, "");
    world.deliver("b", "INBOX", "m1", "");
    world.sync_ok();

    // Without flags: the server copies are delivered as they arrive, without the APPEND's.
    world.deliver("b", "INBOX", "m2", "");
    status_sql(
        &world,
        "INSERT INTO mail_items (collection, key_a, key_b, flags, pending) \
         SELECT id, NULL, 'u-m2', '', 'a' FROM collections WHERE name_a = 'INBOX'; \
         INSERT INTO mail_abandoned_copies (collection, side, source_key, abandoned_at) \
         SELECT id, 'a', 'u-m2', strftime('%s', 'now') FROM collections WHERE name_a = 'INBOX'",
    );
    let local_m2 = fs::read(find_file(&world.root("b").join("INBOX"), "m2")).unwrap();
    server.deliver(&user, "INBOX", &local_m2).unwrap();
    server.deliver(&user, "INBOX", &local_m2).unwrap();

    let run = world.sync_ok();
    assert!(run.stdout().contains("late duplicate"), "{run}");
    assert!(!run.stdout().contains("copied b->a"), "{run}");
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"].len(), 2, "{tree:?}");
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn a_late_append_of_an_interrupted_run_is_removed_not_duplicated_with_uidplus() {
    a_late_append_of_an_interrupted_run_is_removed_not_duplicated(None);
}

#[test]
fn a_late_append_of_an_interrupted_run_is_removed_not_duplicated_without_uidplus() {
    a_late_append_of_an_interrupted_run_is_removed_not_duplicated(Some(MINIMAL));
}

#[test]
fn two_imap_accounts_sync_with_each_other() {
    let server = DovecotBuilder::new()
        .users(&[("alice", "secret-alice"), ("bob", "secret-bob")])
        .start()
        .unwrap();
    for i in 0..4 {
        server
            .deliver("alice", "INBOX", &message(&format!("a{i}")))
            .unwrap();
    }
    server
        .deliver("alice", "Projekte.Größe", &message("deep"))
        .unwrap();
    server.deliver("bob", "INBOX", &message("b0")).unwrap();
    server_flags(
        &server,
        "alice",
        "INBOX",
        "a1",
        StoreMode::Add,
        Flags::new().with(Flag::Seen),
    );
    let world = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n{a}{b}[pair.p]\na = \"a\"\nb = \"b\"\n",
        state = world.state_dir().display(),
        a = imap_storage("a", &server, "alice", "secret-alice"),
        b = imap_storage("b", &server, "bob", "secret-bob"),
    );
    fs::write(world.config(), config).unwrap();
    world.sync_ok();
    let alice = user_tree(&server, "alice", "secret-alice");
    let bob = user_tree(&server, "bob", "secret-bob");
    assert_same(&alice, &bob);
    assert_eq!(alice["INBOX"].len(), 5);
    assert_eq!(alice["INBOX"]["a1"], ["S"]);
    assert_eq!(alice["Projekte/Größe"]["deep"], [""]);

    server_flags(
        &server,
        "bob",
        "INBOX",
        "a2",
        StoreMode::Add,
        Flags::new().with(Flag::Flagged),
    );
    server_flags(
        &server,
        "alice",
        "INBOX",
        "a3",
        StoreMode::Add,
        Flags::new().with(Flag::Trashed),
    );
    server.deliver("bob", "INBOX", &message("b1")).unwrap();
    world.sync_ok();
    let alice = user_tree(&server, "alice", "secret-alice");
    assert_same(&alice, &user_tree(&server, "bob", "secret-bob"));
    assert_eq!(alice["INBOX"]["a2"], ["F"]);
    assert!(!alice["INBOX"].contains_key("a3"));
    assert!(alice["INBOX"].contains_key("b1"));
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn a_message_moved_locally_is_moved_on_the_server() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..3 {
        server
            .deliver(&user, "INBOX", &message(&format!("m{i}")))
            .unwrap();
    }
    server.deliver(&user, "Archive", &message("old")).unwrap();
    let world = imap_maildir_world(&server, "");
    world.sync_ok();
    // The mail reader moves m1 into Archive and marks it read.
    let from = find_file(&world.root("b").join("INBOX"), "m1");
    let name = from.file_name().unwrap().to_string_lossy().into_owned();
    let base = name
        .split_once(":2,")
        .map(|(b, _)| b.to_owned())
        .unwrap_or(name);
    fs::rename(
        &from,
        world
            .root("b")
            .join("Archive/cur")
            .join(format!("{base}:2,S")),
    )
    .unwrap();
    let run = world.sync_ok();
    assert!(run.stdout().contains("1 moved"), "{run}");
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert!(!tree["INBOX"].contains_key("m1"));
    assert_eq!(tree["Archive"]["m1"], ["S"]);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn a_tunnel_account_syncs_without_a_password() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("t0")).unwrap();
    let world = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n[storage.a]\ntype = \"imap\"\ntunnel = {tunnel:?}\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\n\n[pair.p]\na = \"a\"\nb = \"b\"\n",
        state = world.state_dir().display(),
        tunnel = server.tunnel_command(&user),
        b = world.root("b").display(),
    );
    fs::write(world.config(), config).unwrap();
    world.deliver("b", "INBOX", "local", "S");
    world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"].len(), 2);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn password_cmd_runs_only_for_a_pair_that_needs_the_server() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("p0")).unwrap();
    let world = World::new("");
    let marker = world.dir.path().join("password-asked");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.mail]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         user = \"{user}\"\npassword_cmd = \"touch {marker} && echo {password}\"\n\n\
         [storage.a]\ntype = \"maildir\"\npath = \"{a}\"\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\n\n\
         [pair.local]\na = \"a\"\nb = \"b\"\n\n[pair.remote]\na = \"mail\"\nb = \"b\"\n",
        state = world.state_dir().display(),
        host = server.host(),
        port = server.port(),
        password = server.password(),
        marker = marker.display(),
        a = world.root("a").display(),
        b = world.root("b").display(),
    );
    fs::write(world.config(), config).unwrap();
    world.deliver("a", "INBOX", "local", "");
    let run = world.run(&["sync", "local"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(!marker.exists(), "a Maildir-only pair ran password_cmd");
    let run = world.run(&["sync", "remote"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(marker.exists());
    assert!(world.messages("b")["INBOX"].contains_key("p0"));
}

/// Prints how long an unchanged resync of a big folder takes with QRESYNC and with a plain
/// server (`cargo test -p pimlink --test sync_imap -- --ignored --nocapture measure`).
#[test]
#[ignore = "a measurement, not a check"]
fn measure_unchanged_resync() {
    for caps in [None, Some(MINIMAL)] {
        let mut builder = DovecotBuilder::new();
        if let Some(caps) = caps {
            builder = builder.capabilities(caps);
        }
        let server = builder.start().unwrap();
        let messages: Vec<Vec<u8>> = (0..5000).map(|i| message(&format!("m{i}"))).collect();
        server
            .deliver_many(server.user(), "INBOX", messages.iter().map(Vec::as_slice))
            .unwrap();
        let world = imap_maildir_world(&server, "");
        let started = Instant::now();
        world.sync_ok();
        let initial = started.elapsed();
        let started = Instant::now();
        let again = world.sync_ok();
        let unchanged = started.elapsed();
        assert!(again.stdout().contains("changed: nothing"), "{again}");
        for i in 0..2000 {
            world.deliver("b", "Up", &format!("u{i}"), "S");
        }
        let started = Instant::now();
        world.sync_ok();
        let upload = started.elapsed();
        eprintln!(
            "{}: initial download of 5000 messages {initial:?}, unchanged resync {unchanged:?}, \
             upload of 2000 messages {upload:?}",
            if caps.is_some() {
                "no CONDSTORE/QRESYNC"
            } else {
                "QRESYNC"
            }
        );
    }
}

/// Runs whose server folders are unchanged skip them by the LIST's counters; changes made only
/// on the Maildir side must still reach the server, and changes made on the server after such a
/// run must still be found.
#[test]
fn local_changes_in_a_folder_unchanged_on_the_server_are_synced() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..4 {
        server
            .deliver(&user, "INBOX", &message(&format!("s{i}")))
            .unwrap();
    }
    let world = imap_maildir_world(&server, "");
    world.sync_ok();
    // A second run makes the listing states settle (the first one recorded them before its
    // own downloads), so that the next runs see the server folder unchanged.
    world.sync_ok();
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");

    let inbox = world.root("b").join("INBOX");
    set_local_flags(&inbox, "s1", "FS");
    fs::remove_file(find_file(&inbox, "s2")).unwrap();
    world.deliver("b", "INBOX", "local-new", "S");
    world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"]["s1"], ["FS"]);
    assert!(!tree["INBOX"].contains_key("s2"));
    assert_eq!(tree["INBOX"]["local-new"], ["S"]);

    // Settled again, then a change on the server only.
    world.sync_ok();
    server_flags(
        &server,
        &user,
        "INBOX",
        "s3",
        StoreMode::Add,
        Flags::new().with(Flag::Flagged),
    );
    world.sync_ok();
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["INBOX"]["s3"], ["F"]);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// The client's SELECT commands in a run's wire log (RUST_LOG=pimlink_imap::wire=trace), by
/// folder name as sent.
fn selects_in(run: &common::Run) -> Vec<String> {
    run.stderr()
        .lines()
        .filter_map(|line| line.split_once("C: ").map(|(_, command)| command))
        .filter_map(|command| {
            let mut words = command.split_whitespace();
            let _tag = words.next()?;
            words
                .next()
                .filter(|verb| verb.eq_ignore_ascii_case("SELECT"))
                .and_then(|_| words.next())
                .map(|folder| folder.trim_matches('"').to_owned())
        })
        .collect()
}

/// An incremental run selects each folder changed on the server once: it lists it and writes
/// the local changes (flag stores) and reads its new mail in that same selection, although
/// every collection is planned before any is carried out. Folders unchanged on the server are
/// not selected at all.
#[test]
fn an_incremental_run_selects_each_changed_folder_once() {
    incremental_run_selects_each_changed_folder_once(1);
}

/// The same over four connections: the search for moved messages (new mail in one folder, an
/// expunged message in another) reads each folder's fingerprints on the connection that listed
/// it, which has them from its listing, instead of selecting the other connections' folders
/// again on the first one.
#[test]
fn an_incremental_run_over_four_connections_selects_each_changed_folder_once() {
    incremental_run_selects_each_changed_folder_once(4);
}

/// An IMAP <-> Maildir world on `server` whose IMAP side uses `connections` connections.
fn imap_maildir_world_over(server: &Dovecot, connections: usize) -> World {
    let world = imap_maildir_world(server, "");
    let config = fs::read_to_string(world.config()).unwrap().replace(
        "tls = \"none\"\n",
        &format!("tls = \"none\"\nconnections = {connections}\n"),
    );
    fs::write(world.config(), config).unwrap();
    world
}

/// A server with three messages in `Quiet`, and a world over one connection that has synced it.
fn quiet_folder_synced() -> (Dovecot, String, World) {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..3 {
        server
            .deliver(&user, "Quiet", &message(&format!("q{i}")))
            .unwrap();
    }
    let world = imap_maildir_world_over(&server, 1);
    world.sync_ok();
    (server, user, world)
}

fn incremental_run_selects_each_changed_folder_once(connections: usize) {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    let folders = ["INBOX", "Alpha", "Beta", "Quiet"];
    for folder in folders {
        for i in 0..4 {
            server
                .deliver(&user, folder, &message(&format!("{folder}-{i}")))
                .unwrap();
        }
    }
    let world = imap_maildir_world_over(&server, connections);
    world.sync_ok();
    world.sync_ok();
    assert!(world.sync_ok().stdout().contains("changed: nothing"));

    // In three folders: new mail, a flag change and an expunge on the server, and a flag
    // change on the Maildir side that must be stored on the server.
    for folder in ["INBOX", "Alpha", "Beta"] {
        server
            .deliver(&user, folder, &message(&format!("{folder}-new")))
            .unwrap();
        let flagged = Flags::new().with(Flag::Flagged);
        server_flags(
            &server,
            &user,
            folder,
            &format!("{folder}-0"),
            StoreMode::Add,
            flagged,
        );
        let deleted = Flags::new().with(Flag::Trashed);
        server_flags(
            &server,
            &user,
            folder,
            &format!("{folder}-1"),
            StoreMode::Add,
            deleted,
        );
        set_local_flags(&world.root("b").join(folder), &format!("{folder}-2"), "RS");
    }
    let run = sync_logging_wire(&world);
    let mut selects = selects_in(&run);
    selects.sort();
    assert_eq!(selects, ["Alpha", "Beta", "INBOX"], "SELECTs of the run");

    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    for folder in ["INBOX", "Alpha", "Beta"] {
        assert_eq!(tree[folder][&format!("{folder}-0")], ["F"]);
        assert!(!tree[folder].contains_key(&format!("{folder}-1")));
        assert_eq!(tree[folder][&format!("{folder}-2")], ["RS"]);
        assert_eq!(tree[folder][&format!("{folder}-new")], [""]);
    }
    assert_eq!(tree["Quiet"].len(), 4);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// An upload into a folder unchanged on the server selects it once before its APPENDs: Dovecot
/// opens a mailbox for every APPEND into a folder that is not the selected one, which made
/// uploads twice as slow as mbsync's (bench mail-upload).
#[test]
fn an_upload_selects_its_folder_before_appending() {
    let (server, user, world) = quiet_folder_synced();
    world.sync_ok();
    for i in 0..3 {
        common::deliver(&world.root("b").join("Quiet"), &format!("up{i}"), "S");
    }
    let run = sync_logging_wire(&world);
    let commands: Vec<String> = client_verbs(&run)
        .into_iter()
        .filter(|verb| verb == "SELECT" || verb == "APPEND")
        .collect();
    assert_eq!(
        commands.first().map(String::as_str),
        Some("SELECT"),
        "{commands:?}"
    );
    assert_eq!(selects_in(&run), ["Quiet"]);
    assert_eq!(
        appends_in(&run),
        [3],
        "one APPEND of the three messages (MULTIAPPEND)"
    );

    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["Quiet"].len(), 6);
}

/// The number of messages of each APPEND command in a run's wire log, in order. With LITERAL+
/// a command is one line, each message's literal logged as `{N}<N bytes>`.
fn appends_in(run: &common::Run) -> Vec<usize> {
    run.stderr()
        .lines()
        .filter_map(|line| line.split_once("C: ").map(|(_, command)| command))
        .filter(|command| {
            command
                .split_whitespace()
                .nth(1)
                .is_some_and(|verb| verb.eq_ignore_ascii_case("APPEND"))
        })
        .map(|command| command.matches(" bytes>").count())
        .collect()
}

/// An upload of many messages into a folder goes in APPEND commands of several messages each
/// (MULTIAPPEND), and the status pairs every local message with the server UID of that very
/// message: the uid-set of each APPENDUID is mapped in the order the messages were sent.
#[test]
fn an_upload_goes_in_multiappends_and_each_message_is_recorded_with_its_own_uid() {
    let (server, user, world) = quiet_folder_synced();
    let letters = ["", "S", "FS", "RS", "D"];
    for i in 0..70 {
        let flags = letters[i * 3 % letters.len()];
        common::deliver(&world.root("b").join("Quiet"), &format!("up{i}"), flags);
    }
    let run = sync_logging_wire(&world);
    let appends = appends_in(&run);
    assert!(
        appends.len() >= 3 && appends.iter().sum::<usize>() == 70,
        "APPEND commands (messages each): {appends:?}"
    );
    assert!(
        appends.iter().all(|&n| n > 1),
        "every APPEND carries several messages: {appends:?}"
    );

    // Each row's server key names the message its Maildir key does.
    let on_server = block_on(async {
        let options = dovecot_options(&server, &user, server.password());
        let mut client = Client::connect(options).await.unwrap();
        client.select("Quiet", Default::default()).await.unwrap();
        let messages = common::imap::folder_messages(&mut client).await;
        client.logout().await.unwrap();
        messages
    });
    let uid_of_id: std::collections::BTreeMap<String, u32> = on_server
        .iter()
        .map(|(id, copies)| {
            assert_eq!(copies.len(), 1, "{id} once on the server");
            (id.clone(), copies[0].0)
        })
        .collect();
    let rows = status_sql(
        &world,
        "SELECT key_a || ' ' || key_b FROM mail_items WHERE key_b LIKE 'u-up%'",
    );
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), 70, "{rows:?}");
    for row in rows {
        let (key_a, key_b) = row.split_once(' ').unwrap();
        let uid: u32 = key_a.split_once(':').unwrap().1.parse().unwrap();
        let id = key_b.strip_prefix("u-").unwrap();
        assert_eq!(uid_of_id[id], uid, "{id} is recorded as {key_a}");
    }
    let tree = assert_same(
        &user_tree(&server, &user, server.password()),
        &world.messages("b"),
    );
    assert_eq!(tree["Quiet"].len(), 73);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// A pair whose Maildir `path` is pointed at a new, empty directory: the status of the old
/// tree is not taken for the new one's (its messages would look deleted there), so the run
/// says so, deletes nothing on the server and copies every message to the new tree.
#[test]
fn a_maildir_path_changed_to_an_empty_directory_gets_every_message() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..5 {
        server
            .deliver(&user, "INBOX", &message(&format!("m{i}")))
            .unwrap();
    }
    server.deliver(&user, "Work", &message("w")).unwrap();
    let world = imap_maildir_world(&server, "");
    world.sync_ok();
    let before = user_tree(&server, &user, server.password());

    let (old, new) = (world.root("b"), world.dir.path().join("moved"));
    fs::create_dir_all(&new).unwrap();
    let config = fs::read_to_string(world.config()).unwrap();
    let moved = config.replace(
        &format!("\"{}\"", old.display()),
        &format!("\"{}\"", new.display()),
    );
    assert_ne!(config, moved);
    fs::write(world.config(), moved).unwrap();

    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(run.stderr().contains("is now another storage"), "{run}");
    assert_eq!(
        user_tree(&server, &user, server.password()),
        before,
        "{run}"
    );
    assert_same(&before, &common::read_tree(&new));
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    assert!(!again.stderr().contains("another storage"), "{again}");
}
