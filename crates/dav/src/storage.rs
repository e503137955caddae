//! [`DavStore`]: CalDAV or CardDAV as an [`ItemStore`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use pimlink_core::dav::store::{
    Changes, ChangesSince, Collection, CollectionId, CollectionKind, CollectionState, Etag,
    Fetched, FetchedItem, Href, ItemRef, ItemStore, MetaProperty, SyncToken, precondition_failed,
};
use pimlink_core::dav::vobject::{content_hash, item_file_name, uid};
use pimlink_core::{Error, ErrorKind, Result};
use tracing::warn;

use crate::client::{ClientOptions, DavClient, Response, status_error};
use crate::discovery;
use crate::proto::href::{canonical, is_direct_child, join, last_segment};
use crate::proto::multistatus::{self, FoundCollection, MultigetEntry, Multistatus};
use crate::proto::request::{self, COLLECTION_PROPS, Depth, Precondition};
use crate::proto::stamp::{self, ChangeStamp};
use crate::proto::{DAV, Request};

/// How many hrefs one multiget asks for. Servers cap request sizes; 100 hrefs keep a request
/// well under any limit seen in practice while still saving 99 round trips of 100.
const MULTIGET_BATCH: usize = 100;

/// A CalDAV (calendars) or CardDAV (address books) account.
///
/// Holds a pooled HTTP client; methods take `&self`, so several requests may be in flight at
/// once (each on its own pooled keep-alive connection).
#[derive(Debug)]
pub struct DavStore {
    client: DavClient,
    kind: CollectionKind,
    home: String,
    /// Collection id -> canonical href, learnt from listings (servers may name a collection's
    /// path differently from the id we would build).
    hrefs: Mutex<HashMap<CollectionId, String>>,
    /// Which change stamp collection listings ask for (see [`DavStore::change_stamp`]).
    stamp: ChangeStamp,
}

fn parse_ms(context: &str, response: &Response) -> Result<Multistatus> {
    if response.status != 207 {
        return Err(status_error(context, response));
    }
    multistatus::parse(&response.body)
        .map_err(|e| Error::new(ErrorKind::Peer, format!("{context}: {e}")))
}

impl DavStore {
    /// Connects: finds the home set of `kind` from `options.url`, or through DNS SRV records
    /// (see [`crate::discovery`]).
    pub async fn discover(options: &ClientOptions, kind: CollectionKind) -> Result<Self> {
        let (client, home) = discovery::discover(options, kind).await?;
        Ok(Self::with_client(client, kind, home))
    }

    /// Uses `options.url` as the home set itself, without discovery.
    pub fn with_home(options: &ClientOptions, kind: CollectionKind) -> Result<Self> {
        let client = DavClient::new(options)?;
        let home = canonical(client.base().path());
        Ok(Self::with_client(client, kind, home))
    }

    fn with_client(client: DavClient, kind: CollectionKind, home: String) -> Self {
        let home = if home.ends_with('/') {
            home
        } else {
            format!("{home}/")
        };
        Self {
            client,
            kind,
            home,
            hrefs: Mutex::new(HashMap::new()),
            stamp: ChangeStamp::Off,
        }
    }

    /// Makes collection listings ask each collection's change stamp, so that the engine can
    /// skip collections unchanged since the last clean sync (the `skip_unchanged` key). Each
    /// source is only as good as the server's promise to move it (see [`crate::proto::stamp`]),
    /// and `getctag` is costly on servers that compute it from every item.
    pub fn change_stamp(mut self, stamp: ChangeStamp) -> Self {
        self.stamp = stamp;
        self
    }

    /// The home set's canonical path.
    pub fn home(&self) -> &str {
        &self.home
    }

