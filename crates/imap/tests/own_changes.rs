//! `ImapStore::stamp_after_own_changes` against a private Dovecot: a folder this handle wrote
//! to gets a stamp equal to what the next run's LIST-STATUS shows, so that run may skip it;
//! any change someone else made since the listing (a flag, a new message, an expunge) gives
//! no stamp, so the next run lists the folder and sees it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

use std::time::Duration;

use pimlink_core::{
    ChangeStamp, CollectionName, Content, Flag, Flags, ItemData, ItemKey, Known, MailStore, NewItem,
};
use pimlink_imap::{
    AppendItem, Client, ClientOptions, ImapStore, Secret, StoreMode, TlsMode, UidRanges,
};
use pimlink_testkit::{Dovecot, DovecotBuilder};

fn options(server: &Dovecot) -> ClientOptions {
    let mut options =
        ClientOptions::new(server.host(), server.user(), Secret::new(server.password()));
    options.port = Some(server.port());
    options.tls = TlsMode::None;
    options.read_timeout = Duration::from_secs(20);
    options
}

fn message(id: &str) -> Vec<u8> {
    format!(
        "From: test@example.org\r\nSubject: message {id}\r\nMessage-ID: <{id}@test>\r\n\
         Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody of {id}\r\n"
    )
    .into_bytes()
}

fn work() -> CollectionName {
    CollectionName::new("Work").unwrap()
}

/// A server whose Work folder holds two messages.
fn server() -> Dovecot {
    let server = DovecotBuilder::new().start().unwrap();
    for id in ["w0", "w1"] {
        server.deliver(server.user(), "Work", &message(id)).unwrap();
    }
    server
}

/// A store that listed Work as a run does (LIST-STATUS first), then delivered one message and
/// set `\Seen` on the first one listed; returns it with the listed keys.
async fn written(server: &Dovecot) -> (ImapStore, Vec<ItemKey>) {
    let mut store = ImapStore::new(options(server));
    store.list_collections().await.unwrap();
    let listing = store.list_items(&work(), Known::default()).await.unwrap();
    let keys: Vec<ItemKey> = listing.items.iter().map(|e| e.key.clone()).collect();
    let flags = Flags::new().with(Flag::Flagged);
    let item = NewItem {
        data: ItemData {
            content: Content::Bytes(message("new")),
            internal_date: None,
        },
        flags: &flags,
        reserved_key: None,
    };
    store.deliver(&work(), item).await.unwrap();
    let seen = Flags::new().with(Flag::Seen);
    store.set_flags(&work(), &keys[0], &seen).await.unwrap();
    store.flush().await.unwrap();
    (store, keys)
}

/// The stamp the next run takes before listing Work.
async fn next_runs_stamp(server: &Dovecot) -> ChangeStamp {
    let mut store = ImapStore::new(options(server));
    store.list_collections().await.unwrap();
    store.change_stamp(&work()).await.unwrap().unwrap()
}

async fn other_client(server: &Dovecot) -> Client {
    let mut client = Client::connect(options(server)).await.unwrap();
    client.select("Work", Default::default()).await.unwrap();
    client
}

fn uid_of(key: &ItemKey) -> u32 {
    key.as_str().split_once(':').unwrap().1.parse().unwrap()
}

#[tokio::test]
async fn a_folder_written_only_by_this_run_gets_the_next_runs_stamp() {
    let server = server();
    let (mut store, _) = written(&server).await;
    let (stamp, _) = store
        .stamp_after_own_changes(&work())
        .await
        .unwrap()
        .expect("a stamp after the run's own changes");
    assert_eq!(stamp, next_runs_stamp(&server).await);

    // A folder only read gives none: the stamp from before its listing stands.
    let mut reader = ImapStore::new(options(&server));
    reader.list_collections().await.unwrap();
    reader.list_items(&work(), Known::default()).await.unwrap();
    assert_eq!(reader.stamp_after_own_changes(&work()).await.unwrap(), None);
}

#[tokio::test]
async fn a_flag_set_by_someone_else_since_the_listing_gives_no_stamp() {
    let server = server();
    let (mut store, keys) = written(&server).await;
    let mut other = other_client(&server).await;
    let flagged = Flags::new().with(Flag::Flagged);
    other
        .store(
            &UidRanges::single(uid_of(&keys[1])),
            StoreMode::Add,
            &flagged,
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.stamp_after_own_changes(&work()).await.unwrap(), None);
}

#[tokio::test]
async fn a_message_added_by_someone_else_since_the_listing_gives_no_stamp() {
    let server = server();
    let (mut store, _) = written(&server).await;
    let theirs = AppendItem {
        content: Content::Bytes(message("theirs")),
        flags: Flags::new(),
        internal_date: None,
    };
    other_client(&server)
        .await
        .append("Work", theirs)
        .await
        .unwrap();
    assert_eq!(store.stamp_after_own_changes(&work()).await.unwrap(), None);
}

#[tokio::test]
async fn a_message_expunged_by_someone_else_since_the_listing_gives_no_stamp() {
    let server = server();
    let (mut store, keys) = written(&server).await;
    let mut other = other_client(&server).await;
    let set = UidRanges::single(uid_of(&keys[1]));
    let deleted = Flags::new().with(Flag::Trashed);
    other
        .store(&set, StoreMode::Add, &deleted, None)
        .await
        .unwrap();
    other.uid_expunge(&set).await.unwrap();
    assert_eq!(store.stamp_after_own_changes(&work()).await.unwrap(), None);
}
