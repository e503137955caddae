//! Crash tests of IMAP <-> Maildir pairs (issue 4): the IMAP connection dropped at random byte
//! offsets by pimlink-testkit's cutting proxy, and pimlink killed with SIGKILL at random
//! moments, during an initial sync and during syncs with changes on both sides. After the
//! interrupted runs a clean run must leave both sides with every message exactly once with the
//! right flags, and a further run must change nothing.
//!
//! Every random choice comes from a seeded generator; the seed (`PIMLINK_TEST_SEED` replays
//! one) and every cut or kill are printed, and the test output shows them on failure.
//!
//! Over 600 lines as one file: its tests share the cutting proxy, the seeded scenario (seeding and
//! changing both sides) and the record of what both sides must hold, which make up the first half
//! of the file.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{dovecot_options, folder_messages, server_tree, sized_message};
use common::{Run, Tree, World, block_on, cuts, find_file, set_local_flags, sync_with_kills};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use pimlink_core::{Flag, Flags};
use pimlink_imap::{Client, ClientOptions, StoreMode, UidRanges};
use pimlink_testkit::{Cut, CutProxy, Direction, Dovecot, DovecotBuilder, TestRng};

/// folder -> Message-ID -> Maildir flag letters: what both sides must hold, once each.
type Expected = BTreeMap<String, BTreeMap<String, String>>;

/// A Dovecot and a cutting proxy in front of it, with `users` accounts `u0`, `u1`, ...
fn server_and_proxy(users: usize) -> (Dovecot, CutProxy) {
    let accounts: Vec<(String, String)> = (0..users)
        .map(|i| (format!("u{i}"), format!("secret-{i}")))
        .collect();
    let accounts: Vec<(&str, &str)> = accounts
        .iter()
        .map(|(u, p)| (u.as_str(), p.as_str()))
        .collect();
    let server = DovecotBuilder::new().users(&accounts).start().unwrap();
    let proxy = CutProxy::start(server.port()).unwrap();
    (server, proxy)
}

/// A world whose side `a` is account `u{account}` on the server (through the proxy) and side
/// `b` a verbatim Maildir.
struct Net<'s> {
    server: &'s Dovecot,
    proxy: &'s CutProxy,
    account: usize,
    world: World,
}

impl<'s> Net<'s> {
    fn new(server: &'s Dovecot, proxy: &'s CutProxy, account: usize) -> Net<'s> {
        let world = World::new("");
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
             user = \"u{account}\"\npassword = \"secret-{account}\"\ntimeout = 20\n\n\
             [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\nlayout = \"verbatim\"\n\n\
             [pair.p]\na = \"a\"\nb = \"b\"\n",
            state = world.state_dir().display(),
            host = proxy.host(),
            port = proxy.port(),
            b = world.root("b").display(),
        );
        fs::write(world.config(), config).unwrap();
        Net {
            server,
            proxy,
            account,
            world,
        }
    }

    fn user(&self) -> String {
        format!("u{}", self.account)
    }

    fn options(&self) -> ClientOptions {
        let password = format!("secret-{}", self.account);
        dovecot_options(self.server, &self.user(), &password)
    }

    /// Runs `sync` while the proxy cuts connections as `rng` decides (one in ten passes);
    /// returns the exit status.
    fn cut_run(&self, label: &str, rng: &mut TestRng, max_bytes: u64) -> i32 {
        let run = || self.world.run(&["-q", "sync"]);
        cuts::cut_run(self.proxy, label, rng, max_bytes, (1, 10), run).code()
    }

    /// A run with the proxy passing everything, which must succeed.
    fn clean_run(&self) -> Run {
        self.proxy.pass_all();
        self.world.sync_ok()
    }

    /// Both sides hold exactly `expected`, and another run changes nothing.
    fn assert_synced(&self, expected: &Expected, context: &str) {
        let want: Tree = expected
            .iter()
            .map(|(folder, messages)| {
                let messages = messages
                    .iter()
                    .map(|(id, flags)| (id.clone(), vec![flags.clone()]))
                    .collect();
                (folder.clone(), messages)
            })
            .collect();
        let server = without_empty(server_tree(self.options()));
        let local = without_empty(self.world.messages("b"));
        assert_eq!(
            server, want,
            "{context}: the server differs from the expected state"
        );
        assert_eq!(
            local, want,
            "{context}: the Maildir differs from the expected state"
        );
        let again = self.clean_run();
        assert!(
            again.stdout().contains("changed: nothing"),
            "{context}: a further run changed something:\n{again}"
        );
    }
}

