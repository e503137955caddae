//! End-to-end: `pimlink replicate` with `sieve = true` (issue 15) between two private
//! Dovecots with ManageSieve, each on its own port (each storage's `sieve_port`). Scripts are
//! seeded and inspected over ManageSieve as the user.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::message;
use common::{Run, pimlink_with};
use pimlink_imap::sieve::{SieveClient, SieveOptions};
use pimlink_imap::{ClientOptions, Secret, TlsMode};
use pimlink_testkit::{Dovecot, DovecotBuilder};

const FILTER: &[u8] = b"require \"fileinto\";\r\nif address :is \"from\" \"boss@example.org\" {\r\n  fileinto \"Boss\";\r\n}\r\n";
const VACATION: &[u8] = b"require \"vacation\";\r\nvacation \"Away until Monday\";\r\n";

/// A Dovecot with ManageSieve on a port of its own, alice, and the master user `admin`.
fn server() -> Dovecot {
    DovecotBuilder::new()
        .users(&[("alice", "alice-pw")])
        .managesieve(true)
        .master_user("admin", "admin-pw")
        .start()
        .unwrap()
}

/// A configuration replicating alice's mail and scripts from `master` to `replica` as `x`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(master: &Dovecot, replica: &Dovecot) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let storage = |name: &str, server: &Dovecot| {
            format!(
                "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
                 user = \"admin\"\npassword = \"admin-pw\"\nsieve_port = {}\n\n",
                server.host(),
                server.port(),
                server.sieve_port().unwrap()
            )
        };
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n{m}{r}\
             [replication.x]\nmaster = \"m\"\nreplica = \"r\"\nusers = [\"alice\"]\n\
             master_login = \"authzid\"\nreplica_login = \"master-user\"\nsieve = true\n",
            state = dir.path().join("state").display(),
            m = storage("m", master),
            r = storage("r", replica),
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Setup { dir }
    }

    fn replicate(&self, args: &[&str]) -> Run {
        let mut all = vec!["replicate", "x"];
        all.extend_from_slice(args);
        Run(pimlink_with(&self.dir.path().join("config.toml"), &all)
            .output()
            .unwrap())
    }

    fn replicate_ok(&self, args: &[&str]) -> Run {
        let run = self.replicate(args);
        assert_eq!(run.code(), 0, "replicate failed:\n{run}");
        run
    }
}

/// Runs `f` with a ManageSieve client logged in as alice on `server`.
fn as_alice<T>(server: &Dovecot, f: impl AsyncFnOnce(&mut SieveClient) -> T) -> T {
    common::block_on(async {
        let mut connection = ClientOptions::new(server.host(), "alice", Secret::new("alice-pw"));
        connection.tls = TlsMode::None;
        connection.port = server.sieve_port();
        let mut client = SieveClient::connect(&SieveOptions { connection })
            .await
            .unwrap();
        let out = f(&mut client).await;
        client.logout().await.unwrap();
        out
    })
}

/// alice's scripts on `server`: name, bytes, active; sorted by name.
fn scripts(server: &Dovecot) -> Vec<(String, Vec<u8>, bool)> {
    as_alice(server, async |c| {
        let mut all = Vec::new();
        for entry in c.list_scripts().await.unwrap() {
            let body = c.get_script(&entry.name).await.unwrap();
            all.push((entry.name, body, entry.active));
        }
        all.sort();
        all
    })
}

/// alice's master scripts: filter (active) and vacation.
fn seed(master: &Dovecot) {
    as_alice(master, async |c| {
        c.put_script("filter", FILTER).await.unwrap();
        c.put_script("vacation", VACATION).await.unwrap();
        c.set_active(Some("filter")).await.unwrap();
    });
}

fn active(server: &Dovecot) -> Option<String> {
    scripts(server)
        .into_iter()
        .find(|(_, _, active)| *active)
        .map(|(name, _, _)| name)
}

