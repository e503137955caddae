//! A full disk stops a run's copies to that side: once a side reported a full disk, the
//! remaining copies to it (in that folder and in later ones) are neither read from the other
//! side nor tried, and each is still reported as failed for that reason, so that the report
//! counts them and groups them by their cause.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pimlink_core::CollectionInfo;
use pimlink_core::mail::exec::{Pair, RunOptions};
use pimlink_core::policy::SyncPolicy;
use pimlink_core::status::StatusStore;
use pimlink_core::{
    CollectionName, Content, Error, Flags, ItemData, ItemKey, Known, Listing, MailStore, NewItem,
    Result,
};
use pimlink_maildir::{Layout, Maildir};

/// A Maildir that counts the messages read from it and the deliveries tried on it, and whose
/// disk is full after `room` deliveries.
struct Counted {
    inner: Maildir,
    room: usize,
    reads: usize,
    tried: usize,
}

impl MailStore for Counted {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn list_collections(&mut self) -> Result<Vec<CollectionInfo>> {
        self.inner.list_collections().await
    }
    async fn create_collection(&mut self, name: &CollectionName) -> Result<()> {
        self.inner.create_collection(name).await
    }
    async fn list_items(
        &mut self,
        collection: &CollectionName,
        known: Known<'_>,
    ) -> Result<Listing> {
        self.inner.list_items(collection, known).await
    }
    fn reserve_key(&mut self) -> Option<ItemKey> {
        self.inner.reserve_key()
    }
    async fn read(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<ItemData> {
        self.reads += 1;
        self.inner.read(collection, key).await
    }
    async fn deliver(&mut self, collection: &CollectionName, item: NewItem<'_>) -> Result<ItemKey> {
        self.tried += 1;
        if self.room == 0 {
            return Err(Error::io(
                format!("writing into {collection}"),
                std::io::Error::from(std::io::ErrorKind::StorageFull),
            ));
        }
        self.room -= 1;
        self.inner.deliver(collection, item).await
    }
    async fn set_flags(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
        flags: &Flags,
    ) -> Result<()> {
        self.inner.set_flags(collection, key, flags).await
    }
    async fn delete(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<()> {
        self.inner.delete(collection, key).await
    }
    async fn flush(&mut self) -> Result<()> {
        self.inner.flush().await
    }
}

fn name(text: &str) -> CollectionName {
    CollectionName::new(text).unwrap()
}

#[tokio::test]
async fn copies_to_a_side_stop_once_it_reported_a_full_disk() {
    let dir = tempfile::tempdir().unwrap();
    let open = |side: &str, room| Counted {
        inner: Maildir::open(dir.path().join(side), Layout::Verbatim).unwrap(),
        room,
        reads: 0,
        tried: 0,
    };
    let (mut a, mut b) = (open("a", usize::MAX), open("b", 10));
    // 300 messages per folder: more than one batch of copies (256).
    for folder in ["INBOX", "Work"] {
        a.create_collection(&name(folder)).await.unwrap();
        for i in 0..300 {
            let item = NewItem {
                data: ItemData {
                    content: Content::Bytes(
                        format!("Subject: {folder} {i}\r\n\r\nbody {i}\r\n").into_bytes(),
                    ),
                    internal_date: None,
                },
                flags: &Flags::new(),
                reserved_key: None,
            };
            a.inner.deliver(&name(folder), item).await.unwrap();
        }
        a.flush().await.unwrap();
    }
    let mut status = StatusStore::open(&dir.path().join("state"), "pair").unwrap();
    let report = Pair {
        a: &mut a,
        b: &mut b,
        status: &mut status,
        policy: SyncPolicy::both_ways(),
    }
    .sync(|_| true, RunOptions::default(), &mut ())
    .await
    .unwrap();

    // The first batch of INBOX (at most 256 messages, fewer by their size) was read and
    // tried, B's disk filling up in it; nothing after.
    assert!(
        (11..=256).contains(&a.reads),
        "{} messages read from A",
        a.reads
    );
    assert_eq!(b.tried, a.reads, "deliveries tried on B");
    let copied: Vec<usize> = report.collections.iter().map(|c| c.done.copies.a).collect();
    assert_eq!(copied, [10, 0]);
    // Every copy not made is reported, with the full disk as its cause.
    let failed: Vec<usize> = report.collections.iter().map(|c| c.errors.len()).collect();
    assert_eq!(failed, [290, 300]);
    for error in report.collections.iter().flat_map(|c| &c.errors) {
        assert!(error.is_disk_full(), "{error}");
    }
    let skipped = &report.collections[1].errors[0].to_string();
    assert!(
        skipped.contains("not tried: side b reported a full disk earlier in this run"),
        "{skipped}"
    );
}
