//! Switching from vdirsyncer (issue 16): vdirsyncer syncs a Radicale account (a calendar and
//! an address book) into a vdir; changes are then made on both sides; pimlink's first sync of
//! the same vdir takes over vdirsyncer's status instead of matching by UID.
//!
//! What it must show: no item unchanged since vdirsyncer's run is fetched from the server (a
//! counting proxy sits in front of Radicale, and unchanged items are padded so that fetching
//! one would show), no local file is renamed or rewritten (name, inode and mtime kept), the
//! changes on both sides are carried over (deletions included, which matching by UID would
//! undo), and vdirsyncer, run afterwards, has nothing to do.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Run;
use common::dav::{fields_in, items_in, remote};
use pimlink_testkit::{Cut, CutProxy, Direction, Radicale};

/// One line of padding; [`PAD_LINES`] of them make an unchanged item large.
const PAD: &str = "X-PAD:0123456789012345678901234567890123456789012345678901234567890123";
const PAD_LINES: usize = 300;

fn event(uid: &str, summary: &str, padded: bool) -> String {
    let pad = if padded {
        format!("{PAD}\r\n").repeat(PAD_LINES)
    } else {
        String::new()
    };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n\
         SUMMARY:{summary}\r\n{pad}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn card(uid: &str, name: &str, padded: bool) -> String {
    let pad = if padded {
        format!("{PAD}\r\n").repeat(PAD_LINES)
    } else {
        String::new()
    };
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\n{pad}END:VCARD\r\n"
    )
}

/// uid -> FN of every contact in a directory.
fn cards_in(dir: &Path) -> BTreeMap<String, String> {
    fields_in(dir, "FN:")
}

/// What khal or notmuch-like readers notice of a file: its name, inode and mtime.
fn stamps(dir: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        if meta.is_file() {
            out.insert(
                entry.file_name().to_string_lossy().into_owned(),
                (meta.ino(), meta.mtime(), meta.mtime_nsec()),
            );
        }
    }
    out
}

/// Writes a file as editors and khal do: a new file renamed over the old one.
fn edit(path: &Path, text: &str) {
    let temp = path.with_extension("tmp-edit");
    fs::write(&temp, text).unwrap();
    fs::rename(&temp, path).unwrap();
}

struct Setup {
    server: Radicale,
    proxy: CutProxy,
    dir: tempfile::TempDir,
}

impl Setup {
    fn vdir(&self, kind: &str, collection: &str) -> PathBuf {
        self.dir.path().join(kind).join(collection)
    }

    fn data_home(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn vdirsyncer(&self, args: &[&str]) -> String {
        let out = Command::new("vdirsyncer")
            .env("VDIRSYNCER_CONFIG", self.dir.path().join("vdirsyncer.conf"))
            .env("XDG_DATA_HOME", self.data_home())
            .args(args)
            .output()
            .expect("vdirsyncer (Debian package vdirsyncer) is installed");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "vdirsyncer {args:?}: {text}");
        text
    }

    fn pimlink(&self, args: &[&str]) -> Run {
        Run(
            common::pimlink_with(&self.dir.path().join("pimlink.toml"), args)
                .env("XDG_DATA_HOME", self.data_home())
                .output()
                .unwrap(),
        )
    }

    fn put(&self, path: &str, content_type: &str, body: &str) {
        self.server
            .put(path, content_type, body.as_bytes())
            .unwrap();
    }

    fn delete(&self, path: &str) {
        let response = self.server.request("DELETE", path, &[], b"").unwrap();
        assert!(response.status < 300, "DELETE {path}: {}", response.status);
    }

    /// How many PUT requests Radicale has logged so far (uploads of items).
    fn puts(&self) -> usize {
        self.server.log().matches("PUT request").count()
    }

    fn bytes_from_server(&self) -> u64 {
        self.proxy.connections().iter().map(|c| c.to_client).sum()
    }
}

