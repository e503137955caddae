//! One message that cannot get through must not block the rest of its folder (issue 12): with
//! every connection cut after N bytes by pimlink-testkit's proxy, a message bigger than N can
//! never be downloaded or uploaded. The run must give up on that one message after its
//! retries, report it (folder, UID or file, size, cause) with exit status 1, carry every other
//! message over in the same run, and end: the number of connections it opens stays bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::World;
use common::imap::{server_tree, sized_message};
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

/// A world whose side `a` is the test Dovecot's user behind `proxy` and side `b` a verbatim
/// Maildir.
fn world_behind(server: &Dovecot, proxy: &CutProxy) -> World {
    let world = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         user = \"{user}\"\npassword = \"{password}\"\ntimeout = 20\nconnections = 1\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\nlayout = \"verbatim\"\n\n\
         [pair.p]\na = \"a\"\nb = \"b\"\n",
        state = world.state_dir().display(),
        host = proxy.host(),
        port = proxy.port(),
        user = server.user(),
        password = server.password(),
        b = world.root("b").display(),
    );
    fs::write(world.config(), config).unwrap();
    world
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
    assert!(report.contains("INBOX"), "names the folder: {report}");
    assert!(report.contains("connection"), "names the cause: {report}");
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
