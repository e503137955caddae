//! The first run: without a configuration pimlink says where it looked and how to get one;
//! `pimlink init` prints a starting configuration that pimlink accepts, and `--write` puts it
//! where pimlink looks, owner-only, never over an existing file without `--force`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

fn pimlink(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pimlink"))
        .args(args)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("HOME", home)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn without_a_configuration_pimlink_says_where_it_looked_and_how_to_start() {
    let home = tempfile::tempdir().unwrap();
    let run = pimlink(home.path(), &["sync"]);
    assert_eq!(run.status.code(), Some(2));
    let stderr = text(&run.stderr);
    let expected = home.path().join("config/pimlink/config.toml");
    assert!(stderr.contains(&expected.display().to_string()), "{stderr}");
    assert!(stderr.contains("pimlink init"), "{stderr}");
}

#[test]
fn init_writes_a_configuration_pimlink_accepts_and_keeps_an_existing_one() {
    let home = tempfile::tempdir().unwrap();
    let printed = pimlink(home.path(), &["init", "--address", "jo@example.net"]);
    assert_eq!(printed.status.code(), Some(0));
    let printed = text(&printed.stdout);
    assert!(printed.contains("host = \"imap.example.net\""), "{printed}");

    let written = pimlink(
        home.path(),
        &["init", "--address", "jo@example.net", "--write"],
    );
    assert_eq!(written.status.code(), Some(0), "{}", text(&written.stderr));
    let file = home.path().join("config/pimlink/config.toml");
    assert_eq!(fs::read_to_string(&file).unwrap(), printed);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // pimlink reads it (status needs no network): three pairs, none synced yet.
    let status = pimlink(home.path(), &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let lines = text(&status.stdout);
    for pair in ["mail", "calendars", "contacts"] {
        assert!(lines.contains(&format!("{pair}: never synced")), "{lines}");
    }

    fs::write(&file, "# mine\n").unwrap();
    let again = pimlink(home.path(), &["init", "--write"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("--force"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(fs::read_to_string(&file).unwrap(), "# mine\n", "kept");
    let forced = pimlink(home.path(), &["init", "--write", "--force"]);
    assert_eq!(forced.status.code(), Some(0));
    assert!(
        fs::read_to_string(&file)
            .unwrap()
            .contains("me@example.org")
    );

    let bad = pimlink(home.path(), &["init", "--address", "me\"@x.org"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn init_with_a_provider_writes_its_preset_and_pimlink_reads_it() {
    let home = tempfile::tempdir().unwrap();
    let written = pimlink(
        home.path(),
        &[
            "init",
            "--provider",
            "fastmail",
            "--address",
            "jo@example.net",
            "--write",
        ],
    );
    assert_eq!(written.status.code(), Some(0), "{}", text(&written.stderr));
    let file = fs::read_to_string(home.path().join("config/pimlink/config.toml")).unwrap();
    assert!(file.contains("provider = \"fastmail\""), "{file}");
    assert!(!file.contains("host ="), "{file}");
    let status = pimlink(home.path(), &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let lines = text(&status.stdout);
    for pair in ["mail", "calendars", "contacts"] {
        assert!(lines.contains(&format!("{pair}: never synced")), "{lines}");
    }
    // Outlook has no calendars or contacts preset: only the mail pair is written.
    let outlook = pimlink(
        home.path(),
        &[
            "init",
            "--provider",
            "outlook",
            "--address",
            "jo@example.net",
        ],
    );
    assert_eq!(outlook.status.code(), Some(0));
    let printed = text(&outlook.stdout);
    assert!(printed.contains("provider = \"outlook\""), "{printed}");
    assert!(!printed.contains("[pair.calendars]"), "{printed}");
    let unknown = pimlink(home.path(), &["init", "--provider", "yahoo"]);
    assert_eq!(unknown.status.code(), Some(2));
}
