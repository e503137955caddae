//! End-to-end, vdir <-> vdir through the `pimlink` binary: a dry run lists exactly what the
//! real run that follows it does, and the run after that finds nothing to do (issue 13).
//!
//! Random scenarios: a first sync of random collections, items and display names on both
//! sides, then random creations, edits and deletions of items (conflicts among them), new and
//! deleted collections and renamed ones, under a random policy. Then `sync --dry-run`, `sync
//! -v` and `sync --dry-run` again. The dry run goes through the same status code as the real
//! run (on a copy of the status), so the two may only differ where a side's answer is needed;
//! this test is what fails if they drift apart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::Run;
use common::dav::event;
use proptest::prelude::*;

const COLLECTIONS: [&str; 3] = ["c0", "c1", "c2"];
const UIDS: [&str; 5] = ["u0", "u1", "u2", "u3", "u4"];

/// One side's collections: name -> (display name, uid -> summary).
type SideState = BTreeMap<&'static str, (Option<u8>, BTreeMap<&'static str, u8>)>;

/// What happens to one item on one side after the first sync.
#[derive(Clone, Debug)]
enum ItemChange {
    Keep,
    Write(u8),
    Delete,
}

/// What happens to one collection on one side after the first sync.
#[derive(Clone, Debug)]
enum CollectionChange {
    /// Item changes by uid (in the order of `UIDS`), and maybe a new display name.
    Items(Vec<ItemChange>, Option<u8>),
    /// The whole collection is removed.
    Remove,
}

#[derive(Clone, Debug)]
struct Scenario {
    policy: Vec<&'static str>,
    first: [SideState; 2],
    changes: [Vec<CollectionChange>; 2],
}

fn side_state() -> impl Strategy<Value = SideState> {
    let collection = (
        proptest::option::of(0u8..3),
        proptest::collection::btree_map(proptest::sample::select(&UIDS[..]), 0u8..3, 0..4),
    );
    proptest::collection::btree_map(proptest::sample::select(&COLLECTIONS[..]), collection, 0..3)
}

fn collection_change() -> impl Strategy<Value = CollectionChange> {
    let item = prop_oneof![
        3 => Just(ItemChange::Keep),
        2 => (0u8..3).prop_map(ItemChange::Write),
        1 => Just(ItemChange::Delete),
    ];
    prop_oneof![
        9 => (
            proptest::collection::vec(item, UIDS.len()),
            proptest::option::weighted(0.2, 0u8..3)
        )
            .prop_map(|(items, name)| CollectionChange::Items(items, name)),
        1 => Just(CollectionChange::Remove),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let policy = (
        proptest::sample::select(vec![
            "",
            "conflict_resolution = \"keep a\"",
            "conflict_resolution = \"keep b\"",
        ]),
        proptest::sample::select(vec!["", "on_empty = \"sync\""]),
        proptest::sample::select(vec!["", "max_delete = \"100%\""]),
        proptest::sample::select(vec!["", "on_delete = \"delete\""]),
        proptest::sample::select(vec!["", "metadata = [\"displayname\"]"]),
    )
        .prop_map(|(a, b, c, d, e)| vec![a, b, c, d, e]);
    let changes = || proptest::collection::vec(collection_change(), COLLECTIONS.len());
    (policy, side_state(), side_state(), changes(), changes()).prop_map(
        |(policy, a, b, changes_a, changes_b)| Scenario {
            policy,
            first: [a, b],
            changes: [changes_a, changes_b],
        },
    )
}

/// Two vdirs `a` and `b` paired as `p`.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(policy: &[&str]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut config = format!(
            "[general]\nstate_dir = \"{}\"\n\n",
            root.join("state").display()
        );
        for side in ["a", "b"] {
            fs::create_dir_all(root.join(side)).unwrap();
            config.push_str(&format!(
                "[storage.{side}]\ntype = \"vdir\"\npath = \"{}\"\nfileext = \".ics\"\n\n",
                root.join(side).display()
            ));
        }
        config.push_str("[pair.p]\na = \"a\"\nb = \"b\"\n");
        for line in policy.iter().filter(|l| !l.is_empty()) {
            config.push_str(line);
            config.push('\n');
        }
        fs::write(root.join("config.toml"), config).unwrap();
        World { dir }
    }

    fn collection(&self, side: usize, name: &str) -> PathBuf {
        self.dir.path().join(["a", "b"][side]).join(name)
    }

    fn run(&self, args: &[&str]) -> Run {
        Run(
            common::pimlink_with(&self.dir.path().join("config.toml"), args)
                .output()
                .unwrap(),
        )
    }
}

fn write_item(dir: &Path, uid: &str, summary: u8) {
    fs::create_dir_all(dir).unwrap();
    fs::write(
        dir.join(format!("{uid}.ics")),
        event(uid, &format!("{uid} version {summary}")),
    )
    .unwrap();
}

fn write_name(dir: &Path, name: u8) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("displayname"), format!("Name {name}")).unwrap();
}

