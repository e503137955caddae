//! End-to-end: a calendar pair with the *default* configuration (no `skip_unchanged` key) on
//! Radicale and on Xandikos (issue 17). A run after which nothing changed asks each server only
//! the cheap questions: Radicale its collection list alone (the collections' last-modified
//! times, trusted because the sync tokens show Radicale's storage), Xandikos its collection
//! list and one sync-collection REPORT per collection (its last-modified is not trusted). A
//! change on either side, an edit that keeps the file's size among them, is still synced.
//!
//! Requests are counted in each server's own access log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;

use common::dav::{
    DavWorld as World, put, quiet_and_busy, remote, server_state, sync_until_stamped, until_trusted,
};
use pimlink_testkit::{Radicale, Xandikos};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// (method, path) -> how many times the log shows it, from the request lines `line` picks out.
fn count(
    log: &str,
    line: impl Fn(&str) -> Option<(String, String)>,
) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for (method, path) in log.lines().filter_map(line) {
        *out.entry((method, path)).or_insert(0) += 1;
    }
    out
}

/// The requests in `after` that were not yet in `before`.
fn since(
    before: &BTreeMap<(String, String), usize>,
    after: &BTreeMap<(String, String), usize>,
) -> BTreeMap<(String, String), usize> {
    after
        .iter()
        .filter_map(|(key, &n)| {
            let new = n - before.get(key).copied().unwrap_or(0);
            (new > 0).then(|| (key.clone(), new))
        })
        .collect()
}

/// Radicale's request lines: `... [INFO] PROPFIND request for '/test/' with depth ...`.
fn radicale_requests(server: &Radicale) -> BTreeMap<(String, String), usize> {
    count(&server.log(), |line| {
        let (head, rest) = line.split_once(" request for '")?;
        let method = head.rsplit(' ').next()?;
        let path = rest.split('\'').next()?;
        Some((method.to_owned(), path.to_owned()))
    })
}

/// Xandikos's access lines: `... "REPORT /user/calendars/calendar/ HTTP/1.1" 207 ...`.
fn xandikos_requests(server: &Xandikos) -> BTreeMap<(String, String), usize> {
    count(&server.log(), |line| {
        let request = line.split('"').nth(1)?;
        let mut words = request.split(' ');
        let (method, path) = (words.next()?, words.next()?);
        words
            .next()?
            .starts_with("HTTP/")
            .then(|| (method.to_owned(), path.to_owned()))
    })
}

/// Rewrites the vdir item `uid` of `collection` in place (same file, same size), replacing
/// `from` by `to` in its text: the directory's mtime does not move, only the file's.
fn edit_in_place(world: &World, collection: &str, uid: &str, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let path = world.vdir(collection).join(format!("{uid}.ics"));
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{text}");
    let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
    fs::write(&path, text.replace(from, to)).unwrap();
    let meta = fs::metadata(&path).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::ino(&meta), inode);
    assert_eq!(meta.len() as usize, text.len());
}

#[test]
fn by_default_a_no_change_run_asks_radicale_only_for_its_collections() {
    let server = Radicale::start().unwrap();
    quiet_and_busy(&server);
    let world = World::radicale(&server, "");
    world.sync_ok();
    // The first run saw the stamps too new to trust; the next one records them with the
    // tokens that show Radicale's storage.
    sync_until_stamped(&world, "quiet");

    // Nothing changed: no request touches a collection, only the home is listed.
    let before = radicale_requests(&server);
    let run = world.sync_ok();
    assert!(run.stdout().contains("changed: nothing"), "{run}");
    let asked = since(&before, &radicale_requests(&server));
    let home = format!("/{}/", server.user());
    assert!(
        asked.keys().all(|(method, path)| method == "PROPFIND"
            && !path.starts_with(&format!("{home}quiet"))
            && !path.starts_with(&format!("{home}busy"))),
        "a no-change run asked {asked:?}"
    );
    assert!(
        asked.contains_key(&("PROPFIND".to_owned(), home)),
        "{asked:?}"
    );

    // A server-side edit that keeps the item's size, made old enough to be trusted: only the
    // moved last-modified can tell the run.
    put(&server, "busy", "busy1", "First");
    until_trusted();
    let run = world.sync_ok();
    assert_eq!(world.local("busy"), map(&[("busy1", "First")]), "{run}");
    assert_eq!(world.local("quiet"), map(&[("quiet1", "first")]), "{run}");

    // A vdir edit in place that keeps the size (the directory's mtime does not move).
    edit_in_place(&world, "quiet", "quiet1", "SUMMARY:first", "SUMMARY:FIRST");
    let run = world.sync_ok();
    assert_eq!(
        remote(&server, "quiet"),
        map(&[("quiet1", "FIRST")]),
        "{run}"
    );

    // Our upload left the server's stamp unrecorded; a run sees it settled, and the one after
    // asks nothing of the collections again.
    until_trusted();
    world.sync_ok();
    let before = radicale_requests(&server);
    world.sync_ok();
    let asked = since(&before, &radicale_requests(&server));
    assert!(
        asked.keys().all(|(method, _)| method == "PROPFIND") && asked.len() <= 2,
        "{asked:?}"
    );
}

/// The Xandikos storage table with the default configuration.
fn xandikos_storage(server: &Xandikos) -> String {
    format!("type = \"caldav\"\nurl = \"{}\"", server.url())
}

#[test]
fn by_default_xandikos_is_asked_for_changes_by_sync_token_and_its_last_modified_is_not_trusted() {
    let server = Xandikos::start().unwrap();
    let world = World::new(&xandikos_storage(&server), "");
    // Another client of the same calendar, to change it on the server.
    let other = World::new(&xandikos_storage(&server), "");
    world.write_local("calendar", "e1", "first");
    world.write_local("calendar", "e2", "other");
    world.sync_ok();
    other.sync_ok();
    until_trusted();
    world.sync_ok();
    assert_eq!(server_state(&world, "calendar"), "none");

    // Nothing changed: the collection is asked one question, the sync-collection REPORT.
    let collection = "/user/calendars/calendar/".to_owned();
    let before = xandikos_requests(&server);
    let run = world.sync_ok();
    assert!(run.stdout().contains("changed: nothing"), "{run}");
    let asked = since(&before, &xandikos_requests(&server));
    let on_collection: Vec<_> = asked
        .iter()
        .filter(|((_, path), _)| path.starts_with(&collection))
        .collect();
    assert_eq!(
        on_collection,
        [(&("REPORT".to_owned(), collection.clone()), &1)],
        "{asked:?}"
    );
    assert!(
        asked
            .keys()
            .all(|(method, _)| method == "PROPFIND" || method == "REPORT"),
        "{asked:?}"
    );

    // A change made on the server by another client, with the same size, old enough that a
    // trusted last-modified would have hidden it if it did not move.
    edit_in_place(&other, "calendar", "e1", "SUMMARY:first", "SUMMARY:FIRST");
    other.sync_ok();
    until_trusted();
    let run = world.sync_ok();
    assert_eq!(
        world.local("calendar"),
        map(&[("e1", "FIRST"), ("e2", "other")]),
        "{run}"
    );

    // A local edit in place with the same size reaches the other client through the server.
    edit_in_place(&world, "calendar", "e2", "SUMMARY:other", "SUMMARY:OTHER");
    world.sync_ok();
    other.sync_ok();
    assert_eq!(
        other.local("calendar"),
        map(&[("e1", "FIRST"), ("e2", "OTHER")])
    );
    assert_eq!(server_state(&world, "calendar"), "none");
}
