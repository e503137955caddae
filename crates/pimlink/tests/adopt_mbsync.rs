//! Adopting mbsync's tree and state (issue 16): real mbsync (Debian's isync 1.4) syncs a
//! Dovecot account into a Maildir tree, then pimlink takes over.
//!
//! What mbsync 1.4.4 does here (found by running it): it names `Entwürfe` `Entw&APw-rfe` on
//! disk, flattens `Archive/2024` to `Archive.2024` with `Flatten .`, puts `INBOX/Sub` at
//! `<Path>INBOX.Sub` then, keeps `.mbsyncstate` and `.uidvalidity` in each folder with
//! `SyncState *` (a channel's `SyncState DIR/` names each file by the near box, `Lists!rust`),
//! adds `,U=<n>` to every file name and `X-TUID:` to every message it copies.
//!
//! In order: the shared setup (`Switch`: the tree with Flatten, an inbox elsewhere and mbsync
//! 1.4's names), adoption with changes pending on both sides, switching back, the content
//! fallback, the explicit command with a SyncState directory and a UIDVALIDITY change, an
//! interrupted mbsync run, and the measurement (ignored).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::imap::{fetched, message, message_id_of, sync_logging_wire, user_tree};
use common::{Tree, World};
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// mbsync's configuration for `server` and the Maildir `root`; `near` adds lines to the
/// MaildirStore (Flatten, Inbox).
fn mbsyncrc(server: &Dovecot, root: &Path, near: &str, sync_state: &str) -> String {
    format!(
        "IMAPAccount test\nHost {}\nPort {}\nUser {}\nPass {}\nSSLType None\nAuthMechs LOGIN\n\n\
         IMAPStore remote\nAccount test\n\n\
         MaildirStore local\nPath {root}/\nSubFolders Verbatim\n{near}\n\n\
         Channel test\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n\
         SyncState {sync_state}\n",
        server.host(),
        server.port(),
        server.user(),
        server.password(),
        root = root.display(),
    )
}

fn run_mbsync(rc: &Path) -> String {
    run_mbsync_in(rc, None)
}

/// `run_mbsync`, with `HOME` set to `home` (where mbsync keeps its default `SyncState`).
fn run_mbsync_in(rc: &Path, home: Option<&Path>) -> String {
    let mut command = Command::new("mbsync");
    if let Some(home) = home {
        command.env("HOME", home);
    }
    let out = command
        .arg("-c")
        .arg(rc)
        .arg("-a")
        .output()
        .expect("mbsync (Debian package isync) is needed for this test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mbsync failed: {text}");
    text
}

/// A Dovecot account synced by mbsync into a tree with `Flatten .`, the inbox elsewhere and
/// mbsync 1.4's modified-UTF-7 names; pimlink configured for the same tree.
struct Switch {
    server: Dovecot,
    world: World,
    root: PathBuf,
    inbox: PathBuf,
    rc: PathBuf,
}