/// Folders without messages are left out: a folder created on both sides but emptied is
/// not a difference in mail.
fn without_empty(tree: Tree) -> Tree {
    tree.into_iter().filter(|(_, m)| !m.is_empty()).collect()
}

/// A message size: mostly small, sometimes a few KB, rarely bigger than the 256 KiB that the
/// client spools to disk.
fn random_size(rng: &mut TestRng) -> usize {
    match rng.range(0, 100) {
        0 => 300 << 10,
        1..=20 => rng.range(2_000, 30_000) as usize,
        _ => rng.range(100, 1_500) as usize,
    }
}

/// Flags from Maildir letters.
fn flags_of(letters: &str) -> Flags {
    let mut flags = Flags::new();
    for (letter, flag) in [
        ('D', Flag::Draft),
        ('F', Flag::Flagged),
        ('P', Flag::Passed),
        ('R', Flag::Replied),
        ('S', Flag::Seen),
    ] {
        if letters.contains(letter) {
            flags.set(flag, true);
        }
    }
    flags
}

/// Server folder name of an engine folder (Dovecot's delimiter is '.').
fn server_folder(folder: &str) -> String {
    folder.replace('/', ".")
}

/// Sets flags on and deletes messages on the server, as another mail client would.
fn edit_server(net: &Net<'_>, flags: &[(String, String, String)], deletions: &[(String, String)]) {
    block_on(async {
        let mut client = Client::connect(net.options()).await.unwrap();
        let folders: BTreeSet<&String> = flags
            .iter()
            .map(|(f, _, _)| f)
            .chain(deletions.iter().map(|(f, _)| f))
            .collect();
        for folder in folders {
            client
                .select(&server_folder(folder), Default::default())
                .await
                .unwrap();
            let uids = folder_messages(&mut client).await;
            let uid = |id: &str| uids[id][0].0;
            for (_, id, letters) in flags.iter().filter(|(f, _, _)| f == folder) {
                client
                    .store(
                        &UidRanges::single(uid(id)),
                        StoreMode::Replace,
                        &flags_of(letters),
                        None,
                    )
                    .await
                    .unwrap();
            }
            for (_, id) in deletions.iter().filter(|(f, _)| f == folder) {
                let set = UidRanges::single(uid(id));
                let deleted = Flags::new().with(Flag::Trashed);
                client
                    .store(&set, StoreMode::Add, &deleted, None)
                    .await
                    .unwrap();
                client.uid_expunge(&set).await.unwrap();
            }
        }
        client.logout().await.unwrap();
    })
}

/// Writes a message into a local folder as a delivery agent would.
fn deliver_local(maildir: &Path, id: &str, size: usize, letters: &str) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let text = String::from_utf8(sized_message(id, size))
        .unwrap()
        .replace("\r\n", "\n");
    let path = if letters.is_empty() {
        maildir.join("new").join(format!("u-{id}"))
    } else {
        maildir.join("cur").join(format!("u-{id}:2,{letters}"))
    };
    fs::write(path, text).unwrap();
}

const LETTERS: [&str; 6] = ["", "S", "FS", "RS", "F", "DS"];

/// Mail on both sides before a first sync: `server_count` messages over three server folders,
/// some with flags, and `local_count` over two local folders (one not on the server).
fn seed_both_sides(
    net: &Net<'_>,
    rng: &mut TestRng,
    server_count: usize,
    local_count: usize,
) -> Expected {
    let mut expected = Expected::new();
    let folders = ["INBOX", "Archive", "Lists/rust"];
    let mut by_folder: BTreeMap<&str, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for i in 0..server_count {
        let folder = folders[i % 3];
        let id = format!("s{i}");
        by_folder
            .entry(folder)
            .or_default()
            .push((id.clone(), sized_message(&id, random_size(rng))));
    }
    let user = net.user();
    for (folder, messages) in &by_folder {
        net.server
            .deliver_many(
                &user,
                &server_folder(folder),
                messages.iter().map(|(_, m)| &m[..]),
            )
            .unwrap();
    }
    let mut flag_changes = Vec::new();
    for (folder, messages) in &by_folder {
        for (id, _) in messages {
            let letters = LETTERS[rng.range(0, LETTERS.len() as u64) as usize];
            if !letters.is_empty() {
                flag_changes.push((folder.to_string(), id.clone(), letters.to_owned()));
            }
            expected
                .entry(folder.to_string())
                .or_default()
                .insert(id.clone(), letters.to_owned());
        }
    }
    edit_server(net, &flag_changes, &[]);
    for i in 0..local_count {
        let folder = ["INBOX", "Sent"][i % 2];
        deliver_random_local(net, rng, folder, format!("l{i}"), &mut expected);
    }
    expected
}

