//! End-to-end: `pimlink sync --dry-run` says exactly what the real `pimlink sync` then does
//! (issue 13). Random scenarios, a Maildir <-> Maildir mail pair and a vdir <-> vdir calendar
//! pair (no server: fast), run both ways: a first sync, random changes on both sides, then
//! `-v sync --dry-run` and `-v sync` with the same flags must print the same actions (order
//! aside: the engine runs collections on lanes and groups actions by kind), the same
//! summaries, refusals and exit status; a dry run must change no file and no status row; and a
//! further run must change nothing (idempotence), leaving both sides equal where the scenario
//! allows it.
//!
//! Cases per family: 24, or `PROPTEST_CASES`. What the scenarios found is pinned in
//! `pinned.rs` as small deterministic tests.
//!
//! Here: the properties, and comparing what the two runs say (the dry run's output normalised
//! to the real run's wording). The scenarios and their own checks are in `mail.rs` (with
//! `interrupted.rs`: what killed runs leave in the status) and `dav.rs`. Not here: a
//! unit-level comparison of the two status paths in core (the in-memory one is going away).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

#[path = "../common/mod.rs"]
mod common;
mod dav;
mod interrupted;
mod mail;
mod pinned;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::dav::{event, items_in};
use common::{Run, Tree, World, maildir_files, read_tree};
use proptest::prelude::*;

/// Cases per family unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    ProptestConfig {
        cases,
        // Each case runs pimlink several times; shrinking a failure still ends in minutes.
        max_shrink_iters: 200,
        // A failure is pinned as a named test below, not in a file of seeds.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const SIDES: [&str; 2] = ["a", "b"];

/// Pair keys both families take, by index: 0 is the default.
const DIRECTION_KEYS: [&str; 3] = ["", "direction = \"a-to-b\"\n", "direction = \"b-to-a\"\n"];
const MAX_DELETE_KEYS: [&str; 3] = ["", "max_delete = \"0%\"\n", "max_delete = \"100%\"\n"];

// ---------------------------------------------------------------------------------------------
// What a run says: the part both runs must agree on.

/// A run's report, normalised so that a dry run and a real run of the same plan compare equal.
#[derive(Debug, PartialEq, Eq)]
struct Said {
    code: i32,
    /// stdout lines, sorted.
    stdout: Vec<String>,
    /// stderr lines of pimlink itself (not the log), sorted.
    stderr: Vec<String>,
}

/// True for a line only one kind of run prints (the same for both families).
fn only_in_one(line: &str, dry: bool) -> bool {
    if dry {
        // Only a dry run lists the messages the limits hold back (a real run counts them in
        // its last line).
        line.contains(": not copied ")
    } else {
        // A real run announces a collection it created; its dry run printed the plan
        // ("create on ...") already, as the real run with -v does too.
        line.contains(": created on ")
    }
}

fn said(run: &Run, dry: bool) -> Said {
    let mut stdout: Vec<String> = run
        .stdout()
        .lines()
        .filter(|line| !only_in_one(line, dry))
        .map(|line| {
            line.replace("would change:", "changed:")
                .replace("would be removed on side", "removed on side")
                .replace(": would remove ", ": removed ")
        })
        .collect();
    stdout.sort();
    let mut stderr: Vec<String> = run
        .stderr()
        .lines()
        .filter(|line| line.starts_with("pimlink: "))
        .map(str::to_owned)
        .collect();
    stderr.sort();
    Said {
        code: run.code(),
        stdout,
        stderr,
    }
}

/// Runs `-v sync --dry-run` then `-v sync` (both with `flags`) and insists they say the same
/// and that the dry run left every file alone. Returns both runs.
fn dry_then_real(
    run: &dyn Fn(&[&str]) -> Run,
    snapshot: &dyn Fn() -> String,
    flags: &[&str],
) -> Result<(Run, Run), TestCaseError> {
    let before = snapshot();
    let mut args = vec!["-v", "sync", "--dry-run"];
    args.extend(flags);
    let dry = run(&args);
    // The scenarios combine the pair's keys freely; a combination the configuration refuses
    // (e.g. a one-way pair whose receiving side is read-only) is no scenario.
    prop_assume!(!(dry.code() == 2 && dry.stderr().contains("config.toml:")));
    prop_assert_eq!(&before, &snapshot(), "the dry run changed files:\n{}", dry);
    let mut args = vec!["-v", "sync"];
    args.extend(flags);
    let real = run(&args);
    // Usage errors, unavailable storages and a busy pair are the test's own faults.
    prop_assert!(
        ![2, 3, 4].contains(&dry.code()) && ![2, 3, 4].contains(&real.code()),
        "a run failed:\n--- dry run\n{}\n--- real run\n{}",
        dry,
        real
    );
    prop_assert_eq!(
        said(&dry, true),
        said(&real, false),
        "the dry run and the real run differ:\n--- dry run\n{}\n--- real run\n{}",
        dry,
        real
    );
    Ok((dry, real))
}

/// The arguments after `sync` of the compared runs: `--force`, and the one collection they
/// sync (`p/NAME`) if any.
fn sync_flags(force: bool, only: Option<&str>) -> Vec<String> {
    let mut flags = Vec::new();
    if force {
        flags.push("--force".to_owned());
    }
    flags.extend(only.map(|name| format!("p/{name}")));
    flags
}

