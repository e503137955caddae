//! What a user sees when a server refuses the credentials (issue 12): exit status 3 (a storage
//! could not be opened), and one message naming the storage, its host, the mechanism and the
//! server's own words, with a hint at what to check; no internal formatting of protocol
//! values.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::World;
use std::fs;

use pimlink_testkit::{Dovecot, Radicale};

/// A world whose side `a` is `storage_a` (a TOML table body) and side `b` a Maildir or vdir.
fn world_with(storage_a: &str, local: &str) -> World {
    let world = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n[storage.work]\n{storage_a}\n\n\
         [storage.local]\n{local}\npath = \"{b}\"\n\n\
         [pair.p]\na = \"work\"\nb = \"local\"\n",
        state = world.state_dir().display(),
        b = world.root("b").display(),
    );
    fs::write(world.config(), config).unwrap();
    world
}

const MAILDIR: &str = "type = \"maildir\"\nlayout = \"verbatim\"";
const VDIR: &str = "type = \"vdir\"\nfileext = \".ics\"";

/// Runs `command` against a server that refuses the login: exit status 3, and an error that
/// contains each of `expected` (with `what` saying what each shows), no password and no
/// internal Debug formatting of any type.
fn assert_refused_login(world: &World, command: &str, expected: &[(&str, &str)]) {
    let run = world.run(&[command]);
    assert_eq!(run.code(), 3, "{command}: storage unavailable:\n{run}");
    let stderr = run.stderr();
    eprint!("{stderr}");
    for debug in ["Other(", "Some(", "Plain", "[Other", "\\\""] {
        assert!(
            !stderr.contains(debug),
            "{command}: internal formatting ({debug}) in:\n{stderr}"
        );
    }
    for (text, what) in expected {
        assert!(stderr.contains(text), "{command}: {what}:\n{stderr}");
    }
    assert!(
        !stderr.contains("not-the-password-42"),
        "{command}: no password in:\n{stderr}"
    );
}

#[test]
fn a_wrong_imap_password_names_the_storage_the_mechanism_and_the_servers_words() {
    let server = Dovecot::start().unwrap();
    for (auth, mechanism) in [
        ("plain", "AUTHENTICATE PLAIN"),
        ("login", "LOGIN"),
        ("cram-md5", "AUTHENTICATE CRAM-MD5"),
    ] {
        let world = world_with(
            &format!(
                "type = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
                 user = \"{user}\"\npassword_cmd = \"echo not-the-password-42\"\nauth = \"{auth}\"",
                host = server.host(),
                port = server.port(),
                user = server.user(),
            ),
            MAILDIR,
        );
        let expected = format!(
            "storage \"work\" (127.0.0.1): login as \"{user}\" with {mechanism} was refused: \
             [AUTHENTICATIONFAILED] Authentication failed.",
            user = server.user()
        );
        for command in ["sync", "check"] {
            assert_refused_login(
                &world,
                command,
                &[
                    (
                        &expected,
                        "the storage, its host, the mechanism, the server's words",
                    ),
                    (
                        "Check the user name and the password (password_cmd).",
                        "a hint at what to check",
                    ),
                ],
            );
        }
    }
}

#[test]
fn a_wrong_dav_password_names_the_storage_and_the_servers_answer() {
    let server = Radicale::start().unwrap();
    let world = world_with(
        &format!(
            "type = \"caldav\"\nurl = \"{}\"\nuser = \"{}\"\npassword = \"not-the-password-42\"",
            server.url(),
            server.user(),
        ),
        VDIR,
    );
    for command in ["sync", "check"] {
        assert_refused_login(
            &world,
            command,
            &[
                ("storage \"work\" (127.0.0.1): ", "the storage and its host"),
                ("HTTP 401", "the server's answer"),
                (
                    "Check the user name and the password (password).",
                    "a hint at what to check",
                ),
            ],
        );
    }
}

/// `tls = "none"` (IMAP) and `http://` (CalDAV/CardDAV) to a host that is not this machine get
/// one warning per storage, however many pairs use it; loopback hosts none. The pairs are
/// locked by this test, so the run ends busy (exit 4) before it connects anywhere: the
/// addresses are from the documentation range (RFC 5737) and are never contacted.
#[test]
fn clear_text_to_another_machine_is_warned_about_once_per_storage() {
    let world = World::new("");
    let dir = world.dir.path();
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.far]\ntype = \"imap\"\nhost = \"192.0.2.10\"\ntls = \"none\"\n\
         user = \"u\"\npassword = \"p\"\n\n\
         [storage.near]\ntype = \"imap\"\nhost = \"127.0.0.1\"\ntls = \"none\"\n\
         user = \"u\"\npassword = \"p\"\n\n\
         [storage.cal]\ntype = \"caldav\"\nurl = \"http://192.0.2.11:8080/dav/\"\n\
         user = \"u\"\npassword = \"p\"\n\n\
         [storage.m1]\ntype = \"maildir\"\npath = \"{m1}\"\n\n\
         [storage.m2]\ntype = \"maildir\"\npath = \"{m2}\"\n\n\
         [storage.m3]\ntype = \"maildir\"\npath = \"{m3}\"\n\n\
         [storage.v]\ntype = \"vdir\"\npath = \"{v}\"\nfileext = \".ics\"\n\n\
         [pair.p1]\na = \"far\"\nb = \"m1\"\n\n[pair.p2]\na = \"far\"\nb = \"m2\"\n\n\
         [pair.p3]\na = \"near\"\nb = \"m3\"\n\n[pair.p4]\na = \"cal\"\nb = \"v\"\n",
        state = world.state_dir().display(),
        m1 = dir.join("m1").display(),
        m2 = dir.join("m2").display(),
        m3 = dir.join("m3").display(),
        v = dir.join("v").display(),
    );
    fs::write(world.config(), config).unwrap();
    fs::create_dir_all(world.state_dir()).unwrap();
    let locks: Vec<fs::File> = ["p1", "p2", "p3", "p4"]
        .iter()
        .map(|pair| {
            let file = fs::File::create(world.state_dir().join(format!("{pair}.lock"))).unwrap();
            file.try_lock().unwrap();
            file
        })
        .collect();

    let run = world.run(&["sync"]);
    eprintln!("{run}");
    assert_eq!(run.code(), 4, "every pair is busy:\n{run}");
    let stderr = run.stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("unencrypted"))
        .collect();
    assert_eq!(warnings.len(), 2, "one per storage:\n{stderr}");
    assert!(
        warnings[0].contains("storage \"cal\"") && warnings[0].contains("to 192.0.2.11,"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains("storage \"far\"")
            && warnings[1].contains("tls = \"none\"")
            && warnings[1].contains("to 192.0.2.10,"),
        "{}",
        warnings[1]
    );
    drop(locks);
}
