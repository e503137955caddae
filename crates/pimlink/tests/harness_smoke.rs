//! Smoke test of the real-server harness from the binary crate's point of view: the servers
//! pimlink's end-to-end tests will sync against start, accept the test user, and answer the
//! first commands a client sends. Plain std sockets only, so a failure here points at the
//! environment (missing Debian package, broken server config), not at pimlink's clients.

// Tests may panic on unexpected errors: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use pimlink_testkit::{Dovecot, DovecotBuilder, Radicale};

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
}

/// Sends `tag command` and returns every line up to and including the tagged one.
fn imap_command(reader: &mut BufReader<TcpStream>, tag: &str, command: &str) -> Vec<String> {
    write!(reader.get_mut(), "{tag} {command}\r\n").unwrap();
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "connection closed"
        );
        let done = line.starts_with(&format!("{tag} "));
        lines.push(line.trim_end().to_string());
        if done {
            return lines;
        }
    }
}

#[test]
fn dovecot_accepts_login_and_lists_folders() {
    let server = Dovecot::start().unwrap();
    server
        .deliver(server.user(), "Projects", b"Subject: smoke\r\n\r\nbody\r\n")
        .unwrap();

    let mut reader = BufReader::new(connect(server.port()));
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("* OK"), "{greeting}");

    let login = format!("LOGIN {} {}", server.user(), server.password());
    let answer = imap_command(&mut reader, "a1", &login);
    assert!(answer.last().unwrap().starts_with("a1 OK"), "{answer:?}");

    let answer = imap_command(&mut reader, "a2", "LIST \"\" \"*\"");
    assert!(answer.last().unwrap().starts_with("a2 OK"), "{answer:?}");
    let folders: Vec<&str> = answer
        .iter()
        .filter(|l| l.starts_with("* LIST "))
        .filter_map(|l| l.rsplit(' ').next())
        .collect();
    assert_eq!(folders.len(), 2, "{answer:?}");
    assert!(folders.contains(&"INBOX") && folders.contains(&"Projects"));

    let answer = imap_command(&mut reader, "a3", "STATUS Projects (MESSAGES)");
    assert!(answer[0].contains("MESSAGES 1"), "{answer:?}");

    // A wrong password on a fresh connection is refused.
    let mut reader = BufReader::new(connect(server.port()));
    reader.read_line(&mut String::new()).unwrap();
    let answer = imap_command(&mut reader, "b1", "LOGIN test not-the-password");
    assert!(answer.last().unwrap().starts_with("b1 NO"), "{answer:?}");
}

#[test]
fn dovecot_tls_port_greets_over_verified_tls() {
    let server = DovecotBuilder::new().tls(true).start().unwrap();
    let port = server.tls_port().unwrap();
    let mut child = Command::new("openssl")
        .args(["s_client", "-brief", "-ign_eof", "-verify_return_error"])
        .args(["-verify_hostname", "localhost", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-CAfile")
        .arg(server.ca_cert_pem().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"z LOGOUT\r\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.starts_with("* OK"), "{stdout}\n{stderr}");
    assert!(stderr.contains("Verification: OK"), "{stderr}");
}

#[test]
fn radicale_answers_propfind_with_and_without_credentials() {
    let server = Radicale::start().unwrap();
    let propfind = |auth: &str| {
        let mut stream = connect(server.port());
        let body = r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#;
        write!(
            stream,
            "PROPFIND /{user}/ HTTP/1.0\r\nHost: 127.0.0.1\r\nDepth: 0\r\n{auth}\
             Content-Type: application/xml\r\nContent-Length: {len}\r\n\r\n{body}",
            user = server.user(),
            len = body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };

    let status = |response: &str| response.split_whitespace().nth(1).map(str::to_owned);
    let anonymous = propfind("");
    assert_eq!(status(&anonymous).as_deref(), Some("401"), "{anonymous}");

    // "test:secret" in base64.
    assert_eq!((server.user(), server.password()), ("test", "secret"));
    let authed = propfind("Authorization: Basic dGVzdDpzZWNyZXQ=\r\n");
    assert_eq!(status(&authed).as_deref(), Some("207"), "{authed}");
    assert!(authed.contains("/test/</"), "{authed}");
}
