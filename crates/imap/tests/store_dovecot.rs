//! The IMAP storage (`ImapStore`) against a private Dovecot: names, complete and incremental
//! listings under each extension set, UIDVALIDITY changes, batch reads of big messages, APPEND
//! line ends, deliveries without UIDPLUS, queued flag changes and deletions, the stamp after a
//! run's own changes.
//!
//! One file for `ImapStore` against Dovecot: the cases share the store and message helpers at its
//! top; the later ones (from `unchanged_folders_after_a_list`) count the commands a listing or a
//! delivery costs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use pimlink_core::{
    CollectionName, Content, ErrorKind, Flag, Flags, ItemData, ItemKey, Known, Listing, MailStore,
    NewItem,
};
use pimlink_imap::{
    AppendItem, Client, ClientOptions, FetchRequest, ImapStore, Secret, StoreMode, TlsMode,
    UidRanges,
};
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// Dovecot's list without QRESYNC: CONDSTORE alone.
const CONDSTORE_ONLY: &str =
    "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UNSELECT NAMESPACE UIDPLUS CONDSTORE MOVE";
/// Neither CONDSTORE, QRESYNC nor UIDPLUS: an old or minimal server.
const MINIMAL: &str = "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UNSELECT NAMESPACE";

fn options(server: &Dovecot) -> ClientOptions {
    let mut options =
        ClientOptions::new(server.host(), server.user(), Secret::new(server.password()));
    options.port = Some(server.port());
    options.tls = TlsMode::None;
    options.read_timeout = Duration::from_secs(20);
    options
}

fn store(server: &Dovecot) -> ImapStore {
    ImapStore::new(options(server))
}

fn name(text: &str) -> CollectionName {
    CollectionName::new(text).unwrap()
}

fn message(id: &str) -> Vec<u8> {
    format!(
        "From: test@example.org\r\nSubject: message {id}\r\nMessage-ID: <{id}@test>\r\n\
         Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody of {id}\r\n"
    )
    .into_bytes()
}

/// key -> flags, for comparing listings.
fn flags_by_key(listing: &Listing) -> BTreeMap<ItemKey, Flags> {
    listing
        .items
        .iter()
        .map(|e| (e.key.clone(), e.flags.clone()))
        .collect()
}

fn known_of(listing: &Listing) -> Vec<(ItemKey, Flags)> {
    listing
        .items
        .iter()
        .map(|e| (e.key.clone(), e.flags.clone()))
        .collect()
}

fn uid_of(key: &ItemKey) -> u32 {
    key.as_str().split_once(':').unwrap().1.parse().unwrap()
}

/// A message to deliver from memory, without an internal date.
fn bytes_item(content: Vec<u8>, flags: &Flags) -> NewItem<'_> {
    NewItem {
        data: ItemData {
            content: Content::Bytes(content),
            internal_date: None,
        },
        flags,
        reserved_key: None,
    }
}

fn content_bytes(data: ItemData) -> Vec<u8> {
    match data.content {
        Content::Bytes(bytes) => bytes,
        Content::File(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            bytes
        }
    }
}

/// Another client, as a mail reader on another machine would be.
async fn other_client(server: &Dovecot, folder: &str) -> Client {
    let mut client = Client::connect(options(server)).await.unwrap();
    client.select(folder, Default::default()).await.unwrap();
    client
}

