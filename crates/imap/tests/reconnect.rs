//! The IMAP storage when its connection drops: it reconnects and repeats what is safe to
//! repeat (listings, reads, flag stores), never an APPEND whose answer was lost, and gives up
//! with a Connection error when the server stays unreachable. The connection runs through
//! pimlink-testkit's cutting proxy in front of a private Dovecot.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

use std::io::Read;
use std::time::Duration;

use pimlink_core::{
    CollectionName, Content, ErrorKind, Flag, Flags, ItemData, ItemKey, Known, MailStore, NewItem,
};
use pimlink_imap::store::RetryPolicy;
use pimlink_imap::{Client, ClientOptions, FetchRequest, ImapStore, Secret, TlsMode, UidRanges};
use pimlink_testkit::{Cut, CutProxy, Direction, Dovecot, DovecotBuilder};

fn options(server: &Dovecot, port: u16) -> ClientOptions {
    let mut options =
        ClientOptions::new(server.host(), server.user(), Secret::new(server.password()));
    options.port = Some(port);
    options.tls = TlsMode::None;
    options.read_timeout = Duration::from_secs(20);
    options
}

/// A store that reaches `server` through `proxy`, with a quick retry schedule.
fn store_via(server: &Dovecot, proxy: &CutProxy) -> ImapStore {
    let mut store = ImapStore::new(options(server, proxy.port()));
    store.set_retry_policy(RetryPolicy {
        retries: 4,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    });
    store
}

fn name(text: &str) -> CollectionName {
    CollectionName::new(text).unwrap()
}

fn message(id: &str, body_bytes: usize) -> Vec<u8> {
    let mut text = format!(
        "From: test@example.org\r\nSubject: message {id}\r\nMessage-ID: <{id}@test>\r\n\
         Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n"
    );
    while text.len() < body_bytes {
        text.push_str("body line of a message that is long enough to matter\r\n");
    }
    text.into_bytes()
}

fn bytes_of(data: ItemData) -> Vec<u8> {
    match data.content {
        Content::Bytes(bytes) => bytes,
        Content::File(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            bytes
        }
    }
}

/// How many messages with Message-ID `<id@test>` are in `folder`, and their flags, asked
/// directly (not through the proxy).
async fn copies_on_server(server: &Dovecot, folder: &str, id: &str) -> Vec<Flags> {
    let mut client = Client::connect(options(server, server.port()))
        .await
        .unwrap();
    client.select(folder, Default::default()).await.unwrap();
    let request = FetchRequest {
        flags: true,
        header_fields: vec!["MESSAGE-ID".to_owned()],
        ..FetchRequest::default()
    };
    let mut found = Vec::new();
    client
        .fetch(&UidRanges::all(), &request, |m| {
            let header = String::from_utf8(m.header.unwrap()).unwrap();
            if header.contains(&format!("<{id}@test>")) {
                found.push(m.flags.unwrap());
            }
            Ok(())
        })
        .await
        .unwrap();
    client.logout().await.unwrap();
    found
}

