//! The Cyrus harness against the real Cyrus IMAP (unpacked by scripts/install-deps).
//!
//! On a machine without Cyrus these tests fail with the "run scripts/install-deps" message,
//! unless PIMLINK_SKIP_CYRUS=1 is set.

// Tests may panic on unexpected errors: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Imap, process_running_with};
use pimlink_testkit::{Cyrus, CyrusBuilder};

const MESSAGE: &[u8] = b"From: a@example.org\r\nSubject: seeded\r\n\r\nhello\r\n";

fn skip() -> bool {
    Cyrus::skip_requested()
}

#[test]
fn login_list_and_seeded_mail() {
    if skip() {
        return;
    }
    let server = Cyrus::start().unwrap();
    server.deliver("test", "INBOX", MESSAGE).unwrap();
    server.deliver("test", "Lists/rust", MESSAGE).unwrap();
    server.deliver("test", "Lists/rust", MESSAGE).unwrap();

    let mut imap = Imap::connect(server.host(), server.port());
    assert!(imap.greeting.contains("Cyrus"), "{}", imap.greeting);
    let (_, status) = imap.ok(&format!("LOGIN {} {}", server.user(), server.password()));
    assert!(status.contains("UIDPLUS"), "{status}");
    let (list, _) = imap.ok("LIST \"\" \"*\"");
    assert!(list.iter().any(|l| l.ends_with("\"/\" INBOX")), "{list:?}");
    assert!(
        list.iter().any(|l| l.ends_with("\"/\" Lists/rust")),
        "{list:?}"
    );
    let (status, _) = imap.ok("STATUS Lists/rust (MESSAGES)");
    assert!(status[0].contains("MESSAGES 2"), "{status:?}");
    let (status, _) = imap.ok("STATUS INBOX (MESSAGES)");
    assert!(status[0].contains("MESSAGES 1"), "{status:?}");

    let mut other = Imap::connect(server.host(), server.port());
    let (_, status) = other.command("LOGIN test wrong");
    assert!(status.starts_with("NO"), "{status}");
}

#[test]
fn users_are_separate_and_admin_can_log_in() {
    if skip() {
        return;
    }
    let server = CyrusBuilder::new()
        .users(&[("alice", "a"), ("bob", "b")])
        .start()
        .unwrap();
    server.deliver("bob", "INBOX", MESSAGE).unwrap();
    let mut imap = Imap::connect(server.host(), server.port());
    imap.ok("LOGIN alice a");
    let (status, _) = imap.ok("STATUS INBOX (MESSAGES)");
    assert!(status[0].contains("MESSAGES 0"), "{status:?}");

    let (admin, password) = server.admin();
    let mut imap = Imap::connect(server.host(), server.port());
    imap.ok(&format!("LOGIN {admin} {password}"));
    let (list, _) = imap.ok("LIST \"\" \"*\"");
    assert!(list.iter().any(|l| l.contains("bob")), "{list:?}");
}

#[test]
fn drop_stops_cyrus() {
    if skip() {
        return;
    }
    let server = Cyrus::start().unwrap();
    let port = server.port();
    let root = server.root_dir().to_path_buf();
    let marker = root.to_string_lossy().into_owned();
    assert!(process_running_with(&marker));
    drop(server);
    assert!(!process_running_with(&marker), "a Cyrus process survived");
    assert!(!root.exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn tls_port_and_starttls() {
    if skip() {
        return;
    }
    let server = CyrusBuilder::new().tls(true).start().unwrap();
    let port = server.tls_port().unwrap();
    let plain = Imap::connect(server.host(), server.port());
    assert!(plain.greeting.contains("STARTTLS"), "{}", plain.greeting);

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
        .write_all(b"a LOGIN test secret\r\nb LOGOUT\r\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.starts_with("* OK"), "{stdout}\n{stderr}");
    assert!(stdout.contains("a OK"), "{stdout}");
    assert!(stderr.contains("Verification: OK"), "{stderr}");
}

#[test]
fn suppressed_capabilities_are_not_advertised() {
    if skip() {
        return;
    }
    let server = CyrusBuilder::new()
        .suppress_capabilities("QRESYNC CONDSTORE")
        .start()
        .unwrap();
    let mut imap = Imap::connect(server.host(), server.port());
    imap.ok("LOGIN test secret");
    let (caps, _) = imap.ok("CAPABILITY");
    let caps: Vec<&str> = caps[0].split(' ').collect();
    assert!(caps.contains(&"UIDPLUS"), "{caps:?}");
    assert!(
        !caps.contains(&"QRESYNC") && !caps.contains(&"CONDSTORE"),
        "{caps:?}"
    );
}
