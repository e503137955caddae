//! The busy-pair lock and hostile folder names.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::fs;

use common::World;
use pimlink_core::status::StatusStore;

#[test]
fn second_pimlink_on_a_busy_pair_is_refused_with_the_owner_pid() {
    let world = World::new("");
    world.deliver("a", "INBOX", "m1", "");
    let held = StatusStore::open(&world.state_dir(), "p").unwrap();
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 4, "{run}");
    assert!(
        run.stderr()
            .contains(&format!("pair p is busy (pid {})", std::process::id())),
        "{run}"
    );
    assert!(!world.root("b").join("INBOX").exists(), "nothing synced");
    drop(held);
    world.sync_ok();
    assert!(world.root("b").join("INBOX").exists());
}

/// The pair runner takes a pair's lock before it opens either side: a busy pair creates no
/// Maildir root, runs no `password_cmd` and connects nowhere, whatever its family.
#[test]
fn a_busy_pair_opens_neither_side() {
    let world = World::new("");
    let dir = world.dir.path();
    fs::remove_dir(world.root("b")).unwrap();
    let marker = dir.join("password asked");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.a]\ntype = \"maildir\"\npath = \"{a}\"\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\n\n\
         [storage.cal]\ntype = \"caldav\"\nurl = \"https://192.0.2.11/dav/\"\n\
         user = \"u\"\npassword_cmd = \"touch '{marker}'; echo p\"\n\n\
         [storage.v]\ntype = \"vdir\"\npath = \"{v}\"\nfileext = \".ics\"\n\n\
         [pair.p]\na = \"a\"\nb = \"b\"\n\n[pair.c]\na = \"cal\"\nb = \"v\"\n",
        state = world.state_dir().display(),
        a = world.root("a").display(),
        b = world.root("b").display(),
        v = dir.join("v").display(),
        marker = marker.display(),
    );
    fs::write(world.config(), config).unwrap();
    let held = ["p", "c"].map(|pair| StatusStore::open(&world.state_dir(), pair).unwrap());
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 4, "{run}");
    assert_eq!(run.stderr().matches("is busy (pid").count(), 2, "{run}");
    assert!(!world.root("b").exists(), "the Maildir was opened: {run}");
    assert!(!marker.exists(), "the CalDAV storage was opened: {run}");
    drop(held);
}

#[test]
fn hostile_folder_names_never_escape_the_root() {
    let world = World::with_layouts("verbatim", "maildir++", "");
    // Legitimate odd names.
    world.deliver("a", "with space", "s1", "");
    world.deliver("a", "日本語", "u1", "");
    world.deliver("a", "-rf", "r1", "");
    // A name maildir++ cannot hold (a '.' inside a level).
    world.deliver("a", "v1.2", "dot", "");
    // A symlink out of the root, dressed as a folder.
    let outside = tempfile::tempdir().unwrap();
    common::deliver(&outside.path().join("secret"), "secret", "");
    std::os::unix::fs::symlink(outside.path().join("secret"), world.root("a").join("link"))
        .unwrap();

    let run = world.run(&["sync"]);
    // The folder that cannot be created on b fails alone; the rest syncs.
    assert_eq!(run.code(), 1, "{run}");
    assert!(run.stderr().contains("v1.2"), "{run}");
    let b = world.messages("b");
    assert!(b.contains_key(".with space"), "{b:?}");
    assert!(b.contains_key(".日本語"), "{b:?}");
    assert!(b.contains_key(".-rf"), "{b:?}");
    // Nothing was written outside either root, and the symlinked folder was not copied.
    assert!(!b.keys().any(|k| k.contains("link")), "{b:?}");
    let outside_files: Vec<_> = walk(outside.path());
    assert_eq!(outside_files.len(), 1, "{outside_files:?}");
    let parent_entries: Vec<String> = fs::read_dir(world.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut parent_entries = parent_entries;
    parent_entries.sort();
    assert_eq!(parent_entries, ["a", "b", "config.toml", "state"]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