/// A Radicale account with calendar `work` and address book `people`, synced by vdirsyncer
/// into `cal/` and `cards/` under its default status directory (`$XDG_DATA_HOME`).
fn synced_by_vdirsyncer() -> Setup {
    let server = Radicale::start().unwrap();
    let user = server.user().to_owned();
    server.create_calendar("work").unwrap();
    server.create_addressbook("people").unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup { server, proxy, dir };
    for uid in [
        "keep1", "keep2", "keep3", "srvedit", "srvdel", "locedit", "locdel",
    ] {
        let padded = uid.starts_with("keep");
        setup.put(
            &format!("/{user}/work/{uid}.ics"),
            "text/calendar",
            &event(uid, &format!("{uid} v1"), padded),
        );
        setup.put(
            &format!("/{user}/people/c-{uid}.vcf"),
            "text/vcard",
            &card(&format!("c-{uid}"), &format!("{uid} v1"), padded),
        );
    }
    // A second calendar, for a first sync that reaches only one of them.
    setup.server.create_calendar("home").unwrap();
    for uid in ["h1", "h2"] {
        setup.put(
            &format!("/{user}/home/{uid}.ics"),
            "text/calendar",
            &event(uid, &format!("{uid} v1"), false),
        );
    }
    let root = setup.dir.path();
    fs::create_dir_all(setup.vdir("cal", "home")).unwrap();
    fs::create_dir_all(setup.vdir("cal", "work")).unwrap();
    fs::create_dir_all(setup.vdir("cards", "people")).unwrap();
    let storages = |kind: &str, dav: &str, ext: &str| {
        format!(
            "[pair {kind}]\na = \"{kind}_remote\"\nb = \"{kind}_local\"\ncollections = [\"from a\"]\n\n\
             [storage {kind}_remote]\ntype = \"{dav}\"\nurl = \"{url}\"\nusername = \"{user}\"\n\
             password = \"{password}\"\n\n[storage {kind}_local]\ntype = \"filesystem\"\n\
             path = \"{path}\"\nfileext = \"{ext}\"\n\n",
            url = setup.server.url(),
            password = setup.server.password(),
            path = root.join(kind).display(),
        )
    };
    fs::write(
        root.join("vdirsyncer.conf"),
        format!(
            "[general]\nstatus_path = \"{}\"\n\n{}{}",
            setup.data_home().join("vdirsyncer/status").display(),
            storages("cal", "caldav", ".ics"),
            storages("cards", "carddav", ".vcf"),
        ),
    )
    .unwrap();
    setup.vdirsyncer(&["discover"]);
    setup.vdirsyncer(&["sync"]);
    assert_eq!(items_in(&setup.vdir("cal", "work")).len(), 7);
    assert_eq!(cards_in(&setup.vdir("cards", "people")).len(), 7);

    // pimlink on the same tree, through the proxy; its state directory is empty.
    let url = format!("http://127.0.0.1:{}/", setup.proxy.port());
    let storage = |name: &str, kind: &str, path: &str, ext: &str| {
        format!(
            "[storage.{name}_remote]\ntype = \"{kind}\"\nurl = \"{url}\"\nuser = \"{user}\"\n\
             password_cmd = \"echo {password}\"\n\n[storage.{name}_local]\ntype = \"vdir\"\n\
             path = \"{path}\"\nfileext = \"{ext}\"\n\n[pair.{name}]\na = \"{name}_remote\"\n\
             b = \"{name}_local\"\n\n",
            password = setup.server.password(),
            path = root.join(path).display(),
        )
    };
    fs::write(
        root.join("pimlink.toml"),
        format!(
            "[general]\nstate_dir = \"{}\"\n\n{}{}",
            root.join("state").display(),
            storage("cal", "caldav", "cal", ".ics"),
            storage("cards", "carddav", "cards", ".vcf"),
        ),
    )
    .unwrap();
    setup
}

