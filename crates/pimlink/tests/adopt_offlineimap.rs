//! Adopting OfflineIMAP's state (issue 16): the real offlineimap3 syncs a test Dovecot account
//! into a Maildir tree, then pimlink reads (and later takes over) what it left.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::World;
use common::imap::{fetched, message, user_tree, write_imap_maildir_config};
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

/// Switching back (issue 16): after each sync pimlink hands the tree back to OfflineIMAP (its
/// status rows and `,U=,FMD5=` names for the messages pimlink transferred), so OfflineIMAP, run
/// after pimlink, fetches, uploads, renames and deletes nothing; and pimlink, run after it,
/// has nothing to do either. Before, OfflineIMAP copied each transferred message once more on
/// each side.
#[test]
fn offlineimap_run_after_pimlink_copies_nothing() {
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
    tool.pimlink(&world, &["sync"]);
    server
        .deliver(&user, "INBOX", &message("server-new"))
        .unwrap();
    server
        .deliver(&user, "Projects", &message("folder-new"))
        .unwrap();
    world.deliver("b", "INBOX", "local-new", "S");
    let run = tool.pimlink(&world, &["sync"]);
    assert!(
        run.stdout().contains("1 copied a->b, 1 copied b->a"),
        "{run}"
    );
    let on_server = || copies(&user_tree(&server, &user, server.password()));
    let local = || copies(&world.messages("b"));
    let expected: BTreeMap<String, usize> = [
        ("folder-new", 1),
        ("local-new", 1),
        ("old0", 1),
        ("old1", 1),
        ("old2", 1),
        ("server-new", 1),
    ]
    .into_iter()
    .map(|(id, n)| (id.to_owned(), n))
    .collect();
    assert_eq!(on_server(), expected, "{run}");
    let before = files(&world.root("b"));

    let log = tool.sync();
    assert_eq!(on_server(), expected, "{log}");
    assert_eq!(local(), expected, "{log}");
    assert_eq!(
        files(&world.root("b")),
        before,
        "OfflineIMAP renamed or rewrote files: {log}"
    );

    let run = tool.pimlink(&world, &["sync"]);
    assert!(
        !run.stdout().contains("copied") && !run.stdout().contains("deleted"),
        "{run}"
    );
    // Back on OfflineIMAP for a while: new mail arrives, is read; then pimlink again.
    server.deliver(&user, "INBOX", &message("later")).unwrap();
    let log = tool.sync();
    assert_eq!(local().get("later"), Some(&1), "{log}");
    let run = tool.pimlink(&world, &["sync"]);
    assert!(
        !run.stdout().contains("copied") && !run.stdout().contains("deleted"),
        "{run}"
    );
    let log = tool.sync();
    assert_eq!(on_server().values().sum::<usize>(), 7, "{log}");
    assert_eq!(local(), on_server(), "{log}");
}

/// (name, inode, mtime) of every message file under `root`, by Message-ID.
fn files(root: &Path) -> BTreeMap<String, (String, u64, i64)> {
    let mut out = BTreeMap::new();
    for (folder, _) in common::read_tree(root) {
        for sub in ["cur", "new"] {
            for entry in fs::read_dir(root.join(&folder).join(sub)).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::metadata(&path).unwrap();
                let text = fs::read_to_string(&path).unwrap();
                let id = common::imap::message_id_of(text.as_bytes());
                let name = format!(
                    "{folder}/{sub}/{}",
                    path.file_name().unwrap().to_string_lossy()
                );
                out.insert(id, (name, meta.ino(), meta.mtime()));
            }
        }
    }
    out
}

/// Issue 16's adoption test for OfflineIMAP: its real tree (default `sep = .`, folder names in
/// modified UTF-7, nested, with a space) with changes pending on both sides since its last run
/// is adopted; the first pimlink sync then fetches no body of a message OfflineIMAP had,
/// renames or rewrites no file it did not have to, and syncs exactly the pending changes.
#[test]
fn an_adopted_offlineimap_tree_syncs_its_pending_changes_and_downloads_nothing_again() {
    adopt_and_sync(Sep::Dot, How::Explicit);
}

/// The same with `sep = /`: OfflineIMAP nests the folders' directories.
#[test]
fn an_adopted_offlineimap_tree_with_nested_folders_downloads_nothing_again() {
    adopt_and_sync(Sep::Slash, How::Explicit);
}

/// The same without `pimlink adopt`: the pair's first sync finds OfflineIMAP's state in
/// ~/.offlineimap (`adopt = "auto"`, the default).
#[test]
fn the_first_sync_adopts_offlineimaps_state_from_its_default_place() {
    adopt_and_sync(Sep::Dot, How::FirstSync);
}

/// How the state is adopted.
#[derive(Clone, Copy)]
enum How {
    /// `pimlink adopt p --from offlineimap METADATA`.
    Explicit,
    /// The first `pimlink sync`, finding it in ~/.offlineimap.
    FirstSync,
}

/// OfflineIMAP's `sep`, with the pimlink Maildir keys that read its tree.
#[derive(Clone, Copy)]
enum Sep {
    Dot,
    Slash,
}

