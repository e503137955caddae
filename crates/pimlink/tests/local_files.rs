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

/// Runs the shell `script` in a mount namespace of its own, in which a tmpfs of `size` is
/// mounted on `dir`: a real disk that really fills up, and goes away with the namespace (so
/// nothing is left mounted whatever happens). The script finds the mount point in `$DIR`,
/// pimlink in `$PIMLINK` and the world's config in `$CONFIG`; exit status 99 means the mount
/// failed. Returns false, after saying why, when the test is to be skipped: only if
/// `PIMLINK_TEST_SKIP_TMPFS` is set (a machine that cannot mount a tmpfs must not pass a test
/// it did not run).
fn on_a_small_disk(world: &World, dir: &Path, size: &str, script: &str) -> bool {
    if std::env::var_os("PIMLINK_TEST_SKIP_TMPFS").is_some() {
        eprintln!("skipped: PIMLINK_TEST_SKIP_TMPFS is set");
        return false;
    }
    let mut unshare = std::process::Command::new("unshare");
    if !rustix::process::geteuid().is_root() {
        unshare.arg("--user").arg("--map-root-user");
    }
    let status = unshare
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs -o size={size} tmpfs \"$DIR\" || exit 99\n{script}"
        ))
        .env("DIR", dir)
        .env("PIMLINK", env!("CARGO_BIN_EXE_pimlink"))
        .env("CONFIG", world.config())
        .status()
        .expect("running unshare (util-linux); set PIMLINK_TEST_SKIP_TMPFS=1 to skip");
    assert_ne!(
        status.code(),
        Some(99),
        "could not mount a tmpfs on {}",
        dir.display()
    );
    assert!(status.success(), "the script failed: {status}");
    true
}

/// What a run inside `on_a_small_disk` left in `<world>/<name>.{code,out,err}`.
fn recorded(world: &World, name: &str) -> (i32, String) {
    let read = |ext: &str| fs::read_to_string(world.dir.path().join(format!("{name}.{ext}")));
    let code = read("code").unwrap().trim().parse().unwrap();
    (
        code,
        format!("{}{}", read("out").unwrap(), read("err").unwrap()),
    )
}

/// Runs pimlink with `$1...` inside the script, recording as `recorded` reads it.
const RECORD: &str = "record() { name=$1; shift; \"$PIMLINK\" -c \"$CONFIG\" \"$@\" \
    > \"$OUT/$name.out\" 2> \"$OUT/$name.err\"; echo $? > \"$OUT/$name.code\"; }\n";

#[test]
fn a_full_maildir_disk_is_one_line_per_folder_and_every_failure_with_v() {
    let world = World::new("");
    let body = "x".repeat(8 * 1024);
    for (n, folder) in ["INBOX", "Lists/rust"].into_iter().enumerate() {
        for i in 0..60 {
            let id = format!("f{n}-{i}");
            world.deliver("a", folder, &id, "");
            let file = common::find_file(&world.root("a").join(folder), &id);
            let mut text = fs::read_to_string(&file).unwrap();
            text.push_str(&body);
            fs::write(&file, text).unwrap();
        }
    }
    // 960 KiB of mail for a 256 KiB disk.
    let script = format!(
        "OUT=\"{}\"\n{RECORD}record quiet sync\nrecord verbose -v sync\n",
        world.dir.path().display()
    );
    if !on_a_small_disk(&world, &world.root("b"), "256k", &script) {
        return;
    }
    let (code, quiet) = recorded(&world, "quiet");
    assert_eq!(code, 1, "{quiet}");
    let failures: Vec<&str> = quiet
        .lines()
        .filter(|l| l.starts_with("pimlink: p:"))
        .collect();
    assert_eq!(failures.len(), 2, "one line per folder:\n{quiet}");
    for (line, folder) in failures.iter().zip(["INBOX", "Lists/rust"]) {
        assert!(
            line.starts_with(&format!("pimlink: p: collection {folder}: ")),
            "{line}"
        );
        assert!(line.contains("changes failed, the disk is full"), "{line}");
        assert!(line.contains("-v lists each"), "{line}");
    }
    let (code, verbose) = recorded(&world, "verbose");
    assert_eq!(code, 1, "{verbose}");
    let each = verbose
        .lines()
        .filter(|l| l.contains("No space left on device"))
        .count();
    assert!(each > 60, "{verbose}");
}

#[test]
fn a_state_disk_already_full_is_reported_as_full_naming_the_directory() {
    let world = World::new("");
    world.deliver("a", "INBOX", "m1", "");
    fs::create_dir_all(world.state_dir()).unwrap();
    let script = format!(
        "OUT=\"{out}\"\n{RECORD}record first sync\n\
         dd if=/dev/zero of=\"$DIR/fill\" bs=4096 2>/dev/null\n\
         cp \"{a}/new/u-m1\" \"{a}/new/u-m2\"\n\
         record full sync\n",
        out = world.dir.path().display(),
        a = world.root("a").join("INBOX").display()
    );
    if !on_a_small_disk(&world, &world.state_dir(), "512k", &script) {
        return;
    }
    let (code, first) = recorded(&world, "first");
    assert_eq!(code, 0, "{first}");
    let (code, full) = recorded(&world, "full");
    assert_eq!(code, 3, "{full}");
    let said = format!(
        "the disk holding the state directory {} is full",
        world.state_dir().display()
    );
    assert!(full.contains(&said), "{full}");
    assert!(
        full.contains("pimlink: what to do: free some space on the file system of"),
        "{full}"
    );
    // Nothing was synced without a state to record it in.
    assert_eq!(world.messages("b")["INBOX"].len(), 1);
}
