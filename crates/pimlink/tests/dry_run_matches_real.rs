//! End-to-end: `pimlink sync --dry-run` says exactly what the real `pimlink sync` then does
//! (issue 13). Random scenarios, a Maildir <-> Maildir mail pair and a vdir <-> vdir calendar
//! pair (no server: fast), run both ways: a first sync, random changes on both sides, then
//! `-v sync --dry-run` and `-v sync` with the same flags must print the same actions (order
//! aside: the engine runs collections on lanes and groups actions by kind), the same
//! summaries, refusals and exit status; a dry run must change no file; and a further run must
//! change nothing (idempotence), leaving both sides equal where the scenario allows it.
//!
//! Cases per family: 24, or `PROPTEST_CASES`. Divergences found here are pinned below as
//! small deterministic tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

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

/// Which family's output a run is (their dry runs differ in what they print).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Mail,
    Dav,
}

/// True for a line only one kind of run prints.
fn only_in_one(line: &str, dry: bool, family: Family) -> bool {
    if dry {
        // Only a dry run lists the messages the limits hold back (a real run counts them in
        // its last line), and only a mail dry run prints the collection plans (the folders
        // created are compared on the trees instead).
        line.contains(": not copied ")
            || family == Family::Mail && line.starts_with("p: collection ")
    } else {
        // A real DAV run announces a collection it created; its dry run printed the plan
        // ("create on ...") already, as the real run with -v does too.
        family == Family::Dav && line.contains(": created on ")
    }
}

fn said(run: &Run, dry: bool, family: Family) -> Said {
    let mut stdout: Vec<String> = run
        .stdout()
        .lines()
        .filter(|line| !only_in_one(line, dry, family))
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
    family: Family,
) -> Result<(Run, Run), TestCaseError> {
    let before = snapshot();
    let mut args = vec!["-v", "sync", "--dry-run"];
    args.extend(flags);
    let dry = run(&args);
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
        said(&dry, true, family),
        said(&real, false, family),
        "the dry run and the real run differ:\n--- dry run\n{}\n--- real run\n{}",
        dry,
        real
    );
    Ok((dry, real))
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
        stdout.contains("changed: nothing") && !stdout.contains(": move on "),
        "the run after the real run changed something:\n--- real run\n{}\n--- next run\n{}",
        real,
        again
    );
    if real.code() == 0 {
        prop_assert_eq!(again.code(), 0, "{}", again);
    }
    Ok(())
}