#[tokio::test]
async fn folders_are_listed_with_slashes_and_created_below_missing_parents() {
    let server = DovecotBuilder::new().start().unwrap();
    server
        .deliver(server.user(), "Lists.rust", &message("l1"))
        .unwrap();
    server
        .deliver(server.user(), "Entwürfe.日本語 & co", &message("e1"))
        .unwrap();
    let mut store = store(&server);
    assert!(!store.is_connected(), "nothing happens before first use");
    assert_eq!(
        store.describe(),
        format!("imap {}@127.0.0.1:{}", server.user(), server.port())
    );
    let listed = store.list_collections().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    for expected in ["INBOX", "Lists/rust", "Entwürfe/日本語 & co"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    store
        .create_collection(&name("New/Sub/Leaf"))
        .await
        .unwrap();
    store
        .create_collection(&name("New/Sub/Leaf"))
        .await
        .unwrap(); // exists: fine
    store
        .create_collection(&name("Ünïcode/Ordner"))
        .await
        .unwrap();
    let err = store
        .create_collection(&name("has.dot/x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName, "{err}");
    let listed = store.list_collections().await.unwrap();
    let selectable: Vec<&str> = listed
        .iter()
        .filter(|c| c.selectable)
        .map(|c| c.name.as_str())
        .collect();
    for expected in ["New/Sub/Leaf", "Ünïcode/Ordner"] {
        assert!(
            selectable.contains(&expected),
            "{expected} in {selectable:?}"
        );
    }
    // Parents are the server's business: Dovecot's Maildir++ keeps them as mere levels.
    let all: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert!(all.contains(&"New/Sub"), "{all:?}");
    // The server sees the levels with its own delimiter, in modified UTF-7 on the wire.
    let mailboxes = server
        .doveadm(&["mailbox", "list", "-u", server.user()])
        .unwrap();
    assert!(
        mailboxes.lines().any(|l| l == "New.Sub.Leaf"),
        "{mailboxes}"
    );
    assert!(
        mailboxes.lines().any(|l| l == "Ünïcode.Ordner"),
        "{mailboxes}"
    );
    // An empty folder can be listed and selected.
    let listing = store
        .list_items(&name("New/Sub/Leaf"), Known::default())
        .await
        .unwrap();
    assert!(listing.items.is_empty());
}

/// Lists, changes the folder from another client (a flag, an expunge, new mail), lists again
/// from the state and checks the result equals a complete listing. Returns the FETCH commands
/// of an unchanged relisting, the complete listings the changed one fell back to, and the
/// FETCHes that the new message's fingerprint cost afterwards.
async fn incremental_listing_matches_a_complete_one(caps: Option<&str>) -> (u64, u64, u64) {
    let mut builder = DovecotBuilder::new();
    if let Some(caps) = caps {
        builder = builder.capabilities(caps);
    }
    let server = builder.start().unwrap();
    for i in 0..6 {
        server
            .deliver(server.user(), "INBOX", &message(&format!("m{i}")))
            .unwrap();
    }
    let mut store = store(&server);
    let inbox = name("INBOX");
    let first = store.list_items(&inbox, Known::default()).await.unwrap();
    assert_eq!(first.items.len(), 6);
    assert!(!first.keys_reset);
    assert!(first.items.iter().all(|e| e.size.is_some()));
    let state = first.state.clone().expect("a state");
    assert!(state.starts_with("v1 uidvalidity="), "{state}");

    // Unchanged: with CONDSTORE, no FETCH at all.
    let known = known_of(&first);
    let before = store.stats();
    let again = store
        .list_items(
            &inbox,
            Known {
                state: Some(&state),
                items: &known,
            },
        )
        .await
        .unwrap();
    let unchanged_fetches = store.stats().fetches - before.fetches;
    assert_eq!(store.stats().selects - before.selects, 1);
    assert_eq!(flags_by_key(&again), flags_by_key(&first));

    // Another client: flags m1, expunges m2; a new message arrives.
    let uids: Vec<u32> = first.items.iter().map(|e| uid_of(&e.key)).collect();
    let mut other = other_client(&server, "INBOX").await;
    other
        .store(
            &UidRanges::single(uids[1]),
            StoreMode::Add,
            &Flags::new().with(Flag::Flagged).with(Flag::Seen),
            None,
        )
        .await
        .unwrap();
    other
        .store(
            &UidRanges::single(uids[2]),
            StoreMode::Add,
            &Flags::new().with(Flag::Trashed),
            None,
        )
        .await
        .unwrap();
    if other.has("UIDPLUS") {
        other
            .uid_expunge(&UidRanges::single(uids[2]))
            .await
            .unwrap();
    } else {
        // No UIDPLUS: the other client expunges with a CLOSE-like EXPUNGE through doveadm.
        server
            .doveadm(&[
                "expunge",
                "-u",
                server.user(),
                "mailbox",
                "INBOX",
                "uid",
                &uids[2].to_string(),
            ])
            .unwrap();
    }
    other.logout().await.unwrap();
    server
        .deliver(server.user(), "INBOX", &message("new"))
        .unwrap();

    let before = store.stats();
    let incremental = store
        .list_items(
            &inbox,
            Known {
                state: Some(&state),
                items: &known,
            },
        )
        .await
        .unwrap();
    let full_listings = store.stats().full_listings - before.full_listings;
    let complete = self::store(&server)
        .list_items(&inbox, Known::default())
        .await
        .unwrap();
    assert_eq!(flags_by_key(&incremental), flags_by_key(&complete));
    assert_eq!(incremental.items.len(), 6, "6 - 1 expunged + 1 new");
    assert_eq!(incremental.state, complete.state);
    assert!(!incremental.keys_reset);
    let changed = &flags_by_key(&incremental)[&first.items[1].key];
    assert!(changed.contains(Flag::Flagged) && changed.contains(Flag::Seen));
    assert!(!flags_by_key(&incremental).contains_key(&first.items[2].key));
    let new = incremental
        .items
        .iter()
        .find(|e| !known.iter().any(|(k, _)| *k == e.key))
        .unwrap();
    assert_eq!(
        new.size,
        Some(message("new").len() as u64),
        "new mail has its size"
    );
    // The new message's fingerprint came with the listing where the server could say what is
    // new; it equals the one read from the server.
    let fetches = store.stats().fetches;
    let cached = store
        .fingerprints(&inbox, std::slice::from_ref(&new.key))
        .await;
    let fingerprint_fetches = store.stats().fetches - fetches;
    let fresh = self::store(&server)
        .fingerprints(&inbox, std::slice::from_ref(&new.key))
        .await;
    assert_eq!(
        cached[0].as_ref().unwrap(),
        fresh[0].as_ref().unwrap(),
        "same fingerprint"
    );
    assert!(cached[0].as_ref().unwrap().is_some());
    (unchanged_fetches, full_listings, fingerprint_fetches)
}

#[tokio::test]
async fn qresync_listing_is_incremental_and_costs_no_fetch_when_unchanged() {
    // New mail, a flag change and an expunge are all found without listing every message.
    assert_eq!(
        incremental_listing_matches_a_complete_one(None).await,
        (0, 0, 0)
    );
}

#[tokio::test]
async fn condstore_listing_is_incremental_and_costs_no_fetch_when_unchanged() {
    // CONDSTORE alone cannot report expunges: a changed folder is listed in full.
    assert_eq!(
        incremental_listing_matches_a_complete_one(Some(CONDSTORE_ONLY)).await,
        (0, 1, 1)
    );
}

#[tokio::test]
async fn listing_without_condstore_fetches_everything_every_time() {
    assert_eq!(
        incremental_listing_matches_a_complete_one(Some(MINIMAL)).await,
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_status_that_misses_items_gets_a_complete_listing() {
    let server = DovecotBuilder::new().start().unwrap();
    for i in 0..3 {
        server
            .deliver(server.user(), "INBOX", &message(&format!("m{i}")))
            .unwrap();
    }
    let mut store = store(&server);
    let inbox = name("INBOX");
    let first = store.list_items(&inbox, Known::default()).await.unwrap();
    // The status knows only two of the three (e.g. the third was never copied).
    let known: Vec<(ItemKey, Flags)> = known_of(&first).into_iter().take(2).collect();
    let listing = store
        .list_items(
            &inbox,
            Known {
                state: first.state.as_deref(),
                items: &known,
            },
        )
        .await
        .unwrap();
    assert_eq!(flags_by_key(&listing), flags_by_key(&first));
}

#[tokio::test]
async fn a_new_uidvalidity_resets_the_keys() {
    let server = DovecotBuilder::new().start().unwrap();
    for i in 0..3 {
        server
            .deliver(server.user(), "Box", &message(&format!("m{i}")))
            .unwrap();
    }
    let mut store = store(&server);
    let folder = name("Box");
    let first = store.list_items(&folder, Known::default()).await.unwrap();
    let known = known_of(&first);
    drop(store);
    // The folder is deleted and recreated with the same messages: new UIDVALIDITY.
    server
        .doveadm(&["mailbox", "delete", "-u", server.user(), "Box"])
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    for i in 0..3 {
        server
            .deliver(server.user(), "Box", &message(&format!("m{i}")))
            .unwrap();
    }
    let mut store = self::store(&server);
    for state in [first.state.as_deref(), None] {
        let listing = store
            .list_items(
                &folder,
                Known {
                    state,
                    items: &known,
                },
            )
            .await
            .unwrap();
        assert!(listing.keys_reset, "state {state:?}");
        assert_eq!(listing.items.len(), 3);
        assert_ne!(listing.state, first.state);
    }
    // A stale key is refused for writes and reads: it names another numbering.
    let stale = &known[0].0;
    let err = store
        .set_flags(&folder, stale, &Flags::new().with(Flag::Seen))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Refused, "{err}");
    let read = store.read(&folder, stale).await.unwrap_err();
    assert_eq!(read.kind(), ErrorKind::NotFound, "{read}");
}

#[tokio::test]
async fn read_many_streams_big_messages_and_reports_missing_ones_alone() {
    let server = DovecotBuilder::new().start().unwrap();
    let mut big =
        b"From: big@example.org\r\nSubject: big\r\nMessage-ID: <big@test>\r\n\r\n".to_vec();
    while big.len() < 6 * 1024 * 1024 {
        big.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrs\r\n",
        );
    }
    server
        .deliver(server.user(), "INBOX", &message("small"))
        .unwrap();
    server.deliver(server.user(), "INBOX", &big).unwrap();
    let mut store = store(&server);
    let inbox = name("INBOX");
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    let keys: Vec<ItemKey> = listing.items.iter().map(|e| e.key.clone()).collect();
    let validity = keys[0].as_str().split_once(':').unwrap().0.to_owned();
    let missing = ItemKey::new(format!("{validity}:999"));
    let junk = ItemKey::new("junk");
    let request = [keys[1].clone(), missing.clone(), keys[0].clone(), junk];
    let before = store.stats().fetches;
    let mut results = store.read_many(&inbox, &request).await;
    assert_eq!(store.stats().fetches - before, 1, "one FETCH for the batch");
    assert_eq!(results.len(), 4);
    assert_eq!(
        results[3].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidName
    );
    assert_eq!(results[1].as_ref().unwrap_err().kind(), ErrorKind::NotFound);
    let small = results.remove(2).unwrap();
    let big_read = results.remove(0).unwrap();
    assert!(
        matches!(big_read.content, Content::File(_)),
        "a big body arrives as a spool file"
    );
    assert!(big_read.internal_date.is_some());
    assert_eq!(content_bytes(big_read), big);
    assert_eq!(content_bytes(small), message("small"));

    let fingerprints = store.fingerprints(&inbox, &keys).await;
    let expected = pimlink_core::mail::fingerprint::Fingerprint::of_message(&big[..]).unwrap();
    assert_eq!(fingerprints[1].as_ref().unwrap(), &expected);
    assert!(fingerprints[0].as_ref().unwrap().is_some());
}

#[tokio::test]
async fn appended_lf_messages_arrive_with_crlf_flags_and_date() {
    let server = DovecotBuilder::new().start().unwrap();
    let mut store = store(&server);
    let inbox = name("INBOX");
    store.list_items(&inbox, Known::default()).await.unwrap();
    let lf = b"From: a@b\nSubject: lf\nMessage-ID: <lf@test>\n\nline one\nline two\n".to_vec();
    let crlf = b"From: a@b\r\nSubject: lf\r\nMessage-ID: <lf@test>\r\n\r\nline one\r\nline two\r\n";
    let date = std::time::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let flags = Flags::new().with(Flag::Seen).with(Flag::Passed);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&lf).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    let mut keys = Vec::new();
    for content in [Content::Bytes(lf.clone()), Content::File(file)] {
        let item = NewItem {
            data: ItemData {
                content,
                internal_date: Some(date),
            },
            flags: &flags,
            reserved_key: None,
        };
        keys.push(store.deliver(&inbox, item).await.unwrap());
    }
    for key in &keys {
        let data = store.read(&inbox, key).await.unwrap();
        assert_eq!(data.internal_date, Some(date));
        assert_eq!(content_bytes(data), crlf);
    }
    let listing = self::store(&server)
        .list_items(&inbox, Known::default())
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 2);
    for entry in &listing.items {
        assert!(keys.contains(&entry.key));
        assert_eq!(entry.flags, flags, "$Forwarded and \\Seen");
        assert_eq!(entry.size, Some(crlf.len() as u64));
    }
}

#[tokio::test]
async fn without_uidplus_appended_messages_are_found_by_content() {
    let server = DovecotBuilder::new().capabilities(MINIMAL).start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("before"))
        .unwrap();
    let mut store = store(&server);
    let inbox = name("INBOX");
    store.list_items(&inbox, Known::default()).await.unwrap();
    let flags = Flags::new().with(Flag::Flagged);
    let mut keys = Vec::new();
    let fetches_before = store.stats().fetches;
    // Two copies of one message, and another one: each gets its own key.
    for id in ["a", "a", "b"] {
        let item = bytes_item(message(id), &flags);
        keys.push(store.deliver(&inbox, item).await.unwrap());
    }
    assert_eq!(store.stats().appends, 3);
    assert_eq!(
        store.stats().fetches - fetches_before,
        3,
        "each APPEND was followed by a search for it (no APPENDUID used)"
    );
    let unique: std::collections::BTreeSet<&ItemKey> = keys.iter().collect();
    assert_eq!(unique.len(), 3, "{keys:?}");
    for (key, id) in keys.iter().zip(["a", "a", "b"]) {
        assert_eq!(
            content_bytes(store.read(&inbox, key).await.unwrap()),
            message(id)
        );
    }
    // A message nothing could recognise later is not uploaded at all.
    let anonymous = bytes_item(b"X-Nothing: here\r\n\r\nbody\r\n".to_vec(), &flags);
    let err = store.deliver(&inbox, anonymous).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    // Deleting needs UID EXPUNGE.
    let err = store.delete(&inbox, &keys[0]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    assert_eq!(listing.items.len(), 4);
}

#[tokio::test]
async fn flag_changes_and_deletions_are_written_at_the_flush() {
    let server = DovecotBuilder::new().start().unwrap();
    for i in 0..4 {
        server
            .deliver(server.user(), "INBOX", &message(&format!("m{i}")))
            .unwrap();
    }
    let mut store = store(&server);
    let inbox = name("INBOX");
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    let keys: Vec<ItemKey> = listing.items.iter().map(|e| e.key.clone()).collect();
    // Someone else flags m0 after our listing; our change of \Seen must not wipe it.
    let mut other = other_client(&server, "INBOX").await;
    other
        .store(
            &UidRanges::single(uid_of(&keys[0])),
            StoreMode::Add,
            &Flags::new().with(Flag::Flagged),
            None,
        )
        .await
        .unwrap();
    let seen = Flags::new().with(Flag::Seen);
    let mut with_keyword = seen.clone();
    with_keyword.set_keyword("$Work", true);
    store.set_flags(&inbox, &keys[0], &seen).await.unwrap();
    store.set_flags(&inbox, &keys[1], &seen).await.unwrap();
    store
        .set_flags(&inbox, &keys[2], &with_keyword)
        .await
        .unwrap();
    store.delete(&inbox, &keys[3]).await.unwrap();
    let before = store.stats();
    assert_eq!(before.stores, 0, "nothing is written before the flush");
    store.flush().await.unwrap();
    let after = store.stats();
    assert_eq!(
        after.stores, 3,
        "one STORE per distinct change: +S, +S $Work, +T"
    );
    assert_eq!(after.expunges, 1);
    store.flush().await.unwrap();
    assert_eq!(store.stats(), after, "an empty flush sends nothing");

    // What another client sees (after a NOOP: expunges are not reported during a FETCH).
    other.noop().await.unwrap();
    let mut flags = BTreeMap::new();
    other
        .fetch(
            &UidRanges::all(),
            &FetchRequest {
                flags: true,
                ..FetchRequest::default()
            },
            |m| {
                flags.insert(m.uid, m.flags.unwrap());
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(flags.len(), 3, "{flags:?}");
    assert_eq!(flags[&uid_of(&keys[0])], seen.clone().with(Flag::Flagged));
    assert_eq!(flags[&uid_of(&keys[1])], seen);
    assert_eq!(flags[&uid_of(&keys[2])], with_keyword);

    // Removing flags works the same way.
    store
        .set_flags(&inbox, &keys[2], &Flags::new())
        .await
        .unwrap();
    store.flush().await.unwrap();
    let listing = self::store(&server)
        .list_items(&inbox, Known::default())
        .await
        .unwrap();
    assert!(flags_by_key(&listing)[&keys[2]].is_empty());
}

#[tokio::test]
async fn password_provider_runs_only_when_connecting() {
    let server = DovecotBuilder::new().start().unwrap();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = calls.clone();
    let password = server.password().to_owned();
    let mut options = options(&server);
    options.password = Secret::new("wrong");
    let mut store = ImapStore::with_password_provider(
        options,
        Box::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(Secret::new(password.clone()))
        }),
    );
    store.flush().await.unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    store.list_collections().await.unwrap();
    store.list_collections().await.unwrap();
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(store.stats().connects, 1);
}

#[tokio::test]
async fn messages_move_between_folders_with_their_flags() {
    for caps in [None, Some(CONDSTORE_ONLY.replace(" MOVE", ""))] {
        let mut builder = DovecotBuilder::new();
        if let Some(caps) = &caps {
            builder = builder.capabilities(caps);
        }
        let server = builder.start().unwrap();
        server
            .deliver(server.user(), "INBOX", &message("mv"))
            .unwrap();
        server
            .deliver(server.user(), "INBOX", &message("stay"))
            .unwrap();
        let mut store = store(&server);
        assert!(!store.can_move(), "not known before connecting");
        let inbox = name("INBOX");
        let archive = name("Archive/2024");
        store.create_collection(&archive).await.unwrap();
        store.list_items(&archive, Known::default()).await.unwrap();
        let listing = store.list_items(&inbox, Known::default()).await.unwrap();
        assert!(store.can_move());
        let key = listing.items[0].key.clone();
        store
            .set_flags(&inbox, &key, &Flags::new().with(Flag::Flagged))
            .await
            .unwrap();
        store.flush().await.unwrap();
        let moved = store.move_item(&inbox, &key, &archive).await.unwrap();
        assert_ne!(moved, key);
        assert_eq!(
            content_bytes(store.read(&archive, &moved).await.unwrap()),
            message("mv")
        );
        let mut fresh = self::store(&server);
        let left = fresh.list_items(&inbox, Known::default()).await.unwrap();
        assert_eq!(left.items.len(), 1, "{caps:?}: {left:?}");
        assert_ne!(left.items[0].key, key);
        let there = fresh.list_items(&archive, Known::default()).await.unwrap();
        assert_eq!(there.items.len(), 1);
        assert_eq!(there.items[0].key, moved);
        assert_eq!(there.items[0].flags, Flags::new().with(Flag::Flagged));
        assert_eq!(store.stats().appends, 0, "moved, not uploaded");
    }
}

#[tokio::test]
async fn a_dropped_connection_is_a_connection_error_not_an_empty_folder() {
    let server = DovecotBuilder::new().start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("m"))
        .unwrap();
    let mut store = store(&server);
    let inbox = name("INBOX");
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    assert_eq!(listing.items.len(), 1);
    drop(server); // stops Dovecot and every connection to it
    let err = store
        .list_items(&inbox, Known::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let reads = store
        .read_many(&inbox, &[listing.items[0].key.clone()])
        .await;
    assert_eq!(reads[0].as_ref().unwrap_err().kind(), ErrorKind::Connection);
}

#[tokio::test]
async fn a_batch_of_deliveries_is_pipelined_and_fails_per_message() {
    let server = DovecotBuilder::new().start().unwrap();
    let mut store = store(&server);
    let folder = name("Batch");
    store.create_collection(&folder).await.unwrap();
    store.list_items(&folder, Known::default()).await.unwrap();
    let flags = Flags::new().with(Flag::Seen);
    let mut items = Vec::new();
    for i in 0..40 {
        let content = if i == 7 {
            Content::Bytes(Vec::new()) // Dovecot refuses an empty message
        } else if i % 2 == 0 {
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(
                &String::from_utf8(message(&format!("b{i}")))
                    .unwrap()
                    .replace("\r\n", "\n")
                    .into_bytes(),
            )
            .unwrap();
            file.seek(SeekFrom::Start(0)).unwrap();
            Content::File(file)
        } else {
            Content::Bytes(message(&format!("b{i}")))
        };
        items.push(NewItem {
            data: ItemData {
                content,
                internal_date: None,
            },
            flags: &flags,
            reserved_key: None,
        });
    }
    let results = store.deliver_many(&folder, items).await;
    assert_eq!(results.len(), 40);
    assert!(results[7].is_err(), "{:?}", results[7]);
    let keys: Vec<ItemKey> = results
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 7)
        .map(|(_, r)| r.as_ref().unwrap().clone())
        .collect();
    let unique: std::collections::BTreeSet<&ItemKey> = keys.iter().collect();
    assert_eq!(unique.len(), 39);
    let reads = store.read_many(&folder, &keys).await;
    for ((i, _), read) in results
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 7)
        .zip(reads)
    {
        assert_eq!(
            content_bytes(read.unwrap()),
            message(&format!("b{i}")),
            "b{i}"
        );
    }
    let listing = self::store(&server)
        .list_items(&folder, Known::default())
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 39);
    assert!(listing.items.iter().all(|e| e.flags == flags));
}

