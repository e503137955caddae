//! Adopting mbsync's tree and state (issue 16): real mbsync (Debian's isync 1.4) syncs a
//! Dovecot account into a Maildir tree, then pimlink takes over.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::World;
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// mbsync's configuration for `server` and the Maildir `root`; `near` adds lines to the
/// MaildirStore (Flatten, Inbox).
fn mbsyncrc(server: &Dovecot, root: &Path, near: &str, sync_state: &str) -> String {
    format!(
        "IMAPAccount test\nHost {}\nPort {}\nUser {}\nPass {}\nSSLType None\nAuthMechs LOGIN\n\n\
         IMAPStore remote\nAccount test\n\n\
         MaildirStore local\nPath {root}/\nSubFolders Verbatim\n{near}\n\n\
         Channel test\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n\
         SyncState {sync_state}\n",
        server.host(),
        server.port(),
        server.user(),
        server.password(),
        root = root.display(),
    )
}

fn run_mbsync(rc: &Path) -> String {
    let out = Command::new("mbsync")
        .arg("-c")
        .arg(rc)
        .arg("-a")
        .output()
        .expect("mbsync (Debian package isync) is needed for this test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mbsync failed: {text}");
    text
}

fn list(dir: &Path, depth: usize, out: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        out.push(format!(
            "{}{}",
            "  ".repeat(depth),
            path.file_name().unwrap().to_string_lossy()
        ));
        if path.is_dir() {
            list(&path, depth + 1, out);
        } else if path.file_name().unwrap().to_string_lossy().starts_with(".") {
            out.push(fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

#[test]
#[ignore]
fn experiment() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user();
    for (folder, id) in [
        ("INBOX", "i1"),
        ("INBOX", "i2"),
        ("Entwürfe", "d1"),
        ("Archive.2024", "a1"),
        ("INBOX.Sub", "s1"),
    ] {
        server
            .deliver(user, folder, &common::imap::message(id))
            .unwrap();
    }
    let world = World::new("");
    let root = world.dir.path().join("mbsync");
    fs::create_dir_all(&root).unwrap();
    let rc = world.dir.path().join("mbsyncrc");
    let near = format!("Inbox {}/inbox\nFlatten .", world.dir.path().display());
    fs::write(&rc, mbsyncrc(&server, &root, &near, "*")).unwrap();
    println!("{}", run_mbsync(&rc));
    let mut out = Vec::new();
    list(world.dir.path(), 0, &mut out);
    println!("{}", out.join("\n"));
}
