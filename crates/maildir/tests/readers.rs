//! Listing a folder while a mail reader renames its files: a message that exists throughout a
//! listing is always in it (a missing one would be deleted on the other side of a pair).

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pimlink_core::{CollectionName, MailStore};
use pimlink_maildir::{Layout, Maildir};

const MESSAGES: usize = 400;

/// Where a reader keeps moving message `key`: new/ -> cur/ (seen) -> cur/ (flagged) ->
/// cur/ (unflagged) -> new/ again (mutt puts a message marked new back into new/).
fn name_in_state(key: &str, state: usize) -> PathBuf {
    match state % 4 {
        0 => PathBuf::from(format!("new/{key}")),
        1 => PathBuf::from(format!("cur/{key}:2,S")),
        2 => PathBuf::from(format!("cur/{key}:2,FS")),
        _ => PathBuf::from(format!("cur/{key}:2,")),
    }
}

fn key(i: usize) -> String {
    format!("1700000000.M{i}P1Q{i}.reader")
}

/// What the reader has done so far.
#[derive(Default)]
struct Done {
    renames: AtomicUsize,
    /// Messages about to be deleted, highest index first: counted before the file goes, so
    /// that a listing never expects one that may already be gone.
    doomed: AtomicUsize,
    /// Messages deleted, highest index first: counted after the file went, so that a listing
    /// never forbids one that may still be there.
    deletions: AtomicUsize,
}

/// A mail reader at work until told to stop: renames message after message and deletes one
/// every 50 renames (at most half of them).
fn reader(dir: PathBuf, stop: Arc<AtomicBool>, done: Arc<Done>) {
    let mut states = vec![0usize; MESSAGES];
    let mut i = 0;
    let mut alive = MESSAGES;
    while !stop.load(Ordering::Relaxed) {
        if i < alive {
            let name = key(i);
            let from = dir.join(name_in_state(&name, states[i]));
            fs::rename(from, dir.join(name_in_state(&name, states[i] + 1))).unwrap();
            states[i] += 1;
            let renames = done.renames.fetch_add(1, Ordering::SeqCst) + 1;
            if renames.is_multiple_of(50) && alive > MESSAGES / 2 {
                alive -= 1;
                done.doomed.fetch_add(1, Ordering::SeqCst);
                fs::remove_file(dir.join(name_in_state(&key(alive), states[alive]))).unwrap();
                done.deletions.fetch_add(1, Ordering::SeqCst);
            }
        }
        // Not in order, so that every part of the directories changes.
        i = (i + 97) % MESSAGES;
    }
}

fn setup(root: &Path) -> (Maildir, CollectionName, PathBuf) {
    let mut store = Maildir::open(root, Layout::Verbatim).unwrap();
    let inbox = CollectionName::new("INBOX").unwrap();
    runtime().block_on(store.create_collection(&inbox)).unwrap();
    let dir = root.join("INBOX");
    for i in 0..MESSAGES {
        fs::write(
            dir.join(name_in_state(&key(i), 0)),
            format!("message {i}\n"),
        )
        .unwrap();
    }
    (store, inbox, dir)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Each listing made while the reader works holds every message that existed throughout it,
/// none deleted before it began, and nothing twice.
#[test]
fn a_listing_has_every_message_a_reader_renames_and_none_it_deleted_before() {
    let root = tempfile::tempdir().unwrap();
    let (mut store, inbox, dir) = setup(root.path());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(Done::default());
    let worker = {
        let (stop, done) = (stop.clone(), done.clone());
        std::thread::spawn(move || reader(dir, stop, done))
    };
    let rt = runtime();
    let mut listings = 0;
    let mut wrong = Vec::new();
    // Enough listings, and enough renames among them, however fast either side runs.
    while listings < 100 || done.renames.load(Ordering::SeqCst) < 20 * MESSAGES {
        let deleted_before = done.deletions.load(Ordering::SeqCst);
        let listing = rt
            .block_on(store.list_items(&inbox, Default::default()))
            .unwrap();
        let doomed_after = done.doomed.load(Ordering::SeqCst);
        let keys: std::collections::BTreeSet<&str> =
            listing.items.iter().map(|e| e.key.as_str()).collect();
        let missing: Vec<usize> = (0..MESSAGES - doomed_after)
            .filter(|&i| !keys.contains(key(i).as_str()))
            .collect();
        let resurrected: Vec<usize> = (MESSAGES - deleted_before..MESSAGES)
            .filter(|&i| keys.contains(key(i).as_str()))
            .collect();
        if !missing.is_empty() || !resurrected.is_empty() || keys.len() != listing.items.len() {
            wrong.push(format!(
                "listing {listing}: missing {missing:?}, deleted but listed {resurrected:?}",
                listing = listings
            ));
        }
        listings += 1;
        assert!(listings < 1_000_000, "the reader made no progress");
    }
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
    assert!(
        wrong.is_empty(),
        "{} of {listings} listings were wrong ({} renames, {} deletions):\n{}",
        wrong.len(),
        done.renames.load(Ordering::SeqCst),
        done.deletions.load(Ordering::SeqCst),
        wrong.join("\n")
    );
    // What the reader deleted is gone for good.
    let listing = rt
        .block_on(store.list_items(&inbox, Default::default()))
        .unwrap();
    assert_eq!(
        listing.items.len(),
        MESSAGES - done.deletions.load(Ordering::SeqCst)
    );
}
