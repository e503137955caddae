//! Helpers for end-to-end tests of the `pimlink` binary on Maildir trees.
//!
//! The trees are written and read here directly, not through pimlink-maildir, so that the tests
//! check the files a mail reader would see.

#![allow(dead_code)] // Each test file uses a different subset.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary world: two Maildir roots, a state dir and a config.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    /// Two verbatim Maildir trees `a` and `b` paired as `p`, with `extra` appended to the pair.
    pub fn new(extra_pair_keys: &str) -> World {
        Self::with_layouts("verbatim", "verbatim", extra_pair_keys)
    }

    /// Like `new`, with the layouts of both sides.
    pub fn with_layouts(layout_a: &str, layout_b: &str, extra_pair_keys: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a")).unwrap();
        fs::create_dir_all(root.join("b")).unwrap();
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.a]\ntype = \"maildir\"\npath = \"{a}\"\nlayout = \"{layout_a}\"\n\n\
             [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\nlayout = \"{layout_b}\"\n\n\
             [pair.p]\na = \"a\"\nb = \"b\"\n{extra_pair_keys}\n",
            state = root.join("state").display(),
            a = root.join("a").display(),
            b = root.join("b").display(),
        );
        fs::write(root.join("config.toml"), config).unwrap();
        World { dir }
    }

    pub fn root(&self, side: &str) -> PathBuf {
        self.dir.path().join(side)
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A command running pimlink with this world's config.
    pub fn pimlink(&self, args: &[&str]) -> Command {
        pimlink_with(&self.config(), args)
    }

    /// Runs pimlink to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.pimlink(args).output().unwrap())
    }

    /// Runs `sync` and insists that it succeeds.
    pub fn sync_ok(&self) -> Run {
        let run = self.run(&["sync"]);
        assert_eq!(run.code(), 0, "sync failed:\n{run}");
        run
    }

    /// Delivers a message with `id` into `folder` (a path under the side's root, e.g. `INBOX`).
    pub fn deliver(&self, side: &str, folder: &str, id: &str, flags: &str) {
        deliver(&self.root(side).join(folder), id, flags);
    }

    /// Every message of a side: folder -> Message-ID -> list of flag strings (one entry per
    /// copy, so duplicates show).
    pub fn messages(&self, side: &str) -> Tree {
        read_tree(&self.root(side))
    }
}

/// The result of a run.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

pub mod cuts;
pub mod daemon;
pub mod dav;
pub mod imap;
pub mod keyring;
pub mod offlineimap;
pub mod status;

/// A command running pimlink with the config file `config`.
pub fn pimlink_with(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pimlink"));
    command.arg("-c").arg(config).args(args);
    command
}

/// Runs `query` on the SQLite database `db` (a pair's status) with the sqlite3 tool.
pub fn sqlite(db: &Path, query: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(query)
        .output()
        .expect("sqlite3 (Debian package sqlite3) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// folder (relative path of the maildir) -> Message-ID -> flags of each copy.
pub type Tree = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// Writes one message as a delivery agent would (new/ without flags, cur/ with).
pub fn deliver(maildir: &Path, id: &str, flags: &str) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let body = format!(
        "From: test@example.org\r\nSubject: message {id}\r\nMessage-ID: <{id}@test>\r\n\r\nbody of {id}\r\n"
    );
    let path = if flags.is_empty() {
        maildir.join("new").join(format!("u-{id}"))
    } else {
        maildir.join("cur").join(format!("u-{id}:2,{flags}"))
    };
    fs::write(path, body).unwrap();
}

/// Reads every maildir below `root` (any directory with a `cur` subdirectory).
pub fn read_tree(root: &Path) -> Tree {
    let mut tree = Tree::new();
    for (folder, files) in maildir_files(root) {
        let messages = tree.entry(folder).or_default();
        for (letters, path) in files {
            // Polled while a daemon renames files: one gone since the listing is not there.
            let Ok(text) = fs::read_to_string(&path) else {
                continue;
            };
            let id =
                message_id(&text).unwrap_or_else(|| panic!("no Message-ID in {}", path.display()));
            messages.entry(id).or_default().push(letters);
        }
    }
    tree
}

/// Every maildir below `root` (any directory with a `cur` subdirectory), by its path relative
/// to `root`, with the files in its `cur/` and `new/` and the flag letters of each.
pub fn maildir_files(root: &Path) -> BTreeMap<String, Vec<(String, PathBuf)>> {
    let mut folders = BTreeMap::new();
    visit(root, root, &mut folders);
    folders
}

fn visit(root: &Path, dir: &Path, folders: &mut BTreeMap<String, Vec<(String, PathBuf)>>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    if dir.join("cur").is_dir() {
        let folder = dir
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let files = folders.entry(folder).or_default();
        for sub in ["cur", "new"] {
            // A folder being created has `cur/` before `new/`: its missing part is empty.
            let Ok(listing) = fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for file in listing {
                let Ok(file) = file else {
                    continue;
                };
                let name = file.file_name().to_string_lossy().into_owned();
                let flags = name
                    .split_once(":2,")
                    .map(|(_, f)| f.to_owned())
                    .unwrap_or_default();
                files.push((flags, file.path()));
            }
        }
    }
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && !["cur", "new", "tmp"].contains(&name.to_string_lossy().as_ref()) {
            visit(root, &path, folders);
        }
    }
}

