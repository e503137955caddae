//! The account watcher (`pimlink_imap::watch`) against real servers: Dovecot with NOTIFY, the
//! same without it (`notify = false`) and Cyrus 3.6 (no NOTIFY) through IDLE and polls, a
//! server that goes away and comes back (through the testkit proxy, which refuses connections
//! while the "server is down"), and a connection that dies silently. Every wait has a generous
//! deadline; nothing asserts how long anything took.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

#[allow(unused_macros, unused_imports)] // The case list is for dovecot.rs and cyrus.rs.
mod suite;

use std::time::Duration;

use pimlink_core::{Flag, Flags};
use pimlink_imap::watch::{Event, WatchOptions, watch};
use pimlink_imap::{Client, SelectOptions, StoreMode, UidRanges};
use pimlink_testkit::{Cut, CutProxy};
use suite::{Flavor, Server, Setup, item};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long any awaited event may take: far more than any server needs.
const DEADLINE: Duration = Duration::from_secs(60);

type Watcher = (JoinHandle<pimlink_core::Result<()>>, mpsc::Receiver<Event>);

fn start_watch(options: WatchOptions) -> Watcher {
    // The watcher's own log (reconnections and why) shows with a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("pimlink_imap=info")
        .with_test_writer()
        .try_init();
    let (tx, rx) = mpsc::channel(256);
    (tokio::spawn(watch(options, tx)), rx)
}

/// Receives events until one satisfies `want`; the events skipped are in the panic message.
async fn expect(
    rx: &mut mpsc::Receiver<Event>,
    what: &str,
    want: impl Fn(&Event) -> bool,
) -> Event {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            let event = rx.recv().await.expect("the watcher stopped");
            if want(&event) {
                return event;
            }
            seen.push(event);
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no event for {what} within {DEADLINE:?}; saw {seen:?}"))
}

fn folder(name: &str) -> impl Fn(&Event) -> bool + '_ {
    move |e| matches!(e, Event::Folder { name: n, .. } if n == name)
}

fn quick(options: pimlink_imap::ClientOptions) -> WatchOptions {
    let mut w = WatchOptions::new(options);
    w.poll_interval = Duration::from_millis(500);
    w.min_backoff = Duration::from_millis(20);
    w.max_backoff = Duration::from_millis(200);
    w
}

/// A mail reader on the same account: adds, flags and expunges in `folder`.
async fn change_messages(reader: &mut Client, folder: &str, rx: &mut mpsc::Receiver<Event>) {
    reader
        .append(folder, item("m1", Flags::new()))
        .await
        .unwrap();
    let added = expect(
        rx,
        &format!("a message added to {folder}"),
        folder_fn(folder),
    )
    .await;
    let stamp_added = stamp_of(&added);
    reader
        .select(folder, SelectOptions::default())
        .await
        .unwrap();
    let mut flagged = Flags::new();
    flagged.set(Flag::Flagged, true);
    reader
        .store(&UidRanges::all(), StoreMode::Add, &flagged, None)
        .await
        .unwrap();
    let flag_event = expect(rx, &format!("a flag change in {folder}"), |e| {
        folder_fn(folder)(e) && stamp_of(e).is_none_or(|s| Some(s) != stamp_added)
    })
    .await;
    let stamp_flagged = stamp_of(&flag_event);
    if let (Some(a), Some(f)) = (stamp_added, stamp_flagged) {
        assert!(f.highest_modseq > a.highest_modseq, "{a:?} -> {f:?}");
    }
    let mut deleted = Flags::new();
    deleted.set(Flag::Trashed, true);
    reader
        .store(&UidRanges::all(), StoreMode::Add, &deleted, None)
        .await
        .unwrap();
    reader.uid_expunge(&UidRanges::all()).await.unwrap();
    expect(rx, &format!("an expunge in {folder}"), |e| {
        folder_fn(folder)(e) && stamp_of(e).is_none_or(|s| s.messages == Some(0))
    })
    .await;
    reader.unselect().await.unwrap();
}

fn folder_fn(name: &str) -> impl Fn(&Event) -> bool + '_ {
    folder(name)
}

fn stamp_of(event: &Event) -> Option<pimlink_imap::watch::Stamp> {
    match event {
        Event::Folder { stamp, .. } => *stamp,
        _ => None,
    }
}

