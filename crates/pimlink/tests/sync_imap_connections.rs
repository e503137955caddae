//! End-to-end: folders synced concurrently over several IMAP connections (`connections`).
//! Each test runs the same changes through an account with `connections = 4` and through an
//! account with `connections = 1` and demands identical results; a testkit proxy in front of
//! the server counts the connections open at the same time, so that a sequential executor
//! fails the tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{client_verbs, dovecot_options, message, sync_logging_wire, user_tree};
use common::{Tree, World, block_on, find_file, set_local_flags, sync_with_kills, uid_of};
use std::fs;

use pimlink_core::{Flag, Flags};
use pimlink_imap::{Client, StoreMode, UidRanges};
use pimlink_testkit::{CutProxy, Dovecot, DovecotBuilder};

/// Folders on the server, and folders only on the Maildir side.
const SERVER_FOLDERS: usize = 8;
const LOCAL_FOLDERS: usize = 4;

fn password(user: &str) -> String {
    format!("secret-{user}")
}

/// An IMAP storage section for `user`, reached at `port`.
fn imap_storage(name: &str, port: u16, user: &str, connections: usize) -> String {
    format!(
        "[storage.{name}]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         user = \"{user}\"\npassword = \"{}\"\nconnections = {connections}\n\n",
        password(user)
    )
}

/// A world pairing `a` (an IMAP storage section) with a verbatim Maildir `b`, or with the
/// IMAP section `b` if given.
fn world(a: &str, b: Option<&str>) -> World {
    let world = World::new("");
    let b = match b {
        Some(b) => b.to_owned(),
        None => format!(
            "[storage.b]\ntype = \"maildir\"\npath = \"{}\"\nlayout = \"verbatim\"\n\n",
            world.root("b").display()
        ),
    };
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n{a}{b}[pair.p]\na = \"a\"\nb = \"b\"\n",
        state = world.state_dir().display(),
    );
    fs::write(world.config(), config).unwrap();
    world
}

/// Mail in several server folders of `user`, some of it flagged.
fn fill_server(server: &Dovecot, user: &str) {
    for f in 0..SERVER_FOLDERS {
        let messages: Vec<Vec<u8>> = (0..6).map(|i| message(&format!("s{f}-{i}"))).collect();
        server
            .deliver_many(user, &format!("F{f}"), messages.iter().map(Vec::as_slice))
            .unwrap();
    }
    server_change(server, user, "F1", "s1-2", StoreMode::Add, Flag::Seen);
}

/// Mail in local folders, new and known to the server.
fn fill_local(world: &World) {
    for f in 0..LOCAL_FOLDERS {
        for i in 0..5 {
            let flags = ["", "S", "FS", "RS", "D"][i];
            world.deliver("b", &format!("L{f}"), &format!("l{f}-{i}"), flags);
        }
    }
    world.deliver("b", "F3", "local-in-f3", "F");
}

/// Changes `id` in `folder` on the server as another client would; `Flag::Trashed` with
/// `Add` expunges it.
fn server_change(
    server: &Dovecot,
    user: &str,
    folder: &str,
    id: &str,
    mode: StoreMode,
    flag: Flag,
) {
    block_on(async {
        let mut client = Client::connect(dovecot_options(server, user, &password(user)))
            .await
            .unwrap();
        client.select(folder, Default::default()).await.unwrap();
        let uid = uid_of(&mut client, id).await;
        let flags = Flags::new().with(flag);
        client
            .store(&UidRanges::single(uid), mode, &flags, None)
            .await
            .unwrap();
        if flag == Flag::Trashed && mode == StoreMode::Add {
            client.uid_expunge(&UidRanges::single(uid)).await.unwrap();
        }
        client.logout().await.unwrap();
    })
}

/// Every message once per side, and both sides alike.
fn assert_same(a: &Tree, b: &Tree) {
    for (side, tree) in [("a", a), ("b", b)] {
        for (folder, messages) in tree {
            for (id, copies) in messages {
                assert_eq!(
                    copies.len(),
                    1,
                    "{side} {folder}: {id} has copies {copies:?}"
                );
            }
        }
    }
    assert_eq!(a, b, "the sides differ");
}

/// Syncs `world` and returns how many connections were open through `proxy` at once.
fn sync_counting(world: &World, proxy: &CutProxy) -> usize {
    proxy.reset_most_open();
    world.sync_ok();
    proxy.most_open()
}