/// What the pair limits ask for: sizes and arrival dates of some messages, one UID FETCH each,
/// matching what a complete listing and the APPEND said.
#[tokio::test]
async fn sizes_and_dates_of_messages_cost_one_fetch_each() {
    let server = DovecotBuilder::new().start().unwrap();
    let mut store = store(&server);
    let inbox = name("INBOX");
    let date = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for id in ["a", "b"] {
        let flags = Flags::new();
        let item = NewItem {
            data: ItemData {
                content: Content::Bytes(message(id)),
                internal_date: Some(date),
            },
            flags: &flags,
            reserved_key: None,
        };
        store.deliver(&inbox, item).await.unwrap();
    }
    store.flush().await.unwrap();
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    let keys: Vec<ItemKey> = listing.items.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys.len(), 2);

    let before = store.stats().fetches;
    let sizes = store.sizes(&inbox, &keys).await;
    assert_eq!(store.stats().fetches, before + 1);
    for (size, entry) in sizes.into_iter().zip(&listing.items) {
        assert_eq!(size.unwrap(), entry.size);
        assert!(entry.size.is_some());
    }
    let dates = store.dates(&inbox, &keys).await;
    assert_eq!(store.stats().fetches, before + 2);
    for found in dates {
        assert_eq!(found.unwrap(), Some(date));
    }
}