/// Delivers message `id` of a random size and random flags into the local `folder`, and
/// expects it there with those flags.
fn deliver_random_local(
    net: &Net<'_>,
    rng: &mut TestRng,
    folder: &str,
    id: String,
    expected: &mut Expected,
) {
    let letters = LETTERS[rng.range(0, LETTERS.len() as u64) as usize];
    deliver_local(
        &net.world.root("b").join(folder),
        &id,
        random_size(rng),
        letters,
    );
    expected
        .entry(folder.to_owned())
        .or_default()
        .insert(id, letters.to_owned());
}

/// Random changes on both sides, each message touched at most once: new mail, flag changes
/// and deletions on the server and in the Maildir. Updates `expected`.
fn change_both_sides(net: &Net<'_>, rng: &mut TestRng, round: usize, expected: &mut Expected) {
    let mut all: Vec<(String, String)> = expected
        .iter()
        .flat_map(|(f, m)| m.keys().map(move |id| (f.clone(), id.clone())))
        .collect();
    let mut pick = |rng: &mut TestRng| {
        let index = rng.range(0, all.len() as u64) as usize;
        all.swap_remove(index)
    };
    let (mut server_flags, mut server_deletions) = (Vec::new(), Vec::new());
    for _ in 0..12 {
        let (folder, id) = pick(rng);
        let letters = LETTERS[rng.range(0, LETTERS.len() as u64) as usize].to_owned();
        expected
            .get_mut(&folder)
            .unwrap()
            .insert(id.clone(), letters.clone());
        server_flags.push((folder, id, letters));
    }
    for _ in 0..6 {
        let (folder, id) = pick(rng);
        expected.get_mut(&folder).unwrap().remove(&id);
        server_deletions.push((folder, id));
    }
    edit_server(net, &server_flags, &server_deletions);
    for _ in 0..12 {
        let (folder, id) = pick(rng);
        let letters = LETTERS[rng.range(0, LETTERS.len() as u64) as usize].to_owned();
        set_local_flags(&net.world.root("b").join(&folder), &id, &letters);
        expected.get_mut(&folder).unwrap().insert(id, letters);
    }
    for _ in 0..6 {
        let (folder, id) = pick(rng);
        fs::remove_file(find_file(&net.world.root("b").join(&folder), &id)).unwrap();
        expected.get_mut(&folder).unwrap().remove(&id);
    }
    let user = net.user();
    for i in 0..15 {
        let folder = ["INBOX", "Archive"][i % 2];
        let id = format!("r{round}s{i}");
        net.server
            .deliver(&user, folder, &sized_message(&id, random_size(rng)))
            .unwrap();
        expected
            .entry(folder.to_owned())
            .or_default()
            .insert(id, String::new());
        let folder = ["INBOX", "Sent"][i % 2];
        deliver_random_local(net, rng, folder, format!("r{round}l{i}"), expected);
    }
}

#[test]
fn dropped_connections_during_an_initial_sync_lose_and_duplicate_nothing() {
    let seed = TestRng::seed_from_env("PIMLINK_TEST_SEED", 0x1d5e_ed04);
    let mut rng = TestRng::new(seed);
    // Each round is a first sync of another account into another Maildir.
    let rounds = 5;
    let (server, proxy) = server_and_proxy(rounds);
    for round in 0..rounds {
        let net = Net::new(&server, &proxy, round);
        let expected = seed_both_sides(&net, &mut rng, 240, 60);
        // Runs with random cuts until one gets through; each makes some progress.
        for run in 1..=20 {
            let label = format!("round {round} run {run}");
            if net.cut_run(&label, &mut rng, 400_000) == 0 {
                break;
            }
        }
        net.clean_run();
        net.assert_synced(&expected, &format!("round {round}"));
    }
    let cuts = proxy.connections().iter().filter(|r| r.was_cut).count();
    assert!(cuts >= 20, "only {cuts} connections were cut");
}

#[test]
fn dropped_connections_during_syncs_with_changes_on_both_sides_lose_and_duplicate_nothing() {
    let seed = TestRng::seed_from_env("PIMLINK_TEST_SEED", 0xc4a2_6e5b);
    let mut rng = TestRng::new(seed);
    let (server, proxy) = server_and_proxy(1);
    let net = Net::new(&server, &proxy, 0);
    let mut expected = seed_both_sides(&net, &mut rng, 150, 40);
    net.clean_run();
    net.assert_synced(&expected, "after the first sync");
    for round in 0..4 {
        change_both_sides(&net, &mut rng, round, &mut expected);
        for run in 0..3 {
            net.cut_run(&format!("round {round} run {run}"), &mut rng, 60_000);
        }
        net.clean_run();
        net.assert_synced(&expected, &format!("after round {round}"));
    }
}