fn adopt_and_sync(sep: Sep, how: How) {
    let (offlineimap_keys, pimlink_keys) = match sep {
        Sep::Dot => ("", "flatten = \".\"\nnames = \"imap-utf-7\""),
        Sep::Slash => ("sep = /", "names = \"imap-utf-7\""),
    };
    let server = DovecotBuilder::new().layout(false).start().unwrap();
    let user = server.user().to_owned();
    seed(&server);
    let world = World::new("");
    let tool = OfflineImap::new(
        world.dir.path(),
        &server,
        &world.root("b"),
        offlineimap_keys,
    );
    tool.sync();
    let local = world.root("b");

    // Changes since OfflineIMAP's last run. On the server: a flag set, a message expunged, a
    // new message.
    let doveadm = |args: &[&str]| server.doveadm(args).unwrap();
    doveadm(&[
        "flags", "add", "-u", &user, "\\Seen", "mailbox", "INBOX", "uid", "1",
    ]);
    doveadm(&[
        "expunge",
        "-u",
        &user,
        "mailbox",
        "Archive/2024",
        "uid",
        "1",
    ]);
    server
        .deliver(&user, "Old Mail", &message("server-new"))
        .unwrap();
    // Locally: a flag set, a file deleted, a new message.
    common::set_local_flags(&local.join("INBOX"), "f0m2", "F");
    fs::remove_file(common::find_file(&local.join("Old Mail"), "f2m1")).unwrap();
    world.deliver("b", "Entw&APw-rfe", "local-new", "S");
    let before = files(&local);

    write_imap_maildir_config(&world, &server, "connections = 1", pimlink_keys, "");
    let run = match how {
        How::Explicit => {
            let meta = tool.metadata.to_str().unwrap();
            let run = tool.pimlink(&world, &["adopt", "p", "--from", "offlineimap", meta]);
            assert!(run.stdout().contains("4 folders, 12 messages"), "{run}");
            tool.pimlink(&world, &["sync"])
        }
        How::FirstSync => {
            let run = tool.pimlink(&world, &["sync"]);
            assert!(
                run.stdout()
                    .contains("adopted OfflineIMAP's state: 4 folders, 12 messages"),
                "{run}"
            );
            run
        }
    };
    let bodies: Vec<_> = fetched(&run)
        .into_iter()
        .filter(|f| f.body.is_some())
        .collect();
    assert_eq!(
        bodies.len(),
        1,
        "only the new message's body: {bodies:?}\n{run}"
    );
    // (The wire-log helper reads a quoted folder name up to its first space.)
    assert_eq!(
        (bodies[0].folder.as_str(), bodies[0].uid),
        ("Old", 4),
        "{run}"
    );

    // Files: the new download and upload are new; the file whose flag the server changed got
    // its new info part; the one expunged on the server is gone; the rest is untouched.
    let after = files(&local);
    for (id, file) in &before {
        match id.as_str() {
            "f1m0" => assert!(!after.contains_key(id), "expunged on the server: {after:?}"),
            "f0m0" => {
                let (name, ino, mtime) = &after[id];
                assert!(name.ends_with(":2,S"), "{name}");
                assert_eq!((ino, mtime), (&file.1, &file.2));
            }
            // The upload is numbered for OfflineIMAP (`,U=<uid>,FMD5=`), as OfflineIMAP numbers
            // a file it uploads: the same file, its name extended.
            "local-new" => {
                let (name, ino, mtime) = &after[id];
                let stem = file.0.trim_end_matches(":2,S");
                assert!(name.starts_with(&format!("{stem},U=")), "{name}");
                assert!(name.contains(",FMD5=") && name.ends_with(":2,S"), "{name}");
                assert_eq!((ino, mtime), (&file.1, &file.2));
            }
            _ => assert_eq!(&after[id], file, "{id}"),
        }
    }
    assert!(after.contains_key("server-new"));

    // The pending changes, synced: each message once on each side, with the merged flags.
    let tree = user_tree(&server, &user, server.password());
    assert_eq!(tree["INBOX"]["f0m0"], ["S"]);
    assert_eq!(tree["INBOX"]["f0m1"], ["FS"]);
    assert_eq!(tree["INBOX"]["f0m2"], ["F"]);
    assert!(!tree["Old Mail"].contains_key("f2m1"), "{tree:?}");
    assert_eq!(tree["Entwürfe"]["local-new"], ["S"]);
    let expected = copies(&world.messages("b"));
    assert_eq!(copies(&tree), expected);
    assert!(expected.values().all(|&n| n == 1), "{expected:?}");
    assert_eq!(expected.len(), 12 - 2 + 2);

    // A second run has nothing to do.
    let run = tool.pimlink(&world, &["sync"]);
    assert!(run.stdout().contains("changed: nothing"), "{run}");

    // What OfflineIMAP does afterwards: nothing. pimlink handed the tree back (status rows
    // and `,U=,FMD5=` names for the two messages it transferred); before, OfflineIMAP fetched
    // and uploaded each of them once more.
    let log = tool.sync();
    assert!(
        !log.contains("Copy message") && !log.contains("Deleting"),
        "{log}"
    );
    assert_eq!(copies(&world.messages("b")), expected, "{log}");
    // And pimlink, run after it, copies nothing either.
    let run = tool.pimlink(&world, &["sync"]);
    assert!(
        !run.stdout().contains("copied") && !run.stdout().contains("deleted"),
        "{run}"
    );
}
