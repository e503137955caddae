//! `pimlink migrate` (issue 15) between a server whose personal namespace has the prefix
//! `INBOX.` (Cyrus without `altnamespace`, as Courier) and one without (Dovecot): folders are
//! matched without the prefix, both ways (`INBOX.Work` is `Work`, `INBOX.Sent` is `Sent`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::fs;

use common::imap::{dovecot_options, message, server_tree};
use common::{Run, Tree, pimlink_with};
use pimlink_imap::{ClientOptions, Secret, TlsMode};
use pimlink_testkit::{Cyrus, CyrusBuilder, Dovecot, DovecotBuilder};

fn cyrus() -> Cyrus {
    CyrusBuilder::new()
        .users(&[("alice", "cyrus-pw")])
        .inbox_prefix(true)
        .start()
        .unwrap()
}

fn dovecot() -> Dovecot {
    DovecotBuilder::new()
        .users(&[("alice", "dovecot-pw")])
        .special_use(&[("Sent", "\\Sent")])
        .start()
        .unwrap()
}

fn cyrus_tree(server: &Cyrus) -> Tree {
    let mut options = ClientOptions::new(server.host(), "alice", Secret::new("cyrus-pw"));
    options.port = Some(server.port());
    options.tls = TlsMode::None;
    server_tree(options)
}

fn dovecot_tree(server: &Dovecot) -> Tree {
    server_tree(dovecot_options(server, "alice", "dovecot-pw"))
}

/// Migrates alice from the storage `from` to `to` (`cyrus` or `dovecot`).
fn migrate(cyrus: &Cyrus, dovecot: &Dovecot, from: &str, to: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let password = |storage: &str| {
        if storage == "cyrus" {
            "cyrus-pw"
        } else {
            "dovecot-pw"
        }
    };
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.cyrus]\ntype = \"imap\"\nhost = \"{host}\"\nport = {cyrus}\ntls = \"none\"\n\n\
         [storage.dovecot]\ntype = \"imap\"\nhost = \"{host}\"\nport = {dovecot}\ntls = \"none\"\n\n\
         [migration.move]\nsource = \"{from}\"\ndestination = \"{to}\"\n",
        state = dir.path().join("state").display(),
        host = dovecot.host(),
        cyrus = cyrus.port(),
        dovecot = dovecot.port(),
    );
    fs::write(dir.path().join("config.toml"), config).unwrap();
    let accounts = dir.path().join("accounts.txt");
    fs::write(
        &accounts,
        format!("alice;{};alice;{}\n", password(from), password(to)),
    )
    .unwrap();
    let run = Run(pimlink_with(
        &dir.path().join("config.toml"),
        &["migrate", "move", "--accounts", accounts.to_str().unwrap()],
    )
    .output()
    .unwrap());
    assert_eq!(run.code(), 0, "migrate {from} -> {to}:\n{run}");
    run
}

fn folders(tree: &Tree) -> Vec<&str> {
    tree.keys().map(String::as_str).collect()
}

#[test]
fn an_inbox_prefix_is_dropped_on_the_way_out_and_added_on_the_way_in() {
    let (cyrus, dovecot) = (cyrus(), dovecot());
    cyrus.deliver("alice", "INBOX", &message("in")).unwrap();
    cyrus
        .deliver("alice", "INBOX.Sent", &message("sent"))
        .unwrap();
    cyrus
        .deliver("alice", "INBOX.Work", &message("work"))
        .unwrap();
    cyrus
        .deliver("alice", "INBOX.Work.2026", &message("deep"))
        .unwrap();
    assert_eq!(
        folders(&cyrus_tree(&cyrus)),
        ["INBOX", "INBOX/Sent", "INBOX/Work", "INBOX/Work/2026"],
        "the testkit's Cyrus has the INBOX. prefix"
    );

    let run = migrate(&cyrus, &dovecot, "cyrus", "dovecot");
    let tree = dovecot_tree(&dovecot);
    assert_eq!(
        folders(&tree),
        ["INBOX", "Sent", "Work", "Work/2026"],
        "{run}"
    );
    for (folder, id) in [
        ("INBOX", "in"),
        ("Sent", "sent"),
        ("Work", "work"),
        ("Work/2026", "deep"),
    ] {
        assert_eq!(tree[folder].keys().collect::<Vec<_>>(), [id], "{tree:?}");
    }

    // And back, into an empty Cyrus account: every folder but INBOX goes under the prefix.
    let back = CyrusBuilder::new()
        .users(&[("alice", "cyrus-pw")])
        .inbox_prefix(true)
        .start()
        .unwrap();
    dovecot.deliver("alice", "Lists", &message("list")).unwrap();
    let run = migrate(&back, &dovecot, "dovecot", "cyrus");
    let tree = cyrus_tree(&back);
    assert_eq!(
        folders(&tree),
        [
            "INBOX",
            "INBOX/Lists",
            "INBOX/Sent",
            "INBOX/Work",
            "INBOX/Work/2026"
        ],
        "{run}"
    );
    assert_eq!(tree["INBOX/Work"].keys().collect::<Vec<_>>(), ["work"]);
}
