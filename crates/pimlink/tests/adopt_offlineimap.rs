//! Adopting OfflineIMAP's state (issue 16): the real offlineimap3 syncs a test Dovecot account
//! into a Maildir tree, then pimlink reads (and later takes over) what it left.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;

use common::World;
use common::imap::{message, user_tree, write_imap_maildir_config};
use common::offlineimap::OfflineImap;
use pimlink_foreign::state::offlineimap::{FolderPlace, Metadata, read_folder};
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// Folders with odd names: nested (a `.` level under OfflineIMAP's default `sep = .`), a space,
/// a non-ASCII name (modified UTF-7 on the wire and on OfflineIMAP's disk).
const FOLDERS: [&str; 4] = ["INBOX", "Archive/2024", "Old Mail", "Entwürfe"];

fn seed(server: &Dovecot) {
    let user = server.user();
    for (f, folder) in FOLDERS.iter().enumerate() {
        for i in 0..3 {
            server
                .deliver(user, folder, &message(&format!("f{f}m{i}")))
                .unwrap();
        }
    }
    server
        .doveadm(&[
            "flags",
            "add",
            "-u",
            user,
            "\\Seen \\Flagged",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ])
        .unwrap();
}

#[test]
fn the_reader_pairs_every_file_of_a_real_offlineimap_tree() {
    let server = DovecotBuilder::new().layout(false).start().unwrap();
    seed(&server);
    let world = World::new("");
    let tool = OfflineImap::new(world.dir.path(), &server, &world.root("b"), "");
    let log = tool.sync();
    let metadata = Metadata::new(&tool.metadata);
    assert_eq!(metadata.accounts().unwrap(), ["main"], "{log}");
    for local_name in ["INBOX", "Archive.2024", "Old Mail", "Entw&APw-rfe"] {
        let dir = tool.root.join(local_name);
        let place = FolderPlace {
            account: "main",
            local_name,
            sep: '.',
            dir: &dir,
        };
        let state = read_folder(&metadata, &place).unwrap().unwrap_or_else(|| {
            panic!(
                "no state for {local_name}: {:?}",
                std::fs::read_dir(&tool.metadata)
            )
        });
        assert_eq!(state.paired.len(), 3, "{local_name}: {state:?}");
        assert!(
            state.new_locally.is_empty()
                && state.deleted_locally.is_empty()
                && state.unrecorded.is_empty(),
            "{state:?}"
        );
        assert!(state.uid_validity.is_some(), "{local_name}: {state:?}");
        if local_name == "INBOX" {
            let second = state.paired.iter().find(|p| p.uid == 2).unwrap();
            assert_eq!(second.synced_flags, "FS");
        }
    }
}

/// Message-ID -> copies, over every folder of a tree.
fn copies(tree: &common::Tree) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for messages in tree.values() {
        for (id, flags) in messages {
            *out.entry(id.clone()).or_default() += flags.len();
        }
    }
    out
}

/// Switching back (issue 16): OfflineIMAP, run on a tree after pimlink, fetches again and
/// uploads again every message pimlink transferred, and renames pimlink's files to names of its
/// own. pimlink must then take the renamed files for the messages it knows: before, it deleted
/// the originals on the server and uploaded the renamed files, so the account grew on every
/// switch.
#[test]
fn after_offlineimap_renamed_its_files_pimlink_deletes_and_uploads_nothing() {
    let server = DovecotBuilder::new().layout(false).start().unwrap();
    let user = server.user().to_owned();
    for i in 0..3 {
        server
            .deliver(&user, "INBOX", &message(&format!("old{i}")))
            .unwrap();
    }
    let world = World::new("");
    let tool = OfflineImap::new(world.dir.path(), &server, &world.root("b"), "");
    tool.sync();
    write_imap_maildir_config(&world, &server, "", "", "");
    world.sync_ok();
    server
        .deliver(&user, "INBOX", &message("server-new"))
        .unwrap();
    world.deliver("b", "INBOX", "local-new", "S");
    let run = world.sync_ok();
    assert!(
        run.stdout().contains("1 copied a->b, 1 copied b->a"),
        "{run}"
    );

    // What OfflineIMAP does after pimlink: both messages pimlink transferred are new to it on
    // both sides, so it fetches each again and uploads each again (renaming the local file it
    // uploaded): one more copy of each, on each side.
    let log = tool.sync();
    let on_server = || copies(&user_tree(&server, &user, server.password()));
    let local = || copies(&world.messages("b"));
    let expected: BTreeMap<String, usize> = [
        ("local-new", 2),
        ("old0", 1),
        ("old1", 1),
        ("old2", 1),
        ("server-new", 2),
    ]
    .into_iter()
    .map(|(id, n)| (id.to_owned(), n))
    .collect();
    assert_eq!(on_server(), expected, "{log}");
    assert_eq!(local(), expected, "{log}");

    // pimlink recognises its two renamed files and pairs OfflineIMAP's copies by content:
    // nothing is deleted, nothing copied.
    let run = world.sync_ok();
    assert!(
        run.stdout().contains("2 renamed by another program"),
        "{run}"
    );
    assert!(
        !run.stdout().contains("copied") && !run.stdout().contains("deleted"),
        "{run}"
    );
    assert_eq!(on_server(), expected);
    assert_eq!(local(), expected);

    // Both tools now agree with the tree: neither has anything left to do.
    let log = tool.sync();
    assert!(
        !log.contains("Copy message") && !log.contains("Deleting"),
        "{log}"
    );
    let run = world.sync_ok();
    assert!(run.stdout().contains("changed: nothing"), "{run}");
    assert_eq!(on_server(), expected);
    assert_eq!(local(), expected);
}