#[test]
fn folders_synced_over_four_connections_end_as_over_one_imap_maildir() {
    let server = DovecotBuilder::new()
        .users(&[("four", "secret-four"), ("one", "secret-one")])
        .start()
        .unwrap();
    let worlds: Vec<(usize, &str, CutProxy, World)> = [(4, "four"), (1, "one")]
        .into_iter()
        .map(|(connections, user)| {
            fill_server(&server, user);
            let proxy = CutProxy::start(server.port()).unwrap();
            let world = world(&imap_storage("a", proxy.port(), user, connections), None);
            fill_local(&world);
            (connections, user, proxy, world)
        })
        .collect();

    let check = |round: &str| -> Tree {
        let mut trees = Vec::new();
        for (_, user, _, world) in &worlds {
            let remote = user_tree(&server, user, &password(user));
            let local = world.messages("b");
            assert_same(&remote, &local);
            trees.push(local);
        }
        assert_eq!(trees[0], trees[1], "{round}: 4 connections and 1 differ");
        trees.swap_remove(0)
    };

    for (connections, _, proxy, world) in &worlds {
        let open = sync_counting(world, proxy);
        if *connections == 1 {
            assert_eq!(open, 1, "connections = 1 must use one connection");
        } else {
            assert!(
                open > 1,
                "connections = {connections}: only {open} open at once"
            );
        }
    }
    let tree = check("first sync");
    assert_eq!(tree.len(), SERVER_FOLDERS + LOCAL_FOLDERS + 1, "{tree:?}");
    assert_eq!(tree["F1"]["s1-2"], ["S"]);
    assert_eq!(tree["F3"].len(), 7);
    assert_eq!(tree["L2"]["l2-3"], ["RS"]);

    // The same changes on both sides of both worlds, spread over the folders.
    for (_, user, _, world) in &worlds {
        for f in 0..SERVER_FOLDERS {
            let folder = format!("F{f}");
            let local = world.root("b").join(&folder);
            match f % 4 {
                0 => set_local_flags(&local, &format!("s{f}-0"), "FS"),
                1 => fs::remove_file(find_file(&local, &format!("s{f}-1"))).unwrap(),
                2 => server_change(
                    &server,
                    user,
                    &folder,
                    &format!("s{f}-2"),
                    StoreMode::Add,
                    Flag::Flagged,
                ),
                _ => server_change(
                    &server,
                    user,
                    &folder,
                    &format!("s{f}-3"),
                    StoreMode::Add,
                    Flag::Trashed,
                ),
            }
            server
                .deliver(user, &folder, &message(&format!("new-s{f}")))
                .unwrap();
            world.deliver("b", &folder, &format!("new-l{f}"), "S");
        }
        set_local_flags(&world.root("b").join("L1"), "l1-0", "R");
    }
    for (connections, _, proxy, world) in &worlds {
        let open = sync_counting(world, proxy);
        assert_eq!(
            open > 1,
            *connections > 1,
            "connections = {connections}: {open}"
        );
    }
    let tree = check("after changes on both sides");
    assert_eq!(tree["F0"]["s0-0"], ["FS"]);
    assert!(!tree["F1"].contains_key("s1-1"));
    assert_eq!(tree["F2"]["s2-2"], ["F"]);
    assert!(!tree["F3"].contains_key("s3-3"));
    assert_eq!(tree["L1"]["l1-0"], ["R"]);
    for f in 0..SERVER_FOLDERS {
        assert_eq!(tree[&format!("F{f}")][&format!("new-s{f}")], [""]);
        assert_eq!(tree[&format!("F{f}")][&format!("new-l{f}")], ["S"]);
    }
    for (_, _, _, world) in &worlds {
        let again = world.sync_ok();
        assert!(again.stdout().contains("changed: nothing"), "{again}");
    }
}

