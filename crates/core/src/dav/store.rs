//! The interface between the engine and a calendar or contacts storage (CalDAV, CardDAV,
//! webcal, vdir), plus the iCalendar/vCard helpers the engine and every such storage share
//! ([`vobject`](super::vobject)).
//!
//! The shape follows vdirsyncer/pimsync: a storage holds collections of one
//! [`CollectionKind`]; an item is addressed by an opaque [`Href`] and versioned by an opaque
//! [`Etag`] that changes whenever the item does; every write is conditional on the etag the
//! engine last saw. The methods are shaped for speed over a network:
//! - [`ItemStore::list_items`] returns only hrefs and etags (one PROPFIND or one `readdir`);
//! - [`Collection::state`] (a server's `getctag`, read with the collection listing) lets the
//!   engine skip a collection unchanged since the last clean sync without asking it anything;
//! - [`ItemStore::changes_since`] asks "what changed since this token" (RFC 6578), so a
//!   collection that did change costs one question plus what changed;
//! - [`ItemStore::get_many`] fetches many items in one request (calendar-multiget);
//! - methods take `&self`, so the engine may run several requests on one storage at once
//!   (HTTP keep-alive with several requests in flight).

use std::fmt;

use crate::error::{Error, ErrorKind, Result};

/// What a collection holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CollectionKind {
    /// Events, tasks, journals: iCalendar (`.ics`, CalDAV, webcal).
    Calendar,
    /// Contacts: vCard (`.vcf`, CardDAV).
    AddressBook,
}

impl CollectionKind {
    /// The customary file extension of one item, with its dot: `.ics` or `.vcf`.
    pub fn file_extension(self) -> &'static str {
        match self {
            Self::Calendar => ".ics",
            Self::AddressBook => ".vcf",
        }
    }

    /// The MIME type of one item, as sent in `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Calendar => "text/calendar; charset=utf-8",
            Self::AddressBook => "text/vcard; charset=utf-8",
        }
    }
}

/// A collection's identity inside its storage, stable across runs and comparable across the
/// two sides of a pair: the directory name of a vdir collection, the last path segment of a DAV
/// collection URL (as vdirsyncer names collections).
///
/// Invariants (checked by [`CollectionId::new`]): not empty, no `/` or `\`, not `.` or `..`, no
/// control characters, at most 255 bytes; so an id is always one safe path segment.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionId(String);

impl CollectionId {
    /// Checks `id` and wraps it.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let why = if id.is_empty() {
            Some("it is empty")
        } else if id == "." || id == ".." {
            Some("it is '.' or '..'")
        } else if id.contains(['/', '\\']) {
            Some("it contains '/' or '\\'")
        } else if id.chars().any(char::is_control) {
            Some("it contains a control character")
        } else if id.len() > 255 {
            Some("it is longer than 255 bytes")
        } else {
            None
        };
        match why {
            Some(why) => Err(Error::new(
                ErrorKind::InvalidName,
                format!("invalid collection id {id:?}: {why}"),
            )),
            None => Ok(Self(id)),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CollectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CollectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

macro_rules! opaque_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value as the storage produced it.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
    };
}

opaque_text!(
    /// Where an item lives inside its storage: a file name in a vdir collection, a URL path on
    /// a DAV server. Opaque to the engine; stable while the item exists.
    Href
);
opaque_text!(
    /// A version marker of an item that changes whenever its content changes (an HTTP ETag, a
    /// file's mtime+inode+size). Opaque to the engine: only compared for equality and handed
    /// back to make writes conditional.
    Etag
);
opaque_text!(
    /// An RFC 6578 sync token: the server's name for "the state of a collection now".
    SyncToken
);
opaque_text!(
    /// A marker of a whole collection that changes whenever any of its items does (CalendarServer's
    /// `getctag`), or that the engine derives from a listing of every item and its etag. Opaque:
    /// only compared for equality with the one recorded after the last clean sync.
    CollectionState
);

/// A collection's descriptive properties, each absent when unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectionMeta {
    /// The human name (`DAV:displayname`, vdir file `displayname`).
    pub displayname: Option<String>,
    /// The colour, usually `#RRGGBB` or `#RRGGBBAA` (Apple's `calendar-color`, vdir `color`).
    pub color: Option<String>,
    /// A longer description (`calendar-description` / `addressbook-description`).
    pub description: Option<String>,
}

