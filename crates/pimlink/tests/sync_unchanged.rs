//! End-to-end: collections unchanged on both sides since their last settled run are skipped
//! without being listed (core `plan::unchanged`), and every kind of change made after such a
//! run is still seen. A run that changed a folder records the stamps taken after its own
//! changes (maildir `stamp::after_own_changes`), so the next run skips it too, and a mail
//! reader's change as the run ends is never missed. IMAP (a private Dovecot) <-> a verbatim
//! Maildir.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{message, write_imap_maildir_config};
use common::{Run, World, find_file, set_local_flags};
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use pimlink_testkit::{Dovecot, DovecotBuilder};

const FOLDERS: [&str; 3] = ["INBOX", "Work", "Archive"];

fn write_config(world: &World, server: &Dovecot, extra_pair_keys: &str) {
    write_imap_maildir_config(world, server, "", "", extra_pair_keys);
}

/// A server with two messages in each of [`FOLDERS`] (`inbox-0`, `work-1`, ...), synced to a
/// Maildir and settled: the last run listed nothing.
fn settled_world(extra_pair_keys: &str) -> (Dovecot, World) {
    let (server, world) = world_with_mail(extra_pair_keys);
    world.sync_ok();
    settle(&world);
    (server, world)
}

/// Waits until the last changes are clearly older than the next listing, runs the sync that
/// records the folders as settled, and checks that the run after it lists none of them.
fn settle(world: &World) {
    std::thread::sleep(Duration::from_millis(1100));
    world.sync_ok();
    let run = sync_verbose(world);
    for folder in FOLDERS {
        assert!(unchanged(&run, folder), "{folder} not skipped:\n{run}");
    }
}

fn sync_verbose(world: &World) -> Run {
    let run = world.run(&["-vv", "sync"]);
    assert_eq!(run.code(), 0, "sync failed:\n{run}");
    run
}

fn unchanged(run: &Run, folder: &str) -> bool {
    run.stdout()
        .contains(&format!("p: {folder}: unchanged since the last sync"))
}

/// The flags (`doveadm fetch` form, e.g. `\Seen \Flagged`) of the server's message `id` in
/// `folder`, or `None` if it is not there.
fn server_flags(server: &Dovecot, folder: &str, id: &str) -> Option<String> {
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
}

fn doveadm_on(server: &Dovecot, verb: &[&str], folder: &str, id: &str) {
    let mut args: Vec<&str> = verb.to_vec();
    let message_id = format!("<{id}@test>");
    args.extend(["-u", server.user()]);
    args.extend(["mailbox", folder, "header", "Message-ID", &message_id]);
    server.doveadm(&args).unwrap();
}

