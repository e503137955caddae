//! End-to-end, through the `pimlink` binary against a private Dovecot with TLS: an IMAP
//! storage's trust keys (`tls`, `ca_file`, `cert_fingerprint`, `client_cert`/`client_key`)
//! reach the connection as the configuration parsed them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::message;
use common::{Run, World};
use pimlink_testkit::{Dovecot, DovecotBuilder};
use std::process::Command;
use std::time::{Duration, Instant};

/// A server with TLS (and, if `client_certs`, demanding a client certificate) holding one
/// message in INBOX.
fn server(client_certs: bool) -> Dovecot {
    let server = DovecotBuilder::new()
        .tls(true)
        .require_client_cert(client_certs)
        .start()
        .unwrap();
    server
        .deliver(server.user(), "INBOX", &message("over-tls"))
        .unwrap();
    server
}

/// Syncs the server's user (reached with `tls_keys`, on the implicit-TLS port unless they say
/// `tls = "starttls"`) into a fresh Maildir.
fn sync(server: &Dovecot, tls_keys: &str) -> (World, Run) {
    let world = World::new("");
    let port = if tls_keys.contains("starttls") {
        server.port()
    } else {
        server.tls_port().unwrap()
    };
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\n\
         user = \"{user}\"\npassword = \"{password}\"\n{tls_keys}\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\n\n\
         [pair.p]\na = \"a\"\nb = \"b\"\n",
        state = world.state_dir().display(),
        host = server.host(),
        user = server.user(),
        password = server.password(),
        b = world.root("b").display(),
    );
    std::fs::write(world.config(), config).unwrap();
    let run = world.run(&["sync"]);
    (world, run)
}

fn assert_synced(server: &Dovecot, (world, run): (World, Run)) {
    assert_eq!(run.code(), 0, "{run}\n{}", server.log());
    assert!(
        world.messages("b")["INBOX"].contains_key("over-tls"),
        "{run}"
    );
}

fn assert_refused(server: &Dovecot, (world, run): (World, Run), why: &str) {
    assert_ne!(run.code(), 0, "{run}");
    assert!(run.stderr().contains(why), "{why:?} not in\n{run}");
    assert!(
        !world.root("b").join("INBOX").exists(),
        "{run}\n{}",
        server.log()
    );
}

/// True once the server's log contains `needle`, waiting up to `deadline` for it.
fn log_shows_within(server: &Dovecot, needle: &str, deadline: Duration) -> bool {
    let start = Instant::now();
    loop {
        if server.log().contains(needle) {
            return true;
        }
        if start.elapsed() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fingerprint of the server's certificate as the user would get it: what
/// `openssl x509 -noout -fingerprint -sha256` prints after `sha256 Fingerprint=`.
fn fingerprint(server: &Dovecot) -> String {
    let pem = server.ca_cert_pem().unwrap().with_file_name("server.pem");
    let output = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let (_, hex) = text.trim_end().split_once('=').unwrap();
    hex.to_owned()
}

#[test]
fn an_imap_storage_trusts_its_ca_file_or_its_pinned_certificate_and_nothing_else() {
    let server = server(false);
    let ca = server.ca_cert_pem().unwrap().display().to_string();

    assert_refused(&server, sync(&server, ""), "certificate");
    assert_synced(&server, sync(&server, &format!("ca_file = \"{ca}\"")));
    assert_synced(
        &server,
        sync(&server, &format!("tls = \"starttls\"\nca_file = \"{ca}\"")),
    );
    let pin = format!("cert_fingerprint = \"sha256:{}\"", fingerprint(&server));
    assert_synced(&server, sync(&server, &pin));
    // The pin replaces the CA check: with the CA trusted, another pin still refuses.
    let other = format!(
        "ca_file = \"{ca}\"\ncert_fingerprint = \"sha256:{}\"",
        "00".repeat(32)
    );
    assert_refused(&server, sync(&server, &other), "pinned");
}

#[test]
fn an_imap_storage_presents_its_client_certificate() {
    let server = server(true);
    let ca = server.ca_cert_pem().unwrap().display().to_string();
    let client = server.client_cert().unwrap();
    let trusted = format!("ca_file = \"{ca}\"\n");

    // Dovecot takes the connection but refuses to log in a client without a certificate.
    let (world, run) = sync(&server, &trusted);
    assert_ne!(run.code(), 0, "{run}");
    assert!(!world.root("b").join("INBOX").exists(), "{run}");
    // Dovecot's log process writes the line on its own time, possibly after pimlink exited.
    assert!(
        log_shows_within(&server, "didn't send a cert", Duration::from_secs(60)),
        "{run}\n{}",
        server.log()
    );

    let separate = format!(
        "{trusted}client_cert = \"{}\"\nclient_key = \"{}\"",
        client.cert.display(),
        client.key.display()
    );
    assert_synced(&server, sync(&server, &separate));
    let combined = format!(
        "{trusted}tls = \"starttls\"\nclient_cert = \"{}\"",
        client.combined.display()
    );
    assert_synced(&server, sync(&server, &combined));
}