/// Lists two folders as a first run, then as later runs would (a new store, the LIST first):
/// returns the SELECTs the unchanged run cost, and checks that a folder changed by another
/// client is listed in full while the unchanged one keeps working for writes.
async fn unchanged_folders_after_a_list(caps: Option<&str>) -> u64 {
    let mut builder = DovecotBuilder::new();
    if let Some(caps) = caps {
        builder = builder.capabilities(caps);
    }
    let server = builder.start().unwrap();
    for i in 0..3 {
        server
            .deliver(server.user(), "INBOX", &message(&format!("i{i}")))
            .unwrap();
    }
    for i in 0..2 {
        server
            .deliver(server.user(), "Other", &message(&format!("o{i}")))
            .unwrap();
    }
    let (inbox, other) = (name("INBOX"), name("Other"));
    let mut first = store(&server);
    first.list_collections().await.unwrap();
    let mut listed = BTreeMap::new();
    for folder in [&inbox, &other] {
        let listing = first.list_items(folder, Known::default()).await.unwrap();
        listed.insert(folder.clone(), listing);
    }

    // A later run with nothing changed.
    let mut second = store(&server);
    second.list_collections().await.unwrap();
    for folder in [&inbox, &other] {
        let before = &listed[folder];
        let state = before.state.clone().unwrap();
        let known = known_of(before);
        let again = second
            .list_items(
                folder,
                Known {
                    state: Some(&state),
                    items: &known,
                },
            )
            .await
            .unwrap();
        assert_eq!(flags_by_key(&again), flags_by_key(before));
        assert_eq!(again.state, before.state);
    }
    let unchanged_selects = second.stats().selects;
    // The counters serve one listing only: asking again selects.
    let state = listed[&inbox].state.clone().unwrap();
    let known = known_of(&listed[&inbox]);
    let known_inbox = Known {
        state: Some(&state),
        items: &known,
    };
    second.list_items(&inbox, known_inbox).await.unwrap();
    assert_eq!(second.stats().selects, unchanged_selects + 1);

    // Another client flags a message in Other; a later run lists it, not INBOX.
    let o0 = listed[&other].items[0].key.clone();
    let mut client = other_client(&server, "Other").await;
    client
        .store(
            &UidRanges::single(uid_of(&o0)),
            StoreMode::Add,
            &Flags::new().with(Flag::Flagged),
            None,
        )
        .await
        .unwrap();
    client.logout().await.unwrap();
    let mut third = store(&server);
    third.list_collections().await.unwrap();
    let state_other = listed[&other].state.clone().unwrap();
    let known_other = known_of(&listed[&other]);
    let changed = third
        .list_items(
            &other,
            Known {
                state: Some(&state_other),
                items: &known_other,
            },
        )
        .await
        .unwrap();
    assert!(flags_by_key(&changed)[&o0].contains(Flag::Flagged));
    let selects_for_changed = third.stats().selects;
    assert_eq!(selects_for_changed, 1, "the changed folder is selected");
    let inbox_again = third.list_items(&inbox, known_inbox).await.unwrap();
    assert_eq!(flags_by_key(&inbox_again), flags_by_key(&listed[&inbox]));

    // Writes to a folder listed without a SELECT still work: the flush selects it.
    let i1 = listed[&inbox].items[1].key.clone();
    third
        .set_flags(&inbox, &i1, &Flags::new().with(Flag::Seen))
        .await
        .unwrap();
    third.flush().await.unwrap();
    let fresh = store(&server)
        .list_items(&inbox, Known::default())
        .await
        .unwrap();
    assert_eq!(flags_by_key(&fresh)[&i1], Flags::new().with(Flag::Seen));
    unchanged_selects
}

