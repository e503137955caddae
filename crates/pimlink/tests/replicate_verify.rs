//! `pimlink replicate NAME --verify --level N` on real servers (issue 15): two Dovecot
//! instances, and a Cyrus master with a Dovecot replica. The replica starts as an exact copy
//! made over IMAP (folders with the empty ones, subscriptions, each message's bytes, flags,
//! keywords and internal date), so nothing is reported; then each planted difference is
//! reported at its level and above, and not below.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::imap::{dovecot_options, message, server_tree};
use common::{Run, block_on, pimlink_with, uid_of};
use pimlink_core::{Content, Flag, Flags};
use pimlink_imap::{
    AppendItem, Client, ClientOptions, FetchRequest, SelectOptions, StoreMode, TlsMode, UidRanges,
};
use pimlink_testkit::{Cyrus, Dovecot};

/// A replication `r` of the account `master` to the account `replica`, each logging in as its
/// own user.
fn write_config(dir: &Path, master: &ClientOptions, replica: &ClientOptions) -> std::path::PathBuf {
    let storage = |name: &str, o: &ClientOptions| {
        format!(
            "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
             user = \"{}\"\npassword = \"{}\"\n\n",
            o.host,
            o.port.unwrap_or(143),
            o.user,
            o.password.expose()
        )
    };
    let config = format!(
        "[general]\nstate_dir = \"{}\"\n\n{}{}[replication.r]\nmaster = \"m\"\nreplica = \"rep\"\n\
         master_login = \"self\"\nreplica_login = \"self\"\n",
        dir.join("state").display(),
        storage("m", master),
        storage("rep", replica),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// `replicate r --verify --level N --json`: the exit status and each difference as
/// (folder, kind).
fn verify(config: &Path, level: u8) -> (i32, Vec<(String, String)>) {
    let run = Run(pimlink_with(
        config,
        &[
            "replicate",
            "r",
            "--verify",
            "--level",
            &level.to_string(),
            "--json",
        ],
    )
    .output()
    .unwrap());
    let mut found = Vec::new();
    let mut verified = false;
    for line in run.stdout().lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}\n{run}"));
        match event["event"].as_str() {
            Some("difference") => found.push((
                event["folder"].as_str().unwrap().to_owned(),
                event["kind"].as_str().unwrap().to_owned(),
            )),
            Some("verified") => verified = true,
            _ => panic!("unexpected event {line}\n{run}"),
        }
    }
    assert!(verified, "no verified event\n{run}");
    assert!(matches!(run.code(), 0 | 7), "{run}");
    assert_eq!(run.code() == 7, !found.is_empty(), "{run}");
    (run.code(), found)
}

/// Checks that `expected` (folder, kind) is what levels `from` to 5 report, and that the
/// levels below report nothing. `count_at_2`: a message more or less is a count at level 2.
fn assert_found_from(config: &Path, from: u8, expected: &[(&str, &str)], count_at_2: Option<&str>) {
    for level in 1..=5u8 {
        let (_, found) = verify(config, level);
        let found: Vec<(&str, &str)> = found
            .iter()
            .map(|(f, k)| (f.as_str(), k.as_str()))
            .collect();
        if level == 2
            && let Some(folder) = count_at_2
        {
            assert_eq!(found, [(folder, "count")], "level 2");
        } else if level >= from {
            assert_eq!(found, expected, "level {level}");
        } else {
            assert!(found.is_empty(), "level {level} found {found:?}");
        }
    }
}

async fn connect(options: &ClientOptions) -> Client {
    Client::connect(options.clone()).await.unwrap()
}

