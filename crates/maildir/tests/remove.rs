//! Removing folders (a pair's `remove`): only empty maildirs, only inside the root.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;

use pimlink_core::{CollectionName, ErrorKind, MailStore};
use pimlink_maildir::{Layout, Maildir};

fn name(text: &str) -> CollectionName {
    CollectionName::new(text).unwrap()
}

fn make_maildir(dir: &Path) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
}

#[tokio::test]
async fn empty_folders_are_removed_in_both_layouts_and_inbox_never() {
    for layout in [Layout::Verbatim, Layout::MaildirPlusPlus] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Maildir::open(dir.path(), layout).unwrap();
        for folder in ["INBOX", "Old", "Old/Child", "Full"] {
            store.create_collection(&name(folder)).await.unwrap();
        }
        let full = store.collection_path(&name("Full")).unwrap();
        fs::write(full.join("cur/1.x:2,S"), b"keep me").unwrap();

        store.delete_collection(&name("Old")).await.unwrap();
        let listed: Vec<String> = store
            .list_collections()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.selectable)
            .map(|c| c.name.to_string())
            .collect();
        assert_eq!(listed, ["Full", "INBOX", "Old/Child"], "{layout:?}");

        let err = store.delete_collection(&name("Full")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
        assert!(full.join("cur/1.x:2,S").is_file());
        let err = store.delete_collection(&name("INBOX")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
        // Gone already: fine.
        store.delete_collection(&name("Never")).await.unwrap();
    }
}

#[tokio::test]
async fn a_symlinked_folder_is_never_removed() {
    for layout in [Layout::Verbatim, Layout::MaildirPlusPlus] {
        let outside = tempfile::tempdir().unwrap();
        make_maildir(&outside.path().join("victim"));
        let dir = tempfile::tempdir().unwrap();
        let link = match layout {
            Layout::Verbatim => "evil",
            Layout::MaildirPlusPlus => ".evil",
        };
        std::os::unix::fs::symlink(outside.path().join("victim"), dir.path().join(link)).unwrap();
        let mut store = Maildir::open(dir.path(), layout).unwrap();
        let err = store.delete_collection(&name("evil")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{err}");
        assert!(outside.path().join("victim/cur").is_dir(), "{layout:?}");
    }
}