#[tokio::test]
async fn with_list_status_unchanged_folders_are_not_selected() {
    assert_eq!(unchanged_folders_after_a_list(None).await, 0);
}

#[tokio::test]
async fn with_pipelined_status_unchanged_folders_are_not_selected() {
    // CONDSTORE without LIST-STATUS: one STATUS per folder, pipelined after the LIST.
    assert_eq!(
        unchanged_folders_after_a_list(Some(CONDSTORE_ONLY)).await,
        0
    );
}

#[tokio::test]
async fn without_condstore_every_folder_is_selected() {
    assert_eq!(unchanged_folders_after_a_list(Some(MINIMAL)).await, 2);
}

/// Lists `folder` of a fresh store incrementally from `before`.
async fn list_from(store: &mut ImapStore, folder: &CollectionName, before: &Listing) -> Listing {
    let state = before.state.clone().unwrap();
    let known = known_of(before);
    store
        .list_items(
            folder,
            Known {
                state: Some(&state),
                items: &known,
            },
        )
        .await
        .unwrap()
}

/// Flag changes queued for a folder are sent in its selection, before the store selects the
/// next folder, and the flush then has nothing left to send (nor to select); the bodies of new
/// mail the engine names after planning (`read_ahead`) are read in that selection too, so
/// reading them later costs no command.
#[tokio::test]
async fn a_folder_is_written_and_its_new_mail_read_in_the_selection_of_its_listing() {
    let server = DovecotBuilder::new().start().unwrap();
    for folder in ["INBOX", "Other"] {
        for i in 0..3 {
            server
                .deliver(server.user(), folder, &message(&format!("{folder}{i}")))
                .unwrap();
        }
    }
    let (inbox, other) = (name("INBOX"), name("Other"));
    let mut first = store(&server);
    first.list_collections().await.unwrap();
    let before_inbox = first.list_items(&inbox, Known::default()).await.unwrap();
    let before_other = first.list_items(&other, Known::default()).await.unwrap();
    first.logout().await.unwrap();
    server
        .deliver(server.user(), "INBOX", &message("new-in-inbox"))
        .unwrap();
    server
        .deliver(server.user(), "Other", &message("new-in-other"))
        .unwrap();

    let mut second = store(&server);
    second.list_collections().await.unwrap();
    let inbox_now = list_from(&mut second, &inbox, &before_inbox).await;
    let new_key = inbox_now
        .items
        .iter()
        .map(|e| e.key.clone())
        .find(|k| !before_inbox.items.iter().any(|e| &e.key == k))
        .unwrap();
    let new_size = inbox_now
        .items
        .iter()
        .find(|e| e.key == new_key)
        .unwrap()
        .size;
    second
        .read_ahead(&inbox, &[(new_key.clone(), new_size)])
        .await;
    let i0 = before_inbox.items[0].key.clone();
    let flagged = Flags::new().with(Flag::Flagged);
    second.set_flags(&inbox, &i0, &flagged).await.unwrap();
    // Selecting Other sends INBOX's queued store first.
    list_from(&mut second, &other, &before_other).await;
    let mut watcher = other_client(&server, "INBOX").await;
    let mut seen = Vec::new();
    watcher
        .fetch(
            &UidRanges::single(uid_of(&i0)),
            &FetchRequest {
                flags: true,
                ..FetchRequest::default()
            },
            |m| {
                seen.push(m.flags.unwrap());
                Ok(())
            },
        )
        .await
        .unwrap();
    watcher.logout().await.unwrap();
    assert_eq!(seen, [flagged], "the store was sent before leaving INBOX");
    let stats = second.stats();
    assert_eq!(stats.selects, 2);
    assert_eq!(stats.stores, 1);

    // The flush finds nothing left, and the new message is read without a command.
    second.flush().await.unwrap();
    let read = second
        .read_many(&inbox, std::slice::from_ref(&new_key))
        .await;
    let body = content_bytes(read.into_iter().next().unwrap().unwrap());
    assert_eq!(body, message("new-in-inbox"));
    let after = second.stats();
    assert_eq!(
        (after.selects, after.stores, after.fetches),
        (stats.selects, stats.stores, stats.fetches),
        "no SELECT, STORE or FETCH after the listings"
    );
    // A body is handed out once; reading it again fetches it.
    let again = second
        .read_many(&inbox, std::slice::from_ref(&new_key))
        .await;
    assert_eq!(
        content_bytes(again.into_iter().next().unwrap().unwrap()),
        message("new-in-inbox")
    );
    assert_eq!(second.stats().selects, stats.selects + 1);
}