/// The lines of a `-v` mail run that name an action (not a summary).
fn action_lines(run: &Run) -> Vec<String> {
    run.stdout()
        .lines()
        .filter(|line| {
            !line.contains(" collections, ")
                && !line.ends_with(": nothing")
                && !line.contains("unchanged since the last sync")
                && !line.contains(" expired")
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

fn side_of(b: bool) -> &'static str {
    SIDES[usize::from(b)]
}

fn other(side: &str) -> &'static str {
    if side == "a" { "b" } else { "a" }
}

// ---------------------------------------------------------------------------------------------
// Mail: Maildir <-> Maildir.

const FOLDERS: [&str; 4] = ["INBOX", "F", "G", "H"];
/// Flag letters a message may have; most are seen (S), since the limits keep every unseen one.
const FLAG_SETS: [&str; 7] = ["", "S", "S", "FS", "RS", "ST", "DS"];

#[derive(Clone, Debug)]
enum MailOp {
    /// A new message; `copy_of` delivers an identical copy of an existing message instead.
    New {
        side: bool,
        folder: usize,
        flags: usize,
        copy_of: Option<usize>,
    },
    Delete {
        side: bool,
        pick: usize,
    },
    Flags {
        side: bool,
        pick: usize,
        flags: usize,
    },
    /// Into another folder of the same side, as a mail reader moves it.
    Move {
        side: bool,
        pick: usize,
        folder: usize,
    },
    /// new/ -> cur/ (seen by a reader) or cur/ -> new/.
    CurNew {
        side: bool,
        pick: usize,
    },
    /// Arrived 60 days ago (the file's mtime is a Maildir message's arrival date).
    Age {
        side: bool,
        pick: usize,
    },
    AddFolder {
        side: bool,
        folder: usize,
    },
    RemoveFolder {
        side: bool,
        folder: usize,
    },
    /// The status is lost (deleted): the next run matches both sides by content.
    LoseState,
    /// What a run killed in the middle of a copy to `to` leaves: the status row of a synced
    /// message marked pending towards `to` (its key there forgotten, as for a side that
    /// chooses keys itself, if `forget_key`), and the copy landed there or not (`landed`).
    Interrupt {
        pick: usize,
        to: bool,
        forget_key: bool,
        landed: bool,
    },
}

#[derive(Clone, Debug)]
struct MailScenario {
    /// Messages before the first sync: (on a, on b, folder, flags); on both = identical copies.
    initial: Vec<(bool, bool, usize, usize)>,
    ops: Vec<MailOp>,
    /// Pair keys: remove, max_delete, limits.
    remove: bool,
    max_delete: usize,
    limits: usize,
    force: bool,
}

fn mail_op() -> impl Strategy<Value = MailOp> {
    let pick = 0usize..64;
    prop_oneof![
        4 => (any::<bool>(), 0..FOLDERS.len(), 0..FLAG_SETS.len(), prop::option::weighted(0.3, 0usize..64))
            .prop_map(|(side, folder, flags, copy_of)| MailOp::New { side, folder, flags, copy_of }),
        3 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| MailOp::Delete { side, pick }),
        3 => (any::<bool>(), pick.clone(), 0..FLAG_SETS.len())
            .prop_map(|(side, pick, flags)| MailOp::Flags { side, pick, flags }),
        2 => (any::<bool>(), pick.clone(), 0..FOLDERS.len())
            .prop_map(|(side, pick, folder)| MailOp::Move { side, pick, folder }),
        1 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| MailOp::CurNew { side, pick }),
        1 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| MailOp::Age { side, pick }),
        1 => (any::<bool>(), 0..FOLDERS.len()).prop_map(|(side, folder)| MailOp::AddFolder { side, folder }),
        1 => (any::<bool>(), 0..FOLDERS.len()).prop_map(|(side, folder)| MailOp::RemoveFolder { side, folder }),
        1 => Just(MailOp::LoseState),
        2 => (pick, any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(pick, to, forget_key, landed)| MailOp::Interrupt { pick, to, forget_key, landed }),
    ]
}

/// Scenarios whose limits are drawn from `limits` (none, `max_messages`, `max_age`).
fn mail_scenario(limits: std::ops::Range<usize>) -> impl Strategy<Value = MailScenario> {
    let placement = prop_oneof![Just((true, false)), Just((false, true)), Just((true, true)),];
    (
        prop::collection::vec((placement, 0..FOLDERS.len(), 0..FLAG_SETS.len()), 0..10),
        prop::collection::vec(mail_op(), 1..10),
        any::<bool>(),
        0usize..3,
        limits,
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |(initial, ops, remove, max_delete, limits, force)| MailScenario {
                initial: initial
                    .into_iter()
                    .map(|((a, b), folder, flags)| (a, b, folder, flags))
                    .collect(),
                ops,
                remove,
                max_delete,
                limits,
                force,
            },
        )
}

impl MailScenario {
    fn pair_keys(&self) -> String {
        let mut keys = String::new();
        if self.remove {
            keys.push_str("remove = [\"a\", \"b\"]\n");
        }
        keys.push_str(["", "max_delete = \"0%\"\n", "max_delete = \"100%\"\n"][self.max_delete]);
        keys.push_str(
            [
                "",
                "near = \"b\"\nmax_messages = 3\n",
                "near = \"b\"\nmax_age = \"30d\"\n",
            ][self.limits],
        );
        keys
    }
}

/// A Maildir world and the messages written into it so far.
struct Mail {
    world: World,
    next: usize,
}