#[test]
fn folders_synced_over_four_connections_end_as_over_one_imap_imap() {
    let users = ["a4", "b4", "a1", "b1"];
    let accounts: Vec<(String, String)> =
        users.iter().map(|u| (u.to_string(), password(u))).collect();
    let accounts: Vec<(&str, &str)> = accounts
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let server = DovecotBuilder::new().users(&accounts).start().unwrap();
    let mut worlds = Vec::new();
    for (connections, a, b) in [(4, "a4", "b4"), (1, "a1", "b1")] {
        fill_server(&server, a);
        for f in 0..LOCAL_FOLDERS {
            let messages: Vec<Vec<u8>> = (0..4).map(|i| message(&format!("b{f}-{i}"))).collect();
            server
                .deliver_many(b, &format!("B{f}"), messages.iter().map(Vec::as_slice))
                .unwrap();
        }
        server.deliver(b, "F2", &message("b-in-f2")).unwrap();
        server_change(&server, b, "B1", "b1-1", StoreMode::Add, Flag::Flagged);
        // Side a through a counting proxy, side b straight to the server.
        let proxy = CutProxy::start(server.port()).unwrap();
        let world = world(
            &imap_storage("a", proxy.port(), a, connections),
            Some(&imap_storage("b", server.port(), b, connections)),
        );
        worlds.push((connections, a, b, proxy, world));
    }
    let check = |round: &str| {
        let mut trees = Vec::new();
        for (_, a, b, _, _) in &worlds {
            let tree_a = user_tree(&server, a, &password(a));
            assert_same(&tree_a, &user_tree(&server, b, &password(b)));
            trees.push(tree_a);
        }
        assert_eq!(trees[0], trees[1], "{round}: 4 connections and 1 differ");
        trees.swap_remove(0)
    };
    for (connections, _, _, proxy, world) in &worlds {
        let open = sync_counting(world, proxy);
        assert_eq!(
            open > 1,
            *connections > 1,
            "connections = {connections}: {open}"
        );
    }
    let tree = check("first sync");
    assert_eq!(tree["B1"]["b1-1"], ["F"]);
    assert_eq!(tree["F2"].len(), 7);
    assert_eq!(tree["F1"]["s1-2"], ["S"]);

    for (_, a, b, _, _) in &worlds {
        for f in 0..SERVER_FOLDERS {
            let folder = format!("F{f}");
            let user = if f % 2 == 0 { *a } else { *b };
            server_change(
                &server,
                user,
                &folder,
                &format!("s{f}-4"),
                StoreMode::Add,
                Flag::Replied,
            );
            server_change(
                &server,
                user,
                &folder,
                &format!("s{f}-5"),
                StoreMode::Add,
                Flag::Trashed,
            );
            server
                .deliver(user, &folder, &message(&format!("new{f}")))
                .unwrap();
        }
    }
    for (connections, _, _, proxy, world) in &worlds {
        let open = sync_counting(world, proxy);
        assert_eq!(
            open > 1,
            *connections > 1,
            "connections = {connections}: {open}"
        );
    }
    let tree = check("after changes on both sides");
    for f in 0..SERVER_FOLDERS {
        let folder = &tree[&format!("F{f}")];
        assert_eq!(folder[&format!("s{f}-4")], ["R"]);
        assert!(!folder.contains_key(&format!("s{f}-5")));
        assert_eq!(folder[&format!("new{f}")], [""]);
    }
    for (_, _, _, _, world) in &worlds {
        let again = world.sync_ok();
        assert!(again.stdout().contains("changed: nothing"), "{again}");
    }
}