/// Folders created, renamed, deleted and subscribed to: each is reported as `Folders`.
async fn change_folders(reader: &mut Client, rx: &mut mpsc::Receiver<Event>) {
    let is_folders = |e: &Event| *e == Event::Folders;
    reader.create("Projects").await.unwrap();
    expect(rx, "a folder created", is_folders).await;
    reader.rename("Projects", "Plans").await.unwrap();
    expect(rx, "a folder renamed", is_folders).await;
    reader.delete("Plans").await.unwrap();
    expect(rx, "a folder deleted", is_folders).await;
}

#[tokio::test]
async fn notify_reports_deliveries_flags_expunges_and_folder_changes() {
    let setup = Setup {
        dot_delimiter: true,
        ..Setup::default()
    };
    let server = Server::start(Flavor::Dovecot, setup).unwrap();
    let mut reader = Client::connect(server.options()).await.unwrap();
    assert!(reader.has("NOTIFY"), "Dovecot 2.3 offers NOTIFY");
    reader.create("Archive").await.unwrap();
    let (task, mut rx) = start_watch(quick(server.options()));
    expect(&mut rx, "the session start", |e| *e == Event::Everything).await;

    server.deliver("INBOX", &suite::message("delivered", 100));
    let event = expect(&mut rx, "a delivery to INBOX", folder("INBOX")).await;
    // NOTIFY reports the counters with the change (IDLE could not).
    let stamp = stamp_of(&event).expect("NOTIFY's STATUS carries counters");
    assert_eq!(stamp.messages, Some(1));
    assert!(stamp.highest_modseq.is_some(), "CONDSTORE is on: {stamp:?}");

    change_messages(&mut reader, "Archive", &mut rx).await;
    change_folders(&mut reader, &mut rx).await;

    // Folders are named as the engine names them, whatever the server's delimiter ('.').
    reader.create("Lists.rust").await.unwrap();
    reader
        .append("Lists.rust", item("nested", Flags::new()))
        .await
        .unwrap();
    expect(
        &mut rx,
        "a message in a nested folder",
        folder("Lists/rust"),
    )
    .await;

    reader.unsubscribe("Archive").await.ok();
    reader.subscribe("Archive").await.unwrap();
    expect(&mut rx, "a subscription change", |e| *e == Event::Folders).await;

    drop(rx);
    tokio::time::timeout(DEADLINE, task)
        .await
        .expect("the watcher stops once its receiver is gone")
        .unwrap()
        .unwrap();
}

async fn idle_and_polls_find_the_same(flavor: Flavor, notify: bool) {
    let Some(server) = Server::start(flavor, Setup::default()) else {
        return;
    };
    let mut reader = Client::connect(server.options()).await.unwrap();
    reader.create("Archive").await.unwrap();
    // A new account's INBOX exists only once selected (or delivered to); an EXAMINE before
    // that watches a mailbox that delivery then creates anew. A synced account's INBOX exists.
    reader
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    reader.unselect().await.unwrap();
    let mut options = quick(server.options());
    options.notify = notify;
    let (_task, mut rx) = start_watch(options);
    expect(&mut rx, "the session start", |e| *e == Event::Everything).await;

    server.deliver("INBOX", &suite::message("delivered", 100));
    let event = expect(&mut rx, "a delivery to INBOX", folder("INBOX")).await;
    assert_eq!(
        stamp_of(&event),
        None,
        "INBOX is watched with IDLE, not NOTIFY"
    );

    // Archive is polled: every change shows in its counters.
    change_messages(&mut reader, "Archive", &mut rx).await;
    change_folders(&mut reader, &mut rx).await;
}

#[tokio::test]
async fn dovecot_with_notify_off_uses_idle_and_polls() {
    idle_and_polls_find_the_same(Flavor::Dovecot, false).await;
}

#[tokio::test]
async fn cyrus_without_notify_falls_back_to_idle_and_polls() {
    idle_and_polls_find_the_same(Flavor::Cyrus, true).await;
}

fn via(server: &Server, proxy: &CutProxy) -> WatchOptions {
    let mut client = server.options();
    client.port = Some(proxy.port());
    client.read_timeout = Duration::from_secs(3);
    client.connect_timeout = Duration::from_secs(3);
    quick(client)
}