impl Mail {
    fn new(keys: &str) -> Mail {
        Mail {
            world: World::new(keys),
            next: 0,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.world.run(args)
    }

    fn snapshot(&self) -> String {
        listing(self.world.dir.path())
    }

    /// Writes message `id` into `folder` of `side` under a file name of its own (so that
    /// identical copies can share a folder).
    fn write(&mut self, side: &str, folder: &str, id: usize, flags: &str) {
        let maildir = self.world.root(side).join(folder);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let body = format!(
            "From: test@example.org\r\nSubject: message m{id}\r\nMessage-ID: <m{id}@test>\r\n\
             \r\nbody of m{id}\r\n"
        );
        self.next += 1;
        let base = format!("u{}-m{id}", self.next);
        let path = if flags.is_empty() {
            maildir.join("new").join(base)
        } else {
            maildir.join("cur").join(format!("{base}:2,{flags}"))
        };
        fs::write(path, body).unwrap();
    }

    /// Every message file of `side`, in a stable order.
    fn files(&self, side: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = maildir_files(&self.world.root(side))
            .into_values()
            .flatten()
            .map(|(_, path)| path)
            .collect();
        files.sort();
        files
    }

    fn pick(&self, side: &str, pick: usize) -> Option<PathBuf> {
        let files = self.files(side);
        (!files.is_empty()).then(|| files[pick % files.len()].clone())
    }

    fn apply(&mut self, op: &MailOp) {
        match *op {
            MailOp::New {
                side,
                folder,
                flags,
                copy_of,
            } => {
                // An identical copy reuses the Message-ID (and so the whole text) of one
                // written before.
                let id = match copy_of {
                    Some(n) if self.next > 0 => n % self.next,
                    _ => 1000 + self.next,
                };
                self.write(side_of(side), FOLDERS[folder], id, FLAG_SETS[flags]);
            }
            MailOp::Delete { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    fs::remove_file(path).unwrap();
                }
            }
            MailOp::Flags { side, pick, flags } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let maildir = path.parent().unwrap().parent().unwrap();
                    let to = maildir.join("cur").join(format!(
                        "{}:2,{}",
                        base_name(&path),
                        FLAG_SETS[flags]
                    ));
                    fs::rename(path, to).unwrap();
                }
            }
            MailOp::Move { side, pick, folder } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let to = self.world.root(side_of(side)).join(FOLDERS[folder]);
                    for sub in ["cur", "new", "tmp"] {
                        fs::create_dir_all(to.join(sub)).unwrap();
                    }
                    let sub = path.parent().unwrap().file_name().unwrap().to_owned();
                    let name = path.file_name().unwrap().to_owned();
                    fs::rename(&path, to.join(sub).join(name)).unwrap();
                }
            }
            MailOp::CurNew { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let maildir = path.parent().unwrap().parent().unwrap();
                    let in_new = path.parent().unwrap().ends_with("new");
                    let to = if in_new {
                        maildir.join("cur").join(format!("{}:2,", base_name(&path)))
                    } else {
                        maildir.join("new").join(base_name(&path))
                    };
                    fs::rename(path, to).unwrap();
                }
            }
            MailOp::Age { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let old = SystemTime::now() - Duration::from_secs(60 * 86_400);
                    let file = fs::File::options().write(true).open(path).unwrap();
                    file.set_modified(old).unwrap();
                }
            }
            MailOp::AddFolder { side, folder } => {
                let maildir = self.world.root(side_of(side)).join(FOLDERS[folder]);
                for sub in ["cur", "new", "tmp"] {
                    fs::create_dir_all(maildir.join(sub)).unwrap();
                }
            }
            MailOp::RemoveFolder { side, folder } => {
                let _ = fs::remove_dir_all(self.world.root(side_of(side)).join(FOLDERS[folder]));
            }
            MailOp::LoseState => lose_state(&self.world.state_dir()),
            MailOp::Interrupt {
                pick,
                to,
                forget_key,
                landed,
            } => self.interrupt(pick, side_of(to), forget_key, landed),
        }
    }

    /// See [`MailOp::Interrupt`].
    fn interrupt(&self, pick: usize, to: &str, forget_key: bool, landed: bool) {
        let db = self.world.state_dir().join("p.sqlite");
        if !db.exists() {
            return;
        }
        let rows = common::sqlite(
            &db,
            &format!(
                "SELECT i.id, i.key_{to}, c.name_{to} FROM mail_items i \
                 JOIN collections c ON c.id = i.collection \
                 WHERE i.pending IS NULL AND i.expired IS NULL \
                 AND i.key_a IS NOT NULL AND i.key_b IS NOT NULL ORDER BY i.id"
            ),
        );
        let rows: Vec<&str> = rows.lines().collect();
        if rows.is_empty() {
            return;
        }
        let row: Vec<&str> = rows[pick % rows.len()].split('|').collect();
        let (id, key, folder) = (row[0], row[1], row[2]);
        let key_there = if forget_key { "NULL" } else { "key_b" };
        let key_there = key_there.replace("key_b", &format!("key_{to}"));
        common::sqlite(
            &db,
            &format!(
                "UPDATE mail_items SET pending = '{to}', key_{to} = {key_there} WHERE id = {id}"
            ),
        );
        if !landed {
            let maildir = self.world.root(to).join(folder);
            if let Some((_, path)) = maildir_files(&maildir)
                .into_values()
                .flatten()
                .find(|(_, path)| base_name(path) == key)
            {
                fs::remove_file(path).unwrap();
            }
        }
    }

    /// The folders of each side.
    fn folders(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
        SIDES
            .iter()
            .map(|side| {
                let folders = maildir_files(&self.world.root(side)).into_keys().collect();
                (*side, folders)
            })
            .collect()
    }

    /// Both runs, compared; also that the folders the dry run plans to create are the ones
    /// the real run created.
    fn dry_then_real(&self, flags: &[&str]) -> Result<Run, TestCaseError> {
        let before = self.folders();
        let (dry, real) = dry_then_real(
            &|args| self.run(args),
            &|| self.snapshot(),
            flags,
            Family::Mail,
        )?;
        let after = self.folders();
        let mut planned = BTreeSet::new();
        for line in dry.stdout().lines() {
            if let Some(rest) = line.strip_prefix("p: collection ")
                && let Some((name, step)) = rest.split_once(": create on ")
            {
                let side = &step[..1];
                planned.insert((side.to_owned(), name.to_owned()));
            }
        }
        let mut created = BTreeSet::new();
        for side in SIDES {
            for folder in after[side].difference(&before[side]) {
                created.insert((side.to_owned(), folder.clone()));
            }
        }
        prop_assert_eq!(
            planned,
            created,
            "folders planned for creation (left) and created (right) differ:\n{}",
            real
        );
        Ok(real)
    }
}

