//! [`WebcalStore`]: a read-only iCalendar feed over HTTP(S), split into one item per UID.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use pimlink_core::dav::store::{
    ChangesSince, Collection, CollectionId, CollectionKind, CollectionMeta, Etag, Fetched,
    FetchedItem, Href, ItemRef, ItemStore, MetaProperty, SyncToken, read_only,
};
use pimlink_core::dav::vobject::{content_hash, content_lines, item_file_name, split_feed};
use pimlink_core::{Error, ErrorKind, Result};
use tracing::warn;

use crate::client::{ClientOptions, DavClient, status_error};
use crate::proto::request;

/// A webcal feed as a storage with one collection.
///
/// Each item's href is its file name from the UID (a hash of the content for components
/// without one) and its etag is the [content hash](pimlink_core::dav::vobject) of the
/// item, so a feed that rewrites DTSTAMP on every download does not look changed. Items are
/// served from the last download: [`ItemStore::list_items`] downloads, and
/// [`ItemStore::get_many`] answers from that download (downloading once if none was made).
///
/// The feed's own name and colour (`X-WR-CALNAME`, `X-WR-CALDESC`, `X-APPLE-CALENDAR-COLOR`
/// on the VCALENDAR) are the collection's metadata, so a pair with `metadata` gives the vdir
/// a `displayname` as a CalDAV calendar would.
#[derive(Debug)]
pub struct WebcalStore {
    client: DavClient,
    id: CollectionId,
    last: Mutex<Option<Download>>,
}

/// The last feed body each URL answered with its validators (`ETag`, `Last-Modified`), for
/// this process: `pimlink daemon` opens a new store for every sync, and polling a feed every
/// few minutes should cost a `304 Not Modified`, not a download (RFC 9110 13.1).
static VALIDATED: LazyLock<Mutex<HashMap<String, Validated>>> = LazyLock::new(Mutex::default);

/// A body and what to ask the server to compare it with.
#[derive(Clone, Debug)]
struct Validated {
    etag: Option<String>,
    last_modified: Option<String>,
    body: String,
}

/// One download of the feed, split.
#[derive(Clone, Debug, Default)]
struct Download {
    items: Vec<FetchedItem>,
    meta: CollectionMeta,
}

/// The calendar-level properties of a feed, read from the lines before its first component.
fn feed_meta(raw: &str) -> CollectionMeta {
    let mut meta = CollectionMeta::default();
    let mut depth = 0usize;
    for line in content_lines(raw) {
        if line.is("BEGIN") {
            depth += 1;
            if depth > 1 {
                break;
            }
            continue;
        }
        let slot = if line.is("X-WR-CALNAME") {
            &mut meta.displayname
        } else if line.is("X-WR-CALDESC") {
            &mut meta.description
        } else if line.is("X-APPLE-CALENDAR-COLOR") {
            &mut meta.color
        } else {
            continue;
        };
        let value = unescape_text(line.value());
        if slot.is_none() && !value.trim().is_empty() {
            *slot = Some(value.trim().to_owned());
        }
    }
    meta
}

/// RFC 5545 TEXT escapes (`\\`, `\,`, `\;`, `\n`).
fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

impl WebcalStore {
    /// A feed at `options.url` (`webcal://` is read as `https://`), listed as one collection
    /// named `id`.
    pub fn new(options: &ClientOptions, id: CollectionId) -> Result<Self> {
        let mut options = options.clone();
        if let Some(rest) = options.url.strip_prefix("webcal://") {
            options.url = format!("https://{rest}");
        }
        Ok(Self {
            client: DavClient::new(&options)?,
            id,
            last: Mutex::new(None),
        })
    }

    fn check_collection(&self, collection: &CollectionId) -> Result<()> {
        if collection != &self.id {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "webcal feed {} has only the collection {}, not {collection}",
                    self.client.base(),
                    self.id
                ),
            ));
        }
        Ok(())
    }

    /// Downloads and splits the feed.
    async fn download(&self) -> Result<Download> {
        let url = self.client.base().to_string();
        let body = self.fetch(&url).await?;
        let split = split_feed(&body).map_err(|e| e.context(format!("webcal feed {url}")))?;
        let mut items: Vec<FetchedItem> = Vec::with_capacity(split.len());
        for item in split {
            let hash = content_hash(&item.data);
            let ident = item.uid.unwrap_or_else(|| hash.as_str().to_owned());
            let href = Href::new(item_file_name(&ident, ".ics"));
            if items.iter().any(|i| i.href == href) {
                warn!(%href, feed = %url, "duplicate item in webcal feed; keeping the first");
                continue;
            }
            items.push(FetchedItem {
                href,
                etag: Etag::new(hash.as_str()),
                data: item.data,
            });
        }
        let download = Download {
            items,
            meta: feed_meta(&body),
        };
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(download.clone());
        Ok(download)
    }

    /// The feed's text: a conditional GET when this process fetched it before, the body kept
    /// then if the server says it is unchanged.
    async fn fetch(&self, url: &str) -> Result<String> {
        let known = lock(&VALIDATED).get(url).cloned();
        let mut get = request::get(url);
        if let Some(known) = &known {
            if let Some(etag) = &known.etag {
                get.headers.push(("If-None-Match", etag.clone()));
            }
            if let Some(date) = &known.last_modified {
                get.headers.push(("If-Modified-Since", date.clone()));
            }
        }
        let response = self.client.send(&get).await?;
        if let (304, Some(known)) = (response.status, known) {
            return Ok(known.body);
        }
        if !response.is_success() {
            return Err(status_error(format!("GET {url}"), &response));
        }
        let mut validated = lock(&VALIDATED);
        if response.etag.is_some() || response.last_modified.is_some() {
            let entry = Validated {
                etag: response.etag.clone(),
                last_modified: response.last_modified.clone(),
                body: response.body.clone(),
            };
            validated.insert(url.to_owned(), entry);
        } else {
            validated.remove(url);
        }
        Ok(response.body)
    }

    /// The last download, or a new one if none was made.
    async fn latest(&self) -> Result<Download> {
        let cached = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match cached {
            Some(download) => Ok(download),
            None => self.download().await,
        }
    }
}

