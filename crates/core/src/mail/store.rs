//! The interface between the engine and a mail storage.

use crate::error::Result;
use crate::mail::fingerprint::Fingerprint;
use crate::mail::flags::Flags;
use crate::mail::item::Content;
use crate::mail::item::{ItemData, ItemEntry, ItemKey, NewItem};
use crate::mail::keywords::KeywordSupport;
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

/// What the status remembers of one side of a collection, handed to
/// [`MailStore::list_items`] so that a storage able to list incrementally (IMAP with
/// CONDSTORE/QRESYNC) need not fetch every item's flags again.
#[derive(Clone, Copy, Debug, Default)]
pub struct Known<'a> {
    /// The state the storage returned with its last complete listing, if any.
    pub state: Option<&'a str>,
    /// The items the status pairs on this side, with the flags both sides last agreed on.
    pub items: &'a [(ItemKey, Flags)],
}

/// What a storage can tell cheaply, without listing a collection, that changes whenever its
/// items do (see `plan::unchanged`): IMAP counters from LIST-STATUS, Maildir directory times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeStamp {
    /// Equal tokens mean the items are as they were (given `newest` was settled).
    pub token: String,
    /// For a stamp made of file times, the newest of them: a change within the same clock tick
    /// would not show, so the engine trusts the stamp only once that time is clearly past.
    /// `None` for exact counters.
    pub newest: Option<std::time::SystemTime>,
    /// True if `newest` is a time this machine's kernel gave a local file system that keeps
    /// nanoseconds (see [`crate::clock`]): a later change then gets a time no earlier than the
    /// coarse real-time clock read before it, so the stamp needs no margin. The token must
    /// differ between stamps that differ here, since the status keeps only the token and times.
    pub local_times: bool,
}

/// A collection's items as a storage lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Every item, with its flags now.
    pub items: Vec<ItemEntry>,
    /// State to remember for the next listing (IMAP: UIDVALIDITY, HIGHESTMODSEQ, UIDNEXT).
    /// The engine stores it only after a run that applied every change of the collection.
    pub state: Option<String>,
    /// True if the keys the status knows are void: the storage renumbered its items (a new IMAP
    /// UIDVALIDITY). The engine then recognises the items again by content.
    pub keys_reset: bool,
    /// Which keywords the side can store in this collection.
    pub keywords: KeywordSupport,
}

impl Listing {
    /// A complete listing with no state, as local storages give.
    pub fn complete(items: Vec<ItemEntry>) -> Self {
        Self {
            items,
            state: None,
            keys_reset: false,
            keywords: KeywordSupport::Any,
        }
    }
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

    /// How many handles on this storage may work at the same time, this one included (the
    /// `connections` of an IMAP account), or `None` for a storage that sets no limit (a local
    /// one). The engine syncs that many collections at once, the smaller of the two sides'
    /// limits, each on handles of its own from [`MailStore::another_handle`]; with no limit on
    /// either side it syncs one after another, since local work gains nothing from interleaving.
    fn concurrency(&self) -> Option<usize> {
        Some(1)
    }

    /// Another handle on the same storage, with a connection of its own (opened on first use,
    /// reconnecting and retrying as this one does), for syncing other collections at the same
    /// time. The engine asks for it after [`MailStore::list_collections`], so the handle may
    /// start from what this one learnt of the collections. It lists, changes and flushes each
    /// collection given to it on its own; only the engine's search for moved messages later
    /// works on those collections through the first handle.
    fn another_handle(&self) -> Result<Self>
    where
        Self: Sized,
    {
        Err(crate::Error::new(
            crate::ErrorKind::Unsupported,
            format!("{} has a single connection", self.describe()),
        ))
    }

    /// Every collection, including non-selectable parents.
    async fn list_collections(&mut self) -> Result<Vec<CollectionInfo>>;

    /// True if the last [`MailStore::list_collections`] had to leave out collections it could
    /// not read (an IMAP folder list with a line that cannot be parsed). A collection missing
    /// from such a listing may still exist: the engine neither removes it on the other side
    /// nor creates it again.
    fn collections_incomplete(&self) -> bool {
        false
    }

    /// Creates a collection (and any missing parents). Creating one that exists is not an error.
    async fn create_collection(&mut self, name: &CollectionName) -> Result<()>;

    /// Removes an empty collection (`remove` in a pair: it was deleted on the other side and
    /// the engine already deleted every message it held here). Must fail, removing nothing,
    /// if the collection still holds messages: something arrived since the engine looked.
    /// Sub-collections are kept. A collection that is already gone is not an error.
    async fn delete_collection(&mut self, name: &CollectionName) -> Result<()> {
        Err(crate::Error::new(
            crate::ErrorKind::Unsupported,
            format!("{} cannot remove folder {name}", self.describe()),
        ))
    }

    /// A stamp of the collection as it is now, got without listing it, or `None` if the
    /// storage cannot tell cheaply (the default). Asked before the collection is listed; must
    /// change with every delivery, removal and flag change.
    async fn change_stamp(&mut self, collection: &CollectionName) -> Result<Option<ChangeStamp>> {
        let _ = collection;
        Ok(None)
    }

    /// A stamp of the collection as it is now, after this run's own changes, with the moment of
    /// the coarse real-time clock (see [`crate::clock`]) after which any change shows in it;
    /// `None` (the default) unless the storage can show that the collection holds exactly
    /// what it listed plus what this handle changed since. Asked after a run carried out every
    /// change of the collection, so that the next run can skip it (see `plan::unchanged`).
    async fn stamp_after_own_changes(
        &mut self,
        collection: &CollectionName,
    ) -> Result<Option<(ChangeStamp, std::time::SystemTime)>> {
        let _ = collection;
        Ok(None)
    }