/// SIGKILL at random moments of an initial sync that downloads and uploads in many folders
/// over four connections; a clean run then leaves every message exactly once.
#[test]
fn killed_sync_over_four_connections_leaves_every_message_once() {
    let server = DovecotBuilder::new()
        .users(&[("four", "secret-four")])
        .start()
        .unwrap();
    for f in 0..SERVER_FOLDERS {
        let messages: Vec<Vec<u8>> = (0..60).map(|i| message(&format!("s{f}-{i}"))).collect();
        server
            .deliver_many("four", &format!("F{f}"), messages.iter().map(Vec::as_slice))
            .unwrap();
    }
    let world = world(&imap_storage("a", server.port(), "four", 4), None);
    for f in 0..SERVER_FOLDERS {
        for i in 0..25 {
            let flags = ["", "S", "FS"][i % 3];
            world.deliver("b", &format!("F{f}"), &format!("l{f}-{i}"), flags);
        }
    }
    // 16 batches (a download and an upload per folder), each printing more than a run may:
    // a killed run records at most one per connection, so the first three cannot finish.
    let kills = sync_with_kills(&world, 10);
    assert!(
        kills >= 3,
        "the kills should interrupt the sync several times, got {kills}"
    );
    world.sync_ok();
    let local = world.messages("b");
    assert_same(&user_tree(&server, "four", "secret-four"), &local);
    for f in 0..SERVER_FOLDERS {
        let folder = &local[&format!("F{f}")];
        assert_eq!(folder.len(), 85, "F{f}");
        assert_eq!(folder[&format!("l{f}-2")], ["FS"]);
    }
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// A server that allows fewer connections than configured (here: only the first) costs the
/// extra ones, not the folders: a lane that never connects gives its folder back.
#[test]
fn folders_are_all_synced_when_the_server_refuses_extra_connections() {
    let server = DovecotBuilder::new()
        .users(&[("four", "secret-four")])
        .start()
        .unwrap();
    fill_server(&server, "four");
    let proxy = CutProxy::start(server.port()).unwrap();
    let world = world(&imap_storage("a", proxy.port(), "four", 4), None);
    fill_local(&world);
    // Only the next run's first connection gets through.
    let refuse_extra = || {
        let first = proxy.connections().len();
        proxy.set_plan(move |index| {
            if index == first {
                pimlink_testkit::Cut::Never
            } else {
                pimlink_testkit::Cut::Refuse
            }
        });
    };
    // A dry run prints each folder's plan once, although lanes that could not connect handed
    // their folders back to be planned again.
    refuse_extra();
    let dry = world.run(&["sync", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{dry}");
    let stdout = dry.stdout();
    let mut lines: Vec<&str> = stdout.lines().collect();
    // F3 exists on both sides (fill_local puts a message into it): no line of its own.
    for f in (0..SERVER_FOLDERS).filter(|f| *f != 3) {
        let line = format!("collection F{f}: create on b");
        assert!(stdout.contains(&line), "{line:?} missing:\n{dry}");
    }
    lines.sort_unstable();
    let repeated: Vec<&&str> = lines
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| &w[0])
        .collect();
    assert!(repeated.is_empty(), "printed twice: {repeated:?}\n{dry}");
    refuse_extra();
    let run = world.sync_ok();
    assert!(
        proxy.connections().len() > 1,
        "extra connections were tried: {run}"
    );
    proxy.pass_all();
    let local = world.messages("b");
    assert_same(&user_tree(&server, "four", "secret-four"), &local);
    assert_eq!(local["F3"].len(), 7);
    assert_eq!(local["L2"]["l2-3"], ["RS"]);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// Downloads keep each written file open until their batch is made durable, up to a few
/// hundred per connection: under a soft open-file limit of 1,024 (systemd's and many shells'
/// default) four connections could run out of descriptors. pimlink raises its soft limit to the
/// hard one at start, so a low soft limit must not fail a download.
#[test]
fn an_initial_download_over_four_connections_fits_a_low_soft_open_file_limit() {
    let server = DovecotBuilder::new()
        .users(&[("u", "secret-u")])
        .start()
        .unwrap();
    for f in 0..4 {
        let messages: Vec<Vec<u8>> = (0..100).map(|i| message(&format!("m{f}-{i}"))).collect();
        server
            .deliver_many("u", &format!("F{f}"), messages.iter().map(Vec::as_slice))
            .unwrap();
    }
    let world = world(&imap_storage("a", server.port(), "u", 4), None);
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -Sn 128 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_pimlink"))
        .arg("-c")
        .arg(world.config())
        .arg("sync");
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "sync under a soft limit of 128 open files failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let local = world.messages("b");
    for f in 0..4 {
        let folder = local.get(&format!("F{f}")).map_or(0, |m| m.len());
        assert_eq!(folder, 100, "F{f} has {folder} of 100 messages");
    }
}

/// An upload into folders unchanged on the server (changes on the Maildir side only) goes over
/// several connections too. Listing such folders needs no round trip, and the first lane used
/// to take every one of them before the others ran, uploading into all of them alone.
#[test]
fn an_upload_into_folders_unchanged_on_the_server_goes_over_several_connections() {
    let server = DovecotBuilder::new()
        .users(&[("up", "secret-up")])
        .start()
        .unwrap();
    fill_server(&server, "up");
    let proxy = CutProxy::start(server.port()).unwrap();
    let world = world(&imap_storage("a", proxy.port(), "up", 4), None);
    world.sync_ok();
    world.sync_ok();
    for f in 0..SERVER_FOLDERS {
        for i in 0..5 {
            world.deliver("b", &format!("F{f}"), &format!("up{f}-{i}"), "S");
        }
    }
    let open = sync_counting(&world, &proxy);
    assert!(open > 1, "the upload used {open} connection(s) at once");
    let remote = user_tree(&server, "up", &password("up"));
    let local = world.messages("b");
    assert_same(&remote, &local);
    for f in 0..SERVER_FOLDERS {
        assert_eq!(local[&format!("F{f}")].len(), 11);
    }
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

/// Every connection a run opens, the extra ones included, ends with LOGOUT, so that the server
/// sees clean ends rather than dropped connections.
#[test]
fn every_connection_of_a_run_ends_with_logout() {
    let server = DovecotBuilder::new()
        .users(&[("u", "secret-u")])
        .start()
        .unwrap();
    fill_server(&server, "u");
    let world = world(&imap_storage("a", server.port(), "u", 4), None);
    let verbs = client_verbs(&sync_logging_wire(&world));
    let count = |verb: &str| verbs.iter().filter(|v| *v == verb).count();
    let logins = count("AUTHENTICATE") + count("LOGIN");
    assert!(logins > 1, "several connections: {verbs:?}");
    assert_eq!(count("LOGOUT"), logins, "{verbs:?}");
}
