//! The Maildir store's item operations against a real temporary directory.
//!
//! One file of short cases (about 30 lines each) on one store, sharing the helpers at its top; in
//! order: delivery, flags, renamed and vanished files, what a listing ignores, keys and opening,
//! flush, keywords, moves.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pimlink_core::Known;
use pimlink_core::{
    CollectionName, Content, ErrorKind, Flag, Flags, ItemData, ItemKey, MailStore, NewItem,
};
use pimlink_maildir::{Layout, Maildir};

fn name(text: &str) -> CollectionName {
    CollectionName::new(text).unwrap()
}

/// A fresh store with the folder `Box` created, and that folder's directory.
async fn store_with_box(layout: Layout) -> (tempfile::TempDir, Maildir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Maildir::open(dir.path(), layout).unwrap();
    store.create_collection(&name("Box")).await.unwrap();
    let path = store.collection_path(&name("Box")).unwrap();
    (dir, store, path)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn item(content: &[u8], date: Option<SystemTime>) -> ItemData {
    ItemData {
        content: Content::Bytes(content.to_vec()),
        internal_date: date,
    }
}

fn read_all(data: ItemData) -> Vec<u8> {
    match data.content {
        Content::Bytes(bytes) => bytes,
        Content::File(mut file) => {
            let mut out = Vec::new();
            file.read_to_end(&mut out).unwrap();
            out
        }
    }
}

#[tokio::test]
async fn unflagged_delivery_lands_in_new_with_the_internal_date() {
    for layout in [Layout::Verbatim, Layout::MaildirPlusPlus] {
        let (_dir, mut store, path) = store_with_box(layout).await;
        let date = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let key = store
            .deliver(
                &name("Box"),
                NewItem {
                    data: item(b"Subject: hi\n\nbody\n", Some(date)),
                    flags: &Flags::new(),
                    reserved_key: None,
                },
            )
            .await
            .unwrap();
        store.flush().await.unwrap();
        store.flush().await.unwrap();

        assert_eq!(files_in(&path.join("new")), [key.as_str()]);
        assert!(files_in(&path.join("cur")).is_empty());
        assert!(
            files_in(&path.join("tmp")).is_empty(),
            "tmp/ must be empty after delivery"
        );
        let file = path.join("new").join(key.as_str());
        assert_eq!(fs::read(&file).unwrap(), b"Subject: hi\n\nbody\n");
        assert_eq!(fs::metadata(&file).unwrap().modified().unwrap(), date);

        let data = store.read(&name("Box"), &key).await.unwrap();
        assert_eq!(data.internal_date, Some(date));
        assert_eq!(read_all(data), b"Subject: hi\n\nbody\n");

        let listed = store
            .list_items(&name("Box"), Known::default())
            .await
            .unwrap()
            .items;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, key);
        assert!(listed[0].flags.is_empty());
    }
}

#[tokio::test]
async fn flagged_delivery_lands_in_cur_with_sorted_letters_under_the_reserved_key() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    let reserved = store.reserve_key().unwrap();
    let flags = Flags::new().with(Flag::Seen).with(Flag::Flagged);
    // File times have whole seconds on some file systems.
    let before = SystemTime::now() - Duration::from_secs(1);
    let key = store
        .deliver(
            &name("Box"),
            NewItem {
                data: item(b"x", None),
                flags: &flags,
                reserved_key: Some(reserved.clone()),
            },
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(key, reserved);
    assert_eq!(files_in(&path.join("cur")), [format!("{key}:2,FS")]);
    assert!(files_in(&path.join("new")).is_empty());
    // Without an internal date the mtime is the delivery time.
    let mtime = fs::metadata(path.join("cur").join(format!("{key}:2,FS")))
        .unwrap()
        .modified()
        .unwrap();
    assert!(
        before <= mtime && mtime <= SystemTime::now(),
        "{mtime:?} is not the time of the delivery"
    );
    let listed = store
        .list_items(&name("Box"), Known::default())
        .await
        .unwrap()
        .items;
    assert_eq!(listed[0].flags, flags);
}