fn local_ids(world: &World, folder: &str) -> Vec<String> {
    world
        .messages("b")
        .get(folder)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn local_flags(world: &World, folder: &str, id: &str) -> Vec<String> {
    world.messages("b")[folder][id].clone()
}

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

fn set_mtime(path: &Path, time: SystemTime) {
    fs::File::open(path).unwrap().set_modified(time).unwrap();
}

#[test]
fn an_unchanged_folder_is_not_listed() {
    let (server, world) = settled_world("");
    // A flag change whose directory time is put back as it was: invisible without a listing,
    // so it is not synced while the folder counts as unchanged.
    let inbox = world.root("b").join("INBOX");
    let (cur, new) = (inbox.join("cur"), inbox.join("new"));
    let before = (mtime(&cur), mtime(&new));
    set_local_flags(&inbox, "inbox-0", "FS");
    set_mtime(&cur, before.0);
    set_mtime(&new, before.1);
    let run = sync_verbose(&world);
    assert!(unchanged(&run, "INBOX"), "{run}");
    let flags = server_flags(&server, "INBOX", "inbox-0").unwrap();
    assert!(
        !flags.contains("Flagged"),
        "INBOX was listed: {flags}\n{run}"
    );
    // Once the directory shows the change, it is synced.
    set_mtime(&cur, SystemTime::now());
    let run = sync_verbose(&world);
    assert!(!unchanged(&run, "INBOX"), "{run}");
    let flags = server_flags(&server, "INBOX", "inbox-0").unwrap();
    assert!(flags.contains("Flagged"), "{flags}\n{run}");
}

/// Changes the Maildir in every folder (flags `FS` on the INBOX message `flagged` (a rename in
/// cur/), a new file `new-local` in Work's new/, `archive-0` deleted) and syncs, checking that
/// every folder was listed.
fn sync_local_changes(world: &World, flagged: &str) -> Run {
    let b = world.root("b");
    set_local_flags(&b.join("INBOX"), flagged, "FS");
    world.deliver("b", "Work", "new-local", "");
    fs::remove_file(find_file(&b.join("Archive"), "archive-0")).unwrap();
    let run = sync_verbose(world);
    for folder in FOLDERS {
        assert!(!unchanged(&run, folder), "{folder}:\n{run}");
    }
    run
}

#[test]
fn local_changes_after_a_skipped_run_are_seen() {
    let (server, world) = settled_world("");
    let run = sync_local_changes(&world, "inbox-1");
    let flags = server_flags(&server, "INBOX", "inbox-1").unwrap();
    assert!(flags.contains("Flagged"), "{flags}\n{run}");
    assert!(
        server_flags(&server, "Work", "new-local").is_some(),
        "{run}"
    );
    assert_eq!(server_flags(&server, "Archive", "archive-0"), None, "{run}");
}

#[test]
fn a_local_move_between_two_folders_is_seen_while_the_third_is_skipped() {
    let (server, world) = settled_world("");
    let b = world.root("b");
    let from = find_file(&b.join("Work"), "work-0");
    fs::rename(&from, b.join("Archive/cur").join(from.file_name().unwrap())).unwrap();
    let run = sync_verbose(&world);
    assert!(unchanged(&run, "INBOX"), "{run}");
    assert!(
        !unchanged(&run, "Work") && !unchanged(&run, "Archive"),
        "{run}"
    );
    assert_eq!(server_flags(&server, "Work", "work-0"), None, "{run}");
    assert!(
        server_flags(&server, "Archive", "work-0").is_some(),
        "{run}"
    );
    assert_eq!(local_ids(&world, "Archive").len(), 3);
}

#[test]
fn server_changes_after_a_skipped_run_are_seen() {
    let (server, world) = settled_world("");
    let user = server.user().to_owned();
    doveadm_on(&server, &["flags", "add", "\\Flagged"], "INBOX", "inbox-0");
    server
        .deliver(&user, "Work", &message("new-remote"))
        .unwrap();
    doveadm_on(&server, &["expunge"], "Archive", "archive-1");
    let run = sync_verbose(&world);
    for folder in FOLDERS {
        assert!(!unchanged(&run, folder), "{folder}:\n{run}");
    }
    assert_eq!(local_flags(&world, "INBOX", "inbox-0"), ["F"], "{run}");
    assert!(local_ids(&world, "Work").contains(&"new-remote".to_owned()));
    assert_eq!(local_ids(&world, "Archive"), ["archive-0"], "{run}");
}

#[test]
fn a_new_uidvalidity_after_a_skipped_run_is_seen() {
    let (server, world) = settled_world("");
    let user = server.user().to_owned();
    // Recreated with the same messages and one more: a new UIDVALIDITY, new UIDs.
    server
        .doveadm(&["mailbox", "delete", "-u", &user, "Work"])
        .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    for id in ["work-0", "work-1", "work-2"] {
        server.deliver(&user, "Work", &message(id)).unwrap();
    }
    let run = sync_verbose(&world);
    assert!(!unchanged(&run, "Work"), "{run}");
    assert!(unchanged(&run, "INBOX"), "{run}");
    assert_eq!(
        local_ids(&world, "Work"),
        ["work-0", "work-1", "work-2"],
        "{run}"
    );
    settle(&world);
}

#[test]
fn a_config_change_lists_again() {
    // Flags are not synced at first: a local flag change waits, and the folder settles.
    let (server, world) = settled_world("operations = [\"new\", \"delete\"]");
    set_local_flags(&world.root("b").join("INBOX"), "inbox-0", "FS");
    settle(&world);
    let flags = server_flags(&server, "INBOX", "inbox-0").unwrap();
    assert!(!flags.contains("Flagged"), "{flags}");
    // With flags synced, the same unchanged folders are listed again and the flag goes up.
    write_config(&world, &server, "");
    let run = sync_verbose(&world);
    assert!(!unchanged(&run, "INBOX"), "{run}");
    let flags = server_flags(&server, "INBOX", "inbox-0").unwrap();
    assert!(flags.contains("Flagged"), "{flags}\n{run}");
}

#[test]
fn a_directory_time_too_close_to_the_listing_is_not_trusted() {
    let (server, world) = settled_world("");
    // A directory time that is not clearly older than the listing (here: ahead of it, as a
    // change in the same clock tick as the listing would look) is recorded by a settled run...
    let inbox = world.root("b").join("INBOX");
    let close = SystemTime::now() + Duration::from_secs(30);
    for sub in ["cur", "new"] {
        set_mtime(&inbox.join(sub), close);
    }
    let run = sync_verbose(&world);
    assert!(!unchanged(&run, "INBOX"), "{run}");
    // ...and a change that leaves the times exactly as recorded is still found.
    set_local_flags(&inbox, "inbox-1", "FS");
    for sub in ["cur", "new"] {
        set_mtime(&inbox.join(sub), close);
    }
    let run = sync_verbose(&world);
    assert!(!unchanged(&run, "INBOX"), "{run}");
    let flags = server_flags(&server, "INBOX", "inbox-1").unwrap();
    assert!(flags.contains("Flagged"), "{flags}\n{run}");
}

/// A server with two messages in each of [`FOLDERS`], and a world configured to sync it into
/// a Maildir (not synced yet).
fn world_with_mail(extra_pair_keys: &str) -> (Dovecot, World) {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for folder in FOLDERS {
        for i in 0..2 {
            let id = format!("{}-{i}", folder.to_lowercase());
            server.deliver(&user, folder, &message(&id)).unwrap();
        }
    }
    let world = World::new("");
    write_config(&world, &server, extra_pair_keys);
    (server, world)
}

fn files_in(maildir: &Path) -> usize {
    ["cur", "new"]
        .iter()
        .map(|sub| fs::read_dir(maildir.join(sub)).map_or(0, |dir| dir.count()))
        .sum()
}

#[test]
fn the_run_right_after_the_first_download_skips_every_folder() {
    let (_server, world) = world_with_mail("");
    world.sync_ok();
    // No pause: the first download's own writes are what the stamps were taken after.
    let run = sync_verbose(&world);
    for folder in FOLDERS {
        assert!(unchanged(&run, folder), "{folder} listed:\n{run}");
    }
}

#[test]
fn the_run_right_after_one_that_fetched_server_changes_skips_them() {
    let (server, world) = world_with_mail("");
    let user = server.user().to_owned();
    world.sync_ok();
    // Server changes only: the run writes the Maildir (a new file, a rename, a deletion).
    doveadm_on(&server, &["flags", "add", "\\Flagged"], "INBOX", "inbox-0");
    server
        .deliver(&user, "Work", &message("new-remote"))
        .unwrap();
    doveadm_on(&server, &["expunge"], "Archive", "archive-1");
    let changing = sync_verbose(&world);
    for folder in FOLDERS {
        assert!(!unchanged(&changing, folder), "{folder}:\n{changing}");
    }
    let run = sync_verbose(&world);
    for folder in FOLDERS {
        assert!(unchanged(&run, folder), "{folder} listed:\n{run}");
    }
    assert_eq!(local_flags(&world, "INBOX", "inbox-0"), ["F"], "{run}");
    assert!(local_ids(&world, "Work").contains(&"new-remote".to_owned()));
    assert_eq!(local_ids(&world, "Archive"), ["archive-0"], "{run}");
}

/// A mail reader renames a file (a flag change) the moment the run's last download lands in
/// the folder, that is while the run flushes, records and takes its stamps: whether the rename
/// comes before or after the stamp, the next run must list the folder and send the flag up.
/// Several rounds, so that the rename falls at different points of the run's end.
#[test]
fn a_mail_readers_change_as_the_run_ends_is_never_missed() {
    let (server, world) = world_with_mail("");
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
        let flags = server_flags(&server, "INBOX", "inbox-0").unwrap();
        assert_eq!(
            flags.contains("Flagged"),
            round % 2 == 0,
            "round {round}: {flags}\n{run}"
        );
    }
}

