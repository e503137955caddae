//! `pimlink replicate NAME -r` and sync_client's controls (issue 15) between two test
//! Dovecots, master and replica: master changes arrive while it rolls; a replica that refuses
//! connections is retried with a backoff under `max_backoff`, then caught up; the shutdown
//! file stops it cleanly and is removed; a change log with names with spaces, an empty log and
//! a leftover `log-run`; kill -9 mid-run then a restart converges without duplicates; `-o`
//! exits 3. Every wait ends as soon as what it waits for is seen (deadlines, never durations).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::daemon::{Daemon, wait_until};
use common::imap::{message, user_tree};
use common::{Run, deliver, pimlink_with};
use pimlink_testkit::Dovecot;
use pimlink_testkit::{Cut, CutProxy};

/// A master and a replica Dovecot, and a config replicating the master's one account.
struct Pair {
    master: Dovecot,
    replica: Dovecot,
    dir: tempfile::TempDir,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            master: Dovecot::start().unwrap(),
            replica: Dovecot::start().unwrap(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes the config: the replica reached at `replica_port` (a proxy's, or its own),
    /// `extra` added to `[replication.r]`.
    fn config(&self, replica_port: u16, extra: &str) -> PathBuf {
        let storage = |name: &str, server: &Dovecot, port: u16| {
            format!(
                "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {port}\n\
                 tls = \"none\"\nuser = \"{}\"\npassword = \"{}\"\npoll_interval = \"1s\"\n\n",
                server.host(),
                server.user(),
                server.password(),
            )
        };
        let text = format!(
            "[general]\nstate_dir = \"{}\"\n\n{}{}\
             [replication.r]\nmaster = \"master\"\nreplica = \"replica\"\n\
             master_login = \"self\"\nreplica_login = \"self\"\nmax_backoff = \"2s\"\n{extra}\n",
            self.dir.path().join("state").display(),
            storage("master", &self.master, self.master.port()),
            storage("replica", &self.replica, replica_port),
        );
        let path = self.dir.path().join("config.toml");
        fs::write(&path, text).unwrap();
        path
    }

    /// The config with a change log: (config, log, log-run).
    fn with_log(&self) -> (PathBuf, PathBuf, PathBuf) {
        let log = self.path("log");
        let config = self.config(
            self.replica.port(),
            &format!("log = \"{}\"\n", log.display()),
        );
        (config, log, self.path("log-run"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn deliver(&self, folder: &str, id: &str) {
        self.master
            .deliver(self.master.user(), folder, &message(id))
            .unwrap();
    }

    /// How many copies of `id` the replica holds in `folder`.
    fn on_replica(&self, folder: &str, id: &str) -> usize {
        self.replica_copies(folder, &[id.to_owned()])[0]
    }

    /// How many copies of each of `ids` the replica holds in `folder` (one listing).
    fn replica_copies(&self, folder: &str, ids: &[String]) -> Vec<usize> {
        let tree = user_tree(&self.replica, self.replica.user(), self.replica.password());
        let messages = tree.get(folder);
        ids.iter()
            .map(|id| messages.and_then(|m| m.get(id)).map_or(0, Vec::len))
            .collect()
    }
}

fn run(config: &Path, args: &[&str]) -> Run {
    Run(pimlink_with(config, args).output().unwrap())
}

/// SIGTERM, and a clean exit.
fn stop(roller: &mut Daemon) {
    roller.signal("TERM");
    assert_eq!(roller.wait_exit(), Some(0), "stderr:\n{}", roller.stderr());
}

fn rolling(config: &Path, args: &[&str]) -> Daemon {
    let mut full = vec!["-v", "replicate", "r"];
    full.extend_from_slice(args);
    Daemon::spawn(config, &full, &[])
}

#[test]
fn master_changes_arrive_while_rolling_and_the_shutdown_file_stops_it() {
    let pair = Pair::new();
    pair.deliver("INBOX", "before");
    let config = pair.config(pair.replica.port(), "");
    let shutdown = pair.path("shutdown");
    let shutdown_arg = shutdown.to_str().unwrap();
    let mut roller = rolling(&config, &["-r", "-d", "100ms", "-F", shutdown_arg]);
    wait_until("the first cycle", || {
        pair.on_replica("INBOX", "before") == 1
    });

    pair.deliver("INBOX", "during");
    pair.deliver("Projects", "in a new folder");
    wait_until("new master mail on the replica", || {
        pair.on_replica("INBOX", "during") == 1
    });
    wait_until("a new master folder on the replica", || {
        pair.on_replica("Projects", "in a new folder") == 1
    });

    fs::write(&shutdown, "").unwrap();
    let code = roller.wait_exit();
    assert_eq!(code, Some(6), "stderr:\n{}", roller.stderr());
    assert!(!shutdown.exists(), "the shutdown file is removed");
    assert!(
        roller.stderr().contains("shutdown file"),
        "{}",
        roller.stderr()
    );
    assert_eq!(pair.on_replica("INBOX", "before"), 1, "no duplicate");
}

#[test]
fn restart_after_makes_the_watchers_anew_and_changes_still_arrive() {
    let pair = Pair::new();
    let config = pair.config(pair.replica.port(), "");
    let mut roller = rolling(&config, &["-r", "-d", "100ms", "-t", "1s"]);
    let restarts = |roller: &Daemon| roller.stderr().matches("restarting the master's").count();
    wait_until("two restarts", || restarts(&roller) >= 2);
    pair.deliver("INBOX", "after restarts");
    wait_until("mail after the restarts", || {
        pair.on_replica("INBOX", "after restarts") == 1
    });
    stop(&mut roller);
}

#[test]
fn sigterm_stops_rolling_cleanly() {
    let pair = Pair::new();
    pair.deliver("INBOX", "one");
    let config = pair.config(pair.replica.port(), "");
    let mut roller = rolling(&config, &["-r"]);
    wait_until("the first cycle", || pair.on_replica("INBOX", "one") == 1);
    stop(&mut roller);
    assert!(roller.stderr().contains("rolling replication stopped"));
}

#[test]
fn a_change_log_with_spaces_a_leftover_run_file_and_an_empty_log() {
    let pair = Pair::new();
    let (config, log, run_file) = pair.with_log();
    pair.deliver("INBOX", "named by the leftover");
    pair.deliver("Sent Items", "named by the log");
    pair.deliver("Archive", "named by no one");

    // A run that crashed left its log-run; changes since went to a new log.
    fs::write(&run_file, "MAILBOX someone INBOX\n").unwrap();
    fs::write(
        &log,
        "# changes\nMAILBOX someone \"Sent Items\"\nMAILBOX someone \"Sent Items\"\n",
    )
    .unwrap();
    let once = run(&config, &["replicate", "r", "-1"]);
    assert_eq!(once.code(), 0, "{once}");
    assert_eq!(
        pair.on_replica("INBOX", "named by the leftover"),
        1,
        "{once}"
    );
    assert_eq!(
        pair.on_replica("Sent Items", "named by the log"),
        1,
        "{once}"
    );
    assert_eq!(
        pair.on_replica("Archive", "named by no one"),
        0,
        "only what the logs name is replicated"
    );
    assert!(
        !log.exists() && !run_file.exists(),
        "both processed and removed"
    );

    // An empty log is fine, and removed.
    fs::write(&log, "").unwrap();
    let once = run(&config, &["replicate", "r", "-1"]);
    assert_eq!(once.code(), 0, "{once}");
    assert!(!log.exists());

    // No log at all: nothing to do.
    let once = run(&config, &["replicate", "r", "-1"]);
    assert_eq!(once.code(), 0, "{once}");

    // -f FILE alone: the names in FILE, replicated once; the file stays.
    let names = pair.path("names");
    fs::write(&names, "MAILBOX someone Archive\n").unwrap();
    let once = run(&config, &["replicate", "r", "-f", names.to_str().unwrap()]);
    assert_eq!(once.code(), 0, "{once}");
    assert_eq!(pair.on_replica("Archive", "named by no one"), 1, "{once}");
    assert!(names.exists());
}

#[test]
fn rolling_on_a_log_picks_up_lines_appended_while_it_runs() {
    let pair = Pair::new();
    let (config, log, _) = pair.with_log();
    let mut roller = rolling(&config, &["-r", "-d", "100ms"]);
    // Dovecot's delimiter is `.`; the log names levels with `/` whatever the server.
    pair.deliver("Lists.rust talk", "appended");
    fs::write(&log, "MAILBOX x \"Lists/rust talk\"\n").unwrap();
    wait_until("the logged mailbox on the replica", || {
        pair.on_replica("Lists/rust talk", "appended") == 1
    });
    wait_until("the log processed", || {
        !log.exists() && !pair.path("log-run").exists()
    });
    stop(&mut roller);
}

/// `retrying in N s` lines of stderr: each N.
fn retry_waits(stderr: &str) -> Vec<f32> {
    stderr
        .lines()
        .filter_map(|line| {
            line.split_once("retrying in ")?
                .1
                .split_once(" s")?
                .0
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn sigterm_mid_cycle_keeps_the_log_for_the_next_start() {
    let pair = Pair::new();
    let (config, log, run_file) = pair.with_log();
    let ids: Vec<String> = (0..300).map(|i| format!("big{i}")).collect();
    let messages: Vec<Vec<u8>> = ids.iter().map(|id| message(id)).collect();
    pair.master
        .deliver_many(
            pair.master.user(),
            "INBOX",
            messages.iter().map(Vec::as_slice),
        )
        .unwrap();
    fs::write(&log, "USER someone\n").unwrap();
    let mut roller = rolling(&config, &["-r"]);
    wait_until("part of the mail on the replica", || {
        pair.replica_copies("INBOX", &ids).iter().any(|&n| n > 0)
    });
    stop(&mut roller);
    let complete = pair.replica_copies("INBOX", &ids).iter().all(|&n| n == 1);
    // Stopped before the end, the log's work is not done: its run file must stay.
    assert!(
        complete || run_file.exists(),
        "the log-run was removed before its work was done"
    );

    let once = run(&config, &["replicate", "r", "-1"]);
    assert_eq!(once.code(), 0, "{once}");
    assert!(!run_file.exists());
    assert_eq!(
        pair.replica_copies("INBOX", &ids),
        vec![1; ids.len()],
        "each once"
    );
}

#[test]
fn a_refusing_replica_is_retried_under_the_cap_then_caught_up() {
    let pair = Pair::new();
    let proxy = CutProxy::start(pair.replica.port()).unwrap();
    proxy.set_plan(|_| Cut::Refuse);
    pair.deliver("INBOX", "waiting");
    let config = pair.config(proxy.port(), "");
    let mut roller = rolling(&config, &["-r", "-d", "100ms"]);
    // Three failed attempts in a row: the backoff doubled up to the cap.
    wait_until("three retries", || retry_waits(&roller.stderr()).len() >= 3);
    proxy.pass_all();
    wait_until("the replica caught up", || {
        pair.on_replica("INBOX", "waiting") == 1
    });
    let waits = retry_waits(&roller.stderr());
    assert!(
        waits.iter().all(|&wait| wait <= 2.0),
        "max_backoff is 2s: {waits:?}\n{}",
        roller.stderr()
    );
    stop(&mut roller);
}

#[test]
fn connect_once_exits_3_against_a_refused_port() {
    let pair = Pair::new();
    let proxy = CutProxy::start(pair.replica.port()).unwrap();
    proxy.set_plan(|_| Cut::Refuse);
    pair.deliver("INBOX", "unreachable");
    let config = pair.config(proxy.port(), "");
    let mut roller = rolling(&config, &["-r", "-o"]);
    assert_eq!(roller.wait_exit(), Some(3), "stderr:\n{}", roller.stderr());
    assert!(roller.stderr().contains("-o"), "{}", roller.stderr());
}

#[test]
fn kill_9_while_rolling_then_a_restart_converges_without_duplicates() {
    let pair = Pair::new();
    let ids: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    let config = pair.config(pair.replica.port(), "");
    let mut roller = rolling(&config, &["-r", "-d", "100ms"]);
    wait_until("the first cycle", || {
        roller.stderr().contains("replicating")
    });
    for id in &ids {
        pair.deliver("INBOX", id);
    }
    // Killed as soon as the replica holds part of the new mail.
    wait_until("some new mail on the replica", || {
        pair.replica_copies("INBOX", &ids).iter().any(|&n| n > 0)
    });
    roller.signal("KILL");
    roller.wait_exit();

    let mut again = rolling(&config, &["-r", "-d", "100ms"]);
    wait_until("all of it on the replica", || {
        pair.replica_copies("INBOX", &ids).iter().all(|&n| n > 0)
    });
    stop(&mut again);
    assert_eq!(
        pair.replica_copies("INBOX", &ids),
        vec![1; ids.len()],
        "each once"
    );
}

const USERS: &[(&str, &str)] = &[("alice", "alice-pw"), ("bob", "bob-pw")];

/// Two Dovecots with [`USERS`] and the master user `admin`, and a config replicating both
/// users: the master through SASL PLAIN authzid, the replica through `user*admin`.
fn multi_user(extra: &str) -> (Dovecot, Dovecot, tempfile::TempDir, PathBuf) {
    let server = || {
        pimlink_testkit::DovecotBuilder::new()
            .users(USERS)
            .master_user("admin", "admin-pw")
            .start()
            .unwrap()
    };
    let (master, replica) = (server(), server());
    let dir = tempfile::tempdir().unwrap();
    let storage = |name: &str, server: &Dovecot| {
        format!(
            "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
             user = \"admin\"\npassword = \"admin-pw\"\npoll_interval = \"1s\"\n\n",
            server.host(),
            server.port()
        )
    };
    let text = format!(
        "[general]\nstate_dir = \"{}\"\n\n{}{}\
         [replication.r]\nmaster = \"m\"\nreplica = \"rep\"\nusers = [\"alice\", \"bob\"]\n\
         master_login = \"authzid\"\nreplica_login = \"master-user\"\n{extra}\n",
        dir.path().join("state").display(),
        storage("m", &master),
        storage("rep", &replica),
    );
    let config = dir.path().join("config.toml");
    fs::write(&config, text).unwrap();
    (master, replica, dir, config)
}

fn copies(server: &Dovecot, user: &str, folder: &str, id: &str) -> usize {
    let password = USERS.iter().find(|(u, _)| *u == user).unwrap().1;
    user_tree(server, user, password)
        .get(folder)
        .and_then(|messages| messages.get(id))
        .map_or(0, Vec::len)
}

#[test]
fn each_users_master_changes_arrive_through_their_own_watcher() {
    let (master, replica, _dir, config) = multi_user("");
    let mut roller = rolling(&config, &["-r", "-d", "100ms"]);
    wait_until("the first cycle", || {
        roller.stderr().contains("replicating")
    });
    master
        .deliver("alice", "INBOX", &message("for alice"))
        .unwrap();
    master
        .deliver("bob", "Sent Items", &message("from bob"))
        .unwrap();
    wait_until("alice's new mail on the replica", || {
        copies(&replica, "alice", "INBOX", "for alice") == 1
    });
    wait_until("bob's new folder on the replica", || {
        copies(&replica, "bob", "Sent Items", "from bob") == 1
    });
    assert_eq!(copies(&replica, "bob", "INBOX", "for alice"), 0);
    stop(&mut roller);
}

#[test]
fn a_log_names_users_and_their_mailboxes_and_skips_strangers() {
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("log");
    let (master, replica, _dir, config) = multi_user(&format!("log = \"{}\"", log.display()));
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    master.deliver("bob", "Sent Items", &message("b1")).unwrap();
    master.deliver("bob", "INBOX", &message("b2")).unwrap();
    fs::write(
        &log,
        "USER alice\nMAILBOX bob \"Sent Items\"\nUSER mallory\nMAILBOX \"../../etc\" INBOX\n",
    )
    .unwrap();
    let once = run(&config, &["replicate", "r", "-1"]);
    assert_eq!(once.code(), 0, "{once}");
    assert_eq!(copies(&replica, "alice", "INBOX", "a1"), 1, "{once}");
    assert_eq!(copies(&replica, "bob", "Sent Items", "b1"), 1, "{once}");
    assert_eq!(
        copies(&replica, "bob", "INBOX", "b2"),
        0,
        "bob's INBOX was not named"
    );
    assert!(
        once.stderr().contains("\"mallory\" is not a user"),
        "{once}"
    );
    assert!(!log.exists());
}

/// Not a check: prints the rolling lag (delivered on the master until listed on the replica)
/// of 30 messages delivered one at a time, for bench/RESULTS.md.
/// `cargo nextest run -p pimlink --test replicate_rolling rolling_lag --run-ignored only --no-capture`
#[test]
#[ignore = "a measurement, not a check"]
fn rolling_lag() {
    let pair = Pair::new();
    let config = pair.config(pair.replica.port(), "");
    let roller = rolling(&config, &["-r", "-d", "100ms"]);
    pair.deliver("INBOX", "warm-up");
    wait_until("the first cycle", || {
        pair.on_replica("INBOX", "warm-up") == 1
    });
    let mut lags = Vec::new();
    for i in 0..30 {
        let id = format!("lag{i}");
        let start = std::time::Instant::now();
        pair.deliver("INBOX", &id);
        wait_until("the message on the replica", || {
            pair.on_replica("INBOX", &id) == 1
        });
        lags.push(start.elapsed());
    }
    lags.sort();
    println!(
        "rolling lag over {} messages: p50 {:?}, p95 {:?}, max {:?}",
        lags.len(),
        lags[lags.len() / 2],
        lags[lags.len() * 95 / 100],
        lags[lags.len() - 1]
    );
    drop(roller);
}

#[test]
fn a_maildir_master_is_watched_per_user() {
    let replica = pimlink_testkit::DovecotBuilder::new()
        .users(USERS)
        .master_user("admin", "admin-pw")
        .start()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trees = dir.path().join("mail");
    for (user, _) in USERS {
        deliver(&trees.join(user).join("INBOX"), &format!("old-{user}"), "");
    }
    let text = format!(
        "[general]\nstate_dir = \"{}\"\n\n\
         [storage.m]\ntype = \"maildir\"\npath = \"{}/{{user}}\"\nlayout = \"verbatim\"\n\n\
         [storage.rep]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
         user = \"admin\"\npassword = \"admin-pw\"\n\n\
         [replication.r]\nmaster = \"m\"\nreplica = \"rep\"\nusers = [\"alice\", \"bob\"]\n\
         replica_login = \"master-user\"\n",
        dir.path().join("state").display(),
        trees.display(),
        replica.host(),
        replica.port(),
    );
    let config = dir.path().join("config.toml");
    fs::write(&config, text).unwrap();
    let mut roller = rolling(&config, &["-r", "-d", "100ms"]);
    wait_until("the first cycle", || {
        copies(&replica, "bob", "INBOX", "old-bob") == 1
    });
    deliver(&trees.join("alice").join("INBOX"), "new-alice", "");
    wait_until("alice's new local mail on the replica", || {
        copies(&replica, "alice", "INBOX", "new-alice") == 1
    });
    stop(&mut roller);
}

/// Rolling mode verifies what each cycle touched at `verify_level` and says so.
#[test]
fn each_cycle_verifies_what_it_touched() {
    let pair = Pair::new();
    pair.deliver("INBOX", "one");
    let config = pair.config(pair.replica.port(), "verify_level = 3\n");
    let mut roller = rolling(&config, &["-r", "-d", "100ms"]);
    let verified = |roller: &Daemon| {
        format!("{}{}", roller.stdout(), roller.stderr())
            .contains("master and replica are identical at level 3")
    };
    wait_until("a verified cycle", || verified(&roller));
    stop(&mut roller);
}
