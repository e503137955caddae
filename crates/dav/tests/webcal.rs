//! The webcal storage against a tiny HTTP server on loopback that serves one feed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use pimlink_core::ErrorKind;
use pimlink_core::dav::store::{CollectionId, Etag, Href, ItemStore};
use pimlink_core::dav::vobject::uid;
use pimlink_dav::{ClientOptions, WebcalStore};

/// Serves `feed` (shared, so a test can change it) to every request, with `status`.
fn serve(feed: Arc<Mutex<(u16, String)>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/holidays.ics", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            read_head(&stream);
            let (status, body) = feed.lock().unwrap().clone();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// Reads a request head (GET has no body) and returns it.
fn read_head(stream: &std::net::TcpStream) -> String {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let (mut head, mut line) = (String::new(), String::new());
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
        line.clear();
    }
    head
}

fn feed(stamp: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//feed//EN\r\nMETHOD:PUBLISH\r\n\
         BEGIN:VTIMEZONE\r\nTZID:Europe/Vienna\r\nBEGIN:STANDARD\r\nTZOFFSETTO:+0100\r\n\
         END:STANDARD\r\nEND:VTIMEZONE\r\n\
         BEGIN:VEVENT\r\nUID:new-year@feed\r\nDTSTAMP:{stamp}\r\n\
         DTSTART;TZID=Europe/Vienna:20250101T000000\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:labour/day\r\nDTSTAMP:{stamp}\r\nDTSTART:20250501\r\n\
         SUMMARY:Labour Day\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n"
    )
}

#[tokio::test]
async fn a_feed_is_split_into_items_with_stable_etags() {
    let shared = Arc::new(Mutex::new((200, feed("20250101T000000Z", "New Year"))));
    let url = serve(Arc::clone(&shared));
    let id = CollectionId::new("holidays").unwrap();
    let store = WebcalStore::new(&ClientOptions::new(&url), id.clone()).unwrap();
    assert!(store.read_only());

    let collections = store.list_collections().await.unwrap();
    assert_eq!(collections.len(), 1);
    assert_eq!(collections[0].id, id);

    let listed = store.list_items(&id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].href, Href::new("new-year@feed.ics"));
    let hrefs: Vec<Href> = listed.iter().map(|r| r.href.clone()).collect();
    let fetched = store.get_many(&id, &hrefs).await.unwrap();
    assert_eq!(fetched.items.len(), 2);
    let new_year = &fetched.items[0].data;
    assert_eq!(uid(new_year).as_deref(), Some("new-year@feed"));
    assert!(new_year.contains("TZID:Europe/Vienna"), "{new_year}");
    assert!(!fetched.items[1].data.contains("VTIMEZONE"));

    // A feed that only restamps DTSTAMP keeps its etags; a real change moves one.
    *shared.lock().unwrap() = (200, feed("20990101T000000Z", "New Year"));
    assert_eq!(store.list_items(&id).await.unwrap(), listed);
    *shared.lock().unwrap() = (200, feed("20990101T000000Z", "New Year!"));
    let relisted = store.list_items(&id).await.unwrap();
    assert_ne!(relisted[0].etag, listed[0].etag);
    assert_eq!(relisted[1].etag, listed[1].etag);

    // Writes are refused; errors of the feed are reported.
    let err = store
        .create_item(&id, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let err = store
        .delete_item(&id, &hrefs[0], &Etag::new("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    *shared.lock().unwrap() = (200, "<html>maintenance</html>".to_owned());
    let err = store.list_items(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Peer);
    assert!(err.to_string().contains("holidays.ics"), "{err}");
    *shared.lock().unwrap() = (404, String::new());
    let err = store.list_items(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let other = CollectionId::new("other").unwrap();
    assert_eq!(
        store.list_items(&other).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// Serves `feed` with `ETag: "<version>"` and a `Last-Modified`, answering `304 Not Modified`
/// to a request whose `If-None-Match` names the current version; records each request head.
fn serve_validated(feed: Arc<Mutex<(u32, String)>>, heads: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/validated.ics", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let head = read_head(&stream).to_ascii_lowercase();
            let (version, body) = feed.lock().unwrap().clone();
            let unchanged = head.contains(&format!("if-none-match: \"v{version}\""));
            heads.lock().unwrap().push(head);
            let validators = format!(
                "ETag: \"v{version}\"\r\nLast-Modified: Wed, 01 Jan 2025 00:00:0{version} GMT\r\n"
            );
            let _ = if unchanged {
                write!(
                    stream,
                    "HTTP/1.1 304 Not Modified\r\n{validators}Connection: close\r\n\r\n"
                )
            } else {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\n{validators}\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
        }
    });
    url
}

/// `pimlink daemon` polls a feed with a new store each time: from the second poll on, the
/// request is conditional, and a `304` gives the items of the last download (issue 14).
#[tokio::test]
async fn a_feed_fetched_before_is_asked_for_only_if_it_changed() {
    let shared = Arc::new(Mutex::new((1, feed("20250101T000000Z", "New Year"))));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let url = serve_validated(Arc::clone(&shared), Arc::clone(&heads));
    let id = CollectionId::new("holidays").unwrap();
    let poll = || async {
        let store = WebcalStore::new(&ClientOptions::new(&url), id.clone()).unwrap();
        let listed = store.list_items(&id).await.unwrap();
        let hrefs: Vec<Href> = listed.iter().map(|r| r.href.clone()).collect();
        let fetched = store.get_many(&id, &hrefs).await.unwrap();
        fetched
            .items
            .into_iter()
            .map(|item| item.data)
            .collect::<Vec<String>>()
    };

    let first = poll().await;
    assert_eq!(first.len(), 2);
    assert!(!heads.lock().unwrap()[0].contains("if-none-match"));

    let second = poll().await;
    assert_eq!(second, first, "the 304 gave the last download's items");
    let head = heads.lock().unwrap()[1].clone();
    assert!(head.contains("if-none-match: \"v1\""), "{head}");
    assert!(
        head.contains("if-modified-since: wed, 01 jan 2025 00:00:01 gmt"),
        "{head}"
    );

    *shared.lock().unwrap() = (2, feed("20250101T000000Z", "Neujahr"));
    let third = poll().await;
    assert!(third[0].contains("SUMMARY:Neujahr"), "{third:?}");
    assert!(heads.lock().unwrap()[2].contains("if-none-match: \"v1\""));
}