impl Switch {
    fn new() -> Switch {
        let server = DovecotBuilder::new().start().unwrap();
        let user = server.user().to_owned();
        for (folder, id) in [
            ("INBOX", "i1"),
            ("INBOX", "i2"),
            ("INBOX", "i3"),
            ("INBOX", "i4"),
            ("INBOX", "i5"),
            ("Entwürfe", "d1"),
            ("Entwürfe", "d2"),
            ("Archive.2024", "a1"),
            ("INBOX.Sub", "s1"),
        ] {
            server.deliver(&user, folder, &message(id)).unwrap();
        }
        let world = World::new("");
        let root = world.dir.path().join("Mail");
        let inbox = world.dir.path().join("inbox");
        fs::create_dir_all(&root).unwrap();
        let rc = world.dir.path().join("mbsyncrc");
        let near = format!("Inbox {}\nFlatten .", inbox.display());
        fs::write(&rc, mbsyncrc(&server, &root, &near, "*")).unwrap();
        run_mbsync(&rc);
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
             user = \"{user}\"\npassword = \"{password}\"\nconnections = 1\n\n\
             [storage.b]\ntype = \"maildir\"\npath = \"{root}\"\nflatten = \".\"\n\
             names = \"imap-utf-7\"\ninbox = \"{inbox}\"\n\n\
             [pair.p]\na = \"a\"\nb = \"b\"\n",
            state = world.state_dir().display(),
            host = server.host(),
            port = server.port(),
            password = server.password(),
            root = root.display(),
            inbox = inbox.display(),
        );
        fs::write(world.config(), config).unwrap();
        Switch {
            server,
            world,
            root,
            inbox,
            rc,
        }
    }

    /// Every message file: folder (pimlink's name) -> Message-ID -> files.
    fn files(&self) -> BTreeMap<String, BTreeMap<String, Vec<LocalFile>>> {
        let mut out: BTreeMap<String, BTreeMap<String, Vec<LocalFile>>> = BTreeMap::new();
        let mut dirs = vec![("INBOX".to_owned(), self.inbox.clone())];
        for entry in fs::read_dir(&self.root).unwrap() {
            let path = entry.unwrap().path();
            let dir = path.file_name().unwrap().to_str().unwrap().to_owned();
            let levels: Vec<String> = dir
                .split('.')
                .map(|level| pimlink_core::utf7::decode(level).unwrap())
                .collect();
            dirs.push((levels.join("/"), path));
        }
        for (folder, dir) in dirs {
            let messages = out.entry(folder).or_default();
            for sub in ["cur", "new"] {
                for entry in fs::read_dir(dir.join(sub)).unwrap() {
                    let path = entry.unwrap().path();
                    let meta = fs::metadata(&path).unwrap();
                    let id = message_id_of(&fs::read(&path).unwrap());
                    messages.entry(id).or_default().push(LocalFile {
                        name: path.file_name().unwrap().to_str().unwrap().to_owned(),
                        inode: meta.ino(),
                        mtime: meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                    });
                }
            }
        }
        out
    }

    fn server_tree(&self) -> Tree {
        user_tree(&self.server, self.server.user(), self.server.password())
    }

    fn doveadm(&self, args: &[&str]) {
        let mut full = vec![args[0], args[1], "-u", self.server.user()];
        full.extend_from_slice(&args[2..]);
        self.server.doveadm(&full).unwrap();
    }

    /// The file of message `id` in `folder` (there must be exactly one).
    fn file(&self, folder: &str, id: &str) -> PathBuf {
        let files = &self.files()[folder][id];
        assert_eq!(files.len(), 1, "{folder}/{id}: {files:?}");
        let dir = if folder == "INBOX" {
            self.inbox.clone()
        } else {
            let levels: Vec<String> = folder.split('/').map(pimlink_core::utf7::encode).collect();
            self.root.join(levels.join("."))
        };
        ["cur", "new"]
            .iter()
            .map(|sub| dir.join(sub).join(&files[0].name))
            .find(|path| path.exists())
            .unwrap()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct LocalFile {
    name: String,
    inode: u64,
    mtime: i64,
}

/// Message-ID -> flags of each copy, of one folder of a server tree.
fn folder<'t>(tree: &'t Tree, name: &str) -> &'t BTreeMap<String, Vec<String>> {
    tree.get(name)
        .unwrap_or_else(|| panic!("no folder {name} in {tree:?}"))
}