/// The run right after one that wrote the server (a STORE, an APPEND, an EXPUNGE) skips those
/// folders: the changing run proved that every change since its listing was its own and
/// recorded the server's counters after them.
#[test]
fn the_run_right_after_one_that_wrote_the_server_skips_its_folders() {
    let (server, world) = world_with_mail("");
    world.sync_ok();
    sync_local_changes(&world, "inbox-0");
    let run = sync_verbose(&world);
    for folder in FOLDERS {
        assert!(unchanged(&run, folder), "{folder} listed:\n{run}");
    }
    let flags = server_flags(&server, "INBOX", "inbox-0").unwrap();
    assert!(flags.contains("Flagged"), "{flags}");
    assert!(server_flags(&server, "Work", "new-local").is_some());
    assert_eq!(server_flags(&server, "Archive", "archive-0"), None);
    // A change after that run is still seen.
    doveadm_on(
        &server,
        &["flags", "add", "\\Answered"],
        "Work",
        "new-local",
    );
    let run = sync_verbose(&world);
    assert!(!unchanged(&run, "Work"), "{run}");
    assert_eq!(local_flags(&world, "Work", "new-local"), ["R"], "{run}");
}

/// Another client changes INBOX while a run writes it: the change lands after the run's
/// listing, just before its flag STORE reaches the server (a proxy holds the command until
/// the change is made). The counters after the run's writes then count that change too, so
/// the run must not record them as its own: the next run lists INBOX and syncs the change.
/// One round per kind of change: a flag on a message the run leaves alone, a flag on the
/// message the run flags, a delivery, an expunge.
#[test]
fn another_clients_change_while_a_run_writes_the_server_is_seen() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..6 {
        server
            .deliver(&user, "INBOX", &message(&format!("inbox-{i}")))
            .unwrap();
    }
    let proxy = pimlink_testkit::CutProxy::start(server.port()).unwrap();
    let world = World::new("");
    common::imap::write_imap_maildir_config_via(&world, &server, proxy.port(), ("", "", ""));
    world.sync_ok();
    let inbox = world.root("b").join("INBOX");
    let server = std::sync::Arc::new(server);
    for round in 0..4 {
        // The run's own write: a local flag on inbox-<round> goes up as a STORE.
        let ours = format!("inbox-{round}");
        set_local_flags(&inbox, &ours, "F");
        let theirs = format!("inbox-{}", round + 1);
        let (other, done) = (std::sync::Arc::clone(&server), std::sync::mpsc::channel());
        let (ours_too, theirs_too) = (ours.clone(), theirs.clone());
        proxy.before_sending(b" UID STORE ", move || {
            match round {
                0 => doveadm_on(&other, &["flags", "add", "\\Seen"], "INBOX", &theirs_too),
                1 => doveadm_on(&other, &["flags", "add", "\\Answered"], "INBOX", &ours_too),
                2 => {
                    let user = other.user().to_owned();
                    other.deliver(&user, "INBOX", &message("foreign")).unwrap();
                }
                _ => doveadm_on(&other, &["expunge"], "INBOX", &theirs_too),
            }
            done.0.send(()).unwrap();
        });
        let run = sync_verbose(&world);
        done.1
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("round {round}: no STORE seen:\n{run}"));
        let run = sync_verbose(&world);
        assert!(
            !unchanged(&run, "INBOX"),
            "round {round}: the other client's change was missed:\n{run}"
        );
        let ids = local_ids(&world, "INBOX");
        match round {
            0 => assert_eq!(local_flags(&world, "INBOX", &theirs), ["S"], "{run}"),
            1 => assert_eq!(local_flags(&world, "INBOX", &ours), ["FR"], "{run}"),
            2 => assert!(ids.contains(&"foreign".to_owned()), "{run}"),
            _ => assert!(!ids.contains(&theirs), "{run}"),
        }
    }
}
