//! `pimlink status`: the run journal read back from the state alone, without the pair's lock:
//! a pair that never synced, a clean run, a run whose changes were refused, a pair that could
//! not be synced at all, messages held back by the limits, and a pair that is busy.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::World;
use std::fs;

#[test]
fn status_follows_the_runs_of_a_pair() {
    let world = World::new("");
    let never = world.run(&["status"]);
    assert_eq!(never.code(), 0, "{never}");
    assert!(never.stdout().starts_with("p: never synced"), "{never}");

    for i in 0..12 {
        world.deliver("a", "INBOX", &format!("m{i}"), "S");
    }
    world.sync_ok();
    let clean = world.run(&["status"]);
    assert_eq!(clean.code(), 0, "{clean}");
    let first = clean.stdout();
    assert!(
        first.contains(": clean, 1 collections, changed: INBOX: 12 copied a->b"),
        "{first}"
    );
    assert!(first.contains(" s ago)"), "{first}");
    assert_eq!(first.lines().count(), 1, "nothing needs attention: {first}");

    // The user empties the local inbox: the deletions are refused, and status says how to
    // let them through.
    fs::remove_dir_all(world.root("b").join("INBOX")).unwrap();
    assert_eq!(world.run(&["sync"]).code(), 5);
    let refused = world.run(&["status"]);
    assert_eq!(refused.code(), 1, "{refused}");
    let out = refused.stdout();
    assert!(out.contains(": refused, "), "{out}");
    assert!(out.contains("  last clean sync: "), "{out}");
    assert!(
        out.contains("  INBOX: changes refused: ") && out.contains("pimlink sync --force p/INBOX"),
        "{out}"
    );

    // A side that cannot be opened: the run failed as a whole, and says why.
    fs::remove_dir_all(world.root("b")).unwrap();
    fs::write(world.root("b"), "not a directory").unwrap();
    assert_ne!(world.run(&["sync"]).code(), 0);
    let failed = world.run(&["status"]);
    assert_eq!(failed.code(), 1, "{failed}");
    assert!(failed.stdout().contains(": FAILED: "), "{failed}");
    assert!(
        failed.stdout().contains("not a directory")
            || failed
                .stdout()
                .contains(&world.root("b").display().to_string()),
        "{failed}"
    );
}

#[test]
fn status_reads_while_the_pair_is_locked_and_dry_runs_leave_no_trace() {
    let world = World::new("");
    world.deliver("a", "INBOX", "one", "S");
    world.sync_ok();
    world.deliver("a", "INBOX", "two", "S");
    let dry = world.run(&["sync", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{dry}");
    let _busy = pimlink_core::status::StatusStore::open(&world.state_dir(), "p").unwrap();
    assert_eq!(world.run(&["sync"]).code(), 4, "the pair is locked");
    let status = world.run(&["status"]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(
        status.stdout().contains("changed: INBOX: 1 copied a->b"),
        "the dry run is not the last run: {status}"
    );
}

#[test]
fn status_names_messages_held_back_by_the_limits() {
    let world = World::new("near = \"b\"\nmax_size = \"1k\"");
    world.deliver("a", "INBOX", "small", "S");
    let big = world.root("a").join("INBOX").join("cur").join("2.big:2,S");
    fs::write(
        &big,
        format!(
            "Message-ID: <big>\r\nSubject: big\r\n\r\n{}\r\n",
            "x".repeat(4096)
        ),
    )
    .unwrap();
    world.sync_ok();
    let status = world.run(&["status"]);
    assert_eq!(status.code(), 0, "{status}");
    assert!(
        status
            .stdout()
            .contains("  INBOX: 1 messages held back by the limits")
            && status.stdout().contains("pimlink sync --fetch-big p/INBOX"),
        "{status}"
    );
}