/// Issue 16: after mbsync, pimlink's first sync takes over mbsync's state: it downloads no
/// known message, renames or rewrites no local file it has no change for, syncs what changed
/// on both sides since mbsync's last run, and sees mbsync's odd names (Flatten, modified
/// UTF-7, the inbox elsewhere) as the same folders.
#[test]
fn pimlink_continues_from_mbsyncs_last_run() {
    let switch = Switch::new();
    // Changes since mbsync's last run. On the server: i1 flagged, i2 expunged, n1 new.
    switch.doveadm(&["flags", "add", "\\Flagged", "mailbox", "INBOX", "uid", "1"]);
    switch.doveadm(&["expunge", "mailbox", "INBOX", "uid", "2"]);
    switch
        .server
        .deliver(switch.server.user(), "INBOX", &message("n1"))
        .unwrap();
    // Locally: i3 read (a mail reader renames it), i4 deleted, l1 new (in Entwürfe).
    let i3 = switch.file("INBOX", "i3");
    let i3_read = PathBuf::from(format!("{}S", i3.display()).replace("/new/", "/cur/"));
    fs::rename(&i3, &i3_read).unwrap();
    fs::remove_file(switch.file("INBOX", "i4")).unwrap();
    common::deliver(&switch.root.join("Entw&APw-rfe"), "l1", "");
    let before = switch.files();

    // A dry run adopts nothing and says what a real run would adopt.
    let dry = switch.world.run(&["sync", "--dry-run"]);
    assert!(
        dry.stdout()
            .contains("a real run adopts mbsync's state first (4 folders, 9 messages)"),
        "{dry}"
    );
    assert_eq!(switch.files(), before);

    let run = sync_logging_wire(&switch.world);
    assert!(
        run.stdout()
            .contains("p: adopted mbsync's state: 4 folders, 9 messages paired"),
        "{run}"
    );
    // Nothing known was downloaded: the only body fetched is the new server message's.
    let bodies: Vec<_> = fetched(&run)
        .into_iter()
        .filter(|f| f.body.is_some())
        .collect();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0].folder, "INBOX");

    let after = switch.files();
    // Untouched: every file pimlink had no change for (name, inode, mtime).
    for (folder, id) in [
        ("INBOX", "i3"),
        ("INBOX", "i5"),
        ("Entwürfe", "d1"),
        ("Entwürfe", "d2"),
        ("Archive/2024", "a1"),
        ("INBOX/Sub", "s1"),
    ] {
        assert_eq!(after[folder][id], before[folder][id], "{folder}/{id}");
    }
    // The new local message pimlink uploaded is numbered for mbsync (`,U=`), as mbsync numbers
    // new files itself: the same file (inode, mtime), its name only extended.
    let (l1_before, l1_after) = (&before["Entwürfe"]["l1"][0], &after["Entwürfe"]["l1"][0]);
    assert_eq!(
        (l1_after.inode, l1_after.mtime),
        (l1_before.inode, l1_before.mtime)
    );
    assert!(
        l1_after.name.starts_with(&format!("{},U=", l1_before.name)),
        "{l1_after:?}"
    );
    // Synced: the server's changes here, the local ones there.
    assert!(
        after["INBOX"]["i1"][0].name.ends_with(":2,F"),
        "{:?}",
        after["INBOX"]["i1"]
    );
    assert!(!after["INBOX"].contains_key("i2"));
    assert_eq!(after["INBOX"]["n1"].len(), 1);
    let server = switch.server_tree();
    let inbox = folder(&server, "INBOX");
    assert_eq!(inbox["i3"], ["S"]);
    assert!(!inbox.contains_key("i4"), "{inbox:?}");
    assert_eq!(inbox["i1"], ["F"]);
    assert_eq!(folder(&server, "Entwürfe")["l1"], [""]);
    assert!(!server.contains_key("Entw&APw-rfe"), "{server:?}");
    assert_eq!(folder(&server, "Archive/2024").len(), 1);
    // Converged: a second run has nothing to do.
    let again = switch.world.sync_ok();
    assert!(!again.stdout().contains("copied"), "{again}");
}

/// Message-ID -> number of copies, over every folder of a tree.
fn counts(tree: &Tree) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (folder, messages) in tree {
        for (id, copies) in messages {
            *out.entry(format!("{folder}/{id}")).or_default() += copies.len();
        }
    }
    out
}

/// Issue 16, switching back: pimlink keeps mbsync's state in the tree true (a `,U=` for each
/// file it wrote, a record for each message it transferred), so mbsync, run after pimlink
/// synced changes on both sides and a new folder, finds nothing to copy, delete or rename;
/// and pimlink, run after mbsync, finds nothing either.
#[test]
fn switching_back_to_mbsync_and_again_to_pimlink_copies_nothing() {
    let switch = Switch::new();
    let user = switch.server.user().to_owned();
    switch
        .server
        .deliver(&user, "INBOX", &message("n1"))
        .unwrap();
    switch.server.deliver(&user, "Neu", &message("f1")).unwrap();
    common::deliver(&switch.root.join("Entw&APw-rfe"), "l1", "S");
    switch.doveadm(&["flags", "add", "\\Flagged", "mailbox", "INBOX", "uid", "1"]);
    let first = switch.world.sync_ok();
    assert!(first.stdout().contains("copied"), "{first}");
    let server_after_pimlink = switch.server_tree();
    let local_after_pimlink = switch.files();
    // Every file pimlink wrote now carries mbsync's `,U=`.
    let unnumbered: Vec<&LocalFile> = local_after_pimlink
        .values()
        .flat_map(|messages| messages.values().flatten())
        .filter(|file| !file.name.contains(",U="))
        .collect();
    assert!(unnumbered.is_empty(), "{unnumbered:?}");

    let mbsync = run_mbsync(&switch.rc);
    assert_eq!(
        switch.server_tree(),
        server_after_pimlink,
        "mbsync changed the server after pimlink: {mbsync}"
    );
    assert_eq!(
        switch.files(),
        local_after_pimlink,
        "mbsync renamed, wrote or removed local files after pimlink: {mbsync}"
    );

    // While on mbsync again, the user gets mail and reads some; then back to pimlink.
    switch
        .server
        .deliver(&user, "INBOX", &message("n2"))
        .unwrap();
    run_mbsync(&switch.rc);
    let server_after_mbsync = switch.server_tree();
    let run = switch.world.sync_ok();
    assert!(
        !run.stdout().contains("copied") && !run.stdout().contains("deleted"),
        "{run}"
    );
    assert_eq!(switch.server_tree(), server_after_mbsync, "{run}");
    assert_eq!(folder(&server_after_mbsync, "INBOX").len(), 7);
    let quiet = run_mbsync(&switch.rc);
    assert_eq!(switch.server_tree(), server_after_mbsync, "{quiet}");
}

