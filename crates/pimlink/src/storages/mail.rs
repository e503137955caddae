//! The mail storages (Maildir, IMAP): each opened from its configuration, and [`MailSide`],
//! which holds either and forwards `MailStore` to it.

use anyhow::Result;
use pimlink_core::mail::fingerprint::Fingerprint;
use pimlink_core::mail::item::{ItemData, NewItem};
use pimlink_core::{
    CollectionInfo, CollectionName, ErrorKind, Flags, ItemKey, Known, Listing, MailStore,
};
use pimlink_imap::{ClientOptions, ImapStore};
use pimlink_maildir::Maildir;

use crate::config::{self, ImapConfig, ImapEndpoint, MaildirConfig};

/// A mail storage of any supported type, so that one engine instance serves every combination.
// Two values per run (one per side) live on the stack; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum MailSide {
    /// A local Maildir tree.
    Maildir(Maildir),
    /// An account on an IMAP server.
    Imap(ImapStore),
}

/// A Maildir tree (its root is created if missing).
pub(crate) fn maildir(maildir: &MaildirConfig) -> Result<MailSide> {
    let layout = match maildir.layout {
        config::MaildirLayout::Verbatim => pimlink_maildir::Layout::Verbatim,
        config::MaildirLayout::MaildirPlusPlus => pimlink_maildir::Layout::MaildirPlusPlus,
    };
    Ok(MailSide::Maildir(Maildir::open_with(
        maildir.path.clone(),
        layout,
        maildir.tree.clone(),
    )?))
}

/// The IMAP account of storage `name`, which words a refused login with the storage's name,
/// host and credential keys.
pub(super) fn imap(name: &str, imap: &ImapConfig) -> MailSide {
    let mut store = imap_store(imap);
    let (name, credentials) = (name.to_owned(), imap.credentials.clone());
    let host = match &imap.endpoint {
        ImapEndpoint::Tcp { host, .. } => host.clone(),
        ImapEndpoint::Tunnel { .. } => "tunnel".to_owned(),
    };
    store.set_refused_login(std::sync::Arc::new(move |error| {
        crate::failure::refused_login(&name, &host, &error, credentials.as_ref())
    }));
    MailSide::Imap(store)
}

/// How to reach a configured IMAP account, without its password (which the store resolves on
/// first use, and the daemon's watcher before it connects).
pub(crate) fn imap_options(imap: &ImapConfig) -> ClientOptions {
    let user = imap
        .credentials
        .as_ref()
        .map(|c| c.user.clone())
        .unwrap_or_default();
    let mut options = match &imap.endpoint {
        ImapEndpoint::Tcp {
            host,
            port,
            tls,
            trust,
        } => {
            let mut options = ClientOptions::new(host.clone(), user, Default::default());
            options.port = Some(*port);
            options.tls = *tls;
            options.trust = trust.clone();
            options
        }
        ImapEndpoint::Tunnel { command } => {
            // The host is only a label for messages; the tunnel carries the connection.
            let mut options = ClientOptions::new("tunnel", user, Default::default());
            options.tunnel = Some(command.clone());
            options.tls = pimlink_imap::TlsMode::None;
            options
        }
    };
    options.auth_mechanism = imap.auth.map(|auth| match auth {
        config::ImapAuth::Login => pimlink_imap::AuthMechanism::Login,
        config::ImapAuth::Plain => pimlink_imap::AuthMechanism::Plain,
        config::ImapAuth::CramMd5 => pimlink_imap::AuthMechanism::CramMd5,
        config::ImapAuth::XOAuth2 => pimlink_imap::AuthMechanism::XOAuth2,
        config::ImapAuth::OAuthBearer => pimlink_imap::AuthMechanism::OAuthBearer,
    });
    options.authzid = imap.authzid.clone();
    options.connect_timeout = imap.timeout;
    options.read_timeout = imap.timeout;
    // Provider presets (issue 18): a provider's broken extensions, or `disable_extensions`.
    options.disabled_extensions = imap.disabled_extensions.clone();
    options
}

/// The IMAP store of a configured account. Nothing connects here: the store connects, and runs
/// a `password_cmd`, on first use.
fn imap_store(imap: &ImapConfig) -> ImapStore {
    let options = imap_options(imap);
    let source = imap.credentials.as_ref().map(|c| c.password.clone());
    let mut store = match source.clone() {
        Some(source) => ImapStore::with_password_provider(
            options,
            Box::new(move || {
                source
                    .resolve()
                    .map(|secret| pimlink_imap::Secret::new(secret.expose()))
                    .map_err(password_error)
            }),
        ),
        None => ImapStore::new(options),
    };
    // OAuth2 (issue 18): a token the server refused is refreshed once and the login retried.
    if let Some(config::PasswordSource::OAuth2(oauth2)) = source {
        store.set_password_refresh(std::sync::Arc::new(move || {
            pimlink::oauth2::access_token(&oauth2, true)
                .map(|secret| pimlink_imap::Secret::new(secret.expose()))
                .map_err(|e| pimlink_core::Error::new(ErrorKind::Auth, e.to_string()))
        }));
    }
    store.set_subscribed_only(imap.subscribed_only);
    store.set_connections(imap.connections.get());
    store
}

/// A password that could not be had: a mistake in the configuration (a failing
/// `password_cmd`), or for OAuth2 no token to be had, which is not one (exit 3, issue 18).
fn password_error(error: config::ConfigError) -> pimlink_core::Error {
    let kind = if error.kind() == config::ConfigErrorKind::OAuth2 {
        ErrorKind::Auth
    } else {
        ErrorKind::Config
    };
    pimlink_core::Error::new(kind, error.to_string())
}

