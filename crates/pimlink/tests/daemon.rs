//! `pimlink daemon` against the test Dovecot (issue 14): changes on either side arrive on the
//! other while it runs; signals (TERM, HUP, USR1, KILL) do what pimlink(1) says; readiness is
//! announced at the documented moment and not before. The watchers of the storages are not
//! needed: each storage is polled every second (its `poll_interval`), which is also the
//! fallback when a watcher cannot start, so these tests keep passing with the watchers plugged
//! in. Every wait ends as soon as what it waits for is seen (deadlines, never durations).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::fs;
use std::os::unix::net::UnixDatagram;

use common::daemon::{Daemon, ids_in, wait_until};
use common::imap::{
    message, sized_message, user_tree, write_imap_maildir_config, write_imap_maildir_config_via,
};
use common::{World, deliver, set_local_flags};
use pimlink_testkit::Dovecot;

/// Side a the Dovecot user, side b a Maildir, both polled every `poll`, pair `p`.
fn world(server: &Dovecot, poll: &str, a_keys: &str) -> World {
    let world = World::new("");
    let a_keys = format!("poll_interval = \"{poll}\"\n{a_keys}");
    let b_keys = format!("poll_interval = \"{poll}\"");
    write_imap_maildir_config(&world, server, &a_keys, &b_keys, "");
    append(
        &world,
        "\n[daemon]\ndebounce = \"100ms\"\nmax_backoff = \"2s\"\n",
    );
    world
}

fn append(world: &World, text: &str) {
    let mut config = fs::read_to_string(world.config()).unwrap();
    config.push_str(text);
    fs::write(world.config(), config).unwrap();
}

/// The ids of the messages in `folder` of a tree, each with how many copies.
fn folder_ids(tree: &common::Tree, folder: &str) -> Vec<(String, usize)> {
    tree.get(folder)
        .map(|m| m.iter().map(|(id, c)| (id.clone(), c.len())).collect())
        .unwrap_or_default()
}

fn server_has(server: &Dovecot, folder: &str, id: &str) -> bool {
    user_tree(server, server.user(), server.password())
        .get(folder)
        .is_some_and(|m| m.contains_key(id))
}

/// While the daemon runs: read as it writes (see `ids_in`).
fn local_has(world: &World, folder: &str, id: &str) -> bool {
    ids_in(&world.root("b").join(folder))
        .iter()
        .any(|i| i == id)
}

#[test]
fn changes_on_either_side_reach_the_other_while_the_daemon_runs() {
    let server = Dovecot::start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("first"))
        .unwrap();
    let world = world(&server, "1s", "");
    let daemon = Daemon::ready(&world.config(), &[]);
    wait_until("the first sync", || local_has(&world, "INBOX", "first"));

    // Server to local: new mail, a new folder.
    server
        .deliver(server.user(), "INBOX", &message("arrived"))
        .unwrap();
    wait_until("new server mail in the Maildir", || {
        local_has(&world, "INBOX", "arrived")
    });
    server
        .deliver(server.user(), "Projects", &message("inproj"))
        .unwrap();
    wait_until("a server folder in the Maildir", || {
        local_has(&world, "Projects", "inproj")
    });

    // Local to server: a new message, a flag change, a deletion, a new folder.
    deliver(&world.root("b").join("INBOX"), "local", "");
    wait_until("the local message on the server", || {
        server_has(&server, "INBOX", "local")
    });
    set_local_flags(&world.root("b").join("INBOX"), "first", "FS");
    wait_until("the local flags on the server", || {
        user_tree(&server, server.user(), server.password())["INBOX"]
            .get("first")
            .is_some_and(|flags| flags == &["FS".to_owned()])
    });
    fs::remove_file(common::find_file(&world.root("b").join("INBOX"), "arrived")).unwrap();
    wait_until("the local deletion on the server", || {
        !server_has(&server, "INBOX", "arrived")
    });
    deliver(&world.root("b").join("Local"), "mine", "S");
    wait_until("a local folder on the server", || {
        server_has(&server, "Local", "mine")
    });

    daemon.stop();
    let server_tree = user_tree(&server, server.user(), server.password());
    let local = world.messages("b");
    for folder in ["INBOX", "Projects", "Local"] {
        assert_eq!(
            folder_ids(&server_tree, folder),
            folder_ids(&local, folder),
            "{folder}"
        );
        assert!(
            folder_ids(&local, folder).iter().all(|(_, n)| *n == 1),
            "{folder}"
        );
    }
}

