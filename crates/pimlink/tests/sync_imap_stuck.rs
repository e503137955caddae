//! One message that cannot get through must not block the rest of its folder (issue 12): with
//! every connection cut after N bytes by pimlink-testkit's proxy, a message bigger than N can
//! never be downloaded or uploaded. The run must give up on that one message after its
//! retries, report it (folder, UID or file, size, cause) with exit status 1, carry every other
//! message over in the same run, and end: the number of connections it opens stays bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::World;
use common::imap::{server_tree, sized_message, write_imap_maildir_config_via};
use std::fs;

use pimlink_testkit::{Cut, CutProxy, Direction, Dovecot};

/// Each connection carries at most this many bytes in the direction under test.
const CUT_AFTER: u64 = 1_000_000;

/// Small messages before and after the big one, and their size: together several times
/// [`CUT_AFTER`], so that the small ones alone need several connections.
const SMALL_BEFORE: usize = 30;
const SMALL_AFTER: usize = 90;
const SMALL_SIZE: usize = 40_000;

/// The message that cannot get through: bigger than a connection carries.
const BIG_SIZE: usize = 1_300_000;

/// A world whose side `a` is the test Dovecot's user behind `proxy`, over one connection, and
/// side `b` a verbatim Maildir.
fn world_behind(server: &Dovecot, proxy: &CutProxy) -> World {
    let world = World::new("");
    let a_keys = "timeout = 20\nconnections = 1";
    write_imap_maildir_config_via(&world, server, proxy.port(), (a_keys, "", ""));
    world
}

/// Asserts that a failure `report` shows each of `parts` (what it names, and the text).
fn assert_names(report: &str, parts: &[(&str, &str)]) {
    for (what, text) in parts {
        assert!(report.contains(text), "names the {what}: {report}");
    }
}

/// The Message-IDs of the small messages, in order.
fn small_ids() -> Vec<String> {
    (0..SMALL_BEFORE + SMALL_AFTER)
        .map(|i| format!("small{i:03}"))
        .collect()
}

fn cut_every_connection(proxy: &CutProxy, direction: Direction) {
    proxy.set_plan(move |_| Cut::After {
        bytes: CUT_AFTER,
        direction,
    });
}

#[test]
fn a_message_too_big_to_download_is_reported_and_the_rest_of_its_folder_arrives() {
    let server = Dovecot::start().unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    let ids = small_ids();
    let mut messages: Vec<Vec<u8>> = ids[..SMALL_BEFORE]
        .iter()
        .map(|id| sized_message(id, SMALL_SIZE))
        .collect();
    messages.push(sized_message("big", BIG_SIZE));
    messages.extend(
        ids[SMALL_BEFORE..]
            .iter()
            .map(|id| sized_message(id, SMALL_SIZE)),
    );
    server
        .deliver_many(server.user(), "INBOX", messages.iter().map(Vec::as_slice))
        .unwrap();
    let world = world_behind(&server, &proxy);

    cut_every_connection(&proxy, Direction::ToClient);
    let run = world.run(&["sync"]);
    proxy.pass_all();
    let connections = proxy.connections().len();
    eprintln!("{connections} connections\n{run}");

    let local = world.messages("b");
    let inbox = local.get("INBOX").cloned().unwrap_or_default();
    let missing: Vec<&String> = ids.iter().filter(|id| !inbox.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "every small message arrives in the same run; missing {missing:?}:\n{run}"
    );
    assert!(!inbox.contains_key("big"), "the big one cannot arrive");
    assert_eq!(run.code(), 1, "one message failed, the rest synced:\n{run}");
    let stderr = run.stderr();
    let report = stderr
        .lines()
        .find(|line| line.contains("UID 31"))
        .unwrap_or_else(|| panic!("the failure names the message's UID:\n{run}"));
    let parts = [
        ("folder", "INBOX"),
        ("size", "1.3 MB"),
        ("cause", "connection"),
    ];
    assert_names(report, &parts);
    // The big message is tried within the retry schedule, the small ones need a few
    // connections of their own: nothing near a loop.
    assert!(
        connections <= 20,
        "{connections} connections: the run must not loop"
    );

    // Once the network is back, the next run fetches it.
    let again = world.sync_ok();
    assert!(world.messages("b")["INBOX"].contains_key("big"), "{again}");
}

/// Uploads differ: an APPEND whose connection failed may have been stored, so it is not sent
/// again in the same run, and the messages sent in the same MULTIAPPEND share its fate. What
/// must not happen is that they share it in every run: from the next run on, a copy that
/// failed before is uploaded on its own, after the others.
#[test]
fn a_message_too_big_to_upload_fails_alone_from_the_next_run_on() {
    const CUT: u64 = 500_000;
    let server = Dovecot::start().unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    let world = world_behind(&server, &proxy);
    // A first run creates the state, with the server's INBOX known.
    world.sync_ok();
    let inbox = world.root("b").join("INBOX");
    let ids: Vec<String> = (0..40).map(|i| format!("small{i:03}")).collect();
    let local_message = |name: &str, message: Vec<u8>| {
        fs::write(inbox.join("new").join(name), message).unwrap();
    };
    // 30 small messages and the big one fit one MULTIAPPEND batch (1 MiB), which is cut in
    // the big one's middle; the other 10 go in a batch of their own. The names sort in that
    // order.
    for (i, id) in ids[..30].iter().enumerate() {
        local_message(&format!("1000.{i:03}.host"), sized_message(id, 10_000));
    }
    local_message("1000.500.host", sized_message("big", 700_000));
    for (i, id) in ids[30..].iter().enumerate() {
        local_message(
            &format!("1000.{:03}.host", 600 + i),
            sized_message(id, 10_000),
        );
    }
    let server_inbox = || {
        let tree = server_tree(common::imap::dovecot_options(
            &server,
            server.user(),
            server.password(),
        ));
        tree.get("INBOX").cloned().unwrap_or_default()
    };

    proxy.set_plan(|_| Cut::After {
        bytes: CUT,
        direction: Direction::ToServer,
    });
    let first = world.run(&["sync"]);
    eprintln!("first run, cut:\n{first}");
    assert_eq!(first.code(), 1, "{first}");
    assert!(
        !server_inbox().contains_key("big"),
        "the big one cannot arrive"
    );

    let before = proxy.connections().len();
    let run = world.run(&["sync"]);
    proxy.pass_all();
    let connections = proxy.connections().len() - before;
    eprintln!("second run, cut: {connections} connections\n{run}");
    let inbox_now = server_inbox();
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !inbox_now.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "the second run uploads every small message; missing {missing:?}:\n{run}"
    );
    assert!(!inbox_now.contains_key("big"), "the big one cannot arrive");
    for (id, copies) in &inbox_now {
        assert_eq!(copies.len(), 1, "{id} was uploaded once");
    }
    assert_eq!(run.code(), 1, "one message failed, the rest synced:\n{run}");
    let stderr = run.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("copy b->a")).collect();
    assert_eq!(errors.len(), 1, "only the big one failed:\n{run}");
    let parts = [
        ("file", "1000.500.host"),
        ("folder", "INBOX"),
        ("size", "700 KB"),
        ("cause", "connection"),
    ];
    assert_names(errors[0], &parts);
    assert!(
        connections <= 5,
        "{connections} connections: the run must not loop"
    );

    let again = world.sync_ok();
    let inbox_now = server_inbox();
    assert_eq!(inbox_now["big"].len(), 1, "{again}");
    assert_eq!(inbox_now.len(), 41, "{again}");
}
