//! Crash tests of CalDAV <-> vdir pairs: the HTTP connections to Radicale dropped at random
//! byte offsets by pimlink-testkit's cutting proxy (HTTP/1.1 with keep-alive: a cut may fall in
//! a request, in a response, or between two requests of one connection), during an initial sync
//! and during syncs with changes on both sides. After the interrupted runs a clean run must
//! leave every item exactly once on both sides with the right contents, and a further run must
//! change nothing. (crash_imap.rs does the same for mail; the kill test of a DAV pair is in
//! sync_dav.rs.)
//!
//! Every random choice comes from a seeded generator; the seed (`PIMLINK_TEST_SEED` replays
//! one) and every cut are printed, and the test output shows them on failure.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::Run;
use common::cuts;
use common::dav::{DavWorld, items_in};
use pimlink_testkit::{CutProxy, Radicale, TestRng};

/// collection -> UID -> SUMMARY: what both sides must hold, once each.
type Expected = BTreeMap<String, BTreeMap<String, String>>;

/// A Radicale, a cutting proxy in front of it, and a vdir paired with the server through the
/// proxy.
struct Net {
    server: Radicale,
    proxy: CutProxy,
    world: DavWorld,
}

impl Net {
    fn new() -> Net {
        let server = Radicale::start().unwrap();
        let proxy = CutProxy::start(server.port()).unwrap();
        let world = DavWorld::new(
            &format!(
                "type = \"caldav\"\nurl = \"http://{}:{}/\"\nuser = \"{}\"\npassword = \"{}\"",
                proxy.host(),
                proxy.port(),
                server.user(),
                server.password()
            ),
            "",
        );
        Net {
            server,
            proxy,
            world,
        }
    }

    /// Radicale's directory of `collection`.
    fn server_dir(&self, collection: &str) -> PathBuf {
        self.server
            .storage_dir()
            .join("collection-root")
            .join(self.server.user())
            .join(collection)
    }

    /// Runs `sync` while the proxy cuts one connection in three as `rng` decides (discovery
    /// opens a few short connections before the ones that carry the items: cutting every
    /// connection would rarely let a run get past them); returns the exit status.
    fn cut_run(&self, label: &str, rng: &mut TestRng, max_bytes: u64) -> i32 {
        let run = || self.world.run(&["-q", "sync"]);
        cuts::cut_run(&self.proxy, label, rng, max_bytes, (2, 3), run).code()
    }

    /// A run with the proxy passing everything, which must succeed.
    fn clean_run(&self) -> Run {
        self.proxy.pass_all();
        self.world.sync_ok()
    }

    /// Both sides hold exactly `expected` (each UID once: `items_in` insists), and another
    /// run changes nothing.
    fn assert_synced(&self, expected: &Expected, context: &str) {
        for (collection, items) in expected {
            let server = items_in(&self.server_dir(collection));
            assert_eq!(&server, items, "{context}: the server's {collection}");
            let local = self.world.local(collection);
            assert_eq!(&local, items, "{context}: the vdir's {collection}");
        }
        let again = self.clean_run();
        assert!(
            again.stdout().contains("changed: nothing"),
            "{context}: a further run changed something:\n{again}"
        );
    }
}

/// An event with `summary`, padded to about `size` bytes with a property that servers keep.
fn sized_event(uid: &str, summary: &str, size: usize) -> String {
    let mut padding = String::new();
    while padding.len() < size {
        padding.push_str("X-PIMLINK-PAD:some text to give the item a size of its own\r\n");
    }
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//test//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240102T100000Z\r\n\
         SUMMARY:{summary}\r\n{padding}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// An item size: mostly small, sometimes a few KB.
fn random_size(rng: &mut TestRng) -> usize {
    match rng.range(0, 10) {
        0..=1 => rng.range(2_000, 12_000) as usize,
        _ => rng.range(0, 600) as usize,
    }
}

/// The file in `dir` holding the item with `uid`.
fn file_of(dir: &Path, uid: &str) -> PathBuf {
    let line = format!("UID:{uid}\r");
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.is_file()
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                && fs::read_to_string(p)
                    .map(|text| text.contains(&line) || text.contains(&format!("UID:{uid}\n")))
                    .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no item {uid} in {}", dir.display()))
}

/// Writes, changes or deletes items on the server over HTTP (not through the proxy), as
/// another client would; an item that exists is changed at its own href.
fn put_on_server(net: &Net, collection: &str, uid: &str, text: &str) {
    let href = if net.server_dir(collection).is_dir() {
        let dir = net.server_dir(collection);
        items_in(&dir)
            .contains_key(uid)
            .then(|| file_of(&dir, uid))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
    } else {
        None
    };
    let href = href.unwrap_or_else(|| format!("{uid}.ics"));
    net.server
        .put(
            &format!("/{}/{collection}/{href}", net.server.user()),
            "text/calendar",
            text.as_bytes(),
        )
        .unwrap();
}

fn delete_on_server(net: &Net, collection: &str, uid: &str) {
    let file = file_of(&net.server_dir(collection), uid);
    let href = file.file_name().unwrap().to_string_lossy().into_owned();
    let response = net
        .server
        .request(
            "DELETE",
            &format!("/{}/{collection}/{href}", net.server.user()),
            &[],
            b"",
        )
        .unwrap();
    assert!(response.status < 300, "DELETE {href}: {}", response.status);
}

/// Items on both sides before a first sync: two calendars on the server, one of them also in
/// the vdir with other items, and a calendar only in the vdir.
fn seed_both_sides(net: &Net, rng: &mut TestRng) -> Expected {
    let mut expected = Expected::new();
    for (collection, count) in [("work", 50), ("home", 30)] {
        net.server.create_calendar(collection).unwrap();
        for i in 0..count {
            put_new_on_server(
                net,
                rng,
                collection,
                &format!("{collection}-s{i}"),
                &mut expected,
            );
        }
    }
    for (collection, count) in [("work", 20), ("trips", 30)] {
        for i in 0..count {
            let uid = format!("{collection}-l{i}");
            write_local(net, rng, collection, &uid, &mut expected);
        }
    }
    expected
}

/// Puts a new item `uid` of a random size into `collection` on the server, and expects it.
fn put_new_on_server(
    net: &Net,
    rng: &mut TestRng,
    collection: &str,
    uid: &str,
    expected: &mut Expected,
) {
    let summary = format!("server {uid}");
    let text = sized_event(uid, &summary, random_size(rng));
    put_on_server(net, collection, uid, &text);
    expected
        .entry(collection.to_owned())
        .or_default()
        .insert(uid.to_owned(), summary);
}

/// Writes a new local item `uid` of a random size into `collection`, and expects it.
fn write_local(net: &Net, rng: &mut TestRng, collection: &str, uid: &str, expected: &mut Expected) {
    let summary = format!("local {uid}");
    let dir = net.world.vdir(collection);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join(format!("{uid}.ics")),
        sized_event(uid, &summary, random_size(rng)),
    )
    .unwrap();
    expected
        .entry(collection.to_owned())
        .or_default()
        .insert(uid.to_owned(), summary);
}