#[test]
fn ready_comes_after_the_password_command_and_the_first_sync_started() {
    let server = Dovecot::start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("one"))
        .unwrap();
    let world = World::new("");
    let dir = world.dir.path();
    let (fifo, started) = (dir.join("password.fifo"), dir.join("asked"));
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // The password command says it runs, then waits until the test hands over the password.
    let command = format!(
        "password_cmd = \"touch {}; cat {}\"",
        started.display(),
        fifo.display()
    );
    write_imap_maildir_config(&world, &server, "", "", "");
    let config = fs::read_to_string(world.config()).unwrap();
    let config = config.replace(&format!("password = \"{}\"", server.password()), &command);
    fs::write(world.config(), config).unwrap();
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_nonblocking(true).unwrap();

    let daemon = Daemon::start(
        &world.config(),
        &[],
        &[
            ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );
    wait_until("the password command to run", || started.exists());
    // Anything sent before the command ran would be in the socket's queue by now.
    let mut buffer = [0u8; 512];
    let early = socket.recv(&mut buffer);
    assert!(
        early
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "sent before the password was known: {:?}",
        early.map(|n| String::from_utf8_lossy(&buffer[..n]).into_owned())
    );
    assert!(!daemon.stdout().contains("READY=1"), "{}", daemon.stdout());

    fs::write(&fifo, format!("{}\n", server.password())).unwrap();
    socket.set_nonblocking(false).unwrap();
    socket
        .set_read_timeout(Some(common::daemon::DEADLINE))
        .unwrap();
    let mut messages = Vec::new();
    let mut next = || {
        let n = socket.recv(&mut buffer).unwrap();
        String::from_utf8_lossy(&buffer[..n]).into_owned()
    };
    let first = next();
    assert!(first.starts_with("READY=1\nSTATUS="), "{first}");
    daemon.wait_stdout("READY=1");
    // The first sync started before READY: it is under way or done, never waiting.
    assert!(
        first.contains("STATUS=syncing p") || first.contains("STATUS=idle; last sync"),
        "{first}"
    );
    while !messages.iter().any(|m: &String| m.contains("WATCHDOG=1")) {
        messages.push(next());
    }
    wait_until("the first sync", || local_has(&world, "INBOX", "one"));
    daemon.signal("TERM");
    while !messages
        .iter()
        .any(|m: &String| m.starts_with("STOPPING=1"))
    {
        messages.push(next());
    }
    let mut daemon = daemon;
    assert_eq!(daemon.wait_exit(), Some(0), "{}", daemon.stderr());
}

#[test]
fn sigusr1_syncs_now() {
    let server = Dovecot::start().unwrap();
    // Neither NOTIFY nor IDLE: the server's watcher only polls, hourly, so the delivery below
    // reaches the Maildir only through SIGUSR1.
    let world = world(&server, "1h", "notify = false\nidle_folders = []");
    let daemon = Daemon::ready(&world.config(), &[]);
    daemon.wait_stdout("p: 1 collections, changed:");
    server
        .deliver(server.user(), "INBOX", &message("now"))
        .unwrap();
    // Nothing would poll for an hour.
    daemon.signal("USR1");
    wait_until("the sync SIGUSR1 asked for", || {
        local_has(&world, "INBOX", "now")
    });
    daemon.stop();
}

#[test]
fn sighup_keeps_the_pairs_running_with_a_broken_file_and_picks_up_an_added_pair() {
    let server = Dovecot::start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("one"))
        .unwrap();
    let world = world(&server, "1s", "");
    let good = fs::read_to_string(world.config()).unwrap();
    let daemon = Daemon::ready(&world.config(), &[]);
    wait_until("the first sync", || local_has(&world, "INBOX", "one"));

    fs::write(world.config(), format!("{good}\n[pair.broken\n")).unwrap();
    daemon.signal("HUP");
    daemon.wait_stderr("the configuration in use stays");
    server
        .deliver(server.user(), "INBOX", &message("two"))
        .unwrap();
    wait_until("the old pair still syncing", || {
        local_has(&world, "INBOX", "two")
    });

    let c = world.dir.path().join("c");
    fs::create_dir_all(&c).unwrap();
    let added = format!(
        "{good}\n[storage.c]\ntype = \"maildir\"\npath = \"{}\"\nlayout = \"verbatim\"\n\n\
         [pair.q]\na = \"a\"\nb = \"c\"\n",
        c.display()
    );
    // The [daemon] table is in `good`; pairs may follow it in any order.
    fs::write(world.config(), added).unwrap();
    daemon.signal("HUP");
    daemon.wait_stderr("serving p, q");
    wait_until("the added pair synced", || {
        let ids = ids_in(&c.join("INBOX"));
        ids.iter().any(|i| i == "one") && ids.iter().any(|i| i == "two")
    });
    daemon.stop();
}

/// Many messages of some size: a download that takes several batches.
fn big_mailbox(server: &Dovecot, count: usize) -> Vec<String> {
    let ids: Vec<String> = (0..count).map(|i| format!("m{i:04}")).collect();
    let messages: Vec<Vec<u8>> = ids.iter().map(|id| sized_message(id, 20_000)).collect();
    server
        .deliver_many(server.user(), "INBOX", messages.iter().map(Vec::as_slice))
        .unwrap();
    ids
}

fn local_count(world: &World) -> usize {
    ids_in(&world.root("b").join("INBOX")).len()
}