#[test]
fn one_dropped_connection_is_survived_within_the_run() {
    // Downloads and flag changes from the server are all safe to repeat: with one cut per
    // run, anywhere, the run reconnects and completes on its own.
    let seed = TestRng::seed_from_env("PIMLINK_TEST_SEED", 0x0e_c07);
    let mut rng = TestRng::new(seed);
    let (server, proxy) = server_and_proxy(1);
    let net = Net::new(&server, &proxy, 0);
    let mut expected = seed_both_sides(&net, &mut rng, 60, 0);
    net.clean_run();
    let user = net.user();
    for round in 0..16 {
        for i in 0..10 {
            let id = format!("d{round}-{i}");
            net.server
                .deliver(&user, "INBOX", &sized_message(&id, random_size(&mut rng)))
                .unwrap();
            expected
                .entry("INBOX".to_owned())
                .or_default()
                .insert(id, String::new());
        }
        let (folder, id) = {
            let archive = &expected["Archive"];
            let ids: Vec<&String> = archive.keys().collect();
            (
                "Archive".to_owned(),
                ids[rng.range(0, ids.len() as u64) as usize].clone(),
            )
        };
        let letters = LETTERS[rng.range(0, LETTERS.len() as u64) as usize].to_owned();
        edit_server(&net, &[(folder.clone(), id.clone(), letters.clone())], &[]);
        expected.get_mut(&folder).unwrap().insert(id, letters);

        let first = net.proxy.connections().len();
        // The client sends little here (commands only), the server a lot.
        let (direction, at) = if rng.chance(1, 2) {
            (Direction::ToClient, rng.log_range(1, 40_000))
        } else {
            (Direction::ToServer, rng.log_range(1, 1_500))
        };
        net.proxy.set_plan(move |index| {
            if index == first {
                Cut::After {
                    bytes: at,
                    direction,
                }
            } else {
                Cut::Never
            }
        });
        let run = net.world.run(&["-q", "sync"]);
        net.proxy.pass_all();
        let record = &net.proxy.connections()[first];
        eprintln!(
            "round {round}: cut at {at}{} (cut: {}), exit {}",
            cuts::direction_arrow(direction),
            record.was_cut,
            run.code()
        );
        assert_eq!(
            run.code(),
            0,
            "one dropped connection must not fail the run:\n{run}"
        );
        let server = without_empty(server_tree(net.options()));
        let local = without_empty(net.world.messages("b"));
        assert_eq!(server, local, "round {round}: the sides differ");
    }
    net.assert_synced(&expected, "after the single cuts");
}

#[test]
fn killed_syncs_of_an_imap_pair_lose_and_duplicate_nothing() {
    // SIGKILL at random points (no cuts): a first sync in both directions, then rounds of
    // changes on both sides. Over one connection, so that a killed run can record at most
    // the batch it was working on (sync_imap_connections.rs kills runs over four): the first
    // sync is four batches, each printing more than a killed run may, and so cannot get through
    // the first three kills; each later round prints more than that too, and so cannot get
    // through the first.
    let seed = TestRng::seed_from_env("PIMLINK_TEST_SEED", 0x4b11_1ed5);
    let mut rng = TestRng::new(seed);
    let (server, proxy) = server_and_proxy(1);
    let net = Net::new(&server, &proxy, 0);
    let config = fs::read_to_string(net.world.config()).unwrap();
    fs::write(
        net.world.config(),
        config.replace("timeout = 20\n", "timeout = 20\nconnections = 1\n"),
    )
    .unwrap();
    let mut expected = seed_both_sides(&net, &mut rng, 240, 60);
    let kills = sync_with_kills(&net.world, 8);
    assert!(
        kills >= 3,
        "the kills should interrupt the first sync, got {kills}"
    );
    net.clean_run();
    net.assert_synced(&expected, "after the killed first sync");
    for round in 0..3 {
        change_both_sides(&net, &mut rng, round, &mut expected);
        let kills = sync_with_kills(&net.world, 4);
        assert!(
            kills >= 1,
            "round {round}: the kills should interrupt the sync, got {kills}"
        );
        net.clean_run();
        net.assert_synced(&expected, &format!("after killed round {round}"));
    }
}