/// `deliver_many` with more messages than one window of pipelined APPENDs: every message lands
/// once, under the UID its key names, and `settle` returns on a folder nobody writes to.
#[tokio::test]
async fn many_deliveries_go_in_windows_and_a_quiet_folder_settles() {
    let server = DovecotBuilder::new().start().unwrap();
    let inbox = name("INBOX");
    let mut store = store(&server);
    store.list_collections().await.unwrap();
    store.list_items(&inbox, Known::default()).await.unwrap();
    let contents: Vec<Vec<u8>> = (0..75).map(|i| message(&format!("w{i}"))).collect();
    let flags = Flags::new().with(Flag::Seen);
    let items = contents
        .iter()
        .map(|content| bytes_item(content.clone(), &flags))
        .collect();
    let keys: Vec<ItemKey> = store
        .deliver_many(&inbox, items)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(store.stats().appends, 75);
    store.settle(&inbox).await.unwrap();
    let read = store.read_many(&inbox, &keys).await;
    for (content, data) in contents.iter().zip(read) {
        assert_eq!(&content_bytes(data.unwrap()), content);
    }
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    assert_eq!(listing.items.len(), 75);
}

/// `deliver_many` on a server with MULTIAPPEND sends APPENDs of several messages, bounded by
/// count and bytes (a large message goes alone), and each key names its own message with its
/// own flags: with LITERAL+, with synchronising literals, and (no MULTIAPPEND) one by one.
#[tokio::test]
async fn deliveries_go_in_multiappend_batches_and_each_key_names_its_message() {
    for (disabled, multiappends) in [
        (vec![], 3),
        (vec!["LITERAL+".to_owned()], 3),
        (vec!["MULTIAPPEND".to_owned()], 0),
    ] {
        let server = DovecotBuilder::new().start().unwrap();
        let inbox = name("INBOX");
        let mut options = options(&server);
        options.disabled_extensions = disabled.clone();
        let mut store = ImapStore::new(options);
        store.list_collections().await.unwrap();
        store.list_items(&inbox, Known::default()).await.unwrap();
        // 40 small messages (a batch of 32 and one of 8), a large one (alone), 30 small.
        let contents: Vec<Vec<u8>> = (0..71)
            .map(|i| {
                let mut m = message(&format!("b{i}"));
                if i == 40 {
                    m.extend(b"0123456789abcdef0123456789abcdef\r\n".repeat(48 << 10));
                }
                m
            })
            .collect();
        let choices = [
            Flags::new(),
            Flags::new().with(Flag::Seen),
            Flags::new().with(Flag::Flagged),
            Flags::new().with(Flag::Seen).with(Flag::Replied),
            Flags::new().with(Flag::Draft),
        ];
        let flags: Vec<&Flags> = (0..71).map(|i| &choices[(i * 7 + i / 5) % 5]).collect();
        let items = contents
            .iter()
            .zip(&flags)
            .map(|(content, flags)| bytes_item(content.clone(), flags))
            .collect();
        let keys: Vec<ItemKey> = store
            .deliver_many(&inbox, items)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let stats = store.stats();
        assert_eq!(stats.appends, 71, "{disabled:?}");
        assert_eq!(stats.multiappends, multiappends, "{disabled:?}");
        let read = store.read_many(&inbox, &keys).await;
        for (content, data) in contents.iter().zip(read) {
            assert_eq!(&content_bytes(data.unwrap()), content, "{disabled:?}");
        }
        let listing = self::store(&server)
            .list_items(&inbox, Known::default())
            .await
            .unwrap();
        let listed = flags_by_key(&listing);
        assert_eq!(listed.len(), 71);
        for (key, flags) in keys.iter().zip(&flags) {
            assert_eq!(&&listed[key], flags, "{key} ({disabled:?})");
        }
    }
}

