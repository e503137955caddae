//! The quirks of the provider presets (issue 18), each against a real Dovecot made to behave
//! like the provider: Gmail's folders that repeat every message and its Trash, iCloud's wrong
//! VANISHED answers, Outlook's throttling. The server is reached through a proxy
//! (`ImapScriptProxy`) where the provider's misbehaviour is on the wire; the preset's endpoint
//! is overridden by `host`, `port` and `tls` (keys written win over the preset).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::imap::{message, user_tree, write_imap_maildir_config_via};
use common::{Tree, World};
use pimlink_testkit::{Dovecot, DovecotBuilder, ImapScript, ImapScriptProxy};

/// The Message-IDs in `folder` of `tree`.
fn ids(tree: &Tree, folder: &str) -> Vec<String> {
    tree.get(folder)
        .map(|messages| messages.keys().cloned().collect())
        .unwrap_or_default()
}

fn server(server: &Dovecot) -> Tree {
    user_tree(server, server.user(), server.password())
}

/// A world whose side a is `provider` reached at `port` (the server or a proxy).
fn world(server: &Dovecot, port: u16, provider: &str) -> World {
    let world = World::new("");
    let a_keys = format!("provider = \"{provider}\"");
    write_imap_maildir_config_via(&world, server, port, (&a_keys, "", ""));
    world
}

#[test]
fn gmail_messages_are_not_downloaded_again_from_all_mail_and_a_deletion_goes_to_the_trash() {
    let dovecot = DovecotBuilder::new().layout(false).start().unwrap();
    let user = dovecot.user();
    // As Gmail shows them: a message in the inbox is also in All Mail (and, starred, in
    // Starred); an archived one only in All Mail; a sent one in Sent Mail and All Mail.
    for (folder, id) in [
        ("INBOX", "inbox"),
        ("[Gmail]/All Mail", "inbox"),
        ("[Gmail]/Starred", "inbox"),
        ("[Gmail]/Important", "inbox"),
        ("[Gmail]/All Mail", "archived"),
        ("[Gmail]/Sent Mail", "sent"),
        ("[Gmail]/All Mail", "sent"),
        ("[Gmail]/Trash", "old"),
    ] {
        dovecot.deliver(user, folder, &message(id)).unwrap();
    }
    let world = world(&dovecot, dovecot.port(), "gmail");
    world.sync_ok();
    let local = world.messages("b");
    let folders: BTreeSet<&str> = local.keys().map(String::as_str).collect();
    assert_eq!(
        folders,
        BTreeSet::from(["INBOX", "[Gmail]/Sent Mail", "[Gmail]/Trash"]),
        "{local:?}"
    );
    assert_eq!(ids(&local, "INBOX"), ["inbox"]);

    // Deleted in the mail reader: on Gmail it must go to the Trash, not only lose its label.
    let inbox = world.root("b").join("INBOX");
    for sub in ["cur", "new"] {
        for file in std::fs::read_dir(inbox.join(sub)).unwrap() {
            std::fs::remove_file(file.unwrap().path()).unwrap();
        }
    }
    world.sync_ok();
    let remote = server(&dovecot);
    assert!(ids(&remote, "INBOX").is_empty(), "{remote:?}");
    assert_eq!(ids(&remote, "[Gmail]/Trash"), ["inbox", "old"]);
    // The folders left out were not touched.
    assert_eq!(
        ids(&remote, "[Gmail]/All Mail"),
        ["archived", "inbox", "sent"]
    );
}

/// iCloud as Mailspring and Wino Mail saw it: the VANISHED answer to a QRESYNC SELECT names
/// the wrong messages (here always UID 1, whichever were expunged), so that the count of
/// messages still adds up.
#[derive(Default)]
struct WrongVanished {
    /// How many VANISHED answers were falsified.
    falsified: AtomicUsize,
}

impl ImapScript for WrongVanished {
    fn response(&self, _: usize, line: &str) -> Vec<String> {
        if line.starts_with("* VANISHED (EARLIER) ") {
            self.falsified.fetch_add(1, Ordering::SeqCst);
            return vec!["* VANISHED (EARLIER) 1".to_owned()];
        }
        vec![line.to_owned()]
    }
}

