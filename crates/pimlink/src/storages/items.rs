//! The calendar and contact storages (caldav, carddav, webcal, vdir): what kind of collection
//! each holds, each opened from its configuration, and [`ItemSide`], which holds any of them
//! and forwards [`ItemStore`] to it. Passwords (`password_cmd`) are resolved here, only when a
//! storage is actually connected.

use anyhow::{Context, Result, bail};
use pimlink_core::dav::store::{
    ChangesSince, Collection, CollectionId, CollectionKind, Etag, Fetched, Href, ItemRef,
    ItemStore, MetaProperty, SyncToken,
};
use pimlink_dav::{ChangeStamp, ClientOptions, DavStore, WebcalStore};
use pimlink_vdir::Vdir;

use crate::config::{
    Config, Credentials, DavConfig, PasswordSource, SkipUnchanged, StorageKind, VdirConfig,
    WebcalConfig,
};
use pimlink_dav::bearer::{Bearer, Refresh};

/// A calendar/contact storage of any supported type, so one engine instance serves every
/// combination.
pub enum ItemSide {
    /// A CalDAV or CardDAV account.
    Dav(DavStore),
    /// A read-only iCalendar feed.
    Webcal(WebcalStore),
    /// A local vdir.
    Vdir(Vdir),
}

/// What the storage named `name` holds, if its type says so (a vdir holds whatever its pair
/// syncs; its `fileext` decides only when both sides are vdirs).
pub fn declared_kind(config: &Config, name: &str) -> Result<Option<CollectionKind>> {
    let storage = config
        .storages
        .get(name)
        .with_context(|| format!("storage {name:?} is not configured"))?;
    Ok(match &storage.kind {
        StorageKind::CalDav(_) | StorageKind::Webcal(_) => Some(CollectionKind::Calendar),
        StorageKind::CardDav(_) => Some(CollectionKind::AddressBook),
        StorageKind::Vdir(_) => None,
        other => bail!(
            "storage {name:?} ({}) holds mail, not calendars or contacts",
            other.type_name()
        ),
    })
}

/// What a pair of storages `a` and `b` syncs: calendars or address books.
pub fn pair_kind(config: &Config, a: &str, b: &str) -> Result<CollectionKind> {
    match (declared_kind(config, a)?, declared_kind(config, b)?) {
        (Some(x), Some(y)) if x != y => bail!(
            "storages {a:?} and {b:?} hold different things (calendars and address books) and \
             cannot be paired"
        ),
        (Some(kind), _) | (None, Some(kind)) => Ok(kind),
        (None, None) => Ok(vdir_kind(config, a)),
    }
}

/// What storage `name` holds by itself: what its type says, or for a vdir what its file
/// extension suggests (for `check`, `discover` and `repair`, which have no pair to ask).
pub fn own_kind(config: &Config, name: &str) -> Result<CollectionKind> {
    match declared_kind(config, name)? {
        Some(kind) => Ok(kind),
        None => pair_kind(config, name, name),
    }
}

/// A vdir's kind from its file extension: `.vcf` means contacts, anything else calendars.
fn vdir_kind(config: &Config, name: &str) -> CollectionKind {
    match config.storages.get(name).map(|s| &s.kind) {
        Some(StorageKind::Vdir(v)) if v.fileext.eq_ignore_ascii_case(".vcf") => {
            CollectionKind::AddressBook
        }
        _ => CollectionKind::Calendar,
    }
}

/// The change stamp a storage's `skip_unchanged` trusts.
fn change_stamp(skip: SkipUnchanged) -> ChangeStamp {
    match skip {
        SkipUnchanged::Off => ChangeStamp::Off,
        SkipUnchanged::Ctag => ChangeStamp::Ctag,
        SkipUnchanged::LastModified => ChangeStamp::LastModified,
        SkipUnchanged::Auto => ChangeStamp::Auto,
    }
}

/// The CalDAV or CardDAV account of storage `name`, connected and discovered for collections
/// of `kind` (`password_cmd` runs here).
pub(super) async fn dav(name: &str, dav: &DavConfig, kind: CollectionKind) -> Result<ItemSide> {
    let options = dav_options(dav)?;
    let store = match DavStore::discover(&options, kind).await {
        Ok(store) => store,
        Err(error) if error.kind() == pimlink_core::ErrorKind::Auth => {
            let host = crate::endpoint::url_host(&dav.url).unwrap_or_default();
            let credentials = dav.credentials.as_ref();
            return Err(crate::failure::refused_login(name, &host, &error, credentials).into());
        }
        Err(error) => {
            return Err(anyhow::Error::new(error).context(format!("connecting to {}", dav.url)));
        }
    };
    Ok(ItemSide::Dav(
        store.change_stamp(change_stamp(dav.skip_unchanged)),
    ))
}

