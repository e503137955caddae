//! End-to-end: `pimlink replicate` (issue 15) between two private Dovecots, each with a
//! master user that acts as the replicated users. The servers are inspected with pimlink's
//! own IMAP client, logged in as each user.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{message, user_tree};
use common::{Run, pimlink_with};
use pimlink_testkit::{Dovecot, DovecotBuilder};

const USERS: &[(&str, &str)] = &[("alice", "alice-pw"), ("bob", "bob-pw")];

/// A Dovecot with [`USERS`] and the master user `admin`.
fn server() -> Dovecot {
    DovecotBuilder::new()
        .users(USERS)
        .master_user("admin", "admin-pw")
        .start()
        .unwrap()
}

/// A temporary directory with a configuration replicating `master` to `replica` as `x`,
/// with `keys` added to the replication.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(master: &Dovecot, replica: &Dovecot, keys: &str) -> Setup {
        let setup = Setup {
            dir: tempfile::tempdir().unwrap(),
        };
        setup.configure(master, replica, keys);
        setup
    }

    /// Rewrites the configuration, keeping the state directory.
    fn configure(&self, master: &Dovecot, replica: &Dovecot, keys: &str) {
        let dir = &self.dir;
        let storage = |name: &str, server: &Dovecot| {
            format!(
                "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
                 user = \"admin\"\npassword = \"admin-pw\"\n\n",
                server.host(),
                server.port()
            )
        };
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n{m}{r}\
             [replication.x]\nmaster = \"m\"\nreplica = \"r\"\nusers = [\"alice\", \"bob\"]\n\
             master_login = \"authzid\"\nreplica_login = \"master-user\"\n{keys}\n",
            state = dir.path().join("state").display(),
            m = storage("m", master),
            r = storage("r", replica),
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
    }

    fn run(&self, args: &[&str]) -> Run {
        Run(pimlink_with(&self.dir.path().join("config.toml"), args)
            .output()
            .unwrap())
    }

    fn replicate_ok(&self, args: &[&str]) -> Run {
        let mut all = vec!["replicate", "x"];
        all.extend_from_slice(args);
        let run = self.run(&all);
        assert_eq!(run.code(), 0, "replicate failed:\n{run}");
        run
    }
}

fn password(user: &str) -> &'static str {
    USERS.iter().find(|(u, _)| *u == user).unwrap().1
}

/// Master and replica hold the same folders and messages (with flags, sizes and internal
/// dates) for every user.
fn assert_identical(master: &Dovecot, replica: &Dovecot) {
    for (user, password) in USERS {
        let (m, r) = (
            user_tree(master, user, password),
            user_tree(replica, user, password),
        );
        assert_eq!(m, r, "{user}: master (left) and replica (right) differ");
        assert_eq!(
            dates_and_sizes(master, user),
            dates_and_sizes(replica, user),
            "{user}: internal dates or sizes differ"
        );
    }
}

/// Folder and Message-ID -> (INTERNALDATE, RFC822.SIZE) of every message of `user`.
fn dates_and_sizes(
    server: &Dovecot,
    user: &str,
) -> std::collections::BTreeMap<(String, String), (std::time::SystemTime, u32)> {
    let request = pimlink_imap::FetchRequest {
        internal_date: true,
        size: true,
        ..Default::default()
    };
    let options = common::imap::dovecot_options(server, user, password(user));
    common::imap::server_messages(options, request)
        .into_iter()
        .flat_map(|(folder, messages)| {
            messages.into_iter().map(move |m| {
                let id = common::imap::message_id_of(m.header.as_deref().unwrap_or_default());
                (
                    (folder.clone(), id),
                    (m.internal_date.unwrap(), m.size.unwrap()),
                )
            })
        })
        .collect()
}