/// mbsync's default `SyncState` (`~/.mbsync/`, no `SyncState` line in `~/.mbsyncrc`): the
/// first pimlink sync finds the channel's files there through mbsync's configuration (the
/// store whose `Path` is the tree) and adopts them, and after pimlink synced changes on both
/// sides, mbsync run again has nothing to copy.
#[test]
fn mbsyncs_default_sync_state_directory_is_adopted_and_handed_back() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for (folder, id) in [("INBOX", "i1"), ("INBOX", "i2"), ("Archive", "a1")] {
        server.deliver(&user, folder, &message(id)).unwrap();
    }
    let world = World::new("");
    let home = world.dir.path().join("home");
    let root = world.dir.path().join("Mail");
    let inbox = root.join("INBOX");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&home).unwrap();
    let rc = home.join(".mbsyncrc");
    let text = mbsyncrc(&server, &root, &format!("Inbox {}", inbox.display()), "")
        .replace("SyncState \n", "");
    fs::write(&rc, text).unwrap();
    let mbsync = || run_mbsync_in(&rc, Some(&home));
    mbsync();
    let states: Vec<String> = fs::read_dir(home.join(".mbsync"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        states
            .iter()
            .any(|name| name.starts_with(":remote:INBOX_:local:")),
        "{states:?}"
    );
    fs::write(
        world.config(),
        format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
             user = \"{user}\"\npassword = \"{password}\"\nconnections = 1\n\n\
             [storage.b]\ntype = \"maildir\"\npath = \"{root}\"\n\n\
             [pair.p]\na = \"a\"\nb = \"b\"\n",
            state = world.state_dir().display(),
            host = server.host(),
            port = server.port(),
            password = server.password(),
            root = root.display(),
        ),
    )
    .unwrap();
    let pimlink = || {
        let run = common::Run(
            world
                .pimlink(&["sync"])
                .env("HOME", &home)
                .output()
                .unwrap(),
        );
        assert_eq!(run.code(), 0, "{run}");
        run
    };
    server.deliver(&user, "INBOX", &message("n1")).unwrap();
    common::deliver(&root.join("Archive"), "l1", "S");
    let first = pimlink();
    assert!(
        first
            .stdout()
            .contains("adopted mbsync's state: 2 folders, 3 messages paired"),
        "{first}"
    );
    assert!(first.stdout().contains("copied"), "{first}");
    let server_after = user_tree(&server, &user, server.password());
    let log = mbsync();
    assert_eq!(
        user_tree(&server, &user, server.password()),
        server_after,
        "{log}"
    );
    let local: usize = ["INBOX", "Archive"]
        .iter()
        .map(|folder| {
            ["cur", "new"]
                .iter()
                .map(|sub| fs::read_dir(root.join(folder).join(sub)).unwrap().count())
                .sum::<usize>()
        })
        .sum();
    assert_eq!(
        local, 5,
        "mbsync copied messages pimlink had transferred: {log}"
    );
    let again = pimlink();
    assert!(
        !again.stdout().contains("copied") && !again.stdout().contains("deleted"),
        "{again}"
    );
}