/// After an interrupted download and a restart, the Maildir holds every message once.
fn assert_complete(world: &World, ids: &[String]) {
    let local = world.messages("b");
    let got = folder_ids(&local, "INBOX");
    assert_eq!(got.len(), ids.len(), "every message arrived");
    assert!(got.iter().all(|(_, n)| *n == 1), "none twice: {got:?}");
}

#[test]
fn sigterm_during_a_large_download_stops_cleanly_and_the_next_start_resumes() {
    let server = Dovecot::start().unwrap();
    let ids = big_mailbox(&server, 700);
    let world = world(&server, "1h", "connections = 1");
    let daemon = Daemon::ready(&world.config(), &[]);
    wait_until("the download to begin", || local_count(&world) > 0);
    let (_, stderr) = daemon.stop();
    assert!(stderr.contains("p: stopped at a safe point"), "{stderr}");
    // How far it got depends on the machine; the rest is the next start's.
    eprintln!(
        "stopped with {} of {} downloaded",
        local_count(&world),
        ids.len()
    );

    let daemon = Daemon::ready(&world.config(), &[]);
    wait_until("the rest of the download", || {
        local_count(&world) >= ids.len()
    });
    daemon.stop();
    assert_complete(&world, &ids);
}

#[test]
fn sigkill_mid_sync_then_a_restart_converges_without_loss_or_duplicates() {
    let server = Dovecot::start().unwrap();
    let ids = big_mailbox(&server, 500);
    let world = world(&server, "1h", "connections = 1");
    let mut daemon = Daemon::ready(&world.config(), &[]);
    wait_until("the download to begin", || local_count(&world) > 0);
    daemon.signal("KILL");
    assert_eq!(daemon.wait_exit(), None, "killed");

    let daemon = Daemon::ready(&world.config(), &[]);
    wait_until("the rest of the download", || {
        local_count(&world) >= ids.len()
    });
    daemon.wait_stdout("p: 1 collections, changed:");
    daemon.stop();
    assert_complete(&world, &ids);
    let server_ids = folder_ids(
        &user_tree(&server, server.user(), server.password()),
        "INBOX",
    );
    assert_eq!(
        server_ids.len(),
        ids.len(),
        "nothing came back to the server"
    );
}

#[test]
fn a_server_that_goes_away_is_retried_and_the_daemon_catches_up() {
    let server = Dovecot::start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("before"))
        .unwrap();
    let proxy = pimlink_testkit::CutProxy::start(server.port()).unwrap();
    let world = World::new("");
    let a_keys = "poll_interval = \"1s\"\ntimeout = 10";
    write_imap_maildir_config_via(
        &world,
        &server,
        proxy.port(),
        (a_keys, "poll_interval = \"1s\"", ""),
    );
    append(
        &world,
        "\n[daemon]\ndebounce = \"100ms\"\nmax_backoff = \"2s\"\n",
    );
    let daemon = Daemon::ready(&world.config(), &[]);
    wait_until("the first sync", || local_has(&world, "INBOX", "before"));

    // The server goes away: open connections are cut, new ones refused.
    proxy.set_plan(|_| pimlink_testkit::Cut::Refuse);
    proxy.cut_open_connections();
    let refused_before = proxy.connections().len();
    server
        .deliver(server.user(), "INBOX", &message("while_down"))
        .unwrap();
    // Nothing tells the daemon while the server is away (its watcher keeps reconnecting),
    // so ask for a sync: it fails, which the run journal records, and is retried.
    daemon.signal("USR1");
    wait_until("a failed sync", || {
        let status = world.run(&["status"]);
        status.stdout().contains(": FAILED: ")
    });
    wait_until("a retry", || {
        proxy.connections().len() >= refused_before + 8
    });
    assert!(!local_has(&world, "INBOX", "while_down"));

    // Back: the next retry (at most max_backoff later) catches up.
    proxy.pass_all();
    wait_until("the mail delivered while the server was away", || {
        local_has(&world, "INBOX", "while_down")
    });
    let (_, stderr) = daemon.stop();
    assert!(
        stderr.contains("pair p"),
        "the failures were reported: {stderr}"
    );
}

/// A supervisor reading `--ready-fd` to its end (bench/live does) gets `READY=1\n` and the end
/// of file while the daemon runs on.
#[test]
fn the_ready_fd_gets_one_line_and_is_closed() {
    let world = World::new("");
    deliver(&world.root("a").join("INBOX"), "one", "");
    // fd 3 is the pipe the test reads; the shell execs pimlink, so pimlink alone holds it.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" -c \"$1\" daemon --ready-fd 3 3>&1 1>/dev/null")
        .arg(env!("CARGO_BIN_EXE_pimlink"))
        .arg(world.config())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        let _ = tx.send(text);
    });
    let text = rx.recv_timeout(common::daemon::DEADLINE);
    if text.is_err() {
        let _ = child.kill();
    }
    assert_eq!(text.as_deref(), Ok("READY=1\n"), "the fd was not closed");
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running after closing the fd"
    );
    wait_until("the first sync", || local_has(&world, "INBOX", "one"));
    let kill = std::process::Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}