#[tokio::test]
async fn delivery_over_an_existing_key_fails_and_keeps_the_old_file() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    fs::write(path.join("cur/existing.key:2,S"), b"original").unwrap();
    for flags in [Flags::new(), Flags::new().with(Flag::Seen)] {
        let err = store
            .deliver(
                &name("Box"),
                NewItem {
                    data: item(b"replacement", None),
                    flags: &flags,
                    reserved_key: Some(ItemKey::new("existing.key")),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
        assert!(err.to_string().contains("already exists"), "{err}");
    }
    assert_eq!(
        fs::read(path.join("cur/existing.key:2,S")).unwrap(),
        b"original"
    );
    assert!(files_in(&path.join("new")).is_empty());

    // A second store that never listed the folder must refuse too.
    let mut fresh = Maildir::open(store.root(), Layout::Verbatim).unwrap();
    let err = fresh
        .deliver(
            &name("Box"),
            NewItem {
                data: item(b"replacement", None),
                flags: &Flags::new(),
                reserved_key: Some(ItemKey::new("existing.key")),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
}

#[tokio::test]
async fn delivery_refuses_keys_that_are_no_file_name() {
    let (dir, mut store, _path) = store_with_box(Layout::Verbatim).await;
    for bad in ["../escape", "a/b", ".hidden", "k:2,S", ""] {
        let err = store
            .deliver(
                &name("Box"),
                NewItem {
                    data: item(b"x", None),
                    flags: &Flags::new(),
                    reserved_key: Some(ItemKey::new(bad)),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName, "{bad:?}: {err}");
    }
    assert!(!dir.path().join("escape").exists());
    assert!(!dir.path().join("Box/escape").exists());
}

#[tokio::test]
async fn delivery_streams_a_large_file() {
    let (_dir, mut store, path) = store_with_box(Layout::MaildirPlusPlus).await;
    let mut source = tempfile::tempfile().unwrap();
    let chunk: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    for _ in 0..48 {
        source.write_all(&chunk).unwrap();
    }
    source.rewind().unwrap();
    let key = store
        .deliver(
            &name("Box"),
            NewItem {
                data: ItemData {
                    content: Content::File(source),
                    internal_date: None,
                },
                flags: &Flags::new(),
                reserved_key: None,
            },
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    let written = fs::read(path.join("new").join(key.as_str())).unwrap();
    assert_eq!(written.len(), 48 * chunk.len());
    assert!(written.chunks(chunk.len()).all(|c| c == chunk.as_slice()));
}

#[tokio::test]
async fn delivery_into_a_missing_folder_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Maildir::open(dir.path(), Layout::Verbatim).unwrap();
    let err = store
        .deliver(
            &name("Nope"),
            NewItem {
                data: item(b"x", None),
                flags: &Flags::new(),
                reserved_key: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(!dir.path().join("Nope").exists());
}

#[tokio::test]
async fn flag_change_keeps_unknown_letters_and_moves_to_cur() {
    let (_dir, mut store, path) = store_with_box(Layout::MaildirPlusPlus).await;
    fs::write(path.join("cur/1.a.host,S=1:2,RSab"), b"1").unwrap();
    fs::write(path.join("new/2.b.host"), b"2").unwrap();
    store
        .list_items(&name("Box"), Known::default())
        .await
        .unwrap();

    let flagged = Flags::new().with(Flag::Flagged);
    store
        .set_flags(&name("Box"), &ItemKey::new("1.a.host,S=1"), &flagged)
        .await
        .unwrap();
    store
        .set_flags(&name("Box"), &ItemKey::new("2.b.host"), &flagged)
        .await
        .unwrap();
    assert_eq!(
        files_in(&path.join("cur")),
        ["1.a.host,S=1:2,Fab", "2.b.host:2,F"]
    );
    assert!(files_in(&path.join("new")).is_empty());

    // Clearing every flag keeps the message in cur/ with an empty info part, letters intact.
    store
        .set_flags(&name("Box"), &ItemKey::new("1.a.host,S=1"), &Flags::new())
        .await
        .unwrap();
    store
        .set_flags(&name("Box"), &ItemKey::new("2.b.host"), &Flags::new())
        .await
        .unwrap();
    assert_eq!(
        files_in(&path.join("cur")),
        ["1.a.host,S=1:2,ab", "2.b.host:2,"]
    );
    store.flush().await.unwrap();

    let listed = store
        .list_items(&name("Box"), Known::default())
        .await
        .unwrap()
        .items;
    assert!(listed.iter().all(|e| e.flags.is_empty()), "{listed:?}");
    assert_eq!(listed[0].size, Some(1));
}

#[tokio::test]
async fn unflagged_message_in_new_stays_put() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    fs::write(path.join("new/3.c.host"), b"3").unwrap();
    store
        .set_flags(&name("Box"), &ItemKey::new("3.c.host"), &Flags::new())
        .await
        .unwrap();
    assert_eq!(files_in(&path.join("new")), ["3.c.host"]);
    assert!(files_in(&path.join("cur")).is_empty());
}

#[tokio::test]
async fn files_renamed_behind_the_stores_back_are_found_again() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    fs::write(path.join("new/k1"), b"one").unwrap();
    fs::write(path.join("new/k2"), b"two").unwrap();
    fs::write(path.join("new/k3"), b"three").unwrap();
    assert_eq!(
        store
            .list_items(&name("Box"), Known::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );

    // A mail reader marks them seen.
    for key in ["k1", "k2", "k3"] {
        fs::rename(
            path.join("new").join(key),
            path.join("cur").join(format!("{key}:2,S")),
        )
        .unwrap();
    }

    let data = store.read(&name("Box"), &ItemKey::new("k1")).await.unwrap();
    assert_eq!(read_all(data), b"one");

    let replied = Flags::new().with(Flag::Replied);
    store
        .set_flags(&name("Box"), &ItemKey::new("k2"), &replied)
        .await
        .unwrap();
    // The store sets the flags it is told: the reader's S is replaced by R.
    assert!(path.join("cur/k2:2,R").exists());

    // Renamed again after the store's rescan, then deleted through the store.
    fs::rename(path.join("cur/k3:2,S"), path.join("cur/k3:2,FS")).unwrap();
    store
        .delete(&name("Box"), &ItemKey::new("k3"))
        .await
        .unwrap();
    assert_eq!(files_in(&path.join("cur")), ["k1:2,S", "k2:2,R"]);
    store.flush().await.unwrap();
}

#[tokio::test]
async fn vanished_messages_are_not_found_and_deleting_them_is_fine() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    fs::write(path.join("cur/gone:2,S"), b"x").unwrap();
    store
        .list_items(&name("Box"), Known::default())
        .await
        .unwrap();
    fs::remove_file(path.join("cur/gone:2,S")).unwrap();

    let key = ItemKey::new("gone");
    let err = store.read(&name("Box"), &key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("gone"), "{err}");
    let err = store
        .set_flags(&name("Box"), &key, &Flags::new().with(Flag::Seen))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    store.delete(&name("Box"), &key).await.unwrap();
    store
        .delete(&name("Box"), &ItemKey::new("never-existed"))
        .await
        .unwrap();
    // Nothing was created by the failed flag change.
    assert!(files_in(&path.join("cur")).is_empty());
}

#[tokio::test]
async fn duplicate_keys_are_listed_once() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    fs::write(path.join("new/dup"), b"new copy").unwrap();
    fs::write(path.join("cur/dup:2,S"), b"cur copy").unwrap();
    fs::write(path.join("cur/dup:2,RS"), b"other cur copy").unwrap();
    let listed = store
        .list_items(&name("Box"), Known::default())
        .await
        .unwrap()
        .items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key.as_str(), "dup");
    // Deterministic: cur/ before new/, then the smallest file name.
    assert_eq!(
        listed[0].flags,
        Flags::new().with(Flag::Replied).with(Flag::Seen)
    );
    let data = store
        .read(&name("Box"), &ItemKey::new("dup"))
        .await
        .unwrap();
    assert_eq!(read_all(data), b"other cur copy");
}

#[tokio::test]
async fn leftovers_in_tmp_and_dot_files_are_ignored() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    fs::write(path.join("tmp/123.leftover.host"), b"half written").unwrap();
    fs::write(path.join("cur/.dovecot-junk"), b"x").unwrap();
    fs::write(path.join("new/real"), b"x").unwrap();
    let listed = store
        .list_items(&name("Box"), Known::default())
        .await
        .unwrap()
        .items;
    let keys: Vec<&str> = listed.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["real"]);
}