/// `pimlink adopt PAIR --from mbsync DIR` reads the channel's files in a `SyncState DIR/`
/// directory, refuses a pair that has state unless `--force`, and a server folder whose
/// UIDVALIDITY changed (and that mbsync already re-synced) is adopted with its new one.
#[test]
fn explicit_adoption_from_a_sync_state_directory() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for id in ["i1", "i2", "i3"] {
        server.deliver(&user, "INBOX", &message(id)).unwrap();
    }
    server.deliver(&user, "Lists.rust", &message("r1")).unwrap();
    let world = World::new("");
    let root = world.dir.path().join("Mail");
    let states = world.dir.path().join("mbsync-state");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&states).unwrap();
    let rc = world.dir.path().join("mbsyncrc");
    let near = format!("Inbox {}/INBOX", root.display());
    fs::write(
        &rc,
        mbsyncrc(&server, &root, &near, &format!("{}/", states.display())),
    )
    .unwrap();
    run_mbsync(&rc);
    // The server renumbers INBOX; mbsync's next run notices and re-pairs it.
    server
        .doveadm(&[
            "mailbox",
            "update",
            "-u",
            &user,
            "--uid-validity",
            "4242",
            "INBOX",
        ])
        .unwrap();
    let mbsync = run_mbsync(&rc);
    assert!(
        mbsync.contains("Recovered from change of UIDVALIDITY"),
        "{mbsync}"
    );
    // A channel's own SyncState directory names each file by the near box.
    assert!(states.join("Lists!rust").is_file());

    common::imap::write_imap_maildir_config(&world, &server, "connections = 1", "", "");
    let config = fs::read_to_string(world.config())
        .unwrap()
        .replace(
            &world.root("b").display().to_string(),
            &root.display().to_string(),
        )
        .replace("[pair.p]\n", "[pair.p]\nadopt = \"never\"\n");
    fs::write(world.config(), config).unwrap();
    let states_arg = states.display().to_string();
    let adopt = world.run(&["adopt", "p", "--from", "mbsync", &states_arg]);
    assert_eq!(adopt.code(), 0, "{adopt}");
    assert!(
        adopt
            .stdout()
            .contains("adopted mbsync's state: 2 folders, 4 messages"),
        "{adopt}"
    );
    // Once the pair has state, adopting again needs --force.
    let again = world.run(&["adopt", "p", "--from", "mbsync", &states_arg]);
    assert_ne!(again.code(), 0, "{again}");
    assert!(again.stderr().contains("--force"), "{again}");
    let forced = world.run(&["adopt", "p", "--from", "mbsync", &states_arg, "--force"]);
    assert_eq!(forced.code(), 0, "{forced}");

    let run = sync_logging_wire(&world);
    let bodies: Vec<_> = fetched(&run)
        .into_iter()
        .filter(|f| f.body.is_some())
        .collect();
    assert!(bodies.is_empty(), "{bodies:?}\n{run}");
    assert!(!run.stdout().contains("copied"), "{run}");
    let tree = user_tree(&server, &user, server.password());
    assert_eq!(counts(&tree).values().sum::<usize>(), 4, "{tree:?}");
}

/// A journal left by an interrupted mbsync run: its folder is left to content matching, with
/// a warning saying what to do; the other folders are adopted.
#[test]
fn an_interrupted_mbsync_run_is_not_adopted() {
    let switch = Switch::new();
    fs::write(switch.inbox.join(".mbsyncstate.journal"), "3\n").unwrap();
    let run = switch.world.sync_ok();
    assert!(
        run.stderr().contains("run mbsync once more") && run.stderr().contains("folder INBOX"),
        "{run}"
    );
    assert!(
        run.stdout().contains("adopted mbsync's state: 3 folders"),
        "{run}"
    );
    assert!(!run.stdout().contains("copied"), "{run}");
}

/// Without mbsync's state (`adopt = "never"`, or a folder it has none for), the fallback
/// matches messages by content, and that must see through the `X-TUID:` header mbsync adds to
/// every message it downloads. Before, every message was copied both ways (9 and 9 here).
#[test]
fn content_matching_recognises_what_mbsync_downloaded() {
    let switch = Switch::new();
    let config = fs::read_to_string(switch.world.config())
        .unwrap()
        .replace("[pair.p]\n", "[pair.p]\nadopt = \"never\"\n");
    fs::write(switch.world.config(), config).unwrap();
    let run = switch.world.sync_ok();
    assert!(!run.stdout().contains("adopted"), "{run}");
    assert!(
        run.stdout().contains("4 collections, changed: nothing"),
        "{run}"
    );
}