#[test]
fn the_first_sync_takes_over_vdirsyncers_status_transferring_and_rewriting_nothing_unchanged() {
    let setup = synced_by_vdirsyncer();
    let user = setup.server.user().to_owned();
    let cal = setup.vdir("cal", "work");
    let cards = setup.vdir("cards", "people");

    // Since vdirsyncer's run: an edit, a deletion and a new item on each side.
    setup.put(
        &format!("/{user}/work/srvedit.ics"),
        "text/calendar",
        &event("srvedit", "srvedit v2", false),
    );
    setup.delete(&format!("/{user}/work/srvdel.ics"));
    setup.put(
        &format!("/{user}/work/srvnew.ics"),
        "text/calendar",
        &event("srvnew", "srvnew v1", false),
    );
    edit(
        &cal.join("locedit.ics"),
        &event("locedit", "locedit v2", false),
    );
    fs::remove_file(cal.join("locdel.ics")).unwrap();
    edit(
        &cal.join("locnew.ics"),
        &event("locnew", "locnew v1", false),
    );
    setup.put(
        &format!("/{user}/people/c-srvedit.vcf"),
        "text/vcard",
        &card("c-srvedit", "srvedit v2", false),
    );
    setup.delete(&format!("/{user}/people/c-srvdel.vcf"));
    edit(
        &cards.join("c-locedit.vcf"),
        &card("c-locedit", "locedit v2", false),
    );
    fs::remove_file(cards.join("c-locdel.vcf")).unwrap();

    let before = (stamps(&cal), stamps(&cards));
    let puts = setup.puts();
    let run = setup.pimlink(&["sync"]);
    assert_eq!(run.code(), 0, "{run}");
    // Uploaded: the local edits and the new event only (locedit, locnew, c-locedit).
    assert_eq!(setup.puts() - puts, 3, "{run}\n{}", setup.server.log());
    assert!(
        run.stdout().contains("taking over vdirsyncer's state"),
        "one line says so:\n{run}"
    );
    assert!(
        !run.stderr().contains("matched"),
        "no matching by UID:\n{run}"
    );

    // No unchanged item came from the server: one padded item alone is more than all it sent.
    let padded = event("keep1", "keep1 v1", true).len() as u64;
    let received = setup.bytes_from_server();
    assert!(
        received < padded,
        "{received} bytes from the server, an unchanged item has {padded}:\n{run}\n{}",
        setup.server.log()
    );
    assert!(
        !setup.server.log().contains("GET request"),
        "{}",
        setup.server.log()
    );

    // Unchanged files untouched: same names, inodes and mtimes.
    let after = (stamps(&cal), stamps(&cards));
    for (name, stamp) in &before.0 {
        if name.starts_with("keep") || name.starts_with("locedit") || name.starts_with("locnew") {
            assert_eq!(
                after.0.get(name),
                Some(stamp),
                "{name} was rewritten:\n{run}"
            );
        }
    }
    for (name, stamp) in &before.1 {
        if name.starts_with("c-keep") || name.starts_with("c-locedit") {
            assert_eq!(
                after.1.get(name),
                Some(stamp),
                "{name} was rewritten:\n{run}"
            );
        }
    }

    // Both sides' changes arrived, deletions included.
    let expected: BTreeMap<String, String> = [
        ("keep1", "keep1 v1"),
        ("keep2", "keep2 v1"),
        ("keep3", "keep3 v1"),
        ("srvedit", "srvedit v2"),
        ("srvnew", "srvnew v1"),
        ("locedit", "locedit v2"),
        ("locnew", "locnew v1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(items_in(&cal), expected, "{run}");
    let radicale = |name: &str| {
        setup
            .server
            .storage_dir()
            .join("collection-root")
            .join(&user)
            .join(name)
    };
    assert_eq!(items_in(&radicale("work")), expected, "{run}");
    let expected_cards: BTreeMap<String, String> = [
        ("c-keep1", "keep1 v1"),
        ("c-keep2", "keep2 v1"),
        ("c-keep3", "keep3 v1"),
        ("c-srvedit", "srvedit v2"),
        ("c-locedit", "locedit v2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(cards_in(&cards), expected_cards, "{run}");
    assert_eq!(cards_in(&radicale("people")), expected_cards, "{run}");

    // pimlink has nothing more to do, and neither has vdirsyncer: the user can go back.
    let again = setup.pimlink(&["sync"]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(!again.stdout().contains("taking over"), "{again}");
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    let quiet = (stamps(&cal), stamps(&cards));
    let theirs = setup.vdirsyncer(&["sync"]);
    // Items both tools changed alike only update vdirsyncer's status ("same content on both
    // sides"); anything copied, deleted or in conflict would be work left.
    for word in ["Copying", "Deleting", "Updating"] {
        assert!(!theirs.contains(word), "vdirsyncer had work left: {theirs}");
    }
    assert_eq!(
        theirs.matches("Doing conflict resolution").count(),
        theirs.matches("same content on both sides").count(),
        "vdirsyncer found a conflict: {theirs}"
    );
    assert_eq!(
        (stamps(&cal), stamps(&cards)),
        quiet,
        "vdirsyncer rewrote files: {theirs}"
    );
    let settled = setup.vdirsyncer(&["sync"]);
    assert!(!settled.contains("conflict"), "{settled}");
}

/// How many `method` requests for `path` Radicale logged in `log`.
fn requests(log: &str, method: &str, path: &str) -> usize {
    log.matches(&format!("{method} request for '{path}'"))
        .count()
}

#[test]
fn the_first_sync_reads_no_file_unchanged_since_vdirsyncer_and_lists_each_collection_once() {
    let setup = synced_by_vdirsyncer();
    let user = setup.server.user().to_owned();
    let work = setup.vdir("cal", "work");
    let home = setup.vdir("cal", "home");

    // keep1's bytes replaced in place by bytes no reader takes (not UTF-8), its mtime put
    // back: vdirsyncer's etag (mtime;inode) still describes it, so a run that trusts that etag
    // never notices, and one that reads the file fails on it.
    let keep1 = work.join("keep1.ics");
    let before = stamps(&work)["keep1.ics"];
    let modified = fs::metadata(&keep1).unwrap().modified().unwrap();
    let mut file = fs::OpenOptions::new().write(true).open(&keep1).unwrap();
    let size = file.metadata().unwrap().len();
    file.write_all(&vec![0xff; usize::try_from(size).unwrap()])
        .unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    assert_eq!(stamps(&work)["keep1.ics"], before);

    // On the server, h1 moved its etag without changing its content (only DTSTAMP, which
    // pimlink's content hash ignores): it is fetched, and its unread local file is read and
    // found the same, so it is not rewritten.
    setup.put(
        &format!("/{user}/home/h1.ics"),
        "text/calendar",
        &event("h1", "h1 v1", false).replace("DTSTAMP:20240101", "DTSTAMP:20250101"),
    );
    let home_before = stamps(&home);

    let logged = setup.server.log().len();
    let puts = setup.puts();
    let run = setup.pimlink(&["sync"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stdout().contains("taking over vdirsyncer's state"),
        "{run}"
    );
    assert_eq!(setup.puts(), puts, "nothing to upload:\n{run}");
    assert_eq!(stamps(&home), home_before, "h1 was rewritten:\n{run}");
    assert_eq!(stamps(&work)["keep1.ics"], before, "{run}");

    // Each collection unchanged on the server was asked once: one sync-collection REPORT (which
    // also gives the token the next run starts from), no PROPFIND of its items, no GET.
    let log = setup.server.log()[logged..].to_owned();
    for collection in ["work", "people"] {
        let path = format!("/{user}/{collection}/");
        assert_eq!(requests(&log, "REPORT", &path), 1, "{path}:\n{run}\n{log}");
        assert_eq!(
            requests(&log, "PROPFIND", &path),
            0,
            "{path}:\n{run}\n{log}"
        );
    }
    assert!(!log.contains("GET request"), "{log}");

    let again = setup.pimlink(&["sync"]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn a_first_sync_lists_its_collections_on_the_server_together() {
    let setup = synced_by_vdirsyncer();
    // The pair's discovery (principal, home set, the home's collections) passes; of every
    // later request Radicale gets one byte only, so it never answers and each listing the
    // run sends stays open, until Radicale gives up on it.
    const DISCOVERY: usize = 3;
    // A listing pimlink gave up on (the default timeout is a minute) would let the next start.
    let config = setup.dir.path().join("pimlink.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace("password_cmd =", "timeout = 3600\npassword_cmd ="),
    )
    .unwrap();
    let first = setup.proxy.connections().len();
    setup.proxy.set_plan(move |index| {
        if index < first + DISCOVERY {
            Cut::Never
        } else {
            Cut::StallAfter {
                bytes: 1,
                direction: Direction::ToServer,
            }
        }
    });
    let mut child = common::pimlink_with(&config, &["sync", "cal"])
        .env("XDG_DATA_HOME", setup.data_home())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let listings = || -> Vec<pimlink_testkit::ConnectionRecord> {
        setup
            .proxy
            .connections()
            .into_iter()
            .filter(|c| c.index >= first + DISCOVERY && c.to_server > 0)
            .collect()
    };
    // Waits for two listings, or for the first to end: one sent after another ended was not
    // in flight together with it. The deadline only turns a hang into a failure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let mut seen = listings();
    while seen.len() < 2 && !seen.iter().any(|c| c.ended) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        seen = listings();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.len() == 2 && seen.iter().all(|c| !c.ended),
        "calendars work and home were not listed together: {seen:?}"
    );
}

/// pimsync cannot be built here (its source is not reachable), so its status is written the
/// way vstorage writes it (`collections`, `items`; vdir hrefs `collection/file`, vdir etags
/// `mtime seconds;inode`), describing the tree vdirsyncer synced, as if pimsync had synced it.
fn write_pimsync_status(setup: &Setup, db: &Path) {
    let user = setup.server.user();
    let vdirsyncer_status = setup.data_home().join("vdirsyncer/status/cal/work.items");
    let rows = common::sqlite(
        &vdirsyncer_status,
        "SELECT ident, href_a, etag_a, href_b FROM status ORDER BY ident",
    );
    let mut sql = String::from(
        "CREATE TABLE meta (version INTEGER PRIMARY KEY); INSERT INTO meta VALUES (2);
         CREATE TABLE collections (uid INTEGER PRIMARY KEY AUTOINCREMENT, id_a TEXT,
           href_a TEXT NOT NULL, id_b TEXT, href_b TEXT NOT NULL);
         CREATE TABLE items (ident TEXT NOT NULL, mapping_uid TEXT NOT NULL, hash TEXT NOT NULL,
           href_a TEXT NOT NULL, etag_a TEXT NOT NULL, href_b TEXT NOT NULL,
           etag_b TEXT NOT NULL);",
    );
    sql.push_str(&format!(
        "INSERT INTO collections (id_a, href_a, id_b, href_b) VALUES ('work', '/{user}/work/', \
         'work', 'work');"
    ));
    for row in rows.lines() {
        let fields: Vec<&str> = row.split('|').collect();
        let (ident, href_a, etag_a, file) = (fields[0], fields[1], fields[2], fields[3]);
        let meta = fs::metadata(setup.vdir("cal", "work").join(file)).unwrap();
        sql.push_str(&format!(
            "INSERT INTO items VALUES ('{ident}', 1, 'H', '{href_a}', '{}', 'work/{file}', \
             '{};{}');",
            etag_a.replace('\'', "''"),
            meta.mtime(),
            meta.ino()
        ));
    }
    common::sqlite(db, &sql);
}

#[test]
fn adopt_takes_over_pimsyncs_status_from_the_path_given_and_refuses_a_pair_with_state() {
    let setup = synced_by_vdirsyncer();
    let user = setup.server.user().to_owned();
    let cal = setup.vdir("cal", "work");
    let db = setup.dir.path().join("pimsync").join("cal.status");
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    write_pimsync_status(&setup, &db);
    // vdirsyncer's status is out of the way: only the path given counts.
    fs::remove_dir_all(setup.data_home().join("vdirsyncer")).unwrap();

    setup.delete(&format!("/{user}/work/srvdel.ics"));
    fs::remove_file(cal.join("locdel.ics")).unwrap();
    let missing = setup.pimlink(&["adopt", "cal", "--from", "pimsync", "/nonexistent/x.status"]);
    assert_eq!(missing.code(), 2, "{missing}");
    assert!(
        missing.stderr().contains("no pimsync state found"),
        "{missing}"
    );

    let before = stamps(&cal);
    let puts = setup.puts();
    let run = setup.pimlink(&["adopt", "cal", "--from", "pimsync", db.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        setup.puts(),
        puts,
        "nothing to upload:\n{run}\n{}",
        setup.server.log()
    );
    assert!(
        run.stdout().contains("taking over pimsync's state"),
        "{run}"
    );
    let padded = event("keep1", "keep1 v1", true).len() as u64;
    assert!(
        setup.bytes_from_server() < padded,
        "{run}\n{}",
        setup.server.log()
    );
    for (name, stamp) in &before {
        if name.starts_with("keep") {
            assert_eq!(
                stamps(&cal).get(name),
                Some(stamp),
                "{name} was rewritten:\n{run}"
            );
        }
    }
    // Both deletions went through instead of coming back from the other side.
    let local = items_in(&cal);
    assert!(
        !local.contains_key("srvdel") && !local.contains_key("locdel"),
        "{local:?}\n{run}"
    );
    let remote = remote(&setup.server, "work");
    assert_eq!(remote, local, "{run}");

    // Now the pair has state of its own: a second adoption is refused and changes nothing.
    let again = setup.pimlink(&["adopt", "cal", "--from", "pimsync", db.to_str().unwrap()]);
    assert_eq!(again.code(), 2, "{again}");
    assert!(
        again.stderr().contains("already has pimlink state"),
        "{again}"
    );
}

#[test]
fn a_first_sync_that_reached_one_collection_still_adopts_the_others_later() {
    let setup = synced_by_vdirsyncer();
    fs::remove_file(setup.vdir("cal", "home").join("h2.ics")).unwrap();

    // The first sync covers one calendar only (as a run killed after it would).
    let first = setup.pimlink(&["sync", "cal/work"]);
    assert_eq!(first.code(), 0, "{first}");
    assert!(!first.stdout().contains("collection home"), "{first}");

    let second = setup.pimlink(&["sync", "cal"]);
    assert_eq!(second.code(), 0, "{second}");
    assert!(
        second
            .stdout()
            .contains("collection home: taking over vdirsyncer's state"),
        "{second}"
    );
    // The local deletion since vdirsyncer's run reaches the server instead of coming back.
    let remote = remote(&setup.server, "home");
    assert_eq!(remote.keys().collect::<Vec<_>>(), ["h1"], "{second}");
    assert_eq!(items_in(&setup.vdir("cal", "home")), remote, "{second}");
}