/// Deletes the pair's status, as a user who lost it would.
fn lose_state(state_dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(state_dir.join(format!("p.sqlite{suffix}")));
    }
}

/// A Maildir file name without its flags part.
fn base_name(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    name.split_once(":2,")
        .map_or(name.clone(), |(base, _)| base.to_owned())
}

/// A tree with each message's copies in a stable order, without the messages marked
/// \Deleted (T): a new one is not copied to a side that would expunge it, so it may stay on
/// one side only.
fn comparable(mut tree: Tree) -> Tree {
    for messages in tree.values_mut() {
        for copies in messages.values_mut() {
            copies.retain(|flags| !flags.contains('T'));
            copies.sort();
        }
        messages.retain(|_, copies| !copies.is_empty());
    }
    tree
}

fn check_mail(scenario: &MailScenario) -> Result<(), TestCaseError> {
    let mut mail = Mail::new(&scenario.pair_keys());
    for &(a, b, folder, flags) in &scenario.initial {
        let id = mail.next;
        for (on, side) in [(a, "a"), (b, "b")] {
            if on {
                mail.write(side, FOLDERS[folder], id, FLAG_SETS[flags]);
            }
        }
    }
    mail.dry_then_real(&[])?;
    for op in &scenario.ops {
        mail.apply(op);
    }
    let flags: &[&str] = if scenario.force { &["--force"] } else { &[] };
    let real = mail.dry_then_real(flags)?;
    let mut again = mail.run(&["-v", "sync"]);
    if scenario.limits != 0 && real.code() != 5 {
        // With limits, the run after an upload keeps it whatever its rank (ARCHITECTURE.md,
        // "Ranking"), so the run after that may expire it: that run expires and nothing else.
        let changed = action_lines(&again);
        prop_assert!(
            changed.iter().all(|line| line.contains(": expire on ")),
            "the run after the real run changed more than expiries:\n{}",
            again
        );
        again = mail.run(&["-v", "sync"]);
    }
    assert_quiet(&again, &real)?;
    if again.code() == 0 && scenario.limits == 0 {
        prop_assert_eq!(
            comparable(read_tree(&mail.world.root("a"))),
            comparable(read_tree(&mail.world.root("b"))),
            "the sides differ after the run:\n{}",
            again
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Calendars: vdir <-> vdir.

const COLLECTIONS: [&str; 3] = ["c1", "c2", "c3"];

#[derive(Clone, Debug)]
enum DavOp {
    /// A new item on `side`, or (`both`) the same new item on both sides.
    New {
        side: bool,
        collection: usize,
        both: bool,
    },
    Delete {
        side: bool,
        pick: usize,
    },
    /// A new SUMMARY for an item of `side`.
    Edit {
        side: bool,
        pick: usize,
    },
    /// The item picked on a edited on both sides: the same way, or differently (a conflict).
    EditBoth {
        pick: usize,
        same: bool,
    },
    AddCollection {
        side: bool,
        collection: usize,
    },
    RemoveCollection {
        side: bool,
        collection: usize,
    },
    /// The status is lost (deleted): the next run matches both sides by UID.
    LoseState,
}

#[derive(Clone, Debug)]
struct DavScenario {
    /// Items before the first sync: (on a, on b, collection, same text on both).
    initial: Vec<(bool, bool, usize, bool)>,
    ops: Vec<DavOp>,
    conflict: usize,
    on_delete: bool,
    max_delete: usize,
    force: bool,
}

fn dav_op() -> impl Strategy<Value = DavOp> {
    let pick = 0usize..64;
    prop_oneof![
        4 => (any::<bool>(), 0..COLLECTIONS.len(), prop::bool::weighted(0.2))
            .prop_map(|(side, collection, both)| DavOp::New { side, collection, both }),
        3 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| DavOp::Delete { side, pick }),
        3 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| DavOp::Edit { side, pick }),
        2 => (pick, any::<bool>()).prop_map(|(pick, same)| DavOp::EditBoth { pick, same }),
        1 => (any::<bool>(), 0..COLLECTIONS.len())
            .prop_map(|(side, collection)| DavOp::AddCollection { side, collection }),
        1 => (any::<bool>(), 0..COLLECTIONS.len())
            .prop_map(|(side, collection)| DavOp::RemoveCollection { side, collection }),
        1 => Just(DavOp::LoseState),
    ]
}

/// Scenarios whose conflict policy is drawn from `conflict` (report, keep a, keep b).
fn dav_scenario(conflict: std::ops::Range<usize>) -> impl Strategy<Value = DavScenario> {
    let placement = prop_oneof![Just((true, false)), Just((false, true)), Just((true, true)),];
    (
        prop::collection::vec(
            (placement, 0..COLLECTIONS.len(), prop::bool::weighted(0.8)),
            0..10,
        ),
        prop::collection::vec(dav_op(), 1..10),
        conflict,
        any::<bool>(),
        0usize..3,
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |(initial, ops, conflict, on_delete, max_delete, force)| DavScenario {
                initial: initial
                    .into_iter()
                    .map(|((a, b), collection, same)| (a, b, collection, same))
                    .collect(),
                ops,
                conflict,
                on_delete,
                max_delete,
                force,
            },
        )
}

impl DavScenario {
    fn pair_keys(&self) -> String {
        let mut keys = String::new();
        keys.push_str(
            [
                "",
                "conflict_resolution = \"keep a\"\n",
                "conflict_resolution = \"keep b\"\n",
            ][self.conflict],
        );
        if self.on_delete {
            keys.push_str("on_delete = \"delete\"\n");
        }
        keys.push_str(["", "max_delete = \"0%\"\n", "max_delete = \"100%\"\n"][self.max_delete]);
        keys
    }
}

/// Two vdirs `a` and `b` paired as `p`.
struct Dav {
    dir: tempfile::TempDir,
    next: usize,
}

impl Dav {
    fn new(pair_keys: &str) -> Dav {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut config = format!(
            "[general]\nstate_dir = \"{}\"\n\n",
            root.join("state").display()
        );
        for side in SIDES {
            fs::create_dir_all(root.join(side)).unwrap();
            config.push_str(&format!(
                "[storage.{side}]\ntype = \"vdir\"\npath = \"{}\"\nfileext = \".ics\"\n\n",
                root.join(side).display()
            ));
        }
        config.push_str(&format!("[pair.p]\na = \"a\"\nb = \"b\"\n{pair_keys}\n"));
        fs::write(root.join("config.toml"), config).unwrap();
        Dav { dir, next: 0 }
    }

    fn run(&self, args: &[&str]) -> Run {
        Run(
            common::pimlink_with(&self.dir.path().join("config.toml"), args)
                .output()
                .unwrap(),
        )
    }

    fn snapshot(&self) -> String {
        listing(self.dir.path())
    }

    fn root(&self, side: &str) -> PathBuf {
        self.dir.path().join(side)
    }

    /// Writes item `uid` as an editor would save it: a new file renamed into place.
    fn write(&mut self, side: &str, collection: &str, uid: &str, summary: &str) {
        let dir = self.root(side).join(collection);
        fs::create_dir_all(&dir).unwrap();
        let temp = dir.join(format!(".{uid}.tmp"));
        fs::write(&temp, event(uid, summary)).unwrap();
        fs::rename(temp, dir.join(format!("{uid}.ics"))).unwrap();
    }

    /// Every item file of `side`, in a stable order.
    fn files(&self, side: &str) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for collection in fs::read_dir(self.root(side)).unwrap().flatten() {
            if !collection.path().is_dir() {
                continue;
            }
            for item in fs::read_dir(collection.path()).unwrap().flatten() {
                if item.file_name().to_string_lossy().ends_with(".ics") {
                    files.push(item.path());
                }
            }
        }
        files.sort();
        files
    }

    fn pick(&self, side: &str, pick: usize) -> Option<PathBuf> {
        let files = self.files(side);
        (!files.is_empty()).then(|| files[pick % files.len()].clone())
    }

    /// The collection and UID of an item file.
    fn item_of(path: &Path) -> (String, String) {
        let collection = path.parent().unwrap().file_name().unwrap();
        let uid = path.file_stem().unwrap();
        (
            collection.to_string_lossy().into_owned(),
            uid.to_string_lossy().into_owned(),
        )
    }

    fn apply(&mut self, op: &DavOp) {
        self.next += 1;
        let summary = format!("edit {}", self.next);
        match *op {
            DavOp::New {
                side,
                collection,
                both,
            } => {
                let uid = format!("n{}", self.next);
                self.write(side_of(side), COLLECTIONS[collection], &uid, "new");
                if both {
                    self.write(other(side_of(side)), COLLECTIONS[collection], &uid, "new");
                }
            }
            DavOp::Delete { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    fs::remove_file(path).unwrap();
                }
            }
            DavOp::Edit { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let (collection, uid) = Self::item_of(&path);
                    self.write(side_of(side), &collection, &uid, &summary);
                }
            }
            DavOp::EditBoth { pick, same } => {
                if let Some(path) = self.pick("a", pick) {
                    let (collection, uid) = Self::item_of(&path);
                    self.write("a", &collection, &uid, &summary);
                    if self
                        .root("b")
                        .join(&collection)
                        .join(format!("{uid}.ics"))
                        .exists()
                    {
                        let theirs = if same {
                            summary.clone()
                        } else {
                            format!("{summary} on b")
                        };
                        self.write("b", &collection, &uid, &theirs);
                    }
                }
            }
            DavOp::AddCollection { side, collection } => {
                fs::create_dir_all(self.root(side_of(side)).join(COLLECTIONS[collection])).unwrap();
            }
            DavOp::RemoveCollection { side, collection } => {
                let _ = fs::remove_dir_all(self.root(side_of(side)).join(COLLECTIONS[collection]));
            }
            DavOp::LoseState => lose_state(&self.dir.path().join("state")),
        }
    }

    /// collection -> uid -> SUMMARY, per side.
    fn items(&self, side: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for collection in fs::read_dir(self.root(side)).unwrap().flatten() {
            if collection.path().is_dir() {
                let name = collection.file_name().to_string_lossy().into_owned();
                out.insert(name, items_in(&collection.path()));
            }
        }
        out
    }
}

