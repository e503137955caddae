//! The interface between the engine and a mail storage.

use crate::error::Result;
use crate::flags::Flags;
use crate::item::{ItemData, ItemEntry, ItemKey, NewItem};
use crate::name::CollectionName;

/// A collection as a storage lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionInfo {
    /// The name, with `/` between levels.
    pub name: CollectionName,
    /// False for a level that exists only as the parent of others (IMAP `\Noselect`, a Maildir
    /// directory without `cur/new/tmp`): it holds no items and is not synced itself.
    pub selectable: bool,
}

/// A storage of mail collections: a Maildir tree, an IMAP account.
///
/// Every method that changes something must leave the storage consistent if the process dies
/// at any point; durability may be deferred until [`MailStore::flush`], which the engine calls
/// before it records any of those changes in the status. Methods take `&mut self` because a
/// storage may hold one connection whose state (the selected folder) they change.
#[allow(async_fn_in_trait)] // The engine drives one storage per task; no Send bound is needed.
pub trait MailStore {
    /// A short human description for messages, e.g. `maildir ~/Mail` or `imap user@host`.
    fn describe(&self) -> String;

    /// Every collection, including non-selectable parents.
    async fn list_collections(&mut self) -> Result<Vec<CollectionInfo>>;

    /// Creates a collection (and any missing parents). Creating one that exists is not an error.
    async fn create_collection(&mut self, name: &CollectionName) -> Result<()>;

    /// Every item of a collection with its flags.
    async fn list_items(&mut self, collection: &CollectionName) -> Result<Vec<ItemEntry>>;

    /// Hands out a fresh key that [`MailStore::deliver`] will use if it is passed back, or `None`
    /// if the storage chooses keys itself on delivery (IMAP UIDs). The engine records a reserved
    /// key in the status before delivering, so that a run interrupted after the delivery finds
    /// the item instead of delivering it twice.
    fn reserve_key(&mut self) -> Option<ItemKey>;

    /// Reads one item. [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if it is gone.
    async fn read(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<ItemData>;

    /// Reads many items at once, one result per key in order. Storages with per-request latency
    /// (IMAP) override this to fetch the whole batch in one pipelined command; the default reads
    /// one by one. Each item is returned as soon as it is complete, so that a large batch never
    /// has to sit in memory (big bodies arrive as spooled files).
    async fn read_many(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<ItemData>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.read(collection, key).await);
        }
        out
    }

    /// Delivers a new item and returns its key.
    async fn deliver(&mut self, collection: &CollectionName, item: NewItem<'_>) -> Result<ItemKey>;

    /// Replaces an item's flags. [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if it is
    /// gone.
    async fn set_flags(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
        flags: &Flags,
    ) -> Result<()>;

    /// Removes an item. An item that is already gone is not an error.
    async fn delete(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<()>;

    /// Makes every change made so far durable (fsync of files and directories, or the server's
    /// acknowledgement). Only after this returns may the engine record those changes.
    async fn flush(&mut self) -> Result<()>;
}
