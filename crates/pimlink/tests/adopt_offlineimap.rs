//! Adopting OfflineIMAP's state (issue 16): the real offlineimap3 syncs a test Dovecot account
//! into a Maildir tree, then pimlink reads (and later takes over) what it left.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::World;
use common::imap::message;
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