/// The master's scripts and the active one arrive with the mail; a second run changes none.
#[test]
fn scripts_and_the_active_script_are_replicated() {
    let (master, replica) = (server(), server());
    master.deliver("alice", "INBOX", &message("a1")).unwrap();
    seed(&master);
    let setup = Setup::new(&master, &replica);

    let run = setup.replicate_ok(&["-A"]);
    assert_eq!(scripts(&replica), scripts(&master), "{run}");
    assert_eq!(active(&replica).as_deref(), Some("filter"));
    let out = run.stdout() + &run.stderr();
    for line in [
        "Sieve script \"filter\" created",
        "Sieve script \"vacation\" created",
        "Sieve script \"filter\" activated",
    ] {
        assert!(out.contains(line), "{line:?} not reported:\n{run}");
    }

    let again = setup.replicate_ok(&["-A"]);
    assert!(
        !(again.stdout() + &again.stderr()).contains("Sieve"),
        "a second run changes nothing:\n{again}"
    );
}

/// A script changed and one deleted on the master arrive, the active script switches, and a
/// script only the replica has is removed and reported.
#[test]
fn master_changes_arrive_and_a_replica_only_script_is_removed() {
    let (master, replica) = (server(), server());
    seed(&master);
    let setup = Setup::new(&master, &replica);
    setup.replicate_ok(&["-A"]);

    let changed = b"require \"vacation\";\r\nvacation \"Back on Tuesday\";\r\n";
    as_alice(&master, async |c| {
        c.put_script("vacation", changed).await.unwrap();
        c.set_active(Some("vacation")).await.unwrap();
        c.delete_script("filter").await.unwrap();
    });
    as_alice(&replica, async |c| {
        c.put_script("local", b"keep;\r\n").await.unwrap();
    });

    let run = setup.replicate_ok(&["-A"]);
    let now = scripts(&replica);
    assert_eq!(now, scripts(&master), "{run}");
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0].1, changed);
    assert_eq!(active(&replica).as_deref(), Some("vacation"));
    let out = run.stdout() + &run.stderr();
    for line in [
        "Sieve script \"vacation\" updated",
        "Sieve script \"vacation\" activated",
        "replica-only Sieve script \"filter\" deleted",
        "replica-only Sieve script \"local\" deleted",
    ] {
        assert!(out.contains(line), "{line:?} not reported:\n{run}");
    }
}

/// `--verify` compares the scripts at level 1: a script changed on the replica and an active
/// script switched there are differences (exit status 7); replicating makes them identical.
#[test]
fn verify_reports_a_sieve_difference() {
    let (master, replica) = (server(), server());
    seed(&master);
    let setup = Setup::new(&master, &replica);
    setup.replicate_ok(&["-A"]);
    let same = setup.replicate(&["-A", "--verify", "--level", "1"]);
    assert_eq!(same.code(), 0, "{same}");

    as_alice(&replica, async |c| {
        c.put_script("filter", b"keep;\r\n").await.unwrap();
        c.set_active(Some("vacation")).await.unwrap();
    });
    let differ = setup.replicate(&["-A", "--verify", "--level", "1"]);
    assert_eq!(differ.code(), 7, "{differ}");
    let out = differ.stdout();
    for line in [
        "alice: Sieve script \"filter\" differs on the replica",
        "alice: Sieve script \"filter\" is active on the master, not on the replica",
    ] {
        assert!(out.contains(line), "{line:?} not reported:\n{differ}");
    }
    let json = setup.replicate(&["-A", "--verify", "--level", "1", "--json"]);
    assert_eq!(json.code(), 7, "{json}");
    assert!(json.stdout().contains("\"kind\":\"sieve\""), "{json}");

    setup.replicate_ok(&["-A"]);
    let again = setup.replicate(&["-A", "--verify", "--level", "1"]);
    assert_eq!(again.code(), 0, "{again}");
}