impl MailStore for MailSide {
    fn describe(&self) -> String {
        forward!(MailSide[Maildir, Imap], self, s => s.describe())
    }

    fn concurrency(&self) -> Option<usize> {
        forward!(MailSide[Maildir, Imap], self, s => s.concurrency())
    }

    fn another_handle(&self) -> pimlink_core::Result<Self> {
        Ok(match self {
            MailSide::Maildir(s) => MailSide::Maildir(s.another_handle()?),
            MailSide::Imap(s) => MailSide::Imap(s.another_handle()?),
        })
    }

    async fn list_collections(&mut self) -> pimlink_core::Result<Vec<CollectionInfo>> {
        forward!(MailSide[Maildir, Imap], self, s => s.list_collections().await)
    }

    fn collections_incomplete(&self) -> bool {
        forward!(MailSide[Maildir, Imap], self, s => s.collections_incomplete())
    }

    async fn create_collection(&mut self, name: &CollectionName) -> pimlink_core::Result<()> {
        forward!(MailSide[Maildir, Imap], self, s => s.create_collection(name).await)
    }

    async fn delete_collection(&mut self, name: &CollectionName) -> pimlink_core::Result<()> {
        forward!(MailSide[Maildir, Imap], self, s => s.delete_collection(name).await)
    }

    async fn change_stamp(
        &mut self,
        collection: &CollectionName,
    ) -> pimlink_core::Result<Option<pimlink_core::ChangeStamp>> {
        forward!(MailSide[Maildir, Imap], self, s => s.change_stamp(collection).await)
    }

    async fn stamp_after_own_changes(
        &mut self,
        collection: &CollectionName,
    ) -> pimlink_core::Result<Option<(pimlink_core::ChangeStamp, std::time::SystemTime)>> {
        forward!(MailSide[Maildir, Imap], self, s => s.stamp_after_own_changes(collection).await)
    }

    async fn list_items(
        &mut self,
        collection: &CollectionName,
        known: Known<'_>,
    ) -> pimlink_core::Result<Listing> {
        forward!(MailSide[Maildir, Imap], self, s => s.list_items(collection, known).await)
    }

    async fn read_many(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<pimlink_core::Result<ItemData>> {
        forward!(MailSide[Maildir, Imap], self, s => s.read_many(collection, keys).await)
    }

    async fn fingerprints(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<pimlink_core::Result<Option<Fingerprint>>> {
        forward!(MailSide[Maildir, Imap], self, s => s.fingerprints(collection, keys).await)
    }

    async fn dates(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<pimlink_core::Result<Option<std::time::SystemTime>>> {
        forward!(MailSide[Maildir, Imap], self, s => s.dates(collection, keys).await)
    }

    async fn sizes(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<pimlink_core::Result<Option<u64>>> {
        forward!(MailSide[Maildir, Imap], self, s => s.sizes(collection, keys).await)
    }

    async fn read_ahead(&mut self, collection: &CollectionName, items: &[(ItemKey, Option<u64>)]) {
        forward!(MailSide[Maildir, Imap], self, s => s.read_ahead(collection, items).await)
    }

    async fn settle(&mut self, collection: &CollectionName) -> pimlink_core::Result<()> {
        forward!(MailSide[Maildir, Imap], self, s => s.settle(collection).await)
    }

    fn reserve_key(&mut self) -> Option<ItemKey> {
        forward!(MailSide[Maildir, Imap], self, s => s.reserve_key())
    }

    async fn read(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
    ) -> pimlink_core::Result<ItemData> {
        forward!(MailSide[Maildir, Imap], self, s => s.read(collection, key).await)
    }

    async fn deliver(
        &mut self,
        collection: &CollectionName,
        item: NewItem<'_>,
    ) -> pimlink_core::Result<ItemKey> {
        forward!(MailSide[Maildir, Imap], self, s => s.deliver(collection, item).await)
    }

    async fn deliver_many(
        &mut self,
        collection: &CollectionName,
        items: Vec<NewItem<'_>>,
    ) -> Vec<pimlink_core::Result<ItemKey>> {
        forward!(MailSide[Maildir, Imap], self, s => s.deliver_many(collection, items).await)
    }

    async fn set_flags(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
        flags: &Flags,
    ) -> pimlink_core::Result<()> {
        forward!(MailSide[Maildir, Imap], self, s => s.set_flags(collection, key, flags).await)
    }

    fn can_move(&self) -> bool {
        forward!(MailSide[Maildir, Imap], self, s => s.can_move())
    }

    fn can_delete(&self) -> bool {
        forward!(MailSide[Maildir, Imap], self, s => s.can_delete())
    }

    async fn move_item(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
    ) -> pimlink_core::Result<ItemKey> {
        forward!(MailSide[Maildir, Imap], self, s => s.move_item(from, key, to).await)
    }

    async fn move_item_with_flags(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
        flags: &Flags,
    ) -> pimlink_core::Result<ItemKey> {
        forward!(MailSide[Maildir, Imap], self, s => s.move_item_with_flags(from, key, to, flags).await)
    }

    async fn delete(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
    ) -> pimlink_core::Result<()> {
        forward!(MailSide[Maildir, Imap], self, s => s.delete(collection, key).await)
    }

    async fn flush(&mut self) -> pimlink_core::Result<()> {
        forward!(MailSide[Maildir, Imap], self, s => s.flush().await)
    }

    async fn close(&mut self) {
        forward!(MailSide[Maildir, Imap], self, s => s.close().await)
    }
}
