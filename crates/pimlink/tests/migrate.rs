//! `pimlink migrate` (issue 15) between two real Dovecot servers on loopback: many accounts a
//! few at a time, a rerun that copies nothing, a run killed with SIGKILL after some messages
//! reached the destination and then rerun (nothing lost, nothing twice), special-use folder
//! mapping, and one account with a wrong password failing alone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::imap::{sized_message, user_tree};
use common::{Run, Tree, pimlink_with};
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// The destination's special-use folders, as a provider creates them for a new account.
const DESTINATION_FOLDERS: &[(&str, &str)] = &[
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
];

/// `(user, password)` as the testkit takes them.
fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(u, p)| (u.as_str(), p.as_str())).collect()
}

fn user(i: usize) -> String {
    format!("u{i:02}")
}

/// A source and a destination server with `accounts` users each (`uNN`, passwords `old-NN` and
/// `new-NN`); each source account holds `inbox` messages in INBOX and `sent` in "Sent Items",
/// as Exchange names it.
struct Servers {
    source: Dovecot,
    destination: Dovecot,
    dir: tempfile::TempDir,
    accounts: usize,
    /// The configuration file's text without extra migration keys.
    config: String,
}

impl Servers {
    fn start(accounts: usize, inbox: usize, sent: usize) -> Servers {
        let old: Vec<(String, String)> = (0..accounts)
            .map(|i| (user(i), format!("old-{i:02}")))
            .collect();
        let new: Vec<(String, String)> = (0..accounts)
            .map(|i| (user(i), format!("new-{i:02}")))
            .collect();
        // Maildir++ on the source (folder "Sent Items" is ".Sent Items"), one directory per
        // folder on the destination: the two servers spell hierarchy differently, as two
        // providers do.
        let source = DovecotBuilder::new().users(&pairs(&old)).start().unwrap();
        let destination = DovecotBuilder::new()
            .users(&pairs(&new))
            .layout(false)
            .special_use(DESTINATION_FOLDERS)
            .start()
            .unwrap();
        for i in 0..accounts {
            let u = user(i);
            let messages: Vec<Vec<u8>> = (0..inbox)
                .map(|m| sized_message(&format!("{u}-in-{m}"), 2_000))
                .collect();
            source
                .deliver_many(&u, "INBOX", messages.iter().map(Vec::as_slice))
                .unwrap();
            let messages: Vec<Vec<u8>> = (0..sent)
                .map(|m| sized_message(&format!("{u}-sent-{m}"), 500))
                .collect();
            source
                .deliver_many(&u, "Sent Items", messages.iter().map(Vec::as_slice))
                .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.old]\ntype = \"imap\"\nhost = \"{host}\"\nport = {old_port}\ntls = \"none\"\n\
             timeout = 30\n\n\
             [storage.new]\ntype = \"imap\"\nhost = \"{host}\"\nport = {new_port}\ntls = \"none\"\n\
             timeout = 30\n\n\
             [migration.move]\nsource = \"old\"\ndestination = \"new\"\n",
            state = dir.path().join("state").display(),
            host = source.host(),
            old_port = source.port(),
            new_port = destination.port(),
        );
        fs::write(dir.path().join("config.toml"), &config).unwrap();
        let servers = Servers {
            config,
            source,
            destination,
            dir,
            accounts,
        };
        servers.write_accounts(&[]);
        servers
    }

    /// Adds `keys` to the migration's table.
    fn migration_keys(&self, keys: &str) {
        fs::write(
            self.dir.path().join("config.toml"),
            format!("{}{keys}\n", self.config),
        )
        .unwrap();
    }

    /// The accounts file, with the destination password of the accounts in `wrong` mistyped.
    fn write_accounts(&self, wrong: &[usize]) {
        let mut text = String::from("# source;password;destination;password\n");
        for i in 0..self.accounts {
            let password = if wrong.contains(&i) {
                "not-the-password".to_owned()
            } else {
                format!("new-{i:02}")
            };
            text.push_str(&format!("{u};old-{i:02};{u};{password}\n", u = user(i)));
        }
        fs::write(self.accounts_file(), text).unwrap();
    }

    fn accounts_file(&self) -> PathBuf {
        self.dir.path().join("accounts.txt")
    }

    fn report_file(&self) -> PathBuf {
        self.dir.path().join("report.json")
    }

    fn migrate_command(&self, jobs: usize) -> std::process::Command {
        let accounts = self.accounts_file();
        let report = self.report_file();
        let jobs = jobs.to_string();
        pimlink_with(
            &self.dir.path().join("config.toml"),
            &[
                "migrate",
                "move",
                "--accounts",
                accounts.to_str().unwrap(),
                "--jobs",
                &jobs,
                "--report",
                report.to_str().unwrap(),
                "--report-format",
                "json",
            ],
        )
    }

    fn migrate(&self, jobs: usize) -> Run {
        Run(self.migrate_command(jobs).output().unwrap())
    }

    fn migrate_dry_run(&self) -> Run {
        Run(self.migrate_command(1).arg("--dry-run").output().unwrap())
    }

    /// The report's accounts.
    fn report(&self) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(self.report_file()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["accounts"].as_array().unwrap().clone()
    }

    fn destination_tree(&self, i: usize) -> Tree {
        user_tree(&self.destination, &user(i), &format!("new-{i:02}"))
    }

    /// Checks that account `i` arrived whole: every message once, Sent Items in Sent.
    fn assert_arrived(&self, i: usize, inbox: usize, sent: usize) {
        let u = user(i);
        let tree = self.destination_tree(i);
        let once = |folder: &str, prefix: &str, count: usize| {
            let held = tree.get(folder).cloned().unwrap_or_default();
            let expected: Vec<String> = (0..count).map(|m| format!("{u}-{prefix}-{m}")).collect();
            let mut ids: Vec<&String> = held.keys().collect();
            ids.sort();
            let mut want: Vec<&String> = expected.iter().collect();
            want.sort();
            assert_eq!(ids, want, "{u} {folder}: {tree:?}");
            for (id, copies) in &held {
                assert_eq!(
                    copies.len(),
                    1,
                    "{u} {folder}: {id} is there {} times",
                    copies.len()
                );
            }
        };
        once("INBOX", "in", inbox);
        once("Sent", "sent", sent);
        assert!(
            !tree.contains_key("Sent Items"),
            "{u}: Sent Items must go to the destination's Sent: {tree:?}"
        );
    }
}

