//! Trees other tools wrote (issue 16): mbsync's `Flatten`, its `Inbox` elsewhere and its
//! modified-UTF-7 directory names, read and written through the store on a real directory.
//! The layouts' pure rules are unit-tested in `scheme.rs`; the real mbsync reads and writes
//! such trees in the pimlink crate's `adopt_mbsync` tests.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;

use pimlink_core::{CollectionName, ErrorKind, MailStore};
use pimlink_maildir::{Layout, Maildir, Names, TreeOptions};

fn name(text: &str) -> CollectionName {
    CollectionName::new(text).unwrap()
}

fn make_maildir(dir: &Path) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
}

async fn listed(store: &mut Maildir) -> Vec<(String, bool)> {
    store
        .list_collections()
        .await
        .unwrap()
        .into_iter()
        .map(|info| (info.name.as_str().to_owned(), info.selectable))
        .collect()
}

/// A tree as mbsync 1.4 leaves it with `Flatten .`, `Inbox <elsewhere>` and an account with a
/// non-ASCII folder: pimlink lists the same folders and creates new ones where mbsync would.
#[tokio::test]
async fn an_mbsync_tree_with_flatten_inbox_and_utf7_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Mail");
    let inbox = dir.path().join("inbox");
    for folder in ["Archive.2024", "Entw&APw-rfe", "INBOX.Sub", "Sent"] {
        make_maildir(&root.join(folder));
    }
    make_maildir(&inbox);
    // Not folders of this tree: the root's own INBOX (the inbox is elsewhere), a UTF-8 name,
    // a nested directory and an invalid shift sequence.
    make_maildir(&root.join("INBOX"));
    make_maildir(&root.join("Entwürfe"));
    make_maildir(&root.join("Sent/Old"));
    make_maildir(&root.join("Bad&Jjo"));
    let options = TreeOptions {
        flatten: Some('.'),
        names: Names::ImapUtf7,
        inbox: Some(inbox.clone()),
    };
    let mut store = Maildir::open_with(&root, Layout::Verbatim, options).unwrap();
    assert_eq!(
        listed(&mut store).await,
        [
            ("Archive", false),
            ("Archive/2024", true),
            ("Entwürfe", true),
            ("INBOX", true),
            ("INBOX/Sub", true),
            ("Sent", true),
        ]
        .map(|(n, s)| (n.to_owned(), s))
    );
    store
        .create_collection(&name("Entwürfe/Alt"))
        .await
        .unwrap();
    assert!(root.join("Entw&APw-rfe.Alt/cur").is_dir());
    assert_eq!(
        store.collection_path(&name("INBOX")).unwrap(),
        inbox.canonicalize().unwrap()
    );
    let err = store
        .create_collection(&name("Lists/v1.2"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
    assert!(err.to_string().contains("\"Lists/v1.2\""), "{err}");
}

/// Without `Flatten`, mbsync keeps INBOX's subfolders inside the inbox directory; a missing
/// inbox is created (its parent exists) when the engine creates INBOX.
#[tokio::test]
async fn subfolders_of_an_inbox_elsewhere_live_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Mail");
    let inbox = dir.path().join("inbox");
    fs::create_dir_all(&root).unwrap();
    let options = TreeOptions {
        inbox: Some(inbox.clone()),
        ..TreeOptions::default()
    };
    let mut store = Maildir::open_with(&root, Layout::Verbatim, options).unwrap();
    store.create_collection(&name("INBOX")).await.unwrap();
    store.create_collection(&name("INBOX/Sub")).await.unwrap();
    store.create_collection(&name("Other")).await.unwrap();
    assert!(inbox.join("cur").is_dir());
    assert!(inbox.join("Sub/cur").is_dir());
    assert!(root.join("Other/cur").is_dir());
    assert!(!root.join("INBOX").exists());
    assert_eq!(
        listed(&mut store).await,
        [("INBOX", true), ("INBOX/Sub", true), ("Other", true)].map(|(n, s)| (n.to_owned(), s))
    );
    store.delete_collection(&name("INBOX/Sub")).await.unwrap();
    assert!(!inbox.join("Sub").exists());
}

/// An inbox set to where the layout puts it anyway changes nothing.
#[tokio::test]
async fn an_inbox_at_its_usual_place_is_the_usual_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let options = TreeOptions {
        inbox: Some(dir.path().join("INBOX")),
        ..TreeOptions::default()
    };
    let mut store = Maildir::open_with(dir.path(), Layout::Verbatim, options).unwrap();
    store.create_collection(&name("INBOX/Sub")).await.unwrap();
    assert!(dir.path().join("INBOX/Sub/cur").is_dir());
}

#[test]
fn flatten_and_inbox_need_the_verbatim_layout() {
    let dir = tempfile::tempdir().unwrap();
    let flat = TreeOptions {
        flatten: Some('.'),
        ..TreeOptions::default()
    };
    let err = Maildir::open_with(dir.path(), Layout::MaildirPlusPlus, flat).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}
