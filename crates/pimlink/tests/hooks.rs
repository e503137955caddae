//! End-to-end: a pair's hooks (`pre_sync_hook`, `post_sync_hook`, `new_mail_hook`,
//! `hook_timeout`) and the `[mbnames]` mailbox list file, through the `pimlink` binary, an
//! IMAP account on a private Dovecot (side a) and a verbatim Maildir (side b). Each hook
//! appends its name to a log and writes `env` to a file, which the tests read back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::imap::{message, write_imap_maildir_config};
use common::{Run, World};
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// A hook that logs its name and writes its environment to `DIR/NAME.env`.
fn recording_hook(dir: &Path, name: &str) -> String {
    format!(
        "echo {name} >> '{log}'; env > '{env}'",
        log = dir.join("calls").display(),
        env = dir.join(format!("{name}.env")).display()
    )
}

/// An IMAP <-> Maildir world with `pair_keys` in the pair, `general` added to `[general]` and
/// `tail` (more tables) at the end of the file.
fn world(server: &Dovecot, general: &str, pair_keys: &str, tail: &str) -> World {
    let world = World::new("");
    write_imap_maildir_config(&world, server, "", "", pair_keys);
    let text = fs::read_to_string(world.config()).unwrap();
    let text = text.replacen("[general]\n", &format!("[general]\n{general}\n"), 1);
    fs::write(world.config(), format!("{text}\n{tail}\n")).unwrap();
    world
}

/// The hooks' directory of `world`, created.
fn hook_dir(world: &World) -> PathBuf {
    let dir = world.dir.path().join("hooks");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `PIMLINK_*` variables the hook `name` saw last.
fn seen(dir: &Path, name: &str) -> BTreeMap<String, String> {
    let text = fs::read_to_string(dir.join(format!("{name}.env"))).unwrap();
    // `env` prints a multi-line value over several lines: a line without '=' continues the one
    // before.
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some((name, value)) if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
                vars.insert(name.to_owned(), value.to_owned());
                last = Some(name.to_owned());
            }
            _ => {
                if let Some(entry) = last.as_ref().and_then(|name| vars.get_mut(name)) {
                    entry.push('\n');
                    entry.push_str(line);
                }
            }
        }
    }
    vars.retain(|name, _| name.starts_with("PIMLINK_"));
    vars
}