#[tokio::test]
async fn reads_listings_and_flag_stores_go_on_over_a_new_connection() {
    let server = DovecotBuilder::new().start().unwrap();
    let mut corpus: Vec<Vec<u8>> = (0..30).map(|i| message(&format!("m{i}"), 300)).collect();
    // Bigger than the inline limit (256 KiB): it arrives as a spool file.
    corpus.push(message("big", 400 << 10));
    server
        .deliver_many(server.user(), "INBOX", corpus.iter().map(Vec::as_slice))
        .unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    let mut store = store_via(&server, &proxy);
    let inbox = name("INBOX");

    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    assert_eq!(listing.items.len(), 31);
    let keys: Vec<ItemKey> = listing.items.iter().map(|e| e.key.clone()).collect();

    // The connection dies while idle (a NAT or server timeout): the next read reconnects.
    proxy.cut_open_connections();
    let read = store.read_many(&inbox, &keys).await;
    assert!(read.iter().all(Result::is_ok), "{read:?}");
    assert_eq!(store.stats().retries, 1);

    // Cut in the middle of the big message's literal: 100 000 bytes into the server's
    // output of a new connection is inside it (the 30 small ones come to about 12 KB).
    let first_cut = proxy.connections().len();
    proxy.set_plan(move |index| {
        if index == first_cut {
            Cut::After {
                bytes: 100_000,
                direction: Direction::ToClient,
            }
        } else {
            Cut::Never
        }
    });
    proxy.cut_open_connections();
    let read = store.read_many(&inbox, &keys).await;
    let records = proxy.connections();
    assert!(records[first_cut].was_cut, "{records:?}");
    assert_eq!(records[first_cut].to_client, 100_000);
    let mut read = read.into_iter().map(|r| bytes_of(r.unwrap()));
    let big = read.nth(30).unwrap();
    assert_eq!(
        big.len(),
        corpus[30].len(),
        "the big message is whole after the cut"
    );
    assert_eq!(big, corpus[30]);

    // A listing cut short is listed again completely, never returned in part.
    for bytes in [40, 700, 1500, 2500] {
        let at = proxy.connections().len();
        proxy.set_plan(move |index| {
            if index == at {
                Cut::After {
                    bytes,
                    direction: Direction::ToClient,
                }
            } else {
                Cut::Never
            }
        });
        proxy.cut_open_connections();
        let listing = store.list_items(&inbox, Known::default()).await.unwrap();
        assert_eq!(listing.items.len(), 31, "cut after {bytes} bytes");
    }

    // Flag stores and deletions queued before a drop are carried out after reconnecting.
    let seen = Flags::new().with(Flag::Seen);
    store.set_flags(&inbox, &keys[0], &seen).await.unwrap();
    store.delete(&inbox, &keys[1]).await.unwrap();
    proxy.cut_open_connections();
    store.flush().await.unwrap();
    assert_eq!(copies_on_server(&server, "INBOX", "m0").await, [seen]);
    assert!(copies_on_server(&server, "INBOX", "m1").await.is_empty());
    let connects = store.stats().connects;
    assert!(connects >= 8, "{connects} connections");
}

