//! End-to-end: what pimlink does to local files beyond the messages themselves. The modes of
//! everything it creates (Maildir, vdir, state), and a state file that is missing, empty or
//! damaged.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::{Run, World, assert_converged};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn event(uid: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n\
         SUMMARY:event {uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// A Maildir pair `p` (side b in `layout_b`) and a vdir pair `c` (vdirs `ca` and `cb`),
/// sharing one state dir.
fn world_with_vdirs(layout_b: &str) -> World {
    let world = World::with_layouts("verbatim", layout_b, "");
    let root = world.dir.path();
    let mut config = fs::read_to_string(world.config()).unwrap();
    config.push_str(&format!(
        "\n[storage.ca]\ntype = \"vdir\"\npath = \"{}\"\nfileext = \".ics\"\n\n\
         [storage.cb]\ntype = \"vdir\"\npath = \"{}\"\nfileext = \".ics\"\n\n\
         [pair.c]\na = \"ca\"\nb = \"cb\"\n",
        root.join("ca").display(),
        root.join("cb").display()
    ));
    fs::write(world.config(), config).unwrap();
    fs::create_dir_all(root.join("ca/cal")).unwrap();
    world
}

fn write_event(world: &World, side: &str, uid: &str) {
    let dir = world.dir.path().join(side).join("cal");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("{uid}.ics")), event(uid)).unwrap();
}

/// Runs pimlink with `args` under the file-creation mask `umask` (octal, as sh takes it).
fn run_with_umask(world: &World, umask: &str, args: &[&str]) -> Run {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_pimlink"))
        .arg("-c")
        .arg(world.config())
        .args(args)
        .output()
        .unwrap();
    Run(output)
}

/// Every file and directory below `root` (itself included) whose mode lets group or others
/// in, with its mode.
fn open_to_others(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            found.push(format!("{} {mode:o}", path.display()));
        }
        if meta.is_dir() {
            pending.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    found
}

#[test]
fn everything_pimlink_creates_is_owner_only_under_a_permissive_umask() {
    for umask in ["022", "000"] {
        // Maildir++ on b, so that pimlink also writes `maildirfolder` markers.
        let world = world_with_vdirs("maildir++");
        world.deliver("a", "INBOX", "m1", "");
        world.deliver("a", "INBOX", "m2", "S");
        world.deliver("a", "Lists/rust", "m3", "F");
        // A keyword, so that pimlink writes b's dovecot-keywords file.
        fs::write(world.root("a").join("INBOX/dovecot-keywords"), "0 work\n").unwrap();
        world.deliver("a", "INBOX", "m4", "Sa");
        write_event(&world, "ca", "e1");
        write_event(&world, "ca", "e2");
        // Neither side b nor the state directory exists before the run: pimlink creates them.
        fs::remove_dir(world.root("b")).unwrap();
        let run = run_with_umask(&world, umask, &["sync"]);
        assert_eq!(run.code(), 0, "umask {umask}: {run}");
        let created = ["b", "cb", "state"].map(|d| world.dir.path().join(d));
        for dir in &created {
            assert!(dir.is_dir(), "umask {umask}: {} not created", dir.display());
            let open = open_to_others(dir);
            assert!(
                open.is_empty(),
                "umask {umask}: readable by others: {open:#?}"
            );
        }
        // The run did create what is checked above.
        let copied: usize = world.messages("b").values().map(|f| f.len()).sum();
        assert_eq!(copied, 4);
        assert!(world.root("b").join(".Lists.rust/maildirfolder").is_file());
        assert!(world.root("b").join("dovecot-keywords").is_file());
        assert!(world.dir.path().join("cb/cal/e2.ics").is_file());
        for name in ["p.sqlite", "p.lock", "c.sqlite", "c.lock"] {
            assert!(world.state_dir().join(name).is_file(), "{name}");
        }
    }
}

#[test]
fn an_empty_or_damaged_state_file_stops_the_pair_with_status_3_and_changes_nothing() {
    let world = world_with_vdirs("verbatim");
    world.deliver("a", "INBOX", "m1", "S");
    world.deliver("b", "INBOX", "m2", "");
    write_event(&world, "ca", "e1");
    world.sync_ok();
    let before = world.messages("b");
    let events = || {
        fs::read_dir(world.dir.path().join("cb/cal"))
            .unwrap()
            .count()
    };
    let events_before = events();
    for (damage, says) in [
        (&b""[..], "it is empty (0 bytes)"),
        (
            &b"SQLite format 2, or so a text file claims\n"[..],
            "it is damaged",
        ),
    ] {
        for pair in ["p", "c"] {
            let file = world.state_dir().join(format!("{pair}.sqlite"));
            fs::write(&file, damage).unwrap();
            // New mail on one side: a fresh start would copy it (and match the rest).
            world.deliver("a", "INBOX", &format!("new-{}", damage.len()), "");
            let run = world.run(&["sync", pair]);
            assert_eq!(run.code(), 3, "{run}");
            let stderr = run.stderr();
            assert!(stderr.contains(&file.display().to_string()), "{run}");
            assert!(stderr.contains(says), "{run}");
            assert!(stderr.contains("move it away"), "{run}");
            assert!(!stderr.contains("warning: the pair has no state"), "{run}");
            // Nothing was synced and the file was not turned into a fresh status.
            assert_eq!(world.messages("b"), before);
            assert_eq!(events(), events_before);
            assert_eq!(fs::read(&file).unwrap(), damage);
        }
    }
}

#[test]
fn a_lost_state_is_announced_before_mail_and_items_are_matched() {
    let world = world_with_vdirs("verbatim");
    world.deliver("a", "INBOX", "m1", "S");
    world.deliver("a", "INBOX", "m2", "S");
    write_event(&world, "ca", "e1");
    write_event(&world, "ca", "e2");
    // A first sync onto empty sides: nothing to match, nothing to say.
    let first = world.sync_ok();
    assert!(!first.stderr().contains("warning"), "{first}");

    // Deleted and unflagged on b since that sync, then the state is lost.
    fs::remove_file(common::find_file(&world.root("b").join("INBOX"), "m1")).unwrap();
    common::set_local_flags(&world.root("b").join("INBOX"), "m2", "");
    fs::remove_file(world.dir.path().join("cb/cal/e1.ics")).unwrap();
    for entry in fs::read_dir(world.state_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().contains(".sqlite") {
            fs::remove_file(path).unwrap();
        }
    }
    let run = world.sync_ok();
    let stderr = run.stderr();
    for (pair, how) in [("p", "matched by content"), ("c", "matched by UID")] {
        let file = world.state_dir().join(format!("{pair}.sqlite"));
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("pimlink: {pair}: warning: the pair has no state")))
            .unwrap_or_else(|| panic!("no warning for pair {pair}: {run}"));
        assert!(line.contains(&file.display().to_string()), "{line}");
        assert!(line.contains(how), "{line}");
        assert!(line.contains("come back"), "{line}");
    }
    assert_eq!(
        stderr.matches("warning: the pair has no state").count(),
        2,
        "{run}"
    );
    // What the warning said: the deletion and the flag removal were undone.
    let tree = assert_converged(&world);
    assert_eq!(tree["INBOX"]["m1"], ["S"]);
    assert_eq!(tree["INBOX"]["m2"], ["S"]);
    assert!(world.dir.path().join("cb/cal/e1.ics").is_file());

    // With the state back, nothing more is said.
    let again = world.sync_ok();
    assert!(!again.stderr().contains("warning"), "{again}");
}