/// The lock, even if a thread panicked holding it (the map stays usable: each entry is
/// written whole).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl ItemStore for WebcalStore {
    fn describe(&self) -> String {
        format!("webcal {}", self.client.base())
    }

    fn kind(&self) -> CollectionKind {
        CollectionKind::Calendar
    }

    fn read_only(&self) -> bool {
        true
    }

    async fn list_collections(&self) -> Result<Vec<Collection>> {
        Ok(vec![Collection {
            id: self.id.clone(),
            kind: CollectionKind::Calendar,
            location: self.client.base().to_string(),
            meta: CollectionMeta::default(),
            supports_sync: false,
            state: None,
        }])
    }

    async fn create_collection(&self, _id: &CollectionId) -> Result<Collection> {
        Err(read_only(self.describe()))
    }

    async fn delete_collection(&self, _id: &CollectionId) -> Result<()> {
        Err(read_only(self.describe()))
    }

    async fn list_items(&self, collection: &CollectionId) -> Result<Vec<ItemRef>> {
        self.check_collection(collection)?;
        Ok(self
            .download()
            .await?
            .items
            .into_iter()
            .map(|i| ItemRef {
                href: i.href,
                etag: i.etag,
            })
            .collect())
    }

    async fn changes_since(
        &self,
        _collection: &CollectionId,
        _token: Option<&SyncToken>,
    ) -> Result<ChangesSince> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "a webcal feed has no sync tokens",
        ))
    }

    async fn get_many(&self, collection: &CollectionId, hrefs: &[Href]) -> Result<Fetched> {
        self.check_collection(collection)?;
        let items = self.latest().await?.items;
        let mut fetched = Fetched::default();
        for href in hrefs {
            match items.iter().find(|i| &i.href == href) {
                Some(item) => fetched.items.push(item.clone()),
                None => fetched.missing.push(href.clone()),
            }
        }
        Ok(fetched)
    }

    async fn create_item(&self, _collection: &CollectionId, _data: &str) -> Result<ItemRef> {
        Err(read_only(self.describe()))
    }

    async fn update_item(
        &self,
        _collection: &CollectionId,
        _href: &Href,
        _etag: &Etag,
        _data: &str,
    ) -> Result<Etag> {
        Err(read_only(self.describe()))
    }

    async fn delete_item(
        &self,
        _collection: &CollectionId,
        _href: &Href,
        _etag: &Etag,
    ) -> Result<()> {
        Err(read_only(self.describe()))
    }

    async fn get_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
    ) -> Result<Option<String>> {
        self.check_collection(collection)?;
        let meta = self.latest().await?.meta;
        Ok(match property {
            MetaProperty::DisplayName => meta.displayname,
            MetaProperty::Color => meta.color,
            MetaProperty::Description => meta.description,
        })
    }

    async fn set_meta(
        &self,
        _collection: &CollectionId,
        _property: MetaProperty,
        _value: Option<&str>,
    ) -> Result<()> {
        Err(read_only(self.describe()))
    }

    async fn flush(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_meta_comes_from_the_calendar_not_its_events() {
        let feed = "BEGIN:VCALENDAR\r\nX-WR-CALNAME:Holidays\\, public\r\n\
                    X-APPLE-CALENDAR-COLOR:#FF0000\r\nBEGIN:VEVENT\r\nUID:1\r\n\
                    X-WR-CALDESC:not the calendar's\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let meta = feed_meta(feed);
        assert_eq!(meta.displayname.as_deref(), Some("Holidays, public"));
        assert_eq!(meta.color.as_deref(), Some("#FF0000"));
        assert_eq!(meta.description, None);
        assert_eq!(unescape_text("a\\nb\\\\c\\;"), "a\nb\\c;");
    }
}