    fn collection_href(&self, id: &CollectionId) -> String {
        let known = self.hrefs.lock().unwrap_or_else(|p| p.into_inner());
        known
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("{}/", join(&self.home, id.as_str())))
    }

    fn remember(&self, id: &CollectionId, href: &str) {
        let mut known = self.hrefs.lock().unwrap_or_else(|p| p.into_inner());
        known.insert(id.clone(), href.to_owned());
    }

    /// Checks that `href` is a member of `collection`, so a confused engine or a hostile
    /// status database can never make us write outside it.
    fn item_href(&self, collection: &CollectionId, href: &Href) -> Result<(String, String)> {
        let col = self.collection_href(collection);
        let item = canonical(href.as_str());
        if !is_direct_child(&col, &item) || item.ends_with('/') {
            return Err(Error::new(
                ErrorKind::InvalidName,
                format!("{item} is not an item of collection {col}"),
            ));
        }
        Ok((col, item))
    }

    async fn send(&self, request: &Request) -> Result<Response> {
        self.client.send(request).await
    }

    fn to_collection(
        &self,
        found: FoundCollection,
        state: Option<CollectionState>,
    ) -> Option<Collection> {
        let id = match CollectionId::new(last_segment(&found.href)) {
            Ok(id) => id,
            Err(err) => {
                warn!(href = %found.href, %err, "skipping collection");
                return None;
            }
        };
        self.remember(&id, &found.href);
        Some(Collection {
            id,
            kind: self.kind,
            location: self
                .client
                .resolve(&found.href)
                .map_or(found.href.clone(), |u| u.to_string()),
            meta: found.meta,
            supports_sync: found.supports_sync,
            state,
        })
    }

    async fn collection_info(&self, id: &CollectionId) -> Result<Collection> {
        let href = self.collection_href(id);
        let request = request::propfind(&href, Depth::Zero, &COLLECTION_PROPS);
        let response = self.send(&request).await?;
        let ms = parse_ms(&format!("PROPFIND {href}"), &response)?;
        // The collection itself is excluded from a home listing, so list it as a member of
        // its parent's view: any response that is a collection of our kind.
        let parent = href
            .trim_end_matches('/')
            .rsplit_once('/')
            .map_or("/", |(p, _)| p);
        multistatus::collections(&ms, parent, self.kind)
            .into_iter()
            .find_map(|found| self.to_collection(found, None))
            .ok_or_else(|| {
                let kind = match self.kind {
                    CollectionKind::Calendar => "calendar",
                    CollectionKind::AddressBook => "address book",
                };
                Error::new(ErrorKind::NotFound, format!("{href} is not a {kind}"))
            })
    }

    /// Fetches one batch with a multiget and sorts the answers into `fetched`.
    async fn multiget_batch(
        &self,
        col: &str,
        batch: &[(Href, String)],
        fetched: &mut Fetched,
    ) -> Result<()> {
        let hrefs: Vec<String> = batch.iter().map(|(_, c)| c.clone()).collect();
        let request = request::multiget(self.kind, col, &hrefs);
        let context = format!("REPORT multiget {col}");
        let response = self.send(&request).await?;
        let ms = parse_ms(&context, &response)?;
        let mut answers: BTreeMap<String, MultigetEntry> = BTreeMap::new();
        for entry in multistatus::multiget_entries(&ms, self.kind) {
            let href = match &entry {
                MultigetEntry::Item { href, .. } | MultigetEntry::Broken { href, .. } => href,
                MultigetEntry::Missing(href) => href,
            };
            answers.insert(href.clone(), entry);
        }
        for (original, canonical_href) in batch {
            match answers.remove(canonical_href) {
                Some(MultigetEntry::Item { etag, data, .. }) => fetched.items.push(FetchedItem {
                    href: original.clone(),
                    etag,
                    data,
                }),
                Some(MultigetEntry::Missing(_)) => fetched.missing.push(original.clone()),
                Some(MultigetEntry::Broken { why, .. }) => {
                    fetched.failed.push((original.clone(), why));
                }
                // Never treat silence as deletion: that would delete the item on the other side.
                None => fetched.failed.push((
                    original.clone(),
                    "the server did not answer for it in a multiget".to_owned(),
                )),
            }
        }
        Ok(())
    }

    /// The etag of one item by PROPFIND, for servers that do not return one on PUT.
    async fn etag_of(&self, href: &str) -> Result<Etag> {
        let response = self
            .send(&request::propfind(href, Depth::Zero, &[(DAV, "getetag")]))
            .await?;
        let ms = parse_ms(&format!("PROPFIND {href}"), &response)?;
        ms.responses
            .first()
            .and_then(|r| r.text(DAV, "getetag"))
            .map(Etag::new)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Peer,
                    format!("PROPFIND {href}: the server sent no etag"),
                )
            })
    }

    async fn put(&self, href: &str, data: &str, precondition: Precondition) -> Result<Etag> {
        let request = request::put(self.kind, href, data, &precondition);
        let response = self.send(&request).await?;
        match response.status {
            200 | 201 | 204 => {}
            412 => {
                let what = match precondition {
                    Precondition::Create => format!("{href} already exists"),
                    Precondition::IfMatch(etag) => format!("{href} is no longer at etag {etag}"),
                };
                return Err(precondition_failed(what));
            }
            // Radicale and others refuse a second item with an existing UID (RFC 4791
            // no-uid-conflict).
            409 => {
                return Err(Error::new(
                    ErrorKind::Refused,
                    format!(
                        "PUT {href}: HTTP 409 conflict (another item in the collection may have \
                         the same UID): {}",
                        response.body.chars().take(200).collect::<String>()
                    ),
                ));
            }
            _ => return Err(status_error(format!("PUT {href}"), &response)),
        }
        match response.etag {
            Some(etag) => Ok(Etag::new(etag)),
            None => self.etag_of(href).await,
        }
    }
}