fn date(seconds: u64) -> Option<SystemTime> {
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

fn flags(list: &[Flag], keywords: &[&str]) -> Flags {
    let mut out = Flags::new();
    for flag in list {
        out.set(*flag, true);
    }
    for keyword in keywords {
        out.set_keyword(keyword, true);
    }
    out
}

async fn append(client: &mut Client, folder: &str, bytes: Vec<u8>, flags: Flags, when: u64) {
    client
        .append(
            folder,
            AppendItem {
                content: Content::Bytes(bytes),
                flags,
                internal_date: date(when),
            },
        )
        .await
        .unwrap();
}

/// The master's account: an empty folder, a nested one, subscriptions, messages with flags
/// and keywords, and two identical copies of one message.
async fn seed_master(options: &ClientOptions) {
    let mut client = connect(options).await;
    let nested = server_name(&mut client, "Lists/rust").await;
    for folder in ["Empty", "Lists", &nested, "Unsubscribed"] {
        client.create(folder).await.unwrap();
    }
    for folder in ["INBOX", "Empty", &nested] {
        client.subscribe(folder).await.unwrap();
    }
    client.unsubscribe("Lists").await.ok();
    client.unsubscribe("Unsubscribed").await.ok();
    append(
        &mut client,
        "INBOX",
        message("a"),
        flags(&[Flag::Seen], &[]),
        1_700_000_000,
    )
    .await;
    append(
        &mut client,
        "INBOX",
        message("b"),
        flags(&[Flag::Flagged], &["$Work"]),
        1_700_000_100,
    )
    .await;
    for _ in 0..2 {
        append(
            &mut client,
            "INBOX",
            message("c"),
            Flags::new(),
            1_700_000_200,
        )
        .await;
    }
    append(
        &mut client,
        &nested,
        message("d"),
        flags(&[Flag::Replied], &[]),
        1_700_000_300,
    )
    .await;
    client.logout().await.unwrap();
}

/// The server's name for `name` (levels separated by `/`): Dovecot's delimiter is `.`.
async fn server_name(client: &mut Client, name: &str) -> String {
    let delimiter = client.list("", "").await.unwrap()[0].delimiter.unwrap();
    name.replace('/', &delimiter.to_string())
}

/// A master and a replica Dovecot, and a configuration replicating one to the other.
struct TwoDovecots {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    master: ClientOptions,
    replica: ClientOptions,
    _servers: (Dovecot, Dovecot),
}

impl TwoDovecots {
    fn start() -> TwoDovecots {
        let dir = tempfile::tempdir().unwrap();
        let servers = (Dovecot::start().unwrap(), Dovecot::start().unwrap());
        let (m, r) = (&servers.0, &servers.1);
        let master = dovecot_options(m, m.user(), m.password());
        let replica = dovecot_options(r, r.user(), r.password());
        let config = write_config(dir.path(), &master, &replica);
        TwoDovecots {
            dir,
            config,
            master,
            replica,
            _servers: servers,
        }
    }
}

/// Makes `to` an exact copy of `from` over IMAP: folders (empty ones too), subscriptions, and
/// each message with its flags and internal date.
async fn copy_account(from: &ClientOptions, to: &ClientOptions) {
    let (mut from, mut to) = (connect(from).await, connect(to).await);
    let folders = from.list("", "*").await.unwrap();
    let to_delimiter = to.list("", "").await.unwrap()[0]
        .delimiter
        .unwrap()
        .to_string();
    let there = |entry: &pimlink_imap::ListEntry| match entry.delimiter {
        Some(d) => entry.name.replace(d, &to_delimiter),
        None => entry.name.clone(),
    };
    for folder in &folders {
        if !folder.name.eq_ignore_ascii_case("INBOX") {
            to.create(&there(folder)).await.unwrap();
        }
    }
    for folder in to.lsub("", "*").await.unwrap() {
        to.unsubscribe(&folder.name).await.unwrap();
    }
    for folder in from.lsub("", "*").await.unwrap() {
        to.subscribe(&there(&folder)).await.unwrap();
    }
    let request = FetchRequest {
        flags: true,
        internal_date: true,
        body: true,
        ..FetchRequest::default()
    };
    for folder in folders.iter().filter(|f| f.selectable()) {
        let read_only = SelectOptions {
            read_only: true,
            ..SelectOptions::default()
        };
        if from.select(&folder.name, read_only).await.unwrap().exists == 0 {
            continue;
        }
        let mut items = Vec::new();
        from.fetch(&UidRanges::all(), &request, |m| {
            items.push(AppendItem {
                content: m.body.unwrap(),
                flags: m.flags.unwrap(),
                internal_date: m.internal_date,
            });
            Ok(())
        })
        .await
        .unwrap();
        for result in to.append_many(&there(folder), items).await.unwrap() {
            result.unwrap();
        }
    }
    from.logout().await.unwrap();
    to.logout().await.unwrap();
}

/// Removes the message `id` from `folder` (the first copy found).
async fn remove(client: &mut Client, folder: &str, id: &str) {
    client
        .select(folder, SelectOptions::default())
        .await
        .unwrap();
    let uid = uid_of(client, id).await;
    let uids = UidRanges::from_uids([uid]);
    client
        .store(
            &uids,
            StoreMode::Add,
            &Flags::new().with(Flag::Trashed),
            None,
        )
        .await
        .unwrap();
    client.uid_expunge(&uids).await.unwrap();
    client.unselect().await.unwrap();
}

/// Changes the flags of message `id` in `folder` by `mode`.
async fn store(client: &mut Client, folder: &str, id: &str, mode: StoreMode, flags: Flags) {
    client
        .select(folder, SelectOptions::default())
        .await
        .unwrap();
    let uid = uid_of(client, id).await;
    client
        .store(&UidRanges::from_uids([uid]), mode, &flags, None)
        .await
        .unwrap();
    client.unselect().await.unwrap();
}

#[test]
fn dovecot_to_dovecot_each_planted_difference_is_found_at_its_level() {
    let two = TwoDovecots::start();
    let (config, master, replica) = (&two.config, &two.master, &two.replica);
    block_on(seed_master(master));
    block_on(copy_account(master, replica));
    let on_replica = |change: Change| block_on(plant(replica, change));

    // An exact copy: nothing at any level, and the plain output says so. Reading every body
    // set no \Seen on either side.
    let flags_before = (server_tree(master.clone()), server_tree(replica.clone()));
    assert_found_from(config, 1, &[], None);
    let args = ["replicate", "r", "--verify", "--level", "5"];
    let run = Run(pimlink_with(config, &args).output().unwrap());
    assert_eq!(run.code(), 0, "{run}");
    assert!(run.stdout().contains("identical at level 5"), "{run}");
    let flags_after = (server_tree(master.clone()), server_tree(replica.clone()));
    assert_eq!(flags_after, flags_before);
    assert!(
        flags_before.0["INBOX"]["c"]
            .iter()
            .all(|f| !f.contains('S'))
    );

    // Its subscription stays on Dovecot, so the folder alone is missing.
    on_replica(Change::DeleteEmptyFolder(true));
    assert_found_from(config, 1, &[("Empty", "missing-folder")], None);
    on_replica(Change::DeleteEmptyFolder(false));
    on_replica(Change::Unsubscribe(true));
    assert_found_from(config, 1, &[("Lists/rust", "missing-subscription")], None);
    on_replica(Change::Unsubscribe(false));
    on_replica(Change::ExtraMessage(true));
    assert_found_from(config, 3, &[("INBOX", "extra-message")], Some("INBOX"));
    on_replica(Change::ExtraMessage(false));
    on_replica(Change::FlagAndKeyword(true));
    let flags_differ = [("INBOX", "flags"), ("Lists/rust", "flags")];
    assert_found_from(config, 3, &flags_differ, None);
    on_replica(Change::FlagAndKeyword(false));
    on_replica(Change::LaterDate(true));
    assert_found_from(config, 4, &[("Lists/rust", "internal-date")], None);
    on_replica(Change::LaterDate(false));
    on_replica(Change::ChangedByte(true));
    assert_found_from(config, 5, &[("INBOX", "content")], None);
    on_replica(Change::ChangedByte(false));
    // Everything undone: identical again, whatever the UIDs now are.
    assert_found_from(config, 1, &[], None);
}

/// A difference planted on the replica (`true`), or undone (`false`).
#[derive(Clone, Copy)]
enum Change {
    /// The empty folder `Empty` deleted.
    DeleteEmptyFolder(bool),
    /// `Lists/rust` unsubscribed.
    Unsubscribe(bool),
    /// A message that the master does not have, in INBOX.
    ExtraMessage(bool),
    /// `\Seen` cleared on `a` in INBOX, keyword `$Later` set on `d` in `Lists/rust`.
    FlagAndKeyword(bool),
    /// `d` in `Lists/rust` with an internal date a day later.
    LaterDate(bool),
    /// `b` in INBOX with one byte of its body changed (same size, same headers).
    ChangedByte(bool),
}

async fn plant(replica: &ClientOptions, change: Change) {
    let mut client = connect(replica).await;
    let client = &mut client;
    match change {
        Change::DeleteEmptyFolder(true) => client.delete("Empty").await.unwrap(),
        Change::DeleteEmptyFolder(false) => client.create("Empty").await.unwrap(),
        Change::Unsubscribe(true) => client.unsubscribe("Lists.rust").await.unwrap(),
        Change::Unsubscribe(false) => client.subscribe("Lists.rust").await.unwrap(),
        Change::ExtraMessage(true) => {
            append(
                client,
                "INBOX",
                message("extra"),
                Flags::new(),
                1_700_000_400,
            )
            .await
        }
        Change::ExtraMessage(false) => remove(client, "INBOX", "extra").await,
        Change::FlagAndKeyword(planted) => {
            let (seen, later) = match planted {
                true => (StoreMode::Remove, StoreMode::Add),
                false => (StoreMode::Add, StoreMode::Remove),
            };
            store(client, "INBOX", "a", seen, flags(&[Flag::Seen], &[])).await;
            store(client, "Lists.rust", "d", later, flags(&[], &["$Later"])).await;
        }
        Change::LaterDate(planted) => {
            let when = if planted {
                1_700_086_700
            } else {
                1_700_000_300
            };
            remove(client, "Lists.rust", "d").await;
            let replied = flags(&[Flag::Replied], &[]);
            append(client, "Lists.rust", message("d"), replied, when).await;
        }
        Change::ChangedByte(planted) => {
            let mut bytes = message("b");
            if planted {
                let text = String::from_utf8(bytes).unwrap();
                bytes = text.replace("body of b", "body of B").into_bytes();
            }
            remove(client, "INBOX", "b").await;
            let flagged = flags(&[Flag::Flagged], &["$Work"]);
            append(client, "INBOX", bytes, flagged, 1_700_000_100).await;
        }
    }
}

/// `-m` limits the comparison to the named folders: a difference elsewhere is not reported.
#[test]
fn verify_limited_to_mailboxes() {
    let two = TwoDovecots::start();
    let (config, master, replica) = (&two.config, &two.master, &two.replica);
    block_on(seed_master(master));
    block_on(copy_account(master, replica));
    block_on(async {
        let mut client = connect(replica).await;
        append(
            &mut client,
            "INBOX",
            message("extra"),
            Flags::new(),
            1_700_000_400,
        )
        .await;
        store(
            &mut client,
            "Lists.rust",
            "d",
            StoreMode::Add,
            flags(&[Flag::Seen], &[]),
        )
        .await;
    });
    let args = [
        "replicate",
        "r",
        "--verify",
        "--level",
        "3",
        "-m",
        "Lists/rust",
    ];
    let run = Run(pimlink_with(config, &args).output().unwrap());
    assert_eq!(run.code(), 7, "{run}");
    let stdout = run.stdout();
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(": folder ")).collect();
    assert_eq!(lines.len(), 1, "{run}");
    assert!(
        lines[0].contains("\"Lists/rust\"")
            && lines[0].contains("<d@test>")
            && lines[0].contains("flags"),
        "{run}"
    );
}

