//! Items as storages list and hand them over.

use std::fmt;
use std::fs::File;
use std::time::SystemTime;

use crate::mail::flags::Flags;

/// A storage's stable identity of an item inside one collection: the unique part of a Maildir
/// file name, an IMAP UID (as decimal text; the UIDVALIDITY lives with the collection), an href.
///
/// A key never changes while the item exists; flag changes do not change it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey(String);

impl ItemKey {
    /// Wraps a key. Storages are responsible for the key's form; the engine treats it as opaque.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// One message as a listing reports it: cheap to produce for every item of a collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemEntry {
    /// The item's identity.
    pub key: ItemKey,
    /// Its flags now.
    pub flags: Flags,
    /// Its size in bytes, if the listing knows it without reading the item.
    pub size: Option<u64>,
}

/// A message's bytes, as handed from one side to the other.
///
/// Large messages travel as an open file (a Maildir file, or a spool file the IMAP client
/// streamed a literal into) so that no side ever needs a whole big message in memory. An open
/// file handle also survives a mail reader renaming the file meanwhile.
#[derive(Debug)]
pub enum Content {
    /// Bytes in memory (small messages).
    Bytes(Vec<u8>),
    /// An open file positioned at its start.
    File(File),
}

/// A message read from a storage, ready to be delivered to the other side.
#[derive(Debug)]
pub struct ItemData {
    /// The raw RFC 5322 message.
    pub content: Content,
    /// When the message arrived (IMAP INTERNALDATE, Maildir mtime), kept across sides.
    pub internal_date: Option<SystemTime>,
}

/// What a storage needs to deliver a new message.
#[derive(Debug)]
pub struct NewItem<'a> {
    /// The message.
    pub data: ItemData,
    /// Its flags on the destination.
    pub flags: &'a Flags,
    /// A key the destination handed out earlier through
    /// [`MailStore::reserve_key`](crate::mail::store::MailStore::reserve_key); the item must be
    /// delivered under exactly this key so that an interrupted run can find it again.
    pub reserved_key: Option<ItemKey>,
}
