//! End-to-end: what `pimlink replicate` does with what a Cyrus master offers beyond plain IMAP.
//! - Folder renames followed by MAILBOXID (RFC 8474 OBJECTID) onto a Dovecot replica with an
//!   IMAP RENAME: the replica's folder keeps its UIDVALIDITY and UIDs, and the wire log shows
//!   no APPEND, COPY or MOVE.
//! - Special-use attributes (RFC 6154) set on a Cyrus replica through METADATA, and a Dovecot
//!   replica, which cannot take them, warned about once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;

use common::imap::{client_verbs, message, message_id_of};
use common::{Run, pimlink_with};
use pimlink_imap::{Client, ClientOptions, FetchRequest, Secret, TlsMode, UidRanges};
use pimlink_testkit::{Cyrus, CyrusBuilder, Dovecot, DovecotBuilder};

const USER: &str = "alice";
const PASSWORD: &str = "alice-pw";
const USERS: &[(&str, &str)] = &[(USER, PASSWORD), ("bob", "bob-pw")];

/// A Cyrus master and a Dovecot replica (with the master user `admin`), both with [`USERS`].
fn servers() -> (Cyrus, Dovecot) {
    let replica = DovecotBuilder::new()
        .users(USERS)
        .master_user("admin", "admin-pw")
        .start()
        .unwrap();
    (cyrus(), replica)
}

fn cyrus() -> Cyrus {
    CyrusBuilder::new()
        .users(USERS)
        .start()
        .expect("Cyrus (under /opt/pimlink-testkit)")
}

/// A configuration replicating [`USER`] from `master` (its admin, by authorization identity)
/// to `replica` (its master user).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// To a Dovecot replica, through its master user.
    fn new(master: &Cyrus, replica: &Dovecot) -> Setup {
        let storage = format!(
            "host = \"{}\"\nport = {}\nuser = \"admin\"\npassword = \"admin-pw\"\n",
            replica.host(),
            replica.port()
        );
        Setup::with_replica(master, &storage, "master-user")
    }

    /// To a Cyrus replica, through its admin.
    fn cyrus(master: &Cyrus, replica: &Cyrus) -> Setup {
        let (admin, password) = replica.admin();
        let storage = format!(
            "host = \"{}\"\nport = {}\nuser = \"{admin}\"\npassword = \"{password}\"\n",
            replica.host(),
            replica.port()
        );
        Setup::with_replica(master, &storage, "authzid")
    }

    fn with_replica(master: &Cyrus, replica: &str, replica_login: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (admin, admin_password) = master.admin();
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.m]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
             user = \"{admin}\"\npassword = \"{admin_password}\"\n\n\
             [storage.r]\ntype = \"imap\"\ntls = \"none\"\n{replica}\n\
             [replication.x]\nmaster = \"m\"\nreplica = \"r\"\nusers = [\"alice\", \"bob\"]\n\
             replica_login = \"{replica_login}\"\n",
            state = dir.path().join("state").display(),
            host = master.host(),
            port = master.port(),
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Setup { dir }
    }

    fn run(&self, args: &[&str]) -> Run {
        Run(pimlink_with(&self.dir.path().join("config.toml"), args)
            .output()
            .unwrap())
    }

    /// `replicate x` with the IMAP wire log on stderr; must succeed.
    fn replicate(&self) -> Run {
        let run = Run(pimlink_with(
            &self.dir.path().join("config.toml"),
            &["replicate", "x", "-A"],
        )
        .env("RUST_LOG", "warn,pimlink_imap::wire=trace")
        .output()
        .unwrap());
        assert_eq!(run.code(), 0, "replicate failed:\n{run}");
        run
    }
}

fn options(host: &str, port: u16) -> ClientOptions {
    let mut options = ClientOptions::new(host, USER, Secret::new(PASSWORD));
    options.port = Some(port);
    options.tls = TlsMode::None;
    options.read_timeout = std::time::Duration::from_secs(20);
    options
}

/// Every folder of [`USER`] (with '/') -> (UIDVALIDITY, Message-ID -> UID).
type Uids = BTreeMap<String, (u32, BTreeMap<String, u32>)>;

fn uids(options: ClientOptions) -> Uids {
    common::block_on(async {
        let mut client = Client::connect(options).await.unwrap();
        let mut out = Uids::new();
        for entry in client.list("", "*").await.unwrap() {
            if !entry.selectable() {
                continue;
            }
            let folder = match entry.delimiter {
                Some(d) => entry.name.replace(d, "/"),
                None => entry.name.clone(),
            };
            let selected = client
                .select(&entry.name, Default::default())
                .await
                .unwrap();
            let mut messages = BTreeMap::new();
            if client.exists() > 0 {
                let request = FetchRequest {
                    header_fields: vec!["MESSAGE-ID".to_owned()],
                    ..FetchRequest::default()
                };
                client
                    .fetch(&UidRanges::all(), &request, |m| {
                        messages.insert(message_id_of(&m.header.unwrap()), m.uid);
                        Ok(())
                    })
                    .await
                    .unwrap();
            }
            out.insert(folder, (selected.uid_validity.unwrap(), messages));
        }
        client.logout().await.unwrap();
        out
    })
}