fn message_id(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .and_then(|rest| rest.split_once('@'))
        .map(|(id, _)| id.to_owned())
}

/// Asserts that every message appears exactly once per side and both sides agree.
pub fn assert_converged(world: &World) -> Tree {
    let a = world.messages("a");
    let b = world.messages("b");
    for (side, tree) in [("a", &a), ("b", &b)] {
        for (folder, messages) in tree {
            for (id, copies) in messages {
                assert_eq!(
                    copies.len(),
                    1,
                    "side {side} folder {folder}: {id} has copies {copies:?}"
                );
            }
        }
    }
    assert_eq!(a, b, "sides differ");
    a
}

/// Kills `pimlink -v sync` part-way through, run after run (up to `attempts` runs, fewer if one
/// finishes first), and returns how many runs the kills interrupted: found still running and
/// before the summary that ends a run. The kills follow the run's progress, not a clock (see
/// `pimlink_testkit::kill`): `-v` prints each change once it is recorded, and a run may print
/// only up to 512 bytes before its output blocks, so it cannot finish more work than that shows,
/// plus the batch of changes it was recording on each connection. The kill points are
/// random (the seed is printed; `PIMLINK_TEST_SEED` replays them), so that kills land during
/// listing, between intents and deliveries, between deliveries and the flush, and between
/// the flush and the status commit.
pub fn sync_with_kills(world: &World, attempts: usize) -> usize {
    // Each call of a test process draws other points, reproducibly.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let seed = pimlink_testkit::TestRng::seed_from_env("PIMLINK_TEST_SEED", 0x0005_eed0_f4b1);
    eprintln!("kill loop {call} of this test");
    let mut rng = pimlink_testkit::TestRng::new(seed ^ call.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let sync = || {
        let mut command = world.pimlink(&["-v", "sync"]);
        command.stderr(Stdio::null());
        command
    };
    let kills = pimlink_testkit::kill::kill_repeatedly(sync, finished, attempts, &mut rng)
        .unwrap_or_else(|e| panic!("killed syncs: {e}"));
    kills.interrupted
}

/// True if `stdout` of a sync holds the summary it prints once every pair is done.
pub fn finished(stdout: &str) -> bool {
    stdout.contains(" collections, changed: ")
}

/// Runs `future` to completion on a runtime of its own (the tests are synchronous).
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// The file of the message whose Message-ID is `<id@...>` in the Maildir folder `maildir`.
/// Only the start of each file is read (as bytes: bodies need not be UTF-8).
pub fn find_file(maildir: &Path, id: &str) -> PathBuf {
    let needle = format!("<{id}@");
    for sub in ["cur", "new"] {
        for entry in fs::read_dir(maildir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let head = fs::read(&path).unwrap();
            let head = String::from_utf8_lossy(&head[..head.len().min(4096)]).into_owned();
            if head.contains(&needle) {
                return path;
            }
        }
    }
    panic!("{id} not in {}", maildir.display())
}

/// Gives the message `id` in the Maildir folder `maildir` the flag letters `letters`, as a mail
/// reader does: by renaming its file into cur/.
pub fn set_local_flags(maildir: &Path, id: &str, letters: &str) {
    let from = find_file(maildir, id);
    let name = from.file_name().unwrap().to_string_lossy().into_owned();
    let base = name
        .split_once(":2,")
        .map_or(name.clone(), |(b, _)| b.to_owned());
    fs::rename(
        &from,
        maildir.join("cur").join(format!("{base}:2,{letters}")),
    )
    .unwrap();
}

/// The UID of the message whose Message-ID is `<id@...>` in the folder `client` has selected.
pub async fn uid_of(client: &mut pimlink_imap::Client, id: &str) -> u32 {
    let request = pimlink_imap::FetchRequest {
        header_fields: vec!["MESSAGE-ID".to_owned()],
        ..pimlink_imap::FetchRequest::default()
    };
    let mut found = None;
    client
        .fetch(&pimlink_imap::UidRanges::all(), &request, |m| {
            let header = String::from_utf8(m.header.unwrap()).unwrap();
            if header.contains(&format!("<{id}@")) {
                found = Some(m.uid);
            }
            Ok(())
        })
        .await
        .unwrap();
    found.unwrap_or_else(|| panic!("{id} not in the selected folder"))
}