fn check_dav(scenario: &DavScenario) -> Result<(), TestCaseError> {
    let mut dav = Dav::new(&scenario.pair_keys());
    for (n, &(a, b, collection, same)) in scenario.initial.iter().enumerate() {
        let uid = format!("i{n}");
        if a {
            dav.write("a", COLLECTIONS[collection], &uid, "first");
        }
        if b {
            let summary = if same { "first" } else { "first on b" };
            dav.write("b", COLLECTIONS[collection], &uid, summary);
        }
    }
    let snapshot = || dav.snapshot();
    let run = |args: &[&str]| dav.run(args);
    dry_then_real(&run, &snapshot, &[], Family::Dav)?;
    for op in &scenario.ops {
        dav.apply(op);
    }
    let flags: &[&str] = if scenario.force { &["--force"] } else { &[] };
    let snapshot = || dav.snapshot();
    let run = |args: &[&str]| dav.run(args);
    let (_, real) = dry_then_real(&run, &snapshot, flags, Family::Dav)?;
    let again = dav.run(&["-v", "sync"]);
    assert_quiet(&again, &real)?;
    // With a conflict policy every item ends equal; without one, conflicts stay as they are.
    if again.code() == 0 && scenario.conflict != 0 {
        let (a, b) = (dav.items("a"), dav.items("b"));
        for (collection, items) in &a {
            if let Some(theirs) = b.get(collection) {
                prop_assert_eq!(
                    items,
                    theirs,
                    "collection {} differs:\n{}",
                    collection,
                    again
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Mail: a dry run after random changes on both sides says what the real run does.
    #[test]
    fn a_mail_dry_run_says_what_the_real_run_does(scenario in mail_scenario(0..3)) {
        check_mail(&scenario)?;
    }

    /// Calendars: a dry run after random changes on both sides says what the real run does,
    /// with a `conflict_resolution` (see the next test for the pairs without one).
    #[test]
    fn a_calendar_dry_run_says_what_the_real_run_does(scenario in dav_scenario(1..3)) {
        check_dav(&scenario)?;
    }

    /// Calendars, also pairs without `conflict_resolution`, whose conflicts a dry run counts
    /// as changes and the real run as errors (see
    /// `an_unresolved_conflict_is_reported_alike_by_a_dry_run_and_the_real_run`).
    #[test]
    #[ignore = "dry run diverges: an unresolved calendar conflict is a planned change (exit 0) \
                in a dry run and an error (exit 1) in the real run; fixed by the executor split \
                (issue 13)"]
    fn a_calendar_dry_run_says_what_the_real_run_does_with_any_conflict_policy(
        scenario in dav_scenario(0..3)
    ) {
        check_dav(&scenario)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Divergences the scenarios found, pinned.

/// Runs `check` and turns its failure into a panic (for plain tests).
fn pinned(check: Result<(), TestCaseError>) {
    if let Err(error) = check {
        panic!("{error}");
    }
}

/// An item changed differently on both sides, with no `conflict_resolution`: the dry run
/// counts the conflict as a change ("would change: 1 conflict", exit 0), the real run reports
/// it as an error ("changed: nothing, 1 errors", exit 1, the conflict on stderr).
#[test]
#[ignore = "dry run diverges: an unresolved calendar conflict is a planned change (exit 0) in a \
            dry run and an error (exit 1) in the real run; fixed by the executor split (issue 13)"]
fn an_unresolved_conflict_is_reported_alike_by_a_dry_run_and_the_real_run() {
    let mut dav = Dav::new("");
    dav.write("a", "c1", "e", "first");
    dav.write("b", "c1", "e", "first on b");
    pinned(dry_then_real(&|args| dav.run(args), &|| dav.snapshot(), &[], Family::Dav).map(|_| ()));
}

/// Not a dry-run divergence, but found by the same scenarios (so the run after a refused one
/// is not held to change nothing there): folder F is deleted on b, and a message of INBOX is
/// moved into F on a. The run recreates F on b, refuses to delete F's old message on a (side b
/// "is empty although 1 items were synced there before"; exit 5) and makes the move on b too.
/// The next run finds F on b no longer empty and deletes that message on a without --force.
#[test]
#[ignore = "engine: a deletion refused because a side looked empty is made by the next run \
            once a move filled the collection; a question for the lead (issue 13 report)"]
fn a_deletion_refused_for_an_emptied_folder_stays_refused_after_a_move_into_it() {
    let mut mail = Mail::new("");
    mail.write("a", "F", 1, "");
    mail.write("a", "INBOX", 2, "");
    mail.world.sync_ok();
    mail.apply(&MailOp::RemoveFolder {
        side: true,
        folder: 1,
    });
    let on_a = mail.files("a");
    let inbox = on_a
        .iter()
        .position(|path| path.to_string_lossy().contains("/INBOX/"))
        .unwrap();
    mail.apply(&MailOp::Move {
        side: false,
        pick: inbox,
        folder: 1,
    });
    let refused = mail.run(&["-v", "sync"]);
    assert_eq!(refused.code(), 5, "{refused}");
    let again = mail.run(&["-v", "sync"]);
    assert_eq!(again.code(), 5, "the refusal stands:\n{again}");
    assert!(
        mail.world.messages("a")["F"].contains_key("m1"),
        "m1 was deleted on a:\n{again}"
    );
}