/// `-v sync` of the collection `only` syncs, or of every one.
fn follow_up(only: Option<&str>) -> Vec<String> {
    let mut args = vec!["-v".to_owned(), "sync".to_owned()];
    args.extend(sync_flags(false, only));
    args
}

/// `args` as the `&str`s a command takes.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A run that changes nothing: its summary says so and it lists no action. A real run whose
/// changes a safety check refused (exit 5) has left something for the user to decide, so
/// the run after it is not held to this.
fn assert_quiet(again: &Run, real: &Run) -> Result<(), TestCaseError> {
    if real.code() == 5 {
        return Ok(());
    }
    let stdout = again.stdout();
    prop_assert!(
        stdout.contains("changed: nothing") && action_lines(again).is_empty(),
        "the run after the real run changed something:\n--- real run\n{}\n--- next run\n{}",
        real,
        again
    );
    if real.code() == 0 {
        prop_assert_eq!(again.code(), 0, "{}", again);
    }
    Ok(())
}

/// The lines of a `-v` run that name an action on an item (as the engines' `ItemAction`s and
/// the move lines print them), not summaries or skipped collections.
fn action_lines(run: &Run) -> Vec<String> {
    const VERBS: [&str; 8] = [
        "copy ",
        "update ",
        "flags on ",
        "record flags ",
        "delete on ",
        "forget ",
        "expire on ",
        "conflict ",
    ];
    run.stdout()
        .lines()
        .filter(|line| {
            let what = line.splitn(3, ": ").nth(2).unwrap_or("");
            line.starts_with("p: move on ") || VERBS.iter().any(|verb| what.starts_with(verb))
        })
        .map(str::to_owned)
        .collect()
}

/// Every file under `root` with its size and mtime, every directory, and the rows of the
/// pair's status: what a dry run must leave as it found it. (A dry run may create the state
/// directory, its lock file and an empty status: it opens the status to read it.)
fn listing(root: &Path) -> String {
    let mut out = files_under(root);
    let db = root.join("state").join("p.sqlite");
    if db.exists() {
        let dump = common::sqlite(&db, ".dump");
        out.extend(
            dump.lines()
                .filter(|line| line.starts_with("INSERT"))
                .map(str::to_owned),
        );
    }
    out.join("\n")
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let shown = path.strip_prefix(root).unwrap().display().to_string();
            if shown == "state" {
                continue;
            }
            if meta.is_dir() {
                out.push(format!("{shown}/"));
                stack.push(path);
            } else {
                let modified = meta.modified().unwrap();
                out.push(format!("{shown} {} {modified:?}", meta.len()));
            }
        }
    }
    out.sort();
    out
}

/// Deletes the pair's status, as a user who lost it would.
fn lose_state(state_dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(state_dir.join(format!("p.sqlite{suffix}")));
    }
}

fn side_of(b: bool) -> &'static str {
    SIDES[usize::from(b)]
}

fn other(side: &str) -> &'static str {
    if side == "a" { "b" } else { "a" }
}

proptest! {
    #![proptest_config(config())]

    /// Mail: a dry run after random changes on both sides says what the real run does; the
    /// pairs sync flags (see the next test for the rest).
    #[test]
    fn a_mail_dry_run_says_what_the_real_run_does(scenario in mail::mail_scenario(0..4, 1)) {
        mail::check_mail(&scenario)?;
    }

    /// Mail, also pairs whose `operations` leave out flags: a message marked \Deleted and
    /// expunged on one side is "kept on" the other, whose next run then refuses to delete it
    /// (see `a_message_expunged_on_one_side_without_flag_sync_leaves_the_pair_settled`).
    #[test]
    #[ignore = "engine: without flag sync, a message expunged on one side leaves a pair whose \
                next run refuses (or makes) its deletion on the other; a question for the lead \
                (issue 13 report)"]
    fn a_mail_dry_run_says_what_the_real_run_does_with_any_operations(
        scenario in mail::mail_scenario(0..4, 2)
    ) {
        mail::check_mail(&scenario)?;
    }

    /// Calendars: a dry run after random changes on both sides says what the real run does,
    /// with a `conflict_resolution` and without `metadata` (see the next test for the rest).
    #[test]
    fn a_calendar_dry_run_says_what_the_real_run_does(scenario in dav::dav_scenario(1..3, false)) {
        dav::check_dav(&scenario)?;
    }

    /// Calendars, also pairs without `conflict_resolution` and pairs that sync `metadata`:
    /// a dry run counts conflicts as changes and the real run as errors (see
    /// `an_unresolved_conflict_is_reported_alike_by_a_dry_run_and_the_real_run`), and a dry run
    /// writes the metadata of a collection whose items are unchanged (see
    /// `a_dry_run_leaves_the_metadata_of_an_unchanged_collection_alone`).
    #[test]
    #[ignore = "dry run diverges: an unresolved calendar conflict is a planned change (exit 0) \
                in a dry run and an error (exit 1) in the real run, and a dry run writes the \
                metadata of an unchanged collection; fixed by the executor split (issue 13)"]
    fn a_calendar_dry_run_says_what_the_real_run_does_with_any_policy_and_metadata(
        scenario in dav::dav_scenario(0..3, true)
    ) {
        dav::check_dav(&scenario)?;
    }
}