/// One of the properties of [`CollectionMeta`], for reading or writing them one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetaProperty {
    /// [`CollectionMeta::displayname`].
    DisplayName,
    /// [`CollectionMeta::color`].
    Color,
    /// [`CollectionMeta::description`].
    Description,
}

impl MetaProperty {
    /// Every property, in a fixed order.
    pub const ALL: [MetaProperty; 3] = [Self::DisplayName, Self::Color, Self::Description];

    /// The property's name as vdirsyncer spells it (also the vdir file name).
    pub fn name(self) -> &'static str {
        match self {
            Self::DisplayName => "displayname",
            Self::Color => "color",
            Self::Description => "description",
        }
    }

    /// This property's value in `meta`.
    pub fn get(self, meta: &CollectionMeta) -> Option<&str> {
        match self {
            Self::DisplayName => meta.displayname.as_deref(),
            Self::Color => meta.color.as_deref(),
            Self::Description => meta.description.as_deref(),
        }
    }
}

/// A collection as a storage lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collection {
    /// Its identity (see [`CollectionId`]).
    pub id: CollectionId,
    /// What it holds.
    pub kind: CollectionKind,
    /// Where it lives, for messages and `pimlink discover` (a URL, a directory).
    pub location: String,
    /// Its metadata as of the listing (storages that cannot read it cheaply leave it empty and
    /// answer [`ItemStore::get_meta`] instead).
    pub meta: CollectionMeta,
    /// Whether [`ItemStore::changes_since`] works on it (the server advertised a sync token).
    pub supports_sync: bool,
    /// Its [`CollectionState`] as of the listing, if the storage learns one with the listing
    /// at no extra cost (a server's `getctag`); `None` means "unknown", never "unchanged".
    pub state: Option<CollectionState>,
}

/// An item as a listing reports it: where it is and which version it is at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ItemRef {
    /// Where it lives.
    pub href: Href,
    /// Its version.
    pub etag: Etag,
}

/// An item's content together with where it lives and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedItem {
    /// Where it lives.
    pub href: Href,
    /// The version this content belongs to.
    pub etag: Etag,
    /// The iCalendar or vCard text exactly as stored (never validated or rewritten).
    pub data: String,
}

/// The answer to [`ItemStore::get_many`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The items that were there.
    pub items: Vec<FetchedItem>,
    /// Requested hrefs that are gone (deleted meanwhile).
    pub missing: Vec<Href>,
    /// Requested hrefs the storage could not deliver (a server answering without data, a file
    /// that is not UTF-8), each with the reason; the engine reports them and goes on with the
    /// rest. Every requested href is in exactly one of `items`, `missing` and `failed`: a
    /// storage never drops one silently.
    pub failed: Vec<(Href, String)>,
}

/// What changed in a collection since a sync token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    /// Items created or changed, with their new etags.
    pub changed: Vec<ItemRef>,
    /// Items deleted.
    pub deleted: Vec<Href>,
    /// The token to ask with next time. Store it only after every change above was handled.
    pub new_token: SyncToken,
}

/// The answer to [`ItemStore::changes_since`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangesSince {
    /// The changes since the token.
    Changes(Changes),
    /// The server no longer accepts the token (expired, or the collection was recreated): the
    /// engine must fall back to a full listing and then ask again without a token. A variant
    /// rather than an error kind, so that the fallback cannot be confused with a failure.
    TokenInvalid,
}

/// A storage of calendar or contact collections.
///
/// Every write is conditional: [`ItemStore::create_item`] refuses to overwrite, and
/// [`ItemStore::update_item`] / [`ItemStore::delete_item`] refuse when the item's etag is no
/// longer the one given. Such a refusal (HTTP 412) is reported as
/// [`ErrorKind::Refused`] with a message saying the precondition failed.
///
/// Every write must leave the storage consistent if the process dies at any point; durability
/// may be deferred until [`ItemStore::flush`], which the engine calls before recording those
/// writes in its status.
#[allow(async_fn_in_trait)] // The engine drives a storage from its own task; no Send bound needed.
pub trait ItemStore {
    /// A short human description for messages, e.g. `caldav https://dav.example/user/`.
    fn describe(&self) -> String;

    /// What this storage's collections hold.
    fn kind(&self) -> CollectionKind;

    /// True for a storage that cannot be written (webcal).
    fn read_only(&self) -> bool {
        false
    }