    /// Every item of a collection with its flags. `known` may let the storage list only what
    /// changed since its last listing; the result must still be complete.
    async fn list_items(
        &mut self,
        collection: &CollectionName,
        known: Known<'_>,
    ) -> Result<Listing>;

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

    /// The content fingerprints of some items, one result per key in order (`Ok(None)` for an
    /// item without identifying headers). Storages that can fetch just the headers override
    /// this; the default reads each item's beginning.
    async fn fingerprints(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<Fingerprint>>> {
        let mut out = Vec::with_capacity(keys.len());
        for data in self.read_many(collection, keys).await {
            out.push(data.and_then(|data| {
                let read = match data.content {
                    Content::Bytes(bytes) => Fingerprint::of_message(&bytes[..]),
                    Content::File(file) => Fingerprint::of_message(file),
                };
                read.map_err(|e| crate::Error::io("reading a message's header", e))
            }));
        }
        out
    }

    /// When each of some items arrived (IMAP INTERNALDATE, Maildir mtime), one result per key in
    /// order (`Ok(None)` if the storage does not know). Only pairs with `max_messages` or
    /// `max_age` ask. Storages that can fetch just the dates override this; the default opens
    /// each item.
    async fn dates(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<std::time::SystemTime>>> {
        self.read_many(collection, keys)
            .await
            .into_iter()
            .map(|data| data.map(|data| data.internal_date))
            .collect()
    }

    /// The sizes of some items in bytes, one result per key in order, for `max_size` where the
    /// listing did not tell (a Maildir file without `S=` in its name). The default opens each
    /// item; a file is not read.
    async fn sizes(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<u64>>> {
        self.read_many(collection, keys)
            .await
            .into_iter()
            .map(|data| {
                data.and_then(|data| match data.content {
                    Content::Bytes(bytes) => Ok(Some(bytes.len() as u64)),
                    Content::File(file) => file
                        .metadata()
                        .map(|meta| Some(meta.len()))
                        .map_err(|e| crate::Error::io("reading a message's size", e)),
                })
            })
            .collect()
    }

    /// Told, right after the engine planned `collection`, which of its items the engine is
    /// going to read for copies (with the sizes the listing gave). A storage whose reads cost
    /// a round trip and a selection of the collection (IMAP) may read them now, while the
    /// collection is still selected, and hand them out when [`MailStore::read_many`] asks;
    /// the engine plans every collection before it copies anything. A read ahead that fails,
    /// or is never asked for (the copy became a move), costs only itself. The default does
    /// nothing.
    async fn read_ahead(&mut self, collection: &CollectionName, items: &[(ItemKey, Option<u64>)]) {
        let _ = (collection, items);
    }

    /// Delivers a new item and returns its key.
    async fn deliver(&mut self, collection: &CollectionName, item: NewItem<'_>) -> Result<ItemKey>;

    /// Delivers several new items to one collection, one result per item in order. Storages
    /// with per-request latency (IMAP) override this to send the whole batch before waiting for
    /// any answer; the default delivers one by one.
    async fn deliver_many(
        &mut self,
        collection: &CollectionName,
        items: Vec<NewItem<'_>>,
    ) -> Vec<Result<ItemKey>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.deliver(collection, item).await);
        }
        out
    }

    /// Waits until the storage has finished storing what an interrupted earlier run may still
    /// have had in flight to `collection` (a server working through the commands of a
    /// connection that died), so that a listing made next shows all of it. The engine calls it
    /// before it lists a collection holding copies of such a run that are not confirmed yet.
    /// The default has nothing to wait for.
    async fn settle(&mut self, _collection: &CollectionName) -> Result<()> {
        Ok(())
    }

    /// Replaces an item's flags. [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if it is
    /// gone.
    async fn set_flags(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
        flags: &Flags,
    ) -> Result<()>;

    /// True if [`MailStore::move_item`] can move items between collections of this storage.
    fn can_move(&self) -> bool {
        false
    }

    /// Moves an item to another collection of this storage and returns its key there (IMAP
    /// `UID MOVE`, a rename between Maildir folders). Only called when
    /// [`MailStore::can_move`] is true; the engine uses it when a message was moved on the
    /// other side, instead of deleting it here and copying it back.
    async fn move_item(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
    ) -> Result<ItemKey> {
        let _ = (from, key, to);
        Err(crate::Error::new(
            crate::ErrorKind::Unsupported,
            format!("{} cannot move messages between folders", self.describe()),
        ))
    }

    /// [`MailStore::move_item`], giving the moved item `flags`: in one step where the storage
    /// can (a Maildir rename), so that an interruption never leaves the item moved with its
    /// old flags (a message moved into the trash still marked \Deleted would be lost by the
    /// next expunge of the trash, which no sync looks at).
    async fn move_item_with_flags(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
        flags: &Flags,
    ) -> Result<ItemKey> {
        let moved = self.move_item(from, key, to).await?;
        self.set_flags(to, &moved, flags).await?;
        Ok(moved)
    }

    /// False if [`MailStore::delete`] is known to fail here (an IMAP server without UIDPLUS),
    /// so that the engine does not copy a message into a trash folder it then cannot remove
    /// from its folder (every run would add another copy).
    fn can_delete(&self) -> bool {
        true
    }

    /// Removes an item. An item that is already gone is not an error.
    async fn delete(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<()>;

    /// Makes every change made so far durable (fsync of files and directories, or the server's
    /// acknowledgement). Only after this returns may the engine record those changes.
    async fn flush(&mut self) -> Result<()>;

    /// Ends the session at the end of a run (IMAP: LOGOUT), so that a server sees a clean end
    /// instead of a dropped connection. Nothing depends on it: failures are ignored.
    async fn close(&mut self) {}
}
