//! A run that lists every collection and changes nothing (as the first run after adopting
//! another tool's state does) records what it keeps of them (listing states, settled stamps)
//! in one status transaction at its end, not one or two per collection: each commit is a wait
//! for the disk.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pimlink_core::mail::exec::{Pair, RunOptions};
use pimlink_core::policy::SyncPolicy;
use pimlink_core::status::StatusStore;
use pimlink_core::{CollectionName, Content, Flags, ItemData, MailStore, NewItem};
use pimlink_maildir::{Layout, Maildir};

const FOLDERS: [&str; 6] = ["INBOX", "Archive", "Lists", "Sent", "Drafts", "Work"];

async fn sync(a: &mut Maildir, b: &mut Maildir, status: &mut StatusStore) {
    let report = Pair {
        a,
        b,
        status,
        policy: SyncPolicy::both_ways(),
    }
    .sync(|_| true, RunOptions::default(), &mut ())
    .await
    .unwrap();
    for collection in &report.collections {
        assert!(collection.errors.is_empty(), "{:?}", collection.errors);
    }
}

fn settled_rows(db: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM mail_settled", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_run_that_changes_nothing_commits_the_status_once() {
    let dir = tempfile::tempdir().unwrap();
    let open = |side: &str| Maildir::open(dir.path().join(side), Layout::Verbatim).unwrap();
    let (mut a, mut b) = (open("a"), open("b"));
    for folder in FOLDERS {
        let name = CollectionName::new(folder).unwrap();
        a.create_collection(&name).await.unwrap();
        for i in 0..3 {
            let item = NewItem {
                data: ItemData {
                    content: Content::Bytes(
                        format!("Subject: {folder} {i}\r\n\r\nbody {i}\r\n").into_bytes(),
                    ),
                    internal_date: None,
                },
                flags: &Flags::new(),
                reserved_key: None,
            };
            a.deliver(&name, item).await.unwrap();
        }
        a.flush().await.unwrap();
    }
    let state = dir.path().join("state");
    let mut status = StatusStore::open(&state, "pair").unwrap();
    sync(&mut a, &mut b, &mut status).await;
    let db = state.join("pair.sqlite");
    assert_eq!(settled_rows(&db), 6, "the first run settled every folder");

    // Every folder must be listed again, and nothing has changed: the run after an adoption.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DELETE FROM mail_settled; UPDATE collections SET state_a = 'old', state_b = 'old'",
        )
        .unwrap();
    let before = status.commits();
    sync(&mut a, &mut b, &mut status).await;
    assert_eq!(
        status.commits() - before,
        1,
        "status commits of a run over {} unchanged folders",
        FOLDERS.len()
    );
    assert_eq!(settled_rows(&db), 6, "every folder is settled again");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let old: i64 = conn
        .query_row(
            "SELECT count(*) FROM collections WHERE state_a IS 'old' OR state_b IS 'old'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(old, 0, "every folder's listing state is the new one");
}