/// The hooks called so far, in order.
fn calls(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn sync(world: &World, args: &[&str]) -> Run {
    let run = Run(world
        .pimlink(&[&["sync"], args].concat())
        // A stale value from an outer pimlink must not reach the hooks.
        .env("PIMLINK_NEW_MAIL", "99")
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{run}");
    run
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (format!("PIMLINK_{name}"), (*value).to_owned()))
        .collect()
}

#[test]
fn each_hook_runs_with_the_run_in_its_environment_and_new_mail_only_when_mail_arrived() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("s1")).unwrap();
    server.deliver(&user, "INBOX", &message("s2")).unwrap();
    server.deliver(&user, "Lists.rust", &message("l1")).unwrap();
    let probe = World::new("");
    let dir = hook_dir(&probe);
    let keys = format!(
        "pre_sync_hook = \"{}\"\npost_sync_hook = \"{}\"\nnew_mail_hook = \"{}\"\n",
        recording_hook(&dir, "pre"),
        recording_hook(&dir, "post"),
        recording_hook(&dir, "new"),
    );
    let world = world(&server, "", &keys, "");
    world.deliver("b", "INBOX", "local1", "");

    // A dry run: pre and post see PIMLINK_DRY_RUN=1; no mail arrived, so no new_mail hook.
    sync(&world, &["--dry-run"]);
    assert_eq!(calls(&dir), ["pre", "post"]);
    assert_eq!(seen(&dir, "pre")["PIMLINK_DRY_RUN"], "1");
    assert_eq!(
        seen(&dir, "post")["PIMLINK_CREATED_B"],
        "3",
        "what would be copied"
    );

    let first = sync(&world, &[]);
    assert_eq!(calls(&dir)[2..], ["pre", "post", "new"], "{first}");
    let common = [
        ("PAIR", "p"),
        ("STORAGE_A", "a"),
        ("STORAGE_B", "b"),
        ("DRY_RUN", "0"),
    ];
    let after = [
        ("RESULT", "ok"),
        ("CREATED_A", "1"),
        ("CREATED_B", "3"),
        ("UPDATED_A", "0"),
        ("UPDATED_B", "0"),
        ("DELETED_A", "0"),
        ("DELETED_B", "0"),
        ("FLAGS", "0"),
        ("CONFLICTS", "0"),
    ];
    let mail = [
        ("LOCAL_SIDE", "b"),
        ("NEW_MAIL", "3"),
        ("FOLDERS", "INBOX\nLists/rust"),
    ];
    let pre = [&common[..], &[("HOOK", "pre_sync")]].concat();
    assert_eq!(
        seen(&dir, "pre"),
        vars(&pre),
        "no stale PIMLINK_NEW_MAIL either"
    );
    let post = [&common[..], &after, &[("HOOK", "post_sync")]].concat();
    assert_eq!(seen(&dir, "post"), vars(&post));
    let new = [&common[..], &after, &mail, &[("HOOK", "new_mail")]].concat();
    assert_eq!(seen(&dir, "new"), vars(&new));
    // Secrets stay out of every hook's environment.
    for name in ["pre", "post", "new"] {
        let text = fs::read_to_string(dir.join(format!("{name}.env"))).unwrap();
        assert!(!text.contains(server.password()), "{name}: {text}");
    }

    // Nothing new: pre and post only.
    sync(&world, &[]);
    assert_eq!(calls(&dir)[5..], ["pre", "post"]);
    assert_eq!(seen(&dir, "post")["PIMLINK_CREATED_B"], "0");

    // One new message on the server, in INBOX.
    server.deliver(&user, "INBOX", &message("s3")).unwrap();
    sync(&world, &[]);
    assert_eq!(calls(&dir)[7..], ["pre", "post", "new"]);
    let new = seen(&dir, "new");
    assert_eq!(new["PIMLINK_NEW_MAIL"], "1");
    assert_eq!(new["PIMLINK_FOLDERS"], "INBOX");
}

/// Waits (up to 60 s) until process `pid` is gone or a zombie.
fn wait_until_dead(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                return true;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    false
}

#[test]
fn a_failing_and_a_hanging_hook_are_warnings_and_the_sync_goes_on() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("s1")).unwrap();
    let probe = World::new("");
    let dir = hook_dir(&probe);
    let pid_file = dir.join("pid");
    // The hanging hook starts a child in its process group and waits for it forever; the
    // child's output goes elsewhere, so that if it survived it would not hold this test's pipe.
    let keys = format!(
        "pre_sync_hook = \"echo failing; exit 3\"\n\
         post_sync_hook = \"sleep 3600 >/dev/null 2>&1 & echo $! > {}; wait\"\n\
         new_mail_hook = \"exec nonexistent-command-of-pimlink-tests\"\n",
        pid_file.display()
    );
    let world = world(&server, "hook_timeout = \"1s\"", &keys, "");

    let run = sync(&world, &[]);
    assert_eq!(world.messages("b")["INBOX"]["s1"], [""], "{run}");
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "pimlink: p: warning: pre_sync_hook \"echo failing; exit 3\" failed (exit status: 3)"
        ),
        "{run}"
    );
    assert!(
        stderr.contains("pimlink: p: warning: post_sync_hook")
            && stderr.contains("was still running after 1s (hook_timeout) and was killed"),
        "{run}"
    );
    assert!(
        stderr.contains("pimlink: p: warning: new_mail_hook"),
        "{run}"
    );
    // The hook's output goes to stderr, stdout keeps pimlink's summary only.
    assert!(
        stderr.contains("failing") && !run.stdout().contains("failing"),
        "{run}"
    );
    // Its child was killed with it. (On a machine so slow that the hook was killed before it
    // wrote the file, there is no child to look for.)
    if let Ok(pid) = fs::read_to_string(&pid_file) {
        assert!(
            wait_until_dead(pid.trim()),
            "the hook's child {pid} survived"
        );
    }
}

