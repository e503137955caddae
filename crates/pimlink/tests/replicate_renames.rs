//! End-to-end: `pimlink replicate` follows a Cyrus master's folder renames by MAILBOXID
//! (RFC 8474 OBJECTID) onto a Dovecot replica with an IMAP RENAME: the replica's folder keeps
//! its UIDVALIDITY and UIDs, and the wire log shows no APPEND, COPY or MOVE.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;

use common::imap::{client_verbs, message, message_id_of};
use common::{Run, pimlink_with};
use pimlink_imap::{Client, ClientOptions, FetchRequest, Secret, TlsMode, UidRanges};
use pimlink_testkit::{Cyrus, CyrusBuilder, Dovecot, DovecotBuilder};

const USER: &str = "alice";
const PASSWORD: &str = "alice-pw";

/// A Cyrus master and a Dovecot replica (with the master user `admin`), both with [`USER`].
fn servers() -> (Cyrus, Dovecot) {
    let master = CyrusBuilder::new()
        .users(&[(USER, PASSWORD)])
        .start()
        .expect("Cyrus (under /opt/pimlink-testkit)");
    let replica = DovecotBuilder::new()
        .users(&[(USER, PASSWORD)])
        .master_user("admin", "admin-pw")
        .start()
        .unwrap();
    (master, replica)
}

/// A configuration replicating [`USER`] from `master` (its admin, by authorization identity)
/// to `replica` (its master user).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(master: &Cyrus, replica: &Dovecot) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (admin, admin_password) = master.admin();
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.m]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
             user = \"{admin}\"\npassword = \"{admin_password}\"\n\n\
             [storage.r]\ntype = \"imap\"\nhost = \"{rhost}\"\nport = {rport}\ntls = \"none\"\n\
             user = \"admin\"\npassword = \"admin-pw\"\n\n\
             [replication.x]\nmaster = \"m\"\nreplica = \"r\"\nusers = [\"{USER}\"]\n\
             replica_login = \"master-user\"\n",
            state = dir.path().join("state").display(),
            host = master.host(),
            port = master.port(),
            rhost = replica.host(),
            rport = replica.port(),
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Setup { dir }
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
    common::block_on(async {
        let mut client = Client::connect(options(master.host(), master.port()))
            .await
            .unwrap();
        for (verb, args) in commands {
            match *verb {
                "RENAME" => {
                    let (from, to) = args.split_once(' ').unwrap();
                    client.rename(from, to).await.unwrap();
                }
                "DELETE" => client.delete(args).await.unwrap(),
                other => panic!("{other}"),
            }
        }
        client.logout().await.unwrap();
    });
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