/// Random changes on both sides, each item touched at most once: new items, changed items and
/// deletions on the server and in the vdir. Updates `expected`.
fn change_both_sides(net: &Net, rng: &mut TestRng, round: usize, expected: &mut Expected) {
    let mut all: Vec<(String, String)> = expected
        .iter()
        .flat_map(|(c, items)| items.keys().map(move |uid| (c.clone(), uid.clone())))
        .collect();
    let mut pick = |rng: &mut TestRng| {
        let index = rng.range(0, all.len() as u64) as usize;
        all.swap_remove(index)
    };
    for _ in 0..8 {
        let (collection, uid) = pick(rng);
        let summary = format!("changed on the server in round {round}");
        let text = sized_event(&uid, &summary, random_size(rng));
        put_on_server(net, &collection, &uid, &text);
        expected.get_mut(&collection).unwrap().insert(uid, summary);
    }
    for _ in 0..4 {
        let (collection, uid) = pick(rng);
        delete_on_server(net, &collection, &uid);
        expected.get_mut(&collection).unwrap().remove(&uid);
    }
    for _ in 0..8 {
        let (collection, uid) = pick(rng);
        let summary = format!("changed locally in round {round}");
        let file = file_of(&net.world.vdir(&collection), &uid);
        fs::write(file, sized_event(&uid, &summary, random_size(rng))).unwrap();
        expected.get_mut(&collection).unwrap().insert(uid, summary);
    }
    for _ in 0..4 {
        let (collection, uid) = pick(rng);
        fs::remove_file(file_of(&net.world.vdir(&collection), &uid)).unwrap();
        expected.get_mut(&collection).unwrap().remove(&uid);
    }
    for i in 0..10 {
        let collection = ["work", "home", "trips"][i % 3];
        put_new_on_server(net, rng, collection, &format!("r{round}-s{i}"), expected);
        write_local(net, rng, collection, &format!("r{round}-l{i}"), expected);
    }
}

#[test]
fn dropped_connections_during_an_initial_dav_sync_lose_and_duplicate_nothing() {
    let seed = TestRng::seed_from_env("PIMLINK_TEST_SEED", 0xda7_c07);
    let mut rng = TestRng::new(seed);
    let mut cuts = 0;
    // Each round is a first sync with a server of its own.
    for round in 0..3 {
        let net = Net::new();
        let expected = seed_both_sides(&net, &mut rng);
        // Runs with random cuts until one gets through; each makes some progress.
        for run in 1..=20 {
            let label = format!("round {round} run {run}");
            if net.cut_run(&label, &mut rng, 200_000) == 0 {
                break;
            }
        }
        net.clean_run();
        net.assert_synced(&expected, &format!("round {round}"));
        cuts += net.proxy.connections().iter().filter(|r| r.was_cut).count();
    }
    assert!(cuts >= 15, "only {cuts} connections were cut");
}

#[test]
fn dropped_connections_during_dav_syncs_with_changes_on_both_sides_lose_and_duplicate_nothing() {
    let seed = TestRng::seed_from_env("PIMLINK_TEST_SEED", 0xc4a2_dab5);
    let mut rng = TestRng::new(seed);
    let net = Net::new();
    let mut expected = seed_both_sides(&net, &mut rng);
    net.clean_run();
    net.assert_synced(&expected, "after the first sync");
    for round in 0..4 {
        change_both_sides(&net, &mut rng, round, &mut expected);
        for run in 0..4 {
            net.cut_run(&format!("round {round} run {run}"), &mut rng, 60_000);
        }
        net.clean_run();
        net.assert_synced(&expected, &format!("after round {round}"));
    }
    let cuts = net.proxy.connections().iter().filter(|r| r.was_cut).count();
    assert!(cuts >= 15, "only {cuts} connections were cut");
}