/// An IMAP <-> Maildir world with `pair_keys` and an `[mbnames]` table of `mbnames_keys`
/// writing the returned file.
fn listing_world(server: &Dovecot, pair_keys: &str, mbnames_keys: &str) -> (World, PathBuf) {
    let world = world(server, "", pair_keys, "");
    let list = world.dir.path().join("mailboxes");
    let mut text = fs::read_to_string(world.config()).unwrap();
    text.push_str(&format!(
        "[mbnames]\nfilename = \"{}\"\n{mbnames_keys}\n",
        list.display()
    ));
    fs::write(world.config(), text).unwrap();
    (world, list)
}

/// The mailbox list file, its permissions and its inode and mtime (to tell a rewrite).
fn mailboxes(path: &Path) -> (String, u32, (u64, i64, i64)) {
    let meta = fs::metadata(path).unwrap();
    (
        fs::read_to_string(path).unwrap(),
        meta.permissions().mode() & 0o777,
        (meta.ino(), meta.mtime(), meta.mtime_nsec()),
    )
}

#[test]
fn the_mailbox_list_names_exactly_the_synced_folders_and_changes_only_with_them() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("s1")).unwrap();
    server.deliver(&user, "Lists.rust", &message("l1")).unwrap();
    server.deliver(&user, "Junk", &message("j1")).unwrap();
    let (world, list) = listing_world(
        &server,
        "collections = [\"*\", \"!Junk\"]",
        "collections = [\"*\", \"!Drafts\"]",
    );
    // Names mutt would misread unquoted: spaces, a double quote, a dollar sign, a backquote.
    world.deliver("b", "Say \"hi\" $5 `x`", "odd", "");
    world.deliver("b", "Drafts", "d1", "D");

    let first = sync(&world, &["--dry-run"]);
    assert!(!list.exists(), "a dry run writes no list\n{first}");
    sync(&world, &[]);
    let (text, mode, stamp) = mailboxes(&list);
    assert_eq!(
        text, "mailboxes \"+INBOX\" \"+Lists/rust\" \"+Say \\\"hi\\\" \\$5 \\`x\\`\"\n",
        "synced folders only: not Junk (not in the pair), not Drafts (not in the list)"
    );
    assert_eq!(mode, 0o600);

    // Nothing changed: the file is left alone.
    server.deliver(&user, "INBOX", &message("s2")).unwrap();
    sync(&world, &[]);
    assert_eq!(mailboxes(&list), (text, 0o600, stamp));

    // A folder created on the server is added.
    server.deliver(&user, "Archive", &message("a1")).unwrap();
    sync(&world, &[]);
    let (text, mode, _) = mailboxes(&list);
    assert_eq!(
        text,
        "mailboxes \"+INBOX\" \"+Archive\" \"+Lists/rust\" \"+Say \\\"hi\\\" \\$5 \\`x\\`\"\n"
    );
    assert_eq!(mode, 0o600);
}

#[test]
fn a_pair_that_cannot_be_synced_runs_its_post_hook_with_result_failed() {
    let server = DovecotBuilder::new().start().unwrap();
    let probe = World::new("");
    let dir = hook_dir(&probe);
    let keys = format!(
        "pre_sync_hook = \"{}\"\npost_sync_hook = \"{}\"\n",
        recording_hook(&dir, "pre"),
        recording_hook(&dir, "post"),
    );
    let world = world(&server, "", &keys, "");
    // Nothing listens on the port any more.
    drop(server);
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 3, "the exit status is the sync's own\n{run}");
    assert_eq!(calls(&dir), ["pre", "post"], "{run}");
    let post = seen(&dir, "post");
    assert_eq!(post["PIMLINK_RESULT"], "failed");
    assert_eq!(post["PIMLINK_CREATED_B"], "0");
}