/// The iCalendar feed of storage `name`: one collection, `collection_id` or else the storage's
/// name, which the user chose and which is a valid id by the rules for storage names.
pub(super) fn webcal(name: &str, webcal: &WebcalConfig) -> Result<ItemSide> {
    let mut options = ClientOptions::new(webcal.url.clone());
    options.trust = webcal.trust.clone();
    options.timeout = webcal.timeout;
    let id = CollectionId::new(webcal.collection_id.as_deref().unwrap_or(name))?;
    Ok(ItemSide::Webcal(WebcalStore::new(&options, id)?))
}

/// A local vdir, read as collections of `kind`.
pub(crate) fn vdir(vdir: &VdirConfig, kind: CollectionKind) -> Result<ItemSide> {
    Ok(ItemSide::Vdir(Vdir::open_with_extension(
        &vdir.path,
        kind,
        &vdir.fileext,
    )?))
}

/// The HTTP client options of a CalDAV/CardDAV storage, with its password resolved.
pub fn dav_options(dav: &DavConfig) -> Result<ClientOptions> {
    let mut options = match &dav.domain {
        Some(domain) => ClientOptions::for_domain(domain),
        None => ClientOptions::new(dav.url.clone()),
    };
    match &dav.credentials {
        // OAuth2 (issue 18): the token as Bearer, renewed once when the server answers 401.
        Some(Credentials {
            password: PasswordSource::OAuth2(source),
            ..
        }) => {
            let token = pimlink::oauth2::access_token(source, false)?;
            let source = source.clone();
            let refresh: Refresh = std::sync::Arc::new(move || {
                pimlink::oauth2::access_token(&source, true).map_err(|e| {
                    pimlink_core::Error::new(pimlink_core::ErrorKind::Auth, e.to_string())
                })
            });
            options = options.bearer(Bearer::new(token, refresh));
        }
        Some(Credentials { user, password }) => {
            options = options.credentials(user.clone(), password.resolve()?);
        }
        None => {}
    }
    options.trust = dav.trust.clone();
    options.timeout = dav.timeout;
    Ok(options)
}

impl ItemStore for ItemSide {
    fn describe(&self) -> String {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.describe())
    }

    fn kind(&self) -> CollectionKind {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.kind())
    }

    fn read_only(&self) -> bool {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.read_only())
    }

    fn trusts_state(&self, token: Option<&SyncToken>) -> bool {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.trusts_state(token))
    }

    async fn list_collections(&self) -> pimlink_core::Result<Vec<Collection>> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.list_collections().await)
    }

    async fn create_collection(&self, id: &CollectionId) -> pimlink_core::Result<Collection> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.create_collection(id).await)
    }

    async fn delete_collection(&self, id: &CollectionId) -> pimlink_core::Result<()> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.delete_collection(id).await)
    }

    async fn list_items(&self, collection: &CollectionId) -> pimlink_core::Result<Vec<ItemRef>> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.list_items(collection).await)
    }

    async fn changes_since(
        &self,
        collection: &CollectionId,
        token: Option<&SyncToken>,
    ) -> pimlink_core::Result<ChangesSince> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.changes_since(collection, token).await)
    }

    async fn get_many(
        &self,
        collection: &CollectionId,
        hrefs: &[Href],
    ) -> pimlink_core::Result<Fetched> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.get_many(collection, hrefs).await)
    }

    async fn create_item(
        &self,
        collection: &CollectionId,
        data: &str,
    ) -> pimlink_core::Result<ItemRef> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.create_item(collection, data).await)
    }

    async fn update_item(
        &self,
        collection: &CollectionId,
        href: &Href,
        etag: &Etag,
        data: &str,
    ) -> pimlink_core::Result<Etag> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.update_item(collection, href, etag, data).await)
    }

    async fn delete_item(
        &self,
        collection: &CollectionId,
        href: &Href,
        etag: &Etag,
    ) -> pimlink_core::Result<()> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.delete_item(collection, href, etag).await)
    }

    async fn get_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
    ) -> pimlink_core::Result<Option<String>> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.get_meta(collection, property).await)
    }

    async fn set_meta(
        &self,
        collection: &CollectionId,
        property: MetaProperty,
        value: Option<&str>,
    ) -> pimlink_core::Result<()> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.set_meta(collection, property, value).await)
    }

    async fn flush(&self) -> pimlink_core::Result<()> {
        forward!(ItemSide[Dav, Webcal, Vdir], self, s => s.flush().await)
    }
}
