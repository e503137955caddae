//! A run asked to stop (the daemon's SIGTERM, `Observer::stop_requested`) ends at a safe point:
//! the copies stop between batches, what was copied is recorded, and the next run copies the
//! rest, exactly once (issue 14). Maildir to Maildir, in process.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use pimlink_core::mail::exec::{Pair, RunOptions};
use pimlink_core::mail::plan::{CollectionPlan, ItemAction};
use pimlink_core::mail::{Mail, MailStore};
use pimlink_core::policy::SyncPolicy;
use pimlink_core::run::Observer;
use pimlink_core::status::StatusStore;
use pimlink_core::{CollectionName, Content, Flags, ItemData, Known, NewItem, PerSide};
use pimlink_maildir::{Layout, Maildir};

/// More than one copy batch (256 messages).
const MESSAGES: usize = 300;

/// Counts the actions done and asks to stop once `stop_after` were.
struct StopAfter {
    stop_after: Option<usize>,
    done: usize,
}

impl Observer<Mail> for StopAfter {
    fn action_done(&mut self, _: &CollectionPlan, _: &ItemAction) {
        self.done += 1;
    }
    fn stop_requested(&self) -> bool {
        self.stop_after.is_some_and(|n| self.done >= n)
    }
}

fn inbox() -> CollectionName {
    CollectionName::new("INBOX").unwrap()
}

/// The bodies of a side's INBOX, counted.
async fn bodies(store: &mut Maildir) -> BTreeMap<Vec<u8>, usize> {
    let listing = store.list_items(&inbox(), Known::default()).await.unwrap();
    let mut bodies = BTreeMap::new();
    for item in listing.items {
        let data = store.read(&inbox(), &item.key).await.unwrap();
        let bytes = match data.content {
            Content::Bytes(bytes) => bytes,
            Content::File(mut file) => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
                bytes
            }
        };
        *bodies.entry(bytes).or_insert(0) += 1;
    }
    bodies
}

async fn sync(
    stores: &mut PerSide<Maildir>,
    status: &mut StatusStore,
    stop_after: Option<usize>,
) -> usize {
    let mut observer = StopAfter {
        stop_after,
        done: 0,
    };
    Pair {
        a: &mut stores.a,
        b: &mut stores.b,
        status,
        policy: SyncPolicy::both_ways(),
    }
    .sync(|_| true, RunOptions::default(), &mut observer)
    .await
    .unwrap();
    observer.done
}

async fn scenario(dir: &Path) {
    let mut stores = PerSide {
        a: Maildir::open(dir.join("a"), Layout::Verbatim).unwrap(),
        b: Maildir::open(dir.join("b"), Layout::Verbatim).unwrap(),
    };
    let mut status = StatusStore::open(&dir.join("state"), "pair").unwrap();
    stores.a.create_collection(&inbox()).await.unwrap();
    stores.b.create_collection(&inbox()).await.unwrap();
    for n in 0..MESSAGES {
        let content = format!("From: a@example.org\r\nSubject: {n}\r\n\r\nbody {n}\r\n");
        let item = NewItem {
            data: ItemData {
                content: Content::Bytes(content.into_bytes()),
                internal_date: None,
            },
            flags: &Flags::new(),
            reserved_key: None,
        };
        stores.a.deliver(&inbox(), item).await.unwrap();
    }
    stores.a.flush().await.unwrap();
    let all = bodies(&mut stores.a).await;

    // Asked to stop at the first copy: the batch under way ends, no other starts.
    sync(&mut stores, &mut status, Some(1)).await;
    let copied: usize = bodies(&mut stores.b).await.values().sum();
    assert!(
        copied > 0 && copied < MESSAGES,
        "the stop came between batches: {copied} of {MESSAGES} copied"
    );

    // The next run copies the rest, each message once; the one after has nothing to do.
    sync(&mut stores, &mut status, None).await;
    assert_eq!(
        bodies(&mut stores.b).await,
        all,
        "B holds A's messages once each"
    );
    assert_eq!(bodies(&mut stores.a).await, all, "nothing came back to A");
    assert_eq!(sync(&mut stores, &mut status, None).await, 0);
}

#[test]
fn a_stopped_run_records_what_it_copied_and_the_next_run_copies_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(dir.path()));
}