#[tokio::test]
async fn a_server_that_goes_away_is_retried_with_backoff_then_everything_is_reported() {
    let server = Server::start(Flavor::Dovecot, Setup::default()).unwrap();
    for notify in [true, false] {
        let proxy = CutProxy::start(server.port()).unwrap();
        let mut options = via(&server, &proxy);
        options.notify = notify;
        let (_task, mut rx) = start_watch(options);
        expect(&mut rx, "the session start", |e| *e == Event::Everything).await;

        // The server goes down: connections cut, new ones refused.
        proxy.set_plan(|_| Cut::Refuse);
        proxy.cut_open_connections();
        let before = proxy.connections().len();
        // Attempts keep coming (the wait between them is capped at 200 ms): many within a
        // deadline that allows for any machine.
        tokio::time::timeout(DEADLINE, async {
            while proxy.connections().len() < before + 5 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the watcher keeps trying to reconnect");

        // Back up: a new session, which reports that anything may have changed.
        proxy.pass_all();
        expect(&mut rx, "the session after the outage", |e| {
            *e == Event::Everything
        })
        .await;
        server.deliver("INBOX", &suite::message(&format!("after-{notify}"), 100));
        expect(&mut rx, "a delivery after the outage", folder("INBOX")).await;
    }
}

async fn until_no_bytes_move(proxy: &CutProxy) {
    let total = || -> u64 {
        proxy
            .connections()
            .iter()
            .map(|c| c.to_server + c.to_client)
            .sum()
    };
    let mut last = total();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = total();
        if now == last {
            return;
        }
        last = now;
    }
}

#[tokio::test]
async fn a_connection_that_dies_silently_is_found_by_the_keepalive_and_reopened() {
    let server = Server::start(Flavor::Dovecot, Setup::default()).unwrap();
    for notify in [true, false] {
        let proxy = CutProxy::start(server.port()).unwrap();
        let mut options = via(&server, &proxy);
        options.notify = notify;
        options.keepalive = Duration::from_millis(500);
        // Polls would find the dead connection too; keep them out of the way.
        options.poll_interval = Duration::from_secs(3600);
        let (_task, mut rx) = start_watch(options);
        expect(&mut rx, "the session start", |e| *e == Event::Everything).await;
        // A change reported proves the watcher settled into its wait (NOTIFY or IDLE): the
        // connection dies while it waits, not while it sets up (where any read times out).
        server.deliver("INBOX", &suite::message(&format!("before-{notify}"), 100));
        expect(
            &mut rx,
            "a delivery before the silent death",
            folder("INBOX"),
        )
        .await;
        // And the IDLE restarted after that wake-up has been answered: no bytes move for a
        // while. (Were the machine so slow that this passed early, a setup read would time
        // out instead and the test would pass without proving the point; it cannot fail
        // wrongly.)
        until_no_bytes_move(&proxy).await;
        let before = proxy.connections().len();

        proxy.stall_open_connections();
        expect(&mut rx, "the session after the silent death", |e| {
            *e == Event::Everything
        })
        .await;
        assert!(
            proxy.connections().len() > before,
            "a new connection was opened"
        );
        server.deliver("INBOX", &suite::message(&format!("silent-{notify}"), 100));
        expect(&mut rx, "a delivery on the new connection", folder("INBOX")).await;
    }
}

#[tokio::test]
async fn a_refused_login_stops_the_watcher_with_the_error() {
    let server = Server::start(Flavor::Dovecot, Setup::default()).unwrap();
    let mut client = server.options();
    client.password = pimlink_imap::Secret::new("wrong");
    let (task, _rx) = start_watch(quick(client));
    let result = tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    assert_eq!(result.unwrap_err().kind(), pimlink_core::ErrorKind::Auth);
}

#[tokio::test]
async fn a_server_without_notify_or_idle_cannot_be_watched() {
    let server = pimlink_testkit::DovecotBuilder::new()
        .capabilities("IMAP4rev1 LIST-STATUS")
        .start()
        .unwrap();
    let client = server_options(&server);
    let (task, _rx) = start_watch(quick(client.clone()));
    let result = tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap();
    assert_eq!(
        result.unwrap_err().kind(),
        pimlink_core::ErrorKind::Unsupported
    );

    // Polling alone needs neither.
    let mut options = quick(client);
    options.idle_folders.clear();
    let (_task, mut rx) = start_watch(options);
    expect(&mut rx, "the session start", |e| *e == Event::Everything).await;
    let mut reader = Client::connect(server_options(&server)).await.unwrap();
    reader.create("Polled").await.unwrap();
    expect(&mut rx, "a folder found by a poll", |e| {
        *e == Event::Folders
    })
    .await;
}

fn server_options(server: &pimlink_testkit::Dovecot) -> pimlink_imap::ClientOptions {
    let mut o = pimlink_imap::ClientOptions::new(
        server.host(),
        server.user(),
        pimlink_imap::Secret::new(server.password()),
    );
    o.port = Some(server.port());
    o.tls = pimlink_imap::TlsMode::None;
    o
}
