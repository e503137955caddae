//! Helpers for end-to-end tests of CalDAV/CardDAV pairs: a world of a vdir, a state directory
//! and a config pairing a server with the vdir; items read as khal would read them, file by
//! file, and Radicale's items read on its own storage directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pimlink_testkit::Radicale;

use super::Run;

pub fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n\
         SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// uid -> SUMMARY of every item in a directory of `.ics` files (hidden files skipped).
pub fn items_in(dir: &Path) -> BTreeMap<String, String> {
    fields_in(dir, "SUMMARY:")
}

/// uid -> the value of property `key` (`"FN:"`) of every item in a directory.
pub fn fields_in(dir: &Path, key: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Metadata files (vdirsyncer's displayname/color, Radicale's .props) are no items.
        let metadata = ["displayname", "color", "description"].contains(&name.as_str());
        if name.starts_with('.') || !entry.path().is_file() || name.ends_with(".props") || metadata
        {
            continue;
        }
        let text = fs::read_to_string(entry.path()).unwrap();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_owned())
        };
        let uid = field("UID:").unwrap_or_else(|| format!("<no uid: {name}>"));
        let previous = out.insert(uid.clone(), field(key).unwrap_or_default());
        assert!(previous.is_none(), "UID {uid} twice in {}", dir.display());
    }
    out
}

/// A temporary world: a vdir, a state directory and a config pairing a server with the vdir.
pub struct DavWorld {
    pub dir: tempfile::TempDir,
}

impl DavWorld {
    /// `remote` is the storage table of the server side (`a`); `extra` goes into the pair.
    pub fn new(remote: &str, extra_pair_keys: &str) -> DavWorld {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n[storage.remote]\n{remote}\n\n\
             [storage.local]\ntype = \"vdir\"\npath = \"{vdir}\"\nfileext = \".ics\"\n\n\
             [pair.p]\na = \"remote\"\nb = \"local\"\n{extra_pair_keys}\n",
            state = root.join("state").display(),
            vdir = root.join("vdir").display(),
        );
        fs::create_dir_all(root.join("vdir")).unwrap();
        fs::write(root.join("config.toml"), config).unwrap();
        DavWorld { dir }
    }

    pub fn radicale(server: &Radicale, extra_pair_keys: &str) -> DavWorld {
        Self::new(
            &format!(
                "type = \"caldav\"\nurl = \"{}\"\nuser = \"{}\"\npassword_cmd = \"echo {}\"",
                server.url(),
                server.user(),
                server.password()
            ),
            extra_pair_keys,
        )
    }

    pub fn vdir(&self, collection: &str) -> PathBuf {
        self.dir.path().join("vdir").join(collection)
    }

    pub fn local(&self, collection: &str) -> BTreeMap<String, String> {
        items_in(&self.vdir(collection))
    }

    pub fn write_local(&self, collection: &str, uid: &str, summary: &str) {
        fs::create_dir_all(self.vdir(collection)).unwrap();
        fs::write(
            self.vdir(collection).join(format!("{uid}.ics")),
            event(uid, summary),
        )
        .unwrap();
    }

    pub fn pimlink(&self, args: &[&str]) -> Command {
        super::pimlink_with(&self.dir.path().join("config.toml"), args)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.pimlink(args).output().unwrap())
    }

    pub fn sync_ok(&self) -> Run {
        let run = self.run(&["sync"]);
        assert_eq!(run.code(), 0, "sync failed:\n{run}");
        run
    }

    pub fn status_db(&self) -> PathBuf {
        self.dir.path().join("state").join("p.sqlite")
    }

    pub fn sql(&self, query: &str) -> String {
        super::sqlite(&self.status_db(), query)
    }
}

/// Radicale's items of calendar `name` as stored on its disk.
pub fn remote(server: &Radicale, name: &str) -> BTreeMap<String, String> {
    items_in(
        &server
            .storage_dir()
            .join("collection-root")
            .join(server.user())
            .join(name),
    )
}

pub fn put(server: &Radicale, calendar: &str, uid: &str, summary: &str) {
    server
        .put(
            &format!("/{}/{calendar}/{uid}.ics", server.user()),
            "text/calendar",
            event(uid, summary).as_bytes(),
        )
        .unwrap();
}

pub fn delete(server: &Radicale, calendar: &str, uid: &str) {
    let response = server
        .request(
            "DELETE",
            &format!("/{}/{calendar}/{uid}.ics", server.user()),
            &[],
            b"",
        )
        .unwrap();
    assert!(response.status < 300, "DELETE: {}", response.status);
}

/// Calendars `quiet` and `busy` on `server`, each with one event (`quiet1`, `busy1`: "first").
pub fn quiet_and_busy(server: &Radicale) {
    for calendar in ["quiet", "busy"] {
        server.create_calendar(calendar).unwrap();
        put(server, calendar, &format!("{calendar}1"), "first");
    }
}

/// How many `method` requests for `path` (e.g. `/user/cal/`) Radicale has logged so far.
pub fn requests(server: &Radicale, method: &str, path: &str) -> usize {
    server
        .log()
        .matches(&format!("{method} request for '{path}'"))
        .count()
}

/// How many REPORTs (sync-collection or multiget) Radicale has logged for `calendar`.
pub fn reports(server: &Radicale, calendar: &str) -> usize {
    requests(server, "REPORT", &format!("/{}/{calendar}/", server.user()))
}

/// Waits until a last-modified time of now is old enough for pimlink to trust it: it must be
/// 3 s older than the server's clock (pimlink_dav::proto::stamp::MIN_AGE), and it is rounded
/// down to the second.
pub fn until_trusted() {
    std::thread::sleep(std::time::Duration::from_secs(4));
}

/// What the status recorded for calendar `name` on the server side.
pub fn server_state(world: &DavWorld, name: &str) -> String {
    world.sql(&format!(
        "SELECT ifnull(state_a, 'none') FROM dav_collections WHERE name = '{name}'"
    ))
}

/// Waits until the server's last-modified of `calendar` is old enough to be trusted, syncs, and
/// checks that the run recorded it as the server side's state.
pub fn sync_until_stamped(world: &DavWorld, calendar: &str) {
    until_trusted();
    world.sync_ok();
    let state = server_state(world, calendar);
    assert!(state.starts_with("marker last-modified "), "{state}");
}
