//! SIGKILL at many points of a sync, then a clean run: nothing lost, nothing duplicated.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::{World, assert_converged, sync_with_kills};

#[test]
fn killed_initial_sync_resumes_without_loss_or_duplicates() {
    let world = World::new("");
    for i in 0..300 {
        let flags = ["", "S", "FS", "RS"][i % 4];
        world.deliver("a", "INBOX", &format!("a{i}"), flags);
    }
    for i in 0..150 {
        world.deliver("b", "INBOX", &format!("b{i}"), "S");
        world.deliver("b", &format!("Folder{}", i % 3), &format!("bf{i}"), "");
    }
    let kills = sync_with_kills(&world, 8);
    assert!(
        kills >= 3,
        "the kills should interrupt the sync several times, got {kills}"
    );
    world.sync_ok();
    let tree = assert_converged(&world);
    assert_eq!(tree["INBOX"].len(), 450);
    assert_eq!(tree["INBOX"]["a2"], ["FS"]);
    assert_eq!(tree["Folder1"].len(), 50);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn killed_sync_with_changes_on_both_sides_resumes_correctly() {
    // Deleting 111 of 200 messages on b is meant here: not the deletion-share guard's case.
    let world = World::new("max_delete = \"100%\"\n");
    for i in 0..200 {
        world.deliver("a", "INBOX", &format!("m{i}"), "");
    }
    world.sync_ok();
    // Both sides change: flags on a, deletions on b, new mail on both.
    let a_inbox = world.root("a").join("INBOX");
    for i in 0..200 {
        let from = a_inbox.join("new").join(format!("u-m{i}"));
        if i % 2 == 0 && from.exists() {
            std::fs::rename(&from, a_inbox.join("cur").join(format!("u-m{i}:2,S"))).unwrap();
        }
    }
    let b_tree = world.root("b").join("INBOX");
    let mut deleted = 0;
    for sub in ["cur", "new"] {
        for entry in std::fs::read_dir(b_tree.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains("<m1") {
                // m1, m10..m19, m100..m199
                std::fs::remove_file(path).unwrap();
                deleted += 1;
            }
        }
    }
    for i in 0..100 {
        world.deliver("a", "INBOX", &format!("na{i}"), "F");
        world.deliver("b", "INBOX", &format!("nb{i}"), "");
    }
    let kills = sync_with_kills(&world, 6);
    assert!(
        kills >= 1,
        "the kills should interrupt the sync, got {kills}"
    );
    world.sync_ok();
    let tree = assert_converged(&world);
    let inbox = &tree["INBOX"];
    assert_eq!(inbox.len(), 200 - deleted + 200, "{deleted} deleted");
    assert!(!inbox.contains_key("m1") && !inbox.contains_key("m150"));
    assert_eq!(inbox["m2"], ["S"]);
    assert_eq!(inbox["m3"], [""]);
    assert_eq!(inbox["na7"], ["F"]);
}
