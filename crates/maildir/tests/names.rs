//! Folder names on disk: both layouts, hostile names, symlinks, unicode round trips.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use pimlink_core::{
    CollectionInfo, CollectionName, Content, ErrorKind, Flags, ItemData, MailStore, NewItem,
};
use pimlink_maildir::{Layout, Maildir};
use proptest::prelude::*;

fn name(text: &str) -> CollectionName {
    CollectionName::new(text).unwrap()
}

fn listed(infos: &[CollectionInfo]) -> Vec<(String, bool)> {
    infos
        .iter()
        .map(|info| (info.name.as_str().to_owned(), info.selectable))
        .collect()
}

/// Every path under `dir`, relative to it (symlinks not followed).
fn snapshot(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            out.insert(path.strip_prefix(dir).unwrap().to_path_buf());
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

fn make_maildir(dir: &Path) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
}

#[tokio::test]
async fn verbatim_creates_nested_directories_and_lists_parents() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Maildir::open(dir.path(), Layout::Verbatim).unwrap();
    for folder in ["INBOX", "Lists/rust/users", "Archive"] {
        store.create_collection(&name(folder)).await.unwrap();
    }
    // Creating again is not an error and changes nothing.
    let before = snapshot(dir.path());
    store.create_collection(&name("Archive")).await.unwrap();
    assert_eq!(snapshot(dir.path()), before);

    assert!(dir.path().join("INBOX/cur").is_dir());
    assert!(dir.path().join("Lists/rust/users/tmp").is_dir());
    assert!(!dir.path().join("Lists/cur").exists());
    // Not mail: a notmuch index, a stray file, an empty directory.
    fs::create_dir_all(dir.path().join(".notmuch/xapian")).unwrap();
    fs::write(dir.path().join(".mbsyncstate"), b"x").unwrap();
    fs::create_dir(dir.path().join("empty")).unwrap();

    let infos = store.list_collections().await.unwrap();
    assert_eq!(
        listed(&infos),
        [
            ("Archive".into(), true),
            ("INBOX".into(), true),
            ("Lists".into(), false),
            ("Lists/rust".into(), false),
            ("Lists/rust/users".into(), true),
        ]
    );
}

#[tokio::test]
async fn maildirplusplus_uses_the_root_as_inbox_and_dot_folders() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Maildir::open(dir.path(), Layout::MaildirPlusPlus).unwrap();
    for folder in ["INBOX", "Lists/rust", "INBOX/Sub", "Sent"] {
        store.create_collection(&name(folder)).await.unwrap();
    }
    assert!(dir.path().join("cur").is_dir());
    assert!(dir.path().join(".Lists.rust/new").is_dir());
    assert!(dir.path().join(".Lists.rust/maildirfolder").is_file());
    assert!(dir.path().join(".INBOX.Sub/cur").is_dir());
    assert!(!dir.path().join(".Lists").exists());
    assert!(!dir.path().join("maildirfolder").exists());
    // Dovecot's own files in the root are not folders.
    fs::write(dir.path().join("dovecot-uidlist"), b"x").unwrap();
    fs::create_dir(dir.path().join(".notmaildir")).unwrap();

    let infos = store.list_collections().await.unwrap();
    assert_eq!(
        listed(&infos),
        [
            ("INBOX".into(), true),
            ("INBOX/Sub".into(), true),
            ("Lists".into(), false),
            ("Lists/rust".into(), true),
            ("Sent".into(), true),
        ]
    );
}

