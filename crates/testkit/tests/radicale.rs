//! The Radicale harness against the real Radicale, over plain HTTP/1.0.

// Tests may panic on unexpected errors: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{basic_auth, http, process_running_with};
use pimlink_testkit::{Radicale, RadicaleBuilder};

fn propfind(server: &Radicale, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    let auth = auth
        .map(|(u, p)| format!("Authorization: Basic {}\r\n", basic_auth(u, p)))
        .unwrap_or_default();
    let body =
        r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#;
    http(
        server.port(),
        &format!(
            "PROPFIND {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nDepth: 0\r\n{auth}\
             Content-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn basic_auth_matches_rfc7617_example() {
    assert_eq!(
        basic_auth("Aladdin", "open sesame"),
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
    assert_eq!(basic_auth("a", "b"), "YTpi");
}

#[test]
fn propfind_needs_the_right_password() {
    let server = Radicale::start().unwrap();
    assert_eq!(server.url(), format!("http://127.0.0.1:{}/", server.port()));
    assert_eq!((server.user(), server.password()), ("test", "secret"));

    let (code, _) = propfind(&server, "/test/", None);
    assert_eq!(code, 401, "{}", server.log());
    let (code, _) = propfind(&server, "/test/", Some(("test", "wrong")));
    assert_eq!(code, 401, "{}", server.log());
    let (code, body) = propfind(&server, "/test/", Some(("test", "secret")));
    assert_eq!(code, 207, "{body}\n{}", server.log());
    assert!(body.contains("/test/"), "{body}");
}

#[test]
fn calendar_created_over_http_lands_in_storage_dir() {
    let server = RadicaleBuilder::new().user("alice", "pw").start().unwrap();
    let auth = basic_auth("alice", "pw");
    let (code, _) = http(
        server.port(),
        &format!(
            "MKCALENDAR /alice/cal/ HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n\r\n"
        ),
    );
    assert_eq!(code, 201, "{}", server.log());
    assert!(
        server
            .storage_dir()
            .join("collection-root/alice/cal")
            .is_dir(),
        "{}",
        server.log()
    );
}

#[test]
fn drop_stops_radicale_and_deletes_its_directory() {
    let server = Radicale::start().unwrap();
    let port = server.port();
    let root = server.storage_dir().parent().unwrap().to_path_buf();
    let marker = root.to_string_lossy().into_owned();
    assert!(process_running_with(&marker));
    drop(server);
    assert!(!process_running_with(&marker), "Radicale survived");
    assert!(!root.exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//test//EN\r\n\
BEGIN:VEVENT\r\nUID:event-1@pimlink\r\nDTSTAMP:20240101T000000Z\r\n\
DTSTART:20240102T100000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-1@pimlink\r\nFN:Ada Lovelace\r\n\
N:Lovelace;Ada;;;\r\nEND:VCARD\r\n";

#[test]
fn seeding_helpers_create_collections_and_items() {
    let server = Radicale::start().unwrap();
    let calendar = server.create_calendar("work").unwrap();
    assert_eq!(calendar, "/test/work/");
    let etag = server
        .put("/test/work/event-1.ics", "text/calendar", EVENT.as_bytes())
        .unwrap();
    assert!(!etag.is_empty());

    let book = server.create_addressbook("contacts").unwrap();
    server
        .put(&format!("{book}card-1.vcf"), "text/vcard", CARD.as_bytes())
        .unwrap();

    let listing = server
        .request("PROPFIND", "/test/", &[("Depth", "1")], b"")
        .unwrap();
    assert_eq!(listing.status, 207, "{}", listing.text());
    let text = listing.text();
    assert!(
        text.contains("/test/work/") && text.contains("/test/contacts/"),
        "{text}"
    );
    assert!(
        text.contains("calendar") && text.contains("addressbook"),
        "{text}"
    );

    let event = server
        .request("GET", "/test/work/event-1.ics", &[], b"")
        .unwrap();
    assert_eq!(event.status, 200);
    assert!(event.text().contains("SUMMARY:Standup"), "{}", event.text());
    assert_eq!(event.header("ETag"), Some(etag.as_str()));
}

#[test]
fn seeding_helpers_report_errors() {
    let server = Radicale::start().unwrap();
    for bad in ["", "a/b", "..", "x y"] {
        let error = server.create_calendar(bad).unwrap_err();
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::InvalidInput,
            "{bad:?}: {error}"
        );
    }
    server.create_calendar("dup").unwrap();
    let error = server.create_calendar("dup").unwrap_err();
    assert!(
        error.to_string().contains("MKCALENDAR /test/dup/"),
        "{error}"
    );
    let error = server
        .put("/test/dup/bad.ics", "text/calendar", b"not a calendar")
        .unwrap_err();
    assert!(error.to_string().contains("PUT"), "{error}");
}
