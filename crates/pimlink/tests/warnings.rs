//! Warnings on stderr: collection patterns that match nothing (issue 12).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::World;

/// A pair whose patterns include an mbsync-style quoted exclusion and a typo, with a folder
/// "Deleted Items" on side a.
fn world_with_useless_patterns() -> World {
    let world = World::new("collections = [\"*\", \"!\\\"Deleted Items\\\"\", \"Arcive*\"]\n");
    world.deliver("a", "INBOX", "m1", "");
    world.deliver("a", "Deleted Items", "d1", "");
    world
}

#[test]
fn patterns_that_match_nothing_are_warned_about_once_each() {
    let world = world_with_useless_patterns();
    let run = world.sync_ok();
    let stderr = run.stderr();
    let quoted = "pair p: collection pattern \"!\\\"Deleted Items\\\"\" matches no collection on \
                  either side; each pattern is a string of its own, so quotes are part of the \
                  name (mbsync's Patterns need them around names with spaces, pimlink's do not): \
                  write \"!Deleted Items\"";
    assert_eq!(stderr.matches(quoted).count(), 1, "{run}");
    let typo = "pair p: collection pattern \"Arcive*\" matches no collection on either side\n";
    assert_eq!(stderr.matches(typo).count(), 1, "{run}");
    assert!(!stderr.contains("pattern \"*\""), "{run}");
    // Which is why it matters: the folder meant to be left out was synced.
    assert!(world.messages("b").contains_key("Deleted Items"), "{run}");
    // `list` says so too.
    let list = world.run(&["list"]);
    assert_eq!(list.code(), 0, "{list}");
    assert!(
        list.stderr().contains("\"Arcive*\" matches no collection"),
        "{list}"
    );
}