#[test]
fn with_the_icloud_preset_a_wrong_vanished_answer_loses_and_resurrects_nothing() {
    let dovecot = DovecotBuilder::new().start().unwrap();
    let user = dovecot.user();
    for id in ["m1", "m2", "m3"] {
        dovecot.deliver(user, "INBOX", &message(id)).unwrap();
    }
    let script = Arc::new(WrongVanished::default());
    let proxy = ImapScriptProxy::start(dovecot.port(), Arc::clone(&script)).unwrap();
    let world = world(&dovecot, proxy.port(), "icloud");
    world.sync_ok();
    // Deleted on the server (UID 2): with QRESYNC, the next SELECT would hear of UID 1.
    dovecot
        .doveadm(&[
            "expunge",
            "-u",
            user,
            "mailbox",
            "INBOX",
            "header",
            "Message-ID",
            "<m2@test>",
        ])
        .unwrap();
    for _ in 0..2 {
        let run = world.sync_ok();
        let local = world.messages("b");
        assert_eq!(ids(&local, "INBOX"), ["m1", "m3"], "{run}");
        for copies in local["INBOX"].values() {
            assert_eq!(copies.len(), 1, "{local:?}");
        }
        assert_eq!(ids(&server(&dovecot), "INBOX"), ["m1", "m3"]);
    }
    // The preset never asked for QRESYNC, so no VANISHED answer came to be falsified.
    assert_eq!(script.falsified.load(Ordering::SeqCst), 0);
}

/// Exchange Online when it throttles: the greeting of the first connection is a BYE, and two
/// later commands are refused as busy instead of being carried out.
#[derive(Default)]
struct Throttling {
    /// Commands seen after login (the server's, not the proxy's, count).
    commands: AtomicUsize,
    refused: AtomicUsize,
}

impl ImapScript for Throttling {
    fn command(&self, _: usize, _: &str, line: &str) -> Option<String> {
        let verb = line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_ascii_uppercase();
        if ["LOGIN", "AUTHENTICATE", "CAPABILITY", "LOGOUT", "ID"].contains(&verb.as_str()) {
            return None;
        }
        let n = self.commands.fetch_add(1, Ordering::SeqCst) + 1;
        let answer = match n {
            3 => "NO [THROTTLED] Request is throttled. Suggested Backoff Time: 500 milliseconds",
            7 => "NO Server Unavailable. 15",
            _ => return None,
        };
        self.refused.fetch_add(1, Ordering::SeqCst);
        Some(answer.to_owned())
    }

    fn response(&self, connection: usize, line: &str) -> Vec<String> {
        if connection == 0 && line.starts_with("* OK") {
            return vec!["* BYE Server Unavailable. 15".to_owned()];
        }
        vec![line.to_owned()]
    }
}

#[test]
fn outlook_throttling_answers_are_waited_out_and_the_run_succeeds() {
    let dovecot = DovecotBuilder::new().start().unwrap();
    let user = dovecot.user();
    for (folder, id) in [("INBOX", "m1"), ("INBOX", "m2"), ("Work", "w1")] {
        dovecot.deliver(user, folder, &message(id)).unwrap();
    }
    let script = Arc::new(Throttling::default());
    let proxy = ImapScriptProxy::start(dovecot.port(), Arc::clone(&script)).unwrap();
    let world = world(&dovecot, proxy.port(), "outlook");
    // Dovecot takes the preset's XOAUTH2 only with an OAuth2 passdb; a password it takes.
    let config = std::fs::read_to_string(world.config()).unwrap();
    let config = config.replace(
        "provider = \"outlook\"",
        "provider = \"outlook\"\nauth = \"plain\"",
    );
    std::fs::write(world.config(), config).unwrap();
    let run = world.sync_ok();
    let local = world.messages("b");
    assert_eq!(ids(&local, "INBOX"), ["m1", "m2"], "{run}");
    assert_eq!(ids(&local, "Work"), ["w1"], "{run}");
    assert_eq!(script.refused.load(Ordering::SeqCst), 2, "{run}");
}