#[test]
fn replicates_every_user_through_master_users() {
    let (master, replica) = (server(), server());
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    master.deliver("alice", "Work", &message("a2")).unwrap();
    master.deliver("bob", "INBOX", &message("b1")).unwrap();
    let setup = Setup::new(&master, &replica, "");

    setup.replicate_ok(&["-A"]);
    assert_identical(&master, &replica);
    let alice = user_tree(&replica, "alice", password("alice"));
    assert!(alice["Work"].contains_key("a2"), "{alice:?}");
    assert!(
        !alice["INBOX"].contains_key("b1"),
        "bob's mail in alice's: {alice:?}"
    );
    let state = setup.dir.path().join("state/replication/x");
    assert!(state.join("alice.sqlite").is_file());
    assert!(state.join("bob.sqlite").is_file());

    // Only the named user is replicated.
    master.deliver("alice", "INBOX", &message("a3")).unwrap();
    master.deliver("bob", "INBOX", &message("b2")).unwrap();
    setup.replicate_ok(&["-u", "bob"]);
    assert!(user_tree(&replica, "bob", password("bob"))["INBOX"].contains_key("b2"));
    assert!(!user_tree(&replica, "alice", password("alice"))["INBOX"].contains_key("a3"));
    // Only the named mailbox is replicated.
    master.deliver("alice", "INBOX", &message("a4")).unwrap();
    master.deliver("alice", "Work", &message("a5")).unwrap();
    setup.replicate_ok(&["-u", "alice", "-m", "Work"]);
    let alice = user_tree(&replica, "alice", password("alice"));
    assert!(alice["Work"].contains_key("a5") && !alice["INBOX"].contains_key("a4"));
    // Several users: naming none is a usage error.
    let run = setup.run(&["replicate", "x"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr().contains("-A"), "{run}");
    setup.replicate_ok(&["-A"]);
    assert_identical(&master, &replica);
}

#[test]
fn a_user_the_replica_refuses_fails_alone() {
    let master = server();
    let replica = DovecotBuilder::new()
        .users(&[("alice", "alice-pw")])
        .master_user("admin", "admin-pw")
        .start()
        .unwrap();
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    master.deliver("bob", "INBOX", &message("b1")).unwrap();
    let setup = Setup::new(&master, &replica, "");
    let run = setup.run(&["replicate", "x", "-A"]);
    // Refused for one user while the other was replicated: a partial failure.
    assert_eq!(run.code(), 1, "{run}");
    assert!(run.stderr().contains("bob"), "{run}");
    let alice = user_tree(&replica, "alice", "alice-pw");
    assert!(alice["INBOX"].contains_key("a1"), "{alice:?}");
}

/// Logs in as `user` on `server` and runs `f` with the client.
fn as_user<T>(
    server: &Dovecot,
    user: &str,
    f: impl AsyncFnOnce(&mut pimlink_imap::Client) -> T,
) -> T {
    common::block_on(async {
        let options = common::imap::dovecot_options(server, user, password(user));
        let mut client = pimlink_imap::Client::connect(options).await.unwrap();
        let out = f(&mut client).await;
        client.logout().await.unwrap();
        out
    })
}

/// `user`'s subscribed folders on `server`.
fn subscriptions(server: &Dovecot, user: &str) -> Vec<String> {
    let mut names: Vec<String> = as_user(server, user, async |c| c.lsub("", "*").await.unwrap())
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    names.sort();
    names
}

/// Changes on the replica alone are undone; nothing of the master changes; each undone
/// change is reported.
#[test]
fn the_master_wins_a_split_brain() {
    use pimlink_core::{Flag, Flags};
    use pimlink_imap::{StoreMode, UidRanges};
    let (master, replica) = (server(), server());
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    master.deliver("alice", "INBOX", &message("a2")).unwrap();
    master.deliver("alice", "Work", &message("a3")).unwrap();
    let setup = Setup::new(&master, &replica, "replica_only_folder = \"Recovered\"");
    setup.replicate_ok(&["-A"]);
    assert_identical(&master, &replica);
    let master_before = user_tree(&master, "alice", password("alice"));

    // On the replica: a new message, a flag, a deletion, a folder of its own, and a master
    // folder deleted and made again with other mail.
    replica
        .deliver("alice", "INBOX", &message("stray"))
        .unwrap();
    replica.deliver("alice", "Own", &message("own")).unwrap();
    as_user(&replica, "alice", async |c| c.delete("Work").await.unwrap());
    replica.deliver("alice", "Work", &message("other")).unwrap();
    as_user(&replica, "alice", async |c| {
        c.select("INBOX", Default::default()).await.unwrap();
        let a1 = common::uid_of(c, "a1").await;
        let flagged = Flags::new().with(Flag::Flagged);
        c.store(&UidRanges::single(a1), StoreMode::Add, &flagged, None)
            .await
            .unwrap();
        let a2 = common::uid_of(c, "a2").await;
        let deleted = Flags::new().with(Flag::Trashed);
        c.store(&UidRanges::single(a2), StoreMode::Add, &deleted, None)
            .await
            .unwrap();
        c.uid_expunge(&UidRanges::single(a2)).await.unwrap();
    });

    // A dry run says what it would undo and changes nothing.
    let replica_before = user_tree(&replica, "alice", password("alice"));
    let dry = setup.replicate_ok(&["-A", "--dry-run"]);
    assert!(dry.stdout().contains("undone: "), "{dry}");
    let json = setup.replicate_ok(&["-A", "--dry-run", "--json"]);
    assert!(json.stdout().contains("\"event\":\"undone\""), "{json}");
    assert_eq!(
        user_tree(&replica, "alice", password("alice")),
        replica_before
    );

    let run = setup.replicate_ok(&["-A"]);
    assert_eq!(
        user_tree(&master, "alice", password("alice")),
        master_before
    );
    let mut replica_tree = user_tree(&replica, "alice", password("alice"));
    let recovered = replica_tree.remove("Recovered").unwrap_or_default();
    for id in ["stray", "own", "other"] {
        assert!(recovered.contains_key(id), "{id}: {recovered:?}\n{run}");
    }
    assert_eq!(replica_tree, master_before, "{run}");
    let out = run.stdout() + &run.stderr();
    for undone in ["only on the replica", "flags", "deleted on the replica"] {
        assert!(out.contains(undone), "{undone:?} not reported:\n{run}");
    }
    // A second pass has nothing left to undo.
    let again = setup.replicate_ok(&["-A"]);
    assert!(!again.stdout().contains("undone"), "{again}");
}

/// A folder only the replica has is removed, and the report says so in replication terms
/// (not as a folder "deleted on a").
#[test]
fn a_replica_only_folder_is_reported_as_removed_from_the_replica() {
    let (master, replica) = (server(), server());
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    replica.deliver("alice", "Own", &message("own")).unwrap();
    let setup = Setup::new(&master, &replica, "");

    let dry = setup.replicate_ok(&["-u", "alice", "--dry-run"]);
    for line in [
        "alice: collection Own: remove from the replica (only there)",
        "alice: Own: would be removed from the replica: only there",
    ] {
        assert!(dry.stdout().contains(line), "{line:?} not reported:\n{dry}");
    }
    let json = setup.replicate_ok(&["-u", "alice", "--dry-run", "--json"]);
    assert!(
        json.stdout().contains("\"reason\":\"only on the replica\""),
        "{json}"
    );

    let run = setup.replicate_ok(&["-u", "alice"]);
    let out = run.stdout();
    assert!(
        out.contains("alice: Own: removed from the replica: only there"),
        "{run}"
    );
    assert!(
        !out.contains("deleted on a") && !out.contains("side b"),
        "{run}"
    );
    assert!(!user_tree(&replica, "alice", password("alice")).contains_key("Own"));
}

/// Empty folders and subscriptions are replicated too.
#[test]
fn empty_folders_and_subscriptions_are_replicated() {
    let (master, replica) = (server(), server());
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    as_user(&master, "alice", async |c| {
        c.create("Empty").await.unwrap();
        c.create("Lists").await.unwrap();
        c.subscribe("Lists").await.unwrap();
        c.subscribe("INBOX").await.unwrap();
    });
    let setup = Setup::new(&master, &replica, "");
    setup.replicate_ok(&["-u", "alice"]);
    let tree = user_tree(&replica, "alice", password("alice"));
    assert!(tree.contains_key("Empty"), "{tree:?}");
    assert_eq!(
        subscriptions(&replica, "alice"),
        subscriptions(&master, "alice")
    );
}

/// `-m` narrows subscriptions as it narrows messages: only the named mailboxes' subscription
/// state changes on the replica.
#[test]
fn mailboxes_named_with_m_narrow_the_subscriptions() {
    let (master, replica) = (server(), server());
    for (server, folders) in [(&master, ["Lists", "News"]), (&replica, ["Lists", "Old"])] {
        as_user(server, "alice", async |c| {
            for folder in folders {
                c.create(folder).await.unwrap();
            }
        });
    }
    as_user(&master, "alice", async |c| {
        c.subscribe("Lists").await.unwrap();
        c.subscribe("News").await.unwrap();
    });
    as_user(&replica, "alice", async |c| {
        c.subscribe("Old").await.unwrap()
    });
    let setup = Setup::new(&master, &replica, "");

    let run = setup.replicate_ok(&["-u", "alice", "-m", "Lists"]);
    assert_eq!(
        subscriptions(&replica, "alice"),
        ["Lists", "Old"],
        "News (not named) stays unsubscribed and Old subscribed:\n{run}"
    );

    setup.replicate_ok(&["-u", "alice"]);
    assert_eq!(
        subscriptions(&replica, "alice"),
        subscriptions(&master, "alice")
    );
}

/// A master subscription the replica refuses (a stale one, to a folder the master deleted
/// since) is reported and makes the user's status 1, not "unreachable" (3); the user's mail
/// and other subscriptions are replicated all the same.
#[test]
fn a_subscription_the_replica_refuses_is_reported_and_the_rest_replicated() {
    let (master, replica) = (server(), server());
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    as_user(&master, "alice", async |c| {
        c.create("Lists").await.unwrap();
        c.subscribe("Lists").await.unwrap();
        c.create("Gone").await.unwrap();
        c.subscribe("Gone").await.unwrap();
        c.delete("Gone").await.unwrap();
    });
    assert!(
        subscriptions(&master, "alice").contains(&"Gone".to_owned()),
        "the master keeps the stale subscription"
    );
    let setup = Setup::new(&master, &replica, "");

    let run = setup.run(&["replicate", "x", "-u", "alice"]);
    assert_eq!(run.code(), 1, "{run}");
    assert!(
        run.stderr()
            .contains("user alice: the replica refused: subscribed to \"Gone\""),
        "{run}"
    );
    assert!(
        subscriptions(&replica, "alice").contains(&"Lists".to_owned()),
        "{run}"
    );
    let tree = user_tree(&replica, "alice", password("alice"));
    assert!(tree["INBOX"].contains_key("a1"), "{tree:?}");
}

/// An initial replication killed (kill -9) at random points, then run again, converges with
/// no message lost or copied twice.
#[test]
fn a_killed_initial_replication_converges_without_duplicates() {
    let (master, replica) = (server(), server());
    for (user, folders) in [
        ("alice", &["INBOX", "Work", "Lists"][..]),
        ("bob", &["INBOX"]),
    ] {
        for folder in folders {
            let messages: Vec<Vec<u8>> = (0..40)
                .map(|i| message(&format!("{user}-{folder}-{i}")))
                .collect();
            master
                .deliver_many(user, folder, messages.iter().map(Vec::as_slice))
                .unwrap();
        }
    }
    let setup = Setup::new(&master, &replica, "");
    let config = setup.dir.path().join("config.toml");
    let replicate = || {
        let mut command = pimlink_with(&config, &["-v", "replicate", "x", "-A"]);
        command.stderr(std::process::Stdio::null());
        command
    };
    // bob's summary is the pass's last line.
    let finished = |stdout: &str| {
        stdout
            .lines()
            .any(|line| line.starts_with("bob: ") && line.contains(" collections, changed: "))
    };
    let seed = pimlink_testkit::TestRng::seed_from_env("PIMLINK_TEST_SEED", 0x0005_eed0_f4b1);
    let mut rng = pimlink_testkit::TestRng::new(seed);
    let kills = pimlink_testkit::kill::kill_repeatedly(replicate, finished, 6, &mut rng).unwrap();
    assert!(kills.interrupted > 0, "no run was interrupted");
    setup.replicate_ok(&["-A"]);
    assert_identical(&master, &replica);
    let again = setup.replicate_ok(&["-A"]);
    assert!(!again.stdout().contains("copied"), "{again}");
}

/// A user name that looks like a path names neither a state file nor a Maildir tree outside
/// their directories.
#[test]
fn a_hostile_user_name_stays_in_its_directories() {
    let master = server();
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hostile = "../../pimlink-hostile-user";
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.m]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         user = \"admin\"\npassword = \"admin-pw\"\n\n\
         [storage.r]\ntype = \"maildir\"\npath = \"{replica}/{{user}}\"\n\n\
         [replication.x]\nmaster = \"m\"\nreplica = \"r\"\nusers = [\"alice\", \"{hostile}\"]\n",
        state = dir.path().join("state").display(),
        host = master.host(),
        port = master.port(),
        replica = dir.path().join("r").display(),
    );
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config).unwrap();
    std::fs::create_dir(dir.path().join("r")).unwrap();
    let run = Run(pimlink_with(&config_path, &["replicate", "x", "-A"])
        .output()
        .unwrap());
    // The master knows no such user: that user fails, alice is replicated.
    assert_eq!(run.code(), 1, "{run}");
    assert!(common::find_file(&dir.path().join("r/alice/INBOX"), "a1").is_file());
    let outside = dir.path().parent().unwrap().join("pimlink-hostile-user");
    assert!(!outside.exists(), "{} was created", outside.display());
    let mut top: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["config.toml", "r", "state"]);
    let mut states: Vec<String> = std::fs::read_dir(dir.path().join("state/replication/x"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sqlite"))
        .collect();
    states.sort();
    assert_eq!(
        states,
        ["%2E.%2F..%2Fpimlink-hostile-user.sqlite", "alice.sqlite"]
    );
}

/// A Cyrus master (its admin acting as each user through the SASL authorization identity) to
/// a Dovecot replica (its master user).
#[test]
fn replicates_a_cyrus_master_to_a_dovecot_replica() {
    if pimlink_testkit::Cyrus::skip_requested() {
        return;
    }
    let master = pimlink_testkit::CyrusBuilder::new()
        .users(USERS)
        .start()
        .expect("Cyrus (under /opt/pimlink-testkit; PIMLINK_SKIP_CYRUS=1 skips this test)");
    let replica = server();
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    master
        .deliver("alice", "Lists/rust", &message("a2"))
        .unwrap();
    master.deliver("bob", "INBOX", &message("b1")).unwrap();
    let (admin, admin_password) = master.admin();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.m]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         user = \"{admin}\"\npassword = \"{admin_password}\"\n\n\
         [storage.r]\ntype = \"imap\"\nhost = \"{rhost}\"\nport = {rport}\ntls = \"none\"\n\
         user = \"admin\"\npassword = \"admin-pw\"\n\n\
         [replication.x]\nmaster = \"m\"\nreplica = \"r\"\nusers = [\"alice\", \"bob\"]\n\
         replica_login = \"master-user\"\n",
        state = dir.path().join("state").display(),
        host = master.host(),
        port = master.port(),
        rhost = replica.host(),
        rport = replica.port(),
    );
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config).unwrap();
    let run = Run(pimlink_with(&config_path, &["replicate", "x", "-A"])
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{run}");
    for (user, password) in USERS {
        let mut options = common::imap::dovecot_options(&replica, user, password);
        let on_replica = common::imap::server_tree(options.clone());
        options.host = master.host().to_owned();
        options.port = Some(master.port());
        let on_master = common::imap::server_tree(options);
        assert_eq!(on_master, on_replica, "{user}");
    }
    let alice = user_tree(&replica, "alice", password("alice"));
    assert!(alice["Lists/rust"].contains_key("a2"), "{alice:?}");
}

