//! End-to-end: a mail reader renames Maildir files (marks mail read, flags it, marks it new
//! again) while pimlink syncs the Maildir with a private Dovecot. No run may take a renamed
//! message for a deleted one: that would delete it on the server (into its trash) and upload it
//! again under a new UID on the next run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{dovecot_options, folder_messages, message, write_imap_maildir_config};
use common::{Run, World, block_on};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pimlink_imap::Client;
use pimlink_testkit::{Dovecot, DovecotBuilder};

const MESSAGES: usize = 300;
const RUNS: usize = 30;
/// The messages the reader deletes, one in each of the first runs.
const DELETED: [&str; 4] = ["m0", "m1", "m2", "m3"];

/// Message-ID -> UIDs of every message in `folder` on the server (empty if there is none).
fn server_uids(server: &Dovecot, folder: &str) -> BTreeMap<String, Vec<u32>> {
    block_on(async {
        let options = dovecot_options(server, server.user(), server.password());
        let mut client = Client::connect(options).await.unwrap();
        let mut out = BTreeMap::new();
        if client.select(folder, Default::default()).await.is_ok() {
            for (id, copies) in folder_messages(&mut client).await {
                out.insert(id, copies.into_iter().map(|(uid, _)| uid).collect());
            }
        }
        client.logout().await.unwrap();
        out
    })
}

/// The file of every message in the maildir `dir`, by Message-ID (read from the file).
fn files_by_id(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for sub in ["new", "cur"] {
        for entry in fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            // The sync may rename it meanwhile; it is found again on the next refresh.
            if let Ok(text) = fs::read_to_string(&path)
                && let Some(id) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Message-ID: <"))
                    .and_then(|rest| rest.split_once('@'))
            {
                out.insert(id.0.to_owned(), path);
            }
        }
    }
    out
}

/// The next name a mail reader gives the file at `path`: new/ -> cur/ seen -> cur/ seen and
/// flagged -> cur/ no flags -> new/ (mutt moves a message marked new back to new/).
fn next_name(dir: &Path, path: &Path) -> PathBuf {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let (key, info) = name.split_once(":2,").unwrap_or((&name, ""));
    let in_new = path.parent().is_some_and(|p| p.ends_with("new"));
    let next = match (in_new, info) {
        (true, _) => format!("cur/{key}:2,S"),
        (false, "S") => format!("cur/{key}:2,FS"),
        (false, "FS") => format!("cur/{key}:2,"),
        (false, _) => format!("new/{key}"),
    };
    dir.join(next)
}

/// A mail reader at work in the maildir `dir` until `stop`: renames one message after another,
/// and first deletes `delete` (if any). Counts its renames in `renames`.
fn reader(dir: PathBuf, delete: Option<&str>, stop: Arc<AtomicBool>, renames: Arc<AtomicUsize>) {
    let mut files = files_by_id(&dir);
    if let Some(id) = delete {
        fs::remove_file(files.remove(id).unwrap()).unwrap();
    }
    let ids: Vec<String> = files.keys().cloned().collect();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let id = &ids[i % ids.len()];
        i += 37;
        let Some(path) = files.get(id).cloned() else {
            continue;
        };
        let next = next_name(&dir, &path);
        match fs::rename(&path, &next) {
            Ok(()) => {
                files.insert(id.clone(), next);
                renames.fetch_add(1, Ordering::SeqCst);
            }
            // pimlink renamed it (a flag change from the server): look again.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                files = files_by_id(&dir);
            }
            Err(err) => panic!("renaming {}: {err}", path.display()),
        }
    }
}

/// Runs `pimlink sync` while a reader works in the INBOX all along: the reader has renamed
/// a file before the sync starts and goes on until the sync has exited.
fn sync_while_reading(world: &World, delete: Option<&'static str>) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let renames = Arc::new(AtomicUsize::new(0));
    let worker = {
        let dir = world.root("b").join("INBOX");
        let (stop, renames) = (stop.clone(), renames.clone());
        std::thread::spawn(move || reader(dir, delete, stop, renames))
    };
    while renames.load(Ordering::SeqCst) == 0 {
        assert!(!worker.is_finished(), "the reader stopped");
        std::thread::yield_now();
    }
    let run = Run(world
        .pimlink(&["-q", "sync"])
        .stdin(Stdio::null())
        .output()
        .unwrap());
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
    run
}

#[test]
fn a_mail_reader_renaming_files_during_syncs_never_deletes_on_the_server() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..MESSAGES {
        server
            .deliver(&user, "INBOX", &message(&format!("m{i}")))
            .unwrap();
    }
    let world = World::new("");
    write_imap_maildir_config(&world, &server, "trash = \"Trash\"", "", "");
    world.sync_ok();
    let before = server_uids(&server, "INBOX");
    assert_eq!(before.len(), MESSAGES);

    for run in 0..RUNS {
        let result = sync_while_reading(&world, DELETED.get(run).copied());
        assert_eq!(result.code(), 0, "run {run}: {result}");
    }
    // Quiet runs: the last changes settle.
    world.sync_ok();
    world.sync_ok();

    // Every message the reader kept is on the server under the UID it had: never deleted and
    // uploaded again. The trash holds exactly what the reader deleted.
    let mut expected = before.clone();
    for id in DELETED {
        expected.remove(id);
    }
    assert_eq!(server_uids(&server, "INBOX"), expected);
    let trash: Vec<String> = server_uids(&server, "Trash").into_keys().collect();
    assert_eq!(trash, DELETED.map(String::from).to_vec());
    let local = world.messages("b");
    assert_eq!(local["INBOX"].len(), MESSAGES - DELETED.len());
    assert!(local["INBOX"].values().all(|copies| copies.len() == 1));
}