#[tokio::test]
async fn an_append_whose_answer_was_lost_is_not_repeated() {
    let server = DovecotBuilder::new().start().unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    let mut store = store_via(&server, &proxy);
    let inbox = name("INBOX");
    store.list_collections().await.unwrap();
    let flags = Flags::new().with(Flag::Flagged);
    let deliver = |id: &str| NewItem {
        data: ItemData {
            content: Content::Bytes(message(id, 50 << 10)),
            internal_date: None,
        },
        flags: &flags,
        reserved_key: None,
    };

    // A reference LIST + APPEND on a fresh connection tells how many bytes the server sends up
    // to and including the APPEND's answer. (The LIST finds the old connection dead and opens
    // the new one, so the APPEND never depends on when the cut reaches the client.)
    proxy.cut_open_connections();
    store.list_collections().await.unwrap();
    store.deliver(&inbox, deliver("reference")).await.unwrap();
    let reference = proxy.connections().last().unwrap().to_client;

    // The same sequence, cut inside the server's answer: the message is stored, but the
    // client cannot know; it must not send it again.
    let at = proxy.connections().len();
    proxy.set_plan(move |index| {
        if index == at {
            Cut::After {
                bytes: reference - 30,
                direction: Direction::ToClient,
            }
        } else {
            Cut::Never
        }
    });
    proxy.cut_open_connections();
    store.list_collections().await.unwrap();
    let appends = store.stats().appends;
    let err = store
        .deliver(&inbox, deliver("answer-lost"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("not repeated"), "{err}");
    assert_eq!(store.stats().appends, appends + 1, "sent once");
    assert_eq!(
        copies_on_server(&server, "INBOX", "answer-lost")
            .await
            .len(),
        1
    );

    // Cut while the message itself is being sent (20 000 bytes into the client's output are
    // inside its 50 KB literal): nothing is stored, and nothing is repeated either.
    let at = proxy.connections().len();
    proxy.set_plan(move |index| {
        if index == at {
            Cut::After {
                bytes: 20_000,
                direction: Direction::ToServer,
            }
        } else {
            Cut::Never
        }
    });
    proxy.cut_open_connections();
    store.list_collections().await.unwrap();
    let err = store
        .deliver(&inbox, deliver("cut-mid-literal"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert_eq!(store.stats().appends, appends + 2);
    assert!(
        copies_on_server(&server, "INBOX", "cut-mid-literal")
            .await
            .is_empty()
    );

    // The store is usable again at once.
    store.deliver(&inbox, deliver("after")).await.unwrap();
    assert_eq!(copies_on_server(&server, "INBOX", "after").await.len(), 1);
}

#[tokio::test]
async fn a_server_that_stops_answering_times_out_and_the_read_goes_on_over_a_new_connection() {
    let server = DovecotBuilder::new().start().unwrap();
    let corpus: Vec<Vec<u8>> = (0..5).map(|i| message(&format!("m{i}"), 20_000)).collect();
    server
        .deliver_many(server.user(), "INBOX", corpus.iter().map(Vec::as_slice))
        .unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    let mut options = options(&server, proxy.port());
    // Long enough that the server's own answers never hit it on a busy machine (the test
    // counts the retries), short enough to wait for the hung connection once.
    options.read_timeout = Duration::from_secs(10);
    let mut store = ImapStore::new(options);
    let inbox = name("INBOX");
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    let keys: Vec<ItemKey> = listing.items.iter().map(|e| e.key.clone()).collect();

    // The next connection hangs in the middle of the bodies (after 30 000 bytes).
    let at = proxy.connections().len();
    proxy.set_plan(move |index| {
        if index == at {
            Cut::StallAfter {
                bytes: 30_000,
                direction: Direction::ToClient,
            }
        } else {
            Cut::Never
        }
    });
    proxy.cut_open_connections();
    let read = store.read_many(&inbox, &keys).await;
    let read: Vec<Vec<u8>> = read.into_iter().map(|r| bytes_of(r.unwrap())).collect();
    assert_eq!(read, corpus);
    assert!(proxy.connections()[at].was_cut);
    assert_eq!(
        store.stats().retries,
        2,
        "the dead idle one, then the hung one"
    );
}

#[tokio::test]
async fn an_unreachable_server_fails_the_operation_and_later_ones_try_once() {
    let server = DovecotBuilder::new().start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("m", 100))
        .unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    let mut store = store_via(&server, &proxy);
    let inbox = name("INBOX");
    store.list_collections().await.unwrap();

    proxy.set_plan(|_| Cut::Refuse);
    proxy.cut_open_connections();
    let before = proxy.connections().len();
    let err = store
        .list_items(&inbox, Known::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("failed 5 times"), "{err}");
    assert_eq!(
        proxy.connections().len() - before,
        4,
        "1 try on the dead connection + 4 retries on new ones"
    );

    // Reconnecting failed: the next operation gets a single attempt.
    let err = store
        .list_items(&inbox, Known::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert_eq!(proxy.connections().len() - before, 5);

    // Once the server is back, everything works (and the full schedule applies again).
    proxy.pass_all();
    let listing = store.list_items(&inbox, Known::default()).await.unwrap();
    assert_eq!(listing.items.len(), 1);
}

#[tokio::test]
async fn the_password_is_asked_for_once_however_often_the_store_reconnects() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = DovecotBuilder::new().start().unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let password = server.password().to_owned();
    let mut options = options(&server, proxy.port());
    options.password = Secret::new("not this one");
    let mut store = ImapStore::with_password_provider(
        options,
        Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Secret::new(password.as_str()))
        }),
    );
    for _ in 0..3 {
        store.list_collections().await.unwrap();
        proxy.cut_open_connections();
    }
    store.list_collections().await.unwrap();
    assert_eq!(store.stats().connects, 4);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}