/// A folder renamed on the master is renamed on the replica: its messages are moved there,
/// not copied again.
#[test]
fn a_rename_on_the_master_moves_the_messages_on_the_replica() {
    let (master, replica) = (server(), server());
    for i in 0..5 {
        master
            .deliver("alice", "Work", &message(&format!("w{i}")))
            .unwrap();
    }
    let setup = Setup::new(&master, &replica, "");
    setup.replicate_ok(&["-u", "alice"]);
    as_user(&master, "alice", async |c| {
        c.rename("Work", "Projects").await.unwrap()
    });
    let run = setup.replicate_ok(&["-u", "alice"]);
    assert_identical(&master, &replica);
    let tree = user_tree(&replica, "alice", password("alice"));
    assert!(!tree.contains_key("Work"), "{tree:?}");
    assert_eq!(tree["Projects"].len(), 5, "{tree:?}");
    assert!(!run.stdout().contains("copied"), "copied again:\n{run}");
}

/// The replica pointed at another, empty server: the status of the old one is not taken for
/// the new one's; every message is copied there, and the change of replica is reported.
#[test]
fn a_new_empty_replica_gets_everything() {
    let (master, old_replica, new_replica) = (server(), server(), server());
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    master.deliver("alice", "Work", &message("a2")).unwrap();
    master.deliver("bob", "INBOX", &message("b1")).unwrap();
    let setup = Setup::new(&master, &old_replica, "");
    setup.replicate_ok(&["-A"]);
    assert_identical(&master, &old_replica);

    setup.configure(&master, &new_replica, "");
    // A dry run shows the copies and forgets nothing.
    let dry = setup.replicate_ok(&["-A", "--dry-run"]);
    assert!(dry.stdout().contains("copied"), "{dry}");
    let untouched = user_tree(&new_replica, "alice", password("alice"));
    assert!(untouched.values().all(|m| m.is_empty()), "{untouched:?}");
    let run = setup.replicate_ok(&["-A"]);
    assert_identical(&master, &new_replica);
    assert!(
        run.stderr().contains("another storage"),
        "not reported:\n{run}"
    );
    let verify = setup.run(&["replicate", "x", "-A", "--verify"]);
    assert_eq!(verify.code(), 0, "{verify}");
    // The old replica is left as it was.
    assert_identical(&master, &old_replica);
}
