//! Every class of failure a user meets says, after the error, what to do next, naming the
//! storage it concerns: a server that cannot be reached (IMAP, CalDAV; `sync` and `check`),
//! a certificate that is not trusted, and a directory pimlink may not use. (A refused login:
//! storage_errors.rs; a configuration error: config_errors.rs; a full disk: local_files.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::message;
use common::{Run, World};
use pimlink_testkit::DovecotBuilder;
use std::fs;
use std::os::unix::fs::PermissionsExt;

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn world_with(storages: &str, pairs: &str) -> World {
    let world = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n{storages}\n\n\
         [storage.local]\ntype = \"maildir\"\npath = \"{b}\"\n\n\
         [storage.vdir]\ntype = \"vdir\"\npath = \"{v}\"\nfileext = \".ics\"\n\n{pairs}\n",
        state = world.state_dir().display(),
        b = world.root("b").display(),
        v = world.dir.path().join("vdir").display(),
    );
    fs::write(world.config(), config).unwrap();
    world
}

fn advice(run: &Run) -> String {
    run.stderr()
        .lines()
        .find(|l| l.starts_with("pimlink: what to do: "))
        .unwrap_or_else(|| panic!("no advice:\n{run}"))
        .to_owned()
}

#[test]
fn a_server_that_does_not_answer_is_named_with_the_keys_to_check() {
    let port = closed_port();
    let world = world_with(
        &format!(
            "[storage.mailserver]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             tls = \"none\"\nuser = \"u\"\npassword = \"p\"\n\n\
             [storage.calserver]\ntype = \"caldav\"\nurl = \"http://127.0.0.1:{port}/\"\n\
             user = \"u\"\npassword = \"p\""
        ),
        "[pair.mail]\na = \"mailserver\"\nb = \"local\"\n\n\
         [pair.cals]\na = \"calserver\"\nb = \"vdir\"",
    );
    for pair in ["mail", "cals"] {
        let run = world.run(&["sync", pair]);
        assert_eq!(run.code(), 3, "{run}");
        let storage = if pair == "mail" {
            "mailserver"
        } else {
            "calserver"
        };
        let line = advice(&run);
        assert!(
            line.contains(&format!("storage \"{storage}\": is the server running"))
                && line.contains(&format!("[storage.{storage}]")),
            "{line}"
        );
    }
    let check = world.run(&["check", "mail"]);
    assert_eq!(check.code(), 3, "{check}");
    assert!(
        advice(&check).contains("storage \"mailserver\": is the server running"),
        "{check}"
    );
}

#[test]
fn an_untrusted_certificate_points_at_ca_file_and_cert_fingerprint() {
    let server = DovecotBuilder::new().tls(true).start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("one"))
        .unwrap();
    let world = world_with(
        &format!(
            "[storage.work]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\nuser = \"{}\"\n\
             password = \"{}\"",
            server.host(),
            server.tls_port().unwrap(),
            server.user(),
            server.password()
        ),
        "[pair.mail]\na = \"work\"\nb = \"local\"",
    );
    let run = world.run(&["sync"]);
    // The storage could not be opened (3), not a safety refusal (5).
    assert_eq!(run.code(), 3, "{run}");
    let line = advice(&run);
    assert!(
        line.contains("storage \"work\": the server's certificate is not trusted")
            && line.contains("ca_file")
            && line.contains("cert_fingerprint")
            && line.contains("[storage.work]"),
        "{line}"
    );
}

#[test]
fn a_directory_pimlink_may_not_use_names_the_user_and_what_to_change() {
    let world = World::new("");
    world.deliver("a", "INBOX", "m1", "");
    // The state directory's parent is closed to pimlink: as root, pimlink runs as nobody
    // (root may open anything); otherwise the parent is made unwritable.
    let closed = world.dir.path().join("closed");
    fs::create_dir(&closed).unwrap();
    let config = fs::read_to_string(world.config()).unwrap().replace(
        &world.state_dir().display().to_string(),
        &closed.join("state").display().to_string(),
    );
    fs::write(world.config(), config).unwrap();
    let root = rustix::process::geteuid().is_root();
    let run = if root {
        // nobody must read the config and traverse to it, but not write into `closed`.
        fs::set_permissions(world.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(world.config(), fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o755)).unwrap();
        Run(std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_pimlink"))
            .arg("-c")
            .arg(world.config())
            .arg("sync")
            .output()
            .expect("setpriv (util-linux)"))
    } else {
        fs::set_permissions(&closed, fs::Permissions::from_mode(0o555)).unwrap();
        world.run(&["sync"])
    };
    assert_eq!(run.code(), 3, "{run}");
    assert!(run.stderr().contains("Permission denied"), "{run}");
    assert!(
        run.stderr().contains(&closed.display().to_string()),
        "{run}"
    );
    let line = advice(&run);
    assert!(
        line.contains("may not use a file or directory named above")
            && line.contains("state_dir")
            && (line.contains("user nobody") || line.contains("uid ")),
        "{line}"
    );
}
