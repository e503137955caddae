//! `password = { keyring = { service, user } }`: the password comes from the Secret Service
//! keyring. Each test runs pimlink in a private D-Bus session with a real keyring daemon
//! (GNOME Keyring, unlocked with a throwaway password, its files in a temporary HOME) holding
//! the test server's password, against a private Dovecot. Missing tools make the test fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::message;
use common::keyring::{assert_keyring_started, unlocked_keyring};
use common::{Run, World};
use pimlink_testkit::{Dovecot, DovecotBuilder};
use std::fs;
use std::process::Command;

fn world(server: &Dovecot, password_keys: &str) -> World {
    let world = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         user = \"{user}\"\n{password_keys}\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\n\n\
         [pair.p]\na = \"a\"\nb = \"b\"\n",
        state = world.state_dir().display(),
        host = server.host(),
        port = server.port(),
        user = server.user(),
        b = world.root("b").display(),
    );
    fs::write(world.config(), config).unwrap();
    world
}

/// Runs `pimlink sync` in a D-Bus session whose keyring holds `stored` (service, user, secret).
fn sync_with_keyring(world: &World, stored: Option<(&str, &str, &str)>) -> Run {
    let home = world.dir.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let store = match stored {
        Some((service, user, secret)) => format!(
            "printf %s '{secret}' | secret-tool store --label=pimlink service '{service}' \
             user '{user}' || exit 97\n"
        ),
        None => String::new(),
    };
    let script = format!(
        "{}{store}exec \"$PIMLINK\" -c \"$CONFIG\" sync\n",
        unlocked_keyring()
    );
    let output = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("HOME", &home)
        .env("PIMLINK", env!("CARGO_BIN_EXE_pimlink"))
        .env("CONFIG", world.config())
        .output()
        .expect("dbus-run-session (Debian: dbus-daemon) must be installed");
    let run = Run(output);
    assert_keyring_started(run.code(), &run);
    assert_ne!(
        run.code(),
        97,
        "secret-tool could not store the secret:\n{run}"
    );
    run
}

#[test]
fn the_password_comes_from_the_keyring() {
    let server = DovecotBuilder::new().start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("one"))
        .unwrap();
    let keys = "password = { keyring = { service = \"pimlink-test\" } }";
    let world = world(&server, keys);
    let run = sync_with_keyring(
        &world,
        Some(("pimlink-test", server.user(), server.password())),
    );
    assert_eq!(run.code(), 0, "{run}");
    assert!(world.messages("b")["INBOX"].contains_key("one"), "{run}");
    // The D-Bus daemon's own lines name org.freedesktop.secrets; pimlink's must not hold the
    // password.
    let stderr = run.stderr();
    let leaked = stderr
        .lines()
        .filter(|l| !l.starts_with("dbus-daemon"))
        .any(|l| l.contains(server.password()));
    assert!(!leaked, "{run}");
}

#[test]
fn a_missing_secret_says_how_to_store_it() {
    let server = DovecotBuilder::new().start().unwrap();
    let keys = "password = { keyring = { service = \"pimlink-test\", user = \"someone\" } }";
    let world = world(&server, keys);
    let run = sync_with_keyring(&world, Some(("pimlink-test", "another", "x")));
    assert_ne!(run.code(), 0, "{run}");
    assert!(
        run.stderr()
            .contains("the keyring's password for service \"pimlink-test\", user \"someone\"")
            && run
                .stderr()
                .contains("secret-tool store --label=pimlink service pimlink-test user someone"),
        "{run}"
    );
}

#[test]
fn a_keyring_table_with_a_typo_names_the_key() {
    let server = DovecotBuilder::new().start().unwrap();
    let world = world(&server, "password = { keyring = { sevrice = \"x\" } }");
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("sevrice"), "{run}");
}