fn replica_uids(replica: &Dovecot) -> Uids {
    uids(options(replica.host(), replica.port()))
}

/// Folder -> Message-IDs on `options`' account.
fn tree(options: ClientOptions) -> BTreeMap<String, Vec<String>> {
    uids(options)
        .into_iter()
        .map(|(folder, (_, messages))| (folder, messages.into_keys().collect()))
        .collect()
}

fn assert_identical(master: &Cyrus, replica: &Dovecot) {
    assert_eq!(
        tree(options(master.host(), master.port())),
        tree(options(replica.host(), replica.port())),
        "master (left) and replica (right) differ"
    );
}

/// Runs IMAP commands on the master as [`USER`].
fn on_master(master: &Cyrus, commands: &[(&str, &str)]) {
    on_account(options(master.host(), master.port()), commands);
}

/// Runs commands as `options`' user: `RENAME` "from to", `DELETE` "name", `SPECIAL-USE`
/// "name attribute" (`-` for none).
fn on_account(options: ClientOptions, commands: &[(&str, &str)]) {
    common::block_on(async {
        let mut client = Client::connect(options).await.unwrap();
        for (verb, args) in commands {
            match *verb {
                "RENAME" => {
                    let (from, to) = args.split_once(' ').unwrap();
                    client.rename(from, to).await.unwrap();
                }
                "DELETE" => client.delete(args).await.unwrap(),
                "SPECIAL-USE" => {
                    let (name, attribute) = args.split_once(' ').unwrap();
                    let attribute = (attribute != "-").then_some(attribute);
                    client.set_special_use(name, attribute).await.unwrap();
                }
                other => panic!("{other}"),
            }
        }
        client.logout().await.unwrap();
    });
}

/// Folder -> special-use attribute on `options`' account.
fn special_uses(options: ClientOptions) -> BTreeMap<String, String> {
    common::block_on(async {
        let mut client = Client::connect(options).await.unwrap();
        let entries = client.list("", "*").await.unwrap();
        client.logout().await.unwrap();
        entries
            .iter()
            .filter_map(|e| Some((e.name.clone(), e.special_use()?.to_owned())))
            .collect()
    })
}

/// Neither a message sent to the replica again nor one moved there.
fn assert_nothing_copied(run: &Run) {
    let verbs = client_verbs(run);
    for verb in ["APPEND", "COPY", "MOVE"] {
        assert!(
            !verbs.iter().any(|v| v == verb),
            "{verb} sent: {verbs:?}\n{run}"
        );
    }
}

#[test]
fn a_folder_renamed_on_the_master_keeps_its_uids_on_the_replica() {
    let (master, replica) = servers();
    for i in 0..3 {
        master
            .deliver(USER, "Work", &message(&format!("w{i}")))
            .unwrap();
    }
    master.deliver(USER, "INBOX", &message("i1")).unwrap();
    let setup = Setup::new(&master, &replica);
    setup.replicate();
    let before = replica_uids(&replica);

    on_master(&master, &[("RENAME", "Work Projects")]);
    let run = setup.replicate();
    assert!(
        run.stdout().contains("renamed \"Work\" to \"Projects\""),
        "{run}"
    );
    assert_nothing_copied(&run);
    assert_identical(&master, &replica);
    let after = replica_uids(&replica);
    assert_eq!(after["Projects"], before["Work"]);
    assert!(!after.contains_key("Work"), "{after:?}");

    // Nothing left to do.
    let again = setup.replicate();
    assert!(!again.stdout().contains("renamed"), "{again}");
    assert_nothing_copied(&again);
}

#[test]
fn a_rename_to_a_name_the_master_deleted_replaces_that_folder() {
    let (master, replica) = servers();
    master.deliver(USER, "Old", &message("o1")).unwrap();
    for i in 0..2 {
        master
            .deliver(USER, "Work", &message(&format!("w{i}")))
            .unwrap();
    }
    let setup = Setup::new(&master, &replica);
    setup.replicate();
    let before = replica_uids(&replica);

    on_master(&master, &[("DELETE", "Old"), ("RENAME", "Work Old")]);
    let run = setup.replicate();
    assert_nothing_copied(&run);
    assert_identical(&master, &replica);
    let after = replica_uids(&replica);
    assert_eq!(after["Old"], before["Work"]);
    assert_eq!(after.len(), 2, "a folder set aside was left: {after:?}");
}