#[tokio::test]
async fn symlinked_message_files_are_not_read() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), path.join("cur/link:2,S")).unwrap();
    assert!(
        store
            .list_items(&name("Box"), Known::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let err = store
        .read(&name("Box"), &ItemKey::new("link"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn reserved_keys_are_distinct_and_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Maildir::open(dir.path(), Layout::Verbatim).unwrap();
    let a = store.reserve_key().unwrap();
    let b = store.reserve_key().unwrap();
    assert_ne!(a, b);
    for key in [a, b] {
        let text = key.as_str();
        assert!(!text.contains('/') && !text.contains(':'), "{text}");
        let parts: Vec<&str> = text.splitn(3, '.').collect();
        assert!(parts[0].parse::<u64>().is_ok(), "{text}");
        assert!(
            parts[1].starts_with('M') && parts[1].contains('P'),
            "{text}"
        );
        assert!(parts[1].contains('Q') && parts[1].contains('R'), "{text}");
    }
}

#[tokio::test]
async fn open_creates_only_the_last_level() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Mail");
    let store = Maildir::open(&root, Layout::Verbatim).unwrap();
    assert!(root.is_dir());
    assert!(store.describe().contains("Mail"));

    let err = Maildir::open(dir.path().join("missing/Mail"), Layout::Verbatim).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(!dir.path().join("missing").exists());

    fs::write(dir.path().join("file"), b"x").unwrap();
    let err = Maildir::open(dir.path().join("file"), Layout::Verbatim).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[tokio::test]
async fn listing_a_missing_folder_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Maildir::open(dir.path(), Layout::Verbatim).unwrap();
    let err = store
        .list_items(&name("Nope"), Known::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("Nope"), "{err}");
}

#[tokio::test]
async fn flush_reports_a_directory_it_cannot_sync_and_retries_it_later() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    let key = store
        .deliver(
            &name("Box"),
            NewItem {
                data: item(b"x", None),
                flags: &Flags::new(),
                reserved_key: None,
            },
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    store.delete(&name("Box"), &key).await.unwrap();
    // The directory to sync disappears before the flush (a user removed the folder).
    fs::remove_dir(path.join("new")).unwrap();
    let err = store.flush().await.unwrap_err();
    assert!(err.to_string().contains("new"), "{err}");
    // Still pending, not forgotten: the next flush tries again, and succeeds once the
    // directory is back.
    assert!(store.flush().await.is_err());
    fs::create_dir(path.join("new")).unwrap();
    store.flush().await.unwrap();
}

/// Deliveries become visible, durably, only in `flush` (which fsyncs them together); one that
/// cannot be placed is reported and its key is free again.
#[tokio::test]
async fn deliveries_are_placed_by_flush_and_a_failed_one_frees_its_key() {
    let (_dir, mut store, path) = store_with_box(Layout::Verbatim).await;
    let mut keys = Vec::new();
    for i in 0..40 {
        let key = store
            .deliver(
                &name("Box"),
                NewItem {
                    data: item(format!("message {i}").as_bytes(), None),
                    flags: &Flags::new(),
                    reserved_key: None,
                },
            )
            .await
            .unwrap();
        keys.push(key);
    }
    assert!(
        files_in(&path.join("new")).is_empty(),
        "nothing visible before flush"
    );
    store.flush().await.unwrap();
    assert_eq!(files_in(&path.join("new")).len(), 40);
    assert!(files_in(&path.join("tmp")).is_empty());
    let content = fs::read_to_string(path.join("new").join(keys[7].as_str())).unwrap();
    assert_eq!(content, "message 7");

    // A file that appears under the same name meanwhile (another program) is never replaced.
    let reserved = store.reserve_key().unwrap();
    store
        .deliver(
            &name("Box"),
            NewItem {
                data: item(b"ours", None),
                flags: &Flags::new(),
                reserved_key: Some(reserved.clone()),
            },
        )
        .await
        .unwrap();
    fs::write(path.join("new").join(reserved.as_str()), b"theirs").unwrap();
    let err = store.flush().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    assert_eq!(
        fs::read_to_string(path.join("new").join(reserved.as_str())).unwrap(),
        "theirs"
    );
    assert!(files_in(&path.join("tmp")).is_empty());
}

/// Keywords are letters under each folder's own `dovecot-keywords`: set_flags adds letters to
/// the file before using them, and a move translates the letters to the target's mapping.
#[tokio::test]
async fn keyword_letters_follow_each_folders_mapping() {
    let (_dir, mut store, from) = store_with_box(Layout::Verbatim).await;
    store.create_collection(&name("Other")).await.unwrap();
    let to = store.collection_path(&name("Other")).unwrap();
    fs::write(from.join("dovecot-keywords"), "0 $Junk\n").unwrap();
    fs::write(to.join("dovecot-keywords"), "0 other\n").unwrap();
    fs::write(from.join("cur/1.a.host:2,Sa"), b"1").unwrap();
    let listed = store
        .list_items(&name("Box"), Known::default())
        .await
        .unwrap();
    let mut expected = Flags::new().with(Flag::Seen);
    expected.set_keyword("$Junk", true);
    assert_eq!(listed.items[0].flags, expected);

    expected.set_keyword("work", true);
    let key = ItemKey::new("1.a.host");
    store
        .set_flags(&name("Box"), &key, &expected)
        .await
        .unwrap();
    assert_eq!(
        fs::read_to_string(from.join("dovecot-keywords")).unwrap(),
        "0 $Junk\n1 work\n"
    );
    assert_eq!(files_in(&from.join("cur")), ["1.a.host:2,Sab"]);

    store
        .list_items(&name("Other"), Known::default())
        .await
        .unwrap();
    store
        .move_item(&name("Box"), &key, &name("Other"))
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(files_in(&to.join("cur")), ["1.a.host:2,Sbc"]);
    assert_eq!(
        fs::read_to_string(to.join("dovecot-keywords")).unwrap(),
        "0 other\n1 $Junk\n2 work\n"
    );
    let listed = store
        .list_items(&name("Other"), Known::default())
        .await
        .unwrap();
    assert_eq!(listed.items[0].flags, expected);
    assert!(files_in(&to.join("tmp")).is_empty());
}

/// A move is a hard link and an unlink; a run killed between the two leaves one file in both
/// folders. Moving it again finishes the move instead of failing on every later run, while a
/// different message that has the key in the target is still never overwritten.
#[tokio::test]
async fn a_move_interrupted_between_link_and_unlink_is_finished() {
    let (_dir, mut store, from) = store_with_box(Layout::Verbatim).await;
    store.create_collection(&name("Trash")).await.unwrap();
    let to = store.collection_path(&name("Trash")).unwrap();
    fs::write(from.join("cur/1.a.host:2,S"), b"one").unwrap();
    fs::hard_link(from.join("cur/1.a.host:2,S"), to.join("cur/1.a.host:2,S")).unwrap();
    fs::write(from.join("cur/2.b.host:2,S"), b"two").unwrap();
    fs::write(
        to.join("cur/2.b.host:2,"),
        b"another message with the same key",
    )
    .unwrap();
    for folder in ["Box", "Trash"] {
        store
            .list_items(&name(folder), Known::default())
            .await
            .unwrap();
    }

    let key = ItemKey::new("1.a.host");
    let moved = store
        .move_item(&name("Box"), &key, &name("Trash"))
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(moved, key);
    assert_eq!(files_in(&from.join("cur")), ["2.b.host:2,S"]);
    assert_eq!(files_in(&to.join("cur")), ["1.a.host:2,S", "2.b.host:2,"]);

    let err = store
        .move_item(&name("Box"), &ItemKey::new("2.b.host"), &name("Trash"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    assert_eq!(
        fs::read(to.join("cur/2.b.host:2,")).unwrap(),
        b"another message with the same key"
    );
    assert_eq!(fs::read(from.join("cur/2.b.host:2,S")).unwrap(), b"two");
}

/// A move into the trash gives the message its new flags in the same rename (the trash copy
/// loses its \Deleted mark, or the next expunge of the trash would lose it), also when it
/// finishes a move an earlier run left half done.
#[tokio::test]
async fn a_move_with_flags_names_the_moved_file_with_them() {
    let (_dir, mut store, from) = store_with_box(Layout::Verbatim).await;
    store.create_collection(&name("Trash")).await.unwrap();
    let to = store.collection_path(&name("Trash")).unwrap();
    fs::write(from.join("cur/1.a.host:2,ST"), b"one").unwrap();
    fs::write(from.join("cur/2.b.host:2,T"), b"two").unwrap();
    fs::hard_link(from.join("cur/2.b.host:2,T"), to.join("cur/2.b.host:2,T")).unwrap();
    for folder in ["Box", "Trash"] {
        store
            .list_items(&name(folder), Known::default())
            .await
            .unwrap();
    }

    let seen = Flags::new().with(Flag::Seen);
    for key in ["1.a.host", "2.b.host"] {
        let moved = store
            .move_item_with_flags(&name("Box"), &ItemKey::new(key), &name("Trash"), &seen)
            .await
            .unwrap();
        assert_eq!(moved.as_str(), key);
    }
    store.flush().await.unwrap();
    assert!(files_in(&from.join("cur")).is_empty());
    assert_eq!(files_in(&to.join("cur")), ["1.a.host:2,S", "2.b.host:2,S"]);
    assert_eq!(fs::read(to.join("cur/1.a.host:2,S")).unwrap(), b"one");
}

/// One flush over two folders: the big group (one `syncfs`) and the small one (an fsync per
/// file) both land whole, with their dates and flags, and a refused delivery in the big group
/// fails alone and frees its key.
#[tokio::test]
async fn a_flush_over_two_folders_places_every_delivery_whichever_way_it_syncs() {
    let (_dir, mut store, big) = store_with_box(Layout::Verbatim).await;
    store.create_collection(&name("Small")).await.unwrap();
    let small = store.collection_path(&name("Small")).unwrap();
    let date = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let seen = Flags::new().with(Flag::Seen);
    let mut delivered = Vec::new();
    for i in 0..70 {
        let folder = if i % 10 == 3 { "Small" } else { "Box" };
        let flags = if i % 2 == 0 {
            seen.clone()
        } else {
            Flags::new()
        };
        let key = store
            .deliver(
                &name(folder),
                NewItem {
                    data: item(format!("message {i}").as_bytes(), Some(date)),
                    flags: &flags,
                    reserved_key: None,
                },
            )
            .await
            .unwrap();
        delivered.push((folder, key, i));
    }
    // Another program takes one of the big group's names meanwhile.
    let (_, taken, _) = delivered
        .iter()
        .find(|(f, _, i)| *f == "Box" && i % 2 == 1)
        .unwrap();
    let taken = taken.clone();
    fs::write(big.join("new").join(taken.as_str()), b"theirs").unwrap();

    let err = store.flush().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    for (folder, key, i) in &delivered {
        if *key == taken {
            continue;
        }
        let dir = if *folder == "Box" { &big } else { &small };
        let path = if i % 2 == 0 {
            dir.join("cur").join(format!("{}:2,S", key.as_str()))
        } else {
            dir.join("new").join(key.as_str())
        };
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("message {i}"));
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(mtime, date, "{}", path.display());
    }
    assert_eq!(
        files_in(&big.join("new")).len() + files_in(&big.join("cur")).len(),
        63
    );
    assert_eq!(
        files_in(&small.join("new")).len() + files_in(&small.join("cur")).len(),
        7
    );
    assert!(files_in(&big.join("tmp")).is_empty());
    assert!(files_in(&small.join("tmp")).is_empty());
    assert_eq!(
        fs::read_to_string(big.join("new").join(taken.as_str())).unwrap(),
        "theirs"
    );

    // The refused key is free again in the store, and the flush after a failure works.
    fs::remove_file(big.join("new").join(taken.as_str())).unwrap();
    store
        .deliver(
            &name("Box"),
            NewItem {
                data: item(b"again", None),
                flags: &Flags::new(),
                reserved_key: Some(taken.clone()),
            },
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(
        fs::read_to_string(big.join("new").join(taken.as_str())).unwrap(),
        "again"
    );
}