/// A MULTIAPPEND that the server refuses stores nothing; the store then sends the batch's
/// messages one by one, so that only the message the server will not take (here an empty
/// one: Dovecot refuses zero-byte messages) fails.
#[tokio::test]
async fn a_refused_multiappend_is_sent_again_message_by_message() {
    let server = DovecotBuilder::new().start().unwrap();
    let inbox = name("INBOX");
    let mut store = store(&server);
    store.list_collections().await.unwrap();
    store.list_items(&inbox, Known::default()).await.unwrap();
    let contents: Vec<Vec<u8>> = (0..5)
        .map(|i| match i {
            2 => Vec::new(),
            _ => message(&format!("r{i}")),
        })
        .collect();
    let flags = Flags::new().with(Flag::Seen);
    let items = contents
        .iter()
        .map(|content| bytes_item(content.clone(), &flags))
        .collect();
    let results = store.deliver_many(&inbox, items).await;
    assert_eq!(store.stats().multiappends, 1);
    assert_eq!(
        store.stats().appends,
        10,
        "5 in the MULTIAPPEND, then each alone"
    );
    let (ok, failed): (Vec<_>, Vec<_>) = results
        .into_iter()
        .enumerate()
        .partition(|(_, r)| r.is_ok());
    assert_eq!(
        failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [2],
        "{failed:?}"
    );
    let keys: Vec<ItemKey> = ok.into_iter().map(|(_, r)| r.unwrap()).collect();
    let read = store.read_many(&inbox, &keys).await;
    for (content, data) in [0, 1, 3, 4].map(|i| &contents[i]).iter().zip(read) {
        assert_eq!(&&content_bytes(data.unwrap()), content);
    }
    let listing = self::store(&server)
        .list_items(&inbox, Known::default())
        .await
        .unwrap();
    assert_eq!(
        listing.items.len(),
        4,
        "nothing of the refused batch stayed"
    );
}

