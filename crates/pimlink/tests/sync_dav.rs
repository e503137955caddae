//! End-to-end: CalDAV (a private Radicale, and Xandikos) <-> vdir through the `pimlink` binary.
//!
//! Server-side state is changed and inspected over HTTP and on Radicale's own storage
//! directory; the vdir is read as khal would read it, file by file.
//!
//! One file for DAV pairs end to end: the cases share the Radicale world of `common::dav`; the last
//! part (from `requests`) checks which collections a run skips by ctag, sync token or last-modified
//! time.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::Run;
use common::dav::{
    DavWorld as World, delete, event, items_in, put, quiet_and_busy, remote, reports, server_state,
    sync_until_stamped, until_trusted,
};
use pimlink_testkit::{Radicale, TestRng, Xandikos, kill};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn discovery_initial_sync_both_ways_changes_deletions_and_a_quiet_second_run() {
    let server = Radicale::start().unwrap();
    server.create_calendar("work").unwrap();
    put(&server, "work", "w1", "standup");
    put(&server, "work", "w2", "review");
    let world = World::radicale(&server, "");
    world.write_local("home", "h1", "dentist");

    let discover = world.run(&["discover", "remote"]);
    assert_eq!(discover.code(), 0, "{discover}");
    assert!(discover.stdout().contains("  work"), "{discover}");
    assert!(discover.stdout().contains("[sync-token]"), "{discover}");

    let first = world.sync_ok();
    assert_eq!(
        world.local("work"),
        map(&[("w1", "standup"), ("w2", "review")])
    );
    assert_eq!(
        remote(&server, "home"),
        map(&[("h1", "dentist")]),
        "{first}"
    );
    assert!(first.stdout().contains("created"), "{first}");

    // Changes on both sides: an edit on each, a deletion on each, a new item on each.
    put(&server, "work", "w1", "standup moved");
    world.write_local("home", "h1", "dentist at 10");
    delete(&server, "work", "w2");
    world.write_local("home", "h2", "gym");
    put(&server, "home", "h3", "from the server");
    let second = world.sync_ok();
    assert_eq!(
        world.local("work"),
        map(&[("w1", "standup moved")]),
        "{second}"
    );
    let home = map(&[
        ("h1", "dentist at 10"),
        ("h2", "gym"),
        ("h3", "from the server"),
    ]);
    assert_eq!(world.local("home"), home, "{second}");
    assert_eq!(remote(&server, "home"), home, "{second}");
    fs::remove_file(world.vdir("home").join("h2.ics")).unwrap();
    world.sync_ok();
    assert!(!remote(&server, "home").contains_key("h2"));

    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn a_server_rewriting_volatile_properties_is_not_a_change() {
    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    put(&server, "c", "e1", "same");
    let world = World::radicale(&server, "");
    world.sync_ok();
    // Same item, new DTSTAMP and PRODID on the server, new file (new etag) locally.
    let rewritten = event("e1", "same")
        .replace("20240101T000000Z", "20250505T050505Z")
        .replace("-//pimlink//test//EN", "-//Other//EN");
    server
        .put(
            &format!("/{}/c/e1.ics", server.user()),
            "text/calendar",
            rewritten.as_bytes(),
        )
        .unwrap();
    world.write_local("c", "e1", "same");
    let run = world.sync_ok();
    assert!(run.stdout().contains("changed: nothing"), "{run}");
}

#[test]
fn conflicts_under_each_policy() {
    for (policy, want_remote, want_local, code) in [
        ("", "server edit", "local edit", 1),
        (
            "conflict_resolution = \"keep a\"",
            "server edit",
            "server edit",
            0,
        ),
        (
            "conflict_resolution = \"keep b\"",
            "local edit",
            "local edit",
            0,
        ),
    ] {
        let server = Radicale::start().unwrap();
        server.create_calendar("c").unwrap();
        put(&server, "c", "x", "original");
        let world = World::radicale(&server, policy);
        world.sync_ok();
        put(&server, "c", "x", "server edit");
        world.write_local("c", "x", "local edit");
        let run = world.run(&["sync"]);
        assert_eq!(run.code(), code, "{policy}: {run}");
        assert_eq!(remote(&server, "c")["x"], want_remote, "{policy}");
        assert_eq!(world.local("c")["x"], want_local, "{policy}");
        if code == 1 {
            assert!(
                format!("{run}").contains("changed differently on both sides"),
                "{run}"
            );
        }
    }

    // A command merges: this one takes b's version for both files.
    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    put(&server, "c", "x", "original");
    let world = World::radicale(
        &server,
        "conflict_resolution = [\"sh\", \"-c\", \"cp \\\"$2\\\" \\\"$1\\\"\", \"merge\"]",
    );
    world.sync_ok();
    put(&server, "c", "x", "server edit");
    world.write_local("c", "x", "local edit");
    let sync = world.run(&["sync"]);
    assert_eq!(
        sync.code(),
        1,
        "a plain sync does not run the command: {sync}"
    );
    let resolve = world.run(&["resolve-conflicts"]);
    assert_eq!(resolve.code(), 0, "{resolve}");
    assert_eq!(remote(&server, "c")["x"], "local edit");
    assert_eq!(world.local("c")["x"], "local edit");
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn an_emptied_side_is_refused_until_forced() {
    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    for i in 0..3 {
        put(&server, "c", &format!("e{i}"), "x");
    }
    let world = World::radicale(&server, "");
    world.sync_ok();
    for entry in fs::read_dir(world.vdir("c")).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let refused = world.run(&["sync"]);
    assert_eq!(refused.code(), 5, "{refused}");
    assert!(format!("{refused}").contains("is empty"), "{refused}");
    assert_eq!(remote(&server, "c").len(), 3);
    let forced = world.run(&["sync", "--force"]);
    assert_eq!(forced.code(), 0, "{forced}");
    assert!(remote(&server, "c").is_empty(), "{forced}");
}

/// A vdir wiped to one item of a calendar (issue 12) is refused too: the server keeps every
/// item until the run is forced.
#[test]
fn a_side_that_lost_most_items_is_refused_until_forced() {
    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    for i in 0..10 {
        put(&server, "c", &format!("e{i}"), "x");
    }
    let world = World::radicale(&server, "");
    world.sync_ok();
    for i in 0..9 {
        fs::remove_file(world.vdir("c").join(format!("e{i}.ics"))).unwrap();
    }
    let refused = world.run(&["sync"]);
    assert_eq!(refused.code(), 5, "{refused}");
    for part in [
        "collection c: side b no longer has 9 of the 10 items",
        "max_delete",
        "pimlink sync --force p/c",
    ] {
        assert!(
            format!("{refused}").contains(part),
            "{part:?} missing: {refused}"
        );
    }
    assert_eq!(remote(&server, "c").len(), 10, "{refused}");
    let forced = world.run(&["sync", "--force", "p/c"]);
    assert_eq!(forced.code(), 0, "{forced}");
    assert_eq!(remote(&server, "c").len(), 1, "{forced}");
}

#[test]
fn collections_are_created_with_metadata_and_deleted_by_policy() {
    let server = Radicale::start().unwrap();
    let world = World::radicale(
        &server,
        "metadata = [\"displayname\", \"color\"]\non_delete = \"delete\"",
    );
    world.write_local("family", "f1", "birthday");
    fs::write(world.vdir("family").join("displayname"), "Family").unwrap();
    fs::write(world.vdir("family").join("color"), "#ff8800").unwrap();
    let dry = world.run(&["sync", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{dry}");
    assert!(dry.stdout().contains("create on a"), "{dry}");
    assert!(dry.stdout().contains("copy b->a f1"), "{dry}");
    assert!(
        remote(&server, "family").is_empty(),
        "dry run changed nothing"
    );
    world.sync_ok();
    assert_eq!(remote(&server, "family"), map(&[("f1", "birthday")]));
    let discover = world.run(&["discover", "remote"]);
    assert!(discover.stdout().contains("\"Family\""), "{discover}");
    assert!(
        discover.stdout().to_lowercase().contains("#ff8800"),
        "{discover}"
    );

    // A rename on the server reaches the vdir.
    let body = r#"<?xml version="1.0" encoding="utf-8"?>
<propertyupdate xmlns="DAV:"><set><prop><displayname>Familie</displayname></prop></set></propertyupdate>"#;
    let path = format!("/{}/family/", server.user());
    let response = server
        .request(
            "PROPPATCH",
            &path,
            &[("Content-Type", "application/xml")],
            body.as_bytes(),
        )
        .unwrap();
    assert_eq!(response.status, 207);
    world.sync_ok();
    assert_eq!(
        fs::read_to_string(world.vdir("family").join("displayname"))
            .unwrap()
            .trim(),
        "Familie"
    );

    // Deleting the collection locally deletes it on the server (on_delete = "delete").
    fs::remove_dir_all(world.vdir("family")).unwrap();
    let run = world.sync_ok();
    let discover = world.run(&["discover", "remote"]);
    assert!(!discover.stdout().contains("family"), "{run}\n{discover}");
}

#[test]
fn a_one_way_pair_publishes_items_and_description_and_leaves_the_mirror_alone() {
    let server = Radicale::start().unwrap();
    let world = World::radicale(
        &server,
        "direction = \"b-to-a\"\nmetadata = [\"description\"]",
    );
    world.write_local("pub", "p1", "talk");
    fs::write(world.vdir("pub").join("description"), "Public talks\n").unwrap();
    world.sync_ok();
    assert_eq!(remote(&server, "pub"), map(&[("p1", "talk")]));
    let props = server
        .storage_dir()
        .join("collection-root")
        .join(server.user())
        .join("pub")
        .join(".Radicale.props");
    let props = fs::read_to_string(&props).unwrap();
    assert!(
        props.contains("Public talks"),
        "PROPPATCH description: {props}"
    );

    // The mirror's own additions stay where they are and do not come back.
    put(&server, "pub", "extra", "server only");
    let run = world.sync_ok();
    assert_eq!(world.local("pub"), map(&[("p1", "talk")]), "{run}");
    assert_eq!(
        remote(&server, "pub"),
        map(&[("extra", "server only"), ("p1", "talk")])
    );
}

/// Only an alias entry creates a collection that exists on neither side; a pattern, even one
/// without wildcards, selects existing collections and warns when it matches none (issue 12).
#[test]
fn only_alias_entries_create_collections_that_exist_nowhere() {
    let server = Radicale::start().unwrap();
    let world = World::radicale(
        &server,
        "collections = [\"from a\", \"from b\", \"work\", \"team*\", \
         [\"home\", \"personal\", \"privat\"], [\"new\", \"new\", \"new\"]]",
    );
    let on_server = |name: &str| {
        server
            .storage_dir()
            .join("collection-root")
            .join(server.user())
            .join(name)
            .is_dir()
    };
    let dry = world.run(&["sync", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{dry}");
    assert!(
        dry.stdout().contains("collection new: create on a and b"),
        "{dry}"
    );
    assert!(!on_server("new") && !world.vdir("new").exists(), "{dry}");

    let run = world.sync_ok();
    assert!(on_server("new") && on_server("personal"), "{run}");
    assert!(
        world.vdir("new").is_dir() && world.vdir("privat").is_dir(),
        "{run}"
    );
    assert!(
        run.stdout().contains("p: new: created on sides a and b"),
        "{run}"
    );
    // Patterns name no collection: nothing is made up from them, and each one is reported.
    assert!(!on_server("work") && !world.vdir("work").exists(), "{run}");
    assert!(!on_server("team*") && !world.vdir("team").exists(), "{run}");
    for pattern in ["work", "team*"] {
        let warning = format!(
            "pair p: collection pattern \"{pattern}\" matches no collection on either side"
        );
        assert_eq!(run.stderr().matches(&warning).count(), 1, "{run}");
    }

    // They are ordinary synced collections from now on.
    world.write_local("privat", "p1", "dentist");
    world.sync_ok();
    assert_eq!(remote(&server, "personal"), map(&[("p1", "dentist")]));
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// The default as a misrendered manual showed it, `["froma", "fromb"]`, and pimsync's
/// `collections all` written as `["all"]` once created calendars of those names on both sides
/// with exit 0 (issue 12): they create nothing, and the warning says what was meant.
#[test]
fn mistaken_patterns_create_nothing_and_say_what_was_meant() {
    for (collections, hint) in [
        ("[\"froma\", \"fromb\"]", "write \"from a\" (with a space)"),
        ("[\"all\"]", "[\"*\"]"),
    ] {
        let server = Radicale::start().unwrap();
        server.create_calendar("c").unwrap();
        put(&server, "c", "e1", "x");
        let world = World::radicale(&server, &format!("collections = {collections}"));
        let run = world.sync_ok();
        let dir = server
            .storage_dir()
            .join("collection-root")
            .join(server.user());
        let mut calendars: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.'))
            .collect();
        calendars.sort();
        assert_eq!(calendars, ["c"], "{collections}: {run}");
        assert_eq!(
            fs::read_dir(world.dir.path().join("vdir")).unwrap().count(),
            0,
            "{run}"
        );
        assert!(
            run.stderr()
                .contains("matches no collection on either side"),
            "{run}"
        );
        assert!(run.stderr().contains(hint), "{hint:?} missing: {run}");
    }
}

#[test]
fn sync_tokens_are_stored_used_and_recovered_when_invalid() {
    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    put(&server, "c", "e1", "one");
    let world = World::radicale(&server, "");
    world.sync_ok();
    let token = world.sql("SELECT token_a FROM dav_collections WHERE name = 'c'");
    assert!(!token.is_empty(), "a token is stored");
    put(&server, "c", "e2", "two");
    world.sync_ok();
    let newer = world.sql("SELECT token_a FROM dav_collections WHERE name = 'c'");
    assert_ne!(newer, token, "the token moves on");
    assert_eq!(world.local("c").len(), 2);

    // An invalidated token (a server that lost its history) falls back to a full listing.
    world.sql("UPDATE dav_collections SET token_a = 'http://radicale.org/ns/sync/bogus'");
    put(&server, "c", "e3", "three");
    delete(&server, "c", "e1");
    let run = world.sync_ok();
    assert_eq!(
        world.local("c"),
        map(&[("e2", "two"), ("e3", "three")]),
        "{run}"
    );
    let recovered = world.sql("SELECT token_a FROM dav_collections WHERE name = 'c'");
    assert!(
        !recovered.contains("bogus"),
        "a fresh token is stored: {recovered}"
    );
}

#[test]
fn unreadable_and_rejected_items_fail_alone_and_invalid_data_is_synced_as_is() {
    let server = Radicale::start().unwrap();
    let world = World::radicale(&server, "");
    world.write_local("c", "good", "fine");
    // Not UTF-8: cannot even be read as text.
    fs::write(
        world.vdir("c").join("latin1.ics"),
        b"BEGIN:VCALENDAR\r\nSUMMARY:caf\xe9\r\n",
    )
    .unwrap();
    // Has a UID but is no valid iCalendar: the server refuses it.
    fs::write(
        world.vdir("c").join("broken.ics"),
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:broken\r\nDTSTART:not a date\r\n\
         END:VCALENDAR\r\n",
    )
    .unwrap();
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 1, "a partial run: {run}");
    let text = format!("{run}");
    assert!(text.contains("latin1.ics"), "{run}");
    assert!(text.contains("broken"), "{run}");
    assert_eq!(remote(&server, "c"), map(&[("good", "fine")]), "{run}");
    // The failures are retried, not forgotten, and still do not hold up the rest.
    world.write_local("c", "later", "also fine");
    let again = world.run(&["sync"]);
    assert_eq!(again.code(), 1, "{again}");
    assert_eq!(
        remote(&server, "c"),
        map(&[("good", "fine"), ("later", "also fine")]),
        "{again}"
    );

    // Between two vdirs (no server to judge it), invalid data travels byte for byte.
    let other = tempfile::tempdir().unwrap();
    let world = World::new(
        &format!(
            "type = \"vdir\"\npath = \"{}\"\nfileext = \".ics\"",
            other.path().display()
        ),
        "",
    );
    let broken = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:broken\r\nDTSTART:not a date\r\n\
                  X-WEIRD;;=:\r\nEND:VCALENDAR\r\n";
    fs::create_dir_all(other.path().join("c")).unwrap();
    fs::write(other.path().join("c").join("broken.ics"), broken).unwrap();
    world.sync_ok();
    let copied: Vec<_> = fs::read_dir(world.vdir("c")).unwrap().flatten().collect();
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert_eq!(fs::read_to_string(copied[0].path()).unwrap(), broken);
}

#[test]
fn items_without_uid_are_reported_and_repaired() {
    let server = Radicale::start().unwrap();
    let world = World::radicale(&server, "");
    world.write_local("c", "ok", "fine");
    fs::write(
        world.vdir("c").join("nouid.ics"),
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nDTSTAMP:20240101T000000Z\r\n\
         DTSTART:20240102T100000Z\r\nSUMMARY:orphan\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(format!("{run}").contains("has no UID"), "{run}");
    assert_eq!(remote(&server, "c").len(), 1);

    let repair = world.run(&["repair", "local"]);
    assert_eq!(repair.code(), 0, "{repair}");
    assert!(repair.stdout().contains("1 items repaired"), "{repair}");
    world.sync_ok();
    let on_server = remote(&server, "c");
    assert_eq!(on_server.len(), 2, "{on_server:?}");
    assert!(on_server.values().any(|s| s == "orphan"));
}

#[test]
fn kill_during_a_sync_then_a_clean_run_converges_without_duplicates() {
    let server = Radicale::start().unwrap();
    let world = World::radicale(&server, "");
    for i in 0..150 {
        world.write_local("big", &format!("item{i:03}"), &format!("event {i}"));
    }
    // SIGKILL, as a crash or power loss would stop it, at points set by the run's progress
    // (see pimlink_testkit::kill). The upload is two batches of changes, each printing more
    // than a killed run may: a killed run records at most one, so the first two kills are sure
    // to interrupt it.
    let seed = TestRng::seed_from_env("PIMLINK_TEST_SEED", 0xda7_c111);
    let sync = || {
        let mut command = world.pimlink(&["-v", "sync"]);
        command.stderr(std::process::Stdio::null());
        command
    };
    let finished = |stdout: &str| stdout.contains(" collections, changed: ");
    let kills = kill::kill_repeatedly(sync, finished, 5, &mut TestRng::new(seed)).unwrap();
    assert!(
        kills.interrupted >= 2,
        "the kills should interrupt the sync, got {kills:?}"
    );
    let partial = remote(&server, "big").len();
    world.sync_ok();
    assert_eq!(
        remote(&server, "big").len(),
        150,
        "after kill at {partial} items"
    );
    assert_eq!(world.local("big").len(), 150);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn webcal_feed_into_a_vdir() {
    let feed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:feed\r\nX-WR-CALNAME:Holidays\\, public\r\n\
        BEGIN:VEVENT\r\nUID:hol-1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:hol-2\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20241225\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    let url = serve_forever(feed);
    let world = World::new(
        &format!("type = \"webcal\"\nurl = \"{url}\""),
        "direction = \"a-to-b\"\nmetadata = [\"displayname\", \"color\"]",
    );
    world.sync_ok();
    // Without `collection_id` the feed's collection is named after the storage.
    assert_eq!(
        world.local("remote"),
        map(&[("hol-1", "New Year"), ("hol-2", "Christmas")])
    );
    // The feed's X-WR-CALNAME is its display name.
    assert_eq!(
        fs::read_to_string(world.vdir("remote").join("displayname")).unwrap(),
        "Holidays, public"
    );
    assert!(!world.vdir("remote").join("color").exists());
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn webcal_over_tls_with_a_client_certificate_into_a_named_collection() {
    let feed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:feed\r\n\
        BEGIN:VEVENT\r\nUID:tls-1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240101\r\nSUMMARY:Secret\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    let certs = tempfile::tempdir().unwrap();
    let files = pimlink_testkit::tls::generate(certs.path()).unwrap();
    let client = pimlink_testkit::https::client_cert(certs.path(), &files).unwrap();
    let server =
        pimlink_testkit::https::HttpsServer::start(&files, "text/calendar", feed.into(), true)
            .unwrap();
    let storage = |client_cert: &str| {
        format!(
            "type = \"webcal\"\nurl = \"https://localhost:{}/holidays.ics\"\n\
             ca_file = \"{}\"\ncollection_id = \"holidays\"\n{client_cert}",
            server.port(),
            files.ca_cert.display()
        )
    };

    // Without the certificate the server refuses the handshake: a clear error, nothing synced.
    let world = World::new(&storage(""), "direction = \"a-to-b\"");
    let run = world.run(&["sync"]);
    assert_ne!(run.code(), 0, "{run}");
    assert!(world.local("holidays").is_empty(), "{run}");
    assert_eq!(server.served(), 0);

    let world = World::new(
        &storage(&format!(
            "client_cert = \"{}\"\nclient_key = \"{}\"",
            client.cert.display(),
            client.key.display()
        )),
        "direction = \"a-to-b\"",
    );
    world.sync_ok();
    // The feed's collection is `collection_id`, so the vdir directory is named after it.
    assert_eq!(world.local("holidays"), map(&[("tls-1", "Secret")]));
    assert!(!world.vdir("remote").exists());

    // One PEM file holding certificate and key works the same.
    let world = World::new(
        &storage(&format!("client_cert = \"{}\"", client.combined.display())),
        "direction = \"a-to-b\"",
    );
    world.sync_ok();
    assert_eq!(world.local("holidays"), map(&[("tls-1", "Secret")]));
}

/// Serves `body` as `text/calendar` to every request on a loopback port; returns its URL.
fn serve_forever(body: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://127.0.0.1:{port}/holidays.ics")
}

#[test]
fn xandikos_both_directions_and_changes() {
    let server = Xandikos::start().unwrap();
    let world = World::new(
        &format!("type = \"caldav\"\nurl = \"{}\"", server.url()),
        "",
    );
    world.write_local("calendar", "l1", "local one");
    world.sync_ok();
    world.write_local("calendar", "l2", "local two");
    world.write_local("calendar", "l1", "local one edited");
    let run = world.sync_ok();
    assert!(
        run.stdout().contains("2 ") || run.stdout().contains("created"),
        "{run}"
    );
    // A second vdir paired with the same server sees exactly what the first one wrote.
    let other = World::new(
        &format!("type = \"caldav\"\nurl = \"{}\"", server.url()),
        "",
    );
    other.sync_ok();
    assert_eq!(
        other.local("calendar"),
        map(&[("l1", "local one edited"), ("l2", "local two")])
    );
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn pimlink_writes_the_same_vdir_as_vdirsyncer() {
    let server = Radicale::start().unwrap();
    for name in ["work", "home"] {
        server.create_calendar(name).unwrap();
        for i in 0..5 {
            put(
                &server,
                name,
                &format!("{name}-{i}"),
                &format!("{name} event {i}"),
            );
        }
    }
    let world = World::radicale(&server, "");
    world.sync_ok();

    let vds = world.dir.path().join("vdirsyncer");
    fs::create_dir_all(vds.join("vdir")).unwrap();
    fs::write(
        vds.join("config"),
        format!(
            "[general]\nstatus_path = \"{status}\"\n\n[pair p]\na = \"remote\"\nb = \"local\"\n\
             collections = [\"from a\"]\n\n[storage remote]\ntype = \"caldav\"\nurl = \"{url}\"\n\
             username = \"{user}\"\npassword = \"{password}\"\n\n[storage local]\n\
             type = \"filesystem\"\npath = \"{vdir}\"\nfileext = \".ics\"\n",
            status = vds.join("status").display(),
            url = server.url(),
            user = server.user(),
            password = server.password(),
            vdir = vds.join("vdir").display(),
        ),
    )
    .unwrap();
    let vdirsyncer = |args: &[&str]| {
        let out = Command::new("vdirsyncer")
            .env("VDIRSYNCER_CONFIG", vds.join("config"))
            .args(args)
            .output()
            .expect("vdirsyncer (Debian package vdirsyncer) is installed");
        assert!(
            out.status.success(),
            "vdirsyncer {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // vdirsyncer asks before creating local collections; they exist already.
    for name in ["work", "home"] {
        fs::create_dir_all(vds.join("vdir").join(name)).unwrap();
    }
    vdirsyncer(&["discover", "p"]);
    vdirsyncer(&["sync"]);
    for name in ["work", "home"] {
        let theirs = items_in(&vds.join("vdir").join(name));
        assert_eq!(theirs.len(), 5, "{name}");
        assert_eq!(world.local(name), theirs, "{name}");
        // The same file names too, so khal sees the same tree.
        let names = |dir: &Path| {
            let mut v: Vec<String> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".ics"))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            names(&world.vdir(name)),
            names(&vds.join("vdir").join(name))
        );
    }
}

#[test]
fn carddav_address_books_sync_with_a_vcf_vdir() {
    let server = Radicale::start().unwrap();
    server.create_addressbook("contacts").unwrap();
    let card = |uid: &str, name: &str| {
        format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEND:VCARD\r\n"
        )
    };
    server
        .put(
            &format!("/{}/contacts/alice.vcf", server.user()),
            "text/vcard",
            card("alice", "Alice").as_bytes(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("cards/contacts")).unwrap();
    fs::write(root.join("cards/contacts/bob.vcf"), card("bob", "Bob")).unwrap();
    fs::write(
        root.join("config.toml"),
        format!(
            "[general]\nstate_dir = \"{state}\"\n\n[storage.remote]\ntype = \"carddav\"\n\
             url = \"{url}\"\nuser = \"{user}\"\npassword = \"{password}\"\n\n\
             [storage.local]\ntype = \"vdir\"\npath = \"{cards}\"\nfileext = \".vcf\"\n\n\
             [pair.p]\na = \"remote\"\nb = \"local\"\n",
            state = root.join("state").display(),
            url = server.url(),
            user = server.user(),
            password = server.password(),
            cards = root.join("cards").display(),
        ),
    )
    .unwrap();
    let run = Run(Command::new(env!("CARGO_BIN_EXE_pimlink"))
        .arg("-c")
        .arg(root.join("config.toml"))
        .arg("sync")
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{run}");
    assert!(root.join("cards/contacts/alice.vcf").is_file(), "{run}");
    let on_server = server
        .storage_dir()
        .join("collection-root")
        .join(server.user())
        .join("contacts");
    let names: Vec<String> = fs::read_dir(on_server)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(names.iter().any(|n| n == "bob.vcf"), "{names:?}");
}

#[test]
fn duplicate_uids_in_one_collection_are_reported_and_left_alone() {
    let server = Radicale::start().unwrap();
    let world = World::radicale(&server, "");
    world.write_local("c", "single", "fine");
    fs::write(world.vdir("c").join("copy1.ics"), event("twin", "first")).unwrap();
    fs::write(world.vdir("c").join("copy2.ics"), event("twin", "second")).unwrap();
    let run = world.run(&["sync"]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(format!("{run}").contains("is used by two items"), "{run}");
    assert_eq!(remote(&server, "c"), map(&[("single", "fine")]));
    // Once one copy is gone, the other is synced.
    fs::remove_file(world.vdir("c").join("copy2.ics")).unwrap();
    world.sync_ok();
    assert_eq!(remote(&server, "c")["twin"], "first");
}

#[test]
fn collections_unchanged_on_both_sides_are_skipped_and_changes_on_either_side_are_not() {
    let server = Radicale::start().unwrap();
    quiet_and_busy(&server);
    let world = World::new(
        &format!(
            "type = \"caldav\"\nurl = \"{}\"\nuser = \"{}\"\npassword_cmd = \"echo {}\"\n\
             skip_unchanged = true",
            server.url(),
            server.user(),
            server.password()
        ),
        "",
    );
    world.sync_ok();
    assert!(reports(&server, "quiet") > 0, "{}", server.log());

    // Nothing changed anywhere: neither collection is asked for its changes.
    let before = (reports(&server, "quiet"), reports(&server, "busy"));
    let run = world.sync_ok();
    assert!(run.stdout().contains("changed: nothing"), "{run}");
    assert_eq!(
        (reports(&server, "quiet"), reports(&server, "busy")),
        before,
        "an unchanged collection is skipped:\n{}",
        server.log()
    );

    // A change on the server, in one collection only.
    put(&server, "busy", "busy2", "from the server");
    let run = world.sync_ok();
    assert_eq!(
        world.local("busy"),
        map(&[("busy1", "first"), ("busy2", "from the server")]),
        "{run}"
    );
    assert_eq!(
        reports(&server, "quiet"),
        before.0,
        "quiet is still skipped"
    );
    assert!(reports(&server, "busy") > before.1, "busy is asked");
    delete(&server, "busy", "busy1");
    let run = world.sync_ok();
    assert_eq!(
        world.local("busy"),
        map(&[("busy2", "from the server")]),
        "{run}"
    );

    // Changes in the vdir: a new file, an edit in place (the directory's mtime does not
    // move), a deletion; each synced by the next run.
    world.write_local("quiet", "quiet2", "new here");
    world.sync_ok();
    assert_eq!(
        remote(&server, "quiet"),
        map(&[("quiet1", "first"), ("quiet2", "new here")])
    );
    // Each upload leaves the server's getctag unrecorded (see below); one more run records it,
    // so that the next change is the only one the run could notice.
    world.sync_ok();
    world.write_local("quiet", "quiet1", "edited here");
    world.sync_ok();
    assert_eq!(
        remote(&server, "quiet"),
        map(&[("quiet1", "edited here"), ("quiet2", "new here")])
    );
    world.sync_ok();
    fs::remove_file(world.vdir("quiet").join("quiet2.ics")).unwrap();
    world.sync_ok();
    assert_eq!(remote(&server, "quiet"), map(&[("quiet1", "edited here")]));

    // Our own uploads moved the server's getctag to a value not recorded: one more run asks,
    // and from then on both collections are skipped again.
    world.sync_ok();
    let before = (reports(&server, "quiet"), reports(&server, "busy"));
    world.sync_ok();
    assert_eq!(
        (reports(&server, "quiet"), reports(&server, "busy")),
        before,
        "{}",
        server.log()
    );
    // An upload moves the server's getctag from the value seen before it to one not seen, so
    // the old value must not stay recorded: servers derive it from content (Radicale hashes
    // every item), and someone undoing the upload on the server brings it back.
    world.write_local("quiet", "quiet1", "edited again");
    world.sync_ok();
    put(&server, "quiet", "quiet1", "edited here");
    let run = world.sync_ok();
    assert_eq!(
        world.local("quiet"),
        map(&[("quiet1", "edited here")]),
        "{run}"
    );
}

/// A loopback HTTP relay in front of Radicale that deletes `property` (as pimlink spells it,
/// e.g. `<cs:getctag/>`) from every request body, so that Radicale answers like a server that
/// does not know the property. Radicale answers HTTP/1.0 and closes each connection, so one
/// request per connection is enough.
fn without(port: u16, property: &'static str) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    fn relay(client: TcpStream, port: u16, property: &str) -> std::io::Result<()> {
        let mut reader = BufReader::new(client.try_clone()?);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            if line == "\r\n" {
                break;
            }
            match line.to_ascii_lowercase().strip_prefix("content-length:") {
                Some(value) => length = value.trim().parse().unwrap(),
                None => head.push_str(&line),
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let body = String::from_utf8(body).unwrap().replace(property, "");
        let mut server = TcpStream::connect(("127.0.0.1", port))?;
        write!(server, "{head}Content-Length: {}\r\n\r\n{body}", body.len())?;
        let mut client = client;
        std::io::copy(&mut server, &mut client)?;
        Ok(())
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || relay(client, port, property));
        }
    });
    format!("http://127.0.0.1:{relay_port}/")
}

#[test]
fn a_server_without_getctag_is_asked_for_changes_every_run() {
    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    put(&server, "c", "e1", "one");
    let world = World::new(
        &format!(
            "type = \"caldav\"\nurl = \"{}\"\nuser = \"{}\"\npassword_cmd = \"echo {}\"\n\
             skip_unchanged = true",
            without(server.port(), "<cs:getctag/>"),
            server.user(),
            server.password()
        ),
        "",
    );
    world.sync_ok();
    assert_eq!(world.local("c"), map(&[("e1", "one")]));
    assert_eq!(
        server_state(&world, "c"),
        "none",
        "no getctag, no state recorded for the server side"
    );
    assert_asked_every_run(&world, &server, "c");
    put(&server, "c", "e2", "two");
    let run = world.sync_ok();
    assert_eq!(
        world.local("c"),
        map(&[("e1", "one"), ("e2", "two")]),
        "{run}"
    );
}

/// The storage table of a Radicale account with `skip_unchanged = "last-modified"`, reached
/// at `url` (Radicale itself or a relay in front of it).
fn last_modified_storage(server: &Radicale, url: &str) -> String {
    format!(
        "type = \"caldav\"\nurl = \"{url}\"\nuser = \"{}\"\npassword_cmd = \"echo {}\"\n\
         skip_unchanged = \"last-modified\"",
        server.user(),
        server.password()
    )
}

/// Two more runs, each of which must ask the server for the changes of `calendar` (one REPORT)
/// and record no server-side state for it.
fn assert_asked_every_run(world: &World, server: &Radicale, calendar: &str) {
    for round in 0..2 {
        let before = reports(server, calendar);
        world.sync_ok();
        assert_eq!(server_state(world, calendar), "none", "round {round}");
        assert_eq!(
            reports(server, calendar),
            before + 1,
            "round {round}: {}",
            server.log()
        );
    }
}

#[test]
fn last_modified_skips_unchanged_collections_and_changes_on_either_side_still_sync() {
    let server = Radicale::start().unwrap();
    quiet_and_busy(&server);
    let world = World::new(&last_modified_storage(&server, &server.url()), "");
    let counts = || (reports(&server, "quiet"), reports(&server, "busy"));
    world.sync_ok();
    assert_eq!(world.local("busy"), map(&[("busy1", "first")]));
    sync_until_stamped(&world, "quiet");

    // Nothing changed anywhere: neither collection is asked for its changes.
    let before = counts();
    let run = world.sync_ok();
    assert!(run.stdout().contains("changed: nothing"), "{run}");
    assert_eq!(counts(), before, "skipped:\n{}", server.log());

    // Server changes after a skipped run: an addition, then an edit and a deletion. Each is
    // made old enough to be trusted, so only the moved last-modified can tell the run.
    put(&server, "busy", "busy2", "from the server");
    until_trusted();
    let run = world.sync_ok();
    assert_eq!(
        world.local("busy"),
        map(&[("busy1", "first"), ("busy2", "from the server")]),
        "{run}"
    );
    let after = counts();
    assert_eq!(after.0, before.0, "quiet is still skipped");
    assert!(after.1 > before.1, "busy is asked");
    // The run wrote only to the vdir: the server's stamp it saw is recorded, and kept.
    world.sync_ok();
    assert_eq!(counts(), after, "{}", server.log());
    put(&server, "busy", "busy2", "edited on the server");
    delete(&server, "busy", "busy1");
    until_trusted();
    let run = world.sync_ok();
    assert_eq!(
        world.local("busy"),
        map(&[("busy2", "edited on the server")]),
        "{run}"
    );

    // Vdir changes after a skipped run: a new file, an edit in place, a deletion.
    let before = counts();
    world.sync_ok();
    assert_eq!(
        counts().0,
        before.0,
        "quiet is skipped before the vdir changes"
    );
    world.write_local("quiet", "quiet2", "new here");
    world.sync_ok();
    assert_eq!(
        remote(&server, "quiet"),
        map(&[("quiet1", "first"), ("quiet2", "new here")])
    );
    // The upload moved the server's last-modified to a value this run did not see: nothing
    // is recorded for it until a run sees it settled.
    assert_eq!(server_state(&world, "quiet"), "none");
    until_trusted();
    world.sync_ok();
    let before = counts();
    world.sync_ok();
    assert_eq!(counts(), before, "skipped again:\n{}", server.log());
    world.write_local("quiet", "quiet1", "edited here");
    world.sync_ok();
    assert_eq!(
        remote(&server, "quiet"),
        map(&[("quiet1", "edited here"), ("quiet2", "new here")])
    );
    until_trusted();
    world.sync_ok();
    let before = counts();
    world.sync_ok();
    assert_eq!(counts(), before, "skipped again:\n{}", server.log());
    fs::remove_file(world.vdir("quiet").join("quiet2.ics")).unwrap();
    world.sync_ok();
    assert_eq!(remote(&server, "quiet"), map(&[("quiet1", "edited here")]));
}

#[test]
fn a_last_modified_too_close_to_the_servers_clock_is_not_trusted() {
    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    put(&server, "c", "e1", "one");
    // An item file dated an hour ahead: Radicale's last-modified is then always later than
    // its own Date header, as a change made in the current second would be.
    let file = server
        .storage_dir()
        .join("collection-root")
        .join(server.user())
        .join("c")
        .join("e1.ics");
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
        .unwrap();
    let world = World::new(&last_modified_storage(&server, &server.url()), "");
    world.sync_ok();
    assert_eq!(world.local("c"), map(&[("e1", "one")]));
    until_trusted();
    assert_asked_every_run(&world, &server, "c");
}

#[test]
fn a_server_without_getlastmodified_is_asked_for_changes_every_run() {
    let server = Radicale::start().unwrap();
    server.create_calendar("c").unwrap();
    put(&server, "c", "e1", "one");
    let url = without(server.port(), "<d:getlastmodified/>");
    let world = World::new(&last_modified_storage(&server, &url), "");
    world.sync_ok();
    assert_eq!(world.local("c"), map(&[("e1", "one")]));
    // Old enough that a last-modified, had the server sent one, would be trusted.
    until_trusted();
    assert_asked_every_run(&world, &server, "c");
    put(&server, "c", "e2", "two");
    let run = world.sync_ok();
    assert_eq!(
        world.local("c"),
        map(&[("e1", "one"), ("e2", "two")]),
        "{run}"
    );
}

/// A calendar whose only event the user deleted is emptied on the other side too (issue 12,
/// smallempty), from either side, while the side still shows events in another calendar; a
/// side on which every calendar is empty at once is a wipe and stays refused.
#[test]
fn a_small_calendar_emptied_by_its_user_is_synced_but_a_wiped_side_is_refused() {
    let server = Radicale::start().unwrap();
    for calendar in ["c1", "c2", "d"] {
        server.create_calendar(calendar).unwrap();
    }
    put(&server, "c1", "only1", "x");
    put(&server, "c2", "only2", "x");
    for i in 0..3 {
        put(&server, "d", &format!("e{i}"), "x");
    }
    let world = World::radicale(&server, "");
    world.sync_ok();

    // Deleted in the vdir: the dry run shows the deletion, the real run makes it.
    fs::remove_file(world.vdir("c1").join("only1.ics")).unwrap();
    let dry = world.run(&["sync", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{dry}");
    assert!(dry.stdout().contains("c1: delete"), "{dry}");
    assert_eq!(remote(&server, "c1").len(), 1, "{dry}");
    let run = world.sync_ok();
    assert!(remote(&server, "c1").is_empty(), "{run}");

    // Deleted on the server.
    delete(&server, "c2", "only2");
    let run = world.sync_ok();
    assert!(world.local("c2").is_empty(), "{run}");
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");

    // Every calendar of the vdir empty at once, each under the floor: a wipe.
    put(&server, "c1", "back", "x");
    world.sync_ok();
    for calendar in ["c1", "d"] {
        for entry in fs::read_dir(world.vdir(calendar)).unwrap() {
            fs::remove_file(entry.unwrap().path()).unwrap();
        }
    }
    let refused = world.run(&["sync"]);
    assert_eq!(refused.code(), 5, "{refused}");
    assert_eq!(
        (remote(&server, "c1").len(), remote(&server, "d").len()),
        (1, 3),
        "{refused}"
    );
}