impl ItemStore for DavStore {
    fn describe(&self) -> String {
        let scheme = match self.kind {
            CollectionKind::Calendar => "caldav",
            CollectionKind::AddressBook => "carddav",
        };
        format!("{scheme} {}", self.client.base())
    }

    fn kind(&self) -> CollectionKind {
        self.kind
    }

    fn trusts_state(&self, token: Option<&SyncToken>) -> bool {
        self.stamp.trusted(token.map(SyncToken::as_str))
    }

    async fn list_collections(&self) -> Result<Vec<Collection>> {
        let response = self
            .send(&request::list_collections(&self.home, self.stamp))
            .await?;
        let ms = parse_ms(&format!("PROPFIND {}", self.home), &response)?;
        let mut out: Vec<Collection> = multistatus::collections(&ms, &self.home, self.kind)
            .into_iter()
            .filter_map(|found| {
                let state = match self.stamp {
                    ChangeStamp::Off => None,
                    ChangeStamp::Ctag => stamp::from_ctag(found.ctag.as_ref().map(|c| c.as_str())),
                    ChangeStamp::LastModified | ChangeStamp::Auto => stamp::from_last_modified(
                        found.last_modified.as_deref(),
                        response.date.as_deref(),
                    ),
                };
                self.to_collection(found, state)
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn create_collection(&self, id: &CollectionId) -> Result<Collection> {
        let href = self.collection_href(id);
        let response = self
            .send(&request::make_collection(self.kind, &href))
            .await?;
        match response.status {
            200 | 201 | 204 => {}
            // Something exists there already (405 per RFC 4791, 409 resource-must-be-null
            // from Radicale, a 207 holding it from Xandikos): fine if it is a collection of
            // our kind, checked below.
            405 => {}
            _ if response.body.contains("resource-must-be-null") => {}
            _ => {
                return Err(status_error(
                    format!("creating collection {href}"),
                    &response,
                ));
            }
        }
        self.collection_info(id).await
    }

    async fn delete_collection(&self, id: &CollectionId) -> Result<()> {
        let href = self.collection_href(id);
        let response = self.send(&request::delete_collection(&href)).await?;
        if !response.is_success() {
            return Err(status_error(format!("DELETE {href}"), &response));
        }
        Ok(())
    }

    async fn list_items(&self, collection: &CollectionId) -> Result<Vec<ItemRef>> {
        let col = self.collection_href(collection);
        let response = self.send(&request::list_etags(&col)).await?;
        let ms = parse_ms(&format!("PROPFIND {col}"), &response)?;
        let (with, without) = multistatus::etags(&ms, &col);
        for href in without {
            warn!(%href, "the server lists an item without an etag; it is not synced");
        }
        Ok(with
            .into_iter()
            .map(|(href, etag)| ItemRef {
                href: Href::new(href),
                etag,
            })
            .collect())
    }

    async fn changes_since(
        &self,
        collection: &CollectionId,
        token: Option<&SyncToken>,
    ) -> Result<ChangesSince> {
        let col = self.collection_href(collection);
        let response = self.send(&request::sync_collection(&col, token)).await?;
        let context = format!("REPORT sync-collection {col}");
        if response.status != 207 {
            // RFC 6578 3.2 says 403 + valid-sync-token; servers also use 409, 412 or 400.
            let says_invalid = multistatus::is_invalid_sync_token(&response.body);
            if token.is_some() && (says_invalid || matches!(response.status, 400 | 403 | 409 | 412))
            {
                return Ok(ChangesSince::TokenInvalid);
            }
            // Xandikos 0.2 crashes (HTTP 500) on a token it does not know. Falling back to a
            // full listing is always safe, only slower; if the server is really broken, the
            // listing fails and reports it.
            if token.is_some() && response.status == 500 {
                warn!(collection = %col, "HTTP 500 on sync-collection with a token; treating the token as invalid");
                return Ok(ChangesSince::TokenInvalid);
            }
            let mut err = status_error(&context, &response);
            if matches!(response.status, 403 | 405 | 501) && !says_invalid {
                err = Error::new(ErrorKind::Unsupported, err.to_string());
            }
            return Err(err);
        }
        let ms = multistatus::parse(&response.body)
            .map_err(|e| Error::new(ErrorKind::Peer, format!("{context}: {e}")))?;
        let Some(new_token) = ms.sync_token.clone() else {
            return Err(Error::new(
                ErrorKind::Peer,
                format!("{context}: the answer carries no new sync token"),
            ));
        };
        let (changed, deleted) = multistatus::sync_changes(&ms, &col);
        Ok(ChangesSince::Changes(Changes {
            changed: changed
                .into_iter()
                .map(|(href, etag)| ItemRef {
                    href: Href::new(href),
                    etag,
                })
                .collect(),
            deleted: deleted.into_iter().map(Href::new).collect(),
            new_token,
        }))
    }

    async fn get_many(&self, collection: &CollectionId, hrefs: &[Href]) -> Result<Fetched> {
        let mut fetched = Fetched::default();
        let mut col = self.collection_href(collection);
        let mut wanted = Vec::with_capacity(hrefs.len());
        for href in hrefs {
            let (c, item) = self.item_href(collection, href)?;
            col = c;
            wanted.push((href.clone(), item));
        }
        for batch in wanted.chunks(MULTIGET_BATCH) {
            self.multiget_batch(&col, batch, &mut fetched).await?;
        }
        Ok(fetched)
    }

    async fn create_item(&self, collection: &CollectionId, data: &str) -> Result<ItemRef> {
        let col = self.collection_href(collection);
        let ident = uid(data).unwrap_or_else(|| content_hash(data).as_str().to_owned());
        let href = join(&col, &item_file_name(&ident, self.kind.file_extension()));
        let etag = self.put(&href, data, Precondition::Create).await?;
        Ok(ItemRef {
            href: Href::new(href),
            etag,
        })
    }

    async fn update_item(
        &self,
        collection: &CollectionId,
        href: &Href,
        etag: &Etag,
        data: &str,
    ) -> Result<Etag> {
        let (_, item) = self.item_href(collection, href)?;
        self.put(&item, data, Precondition::IfMatch(etag.clone()))
            .await
    }

    async fn delete_item(&self, collection: &CollectionId, href: &Href, etag: &Etag) -> Result<()> {
        let (_, item) = self.item_href(collection, href)?;
        let response = self.send(&request::delete(&item, etag)).await?;
        match response.status {
            200 | 202 | 204 => Ok(()),
            412 => Err(precondition_failed(format!(
                "{item} is no longer at etag {etag}"
            ))),
            _ => Err(status_error(format!("DELETE {item}"), &response)),
        }
    }

    async fn get_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
    ) -> Result<Option<String>> {
        let col = self.collection_href(collection);
        let prop = request::meta_property(self.kind, property);
        let response = self
            .send(&request::propfind(&col, Depth::Zero, &[prop]))
            .await?;
        let ms = parse_ms(&format!("PROPFIND {col}"), &response)?;
        Ok(ms.responses.first().and_then(|r| r.text(prop.0, prop.1)))
    }

    async fn set_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
        value: Option<&str>,
    ) -> Result<()> {
        let col = self.collection_href(collection);
        let prop = request::meta_property(self.kind, property);
        let value = value.map(str::trim).filter(|v| !v.is_empty());
        let response = self.send(&request::proppatch(&col, prop, value)).await?;
        let context = format!("PROPPATCH {} on {col}", prop.1);
        let ms = parse_ms(&context, &response)?;
        // A 207 can still report the property as failed (403, 409, 424).
        let ok = ms
            .responses
            .iter()
            .any(|r| r.prop(prop.0, prop.1).is_some());
        if !ok {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "{context}: the server did not accept it: {}",
                    response.body.chars().take(300).collect::<String>()
                ),
            ));
        }
        Ok(())
    }

    async fn flush(&self) -> Result<()> {
        // A server acknowledges every write before answering: nothing is pending.
        Ok(())
    }
}