/// Issue 16's measurement: the first pimlink run after adopting an mbsync tree of N messages
/// (`PIMLINK_ADOPT_MESSAGES`, default 2,000; the issue asks for 20,000): bytes the server sent
/// (target: no message body) and its time against a no-change run (target: at most 2x).
/// Prints the numbers for bench/RESULTS.md; asserts only the bytes (no timing assertion).
#[test]
#[ignore = "a measurement: PIMLINK_ADOPT_MESSAGES=20000 cargo nextest run -p pimlink --test adopt_mbsync measure --run-ignored only --no-capture"]
fn measure_the_first_run_after_adopting_an_mbsync_tree() {
    let total: usize = std::env::var("PIMLINK_ADOPT_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    let folders = ["INBOX", "Archive.2023", "Archive.2024", "Lists.rust"];
    let mut body_bytes = 0;
    for (index, folder) in folders.iter().enumerate() {
        let messages: Vec<Vec<u8>> = (0..total / folders.len())
            .map(|i| common::imap::sized_message(&format!("m{index}-{i}"), 2048))
            .collect();
        body_bytes += messages.iter().map(Vec::len).sum::<usize>();
        server
            .deliver_many(&user, folder, messages.iter().map(Vec::as_slice))
            .unwrap();
    }
    let world = World::new("");
    let root = world.dir.path().join("Mail");
    fs::create_dir_all(&root).unwrap();
    let rc = world.dir.path().join("mbsyncrc");
    let near = format!("Inbox {}/INBOX", root.display());
    fs::write(&rc, mbsyncrc(&server, &root, &near, "*")).unwrap();
    let started = std::time::Instant::now();
    run_mbsync(&rc);
    let mbsync_time = started.elapsed();

    let proxy = pimlink_testkit::CutProxy::start(server.port()).unwrap();
    proxy.pass_all();
    common::imap::write_imap_maildir_config_via(&world, &server, proxy.port(), ("", "", ""));
    let config = fs::read_to_string(world.config()).unwrap().replace(
        &world.root("b").display().to_string(),
        &root.display().to_string(),
    );
    fs::write(world.config(), config).unwrap();
    let received = |proxy: &pimlink_testkit::CutProxy| -> u64 {
        proxy.connections().iter().map(|c| c.to_client).sum()
    };

    let started = std::time::Instant::now();
    let adopt = world.sync_ok();
    let adopt_time = started.elapsed();
    let adopt_bytes = received(&proxy);
    assert!(adopt.stdout().contains("adopted mbsync's state"), "{adopt}");
    assert!(!adopt.stdout().contains("copied"), "{adopt}");

    let started = std::time::Instant::now();
    world.sync_ok();
    let nochange_time = started.elapsed();
    let nochange_bytes = received(&proxy) - adopt_bytes;
    // A no-change run that must list every folder's flags, as the first run after an adoption
    // must (the adopted state has no HIGHESTMODSEQ): the listing states reduced to the
    // UIDVALIDITY and the settled records dropped.
    let db = world.state_dir().join("p.sqlite");
    common::sqlite(
        &db,
        "UPDATE collections SET state_a = substr(state_a, 1, instr(state_a || ' uidnext', ' uidnext') - 1); \
         DELETE FROM mail_settled;",
    );
    let started = std::time::Instant::now();
    world.sync_ok();
    let full_listing_time = started.elapsed();
    let started = std::time::Instant::now();
    run_mbsync(&rc);
    let mbsync_nochange = started.elapsed();
    println!(
        "MEASURED {total} messages ({body_bytes} bytes of mail), debug build: mbsync initial \
         {mbsync_time:?}, mbsync no-change {mbsync_nochange:?}; pimlink first run after \
         adoption {adopt_time:?}, {adopt_bytes} bytes from the server; no-change run \
         {nochange_time:?}, {nochange_bytes} bytes (ratio {:.2}); no-change run listing every \
         folder {full_listing_time:?} (ratio {:.2})",
        adopt_time.as_secs_f64() / nochange_time.as_secs_f64(),
        adopt_time.as_secs_f64() / full_listing_time.as_secs_f64()
    );
    // No message body: the server sent far less than one byte per byte of mail.
    assert!(
        (adopt_bytes as usize) < body_bytes / 4,
        "{adopt_bytes} bytes received for {body_bytes} bytes of mail"
    );
}
