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