/// Files of messages in a Maildir tree (every `cur/` and `new/` below `root`).
fn message_files(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "cur" || name == "new" {
            count += fs::read_dir(&path).map_or(0, |d| d.count());
        } else if path.is_dir() {
            count += message_files(&path);
        }
    }
    count
}

#[test]
fn twenty_accounts_four_at_a_time_then_a_rerun_copies_nothing() {
    let (inbox, sent) = (6, 2);
    let servers = Servers::start(20, inbox, sent);
    let run = servers.migrate(4);
    assert_eq!(run.code(), 0, "{run}");
    for i in 0..20 {
        servers.assert_arrived(i, inbox, sent);
    }
    let report = servers.report();
    assert_eq!(report.len(), 20);
    for account in &report {
        assert_eq!(account["status"], "done", "{account}");
        assert_eq!(account["messages"], inbox + sent, "{account}");
        assert!(account["bytes"].as_u64().unwrap() > 0, "{account}");
        assert_eq!(account["errors"], 0, "{account}");
    }

    // Nothing new: nothing is copied, and the destination is as it was.
    let again = servers.migrate(4);
    assert_eq!(again.code(), 0, "{again}");
    for account in &servers.report() {
        assert_eq!(account["status"], "done", "{account}");
        assert_eq!(account["messages"], 0, "{account}");
    }
    for i in 0..20 {
        servers.assert_arrived(i, inbox, sent);
    }
}