    /// Whether the [`Collection::state`] this storage listed for a collection may be trusted,
    /// given the sync token it gave for that collection (the last clean run's, when deciding
    /// to skip; this run's, when deciding to record). A storage that lists a stamp only some
    /// servers keep (a DAV server's last-modified) says which ones by their tokens.
    fn trusts_state(&self, _token: Option<&SyncToken>) -> bool {
        true
    }

    /// Every collection of this storage's kind.
    async fn list_collections(&self) -> Result<Vec<Collection>>;

    /// Creates an empty collection. An existing one is not an error.
    async fn create_collection(&self, id: &CollectionId) -> Result<Collection>;

    /// Deletes a collection and everything in it.
    async fn delete_collection(&self, id: &CollectionId) -> Result<()>;

    /// Every item of a collection with its etag (no content).
    async fn list_items(&self, collection: &CollectionId) -> Result<Vec<ItemRef>>;

    /// What changed since `token`, or everything there is with `None` (then `deleted` is
    /// empty). [`ErrorKind::Unsupported`] if the storage or collection has no sync tokens.
    async fn changes_since(
        &self,
        collection: &CollectionId,
        token: Option<&SyncToken>,
    ) -> Result<ChangesSince>;

    /// The content of many items at once. An href that is gone is reported in
    /// [`Fetched::missing`]; an href that is not in the collection at all is an error.
    async fn get_many(&self, collection: &CollectionId, hrefs: &[Href]) -> Result<Fetched>;

    /// Stores a new item and returns where it went and its etag. The storage chooses the href
    /// from the item's UID (see [`vobject::item_file_name`](super::vobject::item_file_name)); if an item already lives there the
    /// write is refused ([`ErrorKind::Refused`]), never overwritten.
    async fn create_item(&self, collection: &CollectionId, data: &str) -> Result<ItemRef>;

    /// Replaces an item if its etag is still `etag`; returns the new etag.
    async fn update_item(
        &self,
        collection: &CollectionId,
        href: &Href,
        etag: &Etag,
        data: &str,
    ) -> Result<Etag>;

    /// Deletes an item if its etag is still `etag`. [`ErrorKind::NotFound`] if it is gone.
    async fn delete_item(&self, collection: &CollectionId, href: &Href, etag: &Etag) -> Result<()>;

    /// One metadata property of a collection, `None` if unset.
    async fn get_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
    ) -> Result<Option<String>>;

    /// Sets (or with `None` removes) one metadata property of a collection.
    async fn set_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
        value: Option<&str>,
    ) -> Result<()>;

    /// Makes every write so far durable (fsync of files and directories; a no-op for servers,
    /// which acknowledge each write). Only after this returns may the engine record them.
    async fn flush(&self) -> Result<()>;
}

/// The error for a conditional write the storage refused because the item changed (HTTP 412,
/// a vdir file whose etag moved, or an item already at the href a create wanted).
pub fn precondition_failed(what: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::Refused,
        format!("precondition failed: {what} (it changed since it was last seen)"),
    )
}

/// The error for a write to a read-only storage.
pub fn read_only(storage: impl fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("{storage} is read-only: items cannot be written"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_ids_are_one_safe_segment() {
        for ok in ["work", "Personal Calendar", "日本", ".hidden", "a.b"] {
            assert_eq!(CollectionId::new(ok).map(|c| c.0), Ok(ok.to_owned()));
        }
        let long = "x".repeat(256);
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", long.as_str()] {
            let err = CollectionId::new(bad).expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::InvalidName, "{bad}");
            assert!(err.to_string().contains("invalid collection id"), "{err}");
        }
    }

    #[test]
    fn kinds_name_their_extension_and_media_type() {
        assert_eq!(CollectionKind::Calendar.file_extension(), ".ics");
        assert_eq!(CollectionKind::AddressBook.file_extension(), ".vcf");
        assert!(
            CollectionKind::AddressBook
                .media_type()
                .starts_with("text/vcard")
        );
    }

    #[test]
    fn meta_property_reads_its_field() {
        let meta = CollectionMeta {
            displayname: Some("Work".into()),
            color: None,
            description: Some("d".into()),
        };
        let got: Vec<_> = MetaProperty::ALL.iter().map(|p| p.get(&meta)).collect();
        assert_eq!(got, [Some("Work"), None, Some("d")]);
    }
}