#[test]
fn a_server_that_stays_unreachable_fails_its_folders_and_the_run_goes_on() {
    let seed = TestRng::seed_from_env("PIMLINK_TEST_SEED", 0x0dea_d5e7);
    let mut rng = TestRng::new(seed);
    let (server, proxy) = server_and_proxy(1);
    let net = Net::new(&server, &proxy, 0);
    let expected = seed_both_sides(&net, &mut rng, 150, 20);
    // A second pair of two Maildir trees in the same config, which must sync regardless.
    let c = net.world.dir.path().join("c");
    let d = net.world.dir.path().join("d");
    common::deliver(&c.join("INBOX"), "c1", "S");
    // One connection: the counts below follow one store's retry schedule (extra connections
    // that never connect give their folders back to it; see sync_imap_connections.rs).
    let mut config = fs::read_to_string(net.world.config())
        .unwrap()
        .replace("timeout = 20\n", "timeout = 20\nconnections = 1\n");
    config.push_str(&format!(
        "\n[storage.c]\ntype = \"maildir\"\npath = \"{}\"\n\n\
         [storage.d]\ntype = \"maildir\"\npath = \"{}\"\n\n[pair.q]\na = \"c\"\nb = \"d\"\n",
        c.display(),
        d.display()
    ));
    fs::write(net.world.config(), config).unwrap();

    // The first connection dies for good a little after the folder list (about 1 KB); every
    // later one is refused.
    proxy.set_plan(|index| match index {
        0 => Cut::After {
            bytes: 2_500,
            direction: Direction::ToClient,
        },
        _ => Cut::Refuse,
    });
    let run = net.world.run(&["sync"]);
    proxy.pass_all();
    eprintln!("{run}");
    assert_eq!(run.code(), 1, "folders failed, the rest went on:\n{run}");
    let stderr = run.stderr();
    assert!(stderr.contains("failed 5 times in a row"), "{run}");
    assert!(stderr.contains("so this was tried once"), "{run}");
    assert_eq!(
        proxy.connections().len(),
        1 + 4 + 3,
        "one schedule for the first folder, one try for each of the three others"
    );
    assert_eq!(
        common::read_tree(&d)["INBOX"]["c1"],
        ["S"],
        "the other pair synced"
    );
    // Nothing was lost on either side meanwhile, and a clean run completes the sync.
    net.clean_run();
    net.assert_synced(&expected, "after the server came back");
}

/// A connection cut in the middle of a MULTIAPPEND leaves none of its messages on the server
/// (the command never ended, and Dovecot drops a command whose client is gone), the run does
/// not send the batch again (its outcome is unknown to the client: repeating it could store it
/// twice), and the next run uploads each of the messages once.
#[test]
fn a_multiappend_cut_midway_stores_none_of_its_messages() {
    let (server, proxy) = server_and_proxy(1);
    let net = Net::new(&server, &proxy, 0);
    let user = net.user();
    server
        .deliver(&user, "INBOX", &sized_message("s0", 500))
        .unwrap();
    net.clean_run();
    let mut expected = Expected::new();
    expected
        .entry("INBOX".to_owned())
        .or_default()
        .insert("s0".to_owned(), String::new());
    let inbox = net.world.root("b").join("INBOX");
    for i in 0..10 {
        let letters = LETTERS[i % LETTERS.len()];
        deliver_local(&inbox, &format!("l{i}"), 20_000, letters);
        expected
            .get_mut("INBOX")
            .unwrap()
            .insert(format!("l{i}"), letters.to_owned());
    }
    // A connection sends a few KB before its APPEND (login, LIST, SELECT); the ten messages
    // are one command of 200 KB: a cut after 100 KB falls in its middle.
    let first = proxy.connections().len();
    proxy.set_plan(|_| Cut::After {
        bytes: 100_000,
        direction: Direction::ToServer,
    });
    let run = net.world.run(&["-q", "sync"]);
    proxy.pass_all();
    assert!(
        proxy.connections()[first..].iter().any(|r| r.was_cut),
        "the upload's connection was cut:\n{run}"
    );
    assert_eq!(run.code(), 1, "the uploads failed:\n{run}");
    let on_server = without_empty(server_tree(net.options()));
    assert_eq!(
        on_server["INBOX"].keys().collect::<Vec<_>>(),
        ["s0"],
        "nothing of the cut command was stored"
    );
    net.clean_run();
    net.assert_synced(&expected, "after the cut MULTIAPPEND");
}