#[test]
fn cyrus_master_dovecot_replica_identical_then_a_flag_differs() {
    if Cyrus::skip_requested() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (master_server, replica_server) = (Cyrus::start().unwrap(), Dovecot::start().unwrap());
    let mut master = ClientOptions::new(
        master_server.host(),
        master_server.user(),
        pimlink_imap::Secret::new(master_server.password()),
    );
    master.port = Some(master_server.port());
    master.tls = TlsMode::None;
    master.read_timeout = Duration::from_secs(20);
    let replica = dovecot_options(
        &replica_server,
        replica_server.user(),
        replica_server.password(),
    );
    let config = write_config(dir.path(), &master, &replica);
    block_on(seed_master(&master));
    block_on(copy_account(&master, &replica));
    assert_found_from(&config, 1, &[], None);
    block_on(async {
        let mut client = connect(&replica).await;
        store(
            &mut client,
            "INBOX",
            "c",
            StoreMode::Add,
            flags(&[], &["$Junk"]),
        )
        .await;
    });
    // One of the two identical copies changed: one difference.
    assert_found_from(&config, 3, &[("INBOX", "flags")], None);
}

/// A replica made by `pimlink replicate` itself verifies identical at level 5: Dovecot to
/// Dovecot, and Dovecot to a Maildir tree (which has no subscriptions or special-use, so
/// those are not compared); a flag changed in the tree is then found.
#[test]
fn identical_after_a_replication_to_dovecot_and_to_maildir() {
    let two = TwoDovecots::start();
    let (config, master) = (&two.config, &two.master);
    block_on(seed_master(master));
    let run = Run(pimlink_with(config, &["replicate", "r"]).output().unwrap());
    assert_eq!(run.code(), 0, "{run}");
    // The one-shot engine subscribes the folders it creates rather than copying the master's
    // subscriptions (so far): those differences are real, and the only ones.
    let (_, found) = verify(config, 5);
    let kinds: Vec<&str> = found.iter().map(|(_, kind)| kind.as_str()).collect();
    assert!(
        kinds.iter().all(|k| k.ends_with("-subscription")),
        "{found:?}"
    );

    let tree = two.dir.path().join("tree");
    let text = std::fs::read_to_string(config).unwrap().replace(
        "[replication.r]",
        &format!(
            "[storage.tree]\ntype = \"maildir\"\npath = \"{}\"\n\n[replication.r]",
            tree.display()
        ),
    );
    let text = text
        .replace("replica = \"rep\"", "replica = \"tree\"")
        .replace("replica_login = \"self\"\n", "")
        // A replication's status belongs to its replica: a new replica starts afresh.
        .replace("/state\"", "/state-tree\"");
    std::fs::write(config, text).unwrap();
    let run = Run(pimlink_with(config, &["replicate", "r"]).output().unwrap());
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(verify(config, 5), (0, vec![]));
    common::set_local_flags(&tree.join("INBOX"), "a", "");
    assert_eq!(
        verify(config, 3),
        (7, vec![("INBOX".to_owned(), "flags".to_owned())])
    );
}

