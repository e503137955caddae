//! A file mbsync renamed (`,U=` added) is the message the status knows (issue 16).

#![allow(clippy::unwrap_used)]

use std::fs;

use pimlink_core::{CollectionName, Flag, Flags, ItemKey, Known, MailStore};
use pimlink_maildir::{Layout, Maildir};

#[tokio::test]
async fn a_renamed_file_is_listed_read_and_reflagged_under_its_known_key() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = CollectionName::new("INBOX").unwrap();
    let mut store = Maildir::open(dir.path(), Layout::Verbatim).unwrap();
    store.create_collection(&inbox).await.unwrap();
    let folder = store.collection_path(&inbox).unwrap();
    // pimlink wrote `k1:2,S`; mbsync renamed it.
    fs::write(folder.join("cur/k1,U=7:2,S"), "Subject: x\n\nbody\n").unwrap();
    let known = [(ItemKey::new("k1"), Flags::new().with(Flag::Seen))];
    let listing = store
        .list_items(
            &inbox,
            Known {
                state: None,
                items: &known,
            },
        )
        .await
        .unwrap();
    let keys: Vec<&str> = listing.items.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["k1"]);
    store
        .set_flags(
            &inbox,
            &ItemKey::new("k1"),
            &Flags::new().with(Flag::Flagged),
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    // mbsync still finds its file by its name.
    assert!(folder.join("cur/k1,U=7:2,F").is_file());
    // Without the status knowing `k1`, the file is what its name says.
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    assert_eq!(listing.items[0].key.as_str(), "k1,U=7");
}