/// Folders that `run` (with `-vv`) skipped as unchanged since the last settled run, and
/// those it listed.
fn skipped_and_listed(run: &Run) -> (usize, usize) {
    let text = format!("{}{}", run.stdout(), run.stderr());
    let skipped = text
        .matches("unchanged since the last settled run; not listed")
        .count();
    let listed = text
        .lines()
        .filter(|line| line.contains("collection ") && line.contains(": listed: "))
        .count();
    (skipped, listed)
}

#[test]
fn the_rerun_after_the_first_run_lists_no_folder_and_new_mail_still_arrives() {
    let (accounts, inbox, sent) = (2, 5, 2);
    let servers = Servers::start(accounts, inbox, sent);
    let run = servers.migrate(2);
    assert_eq!(run.code(), 0, "{run}");

    // The first run wrote every destination folder itself, and recorded each as settled.
    let again = Run(servers.migrate_command(2).arg("-vv").output().unwrap());
    assert_eq!(again.code(), 0, "{again}");
    let (skipped, listed) = skipped_and_listed(&again);
    assert_eq!(listed, 0, "a folder was listed again:\n{again}");
    assert!(skipped >= accounts * 2, "{again}");

    // New mail on the source after that: exactly it is copied, once.
    servers
        .source
        .deliver(&user(0), "INBOX", &sized_message("u00-in-5", 2_000))
        .unwrap();
    let third = Run(servers.migrate_command(2).arg("-vv").output().unwrap());
    assert_eq!(third.code(), 0, "{third}");
    let copied: Vec<u64> = servers
        .report()
        .iter()
        .map(|a| a["messages"].as_u64().unwrap())
        .collect();
    assert_eq!(copied, [1, 0], "{third}");
    servers.assert_arrived(0, inbox + 1, sent);
    servers.assert_arrived(1, inbox, sent);
}

