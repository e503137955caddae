//! Differential: the Maildir pimlink downloads from a Dovecot account equals the one mbsync
//! (isync 1.4) downloads from the same account: same folders, same messages, same flags, and
//! the same bytes in each message file once mbsync's own `X-TUID:` header is taken out.
//!
//! What mbsync does (found by running it here): it stores messages with LF line ends (it
//! converts the server's CRLF) and inserts an `X-TUID: <12 characters>` header at the end of
//! the header of every message it downloads. pimlink's Maildir store converts line ends the same
//! way, so the strict comparison below holds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::World;
use pimlink_testkit::{Dovecot, DovecotBuilder};

fn seed(server: &Dovecot) {
    let user = server.user();
    let lf = "From: lf@example.org\nSubject: bare LF\nMessage-ID: <lf@test>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nline\nline two\n";
    server.deliver(user, "INBOX", lf.as_bytes()).unwrap();
    for i in 0..5 {
        let message = format!(
            "From: test@example.org\r\nSubject: message {i}\r\nMessage-ID: <m{i}@test>\r\n\
             Date: Mon, 1 Jan 2024 10:00:0{i} +0000\r\n\r\nbody of {i}\r\nsecond line\r\n"
        );
        server.deliver(user, "INBOX", message.as_bytes()).unwrap();
    }
    let nested =
        "From: x@example.org\r\nSubject: nested\r\nMessage-ID: <n0@test>\r\n\r\nnested body\r\n";
    server
        .deliver(user, "Lists.rust", nested.as_bytes())
        .unwrap();
    server
        .doveadm(&[
            "flags",
            "add",
            "-u",
            user,
            "\\Seen \\Flagged",
            "mailbox",
            "INBOX",
            "uid",
            "2",
        ])
        .unwrap();
    server
        .doveadm(&[
            "flags",
            "add",
            "-u",
            user,
            "\\Answered",
            "mailbox",
            "INBOX",
            "uid",
            "3",
        ])
        .unwrap();
}

/// Message-ID -> (flags, bytes) per folder of a Maildir tree.
type Contents = BTreeMap<String, BTreeMap<String, (String, Vec<u8>)>>;

fn contents(root: &Path) -> Contents {
    let mut out = Contents::new();
    for (folder, _) in common::read_tree(root) {
        let dir = root.join(&folder);
        let messages = out.entry(folder).or_default();
        for sub in ["cur", "new"] {
            for entry in fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let flags = name
                    .split_once(":2,")
                    .map(|(_, f)| f.to_owned())
                    .unwrap_or_default();
                let bytes = fs::read(&path).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                let id = text
                    .split_once("Message-ID: <")
                    .and_then(|(_, rest)| rest.split_once('@'))
                    .map(|(id, _)| id.to_owned())
                    .unwrap();
                messages.insert(id, (flags, bytes));
            }
        }
    }
    out
}

/// Runs mbsync and pimlink against one seeded server; returns (mbsync's, pimlink's) trees.
fn both_downloads() -> (Contents, Contents) {
    if Command::new("mbsync").arg("--version").output().is_err() {
        panic!("mbsync (Debian package isync) is needed for this test");
    }
    let server = DovecotBuilder::new().start().unwrap();
    seed(&server);
    let world = World::new("");
    let mbsync_root = world.dir.path().join("mbsync");
    fs::create_dir_all(&mbsync_root).unwrap();
    let rc = format!(
        "IMAPAccount test\nHost {}\nPort {}\nUser {}\nPass {}\nSSLType None\nAuthMechs LOGIN\n\n\
         IMAPStore remote\nAccount test\n\n\
         MaildirStore local\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n\
         Channel test\nFar :remote:\nNear :local:\nPatterns *\nCreate Near\nSync Pull\n\
         SyncState {state}/\n",
        server.host(),
        server.port(),
        server.user(),
        server.password(),
        root = mbsync_root.display(),
        state = world.dir.path().display(),
    );
    let rc_path = world.dir.path().join("mbsyncrc");
    fs::write(&rc_path, rc).unwrap();
    let out = Command::new("mbsync")
        .arg("-c")
        .arg(&rc_path)
        .arg("-a")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mbsync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n[storage.a]\ntype = \"imap\"\nhost = \"{}\"\n\
         port = {}\ntls = \"none\"\nuser = \"{}\"\npassword = \"{}\"\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\nlayout = \"verbatim\"\n\n\
         [pair.p]\na = \"a\"\nb = \"b\"\n",
        server.host(),
        server.port(),
        server.user(),
        server.password(),
        state = world.state_dir().display(),
        b = world.root("b").display(),
    );
    fs::write(world.config(), config).unwrap();
    world.sync_ok();
    let mut theirs = contents(&mbsync_root);
    for messages in theirs.values_mut() {
        for (_, bytes) in messages.values_mut() {
            *bytes = without_x_tuid(bytes);
        }
    }
    (theirs, contents(&world.root("b")))
}

/// `bytes` without mbsync's `X-TUID:` header line.
fn without_x_tuid(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let (header, body) = text.split_once("\n\n").unwrap();
    let header: Vec<&str> = header
        .split('\n')
        .filter(|line| !line.starts_with("X-TUID: "))
        .collect();
    assert!(text.contains("\nX-TUID: "), "mbsync adds X-TUID: {text:?}");
    format!("{}\n\n{body}", header.join("\n")).into_bytes()
}

/// CRLF line ends made LF.
fn lf(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes()
}

#[test]
fn pimlink_downloads_the_messages_flags_and_text_mbsync_downloads() {
    let (theirs, ours) = both_downloads();
    let normalise = |tree: &Contents| -> Contents {
        tree.iter()
            .map(|(folder, messages)| {
                let messages = messages
                    .iter()
                    .map(|(id, (flags, bytes))| (id.clone(), (flags.clone(), lf(bytes))))
                    .collect();
                (folder.clone(), messages)
            })
            .collect()
    };
    assert_eq!(theirs.len(), 2, "INBOX and Lists/rust: {:?}", theirs.keys());
    assert_eq!(theirs["INBOX"].len(), 6);
    assert_eq!(normalise(&ours), normalise(&theirs));
    // The comparison is not vacuous: the flags set on the server arrived.
    assert_eq!(ours["INBOX"]["m0"].0, "FS");
    assert_eq!(ours["INBOX"]["m1"].0, "R");
}

#[test]
fn pimlink_writes_the_same_bytes_as_mbsync() {
    let (theirs, ours) = both_downloads();
    assert_eq!(ours, theirs);
}
