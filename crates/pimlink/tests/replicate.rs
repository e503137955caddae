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
        let dir = tempfile::tempdir().unwrap();
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
        Setup { dir }
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

/// Master and replica hold the same folders and messages (with flags) for every user.
fn assert_identical(master: &Dovecot, replica: &Dovecot) {
    for (user, password) in USERS {
        let (m, r) = (
            user_tree(master, user, password),
            user_tree(replica, user, password),
        );
        assert_eq!(m, r, "{user}: master (left) and replica (right) differ");
    }
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