/// Lines that say what a run does (or would do): collection steps, item actions (status-only
/// ones are not printed), metadata set, skipped collections. Sorted: a real run carries out
/// its writes concurrently and its conflicts last, while a dry run prints the plan in order.
fn actions(run: &Run) -> Vec<String> {
    let mut lines: Vec<String> = run
        .stdout()
        .lines()
        .filter(|line| {
            let Some((_, rest)) = line.split_once(": ") else {
                return false;
            };
            rest.starts_with("collection ")
                || rest.contains(": skipped (")
                || rest.split_once(": ").is_some_and(|(_, what)| {
                    ["copy ", "update ", "delete ", "conflict ", "set "]
                        .iter()
                        .any(|verb| what.starts_with(verb))
                })
        })
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The pair's summary line with its verb taken out ("p: 2 collections, ...: 1 created on a").
fn totals(run: &Run) -> String {
    let line = run
        .stdout()
        .lines()
        .find(|l| l.starts_with("p: ") && l.contains(" collections, "))
        .unwrap_or_default()
        .to_owned();
    line.replace("would change: ", "").replace("changed: ", "")
}

fn is_conflict(line: &str) -> bool {
    line.split(": ")
        .nth(2)
        .is_some_and(|w| w.starts_with("conflict "))
}

fn check(scenario: &Scenario) -> Result<(), TestCaseError> {
    let world = World::new(&scenario.policy);
    for (side, state) in scenario.first.iter().enumerate() {
        for (name, (display, items)) in state {
            let dir = world.collection(side, name);
            fs::create_dir_all(&dir).unwrap();
            if let Some(display) = display {
                write_name(&dir, *display);
            }
            for (uid, summary) in items {
                write_item(&dir, uid, *summary);
            }
        }
    }
    // The first run may meet conflicts (the same UID on both sides, no policy): only the
    // runs after it are compared.
    let first = world.run(&["sync"]);
    prop_assert!(first.code() != 2 && first.code() != 101, "{first}");

    for (side, changes) in scenario.changes.iter().enumerate() {
        for (name, change) in COLLECTIONS.iter().zip(changes) {
            let dir = world.collection(side, name);
            match change {
                CollectionChange::Remove => {
                    if dir.exists() {
                        fs::remove_dir_all(&dir).unwrap();
                    }
                }
                CollectionChange::Items(items, display) => {
                    // Changes to a collection this side does not have create it.
                    for (uid, item) in UIDS.iter().zip(items) {
                        let path = dir.join(format!("{uid}.ics"));
                        match item {
                            ItemChange::Keep => {}
                            ItemChange::Write(summary) => write_item(&dir, uid, *summary + 10),
                            ItemChange::Delete if path.exists() => fs::remove_file(path).unwrap(),
                            ItemChange::Delete => {}
                        }
                    }
                    if let Some(display) = display {
                        write_name(&dir, *display + 10);
                    }
                }
            }
        }
    }

    let dry = world.run(&["sync", "--dry-run"]);
    let real = world.run(&["sync", "-v"]);
    let shown = actions(&dry);
    let conflicts: Vec<&String> = shown.iter().filter(|l| is_conflict(l)).collect();
    // A conflict without a resolver is planned (and shown by the dry run) but fails in the
    // real run, as an error: every other action must be done exactly as shown.
    let expected: Vec<&String> = shown.iter().filter(|l| !is_conflict(l)).collect();
    let done = actions(&real);
    prop_assert_eq!(
        expected,
        done.iter().collect::<Vec<_>>(),
        "\n--- dry run\n{}\n--- real run\n{}",
        dry,
        real
    );
    if conflicts.is_empty() {
        prop_assert_eq!(dry.code(), real.code(), "\n{}\n{}", dry, real);
        prop_assert_eq!(totals(&dry), totals(&real), "\n{}\n{}", dry, real);
    } else {
        prop_assert!(
            real.stderr().contains("changed differently on both sides"),
            "{}",
            real
        );
    }

    // Whatever was done is done: a further run has nothing to do but what the real run could
    // not (unresolved conflicts, refusals and skipped collections stay as they were).
    let again = world.run(&["sync", "--dry-run"]);
    let left: Vec<String> = actions(&again)
        .into_iter()
        .filter(|l| !l.contains(": skipped ("))
        .collect();
    let unresolved: Vec<String> = conflicts.iter().map(|l| (*l).clone()).collect();
    prop_assert_eq!(left, unresolved, "\n{}\n--- again\n{}", real, again);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn a_dav_dry_run_lists_what_the_real_run_does_and_then_nothing_is_left(
        scenario in scenario()
    ) {
        check(&scenario)?;
    }
}

/// Found by the property test: a dry run of a collection unchanged on both sides since its
/// last clean sync (a vdir's listing digest) set a changed display name on the other side and
/// recorded it, so the real run that followed had nothing left to do.
#[test]
fn a_dry_run_of_an_unchanged_collection_sets_no_metadata() {
    let world = World::new(&["metadata = [\"displayname\"]"]);
    write_name(&world.collection(1, "c0"), 0);
    let first = world.run(&["sync"]);
    assert_eq!(first.code(), 0, "{first}");
    write_name(&world.collection(0, "c0"), 10);
    let name_on_b = || fs::read_to_string(world.collection(1, "c0").join("displayname")).unwrap();

    let dry = world.run(&["sync", "--dry-run"]);
    assert!(
        dry.stdout()
            .contains("c0: set displayname on b to \"Name 10\""),
        "{dry}"
    );
    assert_eq!(name_on_b(), "Name 0", "the dry run wrote to side b: {dry}");
    let real = world.run(&["sync", "-v"]);
    assert!(
        real.stdout()
            .contains("c0: set displayname on b to \"Name 10\""),
        "{real}"
    );
    assert_eq!(name_on_b(), "Name 10", "{real}");
}