#[tokio::test]
async fn directories_that_cannot_be_addressed_are_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    make_maildir(&root.join("INBOX"));
    make_maildir(&root.join("inbox")); // would be the name INBOX, which lives at INBOX
    make_maildir(&root.join(std::ffi::OsStr::from_bytes(b"bad\xffname")));
    make_maildir(&root.join("ok"));
    make_maildir(&root.join("ok/cur/nested")); // below a maildir subdirectory: not a folder
    make_maildir(&root.join(".MaildirPP.Style")); // fine in verbatim: a folder with dots
    let mut store = Maildir::open(root, Layout::Verbatim).unwrap();
    assert_eq!(
        listed(&store.list_collections().await.unwrap()),
        [
            (".MaildirPP.Style".into(), true),
            ("INBOX".into(), true),
            ("ok".into(), true),
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    make_maildir(root);
    make_maildir(&root.join(".INBOX")); // would collide with the root INBOX
    make_maildir(&root.join("..A")); // empty level
    make_maildir(&root.join(".B."));
    make_maildir(&root.join(std::ffi::OsStr::from_bytes(b".bad\xff")));
    make_maildir(&root.join("NoDot")); // not a Maildir++ folder
    make_maildir(&root.join(".Good"));
    let mut store = Maildir::open(root, Layout::MaildirPlusPlus).unwrap();
    assert_eq!(
        listed(&store.list_collections().await.unwrap()),
        [("Good".into(), true), ("INBOX".into(), true)]
    );
}

/// Each hostile name is refused with a message naming the folder and the reason, and nothing is
/// created anywhere: neither in the root nor beside it.
#[tokio::test]
async fn hostile_names_are_refused_and_create_nothing() {
    let long = "x".repeat(256);
    let too_long_pp = format!("{}/{}", "y".repeat(128), "z".repeat(128));
    let cases: Vec<(Layout, &str, &str)> = vec![
        (Layout::Verbatim, "cur", "collide"),
        (Layout::Verbatim, "new", "collide"),
        (Layout::Verbatim, "A/tmp", "collide"),
        (Layout::Verbatim, "tmp/A", "collide"),
        (Layout::Verbatim, &long, "at most 255"),
        (Layout::Verbatim, "Inbox/x", "case"),
        (Layout::MaildirPlusPlus, "a.b", "contains '.'"),
        (Layout::MaildirPlusPlus, ".hidden", "contains '.'"),
        (Layout::MaildirPlusPlus, "A/.x", "contains '.'"),
        (Layout::MaildirPlusPlus, "A/x.", "contains '.'"),
        (Layout::MaildirPlusPlus, &long, "at most 255"),
        (Layout::MaildirPlusPlus, &too_long_pp, "at most 255"),
        (Layout::MaildirPlusPlus, "inBox/x", "case"),
    ];
    for (layout, text, why) in cases {
        let sandbox = tempfile::tempdir().unwrap();
        let root = sandbox.path().join("root");
        let mut store = Maildir::open(&root, layout).unwrap();
        let before = snapshot(sandbox.path());
        let folder = name(text);
        let err = store.create_collection(&folder).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{text}: {err}");
        let message = err.to_string();
        assert!(message.contains(why), "{layout:?} {text}: {message}");
        assert!(message.contains(&format!("{text:?}")), "{message}");
        let err = store
            .deliver(
                &folder,
                NewItem {
                    data: ItemData {
                        content: Content::Bytes(b"x".to_vec()),
                        internal_date: None,
                    },
                    flags: &Flags::new(),
                    reserved_key: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{text}: {err}");
        assert_eq!(
            store
                .list_items(&folder, Default::default())
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidName
        );
        assert_eq!(snapshot(sandbox.path()), before, "{layout:?} {text}");
    }
}

/// Names that core refuses can never reach the store; this pins that the escape routes stay
/// closed at the boundary the store relies on.
#[test]
fn escaping_names_never_become_collection_names() {
    for bad in [
        "../x",
        "a/../../x",
        "/etc",
        "a//b",
        "..",
        ".",
        "a\0b",
        "a\nb",
        "",
    ] {
        assert!(CollectionName::new(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn symlinked_folders_are_neither_listed_nor_entered() {
    for layout in [Layout::Verbatim, Layout::MaildirPlusPlus] {
        let outside = tempfile::tempdir().unwrap();
        make_maildir(&outside.path().join("victim"));
        fs::write(outside.path().join("victim/cur/secret:2,S"), b"secret").unwrap();
        let before_outside = snapshot(outside.path());

        let dir = tempfile::tempdir().unwrap();
        let (link_name, folder) = match layout {
            Layout::Verbatim => ("evil", "evil"),
            Layout::MaildirPlusPlus => (".evil", "evil"),
        };
        std::os::unix::fs::symlink(outside.path().join("victim"), dir.path().join(link_name))
            .unwrap();
        // A symlinked parent in verbatim: Parent -> outside, so Parent/victim would be a maildir.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("Parent")).unwrap();

        let mut store = Maildir::open(dir.path(), layout).unwrap();
        let infos = store.list_collections().await.unwrap();
        assert!(infos.is_empty(), "{layout:?}: {infos:?}");

        let err = store
            .list_items(&name(folder), Default::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = store
            .deliver(
                &name(folder),
                NewItem {
                    data: ItemData {
                        content: Content::Bytes(b"x".to_vec()),
                        internal_date: None,
                    },
                    flags: &Flags::new(),
                    reserved_key: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{err}");
        if layout == Layout::Verbatim {
            let err = store
                .create_collection(&name("Parent/new-folder"))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidName, "{err}");
            let err = store
                .list_items(&name("Parent/victim"), Default::default())
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidName, "{err}");
        }
        assert_eq!(snapshot(outside.path()), before_outside, "{layout:?}");
    }
}

#[tokio::test]
async fn a_symlinked_root_is_resolved_and_used() {
    let real = tempfile::tempdir().unwrap();
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("Mail");
    std::os::unix::fs::symlink(real.path(), &link).unwrap();
    let mut store = Maildir::open(&link, Layout::Verbatim).unwrap();
    store.create_collection(&name("INBOX")).await.unwrap();
    assert!(real.path().join("INBOX/cur").is_dir());
    assert_eq!(
        listed(&store.list_collections().await.unwrap()),
        [("INBOX".into(), true)]
    );
}

/// One level that both layouts can hold (no '.', so Maildir++ can too).
fn level() -> impl Strategy<Value = String> {
    "[^/.\\p{Cc}]{1,10}".prop_filter("a level the layouts refuse", |level| {
        !["cur", "new", "tmp"].contains(&level.as_str()) && !level.eq_ignore_ascii_case("INBOX")
    })
}

fn folder_names() -> impl Strategy<Value = Vec<CollectionName>> {
    proptest::collection::vec(proptest::collection::vec(level(), 1..4), 1..5).prop_map(|names| {
        names
            .into_iter()
            .map(|levels| CollectionName::new(levels.join("/")).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any UTF-8 name the layout can hold is created on disk and listed back exactly, with its
    /// parents, and with nothing else.
    #[test]
    fn unicode_names_round_trip_through_the_disk(names in folder_names()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for layout in [Layout::Verbatim, Layout::MaildirPlusPlus] {
            let dir = tempfile::tempdir().unwrap();
            let mut store = Maildir::open(dir.path(), layout).unwrap();
            let infos = runtime.block_on(async {
                for folder in &names {
                    store.create_collection(folder).await.unwrap();
                }
                store.list_collections().await.unwrap()
            });
            let created: BTreeSet<&str> = names.iter().map(CollectionName::as_str).collect();
            let mut expected: BTreeSet<(String, bool)> = BTreeSet::new();
            for folder in &created {
                let mut prefix = String::new();
                for (index, level) in folder.split('/').enumerate() {
                    if index > 0 {
                        prefix.push('/');
                    }
                    prefix.push_str(level);
                    let selectable = created.contains(prefix.as_str());
                    expected.insert((prefix.clone(), selectable));
                }
            }
            let got: BTreeSet<(String, bool)> = listed(&infos).into_iter().collect();
            prop_assert_eq!(got, expected, "{:?}", layout);
        }
    }
}