// `stamp_after_own_changes`: a folder this handle wrote to gets a stamp equal to what the next
// run's LIST-STATUS shows, so that run may skip it; any change someone else made since the
// listing (a flag, a new message, an expunge) gives no stamp, so the next run lists the folder.

/// A server whose Work folder holds two messages.
fn server_with_work() -> Dovecot {
    let server = DovecotBuilder::new().start().unwrap();
    for id in ["w0", "w1"] {
        server.deliver(server.user(), "Work", &message(id)).unwrap();
    }
    server
}

/// A store that listed Work as a run does (LIST-STATUS first), then delivered one message and
/// set `\Seen` on the first one listed; returns it with the listed keys.
async fn wrote_to_work(server: &Dovecot) -> (ImapStore, Vec<ItemKey>) {
    let work = name("Work");
    let mut store = store(server);
    store.list_collections().await.unwrap();
    let listing = store.list_items(&work, Known::default()).await.unwrap();
    let keys: Vec<ItemKey> = listing.items.iter().map(|e| e.key.clone()).collect();
    let flagged = Flags::new().with(Flag::Flagged);
    store
        .deliver(&work, bytes_item(message("new"), &flagged))
        .await
        .unwrap();
    let seen = Flags::new().with(Flag::Seen);
    store.set_flags(&work, &keys[0], &seen).await.unwrap();
    store.flush().await.unwrap();
    (store, keys)
}

#[tokio::test]
async fn a_folder_written_only_by_this_run_gets_the_next_runs_stamp() {
    let server = server_with_work();
    let work = name("Work");
    let (mut writer, _) = wrote_to_work(&server).await;
    let (stamp, _) = writer
        .stamp_after_own_changes(&work)
        .await
        .unwrap()
        .expect("a stamp after the run's own changes");
    let mut next = store(&server);
    next.list_collections().await.unwrap();
    assert_eq!(Some(stamp), next.change_stamp(&work).await.unwrap());

    // A folder only read gives none: the stamp from before its listing stands.
    let mut reader = store(&server);
    reader.list_collections().await.unwrap();
    reader.list_items(&work, Known::default()).await.unwrap();
    assert_eq!(reader.stamp_after_own_changes(&work).await.unwrap(), None);
}

#[tokio::test]
async fn a_flag_set_by_someone_else_since_the_listing_gives_no_stamp() {
    let server = server_with_work();
    let (mut writer, keys) = wrote_to_work(&server).await;
    let flagged = Flags::new().with(Flag::Flagged);
    other_client(&server, "Work")
        .await
        .store(
            &UidRanges::single(uid_of(&keys[1])),
            StoreMode::Add,
            &flagged,
            None,
        )
        .await
        .unwrap();
    let stamp = writer.stamp_after_own_changes(&name("Work")).await.unwrap();
    assert_eq!(stamp, None);
}

#[tokio::test]
async fn a_message_added_by_someone_else_since_the_listing_gives_no_stamp() {
    let server = server_with_work();
    let (mut writer, _) = wrote_to_work(&server).await;
    let theirs = AppendItem {
        content: Content::Bytes(message("theirs")),
        flags: Flags::new(),
        internal_date: None,
    };
    other_client(&server, "Work")
        .await
        .append("Work", theirs)
        .await
        .unwrap();
    let stamp = writer.stamp_after_own_changes(&name("Work")).await.unwrap();
    assert_eq!(stamp, None);
}

#[tokio::test]
async fn a_message_expunged_by_someone_else_since_the_listing_gives_no_stamp() {
    let server = server_with_work();
    let (mut writer, keys) = wrote_to_work(&server).await;
    let mut other = other_client(&server, "Work").await;
    let set = UidRanges::single(uid_of(&keys[1]));
    let deleted = Flags::new().with(Flag::Trashed);
    other
        .store(&set, StoreMode::Add, &deleted, None)
        .await
        .unwrap();
    other.uid_expunge(&set).await.unwrap();
    let stamp = writer.stamp_after_own_changes(&name("Work")).await.unwrap();
    assert_eq!(stamp, None);
}