#[test]
fn a_parent_renamed_with_its_children_keeps_their_uids() {
    let (master, replica) = servers();
    master.deliver(USER, "Work", &message("w1")).unwrap();
    for i in 0..2 {
        master
            .deliver(USER, "Work/2025", &message(&format!("c{i}")))
            .unwrap();
    }
    master
        .deliver(USER, "Work/2025/Q1", &message("q1"))
        .unwrap();
    let setup = Setup::new(&master, &replica);
    setup.replicate();
    let before = replica_uids(&replica);

    on_master(&master, &[("RENAME", "Work Projects")]);
    let run = setup.replicate();
    assert_nothing_copied(&run);
    assert_identical(&master, &replica);
    let after = replica_uids(&replica);
    for (from, to) in [
        ("Work", "Projects"),
        ("Work/2025", "Projects/2025"),
        ("Work/2025/Q1", "Projects/2025/Q1"),
    ] {
        assert_eq!(after[to], before[from], "{to}");
    }
}

/// Special-use attributes reach a Cyrus replica, which takes them through METADATA; verify
/// level 1 reports one changed there, and the next pass puts it back.
#[test]
fn special_use_reaches_a_cyrus_replica_and_verify_sees_a_planted_difference() {
    let (master, replica) = (cyrus(), cyrus());
    master.deliver(USER, "Sent", &message("s1")).unwrap();
    master.deliver(USER, "Archive", &message("a1")).unwrap();
    master.deliver(USER, "Work", &message("w1")).unwrap();
    on_master(
        &master,
        &[
            ("SPECIAL-USE", "Sent \\Sent"),
            ("SPECIAL-USE", "Archive \\Archive"),
        ],
    );
    let wanted = special_uses(options(master.host(), master.port()));
    assert_eq!(wanted.len(), 2, "{wanted:?}");
    let setup = Setup::cyrus(&master, &replica);
    let run = setup.replicate();
    assert!(
        run.stdout().contains("special-use \\Sent set on \"Sent\""),
        "{run}"
    );
    let on_replica = || special_uses(options(replica.host(), replica.port()));
    assert_eq!(on_replica(), wanted);
    let verify = setup.run(&["replicate", "x", "-A", "--verify"]);
    assert_eq!(verify.code(), 0, "{verify}");

    // Planted on the replica: Archive loses its attribute, Work gains one.
    on_account(
        options(replica.host(), replica.port()),
        &[("SPECIAL-USE", "Archive -"), ("SPECIAL-USE", "Work \\Junk")],
    );
    let verify = setup.run(&["replicate", "x", "-A", "--verify", "--level", "1"]);
    assert_eq!(verify.code(), 7, "{verify}");
    for folder in ["Archive", "Work"] {
        assert!(
            verify
                .stdout()
                .lines()
                .any(|l| l.contains(folder) && l.contains("special-use")),
            "{folder} not reported:\n{verify}"
        );
    }
    let run = setup.replicate();
    assert!(run.stdout().contains("undone"), "{run}");
    assert_eq!(on_replica(), wanted);
    let verify = setup.run(&["replicate", "x", "-A", "--verify"]);
    assert_eq!(verify.code(), 0, "{verify}");
}

/// A Dovecot replica cannot take special-use attributes: the pass succeeds, and says so once
/// for the run (not once per user), naming the folders and the server.
#[test]
fn a_replica_that_cannot_take_special_use_is_warned_about_once() {
    let (master, replica) = servers();
    for (user, password) in USERS {
        master
            .deliver(user, "Sent", &message(&format!("{user}1")))
            .unwrap();
        let mut as_user = options(master.host(), master.port());
        as_user.user = (*user).to_owned();
        as_user.password = Secret::new(*password);
        on_account(as_user, &[("SPECIAL-USE", "Sent \\Sent")]);
    }
    let setup = Setup::new(&master, &replica);
    let run = setup.replicate();
    let stderr = run.stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("cannot take special-use"))
        .collect();
    assert_eq!(warnings.len(), 1, "{run}");
    let warning = warnings[0];
    for part in [
        "storage r",
        &replica.port().to_string(),
        "\"Sent\" (\\Sent)",
    ] {
        assert!(warning.contains(part), "{part} missing: {warning}");
    }
    // What the replica cannot take is no difference: verify would otherwise fail after
    // every pass.
    let verify = setup.run(&["replicate", "x", "-A", "--verify", "--level", "1"]);
    assert_eq!(verify.code(), 0, "{verify}");
}
