//! End-to-end: a run that changed a folder records it as settled with the stamps taken after
//! its own changes (core `plan::unchanged`, maildir `stamp::after_own_changes`), so that the
//! next run skips it, including the first run after the initial download; and a mail reader's
//! change made while the run finishes is never missed. IMAP (a private Dovecot) <-> a
//! verbatim Maildir.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{message, write_imap_maildir_config};
use common::{Run, World, set_local_flags};
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use pimlink_testkit::{Dovecot, DovecotBuilder};

const FOLDERS: [&str; 3] = ["INBOX", "Work", "Archive"];

fn sync_verbose(world: &World) -> Run {
    let run = world.run(&["-vv", "sync"]);
    assert_eq!(run.code(), 0, "sync failed:\n{run}");
    run
}

fn unchanged(run: &Run, folder: &str) -> bool {
    run.stdout()
        .contains(&format!("p: {folder}: unchanged since the last sync"))
}

/// A server with two messages in each of [`FOLDERS`], and a world configured to sync it into
/// a Maildir (not synced yet).
fn world_with_mail() -> (Dovecot, World) {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for folder in FOLDERS {
        for i in 0..2 {
            let id = format!("{}-{i}", folder.to_lowercase());
            server.deliver(&user, folder, &message(&id)).unwrap();
        }
    }
    let world = World::new("");
    write_imap_maildir_config(&world, &server, "", "", "");
    (server, world)
}

fn server_flags(server: &Dovecot, folder: &str, id: &str) -> String {
    let out = server
        .doveadm(&[
            "fetch",
            "-u",
            server.user(),
            "flags",
            "mailbox",
            folder,
            "header",
            "Message-ID",
            &format!("<{id}@test>"),
        ])
        .unwrap();
    out.lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .map(|flags| flags.trim().to_owned())
        .unwrap_or_else(|| panic!("{id} not in {folder} on the server"))
}

fn files_in(maildir: &Path) -> usize {
    ["cur", "new"]
        .iter()
        .map(|sub| fs::read_dir(maildir.join(sub)).map_or(0, |dir| dir.count()))
        .sum()
}

#[test]
fn the_run_right_after_the_first_download_skips_every_folder() {
    let (_server, world) = world_with_mail();
    world.sync_ok();
    // No pause: the first download's own writes are what the stamps were taken after.
    let run = sync_verbose(&world);
    for folder in FOLDERS {
        assert!(unchanged(&run, folder), "{folder} listed:\n{run}");
    }
}

#[test]
fn the_run_right_after_one_that_fetched_server_changes_skips_them() {
    let (server, world) = world_with_mail();
    let user = server.user().to_owned();
    world.sync_ok();
    // Server changes only: the run writes the Maildir (a new file, a rename, a deletion).
    server
        .doveadm(&[
            "flags",
            "add",
            "\\Flagged",
            "-u",
            &user,
            "mailbox",
            "INBOX",
            "header",
            "Message-ID",
            "<inbox-0@test>",
        ])
        .unwrap();
    server
        .deliver(&user, "Work", &message("new-remote"))
        .unwrap();
    server
        .doveadm(&[
            "expunge",
            "-u",
            &user,
            "mailbox",
            "Archive",
            "header",
            "Message-ID",
            "<archive-1@test>",
        ])
        .unwrap();
    let changing = sync_verbose(&world);
    for folder in FOLDERS {
        assert!(!unchanged(&changing, folder), "{folder}:\n{changing}");
    }
    let run = sync_verbose(&world);
    for folder in FOLDERS {
        assert!(unchanged(&run, folder), "{folder} listed:\n{run}");
    }
    let local = world.messages("b");
    assert_eq!(local["INBOX"]["inbox-0"], ["F"]);
    assert!(local["Work"].contains_key("new-remote"));
    assert!(!local["Archive"].contains_key("archive-1"));
}

/// A mail reader renames a file (a flag change) the moment the run's last download lands in
/// the folder, that is while the run flushes, records and takes its stamps: whether the rename
/// comes before or after the stamp, the next run must list the folder and send the flag up.
/// Several rounds, so that the rename falls at different points of the run's end.
#[test]
fn a_mail_readers_change_as_the_run_ends_is_never_missed() {
    let (server, world) = world_with_mail();
    let user = server.user().to_owned();
    world.sync_ok();
    let inbox = world.root("b").join("INBOX");
    for round in 0..8 {
        for i in 0..20 {
            server
                .deliver(&user, "INBOX", &message(&format!("r{round}-{i}")))
                .unwrap();
        }
        let expected = files_in(&inbox) + 20;
        let mut child = world
            .pimlink(&["sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Watch for the last download, then change another message at once.
        let deadline = Instant::now() + Duration::from_secs(120);
        while files_in(&inbox) < expected {
            assert!(Instant::now() < deadline, "round {round}: no download");
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let letters = if round % 2 == 0 { "FS" } else { "S" };
        set_local_flags(&inbox, "inbox-0", letters);
        assert!(child.wait().unwrap().success(), "round {round}");
        let run = sync_verbose(&world);
        assert!(
            !unchanged(&run, "INBOX"),
            "round {round}: the reader's change was missed:\n{run}"
        );
        let flags = server_flags(&server, "INBOX", "inbox-0");
        assert_eq!(
            flags.contains("Flagged"),
            round % 2 == 0,
            "round {round}: {flags}\n{run}"
        );
    }
}