/// A replica that cannot be reached is not "identical" nor "different": the error is on
/// stderr, no `verified` event is written, and the exit status is 3.
#[test]
fn an_unreachable_replica_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let server = Dovecot::start().unwrap();
    let master = dovecot_options(&server, server.user(), server.password());
    let mut replica = master.clone();
    // Nothing listens there: the port was free a moment ago and is not used by the test.
    replica.port = Some(pimlink_testkit::free_port().unwrap());
    let config = write_config(dir.path(), &master, &replica);
    let args = ["replicate", "r", "--verify", "--json"];
    let run = Run(pimlink_with(&config, &args).output().unwrap());
    assert_eq!(run.code(), 3, "{run}");
    assert!(!run.stdout().contains("\"verified\""), "{run}");
    assert!(run.stderr().contains("replica"), "{run}");
}

/// Several users through the storages' administrator (Dovecot master users: authzid on the
/// master, `user*admin` on the replica): after `replicate -A`, each user verifies on their
/// own, and a message planted in bob's replica is bob's difference only.
#[test]
fn each_user_is_verified_as_that_user() {
    const USERS: &[(&str, &str)] = &[("alice", "alice-pw"), ("bob", "bob-pw")];
    let server = || {
        pimlink_testkit::DovecotBuilder::new()
            .users(USERS)
            .master_user("admin", "admin-pw")
            .start()
            .unwrap()
    };
    let (master, replica) = (server(), server());
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    master.deliver("alice", "Work", &message("a2")).unwrap();
    master.deliver("bob", "INBOX", &message("b1")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let storage = |name: &str, server: &Dovecot| {
        format!(
            "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
             user = \"admin\"\npassword = \"admin-pw\"\n\n",
            server.host(),
            server.port()
        )
    };
    let config = dir.path().join("config.toml");
    let text = format!(
        "[general]\nstate_dir = \"{}\"\n\n{}{}[replication.r]\nmaster = \"m\"\nreplica = \"rep\"\n\
         users = [\"alice\", \"bob\"]\nmaster_login = \"authzid\"\nreplica_login = \"master-user\"\n",
        dir.path().join("state").display(),
        storage("m", &master),
        storage("rep", &replica),
    );
    std::fs::write(&config, text).unwrap();
    let run = Run(pimlink_with(&config, &["replicate", "r", "-A"])
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{run}");

    // (user, kind) of every difference but subscriptions, which the one-shot engine does
    // not copy yet, and the users that were verified.
    let verify_users = |args: &[&str]| {
        let mut all = vec!["replicate", "r", "--verify", "--level", "5", "--json"];
        all.extend_from_slice(args);
        let run = Run(pimlink_with(&config, &all).output().unwrap());
        let (mut found, mut verified) = (Vec::new(), Vec::new());
        for line in run.stdout().lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let user = event["user"].as_str().unwrap().to_owned();
            match event["event"].as_str() {
                Some("verified") => verified.push(user),
                Some("difference") => {
                    let kind = event["kind"].as_str().unwrap();
                    if !kind.ends_with("-subscription") {
                        found.push((user, kind.to_owned()));
                    }
                }
                _ => panic!("{line}\n{run}"),
            }
        }
        (found, verified)
    };
    let (found, verified) = verify_users(&["-A"]);
    assert_eq!(found, Vec::<(String, String)>::new());
    assert_eq!(verified, ["alice", "bob"]);

    block_on(async {
        let mut bob = connect(&dovecot_options(&replica, "bob", "bob-pw")).await;
        append(
            &mut bob,
            "INBOX",
            message("extra"),
            Flags::new(),
            1_700_000_400,
        )
        .await;
    });
    let (found, _) = verify_users(&["-A"]);
    assert_eq!(found, [("bob".to_owned(), "extra-message".to_owned())]);
    let (found, verified) = verify_users(&["-u", "alice"]);
    assert_eq!((found.len(), verified), (0, vec!["alice".to_owned()]));
}