#[test]
fn killed_after_some_appends_then_rerun_copies_the_rest_once() {
    let (accounts, inbox, sent) = (4, 40, 5);
    let servers = Servers::start(accounts, inbox, sent);
    let destination_files = || {
        (0..accounts)
            .map(|i| message_files(&servers.destination.mail_dir(&user(i))))
            .sum::<usize>()
    };
    let mut child = servers
        .migrate_command(2)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the destination holds some messages but not all (the Nth APPEND seen on
    // disk), whatever the machine's speed.
    let threshold = 30;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if destination_files() >= threshold {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the migration ended before {threshold} messages arrived"
        );
        assert!(Instant::now() < deadline, "no progress in 300 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let copied = destination_files();
    assert!(
        copied < accounts * (inbox + sent),
        "the kill came after everything was copied ({copied}); the test proves nothing"
    );

    let run = servers.migrate(2);
    assert_eq!(run.code(), 0, "{run}");
    for i in 0..accounts {
        servers.assert_arrived(i, inbox, sent);
    }
    let again = servers.migrate(2);
    assert_eq!(again.code(), 0, "{again}");
    assert!(servers.report().iter().all(|a| a["messages"] == 0));
}

#[test]
fn a_wrong_password_fails_that_account_only() {
    let servers = Servers::start(3, 3, 1);
    servers.write_accounts(&[1]);
    let run = servers.migrate(2);
    assert_eq!(run.code(), 1, "{run}");
    let report = servers.report();
    assert_eq!(report[0]["status"], "done");
    assert_eq!(report[2]["status"], "done");
    assert_eq!(report[1]["status"], "failed", "{}", report[1]);
    let error = report[1]["error"].as_str().unwrap();
    assert!(
        error.contains("new") && error.to_lowercase().contains("auth"),
        "the error names the storage and the refused login: {error}"
    );
    assert!(
        !run.stdout().contains("not-the-password") && !run.stderr().contains("not-the-password")
    );
    assert!(
        !fs::read_to_string(servers.report_file())
            .unwrap()
            .contains("not-the-password")
    );
    servers.assert_arrived(0, 3, 1);
    servers.assert_arrived(2, 3, 1);
}

#[test]
fn the_daily_cap_stops_an_account_for_the_day_and_a_later_run_goes_on() {
    // More than the executor's copy batch (256): a stop takes effect between batches, so
    // the cap stops the account within its INBOX.
    let (inbox, sent) = (300, 2);
    let servers = Servers::start(2, inbox, sent);
    // Reached by the first message: each account stops at its first safe point.
    servers.migration_keys("daily_bytes = 1");
    let run = servers.migrate(2);
    assert_eq!(run.code(), 1, "{run}");
    let total = inbox + sent;
    for account in &servers.report() {
        assert_eq!(account["status"], "throttled", "{account}");
        let copied = account["messages"].as_u64().unwrap();
        assert!(copied >= 1 && copied < total as u64, "{account}");
        assert!(account["error"].as_str().unwrap().contains("daily_bytes"));
    }
    // The same UTC day: the count is kept, nothing more is copied.
    let again = servers.migrate(2);
    assert_eq!(again.code(), 1, "{again}");
    for account in &servers.report() {
        assert_eq!(account["status"], "throttled", "{account}");
        assert_eq!(account["messages"], 0, "{account}");
    }
    // A larger cap (as the next day would allow): the rest arrives, nothing twice.
    servers.migration_keys("daily_bytes = \"100M\"");
    let rest = servers.migrate(2);
    assert_eq!(rest.code(), 0, "{rest}");
    for i in 0..2 {
        servers.assert_arrived(i, inbox, sent);
    }
}

#[test]
fn a_dry_run_counts_what_it_would_copy_and_copies_nothing() {
    let servers = Servers::start(2, 3, 1);
    let before: Vec<Tree> = (0..2).map(|i| servers.destination_tree(i)).collect();
    let run = servers.migrate_dry_run();
    assert_eq!(run.code(), 0, "{run}");
    for account in &servers.report() {
        assert_eq!(account["status"], "done", "{account}");
        assert_eq!(account["messages"], 4, "{account}");
    }
    let after: Vec<Tree> = (0..2).map(|i| servers.destination_tree(i)).collect();
    assert_eq!(before, after);
    // The real run after it copies everything.
    let run = servers.migrate(2);
    assert_eq!(run.code(), 0, "{run}");
    servers.assert_arrived(0, 3, 1);
    servers.assert_arrived(1, 3, 1);
}

#[test]
fn three_shards_take_every_account_once() {
    // No server: each taken account fails at once (connection refused on a closed port), which
    // is enough to see which run took it.
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = dir.path().join("config.toml");
    fs::write(
        &config,
        format!(
            "[general]\nstate_dir = \"{state}\"\n\
             [storage.old]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             [storage.new]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
             [migration.m]\nsource = \"old\"\ndestination = \"new\"\n",
            state = dir.path().join("state").display()
        ),
    )
    .unwrap();
    let users: Vec<String> = (0..20).map(|i| format!("user{i}@example.org")).collect();
    let accounts = dir.path().join("accounts.txt");
    let lines: Vec<String> = users.iter().map(|u| format!("{u};pw;{u};pw")).collect();
    fs::write(&accounts, lines.join("\n")).unwrap();
    let mut taken: Vec<String> = Vec::new();
    for k in 0..3 {
        let report = dir.path().join(format!("report-{k}.json"));
        let shard = format!("{k}/3");
        let run = Run(pimlink_with(
            &config,
            &[
                "-q",
                "migrate",
                "m",
                "--accounts",
                accounts.to_str().unwrap(),
                "--shard",
                &shard,
                "--jobs",
                "4",
                "--report",
                report.to_str().unwrap(),
                "--report-format",
                "json",
            ],
        )
        .output()
        .unwrap());
        let value: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
        let rows = value["accounts"].as_array().unwrap();
        assert_eq!(rows.len(), 20, "every report lists every account");
        let mine: Vec<String> = rows
            .iter()
            .filter(|r| r["status"] != "skipped")
            .map(|r| r["source_user"].as_str().unwrap().to_owned())
            .collect();
        assert!(!mine.is_empty(), "shard {shard} took nothing");
        assert_eq!(run.code(), 1, "{run}");
        taken.extend(mine);
    }
    taken.sort();
    let mut all = users.clone();
    all.sort();
    assert_eq!(taken, all, "no account twice, none left out");
}

/// The measurement of issue 15: 20 accounts of 2,000 messages, `--jobs 4`, then a second run
/// with nothing new. Run with a release binary when the machine is quiet:
/// `PIMLINK_BENCH_BIN=target/release/pimlink cargo nextest run -p pimlink --test migrate
/// --run-ignored only bench`; it prints both times and their ratio.
#[test]
#[ignore = "a measurement, not a check"]
fn bench_twenty_accounts_of_two_thousand_messages() {
    let (inbox, sent) = (1_800, 200);
    let servers = Servers::start(20, 0, 0);
    for i in 0..20 {
        let u = user(i);
        for (folder, prefix, count) in [("INBOX", "in", inbox), ("Sent Items", "sent", sent)] {
            // Sizes vary from 1 to 10 KB, as real mail's bodies do.
            let messages: Vec<Vec<u8>> = (0..count)
                .map(|m| sized_message(&format!("{u}-{prefix}-{m}"), 1_000 + (m * 7_919) % 9_000))
                .collect();
            servers
                .source
                .deliver_many(&u, folder, messages.iter().map(Vec::as_slice))
                .unwrap();
        }
    }
    let binary = std::env::var("PIMLINK_BENCH_BIN").ok();
    let run = |label: &str| {
        let mut command = servers.migrate_command(4);
        if let Some(binary) = &binary {
            let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
            command = std::process::Command::new(binary);
            command.args(args);
        }
        command.arg("-q");
        let start = Instant::now();
        let output = command.output().unwrap();
        let elapsed = start.elapsed();
        assert!(output.status.success(), "{}", Run(output));
        let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
        eprintln!(
            "{label}: {:.2} s (load average {load})",
            elapsed.as_secs_f64()
        );
        elapsed
    };
    let first = run("first run");
    let second = run("second run, nothing new");
    eprintln!(
        "second / first = {:.4}",
        second.as_secs_f64() / first.as_secs_f64()
    );
    for i in [0, 19] {
        servers.assert_arrived(i, inbox, sent);
    }
}

/// An account migrated once, then to another (empty) destination account: the state of the
/// first destination is not taken for the second's; every message is copied there.
#[test]
fn an_account_sent_to_another_destination_gets_every_message_there() {
    let (inbox, sent) = (4, 1);
    let servers = Servers::start(3, inbox, sent);
    let only = |destination: usize| {
        let line = format!("u00;old-00;{};new-{destination:02}\n", user(destination));
        fs::write(servers.accounts_file(), line).unwrap();
    };
    only(0);
    let first = servers.migrate(1);
    assert_eq!(first.code(), 0, "{first}");
    servers.assert_arrived(0, inbox, sent);

    only(2);
    let second = servers.migrate(1);
    assert_eq!(second.code(), 0, "{second}");
    let tree = servers.destination_tree(2);
    let mut ids: Vec<&String> = tree
        .get("INBOX")
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    ids.sort();
    let expected: Vec<String> = (0..inbox).map(|m| format!("u00-in-{m}")).collect();
    assert_eq!(
        ids,
        expected.iter().collect::<Vec<_>>(),
        "{tree:?}\n{second}"
    );
    assert_eq!(tree.get("Sent").map_or(0, |m| m.len()), sent, "{tree:?}");
    assert!(second.stderr().contains("another storage"), "{second}");
    // The first destination is left as it was.
    servers.assert_arrived(0, inbox, sent);
}