#[test]
fn a_calendar_pair_reports_its_counts_per_side() {
    use common::dav::{DavWorld, put};
    use pimlink_testkit::Radicale;

    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    put(&server, "c", "e1", "one");
    put(&server, "c", "e2", "two");
    let probe = World::new("");
    let dir = hook_dir(&probe);
    let keys = format!("post_sync_hook = \"{}\"\n", recording_hook(&dir, "post"));
    let world = DavWorld::radicale(&server, &keys);
    world.sync_ok();
    let first = seen(&dir, "post");
    assert_eq!(
        (
            first["PIMLINK_RESULT"].as_str(),
            first["PIMLINK_CREATED_B"].as_str()
        ),
        ("ok", "2")
    );

    put(&server, "c", "e1", "one moved");
    world.write_local("c", "e3", "three");
    let second = world.sync_ok();
    let post = seen(&dir, "post");
    let counts: Vec<&str> = ["CREATED_A", "CREATED_B", "UPDATED_A", "UPDATED_B", "FLAGS"]
        .iter()
        .map(|name| post[&format!("PIMLINK_{name}")].as_str())
        .collect();
    assert_eq!(
        counts,
        ["1", "0", "0", "1", "0"],
        "{second}\n{}",
        world.local("c")["e1"]
    );
}

#[test]
fn a_run_of_some_folders_keeps_the_others_in_the_mailbox_list_and_hooks_see_it_current() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("s1")).unwrap();
    server.deliver(&user, "Lists.rust", &message("l1")).unwrap();
    // The post hook keeps a copy of the list as it finds it.
    let (world, list) = listing_world(
        &server,
        "post_sync_hook = \"cp ../mailboxes seen\"",
        "header = \"\"\nperitem = \"{folder:raw}\"\nsep = \",\"",
    );
    let hooks = hook_dir(&world);
    let seen = || fs::read_to_string(hooks.join("seen")).unwrap();
    let sync_in_hooks = |args: &[&str]| {
        let run = Run(world
            .pimlink(&[&["sync"], args].concat())
            .current_dir(&hooks)
            .output()
            .unwrap());
        assert_eq!(run.code(), 0, "{run}");
    };
    sync_in_hooks(&[]);
    assert_eq!(fs::read_to_string(&list).unwrap(), "INBOX,Lists/rust\n");
    assert_eq!(seen(), "INBOX,Lists/rust\n");

    server.deliver(&user, "Archive", &message("a1")).unwrap();
    sync_in_hooks(&["p/Archive"]);
    assert_eq!(
        fs::read_to_string(&list).unwrap(),
        "INBOX,Archive,Lists/rust\n"
    );
    assert_eq!(seen(), "INBOX,Archive,Lists/rust\n");
}

#[test]
fn between_two_imap_accounts_new_mail_is_what_reaches_side_b() {
    let server = DovecotBuilder::new()
        .users(&[("alice", "secret-alice"), ("bob", "secret-bob")])
        .start()
        .unwrap();
    server.deliver("alice", "INBOX", &message("a1")).unwrap();
    server.deliver("alice", "Work", &message("a2")).unwrap();
    server.deliver("bob", "INBOX", &message("b1")).unwrap();
    let world = World::new("");
    let dir = hook_dir(&world);
    let storage = |name: &str, user: &str| {
        format!(
            "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
             user = \"{user}\"\npassword = \"secret-{user}\"\n\n",
            server.host(),
            server.port()
        )
    };
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n{a}{b}[pair.p]\na = \"a\"\nb = \"b\"\n\
         new_mail_hook = \"{hook}\"\n",
        state = world.state_dir().display(),
        a = storage("a", "alice"),
        b = storage("b", "bob"),
        hook = recording_hook(&dir, "new"),
    );
    fs::write(world.config(), config).unwrap();
    sync(&world, &[]);
    let new = seen(&dir, "new");
    assert_eq!(new["PIMLINK_LOCAL_SIDE"], "b");
    assert_eq!(new["PIMLINK_NEW_MAIL"], "2", "alice's two, not bob's one");
    assert_eq!(new["PIMLINK_FOLDERS"], "INBOX\nWork");

    // Mail that reaches only side a is no new mail.
    server.deliver("bob", "INBOX", &message("b2")).unwrap();
    sync(&world, &[]);
    assert_eq!(calls(&dir), ["new"]);
}
